"""The simulated native CRM <-> Books sync behaves as the seed field report says Zoho's does."""

from __future__ import annotations

import threading

import pytest

from sync_guard.local.zoho_simulator.native_sync import (
    BOOKS_DISPLAY_NAME_TAKEN,
    NativeSync,
    PartnerChoice,
    SyncAssumptions,
    SyncDirection,
    SyncModules,
)
from sync_guard.local.zoho_simulator.state import SimulatorState, Source


def account(state: SimulatorState, name: str, **fields: object) -> str:
    return str(state.crm_create("Accounts", {"Account_Name": name, **fields}, source=Source.ADMIN)["id"])


def customer(state: SimulatorState, name: str, **fields: object) -> str:
    return str(
        state.books_create_contact({"contact_name": name, **fields}, source=Source.ADMIN)["contact_id"]
    )


def names(state: SimulatorState) -> list[str]:
    return sorted(c["contact_name"] for c in state.books_list_contacts())


def test_first_run_pairs_exact_names_and_clones_the_rest() -> None:
    # given Ltd vs Limited (seed pattern 1) and one exact name
    state = SimulatorState()
    acme = account(state, "Acme Ltd")
    smith = account(state, "Smith & Co")
    invoiced = customer(state, "Acme Limited")
    paired = customer(state, "Smith & Co")
    sync = NativeSync(state)
    # when the integration is connected
    run = sync.connect()
    # then the exact name pairs and carries Zoho's link; the drifted one is cloned next to the invoiced one
    assert (run.paired, run.created) == (1, 1)
    assert sync.mapped_customer(smith) == paired
    assert state.books_get(paired)["zcrm_account_id"] == smith  # type: ignore[index]
    clone = sync.mapped_customer(acme)
    assert clone not in (None, invoiced)
    assert state.books_get(clone)["contact_name"] == "Acme Ltd"  # type: ignore[arg-type,index]
    assert state.books_get(clone)["is_linked_with_zohocrm"] is True  # type: ignore[arg-type,index]
    assert state.books_get(invoiced)["zcrm_account_id"] == ""  # type: ignore[index]


def test_trailing_space_clone_collides_and_the_record_silently_stops_syncing() -> None:
    state = SimulatorState()
    spaced = account(state, "Nordic Tiles Ltd ")
    customer(state, "Nordic Tiles Ltd")
    sync = NativeSync(state)
    run = sync.connect()
    # the clone is refused with 3062: no duplicate, a failure counted in the history, nothing mapped
    assert run.failure_count == 1
    assert run.failures[0].code == BOOKS_DISPLAY_NAME_TAKEN
    assert names(state) == ["Nordic Tiles Ltd"]
    assert sync.mapped_customer(spaced) is None
    # and an unrelated edit elsewhere does not retry it; its own edit does (and fails again)
    other = account(state, "Other Ltd")
    state.crm_update("Accounts", other, {"Phone": "1"}, source=Source.UI)
    assert sync.run_cycle().failure_count == 0
    state.crm_update("Accounts", spaced, {"Phone": "2"}, source=Source.UI)
    assert sync.run_cycle().failure_count == 1
    assert sync.failures_total() == 2


def test_after_the_first_run_the_id_map_carries_renames() -> None:
    state = SimulatorState()
    acme = account(state, "Acme Ltd")
    books_id = customer(state, "Acme Ltd")
    sync = NativeSync(state)
    sync.connect()
    state.crm_update("Accounts", acme, {"Account_Name": "Acme Holdings Ltd"}, source=Source.UI)
    run = sync.run_cycle()
    assert run.updated == 1
    assert state.books_get(books_id)["contact_name"] == "Acme Holdings Ltd"  # type: ignore[index]
    assert len(state.books_list_contacts()) == 1


