"""What the command line says is in words an admin reads: no pydantic prefix on a refused value, no
operation's audit name in a confirmation."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sync_guard.cli import build_app

runner = CliRunner()


@pytest.mark.parametrize(
    ("module", "args", "said"),
    [
        ("serve", ["serve", "--mode", "bad"], "'bad' is not one of 'observe', 'enforce'."),
        ("serve", ["serve", "--zoho", "elsewhere"], "'elsewhere' is not one of 'simulator', 'live'."),
        ("replay_dlq", ["replay-dlq", "--queue", "inbox"], "'inbox' is not one of 'processing', 'outbox'"),
    ],
)
def test_a_value_typer_refuses_is_told_without_pydantics_prefix(
    module: str, args: list[str], said: str
) -> None:
    refused = runner.invoke(build_app([module]), args)

    assert refused.exit_code == 2
    shown = " ".join(refused.output.replace("│", " ").split())
    assert said in shown
    assert "Value error" not in shown
