"""The Zoho simulator on a real local port, and the guard's clients pointed at it with fast retry settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync_guard.local.zoho_simulator import ZohoSimulator
from sync_guard.zoho.auth import InMemoryTokenCache
from sync_guard.zoho.factory import ZohoClients, build_zoho_clients
from tests.integration.zoho.zoho_support import (
    CLIENT_TIMEOUT,
    FAST_RETRY,
    FakeMonotonic,
    RecordClock,
    SleepRecorder,
)


@pytest.fixture
def token_clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def record_clock() -> RecordClock:
    return RecordClock()


@pytest.fixture
def sim(token_clock: FakeMonotonic, record_clock: RecordClock) -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=7, token_clock=token_clock, clock=record_clock) as simulator:
        yield simulator


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def zoho(sim: ZohoSimulator, sleeps: SleepRecorder) -> Iterator[ZohoClients]:
    settings = sim.settings(zoho_timeout_seconds=CLIENT_TIMEOUT)
    with build_zoho_clients(settings, InMemoryTokenCache(), retry=FAST_RETRY, sleep=sleeps) as clients:
        yield clients
