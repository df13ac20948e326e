"""Holds nobody decided about, reminded by the scheduled checks function: the holds on a real DynamoDB-API
server, made by the admin service days ago; finance's topic on moto's server; Zoho the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from sync_guard.admin.service import AdminService
from sync_guard.config import get_settings
from sync_guard.guard.wiring import processor_handler
from sync_guard.local.zoho_simulator import ZohoSimulator
from sync_guard.models.records import Module
from sync_guard.reconcile.reminder import HOLDS_CHECK
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.timefmt import utc_minute
from sync_guard.zoho.payloads import parse_crm_workflow
from tests.support.aws import AwsResources
from tests.support.handlers import TEST_SECRET, FakeLambdaContext, fresh_module
from tests.support.outbox import create_companies, event_for, point_at_simulator
from tests.support.sns import received, subscribe_queue

pytestmark = pytest.mark.integration


@pytest.fixture
def sim(aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=7) as simulator:
        point_at_simulator(
            simulator,
            monkeypatch,
            SYNC_GUARD_WEBHOOK_SECRET=TEST_SECRET,
            SYNC_GUARD_CRM_NOTIFICATION_CHANNEL_ID="",
            # Due at any time of the day the test runs.
            SYNC_GUARD_HOLD_REMINDER_HOUR_UTC="0",
        )
        yield simulator


def hold_by_hand(ref: str, days_ago: float, reason: str) -> None:
    """An admin's hold made ``days_ago``, as ``sync-guard quarantines hold`` makes it."""
    held_at = datetime.now(UTC) - timedelta(days=days_ago)
    service = replace(AdminService.from_settings(get_settings()), clock=lambda: held_at)
    service.hold(ref, actor="user:ivy", reason=reason)


def run(handler: ModuleType) -> dict[str, Any]:
    result: dict[str, Any] = handler.lambda_handler({"detail-type": "Scheduled Event"}, FakeLambdaContext())
    return dict(result[HOLDS_CHECK])


def test_finance_is_reminded_once_of_the_holds_waiting_for_days(
    aws_server: AwsResources, sim: ZohoSimulator
) -> None:
    finance = subscribe_queue(aws_server, "finance-reminder")
    hold_by_hand("books:460000000026101", days_ago=5, reason="same customer as books:460000000026100?")
    hold_by_hand("crm:5725767000003009001", days_ago=1, reason="too young to remind")
    handler = fresh_module("functions.reconcile.app")

    first, second = run(handler), run(handler)

    [envelope] = received(aws_server, finance)
    assert envelope["MessageAttributes"]["rule"]["Value"] == "HOLDS_WAITING"
    assert envelope["MessageAttributes"]["severity"]["Value"] == "warning"
    assert "Id: 460000000026101" in envelope["Message"]
    assert "5725767000003009001" not in envelope["Message"]
    assert "Waiting 5 days (held by hand)" in envelope["Message"]
    assert (first["status"], first["found"]) == ("ok", 1)
    assert second["status"] == "skipped"
    page = AuditLog.from_settings(get_settings()).query(AuditQuery(record="books:460000000026101"), limit=10)
    reminders = [entry for entry in page.entries if entry.operation == "holds_reminder"]
    assert [entry.actor for entry in reminders] == ["scheduler:zoho-checks"]


def test_a_hold_on_a_record_deleted_since_is_left_out_and_counted(
    aws_server: AwsResources, sim: ZohoSimulator
) -> None:
    finance = subscribe_queue(aws_server, "finance-reminder-deleted")
    hold_by_hand("books:460000000026201", days_ago=5, reason="same customer as books:460000000026200?")
    hold_by_hand("crm:5725767000003009201", days_ago=6, reason="same company as crm:5725767000003009200?")
    # the held CRM account was deleted since, and the guard processed its delete webhook
    now = datetime.now(UTC)
    body = {"event": "delete", "module": "Accounts", "id": "5725767000003009201", "modified": now.isoformat()}
    processor_handler(get_settings()).guard.process(parse_crm_workflow(body, received_at=now))
    handler = fresh_module("functions.reconcile.app")

    outcome = run(handler)

    [envelope] = received(aws_server, finance)
    message = envelope["Message"]
    assert "Id: 460000000026201" in message
    assert "Id: 5725767000003009201" not in message
    assert (
        "Left out: 1 hold on a record deleted in Zoho since it was held (crm:5725767000003009201)"
        in " ".join(message.split())
    )
    assert (outcome["status"], outcome["found"]) == ("ok", 1)
    assert outcome["note"].endswith("; 1 on records deleted since left out")


