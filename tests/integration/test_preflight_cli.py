"""``sync-guard preflight`` as an operator runs it: it finds its guard like every admin command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_guard.admin.service import AdminService
from sync_guard.cli import app
from sync_guard.config import Mode, get_settings
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.seeding import plan_seed
from sync_guard.local.zoho_simulator import FaultKind, ZohoSimulator
from sync_guard.local.zoho_simulator.state import Source
from sync_guard.models.records import Module
from sync_guard.store.aws import client as aws_client
from sync_guard.store.bulk import ShadowSeeder
from sync_guard.store.checks import DynamoCheckState
from sync_guard.store.shadow import DynamoShadowRepository
from sync_guard.zoho.convert import crm_record_to_party
from tests.support.aws import AwsResources
from tests.support.local import serve_on
from tests.support.outbox import (
    HOLD_TAG,
    Pipeline,
    build_pipeline,
    create_outbox_queues,
    point_at_simulator,
)

runner = CliRunner()


@pytest.fixture
def simulator() -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=7) as sim:
        sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)
        sim.state.books_create_contact({"contact_name": "Acme Limited"}, source=Source.ADMIN)
        yield sim


def test_preflight_reaches_a_running_serve_through_its_state_dir(
    aws_server: AwsResources, simulator: ZohoSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = tmp_path / "stack"
    serve_on(aws_server, simulator, state_dir, monkeypatch)

    result = runner.invoke(app, ["preflight", "--dry-run", "--json", "--state-dir", str(state_dir)])

    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert [(h["crm_name"], h["books_name"]) for h in plan["holds"]] == [("Acme Ltd", "Acme Limited")]


def test_preflight_refuses_a_guard_configured_for_another_organisation_than_its_shadows(
    aws_server: AwsResources, simulator: ZohoSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a shadow recorded as another Books organisation's than the one the guard is configured for
    state_dir = tmp_path / "stack"
    DynamoCheckState.from_settings(get_settings()).record_books_organization(
        "20081234567", at=datetime(2026, 9, 1, 10, 15, tzinfo=UTC), by="scheduler:zoho-checks"
    )
    serve_on(aws_server, simulator, state_dir, monkeypatch)

    for mode in ("--dry-run", "--apply"):
        refused = runner.invoke(app, ["preflight", mode, "--state-dir", str(state_dir)])

        # then it exits 2 naming both ids, before reading Zoho or holding anything
        assert refused.exit_code == 2, refused.output
        assert f"configured for Books organisation {simulator.books_organization_id}" in refused.output
        assert "holds the Books customers of organisation 20081234567" in refused.output
        assert simulator.requests.records == []
        assert _tags(simulator, _acme(simulator)) == []


def test_preflight_with_no_zoho_configured_says_so_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["preflight", "--dry-run", "--state-dir", str(tmp_path / "none")])

    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID is not set")
    assert "--stack-name" in line


# ----------------------------------------------------------- holds, as the guard's own (moto + simulator)


@pytest.fixture
def guard_on_simulator(
    aws: AwsResources, simulator: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[Pipeline, ZohoSimulator]:
    return _stack_on(aws, simulator, monkeypatch, Mode.ENFORCE)


def _stack_on(
    aws: AwsResources, simulator: ZohoSimulator, monkeypatch: pytest.MonkeyPatch, mode: Mode
) -> tuple[Pipeline, ZohoSimulator]:
    """The guard's outbox pipeline in ``mode``, writing to the simulator."""
    queues = create_outbox_queues(aws, monkeypatch)
    point_at_simulator(simulator, monkeypatch, mode=mode)
    return build_pipeline(aws, queues), simulator


def _tags(sim: ZohoSimulator, record_id: str) -> list[str]:
    record = sim.state.crm_get("Accounts", record_id)
    assert record is not None
    return [t["name"] for t in record.get("Tag") or []]


def _acme(sim: ZohoSimulator) -> str:
    [account] = sim.state.crm_list("Accounts")
    return str(account["id"])


def test_a_preflight_hold_is_audited_listed_and_released_like_the_guards_own(
    guard_on_simulator: tuple[Pipeline, ZohoSimulator],
) -> None:
    pipeline, sim = guard_on_simulator
    record_id = _acme(sim)
    ref = f"crm:{record_id}"

    held = runner.invoke(app, ["preflight", "--actor", "user:ivy"])

    assert held.exit_code == 0, held.output
    assert "1 held (tag added)" in held.output
    assert _tags(sim, record_id) == [HOLD_TAG]
    # the audit trail has the operation, its actor and the executor's outcome
    audited = runner.invoke(app, ["audit", "--record", ref, "--decision", "admin", "--json"])
    entries = json.loads(audited.output)["entries"]
    assert [(e["kind"], e["operation"], e["actor"], e["rules"]) for e in entries] == [
        ("action", "tag_crm_record:done", "executor", ["NAME_DRIFT"]),
        ("admin", "preflight_hold", "user:ivy", ["NAME_DRIFT"]),
    ]
    # quarantines list shows it, release undoes the tag through the outbox
    listed = runner.invoke(app, ["quarantines", "list"])
    assert ref in listed.output
    assert "NAME_DRIFT" in listed.output
    released = runner.invoke(app, ["quarantines", "release", ref, "--actor", "user:ivy"])
    assert released.exit_code == 0, released.output
    assert "queued 1 action(s)" in released.output
    pipeline.drain()
    assert _tags(sim, record_id) == []
    assert "0 open quarantine(s)" in runner.invoke(app, ["quarantines", "list"]).output