def test_held_record_is_out_of_the_view_and_not_synced() -> None:
    state = SimulatorState()
    sync = NativeSync(state)
    sync.connect()
    held = account(state, "Held Ltd")
    state.crm_set_tags("Accounts", held, add=["sync-guard-hold"], source=Source.API)
    state.crm_update("Accounts", held, {"Phone": "1"}, source=Source.UI)
    run = sync.run_cycle()
    assert run.created == 0
    assert run.skipped_out_of_scope == 1
    assert names(state) == []
    # releasing the hold (removing the tag) brings it back into the sync
    state.crm_set_tags("Accounts", held, remove=["sync-guard-hold"], source=Source.API)
    assert sync.run_cycle().created == 1


def test_deleted_books_partner_is_recreated_by_the_next_crm_edit_without_history() -> None:
    state = SimulatorState()
    acme = account(state, "Fenwick Ltd")
    original = customer(state, "Fenwick Ltd")
    sync = NativeSync(state)
    sync.connect()
    state.books_delete_contact(original, source=Source.UI)
    # nothing happens until the CRM record changes (deletes are not propagated)
    assert sync.run_cycle().created == 0
    state.crm_update("Accounts", acme, {"Phone": "01632 960000"}, source=Source.UI)
    assert sync.run_cycle().created == 1
    recreated = sync.mapped_customer(acme)
    assert recreated != original
    assert state.books_get(recreated)["has_transaction"] is False  # type: ignore[arg-type,index]


def test_crm_merge_orphans_the_merged_away_records_customer() -> None:
    state = SimulatorState()
    master = account(state, "Harbour Foods Ltd")
    other = account(state, "Harbour Foods Trading")
    customer(state, "Harbour Foods Ltd")
    orphan = customer(state, "Harbour Foods Trading")
    sync = NativeSync(state)
    sync.connect()
    state.crm_merge("Accounts", master, [other], source=Source.UI)
    sync.run_cycle()
    # both customers live on; the orphan still names the merged-away (deleted) CRM record
    assert len(state.books_list_contacts()) == 2
    assert state.books_get(orphan)["zcrm_account_id"] == other  # type: ignore[index]
    assert state.crm_get("Accounts", other) is None


def test_reconnect_multiplies_records_whose_pair_drifted_apart() -> None:
    # given pairs made by the first sync, then the bookkeeper renamed some Books customers (one-way: the
    # rename does not flow back to CRM)
    state = SimulatorState()
    ids = [account(state, f"Company {i} Ltd") for i in range(10)]
    sync = NativeSync(state)
    sync.connect()
    assert len(state.books_list_contacts()) == 10
    for crm_id in ids[:4]:
        books_id = sync.mapped_customer(crm_id)
        assert books_id is not None
        name = state.books_get(books_id)["contact_name"]  # type: ignore[index]
        drifted = name.replace("Ltd", "Limited")
        state.books_update_contact(
            books_id, {"contact_name": drifted, "company_name": drifted}, source=Source.UI
        )
    # when the integration is disconnected and reconnected
    sync.disconnect()
    run = sync.reconnect()
    # then the drifted four are cloned again: 14 customers for 10 companies
    assert run.kind == "reconnect"
    assert (run.paired, run.created) == (6, 4)
    assert len(state.books_list_contacts()) == 14


def test_two_possible_partners_follow_the_named_assumption() -> None:
    state = SimulatorState()
    crm_id = account(state, "Acme Ltd")
    older = customer(state, "Acme Ltd")
    customer(state, "Acme Ltd (North)", company_name="Acme Ltd")
    oldest = NativeSync(state)
    oldest.connect()
    assert oldest.mapped_customer(crm_id) == older
    oldest.close()

    state2 = SimulatorState()
    crm2 = account(state2, "Acme Ltd")
    customer(state2, "Acme Ltd")
    newer2 = customer(state2, "Acme Ltd (North)", company_name="Acme Ltd")
    newest = NativeSync(state2, assumptions=SyncAssumptions(multiple_partners=PartnerChoice.NEWEST))
    newest.connect()
    assert newest.mapped_customer(crm2) == newer2


