"""The four Zoho writes behind quarantine and release, and the checks after a held record's merge. Never a
delete, never a merge.

- hold a CRM record: add the hold tag (and tick the hold checkbox when one is configured). The CRM view the
  native sync uses excludes tagged records, so the record stops syncing; its data is untouched.
- hold a Books customer: mark it inactive. It keeps its history but cannot be invoiced by mistake.
- release: remove the tag (untick the box) / mark the customer active again.
- clear a carried hold tag: a held CRM record was deleted (a manual merge deletes the record merged away)
  and a merge may have passed its hold tag to the record kept, which no hold lists. The record is read from
  CRM, and the tag removed (the box unticked) as a release removes it, unless a hold of the guard's lists it.
- sweep a carried hold tag: the same for the records CRM changed when the held record was deleted (a merge
  changes the record kept at that moment), found through CRM's listing newest modified first: a merge into
  a record the held one did not match (another company's) passes the tag on as well.

All are idempotent in Zoho (adding a tag twice, marking an inactive customer inactive, removing an absent
tag), so a call that timed out after Zoho applied it can safely run again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sync_guard.executor.ports import ZohoWriters
from sync_guard.guard.model import ActionKind, OutboxAction, RecordState
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.timefmt import utc_minute
from sync_guard.zoho.convert import parse_zoho_time

ZOHO_KINDS = frozenset(
    {
        ActionKind.TAG_CRM_RECORD,
        ActionKind.UNTAG_CRM_RECORD,
        ActionKind.MARK_BOOKS_INACTIVE,
        ActionKind.MARK_BOOKS_ACTIVE,
        ActionKind.CLEAR_CARRIED_HOLD_TAG,
        ActionKind.SWEEP_CARRIED_HOLD_TAG,
    }
)


@dataclass(frozen=True)
class HoldSettings:
    tag: str = "sync-guard-hold"
    #: API name of an optional CRM checkbox set on hold (empty: tag only).
    checkbox_field: str = ""


def split_ref(ref: str) -> tuple[System, str]:
    """``crm:123`` -> (CRM, "123")."""
    system, _, record_id = ref.partition(":")
    if not record_id:
        raise ValueError(f"not a record reference: {ref!r}")
    return System(system), record_id


def crm_module_of(action: OutboxAction, state: RecordState | None) -> Module:
    """Accounts or Contacts: from the action when it says, else the shadow's record, else Accounts."""
    if action.params.get("module"):
        return Module(str(action.params["module"]))
    if state is not None and state.record.system is System.CRM:
        return state.record.module
    return Module.CRM_ACCOUNTS


def describe(action: OutboxAction, hold: HoldSettings) -> str:
    """What the action does, in words (audit notes; observe mode says it would have done this)."""
    tag = str(action.params.get("tag") or hold.tag)
    _, record_id = split_ref(action.target)
    checkbox = f" and tick {hold.checkbox_field}" if hold.checkbox_field else ""
    untick = f" and untick {hold.checkbox_field}" if hold.checkbox_field else ""
    return {
        ActionKind.TAG_CRM_RECORD: f"add tag {tag!r}{checkbox} to CRM record {record_id}",
        ActionKind.UNTAG_CRM_RECORD: f"remove tag {tag!r}{untick} from CRM record {record_id}",
        ActionKind.MARK_BOOKS_INACTIVE: f"mark Books customer {record_id} inactive",
        ActionKind.MARK_BOOKS_ACTIVE: f"mark Books customer {record_id} active",
        ActionKind.CLEAR_CARRIED_HOLD_TAG: (
            f"remove tag {tag!r}{untick} from CRM record {record_id} if a merge passed it on from "
            f"{merged_from(action)} and no hold of the guard's lists {action.target}"
        ),
        ActionKind.SWEEP_CARRIED_HOLD_TAG: (
            f"remove tag {tag!r}{untick} from the CRM records changed when {action.target} was deleted "
            f"({action.params.get('deleted_at', 'its delete')}) that carry it, where no hold of the guard's "
            "lists them"
        ),
        ActionKind.NOTIFY_FINANCE: "notify finance",
    }[action.kind]


def merged_from(action: OutboxAction) -> str:
    """The held record whose delete queued a ``CLEAR_CARRIED_HOLD_TAG`` check (the record merged away)."""
    return str(action.params.get("merged_from") or "a held record")


def clear_carried_hold_tag(
    action: OutboxAction,
    zoho: ZohoWriters,
    hold: HoldSettings,
    module: Module,
    hold_of: Callable[[str], str | None],
) -> str:
    """Remove the hold a CRM merge may have passed on to ``action.target``; what it found and did, in words.

    The record is read from CRM. Gone, or carrying neither the hold tag nor the ticked hold checkbox: nothing
    is written. Held by a hold of the guard's (``hold_of``): left as it is, its release undoes it. Otherwise
    the hold is removed as a release removes it, and ``hold_of`` is asked again: a hold of the record
    committed (and its tag written) between the first question and the removal gets its tag back. Zoho
    errors propagate (typed), as for every action.
    """
    return _clear_carried_hold_tag(action, zoho, hold, module, hold_of)[0]


