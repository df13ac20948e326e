"""The scheduled Zoho checks, with fakes for CRM, the check state, the events table, queue and audit."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_guard.config import Settings
from sync_guard.errors import ConcurrentUpdate, ConfigurationError
from sync_guard.guard.model import RecordState, epoch_ms
from sync_guard.ingest import EventStatus
from sync_guard.models.events import Channel, Operation
from sync_guard.models.records import Module, PartyRecord
from sync_guard.reconcile.checks import (
    BOOKS_DELETED_CHECK,
    BOOKS_MODIFIED_CHECK,
    CHANNEL_CHECK,
    FAILURES_CHECK,
    CheckOutcome,
    ChecksConfig,
    CheckStatus,
    ZohoChecks,
    ZohoChecksFailed,
    deleted_check,
)
from sync_guard.reconcile.ports import BooksDeletePass, BooksOrganization, ChannelState
from sync_guard.reconcile.stall import STALL_CHECK
from sync_guard.zoho.books import Page
from sync_guard.zoho.convert import books_contact_to_party
from sync_guard.zoho.crm import DeletedRecord, WebhookFailure
from sync_guard.zoho.errors import BooksApiError, ZohoServerError
from sync_guard.zoho.payloads import parse_books_webhook, parse_crm_workflow
from tests.support.events import MemoryQueue, MemoryStore
from tests.support.fakes import MemoryAudit
from tests.unit.reconcile.test_sync_stall import World as StallWorld

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SECRET = "sync-guard-test-secret"
NOTIFY_URL = "https://guard.example/webhooks/crm/notifications"


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeCrm:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[WebhookFailure] = field(default_factory=list)
    deleted: dict[Module, list[DeletedRecord]] = field(default_factory=dict)
    channels: list[dict[str, Any]] = field(default_factory=list)
    enabled: list[dict[str, Any]] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    deleted_since: list[datetime | None] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    def _maybe_fail(self, call: str) -> None:
        if call in self.failing:
            raise ZohoServerError("Zoho answered 503 after every retry", http_status=503)

    def enable_notifications(
        self, channel_id: str, events: Sequence[str], notify_url: str, token: str, *, expiry: datetime | None
    ) -> datetime | None:
        self._maybe_fail("enable")
        self.enabled.append(
            {"channel_id": channel_id, "events": list(events), "url": notify_url, "token": token}
        )
        assert expiry is not None
        self.channels = [
            {"channel_id": channel_id, "events": list(events), "channel_expiry": expiry.isoformat()}
        ]
        return expiry

    def notification_channels(self) -> list[dict[str, Any]]:
        self._maybe_fail("channels")
        return list(self.channels)

    def webhook_failures(self) -> list[WebhookFailure]:
        self._maybe_fail("failures")
        return list(self.failures)

    def list_deleted(
        self, module: Module | str, *, since: datetime | None = None, kind: str = "all"
    ) -> list[DeletedRecord]:
        self._maybe_fail("deleted")
        self.deleted_since.append(since)
        entries = self.deleted.get(Module(module), [])
        return [e for e in entries if since is None or (e.deleted_at and e.deleted_at >= since)]

    def get_record_data(self, module: Module | str, record_id: str) -> dict[str, Any] | None:
        self.fetched.append(record_id)
        return self.records.get(record_id)


@dataclass
class FakeBooks:
    """Books contacts by id; lists them newest modified first down to ``since``, as BooksClient does, or
    page by page in creation order (``per_page`` to a page)."""

    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    listed_since: list[datetime] = field(default_factory=list)
    failing: bool = False
    per_page: int = 200
    #: Contacts a listing leaves out although they exist (a page shifted while it was read).
    unlisted: set[str] = field(default_factory=set)
    pages_read: list[int] = field(default_factory=list)
    failing_pages: set[int] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)
    failing_asks: set[str] = field(default_factory=set)
    #: Contacts Books refuses to answer about, every time (a 4xx that is not "does not exist").
    refused_asks: set[str] = field(default_factory=set)

    def iter_contacts_modified_since(self, since: datetime) -> Iterator[PartyRecord]:
        if self.failing:
            raise ZohoServerError("Zoho answered 503 after every retry", http_status=503)
        self.listed_since.append(since)
        records = [books_contact_to_party(c) for c in self.contacts.values()]
        for record in sorted(records, key=lambda r: r.modified_at or NOW, reverse=True):
            if record.modified_at is not None and record.modified_at < since:
                return
            yield record

    def get_contact_data(self, contact_id: str) -> dict[str, Any] | None:
        self.fetched.append(contact_id)
        contact = self.contacts.get(contact_id)
        return copy.deepcopy(contact) if contact is not None else None

    def list_contacts(
        self,
        *,
        filter_by: str | None = None,
        sort_column: str | None = None,
        sort_order: str | None = None,
        page: int = 1,
    ) -> Page[PartyRecord]:
        # every status (a held customer is inactive, not gone), oldest first (stable pages)
        assert (filter_by, sort_column, sort_order) == ("Status.All", "created_time", "A")
        self.pages_read.append(page)
        if page in self.failing_pages:
            raise ZohoServerError("Zoho answered 503 after every retry", http_status=503)
        listed = [c for c in self.contacts.values() if c["contact_id"] not in self.unlisted]
        chunk = listed[(page - 1) * self.per_page : page * self.per_page]
        return Page([books_contact_to_party(c) for c in chunk], page, len(listed) > page * self.per_page)

    def contact_deleted(self, contact_id: str) -> bool:
        self.asked.append(contact_id)
        if contact_id in self.failing_asks:
            raise ZohoServerError("Zoho answered 503 after every retry", http_status=503)
        if contact_id in self.refused_asks:
            raise BooksApiError(5, "Invalid URL Passed", http_status=404)
        return contact_id not in self.contacts


@dataclass
class MemoryShadow:
    states: dict[str, RecordState] = field(default_factory=dict)

    def get_state(self, ref: str) -> RecordState | None:
        return self.states.get(ref)

    def live_books_customer_ids(self) -> Iterator[str]:
        for state in list(self.states.values()):
            if state.live and state.record.module is Module.BOOKS_CUSTOMERS:
                yield state.record.record_id

    def hold(self, contact: dict[str, Any]) -> None:
        """The shadow's state of ``contact`` as a webhook would have left it."""
        record = books_contact_to_party(contact)
        assert record.modified_at is not None
        self.states[record.ref] = RecordState(record=record, version=epoch_ms(record.modified_at))


