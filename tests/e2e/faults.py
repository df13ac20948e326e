"""Faults for the random sequences: Zoho failing for a stretch, webhooks posted twice, late or out of order.

A seed draws a :class:`FaultProfile`. Its Zoho faults are the simulator's own (``FaultInjector``: 429 with
``Retry-After``, 500, a slow answer that ends in 504, with or without the write applied) at a seeded rate
for a stretch of steps, then healed. Its webhook faults are played by :class:`ControlledEmitter`: a
delivery is posted twice, held back until a later delivery for the same record has left or for a few
steps (late), or held back until a delivery from the other Zoho app has left (CRM and Books out of
order). Held deliveries are posted by the end of their step (:meth:`FaultRun.settle`), or of the step
they are late for, and all of them once healed: none is lost, only late.

While Zoho fails, events and actions end in the dead-letter queues rather than in a final status, so a
step waits for the guard to be *quiet* (its queues empty, no action under way) instead of idle, for as long
as it moves (webhooks answered, messages taken or dead-lettered, actions tried): it gives up once nothing
moved for two minutes, naming what is stuck (:meth:`FaultRun.wait_quiet`). Healing
is what an administrator does: wait for Zoho to answer, then ``sync-guard replay-dlq`` (the function the
command calls), until the dead-letter queues stay empty; and what the outbox sweep's schedule does for an
action an executor lost while DynamoDB failed (left running, no message anywhere): queue it again once its
lease has run out (:meth:`FaultRun.sweep_lapsed_claims`).

The checks that only make sense once everything healed (:func:`unsettled_events`, :func:`redundant_writes`,
:func:`emails_in_clear` and the queues' state) are plain functions of what they read, so that a test can
show each of them failing.

DynamoDB fails too, for its own stretch of steps: the functions reach DynamoDB Local through a proxy
(``tests/support/dynamodb_proxy.py``, which says why a proxy) that answers some of their calls with
DynamoDB's throttling, its 500, a cancelled transaction or no answer at all. The scenario's own reads and
the administrator's commands go to the server directly. While it fails, the ingest may refuse a webhook
(a 5xx: nothing was stored, nothing acknowledged); Zoho then does what it does with a failed webhook
(``/work/shared/spec/zoho-facts.md``): Books retries it (its retry policy; here once DynamoDB answers
again), CRM does not retry but lists it among its webhook failures, which the guard's scheduled Zoho checks
replay; a Notification API callback is not retried, and the workflow webhook of the same change carries it.
Healing waits for both sides' stretches to end.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sync_guard.cli.replay_dlq import QueueChoice, replay
from sync_guard.errors import InvalidPayload
from sync_guard.guard.model import EntryKind
from sync_guard.local.scenarios.guarded import (
    IDLE_CAP_SECONDS,
    ZOHO_CHECKS_FUNCTION,
    GuardedEnvironment,
    GuardNotIdle,
    Look,
    Progress,
    actions_under_way,
    name_actions,
    queue_depths,
)
from sync_guard.local.scenarios.world import World
from sync_guard.local.zoho_simulator.faults import (
    DEFAULT_KINDS,
    FaultConfig,
    FaultInjector,
    FaultKind,
    RequestRecord,
)
from sync_guard.local.zoho_simulator.state import ChangeEvent, ChangeKind, SimulatorState, Source
from sync_guard.local.zoho_simulator.webhooks import Delivery, DeliveryResult, GuardEndpoints, WebhookEmitter
from sync_guard.store import aws
from sync_guard.store.outbox import Outbox
from sync_guard.zoho.payloads import parse_crm_workflow
from tests.support.dynamodb_proxy import DynamoFaultConfig, DynamoFaultKind, DynamoFaultProxy
from tests.support.logs import leaks

#: What the guard writes to Zoho, by the simulator's route name: each is idempotent in the simulator (a
#: repeat answers 200 and changes nothing), so a write the guard sent twice shows as a 2xx with no change.
GUARD_WRITE_ROUTES = ("crm.add_tags", "crm.remove_tags", "books.mark_inactive", "books.mark_active")
#: Audit entries that are an event's verdict (one per acknowledged event); admin and executor entries are not.
VERDICT_KINDS = frozenset(
    {
        EntryKind.DECISION,
        EntryKind.SELF_ECHO,
        EntryKind.STALE,
        EntryKind.AWAITING_ENRICHMENT,
        EntryKind.UNKNOWN_RECORD,
        EntryKind.NOT_GUARDED,
    }
)
#: Outbox statuses that must be gone once everything healed and the dead letters were replayed.
UNFINISHED_ACTIONS = ("pending", "running", "retrying", "dead_lettered")
REPLAY_ACTOR = "random-sequence admin"
#: The outbox sweep's function in template.yaml (every five minutes on AWS).
SWEEP_FUNCTION = "SweepFunction"
#: The route of the events the scheduled checks store for CRM's webhook failures.
WEBHOOK_FAILURES_ROUTE = "schedule:crm-webhook-failures"
#: The DynamoDB operations the guard's functions call, which a profile picks from.
DYNAMODB_OPERATIONS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
)
#: Which side fails in a drawn profile (``RANDOM_SEQUENCE_FAULTS``): Zoho, DynamoDB, or both.
FAULT_SIDES = frozenset({"zoho", "dynamodb"})


@dataclass(frozen=True)
class FaultProfile:
    """One seed's faults: Zoho failing from ``zoho_from`` to ``zoho_until`` (step numbers, 1-based, the
    latter excluded), and the share of webhooks posted twice, late, or out of order."""

    seed: int
    zoho_rate: float
    zoho_kinds: tuple[FaultKind, ...]
    timeout_applies_effect: bool
    zoho_from: int
    zoho_until: int
    twice: float
    late: float
    reordered: float
    #: The Notification API channel registered too (by a run of the scheduled checks at go-live): CRM
    #: changes then also come as ids only, which the processor fetches from Zoho (and Zoho's faults reach).
    notifications: bool
    #: DynamoDB failing (the functions' calls) from ``dynamodb_from`` to ``dynamodb_until``: that share of
    #: the calls of ``dynamodb_operations`` (empty: all), with these kinds; 0: DynamoDB never fails.
    dynamodb_rate: float = 0.0
    dynamodb_kinds: tuple[DynamoFaultKind, ...] = ()
    dynamodb_operations: tuple[str, ...] = ()
    dynamodb_timeout_applies_effect: bool = False
    dynamodb_from: int = 1
    dynamodb_until: int = 1

    @classmethod
    def draw(cls, seed: int, steps: int, sides: frozenset[str] = FAULT_SIDES) -> FaultProfile:
        """The seed's profile; ``sides`` that fail (the Zoho side's draws stay the same without DynamoDB's,
        so a seed found before DynamoDB could fail still plays the same Zoho faults)."""
        zoho = cls._draw_zoho(seed, steps)
        if "zoho" not in sides:
            zoho = replace(zoho, zoho_rate=0.0, zoho_until=zoho.zoho_from)
        if "dynamodb" not in sides:
            return zoho
        rng = random.Random(f"dynamodb faults {seed}")
        kinds = tuple(k for k in DynamoFaultKind if rng.random() < 0.6) or (DynamoFaultKind.INTERNAL_ERROR,)
        picked = tuple(op for op in DYNAMODB_OPERATIONS if rng.random() < 0.5)
        start = 1 + rng.randrange(max(1, steps // 2))
        return replace(
            zoho,
            dynamodb_rate=rng.choice((0.1, 0.25, 0.5)),
            dynamodb_kinds=kinds,
            # A third of the profiles fail every operation; the rest some of them (a hot table, one index).
            dynamodb_operations=() if rng.random() < 0.33 else picked,
            dynamodb_timeout_applies_effect=rng.random() < 0.5,
            dynamodb_from=start,
            dynamodb_until=min(steps + 1, start + 1 + rng.randrange(max(1, steps // 6))),
        )

    @classmethod
    def _draw_zoho(cls, seed: int, steps: int) -> FaultProfile:
        rng = random.Random(f"faults {seed}")
        kinds = tuple(k for k in DEFAULT_KINDS if rng.random() < 0.7) or (FaultKind.SERVER_ERROR,)
        start = 1 + rng.randrange(max(1, steps // 3))
        return cls(
            seed=seed,
            zoho_rate=rng.choice((0.3, 0.7, 1.0)),
            zoho_kinds=kinds,
            timeout_applies_effect=rng.random() < 0.5,
            zoho_from=start,
            zoho_until=min(steps + 1, start + steps // 4 + rng.randrange(max(1, steps // 4))),
            twice=rng.choice((0.0, 0.1, 0.25)),
            late=rng.choice((0.0, 0.1, 0.25)),
            reordered=rng.choice((0.0, 0.1, 0.25)),
            notifications=rng.random() < 0.5,
        )

    @classmethod
    def calm(cls, seed: int) -> FaultProfile:
        """No fault drawn: a hand-written scenario configures the simulator's faults itself."""
        return cls(seed, 0.0, (), False, 1, 1, 0.0, 0.0, 0.0, notifications=False)

    def zoho_faults(self) -> FaultConfig:
        return FaultConfig(
            rate=self.zoho_rate,
            weights=dict.fromkeys(self.zoho_kinds, 1.0),
            retry_after=0.2,
            delay=0.3,
            timeout_applies_effect=self.timeout_applies_effect,
            seed=self.seed,
        )

    def dynamodb_faults(self) -> DynamoFaultConfig:
        return DynamoFaultConfig(
            rate=self.dynamodb_rate,
            weights=dict.fromkeys(self.dynamodb_kinds, 1.0),
            operations=frozenset(self.dynamodb_operations),
            timeout_applies_effect=self.dynamodb_timeout_applies_effect,
            seed=self.seed,
        )

    def emitter(self, state: SimulatorState, endpoints: GuardEndpoints, **options: Any) -> ControlledEmitter:
        """The emitter that plays this profile's webhook faults (``GuardedEnvironment.go_live``'s factory)."""
        return ControlledEmitter(state, endpoints, profile=self, **options)


