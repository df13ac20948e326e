"""The ingest Lambda handler end to end on moto: every status code, storage-first, duplicates, secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.support.aws import AwsResources
from tests.support.handlers import (
    TEST_SECRET,
    FakeLambdaContext,
    fresh_module,
    http_event,
    sample_event,
)

Invoke = Callable[[dict[str, Any]], dict[str, Any]]

JSON_SAMPLES = [
    ("crm-workflow-create", 1),
    ("crm-workflow-edit", 1),
    ("crm-workflow-delete", 1),
    ("crm-workflow-edit-form", 1),
    ("crm-notification-insert", 3),
    ("crm-notification-update", 2),
    ("crm-notification-delete", 3),
    ("books-create", 1),
    ("books-edit", 1),
    ("books-delete", 1),
    ("books-delete-id-only", 1),
    ("books-create-form", 1),
    ("books-edit-form-fields", 1),
]


@pytest.fixture
def ingest_app(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    return fresh_module("functions.ingest.app")


@pytest.fixture
def invoke(ingest_app: ModuleType) -> Invoke:
    def call(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = ingest_app.lambda_handler(event, FakeLambdaContext())
        return response

    return call


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    assert response["headers"]["Content-Type"] == "application/json"
    document: dict[str, Any] = json.loads(response["body"])
    return document


def stored_item(aws: AwsResources, event_id: str) -> dict[str, Any]:
    table = aws.environment["SYNC_GUARD_EVENTS_TABLE"]
    item: dict[str, Any] = aws.dynamodb.get_item(TableName=table, Key={"pk": {"S": event_id}})["Item"]
    return item


@pytest.mark.parametrize(("name", "events"), JSON_SAMPLES)
def test_every_sample_is_accepted_stored_and_queued(
    aws: AwsResources, invoke: Invoke, name: str, events: int
) -> None:
    # when Zoho's webhook (as in events/) reaches the handler
    response = invoke(sample_event(name))
    # then it is acknowledged with one id per event
    assert response["statusCode"] == 202
    document = body_of(response)
    assert document["accepted"] == events
    assert len(document["event_ids"]) == events
    # and each event is in the table, queued, with its TTL
    for event_id in document["event_ids"]:
        item = stored_item(aws, event_id)
        assert item["status"]["S"] == "queued"
        assert int(item["expires_at"]["N"]) > 0
        assert TEST_SECRET not in item.get("raw_body", {}).get("S", "")
    assert sorted(json.loads(m["Body"])["event_id"] for m in aws.queued_messages()) == sorted(
        document["event_ids"]
    )


def test_notification_with_three_ids_gives_three_distinct_events(aws: AwsResources, invoke: Invoke) -> None:
    document = body_of(invoke(sample_event("crm-notification-insert")))
    assert document["accepted"] == 3
    assert len(set(document["event_ids"])) == 3
    records = {json.loads(m["Body"])["event"]["record_id"] for m in aws.queued_messages()}
    assert records == {"5725767000003000301", "5725767000003000302", "5725767000003000303"}


def test_duplicate_delivery_is_acknowledged_but_queued_once(aws: AwsResources, invoke: Invoke) -> None:
    first = body_of(invoke(sample_event("books-edit")))
    second = invoke(sample_event("books-edit"))
    assert second["statusCode"] == 202
    assert body_of(second) == {"accepted": 1, "event_ids": first["event_ids"], "duplicates": 1}
    assert len(aws.queued_messages()) == 1


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"headers": {"x-sync-guard-token": "wrong"}},
        {"headers": {"x-sync-guard-token": TEST_SECRET + " "}},
        {"query": {"token": "wrong"}},
    ],
)
def test_missing_or_wrong_token_is_401(aws: AwsResources, invoke: Invoke, auth: dict[str, Any]) -> None:
    headers = {"content-type": "application/json", **auth.get("headers", {})}
    event = http_event("/webhooks/crm", '{"event":"create"}', headers=headers, query=auth.get("query"))
    response = invoke(event)
    assert response["statusCode"] == 401
    assert body_of(response)["error"] == "unauthorised"
    assert body_of(response)["field"] == ("token" if "query" in auth else "X-Sync-Guard-Token")
    assert aws.queued_messages() == []


@pytest.mark.parametrize("second", [TEST_SECRET, "wrong"])
def test_a_url_giving_the_token_twice_is_a_400_naming_it(
    aws: AwsResources, invoke: Invoke, second: str
) -> None:
    # given a Books webhook URL with token twice: API Gateway joins the values with a comma in
    # queryStringParameters and keeps them apart in rawQueryString
    event = sample_event("books-delete-id-only")
    del event["headers"]["x-sync-guard-token"]
    event["queryStringParameters"] = {"token": f"{TEST_SECRET},{second}"}
    event["rawQueryString"] = f"token={TEST_SECRET}&token={second}"

    response = invoke(event)

    assert response["statusCode"] == 400, response
    document = body_of(response)
    assert (document["error"], document["field"]) == ("bad_request", "token")
    assert "more than once" in document["message"]
    assert TEST_SECRET not in response["body"]
    assert aws.queued_messages() == []


def test_query_token_is_accepted(invoke: Invoke) -> None:
    event = sample_event("books-delete-id-only")
    del event["headers"]["x-sync-guard-token"]
    event["queryStringParameters"] = {"token": TEST_SECRET}
    assert invoke(event)["statusCode"] == 202


def test_notification_with_wrong_echoed_token_is_401(invoke: Invoke) -> None:
    event = sample_event("crm-notification-update")
    body = json.loads(event["body"])
    body["token"] = "not-the-secret"
    event["body"] = json.dumps(body)
    response = invoke(event)
    assert response["statusCode"] == 401
    assert body_of(response)["field"] == "token"  # the body's field


def test_malformed_payload_is_400_naming_the_field(invoke: Invoke) -> None:
    event = sample_event("books-edit")
    event["body"] = json.dumps({"contact": {"contact_name": "Acme"}})
    response = invoke(event)
    assert response["statusCode"] == 400
    assert body_of(response) == {
        "error": "invalid_payload",
        "message": "contact.contact_id: Field required",
        "field": "contact.contact_id",
    }


def test_body_that_is_not_json_is_400_naming_the_body(invoke: Invoke) -> None:
    event = sample_event("crm-workflow-create")
    event["body"] = "{truncated"
    response = invoke(event)
    assert response["statusCode"] == 400
    assert body_of(response)["field"] == "body"


def test_body_over_the_limit_is_413(aws: AwsResources, invoke: Invoke) -> None:
    event = sample_event("crm-workflow-create")
    event["body"] = json.dumps({"event": "create", "padding": "x" * (256 * 1024)})
    response = invoke(event)
    assert response["statusCode"] == 413
    assert body_of(response)["error"] == "payload_too_large"
    assert body_of(response)["field"] == "body"


def test_unsupported_content_type_is_415_naming_the_header(invoke: Invoke) -> None:
    event = sample_event("crm-workflow-create")
    event["headers"]["content-type"] = "application/xml"
    event["body"] = "<event/>"
    response = invoke(event)
    assert response["statusCode"] == 415
    assert body_of(response) == {
        "error": "unsupported_media_type",
        "message": "unsupported Content-Type: 'application/xml'; send application/json, "
        "application/x-www-form-urlencoded or multipart/form-data",
        "field": "Content-Type",
    }


@pytest.mark.parametrize(
    ("charset", "body", "status"),
    [
        ("base64", '{"event":"create","module":"Accounts","id":"1"}', 415),  # bytes to bytes: no charset
        ("utf-7", '{"event":"create","module":"Accounts","id":"1","name":"Acme +2AA-"}', 415),
        ("unicode_escape", '{"event":"create","module":"Accounts","id":"1","name":"Acme \\ud800"}', 415),
        ("utf-16", '{"event":"create","module":"Accounts","id":"1","name":"Acme"}', 415),
    ],
)
def test_a_charset_python_decodes_oddly_is_the_callers_mistake(
    aws: AwsResources, invoke: Invoke, charset: str, body: str, status: int
) -> None:
    # given a body whose declared charset is no text encoding, or decodes to half a character
    event = sample_event("crm-workflow-create")
    event["headers"]["content-type"] = f"application/json; charset={charset}"
    event["body"] = body
    # then the caller is told, and nothing is stored (not a 500, nor a 503 after a refused write)
    response = invoke(event)
    assert response["statusCode"] == status
    assert body_of(response)["error"] in {"unsupported_media_type", "invalid_payload"}
    assert body_of(response)["field"] == "Content-Type"
    assert f"charset {charset!r}; send UTF-8" in body_of(response)["message"]
    assert aws.queued_messages() == []


def test_a_value_nested_hundreds_deep_is_400_naming_its_field(aws: AwsResources, invoke: Invoke) -> None:
    # given valid JSON, but deeper than the stored event and its queue message can be written and read
    event = sample_event("books-edit")
    contact = json.loads(event["body"])["contact"]
    event["body"] = json.dumps({"contact": {**contact, "custom_fields": json.loads("[" * 300 + "]" * 300)}})
    # then it is the caller's mistake (it was a 503 from the refused table write)
    response = invoke(event)
    assert response["statusCode"] == 400
    assert body_of(response)["field"] == "contact.custom_fields"
    assert aws.queued_messages() == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
@pytest.mark.parametrize("path", ["/webhooks/crm", "/webhooks/crm/notifications", "/webhooks/books"])
def test_wrong_method_is_405_with_allow_post(invoke: Invoke, method: str, path: str) -> None:
    response = invoke(http_event(path, None, method=method, headers={"x-sync-guard-token": TEST_SECRET}))
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "POST"
    assert body_of(response)["error"] == "method_not_allowed"
    assert body_of(response)["field"] == "method"


@pytest.mark.parametrize(
    "path", ["/", "/webhooks", "/webhooks/zoho", "/webhooks/crm/other", "/webhooks/crm/"]
)
def test_unknown_path_is_404(invoke: Invoke, path: str) -> None:
    response = invoke(http_event(path, "{}", headers={"x-sync-guard-token": TEST_SECRET}))
    assert response["statusCode"] == 404
    assert body_of(response)["error"] == "not_found"
    assert body_of(response)["field"] == "path"


def test_a_table_that_refuses_writes_is_a_503_without_internals(aws: AwsResources, invoke: Invoke) -> None:
    aws.dynamodb.delete_table(TableName=aws.environment["SYNC_GUARD_EVENTS_TABLE"])
    response = invoke(sample_event("crm-workflow-create"))
    assert response["statusCode"] == 503
    document = body_of(response)
    assert document["error"] == "event_not_stored"
    assert "Traceback" not in response["body"]
    assert aws.queued_messages() == []


def test_queue_failure_keeps_the_event_and_a_redelivery_queues_it(
    aws: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a queue the function cannot reach
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    monkeypatch.setenv("SYNC_GUARD_QUEUE_URL", aws.queue_url + "-missing")
    broken = fresh_module("functions.ingest.app")
    # when a webhook arrives it is still acknowledged, because it is stored
    response = broken.lambda_handler(sample_event("crm-workflow-edit"), FakeLambdaContext())
    assert response["statusCode"] == 202
    [event_id] = body_of(response)["event_ids"]
    item = stored_item(aws, event_id)
    assert item["status"]["S"] == "received"
    assert "enqueue_error" in item
    # and once the queue is reachable, the same delivery again queues the stored event
    monkeypatch.setenv("SYNC_GUARD_QUEUE_URL", aws.queue_url)
    healthy = fresh_module("functions.ingest.app")
    again = healthy.lambda_handler(sample_event("crm-workflow-edit"), FakeLambdaContext())
    assert body_of(again)["duplicates"] == 1
    assert [json.loads(m["Body"])["event_id"] for m in aws.queued_messages()] == [event_id]
    assert stored_item(aws, event_id)["status"]["S"] == "queued"


def test_secret_from_secrets_manager(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    boto3.client("secretsmanager", region_name="eu-west-2").create_secret(
        Name="sync-guard/webhook-secret", SecretString="from-secrets-manager"
    )
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET_NAME", "sync-guard/webhook-secret")
    app = fresh_module("functions.ingest.app")
    event = sample_event("crm-workflow-create")
    assert app.lambda_handler(event, FakeLambdaContext())["statusCode"] == 401
    event["headers"]["x-sync-guard-token"] = "from-secrets-manager"
    assert app.lambda_handler(event, FakeLambdaContext())["statusCode"] == 202


def test_logs_hold_neither_the_secret_nor_customer_emails(
    invoke: Invoke, caplog: pytest.LogCaptureFixture
) -> None:
    invoke(sample_event("crm-workflow-delete"))  # carries jane.doe@acme.example.co.uk
    invoke(sample_event("crm-notification-insert"))  # echoes the secret in its body
    bad = sample_event("crm-workflow-delete")
    bad["body"] = bad["body"].replace('"event": "delete"', '"event": "jane.doe@acme.example.co.uk"')
    assert invoke(bad)["statusCode"] == 400
    mixed_up = sample_event("crm-workflow-delete")  # the secret where a refused value is quoted
    mixed_up["body"] = mixed_up["body"].replace('"event": "delete"', f'"event": "{TEST_SECRET}"')
    assert invoke(mixed_up)["statusCode"] == 400
    wrong = sample_event("crm-workflow-create")
    wrong["headers"]["x-sync-guard-token"] = "wrong-token-value"
    invoke(wrong)
    # every attribute of every record, extras included, as the JSON formatter would see them
    logs = "\n".join(json.dumps(vars(record), default=str) for record in caplog.records)
    assert "webhook accepted" in logs  # the capture does see the handler's logs
    assert TEST_SECRET not in logs
    assert "wrong-token-value" not in logs
    assert "jane.doe@" not in logs
