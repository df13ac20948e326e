"""The simulator's state model: change hooks, Zoho rules (3062, merge, tags, invoices), criteria, faults."""

from __future__ import annotations

import pytest

from sync_guard.local.zoho_simulator import (
    Assumptions,
    ChangeEvent,
    ChangeKind,
    FaultConfig,
    FaultInjector,
    FaultKind,
    SimulatorError,
    SimulatorState,
    Source,
)
from sync_guard.local.zoho_simulator.criteria import CriteriaError, parse_criteria
from sync_guard.zoho.crm import equals_criteria


@pytest.fixture
def state() -> SimulatorState:
    return SimulatorState()


def test_ids_are_deterministic() -> None:
    def ids() -> list[str]:
        s = SimulatorState()
        a = s.crm_create("Accounts", {"Account_Name": "A"})["id"]
        b = s.books_create_contact({"contact_name": "B"})["contact_id"]
        c = s.crm_create("Accounts", {"Account_Name": "C"})["id"]
        return [a, b, c]

    assert ids() == ids()
    assert ids()[0] != ids()[2]


def test_subscribers_see_every_change_and_may_write_back(state: SimulatorState) -> None:
    # A sync engine reacts to a CRM create by creating the Books customer: from inside the callback.
    seen: list[ChangeEvent] = []

    def mirror(event: ChangeEvent) -> None:
        seen.append(event)
        if event.system == "crm" and event.kind is ChangeKind.CREATE and event.after is not None:
            state.books_create_contact(
                {"contact_name": event.after["Account_Name"], "zcrm_account_id": event.record_id},
                source=Source.SYNC,
            )

    unsubscribe = state.subscribe(mirror)
    account = state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.UI)

    assert [(e.system, e.kind, e.source) for e in seen] == [
        ("crm", ChangeKind.CREATE, Source.UI),
        ("books", ChangeKind.CREATE, Source.SYNC),
    ]
    assert state.books_list_contacts(zcrm_account_id=account["id"])[0]["contact_name"] == "Acme Ltd"
    unsubscribe()
    state.crm_create("Accounts", {"Account_Name": "Beta Ltd"})
    assert len(seen) == 2
    assert [c.seq for c in state.changes] == [1, 2, 3]


def test_workflow_firing_follows_source_and_trigger(state: SimulatorState) -> None:
    account = state.crm_create("Accounts", {"Account_Name": "A"}, source=Source.ADMIN)["id"]
    state.crm_update("Accounts", account, {"Phone": "1"})
    state.crm_update("Accounts", account, {"Phone": "2"}, trigger=[])
    state.crm_update("Accounts", account, {"Phone": "3"}, trigger=["approval"])
    state.crm_update("Accounts", account, {"Phone": "4"}, trigger=["workflow"])
    fired = [c.fires_workflows for c in state.changes_for(account)]
    assert fired == [False, True, False, False, True]

    loose = SimulatorState(assumptions=Assumptions(empty_trigger_suppresses_workflows=False))
    other = loose.crm_create("Accounts", {"Account_Name": "B"}, source=Source.ADMIN)["id"]
    loose.crm_update("Accounts", other, {"Phone": "1"}, trigger=[])
    assert loose.changes_for(other, ChangeKind.UPDATE)[0].fires_workflows is True


def test_crm_create_needs_the_name_field(state: SimulatorState) -> None:
    with pytest.raises(SimulatorError) as caught:
        state.crm_create("Contacts", {"First_Name": "Jane"})
    assert caught.value.code == "MANDATORY_NOT_FOUND"
    assert caught.value.details["api_name"] == "Last_Name"
    with pytest.raises(SimulatorError) as module:
        state.crm_create("Leads", {"Last_Name": "x"})
    assert module.value.code == "INVALID_MODULE"


