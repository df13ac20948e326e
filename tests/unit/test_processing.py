"""process_event: the processor's domain seam, with a fake events table and handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from sync_guard.ingest.ports import EventStatus
from sync_guard.models.events import Channel, GuardEvent, Operation
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.processing import HandlerResult, ProcessingDeps, process_event, record_receipt

NOW = datetime(2026, 3, 1, 10, 1, tzinfo=UTC)


@dataclass
class FakeEvents:
    statuses: dict[str, EventStatus] = field(default_factory=dict)
    marked: list[tuple[str, EventStatus, datetime]] = field(default_factory=list)

    def status_of(self, event_id: str) -> EventStatus | None:
        return self.statuses.get(event_id)

    def mark_processed(self, event_id: str, status: EventStatus, at: datetime) -> None:
        self.statuses[event_id] = status
        self.marked.append((event_id, status, at))


def event(channel: Channel, operation: Operation, *, with_record: bool) -> GuardEvent:
    record = PartyRecord(system=System.CRM, module=Module.CRM_ACCOUNTS, record_id="1", name="Acme")
    return GuardEvent(
        event_id=f"evt_{channel.value}_{operation.value}",
        source=System.CRM,
        channel=channel,
        module=Module.CRM_ACCOUNTS,
        operation=operation,
        record_id="1",
        record=record if with_record else None,
        received_at=NOW,
    )


@pytest.mark.parametrize(
    ("guard_event", "expected"),
    [
        (event(Channel.CRM_WORKFLOW, Operation.CREATE, with_record=True), EventStatus.PROCESSED),
        (
            event(Channel.CRM_NOTIFICATION, Operation.UPDATE, with_record=False),
            EventStatus.AWAITING_ENRICHMENT,
        ),
        (event(Channel.CRM_NOTIFICATION, Operation.DELETE, with_record=False), EventStatus.PROCESSED),
    ],
)
def test_receipt_is_recorded_with_the_right_status(guard_event: GuardEvent, expected: EventStatus) -> None:
    events = FakeEvents({guard_event.event_id: EventStatus.QUEUED})
    outcome = process_event(guard_event, ProcessingDeps(events=events, clock=lambda: NOW))
    assert outcome.status is expected
    assert not outcome.already_done
    assert events.marked == [(guard_event.event_id, expected, NOW)]


def test_an_event_already_processed_is_not_handled_again() -> None:
    guard_event = event(Channel.CRM_WORKFLOW, Operation.UPDATE, with_record=True)
    events = FakeEvents({guard_event.event_id: EventStatus.PROCESSED})
    calls: list[GuardEvent] = []

    def handler(handled: GuardEvent) -> HandlerResult:
        calls.append(handled)
        return record_receipt(handled)

    outcome = process_event(guard_event, ProcessingDeps(events=events, handler=handler))
    assert outcome.already_done
    assert calls == []
    assert events.marked == []


def test_a_plugged_in_handler_decides_the_status_and_its_failure_propagates() -> None:
    guard_event = event(Channel.CRM_WORKFLOW, Operation.CREATE, with_record=True)
    events = FakeEvents({guard_event.event_id: EventStatus.RECEIVED})

    def decider(handled: GuardEvent) -> HandlerResult:
        return HandlerResult(EventStatus.PROCESSED, {"decision": "flag"})

    outcome = process_event(guard_event, ProcessingDeps(events=events, handler=decider, clock=lambda: NOW))
    assert outcome.detail == {"decision": "flag"}

    def broken(handled: GuardEvent) -> HandlerResult:
        raise RuntimeError("zoho down")

    again = event(Channel.CRM_WORKFLOW, Operation.UPDATE, with_record=True)
    with pytest.raises(RuntimeError):
        process_event(again, ProcessingDeps(events=events, handler=broken))
    assert again.event_id not in events.statuses  # not marked: the message is retried
