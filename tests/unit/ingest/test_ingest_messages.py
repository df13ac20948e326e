"""The processing queue's message body: what SQS accepts, read back to the same event."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_guard.ingest.messages import decode_message, encode_message
from sync_guard.zoho.payloads import parse_books_webhook


def test_characters_sqs_refuses_are_escaped_and_read_back_unchanged() -> None:
    name = "Acme \ufffe Ltd \uffff"
    event = parse_books_webhook(
        {"contact_id": "4600001", "contact_name": name}, received_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    body = encode_message(event)
    # SQS accepts #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF only
    assert not {"\ufffe", "\uffff"} & set(body)
    message = decode_message(body)
    assert message.event is not None
    assert message.event.record is not None
    assert message.event.record.name == name
