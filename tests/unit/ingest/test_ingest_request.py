"""Reading the body out of the API Gateway request, with the size limit applied first."""

from __future__ import annotations

import base64

import pytest

from sync_guard.errors import InvalidPayload, PayloadTooLarge
from sync_guard.ingest.request import Route, WebhookRequest, body_bytes


def request(body: str | None, *, b64: bool = False) -> WebhookRequest:
    return WebhookRequest.build(Route.CRM_WORKFLOW, {"Content-Type": "application/json"}, None, body, b64)


def test_header_names_are_lower_cased() -> None:
    assert request("{}").content_type == "application/json"


def test_plain_and_base64_bodies() -> None:
    assert body_bytes(request("{}"), 10) == b"{}"
    assert body_bytes(request(base64.b64encode(b"a=1").decode(), b64=True), 10) == b"a=1"
    assert body_bytes(request(None), 10) == b""


def test_limit_is_inclusive_and_counts_bytes_not_characters() -> None:
    assert body_bytes(request("x" * 10), 10) == b"x" * 10
    with pytest.raises(PayloadTooLarge):
        body_bytes(request("x" * 11), 10)
    with pytest.raises(PayloadTooLarge):
        body_bytes(request("é" * 6), 10)  # 12 bytes of UTF-8


def test_base64_bodies_are_measured_before_and_after_decoding() -> None:
    encoded = base64.b64encode(b"y" * 11).decode()
    with pytest.raises(PayloadTooLarge):
        body_bytes(request(encoded, b64=True), 10)
    with pytest.raises(PayloadTooLarge):
        body_bytes(request("A" * 10_000, b64=True), 10)  # refused without decoding


@pytest.mark.parametrize(
    ("body", "b64"), [("x" * 11, False), ("A" * 10_000, True), ("eXl5eXl5eXl5eXl5", True)]
)
def test_a_body_over_the_limit_is_a_413_naming_the_body(body: str, b64: bool) -> None:
    with pytest.raises(PayloadTooLarge) as raised:
        body_bytes(request(body, b64=b64), 10)
    assert raised.value.to_body()["field"] == "body"


@pytest.mark.parametrize(
    ("query", "raw_query", "values"),
    [
        # an HTTP API joins a repeated parameter's values with commas; the raw string keeps them apart
        ({"organization_id": "1,2"}, "organization_id=1&organization_id=2", ["1", "2"]),
        ({"organization_id": "1,1"}, "event=create&organization_id=1&organization_id=1", ["1", "1"]),
        ({"organization_id": "1,2"}, "organization_id=1%2C2", ["1,2"]),  # one value holding a comma
        ({"organization_id": ""}, "organization_id", [""]),
        ({"organization_id": "1"}, "", ["1"]),  # a hand-made event without the raw string
        ({"organization_id": "1"}, "event=create", ["1"]),  # ... or whose raw string lacks it
        ({"organization_id": "1+,+2"}, "organization_id=1+&organization_id=%2B2", ["1 ", "+2"]),  # as a form
        ({}, "", []),
    ],
)
def test_query_values_are_read_from_the_raw_query_string(
    query: dict[str, str], raw_query: str, values: list[str]
) -> None:
    webhook = WebhookRequest.build(Route.BOOKS, {}, query, None, raw_query=raw_query)
    assert webhook.query_values("organization_id") == values


def test_invalid_base64_is_a_400() -> None:
    with pytest.raises(InvalidPayload) as raised:
        body_bytes(request("not base64!", b64=True), 100)
    assert raised.value.field == "body"
