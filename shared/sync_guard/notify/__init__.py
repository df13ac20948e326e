"""Notifications to finance: plain-English messages about the guard's decisions, delivered through SNS.

Callers build ``FinanceNotice`` objects (the outbox action carries them), then either ``aggregate`` them into
``RenderedMessage`` objects and publish each with a ``Notifier``, or call ``notify_finance`` to do both.
"""

from sync_guard.notify.aggregate import STORM_RULES, aggregate, fresh, unique_notices
from sync_guard.notify.catalogue import CATALOGUE, GENERIC, RuleText, text_for
from sync_guard.notify.links import ZohoLinks, web_domain
from sync_guard.notify.model import (
    Decision,
    FinanceNotice,
    MessageKind,
    NoticeRecord,
    RenderedMessage,
    Role,
    Severity,
    dedup_key,
)
from sync_guard.notify.notifiers import (
    Delivery,
    FanOutNotifier,
    FileNotifier,
    InMemoryNotifier,
    NotificationFailed,
    Notifier,
    SnsNotifier,
    finance_notifier,
    notify_finance,
)
from sync_guard.notify.render import MULTIPLE, render_digest, render_notice

__all__ = [
    "CATALOGUE",
    "GENERIC",
    "MULTIPLE",
    "STORM_RULES",
    "Decision",
    "Delivery",
    "FanOutNotifier",
    "FileNotifier",
    "FinanceNotice",
    "InMemoryNotifier",
    "MessageKind",
    "NoticeRecord",
    "NotificationFailed",
    "Notifier",
    "RenderedMessage",
    "Role",
    "RuleText",
    "Severity",
    "SnsNotifier",
    "ZohoLinks",
    "aggregate",
    "dedup_key",
    "finance_notifier",
    "fresh",
    "notify_finance",
    "render_digest",
    "render_notice",
    "text_for",
    "unique_notices",
    "web_domain",
]
