"""Holds a customer turned vendor made moot, released after its event: which ones, with fakes for the
holds, the decisions and the release."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from sync_guard.admin.model import Hold, HoldStatus, OperationResult
from sync_guard.admin.moot import GUARD_ACTOR, MootHolds, moot_reason
from sync_guard.config import Mode
from sync_guard.errors import Conflict
from sync_guard.guard.admin import admin_entry
from sync_guard.guard.model import AuditEntry, Decision, EntryKind, Finding, RecordState, Severity
from sync_guard.models.records import Module, PartyRecord, System
from tests.unit.reconcile.test_holds_reminder import MemoryHolds

NOW = datetime(2026, 3, 9, 9, 15, tzinfo=UTC)


def _state(ref: str, *, vendor: bool = False) -> RecordState:
    system, _, record_id = ref.partition(":")
    module = Module.CRM_ACCOUNTS if system == "crm" else Module.BOOKS_CUSTOMERS
    record = PartyRecord(
        system=System(system),
        module=Module.BOOKS_VENDORS if vendor else module,
        record_id=record_id,
        name="Acme Ltd",
    )
    return RecordState(record=record, version=1, deleted=vendor)


def _decision(held: str, *against: str) -> AuditEntry:
    finding = Finding(
        code="NAME_DRIFT", severity=Severity.MEDIUM, explanation="-", subject=held, related=against
    )
    return AuditEntry(
        entry_id=f"evt_{held}",
        at=NOW,
        records=(held, *against),
        kind=EntryKind.DECISION,
        decision=Decision.QUARANTINE,
        mode=Mode.ENFORCE,
        findings=(finding,),
    )


def _hold(ref: str, status: HoldStatus = HoldStatus.HELD) -> Hold:
    return Hold(hold_id=ref, entry_id=f"evt_{ref}", at=NOW, mode="enforce", status=status)


class Releases:
    """``AdminService.release_moot`` as the check calls it: records each call; refuses those in
    ``refused``."""

    def __init__(self, *refused: str) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []
        self.refused = set(refused)

    def __call__(self, hold_id: str, *, actor: str, vendors: Iterable[str]) -> OperationResult:
        if hold_id in self.refused:
            raise Conflict("being written to Zoho right now", field="hold_id")
        self.calls.append((hold_id, actor, sorted(vendors)))
        entry = admin_entry("release_moot", actor=actor, at=NOW, mode=Mode.ENFORCE, note="-")
        return OperationResult(operation="release_moot", entry=entry)


def _moot(holds: MemoryHolds, decisions: dict[str, AuditEntry], release: Releases) -> MootHolds:
    return MootHolds(holds, decisions.get, release)


def test_the_guards_holds_a_vendor_made_moot_are_released_without_judging() -> None:
    # the vendor held itself; a CRM account held against it; a customer held against it and a live one
    holds = MemoryHolds(
        items=[_hold("books:1"), _hold("crm:2"), _hold("books:3")],
        known={
            "books:1": _state("books:1", vendor=True),
            "crm:2": _state("crm:2"),
            "books:3": _state("books:3"),
            "books:4": _state("books:4"),
        },
    )
    decisions = {
        "evt_books:1": _decision("books:1", "books:4"),
        "evt_crm:2": _decision("crm:2", "books:1"),
        "evt_books:3": _decision("books:3", "books:1", "books:4"),
    }
    release = Releases()

    released = _moot(holds, decisions, release).release_for("books:1")

    assert released == ["books:1", "crm:2"]
    assert release.calls == [("books:1", GUARD_ACTOR, ["books:1"]), ("crm:2", GUARD_ACTOR, ["books:1"])]
    # ... and a record not retired releases nothing
    assert _moot(holds, decisions, release).release_for("books:4") == []


def test_an_admins_own_hold_and_a_confirmed_hold_stay() -> None:
    holds = MemoryHolds(
        items=[_hold("books:1"), _hold("books:5", HoldStatus.CONFIRMED)],
        known={"books:1": _state("books:1", vendor=True), "books:5": _state("books:5", vendor=True)},
    )
    by_hand = admin_entry("hold", actor="user:ivy", at=NOW, mode=Mode.ENFORCE, note="by hand")
    decisions = {"evt_books:1": by_hand, "evt_books:5": _decision("books:5", "books:4")}
    release = Releases()

    assert _moot(holds, decisions, release).release_for("books:1") == []
    assert _moot(holds, decisions, release).release_for("books:5") == []
    assert release.calls == []


def test_a_release_that_conflicts_fails_so_that_the_event_comes_again() -> None:
    holds = MemoryHolds(items=[_hold("books:1")], known={"books:1": _state("books:1", vendor=True)})
    release = Releases("books:1")

    with pytest.raises(Conflict):
        _moot(holds, {"evt_books:1": _decision("books:1")}, release).release_for("books:1")


def test_every_hold_any_vendor_made_moot_is_found_at_once_oldest_first() -> None:
    # the vendor books:1 held itself; crm:2 held against two vendors; books:3 against a vendor and a
    # customer; crm:6 against books:7, a vendor, held before the others; books:8 an admin's own hold
    holds = MemoryHolds(
        items=[_hold("books:1"), _hold("crm:2"), _hold("books:3"), _hold("crm:6"), _hold("books:8")],
        known={
            "books:1": _state("books:1", vendor=True),
            "crm:2": _state("crm:2"),
            "books:3": _state("books:3"),
            "books:4": _state("books:4"),
            "books:5": _state("books:5", vendor=True),
            "crm:6": _state("crm:6"),
            "books:7": _state("books:7", vendor=True),
            "books:8": _state("books:8", vendor=True),
        },
    )
    holds.items[3] = holds.items[3].model_copy(update={"at": NOW.replace(day=1)})
    decisions = {
        "evt_books:1": _decision("books:1", "books:4"),
        "evt_crm:2": _decision("crm:2", "books:1", "books:5"),
        "evt_books:3": _decision("books:3", "books:5", "books:4"),
        "evt_crm:6": _decision("crm:6", "books:7"),
        "evt_books:8": admin_entry("hold", actor="user:ivy", at=NOW, mode=Mode.ENFORCE, note="by hand"),
    }

    found = _moot(holds, decisions, Releases()).moot()

    assert [(hold.hold_id, sorted(vendors)) for hold, vendors in found] == [
        ("crm:6", ["books:7"]),
        ("books:1", ["books:1"]),
        ("crm:2", ["books:1", "books:5"]),
    ]
    # ... and the states are read in two requests whatever the number of holds: the held, then the others
    assert len(holds.asked) == 2


class Holds:
    """``AdminService.hold`` as ``restore_for`` calls it: records each call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def __call__(self, hold_id: str, **fields: object) -> OperationResult:
        self.calls.append({"hold_id": hold_id, **fields})
        entry = admin_entry("hold_again", actor=GUARD_ACTOR, at=NOW, mode=Mode.ENFORCE, note="-")
        return OperationResult(operation="hold_again", entry=entry)