@dataclass(frozen=True)
class _Held:
    delivery: Delivery
    #: Posted once a delivery for this record has left (late), or one from this app (out of order).
    after_record: tuple[str, str] | None = None
    after_app: str | None = None
    #: Held through the steps before this one (late by minutes, as people work on).
    until_step: int = 0

    def due(self, delivery: Delivery) -> bool:
        return (delivery.module, delivery.record_id) == self.after_record or _app(delivery) == self.after_app


def _app(delivery: Delivery) -> str:
    return "books" if delivery.kind == "books" else "crm"


class ControlledEmitter(WebhookEmitter):
    """Zoho's webhooks, some posted twice, some late, some out of order (see the module docstring).

    The draws follow the order of Zoho's changes; the guard's own writes come from the simulator's threads,
    so a seed's webhook faults are the same only as far as that order is.
    """

    def __init__(
        self, state: SimulatorState, endpoints: GuardEndpoints, *, profile: FaultProfile, **options: Any
    ) -> None:
        self.profile = profile
        self._rng = random.Random(f"webhooks {profile.seed}")
        self._routing = threading.Lock()
        self.held: list[_Held] = []
        #: The step being played (set by :class:`FaultRun`): deliveries late by steps wait for theirs.
        self.step = 0
        self.counts: Counter[str] = Counter()
        super().__init__(state, endpoints, **options)

    def _on_change(self, event: ChangeEvent) -> None:
        for delivery in self.deliveries_for(event):
            self._route(delivery)

    def _route(self, delivery: Delivery) -> None:
        with self._routing:
            due = [held for held in self.held if held.due(delivery)]
            self.held = [held for held in self.held if held not in due]
            draw = self._rng.random()
            p = self.profile
            if draw < p.late / 2:
                self.held.append(_Held(delivery, after_record=(delivery.module, delivery.record_id)))
                self.counts["late"] += 1
            elif draw < p.late:
                self.held.append(_Held(delivery, until_step=self.step + self._rng.randint(1, 4)))
                self.counts["steps late"] += 1
            elif draw < p.late + p.reordered:
                other = "crm" if _app(delivery) == "books" else "books"
                self.held.append(_Held(delivery, after_app=other))
                self.counts["out of order"] += 1
            else:
                self._queue(delivery)
                if draw < p.late + p.reordered + p.twice:
                    self._queue(delivery)
                    self.counts["twice"] += 1
            for held in due:
                self._queue(held.delivery)

    def release_held(self, *, everything: bool = False) -> int:
        """Post the deliveries held back (but those late by steps, until their step; ``everything``: all),
        in the order they were held; how many."""
        with self._routing:
            due = [h for h in self.held if everything or h.until_step <= self.step]
            self.held = [h for h in self.held if h not in due]
            for item in due:
                self._queue(item.delivery)
        return len(due)

    @property
    def held_for_now(self) -> bool:
        """Whether a delivery is held that the current step should post."""
        with self._routing:
            return any(h.until_step <= self.step for h in self.held)


