"""Run scenarios without the guard (simulator + native sync only) and with it, and total the results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sync_guard.local.scenarios import SCENARIOS
from sync_guard.local.scenarios.base import Scenario
from sync_guard.local.scenarios.counting import Baseline, Counts, count_outcome, merge_rules
from sync_guard.local.scenarios.guarded import GuardedEnvironment
from sync_guard.local.scenarios.world import TickingClock, World
from sync_guard.local.zoho_simulator.state import SimulatorState


@dataclass
class ScenarioResult:
    """One scenario, both ways."""

    name: str
    title: str
    pattern: str
    without_guard: Counts
    with_guard: Counts | None = None
    seconds_without: float = 0.0
    seconds_with: float = 0.0
    preflight_holds: int = 0
    renames: list[str] = field(default_factory=list)

    @property
    def rules_fired(self) -> dict[str, int]:
        return dict(self.with_guard.rules_fired) if self.with_guard else {}

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "pattern": self.pattern,
            "without_guard": self.without_guard.to_json(),
            "with_guard": self.with_guard.to_json() if self.with_guard else None,
            "rules_fired": self.rules_fired,
            "preflight_holds": self.preflight_holds,
            "renames": self.renames,
            "seconds": {
                "without_guard": round(self.seconds_without, 2),
                "with_guard": round(self.seconds_with, 2),
            },
        }


@dataclass
class Totals:
    duplicates_without: int
    duplicates_with: int
    live_with: int
    invoiced_without: int
    invoiced_with: int

    @property
    def live_ratio(self) -> float:
        """Live duplicates with the guard per duplicate without it (the target is <= 0.05)."""
        return self.live_with / self.duplicates_without if self.duplicates_without else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "duplicates_without_guard": self.duplicates_without,
            "duplicates_with_guard": self.duplicates_with,
            "live_duplicates_with_guard": self.live_with,
            "invoiced_duplicates_without_guard": self.invoiced_without,
            "invoiced_duplicates_with_guard": self.invoiced_with,
            "live_ratio": round(self.live_ratio, 4),
        }


def totals(results: Iterable[ScenarioResult]) -> Totals:
    """Sums over the scenarios (the demo's bottom line)."""
    results = list(results)
    guarded = [r.with_guard for r in results if r.with_guard is not None]
    return Totals(
        duplicates_without=sum(r.without_guard.duplicates for r in results),
        duplicates_with=sum(c.duplicates for c in guarded),
        live_with=sum(c.live_duplicates for c in guarded),
        invoiced_without=sum(r.without_guard.invoiced_duplicates for r in results),
        invoiced_with=sum(c.invoiced_duplicates for c in guarded),
    )


def all_rules(results: Iterable[ScenarioResult]) -> dict[str, int]:
    from collections import Counter

    return merge_rules([Counter(r.rules_fired) for r in results])


def run_without_guard(scenario: Scenario) -> tuple[Counts, float]:
    """The scenario on the simulator and the native sync alone (in process, no HTTP)."""
    started = time.monotonic()
    clock = TickingClock()
    world = World(SimulatorState(clock=clock), clock=clock)
    scenario.build(world)
    world.time_passes()
    baseline = Baseline.of(world)
    scenario.act(world)
    counts = count_outcome(world, baseline)
    if world.sync is not None:
        world.sync.close()
    return counts, time.monotonic() - started


def run_scenarios(
    names: Iterable[str] | None = None,
    *,
    environment: GuardedEnvironment | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> list[ScenarioResult]:
    """Run each named scenario (all by default) without the guard and, given an environment, with it."""
    results = []
    for name in names or list(SCENARIOS):
        factory = SCENARIOS[name]
        reference = factory()
        without, seconds_without = run_without_guard(reference)
        result = ScenarioResult(
            name=name,
            title=reference.title,
            pattern=reference.pattern,
            without_guard=without,
            seconds_without=seconds_without,
        )
        if environment is not None:
            guarded = environment.run(factory())
            result.with_guard = guarded.counts
            result.seconds_with = guarded.seconds
            result.preflight_holds = sum(len(plan.holds) for plan in guarded.preflight)
            result.renames = [hold.rename for plan in guarded.preflight for hold in plan.holds]
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
