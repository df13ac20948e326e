"""Storage-first ingestion against a real DynamoDB-API server over HTTP (DynamoDB Local if Java exists)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest

from sync_guard.config import get_settings
from sync_guard.guard.engine import Guard, GuardConfig
from sync_guard.guard.handler import GuardEventHandler
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.ingest.messages import decode_message
from sync_guard.ingest.ports import EventStatus
from sync_guard.processing import ProcessingDeps, process_event
from sync_guard.store.aws import client
from sync_guard.store.events import DynamoEventStore
from sync_guard.store.shadow import DynamoShadowRepository
from tests.support.aws import AwsResources
from tests.support.handlers import TEST_SECRET, FakeLambdaContext, fresh_module, http_event, sample_event

pytestmark = pytest.mark.integration


@pytest.fixture
def app(aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The ingest function against the real server, with the test secret."""
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    return fresh_module("functions.ingest.app")


def test_storage_first_and_duplicate_delivery_over_http(aws_server: AwsResources, app: Any) -> None:
    # when the same notification (three ids) is delivered twice
    first = app.lambda_handler(sample_event("crm-notification-delete"), FakeLambdaContext())
    second = app.lambda_handler(sample_event("crm-notification-delete"), FakeLambdaContext())
    # then both are acknowledged with the same ids, the second as duplicates
    assert first["statusCode"] == second["statusCode"] == 202
    ids = json.loads(first["body"])["event_ids"]
    assert json.loads(second["body"]) == {"accepted": 3, "event_ids": ids, "duplicates": 3}
    # and the real server holds each event once, queued once
    table = aws_server.environment["SYNC_GUARD_EVENTS_TABLE"]
    for event_id in ids:
        item = aws_server.dynamodb.get_item(TableName=table, Key={"pk": {"S": event_id}})["Item"]
        assert item["status"]["S"] == "queued"
        assert "[redacted]" in item["raw_body"]["S"]
    assert sorted(json.loads(m["Body"])["event_id"] for m in aws_server.queued_messages()) == sorted(ids)


