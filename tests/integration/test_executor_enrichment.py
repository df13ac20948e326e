"""Enrichment: id-only Notification API events get their record from Zoho; awaiting ones are re-queued."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_guard.config import Mode, get_settings
from sync_guard.executor.enrichment import AwaitingEnrichment, ZohoRecordFetcher, requeue_awaiting_enrichment
from sync_guard.executor.wiring import LazyZohoClients, record_fetcher
from sync_guard.guard.engine import Guard, GuardConfig, awaiting_entry_id
from sync_guard.guard.handler import GuardEventHandler
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import EntryKind
from sync_guard.ingest import requeue_unqueued
from sync_guard.ingest.messages import decode_message
from sync_guard.ingest.ports import EventStatus, StoredEvent
from sync_guard.local.zoho_simulator import Source, ZohoSimulator
from sync_guard.local.zoho_simulator.faults import FaultKind
from sync_guard.models.events import Channel, GuardEvent, Operation, event_key
from sync_guard.models.records import Module, System
from sync_guard.processing import ProcessingDeps, process_event
from sync_guard.reconcile.organization import AnotherOrganization
from sync_guard.store.audit import AuditLog
from sync_guard.store.aws import client
from sync_guard.store.checks import BOOKS_ORGANIZATION_SK, DynamoCheckState
from sync_guard.store.events import DynamoEventStore
from sync_guard.store.queue import SqsEventQueue
from sync_guard.store.shadow import DynamoShadowRepository
from tests.support.aws import AwsResources
from tests.support.handlers import FakeLambdaContext, fresh_module, published_metric, sqs_event
from tests.support.outbox import point_at_simulator


@pytest.fixture
def sim(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=9) as simulator:
        point_at_simulator(simulator, monkeypatch, mode=Mode.ENFORCE)
        yield simulator


@pytest.fixture
def zoho_clients(sim: ZohoSimulator) -> Iterator[LazyZohoClients]:
    """The functions' Zoho clients, pointed at the simulator; their connections closed after the test."""
    clients = LazyZohoClients(get_settings())
    yield clients
    clients.close()


def _id_only_update(source: System, record_id: str) -> GuardEvent:
    """An update carrying the record's id only: the processor fetches the record to decide."""
    now = datetime.now(UTC)
    crm = source is System.CRM
    return GuardEvent(
        event_id=event_key("notification" if crm else "books", record_id, now),
        source=source,
        channel=Channel.CRM_NOTIFICATION if crm else Channel.BOOKS_WORKFLOW,
        module=Module.CRM_ACCOUNTS if crm else Module.BOOKS_CUSTOMERS,
        operation=Operation.UPDATE,
        record_id=record_id,
        record=None,
        received_at=now,
    )


def _notification(record_id: str) -> GuardEvent:
    return _id_only_update(System.CRM, record_id)


def _books_update(contact_id: str) -> GuardEvent:
    return _id_only_update(System.BOOKS, contact_id)


def _store(event: GuardEvent) -> DynamoEventStore:
    store = DynamoEventStore.from_settings(get_settings())
    now = datetime.now(UTC)
    store.put_new(
        StoredEvent(
            event, b"{}", "application/json", "/webhooks/crm/notifications", now, now + timedelta(days=1)
        )
    )
    return store


def _handler(fetcher: ZohoRecordFetcher | None) -> GuardEventHandler:
    settings = get_settings()
    guard = Guard(
        DynamoShadowRepository.from_settings(settings),
        LibraryMatcher(),
        GuardConfig(mode=settings.mode),
        fetcher=fetcher,
    )
    return GuardEventHandler(guard)


def _awaiting(sim: ZohoSimulator, name: str) -> tuple[GuardEvent, DynamoEventStore]:
    """A notification of a new account, processed while no fetcher was configured: awaiting enrichment."""
    account = sim.state.crm_create("Accounts", {"Account_Name": name}, source=Source.ADMIN)
    event = _notification(str(account["id"]))
    store = _store(event)
    process_event(event, ProcessingDeps(events=store, handler=_handler(None)))
    return event, store


