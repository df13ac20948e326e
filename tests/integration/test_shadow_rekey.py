"""Re-keying the shadow mapping after an upgrade cuts blocking keys differently (``sync-guard rekey``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from typer.testing import CliRunner

from sync_guard.cli._context import default_actor
from sync_guard.config import get_settings
from sync_guard.errors import ConcurrentUpdate
from sync_guard.guard.engine import shadow_keys
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import RecordState
from sync_guard.guard.ports import SnapshotRequest
from sync_guard.models.records import Module
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.bulk import RekeyResult, ShadowRekeyer, ShadowSeeder
from sync_guard.store.items import to_item
from sync_guard.store.shadow import KEY_SK, DynamoShadowRepository, state_item
from tests.support.aws import AwsResources
from tests.support.dynamo_faults import TransactionConflicts
from tests.unit.guard.builders import books_customer, crm_account, state

MATCHER = LibraryMatcher()
# What an older release stored: the exact-name key only, and a typo key this version no longer cuts.
OLD_KEYS = frozenset({"n:brryhon", "q:brry*n"})


def keys_of(record_state: RecordState) -> frozenset[str]:
    return shadow_keys(record_state.record, MATCHER)


@pytest.fixture
def repo(aws: AwsResources) -> DynamoShadowRepository:
    return DynamoShadowRepository.from_settings(get_settings())


@pytest.fixture
def rekeyer(aws: AwsResources) -> ShadowRekeyer:
    return ShadowRekeyer(aws.dynamodb, get_settings().shadow_table)


def load_old_mapping(aws: AwsResources) -> list[RecordState]:
    """A CRM account stored under an older release's keys, a deleted customer, one already up to date."""
    current = crm_account("3", "Zenith Bakery Ltd")
    states = [
        state(crm_account("1", "Brryhon Ltd"), keys=OLD_KEYS),
        state(books_customer("7", "Brryhon Ltd", linked="1"), keys=OLD_KEYS, deleted=True),
        state(current, keys=shadow_keys(current, MATCHER)),
    ]
    ShadowSeeder(aws.dynamodb, get_settings().shadow_table).load(states)
    return states


def finds(repo: DynamoShadowRepository, name: str) -> set[str]:
    """The records a new Books customer of that name would be compared with (the engine's own read)."""
    new = books_customer("99", name)
    request = SnapshotRequest(
        event_id="evt_new", entry_id="evt_new", ref=new.ref, keys=shadow_keys(new, MATCHER)
    )
    return set(repo.read_snapshot(request).others)


def test_rekey_moves_stored_records_to_this_versions_keys(
    aws: AwsResources, repo: DynamoShadowRepository, rekeyer: ShadowRekeyer
) -> None:
    load_old_mapping(aws)
    # a copy typed with another slip shares none of the old keys: the stored account is out of reach
    assert "crm:1" not in finds(repo, "Bryrhon Ltd")
    up_to_date_rev = repo.get_state("crm:3").rev  # type: ignore[union-attr]

    result = rekeyer.run(keys_of)

    assert (result.records, result.rekeyed, result.changed_meanwhile) == (3, 2, 0)
    assert result.removed == {"n:": 2, "q:": 2}
    for ref in ("crm:1", "books:7"):
        moved = repo.get_state(ref)
        assert moved is not None
        assert moved.keys == keys_of(moved)
        assert all(ref in repo.get_key(key).members for key in moved.keys)
        assert all(ref not in repo.get_key(key).members for key in OLD_KEYS - moved.keys)
    assert repo.get_state("books:7").deleted  # type: ignore[union-attr]  # a tombstone stays findable
    assert repo.get_state("crm:3").rev == up_to_date_rev  # type: ignore[union-attr]  # untouched
    assert {"crm:1", "books:7"} <= finds(repo, "Bryrhon Ltd")

    again = rekeyer.run(keys_of)
    assert (again.records, again.rekeyed) == (3, 0)


def test_a_dry_run_counts_and_writes_nothing(
    aws: AwsResources, repo: DynamoShadowRepository, rekeyer: ShadowRekeyer
) -> None:
    load_old_mapping(aws)

    result = rekeyer.run(keys_of, dry_run=True)

    assert result.rekeyed == 2
    assert repo.get_state("crm:1").keys == OLD_KEYS  # type: ignore[union-attr]


