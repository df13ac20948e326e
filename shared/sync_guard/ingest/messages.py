"""The processing queue's message format, shared by the ingest side (writer) and the processor (reader).

A message carries the parsed event so the processor needs no read for it; an event too large for an SQS
message travels as its id alone and the processor loads it from the events table (the source of truth).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from sync_guard.models.events import GuardEvent

# SQS takes up to 256 KiB per message (attributes included); stay well below it.
MAX_INLINE_EVENT_BYTES = 200 * 1024


class QueueMessage(BaseModel):
    """``{"event_id": "...", "event": {...}}``; ``event`` is absent when it was too large to inline."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    event: GuardEvent | None = None


_SQS_REFUSED = {0xFFFE: "\\ufffe", 0xFFFF: "\\uffff"}


def encode_message(event: GuardEvent) -> str:
    """The message body for ``event``."""
    # SQS refuses the two non-characters U+FFFE and U+FFFF in a message; JSON may escape them instead.
    event_json = event.model_dump_json().translate(_SQS_REFUSED)
    if len(event_json.encode()) <= MAX_INLINE_EVENT_BYTES:
        return f'{{"event_id":{json.dumps(event.event_id)},"event":{event_json}}}'
    return json.dumps({"event_id": event.event_id})


def decode_message(body: str | bytes | dict[str, Any]) -> QueueMessage:
    """Parse a message body; raises pydantic's ``ValidationError`` for a malformed one."""
    if isinstance(body, dict):
        return QueueMessage.model_validate(body)
    return QueueMessage.model_validate_json(body)