def test_a_preflight_hold_on_a_record_the_guard_knows_expects_its_echo(
    guard_on_simulator: tuple[Pipeline, ZohoSimulator],
) -> None:
    # the tag comes back as a CRM webhook: the record's state must recognise it, not decide again
    _, sim = guard_on_simulator
    record_id = _acme(sim)
    data = sim.state.crm_get("Accounts", record_id)
    assert data is not None
    account = crm_record_to_party(Module.CRM_ACCOUNTS, data)
    ShadowSeeder(aws_client("dynamodb", get_settings()), get_settings().shadow_table).load(
        plan_seed([account], [], LibraryMatcher(), now=datetime.now(UTC)).states
    )

    assert runner.invoke(app, ["preflight"]).exit_code == 0

    [hold] = AdminService.from_settings(get_settings()).list_holds()
    state = DynamoShadowRepository.from_settings(get_settings()).get_state(f"crm:{record_id}")
    assert state is not None
    assert state.held_by == hold.entry_id
    assert list(state.echo_expected.values()) == [{"crm_tag": HOLD_TAG}]
    assert hold.name == account.name


def test_while_the_guard_observes_preflight_holds_only_when_asked_and_then_in_zoho(
    aws: AwsResources, simulator: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the seed's order: seed, preflight, then observe; a hold that is not written clones the record
    create_outbox_queues(aws, monkeypatch)
    point_at_simulator(simulator, monkeypatch, mode=Mode.OBSERVE)
    record_id = _acme(simulator)

    dry = runner.invoke(app, ["preflight"])
    assert "1 to hold (dry run)" in dry.output
    assert AdminService.from_settings(get_settings()).list_holds() == []

    applied = runner.invoke(app, ["preflight", "--apply"])

    assert applied.exit_code == 0, applied.output
    assert "1 held (tag added)" in applied.output
    assert _tags(simulator, record_id) == [HOLD_TAG]
    [hold] = AdminService.from_settings(get_settings()).list_holds()
    assert (hold.hold_id, hold.mode) == (f"crm:{record_id}", "enforce")


def test_a_record_the_guard_already_holds_is_not_held_twice(
    guard_on_simulator: tuple[Pipeline, ZohoSimulator],
) -> None:
    _, sim = guard_on_simulator
    ref = f"crm:{_acme(sim)}"
    admin = AdminService.from_settings(get_settings())
    admin.hold(ref, actor="user:ivy", reason="by hand")

    result = runner.invoke(app, ["preflight", "--json"])

    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["recorded"] == 0
    assert plan["not_applied"] == [f"{ref}: {ref} is already held (held, {admin.list_holds()[0].entry_id})"]


@pytest.fixture
def observing_guard_on_simulator(
    aws: AwsResources, simulator: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[Pipeline, ZohoSimulator]:
    return _stack_on(aws, simulator, monkeypatch, Mode.OBSERVE)


def test_an_applied_hold_retried_by_the_observing_stack_is_still_written(
    observing_guard_on_simulator: tuple[Pipeline, ZohoSimulator],
) -> None:
    # `--apply` writes while the guard observes; Zoho's 429 hands the tag to the stack's outbox function.
    pipeline, sim = observing_guard_on_simulator
    sim.faults.configure(route_pattern="crm.add_tags")
    sim.faults.script([FaultKind.RATE_LIMIT])

    applied = runner.invoke(app, ["preflight", "--apply"])
    pipeline.drain()

    assert _tags(sim, _acme(sim)) == ["sync-guard-hold"]
    # and the command said why the tag was not there yet, in words, not the outbox's `retrying`
    said = " ".join(applied.output.split())
    assert f"not held in Zoho: crm:{_acme(sim)}: hold tag not added: Zoho asked to try again later" in said
    assert "retrying" not in said


def test_releasing_an_applied_hold_while_the_guard_observes_removes_its_tag(
    observing_guard_on_simulator: tuple[Pipeline, ZohoSimulator],
) -> None:
    pipeline, sim = observing_guard_on_simulator
    held = runner.invoke(app, ["preflight", "--apply"])
    assert "1 held (tag added)" in held.output

    released = runner.invoke(app, ["quarantines", "release", f"crm:{_acme(sim)}"])
    pipeline.drain()

    assert released.exit_code == 0, released.output
    assert "NOT written" not in released.output
    assert _tags(sim, _acme(sim)) == []
