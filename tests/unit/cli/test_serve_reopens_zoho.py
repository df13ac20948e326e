"""What ``sync-guard serve`` starts its Zoho simulator from: the Zoho saved beside kept tables, or nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import typer
from rich.console import Console

from sync_guard.cli.serve import serve_simulator
from sync_guard.local.zoho_simulator.native_sync import NativeSync
from sync_guard.local.zoho_simulator.saved import ZOHO_STATE_FILE, write_saved_zoho
from sync_guard.local.zoho_simulator.state import SimulatorState, Source


def state_folder(tmp_path: Path, *, tables: bool) -> Path:
    """A state folder with a saved Zoho (one account, synced), with or without kept tables beside it."""
    state_dir = tmp_path / "stack"
    (state_dir / "data").mkdir(parents=True)
    if tables:
        (state_dir / "data" / "shared-local-instance.db").write_bytes(b"")
    state = SimulatorState(id_block=3)
    state.crm_create("Accounts", {"Account_Name": "Heron Wharf Ltd"}, source=Source.ADMIN)
    sync = NativeSync(state)
    sync.connect()
    write_saved_zoho(state_dir / ZOHO_STATE_FILE, [state], [sync])
    return state_dir


def test_beside_kept_tables_the_simulator_starts_with_the_saved_zoho(tmp_path: Path) -> None:
    said = io.StringIO()
    simulator, saved = serve_simulator(
        Console(file=said, width=300), state_folder(tmp_path, tables=True), seed=0
    )
    assert saved is not None
    assert [r["Account_Name"] for r in simulator.state.crm_list("Accounts")] == ["Heron Wharf Ltd"]
    assert len(simulator.state.books_list_contacts()) == 1
    assert "Zoho simulator: reopened" in said.getvalue()
    assert "(1 CRM record, 1 Books customer)" in said.getvalue()


def test_without_kept_tables_the_saved_zoho_is_not_reopened(tmp_path: Path) -> None:
    said = io.StringIO()
    simulator, saved = serve_simulator(
        Console(file=said, width=300), state_folder(tmp_path, tables=False), seed=0
    )
    assert saved is None
    assert simulator.state.crm_list("Accounts") == []
    assert "Zoho simulator: starts empty, as the tables do" in said.getvalue()


def test_a_corrupt_saved_zoho_stops_serve_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = state_folder(tmp_path, tables=True)
    (state_dir / ZOHO_STATE_FILE).write_text('{"format": 1, "state": {"crm": ')
    with pytest.raises(typer.Exit) as stopped:
        serve_simulator(Console(file=io.StringIO()), state_dir, seed=0)
    assert stopped.value.exit_code == 1
    error = capsys.readouterr().err
    assert f"cannot reopen the simulator's Zoho: {state_dir / ZOHO_STATE_FILE}" in " ".join(error.split())
    assert "--fresh" in error
