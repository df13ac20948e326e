"""A decision's cited records are checked at commit, on the real DynamoDB-API server over HTTP.

Each race is one interleaving: the event's snapshot is read, another event commits a change of a record the
decision cites (deleting it), then the first event's plan is committed. The commit is conditioned on the
cited record's revision, so it is cancelled and the event re-decided on fresh reads. And on a server that
takes fewer items per transaction than the plan has, the checks that do not fit are made by a read just
before the transaction, not dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from sync_guard.config import get_settings
from sync_guard.errors import ConcurrentUpdate
from sync_guard.guard.engine import Guard, storm_bucket
from sync_guard.guard.ports import CommitPlan, ShadowRepository, Snapshot, SnapshotRequest, StateWrite
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog
from sync_guard.store.items import to_value
from sync_guard.store.shadow import DynamoShadowRepository, key_item_key
from tests.integration.test_shadow_store import create_plan, entry
from tests.support.aws import AwsResources
from tests.support.dynamo_faults import refuse_transactions_over
from tests.unit.guard.builders import books_customer, crm_account, state
from tests.unit.guard.test_decision_basis import (
    ACME_KEY,
    MIXED_RACES,
    STORM,
    STORM_COPIES,
    a_create_the_storm_counts_on_one_account,
    a_merge_while_the_sync_links_the_master,
    a_sole_trader_linked_twice,
    an_invoiced_copy_while_its_crm_twin_is_unpaired,
    assert_both_sides_against_the_unpaired,
    assert_mixed_mapping_found,
    assert_no_orphan_of_the_deleted,
    assert_not_counted_against_the_deleted,
    assert_not_held_against_the_deleted,
    assert_orphaned_by_the_merge,
    make_guard,
    mixed_mapping_with_a_delete,
    two_merged_pairs,
)

pytestmark = pytest.mark.integration


class CommitsAfter:
    """The shadow on the server, where ``racer`` commits (once) between the first snapshot and its commit."""

    def __init__(self, racer: Callable[[], object], shadow: DynamoShadowRepository | None = None) -> None:
        self.shadow = shadow or DynamoShadowRepository.from_settings(get_settings())
        self.racer: Callable[[], object] | None = racer

    def read_snapshot(self, request: SnapshotRequest) -> Snapshot:
        return self.shadow.read_snapshot(request)

    def commit(self, plan: CommitPlan) -> None:
        if self.racer is not None:
            racer, self.racer = self.racer, None
            racer()
        self.shadow.commit(plan)


def _guard() -> Guard:
    return make_guard(DynamoShadowRepository.from_settings(get_settings()))


def test_a_customer_is_not_held_as_a_duplicate_of_one_deleted_meanwhile(aws_server: AwsResources) -> None:
    relink, gone = mixed_mapping_with_a_delete(_guard())
    # when the bookkeeper deletes books:9 between the link's read and its commit
    repository = CommitsAfter(lambda: _guard().process(gone))

    result = make_guard(repository).process(relink)

    assert_not_held_against_the_deleted(result)
    books_10 = repository.shadow.get_state("books:10")
    assert books_10 is not None
    assert books_10.held_by is None
    assert AuditLog.from_settings(get_settings()).get(result.event_id) == result.entry


def test_a_merge_orphan_is_not_flagged_against_a_survivor_deleted_meanwhile(aws_server: AwsResources) -> None:
    first, second = two_merged_pairs(_guard())
    # when both are deleted at once: the second's delete commits between the first's read and its commit
    repository = CommitsAfter(lambda: _guard().process(second))

    result = make_guard(repository).process(first)

    assert_no_orphan_of_the_deleted(result)
    crm_2 = repository.shadow.get_state("crm:2")
    assert crm_2 is not None
    assert crm_2.deleted


def test_a_crm_delete_is_decided_a_merge_orphan_on_a_master_the_sync_paired_meanwhile(
    aws_server: AwsResources,
) -> None:
    merged, linked = a_merge_while_the_sync_links_the_master(_guard())
    # when the sync links books:10 to crm:2 between the delete's read and its commit
    repository = CommitsAfter(lambda: _guard().process(linked))

    result = make_guard(repository).process(merged)

    assert_orphaned_by_the_merge(result)
    crm_2 = repository.shadow.get_state("crm:2")
    assert crm_2 is not None
    assert crm_2.partner == "books:10"


@pytest.mark.parametrize(("first", "made_from_contact"), MIXED_RACES)
def test_a_mixed_mapping_linked_from_both_sides_at_once_is_found(
    aws_server: AwsResources, first: str, made_from_contact: bool
) -> None:
    links = a_sole_trader_linked_twice(_guard(), made_from_contact=made_from_contact)
    other = links["contact" if first == "account" else "account"]
    # when the other link commits between the read of this one and its commit (neither saw the other)
    repository = CommitsAfter(lambda: _guard().process(other))

    result = make_guard(repository).process(links[first])

    assert_mixed_mapping_found(result)


@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
def test_both_sides_created_is_found_against_a_crm_record_unpaired_meanwhile(
    aws_server: AwsResources, split: bool
) -> None:
    copy, unlinked = an_invoiced_copy_while_its_crm_twin_is_unpaired(_guard())
    # when books:9's link to crm:2 is dropped between the read of books:10's first event and its commit
    # (split: two items per transaction, the audit marker and books:10's state; crm:2's check is a read)
    shadow = _split_repository(2) if split else None
    repository = CommitsAfter(lambda: _guard().process(unlinked), shadow)

    result = make_guard(repository).process(copy)

    assert result.attempts == 2
    assert_both_sides_against_the_unpaired(result)


#: Written now: storm window items expire a day after they are written (DynamoDB Local deletes them).
NOW = datetime.now(UTC)


def _fill(key: str, refs: frozenset[str]) -> None:
    """Adds deleted records to ``key``'s item on the server, as their deletes left them (members, gone)."""
    settings = get_settings()
    aws.client("dynamodb", settings).update_item(
        TableName=settings.shadow_table,
        Key=key_item_key(key),
        UpdateExpression="ADD members :refs, gone :refs, rev :one",
        ExpressionAttributeValues={":refs": {"SS": sorted(refs)}, ":one": to_value(1)},
    )


