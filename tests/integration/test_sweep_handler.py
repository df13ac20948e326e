"""The scheduled sweep handler: an event stored but never queued (Zoho got its 202) is processed after all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sync_guard.config import get_settings
from sync_guard.ingest.ports import EventStatus, StoredEvent
from sync_guard.models.events import Channel, GuardEvent, Operation
from sync_guard.models.records import Module, System
from sync_guard.store.events import DynamoEventStore
from tests.support.aws import AwsResources
from tests.support.handlers import fresh_module
from tests.support.outbox import create_outbox_queues


def stored_event(event_id: str, received_at: datetime) -> StoredEvent:
    event = GuardEvent(
        event_id=event_id,
        source=System.BOOKS,
        channel=Channel.BOOKS_WORKFLOW,
        module=Module.BOOKS_CUSTOMERS,
        operation=Operation.UPDATE,
        record_id="460000000099001",
        received_at=received_at,
    )
    return StoredEvent(
        event, b"{}", "application/json", "/webhooks/books", received_at, received_at + timedelta(days=30)
    )


def test_sweep_queues_events_whose_enqueue_failed(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> None:
    # given an event stored an hour ago whose enqueue failed, and one stored a moment ago
    create_outbox_queues(aws, monkeypatch)
    store = DynamoEventStore.from_settings(get_settings())
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    store.put_new(stored_event("evt_stuck", an_hour_ago))
    store.mark_enqueue_failed("evt_stuck", an_hour_ago, "TimeoutError")
    store.put_new(stored_event("evt_fresh", datetime.now(UTC)))
    sweep = fresh_module("functions.outbox.sweep")

    # when the schedule fires
    result = sweep.lambda_handler({"detail-type": "Scheduled Event", "source": "aws.events"}, _Context())

    # then the stuck event is on the processing queue and marked queued; the fresh one is left to its ingest
    assert result["unqueued_events_requeued"] == 1
    assert store.status_of("evt_stuck") is EventStatus.QUEUED
    assert store.status_of("evt_fresh") is EventStatus.RECEIVED
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["event_id"] for m in messages] == ["evt_stuck"]


class _Context:
    function_name = "SweepFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-2:000000000000:function:SweepFunction"
    aws_request_id = "test"
