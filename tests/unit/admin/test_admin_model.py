"""Admin inputs: record references are checked before anything is read or written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync_guard.admin.actions import UNDO, release_expected_state
from sync_guard.admin.dlq import _subject
from sync_guard.admin.http import caller_actor
from sync_guard.admin.model import parse_ref
from sync_guard.errors import Forbidden, InvalidPayload
from sync_guard.guard.model import ActionKind
from sync_guard.zoho.payloads import parse_crm_workflow


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("crm:5725767000003000064", None, "crm:5725767000003000064"),
        (" books:460000000026101 ", None, "books:460000000026101"),
        ("5725767000003000064", "crm", "crm:5725767000003000064"),
        ("books:46", "books", "books:46"),
    ],
)
def test_refs_are_normalised(text: str, default: str | None, expected: str) -> None:
    assert parse_ref(text, default_system=default) == expected


@pytest.mark.parametrize(
    ("text", "default"),
    [("", None), ("crm:", None), ("zoho:1", None), ("1", None), ("books:1", "crm"), ("crm:1;drop", None)],
)
def test_bad_refs_are_refused_naming_the_field(text: str, default: str | None) -> None:
    with pytest.raises(InvalidPayload) as caught:
        parse_ref(text, default_system=default, field="hold_id")
    assert caught.value.field == "hold_id"


NO_IDS = ["", "x" * 65, "١٢٣", "①", "1 2", "1.2", "${!Accounts.Id}"]


@pytest.mark.parametrize("record_id", ["5725767000003000064", "abc-DEF_9", "-", "x" * 64, *NO_IDS])
def test_an_id_is_a_ref_s_id_exactly_when_a_webhook_takes_it_as_a_record_s_id(record_id: str) -> None:
    # one definition for both: a record the guard stored from a webhook can be named to the admin API and CLI
    body = {"event": "create", "module": "Accounts", "id": record_id, "name": "Acme Ltd"}
    try:
        parse_crm_workflow(body, received_at=datetime(2026, 3, 1, tzinfo=UTC))
        ingested = True
    except InvalidPayload:
        ingested = False
    try:
        addressed = parse_ref(f"crm:{record_id}") == f"crm:{record_id}"
    except InvalidPayload:
        addressed = False
    assert addressed == ingested
    assert ingested == (record_id not in NO_IDS)


def test_every_hold_has_an_undo_whose_echo_is_recognisable() -> None:
    assert UNDO == {
        ActionKind.TAG_CRM_RECORD: ActionKind.UNTAG_CRM_RECORD,
        ActionKind.MARK_BOOKS_INACTIVE: ActionKind.MARK_BOOKS_ACTIVE,
    }
    assert release_expected_state(ActionKind.MARK_BOOKS_ACTIVE, "t") == {"active": True}
    assert release_expected_state(ActionKind.UNTAG_CRM_RECORD, "t") == {"crm_tag_removed": "t"}


def test_the_actor_is_the_iam_caller_and_never_a_header_on_aws() -> None:
    event = {
        "headers": {"X-Sync-Guard-Actor": "mallory"},
        "requestContext": {"authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/ann"}}},
    }
    assert caller_actor(event, local=False) == "arn:aws:iam::1:user/ann"
    unsigned = {"headers": {"X-Sync-Guard-Actor": "mallory"}, "requestContext": {}}
    with pytest.raises(Forbidden):
        caller_actor(unsigned, local=False)
    assert caller_actor(unsigned, local=True) == "local:mallory"


def test_replayed_messages_are_named_by_what_they_carry() -> None:
    assert _subject('{"action_id": "act_1"}') == "action_id=act_1"
    assert _subject('{"event_id": "evt_1", "event": {}}') == "event_id=evt_1"
    assert _subject("not json") == "not json"
