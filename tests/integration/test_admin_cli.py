"""Admin commands end to end on moto: quarantines, link, breaker, replay-dlq; actors in the audit trail."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from sync_guard.cli import app
from sync_guard.config import Mode, get_settings
from sync_guard.executor.queue import encode_action
from sync_guard.guard.model import AuditEntry, EntryKind
from sync_guard.local.zoho_simulator import Source, ZohoSimulator
from sync_guard.models.records import Module
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.timefmt import utc_minute
from tests.support.aws import AwsResources
from tests.support.outbox import (
    HOLD_TAG,
    Company,
    OutboxQueues,
    Pipeline,
    build_pipeline,
    create_companies,
    create_outbox_queues,
    event_for,
    point_at_simulator,
)

runner = CliRunner()


@pytest.fixture
def queues(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> OutboxQueues:
    return create_outbox_queues(aws, monkeypatch)


@pytest.fixture
def guard(
    aws: AwsResources, queues: OutboxQueues, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Pipeline, ZohoSimulator, list[Company]]]:
    """Two companies decided in enforce mode (each duplicate held), the outbox pipeline and the simulator."""
    with ZohoSimulator(seed=4) as sim:
        point_at_simulator(sim, monkeypatch)
        found = create_companies(sim, 2, books_duplicates_every=2)
        pipeline = build_pipeline(aws, queues)
        pipeline.decide([event_for(c.customer) for c in found])
        pipeline.decide([event_for(c.duplicate) for c in found])
        yield pipeline, sim, found


@pytest.fixture
def companies(guard: tuple[Pipeline, ZohoSimulator, list[Company]]) -> list[Company]:
    return guard[2]


def _admin_entries(ref: str) -> list[object]:
    entries = AuditLog.from_settings(get_settings()).iterate(AuditQuery(record=ref))
    return [e for e in entries if e.kind is EntryKind.ADMIN]


def test_list_then_release_with_the_os_user_as_actor(companies: list[Company]) -> None:
    listed = runner.invoke(app, ["quarantines", "list"])
    assert listed.exit_code == 0, listed.output
    assert "2 open quarantine(s)" in listed.output
    for company in companies:
        assert company.duplicate.ref in listed.output
    as_json = runner.invoke(app, ["quarantines", "list", "--json"])
    assert {json.loads(line)["hold_id"] for line in as_json.output.splitlines()} == {
        c.duplicate.ref for c in companies
    }

    held = companies[0].duplicate.ref
    released = runner.invoke(app, ["quarantines", "release", held, "--reason", "false alarm"])

    assert released.exit_code == 0, released.output
    assert f"Released {held}, by user:{getpass.getuser()}" in released.output
    [entry] = _admin_entries(held)
    assert entry.actor == f"user:{getpass.getuser()}"  # type: ignore[attr-defined]
    assert "1 open quarantine(s)" in runner.invoke(app, ["quarantines", "list"]).output


def test_confirm_link_and_breaker_with_an_explicit_actor(companies: list[Company]) -> None:
    held, survivor = companies[1].duplicate.ref, companies[1].customer.ref
    confirmed = runner.invoke(
        app, ["quarantines", "confirm", held, "--survivor", survivor, "--actor", "user:ivy"]
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert "confirmed" in runner.invoke(app, ["quarantines", "list", "--status", "confirmed"]).output

    crm, books = companies[0].duplicate.record_id, companies[0].customer.record_id
    linked = runner.invoke(app, ["link", "--crm", crm, "--books", books, "--actor", "user:ivy"])
    assert linked.exit_code == 0, linked.output
    assert {e.actor for e in _admin_entries(survivor)} == {"user:ivy"}  # type: ignore[attr-defined]
    shown = runner.invoke(app, ["show", f"crm:{crm}"])
    assert f"partner: books:{books} (paired by an admin)" in shown.output  # in words, not `admin`

    assert f"Confirmed {held} as a duplicate of {survivor}, by user:ivy" in confirmed.output
    assert f"Linked crm:{crm} and books:{books}, by user:ivy" in linked.output
    closed = runner.invoke(app, ["breaker", "reset", "--actor", "user:ivy"])
    assert closed.exit_code == 1
    assert "not open" in closed.output
    unknown = runner.invoke(app, ["quarantines", "release", "crm:999999", "--actor", "user:ivy"])
    assert unknown.exit_code == 1
    assert "not held" in unknown.output


class _Sqs:
    """An SQS client as ``replay-dlq`` uses it: moto's, but for what a test's subclass changes."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs

    def __getattr__(self, name: str) -> object:
        return getattr(self.sqs, name)


