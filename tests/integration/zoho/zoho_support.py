"""Helpers for the Zoho client tests: fast retry settings, a sleep recorder, a movable clock."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_guard.zoho.http import RetryPolicy

# Short everything: the simulator answers in milliseconds; waits are recorded, not slept.
CLIENT_TIMEOUT = 0.3
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=30.0)


class SleepRecorder:
    """Stands in for ``time.sleep``: remembers every wait the retry logic asked for, without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeMonotonic:
    """A clock for the simulator's token expiry and mint window, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordClock:
    """What the simulator stamps records with (Modified_Time...): now, or ``at`` once a test sets it."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)
