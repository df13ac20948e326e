"""The shadow repository on moto's DynamoDB, tables built from template.yaml."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from typer.testing import CliRunner

from sync_guard.admin.dynamo import DynamoAdminRepository, hold_put
from sync_guard.admin.model import Hold
from sync_guard.admin.service import AdminService
from sync_guard.config import Mode, get_settings
from sync_guard.errors import ConcurrentUpdate, Conflict, Throttled
from sync_guard.guard.engine import Guard, GuardConfig, shadow_keys
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import (
    ActionKind,
    AuditEntry,
    Decision,
    EntryKind,
    OutboxAction,
    PairSource,
    action_id_for,
)
from sync_guard.guard.policy import Policy
from sync_guard.guard.ports import (
    BreakerChange,
    CommitPlan,
    EventAlreadyProcessed,
    HeldRecord,
    KeyChange,
    SnapshotRequest,
    StateWrite,
)
from sync_guard.models.events import Operation
from sync_guard.store import shadow as shadow_store
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.bulk import ShadowSeeder
from sync_guard.store.outbox import NOT_EXECUTED, PENDING, Outbox
from sync_guard.store.shadow import AWS_TRANSACTION_ITEMS, DynamoShadowRepository
from sync_guard.zoho.payloads import parse_books_webhook
from tests.support.aws import AwsResources
from tests.support.dynamo_faults import (
    TransactionConflicts,
    UnprocessedItems,
    UnprocessedKeys,
    transaction_too_large,
)
from tests.unit.guard.builders import T0, at, books_customer, crm_account, event_for, state
from tests.unit.guard.fakes import FakeTime


@pytest.fixture
def repo(aws: AwsResources) -> DynamoShadowRepository:
    return DynamoShadowRepository.from_settings(get_settings())


def entry(entry_id: str, *, records: tuple[str, ...] = (), minutes: float = 0, **fields: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "entry_id": entry_id,
        "at": at(minutes),
        "kind": EntryKind.DECISION,
        "decision": Decision.ALLOW,
        "mode": Mode.OBSERVE,
        "event_id": entry_id,
        "records": records,
    }
    return AuditEntry(**(values | fields))


def create_plan(entry_id: str, record_state: Any, *, keys: dict[str, int | None]) -> CommitPlan:
    return CommitPlan(
        entry=entry(entry_id, records=(record_state.ref,)),
        state_writes=(StateWrite(record_state.model_copy(update={"rev": 1}), None),),
        key_changes=tuple(
            KeyChange(key, add=frozenset({record_state.ref}), expected_rev=rev) for key, rev in keys.items()
        ),
    )


def test_commit_then_snapshot_finds_the_record_through_its_keys(repo: DynamoShadowRepository) -> None:
    # given a CRM account indexed under two keys
    acme = state(crm_account("1", "Acme Ltd"), keys=frozenset({"n:acme", "p:+442079460000"}))
    repo.commit(create_plan("evt_1", acme, keys={"n:acme": None, "p:+442079460000": None}))

    # when a Books customer sharing one key is looked up
    snapshot = repo.read_snapshot(
        SnapshotRequest(event_id="evt_2", entry_id="evt_2", ref="books:9", keys=frozenset({"n:acme"}))
    )

    # then the account is a candidate, read in full, and the key knows its owner and revision
    assert not snapshot.already_processed
    assert snapshot.own is None
    assert snapshot.others["crm:1"].record.name == "Acme Ltd"
    assert snapshot.others["crm:1"].rev == 1
    assert snapshot.keys["n:acme"].members == {"crm:1"}
    assert snapshot.keys["n:acme"].owner == "crm:1"
    assert snapshot.keys["n:acme"].rev == 1


def test_a_recorded_event_is_reported_as_processed_and_cannot_commit_twice(
    repo: DynamoShadowRepository,
) -> None:
    acme = state(crm_account("1", "Acme Ltd"), keys=frozenset({"n:acme"}))
    repo.commit(create_plan("evt_1", acme, keys={"n:acme": None}))

    snapshot = repo.read_snapshot(SnapshotRequest(event_id="evt_1", entry_id="evt_1", ref="crm:1"))
    assert snapshot.already_processed

    renamed = acme.model_copy(update={"record": crm_account("1", "Acme Renamed"), "rev": 2})
    with pytest.raises(EventAlreadyProcessed):
        repo.commit(
            CommitPlan(entry=entry("evt_1", records=("crm:1",)), state_writes=(StateWrite(renamed, 1),))
        )
    current = repo.get_state("crm:1")
    assert current is not None
    assert current.record.name == "Acme Ltd"  # the whole transaction was cancelled


def test_a_write_against_a_stale_revision_is_a_concurrent_update(repo: DynamoShadowRepository) -> None:
    acme = state(crm_account("1", "Acme Ltd"))
    repo.commit(create_plan("evt_1", acme, keys={}))
    stale = acme.model_copy(update={"record": crm_account("1", "Acme X", minutes=5), "rev": 5})
    with pytest.raises(ConcurrentUpdate):
        repo.commit(CommitPlan(entry=entry("evt_2"), state_writes=(StateWrite(stale, 4),)))
    # and nothing of the cancelled transaction was written, its audit entry included
    assert AuditLog.from_settings(get_settings()).get("evt_2") is None


def test_two_creates_of_one_record_are_a_concurrent_update(repo: DynamoShadowRepository) -> None:
    # given two events that both read the record as absent (no keys to collide on)
    acme = state(crm_account("1", "Acme Ltd"))
    repo.commit(create_plan("evt_1", acme, keys={}))
    # when the second writes its create too, the state's own condition refuses it
    renamed = acme.model_copy(update={"record": crm_account("1", "Acme Renamed", minutes=5)})
    with pytest.raises(ConcurrentUpdate):
        repo.commit(create_plan("evt_2", renamed, keys={}))
    current = repo.get_state("crm:1")
    assert current is not None
    assert current.record.name == "Acme Ltd"


def test_a_key_read_but_not_written_is_checked_at_the_revision_read(repo: DynamoShadowRepository) -> None:
    # given a key read at revision 1, which another event then changes
    first = state(crm_account("1", "Acme Ltd"), keys=frozenset({"n:acme"}))
    repo.commit(create_plan("evt_1", first, keys={"n:acme": None}))
    read_rev = repo.get_key("n:acme").rev
    second = state(crm_account("2", "Acme Ltd"), keys=frozenset({"n:acme"}))
    repo.commit(create_plan("evt_2", second, keys={"n:acme": read_rev}))
    # when a decision that depends on that read commits, it is refused
    other = state(books_customer("9", "Acme Limited"))
    stale = CommitPlan(
        entry=entry("evt_3", records=("books:9",)),
        state_writes=(StateWrite(other.model_copy(update={"rev": 1}), None),),
        key_checks=(("n:acme", read_rev),),
    )
    with pytest.raises(ConcurrentUpdate):
        repo.commit(stale)
    assert repo.get_state("books:9") is None


def test_a_state_read_but_not_written_is_checked_at_the_revision_read(repo: DynamoShadowRepository) -> None:
    # given a customer linking to CRM 1, decided when CRM 1 was not in the shadow, which another event
    # then creates
    repo.commit(create_plan("evt_1", state(crm_account("1", "Acme Ltd")), keys={}))
    linked = state(books_customer("9", "Acme Ltd", linked="1"))
    stale = CommitPlan(
        entry=entry("evt_2", records=("books:9",)),
        state_writes=(StateWrite(linked.model_copy(update={"rev": 1}), None),),
        state_checks=(("crm:1", None),),
    )
    # when the customer's decision commits, it is refused
    with pytest.raises(ConcurrentUpdate):
        repo.commit(stale)
    assert repo.get_state("books:9") is None
    # and decided again at the revision now read, it commits
    repo.commit(replace(stale, state_checks=(("crm:1", 1),)))
    assert repo.get_state("books:9") is not None


def test_two_creates_of_one_key_have_one_owner(repo: DynamoShadowRepository) -> None:
    first = state(crm_account("1", "Acme Ltd"), keys=frozenset({"n:acme"}))
    second = state(crm_account("2", "Acme Ltd"), keys=frozenset({"n:acme"}))
    # both read the key as absent
    repo.commit(create_plan("evt_1", first, keys={"n:acme": None}))
    with pytest.raises(ConcurrentUpdate):
        repo.commit(create_plan("evt_2", second, keys={"n:acme": None}))
    # the loser re-reads and commits against the revision it now sees
    key = repo.get_key("n:acme")
    repo.commit(create_plan("evt_2", second, keys={"n:acme": key.rev}))
    key = repo.get_key("n:acme")
    assert key.owner == "crm:1"
    assert key.members == {"crm:1", "crm:2"}


def test_a_zoho_links_claim_stays_in_a_transaction_the_server_splits(repo: DynamoShadowRepository) -> None:
    # given a server that takes three items per transaction (the audit marker, the state, one key claim),
    # and a Books customer linked to CRM 7 created under its name key and the link key
    repo.max_transaction_items = 3
    first = state(books_customer("8", "Acme Ltd"))
    repo.commit(create_plan("evt_1", first, keys={"n:acme": None, "link:crm:7": None}))
    # when a second customer linked to CRM 7 commits having read the name key as it is now but the link
    # key as absent (a stale read of the key that decides which customer CRM 7 pairs with)
    second = state(books_customer("9", "Acme Ltd"))
    stale = create_plan("evt_2", second, keys={"n:acme": repo.get_key("n:acme").rev, "link:crm:7": None})
    # then the link's claim is the one inside the transaction, and it refuses the stale read
    with pytest.raises(ConcurrentUpdate):
        repo.commit(stale)
    assert repo.get_key("link:crm:7").members == {"books:8"}


def test_a_delete_snapshot_reads_the_keys_of_the_last_known_state(repo: DynamoShadowRepository) -> None:
    acme = state(crm_account("1", "Acme Ltd"), keys=frozenset({"n:acme"}))
    other = state(crm_account("2", "Acme Limited"), keys=frozenset({"n:acme"}))
    repo.commit(create_plan("evt_1", acme, keys={"n:acme": None}))
    repo.commit(create_plan("evt_2", other, keys={"n:acme": 1}))

    snapshot = repo.read_snapshot(SnapshotRequest(event_id="evt_3", entry_id="evt_3", ref="crm:1"))

    assert snapshot.own is not None
    assert snapshot.keys["n:acme"].members == {"crm:1", "crm:2"}
    assert set(snapshot.others) == {"crm:2"}


def test_partner_and_link_members_are_read_with_the_candidates(repo: DynamoShadowRepository) -> None:
    books = state(
        books_customer("9", "Acme Ltd", linked="1"),
        keys=frozenset({"link:crm:1"}),
        partner="crm:1",
        pair_source=PairSource.ZOHO_LINK,
    )
    repo.commit(create_plan("evt_1", books, keys={"link:crm:1": None}))

    snapshot = repo.read_snapshot(
        SnapshotRequest(
            event_id="evt_2", entry_id="evt_2", ref="crm:1", lookup_keys=frozenset({"link:crm:1"})
        )
    )
    assert snapshot.others["books:9"].partner == "crm:1"


def _books_actions(entry_id: str) -> tuple[OutboxAction, ...]:
    """A quarantine's two actions on books:9 in observe mode: marking it inactive (not executed) and telling
    finance (pending)."""
    return tuple(
        OutboxAction(
            action_id=action_id_for(entry_id, kind, "books:9"),
            kind=kind,
            target="books:9",
            event_id=entry_id,
            entry_id=entry_id,
            rules=("NAME_DRIFT",),
            decision=Decision.QUARANTINE,
            mode=Mode.OBSERVE,
            execute=kind is ActionKind.NOTIFY_FINANCE,
            queued_at=T0,
        )
        for kind in (ActionKind.MARK_BOOKS_INACTIVE, ActionKind.NOTIFY_FINANCE)
    )


def _assert_queued_once(outbox: Outbox) -> None:
    assert [queued.action.kind for queued in outbox.by_status(PENDING)] == [ActionKind.NOTIFY_FINANCE]
    not_executed = outbox.by_status(NOT_EXECUTED)
    assert [queued.action.kind for queued in not_executed] == [ActionKind.MARK_BOOKS_INACTIVE]


def test_outbox_actions_are_queued_once_with_their_status(repo: DynamoShadowRepository) -> None:
    acme = state(books_customer("9", "Acme Limited"))
    actions = _books_actions("evt_1")
    plan = create_plan("evt_1", acme, keys={})
    repo.commit(CommitPlan(entry=plan.entry, state_writes=plan.state_writes, actions=actions))

    outbox = Outbox.from_settings(get_settings())
    _assert_queued_once(outbox)
    with pytest.raises(EventAlreadyProcessed):
        repo.commit(CommitPlan(entry=plan.entry, actions=actions))
    assert len(outbox.by_status(PENDING)) == 1


def _repo_over(repo: DynamoShadowRepository, client: Any, *, limit: int) -> DynamoShadowRepository:
    """``repo``'s tables through ``client``, on a server that takes ``limit`` items per transaction."""
    return DynamoShadowRepository(
        client,
        shadow_table=repo.shadow_table,
        audit_table=repo.audit_table,
        outbox_table=repo.outbox_table,
        max_transaction_items=limit,
    )