def _replay_through(sqs: _Sqs, monkeypatch: pytest.MonkeyPatch) -> None:
    """``replay-dlq`` talks to SQS through ``sqs``."""
    from sync_guard.cli import replay_dlq as command

    client = command.aws.client
    monkeypatch.setattr(
        command.aws,
        "client",
        lambda service, settings: sqs if service == "sqs" else client(service, settings),
    )


def _replay_entries(queue: str = "outbox") -> tuple[AuditEntry, ...]:
    """The audit entries of the replays of ``queue``: each replay's own entry, then those written before its
    batches moved."""
    entries = AuditLog.from_settings(get_settings()).query(AuditQuery(decision="admin")).entries
    ours = [e for e in entries if f"the {queue} dead-letter queue" in e.note]
    return tuple(sorted(ours, key=lambda e: (e.operation != "replay_dlq", e.at)))


def test_replay_dlq_dry_run_then_move(aws: AwsResources, queues: OutboxQueues) -> None:
    for action_id in ("act_1", "act_2", "act_3"):
        aws.sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=encode_action(action_id))

    dry = runner.invoke(app, ["replay-dlq", "--queue", "outbox", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "outbox: would move 3 message(s)" in dry.output
    assert queues.depth(aws.sqs, queues.dlq_url) == 3
    assert queues.depth(aws.sqs) == 0

    assert AuditLog.from_settings(get_settings()).query(AuditQuery(decision="admin")).entries == []

    moved = runner.invoke(app, ["replay-dlq", "--queue", "outbox", "--actor", "user:ivy"])
    assert moved.exit_code == 0, moved.output
    assert "outbox: moved 3 message(s)" in moved.output
    assert "action_id=act_2" in moved.output
    # an admin operation like any other: who sent what back, in the audit trail; what was about to move
    # first, written before anything moved
    entry, started = _replay_entries()
    assert (entry.operation, entry.actor) == ("replay_dlq", "user:ivy")
    assert sorted(entry.evidence) == ["action_id=act_1", "action_id=act_2", "action_id=act_3"]
    assert "outbox dead-letter queue" in entry.note
    assert (started.operation, started.actor) == ("replay_dlq_started", "user:ivy")
    assert sorted(started.evidence) == sorted(entry.evidence)
    assert entry.entry_id in started.note
    assert queues.depth(aws.sqs, queues.dlq_url) == 0
    bodies = [
        m["Body"] for m in aws.sqs.receive_message(QueueUrl=queues.url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert sorted(json.loads(b)["action_id"] for b in bodies) == ["act_1", "act_2", "act_3"]
    # the processing DLQ is empty: "all" moves nothing there and says so
    both = runner.invoke(app, ["replay-dlq"])
    assert "processing: moved 0 message(s)" in both.output


def test_replay_dlq_says_what_moved_when_sqs_refuses_some(
    aws: AwsResources, queues: OutboxQueues, monkeypatch: pytest.MonkeyPatch
) -> None:
    for action_id in ("act_1", "act_2", "act_bad"):
        aws.sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=encode_action(action_id))

    class Refusing(_Sqs):
        """SQS that refuses to send the message for act_bad."""

        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, object]]) -> dict[str, object]:
            good = [e for e in Entries if "act_bad" not in str(e["MessageBody"])]
            sent = aws.sqs.send_message_batch(QueueUrl=QueueUrl, Entries=good) if good else {"Successful": []}
            failed = [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"}
                for e in Entries
                if e not in good
            ]
            return {**sent, "Failed": failed}

    _replay_through(Refusing(aws.sqs), monkeypatch)
    result = runner.invoke(app, ["replay-dlq", "--queue", "outbox"])

    assert result.exit_code == 1
    assert "outbox: moved 2 message(s)" in result.output
    assert "SQS refused 1 message(s)" in result.output
    entry, started = _replay_entries()
    assert sorted(entry.evidence) == ["action_id=act_1", "action_id=act_2"]  # what did move
    assert "SQS refused 1 message(s); they stay in the dead-letter queue" in entry.note
    assert "action_id=act_bad" in started.evidence  # about to move, and refused
    assert "Traceback" not in result.output
    assert queues.depth(aws.sqs, queues.dlq_url) == 1  # the refused one waits in the dead-letter queue


