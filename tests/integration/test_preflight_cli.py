"""``sync-guard preflight`` as an operator runs it: it finds its guard like every admin command."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_guard.cli import app
from sync_guard.local.stack import LocalStackState
from sync_guard.local.zoho_simulator import ZohoSimulator
from sync_guard.local.zoho_simulator.state import Source

runner = CliRunner()


@pytest.fixture
def simulator() -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=7) as sim:
        sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)
        sim.state.books_create_contact({"contact_name": "Acme Limited"}, source=Source.ADMIN)
        yield sim


def publish_serve_state(sim: ZohoSimulator, state_dir: Path) -> None:
    """What a running ``sync-guard serve`` on the simulator writes: no secrets in stack.json."""
    state_dir.mkdir(parents=True)
    environment = {
        name: value
        for name, value in sim.settings_env().items()
        if name not in ("SYNC_GUARD_ZOHO_CLIENT_SECRET", "SYNC_GUARD_ZOHO_REFRESH_TOKEN")
    }
    LocalStackState(
        api_url="http://127.0.0.1:3000",
        aws_endpoint_url="http://127.0.0.1:5001",
        dynamodb_endpoint_url="http://127.0.0.1:8001",
        environment=environment | {"SYNC_GUARD_MODE": "enforce"},
        pid=os.getpid(),
        zoho_url=sim.url,
    ).write(state_dir)


def test_preflight_reaches_a_running_serve_through_its_state_dir(
    simulator: ZohoSimulator, tmp_path: Path
) -> None:
    state_dir = tmp_path / "stack"
    publish_serve_state(simulator, state_dir)

    result = runner.invoke(app, ["preflight", "--dry-run", "--json", "--state-dir", str(state_dir)])

    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert [(h["crm_name"], h["books_name"]) for h in plan["holds"]] == [("Acme Ltd", "Acme Limited")]


def test_preflight_with_no_zoho_configured_says_so_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["preflight", "--dry-run", "--state-dir", str(tmp_path / "none")])

    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID is not set")
    assert "--stack-name" in line