@dataclass
class MemoryCheckState:
    watermarks: dict[str, datetime] = field(default_factory=dict)
    saved_channel: ChannelState | None = None
    books_pass: BooksDeletePass | None = None
    listed_pages: dict[int, tuple[datetime, list[str]]] = field(default_factory=dict)
    organization: BooksOrganization | None = None
    organization_reads: int = 0
    channel_reads: int = 0

    def watermark(self, check: str) -> datetime | None:
        return self.watermarks.get(check)

    def advance(self, check: str, to: datetime, *, at: datetime) -> bool:
        if check in self.watermarks and self.watermarks[check] >= to:
            return False
        self.watermarks[check] = to
        return True

    def channel(self) -> ChannelState | None:
        self.channel_reads += 1
        return self.saved_channel

    def save_channel(self, state: ChannelState) -> None:
        self.saved_channel = state

    def books_delete_pass(self) -> BooksDeletePass | None:
        return self.books_pass

    def save_books_delete_pass(self, sweep: BooksDeletePass, *, new: bool = False) -> None:
        kept = self.books_pass
        if (kept is not None) if new else (kept is None or kept.started != sweep.started):
            raise ConcurrentUpdate("another run started or ended the pass")
        self.books_pass = sweep

    def save_listed_page(self, sweep: BooksDeletePass, page: int, contact_ids: Sequence[str]) -> None:
        self.listed_pages[page] = (sweep.started, list(contact_ids))

    def listed_contact_ids(self, sweep: BooksDeletePass) -> set[str]:
        return {i for started, ids in self.listed_pages.values() if started == sweep.started for i in ids}

    def end_books_delete_pass(self, sweep: BooksDeletePass) -> None:
        self.books_pass, self.listed_pages = None, {}

    def record_books_organization(self, organization_id: str, *, at: datetime, by: str) -> BooksOrganization:
        self.organization_reads += 1
        if self.organization is None:
            self.organization = BooksOrganization(organization_id, at, by)
        return self.organization


@dataclass
class World:
    crm: FakeCrm
    books: FakeBooks
    shadow: MemoryShadow
    state: MemoryCheckState
    store: MemoryStore
    queue: MemoryQueue
    audit: MemoryAudit
    clock: Clock
    checks: ZohoChecks


def make_world(
    channel_id: str = "1000000068001", secret: str = SECRET, stall: Any = None, **settings: Any
) -> World:
    crm, books, shadow, state, store, queue, audit, clock = (
        FakeCrm(),
        FakeBooks(),
        MemoryShadow(),
        MemoryCheckState(),
        MemoryStore(),
        MemoryQueue(),
        MemoryAudit(),
        Clock(),
    )
    config = ChecksConfig.from_settings(
        Settings(crm_notification_channel_id=channel_id, crm_notify_url=NOTIFY_URL, **settings)
    )
    checks = ZohoChecks(
        lambda: crm,
        state,
        store,
        queue,
        audit,
        books=lambda: books,
        shadow=shadow,
        token=lambda: secret,
        config=config,
        clock=clock,
        stall=stall,
    )
    return World(crm, books, shadow, state, store, queue, audit, clock, checks)


@pytest.fixture
def world() -> World:
    return make_world()


def account(record_id: str, name: str, *, created: str, modified: str) -> dict[str, Any]:
    return {
        "id": record_id,
        "Account_Name": name,
        "Phone": "+44 20 7946 0000",
        "Billing_Code": "SW1A 1AA",
        "Created_Time": created,
        "Modified_Time": modified,
        "Owner": {"name": "Ann", "id": "1"},
    }


def failure(failure_id: str, record_id: str, at: datetime, module: str = "Accounts") -> WebhookFailure:
    return WebhookFailure(failure_id, module, record_id, at, "sync-guard edit")


def deleted(record_id: str, at: datetime, name: str = "Old Co Ltd") -> DeletedRecord:
    return DeletedRecord(Module.CRM_ACCOUNTS, record_id, name, "recycle", at, "Ann")


# ------------------------------------------------------------------------------ notification channel
def test_the_first_run_registers_the_channel_with_the_secret_and_audits_it(world: World) -> None:
    report = world.checks.run()

    [enabled] = world.crm.enabled
    assert enabled == {
        "channel_id": "1000000068001",
        "events": ["Accounts.all", "Contacts.all"],
        "url": NOTIFY_URL,
        "token": SECRET,
    }
    assert world.state.saved_channel is not None
    assert world.state.saved_channel.expires_at == NOW + timedelta(hours=144)
    [entry] = [e for e in world.audit.entries if e.operation == "renew_notification_channel"]
    assert entry.actor == "scheduler:zoho-checks"
    assert "no renewal recorded yet" in entry.note
    assert SECRET not in entry.note
    assert report.summary()[CHANNEL_CHECK]["status"] == "ok"


def test_a_channel_with_time_left_is_not_renewed_again(world: World) -> None:
    first = world.checks.run()
    world.clock.now = NOW + timedelta(hours=24)

    reads = world.state.channel_reads
    second = world.checks.run()

    assert len(world.crm.enabled) == 1
    assert len([e for e in world.audit.entries if e.operation == "renew_notification_channel"]) == 1
    assert world.state.channel_reads - reads == 1  # the renewal it last recorded, read once
    # each run's note gives the expiry as the other checks' notes give a time, to the minute in UTC
    assert first.summary()[CHANNEL_CHECK]["note"] == "renewed until 2026-03-16 12:00 UTC"
    assert second.summary()[CHANNEL_CHECK]["note"] == "valid until 2026-03-16 12:00 UTC"


def test_a_channel_near_its_expiry_is_renewed_well_before_it(world: World) -> None:
    world.checks.run()
    # 144 h asked, renewed once less than 48 h remain: at 97 h, not at 95 h
    world.clock.now = NOW + timedelta(hours=95)
    world.checks.run()
    assert len(world.crm.enabled) == 1
    world.clock.now = NOW + timedelta(hours=97)

    world.checks.run()

    assert len(world.crm.enabled) == 2
    assert world.state.saved_channel is not None
    assert world.state.saved_channel.expires_at == NOW + timedelta(hours=97 + 144)


def test_a_channel_zoho_no_longer_lists_is_enabled_again(world: World) -> None:
    world.checks.run()
    world.crm.channels = []  # disabled by someone, or purged
    world.clock.now = NOW + timedelta(minutes=15)

    world.checks.run()

    assert len(world.crm.enabled) == 2
    assert "does not list" in world.audit.entries[-1].note


