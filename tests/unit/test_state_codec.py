"""The shadow's record-state item: what the engine and the stall check need comes back as written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sync_guard.guard.model import PairSource, RecordState
from sync_guard.guard.ports import KeyItem, SnapshotRequest
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.store.items import to_item
from sync_guard.store.shadow import (
    TOMBSTONE_CANDIDATES,
    DynamoShadowRepository,
    key_from_item,
    live_first,
    state_from_item,
    state_item,
)


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


def test_a_key_item_written_before_deleted_members_were_kept_reads_as_all_live() -> None:
    old = to_item({"pk": "KEY#n:acme", "sk": "K", "members": {"crm:1", "crm:2"}, "owner": "crm:1", "rev": 2})

    item = key_from_item("n:acme", old)

    assert item.gone == frozenset()
    assert item.members == {"crm:1", "crm:2"}


def test_the_capped_candidates_take_live_records_first_keeping_room_for_some_deleted_ones() -> None:
    ranked = [f"books:{n:03d}" for n in range(60)] + ["crm:5"]
    gone = set(ranked[:60])

    chosen = live_first(ranked, gone, 50)

    assert len(chosen) == 50
    assert "crm:5" in chosen
    assert chosen[:TOMBSTONE_CANDIDATES] == ranked[:TOMBSTONE_CANDIDATES]  # the best-ranked deleted ones
    # many live ones leave the deleted ones their share, and no more
    live = [f"crm:{n:03d}" for n in range(80)]
    chosen = live_first([*ranked[:60], *live], gone, 50)
    assert sum(ref in gone for ref in chosen) == TOMBSTONE_CANDIDATES
    # nothing known deleted (items of an earlier release): rank order, as before
    assert live_first(ranked, set(), 50) == ranked[:50]


def test_a_deleted_mark_left_in_a_key_its_record_no_longer_has_does_not_make_it_deleted() -> None:
    # crm:2, deleted once, was moved off n:old by a rekey (its mark stayed there), then came back
    keys = {
        "n:old": KeyItem("n:old", members=frozenset({"crm:1"}), gone=frozenset({"crm:2"})),
        "n:new": KeyItem("n:new", members=frozenset({"crm:2"} | {f"books:{n:03d}" for n in range(60)})),
    }
    keys["n:new"] = replace(keys["n:new"], gone=frozenset(f"books:{n:03d}" for n in range(60)))
    request = SnapshotRequest(
        event_id="e", entry_id="e", ref="books:999", keys=frozenset(keys), max_candidates=20
    )

    wanted = DynamoShadowRepository._candidate_refs(request, None, keys)

    assert "crm:2" in wanted
