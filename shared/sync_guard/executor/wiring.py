"""Build the executor, the sweep and the record fetcher from ``Settings`` (cold start of each function)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from sync_guard.config import Settings
from sync_guard.executor.dynamo import DynamoActionStore, DynamoDecisionContext, DynamoSentNotices
from sync_guard.executor.enrichment import ZohoRecordFetcher
from sync_guard.executor.service import Executor, ExecutorConfig
from sync_guard.executor.zoho_actions import HoldSettings
from sync_guard.notify import Notifier, finance_notifier
from sync_guard.notify.links import ZohoLinks
from sync_guard.reconcile.ports import BooksOrganization
from sync_guard.store.checks import DynamoCheckState
from sync_guard.zoho.factory import ZohoClients, build_zoho_clients, zoho_retry_policy
from sync_guard.zoho.token_cache import DynamoTokenCache

# Every LazyZohoClients that holds clients, for close_zoho_clients(): a function's own live as long as its
# module, which the local stack cannot reach into.
_holding_clients: weakref.WeakSet[LazyZohoClients] = weakref.WeakSet()


class LazyZohoClients:
    """Zoho clients built on first use (credentials from Secrets Manager or the environment), then reused.

    The token is shared through the shadow table (``DynamoTokenCache``), keyed by the client id of the
    credentials in use. Credentials Zoho refuses are read again before the next token request (and the
    item follows them when they name another client).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._clients: ZohoClients | None = None
        self._lock = threading.Lock()

    def __call__(self) -> ZohoClients:
        with self._lock:
            if self._clients is None:
                from sync_guard.zoho.auth import load_credentials

                credentials = load_credentials(self._settings)
                cache = DynamoTokenCache.from_settings(self._settings, credentials.client_id)
                self._clients = build_zoho_clients(
                    self._settings,
                    cache,
                    credentials=credentials,
                    # the secret mended after Zoho refused it is read then, not at the next cold start
                    reload_credentials=lambda: load_credentials(self._settings),
                )
                _holding_clients.add(self)
            return self._clients

    def take_crm_credits_remaining(self) -> int | None:
        """CRM's API credits left after the last CRM call since the last time asked (None: no clients
        built, or no CRM answer said)."""
        with self._lock:
            return self._clients.take_crm_credits_remaining() if self._clients is not None else None

    def close(self) -> None:
        """Close the clients' connections; the next use builds them anew."""
        with self._lock:
            if self._clients is not None:
                self._clients.close()
                self._clients = None
            _holding_clients.discard(self)


def close_zoho_clients() -> None:
    """Close the connections of every :class:`LazyZohoClients` in this process (each rebuilds on next use).

    On Lambda a function's clients live as long as its container; the local stack, which runs the functions
    in its own process, closes theirs when it stops, as it stops their servers.
    """
    for clients in list(_holding_clients):
        clients.close()


def zoho_configured(settings: Settings) -> bool:
    """Whether this deployment can call Zoho at all (credentials and the Books organisation)."""
    has_credentials = bool(settings.zoho_secret_name) or bool(
        settings.zoho_client_id and settings.zoho_client_secret and settings.zoho_refresh_token
    )
    return has_credentials and bool(settings.zoho_books_organization_id)


def record_fetcher(
    settings: Settings,
    recorded: Callable[[], BooksOrganization | None] | None = None,
    *,
    zoho: LazyZohoClients | None = None,
) -> ZohoRecordFetcher | None:
    """The processor's fetcher of the records id-only events name, when Zoho is configured; it fetches
    no Books customer while ``ZohoBooksOrganizationId`` is not the shadow's recorded organisation (read
    through ``recorded`` when given, else from the shadow table at each fetch)."""
    if not zoho_configured(settings):
        return None
    clients = zoho or LazyZohoClients(settings)
    return ZohoRecordFetcher(
        clients,
        books_organization_id=settings.zoho_books_organization_id.strip(),
        recorded_books_organization=recorded or DynamoCheckState.from_settings(settings).books_organization,
        crm_credits=clients.take_crm_credits_remaining,
    )


def executor_config(settings: Settings) -> ExecutorConfig:
    return ExecutorConfig(
        mode=settings.mode,
        hold=HoldSettings(tag=settings.crm_hold_tag, checkbox_field=settings.crm_hold_field),
        max_receives=settings.outbox_max_receives,
        lease_seconds=settings.outbox_lease_seconds,
        notify_max_individual=settings.notify_max_individual,
        links=ZohoLinks.from_settings(settings),
        # Enough for most actions: two Zoho calls (a tag and a checkbox) and a token mint. One that needs
        # more (a retry reads before it writes) has its calls end with the invocation's time and is
        # retried. template.yaml gives the outbox function more than this (75 s with the default settings).
        reserve_seconds=3 * zoho_retry_policy(settings).longest_call_seconds(),
        books_organization_id=settings.zoho_books_organization_id.strip(),
    )


def build_executor(settings: Settings, *, zoho: LazyZohoClients | None = None) -> Executor:
    """The executor over DynamoDB, SQS-fed; Zoho clients and the notifier are built when first needed."""
    notifier: list[Notifier] = []

    def get_notifier() -> Notifier:
        if not notifier:
            notifier.append(finance_notifier(settings))
        return notifier[0]

    return Executor(
        store=DynamoActionStore.from_settings(settings),
        context=DynamoDecisionContext.from_settings(settings),
        sent_notices=DynamoSentNotices.from_settings(settings),
        zoho=zoho or LazyZohoClients(settings),
        notifier=get_notifier,
        config=executor_config(settings),
        recorded_books_organization=DynamoCheckState.from_settings(settings).books_organization,
    )
