"""How ``Guard.process`` waits between commits that lost a race or were throttled.

A lost race is re-read and re-decided after a short wait, a throttled commit after a longer one; both waits
double each time, with jitter so that invocations which collided once do not collide again in step. The
whole retry of one event is bounded in time (``budget_seconds``, well inside the processor Lambda's timeout
for a batch of events), counted from the first failure: the first attempt's own time, however long a cold
start or a loaded host makes it, is not retrying and does not use the budget up. Past the budget, or after
a few throttled commits, the error propagates and SQS delivers the event again later. Sleep, clock and
randomness are injectable, so tests never sleep.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Protocol

from sync_guard.config import Settings


class Timer(Protocol):
    def sleep(self, seconds: float) -> None: ...

    def clock(self) -> float: ...


class MonotonicTimer:
    """Real waits, measured on the monotonic clock."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def clock(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class Waits:
    """Waits after failures of one kind: ``first``, doubled after each further one, up to ``cap``."""

    first: float
    cap: float = 1.0
    #: Failures of this kind one event may meet before it is left to the queue (None: the budget decides).
    tries: int | None = None

    def delay(self, failures: int, rng: random.Random) -> float:
        """The wait after the ``failures``-th failure (1-based)."""
        step = min(self.cap, self.first * 2 ** (failures - 1))
        # Half the step at least (never hammering), the rest at random (never in step with a rival).
        return step / 2 + rng.uniform(0, step / 2)


@dataclass(frozen=True)
class CommitBackoff:
    """The waits between attempts to commit one event, and when to stop trying."""

    conflict: Waits = Waits(first=0.02)  # a lost race
    # DynamoDB asked for fewer requests on a hot item or partition.
    throttled: Waits = Waits(first=0.2, tries=3)
    #: Time one event may spend retrying, from its first failed commit; no wait is started that would pass it.
    budget_seconds: float = 3.0
    timer: Timer = field(default_factory=MonotonicTimer)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_settings(cls, settings: Settings) -> CommitBackoff:
        return cls(budget_seconds=settings.commit_retry_budget_seconds)

    def pause(self, retrying_since: float, failures: int, *, throttled: bool) -> bool:
        """Wait before the next attempt; False, without waiting, if the failures of this kind have run out
        or the wait would end more than the budget after ``retrying_since`` (the first failure's time)."""
        waits = self.throttled if throttled else self.conflict
        if waits.tries is not None and failures >= waits.tries:
            return False
        delay = waits.delay(failures, self.rng)
        if self.timer.clock() - retrying_since + delay > self.budget_seconds:
            return False
        self.timer.sleep(delay)
        return True