def _release_entry(held: str, note: str, actor: str = GUARD_ACTOR) -> AuditEntry:
    return admin_entry(
        "release", actor=actor, at=NOW, mode=Mode.ENFORCE, note=note, entry_id=f"rel_{held}", records=(held,)
    )


def test_a_customer_again_has_the_records_its_retirement_freed_held_again_unless_a_person_decided() -> None:
    # books:1 is a customer again; the guard had held crm:2, crm:3, crm:4, crm:5 and crm:6 against it, and
    # released each as moot when books:1 turned vendor; since then a person released crm:3 (held by hand in
    # between), an admin judged crm:4 not a duplicate of books:1, crm:5 is held, crm:6 was renamed
    moot = moot_reason(["books:1"])
    states = {"books:1": _state("books:1")}
    states |= {f"crm:{n}": _state(f"crm:{n}") for n in (2, 3, 4, 6)}
    states["crm:4"] = states["crm:4"].model_copy(update={"cleared": frozenset({"books:1"})})
    states["crm:5"] = _state("crm:5").model_copy(update={"held_by": "evt_crm:5"})
    decisions = {f"crm:{n}": _decision(f"crm:{n}", "books:1") for n in range(2, 7)}
    releases = {
        "crm:2": [_release_entry("crm:2", moot + "; nothing had been written to Zoho")],
        "crm:3": [_release_entry("crm:3", "checked: different", "user:ivy"), _release_entry("crm:3", moot)],
        "crm:4": [_release_entry("crm:4", moot)],
        "crm:5": [_release_entry("crm:5", moot)],
        "crm:6": [_release_entry("crm:6", moot)],
    }

    def naming(ref: str, since: datetime) -> list[AuditEntry]:
        if ref == "books:1":
            return list(decisions.values())
        return releases.get(ref, [])

    holds = Holds()
    moot_holds = MootHolds(MemoryHolds(known=states), {}.get, Releases(), naming, holds)

    again = moot_holds.restore_for("books:1", lambda held, customer: held.record_id != "6")

    # then only crm:2 is held again, by the guard, with its decision's rules and findings
    assert again == ["crm:2"]
    [call] = holds.calls
    assert (call["hold_id"], call["actor"], call["operation"]) == ("crm:2", GUARD_ACTOR, "hold_again")
    assert call["rules"] == ("NAME_DRIFT",)
    assert call["related"] == ("books:1",)
    assert call["findings"] == decisions["crm:2"].findings
    assert str(call["reason"]).startswith("books:1 is a Books customer again")
    # ... and a vendor still, or a record nobody held against, holds nothing
    states["books:1"] = _state("books:1", vendor=True)
    assert moot_holds.restore_for("books:1", lambda held, customer: True) == []