def test_a_read_left_unprocessed_waits_longer_each_round_then_reads_it_all(
    repo: DynamoShadowRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a record in the shadow and a server that throttles the next three reads of it
    repo.commit(create_plan("evt_1", state(crm_account("1", "Acme Ltd")), keys={}))
    waits: list[float] = []
    monkeypatch.setattr(shadow_store, "_wait_before_unprocessed", waits.append, raising=False)
    client = UnprocessedKeys(repo._client, times=3)

    snapshot = _repo_over(repo, client, limit=AWS_TRANSACTION_ITEMS).read_snapshot(
        SnapshotRequest(event_id="evt_2", entry_id="evt_2", ref="crm:1")
    )

    # then each round waited longer than the one before, and the keys were read in the end
    assert snapshot.own is not None
    assert len(waits) == 3
    assert waits == sorted(set(waits))


def test_a_read_left_unprocessed_round_after_round_gives_up_as_throttled(
    repo: DynamoShadowRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a server that leaves every key of every read unprocessed (a throttled partition)
    waits: list[float] = []
    monkeypatch.setattr(shadow_store, "_wait_before_unprocessed", waits.append, raising=False)
    client = UnprocessedKeys(repo._client)

    # then the read stops asking after a few waits, and the event is left to the queue's redelivery
    with pytest.raises(Throttled):
        _repo_over(repo, client, limit=AWS_TRANSACTION_ITEMS).read_snapshot(
            SnapshotRequest(event_id="evt_1", entry_id="evt_1", ref="crm:1")
        )
    assert 0 < len(waits) < 10
    assert sum(waits) < 5


def test_late_actions_whose_transaction_meets_a_conflict_are_queued_one_at_a_time(
    repo: DynamoShadowRepository,
) -> None:
    # given a quarantine's two actions on a server that takes two items per transaction (the audit marker
    # and the state): the actions follow in a transaction of their own, which another writer's cancels
    acme = state(books_customer("9", "Acme Limited"))
    actions = _books_actions("evt_1")
    plan = create_plan("evt_1", acme, keys={})

    def outbox_items(items: list[dict[str, Any]]) -> bool:
        return any(repo.outbox_table in str(item) for item in items)

    client = TransactionConflicts(repo._client, when=outbox_items)

    _repo_over(repo, client, limit=2).commit(replace(plan, actions=actions))

    # then each action is put on its own (once only), and the event is recorded and listed in full
    assert client.conflicts == 1
    _assert_queued_once(Outbox.from_settings(get_settings()))
    [listed] = AuditLog.from_settings(get_settings()).query(AuditQuery(record="books:9")).entries
    assert listed.entry_id == "evt_1"


def test_an_event_whose_transaction_meets_a_conflict_is_decided_again_and_recorded_once(
    repo: DynamoShadowRepository,
) -> None:
    # given the event's transaction (its audit marker first) cancelled once by another event's transaction
    def the_events(items: list[dict[str, Any]]) -> bool:
        return repo.audit_table in str(items[0])

    client = TransactionConflicts(repo._client, when=the_events)
    time = FakeTime()
    repository = _repo_over(repo, client, limit=AWS_TRANSACTION_ITEMS)
    guard = Guard(repository, LibraryMatcher(), GuardConfig(), clock=lambda: T0, backoff=time.backoff())
    create = event_for(books_customer("9", "Acme Limited"))

    result = guard.process(create)

    # then nothing of the cancelled attempt was written: read again after a short wait, decided, committed
    assert (client.conflicts, result.attempts, len(time.slept)) == (1, 2, 1)
    assert result.entry is not None
    assert repo.get_state("books:9") is not None
    [listed] = AuditLog.from_settings(get_settings()).query(AuditQuery(record="books:9")).entries
    assert listed.entry_id == result.entry.entry_id


def test_breaker_trips_once_and_an_admin_reset_is_audited_with_its_actor(
    repo: DynamoShadowRepository,
) -> None:
    first = BreakerChange(epoch=0, bucket=7, count_hit=True, hits_read=(0, 0))
    repo.commit(CommitPlan(entry=entry("evt_1"), breaker=first))
    tripping = BreakerChange(epoch=0, bucket=7, count_hit=True, trip=True, event_id="evt_2", hits_read=(1, 0))
    repo.commit(CommitPlan(entry=entry("evt_2"), breaker=tripping))
    snapshot = repo.read_snapshot(SnapshotRequest(event_id="e3", entry_id="e3", ref="crm:1", storm_bucket=8))
    assert snapshot.breaker.open
    assert snapshot.breaker.opened_by_event == "evt_2"
    assert snapshot.breaker.recent_hits == 2  # the previous window still counts

    # a second trip by a racing event is refused
    with pytest.raises(ConcurrentUpdate):
        repo.commit(CommitPlan(entry=entry("evt_3"), breaker=BreakerChange(epoch=0, bucket=7, trip=True)))

    reset = entry("adm_1", kind=EntryKind.ADMIN, decision=Decision.ADMIN, actor="alice", event_id=None)
    repo.reset_breaker(reset)
    breaker = repo.breaker()
    assert not breaker.open
    assert breaker.epoch == 1
    # the hits of the old epoch no longer count
    after = repo.read_snapshot(SnapshotRequest(event_id="e4", entry_id="e4", ref="crm:1", storm_bucket=8))
    assert after.breaker.recent_hits == 0
    audited = AuditLog.from_settings(get_settings()).query(AuditQuery(decision="admin"))
    assert [(e.entry_id, e.actor) for e in audited.entries] == [("adm_1", "alice")]
    # resetting a closed breaker is refused
    with pytest.raises(ConcurrentUpdate):
        repo.reset_breaker(entry("adm_2", kind=EntryKind.ADMIN, decision=Decision.ADMIN, actor="bob"))


@pytest.mark.parametrize("limit", [None, 2], ids=["one transaction", "split"])
def test_holds_are_listed(repo: DynamoShadowRepository, limit: int | None) -> None:
    # (the event's record is written; the held one the shadow does not know: no state to mark, and none
    # to check when the item comes after the transaction, the audit marker and the state)
    plan = create_plan("evt_1", state(crm_account("1", "Acme Ltd")), keys={})
    writer = repo
    if limit is not None:
        writer = DynamoShadowRepository(
            ThenAnotherEvent(repo._client, None, limit=limit),
            shadow_table=repo.shadow_table,
            audit_table=repo.audit_table,
            outbox_table=repo.outbox_table,
        )
    held = entry("evt_1", rules=("NAME_DRIFT",))
    writer.commit(CommitPlan(entry=held, state_writes=plan.state_writes, holds=("books:9",)))
    assert [(ref, values["entry_id"]) for ref, values in repo.holds()] == [("books:9", "evt_1")]


def test_seeder_is_idempotent_and_merges_key_members(aws: AwsResources, repo: DynamoShadowRepository) -> None:
    seeder = ShadowSeeder(aws.dynamodb, get_settings().shadow_table)
    states = [
        state(crm_account("1", "Acme Ltd"), keys=frozenset({"n:acme"})),
        state(books_customer("9", "Acme Ltd", linked="1"), keys=frozenset({"n:acme", "link:crm:1"})),
    ]
    assert seeder.load(states) == 2
    assert seeder.load(states) == 0
    newer = state(crm_account("3", "Acme Trading", minutes=3), keys=frozenset({"n:acme"}))
    assert seeder.load([newer]) == 1
    assert repo.get_key("n:acme").members == {"crm:1", "books:9", "crm:3"}
    assert repo.get_key("n:acme").owner == "books:9"  # first in ref order when loaded together
    assert repo.get_key("link:crm:1").members == {"books:9"}


def test_seeder_stops_filling_a_key_at_its_cap(aws: AwsResources, repo: DynamoShadowRepository) -> None:
    seeder = ShadowSeeder(aws.dynamodb, get_settings().shadow_table, max_key_members=3)
    placeholder = frozenset({"p:+440000000000"})
    first = [state(crm_account(str(n), f"Firm {n} Ltd"), keys=placeholder) for n in (1, 2)]
    assert seeder.load(first) == 2
    later = [state(crm_account(str(n), f"Firm {n} Ltd"), keys=placeholder) for n in (3, 4, 5)]
    assert seeder.load(later) == 3  # every state is written, keys and all

    assert repo.get_key("p:+440000000000").members == {"crm:1", "crm:2", "crm:3"}
    assert repo.get_state("crm:5").keys == placeholder  # type: ignore[union-attr]


def test_a_seed_whose_writes_are_left_unprocessed_waits_longer_each_round_then_writes_them(
    aws: AwsResources, repo: DynamoShadowRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a server that throttles the seed's next three batch writes
    waits: list[float] = []
    monkeypatch.setattr(shadow_store, "_wait_before_unprocessed", waits.append)
    client = UnprocessedItems(aws.dynamodb, times=3)

    loaded = ShadowSeeder(client, get_settings().shadow_table).load([state(crm_account("1", "Acme Ltd"))])

    # then each round waited longer than the one before, and the record was written in the end
    assert loaded == 1
    assert repo.get_state("crm:1") is not None
    assert len(waits) == 3
    assert waits == sorted(set(waits))


def test_a_seed_whose_writes_are_left_unprocessed_round_after_round_gives_up_as_throttled(
    aws: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a server that leaves every item of every batch write unprocessed
    waits: list[float] = []
    monkeypatch.setattr(shadow_store, "_wait_before_unprocessed", waits.append)
    client = UnprocessedItems(aws.dynamodb)

    # then the seed stops asking after a few waits (and can be run again: it is idempotent)
    with pytest.raises(Throttled):
        ShadowSeeder(client, get_settings().shadow_table).load([state(crm_account("1", "Acme Ltd"))])
    assert 0 < len(waits) < 10
    assert sum(waits) < 5


# ------------------------------------------------------------------------------------ sync-guard seed
EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"


def test_a_seed_cli_throttled_round_after_round_exits_1_saying_to_run_it_again(
    aws: AwsResources, repo: DynamoShadowRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_guard.cli import app
    from sync_guard.store import aws as aws_clients

    # given a shadow table whose every batch write is left unprocessed
    monkeypatch.setattr(shadow_store, "_wait_before_unprocessed", lambda seconds: None)
    client = UnprocessedItems(aws.dynamodb)
    monkeypatch.setattr(aws_clients, "client", lambda service, settings: client)

    result = CliRunner().invoke(app, ["seed", "--crm", str(EXPORTS / "crm_accounts.csv"), "--actor", "alice"])

    # then the seed stops, saying why and what to do, not with a traceback
    assert result.exit_code == 1, result.output
    assert "throttled; run the seed again" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_seed_cli_loads_pairs_and_is_idempotent(aws: AwsResources, repo: DynamoShadowRepository) -> None:
    from sync_guard.cli import app

    args = [
        "seed",
        "--crm",
        str(EXPORTS / "crm_accounts.csv"),
        "--books",
        str(EXPORTS / "books_customers.csv"),
    ]
    first = CliRunner().invoke(app, [*args, "--actor", "alice"])
    assert first.exit_code == 0, first.output
    assert "paired 2 by Books' CRM link and 2 by the matcher" in first.stdout
    assert "12 new or newer" in first.stdout
    assert "crm:1005 'Bank of the West'" in first.stdout  # a classic false positive left unpaired
    assert "books:46000006 'Ganesh Traders'" in first.stdout

    linked = repo.get_state("books:46000001")
    assert linked is not None
    assert (linked.partner, linked.pair_source) == ("crm:1001", PairSource.ZOHO_LINK)
    crm = repo.get_state("crm:1001")
    assert crm is not None
    assert crm.partner == "books:46000001"
    inferred = repo.get_state("books:46000002")
    assert inferred is not None
    assert (inferred.partner, inferred.pair_source) == ("crm:1002", PairSource.INFERRED)
    # candidates are findable through the key index, not by scanning
    assert any("books:46000002" in repo.get_key(key).members for key in inferred.keys)

    again = CliRunner().invoke(app, [*args, "--actor", "alice"])
    assert again.exit_code == 0, again.output
    assert "0 new or newer, 12 already up to date" in again.stdout
    assert "seeded before" in again.stdout
    seeds = AuditLog.from_settings(get_settings()).query(AuditQuery(decision="admin")).entries
    assert [(e.operation, e.actor) for e in seeds] == [("seed", "alice")]


def test_seed_cli_names_the_bad_file_and_line(aws: AwsResources) -> None:
    from sync_guard.cli import app

    result = CliRunner().invoke(app, ["seed", "--crm", str(EXPORTS / "malformed_extra_field.csv")])
    assert result.exit_code == 2
    assert "malformed_extra_field.csv" in result.stderr


def test_seed_cli_shows_how_an_export_was_read(aws: AwsResources, tmp_path: Path) -> None:
    from sync_guard.cli import app

    books = tmp_path / "customers.csv"  # saved again from Excel on Windows
    books.write_bytes("Contact ID,Display Name\r\n46000001,Müller GmbH\r\n".encode("cp1252"))
    result = CliRunner().invoke(app, ["seed", "--books", str(books), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr
    assert "customers.csv, line 2: not UTF-8, so the file is read as Windows-1252" in result.stderr


def test_an_id_only_delete_of_an_unseen_customer_is_stored_on_the_real_server(
    aws_server: AwsResources,
) -> None:
    # Its tombstone has no name: DynamoDB Local, like DynamoDB before 2020, refuses an empty string.
    repo = DynamoShadowRepository.from_settings(get_settings())
    guard = Guard(repo, LibraryMatcher(), GuardConfig(), clock=lambda: T0)
    delete = parse_books_webhook({"contact_id": "460000000026077"}, received_at=at(1), operation="delete")

    result = guard.process(delete)

    assert result.entry is not None
    assert result.entry.kind is EntryKind.UNKNOWN_RECORD
    tombstone = repo.get_state("books:460000000026077")
    assert tombstone is not None
    assert tombstone.deleted


def test_seed_cli_reads_a_books_workbook(aws: AwsResources, tmp_path: Path) -> None:
    import openpyxl

    from sync_guard.cli import app

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Customers"
    for row in (["Contact ID", "Display Name"], [46000001.0, "Acme Ltd"], [46000002.0, "Beta Ltd"]):
        sheet.append(row)
    books = tmp_path / "customers.xlsx"
    book.save(books)
    result = CliRunner().invoke(app, ["seed", "--books", str(books), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "read 0 CRM records and 2 Books customers" in result.stdout
    assert "books:46000001 'Acme Ltd'" in result.stdout  # the id as Books wrote it, not 46000001.0


def test_seed_cli_puts_zip_codes_back_in_the_guards_region(
    aws: AwsResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_guard.cli import app

    books = tmp_path / "customers.csv"  # saved again from Excel: ZIP 02134 became 2134
    books.write_text("Contact ID,Display Name,Billing Code\n46000001,Acme Inc,2134\n", encoding="utf-8")
    monkeypatch.setenv("SYNC_GUARD_DEFAULT_PHONE_REGION", "US")
    result = CliRunner().invoke(app, ["seed", "--books", str(books), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "customers.csv: 1 US ZIP code(s) had lost their leading zeros" in result.stderr


class ThenAnotherEvent:
    """A DynamoDB client that, right after its first transaction, lets another event commit: the moment
    between a split transaction and the follow-up writes of what did not fit in it. With ``limit``, it
    refuses larger transactions as DynamoDB Local does (the repository learns the limit from the refusal)."""

    def __init__(self, client: Any, other_event: Any, *, limit: int | None = None) -> None:
        self._client = client
        self._other_event = other_event
        self._limit = limit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **request: Any) -> Any:
        if self._limit is not None and len(request["TransactItems"]) > self._limit:
            raise transaction_too_large(self._limit)
        response = self._client.transact_write_items(**request)
        other_event, self._other_event = self._other_event, None
        if other_event is not None:
            other_event()
        return response


def _split_after_three(repo: DynamoShadowRepository, other_event: Any) -> DynamoShadowRepository:
    """``repo`` on a server that takes three items per transaction (the audit marker, the state, one key
    claim; the rest is written after it), with ``other_event`` committed in between."""
    return DynamoShadowRepository(
        ThenAnotherEvent(repo._client, other_event),
        shadow_table=repo.shadow_table,
        audit_table=repo.audit_table,
        outbox_table=repo.outbox_table,
        max_transaction_items=3,
    )


def test_a_late_key_claim_does_not_outlive_a_rename_committed_before_it(repo: DynamoShadowRepository) -> None:
    # given a create under two name keys, whose second key claim does not fit in its transaction
    created = state(crm_account("1", "Acme Trading Ltd"), keys=frozenset({"n:acme", "t:acme|trading"}))
    renamed = created.model_copy(
        update={"record": crm_account("1", "Acme Ltd", minutes=2), "keys": frozenset({"n:acme"}), "rev": 2}
    )
    rename = CommitPlan(
        entry=entry("evt_rename", records=("crm:1",)),
        state_writes=(StateWrite(renamed, 1),),
        key_changes=(KeyChange("t:acme|trading", remove=frozenset({"crm:1"}), checked=False),),
    )

    # when the record's rename commits between the create's transaction and its late claim
    split = _split_after_three(repo, lambda: repo.commit(rename))
    split.commit(create_plan("evt_create", created, keys={"n:acme": None, "t:acme|trading": None}))

    # then the key the record left does not list it (it did: the late claim landed after the rename)
    current = repo.get_state("crm:1")
    assert current is not None
    assert current.keys == {"n:acme"}
    assert repo.get_key("t:acme|trading").members == set()
    assert repo.get_key("n:acme").members == {"crm:1"}


def test_a_late_key_removal_does_not_undo_a_claim_committed_before_it(repo: DynamoShadowRepository) -> None:
    # given a record under two keys, renamed so that it leaves one; the removal does not fit in the
    # rename's transaction (the audit marker, the state, the claim of its new key)
    acme = state(crm_account("1", "Acme Trading Ltd"), keys=frozenset({"n:acme", "t:acme|trading"}))
    repo.commit(create_plan("evt_create", acme, keys={"n:acme": None, "t:acme|trading": None}))
    renamed = acme.model_copy(
        update={
            "record": crm_account("1", "Acme Group Ltd", minutes=2),
            "keys": frozenset({"n:acme", "t:acme|group"}),
            "rev": 2,
        }
    )
    rename = CommitPlan(
        entry=entry("evt_rename", records=("crm:1",)),
        state_writes=(StateWrite(renamed, 1),),
        key_changes=(
            KeyChange("t:acme|group", add=frozenset({"crm:1"}), expected_rev=None),
            KeyChange("t:acme|trading", remove=frozenset({"crm:1"}), checked=False),
        ),
    )
    # and a later change back to the first name, which rejoins the key the rename leaves
    back = renamed.model_copy(
        update={
            "record": crm_account("1", "Acme Trading Ltd", minutes=4),
            "keys": frozenset({"n:acme", "t:acme|trading"}),
            "rev": 3,
        }
    )

    def change_back() -> None:
        repo.commit(
            CommitPlan(
                entry=entry("evt_back", records=("crm:1",)),
                state_writes=(StateWrite(back, 2),),
                key_changes=(
                    KeyChange("t:acme|trading", add=frozenset({"crm:1"}), checked=False),
                    KeyChange("t:acme|group", remove=frozenset({"crm:1"}), checked=False),
                ),
            )
        )

    # when the change back commits between the rename's transaction and its late removal
    _split_after_three(repo, change_back).commit(rename)

    # then the record is still in the key its state lists (the late removal took it out)
    current = repo.get_state("crm:1")
    assert current is not None
    assert current.keys == {"n:acme", "t:acme|trading"}
    assert repo.get_key("t:acme|trading").members == {"crm:1"}
    assert repo.get_key("t:acme|group").members == set()


def _membership_writes(items: list[dict[str, Any]]) -> bool:
    """A transaction written after a split one: a key membership with its check of the record's state."""
    return "ConditionCheck" in items[0] and "#keys" in str(items[0])


def test_a_late_key_claim_that_keeps_conflicting_leaves_the_committed_event_alone(
    repo: DynamoShadowRepository, caplog: pytest.LogCaptureFixture
) -> None:
    client = TransactionConflicts(repo._client, times=None, when=_membership_writes)
    split = _repo_over(repo, client, limit=3)
    acme = state(crm_account("1", "Acme Trading Ltd"), keys=frozenset({"n:acme", "t:acme|trading"}))

    # when the late claim conflicts on every try, the commit still returns: the event is committed
    split.commit(create_plan("evt_create", acme, keys={"n:acme": None, "t:acme|trading": None}))

    assert client.conflicts > 1
    assert repo.get_state("crm:1") is not None
    assert repo.get_key("n:acme").members == {"crm:1"}
    assert repo.get_key("t:acme|trading").members == set()  # re-added on the record's next event
    # and the warning names the key's kind, not the key (it can hold a name or an address)
    [warning] = [r for r in caplog.records if "kept conflicting" in r.getMessage()]
    assert warning.key_kind == "t:"
    assert "acme" not in str(warning.__dict__)


class CountingRequests:
    """A DynamoDB client that counts its requests by operation, once ``counting`` is set."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.counting = False
        self.requests: list[str] = []

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self._client, name)

        def counted(**request: Any) -> Any:
            if self.counting:
                self.requests.append(name)
            return operation(**request)

        return counted

    def transact_write_items(self, **request: Any) -> Any:
        response = self._client.transact_write_items(**request)
        if self.counting:
            self.requests.append("transact_write_items")
        self.counting = True  # (what follows the plan's transaction)
        return response


def test_late_key_claims_and_audit_views_share_transactions(repo: DynamoShadowRepository) -> None:
    # given a create under 17 keys on a server that takes ten items per transaction: the audit marker, the
    # state and eight claims fit; nine claims and the audit views are written after it
    keys = {f"n:acme{i:02}": None for i in range(17)}
    acme = state(crm_account("1", "Acme Ltd"), keys=frozenset(keys))
    client = CountingRequests(repo._client)
    split = DynamoShadowRepository(
        client,
        shadow_table=repo.shadow_table,
        audit_table=repo.audit_table,
        outbox_table=repo.outbox_table,
        max_transaction_items=10,
    )

    split.commit(create_plan("evt_create", acme, keys=keys))

    # then the late writes take two requests (the views; one check of the state and the nine claims), where
    # they took one transaction per claim and one PutItem per view
    assert client.requests == ["transact_write_items", "transact_write_items"]
    assert all(repo.get_key(key).members == {"crm:1"} for key in keys)
    [listed] = AuditLog.from_settings(get_settings()).query(AuditQuery(record="crm:1")).entries
    assert listed.entry_id == "evt_create"


def test_late_key_claims_beyond_one_transactions_room_take_as_many_as_they_need(
    repo: DynamoShadowRepository,
) -> None:
    # given a create under 26 keys on a server that refuses transactions of more than ten items (learnt
    # from its refusal): eight claims fit, eighteen are late, more than one transaction with the state's
    # check holds
    keys = {f"n:acme{i:02}": None for i in range(26)}
    acme = state(crm_account("1", "Acme Ltd"), keys=frozenset(keys))
    server = ThenAnotherEvent(repo._client, None, limit=10)
    split = _repo_over(repo, server, limit=AWS_TRANSACTION_ITEMS)

    split.commit(create_plan("evt_create", acme, keys=keys))

    # then the late claims are written in transactions the server takes, every key listing the record
    assert split.max_transaction_items == 10
    assert all(repo.get_key(key).members == {"crm:1"} for key in keys)


def test_grouped_late_claims_fall_back_to_one_at_a_time_when_the_state_moved_on(
    repo: DynamoShadowRepository,
) -> None:
    # given a create under three keys on a server that takes three items per transaction: two claims are
    # late, and fit in one transaction with a check of the record's state
    keys = {"n:acme": None, "t:acme|trading": None, "t:acme|group": None}
    created = state(crm_account("1", "Acme Trading Group"), keys=frozenset(keys))
    renamed = created.model_copy(
        update={
            "record": crm_account("1", "Acme Trading", minutes=2),
            "keys": frozenset({"n:acme", "t:acme|trading"}),
            "rev": 2,
        }
    )
    rename = CommitPlan(
        entry=entry("evt_rename", records=("crm:1",)),
        state_writes=(StateWrite(renamed, 1),),
        key_changes=(KeyChange("t:acme|group", remove=frozenset({"crm:1"}), checked=False),),
    )

    # when a rename that leaves one of those keys commits before the late claims
    split = _split_after_three(repo, lambda: repo.commit(rename))
    split.commit(create_plan("evt_create", created, keys=keys))

    # then the claim of the key the state still lists is written, the other is not
    assert repo.get_key("n:acme").members == {"crm:1"}
    assert repo.get_key("t:acme|trading").members == {"crm:1"}
    assert repo.get_key("t:acme|group").members == set()


def _tag_action(entry_id: str, mode: Mode, *, decision: Decision = Decision.QUARANTINE) -> OutboxAction:
    return OutboxAction(
        action_id=action_id_for(entry_id, ActionKind.TAG_CRM_RECORD, "crm:1"),
        kind=ActionKind.TAG_CRM_RECORD,
        target="crm:1",
        event_id=entry_id if decision is not Decision.ADMIN else None,
        entry_id=entry_id,
        rules=("NAME_DRIFT",),
        decision=decision,
        mode=mode,
        execute=mode is Mode.ENFORCE,
        params={"tag": "sync-guard-hold"},
        expected_state={"tags": ["sync-guard-hold"]},
        queued_at=T0,
    )


def _guard_hold(repo: DynamoShadowRepository, entry_id: str, mode: Mode) -> CommitPlan:
    """The guard's hold of crm:1 (known to the shadow): its tag action, the ``HOLD`` item and, carried out
    (enforce), the mark on the record's state; observe mode marks nothing."""
    current = repo.get_state("crm:1")
    assert current is not None
    action = _tag_action(entry_id, mode)
    held = current.model_copy(
        update={"rev": current.rev + 1, "held_by": entry_id if mode is Mode.ENFORCE else None}
    )
    return CommitPlan(
        entry=entry(
            entry_id,
            records=("crm:1",),
            rules=("NAME_DRIFT",),
            decision=Decision.QUARANTINE,
            mode=mode,
            actions=(action,),
        ),
        state_writes=(StateWrite(held, current.rev),),
        actions=(action,),
        holds=("crm:1",),
    )


def _split_after_three_items(
    repo: DynamoShadowRepository, other_event: Any, *, limit: int = 3
) -> DynamoShadowRepository:
    """``repo`` on a server that refuses transactions of more than three items (the audit marker, the state
    and, its ``HOLD`` item following, the check that the item may be replaced fit; the tag action, the
    ``HOLD`` item and the audit views follow; with ``limit`` 4, the tag action fits too, a second action
    follows), ``other_event`` committed in between."""
    return DynamoShadowRepository(
        ThenAnotherEvent(repo._client, other_event, limit=limit),
        shadow_table=repo.shadow_table,
        audit_table=repo.audit_table,
        outbox_table=repo.outbox_table,
    )


def _admin(repo: DynamoShadowRepository) -> DynamoAdminRepository:
    return DynamoAdminRepository(
        repo._client,
        shadow_table=repo.shadow_table,
        audit_table=repo.audit_table,
        outbox_table=repo.outbox_table,
    )


def _admin_entry(
    entry_id: str, operation: str, actions: tuple[OutboxAction, ...] = (), *, mode: Mode = Mode.OBSERVE
) -> AuditEntry:
    return entry(
        entry_id,
        records=("crm:1",),
        kind=EntryKind.ADMIN,
        decision=Decision.ADMIN,
        actor="user:alice",
        event_id=None,
        note=operation,
        actions=actions,
        mode=mode,
    )


def _hold_item_and_mark(admin: DynamoAdminRepository, repo: DynamoShadowRepository) -> tuple[Any, Any]:
    """The entry of crm:1's ``HOLD`` item and the hold its state names (``held_by``)."""
    hold = admin.hold("crm:1")
    current = repo.get_state("crm:1")
    assert current is not None
    return (hold.entry_id if hold else None), current.held_by


@pytest.mark.parametrize("mode", [Mode.ENFORCE, Mode.OBSERVE])
def test_a_late_hold_item_does_not_replace_an_admins_hold_committed_before_it(
    repo: DynamoShadowRepository, mode: Mode
) -> None:
    # given a record the shadow knows, held by the guard in a transaction the server splits
    repo.commit(create_plan("evt_create", state(crm_account("1", "Acme Ltd")), keys={}))
    plan = _guard_hold(repo, "evt_hold", mode)
    admin = _admin(repo)
    admin_hold = _tag_action("adm_hold", Mode.ENFORCE, decision=Decision.ADMIN)

    def admins_hold() -> None:
        # (no HOLD item yet, so nothing stops the admin's hold: it marks the state and writes its own item)
        assert admin.hold("crm:1") is None
        admin.put_hold(
            _admin_entry("adm_hold", "hold", (admin_hold,)),
            admin_hold,
            replaces=None,
            state=repo.get_state("crm:1"),
        )

    # when an admin holds the record between the guard's transaction and its late HOLD item
    split = _split_after_three_items(repo, admins_hold)
    split.commit(plan)

    # then the HOLD item is still the admin's, the hold the state names (before: the guard's late item
    # replaced it, and releasing "the hold" would have undone the guard's tag, not the admin's)
    assert split.max_transaction_items == 3  # learnt from the refusal
    assert _hold_item_and_mark(admin, repo) == ("adm_hold", "adm_hold")


def test_a_release_in_the_gap_leaves_the_late_hold_listed_and_marked(repo: DynamoShadowRepository) -> None:
    # given a record held in observe mode (its HOLD item, no mark on its state), now held in enforce mode
    # by the guard in a transaction the server splits: its state is marked before its HOLD item replaces
    # the observe one
    repo.commit(create_plan("evt_create", state(crm_account("1", "Acme Ltd")), keys={}))
    repo.commit(_guard_hold(repo, "evt_observed", Mode.OBSERVE))
    plan = _guard_hold(repo, "evt_enforced", Mode.ENFORCE)
    admin = _admin(repo)

    def release_the_observe_hold() -> None:
        older = admin.hold("crm:1")
        assert older is not None
        assert older.entry_id == "evt_observed"
        admin.release(older, repo.get_state("crm:1"), _admin_entry("adm_release", "release"), ())

    # when an admin releases the observe hold between the guard's transaction and its late HOLD item
    _split_after_three_items(repo, release_the_observe_hold).commit(plan)

    # then the enforce hold, whose tag action the release did not cancel, is listed and still marks the
    # state (before: the release took its mark off, so the record counted as free while Zoho held it)
    assert _hold_item_and_mark(admin, repo) == ("evt_enforced", "evt_enforced")
    # and releasing it in its turn frees the record
    hold = admin.hold("crm:1")
    assert hold is not None
    admin.release(hold, repo.get_state("crm:1"), _admin_entry("adm_release_2", "release"), ())
    assert _hold_item_and_mark(admin, repo) == (None, None)


def test_an_admins_hold_is_refused_while_the_guards_hold_has_no_item_yet(
    repo: DynamoShadowRepository,
) -> None:
    # given a record the shadow knows, held by the guard (enforce) in a transaction the server splits: the
    # transaction marks the record's state, its HOLD item follows
    repo.commit(create_plan("evt_create", state(crm_account("1", "Acme Ltd")), keys={}))
    plan = _guard_hold(repo, "evt_hold", Mode.ENFORCE)
    admin = _admin(repo)
    service = AdminService(
        repository=admin, audit_log=cast(Any, None), actions=cast(Any, None), queue=None, mode=Mode.ENFORCE
    )
    refused: list[Conflict] = []

    def admins_hold() -> None:
        assert admin.hold("crm:1") is None  # nothing listed yet
        try:
            service.hold("crm:1", actor="user:alice")
        except Conflict as conflict:
            refused.append(conflict)

    # when an admin holds the record between the guard's transaction and its late HOLD item
    _split_after_three_items(repo, admins_hold).commit(plan)

    # then the admin's hold is refused as "already held", naming the record (before: it committed on top,
    # both tag actions were queued, and the guard's hold was listed nowhere)
    [conflict] = refused
    assert conflict.field == "record"
    assert "already held" in conflict.message
    assert "evt_hold" in conflict.message
    assert _hold_item_and_mark(admin, repo) == ("evt_hold", "evt_hold")
    pending = Outbox(repo._client, repo.outbox_table).by_status(PENDING)
    assert [queued.action.action_id for queued in pending] == [
        _tag_action("evt_hold", Mode.ENFORCE).action_id
    ]


def _guard_creates_and_holds(entry_id: str) -> CommitPlan:
    """The guard's first decision on crm:1, unknown to the shadow: its state, marked by the hold (enforce),
    the tag action and the ``HOLD`` item."""
    action = _tag_action(entry_id, Mode.ENFORCE)
    created = state(crm_account("1", "Acme Ltd")).model_copy(update={"rev": 1, "held_by": entry_id})
    return CommitPlan(
        entry=entry(
            entry_id, records=("crm:1",), decision=Decision.QUARANTINE, mode=Mode.ENFORCE, actions=(action,)
        ),
        state_writes=(StateWrite(created, None),),
        actions=(action,),
        holds=("crm:1",),
    )


def test_an_admins_hold_of_an_unknown_record_does_not_land_in_the_gap(repo: DynamoShadowRepository) -> None:
    # given a record the shadow does not know yet, which the guard creates and holds (enforce) in a
    # transaction the server splits, and an admin's hold of it decided before that (on no state)
    plan = _guard_creates_and_holds("evt_hold")
    admin = _admin(repo)
    admin_hold = _tag_action("adm_hold", Mode.ENFORCE, decision=Decision.ADMIN)
    assert admin.state("crm:1") is None
    refused: list[ConcurrentUpdate] = []

    def admins_hold() -> None:
        try:
            admin.put_hold(
                _admin_entry("adm_hold", "hold", (admin_hold,)), admin_hold, replaces=None, state=None
            )
        except ConcurrentUpdate as error:
            refused.append(error)

    # when the admin's hold is written between the guard's transaction and its late HOLD item
    _split_after_three_items(repo, admins_hold).commit(plan)

    # then it is refused: the record's state is no longer as the admin read it (before: it committed, and
    # the guard's late item replaced it, so the admin's tag action ran listed nowhere)
    assert len(refused) == 1
    assert _hold_item_and_mark(admin, repo) == ("evt_hold", "evt_hold")
    assert Outbox(repo._client, repo.outbox_table).get(admin_hold.action_id) is None


def test_a_late_observe_hold_item_does_not_replace_a_later_holds(repo: DynamoShadowRepository) -> None:
    # given a record held in observe mode by the guard in a transaction the server splits (no mark on its
    # state: the HOLD item, written after the transaction, is all that lists it)
    repo.commit(create_plan("evt_create", state(crm_account("1", "Acme Ltd")), keys={}))
    plan = _guard_hold(repo, "evt_earlier", Mode.OBSERVE)

    # when a later event holds it in observe mode too, between that transaction and its late HOLD item
    _split_after_three_items(repo, lambda: repo.commit(_guard_hold(repo, "evt_later", Mode.OBSERVE))).commit(
        plan
    )

    # then the later hold stays listed (before: the earlier hold's late item replaced it)
    assert _hold_item_and_mark(_admin(repo), repo) == ("evt_later", None)


def test_a_late_observe_hold_item_replaces_the_hold_listed_before_its_transaction(
    repo: DynamoShadowRepository,
) -> None:
    # given a record listed by an older observe hold
    repo.commit(create_plan("evt_create", state(crm_account("1", "Acme Ltd")), keys={}))
    repo.commit(_guard_hold(repo, "evt_older", Mode.OBSERVE))

    # when the guard holds it again in observe mode, in a transaction the server splits, nothing in between
    _split_after_three_items(repo, lambda: None).commit(_guard_hold(repo, "evt_newer", Mode.OBSERVE))

    # then the newer hold replaces the older one, as it does in one transaction
    assert _hold_item_and_mark(_admin(repo), repo) == ("evt_newer", None)


class Crash(Exception):
    """The process dies right after a split transaction, before what did not fit in it is written."""


def _crash() -> None:
    raise Crash


def test_a_hold_whose_item_a_crash_lost_is_refused_as_held_and_can_be_released(
    repo: DynamoShadowRepository,
) -> None:
    # given a record held by the guard (enforce, with its notice to finance) in a transaction the server
    # splits after the tag action, the process dying before the late HOLD item: the state names the hold,
    # which nothing lists
    repo.commit(create_plan("evt_create", state(crm_account("1", "Acme Ltd")), keys={}))
    plan = _guard_hold(repo, "evt_hold", Mode.ENFORCE)
    [tag] = plan.actions
    notice = tag.model_copy(
        update={
            "action_id": action_id_for("evt_hold", ActionKind.NOTIFY_FINANCE, "crm:1"),
            "kind": ActionKind.NOTIFY_FINANCE,
            "params": {},
            "expected_state": {},
        }
    )
    with pytest.raises(Crash):
        _split_after_three_items(repo, _crash, limit=4).commit(replace(plan, actions=(tag, notice)))
    service = AdminService.from_settings(get_settings())
    assert service.list_holds() == []
    assert _hold_item_and_mark(service.repository, repo) == (None, "evt_hold")

    # when an admin holds it, then releases it
    with pytest.raises(Conflict) as refused:
        service.hold("crm:1", actor="user:alice")
    released = service.release("crm:1", actor="user:alice")

    # then the hold is refused, naming the guard's hold; the release frees the record and cancels the
    # guard's tag action, which had not run (before: "crm:1 is not held", and the record stayed held)
    assert "evt_hold" in refused.value.message
    assert _hold_item_and_mark(service.repository, repo) == (None, None)
    assert released.detail["cancelled"] == [_tag_action("evt_hold", Mode.ENFORCE).action_id]
    assert released.entry.records == ("crm:1",)


def test_a_release_from_the_mark_is_refused_once_the_late_item_is_listed(
    repo: DynamoShadowRepository,
) -> None:
    # given a release decided while the guard's hold was not listed yet (from its state's mark), and the
    # hold's late HOLD item written since
    repo.commit(create_plan("evt_create", state(crm_account("1", "Acme Ltd")), keys={}))
    _split_after_three_items(repo, lambda: None).commit(_guard_hold(repo, "evt_hold", Mode.ENFORCE))
    admin = _admin(repo)
    unlisted = Hold(hold_id="crm:1", entry_id="evt_hold", mode="enforce")

    # when the release is written, then it is a conflict: the admin looks again and releases the listed
    # hold (before: it cleared the mark and left the item listing a released hold)
    with pytest.raises(ConcurrentUpdate):
        admin.release(
            unlisted, repo.get_state("crm:1"), _admin_entry("adm_release", "release"), (), listed=False
        )
    assert _hold_item_and_mark(admin, repo) == ("evt_hold", "evt_hold")


def _admins_hold_of_an_unknown_record(repo: DynamoShadowRepository, mode: Mode, *, confirmed: bool) -> None:
    """An admin's hold of crm:1 while the shadow does not know it (its ``HOLD`` item only), confirmed a
    duplicate of books:9 if ``confirmed``."""
    admin = _admin(repo)
    action = _tag_action("adm_hold", mode, decision=Decision.ADMIN)
    admin.put_hold(_admin_entry("adm_hold", "hold", (action,), mode=mode), action, replaces=None, state=None)
    if confirmed:
        hold = admin.hold("crm:1")
        assert hold is not None
        admin.confirm(hold, "books:9", _admin_entry("adm_confirm", "confirm"))


def _guard_writer(repo: DynamoShadowRepository, limit: int | None) -> DynamoShadowRepository:
    return repo if limit is None else _split_after_three_items(repo, lambda: None)


@pytest.mark.parametrize("limit", [None, 3], ids=["one transaction", "split"])
@pytest.mark.parametrize(
    ("mode", "confirmed"), [(Mode.ENFORCE, False), (Mode.OBSERVE, True)], ids=["applied", "confirmed"]
)
def test_the_guards_hold_does_not_replace_a_hold_that_reached_zoho_or_was_confirmed(
    repo: DynamoShadowRepository, limit: int | None, mode: Mode, *, confirmed: bool
) -> None:
    # given an admin's hold of a record the shadow does not know, written to Zoho or confirmed
    _admins_hold_of_an_unknown_record(repo, mode, confirmed=confirmed)

    # when the guard creates the record and holds it (in one transaction, or one the server splits)
    plan = _guard_creates_and_holds("evt_hold")
    with pytest.raises(ConcurrentUpdate):
        _guard_writer(repo, limit).commit(plan)

    # then nothing of the decision is written (the engine reads again and decides again): the admin's hold
    # is still the one listed, no state names the guard's, no second tag action is queued (before: the
    # guard's HOLD item replaced the admin's; split, its state mark and its action committed first)
    hold = _admin(repo).hold("crm:1")
    assert hold is not None
    assert hold.entry_id == "adm_hold"
    assert repo.get_state("crm:1") is None
    assert Outbox(repo._client, repo.outbox_table).get(plan.actions[0].action_id) is None


@pytest.mark.parametrize("limit", [None, 3], ids=["one transaction", "split"])
def test_the_guards_hold_replaces_an_observe_hold_nobody_confirmed(
    repo: DynamoShadowRepository, limit: int | None
) -> None:
    # given an admin's observe-mode hold of a record the shadow does not know: written nowhere but the list
    _admins_hold_of_an_unknown_record(repo, Mode.OBSERVE, confirmed=False)

    # when the guard creates the record and holds it for real
    _guard_writer(repo, limit).commit(_guard_creates_and_holds("evt_hold"))

    # then the guard's hold takes its place, as an admin's new hold would
    assert _hold_item_and_mark(_admin(repo), repo) == ("evt_hold", "evt_hold")


@pytest.mark.parametrize(
    ("mode", "confirmed", "stands"),
    [(Mode.ENFORCE, False, True), (Mode.OBSERVE, True, True), (Mode.OBSERVE, False, False)],
    ids=["applied", "confirmed", "observe"],
)
def test_a_record_taken_for_held_by_nobody_is_checked_for_a_hold_it_does_not_name(
    repo: DynamoShadowRepository, mode: Mode, *, confirmed: bool, stands: bool
) -> None:
    # given an admin's hold of crm:1, which the shadow does not know
    _admins_hold_of_an_unknown_record(repo, mode, confirmed=confirmed)
    plan = create_plan("evt_1", state(crm_account("2", "Zeta Ltd")), keys={})

    # when a decision that took crm:1 for held by nobody (an invoiced customer it spared) commits
    def commit() -> None:
        repo.commit(replace(plan, hold_checks=("crm:1",)))

    # then a hold the guard may not replace cancels it, so that the engine decides again with it read
    # (before: the commit went through and its audit said the record was not held); one it may replace
    # (observe mode, unconfirmed) does not
    if stands:
        with pytest.raises(ConcurrentUpdate):
            commit()
        assert repo.get_state("crm:2") is None
    else:
        commit()
        assert repo.get_state("crm:2") is not None


def test_a_snapshot_reads_the_hold_items_of_the_record_and_of_those_asked_for(
    repo: DynamoShadowRepository,
) -> None:
    _admins_hold_of_an_unknown_record(repo, Mode.ENFORCE, confirmed=False)
    repo.commit(_guard_hold_of_books_9(Mode.OBSERVE))

    def holds(ref: str, *also: str) -> dict[str, HeldRecord]:
        request = SnapshotRequest(event_id="evt_x", entry_id="evt_x", ref=ref, hold_refs=frozenset(also))
        return repo.read_snapshot(request).holds

    assert holds("crm:1") == {"crm:1": HeldRecord("adm_hold", applied=True)}
    assert holds("crm:2", "books:9", "crm:3") == {"books:9": HeldRecord("evt_observed")}
    assert holds("crm:2") == {}


def _guard_hold_of_books_9(mode: Mode) -> CommitPlan:
    held = entry("evt_observed", records=("books:9",), decision=Decision.QUARANTINE, mode=mode)
    return CommitPlan(entry=held, holds=("books:9",))


def test_a_finding_on_a_record_whose_state_does_not_name_its_hold_is_decided_again_without_a_hold(
    repo: DynamoShadowRepository,
) -> None:
    # given a Books customer linked to crm:1 whose state names no hold, and an admin's hold of it written to
    # Zoho (its HOLD item written as this version would not: on a record the shadow had no mark on)
    guard = Guard(repo, LibraryMatcher(), GuardConfig(mode=Mode.ENFORCE), clock=lambda: at(10))
    guard.process(event_for(books_customer("10", "Acme Trading Limited", linked="1")))
    action = _tag_action("adm_hold", Mode.ENFORCE, decision=Decision.ADMIN)
    admins = _admin_entry("adm_hold", "hold", (action,), mode=Mode.ENFORCE)
    repo._client.put_item(**hold_put(repo.shadow_table, "books:10", admins, replaces=None)["Put"])

    # when the customer with the invoices links to crm:1 too: the double link would hold books:10
    result = guard.process(
        event_for(books_customer("9", "Acme Trading Ltd", linked="1", has_transactions=True, minutes=1))
    )

    # then the guard's commit, stopped by the admin's hold, is decided again with that hold read: the
    # finding is recorded and the record is not held twice (before: the admin's hold was replaced)
    assert result.attempts == 2
    assert result.entry is not None
    assert "DOUBLE_LINK" in result.entry.rules
    assert "books:10 already held by adm_hold" in result.entry.note
    assert not [a for a in result.entry.actions if a.kind is ActionKind.MARK_BOOKS_INACTIVE]
    hold = _admin(repo).hold("books:10")
    assert hold is not None
    assert hold.entry_id == "adm_hold"


def test_a_hold_left_out_with_its_check_does_not_replace_a_hold_it_may_not(
    repo: DynamoShadowRepository,
) -> None:
    # given an admin's hold (written to Zoho) of books:9, which the shadow does not know, and a server that
    # takes two items per transaction: the audit marker and the event's state, not the hold's check
    admin = _admin(repo)
    action = _tag_action("adm_hold", Mode.ENFORCE, decision=Decision.ADMIN).model_copy(
        update={"target": "books:9"}
    )
    admin.put_hold(
        _admin_entry("adm_hold", "hold", (action,), mode=Mode.ENFORCE), action, replaces=None, state=None
    )
    writer = DynamoShadowRepository(
        ThenAnotherEvent(repo._client, None, limit=2),
        shadow_table=repo.shadow_table,
        audit_table=repo.audit_table,
        outbox_table=repo.outbox_table,
    )
    plan = create_plan("evt_1", state(crm_account("1", "Acme Ltd")), keys={})

    # when an event's decision holds books:9 too, its HOLD item and that item's check left out of the
    # transaction
    held = entry("evt_1", rules=("NAME_DRIFT",), mode=Mode.ENFORCE)
    # then the check is made by a read before the transaction, and the commit is cancelled as one
    # transaction would have been (the engine decides again, the admin's hold read)
    with pytest.raises(ConcurrentUpdate):
        writer.commit(CommitPlan(entry=held, state_writes=plan.state_writes, holds=("books:9",)))
    assert repo.get_state("crm:1") is None
    # and the admin's hold stays (before: the late item was put over the item read before the transaction,
    # whatever that was)
    hold = admin.hold("books:9")
    assert hold is not None
    assert hold.entry_id == "adm_hold"


def test_the_merge_checks_after_a_hold_an_admin_applied_are_carried_out_while_the_guard_observes(
    repo: DynamoShadowRepository,
) -> None:
    # given the guard observing: crm:2, a copy of crm:1, held in observe mode (listed, never written)
    policy = Policy.build({"SAME_SIDE_DUPLICATE": "quarantine"})
    observing = Guard(
        repo, LibraryMatcher(), GuardConfig(mode=Mode.OBSERVE, policy=policy), clock=lambda: at(10)
    )
    observing.process(event_for(crm_account("1", "Acme Ltd")))
    observing.process(event_for(crm_account("2", "Acme Ltd", minutes=1)))
    # and an admin who wrote that hold to Zoho (`quarantines apply`, the guard in enforce mode for it)
    replace(AdminService.from_settings(get_settings()), mode=Mode.ENFORCE).apply("crm:2", actor="user:ivy")

    # when crm:2 is deleted (a manual merge deletes the record merged away)
    result = observing.process(event_for(crm_account("2", "Acme Ltd", minutes=3), Operation.DELETE))

    # then crm:1 is checked for the copy of the admin's tag a merge passed on, although the guard observes
    # (before: the check was recorded as not to be executed, and a carried tag stayed)
    assert result.entry is not None
    [check] = [a for a in result.entry.actions if a.kind is ActionKind.CLEAR_CARRIED_HOLD_TAG]
    assert (check.target, check.execute, check.mode) == ("crm:1", True, Mode.ENFORCE)


def test_deleted_records_sharing_a_key_do_not_crowd_a_live_duplicate_out_of_the_cap(
    aws_server: AwsResources,
) -> None:
    # given 60 Books customers of one name deleted (Books sends a deleted contact whole): tombstones, which
    # stay in their keys, and share more of them with the new customer than the live duplicate does
    repo = DynamoShadowRepository.from_settings(get_settings())
    matcher = LibraryMatcher()
    guard = Guard(repo, matcher, GuardConfig(), clock=lambda: T0)
    for n in range(60):
        gone = books_customer(f"1{n:02d}", "Kestrel Logistics Ltd", email="accounts@kestrel.co.uk")
        delete = event_for(gone, Operation.DELETE, received=at(1)).model_copy(update={"record": gone})
        guard.process(delete)
    # ... and the company's live CRM account
    guard.process(event_for(crm_account("5", "Kestrel Logistics Ltd", minutes=2), received=at(2)))
    new = books_customer("900", "Kestrel Logistics Ltd", email="accounts@kestrel.co.uk", minutes=3)
    name_key = next(key for key in shadow_keys(new, matcher) if key.startswith("n:"))
    assert len(repo.get_key(name_key).members) == 61

    # when a new customer of that name is read for (at most 50 candidates)
    request = SnapshotRequest(
        event_id="evt_new", entry_id="evt_new", ref=new.ref, keys=shadow_keys(new, matcher)
    )
    snapshot = repo.read_snapshot(request)

    # then the live account is among them, and enough deleted ones for a recreation to be recognised
    assert "crm:5" in snapshot.others
    assert len(snapshot.others) == request.max_candidates
    result = guard.process(event_for(new, received=at(3)))
    assert result.entry is not None
    assert "crm:5" in result.entry.records
    assert "RECREATED_AFTER_DELETE" in result.entry.rules
    # (the key item says which of its members are deleted: no state is read to tell)
    assert len(repo.get_key(name_key).gone) == 60


def test_a_record_back_after_its_delete_is_live_again_in_its_keys_on_the_real_server(
    aws_server: AwsResources,
) -> None:
    repo = DynamoShadowRepository.from_settings(get_settings())
    matcher = LibraryMatcher()
    guard = Guard(repo, matcher, GuardConfig(), clock=lambda: T0)
    account = crm_account("1", "Kestrel Logistics Ltd")
    keys = shadow_keys(account, matcher)
    guard.process(event_for(account))

    guard.process(event_for(crm_account("1", "Kestrel Logistics Ltd", minutes=1), Operation.DELETE))
    # the delete keeps it in its keys, marked deleted there
    assert all(repo.get_key(key).members == {"crm:1"} for key in keys)
    assert all(repo.get_key(key).gone == {"crm:1"} for key in keys)

    # restored from CRM's recycle bin (same id) and edited
    guard.process(event_for(crm_account("1", "Kestrel Logistics Ltd", minutes=2), Operation.UPDATE))

    assert all(repo.get_key(key).members == {"crm:1"} for key in keys)
    assert all(repo.get_key(key).gone == frozenset() for key in keys)
