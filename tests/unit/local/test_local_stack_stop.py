"""Stopping the local stack: every poller and schedule is told at once, then each is waited for."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, cast

from sync_guard.local.runtime import ScheduleEventSource
from sync_guard.local.stack import LocalStack


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
