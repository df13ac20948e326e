"""``sync-guard serve`` reopening the demo's data: its simulator starts with the demo's Zoho, not empty."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sync_guard.admin.service import AdminService
from sync_guard.cli.serve import ZohoTarget, serve_simulator, serve_stack
from sync_guard.config import Mode, Settings
from sync_guard.local.scenarios import SCENARIOS
from sync_guard.local.scenarios.world import HOLD_TAG
from sync_guard.local.stack import DYNAMODB_LOG
from sync_guard.local.zoho_simulator.saved import ZOHO_STATE_FILE
from sync_guard.local.zoho_simulator.state import SimulatorState
from sync_guard.reconcile.checks import BOOKS_DELETED_CHECK
from sync_guard.store.outbox import Outbox
from tests.support.local import watched_guarded_environment
from tests.support.logs import LogWatch

pytestmark = pytest.mark.slow

#: The smallest demo scenario that leaves holds on CRM records (preflight's, tagged).
SCENARIO = "name_drift"
#: How long the executor gets to carry out a release (a bounded readiness poll, not a sleep).
RELEASE_DEADLINE_SECONDS = 60.0
#: Outbox statuses of an action the executor has not finished with.
BUSY = ("pending", "running", "retrying")


def tags(state: SimulatorState, record_id: str) -> list[str]:
    record = state.crm_get("Accounts", record_id)
    return [t["name"] for t in record["Tag"]] if record is not None else []


def test_serve_on_the_demos_state_folder_has_the_demos_zoho_for_the_checks_and_a_release(
    tmp_path: Path, log_watch: LogWatch
) -> None:
    # given a demo-like run on a state folder (one scenario, kept tables), its Zoho saved at its end
    state_dir = tmp_path / "stack"
    with watched_guarded_environment(state_dir, log_watch, "the demo", persist=True) as demo:
        demo.run(SCENARIOS[SCENARIO]())
        demo.save_zoho(state_dir / ZOHO_STATE_FILE)

    # when serve starts on that folder with its simulator
    said = io.StringIO()
    simulator, saved = serve_simulator(Console(file=said, width=300), state_dir, seed=0)
    assert saved is not None, said.getvalue()
    assert f"Zoho simulator: reopened {state_dir / ZOHO_STATE_FILE}" in said.getvalue()
    with simulator:
        environment = simulator.settings_env() | {"SYNC_GUARD_NOTIFY_FILE": str(tmp_path / "notices.txt")}
        stack = serve_stack(
            state_dir, port=0, zoho=ZohoTarget.SIMULATOR, mode=Mode.ENFORCE, environment=environment
        )
        with log_watch.following("serve's DynamoDB Local", state_dir / DYNAMODB_LOG), stack:
            [checks] = [s for s in stack.schedules if s.function_name == "ZohoChecksFunction"]
            result: dict[str, Any] = checks.invoke(checks.scheduled_event())
            settings = Settings(dynamodb_endpoint_url=stack.state().dynamodb_endpoint_url)
            admin = AdminService.from_settings(settings)
            held = sorted(h.hold_id for h in admin.list_holds() if h.hold_id.startswith("crm:"))
            assert held, "the demo-like run left holds on CRM records"
            record_id = held[0].removeprefix("crm:")
            tagged_before = tags(simulator.state, record_id)
            # and an admin releases one of the demo's holds
            [action_id] = admin.release(
                held[0], actor="test", reason="serve on the demo's data"
            ).queued_actions
            outbox = Outbox.from_settings(settings)
            deadline = time.monotonic() + RELEASE_DEADLINE_SECONDS
            while (action := outbox.get(action_id)) is None or action.status in BUSY:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)  # a bounded readiness poll: the executor runs the release from its queue

    # then the release took the hold tag off the record in the simulator (not failed: no such record)
    assert action is not None
    assert action.status == "done", action
    assert HOLD_TAG in tagged_before
    assert HOLD_TAG not in tags(simulator.state, record_id)
    # and the missed-delete check found every customer the guard holds in Books' listing: none missing
    assert result[BOOKS_DELETED_CHECK]["status"] == "ok", result[BOOKS_DELETED_CHECK]
    assert not result[BOOKS_DELETED_CHECK].get("found"), result[BOOKS_DELETED_CHECK]