@pytest.mark.parametrize("transaction_items", [100, 2], ids=["one-transaction", "small-transactions"])
def test_a_record_an_event_rewrites_during_the_pass_is_left_to_that_event(
    aws: AwsResources, repo: DynamoShadowRepository, transaction_items: int
) -> None:
    # (with small transactions the state is put on its own, after the key joins, on the same condition)
    rekeyer = ShadowRekeyer(
        aws.dynamodb, get_settings().shadow_table, max_transaction_items=transaction_items
    )
    load_old_mapping(aws)
    event_keys = frozenset({"n:brryhon", "p:+442079460000"})

    def keys_while_an_event_writes(record_state: RecordState) -> frozenset[str]:
        if record_state.ref == "crm:1":
            # between the pass's read and its write, an event stores the record (as the engine would)
            newer = record_state.model_copy(update={"keys": event_keys, "rev": record_state.rev + 1})
            aws.dynamodb.put_item(TableName=get_settings().shadow_table, Item=state_item(newer))
        return keys_of(record_state)

    result = rekeyer.run(keys_while_an_event_writes)

    assert (result.rekeyed, result.changed_meanwhile) == (1, 1)
    assert repo.get_state("crm:1").keys == event_keys  # type: ignore[union-attr]  # the event's write stands


def _moves(items: list[dict[str, Any]]) -> bool:
    """The re-keyer's transaction moving crm:1 (its state put first)."""
    return "Put" in items[0] and "REC#crm:1" in str(items[0])


def test_a_move_that_meets_another_transaction_is_tried_again(
    aws: AwsResources, repo: DynamoShadowRepository
) -> None:
    # given a move that DynamoDB cancels once: an event's transaction held one of its key items
    load_old_mapping(aws)
    client = TransactionConflicts(aws.dynamodb, when=_moves)
    rekeyer = ShadowRekeyer(client, get_settings().shadow_table)

    result = rekeyer.run(keys_of)

    # then the state had not changed: the move is tried again and done
    assert (client.conflicts, client.picked) == (1, 2)
    assert (result.rekeyed, result.changed_meanwhile) == (2, 0)
    moved = repo.get_state("crm:1")
    assert moved is not None
    assert moved.keys == keys_of(moved)
    assert all("crm:1" in repo.get_key(key).members for key in moved.keys)


def test_a_move_that_meets_the_transaction_of_an_event_rewriting_the_record_is_left_to_it(
    aws: AwsResources, repo: DynamoShadowRepository
) -> None:
    # given a move cancelled by the transaction of an event that stores the record meanwhile
    load_old_mapping(aws)
    event_keys = frozenset({"n:brryhon", "p:+442079460000"})

    def event_commits() -> None:
        stored = repo.get_state("crm:1")
        assert stored is not None
        newer = stored.model_copy(update={"keys": event_keys, "rev": stored.rev + 1})
        aws.dynamodb.put_item(TableName=get_settings().shadow_table, Item=state_item(newer))

    client = TransactionConflicts(aws.dynamodb, when=_moves, meanwhile=event_commits)

    result = ShadowRekeyer(client, get_settings().shadow_table).run(keys_of)

    # then the pass does not try again over the event's write: counted as changed meanwhile
    assert (client.conflicts, client.picked) == (1, 1)
    assert (result.rekeyed, result.changed_meanwhile) == (1, 1)
    assert repo.get_state("crm:1").keys == event_keys  # type: ignore[union-attr]


def test_a_move_that_keeps_meeting_other_transactions_stops_the_pass(aws: AwsResources) -> None:
    load_old_mapping(aws)
    client = TransactionConflicts(aws.dynamodb, times=None, when=_moves)

    with pytest.raises(ConcurrentUpdate, match="crm:1: re-keying still conflicted after 10 attempts"):
        ShadowRekeyer(client, get_settings().shadow_table).run(keys_of)
    assert client.conflicts == 10


def test_a_server_with_small_transactions_gets_the_same_result(
    aws: AwsResources, repo: DynamoShadowRepository
) -> None:
    load_old_mapping(aws)
    rekeyer = ShadowRekeyer(aws.dynamodb, get_settings().shadow_table, max_transaction_items=2)

    result = rekeyer.run(keys_of)

    assert result.rekeyed == 2
    moved = repo.get_state("crm:1")
    assert moved is not None
    assert moved.keys == keys_of(moved)
    assert all("crm:1" in repo.get_key(key).members for key in moved.keys)
    assert all("crm:1" not in repo.get_key(key).members for key in OLD_KEYS - moved.keys)


