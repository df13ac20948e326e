"""The scheduled Zoho checks handler against the Zoho simulator (HTTP) and a real DynamoDB-API server."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from sync_guard.config import get_settings
from sync_guard.errors import ConcurrentUpdate
from sync_guard.executor.wiring import LazyZohoClients
from sync_guard.guard.engine import shadow_keys
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import PairSource, RecordState, epoch_ms
from sync_guard.ingest.ports import EventStatus
from sync_guard.local.scenarios.guarded import SCENARIO_SETTINGS
from sync_guard.local.scenarios.world import ACT_LAG
from sync_guard.local.zoho_simulator import Source, ZohoSimulator
from sync_guard.local.zoho_simulator.faults import FaultKind
from sync_guard.local.zoho_simulator.native_sync import NativeSync
from sync_guard.models.events import Channel, Operation
from sync_guard.models.records import Module
from sync_guard.reconcile.checks import (
    BOOKS_DELETED_CHECK,
    BOOKS_MODIFIED_CHECK,
    FAILURES_CHECK,
    CheckStatus,
    ZohoChecksFailed,
    deleted_check,
)
from sync_guard.reconcile.organization import (
    AnotherOrganization,
    OrganizationRecordUnreadable,
    refuse_books_under_another_organization,
)
from sync_guard.reconcile.ports import BooksDeletePass
from sync_guard.reconcile.wiring import build_zoho_checks
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.bulk import ShadowSeeder
from sync_guard.store.checks import PARTITION, DynamoCheckState
from sync_guard.store.events import DynamoEventStore
from sync_guard.store.items import to_value
from sync_guard.store.shadow import get_key_items, read_state
from sync_guard.zoho.convert import books_contact_to_party, crm_record_to_party
from sync_guard.zoho.errors import ZohoServerError
from sync_guard.zoho.payloads import crm_workflow_body, parse_crm_workflow
from tests.support.aws import AwsResources
from tests.support.handlers import TEST_SECRET, FakeLambdaContext, fresh_module, published_metric, sqs_event
from tests.support.outbox import point_at_simulator

pytestmark = pytest.mark.integration

CHANNEL_ID = "1000000068001"
NOTIFY_URL = "https://guard.example/webhooks/crm/notifications"


@pytest.fixture
def sim(aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=11) as simulator:
        point_checks_at(simulator, monkeypatch, SYNC_GUARD_ZOHO_MAX_ATTEMPTS="3")
        yield simulator


def point_checks_at(simulator: ZohoSimulator, monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """The checks' settings: Zoho is ``simulator``, the channel calls the guard back with the test secret."""
    point_at_simulator(
        simulator,
        monkeypatch,
        SYNC_GUARD_WEBHOOK_SECRET=TEST_SECRET,
        SYNC_GUARD_CRM_NOTIFICATION_CHANNEL_ID=CHANNEL_ID,
        SYNC_GUARD_CRM_NOTIFY_URL=NOTIFY_URL,
        **extra,
    )


@pytest.fixture
def handler(sim: ZohoSimulator) -> ModuleType:
    return fresh_module("functions.reconcile.app")


def run(handler: ModuleType) -> dict[str, Any]:
    result: dict[str, Any] = handler.lambda_handler({"detail-type": "Scheduled Event"}, FakeLambdaContext())
    return result


def drain(aws: AwsResources) -> list[dict[str, Any]]:
    bodies = []
    while True:
        messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])


def decide_queued(aws: AwsResources) -> list[dict[str, Any]]:
    """Run the processor handler over every queued event, as the queue's event source would."""
    processor = fresh_module("functions.processor.app")
    events = []
    while messages := aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages"):
        response = processor.lambda_handler(sqs_event(messages), FakeLambdaContext())
        assert response["batchItemFailures"] == []
        for message in messages:
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
            events.append(json.loads(message["Body"])["event"])
    return events


def audit_operations() -> list[str]:
    page = AuditLog.from_settings(get_settings()).query(AuditQuery(), limit=50)
    return [entry.operation or "" for entry in page.entries]


