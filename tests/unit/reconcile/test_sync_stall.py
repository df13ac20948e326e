"""The sync-stall check, with fakes for CRM, Books, the shadow, the check state, the audit and finance."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_guard.config import Mode
from sync_guard.guard.model import PairSource, RecordState, epoch_ms
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.notify import InMemoryNotifier, NotificationFailed
from sync_guard.notify.examples import EXAMPLE_LINKS
from sync_guard.reconcile.checks import ChecksReport, watch_for_stall
from sync_guard.reconcile.stall import (
    EXAMPLES,
    STALL_CHECK,
    Edit,
    FollowUp,
    StallConfig,
    StallEpisode,
    StallVerdict,
    SyncStallCheck,
    carried_differences,
    stalled_evidence,
)
from sync_guard.timefmt import utc_minute
from sync_guard.zoho.errors import ZohoListingIncomplete
from tests.support.fakes import DownNotifier, MemoryAudit

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CONFIG = StallConfig(
    mode=Mode.ENFORCE, grace=timedelta(hours=3), lookback=timedelta(hours=24), min_unfollowed=3, sample=20
)


def zoho_time(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass
class FakeCrm:
    accounts: list[dict[str, Any]] = field(default_factory=list)
    listed_since: list[datetime] = field(default_factory=list)
    listed_fields: list[tuple[str, ...]] = field(default_factory=list)

    def iter_recently_modified(
        self, module: Module | str, *, since: datetime, fields: Sequence[str]
    ) -> Iterator[dict[str, Any]]:
        self.listed_since.append(since)
        self.listed_fields.append(tuple(fields))
        if Module(module) is not Module.CRM_ACCOUNTS:
            return
        newest_first = sorted(self.accounts, key=lambda a: a["Modified_Time"], reverse=True)
        yield from (a for a in newest_first if datetime.fromisoformat(a["Modified_Time"]) >= since)


@dataclass
class FakeBooks:
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def get_contact_data(self, contact_id: str) -> dict[str, Any] | None:
        self.reads.append(contact_id)
        return self.contacts.get(contact_id)


@dataclass
class MemoryPairs:
    states: dict[str, RecordState] = field(default_factory=dict)

    def get_state(self, ref: str) -> RecordState | None:
        return self.states.get(ref)


@dataclass
class MemoryStallState:
    episode: StallEpisode | None = None
    looked: datetime | None = None

    def watermark(self, check: str) -> datetime | None:
        return self.looked

    def advance(self, check: str, to: datetime, *, at: datetime) -> bool:
        self.looked = to
        return True

    def stall_episode(self) -> StallEpisode | None:
        return self.episode

    def open_stall(self, episode: StallEpisode) -> bool:
        if self.episode is not None:
            return False
        self.episode = episode
        return True

    def close_stall(self, episode: StallEpisode) -> bool:
        if self.episode is None or self.episode.reported_at != episode.reported_at:
            return False
        self.episode = None
        return True


@dataclass
class World:
    crm: FakeCrm = field(default_factory=FakeCrm)
    books: FakeBooks = field(default_factory=FakeBooks)
    pairs: MemoryPairs = field(default_factory=MemoryPairs)
    state: MemoryStallState = field(default_factory=MemoryStallState)
    audit: MemoryAudit = field(default_factory=MemoryAudit)
    notifier: InMemoryNotifier = field(default_factory=InMemoryNotifier)
    now: datetime = NOW

    def check(self, config: StallConfig = CONFIG, notifier: Any = None) -> SyncStallCheck:
        return SyncStallCheck(
            lambda: self.crm,
            lambda: self.books,
            self.pairs,
            self.state,
            self.audit,
            lambda: notifier or self.notifier,
            links=EXAMPLE_LINKS,
            config=config,
            clock=lambda: self.now,
        )

    def linked(
        self,
        n: int,
        *,
        edited: timedelta,
        books_changed: timedelta,
        crm_phone: str = "020 7946 0999",
        books_phone: str = "020 7946 0001",
        crm_street: str | None = None,
        books_street: str | None = None,
        held: bool = False,
        tagged: bool = False,
        linked: bool = True,
        partner_deleted: bool = False,
    ) -> tuple[str, str]:
        """An account edited ``edited`` ago and its Books customer last changed ``books_changed`` ago."""
        crm_id, books_id = f"57257670000030{n:05d}", f"46000000001{n:04d}"
        name = f"Harbour Lights {n} Ltd"
        self.crm.accounts.append(
            {
                "id": crm_id,
                "Account_Name": name,
                "Phone": crm_phone,
                "Billing_Street": crm_street,
                "Tag": [{"name": "sync-guard-hold", "id": "1"}] if tagged else [],
                "Modified_Time": zoho_time(NOW - edited),
            }
        )
        self.books.contacts[books_id] = {
            "contact_id": books_id,
            "contact_name": name,
            "company_name": name,
            "contact_type": "customer",
            "email": f"accounts{n}@harbour.example",
            "phone": books_phone,
            "zcrm_account_id": crm_id,
            "billing_address": {"address": books_street} if books_street else {},
            "last_modified_time": zoho_time(NOW - books_changed),
        }
        crm_ref, books_ref = f"crm:{crm_id}", f"books:{books_id}"
        crm = PartyRecord(system=System.CRM, module=Module.CRM_ACCOUNTS, record_id=crm_id, name=name)
        books = PartyRecord(system=System.BOOKS, module=Module.BOOKS_CUSTOMERS, record_id=books_id, name=name)
        self.pairs.states[crm_ref] = RecordState(
            record=crm,
            version=1,
            partner=books_ref if linked else None,
            pair_source=PairSource.ZOHO_LINK if linked else None,
            held_by="evt_hold" if held else None,
        )
        self.pairs.states[books_ref] = RecordState(
            record=books, version=1, partner=crm_ref if linked else None, deleted=partner_deleted
        )
        return crm_ref, books_ref


def rules_sent(world: World) -> list[str]:
    return [message.rule for message in world.notifier.messages]


def test_edits_that_stopped_reaching_books_are_reported_once_per_stall() -> None:
    # given three linked accounts edited 4-6 hours ago whose Books customers have not changed for weeks
    world = World()
    for n in range(3):
        world.linked(n, edited=timedelta(hours=4 + n), books_changed=timedelta(days=20))

    # when the check runs twice
    first = world.check().run()
    second = world.check().run()

    # then finance hears once, with the examples, and both runs raise the alert
    assert rules_sent(world) == ["SYNC_STALLED"]
    [message] = world.notifier.messages
    assert message.severity.value == "critical"
    assert "Harbour Lights 0 Ltd" in message.body
    assert "still differs in phone" in message.body
    assert "WHICH COPY HOLDS TRANSACTIONS" not in message.body  # examples of different customers
    assert "accounts0@harbour.example" not in " ".join(world.audit.entries[0].evidence)
    assert first.alert
    assert second.alert  # not due to look again, but the stall is still open
    assert first.notified == "SYNC_STALLED"
    assert second.notified is None
    assert [e.operation for e in world.audit.entries] == ["sync_stalled"]
    assert world.state.episode is not None
    assert world.state.episode.since == NOW - timedelta(hours=6)
    assert first.verdict is not None
    assert [e.follow_up for e in first.verdict.edits] == [FollowUp.NOT_FOLLOWED] * 3


class CountedEdits(tuple[Edit, ...]):
    """A verdict's edits that count how often they are gone through."""

    walks = 0

    def __iter__(self) -> Iterator[Edit]:
        CountedEdits.walks += 1
        return super().__iter__()


