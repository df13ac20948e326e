"""The demo's closing lines name commands that reach the demo's data as they are printed."""

from __future__ import annotations

from pathlib import Path

from sync_guard.cli._options import DEFAULT_STATE_DIR
from sync_guard.cli.demo import _next_steps


def test_with_its_own_state_dir_both_serve_and_audit_are_told_where_the_data_is(tmp_path: Path) -> None:
    text = _next_steps(tmp_path, tmp_path / "notifications.txt", tmp_path / "demo.log", [])

    assert f"serve --state-dir {tmp_path}" in text
    assert f"audit --state-dir {tmp_path} --rule NAME_DRIFT" in text


def test_with_the_default_state_dir_no_flag_is_needed(tmp_path: Path) -> None:
    text = _next_steps(DEFAULT_STATE_DIR, tmp_path / "notifications.txt", tmp_path / "demo.log", [])

    assert "--state-dir" not in text
    assert "audit --rule NAME_DRIFT" in text