def test_unqueued_event_is_requeued_by_redelivery_and_found_by_the_sweep(
    aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the queue unreachable while a webhook arrives
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    monkeypatch.setenv("SYNC_GUARD_QUEUE_URL", aws_server.queue_url + "-gone")
    broken = fresh_module("functions.ingest.app")
    response = broken.lambda_handler(sample_event("books-edit"), FakeLambdaContext())
    assert response["statusCode"] == 202
    [event_id] = json.loads(response["body"])["event_ids"]
    # then the stored event is visible to the reconciliation sweep
    store = DynamoEventStore.from_settings(get_settings())
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert [event.event_id for event in store.unqueued(received_before=later)] == [event_id]
    # and a redelivery once the queue is back queues it (the server may not return the old item, in
    # which case the store's conditional-update probe decides)
    monkeypatch.setenv("SYNC_GUARD_QUEUE_URL", aws_server.queue_url)
    healthy = fresh_module("functions.ingest.app")
    again = healthy.lambda_handler(sample_event("books-edit"), FakeLambdaContext())
    assert json.loads(again["body"])["duplicates"] == 1
    assert [json.loads(m["Body"])["event_id"] for m in aws_server.queued_messages()] == [event_id]
    store = DynamoEventStore.from_settings(get_settings())
    assert store.status_of(event_id) is EventStatus.QUEUED
    assert list(store.unqueued(received_before=later)) == []


def _callback(ids: range) -> dict[str, Any]:
    """A Notification API callback for these Contacts ids (one channel, one server time)."""
    event = sample_event("crm-notification-update")
    body = json.loads(event["body"])
    body["ids"] = [str(5725767000004000000 + n) for n in ids]
    event["body"] = json.dumps(body)
    return event


def test_a_callback_of_hundreds_of_ids_is_stored_and_queued_once_in_batches(
    aws_server: AwsResources, app: Any
) -> None:
    calls: list[str] = []
    for service in ("dynamodb", "sqs"):
        client(service, get_settings()).meta.events.register(
            f"before-call.{service}", lambda model, **_: calls.append(model.name)
        )

    # when Zoho calls back with 300 ids, then again with 150 of which 100 overlap (the same events)
    first = app.lambda_handler(_callback(range(300)), FakeLambdaContext())
    first_calls = len(calls)
    second = app.lambda_handler(_callback(range(200, 350)), FakeLambdaContext())

    # then both are acknowledged, the overlap as repeats, without a round trip (or three) per id
    assert first["statusCode"] == second["statusCode"] == 202
    assert json.loads(first["body"])["duplicates"] == 0
    assert json.loads(second["body"])["accepted"] == 150
    assert json.loads(second["body"])["duplicates"] == 100
    assert first_calls < 300 / 3
    # and the server holds 350 events, each queued exactly once
    ids = set(json.loads(first["body"])["event_ids"]) | set(json.loads(second["body"])["event_ids"])
    assert len(ids) == 350
    table = aws_server.environment["SYNC_GUARD_EVENTS_TABLE"]
    statuses = [
        item["status"]["S"]
        for page in aws_server.dynamodb.get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
    ]
    assert statuses == ["queued"] * 350
    queued = [json.loads(m["Body"])["event_id"] for m in aws_server.queued_messages()]
    assert sorted(queued) == sorted(ids)


def books_webhook_for(organization_id: str | None) -> dict[str, Any]:
    """Books' create webhook, its URL naming ``organization_id`` when given."""
    event = sample_event("books-create")
    if organization_id is not None:
        event["queryStringParameters"]["organization_id"] = organization_id
        event["rawQueryString"] += f"&organization_id={organization_id}"
    return event


def books_webhook_repeating(*organization_ids: str) -> dict[str, Any]:
    """Books' create webhook whose URL gives ``organization_id`` once for each id, as an HTTP API hands it
    on: each value in ``rawQueryString``, all of them joined by commas in ``queryStringParameters``."""
    event = sample_event("books-create")
    event["queryStringParameters"]["organization_id"] = ",".join(organization_ids)
    event["rawQueryString"] += "".join(f"&organization_id={value}" for value in organization_ids)
    return event


@pytest.fixture
def books_ingest(aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The ingest function of a guard configured for Books organisation 20081234567."""
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    monkeypatch.setenv("SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID", "20081234567")
    return fresh_module("functions.ingest.app")


def assert_nothing_stored(aws: AwsResources) -> None:
    assert aws.dynamodb.scan(TableName=aws.environment["SYNC_GUARD_EVENTS_TABLE"])["Items"] == []
    assert aws.queued_messages() == []


def test_a_books_webhook_naming_another_organisation_is_refused_and_not_stored(
    aws_server: AwsResources, books_ingest: ModuleType
) -> None:
    app = books_ingest
    # when the webhook's URL names another organisation than the configured one
    refused = app.lambda_handler(books_webhook_for("20099999999"), FakeLambdaContext())

    # then it is not acknowledged (Books' retry policy keeps it), naming the field and both ids
    assert refused["statusCode"] == 409
    body = json.loads(refused["body"])
    assert (body["error"], body["field"]) == ("another_books_organization", "organization_id")
    assert "organization_id is 20099999999" in body["message"]
    assert "configured for Books organisation 20081234567" in body["message"]
    assert_nothing_stored(aws_server)
    # the configured organisation is told only to a caller with the secret
    anonymous = books_webhook_for("20099999999")
    del anonymous["headers"]["x-sync-guard-token"]
    assert app.lambda_handler(anonymous, FakeLambdaContext())["statusCode"] == 401
    # while the configured organisation's, or a URL naming none, is accepted as before
    for organization_id in ("20081234567", None):
        accepted = app.lambda_handler(books_webhook_for(organization_id), FakeLambdaContext())
        assert accepted["statusCode"] == 202
    assert len(aws_server.queued_messages()) == 1  # one event, delivered twice


def test_a_books_webhook_with_an_empty_organization_id_is_a_400_and_not_stored(
    aws_server: AwsResources, books_ingest: ModuleType
) -> None:
    app = books_ingest
    # when the webhook's URL carries organization_id= with nothing after it (a merge field unresolved)
    refused = app.lambda_handler(books_webhook_for(""), FakeLambdaContext())

    # then it is refused naming the field, and nothing is stored or queued: Books retries it
    assert refused["statusCode"] == 400
    assert json.loads(refused["body"])["field"] == "organization_id"
    assert_nothing_stored(aws_server)


@pytest.mark.parametrize(
    "organization_ids",
    [
        ("20081234567", "20099999999"),  # the configured organisation first: not "this organisation"
        ("20099999999", "20081234567"),
        ("20081234567", ""),
        ("20081234567", "20081234567", "20099999999"),
    ],
)
def test_a_books_webhook_giving_organization_id_more_than_once_is_a_400_naming_it_and_not_stored(
    aws_server: AwsResources, books_ingest: ModuleType, organization_ids: tuple[str, ...]
) -> None:
    # when the webhook's URL gives organization_id twice, with different values (a URL pieced together
    # twice): API Gateway hands it on joined, "20081234567,20099999999", which is no organisation's id
    refused = books_ingest.lambda_handler(books_webhook_repeating(*organization_ids), FakeLambdaContext())

    # then it is refused as the caller's mistake, not as another organisation's webhook, and not stored
    assert refused["statusCode"] == 400, refused
    body = json.loads(refused["body"])
    assert (body["error"], body["field"]) == ("bad_request", "organization_id")
    assert "given more than once" in body["message"]
    assert_nothing_stored(aws_server)


def test_a_books_webhook_giving_the_same_organization_id_twice_is_taken_as_that_organisation(
    aws_server: AwsResources, books_ingest: ModuleType
) -> None:
    # the same value twice names one organisation: the configured one's webhook is accepted ...
    accepted = books_ingest.lambda_handler(
        books_webhook_repeating("20081234567", "20081234567"), FakeLambdaContext()
    )
    assert accepted["statusCode"] == 202, accepted
    assert len(aws_server.queued_messages()) == 1
    # ... and another's is still refused as another organisation's
    refused = books_ingest.lambda_handler(
        books_webhook_repeating("20099999999", "20099999999"), FakeLambdaContext()
    )
    assert refused["statusCode"] == 409
    assert "organization_id is 20099999999" in json.loads(refused["body"])["message"]


def _books_form(name: str) -> dict[str, Any]:
    """A Books "Edited" webhook whose form body the admin chose: no ``last_modified_time`` in it."""
    body = urlencode({"contact_id": "460000000026077", "contact_name": name, "email": "ap@acme.example"})
    return http_event(
        "/webhooks/books",
        body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Sync-Guard-Token": TEST_SECRET},
        query={"event": "edit"},
    )


def test_a_books_body_without_its_modified_time_tells_an_edit_back_from_a_redelivery(
    aws_server: AwsResources, app: Any
) -> None:
    def deliver(name: str) -> tuple[str, int]:
        response = app.lambda_handler(_books_form(name), FakeLambdaContext())
        assert response["statusCode"] == 202
        answer = json.loads(response["body"])
        [event_id] = answer["event_ids"]
        return event_id, answer["duplicates"]

    # when a customer is renamed A -> B -> A, each edit's webhook delivered, the last one twice (Books
    # retrying a webhook it did not see acknowledged)
    first, _ = deliver("Acme GmbH")
    second, _ = deliver("Acme Trading GmbH")
    third, repeats = deliver("Acme GmbH")
    again, repeats_again = deliver("Acme GmbH")

    # then the edit back to A is an event of its own, and its redelivery is recognised as it
    assert len({first, second, third}) == 3
    assert repeats == 0
    assert (again, repeats_again) == (third, 1)
    queued = [decode_message(json.loads(m["Body"])) for m in aws_server.queued_messages()]
    assert [message.event_id for message in queued] == [first, second, third]

    # and, processed in that order, the shadow holds A, as Zoho does
    settings = get_settings()
    events = DynamoEventStore.from_settings(settings)
    handler = GuardEventHandler(
        Guard(
            DynamoShadowRepository.from_settings(settings), LibraryMatcher(), GuardConfig(mode=settings.mode)
        )
    )
    for message in queued:
        assert message.event is not None
        process_event(message.event, ProcessingDeps(events=events, handler=handler))
    state = DynamoShadowRepository.from_settings(settings).get_state("books:460000000026077")
    assert state is not None
    assert state.record.name == "Acme GmbH"
