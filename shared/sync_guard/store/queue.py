"""The processing queue on SQS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sync_guard.config import Settings
from sync_guard.ingest.messages import encode_message
from sync_guard.models.events import GuardEvent
from sync_guard.store.aws import client

_SQS_BATCH = 10
_SQS_BATCH_BYTES = 200 * 1024  # of SQS's 256 KB per batch, leaving room for the attributes


class SqsEventQueue:
    """``EventQueue`` on the SQS queue the template creates (with its dead-letter queue)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    @classmethod
    def from_settings(cls, settings: Settings) -> SqsEventQueue:
        return cls(client("sqs", settings), settings.queue_url)

    def send(self, event: GuardEvent) -> None:
        """Send one event; botocore errors propagate (the ingest service decides what they mean)."""
        self._sqs.send_message(QueueUrl=self._queue_url, **_message(event))

    def send_many(self, events: Sequence[GuardEvent]) -> dict[str, str]:
        """Send events in batches (ten, and under SQS's 256 KB, to a call); returns those SQS did not take,
        with why. A batch refused as a whole counts each of its events as not taken; nothing is raised."""
        refused: dict[str, str] = {}
        for batch in _batches(events):
            entries = [{"Id": str(n), **_message(event)} for n, event in enumerate(batch)]
            try:
                answer = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except Exception as error:
                refused |= {event.event_id: type(error).__name__ for event in batch}
                continue
            for failed in answer.get("Failed") or []:
                refused[batch[int(failed["Id"])].event_id] = str(failed.get("Code") or "refused")[:100]
        return refused


def _batches(events: Sequence[GuardEvent]) -> list[list[GuardEvent]]:
    batches: list[list[GuardEvent]] = []
    size = 0
    for event in events:
        length = len(encode_message(event))
        if not batches or len(batches[-1]) == _SQS_BATCH or size + length > _SQS_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += length
    return batches


def _message(event: GuardEvent) -> dict[str, Any]:
    return {
        "MessageBody": encode_message(event),
        "MessageAttributes": {
            "source": {"DataType": "String", "StringValue": event.source.value},
            "operation": {"DataType": "String", "StringValue": event.operation.value},
        },
    }
