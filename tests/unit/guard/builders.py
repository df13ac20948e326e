"""Builders for records, states and events used by the guard's unit and integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sync_guard.config import Mode
from sync_guard.guard.model import AuditEntry, Decision, EntryKind, RecordState
from sync_guard.models.events import Channel, GuardEvent, Operation, event_key
from sync_guard.models.records import Module, PartyRecord, RecordKind, System

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def crm_account(record_id: str, name: str, *, minutes: float = 0, **fields: Any) -> PartyRecord:
    return PartyRecord(
        system=System.CRM,
        module=Module.CRM_ACCOUNTS,
        record_id=record_id,
        name=name,
        created_at=fields.pop("created_at", at(minutes)),
        modified_at=fields.pop("modified_at", at(minutes)),
        **fields,
    )


def crm_contact(
    record_id: str,
    first: str,
    last: str,
    email: str | None,
    *,
    minutes: float = 0,
    account: str | None = None,
) -> PartyRecord:
    return PartyRecord(
        system=System.CRM,
        module=Module.CRM_CONTACTS,
        record_id=record_id,
        name=f"{first} {last}",
        kind=RecordKind.PERSON,
        first_name=first,
        last_name=last,
        email=email,
        account_id=account,
        created_at=at(minutes),
        modified_at=at(minutes),
    )


def books_customer(
    record_id: str, name: str, *, linked: str | None = None, minutes: float = 0, **fields: Any
) -> PartyRecord:
    return PartyRecord(
        system=System.BOOKS,
        module=Module.BOOKS_CUSTOMERS,
        record_id=record_id,
        name=name,
        linked_crm_id=linked,
        created_at=fields.pop("created_at", at(minutes)),
        modified_at=fields.pop("modified_at", at(minutes)),
        **fields,
    )


def state(record: PartyRecord, *, keys: frozenset[str] = frozenset(), **fields: Any) -> RecordState:
    version = int((record.modified_at or T0).timestamp() * 1000)
    return RecordState(record=record, version=fields.pop("version", version), keys=keys, **fields)


def event_for(
    record: PartyRecord,
    operation: Operation = Operation.CREATE,
    *,
    received: datetime | None = None,
    with_record: bool = True,
) -> GuardEvent:
    """A GuardEvent carrying ``record`` as a webhook would (deletes and notifications carry none)."""
    channel = Channel.BOOKS_WORKFLOW if record.system is System.BOOKS else Channel.CRM_WORKFLOW
    modified = record.modified_at
    return GuardEvent(
        event_id=event_key(record.system, record.module, operation, record.record_id, modified, record.name),
        source=record.system,
        channel=channel,
        module=record.module,
        operation=operation,
        record_id=record.record_id,
        record=record if (with_record and operation is not Operation.DELETE) else None,
        modified_at=modified,
        received_at=received or modified or T0,
    )


def audit_entry(kind: EntryKind, decision: Decision, operation: str | None, *records: str) -> AuditEntry:
    """An audit entry of ``kind`` about ``records``, as the audit table shows one (nothing else in it)."""
    return AuditEntry(
        entry_id="e1",
        at=T0,
        kind=kind,
        decision=decision,
        mode=Mode.ENFORCE,
        operation=operation,
        records=records,
    )