def test_merge_keeps_master_moves_contacts_and_lists_merged_as_deleted(state: SimulatorState) -> None:
    master = state.crm_create("Accounts", {"Account_Name": "Acme Ltd"})["id"]
    other = state.crm_create("Accounts", {"Account_Name": "Acme Limited"})["id"]
    state.crm_set_tags("Accounts", other, add=["vip"])
    contact = state.crm_create(
        "Contacts", {"Last_Name": "Doe", "Account_Name": {"name": "Acme Limited", "id": other}}
    )

    merged = state.crm_merge("Accounts", master, [other])

    assert merged["id"] == master
    assert [t["name"] for t in merged["Tag"]] == ["vip"]
    assert state.crm_get("Accounts", other) is None
    assert state.crm_merged_into["Accounts"] == {other: master}
    assert state.crm_get("Contacts", contact["id"])["Account_Name"] == {"name": "Acme Ltd", "id": master}  # type: ignore[index]
    assert [e["id"] for e in state.crm_deleted_list("Accounts")] == [other]
    merge_event = state.changes_for(master, ChangeKind.MERGE)[0]
    assert merge_event.merged_ids == (other,)


def test_whether_a_merge_carries_the_merged_records_tags_is_an_assumption() -> None:
    keeps_own = SimulatorState(assumptions=Assumptions(merge_carries_tags=False))
    master = keeps_own.crm_create("Accounts", {"Account_Name": "Acme Ltd"})["id"]
    other = keeps_own.crm_create("Accounts", {"Account_Name": "Acme Limited"})["id"]
    keeps_own.crm_set_tags("Accounts", other, add=["sync-guard-hold"])

    merged = keeps_own.crm_merge("Accounts", master, [other])

    assert merged["Tag"] == []


def test_display_names_are_unique_ignoring_case_and_spaces(state: SimulatorState) -> None:
    first = state.books_create_contact({"contact_name": "Acme Ltd"})["contact_id"]
    other = state.books_create_contact({"contact_name": "Acme Limited"})["contact_id"]
    for attempt in (
        lambda: state.books_create_contact({"contact_name": " acme  LTD "}),
        lambda: state.books_update_contact(other, {"contact_name": "ACME LTD"}),
    ):
        with pytest.raises(SimulatorError) as caught:
            attempt()
        assert (caught.value.http_status, caught.value.code) == (400, 3062)
    # Renaming a contact to its own name (or re-cased) is not a collision.
    assert state.books_update_contact(first, {"contact_name": "ACME Ltd"})["contact_name"] == "ACME Ltd"

    strict = SimulatorState(assumptions=Assumptions(display_name_case_insensitive=False))
    strict.books_create_contact({"contact_name": "Acme Ltd"})
    strict.books_create_contact({"contact_name": "ACME LTD"})
    assert len(strict.books_contacts) == 2


def test_invoices_mark_transactions_and_block_deletion(state: SimulatorState) -> None:
    customer = state.books_create_contact({"contact_name": "Acme Ltd"})["contact_id"]
    state.books_create_invoice({"customer_id": customer, "line_items": [{"rate": 10, "quantity": 3}]})

    contact = state.books_get(customer)
    assert contact is not None
    assert contact["has_transaction"] is True
    assert contact["outstanding_receivable_amount"] == 30.0
    with pytest.raises(SimulatorError) as caught:
        state.books_delete_contact(customer)
    assert caught.value.code == state.assumptions.books_delete_with_transactions_code


def test_status_changes_are_idempotent(state: SimulatorState) -> None:
    customer = state.books_create_contact({"contact_name": "Acme Ltd"})["contact_id"]
    state.books_set_status(customer, False)
    state.books_set_status(customer, False)
    assert len(state.changes_for(customer, ChangeKind.STATUS)) == 1
    assert state.books_list_contacts(filter_by="Status.Inactive")[0]["contact_id"] == customer
    with pytest.raises(SimulatorError):
        state.books_list_contacts(filter_by="Status.Whatever")


def test_deleted_books_contact_is_gone_and_recorded(state: SimulatorState) -> None:
    customer = state.books_create_contact({"contact_name": "Acme Ltd"})["contact_id"]
    state.books_delete_contact(customer, source=Source.UI)
    assert state.books_get(customer) is None
    assert state.books_deleted[0]["contact_id"] == customer
    # The name is free again: the native sync's "recreate without history" can happen.
    state.books_create_contact({"contact_name": "Acme Ltd"})


