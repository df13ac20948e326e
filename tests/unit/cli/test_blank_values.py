"""A blank value typed for an option or an argument is refused naming it (exit 2): leaving the option out
has a meaning (``audit --record`` left out: no filter), an empty value must not quietly mean the same."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from sync_guard.cli import build_app

runner = CliRunner()
APP = build_app()


def _options_taking_a_value() -> list[tuple[list[str], str, bool]]:
    """Every option of every command that takes a value and has no callback of its own (``--actor``'s
    says why it needs one, tests/unit/cli/test_refusals_in_words.py), and whether it may be left out."""
    found: list[tuple[list[str], str, bool]] = []
    pending: list[tuple[list[str], Any]] = [([], typer.main.get_command(APP))]
    while pending:
        path, command = pending.pop()
        for name, sub in getattr(command, "commands", {}).items():
            pending.append(([*path, name], sub))
        for param in command.params:
            if param.param_type_name == "option" and not param.is_flag and param.callback is None:
                option = next(opt for opt in param.opts if opt.startswith("--"))
                found.append((path, option, not param.required))
    return sorted(found)


OPTIONS = _options_taking_a_value()


def test_the_options_are_found() -> None:
    assert {
        (("audit",), "--record"),
        (("audit",), "--since"),
        (("audit",), "--stack-name"),
        (("quarantines", "confirm"), "--survivor"),
        (("quarantines", "hold"), "--related"),
        (("match-report",), "--crm"),
        (("replay-dlq",), "--state-dir"),
    } <= {(tuple(path), option) for path, option, _ in OPTIONS}


@pytest.mark.parametrize(
    ("path", "option", "optional"), OPTIONS, ids=[f"{' '.join(p)} {o}" for p, o, _ in OPTIONS]
)
@pytest.mark.parametrize("blank", ["", "  "], ids=["empty", "spaces"])
def test_a_blank_value_for_any_option_is_refused_naming_it(
    path: list[str], option: str, optional: bool, blank: str
) -> None:
    # Only the blank option given: click processes the options typed before those still missing.
    refused = runner.invoke(APP, [*path, option, blank])

    assert refused.exit_code == 2, refused.output
    shown = " ".join(refused.output.replace("│", " ").split())
    assert f"Invalid value for '{option}'" in shown  # "'--jobs' / '-j'" where there is a short one
    assert ": empty: give a value" + (f", or leave {option} out" if optional else "") in shown


def test_audit_with_an_empty_record_is_refused_not_taken_for_no_filter() -> None:
    refused = runner.invoke(APP, ["audit", "--record", ""])

    assert refused.exit_code == 2
    shown = " ".join(refused.output.replace("│", " ").split())
    assert "Invalid value for '--record': empty: give a value, or leave --record out" in shown


@pytest.mark.parametrize("command", [["quarantines", "release"], ["show"], ["quarantines", "hold"]])
def test_a_blank_record_argument_is_refused_naming_it(command: list[str]) -> None:
    refused = runner.invoke(APP, [*command, " "])

    assert refused.exit_code == 2
    shown = " ".join(refused.output.replace("│", " ").split())
    assert "Invalid value for 'record': empty: give a value" in shown


def test_an_option_left_out_is_not_taken_for_blank(monkeypatch: pytest.MonkeyPatch) -> None:
    from sync_guard.cli import quarantine

    released: list[dict[str, str]] = []

    class Admin:
        def release(self, record: str, *, actor: str, reason: str) -> None:
            released.append({"record": record, "actor": actor, "reason": reason})

    monkeypatch.setattr(quarantine, "_operate", lambda *args: args[-1](Admin()))

    # --reason is "" when left out (the operation's own words then): only what was typed is looked at
    runner.invoke(build_app(["quarantine"]), ["quarantines", "release", "crm:1", "--actor", "user:ivy"])

    assert released == [{"record": "crm:1", "actor": "user:ivy", "reason": ""}]
