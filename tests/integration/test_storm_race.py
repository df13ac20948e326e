"""The storm breaker under concurrent creates, on moto and on a real DynamoDB-API server over HTTP.

Each create is counted on condition that the breaker's windows still hold the hits it read and that the
breaker is still closed: two creates counted at once cannot both decide they are below the threshold.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from sync_guard.config import Mode, get_settings
from sync_guard.errors import ConcurrentUpdate
from sync_guard.guard.engine import Guard, GuardConfig, GuardResult
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import AuditEntry, Decision
from sync_guard.guard.ports import BreakerChange, CommitPlan, KeyChange, Snapshot, SnapshotRequest, StateWrite
from sync_guard.models.events import GuardEvent, Operation
from sync_guard.store.shadow import DynamoShadowRepository
from tests.integration.test_shadow_store import entry
from tests.support.aws import AwsResources
from tests.unit.guard.builders import at, books_customer, crm_account, event_for, state

CONFIG = GuardConfig(mode=Mode.ENFORCE, storm_threshold=2, storm_window_seconds=600)
#: Written now: window items expire a day after they are written, and DynamoDB Local deletes expired items.
NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Backend:
    resources: AwsResources
    #: moto checks a transaction's conditions and applies its writes without a lock, so two threads can
    #: both pass; a real server serialises conflicting transactions. On moto, commits take turns.
    serialises_transactions: bool


@pytest.fixture(params=["moto", pytest.param("dynamodb-local", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> Backend:
    on_moto = request.param == "moto"
    return Backend(request.getfixturevalue("aws" if on_moto else "aws_server"), not on_moto)


class ReadTogether(DynamoShadowRepository):
    """Waits after its first snapshot until the other invocation has read too: both decide on one state."""

    def __init__(self, both_read: threading.Barrier, commit_turns: threading.Lock | None) -> None:
        base = DynamoShadowRepository.from_settings(get_settings())
        super().__init__(
            base._client,
            shadow_table=base.shadow_table,
            audit_table=base.audit_table,
            outbox_table=base.outbox_table,
        )
        self.both_read: threading.Barrier | None = both_read
        self.commit_turns: AbstractContextManager[object] = commit_turns or nullcontext()

    def read_snapshot(self, request: SnapshotRequest) -> Snapshot:
        snapshot = super().read_snapshot(request)
        if self.both_read is not None:
            barrier, self.both_read = self.both_read, None
            barrier.wait(timeout=30)
        return snapshot

    def commit(self, plan: CommitPlan) -> None:
        with self.commit_turns:
            super().commit(plan)


def _repository() -> DynamoShadowRepository:
    return DynamoShadowRepository.from_settings(get_settings())


def _customers(*names: str) -> None:
    guard = Guard(_repository(), LibraryMatcher(), CONFIG, clock=lambda: NOW)
    for n, name in enumerate(names):
        guard.process(event_for(books_customer(f"46{n}", name)))


def _reconnect_create(n: int, name: str) -> GuardEvent:
    return event_for(crm_account(f"57{n}", name, minutes=1), Operation.CREATE, received=at(1))


def test_two_creates_counted_at_once_trip_the_breaker(backend: Backend) -> None:
    # given two customers, and a breaker that trips on the second create matching one of them
    _customers("Harbour Freight Ltd", "Northgate Joinery Ltd")
    events = [
        _reconnect_create(1, "Harbour Freight Limited"),
        _reconnect_create(2, "Northgate Joinery Limited"),
    ]
    both_read = threading.Barrier(len(events))
    commit_turns = None if backend.serialises_transactions else threading.Lock()

    def run(event: GuardEvent) -> GuardResult:
        repository = ReadTogether(both_read, commit_turns)
        return Guard(repository, LibraryMatcher(), CONFIG, clock=lambda: NOW).process(event)

    # when both read the breaker (no hits yet) before either commits
    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        results = list(pool.map(run, events, timeout=60))

    # then one of them is re-decided with the other's hit, and trips the breaker
    outcomes = [(r.attempts, r.decision, r.entry.rules if r.entry else None) for r in results]
    assert _repository().breaker().open, outcomes
    tripped = [r for r in results if r.entry is not None and "MULTIPLICATION_STORM" in r.entry.rules]
    assert len(tripped) == 1
    assert tripped[0].attempts > 1
    assert tripped[0].decision is Decision.QUARANTINE


def _entry(entry_id: str) -> AuditEntry:
    return entry(entry_id, at=NOW)


def _hit(entry_id: str, hits_read: tuple[int, int], *, trip: bool = False) -> CommitPlan:
    change = BreakerChange(
        epoch=0, bucket=7, count_hit=True, trip=trip, event_id=entry_id, hits_read=hits_read
    )
    return CommitPlan(entry=_entry(entry_id), breaker=change)


def test_a_hit_decided_on_hits_another_event_has_added_to_is_refused(backend: Backend) -> None:
    repository = _repository()
    repository.commit(_hit("evt_first", (0, 0)))
    with pytest.raises(ConcurrentUpdate):
        repository.commit(_hit("evt_second", (0, 0)))  # read before the first was counted
    repository.commit(_hit("evt_second", (1, 0)))
    snapshot = repository.read_snapshot(
        SnapshotRequest(event_id="e", entry_id="e", ref="crm:1", storm_bucket=8)
    )
    assert snapshot.breaker.window_hits == (0, 2)  # seen from the next window: both in the previous one


def test_a_hit_in_the_next_window_counts_only_if_the_previous_one_is_unchanged(backend: Backend) -> None:
    repository = _repository()
    repository.commit(_hit("evt_first", (0, 0)))  # window 7
    # read in window 8 while window 7 was still empty
    late = CommitPlan(
        entry=_entry("evt_late"), breaker=BreakerChange(epoch=0, bucket=8, count_hit=True, hits_read=(0, 0))
    )
    with pytest.raises(ConcurrentUpdate):
        repository.commit(late)


def test_a_hit_that_read_the_breaker_closed_is_refused_once_it_has_tripped(backend: Backend) -> None:
    repository = _repository()
    repository.commit(_hit("evt_first", (0, 0)))
    repository.commit(_hit("evt_trip", (1, 0), trip=True))
    # a create that read the breaker closed, in another window whose hits have not changed
    late = CommitPlan(
        entry=_entry("evt_late"), breaker=BreakerChange(epoch=0, bucket=20, count_hit=True, hits_read=(0, 0))
    )
    with pytest.raises(ConcurrentUpdate):
        repository.commit(late)
    assert repository.breaker().opened_by_event == "evt_trip"


def test_a_count_that_does_not_fit_a_small_transaction_is_written_after_it(backend: Backend) -> None:
    # a server that takes two items per transaction: the audit marker and the state, then the rest
    repository = _repository()
    repository.max_transaction_items = 2
    account = state(crm_account("1", "Acme Ltd"), keys=frozenset({"n:acme"}))
    claim = KeyChange("n:acme", add=frozenset({account.ref}), expected_rev=None)
    counted = BreakerChange(epoch=0, bucket=7, count_hit=True, hits_read=(0, 0))
    repository.commit(
        CommitPlan(
            entry=_entry("evt_1"),
            state_writes=(StateWrite(account.model_copy(update={"rev": 1}), None),),
            key_changes=(claim,),
            breaker=counted,
        )
    )

    # the key claim and the count, written after the transaction without their conditions
    assert repository.get_key("n:acme").members == {"crm:1"}
    request = SnapshotRequest(event_id="e", entry_id="e", ref="crm:2", storm_bucket=7)
    assert repository.read_snapshot(request).breaker.window_hits == (1, 0)
