"""A stalled native sync, noticed by the scheduled checks: the Zoho simulator (HTTP) with its native sync,
the shadow on a real DynamoDB-API server, finance's topic on moto's server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from sync_guard.config import get_settings
from sync_guard.guard.model import PairSource, RecordState
from sync_guard.local.zoho_simulator import Source, ZohoSimulator
from sync_guard.local.zoho_simulator.native_sync import NativeSync
from sync_guard.reconcile.stall import STALL_CHECK
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.bulk import ShadowSeeder
from sync_guard.store.checks import DynamoCheckState
from sync_guard.zoho.convert import books_contact_to_party, crm_record_to_party
from tests.support.aws import AwsResources
from tests.support.handlers import TEST_SECRET, FakeLambdaContext, fresh_module
from tests.support.outbox import point_at_simulator
from tests.support.sns import received, subscribe_queue

pytestmark = pytest.mark.integration

NAMES = ("Harbour Lights Ltd", "Orchard Dental Practice", "Kestrel Engineering Ltd", "Lumen Opticians")


class ShiftedClock:
    """The simulator's clock: now, moved by ``offset`` (records stamped hours ago, as if edited then)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def sim(
    aws_server: AwsResources, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=5, clock=clock) as simulator:
        point_at_simulator(
            simulator,
            monkeypatch,
            SYNC_GUARD_WEBHOOK_SECRET=TEST_SECRET,
            SYNC_GUARD_CRM_NOTIFICATION_CHANNEL_ID="",
            SYNC_GUARD_SYNC_STALL_GRACE_MINUTES="60",
            SYNC_GUARD_SYNC_STALL_EVERY_MINUTES="0",  # look at every run, as runs follow one another here
            SYNC_GUARD_ZOHO_MAX_ATTEMPTS="3",
        )
        yield simulator


@pytest.fixture
def sync(sim: ZohoSimulator, clock: ShiftedClock) -> Iterator[NativeSync]:
    """Four accounts synced to Books ten hours ago, and the shadow mapping seeded with the pairs."""
    clock.offset = -timedelta(hours=10)
    native = NativeSync(sim.state)
    native.connect()
    accounts = [sim.state.crm_create("Accounts", {"Account_Name": n}, source=Source.ADMIN) for n in NAMES]
    native.run_cycle()
    states = []
    for account in accounts:
        books_id = native.mapped_customer(account["id"])
        contact = sim.state.books_get(books_id or "")
        assert contact is not None
        crm = crm_record_to_party("Accounts", account)
        books = books_contact_to_party(contact)
        states.append(RecordState(record=crm, version=1, partner=books.ref, pair_source=PairSource.ZOHO_LINK))
        states.append(RecordState(record=books, version=1, partner=crm.ref, pair_source=PairSource.ZOHO_LINK))
    settings = get_settings()
    ShadowSeeder(aws.client("dynamodb", settings), settings.shadow_table).load(states)
    yield native
    native.close()


@pytest.fixture
def handler(sim: ZohoSimulator) -> ModuleType:
    return fresh_module("functions.reconcile.app")


def run(handler: ModuleType) -> dict[str, Any]:
    result: dict[str, Any] = handler.lambda_handler({"detail-type": "Scheduled Event"}, FakeLambdaContext())
    return dict(result[STALL_CHECK])


def audit_operations() -> list[str]:
    page = AuditLog.from_settings(get_settings()).query(AuditQuery(), limit=50)
    return [entry.operation or "" for entry in page.entries]


def edit_every_phone(sim: ZohoSimulator, phone: str) -> None:
    for account in sim.state.crm_list("Accounts"):
        sim.state.crm_update("Accounts", account["id"], {"Phone": phone}, source=Source.ADMIN)


def test_a_sync_whose_connecting_user_is_gone_is_reported_once_and_its_recovery_too(
    aws_server: AwsResources, sim: ZohoSimulator, sync: NativeSync, clock: ShiftedClock, handler: ModuleType
) -> None:
    finance = subscribe_queue(aws_server, "finance-stall")
    state = DynamoCheckState.from_settings(get_settings())

    # given a healthy run: nothing edited lately, nothing to judge
    assert run(handler)["alert"] is False

    # when the user who connected the integration is deactivated and sales edit every account 5 hours ago
    sync.stall()
    clock.offset = -timedelta(hours=5)
    edit_every_phone(sim, "020 7946 0999")
    assert sync.run_cycle().failure_count == len(NAMES)  # the sync history counts failures, no more

    first, second = run(handler), run(handler)

    # then finance hears once, naming the customers whose edits are stuck, and every run raises the alert
    [envelope] = received(aws_server, finance)
    attributes = envelope["MessageAttributes"]
    assert attributes["rule"]["Value"] == "SYNC_STALLED"
    assert attributes["severity"]["Value"] == "critical"
    assert "still differs in phone" in envelope["Message"]
    assert any(name in envelope["Message"] for name in NAMES)
    assert first["alert"] is True
    assert second["alert"] is True
    assert first["found"] == len(NAMES)
    assert audit_operations().count("sync_stalled") == 1
    episode = state.stall_episode()
    assert episode is not None
    assert len(episode.examples) == 3

    # when an admin re-authorises it and the queued edits reach Books
    sync.unstall()
    clock.offset = -timedelta(hours=2)
    run_after = sync.run_cycle()
    assert run_after.updated == len(NAMES)
    after = run(handler)

    # then finance hears that edits get through again, and the alert ends
    [envelope] = received(aws_server, finance)
    assert envelope["MessageAttributes"]["rule"]["Value"] == "SYNC_RESUMED"
    assert after["alert"] is False
    assert state.stall_episode() is None
    assert "sync_resumed" in audit_operations()
    assert json.dumps(after)  # the function's result stays plain JSON


def test_edits_the_guard_holds_back_are_not_a_stall(
    aws_server: AwsResources, sim: ZohoSimulator, sync: NativeSync, clock: ShiftedClock, handler: ModuleType
) -> None:
    # given every account held back by the guard (its tag takes it out of the sync's view)
    settings = get_settings()
    seeder = ShadowSeeder(aws.client("dynamodb", settings), settings.shadow_table)
    held = []
    for account in sim.state.crm_list("Accounts"):
        crm = crm_record_to_party("Accounts", account)
        books_id = sync.mapped_customer(account["id"])
        held.append(RecordState(record=crm, version=2, partner=f"books:{books_id}", held_by="evt_test_hold"))
    seeder.load(held)
    clock.offset = -timedelta(hours=5)
    edit_every_phone(sim, "020 7946 0999")

    # when the checks run (the edits reached nobody, as the holds intend)
    result = run(handler)

    assert result["alert"] is False
    assert result["found"] == 0
