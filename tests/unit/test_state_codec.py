"""The shadow's record-state item: what the engine and the stall check need comes back as written."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_guard.guard.model import PairSource, RecordState
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.store.shadow import state_from_item, state_item


def test_a_state_comes_back_as_written_with_or_without_a_synced_change() -> None:
    record = PartyRecord(system=System.CRM, module=Module.CRM_ACCOUNTS, record_id="1", name="Acme Ltd")
    state = RecordState(
        record=record,
        version=1_767_000_000_000,
        partner="books:9",
        pair_source=PairSource.ZOHO_LINK,
        keys=frozenset({"n:acme ltd"}),
        rev=3,
        first_seen=datetime(2026, 3, 1, tzinfo=UTC),
        held_by="evt_1",
        synced_change=1_766_000_000_000,
    )

    assert state_from_item(state_item(state)) == state
    unknown = state.model_copy(update={"synced_change": None})
    assert state_from_item(state_item(unknown)) == unknown
