"""Twenty creates of the same company racing, against a real DynamoDB-API server over HTTP.

No locks in memory: each thread has its own ``Guard``; the conditional writes on the shared key items decide
which create commits first, and every loser is re-read and re-decided against the state that won.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from sync_guard.config import Mode, get_settings
from sync_guard.guard.engine import Guard, GuardConfig, GuardResult
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import Decision
from sync_guard.guard.retry import CommitBackoff
from sync_guard.models.events import Operation
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.shadow import AWS_TRANSACTION_ITEMS, DynamoShadowRepository
from tests.support.aws import AwsResources
from tests.unit.guard.builders import crm_account, event_for

THREADS = 20


@pytest.mark.integration
@pytest.mark.slow
def test_twenty_racing_creates_give_one_owner_and_nineteen_flagged(aws_server: AwsResources) -> None:
    settings = get_settings()
    matcher = LibraryMatcher()
    # The storm breaker would (rightly) trip on 19 duplicates in a minute; this test is about the race.
    config = GuardConfig(mode=Mode.ENFORCE, storm_threshold=1000)
    events = [
        event_for(crm_account(f"57{n:05d}", "Acme Widgets Ltd"), Operation.CREATE) for n in range(THREADS)
    ]
    keys = matcher.blocking_keys(events[0].record)  # type: ignore[arg-type]
    assert keys

    barrier = threading.Barrier(THREADS)
    results: list[GuardResult] = []
    errors: list[BaseException] = []
    repositories: list[DynamoShadowRepository] = []
    lock = threading.Lock()

    def create(index: int) -> None:
        # Twenty writers on one key at once, on one machine: give them time (the processor's budget is
        # per event, and Lambda's concurrency keeps such a pile-up smaller).
        backoff = CommitBackoff(budget_seconds=120)
        repository = DynamoShadowRepository.from_settings(settings)
        with lock:
            repositories.append(repository)
        guard = Guard(repository, matcher, config, max_attempts=60, backoff=backoff)
        barrier.wait()
        try:
            result = guard.process(events[index])
        except BaseException as error:  # collected and asserted below
            with lock:
                errors.append(error)
            return
        with lock:
            results.append(result)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    assert len(results) == THREADS
    decisions = Counter(result.decision for result in results)
    assert decisions == {Decision.ALLOW: 1, Decision.FLAG: THREADS - 1}
    winner = next(r for r in results if r.decision is Decision.ALLOW)
    assert winner.entry is not None
    for result in results:
        if result is not winner:
            assert result.entry is not None
            assert "SAME_SIDE_DUPLICATE" in result.entry.rules
    # the conditional writes really did collide (otherwise this test proves nothing)
    assert max(r.attempts for r in results) > 1

    repository = DynamoShadowRepository.from_settings(settings)
    owner_ref = winner.entry.records[0]
    # On AWS every key is claimed inside the transaction, so the first to commit owns them all. A server
    # that takes fewer items per transaction (DynamoDB Local's 10) gets one claim inside it, the first in
    # key order (there is no Zoho link here), and the rest right after it, owned by whoever lands first.
    split = min(r.max_transaction_items for r in repositories) < AWS_TRANSACTION_ITEMS
    owned_by_the_winner = sorted(keys)[:1] if split else sorted(keys)
    for key in keys:
        item = repository.get_key(key)
        assert item.owner == owner_ref if key in owned_by_the_winner else item.owner in item.members
        assert len(item.members) == THREADS
    audit = AuditLog.from_settings(settings)
    entries = list(audit.iterate(AuditQuery(decision="flag")))
    assert len(entries) == THREADS - 1
    assert len({e.event_id for e in entries}) == THREADS - 1