def test_replay_dlq_interrupted_after_the_move_leaves_what_moved_in_the_audit_trail(
    aws: AwsResources, queues: OutboxQueues, monkeypatch: pytest.MonkeyPatch
) -> None:
    for action_id in ("act_1", "act_2"):
        aws.sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=encode_action(action_id))

    class LostOnDelete(_Sqs):
        """SQS that sends the messages back to the outbox, then is lost before deleting them from the DLQ."""

        def delete_message_batch(self, **_: object) -> dict[str, object]:
            raise ConnectionError("SQS unreachable")

    _replay_through(LostOnDelete(aws.sqs), monkeypatch)
    result = runner.invoke(app, ["replay-dlq", "--queue", "outbox", "--actor", "user:ivy"])

    # then the messages are back in the outbox (their copies in the DLQ are duplicates, harmless), and the
    # audit trail says who sent which (before: the entry came after the move, and was never written)
    assert result.exit_code != 0
    assert queues.depth(aws.sqs) == 2
    [started] = _replay_entries()
    assert (started.operation, started.actor) == ("replay_dlq_started", "user:ivy")
    assert sorted(started.evidence) == ["action_id=act_1", "action_id=act_2"]
    assert "'sync-guard replay-dlq --queue outbox --dry-run'" in started.note


def test_replay_dlq_all_goes_on_to_the_next_queue_when_one_refuses_some(
    aws: AwsResources, queues: OutboxQueues, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=json.dumps({"event_id": "evt_1"}))
    aws.sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=encode_action("act_1"))

    class RefusingProcessing(_Sqs):
        """SQS that refuses every message sent back to the processing queue."""

        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, object]]) -> dict[str, object]:
            if QueueUrl != aws.queue_url:
                return aws.sqs.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)  # type: ignore[no-any-return]
            failed = [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in Entries]
            return {"Successful": [], "Failed": failed}

    _replay_through(RefusingProcessing(aws.sqs), monkeypatch)
    result = runner.invoke(app, ["replay-dlq", "--queue", "all"])

    # then the processing queue's refusal is told, the outbox is replayed all the same, and the command fails
    assert result.exit_code == 1
    assert "processing: moved 0 message(s)" in result.output
    assert "error: processing: SQS refused 1 message(s)" in result.output
    assert "outbox: moved 1 message(s)" in result.output
    assert queues.depth(aws.sqs, queues.dlq_url) == 0
    assert queues.depth(aws.sqs) == 1
    assert queues.depth(aws.sqs, aws.dlq_url) == 1  # the refused event waits in its dead-letter queue
    [processing, _] = _replay_entries("processing")
    assert "moved 0 message(s)" in processing.note
    assert "SQS refused 1 message(s)" in processing.note