def test_a_stall_report_works_out_the_edits_not_followed_once() -> None:
    # given the verdict of a run that sampled five edits Books did not follow (more than a report names)
    world = World()
    for n in range(5):
        world.linked(n, edited=timedelta(hours=4 + n), books_changed=timedelta(days=20))
    outcome = world.check().run()
    assert outcome.verdict is not None
    verdict = StallVerdict(CountedEdits(outcome.verdict.edits), CONFIG.min_unfollowed)
    CountedEdits.walks = 0

    # when everything a stall report says is asked of it
    stalled, since, examples = verdict.stalled, verdict.stalled_since, verdict.examples
    evidence = stalled_evidence(verdict)

    # then the edits were gone through once (before: the report listed the edits not followed, and the
    # oldest of them, and its evidence did it all again; each question went through the edits anew)
    assert CountedEdits.walks == 1
    # and what it says agrees: the examples the evidence describes, since the oldest edit not followed
    assert stalled
    assert since == NOW - timedelta(hours=8)
    assert [e.crm.ref for e in examples] == [e.crm.ref for e in outcome.verdict.edits[:EXAMPLES]]
    assert evidence[1:] == [edit.describe() for edit in examples]
    assert "5 CRM edits to linked customers since " + utc_minute(since) in evidence[0]


