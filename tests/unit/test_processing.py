"""process_event: the processor's domain seam, with a fake events table and handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from sync_guard.ingest.ports import EventStatus
from sync_guard.models.events import Channel, GuardEvent, Operation
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.processing import (
    FIRST_ATTEMPT_CEILING_SECONDS,
    FIRST_ATTEMPT_FLOOR_SECONDS,
    HandlerResult,
    ProcessingDeps,
    ProcessingOutcome,
    TimeReserve,
    process_event,
    record_receipt,
)

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


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeContext:
    remaining_seconds: float

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_seconds * 1000)


def _handled(reserve: TimeReserve, clock: FakeClock, seconds: float, *, attempts: str | None = "1") -> None:
    """An event that took ``seconds`` (as the processor times it), decided in ``attempts``."""
    started = clock()
    clock.now += seconds
    detail = {"attempts": attempts} if attempts is not None else {}
    reserve.took(started, ProcessingOutcome("evt_1", EventStatus.PROCESSED, detail=detail))


def test_the_reserve_assumes_a_two_second_first_attempt_until_it_sees_a_longer_one() -> None:
    clock = FakeClock()
    reserve = TimeReserve(3.0, clock=clock)
    assert reserve.seconds == 3.0 + FIRST_ATTEMPT_FLOOR_SECONDS
    assert reserve.allows(FakeContext(5.0))

    # a quick event, and one with no decision (a repeat): still the floor
    _handled(reserve, clock, 0.3)
    _handled(reserve, clock, 0.1, attempts=None)
    assert reserve.seconds == 5.0

    # when an event decided in one attempt took 4.5 s (a cold table, a slow Zoho fetch)
    _handled(reserve, clock, 4.5)

    # then the next event needs 4.5 s more than the retry budget: 5.5 s left no longer start it
    assert reserve.seconds == 7.5
    assert not reserve.allows(FakeContext(5.5))
    assert reserve.allows(FakeContext(7.5))
    # and a quicker event later does not lower it (the container may be slow again)
    _handled(reserve, clock, 0.2)
    assert reserve.seconds == 7.5


def test_a_re_decided_event_does_not_count_and_no_attempt_counts_past_the_ceiling() -> None:
    clock = FakeClock()
    reserve = TimeReserve(30.0, clock=clock)

    # an event re-decided after lost races: its time is mostly the retry budget, already reserved
    _handled(reserve, clock, 6.0, attempts="3")
    assert reserve.seconds == 30.0 + FIRST_ATTEMPT_FLOOR_SECONDS

    # an attempt that hung for a minute (an outage) raises the reserve only to the ceiling, so a fresh
    # invocation of the 60 s processor still starts its first event
    _handled(reserve, clock, 61.0)
    assert reserve.seconds == 30.0 + FIRST_ATTEMPT_CEILING_SECONDS
    assert reserve.allows(FakeContext(59.0))
