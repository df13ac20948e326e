"""Zoho webhook wire payloads -> GuardEvent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from sync_guard.errors import InvalidPayload
from sync_guard.ingest.messages import decode_message, encode_message
from sync_guard.models.events import Channel, Operation
from sync_guard.models.records import Module, RecordKind, System
from sync_guard.zoho.payloads import (
    MAX_NESTING,
    MAX_RECORD_TEXT,
    parse_books_webhook,
    parse_crm_notification,
    parse_crm_workflow,
)

PAYLOADS = Path(__file__).resolve().parents[3] / "events" / "payloads"
RECEIVED = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)


def payload(name: str) -> dict[str, Any]:
    text = (PAYLOADS / name).read_text()
    if name.endswith(".form"):
        return dict(parse_qsl(text, keep_blank_values=True))
    data: dict[str, Any] = json.loads(text)
    return data


def nested(depth: int) -> Any:
    """A value that is ``depth`` lists deep."""
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


# ------------------------------------------------------------------------------------------ CRM workflow
def test_crm_workflow_account_create_builds_event_and_record() -> None:
    event = parse_crm_workflow(payload("crm-workflow-account-create.json"), received_at=RECEIVED)
    assert event.source is System.CRM
    assert event.channel is Channel.CRM_WORKFLOW
    assert event.module is Module.CRM_ACCOUNTS
    assert event.operation is Operation.CREATE
    assert event.record_id == "5725767000003000064"
    assert event.modified_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert event.received_at == RECEIVED
    assert event.record is not None
    assert event.record.name == "Acme Ltd"
    assert event.record.postcode == "EC1A 1BB"
    assert event.record.city == "London"
    assert event.record.website == "https://acme.example.co.uk"
    assert not event.needs_enrichment


def test_crm_workflow_contact_form_fields_build_a_person() -> None:
    event = parse_crm_workflow(payload("crm-workflow-contact-edit.form"), received_at=RECEIVED)
    assert event.module is Module.CRM_CONTACTS
    assert event.operation is Operation.UPDATE
    assert event.record is not None
    assert event.record.kind is RecordKind.PERSON
    assert event.record.name == "Jane Doe"
    assert event.record.email == "jane.doe@acme.example.co.uk"
    assert event.record.phone == "+44 7700 900123"
    # the account lookup has no place on PartyRecord; it stays in the fields for the decision engine
    assert event.fields["account_id"] == "5725767000003000064"


def test_crm_workflow_event_id_is_stable_and_depends_on_modified() -> None:
    body = payload("crm-workflow-account-create.json")
    first = parse_crm_workflow(body, received_at=RECEIVED)
    again = parse_crm_workflow(dict(body), received_at=datetime(2026, 3, 2, tzinfo=UTC))
    later = parse_crm_workflow({**body, "modified": "2026-03-01T11:00:00+00:00"}, received_at=RECEIVED)
    assert first.event_id == again.event_id  # receipt time is not part of the key
    assert first.event_id.startswith("evt_")
    assert later.event_id != first.event_id


def test_two_crm_edits_within_one_second_are_two_events() -> None:
    # Zoho's modified time has whole seconds: a rename right after a save carries the same one.
    body = payload("crm-workflow-account-create.json")
    renamed = {**body, "name": f"{body['name']} Holdings"}
    first = parse_crm_workflow(body, received_at=RECEIVED)
    second = parse_crm_workflow(renamed, received_at=RECEIVED)
    assert first.modified_at == second.modified_at
    assert second.event_id != first.event_id


def test_crm_workflow_without_modified_hashes_the_body_but_not_the_token() -> None:
    body = {"event": "edit", "module": "Accounts", "id": "1", "name": "Acme"}
    one = parse_crm_workflow({**body, "token": "a"}, received_at=RECEIVED)
    two = parse_crm_workflow({**body, "token": "b"}, received_at=RECEIVED)
    other = parse_crm_workflow({**body, "name": "Acme Ltd"}, received_at=RECEIVED)
    assert one.event_id == two.event_id
    assert other.event_id != one.event_id
    assert "token" not in one.fields


def test_crm_workflow_numeric_id_and_blank_merge_fields() -> None:
    event = parse_crm_workflow(
        {
            "event": "create_or_edit",
            "module": "accounts",
            "id": 5725767000003000064,
            "name": "",
            "phone": " ",
        },
        received_at=RECEIVED,
    )
    assert event.record_id == "5725767000003000064"
    assert event.operation is Operation.UPDATE
    # nothing to match on: the processor must fetch the record
    assert event.record is None
    assert event.needs_enrichment


def test_crm_workflow_contact_carries_its_account() -> None:
    body = {"event": "create", "module": "Contacts", "id": "c1", "first_name": "Jane", "last_name": "Smith",
            "account_id": "5725767000003000064"}  # fmt: skip
    event = parse_crm_workflow(body, received_at=RECEIVED)
    assert event.record is not None
    assert event.record.account_id == "5725767000003000064"


def test_crm_workflow_delete_keeps_the_last_known_fields() -> None:
    event = parse_crm_workflow(payload("crm-workflow-contact-delete.json"), received_at=RECEIVED)
    assert event.operation is Operation.DELETE
    assert event.record is not None
    assert event.record.last_name == "Doe"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"module": "Accounts", "id": "1"}, "event"),
        ({"event": "create", "id": "1"}, "module"),
        ({"event": "create", "module": "Accounts"}, "id"),
        ({"event": "create", "module": "Accounts", "id": ""}, "id"),
        ({"event": "delete", "module": "Accounts", "id": "   "}, "id"),
        ({"event": "create", "module": "Deals", "id": "1"}, "module"),
        ({"event": "merge", "module": "Accounts", "id": "1"}, "event"),
        ({"event": "create", "module": "Accounts", "id": {"x": 1}}, "id"),
        ({"event": "create", "module": "Accounts", "id": "1", "name": ["a"]}, "name"),
        ({"event": "create", "module": "Accounts", "id": "1", "extra": nested(MAX_NESTING + 1)}, "extra"),
        ({"event": "create", "module": "Accounts", "id": "7" * 2100}, "id"),  # over DynamoDB's key size
        ({"event": "create", "module": "Accounts", "id": "${!Accounts.Id}"}, "id"),  # an unfilled merge field
        ({"event": "create", "module": "Accounts", "id": "1/actions/merge"}, "id"),
        ({"event": "create", "module": "Accounts", "id": "1", "name": "A" * (MAX_RECORD_TEXT + 1)}, "name"),
        ({"event": "create", "module": "Contacts", "id": "1", "last_name": "L" * 250_000}, "last_name"),
    ],
)
def test_crm_workflow_rejects_malformed_bodies_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_crm_workflow(body, received_at=RECEIVED)
    assert raised.value.field == field


# ------------------------------------------------------------------------------------------ Notification API
def test_notification_with_three_ids_gives_three_events_needing_enrichment() -> None:
    events = parse_crm_notification(payload("crm-notification-insert.json"), received_at=RECEIVED)
    assert [event.record_id for event in events] == [
        "5725767000003000301",
        "5725767000003000302",
        "5725767000003000303",
    ]
    assert len({event.event_id for event in events}) == 3
    for event in events:
        assert event.channel is Channel.CRM_NOTIFICATION
        assert event.operation is Operation.CREATE
        assert event.record is None
        assert event.needs_enrichment
        assert event.modified_at == datetime.fromtimestamp(1772359200, tz=UTC)
        assert "token" not in event.fields


def test_notification_update_carries_each_records_affected_values() -> None:
    events = parse_crm_notification(payload("crm-notification-update.json"), received_at=RECEIVED)
    by_id = {event.record_id: event for event in events}
    assert by_id["5725767000003000010"].fields == {"Account_Name": "ACME GmbH"}
    assert by_id["5725767000003000064"].fields == {"Phone": "+44 20 7946 0001"}


def test_notification_delete_needs_no_enrichment() -> None:
    events = parse_crm_notification(payload("crm-notification-delete.json"), received_at=RECEIVED)
    assert len(events) == 3
    assert all(
        event.operation is Operation.DELETE and event.module is Module.CRM_CONTACTS for event in events
    )
    assert not any(event.needs_enrichment for event in events)


def test_notification_event_ids_depend_on_server_time_and_channel() -> None:
    body = payload("crm-notification-insert.json")
    base = parse_crm_notification(body, received_at=RECEIVED)[0].event_id
    assert parse_crm_notification(dict(body), received_at=RECEIVED)[0].event_id == base
    assert parse_crm_notification({**body, "server_time": 1}, received_at=RECEIVED)[0].event_id != base
    assert parse_crm_notification({**body, "channel_id": "9"}, received_at=RECEIVED)[0].event_id != base


def test_notification_repeated_ids_collapse() -> None:
    body = {**payload("crm-notification-insert.json"), "ids": ["1", "1", "2"]}
    assert [event.record_id for event in parse_crm_notification(body, received_at=RECEIVED)] == ["1", "2"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ids": []}, "ids"),
        ({"ids": ["1", None]}, "ids.1"),
        ({"ids": [" "]}, "ids.0"),
        ({"operation": "merge"}, "operation"),
        ({"server_time": "soon"}, "server_time"),
        ({"server_time": 10**20}, "server_time"),
        ({"module": "Leads"}, "module"),
        ({"affected_values": [{"values": {}}]}, "affected_values.0.record_id"),
        ({"affected_values": [{"record_id": "1", "values": {"x": nested(MAX_NESTING)}}]}, "affected_values"),
        ({"ids": ["5725767000003000301", "9" * 2100]}, "ids.1"),
        ({"ids": "5725767000003000301,../Leads/1"}, "ids.1"),
    ],
)
def test_notification_rejects_malformed_bodies_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_crm_notification({**payload("crm-notification-insert.json"), **change}, received_at=RECEIVED)
    assert raised.value.field == field


# ------------------------------------------------------------------------------------------ Books
def test_books_default_payload_create_is_inferred_from_equal_times() -> None:
    event = parse_books_webhook(payload("books-create.json"), received_at=RECEIVED)
    assert event.source is System.BOOKS
    assert event.channel is Channel.BOOKS_WORKFLOW
    assert event.module is Module.BOOKS_CUSTOMERS
    assert event.operation is Operation.CREATE
    assert event.record_id == "460000000026049"
    assert event.record is not None
    assert event.record.linked_crm_id == "5725767000003000010"
    assert event.record.postcode == "10115"


def test_books_edit_is_inferred_and_explicit_event_wins() -> None:
    body = payload("books-edit.json")
    assert parse_books_webhook(body, received_at=RECEIVED).operation is Operation.UPDATE
    deleted = parse_books_webhook(payload("books-delete.json"), received_at=RECEIVED, operation="delete")
    assert deleted.operation is Operation.DELETE
    assert deleted.record is not None  # the default payload carries the last state


def test_books_jsonstring_form_and_flat_fields() -> None:
    wrapped = parse_books_webhook(payload("books-create-jsonstring.form"), received_at=RECEIVED)
    assert wrapped.record_id == "460000000026090"
    assert wrapped.operation is Operation.CREATE
    assert wrapped.record is not None
    assert wrapped.record.name == "Bright Sparks LLP"
    flat = parse_books_webhook(payload("books-edit-fields.form"), received_at=RECEIVED)
    assert flat.operation is Operation.UPDATE  # from the event field
    assert flat.record is not None
    assert flat.record.email == "accounts@acme.example.de"
    assert "event" not in flat.fields


def test_books_delete_with_only_an_id() -> None:
    event = parse_books_webhook(payload("books-delete-id-only.json"), received_at=RECEIVED)
    assert event.operation is Operation.DELETE
    assert event.record_id == "460000000026088"
    assert event.record is None
    assert not event.needs_enrichment
    wrapped = parse_books_webhook({"contact": {"contact_id": "460000000026088"}}, received_at=RECEIVED)
    assert wrapped.event_id == event.event_id


def test_books_delete_with_only_an_id_and_the_shared_token() -> None:
    # The token is the webhook's secret, not a field of the contact: the body is still an id only.
    event = parse_books_webhook({"contact_id": "460000000026088", "token": "s3cret"}, received_at=RECEIVED)
    assert event.operation is Operation.DELETE
    assert event.record is None


def test_a_padded_id_is_the_same_record_and_event() -> None:
    body = payload("books-edit.json")
    padded = {"contact": {**body["contact"], "contact_id": f" {body['contact']['contact_id']} "}}
    plain = parse_books_webhook(body, received_at=RECEIVED)
    assert parse_books_webhook(padded, received_at=RECEIVED).event_id == plain.event_id


@pytest.mark.parametrize("amount", ["NaN", "Infinity", 1e400, "-inf"])
def test_an_amount_that_is_no_number_is_left_out(amount: object) -> None:
    body = payload("books-edit.json")
    odd = {"contact": {**body["contact"], "outstanding_receivable_amount": amount}}
    event = parse_books_webhook(odd, received_at=RECEIVED)
    assert event.record is not None
    assert event.record.outstanding is None


def test_books_event_id_follows_last_modified_time() -> None:
    body = payload("books-edit.json")
    first = parse_books_webhook(body, received_at=RECEIVED).event_id
    assert parse_books_webhook(payload("books-edit.json"), received_at=RECEIVED).event_id == first
    changed = {"contact": {**body["contact"], "last_modified_time": "2026-03-05T00:00:00+0100"}}
    assert parse_books_webhook(changed, received_at=RECEIVED).event_id != first


def test_two_books_edits_within_one_second_are_two_events() -> None:
    body = payload("books-edit.json")
    renamed = {"contact": {**body["contact"], "contact_name": "Renamed Ltd"}}
    first = parse_books_webhook(body, received_at=RECEIVED)
    second = parse_books_webhook(renamed, received_at=RECEIVED)
    assert first.modified_at == second.modified_at
    assert second.event_id != first.event_id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "contact.contact_id"),
        ({"contact": {}}, "contact.contact_id"),
        ({"contact": {"contact_id": ""}}, "contact.contact_id"),
        ({"contact": {"contact_id": "  "}}, "contact.contact_id"),
        ({"contact_id": " "}, "contact_id"),
        ({"contact": "x"}, "contact"),
        ({"contact": {"contact_id": "1", "contact_persons": 5}}, "contact.contact_persons"),
        ({"contact": {"contact_id": "1", "billing_address": "x"}}, "contact.billing_address"),
        ({"JSONString": "{not json"}, "JSONString"),
        ({"JSONString": "[1]"}, "JSONString"),
        ({"contact_id": "1", "event": "merge"}, "event"),
        ({"contact": {"contact_id": "1", "custom_fields": nested(MAX_NESTING + 1)}}, "contact.custom_fields"),
        ({"contact": {"contact_id": "4" * 2100}}, "contact.contact_id"),
        ({"contact_id": "${contact.contact_id}"}, "contact_id"),  # an unfilled placeholder
        ({"contact": {"contact_id": "1", "contact_name": "A" * 250_000}}, "contact.contact_name"),
        (
            {
                "contact": {
                    "contact_id": "1",
                    "contact_persons": [{"first_name": "F" * (MAX_RECORD_TEXT + 1)}],
                }
            },
            "contact.contact_persons.0.first_name",
        ),
        (
            {"contact": {"contact_id": "1", "billing_address": {"address": "a" * (MAX_RECORD_TEXT + 1)}}},
            "contact.billing_address.address",
        ),
        ({"JSONString": "[" * 100_000}, "JSONString"),  # deeper than Python's JSON reader goes
    ],
)
def test_books_rejects_malformed_bodies_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_books_webhook(body, received_at=RECEIVED)
    assert raised.value.field == field


@pytest.mark.parametrize(
    "parse",
    [
        lambda value: [
            parse_crm_workflow(
                {"event": "edit", "module": "Accounts", "id": "1", "x": value}, received_at=RECEIVED
            )
        ],
        lambda value: parse_crm_notification(
            {
                **payload("crm-notification-insert.json"),
                # affected_values, its entry and values are three of the levels already
                "affected_values": [{"record_id": "5725767000003000301", "values": {"x": value[0][0][0]}}],
            },
            received_at=RECEIVED,
        ),
        lambda value: [
            parse_books_webhook(
                {"contact": {"contact_id": "1", "contact_name": "A", "x": value}}, received_at=RECEIVED
            )
        ],
    ],
)
def test_the_deepest_accepted_value_survives_the_queue_message(parse: Any) -> None:
    # given a payload nested as deep as ingestion accepts
    events = parse(nested(MAX_NESTING))
    # then the processor can read each event back from its queue message
    for event in events:
        assert decode_message(encode_message(event)).event == event


@pytest.mark.parametrize("link", ["9" * 2100, "${!Contacts.Account_Name.id}", "1/actions/merge"])
def test_a_link_that_is_no_zoho_id_is_read_as_absent_not_refused(link: str) -> None:
    # given an unresolved lookup or a value too long for a key, where the id of a linked record goes
    crm = {"event": "edit", "module": "Contacts", "id": "1", "last_name": "Doe", "account_id": link}
    books = {"contact": {"contact_id": "2", "contact_name": "Acme", "zcrm_account_id": link}}
    # then the event is kept, without the link
    crm_record = parse_crm_workflow(crm, received_at=RECEIVED).record
    books_record = parse_books_webhook(books, received_at=RECEIVED).record
    assert crm_record is not None
    assert crm_record.account_id is None
    assert books_record is not None
    assert books_record.linked_crm_id is None
