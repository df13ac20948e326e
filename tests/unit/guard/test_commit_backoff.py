"""How ``Guard.process`` retries a commit: lost races and throttling wait, with jitter, within a time budget;
an invalid transaction fails at once. Waits go to a fake clock: nothing here sleeps."""

from __future__ import annotations

import random
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sync_guard.config import Mode, Settings
from sync_guard.errors import ConcurrentUpdate, Throttled
from sync_guard.guard.engine import Guard, GuardConfig
from sync_guard.guard.ports import CommitPlan, Snapshot, SnapshotRequest
from sync_guard.guard.retry import CommitBackoff, Waits
from sync_guard.store.shadow import DynamoShadowRepository, InvalidTransaction, run_transaction
from tests.unit.guard.builders import T0, crm_account, event_for
from tests.unit.guard.fakes import ExactMatcher, FakeTime, InMemoryShadow


class FailingShadow(InMemoryShadow):
    """Commits fail with the given errors, in order, then succeed."""

    def __init__(self, *failures: Exception) -> None:
        super().__init__()
        self.failures = list(failures)

    def commit(self, plan: CommitPlan) -> None:
        self.calls["commit"] += 1
        if self.failures:
            raise self.failures.pop(0)
        super().commit(plan)


def _guard(shadow: Any, time: FakeTime, **backoff: Any) -> Guard:
    config = GuardConfig(mode=Mode.ENFORCE)
    return Guard(shadow, ExactMatcher(), config, clock=lambda: T0, backoff=time.backoff(**backoff))


EVENT = event_for(crm_account("1", "Acme Ltd"))


def test_a_lost_race_is_retried_after_a_short_wait() -> None:
    time = FakeTime()
    shadow = FailingShadow(ConcurrentUpdate("a racing writer"), ConcurrentUpdate("and another"))

    result = _guard(shadow, time).process(EVENT)

    assert result.attempts == 3
    assert len(time.slept) == 2
    assert 0.01 <= time.slept[0] <= 0.02  # half the first step at least, the whole step at most
    assert 0.02 <= time.slept[1] <= 0.04  # and the step doubles


def test_waits_differ_between_invocations_that_collided() -> None:
    waits = []
    for seed in (1, 2):
        backoff = CommitBackoff(rng=random.Random(seed))
        waits.append([backoff.conflict.delay(n, backoff.rng) for n in range(1, 6)])
    assert waits[0] != waits[1]


def test_endless_conflicts_stop_within_the_time_budget() -> None:
    time = FakeTime()
    shadow = FailingShadow(*[ConcurrentUpdate("hot key") for _ in range(100)])

    with pytest.raises(ConcurrentUpdate, match="still conflicting"):
        _guard(shadow, time, budget_seconds=3.0).process(EVENT)

    assert time.now <= 3.0
    assert shadow.calls["commit"] < 40  # the waits, not the attempt cap, ended it
    assert all(wait > 0 for wait in time.slept)
    assert max(time.slept) <= 1.0


class SlowFirstAttempt(FailingShadow):
    """The first read takes ``seconds`` (a cold start, a loaded host); then commits fail as given."""

    def __init__(self, time: FakeTime, seconds: float, *failures: Exception) -> None:
        super().__init__(*failures)
        self.time, self.seconds = time, seconds

    def read_snapshot(self, request: SnapshotRequest) -> Snapshot:
        if self.calls["commit"] == 0:
            self.time.now += self.seconds
        return super().read_snapshot(request)


@pytest.mark.parametrize("failure", [ConcurrentUpdate("the other create won"), Throttled("hot partition")])
def test_a_first_attempt_slower_than_the_budget_is_still_retried(failure: Exception) -> None:
    # given a first attempt that took longer than the whole retry budget, then lost a race (or was throttled)
    time = FakeTime()
    shadow = SlowFirstAttempt(time, 5.3, failure)

    # when the event is processed
    result = _guard(shadow, time, budget_seconds=3.0).process(EVENT)

    # then it is read again and decided: the budget counts retrying, not the first attempt
    assert result.attempts == 2
    assert shadow.entries[EVENT.event_id].decision == result.decision


