"""Loop prevention: recognise the webhook that the guard's own write to Zoho triggers.

When an action that writes to Zoho is queued (tag a CRM record, mark a Books customer inactive), the target's
shadow state records what the write will change (``echo_expected``: ``{action_id: {"active": false}}`` or
``{"crm_tag": "sync-guard-hold"}``). The next update of that record whose identifying fields are unchanged
and which matches an expectation is the echo: audited as ``self_echo`` and allowed without re-deciding, so a
hold can never trigger another hold. Independently, the engine never queues a Zoho write against a record
the guard already holds, which bounds any echo it fails to recognise (e.g. a payload with fewer fields).
"""

from __future__ import annotations

from typing import Any

from sync_guard.guard.model import ActionKind, RecordState
from sync_guard.models.records import PartyRecord

#: What identifies a party; the guard's own writes never change these.
IDENTITY_FIELDS = (
    "name",
    "kind",
    "first_name",
    "last_name",
    "email",
    "other_emails",
    "phone",
    "website",
    "vat",
    "postcode",
    "linked_crm_id",
)


def expected_state(kind: ActionKind, crm_hold_tag: str) -> dict[str, Any]:
    """What the target looks like after the action: stored with the action and on the target's state."""
    if kind is ActionKind.TAG_CRM_RECORD:
        return {"crm_tag": crm_hold_tag}
    if kind is ActionKind.MARK_BOOKS_INACTIVE:
        return {"active": False}
    return {}


def identity(record: PartyRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in IDENTITY_FIELDS}


def echoed_actions(previous: RecordState | None, record: PartyRecord) -> tuple[str, ...]:
    """Ids of the guard's own actions this update is the echo of; empty when it is not an echo."""
    if previous is None or previous.deleted or not previous.echo_expected:
        return ()
    if identity(previous.record) != identity(record):
        return ()  # somebody changed what matters: decide normally
    fulfilled = []
    for action_id, expected in sorted(previous.echo_expected.items()):
        if "active" in expected and record.active != expected["active"]:
            continue
        # A CRM tag is not part of the record the guard keeps: an update that changes nothing else is it.
        fulfilled.append(action_id)
    return tuple(fulfilled)
