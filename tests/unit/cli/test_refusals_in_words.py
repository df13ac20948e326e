"""What the command line says is in words an admin reads: no pydantic wording in a refused value, no
operation's audit name in a confirmation, no admin API field the admin never typed in a refusal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from sync_guard.admin.model import OperationResult
from sync_guard.cli import build_app
from sync_guard.cli._options import named_actor
from sync_guard.cli.quarantine import CLI_NAMES, done
from sync_guard.config import Mode
from sync_guard.guard.admin import admin_entry

runner = CliRunner()


@pytest.mark.parametrize(
    ("module", "args", "said"),
    [
        ("serve", ["serve", "--mode", "bad"], "'bad' is not one of 'observe', 'enforce'."),
        ("serve", ["serve", "--zoho", "elsewhere"], "'elsewhere' is not one of 'simulator', 'live'."),
        ("replay_dlq", ["replay-dlq", "--queue", "inbox"], "'inbox' is not one of 'processing', 'outbox'"),
        # a number: our words, not pydantic's ("Input should be greater than or equal to 1")
        (
            "audit",
            ["audit", "--limit", "0"],
            "Invalid value for '--limit': 0 is less than 1, the least --limit",
        ),
        ("serve", ["serve", "--port", "x"], "Invalid value for '--port': 'x' is not a whole number"),
        ("serve", ["serve", "--port", "70000"], "Invalid value for '--port': 70000 is more than 65535"),
        (
            "serve",
            ["serve", "--sync-interval", "x"],
            "Invalid value for '--sync-interval': 'x' is not a number",
        ),
        ("match_report", ["match-report", "-j", "0"], "0 is less than 1, the least --jobs takes"),
    ],
)
def test_a_value_typer_refuses_is_told_in_our_words_or_its_checks(
    module: str, args: list[str], said: str
) -> None:
    refused = runner.invoke(build_app([module]), args)

    assert refused.exit_code == 2
    shown = " ".join(refused.output.replace("│", " ").split())
    assert said in shown
    assert "Value error" not in shown
    assert "Input should" not in shown


def _result(operation: str, *records: str) -> OperationResult:
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    entry = admin_entry(operation, actor="user:ivy", at=at, mode=Mode.ENFORCE, note="", records=records)
    return OperationResult(operation=operation, entry=entry)


@pytest.mark.parametrize(
    ("result", "said"),
    [
        (_result("hold", "crm:1"), "Held crm:1"),
        (_result("hold", "crm:1", "books:9", "crm:2"), "Held crm:1, related to books:9, crm:2"),
        (_result("release", "books:9"), "Released books:9"),
        (_result("apply", "books:9"), "Applied the hold of books:9 to Zoho"),
        (
            _result("forget_release", "crm:1", "books:9", "books:2"),
            "Forgot the release of crm:1 as not a duplicate of books:9",
        ),
        (_result("confirm", "books:9", "books:1"), "Confirmed books:9 as a duplicate of books:1"),
        (_result("link", "crm:1", "books:9", "books:2"), "Linked crm:1 and books:9"),
        (_result("reset_storm_breaker"), "Reset the storm breaker"),
    ],
)
def test_each_admin_operation_is_confirmed_in_words(result: OperationResult, said: str) -> None:
    assert done(result) == said


def test_an_operation_without_words_is_named_as_a_command_not_as_the_audit_names_it() -> None:
    assert done(_result("new_thing", "crm:1")) == "new-thing: crm:1"


def test_every_name_the_admin_commands_give_a_field_is_one_their_help_shows() -> None:
    command_line = typer.main.get_command(build_app(["quarantine"]))
    shown: set[str] = set()
    pending = [command_line]
    while pending:
        command = pending.pop()
        pending.extend(getattr(command, "commands", {}).values())
        for param in command.params:
            shown.update(param.opts if param.param_type_name == "option" else [str(param.name)])
    assert set(CLI_NAMES.values()) <= shown
    assert "hold_id" not in shown


def _commands_taking_an_actor() -> list[list[str]]:
    found: list[list[str]] = []
    pending: list[tuple[list[str], Any]] = [([], typer.main.get_command(build_app()))]
    while pending:
        path, command = pending.pop()
        for name, sub in getattr(command, "commands", {}).items():
            pending.append(([*path, name], sub))
        if any("--actor" in param.opts for param in command.params):
            found.append(path)
    return sorted(found)


ACTOR_COMMANDS = _commands_taking_an_actor()


def test_the_commands_taking_an_actor_are_found() -> None:
    assert {("quarantines", "release"), ("breaker", "reset"), ("seed",), ("replay-dlq",)} <= {
        tuple(path) for path in ACTOR_COMMANDS
    }


@pytest.mark.parametrize("path", ACTOR_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("blank", [" ", ""], ids=["spaces", "empty"])
def test_a_blank_actor_is_refused_naming_the_option_before_anything_runs(path: list[str], blank: str) -> None:
    # Only --actor given: click takes the options typed before the arguments and options still missing.
    refused = runner.invoke(build_app(), [*path, "--actor", blank])

    assert refused.exit_code == 2
    shown = " ".join(refused.output.replace("│", " ").split())
    assert "Invalid value for '--actor': blank, but every admin operation needs an actor" in shown


def test_an_actor_is_recorded_without_the_blanks_around_it() -> None:
    assert named_actor("  user:ivy ") == "user:ivy"
    assert named_actor(None) is None  # --actor left out: the command names the OS user


@pytest.mark.parametrize("option", ["--since", "--until"])
@pytest.mark.parametrize("value", ["1000000d", "999999w", "99999999999999999999d"])
def test_a_duration_reaching_before_the_calendar_is_refused_naming_the_option(
    option: str, value: str
) -> None:
    # when an admin asks for the audit trail from a duration further back than a date can go
    refused = runner.invoke(build_app(["audit"]), ["audit", option, value])

    # then the option is refused in words, before any guard is looked for (before: an OverflowError's
    # traceback, exit 1)
    assert refused.exit_code == 2, refused.output
    shown = " ".join(refused.output.replace("│", " ").split())
    assert f"Invalid value for {option}: {value} reaches back before the year 1" in shown