def _moot_release(held: str, *vendors: str, note: str) -> AuditEntry:
    """A release of ``held``'s hold made moot by ``vendors`` as ``AdminService.release_moot`` records it."""
    return admin_entry(
        "release_moot",
        actor="user:ivy",
        at=NOW,
        mode=Mode.ENFORCE,
        note=note,
        entry_id=f"rel_{held}",
        records=(held, *(v for v in vendors if v != held)),
    )


def test_a_moot_release_is_known_by_its_operation_and_one_written_before_it_existed_by_its_note() -> None:
    # books:1 is a customer again; the guard had held crm:2, crm:3 and crm:4 against it. crm:2's hold was
    # released as moot by books:1 (operation release_moot, whatever its note reads: worded otherwise since);
    # crm:3's before that operation existed (operation release, the note in the words of then); crm:4's by
    # a release_moot naming another vendor, its note reading as if books:1 had
    states = {"books:1": _state("books:1")} | {f"crm:{n}": _state(f"crm:{n}") for n in (2, 3, 4)}
    decisions = {f"crm:{n}": _decision(f"crm:{n}", "books:1") for n in (2, 3, 4)}
    then = "books:1 is a Books vendor now (a customer no longer, retired from matching), so the hold is moot"
    releases = {
        "crm:2": [_moot_release("crm:2", "books:1", note="Acme Ltd became a supplier in Books")],
        "crm:3": [_release_entry("crm:3", then + "; nothing had been written to Zoho", "user:ivy")],
        "crm:4": [_moot_release("crm:4", "books:9", note=then)],
    }

    def naming(ref: str, since: datetime) -> list[AuditEntry]:
        return list(decisions.values()) if ref == "books:1" else releases.get(ref, [])

    holds = Holds()
    moot_holds = MootHolds(MemoryHolds(known=states), {}.get, Releases(), naming, holds)

    again = moot_holds.restore_for("books:1", lambda held, customer: True)

    # then the two released as books:1's moot holds are held again; the third was not its
    assert again == ["crm:2", "crm:3"]
