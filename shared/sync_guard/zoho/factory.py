"""Build the Zoho clients from ``Settings`` and a token cache: the one place that wires them together."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from sync_guard.config import Settings
from sync_guard.errors import ConfigurationError
from sync_guard.zoho.auth import (
    TokenCache,
    ZohoCredentials,
    ZohoOAuth,
    accounts_url_for,
    load_credentials,
)
from sync_guard.zoho.books import BooksClient
from sync_guard.zoho.crm import CrmClient
from sync_guard.zoho.http import RetryPolicy, ZohoHttp


@dataclass
class ZohoClients:
    """The CRM and Books clients sharing one HTTP wrapper and one token source. Close when done."""

    crm: CrmClient
    books: BooksClient
    auth: ZohoOAuth
    http: ZohoHttp
    _client: httpx.Client = field(repr=False)

    def close(self) -> None:
        self._client.close()

    def take_crm_credits_remaining(self) -> int | None:
        """CRM's API credits left after the last CRM call that said, once (see ``ZohoHttp``)."""
        return self.http.take_crm_credits_remaining()

    def finish_calls_by(self, deadline: float | None) -> None:
        """End every call to Zoho, retries and token refreshes included, by ``deadline`` (a
        ``time.monotonic()`` reading; None: no bound beyond the retry policy's own)."""
        self.http.finish_by = deadline
        self.auth.finish_by = deadline

    def __enter__(self) -> ZohoClients:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def zoho_retry_policy(settings: Settings) -> RetryPolicy:
    """How hard each Zoho call is tried: the settings' attempts, no attempt started past the deadline."""
    return RetryPolicy(max_attempts=settings.zoho_max_attempts, attempt_seconds=settings.zoho_timeout_seconds)


def build_zoho_clients(
    settings: Settings,
    token_cache: TokenCache,
    *,
    credentials: ZohoCredentials | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    client: httpx.Client | None = None,
    reload_credentials: Callable[[], ZohoCredentials] | None = None,
) -> ZohoClients:
    """CRM and Books clients for the configured data centre (or the simulator's URLs when set).

    ``credentials`` default to :func:`~sync_guard.zoho.auth.load_credentials` (Secrets Manager on AWS,
    the environment locally). Timeouts and attempts come from the settings unless ``retry`` is given.
    ``reload_credentials`` reads them again after Zoho refused them (see ``ZohoOAuth``).
    """
    if not settings.zoho_books_organization_id:
        raise ConfigurationError("SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID is not set")
    creds = credentials or load_credentials(settings)
    timeout = settings.zoho_timeout_seconds
    policy = retry or zoho_retry_policy(settings)
    shared = client or httpx.Client(timeout=httpx.Timeout(timeout))
    auth = ZohoOAuth(
        accounts_url=settings.zoho_accounts_url or accounts_url_for(settings.zoho_data_centre),
        credentials=creds,
        cache=token_cache,
        timeout=timeout,
        retry=policy,
        client=shared,
        sleep=sleep,
        reload_credentials=reload_credentials,
        refusal_memory_seconds=settings.zoho_refusal_memory_seconds,
    )
    http = ZohoHttp(
        auth, timeout=timeout, retry=policy, api_url=settings.zoho_api_url or None, client=shared, sleep=sleep
    )
    books = BooksClient(http, settings.zoho_books_organization_id)
    return ZohoClients(crm=CrmClient(http), books=books, auth=auth, http=http, _client=shared)
