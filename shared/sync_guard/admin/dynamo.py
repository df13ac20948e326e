"""The admin operations' DynamoDB side: holds in the shadow table, one transaction per operation.

Every operation writes its audit entry (actor included) in the same ``TransactWriteItems`` as the change
it makes, so the trail never shows an operation that did not happen, nor misses one that did. Record states
are rewritten conditionally on the revision read (as the engine does): an operation that races an event
fails with ``ConcurrentUpdate`` and is simply run again.

On a server that takes fewer items per transaction (DynamoDB Local: 10; AWS: 100) the transaction keeps
the entry's primary item and every write of the operation, and the entry's query views (one item per
record and rule it names, its month and decision) that do not fit follow it
(``DynamoShadowRepository.commit_audited``). The largest operations write at most five items besides the
views (``link`` and ``forget_release``: the entry and four states; ``release``: the entry, the hold, the
state, two undo actions), so they always fit there; splitting the states instead would let some land while
another's revision check fails, and the entry would then claim a change half made. What a split cannot
keep: a crash between the transaction and the views leaves a committed operation whose entry is found by
its id (as ``release`` finds a hold's decision) but not by the audit queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sync_guard.admin.model import Hold, HoldStatus
from sync_guard.config import Mode, Settings
from sync_guard.guard.model import AuditEntry, OutboxAction, RecordState
from sync_guard.guard.ports import KeyItem
from sync_guard.store import aws
from sync_guard.store.items import from_item, iso, parse_iso, to_item, to_value
from sync_guard.store.outbox import outbox_put
from sync_guard.store.shadow import (
    HOLD_PK,
    DynamoShadowRepository,
    batch_get,
    hold_key,
    replaceable_hold,
    revision_check,
    state_from_item,
    state_item,
    state_key,
)


def hold_from_item(values: dict[str, Any]) -> Hold:
    """A ``HOLD`` item (its attribute values) as a hold; the record's name is the service's to add."""
    return Hold(
        hold_id=str(values["sk"]),
        entry_id=str(values.get("entry_id", "")),
        rules=tuple(values.get("rules", [])),
        at=parse_iso(values["at"]) if values.get("at") else None,
        mode=str(values.get("mode", "")),
        status=HoldStatus(values.get("status", HoldStatus.HELD.value)),
        survivor=values.get("survivor"),
        confirmed_by=values.get("confirmed_by"),
        confirmed_at=parse_iso(values["confirmed_at"]) if values.get("confirmed_at") else None,
        applied_by=values.get("applied_by"),
    )


def hold_put(table: str, ref: str, entry: AuditEntry, *, replaces: Hold | None) -> dict[str, Any]:
    """Put the ``HOLD`` item of ``ref`` made by ``entry`` (the engine's shape), if it is still as read."""
    values = {"entry_id": entry.entry_id, "rules": list(entry.rules), "at": iso(entry.at)}
    put: dict[str, Any] = {
        "TableName": table,
        "Item": to_item({"pk": HOLD_PK, "sk": ref, **values, "mode": entry.mode.value}),
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    if replaces is not None:
        # still the observe-mode hold read: neither applied in Zoho since (``apply``), whose tag would stay,
        # nor confirmed, which a hold by hand refuses
        put |= replaceable_hold(replaces.entry_id)
    return {"Put": put}


def held_state_write(
    table: str, ref: str, state: RecordState | None, action: OutboxAction, *, held_by: str
) -> dict[str, Any]:
    """The state of ``ref`` as a hold ``action`` leaves it: marked ``held_by`` and expecting the action's
    echo when the guard knows the record and the action will run; otherwise a check it is still as read
    (``state``; None: still unknown)."""
    if state is not None and action.execute:
        echo = dict(state.echo_expected) | {action.action_id: action.expected_state}
        return state_put(
            table, state.model_copy(update={"held_by": held_by, "echo_expected": echo}), state.rev
        )
    return revision_check(table, state_key(ref), state.rev if state is not None else None)


def state_put(table: str, state: RecordState, expected_rev: int) -> dict[str, Any]:
    """Replace a state read at ``expected_rev`` (the new one carries ``expected_rev + 1``)."""
    new = state.model_copy(update={"rev": expected_rev + 1})
    return {
        "Put": {
            "TableName": table,
            "Item": state_item(new),
            "ConditionExpression": "rev = :rev",
            "ExpressionAttributeValues": {":rev": to_value(expected_rev)},
        }
    }


class DynamoAdminRepository:
    """Holds, states and the admin transactions (the shadow repository does the breaker reset)."""

    def __init__(self, client: Any, *, shadow_table: str, audit_table: str, outbox_table: str) -> None:
        self._client = client
        self.shadow_table = shadow_table
        self.audit_table = audit_table
        self.outbox_table = outbox_table
        self.shadow = DynamoShadowRepository(
            client, shadow_table=shadow_table, audit_table=audit_table, outbox_table=outbox_table
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoAdminRepository:
        return cls(
            aws.client("dynamodb", settings),
            shadow_table=settings.shadow_table,
            audit_table=settings.audit_table,
            outbox_table=settings.outbox_table,
        )

    # ------------------------------------------------------------------------------------ reads
    def holds(self) -> list[Hold]:
        """Every ``HOLD`` item, as the ``HOLD`` partition's query returns them."""
        return [hold_from_item(values) for _, values in self.shadow.holds()]

    def hold(self, ref: str) -> Hold | None:
        """The ``HOLD`` item of ``ref`` (strongly consistent); None when the record is not listed as held."""
        item = self._client.get_item(TableName=self.shadow_table, Key=hold_key(ref), ConsistentRead=True)
        return hold_from_item(from_item(item["Item"])) if "Item" in item else None

    def state(self, ref: str) -> RecordState | None:
        """The record's shadow state (strongly consistent); None when the guard has never seen it."""
        return self.shadow.get_state(ref)

    def states(self, refs: Iterable[str]) -> dict[str, RecordState]:
        """The states of ``refs`` the shadow has, by ref: one ``BatchGetItem`` per hundred records."""
        keys = [state_key(ref) for ref in dict.fromkeys(refs)]
        if not keys:
            return {}
        found = batch_get(self._client, {self.shadow_table: keys})[self.shadow_table]
        return {state.ref: state for state in map(state_from_item, found)}

    def key(self, key: str) -> KeyItem:
        """A key item as the engine reads it (``link_key``: the customers Zoho links to a CRM record)."""
        return self.shadow.get_key(key)

    # ------------------------------------------------------------------------------------ writes
    def release(
        self,
        hold: Hold,
        state: RecordState | None,
        entry: AuditEntry,
        actions: Sequence[OutboxAction],
        *,
        cleared: frozenset[str] = frozenset(),
        listed: bool = True,
    ) -> None:
        """Remove the hold, clear ``held_by`` on the state (and remember the records it was judged distinct
        from, ``cleared``), queue the undo actions; one transaction.

        ``held_by`` is cleared only when it names this hold (or none): a hold the guard committed after this
        ``HOLD`` item was written, in a transaction split on a development server, marks the state before
        its own item replaces this one. Its actions are not this release's to cancel, so its mark stays and
        its item, written next, lists it (``DynamoShadowRepository._write_hold``).

        A listed hold is removed on condition that it is still the one read, applied by the same entry
        (``apply``): an apply landing after the read queued a hold action this release does not undo, and
        with no state to check (a record the guard does not know), nothing else would notice.

        A hold not ``listed`` (its state's mark has no ``HOLD`` item) is released on condition that it
        still has none: its late item, should it land first, makes this a ``ConcurrentUpdate``; and once
        the mark is off, that item is no longer written."""
        operations: list[dict[str, Any]] = []
        item: dict[str, Any] = {"TableName": self.shadow_table, "Key": hold_key(hold.hold_id)}
        if listed:
            item["ExpressionAttributeValues"] = {":entry": to_value(hold.entry_id)}
            if hold.applied_by:
                item["ConditionExpression"] = "entry_id = :entry AND applied_by = :applied"
                item["ExpressionAttributeValues"][":applied"] = to_value(hold.applied_by)
            else:
                item["ConditionExpression"] = "entry_id = :entry AND attribute_not_exists(applied_by)"
            operations.append({"Delete": item})
        else:
            operations.append({"ConditionCheck": item | {"ConditionExpression": "attribute_not_exists(pk)"}})
        if state is not None:
            echo = dict(state.echo_expected)
            echo.update({a.action_id: a.expected_state for a in actions if a.execute and a.expected_state})
            held_by = state.held_by if state.held_by not in (None, hold.entry_id) else None
            released = state.model_copy(
                update={"held_by": held_by, "echo_expected": echo, "cleared": state.cleared | cleared}
            )
            operations.append(state_put(self.shadow_table, released, state.rev))
        operations += [outbox_put(self.outbox_table, action) for action in actions]
        self.shadow.commit_audited(entry, operations)

    def put_hold(
        self,
        entry: AuditEntry,
        action: OutboxAction,
        *,
        replaces: Hold | None,
        state: RecordState | None,
    ) -> None:
        """Hold ``action.target`` as the engine does; one transaction with ``entry``.

        The ``HOLD`` item (replacing ``replaces``, or none), the hold action in the outbox and, when the
        guard knows the record and the action will run, ``held_by`` and the expected echo on its state.
        The record's state must still be as read (``state``; None: still unknown), written or not: on a
        server that splits the guard's transactions, a hold the guard committed marks the state before its
        ``HOLD`` item is written, and this hold must not land in between (``ConcurrentUpdate``).
        """
        operations: list[dict[str, Any]] = []
        operations.append(hold_put(self.shadow_table, action.target, entry, replaces=replaces))
        operations.append(
            held_state_write(self.shadow_table, action.target, state, action, held_by=entry.entry_id)
        )
        operations.append(outbox_put(self.outbox_table, action))
        self.shadow.commit_audited(entry, operations)

    def apply(self, hold: Hold, state: RecordState | None, entry: AuditEntry, action: OutboxAction) -> None:
        """Write an observe-mode hold to Zoho: one transaction with ``entry``.

        The ``HOLD`` item keeps its deciding entry, rules, status and survivor; it becomes an ``enforce``
        hold (which the guard's own decisions no longer replace) and records the apply's entry
        (``applied_by``), where ``release`` finds the action to undo. The record's state is marked held by
        the deciding entry, as the engine marks a hold it carries out, and expects the action's echo. The
        item must still be this observe-mode hold, and the state as read (else ``ConcurrentUpdate``)."""
        operations: list[dict[str, Any]] = []
        operations.append(
            {
                "Update": {
                    "TableName": self.shadow_table,
                    "Key": hold_key(hold.hold_id),
                    "UpdateExpression": "SET #mode = :applied, applied_by = :entry, applied_at = :at",
                    "ConditionExpression": (
                        "entry_id = :held_by AND (attribute_not_exists(#mode) OR #mode <> :applied)"
                    ),
                    "ExpressionAttributeNames": {"#mode": "mode"},
                    "ExpressionAttributeValues": {
                        ":applied": to_value(Mode.ENFORCE.value),
                        ":entry": to_value(entry.entry_id),
                        ":at": to_value(iso(entry.at)),
                        ":held_by": to_value(hold.entry_id),
                    },
                }
            }
        )
        operations.append(
            held_state_write(self.shadow_table, hold.hold_id, state, action, held_by=hold.entry_id)
        )
        operations.append(outbox_put(self.outbox_table, action))
        self.shadow.commit_audited(entry, operations)

    def confirm(self, hold: Hold, survivor: str, entry: AuditEntry) -> None:
        """Mark the hold confirmed with its survivor (it stays held); condition: still held, not confirmed."""
        operations: list[dict[str, Any]] = []
        operations.append(
            {
                "Update": {
                    "TableName": self.shadow_table,
                    "Key": hold_key(hold.hold_id),
                    "UpdateExpression": (
                        "SET #status = :confirmed, survivor = :survivor, confirmed_by = :actor, "
                        "confirmed_at = :at, confirm_entry = :entry"
                    ),
                    "ConditionExpression": (
                        "entry_id = :held_by AND (attribute_not_exists(#status) OR #status = :held)"
                    ),
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":confirmed": to_value(HoldStatus.CONFIRMED.value),
                        ":held": to_value(HoldStatus.HELD.value),
                        ":survivor": to_value(survivor),
                        ":actor": to_value(entry.actor),
                        ":at": to_value(iso(entry.at)),
                        ":entry": to_value(entry.entry_id),
                        ":held_by": to_value(hold.entry_id),
                    },
                }
            }
        )
        self.shadow.commit_audited(entry, operations)

    def write_states(self, entry: AuditEntry, changes: Sequence[tuple[RecordState, int]]) -> None:
        """Append ``entry`` and replace each state read at the given revision; one transaction."""
        self.shadow.commit_audited(
            entry, [state_put(self.shadow_table, state, rev) for state, rev in changes]
        )

    def reset_breaker(self, entry: AuditEntry) -> None:
        self.shadow.reset_breaker(entry)
