"""Move messages from a dead-letter queue back to the queue they came from (``sync-guard replay-dlq``).

A message is sent to the source queue (same body, same attributes) and only then deleted from the DLQ, so a
failure in between leaves a duplicate, never a loss; both consumers are idempotent (the processor per event,
the executor per action claim). With ``dry_run`` the messages are only listed and made visible again.
``before_move`` is told each batch before it is sent (the command audits what is about to move there, so
that a failure after the move cannot leave it out of the audit trail).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_BATCH = 10


@dataclass(frozen=True)
class ReplayedMessage:
    message_id: str
    #: What the message is about: the event id or the action id from its body, else its first 80 chars.
    subject: str


def _subject(body: str) -> str:
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return body[:80]
    if isinstance(data, dict):
        for key in ("action_id", "event_id"):
            if isinstance(data.get(key), str):
                return f"{key}={data[key]}"
    return body[:80]


def _attributes(message: dict[str, Any]) -> dict[str, Any]:
    attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        kept = {"DataType": value["DataType"]}
        for key in ("StringValue", "BinaryValue"):
            if key in value:
                kept[key] = value[key]
        attributes[name] = kept
    return attributes


class ReplayIncomplete(RuntimeError):
    """SQS refused some messages: they stay in the dead-letter queue; ``moved`` went back to the queue."""

    def __init__(self, moved: list[ReplayedMessage], refused: int) -> None:
        super().__init__(f"SQS refused {refused} message(s); they stay in the dead-letter queue")
        self.moved = moved
        self.refused = refused


def replay_dlq(
    sqs: Any,
    *,
    dlq_url: str,
    queue_url: str,
    dry_run: bool = False,
    max_messages: int = 10_000,
    before_move: Callable[[list[ReplayedMessage]], None] | None = None,
) -> list[ReplayedMessage]:
    """Move (or with ``dry_run`` list) up to ``max_messages`` messages; returns what was moved.

    ``before_move`` gets each batch before it is sent; should it fail, the batch stays in the DLQ (visible
    again once the receive's visibility timeout ends) and its error propagates."""
    if not dlq_url or not queue_url:
        raise ValueError("both the dead-letter queue and its source queue must be configured")
    moved: list[ReplayedMessage] = []
    listed: list[dict[str, Any]] = []
    while len(moved) < max_messages:
        received = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(_BATCH, max_messages - len(moved)),
            WaitTimeSeconds=0,
            # Long enough to move the batch; a crash leaves the messages in the DLQ, visible again.
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            break
        batch = [ReplayedMessage(message["MessageId"], _subject(message["Body"])) for message in received]
        moved += batch
        if dry_run:
            listed += received
            continue
        if before_move is not None:
            before_move(batch)
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": m["Body"], "MessageAttributes": _attributes(m)}
                for i, m in enumerate(received)
            ],
        )
        sent = {int(entry["Id"]) for entry in response.get("Successful", [])}
        done = [m for i, m in enumerate(received) if i in sent]
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        if len(done) < len(received):
            failed = {m["MessageId"] for i, m in enumerate(received) if i not in sent}
            moved = [m for m in moved if m.message_id not in failed]
            raise ReplayIncomplete(moved, len(failed))
    for start in range(0, len(listed), _BATCH):
        # Dry run: make the listed messages visible again at once.
        sqs.change_message_visibility_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(listed[start : start + _BATCH])
            ],
        )
    return moved