def test_a_hold_a_customer_turned_vendor_made_moot_is_released_not_reminded(
    aws_server: AwsResources, sim: ZohoSimulator
) -> None:
    # given two of the guard's holds made 5 days ago: a CRM account held as a duplicate of a Books
    # customer, and a Books customer held as a duplicate of another
    finance = subscribe_queue(aws_server, "finance-reminder-vendor")
    companies = create_companies(sim, 2, books_duplicates_every=2)
    processor = processor_handler(get_settings())
    processor.guard.clock = lambda: datetime.now(UTC) - timedelta(days=5)
    for record in [c.customer for c in companies] + [c.duplicate for c in companies]:
        processor(event_for(record))
    books_dup = companies[1].duplicate
    service = AdminService.from_settings(get_settings())
    assert books_dup.ref in {hold.hold_id for hold in service.list_holds()}
    # ... then the customer that Books duplicate was held against edited into a vendor (a supplier), and
    # its webhook processed
    customer = companies[1].customer
    assert customer.modified_at is not None
    vendor = customer.model_copy(
        update={"module": Module.BOOKS_VENDORS, "modified_at": customer.modified_at + timedelta(days=1)}
    )
    processor.guard.clock = lambda: datetime.now(UTC)
    processor(event_for(vendor))

    # when the scheduled checks run
    outcome = run(fresh_module("functions.reconcile.app"))

    # then finance is reminded of the other hold only: that one was released (audited, by the guard)
    [envelope] = received(aws_server, finance)
    assert f"Id: {companies[0].duplicate.record_id}" in envelope["Message"]
    assert books_dup.record_id not in envelope["Message"]
    assert (outcome["status"], outcome["found"]) == ("ok", 1)
    assert books_dup.ref not in {hold.hold_id for hold in service.list_holds()}
    page = AuditLog.from_settings(get_settings()).query(AuditQuery(record=books_dup.ref), limit=10)
    [release] = [entry for entry in page.entries if entry.operation == "release_moot"]
    assert release.actor == "guard"
    assert release.records == (books_dup.ref, customer.ref)
    assert release.note.startswith(f"{customer.ref} is a Books vendor now")


def test_an_admins_hold_on_a_customer_turned_vendor_is_left_out_as_a_vendor(
    aws_server: AwsResources, sim: ZohoSimulator
) -> None:
    # given an admin's own hold, made 5 days ago, on a Books customer the guard knows, and a live hold
    finance = subscribe_queue(aws_server, "finance-reminder-admin-vendor")
    [company] = create_companies(sim, 1, books_duplicates_every=2)
    processor = processor_handler(get_settings())
    processor(event_for(company.customer))
    hold_by_hand(company.customer.ref, days_ago=5, reason="checking with the customer")
    hold_by_hand("crm:5725767000003009301", days_ago=6, reason="same company as crm:5725767000003009300?")
    # ... then the customer edited into a vendor in Books, its webhook processed: the admin's hold stays
    customer = company.customer
    assert customer.modified_at is not None
    turned_at = customer.modified_at + timedelta(days=1)
    vendor = customer.model_copy(update={"module": Module.BOOKS_VENDORS, "modified_at": turned_at})
    processor(event_for(vendor))
    service = AdminService.from_settings(get_settings())
    assert customer.ref in {hold.hold_id for hold in service.list_holds()}

    # when the scheduled checks run
    outcome = run(fresh_module("functions.reconcile.app"))

    # then the vendor's hold is left out, named as a vendor retired since the edit, not as deleted in Zoho
    [envelope] = received(aws_server, finance)
    message = " ".join(envelope["Message"].split())
    assert f"Id: {customer.record_id}" not in message
    assert (
        f"Left out: 1 hold on a record that is a Books vendor now, retired from matching since "
        f"{utc_minute(turned_at)} ({customer.ref})"
    ) in message
    assert "deleted in Zoho" not in message
    assert outcome["note"].endswith("; 1 on records turned Books vendors left out")
