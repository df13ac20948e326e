"""What a running local guard leaves for the admin commands to find it."""

from __future__ import annotations

import os
from pathlib import Path

from sync_guard.local.stack import LocalStackState
from sync_guard.local.zoho_simulator import ZohoSimulator


def publish_serve_state(sim: ZohoSimulator, state_dir: Path) -> None:
    """What a running ``sync-guard serve`` on the simulator writes: no secrets in stack.json."""
    state_dir.mkdir(parents=True)
    environment = {
        name: value
        for name, value in sim.settings_env().items()
        if name not in ("SYNC_GUARD_ZOHO_CLIENT_SECRET", "SYNC_GUARD_ZOHO_REFRESH_TOKEN")
    }
    LocalStackState(
        api_url="http://127.0.0.1:3000",
        aws_endpoint_url="http://127.0.0.1:5001",
        dynamodb_endpoint_url="http://127.0.0.1:8001",
        environment=environment | {"SYNC_GUARD_MODE": "enforce"},
        pid=os.getpid(),
        zoho_url=sim.url,
    ).write(state_dir)
