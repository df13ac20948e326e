"""Adapter from ``sync_guard.matching`` (the matcher library) to the engine's ``Matcher`` port."""

from __future__ import annotations

from typing import Any

from sync_guard.guard.ports import MatchView
from sync_guard.models.records import PartyRecord


def _verdict_text(verdict: Any) -> str:
    return str(getattr(verdict, "value", verdict)).strip().lower()


class LibraryMatcher:
    """The real matcher. Imported lazily so the engine's modules load without it (and fakes stand in)."""

    def __init__(self) -> None:
        from sync_guard import matching

        self._matching = matching

    def blocking_keys(self, record: PartyRecord) -> frozenset[str]:
        return frozenset(self._matching.blocking_keys(record))

    def compare(self, a: PartyRecord, b: PartyRecord) -> MatchView:
        result = self._matching.compare(a, b)
        return MatchView(
            score=float(result.score), verdict=_verdict_text(result.verdict), evidence=tuple(result.evidence)
        )

    def name_key(self, record: PartyRecord) -> str:
        return str(self._matching.name_key(record))
