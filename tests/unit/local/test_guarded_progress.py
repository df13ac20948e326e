"""The deadline of the guarded scenarios' readiness waits: it moves while the work waited for moves."""

from __future__ import annotations

import pytest

from sync_guard.local.scenarios.guarded import GuardNotIdle, Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_wait_goes_on_while_its_work_moves_and_fails_naming_what_is_stuck_once_it_stops() -> None:
    clock = Clock()
    progress = Progress(stall_seconds=60, cap_seconds=900, clock=clock)
    # given work that moves every 50 s, for five minutes (longer than any fixed budget of old)
    for answered in range(7):
        progress.saw(("webhooks answered", answered))
        progress.check(lambda: "unused")
        clock.now += 50
    assert progress.left() == pytest.approx(10)
    # when it stops moving: the same look for a full stall
    progress.saw(("webhooks answered", 6))
    clock.now += 10
    # then the wait fails, saying for how long nothing moved and what is stuck
    with pytest.raises(GuardNotIdle) as failed:
        progress.check(lambda: "1 webhook(s) unanswered, posting books Customers 42")
    assert str(failed.value) == (
        "nothing moved for 60 s (after 360 s in all): 1 webhook(s) unanswered, posting books Customers 42"
    )


def test_a_wait_whose_work_moves_for_ever_still_ends_at_its_cap() -> None:
    clock = Clock()
    progress = Progress(stall_seconds=60, cap_seconds=900, clock=clock)
    for attempt in range(18):
        progress.saw(("act-1", "retrying", attempt))
        progress.check(lambda: "unused")
        clock.now += 50
    assert progress.left() == pytest.approx(0)
    with pytest.raises(GuardNotIdle, match=r"^still busy after 900 s in all: outbox: act-1 retrying"):
        progress.check(lambda: "outbox: act-1 retrying (attempt 18)")