def test_a_rotated_webhook_secret_renews_the_channel_with_the_new_token() -> None:
    world = make_world()
    world.checks.run()
    rotated = make_world(secret="a-new-secret")
    rotated.crm, rotated.state = world.crm, world.state
    rotated.checks._crm = lambda: world.crm  # the same Zoho and state, a new container with the new secret
    rotated.checks._state = world.state

    rotated.checks.run()

    assert [e["token"] for e in world.crm.enabled] == [SECRET, "a-new-secret"]


def test_without_a_channel_id_the_channel_check_is_skipped() -> None:
    world = make_world(channel_id="")

    report = world.checks.run()

    assert world.crm.enabled == []
    assert report.summary()[CHANNEL_CHECK]["status"] == "skipped"
    assert not report.failed


def test_a_secret_too_long_for_a_channel_token_fails_that_check_only() -> None:
    world = make_world(secret="x" * 51)

    report = world.checks.run()

    assert [o.check for o in report.failed] == [CHANNEL_CHECK]
    assert "50 characters" in report.failed[0].note
    assert "x" * 51 not in report.failed[0].note
    assert world.state.watermarks  # the other checks ran and moved on


def test_renewal_margin_must_be_shorter_than_the_channel_lifetime() -> None:
    with pytest.raises(ConfigurationError):
        ChecksConfig.from_settings(
            Settings(crm_notification_channel_hours=24, crm_notification_renew_hours=24)
        )


# ------------------------------------------------------------------------------ webhook failures
def test_a_failed_webhook_is_fed_as_the_event_the_delivered_webhook_makes(world: World) -> None:
    world.crm.records["5725767000003000064"] = account(
        "5725767000003000064",
        "Acme Ltd",
        created="2026-03-10T11:00:00+00:00",
        modified="2026-03-10T11:30:00+00:00",
    )
    world.crm.failures = [failure("9001", "5725767000003000064", NOW - timedelta(minutes=20))]

    report = world.checks.run()

    [event] = world.queue.sent
    delivered = parse_crm_workflow(
        {
            "event": "edit",
            "module": "Accounts",
            "id": "5725767000003000064",
            "name": "Acme Ltd",
            "modified": "2026-03-10T11:30:00+00:00",
            "phone": "+44 20 7946 0000",
            "postcode": "SW1A 1AA",
        },
        received_at=NOW,
    )
    assert event.event_id == delivered.event_id  # a webhook that did arrive is recognised as a repeat
    assert event.channel is Channel.RECONCILE
    assert event.operation is Operation.UPDATE
    assert event.record is not None
    assert event.record.name == "Acme Ltd"
    assert world.store.items[event.event_id].route == "schedule:crm-webhook-failures"
    assert world.store.statuses[event.event_id] is EventStatus.QUEUED
    assert report.summary()[FAILURES_CHECK]["new_events"] == 1
    assert [e.operation for e in world.audit.entries if e.operation != "renew_notification_channel"] == [
        "replay_crm_webhook_failures"
    ]
    assert world.state.watermarks[FAILURES_CHECK] == NOW


def test_a_record_unchanged_since_creation_is_replayed_as_a_create(world: World) -> None:
    world.crm.records["1"] = account(
        "1", "New Co", created="2026-03-10T11:00:00+00:00", modified="2026-03-10T11:00:00+00:00"
    )
    world.crm.failures = [failure("9001", "1", NOW - timedelta(minutes=5))]

    world.checks.run()

    assert [e.operation for e in world.queue.sent] == [Operation.CREATE]


def test_failures_are_read_from_the_watermark_and_repeats_are_recognised(world: World) -> None:
    world.crm.records["1"] = account(
        "1", "Acme Ltd", created="2026-03-01T00:00:00+00:00", modified="2026-03-09T00:00:00+00:00"
    )
    world.crm.failures = [
        failure("old", "2", NOW - timedelta(days=3)),  # before the first run's look-back: not fetched
        failure("9001", "1", NOW - timedelta(minutes=20)),
        failure("9002", "1", NOW - timedelta(minutes=10)),  # the same record: one fetch
    ]
    world.checks.run()
    assert world.crm.fetched == ["1"]

    # the next run, 15 minutes on, sees the last failure again within the overlap: stored once only
    world.clock.now = NOW + timedelta(minutes=15)
    world.crm.failures.append(failure("9003", "1", NOW + timedelta(minutes=1)))
    report = world.checks.run()

    assert len(world.queue.sent) == 1
    assert report.summary()[FAILURES_CHECK]["repeats"] == 1
    assert report.summary()[FAILURES_CHECK]["new_events"] == 0


def test_failures_of_other_modules_and_of_records_gone_are_passed_over(world: World) -> None:
    world.crm.failures = [
        failure("1", "77", NOW - timedelta(minutes=5), module="Deals"),
        failure("2", "404", NOW - timedelta(minutes=5)),  # deleted since: the deleted check feeds it
    ]

    report = world.checks.run()

    assert world.queue.sent == []
    assert report.summary()[FAILURES_CHECK]["skipped"] == 2
    assert world.crm.fetched == ["404"]


# ------------------------------------------------------------------------------ deleted records
def test_deleted_records_are_fed_as_delete_events_oldest_first(world: World) -> None:
    world.crm.deleted[Module.CRM_ACCOUNTS] = [
        deleted("5725767000003000010", NOW - timedelta(minutes=5), "Newer Ltd"),
        deleted("5725767000003000011", NOW - timedelta(hours=2), "Older Ltd"),
    ]

    world.checks.run()

    assert [(e.record_id, e.operation) for e in world.queue.sent] == [
        ("5725767000003000011", Operation.DELETE),
        ("5725767000003000010", Operation.DELETE),
    ]
    assert world.queue.sent[0].modified_at == NOW - timedelta(hours=2)
    assert world.queue.sent[0].channel is Channel.RECONCILE
    assert world.state.watermarks[deleted_check(Module.CRM_ACCOUNTS)] == NOW
    assert world.state.watermarks[deleted_check(Module.CRM_CONTACTS)] == NOW


def test_deleted_records_are_asked_for_since_the_watermark_less_the_overlap(world: World) -> None:
    world.checks.run()
    world.clock.now = NOW + timedelta(minutes=15)

    world.checks.run()

    # the first run looks back a day; the second from the first run's start, less five minutes
    assert world.crm.deleted_since[0] == NOW - timedelta(hours=24, minutes=5)
    assert world.crm.deleted_since[2] == NOW - timedelta(minutes=5)


