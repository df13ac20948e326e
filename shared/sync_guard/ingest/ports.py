"""The small interfaces ingestion and processing talk to; ``sync_guard.store`` implements them on AWS.

Kept free of boto3 so that the domain logic, its tests and the benchmarks' baselines can use fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Protocol

from sync_guard.errors import UpstreamError
from sync_guard.models.events import GuardEvent


class EventStatus(StrEnum):
    """Where a stored event is in its life.

    ``received`` means stored but not (known to be) queued: the state a failed enqueue leaves behind, and
    the one a re-delivery or a sweep re-queues (``requeue-awaiting`` claims an event by moving it back
    here, so that a run that dies before sending it leaves it to the sweep). ``queued`` is set after the
    queue accepted the message. The processor ends it in ``processed`` or ``awaiting_enrichment``
    (Notification API ids).
    """

    RECEIVED = "received"
    QUEUED = "queued"
    PROCESSED = "processed"
    AWAITING_ENRICHMENT = "awaiting_enrichment"

    @property
    def is_final(self) -> bool:
        """The processor has handled it: a redelivered message has nothing left to do."""
        return self in {EventStatus.PROCESSED, EventStatus.AWAITING_ENRICHMENT}


@dataclass(frozen=True)
class StoredEvent:
    """What the events table keeps for one accepted event: the raw request beside the parsed event."""

    event: GuardEvent
    raw_body: bytes
    content_type: str
    route: str
    received_at: datetime
    expires_at: datetime
    status: EventStatus = EventStatus.RECEIVED


@dataclass(frozen=True)
class PutOutcome:
    """The result of the conditional put: a new event, or a repeat with the status it already has."""

    created: bool
    existing_status: EventStatus | None = None

    @property
    def needs_enqueue(self) -> bool:
        """New events are queued; so are repeats of events whose first enqueue never succeeded."""
        return self.created or self.existing_status is EventStatus.RECEIVED


class EventStore(Protocol):
    """Durable storage of accepted events, keyed by the content-derived event id."""

    def put_new(self, stored: StoredEvent) -> PutOutcome:
        """Store the event unless its id exists (``attribute_not_exists``); report which happened."""
        ...

    def mark_queued(self, event_id: str, at: datetime) -> None:
        """Record that the queue accepted the event (only moves ``received`` forward)."""
        ...

    def put_new_many(self, stored: Sequence[StoredEvent]) -> list[PutOutcome]:
        """``put_new`` of each event (in batches where the store can), outcomes in the same order."""
        ...

    def mark_queued_many(self, event_ids: Sequence[str], at: datetime) -> None:
        """``mark_queued`` of each event (in batches where the store can)."""
        ...

    def mark_enqueue_failed(self, event_id: str, at: datetime, reason: str) -> None:
        """Leave the event ``received`` and note why queueing failed, for the sweep and for people."""
        ...

    def undated_identity(self, record_ref: str, content_id: str, *, new_id: str, expires_at: datetime) -> str:
        """The id of an event whose body carries no modification time (``ingest.service.identified``).

        The id of the record's last such event when that one had the same content (``content_id``): a
        redelivery. Otherwise ``new_id`` (``content_id`` itself for the record's first), noted as the
        record's last until ``expires_at``: an edit back to earlier values is a new event.
        """
        ...


class EventQueue(Protocol):
    """The processing queue."""

    def send(self, event: GuardEvent) -> None:
        """Queue one event for processing; raises on failure."""
        ...

    def send_many(self, events: Sequence[GuardEvent]) -> Mapping[str, str]:
        """Queue events in batches; returns those not taken (event id -> why), raising only if nothing was."""
        ...


class EventNotStored(UpstreamError):
    """The events table did not take the event: the only reason ingestion answers 5xx."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "event_not_stored"
