"""`serve` and `demo` run the local stack, whose packages come from the `dev` extra: installed with only
`.[cli]` (what the README offers the operator), they say what to install instead of a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_guard.cli import build_app
from sync_guard.local import LOCAL_STACK_PACKAGES
from sync_guard.local.scenarios import SCENARIOS


@pytest.mark.parametrize(("module", "package"), LOCAL_STACK_PACKAGES.items())
@pytest.mark.parametrize("command", [["serve"], ["demo", "--scenario", next(iter(SCENARIOS))]])
def test_without_the_dev_extra_the_local_stack_commands_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str], module: str, package: str
) -> None:
    # given: an environment without the package (None in sys.modules makes its import fail)
    monkeypatch.setitem(sys.modules, module, None)

    # when
    result = CliRunner().invoke(build_app(), [*command, "--state-dir", str(tmp_path / "state")])

    # then
    assert result.exit_code == 2, result.output
    assert f"needs {package}" in result.output
    assert "pip install -e '.[dev]'" in result.output
    assert not (tmp_path / "state").exists(), "nothing is started or written"
