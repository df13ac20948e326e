"""The processor handler on moto: statuses, idempotency, partial batch failures, retries and the DLQ."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from sync_guard.ingest.messages import encode_message
from sync_guard.models.events import GuardEvent
from sync_guard.zoho.payloads import MAX_RECORD_TEXT
from tests.support.aws import AwsResources
from tests.support.handlers import (
    TEST_SECRET,
    FakeLambdaContext,
    fresh_module,
    http_event,
    sample_event,
    sqs_event,
)

MAX_RECEIVE_COUNT = 5  # the template's (and the fixture's) redrive policy


@pytest.fixture
def apps(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    return fresh_module("functions.ingest.app"), fresh_module("functions.processor.app")


def ingest(ingest_app: ModuleType, name: str) -> list[str]:
    response = ingest_app.lambda_handler(sample_event(name), FakeLambdaContext())
    assert response["statusCode"] == 202
    event_ids: list[str] = json.loads(response["body"])["event_ids"]
    return event_ids


def receive(aws: AwsResources, url: str | None = None, visibility: int = 0) -> list[dict[str, Any]]:
    response = aws.sqs.receive_message(
        QueueUrl=url or aws.queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=visibility,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


def run_like_the_event_source(
    aws: AwsResources,
    processor: ModuleType,
    messages: list[dict[str, Any]],
    context: FakeLambdaContext | None = None,
) -> Any:
    """Invoke the processor, then delete what succeeded, as Lambda does with ReportBatchItemFailures."""
    response = processor.lambda_handler(sqs_event(messages), context or FakeLambdaContext())
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return response


def status(aws: AwsResources, event_id: str) -> str:
    item = aws.dynamodb.get_item(
        TableName=aws.environment["SYNC_GUARD_EVENTS_TABLE"], Key={"pk": {"S": event_id}}
    )["Item"]
    assert "processed_at" in item
    value: str = item["status"]["S"]
    return value


def test_queued_events_are_recorded_processed_or_awaiting_enrichment(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    ingest_app, processor = apps
    # given a workflow event (full record) and a notification (ids only) on the queue
    [workflow_id] = ingest(ingest_app, "crm-workflow-create")
    notification_ids = ingest(ingest_app, "crm-notification-insert")
    messages = receive(aws)
    assert len(messages) == 4
    # when the processor consumes the batch
    response = run_like_the_event_source(aws, processor, messages)
    # then nothing failed and each stored event shows what happened
    assert response == {"batchItemFailures": []}
    assert status(aws, workflow_id) == "processed"
    assert {status(aws, event_id) for event_id in notification_ids} == {"awaiting_enrichment"}
    assert receive(aws) == []


def test_a_redelivered_message_is_acknowledged_without_reprocessing(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    ingest_app, processor = apps
    ingest(ingest_app, "books-edit")
    messages = receive(aws)
    processor.lambda_handler(sqs_event(messages), FakeLambdaContext())
    handled: list[GuardEvent] = []
    original = processor.deps.handler
    processor.deps = type(processor.deps)(
        events=processor.deps.events, handler=lambda event: handled.append(event) or original(event)
    )
    response = processor.lambda_handler(sqs_event(messages), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert handled == []  # the second delivery found the event already processed


def test_partial_batch_failure_reports_only_the_bad_message(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    ingest_app, processor = apps
    ingest(ingest_app, "crm-workflow-edit")
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody='{"not": "an event"}')
    messages = receive(aws)
    assert len(messages) == 2
    poison = next(m for m in messages if "not" in json.loads(m["Body"]))
    response = run_like_the_event_source(aws, processor, messages)
    assert response == {"batchItemFailures": [{"itemIdentifier": poison["MessageId"]}]}
    # the good one was deleted, the bad one comes back for a retry
    again = receive(aws)
    assert [m["MessageId"] for m in again] == [poison["MessageId"]]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_message_failing_every_time_lands_in_the_dead_letter_queue(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    _, processor = apps
    # given an event id that was never stored (the processor cannot record it)
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps({"event_id": "evt_missing"}))
    # when the event source retries it up to maxReceiveCount
    for attempt in range(1, MAX_RECEIVE_COUNT + 1):
        messages = receive(aws)
        assert len(messages) == 1
        assert messages[0]["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        response = run_like_the_event_source(aws, processor, messages)
        assert len(response["batchItemFailures"]) == 1
    # then SQS moves it to the dead-letter queue instead of delivering it again
    assert receive(aws) == []
    dead = receive(aws, aws.dlq_url, visibility=30)
    assert [json.loads(m["Body"]) for m in dead] == [{"event_id": "evt_missing"}]


def test_a_message_carrying_only_the_id_is_loaded_from_the_table(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    ingest_app, processor = apps
    [event_id] = ingest(ingest_app, "books-create")
    [message] = receive(aws)
    full = json.loads(message["Body"])
    assert full["event"]["event_id"] == event_id
    message["Body"] = json.dumps({"event_id": event_id})  # as for events too large to inline
    response = processor.lambda_handler(sqs_event([message]), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert status(aws, event_id) == "processed"


def test_the_sample_sqs_event_processes_once_its_events_are_stored(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    ingest_app, processor = apps
    stored = ingest(ingest_app, "crm-workflow-create") + ingest(ingest_app, "books-create")
    batch = sample_event("sqs-processing-batch")
    assert [json.loads(r["body"])["event_id"] for r in batch["Records"]] == stored
    assert processor.lambda_handler(batch, FakeLambdaContext()) == {"batchItemFailures": []}


def test_encode_message_inlines_small_events() -> None:
    from datetime import UTC, datetime

    from sync_guard.ingest.messages import decode_message
    from sync_guard.models.events import Channel, Operation
    from sync_guard.models.records import Module, System

    event = GuardEvent(
        event_id="evt_1",
        source=System.CRM,
        channel=Channel.CRM_WORKFLOW,
        module=Module.CRM_ACCOUNTS,
        operation=Operation.CREATE,
        record_id="1",
        received_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert decode_message(encode_message(event)).event == event
    big = event.model_copy(update={"fields": {"padding": "x" * 300_000}})
    decoded = decode_message(encode_message(big))
    assert decoded.event is None
    assert decoded.event_id == "evt_1"


def _at_the_limit(fields: tuple[str, ...]) -> dict[str, str]:
    # four UTF-8 bytes a character: the most a value at the limit can weigh in DynamoDB
    return dict.fromkeys(fields, "\U0001d504" * MAX_RECORD_TEXT)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/webhooks/crm",
            {"event": "create", "module": "Contacts", "id": "5725767000003000901"}
            | _at_the_limit(("first_name", "last_name", "email", "phone", "website", "postcode", "city"))
            | _at_the_limit(("country",)),
        ),
        (
            "/webhooks/books",
            {
                "contact": {"contact_id": "460000000026901", "customer_sub_type": "individual"}
                | _at_the_limit(("contact_name", "company_name", "email", "phone", "website", "vat_reg_no"))
                | {
                    "contact_persons": [_at_the_limit(("first_name", "last_name", "email"))],
                    "billing_address": _at_the_limit(("address", "street2", "city", "zip", "country")),
                }
            },
        ),
    ],
)
def test_the_largest_record_ingestion_accepts_is_processed(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType], path: str, body: dict[str, Any]
) -> None:
    ingest_app, processor = apps
    headers = {"content-type": "application/json", "x-sync-guard-token": TEST_SECRET}
    twin = json.loads(json.dumps(body).replace('901"', '902"'))  # another record with the same values
    for document in (body, twin):
        # given a record whose every value is as long as ingestion accepts
        event = http_event(path, json.dumps(document, ensure_ascii=False), headers=headers)
        assert ingest_app.lambda_handler(event, FakeLambdaContext())["statusCode"] == 202
        # then the processor decides it (the twin against the first) without a failure to retry
        assert run_like_the_event_source(aws, processor, receive(aws)) == {"batchItemFailures": []}
    audit = aws.dynamodb.scan(TableName=aws.environment["SYNC_GUARD_AUDIT_TABLE"])["Items"]
    assert any(item.get("decision", {}).get("S") in {"flag", "quarantine"} for item in audit)


def test_an_event_that_keeps_failing_is_dead_lettered_kept_and_replayed_once(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    from dataclasses import replace

    from sync_guard.cli.replay_dlq import QueueChoice, replay
    from sync_guard.config import get_settings
    from sync_guard.errors import UpstreamError

    ingest_app, processor = apps
    working = processor.deps

    def unavailable(event: GuardEvent) -> Any:
        raise UpstreamError("Zoho answered 503")

    # given an acknowledged event whose processing fails on every delivery
    [event_id] = ingest(ingest_app, "crm-workflow-create")
    processor.deps = replace(working, handler=unavailable)
    for _ in range(MAX_RECEIVE_COUNT):
        assert len(run_like_the_event_source(aws, processor, receive(aws))["batchItemFailures"]) == 1
    # then it waits in the dead-letter queue, and the table still holds it, not processed
    assert receive(aws) == []
    stored = aws.dynamodb.get_item(
        TableName=aws.environment["SYNC_GUARD_EVENTS_TABLE"], Key={"pk": {"S": event_id}}
    )["Item"]
    assert stored["status"]["S"] == "queued"
    # when the cause is mended and the dead letters are replayed
    processor.deps = working
    assert replay(get_settings(), QueueChoice.PROCESSING, dry_run=False) == {"processing": 1}
    # then it is processed once, and a second replay finds nothing to move
    assert run_like_the_event_source(aws, processor, receive(aws)) == {"batchItemFailures": []}
    assert status(aws, event_id) == "processed"
    assert replay(get_settings(), QueueChoice.PROCESSING, dry_run=False) == {"processing": 0}
    audit = aws.dynamodb.scan(TableName=aws.environment["SYNC_GUARD_AUDIT_TABLE"])["Items"]
    entries = sorted(item["pk"]["S"] for item in audit if item["pk"]["S"].startswith("E#"))
    # one decision on the event, and the one replay that moved something, as an admin operation: what it
    # was about to move, then what it moved (the replay that found nothing wrote nothing)
    admin = [entry for entry in entries if entry.startswith("E#adm_")]
    assert len(admin) == 2
    assert [entry for entry in entries if entry not in admin] == [f"E#{event_id}"]


class RunningOutContext(FakeLambdaContext):
    """An invocation whose time left is read from a list: the processor asks once per record."""

    def __init__(self, remaining_ms: list[int]) -> None:
        super().__init__()
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return self.remaining_ms.pop(0) if len(self.remaining_ms) > 1 else self.remaining_ms[0]


def test_an_event_is_not_started_without_the_time_to_finish_it(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    ingest_app, processor = apps
    handled: list[str] = []
    working = processor.deps.handler
    processor.deps = type(processor.deps)(
        events=processor.deps.events, handler=lambda event: handled.append(event.event_id) or working(event)
    )
    [first] = ingest(ingest_app, "crm-workflow-create")
    [second] = ingest(ingest_app, "books-create")
    messages = sorted(receive(aws), key=lambda m: json.loads(m["Body"])["event_id"] != first)
    # given an invocation with time for the first event only (the second would outlive the function)
    enough, too_little = 60_000, int(processor.reserve.seconds * 1000) - 1
    response = run_like_the_event_source(aws, processor, messages, RunningOutContext([enough, too_little]))
    # then the second is handed back to the queue unstarted, not cut off by a Lambda timeout
    assert handled == [first]
    assert response == {"batchItemFailures": [{"itemIdentifier": messages[1]["MessageId"]}]}
    assert status(aws, first) == "processed"
    assert [json.loads(m["Body"])["event_id"] for m in receive(aws)] == [second]


def test_a_slow_first_event_makes_the_next_one_wait_for_more_time(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_app, processor = apps
    now = [100.0]
    monkeypatch.setattr(processor.reserve, "clock", lambda: now[0])
    handled: list[str] = []
    working = processor.deps.handler

    def slow(event: GuardEvent) -> Any:
        handled.append(event.event_id)
        now[0] += 4.0  # a cold table: the event's one attempt takes 4 s
        return working(event)

    processor.deps = type(processor.deps)(events=processor.deps.events, handler=slow)
    [first] = ingest(ingest_app, "crm-workflow-create")
    ingest(ingest_app, "books-create")
    messages = sorted(receive(aws), key=lambda m: json.loads(m["Body"])["event_id"] != first)
    assumed = processor.reserve.seconds  # the retry budget and 2 s for the first attempt

    # given time left after the first event that a 2 s first attempt would fit in, and a 4 s one not
    left = int((assumed + 1.0) * 1000)
    response = run_like_the_event_source(aws, processor, messages, RunningOutContext([60_000, left]))

    # then the second event is handed back unstarted: the reserve now holds the 4 s seen
    assert handled == [first]
    assert processor.reserve.seconds == pytest.approx(assumed + 2.0)
    assert response == {"batchItemFailures": [{"itemIdentifier": messages[1]["MessageId"]}]}


def test_a_message_that_cannot_be_read_is_logged_without_the_email_it_holds(
    aws: AwsResources, apps: tuple[ModuleType, ModuleType], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    ingest_app, processor = apps
    ingest(ingest_app, "crm-workflow-delete")  # carries jane.doe@acme.example.co.uk
    [message] = receive(aws)
    # given a message its reader refuses (another version's shape), with the email in the refused value
    body = json.loads(message["Body"])
    body["event"]["record"]["email"] = [body["event"]["record"]["email"], "x" * 100]
    message["Body"] = json.dumps(body)
    caplog.set_level(logging.INFO)
    response = processor.lambda_handler(sqs_event([message]), FakeLambdaContext())
    # then it is retried, and the log line says what was wrong but not the address, even cut short
    assert len(response["batchItemFailures"]) == 1
    logs = "\n".join(json.dumps(vars(record), default=str) for record in caplog.records)
    assert "event.record.email: Input should be a valid string" in logs
    assert "jane.doe@" not in logs


SHADOW_ORGANIZATION = "20081234567"


def test_a_books_event_under_another_organisation_waits_in_the_dead_letter_queue_until_replayed(
    aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from sync_guard.cli.replay_dlq import QueueChoice, replay
    from sync_guard.config import get_settings
    from sync_guard.guard.handler import refused_entry_id
    from sync_guard.guard.model import Decision, EntryKind
    from sync_guard.store.audit import AuditLog
    from sync_guard.store.checks import DynamoCheckState

    # given a shadow recorded as one Books organisation's, and the guard configured for another
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    monkeypatch.setenv("SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID", "20099999999")
    DynamoCheckState.from_settings(get_settings()).record_books_organization(
        SHADOW_ORGANIZATION, at=datetime(2026, 9, 1, 10, 15, tzinfo=UTC), by="scheduler:zoho-checks"
    )
    ingest_app, processor = fresh_module("functions.ingest.app"), fresh_module("functions.processor.app")
    [books_event] = ingest(ingest_app, "books-create")

    # when the event source delivers the Books event up to maxReceiveCount
    for _ in range(MAX_RECEIVE_COUNT):
        failed = run_like_the_event_source(aws_server, processor, receive(aws_server))["batchItemFailures"]
        assert len(failed) == 1

    # then it is not decided: it waits in the dead-letter queue, the first refusal audited naming both ids
    assert receive(aws_server) == []
    audit = AuditLog.from_settings(get_settings())
    assert audit.get(books_event) is None
    refused = audit.get(refused_entry_id(books_event))
    assert refused is not None
    assert (refused.kind, refused.decision, refused.records) == (
        EntryKind.NOT_DECIDED,
        Decision.PENDING,
        ("books:460000000026049",),
    )
    assert "ZohoBooksOrganizationId is 20099999999" in refused.note
    assert f"organisation {SHADOW_ORGANIZATION} (recorded 2026-09-01 10:15 UTC" in refused.note
    # a CRM event is decided as before
    [crm_event] = ingest(ingest_app, "crm-workflow-create")
    assert run_like_the_event_source(aws_server, processor, receive(aws_server)) == {"batchItemFailures": []}
    assert audit.get(crm_event) is not None

    # when the parameter is put back and the dead letters are replayed, then the event is decided once
    monkeypatch.setenv("SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID", SHADOW_ORGANIZATION)
    get_settings.cache_clear()
    processor = fresh_module("functions.processor.app")
    assert replay(get_settings(), QueueChoice.PROCESSING, dry_run=False) == {"processing": 1}
    assert run_like_the_event_source(aws_server, processor, receive(aws_server)) == {"batchItemFailures": []}
    assert status(aws_server, books_event) == "processed"
    decided = audit.get(books_event)
    assert decided is not None
    assert decided.kind is EntryKind.DECISION
