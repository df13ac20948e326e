"""The seed's worst case: a reconnect re-runs name matching; dozens of duplicates become hundreds."""

from __future__ import annotations

from sync_guard.config import Mode
from sync_guard.guard.admin import reset_storm_breaker
from sync_guard.guard.model import ActionKind, Decision, EntryKind
from tests.unit.rules.replay import LONG_AGO, Replay, assert_decided

NAMES = [
    f"{word} Holdings Ltd"
    for word in (
        "Amber",
        "Birch",
        "Cedar",
        "Dune",
        "Ember",
        "Fjord",
        "Garnet",
        "Hazel",
        "Indigo",
        "Juniper",
        "Kelp",
        "Lark",
    )
]


def test_reconnect_storm_trips_the_breaker_once_and_holds_creates_until_reset() -> None:
    replay = Replay(storm_threshold=10, storm_window_seconds=600)
    for number, name in enumerate(NAMES):
        replay.crm("create", f"57261{number:02d}", minutes=60, name=name)
        replay.books(
            "create",
            f"46101{number:02d}",
            minutes=60,
            contact_name=name,
            zcrm_account_id=f"57261{number:02d}",
            created=LONG_AGO,
        )

    # reconnect: the map is gone, the sync creates a drifted copy of every customer within minutes
    entries = [
        replay.books("create", f"46199{number:02d}", minutes=0.5, contact_name=name.replace("Ltd", "Limited"))
        for number, name in enumerate(NAMES)
    ]

    decisions = [e.decision for e in entries]
    assert decisions[:9] == [Decision.QUARANTINE] * 9  # each one is name drift, held on its own merits
    trip = entries[9]
    assert_decided(
        trip,
        "MULTIPLICATION_STORM",
        Decision.QUARANTINE,
        "10 new records matching existing customers within 10 to 20 minutes",
    )
    notified = [e for e in entries[9:] if any(a.kind is ActionKind.NOTIFY_FINANCE for a in e.actions)]
    assert notified == [trip]  # one alert for the storm, not one per record
    for held in entries[10:]:
        assert_decided(held, "MULTIPLICATION_STORM", Decision.QUARANTINE, f"opened by event {trip.event_id}")
    assert replay.shadow.breaker.open

    # while open even an unrelated create is held
    unrelated = replay.crm("create", "5726999", name="Totally New Company Ltd")
    assert_decided(unrelated, "MULTIPLICATION_STORM", Decision.QUARANTINE)

    # an admin resets the breaker; the reset is audited with its actor
    reset = reset_storm_breaker(
        replay.shadow, actor="alice@example.org", reason="sync paused", mode=Mode.ENFORCE, now=replay.now
    )
    assert replay.shadow.entries[reset.entry_id].kind is EntryKind.ADMIN
    assert replay.shadow.entries[reset.entry_id].actor == "alice@example.org"
    after = replay.crm("create", "5726998", name="Another New Company Ltd")
    assert after.decision is Decision.ALLOW


def test_a_duplicate_that_comes_back_after_its_delete_counts_towards_the_storm_again() -> None:
    # given a breaker that trips on the second create matching an existing record, and one such create,
    # deleted since
    replay = Replay(storm_threshold=2, storm_window_seconds=600)
    replay.books("create", "461200", contact_name="Amber Holdings Ltd", created=LONG_AGO)
    replay.crm("create", "5726200", name="Amber Holdings Limited")
    replay.crm("delete", "5726200")
    # when the same record arrives again as a create (restored from the recycle bin), it is new again
    restored = replay.crm("create", "5726200", name="Amber Holdings Limited")
    # then it is the second hit, and trips the breaker
    assert_decided(
        restored, "MULTIPLICATION_STORM", Decision.QUARANTINE, "the breaker opened with this record"
    )
