"""The executor's vocabulary: an action's life in the outbox, a claim on it, and what became of it.

Life of an action (the ``status`` attribute of its outbox item, indexed by ``ByStatus``)::

    pending ──claim──> running ──> done
       ^                  │ ├────> failed         (Zoho refused for good: 404, validation; never retried)
       │                  │ ├────> not_executed   (the guard is in observe mode: nothing written to Zoho)
       │                  │ └────> dead_lettered  (last receive failed; the message sits in the DLQ)
       │                  v
       └──── retrying <───┘  (429/5xx/timeout: SQS redelivers the message)

``not_executed`` is also what the engine writes for observe-mode actions; ``cancelled`` is set by an admin
release for actions that never ran. ``dead_lettered`` and ``retrying`` actions can be claimed again (a
replayed or redelivered message); ``done``, ``failed``, ``not_executed`` and ``cancelled`` never run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sync_guard.guard.model import OutboxAction


class ActionStatus(StrEnum):
    PENDING = "pending"
    NOT_EXECUTED = "not_executed"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    CANCELLED = "cancelled"

    @property
    def claimable(self) -> bool:
        """A message for an action in this status makes the executor run it."""
        return self in CLAIMABLE


CLAIMABLE = frozenset({ActionStatus.PENDING, ActionStatus.RETRYING, ActionStatus.DEAD_LETTERED})


@dataclass(frozen=True)
class NoticeClaim:
    """The notice keys this executor may send: neither sent before nor being sent by another."""

    keys: frozenset[str]
    token: str


@dataclass(frozen=True)
class Claim:
    """This executor owns the action until ``finish`` or ``retry_later`` (or its lease runs out)."""

    action: OutboxAction
    attempt: int
    token: str

    @property
    def action_id(self) -> str:
        return self.action.action_id


@dataclass(frozen=True)
class Refusal:
    """Why an action was not claimed: unknown, already finished, or another executor holds it now."""

    action_id: str
    status: ActionStatus | None

    @property
    def reason(self) -> str:
        if self.status is None:
            return "no such action"
        if self.status is ActionStatus.RUNNING:
            return "another executor is running it"
        return f"already {self.status.value}"


@dataclass(frozen=True)
class ActionMessage:
    """One outbox-queue message: the action to run and how often SQS has delivered this message."""

    message_id: str
    action_id: str
    receive_count: int = 1


@dataclass(frozen=True)
class MessageResult:
    """What the executor did for one message; ``retry`` asks SQS to deliver it again."""

    message_id: str
    action_id: str
    status: ActionStatus | None
    retry: bool = False
    detail: str = ""


@dataclass(frozen=True)
class BatchResult:
    results: tuple[MessageResult, ...]

    @property
    def failed_message_ids(self) -> list[str]:
        """The messages to report in ``batchItemFailures``."""
        return [r.message_id for r in self.results if r.retry]
