"""`sync-guard serve` as a person runs it: a separate process, real HTTP, stopped by a signal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sync_guard.local.stack import DYNAMODB_LOG
from sync_guard.local.zoho_simulator.saved import ZOHO_STATE_FILE, read_saved_zoho
from tests.support.local import SIMULATOR_SECRETS
from tests.support.logs import LogWatch

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-secret"
#: The one line where serve shows the webhook secret, on purpose: to the person who started it.
SECRET_SHOWN = f"Webhook secret (header X-Sync-Guard-Token): {SECRET}"


@dataclass
class Served:
    process: subprocess.Popen[str]
    state_dir: Path
    api_url: str
    secret: str
    output_file: Path


@pytest.fixture
def served(tmp_path: Path, log_watch: LogWatch) -> Iterator[Served]:
    """serve in its own process; what it prints (the handlers' JSON log lines among it) and what its
    DynamoDB Local prints are read by the log watch once it stops."""
    state_dir = tmp_path / "stack"
    output_file = tmp_path / "serve.out"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_GUARD_", "AWS_"))}
    environment |= {"SYNC_GUARD_WEBHOOK_SECRET": SECRET, "COLUMNS": "200"}
    with (
        log_watch.following("sync-guard serve's DynamoDB Local", state_dir / DYNAMODB_LOG),
        output_file.open("w") as output,
    ):
        process = subprocess.Popen(
            [sys.executable, "-m", "sync_guard.cli", "serve", "--port", "0", "--state-dir", str(state_dir)],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            stack_file = state_dir / "stack.json"
            deadline = time.monotonic() + 120
            while not stack_file.exists():  # readiness: the stack writes this once everything listens
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"serve did not start: {output_file.read_text()}")
                time.sleep(0.2)
            state = json.loads(stack_file.read_text())
            yield Served(process, state_dir, state["api_url"], SECRET, output_file)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            shown = output_file.read_text().replace(SECRET_SHOWN, "Webhook secret (shown on purpose)", 1)
            log_watch.read("sync-guard serve", shown, (SECRET, *SIMULATOR_SECRETS))


def test_serve_accepts_webhooks_and_stops_cleanly_on_sigterm(served: Served) -> None:
    # given a running local stack
    body = (ROOT / "events" / "payloads" / "crm-workflow-account-create.json").read_text()
    # when Zoho (here: us) posts a workflow webhook with the secret, and once without
    accepted = httpx.post(
        f"{served.api_url}/webhooks/crm",
        content=body,
        headers={"content-type": "application/json", "x-sync-guard-token": served.secret},
    )
    refused = httpx.post(
        f"{served.api_url}/webhooks/crm", content=body, headers={"content-type": "application/json"}
    )
    # then the first is accepted and the second refused
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["accepted"] == 1
    assert refused.status_code == 401
    # and SIGTERM stops everything with exit code 0 and removes stack.json
    served.process.send_signal(signal.SIGTERM)
    served.process.wait(timeout=60)
    output = served.output_file.read_text()
    assert served.process.returncode == 0, output
    assert "Stopped." in output
    # the webhook secret is shown once, to the person who started serve: its logs never carry it
    assert output.count(SECRET) == 1
    assert SECRET_SHOWN in output
    assert (
        "e2e-secret" not in (served.state_dir / "notifications.txt").read_text()
        if (served.state_dir / "notifications.txt").exists()
        else True
    )
    assert not (served.state_dir / "stack.json").exists()
    # and its simulator, started empty beside new tables, left its Zoho beside them for the next serve
    assert "Zoho simulator: starts empty" in output
    assert read_saved_zoho(served.state_dir / ZOHO_STATE_FILE).syncs[0]["connected"] is True