def test_the_budget_still_ends_retries_that_take_long_after_the_first_failure() -> None:
    time = FakeTime()
    shadow = SlowFirstAttempt(time, 5.3, *[ConcurrentUpdate("hot key") for _ in range(100)])

    with pytest.raises(ConcurrentUpdate, match="after the first conflict"):
        _guard(shadow, time, budget_seconds=3.0).process(EVENT)

    assert 5.3 < time.now <= 5.3 + 3.0
    assert shadow.calls["commit"] > 2


def test_a_throttled_commit_waits_longer_and_is_left_to_the_queue_after_a_few() -> None:
    time = FakeTime()
    shadow = FailingShadow(*[Throttled("hot partition") for _ in range(10)])

    with pytest.raises(Throttled):
        _guard(shadow, time, throttled=Waits(first=0.2, tries=3)).process(EVENT)

    assert shadow.calls["commit"] == 3
    assert len(time.slept) == 2
    assert 0.1 <= time.slept[0] <= 0.2
    assert 0.2 <= time.slept[1] <= 0.4


def test_throttling_that_passes_is_retried_to_a_decision() -> None:
    time = FakeTime()
    shadow = FailingShadow(Throttled("hot partition"))
    result = _guard(shadow, time).process(EVENT)
    assert result.attempts == 2
    assert shadow.entries[EVENT.event_id].decision == result.decision


class CancellingClient:
    """A DynamoDB client whose every transaction is cancelled for the given reason on its second item."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.transactions = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        return {"Responses": {table: [] for table in RequestItems}}

    def transact_write_items(self, TransactItems: list[Any]) -> None:
        self.transactions += 1
        reasons = [{"Code": "None"}, {"Code": self.reason, "Message": "refused"}]
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": f"[None, {self.reason}]"},
                "CancellationReasons": reasons,
            },
            "TransactWriteItems",
        )


def _dynamo_guard(client: CancellingClient, time: FakeTime) -> Guard:
    repository = DynamoShadowRepository(client, shadow_table="shadow", audit_table="a", outbox_table="o")
    return Guard(repository, ExactMatcher(), GuardConfig(), clock=lambda: T0, backoff=time.backoff())


def test_a_throttled_transaction_is_not_hammered() -> None:
    time = FakeTime()
    client = CancellingClient("ThrottlingError")
    with pytest.raises(Throttled):
        _dynamo_guard(client, time).process(EVENT)
    assert client.transactions == CommitBackoff().throttled.tries
    assert sum(time.slept) > 0.25


def test_an_invalid_transaction_fails_at_once_naming_the_operation() -> None:
    time = FakeTime()
    client = CancellingClient("ValidationError")
    with pytest.raises(InvalidTransaction, match=r"operation 1 \(Put on shadow\): refused"):
        _dynamo_guard(client, time).process(EVENT)
    assert client.transactions == 1
    assert time.slept == []


def test_the_budget_comes_from_settings() -> None:
    assert CommitBackoff.from_settings(Settings(commit_retry_budget_seconds=1.5)).budget_seconds == 1.5


class RefusingClient:
    def __init__(self, code: str, message: str) -> None:
        self.error = ClientError({"Error": {"Code": code, "Message": message}}, "TransactWriteItems")

    def transact_write_items(self, TransactItems: list[Any]) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ProvisionedThroughputExceededException", Throttled),
        ("ThrottlingException", Throttled),
        ("ValidationException", InvalidTransaction),
        ("TransactionConflictException", ConcurrentUpdate),
    ],
)
def test_a_refused_request_is_told_apart(code: str, expected: type[Exception]) -> None:
    with pytest.raises(expected):
        run_transaction(RefusingClient(code, "refused"), [{"Put": {"TableName": "shadow", "Item": {}}}])
