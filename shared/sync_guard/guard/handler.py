"""The decision engine as the processor's ``EventHandler`` (``sync_guard.processing``).

The processor marks the stored event with the returned status; the audit trail holds the decision itself.
Details are log-safe: codes, decision and counts, never names or emails.

A Books event is not decided while ``ZohoBooksOrganizationId`` is not the organisation recorded for the
shadow (``BooksOrganizationGate``): which organisation sent it is not known, and its decision would mix the
other organisation's customers into the shadow, or read them from Books, where every customer the shadow
holds "does not exist". The event fails (``AnotherOrganization``, retryable), is retried and then
dead-lettered, for ``sync-guard replay-dlq --queue processing`` once the parameter is right; its first
refusal is audited (entry ``<event id>#another_organization``, decision ``pending``). CRM events go on.
The record fetcher checks again before it fetches a Books customer; in the processor the two share one
read of the recorded organisation per event (``RecordedOncePerEvent``, see ``guard.wiring``).

After a Books event of a customer turned vendor, the guard's holds it made moot are released
(``admin.moot``); after one that brings it back as a customer, they are made again where they still stand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from sync_guard.admin.moot import MootHolds
from sync_guard.config import Mode, Settings
from sync_guard.guard.engine import Guard, GuardConfig, GuardResult
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import AuditEntry, Decision, EntryKind, utc_now
from sync_guard.guard.ports import EventAlreadyProcessed, RecordFetcher
from sync_guard.guard.retry import CommitBackoff
from sync_guard.ingest.ports import EventStatus
from sync_guard.models.events import GuardEvent
from sync_guard.models.records import Module, System
from sync_guard.processing import HandlerResult
from sync_guard.reconcile.organization import (
    AnotherOrganization,
    RecordedOncePerEvent,
    refuse_books_under_another_organization,
)
from sync_guard.reconcile.ports import AuditAppender, BooksOrganization
from sync_guard.store.audit import AuditLog
from sync_guard.store.checks import DynamoCheckState
from sync_guard.store.shadow import DynamoShadowRepository

logger = logging.getLogger(__name__)


def refused_entry_id(event_id: str) -> str:
    return f"{event_id}#another_organization"


@dataclass(frozen=True)
class BooksOrganizationGate:
    """Refuses Books events while ``configured`` (``ZohoBooksOrganizationId``) is not the organisation
    ``recorded`` reads as the shadow's; nothing is compared (nor read) for CRM events, or when no
    organisation is configured or recorded."""

    configured: str
    recorded: Callable[[], BooksOrganization | None]
    audit: AuditAppender
    mode: Mode
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def from_settings(
        cls, settings: Settings, recorded: Callable[[], BooksOrganization | None] | None = None
    ) -> BooksOrganizationGate | None:
        """The gate as configured (None without ``ZohoBooksOrganizationId``), reading the recorded
        organisation through ``recorded`` when given (the processor's ``RecordedOncePerEvent``)."""
        configured = settings.zoho_books_organization_id.strip()
        if not configured:
            return None
        return cls(
            configured,
            recorded or DynamoCheckState.from_settings(settings).books_organization,
            AuditLog.from_settings(settings),
            settings.mode,
        )

    def check(self, event: GuardEvent) -> None:
        """Raise ``AnotherOrganization`` (retryable) for a Books event under another organisation."""
        if event.source is not System.BOOKS:
            return
        try:
            refuse_books_under_another_organization(
                self.configured,
                self.recorded,
                outcome="The Books event was not decided: it is retried, then dead-lettered for "
                "sync-guard replay-dlq --queue processing.",
            )
        except AnotherOrganization as refusal:
            self._audit(event, refusal.message)
            raise

    def _audit(self, event: GuardEvent, note: str) -> None:
        """One entry per event, at its first refusal: the later deliveries find it there."""
        entry = AuditEntry(
            entry_id=refused_entry_id(event.event_id),
            at=self.clock(),
            kind=EntryKind.NOT_DECIDED,
            decision=Decision.PENDING,
            mode=self.mode,
            event_id=event.event_id,
            operation=event.operation.value,
            records=(event.record_ref,),
            note=note,
            names={event.record_ref: event.record.name} if event.record is not None else {},
        )
        try:
            self.audit.append(entry)
        except EventAlreadyProcessed:
            pass
        except Exception as error:  # the refusal stands; its entry is written at the next delivery
            logger.warning(
                "the refused Books event's audit entry was not written",
                extra={"event_id": event.event_id, "error": type(error).__name__},
            )


class GuardEventHandler:
    """``process_event``'s handler: decide, audit and queue actions for one event."""

    def __init__(
        self,
        guard: Guard,
        books_gate: BooksOrganizationGate | None = None,
        recorded: RecordedOncePerEvent | None = None,
        moot_holds: MootHolds | None = None,
    ) -> None:
        self.guard = guard
        self.books_gate = books_gate
        self.recorded = recorded
        self.moot_holds = moot_holds

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        fetcher: RecordFetcher | None = None,
        recorded: RecordedOncePerEvent | None = None,
    ) -> GuardEventHandler:
        """The handler as configured. With ``recorded`` (what ``fetcher`` reads the recorded organisation
        through too), the gate and the fetcher read it once per event between them."""
        guard = Guard(
            DynamoShadowRepository.from_settings(settings),
            LibraryMatcher(settings.default_phone_region),
            GuardConfig.from_settings(settings),
            fetcher=fetcher,
            backoff=CommitBackoff.from_settings(settings),
        )
        gate = BooksOrganizationGate.from_settings(settings, recorded)
        return cls(guard, gate, recorded, MootHolds.from_settings(settings))

    def __call__(self, event: GuardEvent) -> HandlerResult:
        with self.recorded.event() if self.recorded is not None else nullcontext():
            return self._handle(event)

    def _handle(self, event: GuardEvent) -> HandlerResult:
        if self.books_gate is not None:
            self.books_gate.check(event)
        result = self.guard.process(event)
        if self.moot_holds is not None and _may_retire(event, result.entry):
            # Its holds are released after the commit, not in it (the admin release's own transaction): a
            # release that fails fails the event, and its redelivery, a repeat to the engine, tries again.
            self.moot_holds.release_for(event.record_ref)
        if self.moot_holds is not None and _returned(event, result, self.moot_holds):
            # The same for a vendor edited back into a customer: the holds its retirement made moot are
            # made again where they still stand (a repeat, whose entry is not read again, looks again).
            matcher = self.guard.matcher
            self.moot_holds.restore_for(event.record_ref, lambda a, b: matcher.compare(a, b).is_duplicate)
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


def _returned(event: GuardEvent, result: GuardResult, moot_holds: MootHolds) -> bool:
    """Whether ``event`` brought a Books customer turned vendor back as a customer (``admin.moot``): so the
    engine says, or, for a repeat of a Books customer's event (whose decision the engine does not read
    again), so that decision's entry says (one read)."""
    if result.returned:
        return True
    repeat = result.entry is None and event.source is System.BOOKS
    return repeat and event.module is Module.BOOKS_CUSTOMERS and moot_holds.returned(event.event_id)


def _may_retire(event: GuardEvent, entry: AuditEntry | None) -> bool:
    """Whether ``event`` may be of a Books customer turned vendor (``admin.moot``): a Books event the guard
    did not guard (a vendor's), or a repeat of one (whose entry is not read again)."""
    return event.source is System.BOOKS and (entry is None or entry.kind is EntryKind.NOT_GUARDED)
