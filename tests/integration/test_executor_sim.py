"""The outbox executor end to end: engine decisions -> outbox queue -> real outbox handler -> Zoho simulator.

AWS is moto (in process); Zoho is the simulator on a real local port; the queue is driven with the local SQS
event source's ``poll_once`` (batch item failures, redrive to the DLQ after five receives).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sync_guard.admin.dlq import replay_dlq
from sync_guard.config import Mode, get_settings
from sync_guard.executor.dynamo import DynamoActionStore
from sync_guard.executor.queue import SqsActionQueue
from sync_guard.guard.model import ActionKind, EntryKind
from sync_guard.local.zoho_simulator import FaultKind, Source, ZohoSimulator
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.checks import DynamoCheckState
from sync_guard.store.outbox import Outbox
from sync_guard.zoho.payloads import parse_crm_workflow
from tests.support.aws import AwsResources
from tests.support.handlers import published_metric
from tests.support.outbox import (
    HOLD_TAG,
    Company,
    OutboxQueues,
    Pipeline,
    build_pipeline,
    create_companies,
    create_outbox_queues,
    event_for,
    point_at_simulator,
)

WRITE_ROUTES = (
    "crm.add_tags",
    "crm.remove_tags",
    "crm.update_record",
    "books.mark_inactive",
    "books.mark_active",
)


@pytest.fixture
def sim() -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=11) as simulator:
        yield simulator


@pytest.fixture
def queues(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> OutboxQueues:
    return create_outbox_queues(aws, monkeypatch)


def _finance_inbox(aws: AwsResources) -> str:
    url = aws.sqs.create_queue(QueueName="finance-inbox")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.sns.subscribe(TopicArn=aws.topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def _inbox_messages(aws: AwsResources, url: str) -> list[dict[str, object]]:
    messages: list[dict[str, object]] = []
    while batch := aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += batch
        aws.sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return messages


def _run(pipeline: Pipeline, companies: list[Company]) -> None:
    pipeline.decide([event_for(c.customer) for c in companies])
    pipeline.decide([event_for(c.duplicate) for c in companies])


def _actions(kind: ActionKind | None = None) -> list[dict[str, object]]:
    settings = get_settings()
    store = DynamoActionStore.from_settings(settings)
    outbox = Outbox.from_settings(settings)
    ids = [
        a.action.action_id
        for status in ("pending", "running", "retrying", "done", "failed", "dead_lettered", "not_executed")
        for a in outbox.by_status(status, limit=10_000)
        if kind is None or a.action.kind is kind
    ]
    return [item for i in ids if (item := store.get(i)) is not None]


def test_holds_run_once_in_zoho_and_finance_hears_once(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given three CRM and three Books duplicates of existing customers, decided in enforce mode
    point_at_simulator(sim, monkeypatch)
    inbox = _finance_inbox(aws)
    companies = create_companies(sim, 6)
    pipeline = build_pipeline(aws, queues)
    _run(pipeline, companies)

    # when the outbox queue is drained, and then every action id is delivered again (duplicate messages)
    pipeline.drain()
    all_ids = [str(a["pk"]) for a in _actions()]
    SqsActionQueue.from_settings(get_settings()).send(all_ids)
    pipeline.drain()

    # then each duplicate is held in Zoho exactly once: CRM tagged, Books inactive
    for company in companies:
        dup = company.duplicate
        if dup.system.value == "crm":
            assert HOLD_TAG in {t["name"] for t in sim.state.crm_get("Accounts", dup.record_id)["Tag"]}
            assert sim.requests.count("crm.add_tags", status=200, record_id=dup.record_id) == 1
        else:
            assert sim.state.books_get(dup.record_id)["status"] == "inactive"
            assert sim.requests.count("books.mark_inactive", status=200, record_id=dup.record_id) == 1
        # the existing customer with the invoices is never touched
        assert sim.state.books_get(company.customer.record_id)["status"] == "active"
    actions = _actions()
    assert len(actions) == 12  # one hold and one notification per duplicate
    assert {a["status"] for a in actions} == {"done"}
    assert all(a["attempts"] == 1 for a in actions)
    # and each outcome is in the audit trail once, with the executor as actor
    audit = AuditLog.from_settings(get_settings())
    for action in actions:
        entries = [
            e for e in audit.iterate(AuditQuery(record=str(action["target"]))) if e.kind is EntryKind.ACTION
        ]
        mine = [e for e in entries if e.actions and e.actions[0].action_id == action["pk"]]
        assert len(mine) == 1
        assert mine[0].actor == "executor"
        assert str(mine[0].operation).endswith(":done")
    # and finance got one message for the six name drifts (more than 5 notices of a batch: a digest), once
    messages = _inbox_messages(aws, inbox)
    assert 1 <= len(messages) <= 2
    assert all("NAME_DRIFT" in str(m["Body"]) for m in messages)


def test_a_malformed_outbox_message_is_dropped_and_the_others_in_its_batch_still_run(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given one duplicate decided in enforce mode, and a message no executor could read, in one batch
    point_at_simulator(sim, monkeypatch)
    companies = create_companies(sim, 1)
    pipeline = build_pipeline(aws, queues)
    aws.sqs.send_message(QueueUrl=queues.url, MessageBody='{"not": "an action"}')
    _run(pipeline, companies)

    # when the outbox queue is drained
    pipeline.drain()

    # then the hold ran, and the malformed message neither blocks the queue nor waits in the dead-letter queue
    assert {a["status"] for a in _actions()} == {"done"}
    assert queues.depth(aws.sqs) == 0
    assert queues.depth(aws.sqs, queues.dlq_url) == 0


def test_observe_mode_writes_nothing_to_zoho(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at_simulator(sim, monkeypatch, mode=Mode.OBSERVE)
    companies = create_companies(sim, 4)
    pipeline = build_pipeline(aws, queues)
    _run(pipeline, companies)
    # an enforce-mode action queued before the switch to observe is caught by the executor's safety net
    pipeline.drain()

    assert sum(sim.requests.count(route) for route in WRITE_ROUTES) == 0
    holds = _actions(ActionKind.TAG_CRM_RECORD) + _actions(ActionKind.MARK_BOOKS_INACTIVE)
    assert len(holds) == 4
    assert {a["status"] for a in holds} == {"not_executed"}
    # the decisions' audit entries say what would have been done; finance is still told (as "would hold")
    notify = _actions(ActionKind.NOTIFY_FINANCE)
    assert {a["status"] for a in notify} == {"done"}
    for company in companies:
        dup = company.duplicate
        if dup.system.value == "crm":
            assert sim.state.crm_get("Accounts", dup.record_id)["Tag"] == []
        else:
            assert sim.state.books_get(dup.record_id)["status"] == "active"


def test_an_action_queued_in_enforce_mode_does_not_write_after_a_switch_to_observe(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at_simulator(sim, monkeypatch)
    companies = create_companies(sim, 2, books_duplicates_every=1)
    pipeline = build_pipeline(aws, queues)
    _run(pipeline, companies)
    # the operator switches back to observe before the executor ran
    point_at_simulator(sim, monkeypatch, mode=Mode.OBSERVE)
    pipeline = build_pipeline(aws, queues)
    pipeline.drain()

    assert sim.requests.count("books.mark_inactive") == 0
    holds = _actions(ActionKind.MARK_BOOKS_INACTIVE)
    assert {a["status"] for a in holds} == {"not_executed"}
    assert all("would have done" in str(a["outcome"]) for a in holds)


def test_a_record_gone_from_zoho_fails_once_without_retry(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at_simulator(sim, monkeypatch)
    [company] = create_companies(sim, 1, books_duplicates_every=1)
    pipeline = build_pipeline(aws, queues)
    _run(pipeline, [company])
    sim.state.books_delete_contact(company.duplicate.record_id)

    pipeline.drain()

    [hold] = _actions(ActionKind.MARK_BOOKS_INACTIVE)
    assert hold["status"] == "failed"
    assert hold["attempts"] == 1
    assert sim.requests.count("books.mark_inactive") == 1
    assert queues.depth(aws.sqs, queues.dlq_url) == 0


def test_a_books_hold_is_not_sent_to_another_organisation_than_the_shadows(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a shadow recorded as another organisation's than the one the guard is now configured for
    point_at_simulator(sim, monkeypatch)
    shadow_organization = DynamoCheckState.from_settings(get_settings())
    shadow_organization.record_books_organization("20081234567", at=datetime.now(UTC), by="seed")
    pipeline, companies = build_pipeline(aws, queues), create_companies(sim, 1, books_duplicates_every=1)

    _run(pipeline, companies)
    pipeline.drain()

    # then the Books hold is never sent: retried, then dead-lettered for replay-dlq, naming both ids
    [hold] = _actions(ActionKind.MARK_BOOKS_INACTIVE)
    sent, dead_letters = sim.requests.count("books.mark_inactive"), queues.depth(aws.sqs, queues.dlq_url)
    assert (hold["status"], sent, dead_letters) == ("dead_lettered", 0, 1)
    assert "organisation 20081234567" in str(hold["outcome"])


def test_a_books_hold_waits_for_an_organisation_item_edited_by_hand_instead_of_failing_for_good(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the organisation item written by hand as another organisation's, without recorded_at
    point_at_simulator(sim, monkeypatch)
    aws.dynamodb.put_item(
        TableName=get_settings().shadow_table,
        Item={
            "pk": {"S": "ZOHO_CHECK"},
            "sk": {"S": "books_organization"},
            "organization_id": {"S": "20081234567"},
        },
    )
    pipeline, companies = build_pipeline(aws, queues), create_companies(sim, 1, books_duplicates_every=1)

    _run(pipeline, companies)
    pipeline.drain()

    # then the Books hold is not failed for good: it waits in the dead-letter queue naming both ids
    [hold] = _actions(ActionKind.MARK_BOOKS_INACTIVE)
    assert (hold["status"], sim.requests.count("books.mark_inactive")) == ("dead_lettered", 0)
    assert "organisation 20081234567 (recorded at a time not kept" in str(hold["outcome"])


def test_retryable_failures_are_retried_by_sqs_then_succeed(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at_simulator(sim, monkeypatch)
    [company] = create_companies(sim, 1, books_duplicates_every=2)
    pipeline = build_pipeline(aws, queues)
    _run(pipeline, [company])
    sim.faults.configure(route_pattern=r"^crm\.add_tags$", retry_after=0)
    sim.faults.script([FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, FaultKind.TIMEOUT])

    pipeline.drain()

    [hold] = _actions(ActionKind.TAG_CRM_RECORD)
    assert hold["status"] == "done"
    assert hold["attempts"] == 4
    assert sim.requests.count("crm.add_tags", status=200) == 1


def _books_hold_failing(
    aws: AwsResources,
    queues: OutboxQueues,
    sim: ZohoSimulator,
    monkeypatch: pytest.MonkeyPatch,
    *,
    times: int,
) -> tuple[Company, Pipeline]:
    """A Books duplicate decided (its hold queued), whose next ``times`` writes Zoho answers with 500."""
    point_at_simulator(sim, monkeypatch)
    [company] = create_companies(sim, 1, books_duplicates_every=1)
    pipeline = build_pipeline(aws, queues)
    _run(pipeline, [company])
    sim.faults.configure(route_pattern=r"^books\.mark_inactive$")
    sim.faults.script([FaultKind.SERVER_ERROR] * times)
    return company, pipeline


def test_five_failures_dead_letter_the_action_and_replay_runs_it_once(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    company, pipeline = _books_hold_failing(aws, queues, sim, monkeypatch, times=5)

    pipeline.drain()

    hold_kind = ActionKind.MARK_BOOKS_INACTIVE
    [hold] = _actions(hold_kind)
    assert hold["status"] == "dead_lettered"
    assert hold["attempts"] == 5
    assert queues.depth(aws.sqs, queues.dlq_url) == 1
    audit = AuditLog.from_settings(get_settings())
    entries = audit.iterate(AuditQuery(record=company.duplicate.ref))
    outcomes = [e.operation for e in entries if e.kind is EntryKind.ACTION and e.actions[0].kind is hold_kind]
    assert outcomes == ["mark_books_inactive:dead_lettered"]

    # when Zoho is back and the DLQ is replayed
    moved = replay_dlq(aws.sqs, dlq_url=queues.dlq_url, queue_url=queues.url)
    pipeline.drain()

    assert len(moved) == 1
    [hold] = _actions(ActionKind.MARK_BOOKS_INACTIVE)
    assert hold["status"] == "done"
    assert hold["attempts"] == 6
    assert sim.requests.count("books.mark_inactive", status=200) == 1
    assert queues.depth(aws.sqs, queues.dlq_url) == 0


def test_a_held_account_merged_into_another_companys_leaves_no_hold_tag_behind(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a drifted CRM copy the guard holds (tagged in the simulator), and another company's account
    point_at_simulator(sim, monkeypatch)
    [company] = create_companies(sim, 1)
    pipeline = build_pipeline(aws, queues)
    _run(pipeline, [company])
    pipeline.drain()
    copy = company.duplicate.record_id
    assert HOLD_TAG in {t["name"] for t in sim.state.crm_get("Accounts", copy)["Tag"]}
    other = sim.state.crm_create(
        "Accounts", {"Account_Name": "Zephyr Plumbing Services"}, source=Source.ADMIN
    )

    # when sales merge the held copy into that account (a CRM that passes tags on), and the guard hears of
    # the copy's delete
    sim.state.crm_merge("Accounts", other["id"], [copy], source=Source.ADMIN)
    assert HOLD_TAG in {t["name"] for t in sim.state.crm_get("Accounts", other["id"])["Tag"]}
    body = {"event": "delete", "module": "Accounts", "id": copy, "modified": sim.state.now().isoformat()}
    pipeline.decide([parse_crm_workflow(body, received_at=sim.state.now())])
    pipeline.drain()

    # then the tag the merge passed on is off the account kept: it is in the sync again, as nobody held it
    # (before: only the records the copy matched were checked, and this account silently left the sync)
    assert HOLD_TAG not in {t["name"] for t in sim.state.crm_get("Accounts", other["id"])["Tag"]}
    entries = AuditLog.from_settings(get_settings()).iterate(AuditQuery(record=f"crm:{other['id']}"))
    assert [e.operation for e in entries if e.kind is EntryKind.ACTION] == ["sweep_carried_hold_tag:done"]


def test_a_retried_books_hold_reads_the_customer_once_per_attempt(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a Books hold whose first write Zoho answered 500
    company, pipeline = _books_hold_failing(aws, queues, sim, monkeypatch, times=1)
    reads_before = sim.requests.count("books.get_contact", record_id=company.duplicate.record_id)

    # when: SQS delivers it again
    pipeline.drain()

    # then: each attempt read the customer once before writing: the retry's check for an earlier attempt's
    # write (already inactive?) uses the read its check for invoices made a moment before
    [hold] = _actions(ActionKind.MARK_BOOKS_INACTIVE)
    assert (hold["status"], hold["attempts"]) == ("done", 2)
    reads = sim.requests.count("books.get_contact", record_id=company.duplicate.record_id) - reads_before
    assert reads == 2
    assert sim.requests.count("books.mark_inactive", status=200) == 1
    assert sim.state.books_get(company.duplicate.record_id)["status"] == "inactive"


def test_the_outbox_function_publishes_the_crm_credits_left(
    aws: AwsResources,
    queues: OutboxQueues,
    sim: ZohoSimulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given: a CRM hold to write, and CRM counting its API credits
    point_at_simulator(sim, monkeypatch)
    [company] = create_companies(sim, 1, books_duplicates_every=2)
    pipeline = build_pipeline(aws, queues)
    _run(pipeline, [company])
    sim.limits.configure(crm_credits=5000)
    capsys.readouterr()

    # when: the outbox function runs it
    pipeline.drain()

    # then: its metrics (EMF lines on stdout) carry what CRM said was left after its last call
    left = published_metric(capsys.readouterr().out, "ZohoCrmCreditsRemaining")
    assert left == [[5000.0 - sim.requests.count("crm.add_tags")]]


def test_holds_refused_for_the_zoho_credentials_are_retried_then_dead_lettered_asking_zoho_once(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: two duplicates decided in enforce mode, while the guard's Zoho client secret is wrong
    point_at_simulator(sim, monkeypatch, SYNC_GUARD_ZOHO_CLIENT_SECRET="not-the-secret")
    companies = create_companies(sim, 2)
    pipeline = build_pipeline(aws, queues)
    _run(pipeline, companies)

    # when: the outbox queue is drained (SQS delivers each action five times)
    pipeline.drain()

    # then: every action still ends in the dead-letter queue after its five attempts, nothing lost, saying
    # what to mend; but Zoho was asked once with the secret it refused, not once for each delivery
    actions = _actions()
    assert len(actions) == 4  # a hold and a notice for each duplicate
    holds = [a for a in actions if a["kind"] in {ActionKind.TAG_CRM_RECORD, ActionKind.MARK_BOOKS_INACTIVE}]
    assert len(holds) == 2
    assert all(hold["status"] == "dead_lettered" and hold["attempts"] == 5 for hold in holds)
    assert all("the client id, secret and refresh token must be" in str(h["outcome"]) for h in holds)
    assert {a["status"] for a in actions if a not in holds} == {"done"}  # the notices need no Zoho
    assert queues.depth(aws.sqs, queues.dlq_url) == 2
    assert sim.requests.count("oauth.token") == 1
