"""Fault injection: 30% of Zoho calls fail (429, 5xx, timeouts); nothing is lost and nothing runs twice.

500 events (250 existing Books customers, 250 drifted duplicates: half CRM accounts, half Books customers)
go through the engine in enforce mode; every tenth enqueue to the outbox queue fails too (the sweep must
find those actions). The outbox handler runs each action with one Zoho attempt per delivery, so retries
come from SQS redelivery and an action that fails five deliveries lands in the dead-letter queue. Then
Zoho recovers, ``replay-dlq`` moves the dead letters back, and every hold is in place exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest

from sync_guard.cli.replay_dlq import QueueChoice, replay
from sync_guard.config import get_settings
from sync_guard.executor.dynamo import DynamoActionStore, DynamoDecisionContext, DynamoSentNotices
from sync_guard.executor.notices import notices_for, refs_of
from sync_guard.executor.queue import SqsActionQueue
from sync_guard.executor.wiring import build_executor
from sync_guard.guard.model import ActionKind, EntryKind
from sync_guard.local.zoho_simulator import FaultKind, ZohoSimulator
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.outbox import Outbox
from tests.support.aws import AwsResources
from tests.support.outbox import (
    build_pipeline,
    create_companies,
    create_outbox_queues,
    event_for,
    point_at_simulator,
)

COMPANIES = 250
STATUSES = ("pending", "running", "retrying", "done", "failed", "dead_lettered", "not_executed", "cancelled")


class FlakyQueue:
    """Loses every ``every``-th enqueue, as a throttled or briefly unreachable SQS would."""

    def __init__(self, inner: SqsActionQueue, every: int = 10) -> None:
        self.inner = inner
        self.every = every
        self.calls = 0
        self.lost: list[str] = []

    def send(self, action_ids: Sequence[str]) -> None:
        self.calls += 1
        if self.calls % self.every == 0:
            self.lost += action_ids
            raise ConnectionError("simulated SQS failure")
        self.inner.send(action_ids)


@pytest.fixture
def sim() -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=2026) as simulator:
        yield simulator


def _statuses(outbox: Outbox) -> dict[str, list[str]]:
    return {s: [a.action.action_id for a in outbox.by_status(s, limit=100_000)] for s in STATUSES}


@pytest.mark.slow
def test_thirty_percent_zoho_faults_every_action_lands_once(
    aws_server: AwsResources, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DynamoDB Local over HTTP: moto's in-process transactions copy every table, too slow for 1,000 of them.
    aws = aws_server
    # given a guard in enforce mode against a Zoho that fails 30% of calls
    queues = create_outbox_queues(aws, monkeypatch)
    point_at_simulator(sim, monkeypatch)
    companies = create_companies(sim, COMPANIES, books_duplicates_every=2)
    pipeline = build_pipeline(aws, queues)
    flaky = FlakyQueue(SqsActionQueue.from_settings(get_settings()))
    pipeline.deps = pipeline.deps.__class__(
        events=pipeline.deps.events, handler=pipeline.deps.handler, actions=flaky
    )
    sim.faults.configure(
        rate=0.3,
        weights={FaultKind.RATE_LIMIT: 1.0, FaultKind.SERVER_ERROR: 1.0, FaultKind.TIMEOUT: 1.0},
        retry_after=0,
        delay=0.4,  # longer than the clients' 0.3 s timeout
        seed=2026,
    )

    # when 500 events are decided and the outbox queue is drained
    pipeline.decide([event_for(c.customer) for c in companies])
    pipeline.decide([event_for(c.duplicate) for c in companies])
    pipeline.drain()
    outbox = Outbox.from_settings(get_settings())
    assert flaky.lost, "the run should have lost some enqueues"
    assert set(flaky.lost) <= set(_statuses(outbox)["pending"])
    # the sweep finds the actions whose message was lost, and the queue is drained again
    requeued = build_executor(get_settings()).sweep(
        SqsActionQueue.from_settings(get_settings()), pending_after=timedelta(0)
    )
    assert set(requeued) == set(flaky.lost)
    pipeline.drain()

    # then every action either succeeded or waits in the dead-letter queue, nothing else
    statuses = _statuses(outbox)
    total = 2 * COMPANIES  # one hold and one finance notice per duplicate
    assert len(statuses["done"]) + len(statuses["dead_lettered"]) == total, {
        s: len(ids) for s, ids in statuses.items()
    }
    in_dlq = queues.depth(aws.sqs, queues.dlq_url)
    assert in_dlq == len(statuses["dead_lettered"])
    assert sim.faults.injected[FaultKind.TIMEOUT] > 0
    assert sim.faults.injected[FaultKind.RATE_LIMIT] > 0
    assert sim.faults.injected[FaultKind.SERVER_ERROR] > 0

    # when Zoho recovers and the dead letters are replayed
    sim.faults.disable()
    counts = replay(get_settings(), QueueChoice.OUTBOX, dry_run=False)
    assert counts == {"outbox": in_dlq}
    pipeline.drain()

    # then none remains, and every hold was written to Zoho exactly once
    statuses = _statuses(outbox)
    assert len(statuses["done"]) == total
    assert queues.depth(aws.sqs, queues.dlq_url) == 0
    assert queues.depth(aws.sqs) == 0
    for company in companies:
        dup = company.duplicate
        if dup.system.value == "crm":
            assert sim.requests.count("crm.add_tags", status=200, record_id=dup.record_id) == 1
            assert "sync-guard-hold" in {
                t["name"] for t in sim.state.crm_get("Accounts", dup.record_id)["Tag"]
            }
        else:
            assert sim.requests.count("books.mark_inactive", status=200, record_id=dup.record_id) == 1
            assert sim.state.books_get(dup.record_id)["status"] == "inactive"
    assert (
        sim.requests.count("books.mark_inactive", status=200) + sim.requests.count("crm.add_tags", status=200)
        == COMPANIES
    )
    # and each action has exactly one "done" outcome in the audit trail
    store = DynamoActionStore.from_settings(get_settings())
    audit = AuditLog.from_settings(get_settings())
    done_entries = [
        e
        for e in audit.iterate(AuditQuery(decision="quarantine"), page_size=500)
        if e.kind is EntryKind.ACTION and str(e.operation).endswith(":done")
    ]
    assert len(done_entries) == total
    assert len({e.actions[0].action_id for e in done_entries}) == total
    # and every finance notice was sent, each remembered once (a retried batch skips what went out)
    context = DynamoDecisionContext.from_settings(get_settings())
    keys: set[str] = set()
    for action_id in statuses["done"]:
        item = store.get(action_id)
        assert item is not None
        if item["kind"] != ActionKind.NOTIFY_FINANCE.value:
            continue
        entry = context.entry(str(item["entry_id"]))
        assert entry is not None
        from sync_guard.guard.model import OutboxAction

        action = OutboxAction.model_validate(item["action"])
        keys |= {n.dedup_key for n in notices_for(action, entry, context.states(refs_of(entry)))}
    assert len(keys) == COMPANIES
    assert DynamoSentNotices.from_settings(get_settings()).already_sent(keys) == keys
