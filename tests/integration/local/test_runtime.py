"""The local Lambda runtime behaves like API Gateway and an SQS event-source mapping."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from sync_guard.local.runtime import (
    HttpApiServer,
    Route,
    ScheduleEventSource,
    SqsEventSource,
    http_api_event,
    rate_seconds,
)
from tests.support.aws import AwsResources


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 202,
        "headers": {"content-type": "application/json", "x-function": context.function_name},
        "body": json.dumps({"event": event}),
    }


def test_http_api_event_has_the_v2_shape() -> None:
    event = http_api_event(
        "POST",
        "/webhooks/crm",
        "token=abc&x=1",
        {"Content-Type": "application/json"},
        b"{}",
        "ANY /webhooks/crm",
    )
    assert event["version"] == "2.0"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["headers"] == {"content-type": "application/json"}
    assert event["queryStringParameters"] == {"token": "abc", "x": "1"}
    assert event["isBase64Encoded"] is False
    assert event["body"] == "{}"


def test_query_parameters_are_decoded_and_a_repeated_one_joined_as_api_gateway_does() -> None:
    raw = "token=a%2Bb%3D&organization_id=1&organization_id=%32&note=two%20words"
    event = http_api_event("POST", "/webhooks/books", raw, {}, b"", "ANY /webhooks/books")
    assert event["queryStringParameters"] == {"token": "a+b=", "organization_id": "1,2", "note": "two words"}
    assert event["rawQueryString"] == raw


def test_binary_bodies_are_base64_encoded() -> None:
    event = http_api_event(
        "POST", "/x", "", {"Content-Type": "application/octet-stream"}, b"\x00\x01", "ANY /x"
    )
    assert event["isBase64Encoded"] is True
    assert event["body"] == "AAE="


def test_server_routes_to_the_handler_and_returns_its_response() -> None:
    server = HttpApiServer([Route("ANY", "/webhooks/crm", "ingest", echo_handler)], port=0).start()
    try:
        response = httpx.post(f"{server.url}/webhooks/crm?token=t", json={"id": "1"})
        missing = httpx.get(f"{server.url}/nowhere")
    finally:
        server.stop()
    assert response.status_code == 202
    assert response.headers["x-function"] == "ingest"
    sent = response.json()["event"]
    assert sent["rawPath"] == "/webhooks/crm"
    assert json.loads(sent["body"]) == {"id": "1"}
    assert missing.status_code == 404


def test_a_crashing_handler_gives_a_bare_500_like_lambda() -> None:
    def crash(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("secret detail")

    server = HttpApiServer([Route("POST", "/x", "f", crash)], port=0).start()
    try:
        response = httpx.post(f"{server.url}/x", content=b"{}")
    finally:
        server.stop()
    assert response.status_code == 500
    assert "secret detail" not in response.text


def test_the_runtimes_own_error_lines_name_the_function_and_go_with_the_guards_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a scheduled function that raises
    def crash(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("checks failed")

    schedule = ScheduleEventSource(crash, "ZohoChecksFunction", 60)

    # when its schedule fires
    with caplog.at_level(logging.ERROR, logger="sync_guard"):
        assert schedule.fire() is None

    # then the runtime says which function failed, on a logger the demo sends to its log file
    [record] = [r for r in caplog.records if r.name.startswith("sync_guard.")]
    assert record.getMessage() == "ZohoChecksFunction: scheduled invocation failed"
    assert record.exc_info is not None


def queue_arn(aws: AwsResources, url: str) -> str:
    return aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_partial_batch_failures_are_retried_then_dead_lettered(aws: AwsResources) -> None:
    # given three messages, one of which the handler always reports as failed
    for body in ("ok-1", "poison", "ok-2"):
        aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=body)
    seen: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            seen.append(record["body"])
            assert record["eventSource"] == "aws:sqs"
            if record["body"] == "poison":
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    source = SqsEventSource(
        aws.sqs,
        aws.queue_url,
        queue_arn(aws, aws.queue_url),
        handler,
        "processor",
        wait_seconds=0,
        retry_visibility_seconds=0,
    )
    # when the event source polls until the queue is drained (bounded)
    for _ in range(20):
        source.poll_once()
    # then the good messages ran once, the poison one five times (maxReceiveCount), and it sits in the DLQ
    assert seen.count("ok-1") == 1
    assert seen.count("ok-2") == 1
    assert seen.count("poison") == 5
    dead = aws.sqs.receive_message(QueueUrl=aws.dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == ["poison"]


def test_a_handler_exception_fails_the_whole_batch(aws: AwsResources) -> None:
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="a")
    calls = 0

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("transient")
        return {"batchItemFailures": []}

    source = SqsEventSource(
        aws.sqs,
        aws.queue_url,
        queue_arn(aws, aws.queue_url),
        handler,
        "p",
        wait_seconds=0,
        retry_visibility_seconds=0,
    )
    assert source.poll_once() == 1
    assert source.poll_once() == 1
    assert source.poll_once() == 0
    assert calls == 2


@pytest.mark.parametrize("status", [200, 400])
def test_plain_dict_and_status_responses(status: int) -> None:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": status, "body": "{}", "headers": {"content-type": "application/json"}}

    server = HttpApiServer([Route("POST", "/y", "f", handler)], port=0).start()
    try:
        assert httpx.post(f"{server.url}/y").status_code == status
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("expression", "seconds"), [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200)]
)
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


def test_cron_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="rate"):
        rate_seconds("cron(0 * * * ? *)")


def test_scheduled_event_has_the_eventbridge_shape() -> None:
    received: list[dict[str, Any]] = []
    source = ScheduleEventSource(lambda event, context: received.append(event), "sweep", 3600)
    source.fire()
    assert received[0]["detail-type"] == "Scheduled Event"
    assert received[0]["source"] == "aws.events"
    assert source.invocations == 1


def test_local_stack_resolves_conditions_like_cloudformation(tmp_path: Any) -> None:
    from sync_guard.local.stack import LocalStack

    stack = LocalStack(tmp_path)
    variable = stack.template["Globals"]["Function"]["Environment"]["Variables"][
        "SYNC_GUARD_WEBHOOK_SECRET_PARAMETER"
    ]
    stack._refs = {"WebhookSecretParameterName": ""}
    assert stack._resolve(variable) == ""
    stack._refs = {"WebhookSecretParameterName": "guard/token"}
    assert stack._resolve(variable) == "/guard/token"


def test_local_stack_keeps_a_setting_from_the_environment_that_the_template_leaves_empty(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # README: "Locally, set them in the environment". An empty stack parameter must not blank them.
    from sync_guard.local.stack import LocalStack

    monkeypatch.setenv("SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID", "20099999")
    stack = LocalStack(tmp_path)
    stack._refs = {"ZohoBooksOrganizationId": "", "Mode": "observe"}
    environment = stack._global_environment()
    assert "SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID" not in environment
    assert environment["SYNC_GUARD_MODE"] == "observe"
    stack._refs["ZohoBooksOrganizationId"] = "20011111"
    assert stack._global_environment()["SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID"] == "20011111"
