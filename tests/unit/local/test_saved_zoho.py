"""The simulator's Zoho saved to a file and reopened: what `sync-guard serve` starts from after the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync_guard.local.zoho_simulator.native_sync import NativeSync
from sync_guard.local.zoho_simulator.saved import (
    ZOHO_STATE_FILE,
    SavedZohoError,
    read_saved_zoho,
    write_saved_zoho,
)
from sync_guard.local.zoho_simulator.state import SimulatorError, SimulatorState, Source


def organisation(block: int, name: str) -> tuple[SimulatorState, NativeSync, dict[str, str]]:
    """One scenario's organisation: a synced account, a held one, a deleted and a merged one, an invoice."""
    state = SimulatorState(id_block=block)
    ids = {
        "synced": state.crm_create("Accounts", {"Account_Name": name}, source=Source.ADMIN)["id"],
        "held": state.crm_create("Accounts", {"Account_Name": f"{name} Held"}, source=Source.ADMIN)["id"],
        "gone": state.crm_create("Accounts", {"Account_Name": f"{name} Gone"}, source=Source.ADMIN)["id"],
        "merged": state.crm_create("Accounts", {"Account_Name": f"{name} Twin"}, source=Source.ADMIN)["id"],
    }
    sync = NativeSync(state)
    sync.connect()
    state.crm_set_tags("Accounts", ids["held"], add=["sync-guard-hold"])
    state.crm_delete("Accounts", ids["gone"])
    state.crm_merge("Accounts", ids["synced"], [ids["merged"]])
    ids["customer"] = str(sync.mapped_customer(ids["synced"]))
    state.books_create_invoice({"customer_id": ids["customer"], "line_items": [{"rate": 10}]})
    state.crm_watch_enable([{"channel_id": "1000", "events": ["Accounts.all"], "notify_url": "http://g/n"}])
    return state, sync, ids


def reopened(path: Path) -> tuple[SimulatorState, NativeSync]:
    """What serve does with the file: a fresh state loaded from it, and a sync resumed from it."""
    saved = read_saved_zoho(path)
    state = SimulatorState()
    state.load(saved.state)
    sync = NativeSync(state)
    assert sync.resume(saved.syncs)
    return state, sync


def test_every_organisation_round_trips_through_the_file(tmp_path: Path) -> None:
    # given two organisations with their ids apart (two demo scenarios), each with its native sync
    first, first_sync, a = organisation(1, "Alder Mill Ltd")
    second, second_sync, b = organisation(2, "Birch Quay Ltd")

    # when they are saved as one Zoho and reopened
    path = write_saved_zoho(tmp_path / ZOHO_STATE_FILE, [first, second], [first_sync, second_sync])
    state, _ = reopened(path)

    # then every record of both is there as it was: live, deleted, merged, tagged, invoiced, the views
    for original, ids in ((first, a), (second, b)):
        for key in ("synced", "held"):
            assert state.crm_get("Accounts", ids[key]) == original.crm_get("Accounts", ids[key])
        assert state.crm_get("Accounts", ids["gone"]) is None
        assert state.crm_merged_into["Accounts"][ids["merged"]] == ids["synced"]
        assert state.books_get(ids["customer"]) == original.books_get(ids["customer"])
        assert state.books_list_invoices(customer_id=ids["customer"]) == original.books_list_invoices(
            customer_id=ids["customer"]
        )
        assert set(original.crm_views) <= set(state.crm_views)
    deleted = {e["id"] for e in state.crm_deleted_list("Accounts")}
    assert {a["gone"], a["merged"], b["gone"], b["merged"]} <= deleted
    assert [t["name"] for t in state.crm_get("Accounts", b["held"])["Tag"]] == ["sync-guard-hold"]  # type: ignore[index]
    assert [c["channel_id"] for c in state.crm_watch_list()] == ["1000"]
    assert len(state.books_list_contacts()) == len(first.books_list_contacts()) * 2
    # and the display-name index came back: Books still refuses a second "Birch Quay Ltd"
    with pytest.raises(SimulatorError) as refused:
        state.books_create_contact({"contact_name": "birch quay ltd"})
    assert refused.value.code == 3062


