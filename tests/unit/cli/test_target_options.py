"""Every admin command chooses its guard the same way: --stack-name/--region, the environment, --state-dir."""

from __future__ import annotations

from typing import Any

import pytest
import typer

import sync_guard.cli as cli

#: The target options of cli._context, which resolve_settings turns into the command's Settings.
TARGET_OPTIONS = {"--stack-name", "--region", "--state-dir"}
#: Commands that read or write a guard's tables (or its queues).
ADMIN_COMMANDS = {
    "audit",
    "seed",
    "rekey",
    "quarantines list",
    "quarantines hold",
    "quarantines release",
    "quarantines confirm",
    "link",
    "breaker reset",
    "replay-dlq",
    "requeue-awaiting",
}


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer's own click, so no isinstance)
            found |= _commands(command, f"{prefix}{name} ")
        else:
            found[f"{prefix}{name}"] = command
    return found


COMMANDS = _commands(typer.main.get_group(cli.build_app()))


def _options(command: Any) -> set[str]:
    return {option for param in command.params for option in param.opts}


def test_the_admin_commands_are_all_there() -> None:
    assert set(COMMANDS) >= ADMIN_COMMANDS


@pytest.mark.parametrize("name", sorted(ADMIN_COMMANDS))
def test_each_admin_command_takes_every_target_option(name: str) -> None:
    assert _options(COMMANDS[name]) >= TARGET_OPTIONS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_command_that_can_name_a_stack_can_name_a_local_one(name: str) -> None:
    options = _options(COMMANDS[name])
    if "--stack-name" in options:
        assert options >= TARGET_OPTIONS