def _clear_carried_hold_tag(
    action: OutboxAction,
    zoho: ZohoWriters,
    hold: HoldSettings,
    module: Module,
    hold_of: Callable[[str], str | None],
) -> tuple[str, bool]:
    """``clear_carried_hold_tag``'s words, and whether it took the hold off the record."""
    system, record_id = split_ref(action.target)
    if system is not System.CRM:
        raise ValueError(f"{action.kind.value} needs a CRM target, got {action.target}")
    tag = str(action.params.get("tag") or hold.tag)
    data = zoho.crm.get_record_data(module, record_id)
    if data is None:
        return f"{action.target} no longer exists in CRM: nothing to do", False
    tags = {str(t.get("name")) for t in data.get("Tag") or () if isinstance(t, Mapping)}
    tagged = tag in tags
    ticked = bool(hold.checkbox_field) and data.get(hold.checkbox_field) is True
    if not (tagged or ticked):
        return f"{action.target} does not carry the hold tag {tag!r}: nothing to do", False
    holder = hold_of(action.target)
    if holder is not None:
        return f"{action.target} carries the hold tag of its own hold ({holder}): left as it is", False
    _write_hold(zoho, hold, module, record_id, tag, tagged=tagged, ticked=ticked, holding=False)
    holder = hold_of(action.target)
    if holder is not None:
        _write_hold(zoho, hold, module, record_id, tag, tagged=tagged, ticked=ticked, holding=True)
        return (
            f"{action.target} was held by {holder} while the hold tag a CRM merge passed on from "
            f"{merged_from(action)} was being removed: the tag was put back for that hold"
        ), False
    removed = " and ".join(
        ([f"the hold tag {tag!r}"] if tagged else [])
        + ([f"the ticked {hold.checkbox_field}"] if ticked else [])
    )
    return (
        f"removed {removed} that a CRM merge passed from {merged_from(action)} (held, now deleted) to "
        f"{action.target}: no hold of the guard's lists {action.target}, so it would have left the sync "
        "unnoticed"
    ), True


#: Around a held record's delete, the time the records CRM changed are looked at in. A merge changes the
#: record kept and deletes the one merged away at once. The guard dates the delete by the webhook's arrival,
#: after the merge (seconds, or minutes when Zoho's delivery lags: ``BEFORE``), or by the deletion time CRM
#: lists (the scheduled check); ``AFTER`` allows for the clocks of Zoho and AWS. A record changed outside it
#: was not changed by the merge (a tag put there by hand later is not taken off).
MERGE_BEFORE = timedelta(minutes=10)
MERGE_AFTER = timedelta(minutes=2)
#: The most records one sweep reads from CRM's listing (one page is 200): a delete the guard heard of long
#: after it happened, in a busy CRM, may lie further back, and the sweep then says it did not reach it.
MAX_SWEPT = 400


def sweep_carried_hold_tags(
    action: OutboxAction,
    zoho: ZohoWriters,
    hold: HoldSettings,
    module: Module,
    hold_of: Callable[[str], str | None],
) -> tuple[str, tuple[str, ...]]:
    """Remove the hold tag a CRM merge passed on from the records CRM changed when ``action.target`` (held)
    was deleted; what it found and did, in words, and the records it took the tag off.

    CRM's listing is read newest modified first, from ``MERGE_BEFORE`` before the delete
    (``params["deleted_at"]``), at most ``MAX_SWEPT`` records. Each record changed from then to
    ``MERGE_AFTER`` after it that shows the hold tag (or the ticked hold checkbox), other than those the
    other checks read (``params["checked"]``), is then handled as ``clear_carried_hold_tag`` handles one:
    read again, left to a hold of the guard's that lists it, else the tag removed as a release removes it.
    """
    deleted_at = parse_zoho_time(action.params.get("deleted_at"))
    if deleted_at is None:
        raise ValueError(f"{action.kind.value} needs the time of the delete (deleted_at)")
    tag = str(action.params.get("tag") or hold.tag)
    skipped = {action.target, *(str(ref) for ref in action.params.get("checked") or ())}
    fields = ("Tag", *([hold.checkbox_field] if hold.checkbox_field else []))
    listing = zoho.crm.iter_recently_modified(module, since=deleted_at - MERGE_BEFORE, fields=fields)
    found: list[str] = []
    short = ""
    for read, data in enumerate(listing, start=1):
        if read > MAX_SWEPT:
            # the listing ends at the window's start: records changed earlier in the window were not read
            short = (
                f"; stopped after the {MAX_SWEPT} records changed last, before the end of that time: check "
                "the record a merge kept by hand"
            )
            break
        modified = parse_zoho_time(data.get("Modified_Time"))
        ref = f"{System.CRM.value}:{data.get('id')}"
        near = modified is not None and modified <= deleted_at + MERGE_AFTER
        if near and ref not in skipped and _carries_hold(data, tag, hold):
            found.append(ref)
    window = (
        f"from {_minutes(MERGE_BEFORE)} before to {_minutes(MERGE_AFTER)} after the delete of "
        f"{action.target} ({utc_minute(deleted_at)})"
    )
    if not found:
        return f"no other CRM record changed {window} carries the hold tag {tag!r}{short}", ()
    notes = []
    removed = []
    for ref in found:
        check = action.model_copy(update={"kind": ActionKind.CLEAR_CARRIED_HOLD_TAG, "target": ref})
        note, taken_off = _clear_carried_hold_tag(check, zoho, hold, module, hold_of)
        notes.append(note)
        if taken_off:
            removed.append(ref)
    return f"records changed {window} with the hold tag: " + "; ".join(notes) + short, tuple(removed)