def test_show_then_forget_a_release(companies: list[Company]) -> None:
    held, customer = companies[0].duplicate.ref, companies[0].customer.ref
    runner.invoke(app, ["quarantines", "release", held, "--actor", "user:ivy"])
    shown = runner.invoke(app, ["show", held])
    assert shown.exit_code == 0, shown.output
    assert f"judged not a duplicate of: {customer}" in shown.output

    forgot = runner.invoke(
        app,
        [
            "quarantines",
            "forget-release",
            held,
            "--against",
            customer,
            "--actor",
            "user:ivy",
            "--reason",
            "x",
        ],
    )

    assert forgot.exit_code == 0, forgot.output
    assert f"Forgot the release of {held} as not a duplicate of {customer}, by user:ivy" in forgot.output
    assert json.loads(runner.invoke(app, ["show", held, "--json"]).output)["cleared"] == []
    again = runner.invoke(app, ["quarantines", "forget-release", held, "--against", customer])
    assert again.exit_code == 1
    assert "never released as not a duplicate" in again.output


def test_hold_by_hand_reaches_zoho_through_the_outbox_and_release_undoes_it(
    guard: tuple[Pipeline, ZohoSimulator, list[Company]],
) -> None:
    # given a Books customer the guard knows and does not hold
    pipeline, sim, companies = guard
    customer, copy = companies[0].customer, companies[0].duplicate

    held = runner.invoke(
        app,
        [
            "quarantines",
            "hold",
            customer.ref,
            "--reason",
            "deleted partner",
            "--related",
            copy.ref,
            "--actor",
            "user:ivy",
        ],
    )
    pipeline.drain()

    # then it is held like the guard's own holds: audited with its actor, listed, written to Zoho
    assert held.exit_code == 0, held.output
    assert f"Held {customer.ref}, related to {copy.ref}, by user:ivy" in held.output
    assert "queued 1 action(s)" in held.output
    assert sim.state.books_get(customer.record_id)["status"] == "inactive"
    [entry] = _admin_entries(customer.ref)
    assert (entry.operation, entry.actor, entry.note) == ("hold", "user:ivy", "deleted partner")  # type: ignore[attr-defined]
    assert customer.ref in runner.invoke(app, ["quarantines", "list", "--status", "held"]).output

    # and holding it again names the hold it already has
    again = runner.invoke(app, ["quarantines", "hold", customer.ref, "--actor", "user:ivy"])
    assert again.exit_code == 1
    assert f"{customer.ref} is already held" in again.output
    assert entry.entry_id in again.output  # type: ignore[attr-defined]

    # when it is released, the outbox undoes the hold in Zoho
    released = runner.invoke(app, ["quarantines", "release", customer.ref, "--actor", "user:ivy"])
    pipeline.drain()

    assert released.exit_code == 0, released.output
    assert "queued 1 action(s)" in released.output
    assert sim.state.books_get(customer.record_id)["status"] == "active"
    assert sim.requests.count("books.mark_inactive", record_id=customer.record_id, status=200) == 1
    assert sim.requests.count("books.mark_active", record_id=customer.record_id, status=200) == 1
    assert customer.ref not in runner.invoke(app, ["quarantines", "list"]).output