def test_a_notification_is_decided_on_the_record_fetched_from_crm(
    aws: AwsResources, sim: ZohoSimulator, zoho_clients: LazyZohoClients
) -> None:
    account = sim.state.crm_create("Accounts", {"Account_Name": "Juniper Ember Ltd"}, source=Source.ADMIN)
    event = _notification(str(account["id"]))
    store = _store(event)
    fetcher = ZohoRecordFetcher(zoho_clients)

    outcome = process_event(event, ProcessingDeps(events=store, handler=_handler(fetcher)))

    assert outcome.status is EventStatus.PROCESSED
    assert fetcher.fetched == 1
    assert sim.requests.count("crm.get_record", status=200, record_id=str(account["id"])) == 1
    entry = AuditLog.from_settings(get_settings()).get(event.event_id)
    assert entry is not None
    assert entry.kind is EntryKind.DECISION
    assert entry.names[f"crm:{account['id']}"] == "Juniper Ember Ltd"
    state = DynamoShadowRepository.from_settings(get_settings()).get_state(f"crm:{account['id']}")
    assert state is not None
    assert state.record.name == "Juniper Ember Ltd"


def test_events_awaiting_enrichment_are_requeued_and_then_decided(
    aws: AwsResources, sim: ZohoSimulator, zoho_clients: LazyZohoClients
) -> None:
    # given a notification processed while no fetcher was configured: recorded as awaiting enrichment
    account = sim.state.crm_create("Accounts", {"Account_Name": "Quarry Lantern Ltd"}, source=Source.ADMIN)
    event = _notification(str(account["id"]))
    store = _store(event)
    first = process_event(event, ProcessingDeps(events=store, handler=_handler(None)))
    assert first.status is EventStatus.AWAITING_ENRICHMENT

    # when the sweep re-queues it (a dry run first changes nothing)
    awaiting = AwaitingEnrichment.from_settings(get_settings())
    queue = SqsEventQueue.from_settings(get_settings())
    now = datetime.now(UTC)
    assert requeue_awaiting_enrichment(awaiting, queue, now=now, dry_run=True) == [event.event_id]
    assert store.status_of(event.event_id) is EventStatus.AWAITING_ENRICHMENT
    assert requeue_awaiting_enrichment(awaiting, queue, now=now) == [event.event_id]
    assert requeue_awaiting_enrichment(awaiting, queue, now=now) == []  # taken once

    # then the processor, now with Zoho, decides it on the fetched record
    [message] = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    queued = decode_message(json.loads(json.dumps(message["Body"])))
    assert queued.event_id == event.event_id
    assert queued.event is not None
    fetcher = ZohoRecordFetcher(zoho_clients)
    second = process_event(queued.event, ProcessingDeps(events=store, handler=_handler(fetcher)))

    assert second.status is EventStatus.PROCESSED
    audit = AuditLog.from_settings(get_settings())
    assert audit.get(awaiting_entry_id(event.event_id)) is not None  # the earlier entry stays
    decided = audit.get(event.event_id)
    assert decided is not None
    assert decided.kind is EntryKind.DECISION


def test_requeue_awaiting_from_the_command_line_is_an_audited_admin_operation(
    aws: AwsResources, sim: ZohoSimulator
) -> None:
    from typer.testing import CliRunner

    from sync_guard.cli import app
    from sync_guard.store.audit import AuditQuery

    account = sim.state.crm_create("Accounts", {"Account_Name": "Osier Kiln Ltd"}, source=Source.ADMIN)
    event = _notification(str(account["id"]))
    process_event(event, ProcessingDeps(events=_store(event), handler=_handler(None)))

    result = CliRunner().invoke(app, ["requeue-awaiting", "--actor", "user:ivy"])

    assert result.exit_code == 0, result.output
    assert "1 event(s) re-queued" in result.output
    entries = AuditLog.from_settings(get_settings()).query(AuditQuery(decision="admin")).entries
    entry, started = sorted(entries, key=lambda e: e.operation != "requeue_awaiting")
    assert (entry.operation, entry.actor, entry.evidence) == (
        "requeue_awaiting",
        "user:ivy",
        (event.event_id,),
    )
    assert (started.operation, started.actor, started.evidence) == (
        "requeue_awaiting_started",
        "user:ivy",
        (event.event_id,),
    )


