"""Fault injection: 30% of Zoho calls fail (429, 5xx, timeouts); nothing is lost and nothing runs twice.

500 events (250 existing Books customers, 250 drifted duplicates: half CRM accounts, half Books customers)
go through the engine in enforce mode; every tenth enqueue to the outbox queue fails too (the sweep must
find those actions). The outbox handler runs each action with one Zoho attempt per delivery, so retries
come from SQS redelivery and an action that fails five deliveries lands in the dead-letter queue. The sweep
re-queues the lost actions during a full Zoho outage, so some holds certainly dead-letter. Then Zoho
recovers, ``replay-dlq`` moves the dead letters back, and every hold is in place exactly once. Processors and
executors run four at a time, each executor with its own handler module, so claims race as on Lambda.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from sync_guard.cli.replay_dlq import QueueChoice, replay
from sync_guard.config import get_settings
from sync_guard.executor.dynamo import DynamoActionStore
from sync_guard.executor.queue import SqsActionQueue
from sync_guard.executor.wiring import build_executor
from sync_guard.guard.model import ActionKind, EntryKind
from sync_guard.local.dynamodb import RunningServer
from sync_guard.local.zoho_simulator import FaultKind, ZohoSimulator
from sync_guard.local.zoho_simulator.faults import DEFAULT_KINDS
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.outbox import Outbox
from tests.support.aws import AwsResources
from tests.support.outbox import (
    HOLD_TAG,
    build_pipeline,
    create_companies,
    create_outbox_queues,
    event_for,
    outbox_timeout,
    point_at_simulator,
)

COMPANIES = 250
# moto's DynamoDB copies every table in each transaction: without DynamoDB Local (Java) the run is scaled
# down to 50 events so that it stays a test, not a soak.
COMPANIES_WITHOUT_DYNAMODB_LOCAL = 25
HOLD_ROUTES = frozenset({"crm.add_tags", "books.mark_inactive"})
#: How the executor logs a failed Zoho call that may have taken effect (not ``zoho_unavailable``: a call
#: refused before it was sent).
ZOHO_FAILURE_CODES = frozenset({"zoho_timeout", "zoho_server_error", "zoho_rate_limited"})
# Concurrent processors and executors, as Lambda would run them (the executor function's MaximumConcurrency).
WORKERS = 4
STATUSES = ("pending", "running", "retrying", "done", "failed", "dead_lettered", "not_executed", "cancelled")


class FlakyQueue:
    """Loses every ``every``-th enqueue, as a throttled or briefly unreachable SQS would."""

    def __init__(self, inner: SqsActionQueue, every: int = 10) -> None:
        self.inner = inner
        self.every = every
        self.calls = 0
        self.lost: list[str] = []
        self._lock = threading.Lock()

    def send(self, action_ids: Sequence[str]) -> None:
        with self._lock:
            self.calls += 1
            lose = self.calls % self.every == 0
            if lose:
                self.lost += action_ids
        if lose:
            raise ConnectionError("simulated SQS failure")
        self.inner.send(action_ids)


@pytest.fixture
def sim() -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=2026) as simulator:
        yield simulator


def _notice_keys(aws: AwsResources) -> list[str]:
    """The sent-notice keys the executor remembered (``NOTICE#<key>`` items of the shadow table)."""
    paginator = aws.dynamodb.get_paginator("scan")
    keys = []
    for page in paginator.paginate(
        TableName=get_settings().shadow_table,
        FilterExpression="begins_with(pk, :notice)",
        ExpressionAttributeValues={":notice": {"S": "NOTICE#"}},
    ):
        keys += [item["pk"]["S"] for item in page["Items"]]
    return keys


def _statuses(outbox: Outbox) -> dict[str, list[str]]:
    return {s: [a.action.action_id for a in outbox.by_status(s, limit=100_000)] for s in STATUSES}


@pytest.mark.slow
def test_thirty_percent_zoho_faults_every_action_lands_once(
    aws_server: AwsResources,
    dynamodb_endpoint: RunningServer,
    sim: ZohoSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # DynamoDB Local over HTTP: moto's in-process transactions copy every table, too slow for 1,000 of them.
    aws = aws_server
    caplog.set_level(logging.INFO, logger="sync_guard.executor.service")
    # given a guard in enforce mode against a Zoho that fails 30% of calls, and an SQS that loses enqueues
    queues = create_outbox_queues(aws, monkeypatch)
    point_at_simulator(sim, monkeypatch)
    count = COMPANIES if dynamodb_endpoint.kind == "dynamodb-local" else COMPANIES_WITHOUT_DYNAMODB_LOCAL
    companies = create_companies(sim, count, books_duplicates_every=2)
    pipeline = build_pipeline(aws, queues)
    flaky = FlakyQueue(SqsActionQueue.from_settings(get_settings()))
    pipeline.deps = replace(pipeline.deps, actions=flaky)
    sim.faults.configure(
        rate=0.3,
        weights={FaultKind.RATE_LIMIT: 1.0, FaultKind.SERVER_ERROR: 1.0, FaultKind.TIMEOUT: 1.0},
        retry_after=0,
        # A TIMEOUT fault holds the request for as long as an outbox invocation may run: a client that had
        # not given up by then would be ended by Lambda anyway, so however starved of CPU an executor is,
        # it sees every injected timeout as a timeout, never as the 504 that follows the hold.
        delay=outbox_timeout(),
        seed=2026,
    )

    # when 500 events are decided and the outbox queue is drained
    pipeline.decide([event_for(c.customer) for c in companies], workers=WORKERS)
    pipeline.decide([event_for(c.duplicate) for c in companies], workers=WORKERS)
    pipeline.drain(workers=WORKERS)

    # then Zoho failed about 30% of the calls, of every kind
    writes = [r for r in sim.requests.records if r.route in HOLD_ROUTES]
    faulted = sum(1 for r in writes if r.fault is not None)
    # within four standard deviations of 30% (about +-0.1 for the full run)
    spread = 4 * math.sqrt(0.3 * 0.7 / len(writes))
    assert abs(faulted / len(writes) - 0.3) <= spread, (faulted, len(writes))
    assert all(sim.faults.injected[kind] > 0 for kind in DEFAULT_KINDS)
    # and the actions whose enqueue was lost are still pending
    outbox = Outbox.from_settings(get_settings())
    assert flaky.lost
    assert set(flaky.lost) <= set(_statuses(outbox)["pending"])

    # when the sweep re-queues them during a full Zoho outage
    sim.faults.configure(rate=1.0, weights={FaultKind.SERVER_ERROR: 1.0})
    requeued = build_executor(get_settings()).sweep(
        SqsActionQueue.from_settings(get_settings()), pending_after=timedelta(0)
    )
    assert set(requeued) == set(flaky.lost)
    pipeline.drain(workers=WORKERS)

    # then every action either succeeded or waits in the dead-letter queue, nothing else
    statuses = _statuses(outbox)
    total = 2 * count  # one hold and one finance notice per duplicate
    counts = {status: len(ids) for status, ids in statuses.items() if ids}
    assert counts.keys() <= {"done", "dead_lettered"}, counts
    # the outage dead-lettered each swept hold after five deliveries; swept notices did not need Zoho
    store = DynamoActionStore.from_settings(get_settings())
    for action_id in flaky.lost:
        item = store.get(action_id) or {}
        notify = item.get("kind") == ActionKind.NOTIFY_FINANCE.value
        assert item.get("status") == ("done" if notify else "dead_lettered"), item
    in_dlq = queues.depth(aws.sqs, queues.dlq_url)
    assert in_dlq == len(statuses["dead_lettered"]) > 0

    # when Zoho recovers and the dead letters are replayed
    sim.faults.disable()
    assert replay(get_settings(), QueueChoice.OUTBOX, dry_run=False) == {"outbox": in_dlq}
    pipeline.drain(workers=WORKERS)

    # then none remains
    statuses = _statuses(outbox)
    assert len(statuses["done"]) == total
    assert queues.depth(aws.sqs, queues.dlq_url) == 0
    assert queues.depth(aws.sqs) == 0
    # and every hold was written to Zoho once: one successful call per held record, none for any other.
    # The only way to a second one is a call Zoho applied while the client saw a failure (on a loaded
    # machine, it times out before the answer comes): then the executor saw a failure, and only then may it
    # run again. Such calls are the failures the executors met beyond those Zoho answered as failures,
    # whatever their kind: an injected 429 or 500 answered late is a timeout to the client.
    holds = [r for r in sim.requests.records if r.route in HOLD_ROUTES]
    client_failures = sum(1 for r in caplog.records if getattr(r, "error", None) in ZOHO_FAILURE_CODES)
    spurious_failures = client_failures - sum(1 for r in holds if r.status in (0, 429) or r.status >= 500)
    succeeded = Counter(r.record_id for r in holds if r.status == 200)
    assert set(succeeded) == {c.duplicate.record_id for c in companies}
    assert sum(succeeded.values()) - count <= max(spurious_failures, 0), (
        succeeded.most_common(3),
        spurious_failures,
    )
    for company in companies:
        dup = company.duplicate
        if dup.system.value == "crm":
            tags = sim.state.crm_get("Accounts", dup.record_id)["Tag"]
            assert HOLD_TAG in {t["name"] for t in tags}
        else:
            assert sim.state.books_get(dup.record_id)["status"] == "inactive"
        assert sim.state.books_get(company.customer.record_id)["status"] == "active"
    # and each action has exactly one "done" outcome in the audit trail, with the executor as actor
    audit = AuditLog.from_settings(get_settings())
    done_entries = [
        e
        for e in audit.iterate(AuditQuery(decision="quarantine"), page_size=1000)
        if e.kind is EntryKind.ACTION and str(e.operation).endswith(":done")
    ]
    assert len({e.actions[0].action_id for e in done_entries}) == len(done_entries) == total
    assert {e.actor for e in done_entries} == {"executor"}
    # and finance heard about each duplicate once: one remembered notice key per duplicate
    notice_keys = _notice_keys(aws)
    assert len(notice_keys) == count
