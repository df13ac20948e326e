"""The outbox actions admin operations queue: a hold written by hand (``hold``, ``apply``) and the undo of a
hold (``release``), each as the executor runs it and with the echo the record's state then expects.

Nothing here reads or writes: the admin service decides which actions an operation queues, and its
repository writes them in the operation's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync_guard.config import Mode
from sync_guard.errors import InvalidPayload
from sync_guard.executor.model import ActionStatus
from sync_guard.guard.loops import expected_state
from sync_guard.guard.model import ActionKind, Decision, OutboxAction, RecordState, action_id_for
from sync_guard.models.records import Module

#: Each hold action and the action that undoes it.
UNDO = {
    ActionKind.TAG_CRM_RECORD: ActionKind.UNTAG_CRM_RECORD,
    ActionKind.MARK_BOOKS_INACTIVE: ActionKind.MARK_BOOKS_ACTIVE,
}
#: Statuses of a hold action after which Zoho may hold the record: undo them (``failed`` only when the
#: refused hold was more than one write, see ``AdminService._took_no_effect``).
MAY_HAVE_RUN = {ActionStatus.DONE, ActionStatus.RUNNING, ActionStatus.FAILED, ActionStatus.DEAD_LETTERED}

#: The CRM modules a record held by hand can be in (the hold tag is written through that module's API).
HOLD_MODULES = (Module.CRM_ACCOUNTS.value, Module.CRM_CONTACTS.value)


def release_expected_state(kind: ActionKind, tag: str) -> dict[str, object]:
    """What the record looks like once the release ran (its webhook echo is then recognised)."""
    if kind is ActionKind.MARK_BOOKS_ACTIVE:
        return {"active": True}
    return {"crm_tag_removed": tag}


def admin_action(
    entry_id: str,
    kind: ActionKind,
    target: str,
    *,
    rules: tuple[str, ...],
    mode: Mode,
    params: dict[str, Any],
    expected: dict[str, Any],
    now: datetime,
) -> OutboxAction:
    """An outbox action an admin operation queues (written to Zoho only in ``enforce`` mode)."""
    return OutboxAction(
        action_id=action_id_for(entry_id, kind, target),
        kind=kind,
        target=target,
        # No webhook event caused it: the admin operation's entry id stands in for one.
        event_id=entry_id,
        entry_id=entry_id,
        rules=rules,
        decision=Decision.ADMIN,
        mode=mode,
        execute=mode is Mode.ENFORCE,
        params=params,
        expected_state=expected,
        queued_at=now,
    )


def _crm_params(tag: str, module: str | None) -> dict[str, Any]:
    """A CRM tag action's parameters: the tag, and the module it is written through when one is known
    (without it, the outbox writes to Accounts)."""
    return {"tag": tag} | ({"module": module} if module else {})


def hold_module(ref: str, module: str | None, state: RecordState | None) -> str | None:
    """The CRM module to tag ``ref`` in: the one the guard knows, else the caller's ``module``.

    Without either, the outbox writes to Accounts. A module the guard's state contradicts is refused
    rather than obeyed: tagging through the wrong module fails in Zoho, or reaches another record.
    """
    known = state.record.module.value if state is not None else None
    if not module:
        return known
    if not ref.startswith("crm:"):
        raise InvalidPayload("module applies to a CRM record only, not to a Books customer", field="module")
    if module not in HOLD_MODULES:
        raise InvalidPayload(f"module must be one of {', '.join(HOLD_MODULES)}", field="module")
    if known is not None and known != module:
        raise InvalidPayload(
            f"{ref} is a CRM record in {known} as the guard knows it, not in {module}", field="module"
        )
    return module


def hold_action(
    entry_id: str,
    ref: str,
    *,
    tag: str,
    module: str | None,
    rules: tuple[str, ...],
    mode: Mode,
    now: datetime,
) -> OutboxAction:
    """The outbox action that holds ``ref`` in Zoho: the hold ``tag`` through ``module`` (a CRM record), or
    mark inactive (a Books customer), expecting its echo."""
    kind = ActionKind.TAG_CRM_RECORD if ref.startswith("crm:") else ActionKind.MARK_BOOKS_INACTIVE
    params = _crm_params(tag, module) if kind is ActionKind.TAG_CRM_RECORD else {}
    return admin_action(
        entry_id,
        kind,
        ref,
        rules=rules,
        mode=mode,
        params=params,
        expected=expected_state(kind, tag),
        now=now,
    )


def undo_action(
    entry_id: str,
    held: OutboxAction,
    *,
    rules: tuple[str, ...],
    known_module: str | None,
    guard_mode: Mode,
    hold_tag: str,
    now: datetime,
) -> OutboxAction:
    """The release's action (entry ``entry_id``) that undoes the hold action ``held``: remove the tag it
    added, through the module the guard knows the record in, else the one ``held`` was written through
    (``--module`` of a record the guard did not know); or mark the Books customer active again."""
    return admin_action(
        entry_id,
        UNDO[held.kind],
        held.target,
        rules=rules,
        # An admin's hold written to Zoho on purpose while the guard observes (`preflight --apply`) is undone
        # the same way; the guard's own holds follow the guard's mode.
        mode=held.mode if held.decision is Decision.ADMIN else guard_mode,
        params=_crm_params(held.params.get("tag", hold_tag), known_module or held.params.get("module")),
        expected=release_expected_state(UNDO[held.kind], hold_tag),
        now=now,
    )
