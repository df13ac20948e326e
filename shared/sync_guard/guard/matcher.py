"""Adapter from ``sync_guard.matching`` (the matcher library) to the engine's ``Matcher`` port."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sync_guard.guard.ports import MatchView
from sync_guard.models.records import Module, PartyRecord, RecordKind, System

#: The prefix of the matcher's email keys (``sync_guard.matching.blocking``).
_EMAIL_KEY = "e:"


def _verdict_text(verdict: Any) -> str:
    return str(getattr(verdict, "value", verdict)).strip().lower()


class LibraryMatcher:
    """The real matcher. Imported lazily so the engine's modules load without it (and fakes stand in)."""

    def __init__(self, default_region: str = "GB") -> None:
        from sync_guard import matching

        self._matching = matching
        # Region assumed for phone numbers written without a country code (Settings.default_phone_region).
        self._region = default_region

    def blocking_keys(self, record: PartyRecord) -> frozenset[str]:
        return frozenset(self._matching.blocking_keys(record, default_region=self._region))

    def compare(self, a: PartyRecord, b: PartyRecord) -> MatchView:
        result = self._matching.compare(a, b, default_region=self._region)
        return MatchView(
            score=float(result.score), verdict=_verdict_text(result.verdict), evidence=tuple(result.evidence)
        )

    def name_key(self, record: PartyRecord) -> str:
        return str(self._matching.name_key(record))

    def email_keys(self, addresses: Iterable[str]) -> frozenset[str]:
        keys: set[str] = set()
        for address in addresses:
            person = PartyRecord(
                system=System.CRM,
                module=Module.CRM_CONTACTS,
                record_id="",
                kind=RecordKind.PERSON,
                email=address,
            )
            keys |= {key for key in self.blocking_keys(person) if key.startswith(_EMAIL_KEY)}
        return frozenset(keys)
