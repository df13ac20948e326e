"""Build the processor's decision handler from ``Settings`` (its cold start).

Kept apart from :mod:`sync_guard.executor.wiring` so that the functions that only carry out actions
(Outbox, Sweep, the Zoho checks) do not import the engine and its rules.
"""

from __future__ import annotations

from sync_guard.config import Settings
from sync_guard.executor.wiring import record_fetcher
from sync_guard.guard.handler import GuardEventHandler
from sync_guard.reconcile.organization import RecordedOncePerEvent
from sync_guard.store.checks import DynamoCheckState


def processor_handler(settings: Settings) -> GuardEventHandler:
    """The processor's handler: the decision engine with its Books organisation gate and, when Zoho is
    configured, its record fetcher (``handler.guard.fetcher``). Both check a Books event against the
    shadow's recorded organisation; they read it once per event between them."""
    recorded = RecordedOncePerEvent(DynamoCheckState.from_settings(settings).books_organization)
    return GuardEventHandler.from_settings(
        settings, fetcher=record_fetcher(settings, recorded), recorded=recorded
    )