def test_requeue_awaiting_that_fails_part_way_leaves_what_it_moved_in_the_audit_trail(
    aws: AwsResources, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from sync_guard.cli import app
    from sync_guard.store.audit import AuditQuery

    # given two events awaiting enrichment, and a queue that fails after taking the first one
    events = []
    for name in ("Osier Kiln Ltd", "Larch Mill Ltd"):
        account = sim.state.crm_create("Accounts", {"Account_Name": name}, source=Source.ADMIN)
        events.append(_notification(str(account["id"])))
        process_event(events[-1], ProcessingDeps(events=_store(events[-1]), handler=_handler(None)))
    sent: list[str] = []
    send = SqsEventQueue.send

    def fails_after_one(queue: SqsEventQueue, event: GuardEvent) -> None:
        if sent:
            raise ConnectionError("SQS unreachable")
        send(queue, event)
        sent.append(event.event_id)

    monkeypatch.setattr(SqsEventQueue, "send", fails_after_one)

    # when an admin re-queues them
    result = CliRunner().invoke(app, ["requeue-awaiting", "--actor", "user:ivy"])

    # then the command fails, but the event that went back to the processor is in the audit trail, with
    # who sent it (before: the entry was written after the move, and the failure left none at all)
    assert result.exit_code != 0
    assert len(sent) == 1
    [started] = AuditLog.from_settings(get_settings()).query(AuditQuery(decision="admin")).entries
    assert (started.operation, started.actor) == ("requeue_awaiting_started", "user:ivy")
    assert sent[0] in started.evidence
    assert sorted(started.evidence) == sorted(e.event_id for e in events)
    assert "'sync-guard requeue-awaiting --dry-run'" in started.note


def test_a_books_record_is_not_fetched_from_another_organisation_than_the_shadows(
    aws: AwsResources, sim: ZohoSimulator, zoho_clients: LazyZohoClients
) -> None:
    # given a shadow recorded as another Books organisation's than ZohoBooksOrganizationId names (the
    # parameter changed with the tables kept): its customers "do not exist" in the configured one
    contact = sim.state.books_create_contact({"contact_name": "Tallow Reed Ltd"}, source=Source.ADMIN)
    DynamoCheckState.from_settings(get_settings()).record_books_organization(
        "20081234567", at=datetime.now(UTC), by="scheduler:zoho-checks"
    )
    event = _books_update(str(contact["contact_id"]))
    store = _store(event)
    fetcher = record_fetcher(get_settings(), zoho=zoho_clients)
    assert fetcher is not None

    # when the processor would fetch the customer to decide on it, then it is not asked of Books: the
    # event fails (SQS retries it, then dead-letters it for replay-dlq), naming both organisations
    with pytest.raises(AnotherOrganization, match="holds the Books customers of organisation 20081234567"):
        process_event(event, ProcessingDeps(events=store, handler=_handler(fetcher)))

    assert sim.requests.count("books.get_contact") == 0
    assert store.status_of(event.event_id) is not EventStatus.PROCESSED
    shadow = DynamoShadowRepository.from_settings(get_settings())
    assert shadow.get_state(f"books:{contact['contact_id']}") is None  # not taken for a delete
    # a CRM record is fetched as before
    account = sim.state.crm_create("Accounts", {"Account_Name": "Tallow Reed Ltd"}, source=Source.ADMIN)
    assert fetcher.fetch(System.CRM, Module.CRM_ACCOUNTS.value, str(account["id"])) is not None


def test_the_processor_reads_the_recorded_organisation_once_for_a_books_event_it_fetches(
    aws: AwsResources, sim: ZohoSimulator
) -> None:
    # given a shadow recorded as the configured Books organisation's, and the processor as deployed
    DynamoCheckState.from_settings(get_settings()).record_books_organization(
        sim.books_organization_id, at=datetime.now(UTC), by="scheduler:zoho-checks"
    )
    processor = fresh_module("functions.processor.app")
    reads: list[str] = []

    def count_organization_reads(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].get("sk") == {"S": BOOKS_ORGANIZATION_SK}:
            reads.append(params["TableName"])

    client("dynamodb", get_settings()).meta.events.register(
        "before-parameter-build.dynamodb.GetItem", count_organization_reads
    )

    # when two id-only Books events are processed, each decided on the customer fetched from Books
    for name in ("Quill Harbour Ltd", "Fennel Arch Ltd"):
        contact = sim.state.books_create_contact({"contact_name": name}, source=Source.ADMIN)
        event = _books_update(str(contact["contact_id"]))
        outcome = process_event(event, replace(processor.deps, events=_store(event)))
        assert outcome.status is EventStatus.PROCESSED

    # then both checks ran (the gate's and the fetcher's) on one read of the organisation per event
    assert sim.requests.count("books.get_contact", status=200) == 2
    assert reads == [get_settings().shadow_table] * 2


class _RefusingQueue:
    """A processing queue that is down: every send fails."""

    def send(self, event: GuardEvent) -> None:
        raise ConnectionError("SQS unreachable")


def test_an_event_the_queue_refuses_goes_back_to_awaiting_enrichment_for_the_next_sweep(
    aws: AwsResources, sim: ZohoSimulator
) -> None:
    # given a notification recorded as awaiting enrichment
    event, store = _awaiting(sim, "Harbour Kiln Ltd")
    awaiting = AwaitingEnrichment.from_settings(get_settings())
    now = datetime.now(UTC)

    # when the sweep takes it but the queue refuses it
    with pytest.raises(ConnectionError):
        requeue_awaiting_enrichment(awaiting, _RefusingQueue(), now=now)

    # then it is not left 'queued' with no message: the next sweep finds it and sends it
    assert store.status_of(event.event_id) is EventStatus.AWAITING_ENRICHMENT
    queue = SqsEventQueue.from_settings(get_settings())
    assert requeue_awaiting_enrichment(awaiting, queue, now=now) == [event.event_id]
    [message] = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert decode_message(json.loads(json.dumps(message["Body"]))).event_id == event.event_id


def test_an_event_another_sweep_took_is_not_sent_twice(aws: AwsResources, sim: ZohoSimulator) -> None:
    # given two sweeps that both listed the same awaiting event
    event, store = _awaiting(sim, "Copper Wren Ltd")
    awaiting = AwaitingEnrichment.from_settings(get_settings())
    listed = list(awaiting.events())
    now = datetime.now(UTC)
    assert awaiting.take(event.event_id, now)  # the other sweep's claim

    # when this sweep comes to it
    sent: list[str] = []

    class _Recording:
        def send(self, queued: GuardEvent) -> None:
            sent.append(queued.event_id)

    class _ListedBefore(AwaitingEnrichment):
        def events(self, limit: int = 100) -> Iterator[GuardEvent]:
            return iter(listed)

    moved = requeue_awaiting_enrichment(_ListedBefore(awaiting.client, awaiting.table), _Recording(), now=now)

    # then it leaves the event to the sweep that took it
    assert moved == []
    assert sent == []
    assert store.status_of(event.event_id) is EventStatus.RECEIVED  # still the other sweep's to send


def test_an_event_taken_by_a_requeue_that_died_before_sending_it_is_sent_by_the_next_sweep(
    aws: AwsResources, sim: ZohoSimulator
) -> None:
    # given an awaiting event that a requeue-awaiting run took, and whose process then died before sending
    event, store = _awaiting(sim, "Marram Beacon Ltd")
    awaiting = AwaitingEnrichment.from_settings(get_settings())
    taken_at = event.received_at + timedelta(hours=1)  # Zoho was configured an hour after it arrived
    assert awaiting.take(event.event_id, taken_at)  # the claim; no send follows
    queue = SqsEventQueue.from_settings(get_settings())

    def sent() -> list[str]:
        messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [decode_message(json.loads(json.dumps(m["Body"]))).event_id for m in messages]

    # when the scheduled sweep runs while the claim is fresh: the run that took it may be sending it now
    assert requeue_unqueued(store, queue, now=taken_at + timedelta(minutes=1)) == []
    assert requeue_awaiting_enrichment(awaiting, queue, now=taken_at + timedelta(minutes=1)) == []
    # and again once the claim is older than the sweep's wait
    later = taken_at + timedelta(minutes=6)
    assert requeue_unqueued(store, queue, now=later) == [event.event_id]

    # then the event is on the processing queue, once, and marked queued; another sweep sends nothing
    assert sent() == [event.event_id]
    assert store.status_of(event.event_id) is EventStatus.QUEUED
    assert requeue_unqueued(store, queue, now=later + timedelta(minutes=10)) == []
    assert requeue_awaiting_enrichment(awaiting, queue, now=later) == []


def test_a_redelivered_notification_is_acknowledged_while_zoho_is_down_without_asking_zoho(
    aws: AwsResources, sim: ZohoSimulator, zoho_clients: LazyZohoClients
) -> None:
    # given a notification decided on the account fetched from CRM, whose processor stopped before it
    # marked the stored event processed (a timeout after the commit): SQS delivers the message again
    account = sim.state.crm_create("Accounts", {"Account_Name": "Ostler Quay Ltd"}, source=Source.ADMIN)
    event = _notification(str(account["id"]))
    store = _store(event)
    fetcher = ZohoRecordFetcher(zoho_clients)
    _handler(fetcher)(event)
    assert store.status_of(event.event_id) is not EventStatus.PROCESSED
    assert fetcher.fetched == 1

    # when the redelivery is processed while Zoho answers every CRM read with a server error
    sim.faults.configure(rate=1.0, weights={FaultKind.SERVER_ERROR: 1.0}, route_pattern=r"^crm\.get_record$")
    outcome = process_event(event, ProcessingDeps(events=store, handler=_handler(fetcher)))

    # then its marker says it was decided: acknowledged as processed, nothing asked of Zoho (no dead letter)
    assert outcome.status is EventStatus.PROCESSED
    assert store.status_of(event.event_id) is EventStatus.PROCESSED
    assert fetcher.fetched == 1
    assert sim.requests.count("crm.get_record", faulted=True) == 0
    entry = AuditLog.from_settings(get_settings()).get(event.event_id)
    assert entry is not None
    assert entry.kind is EntryKind.DECISION  # the one decision, made once


def test_the_processor_as_deployed_has_its_fetch_end_in_time_for_the_commit(
    aws: AwsResources, sim: ZohoSimulator
) -> None:
    # given the processor as deployed (Zoho configured) and a queued notification of a new account
    processor = fresh_module("functions.processor.app")
    account = sim.state.crm_create("Accounts", {"Account_Name": "Marram Loft Ltd"}, source=Source.ADMIN)
    event = _notification(str(account["id"]))
    _store(event)
    SqsEventQueue.from_settings(get_settings()).send(event)
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    context = FakeLambdaContext()

    # when it handles the message
    started = time.monotonic()
    response = processor.lambda_handler(sqs_event(messages), context)

    # then the record was fetched under a deadline: the invocation's end less the commit's retry budget
    assert response["batchItemFailures"] == []
    assert sim.requests.count("crm.get_record", status=200, record_id=str(account["id"])) == 1
    fetcher = processor.zoho_fetcher
    assert isinstance(fetcher, ZohoRecordFetcher)
    assert fetcher.finish_by is not None
    budget = context.get_remaining_time_in_millis() / 1000 - get_settings().commit_retry_budget_seconds
    assert started + budget <= fetcher.finish_by <= time.monotonic() + budget


def test_the_processor_as_deployed_publishes_the_crm_credits_its_fetches_left(
    aws: AwsResources, sim: ZohoSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the processor as deployed, CRM counting its API credits, and a queued notification of an account
    processor = fresh_module("functions.processor.app")
    sim.limits.configure(crm_credits=5000)
    account = sim.state.crm_create("Accounts", {"Account_Name": "Sedge Hollow Ltd"}, source=Source.ADMIN)
    event = _notification(str(account["id"]))
    _store(event)
    SqsEventQueue.from_settings(get_settings()).send(event)
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    capsys.readouterr()

    # when it handles the message, fetching the account from CRM
    response = processor.lambda_handler(sqs_event(messages), FakeLambdaContext())

    # then its metrics (EMF lines on stdout) carry what CRM said was left after that fetch
    assert response["batchItemFailures"] == []
    left = published_metric(capsys.readouterr().out, "ZohoCrmCreditsRemaining")
    assert left == [[5000.0 - sim.requests.count("crm.get_record")]]
