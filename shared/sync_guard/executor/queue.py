"""The outbox queue on SQS: one message per action id, ``{"action_id": "act_..."}``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from sync_guard.config import Settings
from sync_guard.errors import UpstreamError
from sync_guard.store import aws

_SQS_BATCH = 10


class OutboxMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    action_id: str


def encode_action(action_id: str) -> str:
    return json.dumps({"action_id": action_id})


def decode_action(body: str) -> OutboxMessage:
    """Parse a message body; pydantic's ``ValidationError`` for a malformed one."""
    return OutboxMessage.model_validate_json(body)


class OutboxQueueError(UpstreamError):
    """SQS did not take every message; the actions stay pending and the sweep re-queues them."""

    code = "outbox_queue_error"


class SqsActionQueue:
    """``ActionQueue`` on the template's ``OutboxQueue``."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        if not queue_url:
            raise ValueError("no outbox queue configured (SYNC_GUARD_OUTBOX_QUEUE_URL)")
        self._sqs = sqs
        self.queue_url = queue_url

    @classmethod
    def from_settings(cls, settings: Settings) -> SqsActionQueue:
        return cls(aws.client("sqs", settings), settings.outbox_queue_url)

    def send(self, action_ids: Sequence[str]) -> None:
        """Send every id (batches of ten); raises ``OutboxQueueError`` naming how many were refused."""
        ids = list(dict.fromkeys(action_ids))
        refused = 0
        for start in range(0, len(ids), _SQS_BATCH):
            chunk = ids[start : start + _SQS_BATCH]
            response = self._sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "MessageBody": encode_action(a)} for i, a in enumerate(chunk)],
            )
            refused += len(response.get("Failed", []))
        if refused:
            raise OutboxQueueError(f"{refused} of {len(ids)} outbox messages were refused by SQS")


def enqueue_actions(action_ids: Sequence[str], settings: Settings) -> None:
    """Tell the executor about committed actions (the processor calls this through ``ProcessingDeps``)."""
    SqsActionQueue.from_settings(settings).send(action_ids)


def outbox_queue(settings: Settings) -> SqsActionQueue | None:
    """The outbox queue when one is configured, else None (the sweep then is the only way actions run)."""
    return SqsActionQueue.from_settings(settings) if settings.outbox_queue_url else None