def test_a_delete_seen_twice_is_stored_once(world: World) -> None:
    world.crm.deleted[Module.CRM_ACCOUNTS] = [deleted("10", NOW - timedelta(minutes=1))]
    world.checks.run()
    world.clock.now = NOW + timedelta(minutes=2)

    world.checks.run()

    assert len(world.queue.sent) == 1
    assert len(world.store.items) == 1


# ------------------------------------------------------------------------------ faults
def test_a_zoho_fault_fails_its_check_keeps_its_watermark_and_the_run_raises(world: World) -> None:
    world.checks.run()
    first = dict(world.state.watermarks)
    world.clock.now = NOW + timedelta(minutes=15)
    world.crm.failing = {"failures"}

    report = world.checks.run()

    assert [o.check for o in report.failed] == [FAILURES_CHECK]
    assert "ZohoServerError" in report.failed[0].note
    assert world.state.watermarks[FAILURES_CHECK] == first[FAILURES_CHECK]
    assert world.state.watermarks[deleted_check(Module.CRM_ACCOUNTS)] == NOW + timedelta(minutes=15)
    with pytest.raises(ZohoChecksFailed, match="webhook_failures"):
        report.raise_for_failures()


def test_a_store_failure_mid_run_leaves_the_watermark_for_a_retry_from_the_same_point(world: World) -> None:
    world.crm.deleted[Module.CRM_ACCOUNTS] = [deleted("10", NOW - timedelta(minutes=1))]
    world.store.fail_puts = True

    report = world.checks.run()

    assert deleted_check(Module.CRM_ACCOUNTS) in [o.check for o in report.failed]
    assert deleted_check(Module.CRM_ACCOUNTS) not in world.state.watermarks

    world.store.fail_puts = False
    world.clock.now = NOW + timedelta(minutes=15)
    world.checks.run()
    assert [e.record_id for e in world.queue.sent] == ["10"]


def test_an_event_the_queue_refuses_stays_received_for_the_sweep_and_the_run_moves_on(world: World) -> None:
    world.crm.deleted[Module.CRM_ACCOUNTS] = [deleted("10", NOW - timedelta(minutes=1))]
    world.queue.failing = True

    report = world.checks.run()

    [stored_id] = world.store.items
    assert world.store.statuses[stored_id] is EventStatus.RECEIVED
    assert report.summary()[deleted_check(Module.CRM_ACCOUNTS)]["unqueued"] == 1
    assert not report.failed


def test_a_run_short_of_time_stops_between_records_and_resumes_after_the_last_fed() -> None:
    world = make_world()
    world.crm.deleted[Module.CRM_ACCOUNTS] = [
        deleted(str(n), NOW - timedelta(minutes=50 - n)) for n in range(5)
    ]
    budget = iter([100.0, 100.0, 100.0, 1.0] + [100.0] * 50)

    world.checks.run(remaining_seconds=lambda: next(budget))

    fed = [e.record_id for e in world.queue.sent]
    check = deleted_check(Module.CRM_ACCOUNTS)
    assert len(fed) < 5
    assert world.state.watermarks[check] == NOW - timedelta(minutes=50 - int(fed[-1]))


