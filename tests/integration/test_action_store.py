"""Outbox actions on the real DynamoDB-API server: a claim is a lease, and only its holder ends it.

The executor's unit tests run against a fake store; these check the conditions the real store writes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_guard.config import Mode, get_settings
from sync_guard.errors import ConcurrentUpdate
from sync_guard.executor import dynamo as executor_dynamo
from sync_guard.executor.dynamo import FINISH_ATTEMPTS, DynamoActionStore
from sync_guard.executor.model import ActionStatus, Claim, Refusal
from sync_guard.guard.model import ActionKind, AuditEntry, Decision, EntryKind
from sync_guard.guard.ports import CommitPlan
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.shadow import DynamoShadowRepository
from tests.support.aws import AwsResources
from tests.support.dynamo_faults import CommittedThenRetried, TransactionConflicts, refuse_transactions_over
from tests.unit.executor.fakes_executor import action

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = 120


def _entry(entry_id: str, kind: EntryKind) -> AuditEntry:
    return AuditEntry(
        entry_id=entry_id,
        at=NOW,
        kind=kind,
        decision=Decision.QUARANTINE,
        mode=Mode.ENFORCE,
        event_id="evt_1",
    )


def _pending_hold() -> str:
    """A hold queued by a decision, as the engine's commit leaves it: pending."""
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:9")
    repository = DynamoShadowRepository.from_settings(get_settings())
    repository.commit(CommitPlan(entry=_entry("evt_1", EntryKind.DECISION), actions=(hold,)))
    return hold.action_id


def _claimed(store: DynamoActionStore, action_id: str, seconds: int) -> Claim:
    claim = store.claim(action_id, now=NOW + timedelta(seconds=seconds), lease_seconds=LEASE)
    assert isinstance(claim, Claim), claim
    return claim


def test_a_running_action_is_refused_to_a_second_executor_until_its_lease_lapses(
    aws_server: AwsResources,
) -> None:
    store = DynamoActionStore.from_settings(get_settings())
    action_id = _pending_hold()
    first = _claimed(store, action_id, 0)
    # another executor, within the lease: refused, the action is running
    refused = store.claim(action_id, now=NOW + timedelta(seconds=LEASE - 1), lease_seconds=LEASE)
    assert refused == Refusal(action_id, ActionStatus.RUNNING)
    # once the lease has lapsed (the first executor died), the action can be taken over
    second = _claimed(store, action_id, LEASE + 1)
    assert second.token != first.token
    assert second.attempt == 2


def test_only_the_executor_holding_the_claim_can_end_it(aws_server: AwsResources) -> None:
    store = DynamoActionStore.from_settings(get_settings())
    action_id = _pending_hold()
    lapsed = _claimed(store, action_id, 0)
    current = _claimed(store, action_id, LEASE + 1)
    later = NOW + timedelta(seconds=LEASE + 2)
    # the executor whose lease lapsed comes back: it can neither give the action back nor finish it
    assert not store.retry_later(lapsed, error="zoho_timeout", detail="late", now=later)
    assert not store.finish(
        lapsed, ActionStatus.DONE, detail="late", entry=_entry("act_lapsed", EntryKind.ACTION), now=later
    )
    assert store.status(action_id) is ActionStatus.RUNNING
    # the one holding the claim can
    assert store.finish(
        current, ActionStatus.DONE, detail="ok", entry=_entry("act_current", EntryKind.ACTION), now=later
    )
    assert store.status(action_id) is ActionStatus.DONE


def test_a_cancel_takes_only_an_action_no_executor_is_running_or_has_finished(
    aws_server: AwsResources,
) -> None:
    store = DynamoActionStore.from_settings(get_settings())
    later = NOW + timedelta(seconds=1)
    # a release while the executor writes the hold to Zoho: refused, the action runs on
    running = _pending_hold()
    claim = _claimed(store, running, 0)
    assert store.cancel(running, reason="released", now=later) is ActionStatus.RUNNING
    assert store.status(running) is ActionStatus.RUNNING
    # and once it is done: still done (the release undoes it instead)
    store.finish(claim, ActionStatus.DONE, detail="ok", entry=_entry("act_done", EntryKind.ACTION), now=later)
    assert store.cancel(running, reason="released", now=later) is ActionStatus.DONE
    assert store.status(running) is ActionStatus.DONE
    # an action that was never queued: nothing to cancel
    assert store.cancel("act_unknown", reason="released", now=later) is None