def test_one_edit_that_reached_books_means_the_sync_runs() -> None:
    world = World()
    for n in range(4):
        world.linked(n, edited=timedelta(hours=4 + n), books_changed=timedelta(days=20))
    just_after = timedelta(hours=5) - timedelta(seconds=30)
    world.linked(9, edited=timedelta(hours=5), books_changed=just_after, books_phone="020 7946 0999")

    outcome = world.check().run()

    assert outcome.verdict is not None
    assert not outcome.verdict.stalled
    assert not outcome.alert
    assert world.notifier.messages == []


def test_the_first_edit_carried_ends_the_sampling() -> None:
    # a healthy sync: the newest edit old enough to judge has reached Books
    world = World()
    world.linked(1, edited=timedelta(hours=4), books_changed=timedelta(hours=3), books_phone="020 7946 0999")
    for n in range(2, 6):
        world.linked(n, edited=timedelta(hours=4 + n), books_changed=timedelta(days=20))

    outcome = world.check().run()

    assert world.books.reads == ["460000000010001"]
    assert outcome.verdict is not None
    assert not outcome.verdict.stalled


def test_it_looks_once_an_hour_and_an_open_stall_stays_an_alert_between_looks() -> None:
    world = World()
    for n in range(3):
        world.linked(n, edited=timedelta(hours=4), books_changed=timedelta(days=20))
    world.check().run()
    reads = len(world.books.reads)

    world.now = NOW + timedelta(minutes=45)
    between = world.check().run()
    world.now = NOW + timedelta(minutes=61)
    later = world.check().run()

    assert between.verdict is None
    assert between.alert
    assert "next look after 2026-03-10 12:55 UTC" in between.skipped
    assert len(world.books.reads) == 2 * reads  # only the later run read Books again
    assert later.verdict is not None
    assert later.alert


def test_the_hourly_look_does_not_slip_to_the_next_run_when_a_run_starts_a_little_early() -> None:
    # given a look at NOW, and the run an hour later starting its stall check a few seconds earlier in the
    # run (the checks before it were quicker): every fourth run of a 15-minute schedule must look
    world = World()
    for n in range(3):
        world.linked(n, edited=timedelta(hours=4), books_changed=timedelta(days=20))
    world.check().run()

    world.now = NOW + timedelta(minutes=59, seconds=20)
    outcome = world.check().run()

    assert outcome.verdict is not None
    assert outcome.skipped == ""


def test_a_listing_cut_short_by_a_bulk_update_is_judged_on_what_was_listed() -> None:
    # given a bulk update newer than the grace filling the pages CRM lists, then the older edits
    world = World()
    for n in range(3):
        world.linked(n, edited=timedelta(hours=4 + n), books_changed=timedelta(days=20))
    listing = world.crm.iter_recently_modified

    def cut_short(
        module: Module | str, *, since: datetime, fields: Sequence[str]
    ) -> Iterator[dict[str, Any]]:
        yield from listing(module, since=since, fields=fields)
        raise ZohoListingIncomplete("CRM GET /Accounts", pages=50, records=10_000)

    world.crm.iter_recently_modified = cut_short  # type: ignore[method-assign]

    # when the check looks, it judges the edits it saw instead of failing
    outcome = world.check().run()

    assert outcome.verdict is not None
    assert outcome.verdict.stalled


def owner_edits(world: World, *, guard_saw: bool) -> None:
    """Three linked accounts whose last CRM edit (4 hours ago) changed no value the sync carries, a month
    after the last one that did; the guard processed that edit, or has not yet."""
    for n in range(3):
        crm_ref, _ = world.linked(n, edited=timedelta(hours=4), books_changed=timedelta(days=20))
        seen_at = NOW - (timedelta(hours=4) if guard_saw else timedelta(days=2))
        world.pairs.states[crm_ref] = world.pairs.states[crm_ref].model_copy(
            update={"version": epoch_ms(seen_at), "synced_change": epoch_ms(NOW - timedelta(days=30))}
        )