def _storm_race(shadow: DynamoShadowRepository) -> None:
    """A create counted towards a storm on its one live match, crm:1, deleted between its read and its
    commit: re-decided, not counted (see ``a_create_the_storm_counts_on_one_account``)."""

    def storm_guard(repository: ShadowRepository | None = None) -> Guard:
        return make_guard(repository or _storm_shadow(), config=STORM, now=NOW)

    create, gone = a_create_the_storm_counts_on_one_account(storm_guard, _fill, received=NOW)
    assert len(_storm_shadow().get_key(ACME_KEY).members) == len(STORM_COPIES) + 1
    repository = CommitsAfter(lambda: storm_guard().process(gone), shadow)

    result = storm_guard(repository).process(create)

    assert_not_counted_against_the_deleted(result)
    bucket = storm_bucket(create, STORM.storm_window_seconds)
    request = SnapshotRequest(event_id="evt_look", entry_id="evt_look", ref="books:0", storm_bucket=bucket)
    breaker = _storm_shadow().read_snapshot(request).breaker
    assert not breaker.open
    assert breaker.recent_hits == 1  # books:20's
    books_10 = _storm_shadow().get_state("books:10")
    assert books_10 is not None
    assert books_10.held_by is None


def _storm_shadow() -> DynamoShadowRepository:
    return DynamoShadowRepository.from_settings(get_settings())


def test_a_create_is_not_counted_towards_a_storm_on_a_record_deleted_meanwhile(
    aws_server: AwsResources,
) -> None:
    _storm_race(_storm_shadow())


def test_a_storm_count_checked_by_a_read_before_a_split_transaction_is_cancelled_too(
    aws_server: AwsResources,
) -> None:
    # on a server that takes five items per transaction: the audit marker, books:10's state and the storm
    # breaker's three conditions; the check of crm:1 is made by a read just before the transaction
    _storm_race(_split_repository(5))


def _split_repository(limit: int) -> DynamoShadowRepository:
    """The shadow through a client refusing transactions of more than ``limit`` items, as DynamoDB Local
    refuses more than its limit (the repository learns it from the refusal)."""
    settings = get_settings()
    client = refuse_transactions_over(aws.client("dynamodb", settings), limit)
    return DynamoShadowRepository(
        client,
        shadow_table=settings.shadow_table,
        audit_table=settings.audit_table,
        outbox_table=settings.outbox_table,
    )


def _cites(*refs: str) -> CommitPlan:
    """A customer's decision citing ``refs``: its state written, each cited state checked at revision 1."""
    customer = state(books_customer("9", "Acme Ltd"))
    return CommitPlan(
        entry=entry("evt_9", records=("books:9", *refs)),
        state_writes=create_plan("evt_9", customer, keys={}).state_writes,
        state_checks=tuple((ref, 1) for ref in refs),
    )


def _put(ref: str, name: str, *, minutes: float = 0) -> None:
    record = crm_account(ref.removeprefix("crm:"), name, minutes=minutes)
    DynamoShadowRepository.from_settings(get_settings()).commit(
        create_plan(f"evt_{ref}_{minutes}", state(record), keys={})
    )


def _renamed(ref: str, name: str) -> None:
    """Another event's change of ``ref``'s state (its revision moves on)."""
    repository = DynamoShadowRepository.from_settings(get_settings())
    current = repository.get_state(ref)
    assert current is not None
    moved = current.model_copy(
        update={"record": current.record.model_copy(update={"name": name}), "rev": current.rev + 1}
    )
    repository.commit(
        CommitPlan(
            entry=entry(f"evt_{ref}_renamed", records=(ref,)),
            state_writes=(StateWrite(moved, current.rev),),
        )
    )


def test_a_check_a_split_transaction_has_no_room_for_is_made_before_it(aws_server: AwsResources) -> None:
    # given three CRM records a customer's decision cites, each read at revision 1, and a server that takes
    # three items per transaction (the audit marker, the customer's state, one check)
    for n in (1, 2, 3):
        _put(f"crm:{n}", "Acme Ltd")
    repository = _split_repository(3)
    # when the last cited record changes before the decision commits
    _renamed("crm:3", "Acme Trading Ltd")
    # then the commit is refused, as one transaction would have refused it, and nothing is written
    with pytest.raises(ConcurrentUpdate):
        repository.commit(_cites("crm:1", "crm:2", "crm:3"))
    assert repository.max_transaction_items == 3
    assert repository.get_state("books:9") is None
    assert AuditLog.from_settings(get_settings()).get("evt_9") is None
    # and decided on the records as they are, it commits
    repository.commit(_cites("crm:1", "crm:2"))
    assert repository.get_state("books:9") is not None
