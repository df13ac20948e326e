"""The executor's batch reads and writes (its decision context's states, its remembered notices) when
DynamoDB leaves keys or items unprocessed: they wait longer each round, then give up as throttled."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sync_guard.config import get_settings
from sync_guard.errors import Throttled
from sync_guard.executor.dynamo import DynamoDecisionContext, DynamoSentNotices
from sync_guard.guard.model import RecordState
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.store import shadow as shadow_store
from sync_guard.store.audit import AuditLog
from sync_guard.store.shadow import state_item
from tests.support.aws import AwsResources
from tests.support.dynamo_faults import UnprocessedItems, UnprocessedKeys

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits before each round that asks again for what was left unprocessed, none of them slept."""
    seen: list[float] = []
    monkeypatch.setattr(shadow_store, "_wait_before_unprocessed", seen.append)
    return seen


def _context(client: object) -> DynamoDecisionContext:
    settings = get_settings()
    return DynamoDecisionContext(
        client, audit=AuditLog.from_settings(settings), shadow_table=settings.shadow_table
    )


def test_states_left_unprocessed_are_read_after_waits_longer_each_round(
    aws: AwsResources, waits: list[float]
) -> None:
    # given a record's state, and a server that throttles the next three reads of it
    record = PartyRecord(system=System.CRM, module=Module.CRM_ACCOUNTS, record_id="1", name="Acme Ltd")
    aws.dynamodb.put_item(
        TableName=get_settings().shadow_table, Item=state_item(RecordState(record=record, version=1))
    )

    states = _context(UnprocessedKeys(aws.dynamodb, times=3)).states(["crm:1"])

    assert set(states) == {"crm:1"}
    assert len(waits) == 3
    assert waits == sorted(set(waits))


def test_states_left_unprocessed_round_after_round_give_up_as_throttled(
    aws: AwsResources, waits: list[float]
) -> None:
    with pytest.raises(Throttled):
        _context(UnprocessedKeys(aws.dynamodb)).states(["crm:1"])
    assert 0 < len(waits) < 10
    assert sum(waits) < 5


def test_notices_left_unprocessed_are_remembered_after_waits_longer_each_round(
    aws: AwsResources, waits: list[float]
) -> None:
    table = get_settings().shadow_table
    DynamoSentNotices(UnprocessedItems(aws.dynamodb, times=2), table).remember({"ntf_a"}, now=NOW)

    # then the notice counts as sent: no executor claims it again
    assert DynamoSentNotices(aws.dynamodb, table).claim({"ntf_a"}, now=NOW, lease_seconds=120).keys == set()
    assert len(waits) == 2
    assert waits == sorted(set(waits))


def test_notices_left_unprocessed_round_after_round_give_up_as_throttled(
    aws: AwsResources, waits: list[float]
) -> None:
    with pytest.raises(Throttled):
        DynamoSentNotices(UnprocessedItems(aws.dynamodb), get_settings().shadow_table).remember(
            {"ntf_a"}, now=NOW
        )
    assert 0 < len(waits) < 10
    assert sum(waits) < 5


def test_states_are_read_strongly_consistent(aws: AwsResources) -> None:
    # given a record's state just written, and a client that notes every batch read it is asked
    record = PartyRecord(system=System.CRM, module=Module.CRM_CONTACTS, record_id="7", name="Ann Lee")
    table = get_settings().shadow_table
    aws.dynamodb.put_item(TableName=table, Item=state_item(RecordState(record=record, version=1)))
    asked: list[dict[str, Any]] = []
    aws.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem",
        lambda params, **_: asked.append(params["RequestItems"]),
        unique_id="note-batch-reads",
    )

    # when the executor reads the states of the records its actions are about
    states = _context(aws.dynamodb).states(["crm:7", "crm:8"])

    # then it found the state (a Contacts record: not taken for an Account), with reads that see the
    # transaction which queued the action, however soon after it
    assert states["crm:7"].record.module is Module.CRM_CONTACTS
    assert asked
    assert all(request[table].get("ConsistentRead") is True for request in asked)