def test_edits_the_guard_saw_leave_the_synced_values_alone_are_not_judged() -> None:
    # a one-way sync where finance changed the phones in Books: CRM edits of the owner then differ in a
    # carried field, but the guard's own record of the edits says they changed nothing the sync carries
    world = World()
    owner_edits(world, guard_saw=True)

    outcome = world.check().run()

    assert outcome.verdict is not None
    assert outcome.verdict.edits == ()
    assert world.books.reads == []


def test_an_edit_of_carried_values_is_judged_when_a_later_edit_changed_nothing_the_sync_carries() -> None:
    # CRM changed the phones 6 hours ago (the sync, stalled, did not carry them), then the owners 4 hours
    # ago: the later edit hides nothing the earlier one left behind
    world = World()
    for n in range(3):
        crm_ref, _ = world.linked(n, edited=timedelta(hours=4), books_changed=timedelta(days=20))
        world.pairs.states[crm_ref] = world.pairs.states[crm_ref].model_copy(
            update={
                "version": epoch_ms(NOW - timedelta(hours=4)),
                "synced_change": epoch_ms(NOW - timedelta(hours=6)),
            }
        )

    outcome = world.check().run()

    assert outcome.alert
    assert outcome.verdict is not None
    assert {edit.edited_at for edit in outcome.verdict.edits} == {NOW - timedelta(hours=6)}


def test_an_edit_of_carried_values_that_books_followed_is_no_stall_whatever_else_differs() -> None:
    # a one-way sync carried the names 6 hours ago; finance's own phones still differ in Books
    world = World()
    for n in range(3):
        crm_ref, _ = world.linked(n, edited=timedelta(hours=4), books_changed=timedelta(hours=5, minutes=50))
        world.pairs.states[crm_ref] = world.pairs.states[crm_ref].model_copy(
            update={
                "version": epoch_ms(NOW - timedelta(hours=4)),
                "synced_change": epoch_ms(NOW - timedelta(hours=6)),
            }
        )

    assert not world.check().run().alert


def test_an_edit_the_guard_has_not_seen_yet_is_judged_on_what_zoho_shows() -> None:
    world = World()
    owner_edits(world, guard_saw=False)

    assert world.check().run().alert


def test_edits_younger_than_the_grace_are_not_judged() -> None:
    world = World()
    for n in range(3):
        world.linked(n, edited=timedelta(minutes=30 + n), books_changed=timedelta(days=20))

    outcome = world.check().run()

    assert outcome.verdict is not None
    assert outcome.verdict.edits == ()
    assert world.books.reads == []
    assert world.notifier.messages == []


def test_held_unlinked_and_deleted_partners_say_nothing_about_the_sync() -> None:
    # the guard's own hold keeps a record out of the sync on purpose; the others have no live partner
    world = World()
    world.linked(1, edited=timedelta(hours=4), books_changed=timedelta(days=20), held=True)
    world.linked(2, edited=timedelta(hours=4), books_changed=timedelta(days=20), linked=False)
    world.linked(3, edited=timedelta(hours=4), books_changed=timedelta(days=20), partner_deleted=True)
    world.linked(4, edited=timedelta(hours=4), books_changed=timedelta(days=20))
    del world.books.contacts["460000000010004"]  # deleted in Books since

    outcome = world.check().run()

    assert outcome.verdict is not None
    assert outcome.verdict.edits == ()
    assert not outcome.alert


def test_records_still_carrying_the_hold_tag_in_crm_are_out_of_the_sync() -> None:
    # given three records released in the guard whose untag has not reached CRM yet (queued, or
    # dead-lettered), or held by hand: the tag keeps them out of the sync's view, whatever the shadow says
    world = World()
    for n in range(3):
        world.linked(n, edited=timedelta(hours=4), books_changed=timedelta(days=20), tagged=True)

    # when the check runs
    outcome = world.check().run()

    # then it asked CRM for the tags, and read none of those Books customers
    assert all("Tag" in fields for fields in world.crm.listed_fields)
    assert outcome.verdict is not None
    assert outcome.verdict.edits == ()
    assert world.books.reads == []
    assert not outcome.alert


def test_an_edit_outside_the_fields_the_sync_carries_is_not_evidence() -> None:
    # Books already shows what CRM has: the edit changed something the sync does not carry
    world = World()
    for n in range(3):
        world.linked(
            n,
            edited=timedelta(hours=4),
            books_changed=timedelta(days=20),
            crm_phone="020 7946 0001",
            books_phone="02079460001",
        )

    outcome = world.check().run()

    assert outcome.verdict is not None
    assert [e.follow_up for e in outcome.verdict.edits] == [FollowUp.UNKNOWN] * 3
    assert not outcome.alert


