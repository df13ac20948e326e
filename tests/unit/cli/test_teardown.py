"""The console script may end without freeing memory object by object, and loses no output doing so."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import sync_guard.cli as cli
from sync_guard.cli import _teardown
from tests.support.logs import LogWatch

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "exports"


PythonRunner = Callable[[str], subprocess.CompletedProcess[str]]


@pytest.fixture
def run_python(log_watch: LogWatch) -> PythonRunner:
    """Runs ``code`` in a fresh interpreter; the log watch reads what it prints."""

    def run(code: str) -> subprocess.CompletedProcess[str]:
        return log_watch.run("python -c (the console script's code)", [sys.executable, "-c", code])

    return run


def test_outside_the_console_script_nothing_is_skipped() -> None:
    _teardown.skip_teardown(object())
    _teardown.exit_now_if_skipped(0)  # still here: a test's process is never ended
    assert _teardown._kept == []


def test_a_skipped_teardown_keeps_the_exit_code_and_the_output(run_python: PythonRunner) -> None:
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


def test_match_report_from_the_console_script_writes_and_says_everything(
    tmp_path: Path, log_watch: LogWatch
) -> None:
    out = tmp_path / "report"
    exports = [
        f"--{side}={FIXTURES / name}"
        for side, name in (("crm", "crm_accounts.csv"), ("books", "books_customers.csv"))
    ]
    command = [sys.executable, "-m", "sync_guard.cli", "match-report", *exports, f"--out={out}"]
    done = log_watch.run("sync-guard match-report", command)
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


def test_match_report_runs_no_garbage_collection_from_matching_to_exit(
    tmp_path: Path, run_python: PythonRunner
) -> None:
    # Millions of objects at 100k x 100k records and not one cycle among them: a collection resumed
    # between matching and writing, or at the exit, walked them all for nothing (1 s).
    exports = [
        f"--{side}={FIXTURES / name}"
        for side, name in (("crm", "crm_accounts.csv"), ("books", "books_customers.csv"))
    ]
    done = run_python(
        "import gc, sys\n"
        "from sync_guard import cli\n"
        "from sync_guard.cli import match_report as command\n"
        "matching = []\n"
        "def collected(phase, info):\n"
        "    if phase == 'start' and matching:\n"
        "        sys.stderr.write(f\"collection of generation {info['generation']}\\n\")\n"
        "gc.callbacks.append(collected)\n"
        "build = command.build_report\n"
        "def build_report(*args, **kwargs):\n"
        "    matching.append(True)\n"
        "    return build(*args, **kwargs)\n"
        "command.build_report = build_report\n"
        f"sys.argv = ['sync-guard', 'match-report', *{exports!r}, '--out={tmp_path / 'report'}']\n"
        "cli.main()\n"
    )
    assert done.returncode == 0, done.stderr
    assert "duplicate pairs" in done.stderr
    assert "collection of generation" not in done.stderr
