"""The outbox executor ends its Zoho calls with the invocation's time (clients against the simulator)."""

from __future__ import annotations

import time

import pytest

from sync_guard.config import Mode
from sync_guard.executor.enrichment import ZohoRecordFetcher
from sync_guard.executor.model import ActionMessage, ActionStatus
from sync_guard.executor.service import Executor, ExecutorConfig
from sync_guard.executor.zoho_actions import HoldSettings
from sync_guard.guard.model import ActionKind
from sync_guard.local.zoho_simulator import FaultKind, Source, ZohoSimulator
from sync_guard.models.records import System
from sync_guard.notify import InMemoryNotifier
from sync_guard.zoho.errors import ZohoError
from sync_guard.zoho.factory import ZohoClients
from tests.integration.zoho.zoho_support import SleepRecorder
from tests.unit.executor.fakes_executor import T0, FakeContext, FakeSent, FakeStore, action


def test_a_retry_after_the_invocation_cannot_wait_out_hands_the_action_back_to_sqs(
    sim: ZohoSimulator, zoho: ZohoClients, sleeps: SleepRecorder
) -> None:
    # given: a Books hold, 22 s left in the invocation (enough to start it), and Books asking for 20 s (which
    # the retry policy alone would wait out)
    customer = str(
        sim.state.books_create_contact({"contact_name": "Acme Ltd"}, source=Source.ADMIN)["contact_id"]
    )
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, f"books:{customer}")
    store = FakeStore()
    store.add(hold)
    sim.faults.configure(retry_after=20)
    sim.faults.script([FaultKind.RATE_LIMIT])
    notifier = InMemoryNotifier()
    executor = Executor(
        store=store,
        context=FakeContext(),
        sent_notices=FakeSent(),
        zoho=lambda: zoho,
        notifier=lambda: notifier,
        config=ExecutorConfig(mode=Mode.ENFORCE, hold=HoldSettings("hold-tag"), reserve_seconds=15.0),
        clock=lambda: T0,
    )

    # when
    result = executor.run_batch([ActionMessage("m1", hold.action_id, 1)], remaining_seconds=lambda: 22.0)

    # then: the wait that would outlast the invocation is not begun; the action is retried through SQS
    assert sleeps.waits == []
    assert result.failed_message_ids == ["m1"]
    assert store.items[hold.action_id].status is ActionStatus.RETRYING
    assert sim.state.books_get(customer)["status"] == "active"


def test_the_processors_fetch_does_not_wait_out_a_retry_after_past_its_deadline(
    sim: ZohoSimulator, zoho: ZohoClients, sleeps: SleepRecorder
) -> None:
    # given: a Notification API event's record to fetch, 2 s left for the fetch, CRM asking for 20 s
    account = sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)
    fetcher = ZohoRecordFetcher(lambda: zoho)
    fetcher.finish_by = time.monotonic() + 2.0
    sim.faults.configure(retry_after=20)
    sim.faults.script([FaultKind.RATE_LIMIT])

    # when / then: the fetch fails at once (SQS delivers the event again), not past the invocation
    with pytest.raises(ZohoError):
        fetcher.fetch(System.CRM, "Accounts", str(account["id"]))
    assert sleeps.waits == []


def test_the_processors_fetch_without_a_deadline_waits_as_its_retry_policy_says(
    sim: ZohoSimulator, zoho: ZohoClients, sleeps: SleepRecorder
) -> None:
    account = sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)
    fetcher = ZohoRecordFetcher(lambda: zoho)
    sim.faults.configure(retry_after=20)
    sim.faults.script([FaultKind.RATE_LIMIT])

    record = fetcher.fetch(System.CRM, "Accounts", str(account["id"]))

    assert record is not None
    assert record.name == "Acme Ltd"
    assert len(sleeps.waits) == 1