def test_a_books_edit_a_two_way_sync_carried_to_crm_is_not_evidence_of_a_stall() -> None:
    # given a two-way sync: finance edited three Books customers' addresses, and within the hour the sync
    # wrote what it carries back (city, postcode: not the street) to CRM, which stamped the CRM records then
    world = World()
    for n in range(3):
        world.linked(
            n,
            edited=timedelta(hours=4),
            books_changed=timedelta(hours=4, minutes=40),
            crm_phone="020 7946 0001",
            books_phone="020 7946 0001",
            crm_street="1 Old Road",
            books_street="Unit 4, 2 New Road",
        )

    # when the check runs
    outcome = world.check().run()

    # then the CRM edits came from Books: Books is the newer side, and nothing stalled
    assert outcome.verdict is not None
    assert [e.follow_up for e in outcome.verdict.edits] == [FollowUp.UNKNOWN] * 3
    assert not outcome.alert
    assert world.notifier.messages == []


def test_the_first_edit_carried_again_ends_the_stall_and_says_so() -> None:
    world = World()
    world.state.episode = StallEpisode(
        since=NOW - timedelta(days=1), reported_at=NOW - timedelta(hours=20), examples=("crm:1",)
    )
    world.linked(1, edited=timedelta(hours=4), books_changed=timedelta(days=20))
    world.linked(2, edited=timedelta(hours=5), books_changed=timedelta(hours=3), books_phone="020 7946 0999")

    outcome = world.check().run()

    assert rules_sent(world) == ["SYNC_RESUMED"]
    assert world.notifier.messages[0].severity.value == "info"
    assert world.state.episode is None
    assert not outcome.alert
    assert [e.operation for e in world.audit.entries] == ["sync_resumed"]


def test_a_books_customer_changed_by_hand_during_a_stall_does_not_end_it() -> None:
    # given an open stall, and finance (or the guard's own hold) changing a Books customer after its CRM
    # edit, which still shows the phone CRM no longer has
    world = World()
    episode = StallEpisode(since=NOW - timedelta(days=1), reported_at=NOW - timedelta(hours=20), examples=())
    world.state.episode = episode
    world.linked(1, edited=timedelta(hours=5), books_changed=timedelta(hours=4))
    for n in range(2, 5):
        world.linked(n, edited=timedelta(hours=4 + n), books_changed=timedelta(days=20))

    # when the check runs
    outcome = world.check().run()

    # then that change is not the sync carrying the edit: the stall stays open, and nobody is told otherwise
    assert outcome.verdict is not None
    assert [e.follow_up for e in outcome.verdict.edits] == [FollowUp.UNKNOWN] + [FollowUp.NOT_FOLLOWED] * 3
    assert outcome.alert
    assert world.state.episode == episode
    assert world.notifier.messages == []


def test_a_run_that_sees_no_linked_edit_leaves_an_open_stall_open() -> None:
    world = World()
    episode = StallEpisode(since=NOW - timedelta(days=1), reported_at=NOW - timedelta(hours=20), examples=())
    world.state.episode = episode

    outcome = world.check().run()

    assert outcome.alert
    assert world.state.episode == episode
    assert world.notifier.messages == []


def test_only_the_newest_edits_up_to_the_sample_are_read_in_books() -> None:
    world = World()
    for n in range(8):
        world.linked(n, edited=timedelta(hours=4 + n), books_changed=timedelta(days=20))
    config = StallConfig(
        mode=Mode.ENFORCE, grace=timedelta(hours=3), lookback=timedelta(hours=24), min_unfollowed=3, sample=5
    )

    outcome = world.check(config).run()

    assert world.books.reads == [f"46000000001{n:04d}" for n in range(5)]
    assert outcome.verdict is not None
    assert len(outcome.verdict.edits) == 5
    assert world.crm.listed_since == [NOW - timedelta(hours=24)] * 2  # Accounts and Contacts


