"""The random sequences again, with Zoho failing for a while and webhooks posted twice, late or out of order.

The product's promise for faults: retries, then a dead-letter queue an administrator replays; nothing
acknowledged is lost; no Zoho record written twice; no hold on an invoiced Books customer. Each seed draws
a fault profile (``tests/e2e/faults.py``) and plays its sequence (``test_random_sequences.plan``) with it.
The step invariants of the calm sequences hold after every step, but while Zoho fails an event or a
release may wait in a dead-letter queue; once Zoho heals and the dead letters are replayed, they hold for
everything, and so do the promises only a healed guard can keep (see :meth:`FaultRun.final_problems`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync_guard.admin.service import AdminService
from sync_guard.executor.dynamo import DynamoActionStore
from sync_guard.executor.model import Refusal
from sync_guard.guard.model import EntryKind
from sync_guard.local.scenarios.counting import Baseline, count_outcome
from sync_guard.local.scenarios.guarded import GuardedEnvironment, GuardNotIdle
from sync_guard.local.scenarios.world import World
from sync_guard.local.zoho_simulator.faults import DEFAULT_KINDS, FaultKind, RequestRecord
from sync_guard.local.zoho_simulator.state import ChangeEvent, ChangeKind, Source
from sync_guard.local.zoho_simulator.webhooks import Delivery, DeliveryResult
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.outbox import Outbox
from tests.e2e.faults import (
    FAULT_SIDES as SIDES,
)
from tests.e2e.faults import (
    ControlledEmitter,
    FaultProfile,
    FaultRun,
    emails_in_clear,
    redundant_writes,
    stuck_work,
    unrecovered_refusals,
    unsettled_events,
)
from tests.e2e.test_random_sequences import (
    Invariants,
    Op,
    Player,
    _email,
    assert_no_more_duplicates_than_unguarded,
    companies,
    let_through_by_release,
    plan,
    released_ref,
)
from tests.support.dynamodb_proxy import DynamoFaultKind, DynamoFaultProxy
from tests.support.local import SharedEnvironment, watched_guarded_environment
from tests.support.logs import LogWatch

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("random-sequences")]

#: Kept small by default (one sequence, well under a minute); ``RANDOM_SEQUENCE_FAULT_SEEDS=100:130`` and
#: ``RANDOM_SEQUENCE_FAULT_STEPS=60`` widen it for a hunt, ``RANDOM_SEQUENCE_FAULTS=dynamodb`` (or
#: ``zoho``) has only that side fail.
_WIDER = os.environ.get("RANDOM_SEQUENCE_FAULT_SEEDS", "")
FAULT_SEEDS = tuple(range(*map(int, _WIDER.split(":")))) if _WIDER else (11,)
FAULT_STEPS = int(os.environ.get("RANDOM_SEQUENCE_FAULT_STEPS", "40"))
_SIDES = os.environ.get("RANDOM_SEQUENCE_FAULTS", "zoho,dynamodb")
FAULT_SIDES = frozenset(side.strip() for side in _SIDES.split(",") if side.strip())
ACTOR = "random-sequence admin"


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[DynamoFaultProxy]:
    """The proxy the functions reach DynamoDB through; it passes everything on unless told to fail."""
    with DynamoFaultProxy() as proxy:
        yield proxy


@pytest.fixture(scope="module")
def shared_environment(
    tmp_path_factory: pytest.TempPathFactory, log_watch: LogWatch, dynamodb: DynamoFaultProxy
) -> Iterator[SharedEnvironment]:
    """The calm sequences' guarded environment, its functions' DynamoDB behind the proxy."""

    def start() -> AbstractContextManager[GuardedEnvironment]:
        state_dir = Path(tmp_path_factory.mktemp("random-sequences-under-faults"))
        return watched_guarded_environment(
            state_dir,
            log_watch,
            "the random sequences under faults",
            idle_timeout_seconds=60,
            dynamodb_front=dynamodb.front,
        )

    shared = SharedEnvironment(start)
    try:
        yield shared
    finally:
        shared.stop()


@pytest.fixture
def environment(
    shared_environment: SharedEnvironment, dynamodb: DynamoFaultProxy
) -> Iterator[GuardedEnvironment]:
    """The shared environment for one test, with no fault on; replaced afterwards if the test left it busy."""
    yield shared_environment.get()
    dynamodb.disable()
    shared_environment.release()


def _seed_emails(seed: int) -> list[str]:
    return [
        _email(company, person) for company in companies(seed) for person in ("Jane", "Omar", "Priya", "Tom")
    ]


def test_the_fault_sides_to_play_are_known() -> None:
    assert FAULT_SIDES, "RANDOM_SEQUENCE_FAULTS names no side"
    assert FAULT_SIDES <= SIDES, f"RANDOM_SEQUENCE_FAULTS names {sorted(FAULT_SIDES - SIDES)}"


@pytest.mark.parametrize("seed", FAULT_SEEDS)
def test_a_random_sequence_under_faults_keeps_the_guards_promises(
    environment: GuardedEnvironment, dynamodb: DynamoFaultProxy, seed: int
) -> None:
    steps = plan(seed, FAULT_STEPS)
    profile = FaultProfile.draw(seed, len(steps), FAULT_SIDES)
    world, _ = environment.new_world(preflight=True)
    player = Player(world, seed, admin=AdminService.from_settings(environment.settings))
    player.history()
    emitter = environment.go_live(
        world, label=f"random sequence {seed} under faults", emitter=profile.emitter
    )
    player.emitter = emitter
    assert isinstance(emitter, ControlledEmitter)
    run = FaultRun(environment, world, emitter, profile, dynamodb)
    invariants = Invariants(player, environment, refusal_excused=run.refusal_excused)
    log = [f"seed {seed}: {profile}"]

    releases: set[str] = set()

    def check(number: int | str, released: str | None = None) -> None:
        releases.update([released] if released else [])
        problems = invariants.check(released, settled=not run.failing)
        assert not problems, f"seed {seed}, step {number}:\n" + "\n".join(log + problems)

    try:
        if profile.notifications:
            environment.run_scheduled_checks()
        invariants.start()
        baseline = Baseline.of(world)
        for number, step in enumerate(steps, 1):
            run.step_begins()
            if run.before_step(number):
                swept = f", lost actions swept: {run.swept}" if run.swept else ""
                log.append(f"     healed, dead letters replayed: {dict(run.replayed)}{swept}")
                check(f"{number} (healed)")
            with run.zoho_answering(step.op is Op.RECONNECT):
                outcome = player.play(step)
            run.settle()
            failing = [
                side for side, now in (("Zoho", run.zoho_failing), ("DynamoDB", run.dynamodb_failing)) if now
            ]
            log.append(
                f"{number:3d}. {step}: {outcome}"
                + (f" [{' and '.join(failing)} failing]" if failing else "")
                + f" ({run.step_took()})"
            )
            check(number, released_ref(outcome))
        run.before_step(len(steps) + 1)
        run.heal()
        check("end")
        injected = run.faults.injected - run.injected_before
        dynamodb_injected = dynamodb.injected - run.dynamodb_injected_before
        log.append(
            f"webhooks: {dict(emitter.counts)}, Zoho faults: {dict(injected)}, DynamoDB faults: "
            f"{dict(dynamodb_injected)}, refused webhooks sent again: {len(run.redelivered)}"
        )
        problems = run.final_problems(_seed_emails(seed))
        assert not problems, f"seed {seed}, once healed:\n" + "\n".join(log + problems)
        guarded = count_outcome(world, baseline)
        admins = let_through_by_release(world, guarded.duplicate_ids, releases)
    except Exception as error:  # the guard not going quiet, say: which sequence, and how far it got
        error.add_note("\n".join(log))
        raise
    finally:
        run.faults.disable()
        dynamodb.disable()
        environment.finish(world)
    assert_no_more_duplicates_than_unguarded(seed, steps, guarded.duplicates - admins, log)


# ------------------------------------------------------------------------------ the checks themselves


def test_a_fault_profile_is_the_same_for_the_same_seed_and_heals_within_the_sequence() -> None:
    assert FaultProfile.draw(11, 40) == FaultProfile.draw(11, 40)
    profiles = [FaultProfile.draw(seed, 60) for seed in range(100, 130)]
    assert all(1 <= p.zoho_from < p.zoho_until <= 61 for p in profiles)
    assert {kind for p in profiles for kind in p.zoho_kinds} == set(DEFAULT_KINDS)
    assert any(p.late for p in profiles)
    assert any(p.twice for p in profiles)
    assert any(p.reordered for p in profiles)


def _entry(event_id: str, kind: EntryKind = EntryKind.DECISION, entry_id: str = "") -> dict[str, str]:
    return {"entry_id": entry_id or event_id, "kind": kind.value, "event_id": event_id, "doc": "{}"}


def test_the_final_checks_catch_a_lost_webhook_a_second_verdict_and_an_action_stuck() -> None:
    entries = [
        _entry("evt-decided"),
        _entry("evt-twice"),
        _entry("evt-twice", EntryKind.STALE, entry_id="evt-twice-again"),
        _entry("evt-decided", EntryKind.ACTION, entry_id="act-1#1#done"),  # the executor's: not a verdict
    ]
    assert unsettled_events(["evt-decided", "evt-lost", "evt-twice"], entries) == [
        "acknowledged event evt-lost has 0 verdicts in the audit trail",
        "acknowledged event evt-twice has 2 verdicts in the audit trail",
    ]

    assert stuck_work({"processing": 0, "outbox": 1}, [("act-9", "retrying")]) == [
        "outbox dead-letter queue holds 1 message(s) after the replay",
        "outbox action act-9 left retrying",
    ]


def _request(route: str, record_id: str, status: int = 200) -> RequestRecord:
    return RequestRecord(1, "POST", route, f"/{route}", status, None, record_id)


def _status_change(record_id: str, before: str, after: str) -> ChangeEvent:
    return ChangeEvent(
        1,
        "books",
        "Customers",
        ChangeKind.STATUS,
        record_id,
        Source.API,
        {"status": before},
        {"status": after},
    )


def test_the_final_checks_catch_a_write_sent_twice() -> None:
    # given a hold and its release applied once each, and a hold Zoho answered twice but applied once
    requests = [
        _request("books.mark_inactive", "7"),
        _request("books.mark_active", "7"),
        _request("books.mark_inactive", "8"),
        _request("books.mark_inactive", "8"),
        _request("books.mark_inactive", "9", status=429),  # refused: not a write
        _request("books.mark_active", "10"),  # the undo of a hold that never landed: changes nothing, once
    ]
    changes = [
        _status_change("7", "active", "inactive"),
        _status_change("7", "inactive", "active"),
        _status_change("8", "active", "inactive"),
    ]
    assert redundant_writes(requests, changes) == [
        "books.mark_inactive 8 answered 2 times, changed the record 1 times: a write sent twice"
    ]


def test_the_final_checks_catch_an_email_in_clear_in_the_audit_trail() -> None:
    texts = ['{"note": "held j***@acme.example"}', '{"note": "held jane@acme.example"}', '{"x": "omar"}']
    assert emails_in_clear(texts, ["omar@other.example"]) == [
        "an audit entry shows 1 email address(es) in clear"
    ]


def _result(kind: str, record_id: str, status: int, body: str = "") -> DeliveryResult:
    delivery = Delivery(kind, f"http://guard/{kind}", {"id": record_id, "body": body}, {}, "m", record_id)
    return DeliveryResult(delivery, status, [f"evt-{record_id}"] if 200 <= status < 300 else [])


def test_the_final_checks_catch_a_refused_webhook_zoho_could_not_make_good() -> None:
    # given the guard's answers, DynamoDB failing for the first five
    results = [
        _result("books", "1", 503),  # refused, and taken when Books retried it
        _result("books", "2", 500),  # refused, and every retry refused too
        _result("crm_workflow", "3", 0),  # no answer, and fed by the replay of CRM's webhook failures
        _result("crm_workflow", "4", 500),  # refused, and never fed
        _result("books", "5", 409),  # a 4xx: Books takes it for the webhook's fault
        _result("books", "1", 202),
        _result("books", "2", 500),  # refused after DynamoDB answered again
        _result("crm_notification", "6", 502),  # refused while DynamoDB answered
    ]
    stretch = range(6)

    def excused(position: int, result: DeliveryResult) -> bool:
        return position in stretch and (result.status == 0 or result.status >= 500)

    # a CRM workflow webhook whose answer Zoho stopped waiting for, but whose event the guard stored late
    results.insert(4, _result("crm_workflow", "7", 0))

    def stored(delivery: Delivery) -> bool:
        return delivery.record_id == "7"

    assert unrecovered_refusals(results, excused, ["crm:3"], stored) == [
        "a books webhook for 2 answered 500, and Books' retry of it was never taken",
        "a crm_workflow webhook for 4 answered 500, and the replay of CRM's webhook failures did not "
        "feed the record",
        "a books webhook for 5 answered 409, and DynamoDB did not fail then",
        "a books webhook for 2 answered 500, and DynamoDB did not fail then",
        "a crm_notification webhook for 6 answered 502, and DynamoDB did not fail then",
    ]


def test_a_refused_webhook_is_excused_only_while_dynamodb_fails_and_only_as_a_5xx_or_no_answer() -> None:
    # given a run whose DynamoDB failed while results 2 to 4 were posted
    run = FaultRun.__new__(FaultRun)
    run.dynamodb_stretches = [[2, 5]]
    # then only those, refused with a 5xx or no answer, are excused
    assert [run.refusal_excused(p, _result("books", "1", 500)) for p in range(7)] == [
        False, False, True, True, True, False, False
    ]  # fmt: skip
    assert run.refusal_excused(3, _result("books", "1", 0))
    assert not run.refusal_excused(3, _result("books", "1", 400))
    # and a stretch still open excuses every later result
    run.dynamodb_stretches = [[2, 5], [8, -1]]
    assert run.refusal_excused(30, _result("crm_workflow", "1", 503))


def test_dynamodb_faults_are_drawn_per_seed_and_leave_the_zoho_faults_as_they_were() -> None:
    profiles = [FaultProfile.draw(seed, 40) for seed in range(100, 130)]
    # the Zoho side is what it was before DynamoDB could fail (seed 154 at 60 steps is a hunt's find)
    assert FaultProfile.draw(154, 60, frozenset({"zoho"})) == replace(
        FaultProfile.draw(154, 60),
        dynamodb_rate=0.0,
        dynamodb_kinds=(),
        dynamodb_operations=(),
        dynamodb_timeout_applies_effect=False,
        dynamodb_from=1,
        dynamodb_until=1,
    )
    assert all(1 <= p.dynamodb_from < p.dynamodb_until <= 41 for p in profiles)
    assert {kind for p in profiles for kind in p.dynamodb_kinds} == set(DynamoFaultKind)
    assert any(not p.dynamodb_operations for p in profiles)
    assert any(p.dynamodb_operations for p in profiles)
    # and each side can be left out
    assert not FaultProfile.draw(11, 40, frozenset({"zoho"})).dynamodb_rate
    assert not FaultProfile.draw(11, 40, frozenset({"dynamodb"})).zoho_rate


# ------------------------------------------------------------------------------------- found by the hunt


def _seed_154_live(environment: GuardedEnvironment, label: str, **options: float) -> tuple[World, FaultRun]:
    """Seed 154's history played into a new world, live on the guard with no fault on, and its fault run
    (``options``: FaultRun's, such as ``stall_seconds``)."""
    world, _ = environment.new_world()
    Player(world, seed=154).history()
    profile = FaultProfile.calm(154)
    emitter = environment.go_live(world, label=label, emitter=profile.emitter)
    assert isinstance(emitter, ControlledEmitter)
    return world, FaultRun(environment, world, emitter, profile, **options)


def _drifted_copy_held_while_books_refuses(run: FaultRun, world: World) -> tuple[str, str]:
    """Books refusing every status change (429 with a Retry-After longer than the client waits through:
    each delivery fails at once), a company synced to Books created again there under a drifted name, and
    the guard's hold on that copy dead-lettered. Returns the company's name and the copy's id."""
    company = companies(154)[2]
    failing = {FaultKind.RATE_LIMIT: 1.0}
    run.faults.configure(rate=1.0, weights=failing, retry_after=60.0, route_pattern=r"^books\.mark_")
    customer = world.customer(company, f"{company} Ltd", source=Source.UI, phone="020 7154 0002")
    run.settle()
    return company, customer


def test_a_books_hold_replayed_after_the_customer_was_invoiced_leaves_it_active(
    environment: GuardedEnvironment,
) -> None:
    """Seed 154 at 60 steps, in short: a hold decided on a new Books customer was dead-lettered while Zoho
    failed, the bookkeeper invoiced the customer meanwhile, and the replay marked an invoiced customer
    inactive."""
    world, run = _seed_154_live(environment, "an invoiced customer's late hold")
    try:
        # given a company synced to Books (not invoiced yet), and Books refusing every status change;
        # when the bookkeeper creates it again under a drifted name (the guard holds the copy: dead-lettered),
        # and invoices that copy before Zoho answers again and the dead letters are replayed
        company, customer = _drifted_copy_held_while_books_refuses(run, world)
        held = Outbox.from_settings(environment.settings).by_status("dead_lettered", limit=20)
        assert [a.action.target for a in held] == [f"books:{customer}"]  # the scenario's premise
        invoice = world.raise_invoice(f"{company} Ltd")
        assert invoice.customer_id == customer
        run.heal()
        # then the invoiced customer stays active, and the hold's outcome says why
        assert world.state.books_get(customer)["status"] == "active"
        trail = AuditLog.from_settings(environment.settings).iterate(AuditQuery(record=f"books:{customer}"))
        [outcome] = [entry for entry in trail if entry.operation == "mark_books_inactive:failed"]
        assert "holds transactions" in outcome.note
    finally:
        run.faults.disable()
        environment.finish(world)


def test_an_action_its_executor_lost_leaves_the_guard_quiet_and_the_healing_sweep_carries_it_out(
    environment: GuardedEnvironment,
) -> None:
    """Seed 452 at 50 steps, in short: while DynamoDB failed, the executor could not give an action's claim
    back, and its retry, back within a second here (on AWS after the queue's visibility timeout, longer
    than the lease), found the claim still leased and was acknowledged as a duplicate. The action stayed
    running with no message anywhere, which only the outbox sweep takes up once the lease has run out;
    the harness waited for it to finish, and gave up."""
    world, run = _seed_154_live(environment, "an action its executor lost", stall_seconds=10)
    settings = environment.settings
    outbox = Outbox.from_settings(settings)
    try:
        # given a hold dead-lettered while Books refused it (as above)
        _, customer = _drifted_copy_held_while_books_refuses(run, world)
        [held] = outbox.by_status("dead_lettered", limit=20)
        # when an executor claims it and loses it: its message gone, its lease still running
        store = DynamoActionStore.from_settings(settings)
        claim = store.claim(held.action.action_id, now=datetime.now(UTC), lease_seconds=5)
        assert not isinstance(claim, Refusal)
        aws.client("sqs", settings).purge_queue(QueueUrl=settings.outbox_dlq_url)
        # then the guard is quiet: nothing but the sweep can move the action
        run.wait_quiet()
        assert [a.action.action_id for a in outbox.by_status("running", limit=20)] == [held.action.action_id]
        # and healing runs the sweep once the lease has run out: the hold is carried out
        run.heal()
        assert run.swept == 1
        assert not outbox.by_status("running", limit=20)
        assert world.state.books_get(customer)["status"] == "inactive"
    finally:
        run.faults.disable()
        environment.finish(world)


# ----------------------------------------------------------------------------------- the harness itself


def test_a_message_nobody_acknowledges_fails_the_wait_naming_it_and_the_next_test_gets_a_clean_guard(
    shared_environment: SharedEnvironment,
) -> None:
    environment = shared_environment.get()
    world, _ = environment.new_world()
    profile = FaultProfile.calm(7)
    emitter = environment.go_live(world, label="a message never acknowledged", emitter=profile.emitter)
    assert isinstance(emitter, ControlledEmitter)
    run = FaultRun(environment, world, emitter, profile, stall_seconds=3)
    settings = environment.settings
    stack = environment.stack
    assert stack is not None
    # given the processor's poller gone, and a consumer that takes the events' messages and never
    # acknowledges them (a hang, or a lost message: nothing moves any more)
    [processor] = [source for source in stack.event_sources if source.queue_url == settings.queue_url]
    processor.stop()
    try:
        world.account("Hang", "Hang Ltd", source=Source.UI)
        environment.wait_until()
        taken = aws.client("sqs", settings).receive_message(
            QueueUrl=settings.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600, WaitTimeSeconds=5
        )["Messages"]
        # then the wait gives up once nothing moved for its stall, naming what is stuck
        with pytest.raises(
            GuardNotIdle,
            match=rf"^nothing moved for 3 s .*: processing queue: 0 waiting, {len(taken)} in flight; "
            "outbox: nothing under way$",
        ):
            run.wait_quiet()
    finally:
        environment.finish(world)
    # and the environment, left busy, is stopped and replaced: no thread of it posts or polls on
    threads = [t for t in threading.enumerate() if t.name.startswith(("zoho-webhooks-", "sqs-", "schedule-"))]
    assert shared_environment.release() == [f"{len(taken)} message(s) in the processing queue"]
    assert not [thread.name for thread in threads if thread.is_alive()]
    fresh = shared_environment.get()
    assert fresh is not environment
    assert fresh.leftovers() == []
