"""OAuth for Zoho: mint access tokens from a refresh token, per data centre, and share them.

Zoho lets one refresh token mint at most 10 access tokens per 10 minutes, and a Lambda fleet has many
containers, so the access token lives in a :class:`TokenCache` shared by all of them (DynamoDB on AWS, an
in-memory one locally and in tests) and is minted only when the shared copy is missing or near expiry.

Coordination across containers is optimistic, through :meth:`TokenCache.put`'s version check:

1. Use the token this container last used while it is fresh (the common path: no call to Zoho, no read
   of the cache); otherwise ``get()``, and use the cached token if it is fresh.
2. Otherwise mint one, then ``put(new, expected_version=old.version or None)``.
3. If the put loses (another container stored a token first), re-read and use the winner's token when it
   is fresh; otherwise the token this container minted, which is valid as well.
4. When Zoho refuses the token a container kept, :meth:`ZohoOAuth.replaced` hands it the newer one another
   container stored meanwhile, if any, before anything is minted.

At worst every container that saw the same stale token mints once; a local :class:`MintBudget` also stops
one container from ever asking for more than the window allows, failing fast with
:class:`ZohoTokenRateLimited` instead of getting the refresh token locked by Zoho.

Credentials Zoho refused (``invalid_client``, ``invalid_code``) are remembered in the cache by their
:meth:`ZohoCredentials.fingerprint` for ``refusal_memory_seconds``: meanwhile no container asks Zoho with
them again, and each call fails at once with the refusal; credentials that differ (a mended secret) are
asked about at once.

The token endpoint's ``api_domain`` (``https://www.zohoapis.eu``...) is where the APIs are called.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from sync_guard.config import DataCentre, Settings
from sync_guard.errors import ConfigurationError
from sync_guard.zoho.errors import (
    ZohoAuthError,
    ZohoCredentialsRefused,
    ZohoError,
    ZohoServerError,
    ZohoTimeout,
    ZohoTokenRateLimited,
    ZohoUnavailable,
)
from sync_guard.zoho.http import Dialect, RetryPolicy, error_for_response

logger = logging.getLogger(__name__)

# Zoho's documented limit per refresh token.
TOKENS_PER_WINDOW = 10
TOKEN_WINDOW_SECONDS = 600.0
# Refresh this long before expiry so a token never dies in the middle of a retried call.
DEFAULT_REFRESH_MARGIN_SECONDS = 300.0
# What the accounts server answers to credentials it does not know: a bad or revoked refresh token, an
# unknown client, or a data centre other than the self-client's.
_CREDENTIALS_REFUSED = frozenset({"invalid_code", "invalid_client"})
# When a refresh fails, a token with at least this long to live is still handed out.
_LAST_RESORT_MARGIN = 30.0
# How long the fleet does not send credentials Zoho refused again (SYNC_GUARD_ZOHO_REFUSAL_MEMORY_SECONDS).
DEFAULT_REFUSAL_MEMORY_SECONDS = 60.0
# A token issued less than this long ago has not expired: a 401 with it is about scope or permission, and
# minting another would only spend the budget (Zoho's window, so at most one such mint per window).
YOUNG_TOKEN_SECONDS = TOKEN_WINDOW_SECONDS

_ACCOUNTS_HOSTS: dict[DataCentre, str] = {
    DataCentre.CA: "https://accounts.zohocloud.ca",
}


def accounts_url_for(data_centre: DataCentre) -> str:
    """The accounts (OAuth) server of a data centre: ``https://accounts.zoho.<tld>``, Canada aside."""
    return _ACCOUNTS_HOSTS.get(data_centre, f"https://accounts.zoho.{data_centre.value}")


def api_url_for(data_centre: DataCentre) -> str:
    """The API domain of a data centre; only a fallback, the token response's ``api_domain`` wins."""
    return f"https://www.zohoapis.{data_centre.value}"


@dataclass(frozen=True)
class CachedToken:
    """An access token, where to use it, when it dies, and the cache version it was stored under."""

    access_token: str
    api_domain: str
    expires_at: float  # epoch seconds
    version: int = 0
    issued_at: float = 0.0  # epoch seconds; 0 when unknown (then it counts as old)

    def is_fresh(self, now: float, margin: float = DEFAULT_REFRESH_MARGIN_SECONDS) -> bool:
        """Still usable for at least ``margin`` seconds."""
        return now + margin < self.expires_at

    def __repr__(self) -> str:  # never print the token itself
        return f"CachedToken(api_domain={self.api_domain!r}, expires_at={self.expires_at}, v={self.version})"


