"""In-memory stand-ins for the executor's ports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sync_guard.config import Mode
from sync_guard.executor.model import ActionStatus, Claim, NoticeClaim, Refusal
from sync_guard.guard.model import (
    ActionKind,
    AuditEntry,
    Decision,
    EntryKind,
    Finding,
    OutboxAction,
    RecordState,
    Severity,
    action_id_for,
)
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.zoho.convert import parse_zoho_time

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@dataclass
class Item:
    action: OutboxAction
    status: ActionStatus = ActionStatus.PENDING
    attempts: int = 0
    token: str | None = None
    outcome: str = ""


@dataclass
class FakeStore:
    items: dict[str, Item] = field(default_factory=dict)
    entries: list[AuditEntry] = field(default_factory=list)

    def add(self, action: OutboxAction, status: ActionStatus = ActionStatus.PENDING) -> None:
        self.items[action.action_id] = Item(action, status)

    def claim(self, action_id: str, *, now: datetime, lease_seconds: int) -> Claim | Refusal:
        item = self.items.get(action_id)
        if item is None or not item.status.claimable:
            return Refusal(action_id, item.status if item else None)
        item.status = ActionStatus.RUNNING
        item.attempts += 1
        item.token = f"t{item.attempts}"
        return Claim(item.action, item.attempts, item.token)

    def finish(
        self, claim: Claim, status: ActionStatus, *, detail: str, entry: AuditEntry, now: datetime
    ) -> bool:
        item = self.items[claim.action_id]
        if item.status is not ActionStatus.RUNNING or item.token != claim.token:
            return False
        item.status, item.outcome, item.token = status, detail, None
        self.entries.append(entry)
        return True

    def retry_later(self, claim: Claim, *, error: str, detail: str, now: datetime) -> bool:
        item = self.items[claim.action_id]
        item.status, item.outcome, item.token = ActionStatus.RETRYING, detail, None
        return True

    def due(self, *, queued_before: datetime, stale_before: datetime, now: datetime, limit: int) -> list[str]:
        return [i for i, item in self.items.items() if item.status is ActionStatus.PENDING][:limit]

    def status(self, action_id: str) -> ActionStatus | None:
        item = self.items.get(action_id)
        return item.status if item else None

    def cancel(self, action_id: str, *, reason: str, now: datetime) -> ActionStatus | None:
        item = self.items[action_id]
        before = item.status
        if before.claimable:
            item.status = ActionStatus.CANCELLED
        return before


@dataclass
class FakeContext:
    entries: dict[str, AuditEntry] = field(default_factory=dict)
    state_by_ref: dict[str, RecordState] = field(default_factory=dict)
    #: The holds written to Zoho that list a record: ref -> the hold's entry.
    holds: dict[str, str] = field(default_factory=dict)

    def entry(self, entry_id: str) -> AuditEntry | None:
        return self.entries.get(entry_id)

    def states(self, refs: Sequence[str]) -> Mapping[str, RecordState]:
        return {r: self.state_by_ref[r] for r in refs if r in self.state_by_ref}

    def hold_of(self, ref: str) -> str | None:
        return self.holds.get(ref)


@dataclass
class FakeSent:
    keys: set[str] = field(default_factory=set)

    sending: dict[str, str] = field(default_factory=dict)  # key -> token of the claim sending it

    def claim(self, keys: Iterable[str], *, now: datetime, lease_seconds: int) -> NoticeClaim:
        token = f"n{len(self.sending) + len(self.keys)}"
        taken = {k for k in keys if k not in self.keys and k not in self.sending}
        self.sending.update(dict.fromkeys(taken, token))
        return NoticeClaim(frozenset(taken), token)

    def remember(self, keys: Iterable[str], *, now: datetime) -> None:
        self.keys |= set(keys)
        for key in keys:
            self.sending.pop(key, None)

    def release(self, claim: NoticeClaim, keys: Iterable[str]) -> None:
        for key in set(keys) & claim.keys:
            if self.sending.get(key) == claim.token:
                del self.sending[key]


@dataclass
class FakeCrm:
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    #: What a read of a record answers (by id; a record not here does not exist). Reads are not calls.
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)
    #: What CRM's listing newest modified first asks for: (since, fields) per call.
    listings: list[tuple[datetime, tuple[str, ...]]] = field(default_factory=list)

    def _call(self, name: str, record_id: str, value: Any) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.calls.append((name, record_id, value))

    def get_record_data(self, module: Module | str, record_id: str) -> dict[str, Any] | None:
        if self.errors:
            raise self.errors.pop(0)
        self.reads.append(record_id)
        return self.records.get(record_id)

    def iter_recently_modified(
        self, module: Module | str, *, since: datetime, fields: Sequence[str]
    ) -> Iterator[dict[str, Any]]:
        """The records (``records``) modified at or after ``since``, newest first, as CRM lists them."""
        if self.errors:
            raise self.errors.pop(0)
        self.listings.append((since, tuple(fields)))
        listed = [r for r in self.records.values() if _modified(r) >= since]
        yield from sorted(listed, key=_modified, reverse=True)

    def add_tags(self, module: Module | str, record_id: str, tags: Sequence[str]) -> None:
        self._call("add_tags", record_id, (str(module), tuple(tags)))

    def remove_tags(self, module: Module | str, record_id: str, tags: Sequence[str]) -> None:
        self._call("remove_tags", record_id, (str(module), tuple(tags)))

    def update_record(
        self,
        module: Module | str,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        trigger: Sequence[str] | None = None,
    ) -> None:
        self._call("update_record", record_id, (dict(fields), trigger))


@dataclass
class FakeBooks:
    calls: list[tuple[str, str]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    #: Customers as Books returns them now (a customer not here reads as deleted).
    customers: dict[str, PartyRecord] = field(default_factory=dict)

    def get_contact(self, contact_id: str) -> PartyRecord | None:
        return self.customers.get(contact_id)

    def mark_inactive(self, contact_id: str) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.calls.append(("mark_inactive", contact_id))

    def mark_active(self, contact_id: str) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.calls.append(("mark_active", contact_id))


@dataclass
class FakeZoho:
    crm: FakeCrm = field(default_factory=FakeCrm)
    books: FakeBooks = field(default_factory=FakeBooks)
    deadline: float | None = None

    def finish_calls_by(self, deadline: float | None) -> None:
        self.deadline = deadline


def action(
    kind: ActionKind, target: str, *, event: str = "evt_1", mode: Mode = Mode.ENFORCE, **params: Any
) -> OutboxAction:
    return OutboxAction(
        action_id=action_id_for(event, kind, target),
        kind=kind,
        target=target,
        event_id=event,
        entry_id=event,
        rules=("NAME_DRIFT",),
        decision=Decision.QUARANTINE,
        mode=mode,
        execute=not (mode is Mode.OBSERVE and kind.writes_to_zoho),
        params=params,
        queued_at=T0,
    )


def decision_entry(
    event: str, subject: str, related: str, actions: tuple[OutboxAction, ...], code: str = "NAME_DRIFT"
) -> AuditEntry:
    finding = Finding(
        code=code,
        severity=Severity.HIGH,
        explanation="same company, name spelt differently",
        evidence=("names differ: 'Acme Limited' vs 'Acme Ltd'",),
        subject=subject,
        related=(related,),
    )
    return AuditEntry(
        entry_id=event,
        at=T0,
        kind=EntryKind.DECISION,
        decision=Decision.QUARANTINE,
        mode=Mode.ENFORCE,
        event_id=event,
        records=(subject, related),
        rules=(code,),
        findings=(finding,),
        actions=actions,
        names={subject: "Acme Limited", related: "Acme Ltd"},
    )


def books_state(record_id: str, name: str, **fields: Any) -> RecordState:
    record = PartyRecord(
        system=System.BOOKS, module=Module.BOOKS_CUSTOMERS, record_id=record_id, name=name, **fields
    )
    return RecordState(record=record, version=1)


def _modified(record: Mapping[str, Any]) -> datetime:
    moment = parse_zoho_time(record.get("Modified_Time"))
    assert moment is not None, "a listed record has its Modified_Time"
    return moment