def test_two_way_pushes_books_created_customers_to_crm() -> None:
    # seed pattern 2: both teams create the same customer, each copy is pushed to the other side
    state = SimulatorState()
    sync = NativeSync(state, direction=SyncDirection.TWO_WAY)
    sync.connect()
    account(state, "Brightwater Ltd")
    state.crm_update("Accounts", state.crm_list("Accounts")[0]["id"], {"Phone": "1"}, source=Source.UI)
    state.books_create_contact({"contact_name": "Brightwater Limited"}, source=Source.UI)
    run = sync.run_cycle()
    assert (run.created, run.pushed_to_crm) == (1, 1)
    assert sorted(r["Account_Name"] for r in state.crm_list("Accounts")) == [
        "Brightwater Limited",
        "Brightwater Ltd",
    ]
    assert names(state) == ["Brightwater Limited", "Brightwater Ltd"]
    # every Books customer now carries a CRM link, and a further cycle changes nothing (no ping-pong)
    assert all(c["zcrm_account_id"] for c in state.books_list_contacts())
    again = sync.run_cycle()
    assert (again.created, again.updated, again.pushed_to_crm) == (0, 0, 0)


def test_contacts_pair_by_email_so_a_different_email_clones() -> None:
    state = SimulatorState()
    jane = state.crm_create(
        "Contacts",
        {"First_Name": "Jane", "Last_Name": "Smith", "Email": "jane@smithplumbing.example"},
        source=Source.ADMIN,
    )["id"]
    tom = state.crm_create(
        "Contacts", {"First_Name": "Tom", "Last_Name": "Ray", "Email": "tom@ray.example"}, source=Source.ADMIN
    )["id"]
    customer(state, "Jane Smith (Smith Plumbing)", email="jane.smith@mail.example")
    toms = customer(state, "T Ray", email="tom@ray.example")
    sync = NativeSync(state, modules=SyncModules.CONTACTS)
    run = sync.connect()
    assert sync.mapped_customer(tom) == toms
    assert state.books_get(toms)["zcrm_contact_id"] == tom  # type: ignore[index]
    assert (run.paired, run.created) == (1, 1)
    assert "Jane Smith" in names(state)
    assert sync.mapped_customer(jane) is not None


def test_inactive_customers_are_not_offered_for_pairing_by_default() -> None:
    state = SimulatorState()
    account(state, "Quiet Ltd")
    inactive = customer(state, "Quiet Ltd")
    state.books_set_status(inactive, False, source=Source.ADMIN)
    # the clone collides with the inactive customer's display name: a failure, not a pair
    run = NativeSync(state).connect()
    assert run.failure_count == 1
    run2_state = SimulatorState()
    account(run2_state, "Quiet Ltd")
    inactive2 = customer(run2_state, "Quiet Ltd")
    run2_state.books_set_status(inactive2, False, source=Source.ADMIN)
    sync = NativeSync(run2_state, assumptions=SyncAssumptions(pair_inactive_customers=True))
    assert sync.connect().paired == 1


def test_cycles_need_a_connection() -> None:
    with pytest.raises(RuntimeError):
        NativeSync(SimulatorState()).run_cycle()


