"""The console script loads only the module of the command it runs, and still finds every command."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

import sync_guard.cli as cli


def command_names(app: typer.Typer) -> set[str]:
    """The names ``app`` answers to, whether commands or groups of commands."""
    names = {
        c.name or (c.callback.__name__.replace("_", "-") if c.callback else "")
        for c in app.registered_commands
    }
    return names | {g.name or "" for g in app.registered_groups}


FULL = command_names(cli.build_app())


def test_the_whole_command_line_has_every_command() -> None:
    assert {"version", "match-report", "audit", "demo", "serve", "quarantines", "breaker"} <= FULL
    assert command_names(cli.app) == FULL


@pytest.mark.parametrize("name", sorted(FULL))
def test_each_command_is_found_from_its_name_alone(name: str) -> None:
    assert name in command_names(cli.app_for([name, "--help"]))


def test_a_command_named_like_its_module_loads_that_module_only() -> None:
    assert command_names(cli.app_for(["match-report", "--out", "x"])) == {"version", "match-report"}
    assert command_names(cli.app_for(["version"])) == {"version"}


@pytest.mark.parametrize("args", [[], ["--help"], ["quarantines", "list"], ["no-such-command"]])
def test_anything_else_gets_the_whole_command_line(args: list[str]) -> None:
    assert command_names(cli.app_for(args)) == FULL


def test_match_report_starts_without_the_aws_sdk() -> None:
    # A fresh interpreter: this test process has imported boto3 long ago.
    probe = (
        "import sys; from sync_guard.cli import app_for; app_for(['match-report']); "
        "print(sorted(m for m in ('boto3', 'botocore', 'sync_guard.local.stack') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