# ------------------------------------------------------------------------------------------ the run


class FaultRun:
    """Applies a profile to one guarded world: Zoho's faults by step, the quiet waits, the healing."""

    def __init__(
        self,
        environment: GuardedEnvironment,
        world: World,
        emitter: ControlledEmitter,
        profile: FaultProfile,
        dynamodb: DynamoFaultProxy | None = None,
        *,
        stall_seconds: float = 120.0,
    ) -> None:
        """``dynamodb``: the proxy the functions reach DynamoDB through (needed when the profile has
        DynamoDB fail); ``stall_seconds``: how long a wait for the guard goes on with nothing moving
        (longer than any one of the guard's retries takes: a Lambda's batch of DynamoDB calls each
        retried five times, a read timed out)."""
        simulator = environment.simulator
        assert simulator is not None
        assert dynamodb is not None or not profile.dynamodb_rate, "DynamoDB faults need the proxy"
        self.environment = environment
        self.stall_seconds = stall_seconds
        self.world = world
        self.emitter = emitter
        self.profile = profile
        self.faults: FaultInjector = simulator.faults
        self.dynamodb = dynamodb
        self.requests_before = len(simulator.requests.records)
        self.injected_before = Counter(self.faults.injected)
        self.dynamodb_injected_before = Counter(dynamodb.injected) if dynamodb else Counter[str]()
        self.replayed: Counter[str] = Counter()
        self.zoho_failing = False
        self.dynamodb_failing = False
        #: Positions in ``emitter.results`` of the webhooks posted while DynamoDB failed (the guard may
        #: refuse those), as [start, end) stretches.
        self.dynamodb_stretches: list[list[int]] = []
        #: The webhooks refused and re-delivered so far (their positions in ``emitter.results``).
        self.redelivered: set[int] = set()
        self.checks_runs = 0
        #: Actions left running by an executor that lost them, which the sweep queued again.
        self.swept = 0
        self._step_started = (time.monotonic(), 0, 0)
        #: The sides that failed since the last healing (dead letters to replay, webhooks to send again).
        self.unhealed: set[str] = set()
        self.fed_before = set(events_fed_by_checks(environment))
        # The world's own checkpoints (before and after a sync run) must not wait for dead-lettered events.
        world.checkpoint = self.wait_quiet

    def _flush(self) -> None:
        """Wait until every webhook queued so far has its answer (a stretch's bounds are positions)."""
        self.environment.wait_until(stall_seconds=self.stall_seconds)

    @property
    def failing(self) -> bool:
        """Zoho or DynamoDB failing: an event or a release may wait in a dead-letter queue meanwhile."""
        return self.zoho_failing or self.dynamodb_failing

    def before_step(self, number: int) -> bool:
        """Start or end each side's faults as the profile says for step ``number``, and heal once neither
        fails any more; True when it healed."""
        self.emitter.step = number
        failing = self.profile.zoho_from <= number < self.profile.zoho_until
        if failing and not self.zoho_failing:
            self.faults.configure(self.profile.zoho_faults())
            self.unhealed.add("zoho")
        if not failing and self.zoho_failing:
            self.faults.disable()
        self.zoho_failing = failing
        failing = self.profile.dynamodb_from <= number < self.profile.dynamodb_until
        if failing and not self.dynamodb_failing:
            self._dynamodb_fails()
        if not failing and self.dynamodb_failing:
            self._dynamodb_answers()
        if not self.failing and self.unhealed:
            self.heal()
            return True
        return False

    def _dynamodb_fails(self) -> None:
        assert self.dynamodb is not None
        self._flush()
        self.dynamodb_stretches.append([len(self.emitter.results), -1])
        self.dynamodb.configure(self.profile.dynamodb_faults())
        self.dynamodb_failing = True
        self.unhealed.add("dynamodb")

    def _dynamodb_answers(self) -> None:
        if self.dynamodb is not None:
            self.dynamodb.disable()
        # A webhook posted until now may have met a fault: wait until every one has its answer.
        self._flush()
        if self.dynamodb_stretches and self.dynamodb_stretches[-1][1] < 0:
            self.dynamodb_stretches[-1][1] = len(self.emitter.results)
        self.dynamodb_failing = False

    def step_begins(self) -> None:
        """Note where a step starts, for :meth:`step_took`."""
        self._step_started = (time.monotonic(), len(self.emitter.results), self._dynamodb_faults())

    def step_took(self) -> str:
        """Where the time of the step since :meth:`step_begins` went: the webhooks posted (one at a time),
        how many the guard refused and the slowest answer, and the DynamoDB faults the functions met."""
        started, posted, faults = self._step_started
        results = self.emitter.results[posted:]
        refused = sum(1 for r in results if not 200 <= r.status < 300)
        slowest = max((r.seconds for r in results), default=0.0)
        return (
            f"{time.monotonic() - started:.0f} s: {len(results)} webhooks in "
            f"{sum(r.seconds for r in results):.0f} s ({refused} refused, slowest {slowest:.1f} s), "
            f"{self._dynamodb_faults() - faults} DynamoDB faults"
        )

    def _dynamodb_faults(self) -> int:
        return sum(self.dynamodb.injected.values()) if self.dynamodb is not None else 0

    def refusal_excused(self, position: int, result: DeliveryResult) -> bool:
        """Whether the guard may have refused the webhook at ``position`` in ``emitter.results``: a 5xx or
        no answer, while DynamoDB failed (a final check sees that Zoho could deliver it again)."""
        refused = result.status == 0 or result.status >= 500
        return refused and any(
            start <= position and (end < 0 or position < end) for start, end in self.dynamodb_stretches
        )

    @contextmanager
    def zoho_answering(self, when: bool = True) -> Iterator[None]:
        """Zoho without faults for the block: an admin's preflight at a reconnect is run again until it
        goes through, which this stands for."""
        if not when or not self.faults.config.rate:
            yield
            return
        rate = self.faults.config.rate
        self.faults.configure(rate=0.0)
        try:
            yield
        finally:
            self.faults.configure(rate=rate)

    def settle(self, *, everything: bool = False) -> None:
        """Post what is held back for this step (``everything``: all) and wait for the guard to be quiet,
        until nothing is (the guard's own writes come back as webhooks, which may be held in turn)."""
        while True:
            self.emitter.release_held(everything=everything)
            self.wait_quiet()
            if not (self.emitter.held if everything else self.emitter.held_for_now):
                return

    def heal(self) -> None:
        """Zoho and DynamoDB answer again; the webhooks the guard refused meanwhile come again as Zoho
        sends them again (see the module docstring); replay the dead-letter queues (``sync-guard
        replay-dlq``) until they stay empty, the guard quiet after each replay."""
        self.faults.disable()
        self.zoho_failing = False
        if self.dynamodb_failing:
            self._dynamodb_answers()
        self.unhealed.clear()
        self.settle(everything=True)
        self.redeliver_refused()
        for _ in range(10):
            self.settle(everything=True)
            self.swept += self.sweep_lapsed_claims()
            moved = replay(self.environment.settings, QueueChoice.ALL, dry_run=False, actor=REPLAY_ACTOR)
            self.replayed.update(moved)
            if not any(moved.values()):
                return
        raise GuardNotIdle("the dead-letter queues still fill after ten replays")

    def redeliver_refused(self) -> None:
        """What Zoho does with the webhooks the guard refused: Books posts each again (its retry policy);
        CRM lists its workflow webhooks' failures, which a run of the guard's scheduled Zoho checks replays;
        a Notification API callback is not sent again."""
        results = list(self.emitter.results)
        refused = [
            position
            for position, result in enumerate(results)
            if not 200 <= result.status < 300 and position not in self.redelivered
        ]
        crm_failed = False
        for position in refused:
            self.redelivered.add(position)
            delivery = results[position].delivery
            if delivery.kind == "books":
                self.emitter.redeliver(delivery)
            crm_failed |= delivery.kind == "crm_workflow"
        if crm_failed:
            self.run_zoho_checks()

    def run_zoho_checks(self) -> None:
        """One run of the scheduled Zoho checks, as their schedule would invoke them (its error raised)."""
        stack = self.environment.stack
        assert stack is not None
        [checks] = [s for s in stack.schedules if s.function_name == ZOHO_CHECKS_FUNCTION]
        checks.invoke(checks.scheduled_event())
        self.checks_runs += 1

    def wait_quiet(self) -> None:
        """Wait until every webhook is posted, both queues are empty (each message handled or
        dead-lettered), no action is pending, running or retrying, and no new webhook came meanwhile.

        For as long as the guard moves (:class:`Progress`: webhooks answered, messages taken, handled or
        dead-lettered, actions tried), up to :data:`~sync_guard.local.scenarios.guarded.IDLE_CAP_SECONDS`;
        what is stuck is named once nothing moved for :attr:`stall_seconds`. While DynamoDB fails a
        webhook may take the emitter's whole ten seconds (webhooks go out one at a time) and a message
        several of botocore's retries, so a step may take minutes on a loaded machine without a stall."""
        self.environment.wait_until(self.look_quiet, stall_seconds=self.stall_seconds)

    def look_quiet(self) -> Look:
        """The guard's queues and outbox as :meth:`wait_quiet` sees them."""
        settings = self.environment.settings
        depths = queue_depths(settings)
        busy = actions_under_way(Outbox.from_settings(settings))
        queued = sum(sum(depths[name]) for name in ("processing", "outbox"))
        stuck = "; ".join(
            f"{name} queue: {waiting} waiting, {in_flight} in flight"
            for name, (waiting, in_flight) in depths.items()
            if waiting or in_flight
        )
        # With both queues empty no executor holds a message: a running action lost its executor (its claim
        # could not be given back while DynamoDB failed, and its retry, back before the lease ran out, was
        # taken for a duplicate). Nothing moves it until the sweep does, once the lease has run out (see
        # :meth:`sweep_lapsed_claims`): the guard is quiet.
        return Look(
            not queued and all(status == "running" for _, status, _ in busy),
            (tuple(depths.values()), busy),
            f"{stuck or 'queues empty'}; outbox: {name_actions(busy) or 'nothing under way'}",
        )

    def sweep_lapsed_claims(self) -> int:
        """What the outbox sweep's schedule (every five minutes) does for the actions left running by an
        executor that lost them: once their lease has run out, the sweep queues them again. Run as the
        schedule would, more often, until none is left running (bounded as the waits are, the lease
        added); how many there were."""
        settings = self.environment.settings
        stack = self.environment.stack
        assert stack is not None
        outbox = Outbox.from_settings(settings)
        orphans = outbox.by_status("running", limit=20)
        if not orphans:
            return 0
        [sweep] = [s for s in stack.schedules if s.function_name == SWEEP_FUNCTION]
        progress = Progress(settings.outbox_lease_seconds + self.stall_seconds, IDLE_CAP_SECONDS)
        while running := outbox.by_status("running", limit=20):
            progress.saw(tuple((a.action.action_id, a.attempts) for a in running))
            progress.check(lambda: f"outbox: {len(running)} action(s) still running, no sweep took them")
            sweep.invoke(sweep.scheduled_event())
            self.wait_quiet()
            time.sleep(1.0)  # the poll interval of a readiness check: a lease runs out in seconds
        return len(orphans)

    def final_problems(self, emails: Iterable[str]) -> list[str]:
        """The promises read once everything healed (call after :meth:`heal`)."""
        settings = self.environment.settings
        simulator = self.environment.simulator
        assert simulator is not None
        outbox = Outbox.from_settings(settings)
        depths = queue_depths(settings)
        problems = stuck_work(
            {name: sum(depths[f"{name} dead-letter"]) for name in ("processing", "outbox")},
            [
                (a.action.action_id, status)
                for status in UNFINISHED_ACTIONS
                for a in outbox.by_status(status, limit=20)
            ],
        )
        entries = audit_entries(self.environment)
        # The events the guard took in itself, replaying CRM's webhook failures, are acknowledged too.
        fed = {
            e: ref for e, ref in events_fed_by_checks(self.environment).items() if e not in self.fed_before
        }
        acknowledged = dict.fromkeys([*self.emitter.event_ids, *fed])
        problems += unsettled_events(acknowledged, entries)
        stored_ids = stored_event_ids(self.environment)
        problems += unrecovered_refusals(
            self.emitter.results,
            self.refusal_excused,
            fed.values(),
            lambda delivery: carried_event_id(delivery) in stored_ids,
        )
        requests = simulator.requests.records[self.requests_before :]
        problems += redundant_writes(requests, self.world.state.changes)
        problems += emails_in_clear((entry.get("doc", "") for entry in entries), emails)
        return problems


