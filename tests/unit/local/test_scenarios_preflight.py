"""sync-guard preflight: what Zoho's exact-name pairing would clone, and the renames that avoid it."""

from __future__ import annotations

import json
from pathlib import Path

from sync_guard.cli.preflight import SideRecord, books_side, crm_side, load_from_exports, plan_preflight
from sync_guard.local.zoho_simulator.native_sync import NativeSync
from sync_guard.local.zoho_simulator.state import SimulatorState, Source
from sync_guard.models.records import Module

TAG = "sync-guard-hold"


def sides(state: SimulatorState) -> tuple[list[SideRecord], list[SideRecord]]:
    crm = [crm_side(Module.CRM_ACCOUNTS, r, TAG) for r in state.crm_list("Accounts")]
    books = [books_side(c) for c in state.books_list_contacts()]
    return crm, books


def test_drifted_names_are_held_with_a_rename_exact_and_new_ones_are_not() -> None:
    state = SimulatorState()
    drifted = state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)["id"]
    state.crm_create("Accounts", {"Account_Name": "Smith & Co"}, source=Source.ADMIN)
    state.crm_create("Accounts", {"Account_Name": "Brand New Bakery Ltd"}, source=Source.ADMIN)
    state.books_create_contact({"contact_name": "Acme Limited"}, source=Source.ADMIN)
    state.books_create_contact({"contact_name": "Smith & Co"}, source=Source.ADMIN)
    plan = plan_preflight(*sides(state))
    assert [hold.crm.record_id for hold in plan.holds] == [drifted]
    assert plan.holds[0].rename.endswith("'Acme Ltd' to 'Acme Limited'")
    assert (plan.pairs_exactly, plan.new_customers) == (1, 1)


def test_a_trailing_space_is_not_an_exact_name() -> None:
    state = SimulatorState()
    state.crm_create("Accounts", {"Account_Name": "Nordic Tiles Ltd "}, source=Source.ADMIN)
    state.books_create_contact({"contact_name": "Nordic Tiles Ltd"}, source=Source.ADMIN)
    plan = plan_preflight(*sides(state))
    assert len(plan.holds) == 1


def test_holding_the_planned_records_means_the_first_sync_clones_nothing() -> None:
    # given name drift, when preflight's holds are applied (tag) before connecting
    state = SimulatorState()
    for name in ("Acme Ltd", "The Kestrel Company", "Harbour & Sons"):
        state.crm_create("Accounts", {"Account_Name": name}, source=Source.ADMIN)
    for name in ("Acme Limited", "Kestrel Company", "Harbour and Sons"):
        state.books_create_contact({"contact_name": name}, source=Source.ADMIN)
    plan = plan_preflight(*sides(state))
    for hold in plan.holds:
        state.crm_set_tags("Accounts", hold.crm.record_id, add=[TAG], source=Source.API)
    run = NativeSync(state, hold_tag=TAG).connect()
    # then the sync skipped them all and Books still has three customers
    assert len(plan.holds) == 3
    assert run.created == 0
    assert len(state.books_list_contacts()) == 3


def test_already_held_records_are_counted_not_held_again() -> None:
    state = SimulatorState()
    crm_id = state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)["id"]
    state.crm_set_tags("Accounts", crm_id, add=[TAG], source=Source.ADMIN)
    state.books_create_contact({"contact_name": "Acme Limited"}, source=Source.ADMIN)
    plan = plan_preflight(*sides(state))
    assert (len(plan.holds), plan.already_held) == (0, 1)


def test_a_crm_duplicate_of_a_record_that_pairs_is_held_for_merging() -> None:
    state = SimulatorState()
    state.crm_create("Accounts", {"Account_Name": "Acme Ltd", "Phone": "020 7946 0000"}, source=Source.ADMIN)
    twin = state.crm_create(
        "Accounts", {"Account_Name": "ACME Limited", "Phone": "020 7946 0000"}, source=Source.ADMIN
    )["id"]
    state.books_create_contact({"contact_name": "Acme Ltd", "phone": "020 7946 0000"}, source=Source.ADMIN)
    plan = plan_preflight(*sides(state))
    assert [hold.crm.record_id for hold in plan.holds] == [twin]
    assert plan.holds[0].rename.startswith("merge")


def test_inactive_books_customers_are_not_offered() -> None:
    state = SimulatorState()
    state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)
    inactive = state.books_create_contact({"contact_name": "Acme Ltd"}, source=Source.ADMIN)
    state.books_set_status(inactive["contact_id"], False, source=Source.ADMIN)
    plan = plan_preflight(*sides(state))
    assert plan.pairs_exactly == 0


def test_a_books_vendor_is_not_the_customer_of_the_same_name() -> None:
    # given a customer who is also a supplier: Books holds the supplier as a vendor, under a drifted name
    state = SimulatorState()
    state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)
    vendor = {"contact_name": "Acme Limited", "contact_type": "vendor"}
    state.books_create_contact(vendor, source=Source.ADMIN)
    plan = plan_preflight(*sides(state))
    # then the account is not held back: the sync should create its customer
    assert plan.holds == []
    assert plan.new_customers == 1


def test_from_exports(tmp_path: Path) -> None:
    crm_csv = tmp_path / "accounts.csv"
    crm_csv.write_text("Record Id,Account Name\n1,Acme Ltd\n2,Smith & Co\n")
    books_csv = tmp_path / "customers.csv"
    books_csv.write_text("Contact ID,Display Name\n10,Acme Limited\n11,Smith & Co\n")
    plan = plan_preflight(*load_from_exports(crm_csv, books_csv))
    assert [hold.crm.record_id for hold in plan.holds] == ["1"]
    assert plan.pairs_exactly == 1


def test_cli_from_exports_prints_the_plan_as_json(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sync_guard.cli import app

    crm_csv = tmp_path / "accounts.csv"
    crm_csv.write_text("Record Id,Account Name\n1,Acme Ltd\n2,Smith & Co\n")
    books_csv = tmp_path / "customers.csv"
    books_csv.write_text("Contact ID,Display Name\n10,Acme Limited\n11,Smith & Co\n")
    result = CliRunner().invoke(
        app, ["preflight", "--crm-export", str(crm_csv), "--books-export", str(books_csv), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [(h["crm"], h["books"]) for h in report["holds"]] == [("crm:1", "books:10")]
    assert report["applied"] == 0  # exports cannot be tagged: a plan only
