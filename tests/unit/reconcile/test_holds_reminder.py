"""The daily reminder of holds nobody decided about, with fakes for the holds, the check state, the audit
trail and finance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sync_guard.admin.model import Hold, HoldStatus
from sync_guard.config import Mode, Settings
from sync_guard.guard.model import RecordState
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.notify import InMemoryNotifier, NotificationFailed
from sync_guard.notify.examples import EXAMPLE_LINKS
from sync_guard.reconcile.outcome import CheckStatus
from sync_guard.reconcile.reminder import (
    HOLDS_CHECK,
    WAITING_RULE,
    HoldsReminder,
    ReminderConfig,
    reminder_time,
)
from tests.support.fakes import DownNotifier, MemoryAudit

# A Monday morning, after the reminder hour.
NOW = datetime(2026, 3, 9, 9, 15, tzinfo=UTC)
CONFIG = ReminderConfig(mode=Mode.ENFORCE, after=timedelta(days=3), hour_utc=8)


def hold(
    ref: str,
    days: float,
    *,
    status: HoldStatus = HoldStatus.HELD,
    mode: Mode = Mode.ENFORCE,
    applied_by: str | None = None,
    rules: tuple[str, ...] = ("NAME_DRIFT",),
) -> Hold:
    return Hold(
        hold_id=ref,
        entry_id=f"evt_{ref}",
        rules=rules,
        at=NOW - timedelta(days=days),
        mode=mode.value,
        status=status,
        applied_by=applied_by,
    )


def state(ref: str, name: str) -> RecordState:
    system, _, record_id = ref.partition(":")
    module = Module.CRM_ACCOUNTS if system == "crm" else Module.BOOKS_CUSTOMERS
    record = PartyRecord(system=System(system), module=module, record_id=record_id, name=name)
    return RecordState(record=record, version=1, held_by=f"evt_{ref}")


@dataclass
class MemoryHolds:
    items: list[Hold] = field(default_factory=list)
    known: dict[str, RecordState] = field(default_factory=dict)
    reads: int = 0
    asked: list[list[str]] = field(default_factory=list)

    def holds(self) -> list[Hold]:
        self.reads += 1
        return list(self.items)

    def states(self, refs: Iterable[str]) -> dict[str, RecordState]:
        wanted = list(refs)
        self.asked.append(wanted)
        return {ref: self.known[ref] for ref in wanted if ref in self.known}


@dataclass
class MemoryState:
    mark: datetime | None = None
    #: Another run's claim, made between this run's read and its claim.
    claimed_meanwhile: datetime | None = None
    rewinds: list[tuple[datetime, datetime | None]] = field(default_factory=list)

    def watermark(self, check: str) -> datetime | None:
        assert check == HOLDS_CHECK
        return self.mark

    def advance(self, check: str, to: datetime, *, at: datetime) -> bool:
        if self.claimed_meanwhile is not None:
            self.mark, self.claimed_meanwhile = self.claimed_meanwhile, None
        if self.mark is not None and self.mark >= to:
            return False
        self.mark = to
        return True

    def rewind(self, check: str, claimed: datetime, to: datetime | None, *, at: datetime) -> bool:
        self.rewinds.append((claimed, to))
        if self.mark != claimed:
            return False
        self.mark = to
        return True


@dataclass
class World:
    holds: MemoryHolds = field(default_factory=MemoryHolds)
    state: MemoryState = field(default_factory=MemoryState)
    audit: MemoryAudit = field(default_factory=MemoryAudit)
    finance: InMemoryNotifier = field(default_factory=InMemoryNotifier)
    now: datetime = NOW
    config: ReminderConfig = CONFIG
    notifier_fails: bool = False

    def reminder(self) -> HoldsReminder:
        return HoldsReminder(
            self.holds,
            self.state,
            self.audit,
            lambda: DownNotifier() if self.notifier_fails else self.finance,
            links=EXAMPLE_LINKS,
            config=self.config,
            clock=lambda: self.now,
        )

    def run(self) -> tuple[CheckStatus, str]:
        outcome = self.reminder().run()
        return outcome.status, outcome.note


def test_the_reminder_hour_is_the_days_own_in_utc() -> None:
    assert reminder_time(NOW, 8) == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    # 23:30 UTC on Monday is 18:30 on Monday in New York, and 08:30 on Tuesday in Tokyo
    for offset in (-5, 9):
        local = datetime(2026, 3, 9, 23, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=offset)))
        assert reminder_time(local, 8) == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)


def test_holds_written_in_zoho_and_waiting_for_days_are_named_to_finance_oldest_first() -> None:
    world = World()
    world.holds.items = [
        hold("crm:1001", days=4),
        hold("books:2002", days=9, rules=("BOTH_SIDES_CREATED",)),
        hold("crm:1003", days=1),  # too young: finance has had one day
        hold("crm:1004", days=12, status=HoldStatus.CONFIRMED),  # decided: stays held on purpose
        hold("crm:1005", days=12, mode=Mode.OBSERVE),  # never written in Zoho: keeps nothing out
        hold("crm:1006", days=5, mode=Mode.OBSERVE, applied_by="adm_apply"),  # written since
        hold("books:2007", days=6, rules=()),  # held by hand
    ]
    world.holds.known = {
        "crm:1001": state("crm:1001", "Northgate Joinery"),
        "books:2002": state("books:2002", "Brightwater Vets"),
    }

    status, note = world.run()

    assert status is CheckStatus.OK
    assert note.startswith("4 holds waiting; finance reminded")
    [message] = world.finance.messages
    assert message.rule == WAITING_RULE
    order = [
        message.body.index(ref.partition(":")[2])
        for ref in ("books:2002", "books:2007", "crm:1006", "crm:1001")
    ]
    assert order == sorted(order)
    for left_out in ("1003", "1004", "1005"):
        assert f"Id: {left_out}" not in message.body
    assert 'Waiting 9 days (BOTH_SIDES_CREATED): Zoho Books customer "Brightwater Vets"' in message.body
    assert "Waiting 6 days (held by hand)" in message.body
    evidence = " ".join(message.body.split())
    assert "4 held records have waited more than 3 days for a decision" in evidence
    assert "Held for: NAME_DRIFT 2, BOTH_SIDES_CREATED 1, held by hand 1." in evidence
    [entry] = world.audit.entries
    assert entry.operation == "holds_reminder"
    assert entry.records == ("books:2002", "books:2007", "crm:1006", "crm:1001")
    assert entry.note in evidence
    assert world.state.mark == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    # the names come from the shadow in one read, for the waiting holds only
    assert world.holds.asked == [["books:2002", "books:2007", "crm:1006", "crm:1001"]]


def test_finance_hears_once_a_day_and_again_the_next_day_while_the_holds_wait() -> None:
    world = World()
    world.holds.items = [hold("crm:1001", days=4)]
    world.run()

    world.now = NOW + timedelta(hours=6)
    status, note = world.run()
    assert (status, note) == (CheckStatus.SKIPPED, "next look after 2026-03-10 08:00 UTC")
    assert world.holds.reads == 1  # a run that is not due reads nothing

    world.now = NOW + timedelta(days=1) - timedelta(hours=2)  # Tuesday 07:15, before the hour
    assert world.run()[0] is CheckStatus.SKIPPED

    world.now = NOW + timedelta(days=1)
    status, _ = world.run()
    assert status is CheckStatus.OK
    assert len(world.finance.messages) == 2
    assert "Waiting 5 days" in world.finance.messages[1].body


def test_a_day_with_nothing_waiting_sends_nothing_and_looks_again_the_next_day() -> None:
    world = World()
    world.holds.items = [hold("crm:1001", days=2)]

    status, note = world.run()

    assert (status, note) == (CheckStatus.OK, "no hold has waited over 3 days")
    assert world.finance.messages == []
    assert world.audit.entries == []
    world.now = NOW + timedelta(hours=2)
    assert world.run()[0] is CheckStatus.SKIPPED
    assert world.holds.reads == 1


def test_of_two_runs_at_once_only_one_reminds() -> None:
    world = World()
    world.holds.items = [hold("crm:1001", days=4)]
    # another run (the schedule delivered twice) claimed the day after this one read the watermark
    world.state.claimed_meanwhile = reminder_time(NOW, 8)

    status, note = world.run()

    assert (status, note) == (CheckStatus.SKIPPED, "another run looked at the holds for this day")
    assert world.finance.messages == []
    assert world.audit.entries == []


def test_a_reminder_that_could_not_be_sent_is_tried_again_at_the_next_run() -> None:
    world = World(notifier_fails=True)
    world.holds.items = [hold("crm:1001", days=4)]
    yesterday = reminder_time(NOW, 8) - timedelta(days=1)
    world.state.mark = yesterday

    with pytest.raises(NotificationFailed):
        world.reminder().run()

    assert world.state.mark == yesterday  # the day's claim given back
    assert world.audit.entries == []
    world.notifier_fails = False
    world.now = NOW + timedelta(minutes=15)
    assert world.run()[0] is CheckStatus.OK
    assert len(world.finance.messages) == 1


def test_a_long_list_names_the_oldest_and_says_how_to_see_every_one() -> None:
    world = World()
    world.holds.items = [hold(f"crm:{1000 + n}", days=4 + n / 24) for n in range(14)]

    world.run()

    [message] = world.finance.messages
    assert message.body.count("Id: ") == 10
    assert "Id: 1013" in message.body  # the oldest
    assert "Id: 1000" not in message.body  # the youngest of the fourteen
    assert (
        "This message names the 10 oldest; an admin lists every one with:\n"
        "      sync-guard quarantines list --status held\n"
    ) in message.body
    assert len(world.audit.entries[0].records) == 14


def test_holds_on_records_deleted_since_are_left_out_and_counted() -> None:
    # given two holds waiting for days, one on a record deleted in Zoho since it was held
    world = World()
    world.holds.items = [hold("crm:1001", days=4), hold("books:2002", days=9)]
    world.holds.known = {
        "crm:1001": state("crm:1001", "Northgate Joinery"),
        "books:2002": state("books:2002", "Brightwater Vets").model_copy(update={"deleted": True}),
    }

    status, note = world.run()

    # then finance is reminded of the live one only, and told how many were left out and why
    assert status is CheckStatus.OK
    assert note == (
        "1 holds waiting; finance reminded (HOLDS_WAITING, audit "
        f"{world.audit.entries[0].entry_id}); 1 on records deleted since left out"
    )
    [message] = world.finance.messages
    assert "Id: 1001" in message.body
    assert "Id: 2002" not in message.body
    evidence = " ".join(message.body.split())
    assert "1 held record has waited more than 3 days for a decision" in evidence
    assert (
        "Left out: 1 hold on a record deleted in Zoho since it was held (books:2002); nothing to decide "
        "about it, and an admin can release it to clear it from the list." in evidence
    )
    [entry] = world.audit.entries
    assert entry.records == ("crm:1001",)
    assert any(line.startswith("Left out: 1 hold on a record deleted") for line in entry.evidence)


def vendor(ref: str, name: str, since: datetime) -> RecordState:
    """A Books customer edited into a vendor at ``since``: retired from matching (``engine._plan_retire``)."""
    _, _, record_id = ref.partition(":")
    record = PartyRecord(
        system=System.BOOKS, module=Module.BOOKS_VENDORS, record_id=record_id, name=name, modified_at=since
    )
    return RecordState(record=record, version=1, held_by=f"evt_{ref}", deleted=True)


def test_a_hold_on_a_customer_turned_vendor_is_left_out_as_a_vendor_not_as_deleted() -> None:
    # given holds waiting for days: one on a live record, one (an admin's own, which stays by design) on a
    # Books customer edited into a vendor since, and one on a record deleted in Zoho since
    world = World()
    world.holds.items = [
        hold("crm:1001", days=4),
        hold("books:2002", days=9, rules=()),
        hold("crm:3003", days=5),
    ]
    since = datetime(2026, 3, 5, 10, 12, 30, tzinfo=UTC)
    world.holds.known = {
        "crm:1001": state("crm:1001", "Northgate Joinery"),
        "books:2002": vendor("books:2002", "Brightwater Supplies", since),
        "crm:3003": state("crm:3003", "Gone Ltd").model_copy(update={"deleted": True}),
    }

    status, note = world.run()

    # then the vendor's hold is left out, named for what it is: a vendor, retired from matching since then
    assert status is CheckStatus.OK
    assert note.endswith("; 1 on records deleted since and 1 on records turned Books vendors left out")
    [message] = world.finance.messages
    assert "Id: 2002" not in message.body
    evidence = " ".join(message.body.split())
    assert (
        "Left out: 1 hold on a record that is a Books vendor now, retired from matching since 2026-03-05 "
        "10:12 UTC (books:2002); a supplier is no duplicate, so nothing to decide about it, and an admin "
        "can release it to clear it from the list." in evidence
    )
    # ... and not as a record deleted in Zoho, which only the deleted one is
    assert "Left out: 1 hold on a record deleted in Zoho since it was held (crm:3003)" in evidence
    [entry] = world.audit.entries
    assert entry.records == ("crm:1001",)
    assert any(
        line.startswith("Left out: 1 hold on a record that is a Books vendor") for line in entry.evidence
    )


def test_holds_on_several_vendors_are_named_each_with_its_date() -> None:
    world = World()
    world.holds.items = [hold("crm:1001", days=4), hold("books:2002", days=9), hold("books:2003", days=8)]
    world.holds.known = {
        "books:2002": vendor("books:2002", "Brightwater Supplies", datetime(2026, 3, 5, 10, 12, tzinfo=UTC)),
        "books:2003": vendor("books:2003", "Tarn Timber", datetime(2026, 3, 6, 9, 0, tzinfo=UTC)),
    }

    _, note = world.run()

    assert note.endswith("; 2 on records turned Books vendors left out")
    [message] = world.finance.messages
    assert (
        "Left out: 2 holds on records that are Books vendors now, retired from matching (books:2002 since "
        "2026-03-05 10:12 UTC, books:2003 since 2026-03-06 09:00 UTC); suppliers are no duplicates, so "
        "nothing to decide about them, and an admin can release them to clear them from the list."
    ) in " ".join(message.body.split())


def test_only_holds_on_vendors_send_nothing_and_say_so() -> None:
    world = World()
    world.holds.items = [hold("books:2002", days=9)]
    world.holds.known = {"books:2002": vendor("books:2002", "Brightwater Supplies", NOW - timedelta(days=2))}

    assert world.run() == (
        CheckStatus.OK,
        "no hold has waited over 3 days (1 on records turned Books vendors left out)",
    )
    assert world.finance.messages == []


def test_only_holds_on_deleted_records_send_nothing_and_say_so() -> None:
    world = World()
    world.holds.items = [hold("crm:1001", days=4), hold("books:2002", days=9)]
    world.holds.known = {
        ref: state(ref, "Gone Ltd").model_copy(update={"deleted": True}) for ref in ("crm:1001", "books:2002")
    }

    status, note = world.run()

    assert (status, note) == (
        CheckStatus.OK,
        "no hold has waited over 3 days (2 on records deleted since left out)",
    )
    assert world.finance.messages == []
    assert world.audit.entries == []


def test_a_record_the_shadow_does_not_know_is_named_by_its_id() -> None:
    world = World()
    world.holds.items = [hold("crm:1001", days=4)]

    world.run()

    [message] = world.finance.messages
    assert "(no name, id 1001)" in message.body
    assert "Open in Zoho: https://crm.zoho.eu/crm/org20071234567/tab/Accounts/1001" in message.body


def test_zero_days_turns_the_reminder_off() -> None:
    world = World(config=ReminderConfig(mode=Mode.ENFORCE, after=timedelta(0)))
    world.holds.items = [hold("crm:1001", days=40)]

    status, note = world.run()

    assert status is CheckStatus.SKIPPED
    assert "SYNC_GUARD_HOLD_REMINDER_AFTER_DAYS" in note
    assert world.holds.reads == 0


def test_the_settings_make_the_config() -> None:
    settings = Settings(hold_reminder_after_days=5, hold_reminder_hour_utc=7, mode=Mode.OBSERVE)
    config = ReminderConfig.from_settings(settings)
    assert (config.after, config.hour_utc, config.mode) == (timedelta(days=5), 7, Mode.OBSERVE)
    defaults = ReminderConfig.from_settings(Settings())
    assert (defaults.after, defaults.hour_utc) == (timedelta(days=3), 8)
