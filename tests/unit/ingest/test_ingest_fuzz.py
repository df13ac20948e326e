"""Property: whatever arrives, the ingest handler answers a 2xx/4xx JSON document, never a 5xx or a crash.

AWS is mocked (moto, in-process), so a valid-looking request really is stored and queued; everything else
must be refused with a client status naming the field (the header, parameter or part of the request at
fault), and no log line may hold the secret or a customer's email. What is acknowledged must then be
processed without a failure, since a failure there is retried and dead-lettered however often it is
replayed. Example counts are modest and generation is derandomised, so the suite is fast and every run
tries the same requests.
"""

from __future__ import annotations

import base64
import json
import logging
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import event as statistics_label
from hypothesis import given, settings, target
from hypothesis import strategies as st

from sync_guard.ingest import Route, WebhookRequest
from tests.support.aws import AwsResources
from tests.support.events import MemoryQueue, MemoryStore
from tests.support.fuzz import SHARED_FUZZ_SETTINGS, json_leaves
from tests.support.handlers import (
    TEST_SECRET,
    FakeLambdaContext,
    fresh_module,
    http_event,
    sample_event,
    sqs_event,
)

ROUTES = ["/webhooks/crm", "/webhooks/crm/notifications", "/webhooks/books"]
KNOWN_KEYS = [
    # CRM workflow template
    "event", "module", "id", "name", "modified", "email", "phone", "website", "postcode", "city",
    "country", "first_name", "last_name", "account_id",
    # Notification API
    "server_time", "ids", "operation", "channel_id", "token", "affected_fields", "affected_values",
    "resource_uri", "query_params",
    # Books
    "contact", "contact_id", "contact_name", "contact_persons", "billing_address", "custom_fields",
    "created_time", "last_modified_time", "customer_sub_type", "status", "has_transaction",
    "outstanding_receivable_amount", "zcrm_account_id", "JSONString",
]  # fmt: skip
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    'Application/JSON; Charset="UTF-8"',
    "application/json; charset=latin-1",
    "application/json; charset=nonsense",
    "application/json; charset=base64",  # a codec, but bytes to bytes
    "application/json; charset=utf-7",  # decodes "+2AA-" to half a character
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=unicode_escape",
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data; boundary=XyZ; charset=hex",
    "multipart/form-data",
    "application/xml",
    "",
]
EMAIL = "jane.doe@acme.example.co.uk"
# values Zoho never sends where the guard reads records and ids
ODD_VALUES = [
    "9" * 2100,  # longer than a DynamoDB key
    "${!Accounts.Id}",  # an unfilled merge field
    "A" * 3000,
    "Acme +2AA- Ltd",
    EMAIL,
    TEST_SECRET,
]

ZOHO_WORDS = ["create", "edit", "delete", "insert", "update", "Accounts", "Contacts", "1", ""]
json_values = st.recursive(
    json_leaves(ZOHO_WORDS + ODD_VALUES, text_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
zoho_like = st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=10), json_values, max_size=10)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str | None, bool]:
    """A body as API Gateway delivers it: text, or base64 with the flag set."""
    kind = draw(st.sampled_from(["none", "text", "json", "zoho", "form", "bytes", "deep"]))
    if kind == "none":
        return None, False
    if kind == "deep":  # valid JSON, nested deeper than a stored event can be written and read back
        depth = draw(st.integers(min_value=20, max_value=400))
        head = '{"event": "edit", "module": "Accounts", "id": "1", "contact_id": "1", "x": '
        return head + "[" * depth + "]" * depth + "}", False
    if kind == "text":
        return draw(st.text(max_size=200)), False
    if kind == "json":
        return json.dumps(draw(json_values)), False
    if kind == "zoho":
        document = draw(zoho_like)
        if draw(st.booleans()):
            document["token"] = TEST_SECRET
        return json.dumps(document), False
    if kind == "form":
        fields = draw(st.dictionaries(st.sampled_from(KNOWN_KEYS), st.text(max_size=20), max_size=8))
        return base64.b64encode(urlencode(fields).encode()).decode(), True
    raw = draw(st.binary(max_size=200))
    if draw(st.booleans()):
        return base64.b64encode(raw).decode(), True
    return draw(st.text(alphabet="ABCxyz=+/!", max_size=50)), True  # often invalid base64


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    path = draw(st.sampled_from([*ROUTES, "/", "/webhooks/crm/", "/other"]) | st.text(max_size=20))
    method = draw(
        st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "OPTIONS"]) | st.text(max_size=7)
    )
    headers = draw(st.dictionaries(st.text(min_size=1, max_size=15), st.text(max_size=30), max_size=4))
    content_type = draw(st.sampled_from(CONTENT_TYPES) | st.text(max_size=40))
    if content_type:
        headers["content-type"] = content_type
    token = draw(st.sampled_from([TEST_SECRET, TEST_SECRET, "wrong", "", None]) | st.text(max_size=10))
    if token is not None:
        headers["x-sync-guard-token"] = token
    query = draw(
        st.none()
        | st.dictionaries(
            st.sampled_from(["token", "event", "operation", "organization_id", "x"]),
            st.text(max_size=12),
            max_size=3,
        )
    )
    body, is_base64 = draw(bodies())
    return http_event(
        path, body, method=method, headers=headers, query=query or None, base64_encoded=is_base64
    )


