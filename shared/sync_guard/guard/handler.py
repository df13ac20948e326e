"""The decision engine as the processor's ``EventHandler`` (``sync_guard.processing``).

The processor marks the stored event with the returned status; the audit trail holds the decision itself.
Details are log-safe: codes, decision and counts, never names or emails.
"""

from __future__ import annotations

from sync_guard.config import Settings
from sync_guard.guard.engine import Guard, GuardConfig
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import Decision
from sync_guard.guard.ports import RecordFetcher
from sync_guard.guard.retry import CommitBackoff
from sync_guard.ingest.ports import EventStatus
from sync_guard.models.events import GuardEvent
from sync_guard.processing import HandlerResult
from sync_guard.store.shadow import DynamoShadowRepository


class GuardEventHandler:
    """``process_event``'s handler: decide, audit and queue actions for one event."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    @classmethod
    def from_settings(cls, settings: Settings, fetcher: RecordFetcher | None = None) -> GuardEventHandler:
        guard = Guard(
            DynamoShadowRepository.from_settings(settings),
            LibraryMatcher(settings.default_phone_region),
            GuardConfig.from_settings(settings),
            fetcher=fetcher,
            backoff=CommitBackoff.from_settings(settings),
        )
        return cls(guard)

    def __call__(self, event: GuardEvent) -> HandlerResult:
        result = self.guard.process(event)
        if result.entry is None:
            return HandlerResult(EventStatus.PROCESSED, {"repeat": "true"})
        entry = result.entry
        pending = entry.decision is Decision.PENDING
        status = EventStatus.AWAITING_ENRICHMENT if pending else EventStatus.PROCESSED
        if result.already_processed:  # a redelivery of an event still awaiting its record
            return HandlerResult(status, {"repeat": "true", "decision": entry.decision.value})
        return HandlerResult(
            status,
            {
                "decision": entry.decision.value,
                "kind": entry.kind.value,
                "rules": ",".join(entry.rules),
                "actions": str(len(entry.actions)),
                "attempts": str(result.attempts),
            },
            action_ids=tuple(action.action_id for action in entry.actions if action.execute),
        )