class TokenCache(Protocol):
    """Where the current access token is shared between invocations and containers.

    ``get`` returns the stored token (fresh or not) or None. ``put`` stores ``token`` (whose ``version``
    the caller has already set to the new version) only if the stored version is still
    ``expected_version`` (None: only if nothing is stored) and returns whether it did; losing is not an
    error, :class:`ZohoOAuth` then re-reads. ``count_mint_request`` is called before every refresh POST
    (retries included: Zoho may mint for a request whose answer is lost); a cache shared by a fleet counts
    them against Zoho's limit and raises :class:`ZohoTokenRateLimited` when the window is full. It returns
    what it counted (the request's time), which ``forget_mint_request`` takes out of the count again when
    Zoho answered that it minted nothing (the credentials refused). ``remember_refusal`` keeps such a
    refusal, by the credentials' fingerprint (never the credentials), for every container to find with
    ``refusal`` until it lapses. ``for_client`` is the cache of another OAuth client's token: the one the
    credentials read again name (a token and its limit belong to one client's refresh token).

    A DynamoDB implementation is one item per refresh token (key it by the client id, never by the token)
    holding ``access_token``, ``api_domain``, ``expires_at`` (epoch seconds, wall clock: it is compared
    across containers) and ``version``; ``put`` is a ``PutItem`` with ``attribute_not_exists(pk)`` when
    ``expected_version`` is None, else ``#version = :expected``, and ``ConditionalCheckFailedException``
    returns False. ``expires_at`` doubles as the item's TTL. Use a consistent read in ``get``.
    """

    def get(self) -> CachedToken | None: ...

    def put(self, token: CachedToken, *, expected_version: int | None) -> bool: ...

    def count_mint_request(self) -> float | None: ...

    def forget_mint_request(self, counted: float) -> None:
        """Take one request ``count_mint_request`` counted out of the count: Zoho minted nothing for it."""
        ...

    def release(self) -> None:
        """This container's mint failed: peers waiting for its token need not wait any longer."""
        ...

    def remember_refusal(self, fingerprint: str, reason: str, *, seconds: float) -> None:
        """Zoho refused the credentials of ``fingerprint`` (``reason``: the refusal's message): for
        ``seconds``, :meth:`refusal` answers ``reason`` for them."""
        ...

    def refusal(self, fingerprint: str) -> str | None:
        """Why Zoho refused the credentials of ``fingerprint``, while that is remembered; else None."""
        ...

    def for_client(self, client_id: str) -> TokenCache:
        """The cache of the token of OAuth client ``client_id`` (this one when it is already its)."""
        ...


class InMemoryTokenCache:
    """A process-local :class:`TokenCache` (local runs, tests); thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, client_id: str = "") -> None:
        self._client_id = client_id
        self._token: CachedToken | None = None
        self._lock = threading.Lock()
        self._clock = clock
        self._refused: tuple[str, str, float] | None = None  # fingerprint, reason, until

    def get(self) -> CachedToken | None:
        with self._lock:
            return self._token

    def put(self, token: CachedToken, *, expected_version: int | None) -> bool:
        with self._lock:
            current = self._token.version if self._token else None
            if current != expected_version:
                return False
            self._token = token
            return True

    def count_mint_request(self) -> None:
        """Nothing to share: one process's requests are counted by its :class:`MintBudget`."""

    def forget_mint_request(self, counted: float) -> None:
        """Nothing counted here (see :meth:`count_mint_request`)."""

    def release(self) -> None:
        """Nothing to release: one process's threads wait on :class:`ZohoOAuth`'s lock."""

    def remember_refusal(self, fingerprint: str, reason: str, *, seconds: float) -> None:
        """Remember the refusal (the last one only) for ``seconds``."""
        with self._lock:
            self._refused = (fingerprint, reason, self._clock() + seconds)

    def refusal(self, fingerprint: str) -> str | None:
        """The remembered refusal of ``fingerprint`` while it lasts."""
        with self._lock:
            if self._refused is None:
                return None
            refused, reason, until = self._refused
            return reason if refused == fingerprint and self._clock() < until else None

    def for_client(self, client_id: str) -> InMemoryTokenCache:
        """This cache for its own client, else a new empty one (another client's tokens are not its)."""
        return self if client_id == self._client_id else InMemoryTokenCache(self._clock, client_id)