def test_of_two_runs_looking_at_once_one_tells_finance() -> None:
    # a run retried by Lambda, or a schedule delivered twice: both see the stall before either opened it
    world = World()
    for n in range(3):
        world.linked(n, edited=timedelta(hours=4), books_changed=timedelta(days=20))
    other_run = StallEpisode(since=NOW - timedelta(hours=4), reported_at=NOW, examples=())
    check = world.check()
    opened_first = world.state.open_stall

    def opened_meanwhile(episode: StallEpisode) -> bool:
        world.state.episode = other_run  # the other run got there between this one's read and its write
        return opened_first(episode)

    world.state.open_stall = opened_meanwhile  # type: ignore[method-assign]

    outcome = check.run()

    assert world.notifier.messages == []
    assert outcome.alert
    assert outcome.episode == other_run


def test_a_notice_that_failed_is_sent_again_by_the_next_run() -> None:
    world = World()
    for n in range(3):
        world.linked(n, edited=timedelta(hours=4), books_changed=timedelta(days=20))

    with pytest.raises(NotificationFailed):
        world.check(notifier=DownNotifier()).run()
    assert world.state.episode is None
    assert world.audit.entries == []

    world.check().run()
    assert rules_sent(world) == ["SYNC_STALLED"]


def test_turned_off_it_asks_zoho_nothing() -> None:
    world = World()
    world.linked(1, edited=timedelta(hours=4), books_changed=timedelta(days=20))
    off = StallConfig(
        mode=Mode.ENFORCE, grace=timedelta(hours=3), lookback=timedelta(hours=24), min_unfollowed=0, sample=5
    )

    outcome = watch_for_stall(world.check(off))

    assert outcome.status.value == "skipped"
    assert world.crm.listed_since == []


def test_the_scheduled_run_carries_the_alert() -> None:
    world = World()
    for n in range(3):
        world.linked(n, edited=timedelta(hours=4), books_changed=timedelta(days=20))

    outcome = watch_for_stall(world.check())

    assert outcome.check == STALL_CHECK
    assert outcome.alert
    assert outcome.found == 3
    assert "finance notified (SYNC_STALLED)" in outcome.note
    assert ChecksReport((outcome,)).summary()[STALL_CHECK]["alert"] is True


def test_a_run_after_the_report_says_since_when_in_words() -> None:
    world = World()
    for n in range(3):
        world.linked(n, edited=timedelta(hours=4), books_changed=timedelta(days=20))
    watch_for_stall(world.check())

    world.now = NOW + timedelta(minutes=61)  # the next hourly look
    again = watch_for_stall(world.check())

    assert "already reported" in again.note
    assert re.search(r"stalled since about \d{4}-\d\d-\d\d \d\d:\d\d UTC", again.note), again.note


JOHN = {"first_name": "John", "last_name": "Smith"}


@pytest.mark.parametrize(
    ("crm", "books", "expected"),
    [
        ({"name": "Acme Ltd"}, {"name": "Acme Ltd"}, ()),
        ({"name": "Acme  ltd "}, {"name": "ACME LTD"}, ()),
        ({"name": "Acme Ltd"}, {"name": "Acme Trading", "other_names": ("Acme Ltd",)}, ()),
        ({"name": "Acme Ltd"}, {"name": "Acme Limited"}, ("name",)),
        ({"name": "A", "phone": "020 7946 0001"}, {"name": "A", "phone": "02079460001"}, ()),
        ({"name": "A", "phone": "020 7946 0002"}, {"name": "A", "phone": "020 7946 0001"}, ("phone",)),
        ({"name": "A", "street": "1 High St"}, {"name": "A"}, ("street",)),
        # a person (contacts-module sync): the Books display name may read otherwise than the person's name
        ({"name": "John Smith", **JOHN}, {"name": "Mr. John Smith", **JOHN}, ()),
        ({"name": "John Smith", **JOHN}, {"name": "Smith, John", **JOHN}, ()),
        (
            {"name": "Jane Smith", "first_name": "Jane", "last_name": "Smith"},
            {"name": "John Smith", **JOHN},
            ("name",),
        ),
        ({"name": "A"}, {"name": "A", "street": "1 High St", "email": "a@b.example"}, ()),
    ],
)
def test_carried_differences(crm: dict[str, Any], books: dict[str, Any], expected: tuple[str, ...]) -> None:
    left = PartyRecord(system=System.CRM, module=Module.CRM_ACCOUNTS, record_id="1", **crm)
    right = PartyRecord(system=System.BOOKS, module=Module.BOOKS_CUSTOMERS, record_id="2", **books)
    assert carried_differences(left, right) == expected
