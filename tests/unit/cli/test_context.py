"""Admin commands find the right guard: flags, then environment, then a running local stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync_guard.cli._context import resolve_settings
from sync_guard.local.stack import LocalStackState


def write_local_state(state_dir: Path, *, pid: int) -> None:
    state_dir.mkdir(parents=True)
    LocalStackState(
        api_url="http://127.0.0.1:3000",
        aws_endpoint_url="http://127.0.0.1:5001",
        dynamodb_endpoint_url="http://127.0.0.1:8001",
        environment={"SYNC_GUARD_AUDIT_TABLE": "local-AuditTable", "SYNC_GUARD_MODE": "enforce"},
        pid=pid,
    ).write(state_dir)


def test_running_local_stack_is_found_without_flags(tmp_path: Path) -> None:
    write_local_state(tmp_path / "stack", pid=os.getpid())
    settings = resolve_settings(state_dir=tmp_path / "stack")
    assert settings.audit_table == "local-AuditTable"
    assert settings.dynamodb_endpoint_url == "http://127.0.0.1:8001"
    assert settings.mode == "enforce"


def test_a_stale_stack_file_is_ignored(tmp_path: Path) -> None:
    write_local_state(tmp_path / "stack", pid=2**22 + 12345)  # no such process
    settings = resolve_settings(state_dir=tmp_path / "stack")
    assert settings.audit_table == "sync-guard-audit"
    assert settings.dynamodb_endpoint_url == ""


def test_environment_wins_over_the_local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_local_state(tmp_path / "stack", pid=os.getpid())
    monkeypatch.setenv("SYNC_GUARD_AUDIT_TABLE", "prod-audit")
    assert resolve_settings(state_dir=tmp_path / "stack").audit_table == "prod-audit"


def test_explicit_flags_win_over_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_local_state(tmp_path / "stack", pid=os.getpid())
    monkeypatch.setenv("SYNC_GUARD_AUDIT_TABLE", "prod-audit")
    settings = resolve_settings(state_dir=tmp_path / "stack", audit_table="flag-audit", shadow_table=None)
    assert settings.audit_table == "flag-audit"
