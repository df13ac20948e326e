"""The audit trail's recorded names in words a finance person or an auditor reads without the code.

One table says what each operation did, for the admin commands' confirmations ("Released crm:1") and for
the decision column of ``sync-guard audit``'s table ("admin: released crm:1"). The trail itself, and the
audit command's JSON and CSV, keep the recorded names (``release``, ``tag_crm_record:failed``): scripts
parse them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sync_guard.executor.model import ActionStatus
from sync_guard.guard.model import ActionKind, AuditEntry, EntryKind

#: What each operation did, by its recorded name. ``{first}`` and ``{second}`` are the entry's first
#: records; ``{related}`` is ", related to <the others>" when there are others.
OPERATIONS = {
    "hold": "held {first}{related}",
    "preflight_hold": "preflight held {first}{related}",
    "hold_again": "held {first} again{related}",
    "release": "released {first}",
    "release_moot": "released {first} as moot{related}",
    "apply": "applied the hold of {first} to Zoho",
    "forget_release": "forgot the release of {first} as not a duplicate of {second}",
    "confirm": "confirmed {first} as a duplicate of {second}",
    "link": "linked {first} and {second}",
    "reset_storm_breaker": "reset the storm breaker",
    "replay_dlq_started": "about to send dead-lettered messages back to their queue",
    "replay_dlq": "sent dead-lettered messages back to their queue",
    "requeue_awaiting_started": "about to send events awaiting their record back to the processor",
    "requeue_awaiting": "sent events awaiting their record back to the processor",
    "seed": "seeded the guard's records from Zoho",
    "rekey": "re-keyed the guard's records",
    "adopt_books_organization": "adopted the configured Books organisation",
    "renew_notification_channel": "renewed the CRM notification channel",
    "replay_crm_webhook_failures": "fed CRM records whose webhook Zoho failed to deliver",
    "feed_crm_deleted_records": "fed records deleted in CRM",
    "feed_books_modified_customers": "fed Books customers changed without a webhook",
    "feed_books_deleted_customers": "looked for Books customers deleted without a webhook",
    "sync_stalled": "the sync stopped carrying CRM edits to Books",
    "sync_resumed": "the sync carries CRM edits to Books again",
    "holds_reminder": "reminded finance of holds waiting for a decision",
}

#: An entry about an event that the rules did not decide, by why it exists.
_NOT_DECIDED = {
    EntryKind.SELF_ECHO: "the guard's own change coming back",
    EntryKind.STALE: "older than what the guard holds; nothing changed",
    EntryKind.AWAITING_ENRICHMENT: "ids only; waits until the record can be fetched",
    EntryKind.UNKNOWN_RECORD: "delete of a record the guard never saw",
    EntryKind.NOT_GUARDED: "not guarded (a Books vendor)",
    EntryKind.NOT_DECIDED: "not decided (another Books organisation)",
}

#: What an outbox action does, and how it ended (an executor's outcome: ``<kind>:<status>``).
_ACTIONS = {
    ActionKind.TAG_CRM_RECORD: "hold tag on the CRM record",
    ActionKind.UNTAG_CRM_RECORD: "removal of the CRM record's hold tag",
    ActionKind.MARK_BOOKS_INACTIVE: "marking the Books customer inactive",
    ActionKind.MARK_BOOKS_ACTIVE: "marking the Books customer active again",
    ActionKind.CLEAR_CARRIED_HOLD_TAG: "check for a hold tag a CRM merge passed on",
    ActionKind.SWEEP_CARRIED_HOLD_TAG: (
        "check of the CRM records changed when a held record was deleted for the hold tag a merge passed on"
    ),
    ActionKind.NOTIFY_FINANCE: "notice to finance",
}
_OUTCOMES = {
    ActionStatus.DONE: "done",
    ActionStatus.FAILED: "failed (Zoho refused it)",
    ActionStatus.DEAD_LETTERED: "failed every try",
    ActionStatus.NOT_EXECUTED: "not written (observe mode)",
    ActionStatus.CANCELLED: "cancelled (released first)",
    ActionStatus.RETRYING: "to be tried again",
    ActionStatus.PENDING: "waiting",
    ActionStatus.RUNNING: "under way",
}


def operation_done(operation: str, records: Sequence[str]) -> str | None:
    """What ``operation`` did to ``records``, in words ("released crm:1"); None for a name without words."""
    words = OPERATIONS.get(operation)
    if words is None:
        return None
    first, second = (*records, "-", "-")[:2]
    related = f", related to {', '.join(records[1:])}" if len(records) > 1 else ""
    return words.format(first=first, second=second, related=related)


def confirmation(operation: str, records: Sequence[str]) -> str:
    """An admin command's answer: "Released crm:1". An operation without words yet is spelt as its
    command, not as the audit names it."""
    said = operation_done(operation, records)
    if said is None:
        return f"{operation.replace('_', '-')}: {', '.join(records) or '-'}"
    return said[0].upper() + said[1:]


def _action_outcome(operation: str) -> str | None:
    kind, _, status = operation.partition(":")
    try:
        return f"{_ACTIONS[ActionKind(kind)]} {_OUTCOMES[ActionStatus(status)]}"
    except ValueError:
        return None


def what_happened(entry: AuditEntry) -> str:
    """The audit table's decision column: the decision (``--decision`` finds it by that word), then, for
    an entry that is not the rules' decision on an event, what it is ("admin: released crm:1", "quarantine:
    hold tag on the CRM record failed (Zoho refused it)")."""
    decision = entry.decision.value
    if entry.kind is EntryKind.DECISION:
        return decision
    operation = entry.operation or ""
    if entry.kind is EntryKind.ACTION:
        said = _action_outcome(operation)
    elif entry.kind is EntryKind.ADMIN:
        said = operation_done(operation, entry.records)
    else:
        said = _NOT_DECIDED.get(entry.kind)
    # a name from a later version of the guard: as recorded, but not as code
    return f"{decision}: {said or operation.replace('_', ' ') or entry.kind.value.replace('_', ' ')}"
