"""Webhook ingestion: authentication, body decoding, validation and the storage-first service."""

from sync_guard.ingest.ports import (
    EventNotStored,
    EventQueue,
    EventStatus,
    EventStore,
    PutOutcome,
    StoredEvent,
)
from sync_guard.ingest.request import Route, WebhookRequest
from sync_guard.ingest.service import IngestResult, IngestService, requeue_unqueued

__all__ = [
    "EventNotStored",
    "EventQueue",
    "EventStatus",
    "EventStore",
    "IngestResult",
    "IngestService",
    "PutOutcome",
    "Route",
    "StoredEvent",
    "WebhookRequest",
    "requeue_unqueued",
]