def test_new_ids_continue_after_every_saved_one(tmp_path: Path) -> None:
    # given two organisations saved and reopened
    first, first_sync, _ = organisation(1, "Cedar Row Ltd")
    second, second_sync, _ = organisation(2, "Dune Path Ltd")
    state, _ = reopened(
        write_saved_zoho(tmp_path / ZOHO_STATE_FILE, [first, second], [first_sync, second_sync])
    )
    taken = {r["id"] for s in (first, second) for m in ("Accounts", "Contacts") for r in s.crm_list(m)}
    taken |= {e["id"] for s in (first, second) for e in s.crm_deleted_list("Accounts")}
    books_taken = {c["contact_id"] for s in (first, second) for c in s.books_list_contacts()}

    # when new records, customers, invoices and tags are made
    crm_id = state.crm_create("Accounts", {"Account_Name": "Elm Yard Ltd"})["id"]
    contact_id = state.books_create_contact({"contact_name": "Elm Yard Ltd"})["contact_id"]
    invoice_id = state.books_create_invoice({"customer_id": contact_id})["invoice_id"]
    [tag] = state.crm_set_tags("Accounts", crm_id, add=["fresh-tag"])

    # then none of their ids was handed out before
    assert crm_id not in taken
    assert contact_id not in books_taken
    assert invoice_id not in {i["invoice_id"] for s in (first, second) for i in s.books_list_invoices()}
    assert tag["id"] not in set(first.crm_tags.values()) | set(second.crm_tags.values())


def test_the_reopened_sync_keeps_syncing_the_same_pairs(tmp_path: Path) -> None:
    # given an organisation whose sync paired a CRM account with a customer of a drifted name: after the
    # first run, names stop mattering (the ID map links them)
    state, sync, ids = organisation(1, "Fern Lane Ltd")
    state.crm_update("Accounts", ids["synced"], {"Account_Name": "Fern Lane Limited"}, source=Source.UI)
    sync.run_cycle()
    saved_customers = len(state.books_list_contacts())

    # when it is reopened and the account is edited again
    reopened_state, reopened_sync = reopened(write_saved_zoho(tmp_path / ZOHO_STATE_FILE, [state], [sync]))
    reopened_state.crm_update("Accounts", ids["synced"], {"Phone": "+44 20 7946 0000"}, source=Source.UI)
    run = reopened_sync.run_cycle()

    # then the edit reaches the same customer: no first run pairing again, no clone
    assert (run.kind, run.updated, run.created) == ("incremental", 1, 0)
    assert reopened_sync.mapped_customer(ids["synced"]) == ids["customer"]
    assert reopened_state.books_get(ids["customer"])["phone"] == "+44 20 7946 0000"  # type: ignore[index]
    assert len(reopened_state.books_list_contacts()) == saved_customers
    # and the held record stays out of the sync's scope
    reopened_state.crm_update("Accounts", ids["held"], {"Phone": "1"}, source=Source.UI)
    assert reopened_sync.run_cycle().skipped_out_of_scope == 1


def test_a_sync_of_another_module_is_not_resumed() -> None:
    sync = NativeSync(SimulatorState())
    assert not sync.resume([{**NativeSync(SimulatorState()).save(), "crm_module": "Contacts"}])
    assert not sync.connected


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"format": 99, "state": {}, "syncs": []}),
        json.dumps({"format": 1, "state": {}}),
    ],
)
def test_a_file_that_is_not_a_saved_zoho_is_refused_by_name(tmp_path: Path, content: str) -> None:
    path = tmp_path / ZOHO_STATE_FILE
    path.write_text(content)
    with pytest.raises(SavedZohoError, match=str(path)):
        read_saved_zoho(path)


def test_the_file_is_replaced_whole(tmp_path: Path) -> None:
    # given a saved Zoho
    state, sync, _ = organisation(1, "Gorse Hill Ltd")
    path = write_saved_zoho(tmp_path / ZOHO_STATE_FILE, [state], [sync])
    # when it is saved again, then no partial file is left beside it and the new one reads back
    write_saved_zoho(path, [state], [sync])
    assert [p.name for p in tmp_path.iterdir()] == [ZOHO_STATE_FILE]
    assert read_saved_zoho(path).summary() == "2 CRM records, 4 Books customers"