def test_an_outcome_naming_more_records_than_dynamodb_local_takes_in_a_transaction_is_recorded(
    aws_server: AwsResources,
) -> None:
    # given a server that takes ten items per transaction (DynamoDB Local), and an action whose outcome
    # entry names eight records and three rules: thirteen view items beside its primary item and the update
    client = refuse_transactions_over(aws.client("dynamodb", get_settings()))
    settings = get_settings()
    store = DynamoActionStore(client, outbox_table=settings.outbox_table, audit_table=settings.audit_table)
    claim = _claimed(store, _pending_hold(), 0)
    records = tuple(f"crm:{n}" for n in range(8))
    entry = _entry("act_wide", EntryKind.ACTION).model_copy(
        update={"records": records, "rules": ("NAME_DRIFT", "BOTH_SIDES_CREATED", "STORM")}
    )
    # when the executor finishes it
    finished = store.finish(claim, ActionStatus.DONE, detail="ok", entry=entry, now=NOW)
    # then the action is done and its outcome is in the trail, found by id and by each record
    assert finished
    assert store.status(claim.action_id) is ActionStatus.DONE
    audit = AuditLog.from_settings(settings)
    assert audit.get("act_wide") == entry
    for ref in records:
        assert [e.entry_id for e in audit.query(AuditQuery(record=ref)).entries] == ["act_wide"]


def _store_through(client: Any) -> DynamoActionStore:
    settings = get_settings()
    return DynamoActionStore(client, outbox_table=settings.outbox_table, audit_table=settings.audit_table)


def _touches_the_outbox(items: list[dict[str, Any]]) -> bool:
    return any(
        next(iter(operation.values()))["TableName"] == get_settings().outbox_table for operation in items
    )


def _waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between tries of an outcome, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(executor_dynamo, "_wait_before_finishing_again", waits.append, raising=False)
    return waits


