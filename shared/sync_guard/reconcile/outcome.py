"""What the scheduled checks report: each check's outcome, and the run's."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sync_guard.errors import SyncGuardError


class CheckStatus(StrEnum):
    """How one check ended in one run."""

    OK = "ok"
    SKIPPED = "skipped"  # nothing to do: not configured, turned off, not due yet, or another run has it
    INCOMPLETE = "incomplete"  # stopped for time; the watermark moved to the last record fed
    FAILED = "failed"


@dataclass(frozen=True)
class CheckOutcome:
    """What one check did in one run (counts only: safe to log)."""

    check: str
    status: CheckStatus
    found: int = 0  # entries Zoho listed since the watermark
    new_events: int = 0  # stored for the first time and queued
    repeats: int = 0  # already known: in the events table, or (Books) in the shadow at that version
    unqueued: int = 0  # stored but not queued: the sweep queues them
    skipped: int = 0  # not for the guard (other modules) or no longer there
    note: str = ""
    #: Something a person must act on (a stalled sync): the function's ZohoCheckAlerts metric alarms.
    alert: bool = False


class ZohoChecksFailed(SyncGuardError):
    """At least one check failed; the others ran. Raised so that the function's error alarm fires."""

    code = "zoho_checks_failed"


@dataclass(frozen=True)
class ChecksReport:
    """Every check's outcome in one run, in the order they ran."""

    outcomes: tuple[CheckOutcome, ...]

    @property
    def failed(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if o.status is CheckStatus.FAILED]

    def summary(self) -> dict[str, Any]:
        """Counts per check, for the log line and the function's result."""
        return {
            o.check: {
                "status": o.status.value,
                "found": o.found,
                "new_events": o.new_events,
                "repeats": o.repeats,
                "unqueued": o.unqueued,
                "skipped": o.skipped,
                "note": o.note,
                "alert": o.alert,
            }
            for o in self.outcomes
        }

    def raise_for_failures(self) -> None:
        if self.failed:
            detail = "; ".join(f"{o.check}: {o.note}" for o in self.failed)
            raise ZohoChecksFailed(f"scheduled Zoho checks failed: {detail}")


def join_notes(*notes: str) -> str:
    """One check's notes in one cell: those that say something, in order."""
    return "; ".join(note for note in notes if note)
