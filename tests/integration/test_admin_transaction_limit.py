"""Admin operations on the local stack's DynamoDB server, which takes at most 10 items per transaction
(DynamoDB Local; AWS takes 100).

An operation's audit entry is one item per record and rule it names besides three more, so an operation
naming several records or rules outgrows 10 items with its writes. The entry's primary item and the writes
stay one transaction; the entry's query views follow it (``DynamoAdminRepository``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sync_guard.admin.model import HoldStatus
from sync_guard.admin.service import AdminService
from sync_guard.cli import app
from sync_guard.config import Mode, get_settings
from sync_guard.errors import Conflict
from sync_guard.guard.model import PairSource, RecordState
from sync_guard.local.dynamodb import RunningServer
from sync_guard.local.zoho_simulator import ZohoSimulator
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.shadow import STATE_SK, DynamoShadowRepository, TransactionTooLarge, state_item
from tests.support.aws import AwsResources
from tests.support.dynamo_faults import DYNAMODB_LOCAL_TRANSACTION_ITEMS, refuse_transactions_over
from tests.support.local import serve_on
from tests.unit.guard.builders import books_customer, crm_account, state

runner = CliRunner()


@pytest.fixture
def local_server(
    aws_server: AwsResources, dynamodb_endpoint: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> AwsResources:
    """The integration suite's DynamoDB-API server with DynamoDB Local's limit: DynamoDB Local has it; moto's
    server (standing in without Java) takes 100, so the guard's clients refuse more than 10 themselves."""
    if dynamodb_endpoint.kind != "dynamodb-local":
        made = aws.client

        def limited(service: str, settings: Any, **kwargs: Any) -> Any:
            client = made(service, settings, **kwargs)
            return refuse_transactions_over(client) if service == "dynamodb" else client

        monkeypatch.setattr(aws, "client", limited)
    return aws_server


@pytest.fixture
def sim() -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=11) as simulator:
        yield simulator


def _tables(server: AwsResources) -> tuple[DynamoShadowRepository, AuditLog]:
    env = server.environment
    shadow = DynamoShadowRepository(
        server.dynamodb,
        shadow_table=env["SYNC_GUARD_SHADOW_TABLE"],
        audit_table=env["SYNC_GUARD_AUDIT_TABLE"],
        outbox_table=env["SYNC_GUARD_OUTBOX_TABLE"],
    )
    return shadow, AuditLog(server.dynamodb, env["SYNC_GUARD_AUDIT_TABLE"])


def _known(server: AwsResources, *states: RecordState) -> None:
    """The shadow knows ``states`` (revision 1), as events left them."""
    for known in states:
        server.dynamodb.put_item(
            TableName=server.environment["SYNC_GUARD_SHADOW_TABLE"],
            Item=state_item(known.model_copy(update={"rev": 1})),
        )


def _pairs(server: AwsResources, *pairs: tuple[str, str]) -> None:
    """Each CRM account and Books customer of ``pairs`` (ids) known to the shadow, paired by the engine."""
    states = []
    for crm_id, books_id in pairs:
        crm, books = f"crm:{crm_id}", f"books:{books_id}"
        states.append(
            state(crm_account(crm_id, f"Company {crm_id}"), partner=books, pair_source=PairSource.INFERRED)
        )
        states.append(
            state(books_customer(books_id, f"Company {crm_id}"), partner=crm, pair_source=PairSource.INFERRED)
        )
    _known(server, *states)


def _audit_items(entry_records: int, rules: int) -> int:
    """Items of an admin entry: its primary item, month and decision views, one per record and rule."""
    return 3 + entry_records + rules