SAMPLES = [
    "crm-workflow-create",
    "crm-workflow-delete",
    "crm-workflow-edit-form",
    "crm-notification-update",
    "crm-notification-insert",
    "books-create",
    "books-delete-id-only",
    "books-create-form",
    "books-edit-form-fields",
]


def _mutate(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """Replace, drop or add a few keys of a payload (one level into nested objects too)."""
    target_doc = document
    nested = [key for key, value in document.items() if isinstance(value, dict)]
    if nested and draw(st.booleans()):
        target_doc = document[draw(st.sampled_from(nested))]
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        keys = list(target_doc)
        if action == "add" or not keys:
            target_doc[draw(st.sampled_from(KNOWN_KEYS))] = draw(json_values)
        elif action == "drop":
            del target_doc[draw(st.sampled_from(keys))]
        else:
            target_doc[draw(st.sampled_from(keys))] = draw(json_values)
    return document


@st.composite
def mutated_samples(draw: st.DrawFn) -> dict[str, Any]:
    """A real sample from events/, authenticated, with a few fields of its payload broken or removed."""
    event = sample_event(draw(st.sampled_from(SAMPLES)))
    if event["isBase64Encoded"]:
        fields = dict(parse_qsl(base64.b64decode(event["body"]).decode(), keep_blank_values=True))
        mutated = _mutate(draw, fields)
        encoded = urlencode(
            {key: value if isinstance(value, str) else json.dumps(value) for key, value in mutated.items()}
        )
        event["body"] = base64.b64encode(encoded.encode()).decode()
    else:
        event["body"] = json.dumps(_mutate(draw, json.loads(event["body"])))
    return event


@st.composite
def redeliveries(draw: st.DrawFn) -> tuple[WebhookRequest, WebhookRequest]:
    """A sample as Zoho sent it, and the same delivery with only what must not matter changed: header
    names' case, the token in the query instead of the header, an explicit UTF-8 charset, base64."""
    event = sample_event(draw(st.sampled_from(SAMPLES)))
    route = Route(event["rawPath"])
    query = dict(event.get("queryStringParameters") or {})
    original = WebhookRequest.build(route, event["headers"], query, event["body"], event["isBase64Encoded"])
    headers = {draw(st.sampled_from([n, n.upper(), n.title()])): v for n, v in event["headers"].items()}
    if "x-sync-guard-token" in event["headers"] and draw(st.booleans()):
        query["token"] = event["headers"]["x-sync-guard-token"]
        headers = {name: value for name, value in headers.items() if name.lower() != "x-sync-guard-token"}
    if draw(st.booleans()):
        headers = {n: f"{v}; charset=UTF-8" if n.lower() == "content-type" else v for n, v in headers.items()}
    body, is_base64 = event["body"], event["isBase64Encoded"]
    if not is_base64 and draw(st.booleans()):
        body, is_base64 = base64.b64encode(body.encode()).decode(), True
    return original, WebhookRequest.build(route, headers, query, body, is_base64)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(pair=redeliveries())
def test_a_redelivery_in_another_dress_has_one_effect(pair: tuple[WebhookRequest, WebhookRequest]) -> None:
    from tests.unit.ingest.test_ingest_service import make_service

    store, queue = MemoryStore(), MemoryQueue()
    service = make_service(store, queue, max_body_bytes=256 * 1024)
    # given a delivery Zoho made, accepted
    first = service.ingest(pair[0])
    # when the same delivery comes again, its headers, token or encoding dressed otherwise
    again = service.ingest(pair[1])
    # then it is the same events, recognised as repeats, and queued once
    assert again.event_ids == first.event_ids
    assert again.duplicates == again.accepted == first.accepted
    assert [event.event_id for event in queue.sent] == first.event_ids


@pytest.fixture
def ingest_app(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    return fresh_module("functions.ingest.app")


@pytest.fixture
def processor_app(ingest_app: ModuleType) -> ModuleType:
    return fresh_module("functions.processor.app")


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every attribute of every record, extras included, as the JSON formatter would see them."""
    return "\n".join(json.dumps(vars(record), default=str) for record in caplog.records)


def assert_nothing_secret_logged(caplog: pytest.LogCaptureFixture) -> None:
    logs = logged(caplog)
    assert TEST_SECRET not in logs
    assert EMAIL not in logs
    assert "jane.doe@" not in logs


FUZZ_SETTINGS = settings(SHARED_FUZZ_SETTINGS, max_examples=150)


@FUZZ_SETTINGS
@given(event=requests())
def test_any_request_gets_a_json_2xx_or_4xx(
    ingest_app: ModuleType, caplog: pytest.LogCaptureFixture, event: dict[str, Any]
) -> None:
    caplog.clear()
    caplog.set_level(logging.INFO)
    response = ingest_app.lambda_handler(event, FakeLambdaContext())
    status = response["statusCode"]
    statistics_label(f"status {status}")  # `pytest --hypothesis-show-statistics` shows the mix
    target(1.0 if status == 202 else 0.0)  # steer generation towards requests that get through
    assert 200 <= status < 500, response
    document = json.loads(response["body"])
    assert isinstance(document, dict)
    if status == 202:
        assert document["accepted"] == len(document["event_ids"]) >= 1
    else:
        assert isinstance(document["error"], str)
        assert "Traceback" not in response["body"]
        assert document["field"], document  # every refusal names what was wrong
    if status == 415:
        assert document["field"] in {"Content-Type", "Content-Encoding", "body"}, document
    if status == 405:
        assert response["headers"]["Allow"] == "POST"
    assert_nothing_secret_logged(caplog)


@FUZZ_SETTINGS
@given(event=mutated_samples())
def test_mutated_zoho_payloads_get_a_202_or_a_400_naming_a_field_and_what_is_acknowledged_is_processed(
    aws: AwsResources,
    ingest_app: ModuleType,
    processor_app: ModuleType,
    caplog: pytest.LogCaptureFixture,
    event: dict[str, Any],
) -> None:
    caplog.clear()
    caplog.set_level(logging.INFO)
    response = ingest_app.lambda_handler(event, FakeLambdaContext())
    status = response["statusCode"]
    statistics_label(f"status {status}")
    document = json.loads(response["body"])
    # a Notification callback whose echoed token was broken is a 401; nothing else may fail differently
    assert status in {202, 400, 401}, response
    if status != 202:
        assert document["field"], document
    if status == 202:
        assert document["accepted"] == len(document["event_ids"]) >= 1
        # and the processor decides what was acknowledged: a failure would be retried, then dead-lettered
        messages = aws.sqs.receive_message(
            QueueUrl=aws.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if messages:
            result = processor_app.lambda_handler(sqs_event(messages), FakeLambdaContext())
            assert result == {"batchItemFailures": []}, logged(caplog)[-2000:]
            for message in messages:
                aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert_nothing_secret_logged(caplog)