class AccessTokenSource(Protocol):
    """What :class:`~sync_guard.zoho.http.ZohoHttp` needs from the auth side."""

    def token(self) -> CachedToken: ...

    def invalidate(self, token: CachedToken) -> None: ...

    def replaced(self, token: CachedToken) -> CachedToken | None:
        """The fresh token that replaced ``token`` meanwhile (minted by another container), if any."""
        ...

    def just_issued(self, token: CachedToken) -> bool:
        """Whether ``token`` was issued too recently to have expired."""
        ...


@dataclass(frozen=True)
class ZohoCredentials:
    """The self-client credentials. ``repr`` never shows the secrets."""

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr

    def fingerprint(self) -> str:
        """A digest that tells these credentials from others without revealing them (the client id, the
        client secret and the refresh token: Zoho refuses a wrong value of any), for remembering a refusal."""
        digest = hashlib.sha256(b"sync-guard zoho credentials\0")
        for part in (
            self.client_id,
            self.client_secret.get_secret_value(),
            self.refresh_token.get_secret_value(),
        ):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()[:32]

    @classmethod
    def from_settings(cls, settings: Settings) -> ZohoCredentials:
        """Credentials from the environment (``SYNC_GUARD_ZOHO_*``); local runs and tests."""
        if not (settings.zoho_client_id and settings.zoho_client_secret and settings.zoho_refresh_token):
            raise ConfigurationError(
                "Zoho credentials missing: set SYNC_GUARD_ZOHO_CLIENT_ID, _CLIENT_SECRET and _REFRESH_TOKEN "
                "or SYNC_GUARD_ZOHO_SECRET_NAME"
            )
        return cls(settings.zoho_client_id, settings.zoho_client_secret, settings.zoho_refresh_token)

    @classmethod
    def from_secret_json(cls, text: str) -> ZohoCredentials:
        """Credentials from a JSON secret ``{"client_id":..,"client_secret":..,"refresh_token":..}``."""
        try:
            data = json.loads(text)
            return cls(
                str(data["client_id"]), SecretStr(data["client_secret"]), SecretStr(data["refresh_token"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            # The message names the keys, never the content.
            raise ConfigurationError(
                "Zoho secret must be JSON with client_id, client_secret, refresh_token"
            ) from exc


class SecretsManagerCredentials:
    """Reads :class:`ZohoCredentials` from AWS Secrets Manager once per container."""

    def __init__(self, secret_name: str, client: Any) -> None:
        """``client`` is a boto3 ``secretsmanager`` client (built by the caller, so tests can use moto)."""
        self._secret_name = secret_name
        self._client = client
        self._cached: ZohoCredentials | None = None

    def load(self) -> ZohoCredentials:
        """Fetch and parse the secret (cached after the first call)."""
        if self._cached is None:
            response = self._client.get_secret_value(SecretId=self._secret_name)
            self._cached = ZohoCredentials.from_secret_json(response["SecretString"])
        return self._cached


def load_credentials(settings: Settings, secrets_client: Any | None = None) -> ZohoCredentials:
    """Secrets Manager when ``zoho_secret_name`` is set (AWS), else the environment (local)."""
    if settings.zoho_secret_name:
        if secrets_client is None:
            import boto3  # only needed on AWS

            secrets_client = boto3.client(
                "secretsmanager",
                region_name=settings.aws_region,
                endpoint_url=settings.aws_endpoint_url or None,
            )
        return SecretsManagerCredentials(settings.zoho_secret_name, secrets_client).load()
    return ZohoCredentials.from_settings(settings)


class MintBudget:
    """A sliding-window count of refresh requests sent by this process, to stay under Zoho's limit.

    Each request counts as a token minted, answered or not: a retried refresh can mint one per attempt.
    """

    def __init__(
        self,
        limit: int = TOKENS_PER_WINDOW,
        window: float = TOKEN_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._minted: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Record one refresh request, or raise :class:`ZohoTokenRateLimited` when the window is full;
        returns the request's place in the window (for :meth:`give_back`)."""
        with self._lock:
            now = self._clock()
            while self._minted and self._minted[0] <= now - self._window:
                self._minted.popleft()
            if len(self._minted) >= self._limit:
                wait = self._minted[0] + self._window - now
                raise ZohoTokenRateLimited(
                    f"{self._limit} Zoho access tokens minted in {self._window:.0f}s; not asking for more",
                    retry_after=wait,
                )
            self._minted.append(now)
            return now

    def give_back(self, taken: float) -> None:
        """Forget a request that never left this machine (no connection): Zoho minted nothing for it."""
        with self._lock, suppress(ValueError):  # already out of the window
            self._minted.remove(taken)

    @property
    def used(self) -> int:
        with self._lock:
            now = self._clock()
            return sum(1 for t in self._minted if t > now - self._window)


class ZohoOAuth:
    """An :class:`AccessTokenSource` backed by the Zoho accounts server and a shared :class:`TokenCache`."""

    def __init__(
        self,
        *,
        accounts_url: str,
        credentials: ZohoCredentials,
        cache: TokenCache,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        budget: MintBudget | None = None,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN_SECONDS,
        rng: random.Random | None = None,
        young_token_seconds: float = YOUNG_TOKEN_SECONDS,
        reload_credentials: Callable[[], ZohoCredentials] | None = None,
        refusal_memory_seconds: float = DEFAULT_REFUSAL_MEMORY_SECONDS,
    ) -> None:
        """``reload_credentials`` reads the credentials again (the Zoho secret) after Zoho refused them,
        before the next refresh: an admin mends the secret, and a warm container must not keep the old
        one until its next cold start. Credentials Zoho refused are not sent again, by any container
        sharing ``cache``, for ``refusal_memory_seconds`` (0: every refresh asks Zoho)."""
        self._token_url = accounts_url.rstrip("/") + "/oauth/v2/token"
        self._credentials = credentials
        self._reload_credentials = reload_credentials
        self._credentials_refused = False
        self._cache = cache
        self._timeout = httpx.Timeout(timeout)
        self._retry = retry or RetryPolicy()
        self._client = client or httpx.Client(timeout=self._timeout)
        self._owns_client = client is None
        self._clock = clock
        self._sleep = sleep
        self._budget = budget or MintBudget()
        self._margin = refresh_margin
        self._young = young_token_seconds
        self._refusal_memory = refusal_memory_seconds
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        # One refresh at a time inside a container: threads waiting on it then read the cache.
        self._refresh_lock = threading.Lock()
        # The token this container last handed out: a Zoho token stays valid until it expires whoever mints
        # another, so the shared cache is read only when this one nears expiry or Zoho refuses it.
        self._in_use: CachedToken | None = None
        self.minted = 0
        #: When every refresh request must be over (a ``time.monotonic()`` reading), or None: see
        #: ``RetryPolicy.run``.
        self.finish_by: float | None = None

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def token(self) -> CachedToken:
        """A fresh access token: this container's own while fresh, else the cache's, else a new one."""
        in_use = self._in_use
        if in_use is not None and in_use.is_fresh(self._clock(), self._margin):
            return in_use
        self._in_use = token = self._shared_or_minted()
        return token

    def _shared_or_minted(self) -> CachedToken:
        """The cache's token when fresh; otherwise one minted (see the module docstring)."""
        cached = self._cache.get()
        if cached is not None and cached.is_fresh(self._clock(), self._margin):
            return cached
        with self._refresh_lock:
            cached = self._cache.get()
            if cached is not None and cached.is_fresh(self._clock(), self._margin):
                return cached
            try:
                minted = self._mint()
            except ZohoError as error:
                self._release_mint()
                # Inside the refresh margin the old token still works: better than failing the call.
                if (
                    error.retryable
                    and cached is not None
                    and cached.is_fresh(self._clock(), _LAST_RESORT_MARGIN)
                ):
                    logger.warning(
                        "zoho token refresh failed; using the current token until it expires",
                        extra={"error": error.code},
                    )
                    return cached
                raise
            expected = cached.version if cached is not None else None
            stored = replace(minted, version=(expected or 0) + 1)
            if self._cache.put(stored, expected_version=expected):
                return stored
            winner = self._cache.get()
            if winner is not None and winner.is_fresh(self._clock(), self._margin):
                return winner
            return stored

    def _release_mint(self) -> None:
        """Let peers mint at once after this container's mint failed (else its lease lapses by itself)."""
        try:
            self._cache.release()
        except Exception:  # the cache unreachable: the mint's own error is the one to raise
            logger.warning("zoho token mint lease not released; it lapses by itself", exc_info=True)

    def replaced(self, token: CachedToken) -> CachedToken | None:
        """The shared cache's token when it is fresh and not ``token``: Zoho refused the token this
        container kept, and another container has already replaced it (nothing to mint)."""
        current = self._cache.get()
        if current is None or current.access_token == token.access_token:
            return None
        if not current.is_fresh(self._clock(), self._margin):
            return None
        self._in_use = current
        return current

    def invalidate(self, token: CachedToken) -> None:
        """Forget ``token`` (Zoho refused it) so the next :meth:`token` mints, unless already replaced."""
        if self._in_use is not None and self._in_use.access_token == token.access_token:
            self._in_use = None
        current = self._cache.get()
        if current is not None and current.access_token == token.access_token:
            expired = replace(current, expires_at=0.0, version=current.version + 1)
            self._cache.put(expired, expected_version=current.version)

    def just_issued(self, token: CachedToken) -> bool:
        """Whether ``token`` was minted (by any container) too recently to have expired: a refusal of
        it that no acceptance preceded is about scope or permission, and a new token would not help."""
        return self._clock() - token.issued_at < self._young

    def _mint(self) -> CachedToken:
        if self._credentials_refused and self._reload_credentials is not None:
            self._reread_credentials(self._reload_credentials)
        fingerprint = self._credentials.fingerprint()
        self._refuse_if_refused_lately(fingerprint)
        started = self._clock()
        try:
            body = self._retry.run(
                self._post_refresh,
                idempotent=True,
                sleep=self._sleep,
                rng=self._rng,
                describe="POST /oauth/v2/token",
                finish_by=self.finish_by,
            )
        except ZohoCredentialsRefused as refusal:
            self._remember_refusal(fingerprint, refusal)
            raise
        self.minted += 1
        try:
            access_token = str(body["access_token"])
            expires_in = float(body.get("expires_in", 3600))
            api_domain = str(body["api_domain"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ZohoAuthError("Zoho token response lacks access_token or api_domain") from exc
        logger.info("zoho access token minted", extra={"api_domain": api_domain, "expires_in": expires_in})
        return CachedToken(
            access_token=access_token,
            api_domain=api_domain,
            expires_at=started + expires_in,
            issued_at=started,
        )

    def _post_refresh(self) -> dict[str, Any]:
        # Every POST counts, retries included: a refresh that timed out or answered 5xx may still have
        # minted a token on Zoho's side, and Zoho's limit counts what it minted, not what we received.
        # One that never connected is given back here (the fleet's shared count keeps it: conservative).
        taken = self._budget.take()
        try:
            counted = self._cache.count_mint_request()
        except Exception:
            # Not sent (the fleet's window is full, or the cache is unreachable): the place is given back,
            # or this container would stay locked out after the fleet's window has moved on.
            self._budget.give_back(taken)
            raise
        form = {
            "grant_type": "refresh_token",
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.client_secret.get_secret_value(),
            "refresh_token": self._credentials.refresh_token.get_secret_value(),
        }
        try:
            response = self._client.post(self._token_url, data=form, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise ZohoTimeout("Zoho accounts server did not answer in time") from exc
        except httpx.ConnectError as exc:
            self._budget.give_back(taken)
            raise ZohoUnavailable(f"cannot reach the Zoho accounts server: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise ZohoUnavailable(f"cannot reach the Zoho accounts server: {type(exc).__name__}") from exc
        try:
            return _token_body(response, accounts=httpx.URL(self._token_url).host)
        except ZohoCredentialsRefused:
            # Zoho refused the credentials: it minted nothing, and its limit counts tokens minted. Counted,
            # such refusals would fill the window, and the fleet would stay unable to mint for up to ten
            # minutes after an admin mended the credentials.
            self._credentials_refused = True
            self._budget.give_back(taken)
            if counted is not None:
                self._forget_mint_request(counted)
            raise

    def _refuse_if_refused_lately(self, fingerprint: str) -> None:
        """Raise the refusal the fleet met lately with these very credentials, without asking Zoho: with a
        wrong secret every message would otherwise send its own doomed request to the accounts server."""
        if self._refusal_memory <= 0:
            return
        reason = self._cache.refusal(fingerprint)
        if reason is None:
            return
        self._credentials_refused = True  # so that the secret is read again before the next attempt
        raise ZohoCredentialsRefused(
            f"{reason} (refused less than {self._refusal_memory:.0f}s ago: not asked again with the same "
            "credentials until then; changed credentials in the Zoho secret are tried at once)"
        )

    def _remember_refusal(self, fingerprint: str, refusal: ZohoCredentialsRefused) -> None:
        if self._refusal_memory <= 0:
            return
        try:
            self._cache.remember_refusal(fingerprint, refusal.message, seconds=self._refusal_memory)
        except Exception:  # the cache unreachable: the refusal is the error to raise; peers ask Zoho again
            logger.warning("zoho credentials refusal not remembered for the fleet", exc_info=True)

    def _reread_credentials(self, reload: Callable[[], ZohoCredentials]) -> None:
        """Read the credentials again after Zoho refused them (one read of the secret per refusal). Those
        of another OAuth client share that client's token: the cache follows them, or this container would
        keep reading and counting in the old client's item while containers started since use the new one."""
        try:
            credentials = reload()
        except Exception as error:  # unreadable now: the refused ones are tried, and refused, again
            logger.warning("zoho credentials not read again", extra={"error": type(error).__name__})
            return
        if credentials.client_id != self._credentials.client_id:
            self._cache = self._cache.for_client(credentials.client_id)
            self._in_use = None  # the old client's token, if any, is not the new client's
            logger.info("zoho credentials name another OAuth client; its shared token is used")
        self._credentials = credentials
        self._credentials_refused = False
        logger.info("zoho credentials read again after Zoho refused them")

    def _forget_mint_request(self, counted: float) -> None:
        try:
            self._cache.forget_mint_request(counted)
        except Exception:  # the cache unreachable: the refusal is the error to raise; the count lapses
            logger.warning("zoho refused refresh still counted by the fleet; it lapses", exc_info=True)


def _token_body(response: httpx.Response, *, accounts: str) -> dict[str, Any]:
    """Interpret the accounts server's answer (``accounts``: its host, for the messages).

    Success and most failures come as HTTP 200: ``{"access_token":..}`` or ``{"error":"invalid_code"}``.
    Too many mints come as HTTP 400 ``{"error":"Access Denied","error_description":"You have made too many
    requests continuously..."}``. 429 and 5xx are mapped like any Zoho answer.
    """
    if response.status_code == 429 or response.status_code >= 500:
        error = error_for_response(response, Dialect.BOOKS)
        raise error if error is not None else ZohoServerError("token endpoint failed", http_status=502)
    try:
        body = response.json()
    except ValueError as exc:
        raise ZohoServerError(
            f"Zoho accounts server sent a non-JSON answer (HTTP {response.status_code})",
            http_status=response.status_code,
        ) from exc
    if not isinstance(body, dict):
        raise ZohoServerError(
            "Zoho accounts server sent an unexpected answer", http_status=response.status_code
        )
    if "access_token" in body and "error" not in body:
        return body
    error_text = str(body.get("error", f"HTTP {response.status_code}"))
    description = str(body.get("error_description", ""))
    if "too many requests" in description.lower() or error_text.lower() == "access denied":
        raise ZohoTokenRateLimited(f"Zoho refused to mint a token: {description or error_text}")
    if error_text in _CREDENTIALS_REFUSED:
        # A self-client exists in one data centre: another's accounts server knows neither it nor its tokens.
        raise ZohoCredentialsRefused(
            f"Zoho refused the refresh token: {error_text} from {accounts}; the client id, secret and "
            "refresh token must be a self-client's of that data centre (ZohoDataCentre, "
            "SYNC_GUARD_ZOHO_DATA_CENTRE), and the refresh token not revoked"
        )
    raise ZohoCredentialsRefused(f"Zoho refused the refresh token: {error_text}")
