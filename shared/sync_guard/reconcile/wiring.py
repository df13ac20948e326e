"""Build the scheduled Zoho checks from ``Settings`` (cold start of the checks function)."""

from __future__ import annotations

from sync_guard.config import Settings
from sync_guard.executor.wiring import LazyZohoClients
from sync_guard.reconcile.checks import ChecksConfig, ZohoChecks
from sync_guard.secrets import webhook_secret
from sync_guard.store.audit import AuditLog
from sync_guard.store.checks import DynamoCheckState
from sync_guard.store.events import DynamoEventStore
from sync_guard.store.queue import SqsEventQueue
from sync_guard.zoho.factory import zoho_retry_policy


def build_zoho_checks(settings: Settings, *, zoho: LazyZohoClients | None = None) -> ZohoChecks:
    """The checks over DynamoDB, SQS and the CRM client; Zoho and the secret are reached on first use."""
    clients = zoho or LazyZohoClients(settings)
    return ZohoChecks(
        lambda: clients().crm,
        DynamoCheckState.from_settings(settings),
        DynamoEventStore.from_settings(settings),
        SqsEventQueue.from_settings(settings),
        AuditLog.from_settings(settings),
        token=lambda: webhook_secret(settings),
        config=ChecksConfig.from_settings(settings),
        # Room for one more record: a fetch, its retries, and a token mint.
        reserve_seconds=2 * zoho_retry_policy(settings).longest_call_seconds() + 5,
    )