def _carries_hold(data: Mapping[str, Any], tag: str, hold: HoldSettings) -> bool:
    tags = {str(t.get("name")) for t in data.get("Tag") or () if isinstance(t, Mapping)}
    return tag in tags or (bool(hold.checkbox_field) and data.get(hold.checkbox_field) is True)


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _write_hold(
    zoho: ZohoWriters,
    hold: HoldSettings,
    module: Module,
    record_id: str,
    tag: str,
    *,
    tagged: bool,
    ticked: bool,
    holding: bool,
) -> None:
    """Add (``holding``) or remove the hold tag and the hold checkbox the record was found with."""
    if tagged:
        (zoho.crm.add_tags if holding else zoho.crm.remove_tags)(module, record_id, [tag])
    if ticked:
        zoho.crm.update_record(module, record_id, {hold.checkbox_field: holding}, trigger=[])


def already_in_zoho(
    action: OutboxAction,
    zoho: ZohoWriters,
    hold: HoldSettings,
    state: RecordState | None = None,
    *,
    books_customer: Callable[[str], PartyRecord | None] | None = None,
) -> bool:
    """Whether Zoho already shows what ``action`` writes: the Books customer's status, or the CRM record's
    hold tag (and hold checkbox). An earlier attempt may have written it and failed to record so (its
    outcome lost to a DynamoDB fault, its invocation cut short): a retry reads before it writes, so that
    the write is not sent twice. A record Zoho does not have is left to the write, which says so.
    ``books_customer`` reads the Books customer (default ``zoho.books.get_contact``): the caller's read
    of the same moment, when it made one."""
    _, record_id = split_ref(action.target)
    if action.kind in (ActionKind.MARK_BOOKS_INACTIVE, ActionKind.MARK_BOOKS_ACTIVE):
        customer = (books_customer or zoho.books.get_contact)(record_id)
        return customer is not None and customer.active is (action.kind is ActionKind.MARK_BOOKS_ACTIVE)
    if action.kind not in (ActionKind.TAG_CRM_RECORD, ActionKind.UNTAG_CRM_RECORD):
        return False
    data = zoho.crm.get_record_data(crm_module_of(action, state), record_id)
    if data is None:
        return False
    holding = action.kind is ActionKind.TAG_CRM_RECORD
    tag = str(action.params.get("tag") or hold.tag)
    tags = {str(t.get("name")) for t in data.get("Tag") or () if isinstance(t, Mapping)}
    if (tag in tags) is not holding:
        return False
    return not hold.checkbox_field or bool(data.get(hold.checkbox_field)) is holding


def apply_zoho_action(
    action: OutboxAction, zoho: ZohoWriters, hold: HoldSettings, state: RecordState | None = None
) -> str:
    """Carry out one hold/release in Zoho; returns a short description. Zoho errors propagate (typed)."""
    system, record_id = split_ref(action.target)
    tag = str(action.params.get("tag") or hold.tag)
    if action.kind in (ActionKind.TAG_CRM_RECORD, ActionKind.UNTAG_CRM_RECORD):
        if system is not System.CRM:
            raise ValueError(f"{action.kind.value} needs a CRM target, got {action.target}")
        module = crm_module_of(action, state)
        holding = action.kind is ActionKind.TAG_CRM_RECORD
        if holding:
            zoho.crm.add_tags(module, record_id, [tag])
        else:
            zoho.crm.remove_tags(module, record_id, [tag])
        if hold.checkbox_field:
            # trigger=[] asks CRM not to run workflows for the guard's own write (the echo is also filtered).
            zoho.crm.update_record(module, record_id, {hold.checkbox_field: holding}, trigger=[])
    elif action.kind in (ActionKind.MARK_BOOKS_INACTIVE, ActionKind.MARK_BOOKS_ACTIVE):
        if system is not System.BOOKS:
            raise ValueError(f"{action.kind.value} needs a Books target, got {action.target}")
        if action.kind is ActionKind.MARK_BOOKS_INACTIVE:
            zoho.books.mark_inactive(record_id)
        else:
            zoho.books.mark_active(record_id)
    else:
        raise ValueError(f"{action.kind.value} is not a Zoho write")
    return describe(action, hold)