# ------------------------------------------------------------------------------ Books customers modified
def books_contact(
    contact_id: str, name: str, *, created: datetime, modified: datetime, contact_type: str = "customer"
) -> dict[str, Any]:
    def books_time(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S%z")

    return {
        "contact_id": contact_id,
        "contact_name": name,
        "company_name": name,
        "contact_type": contact_type,
        "customer_sub_type": "business",
        "status": "active",
        "email": "",
        "contact_persons": [],
        "created_time": books_time(created),
        "last_modified_time": books_time(modified),
    }


def add_books_contact(world: World, contact_id: str, name: str, **times: Any) -> dict[str, Any]:
    contact = books_contact(contact_id, name, **times)
    world.books.contacts[contact_id] = contact
    return contact


def books_outcome(report: Any) -> dict[str, Any]:
    outcome: dict[str, Any] = report.summary()[BOOKS_MODIFIED_CHECK]
    return outcome


def test_a_books_create_whose_webhook_never_came_is_fed_as_that_webhook_would_have_been(world: World) -> None:
    # given a customer created in Books ten minutes ago, unknown to the shadow
    at = NOW - timedelta(minutes=10)
    contact = add_books_contact(world, "460000000026049", "Acme Trading Ltd", created=at, modified=at)

    report = world.checks.run()

    # then it is on the queue as the event Books' Default Payload makes, inferred a create
    [event] = world.queue.sent
    delivered = parse_books_webhook({"contact": contact}, received_at=NOW)
    assert event.event_id == delivered.event_id
    assert (event.record_id, event.operation, event.channel) == (
        "460000000026049",
        Operation.CREATE,
        Channel.RECONCILE,
    )
    assert event.record is not None
    assert event.record.name == "Acme Trading Ltd"
    assert world.store.items[event.event_id].route == "schedule:books-modified"
    assert books_outcome(report)["new_events"] == 1
    [entry] = [e for e in world.audit.entries if e.operation == "feed_books_modified_customers"]
    assert entry.actor == "scheduler:zoho-checks"
    assert world.state.watermarks[BOOKS_MODIFIED_CHECK] == NOW


def test_an_edit_is_fed_as_an_update(world: World) -> None:
    add_books_contact(
        world, "1", "Acme Ltd", created=NOW - timedelta(days=30), modified=NOW - timedelta(minutes=3)
    )

    world.checks.run()

    assert [e.operation for e in world.queue.sent] == [Operation.UPDATE]


def test_a_contact_the_shadow_holds_at_that_version_is_not_fetched_again(world: World) -> None:
    # given one customer the shadow knows as it is, and one whose latest edit the shadow missed
    known = add_books_contact(
        world, "1", "Known Ltd", created=NOW - timedelta(days=9), modified=NOW - timedelta(hours=1)
    )
    world.shadow.hold(known)
    stale = add_books_contact(
        world, "2", "Stale Ltd", created=NOW - timedelta(days=9), modified=NOW - timedelta(days=1)
    )
    world.shadow.hold(stale)
    stale["last_modified_time"] = (NOW - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S%z")

    report = world.checks.run()

    assert world.books.fetched == ["2"]
    assert [e.record_id for e in world.queue.sent] == ["2"]
    assert books_outcome(report)["repeats"] == 1
    assert books_outcome(report)["found"] == 2


def test_vendors_and_contacts_gone_since_the_listing_are_skipped(world: World) -> None:
    at = NOW - timedelta(minutes=5)
    world.books.contacts["9"] = books_contact(
        "9", "Paper Supplies Ltd", created=at, modified=at, contact_type="vendor"
    )
    add_books_contact(world, "7", "Gone Ltd", created=at, modified=at)

    class GoneOnFetch(FakeBooks):
        def get_contact_data(self, contact_id: str) -> dict[str, Any] | None:
            self.fetched.append(contact_id)
            return None  # deleted between the listing and the fetch

    books = GoneOnFetch(contacts=world.books.contacts)
    world.checks._books = lambda: books

    report = world.checks.run()

    assert world.queue.sent == []
    assert books.fetched == ["7"]  # the vendor is never fetched
    assert books_outcome(report)["skipped"] == 2
    assert not [e for e in world.audit.entries if e.operation == "feed_books_modified_customers"]
    assert world.state.watermarks[BOOKS_MODIFIED_CHECK] == NOW


def test_a_customer_turned_vendor_whose_webhook_was_missed_is_fed_to_be_retired(world: World) -> None:
    # given a customer the shadow holds as it was yesterday, edited into a vendor since (webhook missed),
    # and a vendor the shadow never held
    customer = add_books_contact(
        world, "5", "Paper Supplies Ltd", created=NOW - timedelta(days=9), modified=NOW - timedelta(days=1)
    )
    world.shadow.hold(customer)
    customer["contact_type"] = "vendor"
    customer["last_modified_time"] = (NOW - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S%z")
    at = NOW - timedelta(minutes=5)
    world.books.contacts["9"] = books_contact("9", "Ink Ltd", created=at, modified=at, contact_type="vendor")

    report = world.checks.run()

    # then the one the shadow holds as a customer is fed as the vendor it now is, the other passed over
    [event] = world.queue.sent
    assert event.record is not None
    assert (event.record_id, event.record.module) == ("5", Module.BOOKS_VENDORS)
    assert world.books.fetched == ["5"]
    assert (books_outcome(report)["found"], books_outcome(report)["skipped"]) == (2, 1)


def test_customers_are_fed_oldest_first_and_read_from_the_watermark_less_the_overlap(world: World) -> None:
    for n, minutes in enumerate((6, 50, 20)):
        at = NOW - timedelta(minutes=minutes)
        add_books_contact(world, str(n), f"Customer {n} Ltd", created=at, modified=at)
    world.checks.run()
    world.clock.now = NOW + timedelta(minutes=15)

    report = world.checks.run()

    assert [e.record_id for e in world.queue.sent] == ["1", "2", "0"]
    assert world.books.listed_since == [NOW - timedelta(hours=24, minutes=5), NOW - timedelta(minutes=5)]
    # the second run lists none of them: all older than the first run's start less the overlap
    assert books_outcome(report)["found"] == 0
    assert world.state.watermarks[BOOKS_MODIFIED_CHECK] == NOW + timedelta(minutes=15)


def test_a_contact_listed_again_within_the_overlap_is_stored_once(world: World) -> None:
    at = NOW - timedelta(minutes=1)
    add_books_contact(world, "1", "Acme Ltd", created=at, modified=at)
    world.checks.run()
    world.clock.now = NOW + timedelta(minutes=2)

    report = world.checks.run()

    assert len(world.queue.sent) == 1
    assert books_outcome(report)["repeats"] == 1


def test_a_books_sweep_short_of_time_stops_between_customers_and_resumes_after_the_last_fed() -> None:
    world = make_world(channel_id="")
    for n in range(5):
        at = NOW - timedelta(minutes=50 - n)
        add_books_contact(world, str(n), f"Customer {n} Ltd", created=at, modified=at)
    # Only the Books check has records to feed: time runs short after the third customer.
    budget = iter([100.0, 100.0, 100.0, 1.0] + [100.0] * 50)

    report = world.checks.run(remaining_seconds=lambda: next(budget))

    assert [e.record_id for e in world.queue.sent] == ["0", "1", "2"]
    assert books_outcome(report)["status"] == "incomplete"
    assert world.state.watermarks[BOOKS_MODIFIED_CHECK] == NOW - timedelta(minutes=48)


def test_books_failing_fails_that_check_and_keeps_its_watermark(world: World) -> None:
    world.checks.run()
    world.clock.now = NOW + timedelta(minutes=15)
    world.books.failing = True

    report = world.checks.run()

    assert [o.check for o in report.failed] == [BOOKS_MODIFIED_CHECK]
    assert world.state.watermarks[BOOKS_MODIFIED_CHECK] == NOW
    assert world.state.watermarks[FAILURES_CHECK] == NOW + timedelta(minutes=15)


def test_a_contact_listed_twice_in_one_run_is_fetched_once(world: World) -> None:
    at = NOW - timedelta(minutes=4)
    add_books_contact(world, "1", "Acme Ltd", created=at, modified=at)
    listing = world.books.iter_contacts_modified_since

    def shifted_pages(since: datetime) -> Iterator[PartyRecord]:
        # an edit elsewhere between two page reads shifts the list: the same contact ends both pages
        records = list(listing(since))
        yield from records + records

    world.books.iter_contacts_modified_since = shifted_pages  # type: ignore[method-assign]

    report = world.checks.run()

    assert world.books.fetched == ["1"]
    assert books_outcome(report)["found"] == 1
    assert books_outcome(report)["new_events"] == 1


# ------------------------------------------------------------------------------ Books customers deleted
def known_customers(world: World, *contact_ids: str, in_books: bool = True) -> None:
    """Customers the shadow holds as live, and (``in_books``) that Books still has."""
    at = NOW - timedelta(days=30)
    for contact_id in contact_ids:
        contact = books_contact(contact_id, f"Customer {contact_id} Ltd", created=at, modified=at)
        world.shadow.hold(contact)
        if in_books:
            world.books.contacts[contact_id] = contact


def sweep(world: World) -> CheckOutcome:
    return world.checks.feed_missed_books_deletes()


def test_a_books_customer_deleted_without_a_webhook_is_fed_as_its_delete_once_books_confirms_it(
    world: World,
) -> None:
    # given two live customers in the shadow, one of them deleted in Books without a webhook
    known_customers(world, "4600001", "4600002")
    known_customers(world, "4600003", in_books=False)

    outcome = sweep(world)

    # then Books is asked about the missing one only, and its delete is fed as the id-only webhook's
    assert world.books.asked == ["4600003"]
    [event] = world.queue.sent
    assert (event.record_id, event.operation, event.channel) == (
        "4600003",
        Operation.DELETE,
        Channel.RECONCILE,
    )
    expected = parse_books_webhook({"event": "delete", "contact": {"contact_id": "4600003"}}, received_at=NOW)
    assert event.event_id == expected.event_id  # a delete webhook that did arrive is the same event
    assert world.store.items[event.event_id].route == "schedule:books-deleted"
    assert (outcome.status, outcome.found, outcome.new_events) == (CheckStatus.OK, 1, 1)
    [entry] = [e for e in world.audit.entries if e.operation == "feed_books_deleted_customers"]
    assert "1 new events" in entry.note
    # the pass is over: its start is the watermark, its pages are forgotten
    assert world.state.watermarks[BOOKS_DELETED_CHECK] == NOW
    assert (world.state.books_pass, world.state.listed_pages) == (None, {})


def test_a_complete_pass_says_in_the_checks_table_what_its_audit_entry_says(world: World) -> None:
    # given a customer deleted in Books without a webhook
    known_customers(world, "4600001")
    known_customers(world, "4600002", in_books=False)

    outcome = sweep(world)
    shown = world.checks.run().summary()[BOOKS_DELETED_CHECK]  # the next run: not due yet

    # then the note `sync-guard checks` shows is the audit entry's, and says the pass is over
    [entry] = [e for e in world.audit.entries if e.operation == "feed_books_deleted_customers"]
    assert entry.note.startswith("1 new events from Books customers deleted")
    assert (outcome.status, outcome.note) == (
        CheckStatus.OK,
        f"{entry.note}; pass complete; the next from 2026-03-10 15:00 UTC",
    )
    assert shown["note"] == "next pass from 2026-03-10 15:00 UTC"


def test_a_complete_pass_that_fed_nothing_says_it_is_complete(world: World) -> None:
    known_customers(world, "4600001", "4600002")

    outcome = sweep(world)

    assert (outcome.status, outcome.new_events) == (CheckStatus.OK, 0)
    assert outcome.note == "pass complete; the next from 2026-03-10 15:00 UTC"


def test_a_paused_pass_says_what_it_fed_so_far_and_where_it_paused() -> None:
    world = make_world(books_deleted_max_calls=2)
    known_customers(world, "4600001")
    known_customers(world, "4600002", "4600003", in_books=False)

    outcome = sweep(world)  # one page, one confirmation: the second one waits for the next run

    [entry] = [e for e in world.audit.entries if e.operation == "feed_books_deleted_customers"]
    assert outcome.status is CheckStatus.INCOMPLETE
    assert outcome.note == f"{entry.note}; paused after contact 4600002; the next run goes on from there"


def test_a_crm_check_that_fed_events_says_so_in_its_note(world: World) -> None:
    world.crm.deleted[Module.CRM_ACCOUNTS] = [deleted("5725767000003000010", NOW, "Gone Ltd")]

    shown = world.checks.run().summary()[deleted_check(Module.CRM_ACCOUNTS)]

    [entry] = [e for e in world.audit.entries if e.operation == "feed_crm_deleted_records"]
    assert shown["note"] == entry.note
    assert shown["note"].startswith("1 new events from Accounts deleted in CRM")


def test_a_customer_only_missing_from_the_listing_is_not_deleted(world: World) -> None:
    # given a customer Books still has, left out of the listing (a page shifted while it was read)
    known_customers(world, "4600001", "4600002")
    world.books.unlisted = {"4600002"}

    outcome = sweep(world)

    assert world.books.asked == ["4600002"]
    assert world.queue.sent == []
    assert (outcome.status, outcome.found, outcome.new_events, outcome.skipped) == (CheckStatus.OK, 1, 0, 1)


def test_a_listing_failing_half_way_feeds_nothing_and_the_next_run_goes_on_from_that_page(
    world: World,
) -> None:
    # given three customers listed one to a page, and one deleted without a webhook
    world.books.per_page = 1
    known_customers(world, "4600001", "4600002", "4600003")
    known_customers(world, "4600004", in_books=False)
    world.books.failing_pages = {2}

    # when the second page fails after Zoho's retries
    report = world.checks.run()

    # then nothing is fed, nobody is asked about, and the check fails (the run raises, the alarm fires)
    assert report.summary()[BOOKS_DELETED_CHECK]["status"] == "failed"
    assert world.queue.sent == []
    assert world.books.asked == []
    assert BOOKS_DELETED_CHECK not in world.state.watermarks
    with pytest.raises(ZohoChecksFailed, match=BOOKS_DELETED_CHECK):
        report.raise_for_failures()

    # when Books answers again, the next run reads from the failed page on and feeds the delete
    world.books.failing_pages = set()
    outcome = sweep(world)
    assert world.books.pages_read == [1, 2, 2, 3]
    assert [e.record_id for e in world.queue.sent] == ["4600004"]
    assert outcome.status is CheckStatus.OK


def test_books_failing_to_confirm_a_delete_feeds_nothing_for_it_until_it_answers(world: World) -> None:
    known_customers(world, "4600001")
    known_customers(world, "4600002", "4600003", in_books=False)
    world.books.failing_asks = {"4600003"}

    report = world.checks.run()

    # the confirmed one is fed; the one Books could not be asked about is not, and the check fails
    assert [e.record_id for e in world.queue.sent] == ["4600002"]
    assert report.summary()[BOOKS_DELETED_CHECK]["status"] == "failed"
    assert world.state.books_pass is not None
    assert world.state.books_pass.confirmed_through == "4600002"

    # the next run asks again about that one only, without listing again
    world.books.failing_asks = set()
    pages = len(world.books.pages_read)
    sweep(world)
    assert world.books.asked == ["4600002", "4600003", "4600003"]
    assert len(world.books.pages_read) == pages
    assert [e.record_id for e in world.queue.sent] == ["4600002", "4600003"]


def test_a_customer_books_always_refuses_to_answer_about_does_not_hold_the_pass_forever(
    world: World,
) -> None:
    # given two customers missing from Books, the first of which Books refuses every question about
    known_customers(world, "4600001")
    known_customers(world, "4600002", "4600003", in_books=False)
    world.books.refused_asks = {"4600002"}

    report = world.checks.run()

    # then the refused one is neither deleted nor in the way: the one after it is fed, the pass ends and
    # the check fails naming the refused customer, so the alarm fires
    assert [e.record_id for e in world.queue.sent] == ["4600003"]
    outcome = report.summary()[BOOKS_DELETED_CHECK]
    assert outcome["status"] == "failed"
    assert "4600002" in outcome["note"]
    assert (world.state.books_pass, world.state.listed_pages) == (None, {})
    assert world.state.watermarks[BOOKS_DELETED_CHECK] == NOW

    # and the next pass asks about it again
    world.books.refused_asks = set()
    world.clock.now = NOW + timedelta(hours=3)
    asked = len(world.books.asked)
    sweep(world)
    assert "4600002" in world.books.asked[asked:]
    assert [e.record_id for e in world.queue.sent] == ["4600003", "4600002"]


def test_a_refusal_in_an_earlier_run_of_the_pass_still_fails_the_check_when_the_pass_ends() -> None:
    # given a pass that takes two runs (two Books calls each), Books refusing to answer about the first
    # missing customer, which the first run asks about
    world = make_world(books_deleted_max_calls=2)
    known_customers(world, "4600001")
    known_customers(world, "4600004", "4600005", "4600006", in_books=False)
    world.books.refused_asks = {"4600004"}

    first, second = sweep(world), sweep(world)

    # then the run that ends the pass fails naming the customer refused in the run before it
    assert first.status is CheckStatus.INCOMPLETE
    assert [e.record_id for e in world.queue.sent] == ["4600005", "4600006"]
    assert second.status is CheckStatus.FAILED
    assert "4600004" in second.note


def test_a_run_whose_pass_another_run_ended_meanwhile_stops_without_reviving_it() -> None:
    world = make_world(books_deleted_max_calls=1)
    world.books.per_page = 1
    known_customers(world, "4600001", "4600002")
    assert sweep(world).status is CheckStatus.INCOMPLETE  # page 1 of 2
    kept = world.state.books_pass
    assert kept is not None

    # when another run ends the pass while this one reads page 2 (its pages are then gone)
    listing = world.books.list_contacts

    def listing_while_another_run_ends_the_pass(**query: Any) -> Page[PartyRecord]:
        world.state.end_books_delete_pass(kept)
        return listing(**query)

    world.books.list_contacts = listing_while_another_run_ends_the_pass  # type: ignore[method-assign]
    outcome = sweep(world)

    # then this run leaves the pass to the other one: none is kept, nobody is asked about, nothing fails
    assert outcome.status is CheckStatus.SKIPPED
    assert "another run" in outcome.note
    assert world.state.books_pass is None
    assert world.books.asked == []


def test_a_run_spends_at_most_the_calls_allowed_and_the_pass_goes_on_next_run() -> None:
    world = make_world(books_deleted_max_calls=2)
    world.books.per_page = 1
    known_customers(world, "4600001", "4600002", "4600003")
    known_customers(world, "4600004", "4600005", in_books=False)

    def calls() -> int:
        return len(world.books.pages_read) + len(world.books.asked)

    spent = []
    outcomes = []
    for _ in range(3):
        before = calls()
        outcomes.append(sweep(world))
        spent.append(calls() - before)

    # two pages, then the last page and one confirmation, then the other confirmation
    assert spent == [2, 2, 1]
    assert [o.status for o in outcomes] == [CheckStatus.INCOMPLETE, CheckStatus.INCOMPLETE, CheckStatus.OK]
    assert "before page 3" in outcomes[0].note
    assert "after contact 4600004" in outcomes[1].note
    assert [e.record_id for e in world.queue.sent] == ["4600004", "4600005"]
    assert world.state.watermarks[BOOKS_DELETED_CHECK] == NOW


def test_a_run_short_of_time_does_not_start_listing_and_the_next_one_does() -> None:
    world = make_world()
    known_customers(world, "4600001", in_books=False)

    report = world.checks.run(remaining_seconds=lambda: 5.0)

    assert report.summary()[BOOKS_DELETED_CHECK]["status"] == "incomplete"
    assert world.books.pages_read == []
    assert world.queue.sent == []
    world.checks.run(remaining_seconds=lambda: 300.0)
    assert [e.record_id for e in world.queue.sent] == ["4600001"]


def test_a_second_pass_feeds_nothing_new_and_passes_wait_their_interval(world: World) -> None:
    known_customers(world, "4600001")
    known_customers(world, "4600002", in_books=False)
    sweep(world)
    asked = list(world.books.asked)

    # a run before the interval is over does not start a pass
    world.clock.now = NOW + timedelta(minutes=179)
    assert sweep(world).status is CheckStatus.SKIPPED
    assert world.books.asked == asked

    # the next pass, the processor not having got to the delete yet: the same event, recognised
    world.clock.now = NOW + timedelta(minutes=180)
    again = sweep(world)
    assert (again.new_events, again.repeats) == (0, 1)
    assert len(world.queue.sent) == 1

    # once the shadow holds it deleted, a pass has nothing to ask about
    state = world.shadow.states["books:4600002"]
    world.shadow.states["books:4600002"] = state.model_copy(update={"deleted": True})
    world.clock.now = NOW + timedelta(minutes=360)
    last = sweep(world)
    assert (last.found, last.new_events) == (0, 0)
    assert world.books.asked == ["4600002", "4600002"]


def test_a_sweep_every_zero_minutes_is_off() -> None:
    world = make_world(books_deleted_every_minutes=0)
    known_customers(world, "4600001", in_books=False)

    outcome = sweep(world)

    assert (outcome.status, outcome.note) == (CheckStatus.SKIPPED, "off")
    assert world.books.pages_read == []


def test_a_pass_missing_a_fifth_of_the_customers_feeds_nothing_and_says_to_check_the_organisation(
    world: World,
) -> None:
    # given 100 live customers in the shadow, of which Books lists 70: another organisation, or a listing
    # cut short, not 30 deletes whose webhooks were all lost
    known_customers(world, *(f"46{n:05d}" for n in range(70)))
    known_customers(world, *(f"46{n:05d}" for n in range(70, 100)), in_books=False)

    outcome = sweep(world)

    # then nothing is asked or fed, the check fails (the run alarms) saying what to check, and it is audited
    assert world.books.asked == []
    assert world.queue.sent == []
    assert (outcome.status, outcome.found) == (CheckStatus.FAILED, 30)
    assert "30 of the 100 Books customers" in outcome.note
    assert "ZohoBooksOrganizationId" in outcome.note
    [entry] = [e for e in world.audit.entries if e.operation == "feed_books_deleted_customers"]
    assert entry.note == outcome.note
    # and the next pass waits its interval, so the listing is not read again every run
    assert (world.state.books_pass, world.state.listed_pages) == (None, {})
    assert world.state.watermarks[BOOKS_DELETED_CHECK] == NOW
    assert sweep(world).note == "next pass from 2026-03-10 15:00 UTC"


def test_a_few_deletes_at_once_are_under_the_breaker_and_are_fed() -> None:
    world = make_world(books_deleted_max_calls=100)
    # 20 missing of 60: over a fifth, but under the floor of 25 a small organisation needs
    known_customers(world, *(f"46{n:05d}" for n in range(40)))
    known_customers(world, *(f"46{n:05d}" for n in range(40, 60)), in_books=False)

    outcome = sweep(world)

    assert (outcome.status, outcome.new_events) == (CheckStatus.OK, 20)


# ------------------------------------------------------------------------------ the Books organisation
SEEDED_ORG, OTHER_ORG = "20081234567", "20099999999"


def seeded_from(world: World, organization_id: str = SEEDED_ORG) -> None:
    """The shadow recorded as holding the Books customers of ``organization_id`` (a seed did it)."""
    world.state.organization = BooksOrganization(organization_id, NOW - timedelta(days=90), "seed:alice")


def test_the_first_run_records_the_configured_books_organisation_and_later_runs_keep_it() -> None:
    world = make_world(zoho_books_organization_id=SEEDED_ORG)

    world.checks.run()

    assert world.state.organization == BooksOrganization(SEEDED_ORG, NOW, "scheduler:zoho-checks")
    world.clock.now = NOW + timedelta(minutes=15)
    world.checks.run()
    assert world.state.organization.recorded_at == NOW


def test_a_pass_under_another_books_organisation_feeds_nothing_names_both_ids_and_is_audited() -> None:
    # given a small shadow (under the breaker's floor) seeded from one organisation, and the guard now
    # configured for another one, where none of its customers exist
    world = make_world(zoho_books_organization_id=OTHER_ORG)
    seeded_from(world)
    known_customers(world, "4600001", "4600002", "4600003", in_books=False)

    outcome = sweep(world)

    # then Books is neither listed nor asked, nothing is fed, the check fails naming both ids and the fix
    assert (world.books.pages_read, world.books.asked, world.queue.sent) == ([], [], [])
    assert outcome.status is CheckStatus.FAILED
    assert f"ZohoBooksOrganizationId is {OTHER_ORG}" in outcome.note
    assert f"Books customers of organisation {SEEDED_ORG}" in outcome.note
    assert "Another Books organisation" in outcome.note
    [entry] = [e for e in world.audit.entries if e.operation == "feed_books_deleted_customers"]
    assert (entry.note, entry.actor) == (outcome.note, "scheduler:zoho-checks")
    # and the pass ends: the next one, an interval later, compares again
    assert (world.state.books_pass, world.state.watermarks[BOOKS_DELETED_CHECK]) == (None, NOW)
    assert "next pass from" in sweep(world).note


def test_a_pass_under_the_recorded_organisation_goes_on_as_before() -> None:
    world = make_world(zoho_books_organization_id=SEEDED_ORG)
    seeded_from(world)
    known_customers(world, "4600001")
    known_customers(world, "4600002", in_books=False)

    outcome = sweep(world)

    assert (outcome.status, outcome.new_events) == (CheckStatus.OK, 1)


def test_a_pass_begun_before_the_organisation_changed_is_ended_with_its_pages() -> None:
    world = make_world(zoho_books_organization_id=OTHER_ORG)
    seeded_from(world)
    world.state.books_pass = BooksDeletePass(started=NOW - timedelta(minutes=15), next_page=2)
    world.state.listed_pages[1] = (NOW - timedelta(minutes=15), ["4600001"])

    outcome = sweep(world)

    assert outcome.status is CheckStatus.FAILED
    assert (world.state.books_pass, world.state.listed_pages, world.books.pages_read) == (None, {}, [])


def test_books_customers_modified_in_another_organisation_are_not_read_or_fed() -> None:
    world = make_world(zoho_books_organization_id=OTHER_ORG)
    seeded_from(world)
    at = NOW - timedelta(minutes=10)
    add_books_contact(world, "460000000026049", "Acme Trading Ltd", created=at, modified=at)

    report = world.checks.run()

    # then the other organisation's customers are not fed as creates (they would be matched, flagged
    # and, in enforce mode, held), and the watermark stays for when the parameter is put back
    assert (world.books.listed_since, world.queue.sent) == ([], [])
    outcome = books_outcome(report)
    assert outcome["status"] == "failed"
    assert SEEDED_ORG in outcome["note"]
    assert OTHER_ORG in outcome["note"]
    assert BOOKS_MODIFIED_CHECK not in world.state.watermarks
    with pytest.raises(ZohoChecksFailed, match=SEEDED_ORG):
        report.raise_for_failures()


def test_the_stall_check_reads_no_partner_in_another_organisation() -> None:
    # given linked CRM edits whose Books partners the stall check would read
    stall = StallWorld()
    for n in range(3):
        stall.linked(n, edited=timedelta(hours=4), books_changed=timedelta(days=20))
    world = make_world(zoho_books_organization_id=OTHER_ORG, stall=stall.check())
    seeded_from(world)

    report = world.checks.run()

    outcome = report.summary()[STALL_CHECK]
    assert outcome["status"] == "failed"
    assert OTHER_ORG in outcome["note"]
    assert stall.books.reads == []


def test_a_run_reads_the_recorded_organisation_once_for_every_check_that_reads_books() -> None:
    # given the three checks that read Books (modified and deleted customers, the stall) all due
    world = make_world(zoho_books_organization_id=SEEDED_ORG, stall=StallWorld().check())
    seeded_from(world)

    world.checks.run()

    # then one read answers all three, and the next run reads again (an adoption meanwhile is seen)
    assert world.state.organization_reads == 1
    world.state.organization = BooksOrganization(OTHER_ORG, NOW, "admin")
    world.clock.now = NOW + timedelta(hours=3)
    report = world.checks.run()
    assert world.state.organization_reads == 2
    assert report.summary()[BOOKS_MODIFIED_CHECK]["status"] == "failed"


def test_the_checks_that_read_crm_only_run_under_another_books_organisation() -> None:
    world = make_world(zoho_books_organization_id=OTHER_ORG)
    seeded_from(world)

    report = world.checks.run()

    statuses = {check: values["status"] for check, values in report.summary().items()}
    assert statuses[CHANNEL_CHECK] == statuses[FAILURES_CHECK] == "ok"
    assert statuses[BOOKS_MODIFIED_CHECK] == statuses[BOOKS_DELETED_CHECK] == "failed"