def test_an_outcome_cancelled_by_a_conflict_while_the_claim_holds_is_recorded_on_a_retry(
    aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a running action whose outcome's transaction another transaction cancels, twice (a conflict on
    # the outbox item or an audit view at that moment: the claim is still the executor's)
    waits = _waits(monkeypatch)
    client = aws.client("dynamodb", get_settings())
    conflicts = TransactionConflicts(client, times=2, when=_touches_the_outbox)
    store = _store_through(conflicts)
    claim = _claimed(store, _pending_hold(), 0)
    # when the executor finishes it
    entry = _entry("act_retried", EntryKind.ACTION)
    finished = store.finish(claim, ActionStatus.DONE, detail="ok", entry=entry, now=NOW)
    # then the outcome is recorded after waiting out the conflicts, not taken for a lost claim
    assert finished
    assert conflicts.conflicts == 2
    assert len(waits) == 2
    assert store.status(claim.action_id) is ActionStatus.DONE
    assert AuditLog.from_settings(get_settings()).get("act_retried") == entry


def test_an_outcome_cancelled_because_the_claim_was_taken_over_is_not_retried(
    aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a running action taken over by another executor (the lease lapsed) just as this one finishes
    waits = _waits(monkeypatch)
    plain = DynamoActionStore.from_settings(get_settings())
    action_id = _pending_hold()
    lapsed = _claimed(plain, action_id, 0)
    taken: list[Claim] = []
    conflicts = TransactionConflicts(
        aws.client("dynamodb", get_settings()),
        when=_touches_the_outbox,
        meanwhile=lambda: taken.append(_claimed(plain, action_id, LEASE + 1)),
    )
    # when the first executor's outcome is cancelled
    entry = _entry("act_lapsed", EntryKind.ACTION)
    finished = _store_through(conflicts).finish(
        lapsed, ActionStatus.DONE, detail="late", entry=entry, now=NOW
    )
    # then it is the lost claim it is: not tried again, nothing recorded, the action runs under the new claim
    assert not finished
    assert waits == []
    assert plain.status(action_id) is ActionStatus.RUNNING
    assert AuditLog.from_settings(get_settings()).get("act_lapsed") is None
    [current] = taken
    entry = _entry("act_taken", EntryKind.ACTION)
    assert plain.finish(current, ActionStatus.DONE, detail="ok", entry=entry, now=NOW)


def test_an_outcome_that_keeps_conflicting_is_given_up_with_the_error(
    aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a running action whose outcome every transaction cancels by a conflict, the claim still held
    waits = _waits(monkeypatch)
    client = aws.client("dynamodb", get_settings())
    conflicts = TransactionConflicts(client, times=None, when=_touches_the_outbox)
    store = _store_through(conflicts)
    claim = _claimed(store, _pending_hold(), 0)
    # then after a few tries with growing waits the conflict propagates (the executor gives the action back
    # for a retry), rather than passing for a lost claim that leaves it running until its lease runs out
    entry = _entry("act_busy", EntryKind.ACTION)
    with pytest.raises(ConcurrentUpdate):
        store.finish(claim, ActionStatus.DONE, detail="ok", entry=entry, now=NOW)
    assert conflicts.conflicts == FINISH_ATTEMPTS
    assert len(waits) == FINISH_ATTEMPTS - 1
    assert waits[-1] > waits[0]
    assert store.retry_later(claim, error="conflict", detail="outcome not recorded", now=NOW)
    assert store.status(claim.action_id) is ActionStatus.RETRYING


@pytest.mark.parametrize("limit", [None, 3], ids=["whole", "split"])
def test_an_outcome_committed_then_sent_again_is_recorded_not_taken_for_a_lost_claim(
    aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch, limit: int | None
) -> None:
    # given a running action whose outcome's transaction commits, but whose answer is lost: botocore sends
    # it again, and the second attempt fails its conditions against the first's writes (the entry exists,
    # the claim is gone); on a server taking three items per transaction ("split"), the entry's views that
    # do not fit follow the transaction
    waits = _waits(monkeypatch)
    client = aws.client("dynamodb", get_settings())
    if limit is not None:
        client = refuse_transactions_over(client, limit)
    retried = CommittedThenRetried(client, when=_touches_the_outbox)
    store = _store_through(retried)
    claim = _claimed(store, _pending_hold(), 0)
    entry = _entry("act_sent_twice", EntryKind.ACTION).model_copy(update={"records": ("books:9", "crm:1")})
    # when the executor finishes it
    finished = store.finish(claim, ActionStatus.DONE, detail="ok", entry=entry, now=NOW)
    # then it is told from a lost claim: the item carries this claim's outcome, so it was recorded
    assert retried.retried == 1
    assert finished
    assert waits == []
    assert store.status(claim.action_id) is ActionStatus.DONE
    audit = AuditLog.from_settings(get_settings())
    assert audit.get("act_sent_twice") == entry
    # with every view of the entry, those a split transaction left for after it included
    for ref in entry.records:
        assert [e.entry_id for e in audit.query(AuditQuery(record=ref)).entries] == ["act_sent_twice"]


def test_an_outcome_recorded_under_another_claim_is_still_a_lost_claim(aws_server: AwsResources) -> None:
    # given an action finished by the executor that took it over, whose entry id this one's outcome shares
    # (not one the executor makes: its entry ids name the claim's attempt)
    store = DynamoActionStore.from_settings(get_settings())
    action_id = _pending_hold()
    lapsed = _claimed(store, action_id, 0)
    current = _claimed(store, action_id, LEASE + 1)
    entry = _entry("act_shared", EntryKind.ACTION)
    assert store.finish(current, ActionStatus.DONE, detail="ok", entry=entry, now=NOW)
    # when the lapsed executor's outcome meets that entry: the item shows the other claim's outcome
    other = entry.model_copy(update={"note": "late"})
    assert not store.finish(lapsed, ActionStatus.FAILED, detail="late", entry=other, now=NOW)
    assert store.status(action_id) is ActionStatus.DONE
