"""DynamoEventStore on moto: conditional put, statuses, compression of large events, the sweep."""

from __future__ import annotations

import dataclasses
import json
import os
import zlib
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from sync_guard.config import get_settings
from sync_guard.errors import PayloadTooLarge
from sync_guard.ingest import requeue_unqueued
from sync_guard.ingest.ports import EventNotStored, EventStatus, StoredEvent
from sync_guard.models.events import Channel, GuardEvent, Operation
from sync_guard.models.records import Module, System
from sync_guard.store.aws import client
from sync_guard.store.events import DynamoEventStore, EventRecordMissing
from sync_guard.store.queue import SqsEventQueue
from tests.support.aws import AwsResources

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def stored(event_id: str, *, raw: bytes = b"{}", fields: dict[str, str] | None = None) -> StoredEvent:
    event = GuardEvent(
        event_id=event_id,
        source=System.BOOKS,
        channel=Channel.BOOKS_WORKFLOW,
        module=Module.BOOKS_CUSTOMERS,
        operation=Operation.UPDATE,
        record_id="460000000026049",
        fields=fields or {},
        received_at=NOW,
    )
    return StoredEvent(event, raw, "application/json", "/webhooks/books", NOW, NOW + timedelta(days=30))


@pytest.fixture
def store(aws: AwsResources) -> DynamoEventStore:
    return DynamoEventStore.from_settings(get_settings())


def test_put_is_conditional_and_reports_the_existing_status(store: DynamoEventStore) -> None:
    assert store.put_new(stored("evt_a")).created
    repeat = store.put_new(stored("evt_a"))
    assert not repeat.created
    assert repeat.existing_status is EventStatus.RECEIVED
    assert repeat.needs_enqueue
    store.mark_queued("evt_a", NOW)
    after_queue = store.put_new(stored("evt_a"))
    assert after_queue.existing_status is EventStatus.QUEUED
    assert not after_queue.needs_enqueue


def test_mark_queued_never_moves_a_processed_event_back(store: DynamoEventStore) -> None:
    store.put_new(stored("evt_b"))
    store.mark_processed("evt_b", EventStatus.PROCESSED, NOW)
    store.mark_queued("evt_b", NOW)  # the processor was faster than the ingest function's update
    assert store.status_of("evt_b") is EventStatus.PROCESSED


def test_mark_processed_of_an_unknown_event_raises(store: DynamoEventStore) -> None:
    with pytest.raises(EventRecordMissing):
        store.mark_processed("evt_nope", EventStatus.PROCESSED, NOW)


def test_large_events_are_compressed_and_read_back(aws: AwsResources, store: DynamoEventStore) -> None:
    big = {"notes": "Acme Limited " * 20_000}  # ~260 KB, very compressible
    assert store.put_new(stored("evt_big", raw=b"x" * 200_000, fields=big)).created
    item = aws.dynamodb.get_item(
        TableName=aws.environment["SYNC_GUARD_EVENTS_TABLE"], Key={"pk": {"S": "evt_big"}}
    )["Item"]
    assert "event_z" in item
    assert "raw_body_z" in item
    loaded = store.load_event("evt_big")
    assert loaded is not None
    assert loaded.fields == big


def test_a_body_that_is_not_utf8_is_stored_as_sent(aws: AwsResources, store: DynamoEventStore) -> None:
    # a Books form posted in Latin-1: DynamoDB strings must be UTF-8, the body is kept as bytes
    body = "contact_name=Caf\u00e9 Lumi\u00e8re Ltd".encode("latin-1")

    assert store.put_new(stored("evt_latin", raw=body)).created

    item = aws.dynamodb.get_item(
        TableName=aws.environment["SYNC_GUARD_EVENTS_TABLE"], Key={"pk": {"S": "evt_latin"}}
    )["Item"]
    assert "raw_body" not in item
    assert zlib.decompress(item["raw_body_z"]["B"]) == body
    assert store.status_of("evt_latin") is EventStatus.RECEIVED


def test_an_incompressible_oversized_event_is_refused_as_too_large(store: DynamoEventStore) -> None:
    noise = os.urandom(300_000)
    with pytest.raises(PayloadTooLarge):
        store.put_new(stored("evt_noise", raw=noise, fields={"noise": noise.hex()[:300_000]}))


def test_sweep_finds_only_old_unqueued_events(store: DynamoEventStore) -> None:
    store.put_new(stored("evt_old"))
    store.put_new(stored("evt_queued"))
    store.mark_queued("evt_queued", NOW)
    found = [event.event_id for event in store.unqueued(received_before=NOW + timedelta(minutes=1))]
    assert found == ["evt_old"]
    assert list(store.unqueued(received_before=NOW - timedelta(minutes=1))) == []


