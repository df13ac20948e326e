"""Build the scheduled Zoho checks from ``Settings`` (cold start of the checks function)."""

from __future__ import annotations

from functools import cache

from sync_guard.admin.dynamo import DynamoAdminRepository
from sync_guard.config import Settings
from sync_guard.executor.wiring import LazyZohoClients
from sync_guard.notify import Notifier, finance_notifier
from sync_guard.notify.links import ZohoLinks
from sync_guard.reconcile.checks import ChecksConfig, ZohoChecks, utc_now
from sync_guard.reconcile.reminder import HoldsReminder, ReminderConfig
from sync_guard.reconcile.stall import StallConfig, SyncStallCheck
from sync_guard.secrets import webhook_secret
from sync_guard.store.audit import AuditLog
from sync_guard.store.checks import DynamoCheckState
from sync_guard.store.events import DynamoEventStore
from sync_guard.store.queue import SqsEventQueue
from sync_guard.store.shadow import DynamoShadowRepository
from sync_guard.zoho.factory import zoho_retry_policy


def build_zoho_checks(settings: Settings, *, zoho: LazyZohoClients | None = None) -> ZohoChecks:
    """The checks over DynamoDB, SQS, SNS and the Zoho clients; Zoho, the secret and the notifier are
    reached on first use."""
    clients = zoho or LazyZohoClients(settings)
    state = DynamoCheckState.from_settings(settings)
    audit = AuditLog.from_settings(settings)
    shadow = DynamoShadowRepository.from_settings(settings)

    @cache
    def notifier() -> Notifier:
        return finance_notifier(settings)

    links = ZohoLinks.from_settings(settings)
    stall = SyncStallCheck(
        lambda: clients().crm,
        lambda: clients().books,
        shadow,
        state,
        audit,
        notifier,
        links=links,
        config=StallConfig.from_settings(settings),
        clock=utc_now,
    )
    reminder = HoldsReminder(
        DynamoAdminRepository.from_settings(settings),
        state,
        audit,
        notifier,
        links=links,
        config=ReminderConfig.from_settings(settings),
        clock=utc_now,
    )
    return ZohoChecks(
        lambda: clients().crm,
        state,
        DynamoEventStore.from_settings(settings),
        SqsEventQueue.from_settings(settings),
        audit,
        books=lambda: clients().books,
        shadow=shadow,
        token=lambda: webhook_secret(settings),
        config=ChecksConfig.from_settings(settings),
        # Room for one more record: a fetch, its retries, and a token mint.
        reserve_seconds=2 * zoho_retry_policy(settings).longest_call_seconds() + 5,
        stall=stall,
        reminder=reminder,
    )
