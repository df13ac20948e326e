"""The admin API and the outbox functions inside the local stack: template routes over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync_guard.local.stack import DYNAMODB_LOG, LocalStack
from tests.support.local import watched_stack
from tests.support.logs import LogWatch

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path, log_watch: LogWatch) -> Iterator[LocalStack]:
    with watched_stack(log_watch, tmp_path / "stack", port=0, persist=False) as started:
        yield started


def test_the_local_stack_serves_the_admin_api_and_runs_the_outbox_functions(stack: LocalStack) -> None:
    if stack.dynamodb is not None and stack.dynamodb.kind == "dynamodb-local":
        # what DynamoDB Local prints is kept beside the data, where the log watch reads it
        assert "Initializing DynamoDB Local" in (stack.state_dir / DYNAMODB_LOG).read_text()
    functions = {source.function_name for source in stack.event_sources}
    assert {"OutboxFunction", "ProcessorFunction"} <= functions
    assert "SweepFunction" in {schedule.function_name for schedule in stack.schedules}
    headers = {"X-Sync-Guard-Actor": "local-tester"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=10) as api:
        listed = api.get("/admin/quarantines")
        assert listed.status_code == 200
        assert listed.json() == {"quarantines": [], "count": 0}

        reset = httpx.post(
            f"{stack.api_url}/admin/breaker/reset", json={"reason": "test"}, headers=headers, timeout=10
        )
        assert reset.status_code == 409
        assert reset.json()["error"] == "conflict"

        missing = api.post("/admin/quarantines/release", json={})
        assert missing.status_code == 400
        assert missing.json()["field"] == "hold_id"
        not_held = api.post("/admin/quarantines/apply", json={"hold_id": "crm:404"})
        assert (not_held.status_code, not_held.json()["field"]) == (404, "hold_id")
        malformed = api.post("/admin/quarantines/hold", json={"record": "acme"})
        assert malformed.status_code == 400
        assert malformed.json()["field"] == "record"

    audit = httpx.get(
        f"{stack.api_url}/admin/audit", params={"decision": "admin"}, headers=headers, timeout=10
    )
    assert audit.status_code == 200
    assert audit.json()["entries"] == []
    # the sweep runs as the schedule would invoke it, against the stack's tables and queues
    [sweep] = [s for s in stack.schedules if s.function_name == "SweepFunction"]
    assert sweep.fire() == {"unqueued_events_requeued": 0, "actions_requeued": 0, "events_requeued": 0}