def test_hold_by_hand_in_observe_mode_says_nothing_is_written_to_zoho(
    guard: tuple[Pipeline, ZohoSimulator, list[Company]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, sim, companies = guard
    customer = companies[0].customer
    point_at_simulator(sim, monkeypatch, mode=Mode.OBSERVE)

    held = runner.invoke(app, ["quarantines", "hold", customer.ref, "--actor", "user:ivy"])
    pipeline.drain()

    assert held.exit_code == 0, held.output
    assert "the hold is recorded but NOT written to Zoho" in held.output
    assert "queued" not in held.output
    assert sim.state.books_get(customer.record_id)["status"] == "active"
    assert sim.requests.count("books.mark_inactive", record_id=customer.record_id) == 0


def test_hold_by_hand_tags_an_unknown_contact_in_contacts(
    guard: tuple[Pipeline, ZohoSimulator, list[Company]],
) -> None:
    # given a CRM contact created in Zoho that the guard has never seen (no webhook, no state)
    pipeline, sim, _ = guard
    contact = sim.state.crm_create("Contacts", {"Last_Name": "Okafor"}, source=Source.ADMIN)
    ref = f"crm:{contact['id']}"

    held = runner.invoke(app, ["quarantines", "hold", ref, "--module", "Contacts", "--actor", "user:ivy"])
    pipeline.drain()

    # then the hold tag reaches the contact through the Contacts module
    assert held.exit_code == 0, held.output
    assert HOLD_TAG in {t["name"] for t in sim.state.crm_get("Contacts", contact["id"])["Tag"]}


def test_hold_by_hand_refuses_a_bad_module(companies: list[Company]) -> None:
    customer = companies[0].customer.ref
    for record, module in (("crm:5725767000009990001", "Leads"), (customer, "Contacts")):
        refused = runner.invoke(
            app, ["quarantines", "hold", record, "--module", module, "--actor", "user:ivy"]
        )
        assert refused.exit_code == 1
        assert "--module" in refused.output
    assert _admin_entries(customer) == []
    assert _admin_entries("crm:5725767000009990001") == []


def test_hold_by_hand_refuses_a_malformed_reference(companies: list[Company]) -> None:
    bad = runner.invoke(app, ["quarantines", "hold", "acme", "--actor", "user:ivy"])
    assert bad.exit_code == 1
    assert "error: record must look like crm:<id> or books:<id>" in bad.output
    related = runner.invoke(
        app, ["quarantines", "hold", companies[0].customer.ref, "--related", "9", "--actor", "user:ivy"]
    )
    assert related.exit_code == 1
    assert "error: --related must look like crm:<id> or books:<id>" in related.output
    assert _admin_entries(companies[0].customer.ref) == []


def test_apply_all_writes_the_observe_mode_holds_and_leaves_the_others(
    aws: AwsResources, queues: OutboxQueues, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ZohoSimulator(seed=4) as sim:
        # given two duplicates held while the guard observed
        point_at_simulator(sim, monkeypatch, mode=Mode.OBSERVE)
        companies = create_companies(sim, 2, books_duplicates_every=2)
        pipeline = build_pipeline(aws, queues)
        pipeline.decide([event_for(c.customer) for c in companies])
        pipeline.decide([event_for(c.duplicate) for c in companies])
        observing = runner.invoke(app, ["quarantines", "apply", "--all", "--actor", "user:ivy"])
        assert observing.exit_code == 1, observing.output
        assert observing.output.count("switch to enforce first") == 1  # once, not once a hold
        # how, on AWS and on this machine
        assert "the stack parameter Mode; for the local guard, sync-guard serve --mode enforce" in " ".join(
            observing.output.split()
        )
        assert "applied" not in observing.output

        # and, once the guard enforces, a record held by hand (written to Zoho at once)
        point_at_simulator(sim, monkeypatch, mode=Mode.ENFORCE)
        pipeline = build_pipeline(aws, queues)
        enforced = companies[0].customer.ref
        assert runner.invoke(app, ["quarantines", "hold", enforced, "--actor", "user:ivy"]).exit_code == 0
        before = {json.loads(line)["hold_id"]: json.loads(line) for line in _listed_json()}

        applied = runner.invoke(
            app, ["quarantines", "apply", "--all", "--reason", "reviewed", "--actor", "user:ivy"]
        )
        pipeline.drain()

        # then the two observe-mode holds are written to Zoho, the one held by hand is left as it was
        assert applied.exit_code == 0, applied.output
        assert "2 applied, 0 refused" in applied.output
        crm_dup, books_dup = companies[0].duplicate, companies[1].duplicate
        assert f"Applied the hold of {crm_dup.ref} to Zoho, by user:ivy" in applied.output
        assert HOLD_TAG in {t["name"] for t in sim.state.crm_get("Accounts", crm_dup.record_id)["Tag"]}
        assert sim.state.books_get(books_dup.record_id)["status"] == "inactive"
        after = {json.loads(line)["hold_id"]: json.loads(line) for line in _listed_json()}
        assert after[enforced] == before[enforced]
        assert {after[d.ref]["mode"] for d in (crm_dup, books_dup)} == {"enforce"}
        assert {e.operation for e in _admin_entries(books_dup.ref)} == {"apply"}  # type: ignore[attr-defined]

        # nothing is left to apply; naming a hold already in Zoho is refused; records or --all, one of them
        again = runner.invoke(app, ["quarantines", "apply", "--all"])
        assert (again.exit_code, again.output.strip()) == (0, "no hold in observe mode: nothing to apply")
        named = runner.invoke(app, ["quarantines", "apply", enforced, "crm:404", "acme"])
        assert named.exit_code == 1
        # each refusal names its record once, and a malformed one is named as it was typed
        assert f"refused: {enforced} is already held in Zoho" in named.output
        assert "refused: crm:404 is not held" in named.output
        assert "refused: acme: record must look like crm:<id> or books:<id>" in named.output
        assert "0 applied, 3 refused" in named.output
        assert runner.invoke(app, ["quarantines", "apply"]).exit_code == 2
        assert runner.invoke(app, ["quarantines", "apply", enforced, "--all"]).exit_code == 2


def _listed_json() -> list[str]:
    listed = runner.invoke(app, ["quarantines", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    return listed.output.splitlines()


def test_link_asks_for_an_id_where_it_takes_a_bare_one(companies: list[Company]) -> None:
    # `link --crm 5725767000003000064` is how the runbook writes it: a malformed id is refused asking for
    # that, not for the crm:<id> or books:<id> of the other commands
    refused = runner.invoke(app, ["link", "--crm", "a b", "--books", "46000001", "--actor", "user:ivy"])

    assert refused.exit_code == 1
    assert "error: --crm must look like <id> or crm:<id>, the id up to 64 letters" in refused.output


def test_release_and_confirm_name_the_record_argument_and_the_options_as_their_help_does(
    companies: list[Company],
) -> None:
    held, survivor = companies[1].duplicate.ref, companies[1].customer.ref
    refusals = {
        ("quarantines", "release", "acme"): "error: record must look like crm:<id> or books:<id>",
        ("quarantines", "confirm", "acme", "--survivor", survivor): "error: record must look like crm:<id>",
        ("quarantines", "confirm", held, "--survivor", "9"): "error: --survivor must look like crm:<id>",
        ("quarantines", "forget-release", held, "--against", "9"): "error: --against must look like crm:<id>",
        ("link", "--crm", "1", "--books", "crm:2"): "error: --books must be a Books record",
    }
    for args, said in refusals.items():
        refused = runner.invoke(app, [*args, "--actor", "user:ivy"])
        assert refused.exit_code == 1, refused.output
        assert said in refused.output
        assert "hold_id" not in refused.output
    # the names they use are those the commands' help shows
    release_help = runner.invoke(app, ["quarantines", "release", "--help"]).output
    assert "{record}" in release_help
    assert "hold_id" not in release_help
    assert "{record}" in runner.invoke(app, ["quarantines", "confirm", "--help"]).output


def test_show_tells_a_customer_turned_vendor_from_a_deleted_one(
    guard: tuple[Pipeline, ZohoSimulator, list[Company]],
) -> None:
    # given a Books customer edited into a vendor in Books, at a known time
    pipeline, _, companies = guard
    customer = companies[0].customer
    assert customer.modified_at is not None
    turned_at = customer.modified_at + timedelta(minutes=5)
    vendor = customer.model_copy(update={"module": Module.BOOKS_VENDORS, "modified_at": turned_at})
    pipeline.decide([event_for(vendor)])

    shown = runner.invoke(app, ["show", customer.ref])

    assert shown.exit_code == 0, shown.output
    assert f"a Books vendor now: retired from matching since {utc_minute(turned_at)}" in shown.output
    assert "deleted in Zoho" not in shown.output
    view = json.loads(runner.invoke(app, ["show", customer.ref, "--json"]).output)
    assert (view["status"], view["deleted"]) == ("retired", True)
