"""Scenarios with the guard: the local stack over HTTP, webhooks flowing, the executor acting on Zoho.

One :class:`GuardedEnvironment` (a local stack in enforce mode plus one Zoho simulator server) serves every
guarded run: before each scenario the simulator is reset to an empty organisation whose ids no other
scenario uses, so the guard's shadow and audit trail keep every scenario side by side (and
``sync-guard audit`` can show them afterwards).

A guarded run:

1. builds the world (history from before the guard: no webhooks);
2. seeds the guard's shadow mapping from that world, as a deployment does with ``sync-guard seed`` before
   the webhooks go live (Books' CRM links first, then mutual best matches);
3. connects the webhook emitter and plays the act; between steps, and before every sync run, it waits for
   the guard to be idle (every acknowledged event processed, the outbox drained), a readiness poll, never
   a fixed sleep, bounded by progress (:class:`Progress`): it fails once nothing moved for a while, not
   after a fixed time a loaded machine may need more of;
4. counts from the simulator's ground truth, plus the notifications file and the audit trail.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sync_guard.cli.preflight import PreflightPlan, hold_with_guard, load_from_zoho, plan_preflight
from sync_guard.config import Settings
from sync_guard.local.scenarios.base import Scenario
from sync_guard.local.scenarios.counting import Baseline, Counts, count_outcome
from sync_guard.local.scenarios.world import ACT_LAG, HOLD_TAG, TickingClock, World
from sync_guard.local.stack import LocalStack
from sync_guard.local.zoho_simulator import ZohoSimulator
from sync_guard.local.zoho_simulator.saved import write_saved_zoho
from sync_guard.local.zoho_simulator.state import CRM_MODULES, SimulatorState
from sync_guard.local.zoho_simulator.webhooks import Delivery, GuardEndpoints, WebhookEmitter
from sync_guard.models.records import Module
from sync_guard.notify.notifiers import FileNotifier

#: The demo replays a day of edits in seconds, so every event lands in one storm window: the breaker's
#: threshold is raised accordingly (production default: 10 per 10 minutes) so that it trips on a storm,
#: not on the compressed timeline of ordinary scenarios.
DEMO_STORM_THRESHOLD = 25

#: What the guard of the scenarios is told beyond the simulator's address and credentials.
SCENARIO_SETTINGS: dict[str, str] = {
    "SYNC_GUARD_CRM_HOLD_TAG": HOLD_TAG,
    "SYNC_GUARD_STORM_THRESHOLD": str(DEMO_STORM_THRESHOLD),
    # A scenario's act happens "yesterday" (ACT_LAG, see TickingClock), and the demo runs the checks when
    # a scenario says they come round, not once an hour.
    "SYNC_GUARD_SYNC_STALL_LOOKBACK_HOURS": "48",
    "SYNC_GUARD_SYNC_STALL_EVERY_MINUTES": "0",
    # Zoho refuses a notification channel's expiry more than a week ahead of its own clock, which runs up
    # to ACT_LAG behind the guard's here: the production lifetime (144 hours) would leave no room at all.
    "SYNC_GUARD_CRM_NOTIFICATION_CHANNEL_HOURS": str(
        (timedelta(weeks=1) - ACT_LAG - timedelta(days=1)) // timedelta(hours=1)
    ),
    # The checks read what Zoho stamped since their watermark, less an overlap for clock skew: here Zoho's
    # clock runs up to ACT_LAG behind the guard's, so each run reads that much (and an hour) further back.
    "SYNC_GUARD_ZOHO_CHECKS_OVERLAP_SECONDS": str(int((ACT_LAG + timedelta(hours=1)).total_seconds())),
    # One shadow keeps every scenario's organisation, while the simulator holds only the current one: the
    # missed-delete sweep would take the earlier scenarios' customers for deleted ones.
    "SYNC_GUARD_BOOKS_DELETED_EVERY_MINUTES": "0",
}

#: The scheduled checks' function in template.yaml.
ZOHO_CHECKS_FUNCTION = "ZohoChecksFunction"
#: How a message's rule reads in the notifications file (``RenderedMessage.as_text``).
_RULE_ATTRIBUTE = "Attribute rule (String): "

#: Outbox statuses that mean the executor still has work (see ``executor.model.ActionStatus``).
_BUSY_ACTION_STATUSES = ("pending", "running", "retrying")
#: How long one readiness wait may last however the guard moves meanwhile (work that never ends).
IDLE_CAP_SECONDS = 900.0
#: How many of the webhooks, events or actions a wait names when it gives up.
_NAMED = 5


class GuardNotIdle(TimeoutError):
    """The guard did not finish within the readiness deadline (events or actions still in flight)."""


class Progress:
    """The deadline of a readiness wait, which moves while the work waited for moves.

    A wait fails once what it watches (:meth:`saw`) has not changed for ``stall_seconds`` (a hang, a message
    nobody takes), or after ``cap_seconds`` in all (work that moves but never ends): not after a fixed time,
    which a loaded machine, or DynamoDB throttling every other call, may need more of.
    """

    def __init__(
        self, stall_seconds: float, cap_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stall_seconds = stall_seconds
        self.cap_seconds = cap_seconds
        self._clock = clock
        self.started = self.moved = clock()
        self._state: Hashable = object()  # nothing seen yet: the first look is progress

    def saw(self, state: Hashable) -> None:
        """Note what the watched work looks like now; a change from the last look is progress."""
        if state != self._state:
            self._state = state
            self.moved = self._clock()

    def left(self) -> float:
        """Seconds until the wait fails, unless something moves meanwhile."""
        return min(self.moved + self.stall_seconds, self.started + self.cap_seconds) - self._clock()

    def check(self, stuck: Callable[[], str]) -> None:
        """Raise :class:`GuardNotIdle` saying what is stuck (``stuck()``) when the wait is over."""
        now = self._clock()
        if now - self.started >= self.cap_seconds:
            raise GuardNotIdle(f"still busy after {self.cap_seconds:.0f} s in all: {stuck()}")
        if now - self.moved >= self.stall_seconds:
            raise GuardNotIdle(
                f"nothing moved for {self.stall_seconds:.0f} s "
                f"(after {now - self.started:.0f} s in all): {stuck()}"
            )


@dataclass(frozen=True)
class Look:
    """What a readiness wait saw of the guard: whether it is done, what changes as it progresses (anything
    comparable), and what it would say is stuck."""

    done: bool
    state: Hashable
    stuck: str


def webhooks_unanswered(emitter: WebhookEmitter) -> str:
    """Which webhooks a wait is waiting on: how many, and those being posted."""
    posting = ", ".join(_delivery_name(d) for d in emitter.posting()[:_NAMED])
    return f"{emitter.pending} webhook(s) unanswered" + (f", posting {posting}" if posting else "")


def _stuck(emitter: WebhookEmitter, seen: Look | None) -> str:
    parts = ([webhooks_unanswered(emitter)] if emitter.pending else []) + ([seen.stuck] if seen else [])
    return "; ".join(parts)


def _delivery_name(delivery: Delivery) -> str:
    return f"{delivery.kind} {delivery.module} {delivery.record_id}"


def actions_under_way(outbox: Any) -> tuple[tuple[str, str, int], ...]:
    """The outbox actions pending, running or retrying (a few of each): id, status, attempts."""
    return tuple(
        (queued.action.action_id, status, queued.attempts)
        for status in _BUSY_ACTION_STATUSES
        for queued in outbox.by_status(status, limit=_NAMED)
    )


def queue_depths(settings: Settings) -> dict[str, tuple[int, int]]:
    """The guard's queues and their dead-letter queues, by name: messages waiting (visible) and in flight
    (taken, not deleted yet)."""
    from sync_guard.store import aws

    sqs = aws.client("sqs", settings)
    depths = {}
    for name, url in (
        ("processing", settings.queue_url),
        ("outbox", settings.outbox_queue_url),
        ("processing dead-letter", settings.dlq_url),
        ("outbox dead-letter", settings.outbox_dlq_url),
    ):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depths[name] = (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )
    return depths


def name_actions(actions: Sequence[tuple[str, str, int]]) -> str:
    """Outbox actions as a wait names them when it gives up."""
    return ", ".join(f"{action_id} {status} (attempt {attempts})" for action_id, status, attempts in actions)


@dataclass
class GuardedRun:
    counts: Counts
    seconds: float
    preflight: list[PreflightPlan] = field(default_factory=list)
    events: int = 0


class GuardedEnvironment:
    """A local stack in enforce mode and a Zoho simulator, shared by every guarded scenario run."""

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int = 0,
        persist: bool = False,
        idle_timeout_seconds: float = 120.0,
        idle_cap_seconds: float = IDLE_CAP_SECONDS,
        # One delivery thread: webhooks reach the guard in the order Zoho made the changes, so the rules that
        # fire are the same on every run (four threads are a little faster but order varies).
        webhook_workers: int = 1,
        webhook_secret: str | None = None,
        dynamodb_front: Callable[[str], str] | None = None,
    ) -> None:
        """``idle_timeout_seconds``: how long :meth:`wait_idle` waits with nothing moving before it gives up
        (``idle_cap_seconds`` in all). ``webhook_secret``: the stack's webhook secret; by default it makes
        one up. ``dynamodb_front``:
        what the functions reach DynamoDB through (``LocalStack``'s); the scenario's own reads and writes
        and the admin's go to the server directly."""
        # Absolute: DynamoDB Local runs in its own directory and would misread a relative data path.
        self.state_dir = state_dir.resolve()
        self.port = port
        self.persist = persist
        self.idle_timeout_seconds = idle_timeout_seconds
        self.idle_cap_seconds = idle_cap_seconds
        self.webhook_workers = webhook_workers
        self.webhook_secret = webhook_secret
        self.dynamodb_front = dynamodb_front
        self.notifications_file = (state_dir / "notifications.txt").resolve()
        self.simulator: ZohoSimulator | None = None
        self.stack: LocalStack | None = None
        self._zoho: Any = None
        self._settings: Settings | None = None
        self._emitter: WebhookEmitter | None = None
        self._final_events: set[str] = set()
        self._next_block = 1
        # Every organisation the guard has seen (its shadow and audit trail keep them all), for save_zoho.
        self._worlds: list[World] = []
        # The rules of the notices the scheduled checks sent during the current run.
        self._scheduled_rules: Counter[str] = Counter()

    # ---------------------------------------------------------------------------------- lifecycle

    def start(self) -> GuardedEnvironment:
        from sync_guard.zoho.auth import InMemoryTokenCache
        from sync_guard.zoho.factory import build_zoho_clients

        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.simulator = ZohoSimulator(seed=0).start()
        environment = (
            self.simulator.settings_env()
            | SCENARIO_SETTINGS
            | {"SYNC_GUARD_NOTIFY_FILE": str(self.notifications_file)}
        )
        if self.webhook_secret is not None:
            environment["SYNC_GUARD_WEBHOOK_SECRET"] = self.webhook_secret
        self.stack = LocalStack(
            self.state_dir,
            port=self.port,
            persist=self.persist,
            parameters={"Mode": "enforce"},
            extra_environment=environment,
            dynamodb_front=self.dynamodb_front,
        )
        try:
            self.stack.start()
            state = self.stack.state(
                zoho_url=self.simulator.url, notifications_file=str(self.notifications_file)
            )
            state.write(self.state_dir)
            # The stack's environment is this process's now; DynamoDB the server's own, not the functions'.
            self._settings = Settings(dynamodb_endpoint_url=state.dynamodb_endpoint_url)
            self._zoho = build_zoho_clients(self.simulator.settings(), InMemoryTokenCache())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._emitter is not None:
            self._emitter.close()
            self._emitter = None
        if self._zoho is not None:
            self._zoho.close()
            self._zoho = None
        if self.stack is not None:
            self.stack.stop()
            self.stack = None
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None

    def __enter__(self) -> GuardedEnvironment:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise RuntimeError("the guarded environment is not started")
        return self._settings

    def _require(self) -> tuple[ZohoSimulator, LocalStack]:
        if self.simulator is None or self.stack is None:
            raise RuntimeError("the guarded environment is not started")
        return self.simulator, self.stack

    # ------------------------------------------------------------------------------------ a run

    def run(self, scenario: Scenario) -> GuardedRun:
        """Build, backfill, act with webhooks flowing, wait for the guard, count."""
        started = time.monotonic()
        world, plans = self.new_world(preflight=scenario.uses_preflight)
        scenario.build(world)
        world.time_passes()
        emitter = self.go_live(world, label=scenario.name)
        notifications_before = self.notification_count()
        self._scheduled_rules = Counter()
        try:
            baseline = Baseline.of(world)
            scenario.act(world)
            self.wait_idle()
            counts = count_outcome(world, baseline)
            counts.notifications = self.notification_count() - notifications_before
            fired = self.rules_fired(emitter.event_ids) + self._scheduled_rules
            counts.rules_fired = dict(sorted(fired.items()))
            events = len(emitter.event_ids)
        finally:
            self.finish(world)
        return GuardedRun(counts, time.monotonic() - started, plans, events)

    def new_world(self, *, preflight: bool = False) -> tuple[World, list[PreflightPlan]]:
        """An empty simulated organisation (ids no earlier world used) wired to this guard's hooks.

        Build its history, then call :meth:`go_live`. With ``preflight``, every connect/reconnect first runs
        ``sync-guard preflight`` in enforce mode; its plans are appended to the returned list.
        """
        simulator, _ = self._require()
        clock = TickingClock()
        state = simulator.reset(id_block=self._next_block, clock=clock)
        self._next_block += 1
        plans: list[PreflightPlan] = []

        def before_connect(world: World) -> None:
            if preflight:
                plans.append(self.preflight(world))

        world = World(
            state,
            checkpoint=self.wait_idle,
            before_connect=before_connect,
            scheduled_checks=self.run_scheduled_checks,
            clock=clock,
        )
        self._worlds.append(world)
        return world, plans

    def go_live(
        self,
        world: World,
        *,
        label: str = "scenario",
        emitter: Callable[..., WebhookEmitter] = WebhookEmitter,
    ) -> WebhookEmitter:
        """Seed the guard's shadow from the world, then let Zoho's webhooks flow to the guard.

        ``emitter``: what posts them, built as ``WebhookEmitter`` is (a test's subclass may hold some
        back, or post some twice).
        """
        _, stack = self._require()
        if self._emitter is not None:
            raise RuntimeError("another world is live; call finish() first")
        self.backfill(world.state)
        # Each world is another organisation: an admin closes a breaker an earlier one left open.
        self.reset_breaker(f"before {label}")
        endpoints = GuardEndpoints.from_api_url(stack.api_url, stack.webhook_secret)
        self._emitter = emitter(world.state, endpoints, workers=self.webhook_workers)
        self._final_events = set()
        return self._emitter

    def finish(self, world: World) -> None:
        """Stop the world's webhooks and its sync (after waiting for the guard is the caller's choice)."""
        if self._emitter is not None:
            self._emitter.close()
            self._emitter = None
        if world.sync is not None:
            world.sync.close()

    def save_zoho(self, path: Path) -> Path:
        """Write every world's organisation and native sync as the one Zoho ``sync-guard serve`` reopens
        beside these tables (their ids are apart: each world had its own id block)."""
        syncs = [world.sync for world in self._worlds if world.sync is not None]
        return write_saved_zoho(path, [world.state for world in self._worlds], syncs)

    # ------------------------------------------------------------------------------- the pieces

    def preflight(self, world: World) -> PreflightPlan:
        """``sync-guard preflight`` in enforce mode, through the Zoho API, on the sync's scope.

        Its holds are the guard's (audited, in ``quarantines list``), made by the actor ``sync-guard demo``.
        """
        if world.sync is None:
            raise RuntimeError("preflight needs the scenario's native sync")
        module = Module(world.sync.crm_module)
        crm, books = load_from_zoho(self._zoho, module, hold_tag=HOLD_TAG, view_id=world.sync.view_id)
        plan = plan_preflight(crm, books)
        hold_with_guard(plan, self.settings, self._zoho, module, actor="sync-guard demo")
        return plan

    def backfill(self, state: SimulatorState) -> int:
        """Seed the shadow mapping from every record, as ``sync-guard seed`` does from exports.

        The same pairing (Books' own CRM links first, then mutual best matches) and the same batch loader,
        fed from the simulated APIs' records instead of CSV files; audited as an admin ``seed``.
        """
        from sync_guard.guard.admin import admin_entry
        from sync_guard.guard.matcher import LibraryMatcher
        from sync_guard.guard.seeding import plan_seed
        from sync_guard.store import aws
        from sync_guard.store.audit import AuditLog
        from sync_guard.store.bulk import ShadowSeeder
        from sync_guard.zoho.convert import books_contact_to_party, crm_record_to_party

        settings = self.settings
        crm = [crm_record_to_party(module, r) for module in CRM_MODULES for r in state.crm_list(module)]
        books = [books_contact_to_party(c) for c in state.books_list_contacts()]
        now = datetime.now(UTC)
        plan = plan_seed(crm, books, LibraryMatcher(), now=now)
        client = aws.client("dynamodb", settings)
        written = ShadowSeeder(client, settings.shadow_table).load(plan.states)
        entry = admin_entry(
            "seed",
            actor="sync-guard demo",
            at=now,
            mode=settings.mode,
            note=f"seeded {len(plan.states)} records from the simulated organisation ({written} written)",
            entry_id=f"seed_demo_{self._next_block - 1}_{now.strftime('%Y%m%d%H%M%S%f')}",
        )
        AuditLog(client, settings.audit_table).append(entry)
        return len(plan.states)

    def reset_breaker(self, reason: str) -> bool:
        """Close the storm breaker if it is open (the audited admin operation); True if it was open."""
        from sync_guard.errors import ConcurrentUpdate
        from sync_guard.guard.admin import reset_storm_breaker
        from sync_guard.store.shadow import DynamoShadowRepository

        try:
            reset_storm_breaker(
                DynamoShadowRepository.from_settings(self.settings),
                actor="sync-guard demo",
                reason=reason,
                mode=self.settings.mode,
                now=datetime.now(UTC),
            )
        except ConcurrentUpdate:
            return False  # not open: nothing to reset
        return True

    def wait_idle(self) -> None:
        """Wait until the guard has handled everything Zoho sent and done everything it decided.

        Idle means: every queued webhook posted, every acknowledged event processed, no outbox action
        pending, running or retrying, and no new webhook since the last look (the executor's writes to
        Zoho come back as webhooks, which must be processed too). Raises :class:`GuardNotIdle` naming what
        is stuck once nothing moved for ``idle_timeout_seconds`` (see :class:`Progress`).
        """
        from sync_guard.store.events import DynamoEventStore
        from sync_guard.store.outbox import Outbox

        emitter = self._emitter
        if emitter is None:
            return
        settings = self.settings
        events = DynamoEventStore.from_settings(settings)
        outbox = Outbox.from_settings(settings)

        def look() -> Look:
            for event_id in emitter.event_ids:
                if event_id in self._final_events:
                    continue
                status = events.status_of(event_id)
                if status is not None and status.is_final:
                    self._final_events.add(event_id)
            waiting = [e for e in emitter.event_ids if e not in self._final_events]
            busy = actions_under_way(outbox)
            stuck = f"{len(waiting)} acknowledged event(s) not processed ({', '.join(waiting[:_NAMED])})"
            return Look(
                not waiting and not busy, (len(waiting), busy), f"{stuck}; outbox: {name_actions(busy)}"
            )

        self.wait_until(look)

    def wait_until(
        self,
        look: Callable[[], Look] | None = None,
        *,
        stall_seconds: float | None = None,
        cap_seconds: float | None = None,
    ) -> None:
        """Wait until every webhook queued is answered and ``look`` says the guard is done (None: the
        webhooks only), with no new webhook meanwhile; polled while webhooks are answered or the look
        changes, and failed (:class:`GuardNotIdle`) once nothing did for ``stall_seconds`` (by default
        ``idle_timeout_seconds``) or after ``cap_seconds`` (``idle_cap_seconds``) in all."""
        emitter = self._emitter
        if emitter is None:
            return
        progress = Progress(
            self.idle_timeout_seconds if stall_seconds is None else stall_seconds,
            self.idle_cap_seconds if cap_seconds is None else cap_seconds,
        )
        seen: Look | None = None
        while True:
            answered = emitter.flush(timeout=max(0.0, min(1.0, progress.left())))
            results = len(emitter.results)
            if answered:
                seen = look() if look is not None else None
                if (
                    (seen is None or seen.done)
                    and emitter.flush(timeout=0)
                    and len(emitter.results) == results
                ):
                    return
            progress.saw((results, emitter.pending, seen.state if seen is not None else None))
            progress.check(partial(_stuck, emitter, seen))
            if answered:
                time.sleep(0.1)  # the poll interval of a readiness check (each look is a few requests)

    def leftovers(self) -> list[str]:
        """What the runs so far left that a later run would inherit: a world still live, messages in the
        guard's queues or dead-letter queues, outbox actions under way or dead-lettered, Zoho failing.
        A run that finished and healed leaves none; one that gave up (:class:`GuardNotIdle`) may."""
        from sync_guard.store.outbox import Outbox

        simulator, _ = self._require()
        settings = self.settings
        left = ["a world is still live"] if self._emitter is not None else []
        left += [
            f"{sum(depth)} message(s) in the {name} queue"
            for name, depth in queue_depths(settings).items()
            if any(depth)
        ]
        outbox = Outbox.from_settings(settings)
        unfinished = actions_under_way(outbox) + tuple(
            (a.action.action_id, a.status, a.attempts)
            for a in outbox.by_status("dead_lettered", limit=_NAMED)
        )
        left += [f"outbox actions {name_actions(unfinished)}"] if unfinished else []
        left += ["Zoho still failing"] if simulator.faults.config.rate else []
        return left

    def run_scheduled_checks(self) -> frozenset[str]:
        """One run of the scheduled Zoho checks (the function its schedule would invoke), then wait for the
        guard; the rules of the finance notices the run sent (a stalled sync's)."""
        _, stack = self._require()
        [checks] = [s for s in stack.schedules if s.function_name == ZOHO_CHECKS_FUNCTION]
        before = len(self.notified_rules())
        checks.fire()
        self.wait_idle()
        sent = self.notified_rules()[before:]
        self._scheduled_rules.update(sent)
        return frozenset(sent)

    def notified_rules(self) -> list[str]:
        """The ``rule`` attribute of every message in the finance notifications file, in order."""
        if not self.notifications_file.exists():
            return []
        text = self.notifications_file.read_text(encoding="utf-8")
        return [
            line.removeprefix(_RULE_ATTRIBUTE)
            for line in text.splitlines()
            if line.startswith(_RULE_ATTRIBUTE)
        ]

    def notification_count(self) -> int:
        """Messages in the finance notifications file so far."""
        if not self.notifications_file.exists():
            return 0
        text = self.notifications_file.read_text(encoding="utf-8")
        return sum(1 for line in text.splitlines() if line == FileNotifier.SEPARATOR)

    def rules_fired(self, event_ids: list[str]) -> Counter[str]:
        """Rule codes in the audit entries of these events (one entry per event: its decision), but for
        rules whose policy is ``allow``: recorded, they caught nothing (``CREATED_IN_BOOKS`` by default)."""
        from sync_guard.guard.model import Decision
        from sync_guard.guard.policy import Policy
        from sync_guard.store.audit import AuditLog

        audit = AuditLog.from_settings(self.settings)
        policy = Policy.build(self.settings.rule_policy)
        fired: Counter[str] = Counter()
        for event_id in dict.fromkeys(event_ids):
            entry = audit.get(event_id)
            if entry is not None:
                fired.update(code for code in entry.rules if policy.outcome(code) is not Decision.ALLOW)
        return fired
