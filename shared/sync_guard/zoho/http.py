"""The one httpx wrapper both Zoho clients use: auth header, timeouts, retries, error envelopes.

Every call has a timeout. Retries follow :class:`RetryPolicy` (tenacity underneath): exponential backoff with
jitter, ``Retry-After`` honoured on 429, and a budget: a ``Retry-After`` longer than the budget is not
waited out here but raised, so the caller (outbox, queue redelivery) tries again later instead of holding
a Lambda open. Calls that are not idempotent (creates) are retried only when Zoho cannot have acted on them
(429, connection refused), never after a timeout or a 5xx, so a retry never creates a second customer.

A 401 is answered once by dropping the cached access token and minting a new one (tokens can be revoked
before their expiry); a second 401 is a :class:`ZohoAuthError`.

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

from sync_guard.zoho.errors import (
    CrmApiError,
    ZohoApiError,
    ZohoAuthError,
    ZohoError,
    ZohoRateLimited,
    ZohoServerError,
    ZohoTimeout,
    ZohoTokenRateLimited,
    ZohoTokenRejected,
    ZohoUnavailable,
    books_error,
)

if TYPE_CHECKING:
    from sync_guard.zoho.auth import AccessTokenSource

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
        if isinstance(error, ZohoTokenRateLimited):
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
    ) -> T:
        """Run ``call`` until it succeeds, fails for good, or attempts run out; re-raise the last error."""

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
            out_of_time = (
                self.deadline is not None
                and spent[0] + state.upcoming_sleep + self.attempt_seconds > self.deadline
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
        return retrying(timed_call)


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
    if dialect is Dialect.BOOKS:
        if isinstance(body, Mapping) and isinstance(body.get("code"), int) and body["code"] != 0:
            code, message = int(body["code"]), str(body.get("message", ""))
            if code in _BOOKS_TOKEN_CODES:
                return ZohoTokenRejected(f"Books rejected the access token ({code})")
            return books_error(code, message, http_status=status)
    elif isinstance(body, Mapping) and body.get("status") == "error" and "code" in body:
        code_text = str(body["code"])
        if code_text in _CRM_TOKEN_CODES:
            return ZohoTokenRejected(f"CRM rejected the access token ({code_text})")
        if code_text in _CRM_SCOPE_CODES:
            return ZohoAuthError(f"CRM refused the call for lack of scope or permission ({code_text})")
        return CrmApiError(status, code_text, str(body.get("message", "")), body.get("details") or {})
    if status == 401:
        return ZohoTokenRejected(f"Zoho {dialect.value} answered HTTP 401")
    if status >= 400:
        if dialect is Dialect.CRM and isinstance(body, Mapping) and isinstance(body.get("data"), list):
            return None  # per-record errors; the CRM client turns them into CrmApiError with context
        return ZohoApiError(f"Zoho {dialect.value} answered HTTP {status}", http_status=status)
    return None


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
        token = self._auth.token()
        response = self._send(method, path, token.access_token, token.api_domain, params, json, headers)
        error = error_for_response(response, dialect)
        if isinstance(error, ZohoTokenRejected):
            # The token may have been revoked or expired early: one fresh token, then give up.
            self._auth.invalidate(token)
            token = self._auth.token()
            response = self._send(method, path, token.access_token, token.api_domain, params, json, headers)
            error = error_for_response(response, dialect)
        logger.debug("zoho call", extra={"call": f"{method} {path}", "status": response.status_code})
        if error is not None:
            raise error
        if response.status_code == 204 or not response.content:
            return None
        body = _json_or_none(response)
        if body is None:
            raise ZohoApiError(f"Zoho {dialect.value} sent a body that is not JSON", http_status=502)
        return body

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