def test_rekey_cli_reports_counts_by_key_kind_and_is_audited(
    aws: AwsResources, repo: DynamoShadowRepository
) -> None:
    from sync_guard.cli import app

    load_old_mapping(aws)

    dry = CliRunner().invoke(app, ["rekey", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "read 3 record states: 2 keyed differently by this version" in dry.stdout
    assert "would move (dry run: nothing written)" in dry.stdout
    assert "brryhon" not in dry.stdout  # counts by kind, never the keys (names, emails)

    done = CliRunner().invoke(app, ["rekey"])
    assert done.exit_code == 0, done.output
    assert "moved: key memberships added" in done.stdout
    assert "removed n: 2, q: 2" in done.stdout
    assert "crm:1" in finds(repo, "Bryrhon Ltd")
    entries = AuditLog.from_settings(get_settings()).query(AuditQuery(decision="admin")).entries
    # without --actor, the OS user as every admin command names it (user:<name>)
    assert [(e.operation, e.actor) for e in entries] == [("rekey", default_actor())]

    again = CliRunner().invoke(app, ["rekey", "--actor", "alice"])
    assert "read 3 record states: 0 keyed differently" in again.stdout
    assert len(AuditLog.from_settings(get_settings()).query(AuditQuery(decision="admin")).entries) == 1


def test_a_full_key_is_not_joined_and_the_pass_says_so(
    aws: AwsResources, repo: DynamoShadowRepository
) -> None:
    load_old_mapping(aws)
    # a key this version cuts for the moved account is already shared by as many records as a key may hold
    full_key = next(key for key in keys_of(repo.get_state("crm:1")) if key.startswith("q:"))  # type: ignore[arg-type]
    crowd = {"crm:100", "crm:101", "crm:102"}
    aws.dynamodb.put_item(
        TableName=get_settings().shadow_table,
        Item=to_item({"pk": f"KEY#{full_key}", "sk": KEY_SK, "members": crowd, "owner": "crm:100", "rev": 1}),
    )
    rekeyer = ShadowRekeyer(aws.dynamodb, get_settings().shadow_table, max_key_members=3)

    result = rekeyer.run(keys_of)

    assert result.full == {"q:": 2}  # the account and the deleted customer of the same name
    assert repo.get_key(full_key).members == crowd  # no fourth member
    for ref in ("crm:1", "books:7"):
        moved = repo.get_state(ref)
        assert moved is not None
        assert full_key in moved.keys  # listed, as the engine lists a key it could not join
        assert all(ref in repo.get_key(key).members for key in moved.keys - {full_key})


def test_the_report_names_memberships_left_out_of_full_keys() -> None:
    from sync_guard.cli.rekey import report_lines

    result = RekeyResult(records=4, rekeyed=2, added=Counter({"n:": 2}), full=Counter({"q:": 2}))

    lines = report_lines(result, dry_run=False)

    assert lines[-1] == "not joined, already shared by 5,000 records (a key that identifies nobody): q: 2"


def test_rekey_marks_deleted_records_in_key_items_written_before_the_mark_was_kept(
    aws: AwsResources, repo: DynamoShadowRepository, rekeyer: ShadowRekeyer
) -> None:
    # given a tombstone and a live record under this version's keys, in items an older release wrote
    gone = state(books_customer("7", "Zenith Bakery Ltd"), deleted=True)
    gone = gone.model_copy(update={"keys": keys_of(gone)})
    live = state(crm_account("3", "Zenith Bakery Ltd"))
    live = live.model_copy(update={"keys": keys_of(live)})
    table = get_settings().shadow_table
    items = [state_item(gone), state_item(live)]
    for key in sorted(gone.keys | live.keys):
        members = {s.ref for s in (gone, live) if key in s.keys}
        items.append(to_item({"pk": f"KEY#{key}", "sk": KEY_SK, "members": members, "rev": 1}))
    for item in items:
        aws.dynamodb.put_item(TableName=table, Item=item)

    assert rekeyer.run(keys_of, dry_run=True).marked == len(gone.keys)
    assert all(repo.get_key(key).gone == frozenset() for key in gone.keys)
    result = rekeyer.run(keys_of)

    assert result.rekeyed == 0
    assert result.marked == len(gone.keys)
    assert all(repo.get_key(key).gone == {"books:7"} for key in gone.keys)
    assert rekeyer.run(keys_of).marked == 0  # a second pass finds nothing to do


def test_a_deleted_record_moved_to_new_keys_is_marked_deleted_there(
    aws: AwsResources, repo: DynamoShadowRepository, rekeyer: ShadowRekeyer
) -> None:
    load_old_mapping(aws)
    # (the seeder marks the tombstone it loads)
    assert all(repo.get_key(key).gone == {"books:7"} for key in OLD_KEYS)

    rekeyer.run(keys_of)

    moved = repo.get_state("books:7")
    assert moved is not None
    assert all(repo.get_key(key).gone == {"books:7"} for key in moved.keys)


def test_rekey_leaves_a_customer_turned_vendor_out_of_every_key(
    aws: AwsResources, repo: DynamoShadowRepository, rekeyer: ShadowRekeyer
) -> None:
    # given a Books customer the guard retired when Books made it a vendor: its state kept, in no key
    customer = books_customer("7", "Zenith Bakery Ltd")
    vendor = customer.model_copy(update={"module": Module.BOOKS_VENDORS})
    ShadowSeeder(aws.dynamodb, get_settings().shadow_table).load([state(vendor, deleted=True)])

    result = rekeyer.run(keys_of)

    assert result.rekeyed == 0
    assert repo.get_state("books:7").keys == frozenset()  # type: ignore[union-attr]
    assert "books:7" not in finds(repo, "Zenith Bakery Ltd")
