"""`sync-guard demo` as a person runs it: a separate process, its JSON, its table, its files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import pytest

from sync_guard.local.stack import DYNAMODB_LOG
from sync_guard.local.zoho_simulator.saved import ZOHO_STATE_FILE, read_saved_zoho
from tests.support.local import SIMULATOR_SECRETS
from tests.support.logs import LogWatch

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


class DemoRunner(Protocol):
    def __call__(self, state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]: ...


#: The demo's webhook secret, set as ``sync-guard serve`` takes it, so that the log watch knows it.
DEMO_SECRET = "demo-webhook-secret-e2e-0123456789"


@pytest.fixture
def run_demo(log_watch: LogWatch) -> DemoRunner:
    """Runs the demo in its own process; what it prints and logs is read by the log watch, for the
    webhook secret it is given and its simulator's credentials and tokens."""

    def run(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_GUARD_", "AWS_"))}
        environment |= {"SYNC_GUARD_WEBHOOK_SECRET": DEMO_SECRET, "COLUMNS": "200"}
        secrets = (DEMO_SECRET, *SIMULATOR_SECRETS)
        completed = log_watch.run(
            "sync-guard demo",
            [sys.executable, "-m", "sync_guard.cli", "demo", "--state-dir", str(state_dir), *args],
            secrets,
            cwd=ROOT,
            env=environment,
            timeout=300,
        )
        for log in ("demo.log", DYNAMODB_LOG):
            log_watch.read_file("sync-guard demo", state_dir / log, secrets)
        return completed

    return run


def test_demo_json_has_the_documented_keys_and_the_guard_wins(tmp_path: Path, run_demo: DemoRunner) -> None:
    completed = run_demo(
        tmp_path / "demo", "--json", "--scenario", "name_drift", "--scenario", "deleted_partner"
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    # stdout is the JSON document only: the handlers' log lines went to the log file
    report = json.loads(completed.stdout)
    by_name = {s["name"]: s for s in report["scenarios"]}
    assert list(by_name) == ["name_drift", "deleted_partner"]
    for scenario in report["scenarios"]:
        assert {"duplicates"} <= set(scenario["without_guard"])
        assert {"duplicates", "live_duplicates", "invoiced_duplicates"} <= set(scenario["with_guard"])
        assert isinstance(scenario["rules_fired"], dict)
        assert scenario["with_guard"]["live_duplicates"] == 0
        assert scenario["with_guard"]["invoiced_duplicates"] == 0
    assert by_name["name_drift"]["without_guard"]["duplicates"] == 8
    assert "RECREATED_AFTER_DELETE" in by_name["deleted_partner"]["rules_fired"]
    assert report["targets"]["live_ratio_met"] is True
    # where to look next exists: the notifications file and the log
    assert Path(report["notifications_file"]).read_text().count("=" * 100) >= 1
    log = Path(report["log_file"]).read_text()
    assert "webhook accepted" in log
    # each handler line names the function that wrote it, though the functions share the demo's process,
    # and Powertools printed no metric (the local stack disables them) into the log
    json_lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert not [line for line in json_lines if "_aws" in line]
    writers = {(line["message"], line.get("function_name")) for line in json_lines}
    assert {writer for writer in writers if writer[0] in ("webhook accepted", "event processed")} == {
        ("webhook accepted", "IngestFunction"),
        ("event processed", "ProcessorFunction"),
    }
    # and the Zoho the tables name is kept beside them for serve: both scenarios' organisations, and each
    # scenario's native sync with its ID map over their records
    saved = read_saved_zoho(tmp_path / "demo" / ZOHO_STATE_FILE)
    assert len(saved.syncs) == 2
    crm_ids = {i for records in saved.state["crm"].values() for i in records}
    crm_ids |= {i for merged in saved.state["crm_merged_into"].values() for i in merged}
    crm_ids |= {e["id"] for deleted in saved.state["crm_deleted"].values() for e in deleted}
    for sync in saved.syncs:
        assert sync["id_map"]
        assert set(sync["id_map"]) <= crm_ids
        assert set(sync["id_map"].values()) <= set(saved.state["books_contacts"])


def test_the_guards_own_warnings_go_to_the_log_file_not_over_the_table(
    tmp_path: Path, run_demo: DemoRunner
) -> None:
    completed = run_demo(tmp_path / "demo", "--scenario", "stalled_sync")
    assert completed.returncode == 0, completed.stderr[-2000:]
    # the stall check warns when it reports a stall: in the log, not on the console
    assert "sync stall reported" in (tmp_path / "demo" / "demo.log").read_text()
    assert "sync stall reported" not in completed.stderr + completed.stdout
    assert "Sync stalled (user gone)" in completed.stdout


def test_demo_without_the_guard_prints_a_table(tmp_path: Path, run_demo: DemoRunner) -> None:
    completed = run_demo(tmp_path / "demo", "--without-guard-only")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "Disconnect + reconnect (200)" in completed.stdout
    assert "65 duplicate customers" in completed.stdout
    # no guard, no tables naming the simulated records: no Zoho kept for serve
    assert not (tmp_path / "demo" / ZOHO_STATE_FILE).exists()


def test_unknown_scenario_is_refused(tmp_path: Path, run_demo: DemoRunner) -> None:
    completed = run_demo(tmp_path / "demo", "--scenario", "nope", "--without-guard-only")
    assert completed.returncode != 0
    assert "unknown scenario" in completed.stderr
