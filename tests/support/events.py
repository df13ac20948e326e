"""In-memory stand-ins for the events table and the processing queue (ingest and scheduled-check tests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sync_guard.ingest import EventStatus, PutOutcome, StoredEvent
from sync_guard.models.events import GuardEvent


@dataclass
class MemoryStore:
    items: dict[str, StoredEvent] = field(default_factory=dict)
    statuses: dict[str, EventStatus] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    #: record ref -> (content id, event id) of its last undated event
    undated: dict[str, tuple[str, str]] = field(default_factory=dict)
    fail_puts: bool = False

    def put_new(self, stored: StoredEvent) -> PutOutcome:
        if self.fail_puts:
            raise ConnectionError("table unreachable")
        event_id = stored.event.event_id
        if event_id in self.items:
            return PutOutcome(created=False, existing_status=self.statuses[event_id])
        self.items[event_id] = stored
        self.statuses[event_id] = stored.status
        return PutOutcome(created=True)

    def mark_queued(self, event_id: str, at: datetime) -> None:
        if self.statuses[event_id] is EventStatus.RECEIVED:
            self.statuses[event_id] = EventStatus.QUEUED

    def mark_enqueue_failed(self, event_id: str, at: datetime, reason: str) -> None:
        self.errors[event_id] = reason

    def put_new_many(self, stored: Sequence[StoredEvent]) -> list[PutOutcome]:
        return [self.put_new(item) for item in stored]

    def undated_identity(self, record_ref: str, content_id: str, *, new_id: str, expires_at: datetime) -> str:
        last = self.undated.get(record_ref)
        if last is not None and last[0] == content_id:
            return last[1]
        event_id = new_id if last is not None else content_id
        self.undated[record_ref] = (content_id, event_id)
        return event_id

    def mark_queued_many(self, event_ids: Sequence[str], at: datetime) -> None:
        for event_id in event_ids:
            self.mark_queued(event_id, at)


@dataclass
class MemoryQueue:
    sent: list[GuardEvent] = field(default_factory=list)
    failing: bool = False

    def send(self, event: GuardEvent) -> None:
        if self.failing:
            raise TimeoutError("queue unreachable")
        self.sent.append(event)

    def send_many(self, events: Sequence[GuardEvent]) -> dict[str, str]:
        if self.failing:
            raise TimeoutError("queue unreachable")
        self.sent.extend(events)
        return {}