# --------------------------------------------------------------------------------------- criteria


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ("(Account_Name:equals:acme ltd)", True),
        ("(Account_Name:starts_with:Acme)", True),
        ("(Account_Name:not_equal:Acme Ltd)", False),
        ("((Account_Name:equals:Nope)or(Billing_City:equals:LEEDS))", True),
        ("((Account_Name:equals:Acme Ltd)and(Billing_City:equals:York))", False),
        ("(Owner:equals:42)", True),  # lookups match on id...
        ("(Owner:equals:Jo Bloggs)", True),  # ...or name
        ("(Billing_City:in:York,Leeds)", True),
    ],
)
def test_criteria_matching(criteria: str, expected: bool) -> None:
    record = {"Account_Name": "Acme Ltd", "Billing_City": "Leeds", "Owner": {"name": "Jo Bloggs", "id": "42"}}
    assert parse_criteria(criteria).matches(record) is expected


def test_client_escaping_round_trips_through_the_parser() -> None:
    name = r"Smith, Jones \ Co (UK) Ltd"
    assert parse_criteria(equals_criteria("Account_Name", name)).matches({"Account_Name": name})
    assert not parse_criteria(equals_criteria("Account_Name", name)).matches({"Account_Name": "Smith"})


@pytest.mark.parametrize(
    "bad", ["", "Account_Name:equals:x", "(Account_Name:like:x)", "(a:equals:x)xor(b:equals:y)"]
)
def test_bad_criteria_are_rejected(bad: str) -> None:
    with pytest.raises(CriteriaError):
        parse_criteria(bad)


# ----------------------------------------------------------------------------------------- faults


def test_fault_rate_is_roughly_honoured_and_reproducible() -> None:
    injector = FaultInjector(FaultConfig(rate=0.3, seed=42))
    decisions = [injector.decide("crm.get_record") for _ in range(2000)]
    failed = sum(d is not None for d in decisions)
    assert 500 < failed < 700
    # the default weights: the three kinds Zoho documents (the others only when scripted or weighted)
    assert {d.kind for d in decisions if d} == {
        FaultKind.RATE_LIMIT,
        FaultKind.SERVER_ERROR,
        FaultKind.TIMEOUT,
    }

    again = FaultInjector(FaultConfig(rate=0.3, seed=42))
    assert [again.decide("crm.get_record") for _ in range(2000)] == decisions


def test_faults_spare_the_control_routes_and_token_endpoint_unless_asked() -> None:
    injector = FaultInjector(FaultConfig(rate=1.0))
    assert injector.decide("sim.state") is None
    assert injector.decide("oauth.token") is None
    assert injector.decide("books.get_contact") is not None
    injector.configure(include_token_endpoint=True, route_pattern=r"^(oauth|crm)\.")
    assert injector.decide("oauth.token") is not None
    assert injector.decide("books.get_contact") is None


def test_scripted_faults_come_first_in_order() -> None:
    injector = FaultInjector()
    injector.script([FaultKind.SERVER_ERROR, None, FaultKind.RATE_LIMIT])
    kinds = [injector.decide("crm.add_tags") for _ in range(4)]
    assert [k.kind if k else None for k in kinds] == [
        FaultKind.SERVER_ERROR,
        None,
        FaultKind.RATE_LIMIT,
        None,
    ]
    assert injector.injected == {FaultKind.SERVER_ERROR: 1, FaultKind.RATE_LIMIT: 1}


def test_a_hold_tag_or_checkbox_takes_a_record_out_of_the_sync_view(state: SimulatorState) -> None:
    view = state.crm_define_view(
        "Accounts", "Synced to Books", "((Tag:not_equal:sync-guard-hold)and(Sync_Hold:not_equal:true))"
    )
    tagged = state.crm_create("Accounts", {"Account_Name": "Tagged Ltd"})["id"]
    ticked = state.crm_create("Accounts", {"Account_Name": "Ticked Ltd", "Sync_Hold": True})["id"]
    free = state.crm_create("Accounts", {"Account_Name": "Free Ltd"})["id"]
    state.crm_set_tags("Accounts", tagged, add=["sync-guard-hold", "vip"])

    assert [r["id"] for r in state.crm_view_records(view)] == [free]
    state.crm_set_tags("Accounts", tagged, remove=["sync-guard-hold"])
    record = state.crm_get("Accounts", tagged)
    assert record is not None
    assert state.crm_in_view(view, record) is True
    assert ticked not in [r["id"] for r in state.crm_view_records(view)]
    with pytest.raises(CriteriaError):
        state.crm_define_view("Accounts", "broken", "Tag:equals:x")