def audit_entries(environment: GuardedEnvironment) -> list[dict[str, str]]:
    """Every audit entry's primary item (entry id, kind, event id, and the whole entry as JSON)."""
    settings = environment.settings
    client = aws.client("dynamodb", settings)
    kwargs: dict[str, Any] = {
        "TableName": settings.audit_table,
        "FilterExpression": "sk = :primary",
        "ExpressionAttributeValues": {":primary": {"S": "E"}},
        "ProjectionExpression": "entry_id, kind, event_id, doc",
    }
    entries: list[dict[str, str]] = []
    while True:
        page = client.scan(**kwargs)
        entries += [{name: value.get("S", "") for name, value in item.items()} for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return entries
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def events_fed_by_checks(environment: GuardedEnvironment) -> dict[str, str]:
    """The events the scheduled Zoho checks stored replaying CRM's webhook failures: id -> record ref."""
    settings = environment.settings
    client = aws.client("dynamodb", settings)
    request: dict[str, Any] = {
        "TableName": settings.events_table,
        "FilterExpression": "#route = :route",
        "ExpressionAttributeNames": {"#route": "route"},
        "ExpressionAttributeValues": {":route": {"S": WEBHOOK_FAILURES_ROUTE}},
        "ProjectionExpression": "pk, record_ref",
    }
    return {item["pk"]["S"]: item["record_ref"]["S"] for item in aws.every_item(client.scan, **request)}


def stored_event_ids(environment: GuardedEnvironment) -> set[str]:
    """The id of every event in the events table."""
    settings = environment.settings
    client = aws.client("dynamodb", settings)
    request = {"TableName": settings.events_table, "ProjectionExpression": "pk"}
    return {item["pk"]["S"] for item in aws.every_item(client.scan, **request)}


def carried_event_id(delivery: Delivery) -> str | None:
    """The id of the event a CRM workflow webhook carries, as the ingest makes it (None: not one)."""
    try:
        return parse_crm_workflow(delivery.body, received_at=datetime.now(UTC)).event_id
    except InvalidPayload:
        return None


# ------------------------------------------------------------------------ the checks, as plain functions


def stuck_work(dead_letters: dict[str, int], unfinished: Iterable[tuple[str, str]]) -> list[str]:
    """Dead-letter queues not empty, actions not finished (``(action id, status)``), once healed."""
    problems = [
        f"{name} dead-letter queue holds {depth} message(s) after the replay"
        for name, depth in dead_letters.items()
        if depth
    ]
    return problems + [f"outbox action {action_id} left {status}" for action_id, status in unfinished]


def unsettled_events(acknowledged: Iterable[str], entries: Iterable[dict[str, str]]) -> list[str]:
    """Acknowledged events without exactly one verdict in the audit trail (lost, or decided twice)."""
    verdicts: Counter[str] = Counter(
        entry["event_id"] for entry in entries if entry.get("kind") in VERDICT_KINDS and entry.get("event_id")
    )
    problems = []
    for event_id in acknowledged:
        if verdicts[event_id] != 1:
            problems.append(
                f"acknowledged event {event_id} has {verdicts[event_id]} verdicts in the audit trail"
            )
    return problems


def unrecovered_refusals(
    results: Sequence[DeliveryResult],
    excused: Callable[[int, DeliveryResult], bool],
    fed: Iterable[str],
    stored: Callable[[Delivery], bool] = lambda delivery: False,
) -> list[str]:
    """Webhooks the guard did not take that Zoho could not make good: any refused but while DynamoDB
    failed (``excused``: a 5xx, or no answer; a 4xx says the webhook was wrong, and Zoho does not send it
    again), a Books one no later delivery of the same webhook got taken (Books' retry), a CRM workflow one
    whose record the guard's replay of CRM's webhook failures did not feed (``fed``: record refs) and whose
    event the guard did not store all the same (``stored``: an ingest still retrying DynamoDB when Zoho
    stopped waiting for its answer stores the event late; the replay then finds it a repeat)."""
    fed_records = set(fed)
    problems = []
    for position, result in enumerate(results):
        if 200 <= result.status < 300:
            continue
        delivery = result.delivery
        what = f"a {delivery.kind} webhook for {delivery.record_id} answered {result.status or 'nothing'}"
        if not excused(position, result):
            problems.append(f"{what}, and DynamoDB did not fail then")
        elif delivery.kind == "books" and not any(
            later.delivery == delivery and 200 <= later.status < 300 for later in results[position + 1 :]
        ):
            problems.append(f"{what}, and Books' retry of it was never taken")
        elif (
            delivery.kind == "crm_workflow"
            and f"crm:{delivery.record_id}" not in fed_records
            and not stored(delivery)
        ):
            problems.append(f"{what}, and the replay of CRM's webhook failures did not feed the record")
    return problems


def _route_of(change: ChangeEvent) -> str | None:
    """The guard's write route that makes ``change`` (None: not a hold or a release)."""
    if change.kind is ChangeKind.STATUS and change.after is not None:
        return "books.mark_inactive" if change.after.get("status") == "inactive" else "books.mark_active"
    if change.kind is ChangeKind.TAGS:
        before = {t["name"] for t in (change.before or {}).get("Tag", [])}
        after = {t["name"] for t in (change.after or {}).get("Tag", [])}
        return "crm.add_tags" if after - before else "crm.remove_tags" if before - after else None
    return None


def redundant_writes(requests: Iterable[RequestRecord], changes: Iterable[ChangeEvent]) -> list[str]:
    """The same guard write (route and record) answered 2xx more than once and more often than it changed
    the record: a write sent twice. One write that changed nothing is not: releasing a hold that was tried
    while Zoho failed undoes it, as a timed-out try may have applied it."""
    answered: Counter[tuple[str, str]] = Counter(
        (r.route, r.record_id or "")
        for r in requests
        if r.route in GUARD_WRITE_ROUTES and 200 <= r.status < 300
    )
    applied: Counter[tuple[str, str]] = Counter(
        (route, c.record_id)
        for c in changes
        if c.source is Source.API and (route := _route_of(c)) is not None
    )
    return [
        f"{route} {record_id} answered {count} times, changed the record {applied[route, record_id]} times: "
        "a write sent twice"
        for (route, record_id), count in sorted(answered.items())
        if count > max(1, applied[route, record_id])
    ]


def emails_in_clear(texts: Iterable[str], emails: Iterable[str]) -> list[str]:
    """Texts showing an email address in clear: any address, or one of ``emails`` (the sequence's)."""
    known = tuple(emails)
    problems = []
    for text in texts:
        found = leaks(text, ()) + [email for email in known if email in text]
        if found:
            problems.append(f"an audit entry shows {len(found)} email address(es) in clear")
    return problems