def test_link_of_two_records_paired_elsewhere_commits_through_the_cli(
    local_server: AwsResources, sim: ZohoSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given crm:1002 paired with books:2001 and books:2003 with crm:1004: the link writes four states and
    # an entry naming the four records, 4 + 7 items
    _pairs(local_server, ("1002", "2001"), ("1004", "2003"))
    assert 4 + _audit_items(4, 0) > DYNAMODB_LOCAL_TRANSACTION_ITEMS
    state_dir = tmp_path / "stack"
    serve_on(local_server, sim, state_dir, monkeypatch)

    # when an admin links them against the running local guard
    result = runner.invoke(
        app,
        ["link", "--crm", "1002", "--books", "2003", "--actor", "user:erin", "--state-dir", str(state_dir)],
    )

    # then the pair is made and both former partners are unpaired
    assert result.exit_code == 0, result.output
    assert "Linked crm:1002 and books:2003, by user:erin" in result.output
    shadow, audit = _tables(local_server)
    linked = {ref: shadow.get_state(ref) for ref in ("crm:1002", "books:2003", "books:2001", "crm:1004")}
    assert {ref: (s.partner, s.pair_source) for ref, s in linked.items() if s is not None} == {
        "crm:1002": ("books:2003", PairSource.ADMIN),
        "books:2003": ("crm:1002", PairSource.ADMIN),
        "books:2001": (None, None),
        "crm:1004": (None, None),
    }
    # and the entry is listed under every record it names, as on AWS
    for ref in linked:
        [entry] = audit.iterate(AuditQuery(record=ref))
        assert (entry.operation, entry.actor) == ("link", "user:erin")
    assert [e.operation for e in audit.iterate(AuditQuery(decision="admin"))] == ["link"]


def test_a_split_link_that_loses_a_race_writes_no_state_and_no_entry(
    local_server: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a link of two records paired elsewhere, too large for one transaction with its whole entry,
    # whose last state (a former partner's) an event moves on after the admin read it
    _pairs(local_server, ("1002", "2001"), ("1004", "2003"))
    service = AdminService.from_settings(get_settings())
    write_states = service.repository.write_states

    def an_event_commits_first(*args: Any, **kwargs: Any) -> None:
        local_server.dynamodb.update_item(
            TableName=local_server.environment["SYNC_GUARD_SHADOW_TABLE"],
            Key={"pk": {"S": "REC#crm:1004"}, "sk": {"S": STATE_SK}},
            UpdateExpression="SET rev = rev + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        write_states(*args, **kwargs)

    monkeypatch.setattr(service.repository, "write_states", an_event_commits_first)

    # when the link is made
    with pytest.raises(Conflict) as raced:
        service.link("crm:1002", "books:2003", actor="user:erin")

    # then no state moved (not even those whose revision held), and the trail has no link, by id or query
    assert "run it again" in raced.value.message
    shadow, audit = _tables(local_server)
    partners = {ref: getattr(shadow.get_state(ref), "partner", "?") for ref in ("crm:1002", "books:2003")}
    assert partners == {"crm:1002": "books:2001", "books:2003": "crm:1004"}
    assert list(audit.iterate(AuditQuery(decision="admin"))) == []
    assert list(audit.iterate(AuditQuery(record="crm:1002"))) == []


def test_forget_release_across_two_pairs_commits(local_server: AwsResources) -> None:
    # given two pairs whose four records were each released as not duplicates of the other pair's: the
    # forget writes four states and an entry naming four records
    cleared = {"crm:1": "crm:2", "books:1": "books:2", "crm:2": "crm:1", "books:2": "books:1"}
    states = [
        state(crm_account(n, f"Company {n}"), partner=f"books:{n}", cleared=frozenset({cleared[f"crm:{n}"]}))
        for n in ("1", "2")
    ] + [
        state(
            books_customer(n, f"Company {n}"), partner=f"crm:{n}", cleared=frozenset({cleared[f"books:{n}"]})
        )
        for n in ("1", "2")
    ]
    _known(local_server, *states)
    assert 4 + _audit_items(4, 0) > DYNAMODB_LOCAL_TRANSACTION_ITEMS

    result = AdminService.from_settings(get_settings()).forget_release(
        "crm:1", against="crm:2", actor="user:bob"
    )

    shadow, audit = _tables(local_server)
    assert all(getattr(shadow.get_state(ref), "cleared", None) == frozenset() for ref in cleared)
    assert set(result.entry.records) == set(cleared)
    assert [e.entry_id for e in audit.iterate(AuditQuery(record="books:2"))] == [result.entry.entry_id]


def test_a_hold_naming_many_rules_and_records_is_held_applied_confirmed_and_released(
    local_server: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a record held in observe mode by hand, naming three related records and five rules: each
    # operation on the hold names the five rules (hold: 4 writes + 11 entry items; apply: 3 + 9; confirm:
    # 1 + 10; release: 2 + 9)
    monkeypatch.setenv("SYNC_GUARD_MODE", Mode.ENFORCE.value)
    get_settings.cache_clear()
    _known(local_server, state(crm_account("7", "Acme Ltd")), state(crm_account("73", "Acme Limited")))
    rules = (
        "NAME_DRIFT",
        "CREATED_IN_BOOKS",
        "SAME_SIDE_DUPLICATE",
        "EMAIL_MISMATCH",
        "DISPLAY_NAME_COLLISION",
    )
    related = ("books:71", "books:72", "crm:73")
    service = AdminService.from_settings(get_settings())

    held = service.hold("crm:7", actor="user:ann", rules=rules, related=related, mode=Mode.OBSERVE)
    applied = service.apply("crm:7", actor="user:ann")
    confirmed = service.confirm("crm:7", survivor="crm:73", actor="user:ann")
    hold = service.repository.hold("crm:7")
    released = service.release("crm:7", actor="user:ann")

    assert hold is not None
    assert (hold.status, hold.applied_by, hold.survivor) == (
        HoldStatus.CONFIRMED,
        applied.entry.entry_id,
        "crm:73",
    )
    assert service.repository.hold("crm:7") is None
    # and each entry is listed under its record and each of its rules
    audit = _tables(local_server)[1]
    entries = {result.entry.entry_id for result in (held, applied, confirmed, released)}
    assert {e.entry_id for e in audit.iterate(AuditQuery(record="crm:7"))} == entries
    for rule in rules:
        assert {e.entry_id for e in audit.iterate(AuditQuery(rule=rule))} == entries


def test_an_operation_whose_writes_outgrow_the_servers_limit_is_refused_and_writes_nothing(
    local_server: AwsResources,
) -> None:
    # given a server that takes three items per transaction, fewer than a link's entry and four states
    _pairs(local_server, ("1002", "2001"), ("1004", "2003"))
    service = AdminService.from_settings(get_settings())
    refuse_transactions_over(service.repository.shadow._client, 3)

    # when the link is made, then it is refused as too large, rather than split between its states
    with pytest.raises(TransactionTooLarge):
        service.link("crm:1002", "books:2003", actor="user:erin")

    shadow, audit = _tables(local_server)
    assert getattr(shadow.get_state("crm:1002"), "partner", None) == "books:2001"
    assert list(audit.iterate(AuditQuery(decision="admin"))) == []
