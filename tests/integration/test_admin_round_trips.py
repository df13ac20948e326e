"""What each admin operation reads from DynamoDB, counted on the suite's real DynamoDB-API server: each
item once, however many of the operation's steps need it, and the items it can name up front in one
round trip (a list of holds and their records' names)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from sync_guard.admin.service import AdminService
from sync_guard.config import Mode, get_settings
from sync_guard.guard.model import PairSource, RecordState
from sync_guard.store import aws
from sync_guard.store.shadow import hold_key, state_item
from tests.support.aws import AwsResources
from tests.unit.guard.builders import books_customer, crm_account, state


@dataclass
class Calls:
    """The DynamoDB requests made, in order, and each item read (table, key) as often as it was read."""

    operations: list[str] = field(default_factory=list)
    reads: list[tuple[str, str]] = field(default_factory=list)

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.operations.append(model.name)
        if model.name == "GetItem":
            self.reads.append(_item(params["TableName"], params["Key"]))
        elif model.name == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                self.reads.extend(_item(table, key) for key in request["Keys"])

    @property
    def read_requests(self) -> list[str]:
        return [name for name in self.operations if name in ("GetItem", "BatchGetItem", "Query", "Scan")]

    @property
    def read_twice(self) -> list[tuple[str, str]]:
        return sorted({read for read in self.reads if self.reads.count(read) > 1})


def _item(table: str, key: dict[str, Any]) -> tuple[str, str]:
    return table, "/".join(str(next(iter(key[part].values()))) for part in sorted(key))


@contextmanager
def counted() -> Iterator[Calls]:
    """The requests the guard's DynamoDB client makes in the ``with`` block."""
    calls = Calls()
    events = aws.client("dynamodb", get_settings()).meta.events
    events.register("provide-client-params.dynamodb", calls.record, unique_id="admin-round-trips")
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.dynamodb", unique_id="admin-round-trips")


def _known(server: AwsResources, *states: RecordState) -> None:
    for known in states:
        server.dynamodb.put_item(
            TableName=server.environment["SYNC_GUARD_SHADOW_TABLE"],
            Item=state_item(known.model_copy(update={"rev": 1})),
        )


@pytest.fixture
def service(aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch) -> AdminService:
    monkeypatch.setenv("SYNC_GUARD_MODE", Mode.ENFORCE.value)
    get_settings.cache_clear()
    return AdminService.from_settings(get_settings())


def test_listing_holds_reads_their_records_names_in_one_round_trip(
    aws_server: AwsResources, service: AdminService
) -> None:
    # given three records held
    _known(aws_server, *(state(crm_account(str(n), f"Acme {n}")) for n in range(1, 4)))
    for n in range(1, 4):
        service.hold(f"crm:{n}", actor="user:alice")

    # when an admin lists the holds
    with counted() as calls:
        holds = service.list_holds()

    # then each comes with its record's name, read together (before: one GetItem per hold)
    assert sorted(h.name for h in holds) == ["Acme 1", "Acme 2", "Acme 3"]
    assert calls.read_requests == ["Query", "BatchGetItem"]


def test_releasing_a_hold_listed_nowhere_reads_its_state_and_decision_once(
    aws_server: AwsResources, service: AdminService
) -> None:
    # given a record held (its state marked) whose HOLD item a crash lost
    _known(aws_server, state(crm_account("1", "Acme Ltd")))
    held = service.hold("crm:1", actor="user:alice")
    shadow_table = aws_server.environment["SYNC_GUARD_SHADOW_TABLE"]
    aws_server.dynamodb.delete_item(TableName=shadow_table, Key=hold_key("crm:1"))

    # when an admin releases it
    with counted() as calls:
        released = service.release("crm:1", actor="user:bob")

    # then it is released from the mark, reading the HOLD item, the state, the decision and its action,
    # each once (before: the state and the decision were read twice)
    assert released.detail["cancelled"] == [held.queued_actions[0]]
    assert calls.read_twice == []
    assert calls.read_requests == ["GetItem"] * 4


def test_releasing_a_listed_hold_reads_each_item_once(
    aws_server: AwsResources, service: AdminService
) -> None:
    _known(aws_server, state(crm_account("1", "Acme Ltd")))
    service.hold("crm:1", actor="user:alice")

    with counted() as calls:
        service.release("crm:1", actor="user:bob")

    # the HOLD item, the state, the decision, the hold action
    assert calls.read_twice == []
    assert calls.read_requests == ["GetItem"] * 4


def test_confirming_reads_the_survivor_and_the_held_record_together(
    aws_server: AwsResources, service: AdminService
) -> None:
    _known(aws_server, state(crm_account("1", "Acme Ltd")), state(crm_account("2", "Acme Limited")))
    service.hold("crm:2", actor="user:alice")

    with counted() as calls:
        confirmed = service.confirm("crm:2", survivor="crm:1", actor="user:alice")

    assert confirmed.entry.names == {"crm:1": "Acme Ltd", "crm:2": "Acme Limited"}
    assert calls.read_requests == ["GetItem", "BatchGetItem"]  # the HOLD item, then both states


def test_linking_two_records_paired_elsewhere_reads_in_three_round_trips(
    aws_server: AwsResources, service: AdminService
) -> None:
    # given crm:1002 paired with books:2001 and crm:1004 with books:2003
    _known(
        aws_server,
        state(crm_account("1002", "Oak"), partner="books:2001", pair_source=PairSource.INFERRED),
        state(books_customer("2001", "Oak"), partner="crm:1002", pair_source=PairSource.INFERRED),
        state(crm_account("1004", "Ash"), partner="books:2003", pair_source=PairSource.INFERRED),
        state(books_customer("2003", "Ash"), partner="crm:1004", pair_source=PairSource.INFERRED),
    )

    # when an admin links crm:1002 with books:2003
    with counted() as calls:
        linked = service.link("1002", "2003", actor="user:erin")

    # then both former partners are unpaired, after reading the pair, Zoho's link of the CRM record and
    # the former partners (before: five GetItems, one per record and the key)
    assert sorted(linked.detail["unpaired"]) == ["books:2001", "crm:1004"]
    assert calls.read_requests == ["BatchGetItem", "GetItem", "BatchGetItem"]
    assert calls.read_twice == []
