"""Stopping the local stack: every poller and schedule is told at once, then each is waited for; the
functions' connections are closed."""

from __future__ import annotations

import gc
import threading
import warnings
from pathlib import Path
from typing import Any, cast

import pytest

from sync_guard.config import get_settings
from sync_guard.executor.wiring import LazyZohoClients
from sync_guard.local.runtime import ScheduleEventSource
from sync_guard.local.stack import LocalStack
from sync_guard.local.zoho_simulator import ZohoSimulator
from tests.support.aws import AwsResources
from tests.support.outbox import point_at_simulator


def test_stop_tells_every_schedule_before_waiting_for_any(tmp_path: Path) -> None:
    # given a stack whose two schedules are each in the middle of a run
    schedules: list[ScheduleEventSource] = []
    started = {name: threading.Event() for name in ("ChecksFunction", "SweepFunction")}
    saw_every_stop: dict[str, bool] = {}

    def a_run_of(name: str) -> Any:
        def handler(event: dict[str, Any], context: Any) -> None:
            if name in saw_every_stop:
                return
            started[name].set()
            # a run in progress ends once every schedule has been asked to stop (or gives up after 5 s)
            saw_every_stop[name] = all(s._stop.wait(5) for s in schedules)

        return handler

    schedules.extend(ScheduleEventSource(cast(Any, a_run_of(name)), name, 0.01) for name in started)
    stack = LocalStack(tmp_path)
    stack.schedules.extend(s.start() for s in schedules)
    assert all(event.wait(5) for event in started.values())

    # when the stack stops
    stack.stop()

    # then each run saw every schedule told to stop while it was still going: the stack did not wait for
    # the first schedule's run before telling the second
    assert saw_every_stop == {"ChecksFunction": True, "SweepFunction": True}


def test_stop_closes_the_zoho_connections_the_functions_opened(
    tmp_path: Path, aws: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a function's Zoho clients (built as its module builds them) that have called Zoho
    with ZohoSimulator(seed=3, port=0) as simulator:
        point_at_simulator(simulator, monkeypatch)
        function_clients = LazyZohoClients(get_settings())
        function_clients().books.get_contact("1")
        to_zoho = f"raddr=('127.0.0.1', {simulator.port})"

        # when the local stack that ran the function stops
        LocalStack(tmp_path).stop()

        # then the function's connection to Zoho was closed, not left for the garbage collector
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            del function_clients
            gc.collect()
    assert [str(w.message) for w in caught if to_zoho in str(w.message)] == []