def test_accounts_and_their_contacts_become_contact_persons() -> None:
    state = SimulatorState()
    acme = account(state, "Acme Ltd")
    state.crm_create(
        "Contacts",
        {"First_Name": "Ann", "Last_Name": "Lee", "Email": "ann@acme.example", "Account_Name": {"id": acme}},
        source=Source.ADMIN,
    )
    sync = NativeSync(state, modules=SyncModules.ACCOUNTS_AND_CONTACTS)
    sync.connect()
    customer_id = sync.mapped_customer(acme)
    assert customer_id is not None
    persons = state.books_get(customer_id)["contact_persons"]  # type: ignore[index]
    assert [(p["first_name"], p["email"], p["is_primary_contact"]) for p in persons] == [
        ("Ann", "ann@acme.example", True)
    ]
    # a new contact under the account reaches the customer at the next run
    state.crm_create(
        "Contacts",
        {"First_Name": "Bo", "Last_Name": "Ray", "Email": "bo@acme.example", "Account_Name": {"id": acme}},
        source=Source.UI,
    )
    assert sync.run_cycle().updated == 1
    assert len(state.books_get(customer_id)["contact_persons"]) == 2  # type: ignore[index]
    assert sync.run_cycle().updated == 0  # nothing changed since: no rewrite


def test_disconnect_can_clear_the_books_links_per_assumption() -> None:
    state = SimulatorState()
    acme = account(state, "Acme Ltd")
    sync = NativeSync(state, assumptions=SyncAssumptions(disconnect_clears_links=True))
    sync.connect()
    customer_id = sync.mapped_customer(acme)
    sync.disconnect()
    contact = state.books_get(customer_id or "")
    assert contact is not None
    assert (contact["zcrm_account_id"], contact["is_linked_with_zohocrm"]) == ("", False)
    # by default the links stay
    state2 = SimulatorState()
    acme2 = account(state2, "Acme Ltd")
    kept = NativeSync(state2)
    kept.connect()
    kept_id = kept.mapped_customer(acme2)
    kept.disconnect()
    assert state2.books_get(kept_id or "")["zcrm_account_id"] == acme2  # type: ignore[index]


def test_an_interval_runs_cycles_on_its_own() -> None:
    state = SimulatorState()
    sync = NativeSync(state, assumptions=SyncAssumptions(cycle_interval_seconds=0.01))
    sync.connect()
    done = threading.Event()
    state.subscribe(lambda event: done.set() if event.system == "books" else None)
    sync.start()
    try:
        account(state, "Acme Ltd")
        state.crm_update("Accounts", state.crm_list("Accounts")[0]["id"], {"Phone": "1"}, source=Source.UI)
        assert done.wait(timeout=5)  # the interval thread created the customer, nobody called run_cycle
    finally:
        sync.close()
    assert len(state.books_list_contacts()) == 1


def test_a_stalled_sync_fails_every_edit_until_reauthorised_then_carries_them() -> None:
    # given a mapped account
    state = SimulatorState()
    acme = account(state, "Acme Ltd")
    sync = NativeSync(state)
    sync.connect()
    books_id = sync.mapped_customer(acme)
    assert books_id is not None

    # when the connecting user is deactivated and the account is edited
    sync.stall()
    state.crm_update("Accounts", acme, {"Phone": "020 7946 0999"}, source=Source.UI)
    stalled = sync.run_cycle()

    # then the run counts a failure, Books is unchanged, and the edit waits
    assert stalled.failure_count == 1
    contact = state.books_get(books_id)
    assert contact is not None
    assert contact["phone"] != "020 7946 0999"
    assert sync.connected  # it still looks connected

    # once re-authorised, the next run carries the edit
    sync.unstall()
    assert sync.run_cycle().updated == 1
    contact = state.books_get(books_id)
    assert contact is not None
    assert contact["phone"] == "020 7946 0999"


def test_reconnecting_a_stalled_sync_authorises_it_again() -> None:
    # given a stalled sync (the connecting user deactivated)
    state = SimulatorState()
    acme = account(state, "Acme Ltd")
    sync = NativeSync(state)
    sync.connect()
    sync.stall()

    # when someone disconnects and reconnects it (as themselves, an active user), and sales edit on
    sync.disconnect()
    sync.connect()
    state.crm_update("Accounts", acme, {"Phone": "020 7946 0999"}, source=Source.UI)

    # then the edits reach Books again
    assert sync.run_cycle().updated == 1
