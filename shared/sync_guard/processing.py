"""The processor's domain entry point: one queued ``GuardEvent`` in, one ``ProcessingOutcome`` out.

In this issue the processor records that an event was received and parsed: ``processed``, or
``awaiting_enrichment`` for Notification API ids whose record must still be fetched. The decision engine
(shadow mapping, rules, audit) plugs in as the ``EventHandler`` of ``ProcessingDeps``: handing the processor
a different handler is the one-line change, nothing here moves.

Processing is idempotent per event id: SQS delivers at least once, and a message whose event is already
``processed`` (or ``awaiting_enrichment``) is acknowledged without running the handler again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sync_guard.ingest.ports import EventStatus
from sync_guard.models.events import GuardEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandlerResult:
    """What a handler did with an event: the status to record and a short, log-safe detail."""

    status: EventStatus
    detail: Mapping[str, str] = field(default_factory=dict)
    #: Outbox actions the handler committed for execution (the executor's queue is told about them).
    action_ids: tuple[str, ...] = ()


class ActionQueue(Protocol):
    """The outbox queue: tells the executor which committed actions to run (``sync_guard.executor``)."""

    def send(self, action_ids: Sequence[str]) -> None:
        """Queue the ids; raise on failure (the actions stay ``pending`` and the sweep re-queues them)."""
        ...


class EventHandler(Protocol):
    """Decides what an event means (the decision engine implements this)."""

    def __call__(self, event: GuardEvent) -> HandlerResult:
        """Handle one event; raise to have the message retried (and dead-lettered after five attempts)."""
        ...


class EventStatusStore(Protocol):
    """The events table as the processor sees it."""

    def status_of(self, event_id: str) -> EventStatus | None:
        """The stored event's status, None if it is not stored."""
        ...

    def mark_processed(self, event_id: str, status: EventStatus, at: datetime) -> None:
        """Record the final status and when it was reached."""
        ...


def record_receipt(event: GuardEvent) -> HandlerResult:
    """This issue's handler: nothing to decide yet, only note whether the record must still be fetched."""
    if event.needs_enrichment:
        return HandlerResult(EventStatus.AWAITING_ENRICHMENT, {"reason": "notification carries ids only"})
    return HandlerResult(EventStatus.PROCESSED)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ProcessingDeps:
    """Everything ``process_event`` needs, so tests and the local stack can hand it fakes or servers."""

    events: EventStatusStore
    handler: EventHandler = record_receipt
    clock: Callable[[], datetime] = _utc_now
    actions: ActionQueue | None = None


@dataclass(frozen=True)
class ProcessingOutcome:
    """The result for one event: its final status, and whether this delivery did the work."""

    event_id: str
    status: EventStatus
    already_done: bool = False
    detail: Mapping[str, str] = field(default_factory=dict)


def process_event(event: GuardEvent, deps: ProcessingDeps) -> ProcessingOutcome:
    """Handle one queued event once, and record its outcome on the stored event."""
    current = deps.events.status_of(event.event_id)
    if current is not None and current.is_final:
        return ProcessingOutcome(event.event_id, current, already_done=True)
    result = deps.handler(event)
    if result.action_ids and deps.actions is not None:
        try:
            deps.actions.send(result.action_ids)
        except Exception as error:  # the actions are committed as pending: the outbox sweep re-queues them
            logger.warning(
                "outbox enqueue failed; the sweep will re-queue the actions",
                extra={
                    "event_id": event.event_id,
                    "actions": len(result.action_ids),
                    "error": type(error).__name__,
                },
            )
    deps.events.mark_processed(event.event_id, result.status, deps.clock())
    return ProcessingOutcome(event.event_id, result.status, detail=result.detail)


#: What an event's first attempt is assumed to take at least (its reads and its commit, a Zoho fetch aside).
FIRST_ATTEMPT_FLOOR_SECONDS = 2.0
#: And at most, whatever was seen: past this an attempt is an outage rather than a slow start, and a reserve
#: near the processor's 60 s timeout (25 s of it already the longest Zoho call) would hand back every event
#: of a batch, its first included, until the container is replaced.
FIRST_ATTEMPT_CEILING_SECONDS = 10.0


class RemainingTime(Protocol):
    """The Lambda context, as far as the reserve reads it."""

    def get_remaining_time_in_millis(self) -> int: ...


class TimeReserve:
    """How much of an invocation must be left to start one more event.

    The parts known in advance (``fixed_seconds``: the commit's retry budget and, when the processor fetches
    from Zoho, the longest Zoho call) and the event's first attempt, which depends on the day: a cold
    DynamoDB connection or a slow table makes it longer than the 2 s assumed. So the longest first attempt
    this container has seen is reserved (kept in module state by the processor), no less than
    ``FIRST_ATTEMPT_FLOOR_SECONDS`` and no more than ``FIRST_ATTEMPT_CEILING_SECONDS``. An event decided in
    one attempt counts whole (its fetch included, so a slow Zoho raises it too); one that was re-decided
    does not, its retries being the budget's.
    """

    def __init__(self, fixed_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.fixed_seconds = fixed_seconds
        self.longest_first_attempt = FIRST_ATTEMPT_FLOOR_SECONDS
        self.clock = clock

    @property
    def seconds(self) -> float:
        return self.fixed_seconds + self.longest_first_attempt

    def allows(self, context: RemainingTime) -> bool:
        """Whether there is time left to start an event (and to finish it, retries included)."""
        return context.get_remaining_time_in_millis() >= self.seconds * 1000

    def took(self, started: float, outcome: ProcessingOutcome) -> None:
        """Learn from an event handled since ``started`` (a reading of ``clock``)."""
        if outcome.detail.get("attempts", "1") != "1":
            return
        seconds = min(self.clock() - started, FIRST_ATTEMPT_CEILING_SECONDS)
        self.longest_first_attempt = max(self.longest_first_attempt, seconds)