def test_without_zoho_configured_the_scheduled_run_is_skipped_and_writes_nothing(
    aws_server: AwsResources,
) -> None:
    # a guard deployed before its Zoho credentials: webhooks work, the checks have nothing to ask
    result = run(fresh_module("functions.reconcile.app"))

    assert result == {"skipped": "zoho not configured"}
    assert drain(aws_server) == []
    assert audit_operations() == []


def test_the_scheduled_run_publishes_the_crm_credits_left(
    aws_server: AwsResources, sim: ZohoSimulator, handler: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: CRM counting API credits, which every check's CRM call spends
    sim.limits.configure(crm_credits=5000)
    capsys.readouterr()

    run(handler)

    # then: the run's metrics (EMF lines on stdout) carry what CRM said was left after its last call
    left = published_metric(capsys.readouterr().out, "ZohoCrmCreditsRemaining")
    assert left == [[float(sim.limits.crm_credits_remaining or 0)]]
    assert left < [[5000.0]]


def test_the_channel_is_registered_once_renewed_when_gone_and_each_renewal_audited(
    aws_server: AwsResources, sim: ZohoSimulator, handler: ModuleType
) -> None:
    # when the schedule fires for the first time
    result = run(handler)

    # then Zoho holds the channel, calling the guard back with the webhook secret, for about six days
    [channel] = sim.state.crm_watch_list()
    assert channel["channel_id"] == CHANNEL_ID
    assert channel["notify_url"] == NOTIFY_URL
    assert channel["token"] == TEST_SECRET
    assert sorted(channel["events"]) == ["Accounts.all", "Contacts.all"]
    expiry = datetime.fromisoformat(channel["channel_expiry"])
    assert timedelta(hours=143) < expiry - datetime.now(UTC) <= timedelta(hours=144)
    assert result["notification_channel"]["status"] == "ok"
    assert audit_operations().count("renew_notification_channel") == 1

    # a run while the channel has days left changes nothing
    run(handler)
    assert sim.requests.count("crm.watch_enable") == 1

    # a channel disabled in Zoho is enabled again by the next run
    sim.state.crm_watch_disable([CHANNEL_ID])
    run(handler)
    assert [c["channel_id"] for c in sim.state.crm_watch_list()] == [CHANNEL_ID]
    assert audit_operations().count("renew_notification_channel") == 2


def acts_clock() -> datetime:
    """A scenario's act's Zoho clock at its furthest behind the guard's: ACT_LAG (TickingClock's bound) and a
    minute more (its readings cut to the second, the time a run of the checks takes to reach a request)."""
    return (datetime.now(UTC) - ACT_LAG - timedelta(minutes=1)).replace(microsecond=0)


@pytest.fixture
def acts_zoho(aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[ZohoSimulator]:
    """The simulated Zoho of a scenario's act, and the guard as the scenarios configure it."""
    with ZohoSimulator(seed=11, clock=acts_clock) as simulator:
        point_checks_at(simulator, monkeypatch, **SCENARIO_SETTINGS)
        yield simulator


def test_the_scenarios_guard_renews_its_channel_with_a_zoho_whose_clock_is_the_acts(
    acts_zoho: ZohoSimulator,
) -> None:
    # when the schedule fires
    result = run(fresh_module("functions.reconcile.app"))

    # then Zoho took the channel's expiry as within its week
    assert result["notification_channel"]["status"] == "ok", result["notification_channel"]
    assert [c["channel_id"] for c in acts_zoho.state.crm_watch_list()] == [CHANNEL_ID]


def test_the_scenarios_guard_sees_what_the_acts_zoho_stamps_after_the_checks_first_run(
    aws_server: AwsResources, acts_zoho: ZohoSimulator
) -> None:
    # given the checks have run once (their watermarks are the guard's time, a day ahead of the act's)
    handler = fresh_module("functions.reconcile.app")
    run(handler)
    drain(aws_server)

    # when an account is deleted in CRM, its webhook lost, and the schedule fires again
    state = acts_zoho.state
    account = state.crm_create("Accounts", {"Account_Name": "Russet Beacon Ltd"}, source=Source.ADMIN)
    state.crm_delete("Accounts", account["id"], source=Source.ADMIN)
    result = run(handler)

    # then the missed delete is fed, as it would be with Zoho's clock and the guard's in step
    assert result[deleted_check(Module.CRM_ACCOUNTS)]["new_events"] == 1
    assert [m["event"]["record_id"] for m in drain(aws_server)] == [account["id"]]


def test_a_webhook_zoho_failed_to_deliver_is_fed_once_as_the_delivered_event(
    aws_server: AwsResources, sim: ZohoSimulator, handler: ModuleType
) -> None:
    # given an account whose edit webhook Zoho could not deliver
    account = sim.state.crm_create("Accounts", {"Account_Name": "Lantern Quarry Ltd"}, source=Source.ADMIN)
    account = sim.state.crm_update("Accounts", account["id"], {"Phone": "020 7946 0001"}, source=Source.ADMIN)
    sim.state.add_webhook_failure(module="Accounts", record_id=account["id"])
    sim.state.add_webhook_failure(module="Deals", record_id="5725767000009000001")

    # when the schedule fires, twice
    first = run(handler)
    second = run(handler)

    # then one event is queued: the one the webhook would have made, recognised as a repeat the second time
    [message] = drain(aws_server)
    record = sim.state.crm_get("Accounts", account["id"])
    assert record is not None
    # both writes may fall in the same second, when CRM's times say the record is as created
    operation = "create" if record["Created_Time"] == record["Modified_Time"] else "edit"
    expected = parse_crm_workflow(
        crm_workflow_body("Accounts", record, event=operation), received_at=datetime.now(UTC)
    )
    assert message["event_id"] == expected.event_id
    assert message["event"]["channel"] == Channel.RECONCILE.value
    assert message["event"]["record"]["name"] == "Lantern Quarry Ltd"
    store = DynamoEventStore.from_settings(get_settings())
    assert store.status_of(expected.event_id) is EventStatus.QUEUED
    assert first[FAILURES_CHECK]["new_events"] == 1
    assert first[FAILURES_CHECK]["skipped"] == 1  # the Deals webhook is not the guard's
    assert second[FAILURES_CHECK]["new_events"] == 0
    assert "replay_crm_webhook_failures" in audit_operations()


def test_records_deleted_in_crm_are_fed_as_delete_events(
    aws_server: AwsResources, sim: ZohoSimulator, handler: ModuleType
) -> None:
    # given an account and a contact deleted in CRM, whose delete webhooks never arrived
    account = sim.state.crm_create("Accounts", {"Account_Name": "Russet Beacon Ltd"}, source=Source.ADMIN)
    contact = sim.state.crm_create("Contacts", {"Last_Name": "Okafor"}, source=Source.ADMIN)
    sim.state.crm_delete("Accounts", account["id"], source=Source.ADMIN)
    sim.state.crm_delete("Contacts", contact["id"], source=Source.ADMIN)

    # when the schedule fires
    result = run(handler)

    # then both are on the processing queue as deletes
    events = {m["event"]["record_id"]: m["event"] for m in drain(aws_server)}
    assert set(events) == {account["id"], contact["id"]}
    assert {e["operation"] for e in events.values()} == {Operation.DELETE.value}
    assert events[account["id"]]["module"] == Module.CRM_ACCOUNTS.value
    assert result[deleted_check(Module.CRM_ACCOUNTS)]["new_events"] == 1
    assert result[deleted_check(Module.CRM_CONTACTS)]["new_events"] == 1


def test_zoho_failing_after_retries_raises_and_that_check_starts_again_from_the_same_point(
    aws_server: AwsResources, sim: ZohoSimulator, handler: ModuleType
) -> None:
    state = DynamoCheckState.from_settings(get_settings())
    run(handler)
    watermark = state.watermark(FAILURES_CHECK)
    assert watermark is not None
    account = sim.state.crm_create("Accounts", {"Account_Name": "Cobalt Orchid Ltd"}, source=Source.ADMIN)
    sim.state.add_webhook_failure(module="Accounts", record_id=account["id"])

    # Zoho answers 500 to every attempt at listing the failures
    sim.faults.configure(route_pattern=r"^crm\.webhook_failures$")
    sim.faults.script([FaultKind.SERVER_ERROR] * 3)
    with pytest.raises(ZohoChecksFailed, match="webhook_failures"):
        run(handler)

    assert sim.requests.count("crm.webhook_failures", status=500) == 3
    assert state.watermark(FAILURES_CHECK) == watermark
    later = state.watermark(deleted_check(Module.CRM_ACCOUNTS))
    assert later is not None
    assert later > watermark  # the other checks ran and moved on
    assert drain(aws_server) == []

    # once Zoho answers again, the next run feeds what the failed one could not
    run(handler)
    [message] = drain(aws_server)
    assert message["event"]["record_id"] == account["id"]


def test_books_customers_whose_webhooks_never_came_are_fed_and_decided(
    aws_server: AwsResources, sim: ZohoSimulator, handler: ModuleType
) -> None:
    # given a Books customer and a supplier created without a webhook reaching the guard
    customer = sim.state.books_create_contact(
        {"contact_name": "Granite Willow Trading Ltd", "email": "accounts@granitewillow.co.uk"},
        source=Source.ADMIN,
    )
    vendor = sim.state.books_create_contact(
        {"contact_name": "Granite Paper Supplies Ltd", "contact_type": "vendor"}, source=Source.ADMIN
    )
    # when the schedule fires and the processor decides what it fed
    first = run(handler)
    [fed] = decide_queued(aws_server)

    # then the customer is in the shadow as if its webhook had come; the supplier is not fetched
    assert (fed["record_id"], fed["operation"]) == (customer["contact_id"], Operation.CREATE.value)
    assert first[BOOKS_MODIFIED_CHECK]["skipped"] == 1
    assert sim.requests.count("books.get_contact", record_id=vendor["contact_id"]) == 0

    # given a copy of the customer, its name drifted, also created without a webhook
    copy = sim.state.books_create_contact(
        {"contact_name": "Granite Willow Trading Limited", "email": "sales@granitewillow.co.uk"},
        source=Source.ADMIN,
    )
    # when the schedule fires again
    second = run(handler)
    [fed_copy] = decide_queued(aws_server)

    # then only the copy is fetched and fed: the shadow holds the customer at its version already
    assert fed_copy["record_id"] == copy["contact_id"]
    assert fed_copy["channel"] == Channel.RECONCILE.value
    assert sim.requests.count("books.get_contact", record_id=customer["contact_id"]) == 1
    assert second[BOOKS_MODIFIED_CHECK]["repeats"] == 1
    assert second[BOOKS_MODIFIED_CHECK]["new_events"] == 1
    # and the guard quarantines the copy as the name drift it is (created in Books by hand, which is
    # recorded too: allowed by default)
    audit = AuditLog.from_settings(get_settings())
    [decision] = [e for e in audit.iterate(AuditQuery(record=f"books:{copy['contact_id']}")) if e.rules]
    assert decision.rules == ("NAME_DRIFT", "CREATED_IN_BOOKS")
    assert decision.decision.value == "quarantine"
    assert f"books:{customer['contact_id']}" in decision.records
    assert "feed_books_modified_customers" in audit_operations()


def test_a_customer_turned_vendor_whose_webhook_never_came_is_fed_and_retired_from_matching(
    aws_server: AwsResources, sim: ZohoSimulator, handler: ModuleType
) -> None:
    # given a Books customer the guard has held since an hour ago, then edited into a supplier in Books
    # with no webhook reaching the guard
    contact = sim.state.books_create_contact({"contact_name": "Granite Paper Ltd"}, source=Source.ADMIN)
    record = books_contact_to_party(contact)
    assert record.modified_at is not None
    keys = shadow_keys(record, LibraryMatcher())
    held = RecordState(record=record, version=epoch_ms(record.modified_at) - 3_600_000, keys=keys)
    settings = get_settings()
    client = aws.client("dynamodb", settings)
    ShadowSeeder(client, settings.shadow_table).load([held])
    sim.state.books_update_contact(contact["contact_id"], {"contact_type": "vendor"}, source=Source.ADMIN)

    # when the schedule fires and the processor decides what it fed
    outcome = run(handler)[BOOKS_MODIFIED_CHECK]
    [fed] = decide_queued(aws_server)

    # then the supplier was fed, and the shadow no longer holds it as a live customer to match against
    assert (fed["record_id"], outcome["new_events"]) == (contact["contact_id"], 1)
    state = read_state(client, settings.shadow_table, record.ref)
    assert state is not None
    assert state.record.module is Module.BOOKS_VENDORS
    assert not state.live
    assert keys
    assert state.keys == frozenset()
    items = get_key_items(client, settings.shadow_table, keys).values()
    assert all(record.ref not in item.members for item in items)


# ------------------------------------------------------------------------ Books customers deleted
NAMES = ("Harbour Lights Ltd", "Orchard Dental Practice", "Kestrel Engineering Ltd")


def synced_pairs(sim: ZohoSimulator, *, others_first: int = 0) -> list[str]:
    """The accounts synced to Books, and the shadow seeded with each pair at its current version; Books
    holds ``others_first`` customers created before them (unknown to the guard). Their Books ids."""
    for n in range(others_first):
        sim.state.books_create_contact({"contact_name": f"Walk-in Customer {n:03d}"}, source=Source.ADMIN)
    native = NativeSync(sim.state)
    native.connect()
    accounts = [sim.state.crm_create("Accounts", {"Account_Name": n}, source=Source.ADMIN) for n in NAMES]
    native.run_cycle()
    native.close()
    states, books_ids = [], []
    for account in accounts:
        contact = sim.state.books_get(native.mapped_customer(account["id"]) or "")
        assert contact is not None
        crm, books = crm_record_to_party("Accounts", account), books_contact_to_party(contact)
        assert crm.modified_at is not None
        assert books.modified_at is not None
        pair = {"pair_source": PairSource.ZOHO_LINK}
        states.append(RecordState(record=crm, version=epoch_ms(crm.modified_at), partner=books.ref, **pair))
        states.append(RecordState(record=books, version=epoch_ms(books.modified_at), partner=crm.ref, **pair))
        books_ids.append(books.record_id)
    settings = get_settings()
    ShadowSeeder(aws.client("dynamodb", settings), settings.shadow_table).load(states)
    return books_ids


def pass_is_due_again() -> None:
    """Forget when the last pass began, as if the interval between passes were over."""
    settings = get_settings()
    aws.client("dynamodb", settings).delete_item(
        TableName=settings.shadow_table, Key={"pk": to_value(PARTITION), "sk": to_value(BOOKS_DELETED_CHECK)}
    )


def test_a_books_customer_deleted_without_a_webhook_makes_partner_deleted_for_its_live_account(
    aws_server: AwsResources, sim: ZohoSimulator, handler: ModuleType
) -> None:
    # given three synced pairs, and the bookkeeper deleting one Books customer with no webhook arriving
    kept, _, gone = synced_pairs(sim)
    sim.state.books_delete_contact(gone, source=Source.ADMIN)

    # when the schedule fires and the processor decides what it fed
    outcome = run(handler)[BOOKS_DELETED_CHECK]
    [fed] = decide_queued(aws_server)

    # then Books was asked about the missing customer only, and its delete decided as a webhook's would be
    assert (fed["record_id"], fed["operation"], fed["channel"]) == (
        gone,
        Operation.DELETE.value,
        Channel.RECONCILE.value,
    )
    assert (outcome["status"], outcome["found"], outcome["new_events"]) == ("ok", 1, 1)
    assert sim.requests.count("books.get_contact", record_id=gone) == 1
    assert sim.requests.count("books.get_contact", record_id=kept) == 0
    audit = AuditLog.from_settings(get_settings())
    [decision] = [e for e in audit.iterate(AuditQuery(record=f"books:{gone}")) if e.rules]
    assert "PARTNER_DELETED" in decision.rules
    operations = [e.operation for e in audit.iterate(AuditQuery()) if e.operation]
    assert "feed_books_deleted_customers" in operations

    # a run before the next pass is due asks Books nothing
    assert run(handler)[BOOKS_DELETED_CHECK]["status"] == "skipped"
    # and the next pass has nothing to ask about: the shadow holds the customer as deleted
    pass_is_due_again()
    again = run(handler)[BOOKS_DELETED_CHECK]
    assert (again["status"], again["found"], again["new_events"]) == ("ok", 0, 0)
    assert sim.requests.count("books.get_contact", record_id=gone) == 1
    assert decide_queued(aws_server) == []


def test_a_listing_failing_half_way_feeds_nothing_and_the_next_run_reads_on_from_that_page(
    aws_server: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    # given 200 customers before the synced ones (two pages), one synced customer deleted without a webhook
    *_, gone = synced_pairs(sim, others_first=200)
    sim.state.books_delete_contact(gone, source=Source.ADMIN)
    zoho = closed_after.enter_context(closing(LazyZohoClients(get_settings())))
    checks = build_zoho_checks(get_settings(), zoho=zoho)
    # when the first page is read and the second fails on every attempt
    sim.faults.configure(route_pattern=r"^books\.list_contacts$")
    sim.faults.script([None, *[FaultKind.SERVER_ERROR] * 3])
    with pytest.raises(ZohoServerError):
        checks.feed_missed_books_deletes()

    # then nothing is fed and nobody asked about; the pass waits at the second page
    assert aws_server.sqs.receive_message(QueueUrl=aws_server.queue_url).get("Messages") is None
    assert sim.requests.count("books.get_contact") == 0
    sweep = DynamoCheckState.from_settings(get_settings()).books_delete_pass()
    assert sweep is not None
    assert (sweep.next_page, sweep.listed) == (2, False)

    # when Books answers again: the second page only, then the delete
    outcome = checks.feed_missed_books_deletes()
    assert sim.requests.count("books.list_contacts") == 1 + 3 + 1
    assert outcome.status is CheckStatus.OK
    [fed] = decide_queued(aws_server)
    assert (fed["record_id"], fed["operation"]) == (gone, Operation.DELETE.value)


def test_a_customer_a_shifting_page_left_out_is_asked_about_and_not_deleted(
    aws_server: AwsResources,
    sim: ZohoSimulator,
    monkeypatch: pytest.MonkeyPatch,
    closed_after: contextlib.ExitStack,
) -> None:
    # given 199 customers before the synced ones: the first synced customer ends page 1, the others page 2
    monkeypatch.setenv("SYNC_GUARD_BOOKS_DELETED_MAX_CALLS", "1")
    get_settings.cache_clear()
    _, shifted, _ = synced_pairs(sim, others_first=199)
    zoho = closed_after.enter_context(closing(LazyZohoClients(get_settings())))
    checks = build_zoho_checks(get_settings(), zoho=zoho)
    assert checks.feed_missed_books_deletes().status is CheckStatus.INCOMPLETE  # page 1 only

    # when a customer on page 1 is deleted before the next run: page 2 starts one customer later
    first = sim.state.books_list_contacts()[0]["contact_id"]
    sim.state.books_delete_contact(first, source=Source.ADMIN)
    checks.feed_missed_books_deletes()  # page 2, without the customer that moved to page 1
    outcome = checks.feed_missed_books_deletes()  # its confirmation

    # then Books is asked about it, says it exists, and nothing is fed
    assert sim.requests.count("books.get_contact", record_id=shifted) == 1
    assert (outcome.status, outcome.found, outcome.skipped, outcome.new_events) == (CheckStatus.OK, 1, 1, 0)
    assert aws_server.sqs.receive_message(QueueUrl=aws_server.queue_url).get("Messages") is None


def test_two_runs_at_once_keep_one_missed_delete_pass_and_never_revive_an_ended_one(
    aws_server: AwsResources,
) -> None:
    # given two runs of the checks at once (a schedule delivered twice, or `sync-guard checks` by hand)
    this_run, other_run = (DynamoCheckState.from_settings(get_settings()) for _ in range(2))
    started = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    mine = BooksDeletePass(started=started)

    # when both found no pass and start one: the one saved second is refused, the first one is kept
    this_run.save_books_delete_pass(mine, new=True)
    with pytest.raises(ConcurrentUpdate):
        other_run.save_books_delete_pass(BooksDeletePass(started=started + timedelta(seconds=1)), new=True)
    assert this_run.books_delete_pass() == mine

    # when one run ends the pass while the other, on the same pass, has read one more page
    this_run.end_books_delete_pass(mine)
    with pytest.raises(ConcurrentUpdate):
        other_run.save_books_delete_pass(replace(mine, next_page=2))

    # then the ended pass is not brought back with its pages gone (every customer would be asked about)
    assert this_run.books_delete_pass() is None


def books_requests(sim: ZohoSimulator) -> int:
    return sum(1 for request in sim.requests.records if request.route.startswith("books."))


def test_a_guard_pointed_at_another_books_organisation_asks_books_nothing_and_feeds_nothing(
    aws_server: AwsResources, sim: ZohoSimulator, handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a shadow of three synced pairs, which the first run records as the simulator's organisation's
    synced_pairs(sim)
    run(handler)
    state = DynamoCheckState.from_settings(get_settings())
    recorded = state.books_organization()
    assert recorded is not None
    assert (recorded.organization_id, recorded.recorded_by) == (
        sim.books_organization_id,
        "scheduler:zoho-checks",
    )
    pass_is_due_again()

    # when ZohoBooksOrganizationId is changed with the tables kept, and the schedule fires
    monkeypatch.setenv("SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID", "20099999999")
    get_settings.cache_clear()
    asked_before = books_requests(sim)
    with pytest.raises(ZohoChecksFailed, match=f"organisation {sim.books_organization_id}"):
        run(fresh_module("functions.reconcile.app"))

    # then Books is not called, nothing is queued, the record stands, and the audit trail says why
    assert books_requests(sim) == asked_before
    assert drain(aws_server) == []
    assert state.books_organization() == recorded
    audit = AuditLog.from_settings(get_settings())
    [stopped] = [e for e in audit.iterate(AuditQuery()) if e.operation == "feed_books_deleted_customers"]
    assert "ZohoBooksOrganizationId is 20099999999" in stopped.note


def test_two_first_writers_of_the_books_organisation_agree_on_the_first_and_adopting_is_conditional(
    aws_server: AwsResources,
) -> None:
    seeding, scheduled = (DynamoCheckState.from_settings(get_settings()) for _ in range(2))
    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

    first = seeding.record_books_organization("20081234567", at=at, by="seed:alice")
    second = scheduled.record_books_organization("20099999999", at=at + timedelta(seconds=1), by="scheduler")

    # the second writer reads the first one's organisation rather than writing its own
    assert second == first
    assert scheduled.books_organization() == first
    # an admin adopts another organisation only while the one they saw is still recorded
    with pytest.raises(ConcurrentUpdate):
        seeding.adopt_books_organization("20099999999", replacing="20000000000", at=at, by="bob")
    adopted = seeding.adopt_books_organization("20099999999", replacing="20081234567", at=at, by="bob")
    assert scheduled.books_organization() == adopted


def test_an_organisation_item_edited_by_hand_is_read_tolerantly_or_refused_naming_its_field(
    aws_server: AwsResources,
) -> None:
    state = DynamoCheckState.from_settings(get_settings())
    key = {"pk": to_value(PARTITION), "sk": to_value("books_organization")}
    table = get_settings().shadow_table

    # given the item written by hand with the id alone (no recorded_at, no recorded_by)
    aws_server.dynamodb.put_item(TableName=table, Item={**key, "organization_id": to_value("20081234567")})

    # then it is read, its time and author unknown, and a mismatch still names both ids
    recorded = state.books_organization()
    assert recorded is not None
    assert (recorded.organization_id, recorded.recorded_at, recorded.recorded_by) == ("20081234567", None, "")
    with pytest.raises(AnotherOrganization, match="organisation 20081234567 \\(recorded at a time not kept"):
        refuse_books_under_another_organization("20099999999", state.books_organization, outcome="")
    # a time written as a person would is read as that time
    aws_server.dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET recorded_at = :at",
        ExpressionAttributeValues={":at": to_value("2026-09-01T10:15:00+00:00")},
    )
    assert state.books_organization() == replace(
        recorded, recorded_at=datetime(2026, 9, 1, 10, 15, tzinfo=UTC)
    )
    # an item without its organisation id is refused naming the field, not taken for "none recorded"
    aws_server.dynamodb.put_item(TableName=table, Item={**key, "recorded_by": to_value("alice")})
    with pytest.raises(OrganizationRecordUnreadable, match="has no organization_id") as refused:
        state.books_organization()
    assert refused.value.field == "organization_id"
    assert refused.value.retryable