def test_requeue_sweep_queues_stored_but_unqueued_events(aws: AwsResources, store: DynamoEventStore) -> None:
    # given one event whose enqueue failed long enough ago, and one that arrived just now
    store.put_new(stored("evt_stuck"))
    store.mark_enqueue_failed("evt_stuck", NOW, "TimeoutError")
    recent = stored("evt_recent")
    store.put_new(
        StoredEvent(
            recent.event, b"{}", "application/json", "/webhooks/books", NOW + timedelta(minutes=9), NOW
        )
    )
    # when the sweep runs ten minutes later
    queue = SqsEventQueue.from_settings(get_settings())
    requeued = requeue_unqueued(store, queue, now=NOW + timedelta(minutes=10), min_age=timedelta(minutes=5))
    # then only the stuck one is queued, and it is marked so
    assert requeued == ["evt_stuck"]
    assert store.status_of("evt_stuck") is EventStatus.QUEUED
    assert store.status_of("evt_recent") is EventStatus.RECEIVED
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["event_id"] for m in messages] == ["evt_stuck"]


@pytest.mark.parametrize("server", ["aws", "aws_server"])
def test_an_event_awaiting_enrichment_never_expires_until_it_is_decided(
    server: str, request: pytest.FixtureRequest
) -> None:
    # An acknowledged event must be decided, however long the Zoho credentials take to arrive.
    aws: AwsResources = request.getfixturevalue(server)
    store = DynamoEventStore(aws.dynamodb, get_settings().events_table, retention=timedelta(days=7))

    def expiry() -> str | None:
        item = aws.dynamodb.get_item(TableName=get_settings().events_table, Key={"pk": {"S": "evt_wait"}})
        value = item["Item"].get("expires_at")
        return value["N"] if value else None

    # Times from today: DynamoDB Local may delete an item whose expiry has passed at any moment.
    now = datetime.now(UTC)
    waiting = stored("evt_wait")
    store.put_new(dataclasses.replace(waiting, received_at=now, expires_at=now + timedelta(days=7)))
    store.mark_processed("evt_wait", EventStatus.AWAITING_ENRICHMENT, now)
    assert expiry() is None

    decided = now + timedelta(days=45)
    store.mark_processed("evt_wait", EventStatus.PROCESSED, decided)
    assert expiry() == str(int((decided + timedelta(days=7)).timestamp()))


def test_many_puts_go_in_transactions_and_repeats_among_them_are_recognised(
    store: DynamoEventStore,
) -> None:
    # given one event already queued and one stored but never queued
    store.put_new(stored("evt_queued"))
    store.mark_queued("evt_queued", NOW)
    store.put_new(stored("evt_stuck"))
    calls: list[str] = []
    the_store_client = client("dynamodb", get_settings())
    the_store_client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    batch = [stored(f"evt_{n:03d}") for n in range(150)] + [stored("evt_queued"), stored("evt_stuck")]

    # when they come again among 150 new ones
    outcomes = store.put_new_many(batch)

    # then the new ones are created, each repeat reports what it was, and it took a few transactions
    assert [o.created for o in outcomes] == [True] * 150 + [False, False]
    assert [o.existing_status for o in outcomes[-2:]] == [EventStatus.QUEUED, EventStatus.RECEIVED]
    assert set(calls) == {"TransactWriteItems"}
    assert len(calls) <= 5
    assert all(store.status_of(f"evt_{n:03d}") is EventStatus.RECEIVED for n in (0, 99, 149))
    # and the status updates go the same way, never moving a processed event back
    store.mark_processed("evt_001", EventStatus.PROCESSED, NOW)
    store.mark_queued_many([f"evt_{n:03d}" for n in range(150)], NOW)
    assert store.status_of("evt_000") is EventStatus.QUEUED
    assert store.status_of("evt_001") is EventStatus.PROCESSED
    assert store.status_of("evt_149") is EventStatus.QUEUED


def test_an_unreachable_table_is_event_not_stored_one_put_or_many() -> None:
    from botocore.config import Config

    # nothing listens on the discard port: the connection is refused at once
    unreachable = boto3.client(
        "dynamodb",
        region_name="eu-west-2",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )
    store = DynamoEventStore(unreachable, "events")

    # the webhook is answered 503 (Zoho, or the operator, sends it again), never 200 for an event not kept
    with pytest.raises(EventNotStored):
        store.put_new(stored("evt_lost"))
    with pytest.raises(EventNotStored):
        store.put_new_many([stored("evt_lost_1"), stored("evt_lost_2")])
