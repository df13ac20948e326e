"""The one httpx wrapper both Zoho clients use: auth header, timeouts, retries, error envelopes.

Every call has a timeout. Retries follow :class:`RetryPolicy` (tenacity underneath): exponential backoff with
jitter, ``Retry-After`` honoured on 429, and a budget: a ``Retry-After`` longer than the budget is not
waited out here but raised, so the caller (outbox, queue redelivery) tries again later instead of holding
a Lambda open. Calls that are not idempotent (creates) are retried only when Zoho cannot have acted on them
(429, connection refused), never after a timeout or a 5xx, so a retry never creates a second customer.
Two answers look permanent and are not: Books' rate-limit codes 44/45 in a body with HTTP 400 (or 200) are
a rate limit like its 429, and a CRM answer (HTTP 200/207) whose ``data[]`` holds a record failed with
``INTERNAL_ERROR`` is a server error like a 5xx; both are retried, then left to the outbox's DLQ.
An error a run of the policy gave up on is not retried by another around it: a token refresh that failed
inside an API call's attempt was retried by its own run, and the call fails with it.

A 401 that says the token is unusable (Books 57/14 or none, CRM INVALID_TOKEN) is answered at most once
by dropping the cached access token, for the whole fleet (the shared cache), and minting a new one (tokens
can be revoked before their expiry), unless the token is known to be alive for this call. Books answers a
missing scope with the same code 57 as a dead token, and which CRM code a missing scope gets is not
confirmed (zoho-facts; OAUTH_SCOPE_MISMATCH and NO_PERMISSION are read as one, INVALID_TOKEN as a dead
token), so a 401 with a token another kind of call (the other API, another scope) accepted is ambiguous:
revoked since, or a scope the refresh token lacks. One new token tells them apart. A token minted moments
ago that no call accepted yet, the new token refused as well, or a token this kind of call already refused
although valid, is alive: the refusal is a :class:`ZohoPermissionDenied` naming the scope likely missing,
and no further token is minted for it (they would be refused as well and spend the 10 tokens per 10
minutes that CRM and Books share). A missing scope thus costs one token per token lifetime and kind of
call at most, and fewer fleet-wide, since every container sees the new token young.

Nothing here logs query strings or bodies: they carry names and email addresses.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception

from sync_guard.redact import mask_emails_in
from sync_guard.zoho.errors import (
    BOOKS_RATE_LIMIT_CODES,
    CRM_TRANSIENT_RECORD_CODES,
    CrmApiError,
    ZohoApiError,
    ZohoError,
    ZohoPermissionDenied,
    ZohoRateLimited,
    ZohoServerError,
    ZohoTimeout,
    ZohoTokenRateLimited,
    ZohoTokenRejected,
    ZohoUnavailable,
    books_error,
)

if TYPE_CHECKING:
    from sync_guard.zoho.auth import AccessTokenSource, CachedToken

logger = logging.getLogger(__name__)
# httpx logs every request's full URL at INFO, query string included, and Zoho searches put customers'
# names and emails there (?email=...). Keep its lines out of our logs unless they are warnings.
for _noisy in ("httpx", "httpcore"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

T = TypeVar("T")

# Books answers an unusable token with HTTP 401 and one of these codes (57: not authorised / invalid
# token; 14: invalid value passed for authtoken). CRM says INVALID_TOKEN / AUTHENTICATION_FAILURE.
# Only these are worth one fresh token; any other 401/403 (wrong organisation, missing scope) is not.
_BOOKS_TOKEN_CODES = frozenset({14, 57})
_CRM_TOKEN_CODES = frozenset({"INVALID_TOKEN", "AUTHENTICATION_FAILURE"})
_CRM_SCOPE_CODES = frozenset({"OAUTH_SCOPE_MISMATCH", "NO_PERMISSION"})
#: Where CRM says how many API credits the organisation has left in the rolling 24 hours.
CRM_CREDITS_HEADER = "X-API-CREDITS-REMAINING"


class Dialect(StrEnum):
    """Which error envelope a response uses."""

    CRM = "crm"
    BOOKS = "books"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one call. Defaults suit a Lambda with a 30 s budget; tests shrink them."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A Retry-After above this is not slept through here (see the module docstring).
    max_retry_after: float = 20.0
    # Give up rather than start a wait that would end more than this many seconds (time spent in attempts
    # plus waits) after the first attempt: a Lambda's budget. None: attempts alone limit the retries.
    deadline: float | None = 25.0
    # How long one attempt may take (the client's timeout): no attempt is started that could run past the
    # deadline, so that a whole call, retries included, ends within it.
    attempt_seconds: float = 0.0

    def longest_call_seconds(self) -> float:
        """How long one call can take, retries and waits included (the deadline, when it binds)."""
        waits = sum(min(self.max_delay, self.base_delay * 2 ** (n - 1)) for n in range(1, self.max_attempts))
        longest = self.max_attempts * self.attempt_seconds + max(waits, self.max_retry_after)
        return min(longest, self.deadline) if self.deadline is not None else longest

    def should_retry(self, error: BaseException, *, idempotent: bool) -> bool:
        """Whether ``error`` is worth another attempt of the same call, now."""
        if isinstance(error, ZohoTokenRateLimited) or getattr(error, "retries_spent", False):
            return False
        if isinstance(error, ZohoRateLimited):
            return error.retry_after is None or error.retry_after <= self.max_retry_after
        if isinstance(error, ZohoUnavailable):
            return True
        if isinstance(error, ZohoTimeout | ZohoServerError):
            return idempotent
        return False

    def delay(self, attempt: int, error: BaseException | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if isinstance(error, ZohoRateLimited) and error.retry_after is not None:
            # Zoho said when; a little jitter keeps concurrent workers from returning in lockstep.
            return error.retry_after + rng.uniform(0, self.base_delay / 2)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        # "Equal jitter": at least half the exponential step, so retries never hammer, never synchronise.
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def run(
        self,
        call: Callable[[], T],
        *,
        idempotent: bool,
        sleep: Callable[[float], None],
        rng: random.Random,
        describe: str = "zoho call",
        finish_by: float | None = None,
    ) -> T:
        """Run ``call`` until it succeeds, fails for good, or attempts run out; re-raise the last error.

        ``finish_by`` (a ``time.monotonic()`` reading: the end of the Lambda invocation, less the time its
        caller needs afterwards) bounds the run as ``deadline`` does: no attempt is started, and no wait
        (a ``Retry-After`` included) begun, that could end past it; the last error is raised instead, so
        that the caller hands the work back to its queue before the invocation is cut short.
        """
        begun = time.monotonic()
        if finish_by is not None and begun + self.attempt_seconds > finish_by:
            raise ZohoUnavailable(f"{describe} not sent: too little of the invocation is left for it")

        # Budget spent so far: time inside attempts plus the waits asked for. Counting waits as asked (not
        # wall time) keeps the deadline meaningful when tests inject a sleep that returns at once.
        spent = [0.0]

        def timed_call() -> T:
            started = time.monotonic()
            try:
                return call()
            finally:
                spent[0] += time.monotonic() - started

        def counted_sleep(seconds: float) -> None:
            spent[0] += seconds
            sleep(seconds)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.delay(state.attempt_number, error, rng)

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            next_ends = spent[0] + state.upcoming_sleep + self.attempt_seconds
            out_of_time = (self.deadline is not None and next_ends > self.deadline) or (
                finish_by is not None and begun + next_ends > finish_by
            )
            if not out_of_time:
                logger.info(
                    "zoho retry",
                    extra={
                        "call": describe,
                        "attempt": state.attempt_number,
                        "wait_s": round(state.upcoming_sleep, 3),
                    },
                )
            return out_of_time

        retrying = Retrying(
            stop=stop,
            wait=wait,
            retry=retry_if_exception(lambda error: self.should_retry(error, idempotent=idempotent)),
            sleep=counted_sleep,
            reraise=True,
        )
        try:
            return retrying(timed_call)
        except ZohoError as error:
            # Tried as hard as this policy allows. A token refresh runs inside an API call's attempt: were
            # its failure retried by the call's policy too, one call would send max_attempts squared refresh
            # requests and spend the refresh token's 10 per 10 minutes, shared by the fleet, at once.
            error.retries_spent = True
            raise


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def error_for_response(response: httpx.Response, dialect: Dialect) -> ZohoError | None:
    """The typed error a response stands for, or None when it is a success.

    Books reports failures as ``{"code": n, "message": ...}`` (n != 0), sometimes with HTTP 200. CRM
    reports request-level failures as ``{"status":"error","code":...}`` and per-record ones inside
    ``data[]``; only the request-level ones are errors here, the CRM client reads ``data[]`` itself.
    """
    status = response.status_code
    body = _json_or_none(response)
    if status == 429:
        return ZohoRateLimited(
            f"Zoho {dialect.value} rate limit",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status >= 500:
        return ZohoServerError(f"Zoho {dialect.value} answered HTTP {status}", http_status=status)
    if dialect is Dialect.CRM and (failed := _transient_record_error(body)) is not None:
        code_text, message = failed
        return ZohoServerError(f"CRM error {code_text} on a record: {message}", http_status=status)
    if dialect is Dialect.BOOKS:
        if isinstance(body, Mapping) and isinstance(body.get("code"), int) and body["code"] != 0:
            code, message = int(body["code"]), str(body.get("message", ""))
            if code in _BOOKS_TOKEN_CODES:
                return ZohoTokenRejected(f"Books rejected the access token ({code})")
            if code in BOOKS_RATE_LIMIT_CODES:
                return ZohoRateLimited(
                    f"Zoho books rate limit (code {code}, HTTP {status})",
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                )
            return books_error(code, message, http_status=status)
    elif isinstance(body, Mapping) and body.get("status") == "error" and "code" in body:
        code_text = str(body["code"])
        if code_text in _CRM_TOKEN_CODES:
            return ZohoTokenRejected(f"CRM rejected the access token ({code_text})")
        if code_text in _CRM_SCOPE_CODES:
            # Named with the scope by ZohoHttp, which knows the call.
            return ZohoPermissionDenied(f"CRM refused the call for lack of scope or permission ({code_text})")
        return CrmApiError(status, code_text, str(body.get("message", "")), body.get("details") or {})
    if status == 401:
        return ZohoTokenRejected(f"Zoho {dialect.value} answered HTTP 401")
    if status >= 400:
        if dialect is Dialect.CRM and isinstance(body, Mapping) and isinstance(body.get("data"), list):
            return None  # per-record errors; the CRM client turns them into CrmApiError with context
        return ZohoApiError(f"Zoho {dialect.value} answered HTTP {status}", http_status=status)
    return None


def _transient_record_error(body: Any) -> tuple[str, str] | None:
    """The code and (masked) message of a record in a CRM answer's ``data[]`` that failed on CRM's side
    (``INTERNAL_ERROR``): the call is worth another attempt, as a 5xx is. None when there is none."""
    records = body.get("data") if isinstance(body, Mapping) else None
    for record in records if isinstance(records, list) else ():
        if (
            isinstance(record, Mapping)
            and record.get("status") == "error"
            and str(record.get("code")) in CRM_TRANSIENT_RECORD_CODES
        ):
            return str(record["code"]), mask_emails_in(str(record.get("message", "")))
    return None


_SCOPE_OPERATIONS = {"GET": "READ", "PUT": "UPDATE", "DELETE": "DELETE"}
# CRM paths that are not modules, and the scope family that covers them.
_CRM_SCOPE_FAMILIES = {"settings": "settings", "actions": "notifications"}


def likely_scope(method: str, path: str) -> str:
    """The OAuth scope a call most likely needs (``ZohoBooks.contacts.UPDATE``).

    A best guess from the path (``ZohoCRM.modules.accounts.READ`` for a CRM read), for error messages and
    for telling kinds of calls apart.
    """
    # /books/v3/<entity>[/<id>[/<action>]], /crm/v8/<Module>[/<id>[/...]]: a POST to the collection
    # creates, to a record (an action on it) updates it.
    parts = [p for p in path.split("/") if p]
    entity = parts[2] if len(parts) > 2 else "all"
    operation = _SCOPE_OPERATIONS.get(method.upper(), "CREATE" if len(parts) <= 3 else "UPDATE")
    if parts and parts[0] == "books":
        return f"ZohoBooks.{entity}.{operation}"
    family = _CRM_SCOPE_FAMILIES.get(entity)
    if family:  # /crm/v8/actions/watch is the collection of channels: a POST creates one
        return f"ZohoCRM.{family}.{_SCOPE_OPERATIONS.get(method.upper(), 'CREATE')}"
    return f"ZohoCRM.modules.{entity.lower()}.{operation}"


def permission_denied(method: str, path: str, dialect: Dialect, refusal: ZohoError) -> ZohoPermissionDenied:
    """The error for a 401 with a token known to be valid: what was refused and what is likely missing."""
    product = "Books" if dialect is Dialect.BOOKS else "CRM"
    return ZohoPermissionDenied(
        f"Zoho {product} refused {method} {path} with a valid access token ({refusal}); the refresh token "
        f"likely lacks the scope {likely_scope(method, path)}, or the Zoho user's "
        f"{product} role lacks the permission. Not minting another token."
    )


class ZohoHttp:
    """Authorised, timed, retried JSON calls to one Zoho API domain."""

    def __init__(
        self,
        auth: AccessTokenSource,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        api_url: str | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """``api_url`` overrides the token's ``api_domain`` (local stack); normally leave it None."""
        self._auth = auth
        self._timeout = httpx.Timeout(timeout)
        self._retry = retry or RetryPolicy()
        self._api_url = api_url.rstrip("/") if api_url else None
        self._client = client or httpx.Client(timeout=self._timeout)
        self._owns_client = client is None
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        # What each kind of call (keyed by its likely scope) last said about a token, to tell a dead token
        # from a refused permission: the last token it accepted, the last one it refused although valid.
        self._accepted: dict[str, str] = {}
        self._refused_valid: dict[str, str] = {}
        #: When every call must be over (a ``time.monotonic()`` reading), or None: see ``RetryPolicy.run``.
        self.finish_by: float | None = None
        # CRM's API credits left (X-API-CREDITS-REMAINING) after the last CRM answer that said, until taken.
        self._crm_credits: int | None = None

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    def close(self) -> None:
        """Close the connection pool if this wrapper created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> ZohoHttp:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        dialect: Dialect,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one logical call (with retries); return the parsed JSON body, or None for 204 No Content.

        ``path`` starts with ``/`` and is relative to the API domain (``/crm/v8/Accounts/1``).
        Raises a :class:`ZohoError` subclass when the call fails for good.
        """
        describe = f"{method} {path}"
        return self._retry.run(
            lambda: self._attempt(method, path, dialect, params, json, headers),
            idempotent=idempotent,
            sleep=self._sleep,
            rng=self._rng,
            describe=describe,
            finish_by=self.finish_by,
        )

    def _attempt(
        self,
        method: str,
        path: str,
        dialect: Dialect,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> Any:
        def send(token: CachedToken) -> httpx.Response:
            return self._send(method, path, token.access_token, token.api_domain, params, json, headers)

        kind = likely_scope(method, path)
        token = self._auth.token()
        response = send(token)
        error = error_for_response(response, dialect)
        if isinstance(error, ZohoPermissionDenied):  # the API said "scope", not "token": the token lives
            error = permission_denied(method, path, dialect, error)
        if isinstance(error, ZohoTokenRejected) and (newer := self._auth.replaced(token)) is not None:
            # This container kept a token another one has since replaced (Zoho refused it there first).
            token = newer
            response = send(token)
            error = error_for_response(response, dialect)
        if isinstance(error, ZohoTokenRejected):
            if self._refusal_is_about_permission(token, kind):
                error = self._refused_although_valid(token, kind, method, path, dialect, error)
            else:
                # The token may have been revoked or expired early: one fresh token, then give up.
                self._auth.invalidate(token)
                token = self._auth.token()
                response = send(token)
                error = error_for_response(response, dialect)
                if isinstance(error, ZohoTokenRejected):
                    error = self._refused_although_valid(token, kind, method, path, dialect, error)
        if error is None:
            self._accepted[kind] = token.access_token
        if dialect is Dialect.CRM:
            self._note_credits(response)
        logger.debug("zoho call", extra={"call": f"{method} {path}", "status": response.status_code})
        if error is not None:
            raise error
        if response.status_code == 204 or not response.content:
            return None
        body = _json_or_none(response)
        if body is None:
            raise ZohoApiError(f"Zoho {dialect.value} sent a body that is not JSON", http_status=502)
        return body

    def take_crm_credits_remaining(self) -> int | None:
        """CRM's API credits left after the last CRM answer that said (``X-API-CREDITS-REMAINING``), once:
        None until another CRM answer says. The functions publish it as a metric: credits run over a
        rolling day, so it is a gauge for an alarm, not a reason to slow down (a pause of seconds earns no
        credit back)."""
        left, self._crm_credits = self._crm_credits, None
        return left

    def _note_credits(self, response: httpx.Response) -> None:
        left = response.headers.get(CRM_CREDITS_HEADER, "").strip()
        if left.isdigit():
            self._crm_credits = int(left)

    def _refusal_is_about_permission(self, token: CachedToken, kind: str) -> bool:
        """Whether a 401 for ``token`` from this kind of call says "not allowed" rather than "dead token".

        The same kind of call accepting a token and then refusing it means the token died (revoked,
        evicted). A token this kind of call already refused although valid, or one minted moments ago that
        no call accepted, is alive: the refusal is about scope or permission. One another kind of call (the
        other API, another scope) accepted may have died since: it is worth one new token.
        """
        access_token = token.access_token
        if self._accepted.get(kind) == access_token:
            return False
        if self._refused_valid.get(kind) == access_token:
            return True
        if any(accepted == access_token for other, accepted in self._accepted.items() if other != kind):
            # Alive when that call accepted it; revoked since, or never covering this call: a new token
            # tells (a token refused although valid is then remembered, and not replaced again).
            return False
        return self._auth.just_issued(token)

    def _refused_although_valid(
        self, token: CachedToken, kind: str, method: str, path: str, dialect: Dialect, refusal: ZohoError
    ) -> ZohoPermissionDenied:
        self._refused_valid[kind] = token.access_token
        return permission_denied(method, path, dialect, refusal)

    def _send(
        self,
        method: str,
        path: str,
        access_token: str,
        api_domain: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        base = self._api_url or api_domain.rstrip("/")
        all_headers = {"Authorization": f"Zoho-oauthtoken {access_token}", "Accept": "application/json"}
        all_headers.update(headers or {})
        try:
            return self._client.request(
                method,
                base + path,
                params=dict(params) if params else None,
                json=json,
                headers=all_headers,
                timeout=self._timeout,
            )
        except httpx.ConnectError as exc:
            raise ZohoUnavailable(f"cannot connect to Zoho: {type(exc).__name__}") from exc
        except httpx.ConnectTimeout as exc:
            raise ZohoUnavailable("timed out connecting to Zoho") from exc
        except httpx.TimeoutException as exc:
            raise ZohoTimeout(f"Zoho did not answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            # The connection dropped mid-call: as ambiguous as a timeout (it may have taken effect).
            raise ZohoTimeout(f"connection to Zoho lost ({type(exc).__name__})") from exc
