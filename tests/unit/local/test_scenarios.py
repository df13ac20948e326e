"""Scenarios without the guard: each reproduces its seed pattern, deterministically, counted from truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_guard.local.scenarios import SCENARIOS
from sync_guard.local.scenarios.counting import Baseline, count_outcome
from sync_guard.local.scenarios.runner import run_scenarios, run_without_guard, totals
from sync_guard.local.scenarios.world import ACT_LAG, HISTORY_AGE, HOLD_TAG, TickingClock, World
from sync_guard.local.zoho_simulator.native_sync import NativeSync
from sync_guard.local.zoho_simulator.state import SimulatorState, Source


@pytest.mark.parametrize(
    ("name", "duplicates", "invoiced", "failures"),
    [
        ("name_drift", 8, 8, 0),
        ("both_sides", 4, 4, 0),
        ("deleted_partner", 4, 4, 0),
        ("crm_merge", 3, 0, 0),
        ("email_mismatch", 4, 4, 0),
        ("display_name_collision", 0, 0, 8),
        ("reconnect", 40, 10, 0),
        # 6 failures: every record edited or created while the connecting user was gone, once
        ("stalled_sync", 2, 2, 6),
    ],
)
def test_each_scenario_reproduces_its_pattern_without_the_guard(
    name: str, duplicates: int, invoiced: int, failures: int
) -> None:
    counts, _ = run_without_guard(SCENARIOS[name]())
    assert counts.duplicates == duplicates
    assert counts.live_duplicates == duplicates  # nobody held anything
    assert counts.invoiced_duplicates == invoiced
    assert counts.sync_failures == failures
    assert counts.held == 0


def test_runs_are_deterministic() -> None:
    first = [r.without_guard.to_json() for r in run_scenarios()]
    second = [r.without_guard.to_json() for r in run_scenarios()]
    assert first == second
    assert totals(run_scenarios()).duplicates_without == 65


def test_a_clock_that_ticks_gives_every_change_its_own_second() -> None:
    clock = TickingClock()
    assert len({clock() for _ in range(100)}) == 100


def test_a_slow_run_does_not_leave_the_simulated_clock_further_behind_the_guards_than_the_acts_lag() -> None:
    # the real clock (the guard's) and a scenario's clock, its history a month back, its act yesterday
    real = [datetime(2026, 12, 7, 12, 0, tzinfo=UTC)]
    clock = TickingClock(wall=lambda: real[0])
    clock.advance(HISTORY_AGE)
    first = clock()
    assert first == real[0] - ACT_LAG + timedelta(seconds=1)

    # readings faster than real time tick a second each
    assert clock() == first + timedelta(seconds=1)

    # an hour of real time with no reading (a loaded machine, Zoho's Retry-After): the act moves on with it
    real[0] += timedelta(hours=1)
    later = clock()
    assert later == real[0] - ACT_LAG
    assert real[0] - clock() < ACT_LAG


def world_with_sync() -> World:
    world = World(SimulatorState(clock=TickingClock()))
    world.native_sync()
    return world


def test_records_made_by_the_sync_inherit_the_entity_of_their_crm_record() -> None:
    world = world_with_sync()
    crm_id = world.account("acme", "Acme Ltd")
    world.connect(guarded=False)
    assert world.sync is not None
    books_id = world.sync.mapped_customer(crm_id)
    assert world.entity_of(f"books:{books_id}") == "acme"


def test_counting_ignores_duplicates_that_existed_before_the_act() -> None:
    world = world_with_sync()
    world.customer("acme", "Acme Limited")
    world.account("acme", "Acme Ltd")
    world.connect(guarded=False)  # the clone exists before the act
    baseline = Baseline.of(world)
    assert count_outcome(world, baseline).duplicates == 0


def test_an_inactive_duplicate_is_not_live_and_cannot_be_invoiced() -> None:
    # given a drift duplicate created in the act, then held (marked inactive) through the API
    world = world_with_sync()
    books_id = world.customer("acme", "Acme Limited")
    world.past_invoice(books_id)
    world.account("acme", "Acme Ltd")
    baseline = Baseline.of(world)
    world.connect(guarded=False)
    assert world.sync is not None
    clone = world.sync.mapped_customer(world.state.crm_list("Accounts")[0]["id"])
    assert clone is not None
    world.state.books_set_status(clone, False, source=Source.API)
    invoice = world.raise_invoice("Acme Ltd")
    counts = count_outcome(world, baseline)
    # then it still counts as a duplicate created, but not live, not invoiced, and held once
    assert (counts.duplicates, counts.live_duplicates, counts.invoiced_duplicates) == (1, 0, 0)
    assert counts.held == 1
    assert invoice.customer_id == books_id  # the bookkeeper found the original by name search


def test_crm_hold_tag_counts_as_held_and_keeps_the_record_out_of_the_sync() -> None:
    world = world_with_sync()
    crm_id = world.account("acme", "Acme Ltd")
    world.customer("acme", "Acme Limited")
    baseline = Baseline.of(world)
    world.state.crm_set_tags("Accounts", crm_id, add=[HOLD_TAG], source=Source.API)
    world.connect(guarded=False)
    counts = count_outcome(world, baseline)
    assert (counts.duplicates, counts.held) == (0, 1)


def test_merge_relabels_and_counts_the_orphan() -> None:
    world = world_with_sync()
    master = world.account("harbour", "Harbour Ltd")
    other = world.account("harbour-trading", "Harbour Trading")
    world.connect(guarded=False)
    baseline = Baseline.of(world)
    world.merge(master, [other])
    counts = count_outcome(world, baseline)
    assert world.entity_of(f"crm:{other}") == "harbour"
    assert counts.duplicates == 1


def test_hooks_run_around_connects_and_cycles() -> None:
    calls: list[str] = []
    world = World(
        SimulatorState(clock=TickingClock()),
        checkpoint=lambda: calls.append("checkpoint"),
        before_connect=lambda w: calls.append("preflight"),
    )
    world.sync = NativeSync(world.state)
    world.connect()
    world.sync_cycle()
    assert calls == ["preflight", "checkpoint", "checkpoint", "checkpoint", "checkpoint"]
