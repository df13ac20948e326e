"""Record builders for the matching tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sync_guard.models.records import Module, PartyRecord, RecordKind, System

MakeRecord = Callable[..., PartyRecord]


@pytest.fixture
def company() -> MakeRecord:
    """``company("Acme Ltd", phone=...)``: a CRM account unless ``system``/``module`` say otherwise."""
    counter = iter(range(1, 1_000_000))

    def make(name: str, **fields: Any) -> PartyRecord:
        fields.setdefault("system", System.CRM)
        fields.setdefault("module", Module.CRM_ACCOUNTS)
        fields.setdefault("record_id", f"r{next(counter)}")
        return PartyRecord(name=name, **fields)

    return make


@pytest.fixture
def person() -> MakeRecord:
    """``person("Jane", "Smith", email=...)``: a CRM contact."""
    counter = iter(range(1, 1_000_000))

    def make(first: str | None, last: str | None, **fields: Any) -> PartyRecord:
        fields.setdefault("system", System.CRM)
        fields.setdefault("module", Module.CRM_CONTACTS)
        fields.setdefault("record_id", f"p{next(counter)}")
        name = " ".join(p for p in (first, last) if p)
        return PartyRecord(name=name, kind=RecordKind.PERSON, first_name=first, last_name=last, **fields)

    return make
