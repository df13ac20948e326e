"""The console script may end without freeing memory object by object, and loses no output doing so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import sync_guard.cli as cli
from sync_guard.cli import _teardown

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exports"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_outside_the_console_script_nothing_is_skipped() -> None:
    _teardown.skip_teardown(object())
    _teardown.exit_now_if_skipped(0)  # still here: a test's process is never ended
    assert _teardown._kept == []


def test_a_skipped_teardown_keeps_the_exit_code_and_the_output() -> None:
    done = run_python(
        "from sync_guard.cli import _teardown\n"
        "_teardown.console_started()\n"
        "_teardown.skip_teardown([1, 2, 3])\n"
        "print('written', end='')\n"
        "import sys; print('said', end='', file=sys.stderr)\n"
        "_teardown.exit_now_if_skipped(3)\n"
        "print('not reached')\n"
    )
    assert (done.returncode, done.stdout, done.stderr) == (3, "written", "said")


def test_match_report_from_the_console_script_writes_and_says_everything(tmp_path: Path) -> None:
    out = tmp_path / "report"
    exports = [
        f"--{side}={FIXTURES / name}"
        for side, name in (("crm", "crm_accounts.csv"), ("books", "books_customers.csv"))
    ]
    command = [sys.executable, "-m", "sync_guard.cli", "match-report", *exports, f"--out={out}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "duplicate pairs" in done.stderr  # the closing line, flushed before the process ended
    assert sorted(p.name for p in out.iterdir()) == [
        "clusters.csv",
        "pairs.csv",
        "summary.md",
        "support-ticket.md",
    ]


def test_main_called_in_process_leaves_nothing_armed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A test that calls main() must not leave the next in-process command able to end the process.
    def app() -> None:
        raise SystemExit(0)

    monkeypatch.setattr(cli, "app_for", lambda args: app)
    with pytest.raises(SystemExit):
        cli.main()
    _teardown.skip_teardown(object())
    assert (_teardown._console, _teardown._skip, _teardown._kept) == (False, False, [])
