"""The processing queue on SQS."""

from __future__ import annotations

from typing import Any

from sync_guard.config import Settings
from sync_guard.ingest.messages import encode_message
from sync_guard.models.events import GuardEvent
from sync_guard.store.aws import client


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
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=encode_message(event),
            MessageAttributes={
                "source": {"DataType": "String", "StringValue": event.source.value},
                "operation": {"DataType": "String", "StringValue": event.operation.value},
            },
        )
