"""What a running local guard leaves for the admin commands to find it, and where it logs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from sync_guard.config import get_settings
from sync_guard.local.scenarios.guarded import GuardedEnvironment
from sync_guard.local.stack import DYNAMODB_LOG, LocalStack, LocalStackState, running_stack
from sync_guard.local.zoho_simulator import ZohoSimulator
from sync_guard.local.zoho_simulator.oauth import MINTS_PER_WINDOW, TokenAuthority
from sync_guard.local.zoho_simulator.server import DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN
from tests.support.aws import AwsResources
from tests.support.logs import LogWatch


def simulator_secrets(seed: int = 0) -> tuple[str, ...]:
    """The secrets of the simulator that ``sync-guard serve --seed SEED`` or ``demo`` (seed 0) starts in its
    own process: its credentials, and the access tokens it can mint in a run shorter than Zoho's mint window.

    Its tokens come from a generator seeded with ``seed`` (the same in every process), and it refuses a
    refresh token more than ``MINTS_PER_WINDOW`` tokens a window: an authority seeded alike, asked as many
    times, mints the same ones."""
    authority = TokenAuthority(seed=seed)
    tokens = tuple(authority.issue_directly() for _ in range(MINTS_PER_WINDOW))
    return (DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, *tokens)


#: The secrets of the simulator `sync-guard serve` and `demo` start (seed 0) in their own process.
SIMULATOR_SECRETS = simulator_secrets()


def publish_serve_state(sim: ZohoSimulator, state_dir: Path, aws: AwsResources | None = None) -> None:
    """What a running ``sync-guard serve`` on the simulator writes: no secrets in stack.json. With ``aws``,
    its tables and queues are those (the caller takes their variables out of the environment, so that
    commands find them through ``state_dir``); without, servers that do not run."""
    state_dir.mkdir(parents=True)
    environment = {
        name: value
        for name, value in sim.settings_env().items()
        if name not in ("SYNC_GUARD_ZOHO_CLIENT_SECRET", "SYNC_GUARD_ZOHO_REFRESH_TOKEN")
    }
    resources = aws.environment if aws is not None else {}
    LocalStackState(
        api_url="http://127.0.0.1:3000",
        aws_endpoint_url=resources.get("SYNC_GUARD_AWS_ENDPOINT_URL", "http://127.0.0.1:5001"),
        dynamodb_endpoint_url=resources.get("SYNC_GUARD_DYNAMODB_ENDPOINT_URL", "http://127.0.0.1:8001"),
        environment=environment | resources | {"SYNC_GUARD_MODE": "enforce"},
        pid=os.getpid(),
        zoho_url=sim.url,
    ).write(state_dir)


def serve_on(aws: AwsResources, sim: ZohoSimulator, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A running ``serve`` on ``aws``'s tables, found through ``state_dir`` only."""
    publish_serve_state(sim, state_dir, aws)
    for name in aws.environment:
        monkeypatch.delenv(name)
    get_settings.cache_clear()


@contextmanager
def watched_stack(log_watch: LogWatch, state_dir: Path, **kwargs: Any) -> Iterator[LocalStack]:
    """A started local stack whose DynamoDB Local's output the log watch reads (its handlers log in this
    process: the watch reads them anyway)."""
    with (
        log_watch.following("the local stack's DynamoDB Local", state_dir / DYNAMODB_LOG),
        running_stack(state_dir, **kwargs) as stack,
    ):
        yield stack


@contextmanager
def watched_guarded_environment(
    state_dir: Path, log_watch: LogWatch, label: str, **options: Any
) -> Iterator[GuardedEnvironment]:
    """A guarded environment (local stack in enforce mode + Zoho simulator) in ``state_dir``, what its
    DynamoDB Local prints read by the log watch."""
    with (
        log_watch.following(f"{label}'s DynamoDB Local", state_dir / DYNAMODB_LOG),
        GuardedEnvironment(state_dir, **options) as environment,
    ):
        yield environment


class SharedEnvironment:
    """The module's guarded environment, started when a test first needs it and replaced after a test that
    left it busy (a run that gave up waiting leaves messages queued, actions under way, dead letters): a
    later test never inherits what an earlier one left."""

    def __init__(self, start: Callable[[], AbstractContextManager[GuardedEnvironment]]) -> None:
        self._start = start
        self._running: AbstractContextManager[GuardedEnvironment] | None = None
        self._environment: GuardedEnvironment | None = None

    def get(self) -> GuardedEnvironment:
        if self._environment is None:
            self._running = self._start()
            self._environment = self._running.__enter__()
        return self._environment

    def release(self) -> list[str]:
        """After a test: stop the environment if the test left something in it; what it left."""
        if self._environment is None:
            return []
        left = self._environment.leftovers()
        if left:
            self.stop()
        return left

    def stop(self) -> None:
        if self._running is not None:
            self._environment, running, self._running = None, self._running, None
            running.__exit__(None, None, None)
