"""The seed's patterns as Zoho's webhooks deliver them, through the engine on the template's DynamoDB tables.

Each test replays one real sequence (payloads as Zoho sends them, in the order they arrive) and checks what
finance would have to act on: the audit entry's rules and records, and the notice built from it.
"""

from __future__ import annotations

from typing import Any

import pytest

from sync_guard.config import Mode, get_settings
from sync_guard.executor.notices import notices_for
from sync_guard.guard.engine import NOT_HELD_INVOICED, Guard, GuardConfig
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import ActionKind, AuditEntry, Decision, RecordState
from sync_guard.guard.policy import Policy
from sync_guard.guard.ports import SnapshotRequest
from sync_guard.models.events import GuardEvent
from sync_guard.notify import Role, ZohoLinks, render_notice
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.shadow import DynamoShadowRepository
from sync_guard.zoho.payloads import parse_books_webhook, parse_crm_workflow
from tests.support.aws import AwsResources
from tests.unit.guard.builders import T0, at

CRM_ID = "5725767000003000101"
INVOICED = "460000000026101"  # the customer Zoho paired with the account, and invoiced for years
OLD_COPY = "460000000026102"  # a copy without transactions, named exactly as the CRM account


@pytest.fixture
def guard(aws: AwsResources) -> Guard:
    repo = DynamoShadowRepository.from_settings(get_settings())
    return Guard(repo, LibraryMatcher(), GuardConfig(mode=Mode.ENFORCE), clock=lambda: T0)


def guard_with(policy: dict[str, str]) -> Guard:
    """A guard over the tables whose policy sets the rules named to the outcomes given."""
    repo = DynamoShadowRepository.from_settings(get_settings())
    config = GuardConfig(mode=Mode.ENFORCE, policy=Policy.build(policy))
    return Guard(repo, LibraryMatcher(), config, clock=lambda: T0)


def holds(entry: AuditEntry) -> list[str]:
    """The records the entry's actions hold back, in either app."""
    kinds = (ActionKind.MARK_BOOKS_INACTIVE, ActionKind.TAG_CRM_RECORD)
    return [a.target for a in entry.actions if a.kind in kinds]


def delete(contact_id: str, minutes: float) -> GuardEvent:
    """Books' delete webhook: the contact id only."""
    return parse_books_webhook({"contact_id": contact_id}, received_at=at(minutes), operation="delete")


def account(minutes: float, event: str = "edit") -> GuardEvent:
    body = {
        "event": event,
        "module": "Accounts",
        "id": CRM_ID,
        "name": "Kestrel Logistics Ltd",
        "modified": at(minutes).isoformat(),
        "phone": "+44 161 496 0101",
    }
    return parse_crm_workflow(body, received_at=at(minutes))


def customer(
    contact_id: str,
    name: str,
    minutes: float,
    *,
    linked: str | None,
    invoiced: bool,
    event: str = "edit",
    **extra: Any,
) -> GuardEvent:
    contact: dict[str, Any] = {
        "contact_id": contact_id,
        "contact_name": name,
        "company_name": name,
        "contact_type": "customer",
        "customer_sub_type": "business",
        "status": "active",
        "zcrm_account_id": linked or "",
        "is_linked_with_zohocrm": linked is not None,
        "has_transaction": invoiced,
        "outstanding_receivable_amount": 4200.0 if invoiced else 0,
        "created_time": "2024-05-02T09:00:00+0000",
        "last_modified_time": at(minutes).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        **extra,
    }
    return parse_books_webhook({"contact": contact}, received_at=at(minutes), operation=event)


def decided(guard: Guard, event: GuardEvent) -> AuditEntry:
    result = guard.process(event)
    assert result.entry is not None
    return result.entry


def states(guard: Guard, entry: AuditEntry) -> dict[str, RecordState]:
    repo = guard.repository
    assert isinstance(repo, DynamoShadowRepository)
    refs = {*entry.records, *(ref for f in entry.findings for ref in (f.subject, *f.related))}
    return {ref: state for ref in refs if (state := repo.get_state(ref)) is not None}


def assert_held_instead_of_the_invoiced_customer(guard: Guard, entry: AuditEntry, held: str) -> None:
    """The entry holds Books customer ``held`` alone and its notice says so, naming INVOICED as the
    customer with transactions, not held."""
    assert entry.decision is Decision.QUARANTINE
    holds = [a.target for a in entry.actions if a.kind is ActionKind.MARK_BOOKS_INACTIVE]
    assert holds == [f"books:{held}"]
    [notify] = [a for a in entry.actions if a.kind is ActionKind.NOTIFY_FINANCE]
    [notice] = notices_for(notify, entry, states(guard, entry))
    by_id = {record.record_id: record for record in notice.records}
    assert by_id[held].held
    assert not by_id[INVOICED].held
    assert by_id[INVOICED].has_transactions is True


def test_a_reconnect_that_re_pairs_the_account_with_another_customer_is_reported(guard: Guard) -> None:
    # given the account paired with the invoiced customer, which the bookkeeper renamed in Books (one-way
    # sync: the name never flowed back), and an old uninvoiced copy under the account's exact name
    decided(guard, account(0, "create"))
    decided(guard, customer(INVOICED, "Kestrel Group Holdings", 1, linked=CRM_ID, invoiced=True))
    decided(guard, customer(OLD_COPY, "Kestrel Logistics Ltd", 2, linked=None, invoiced=False))

    # when the integration is disconnected (the invoiced customer loses Zoho's link) and reconnected
    # (Zoho's exact-name matching pairs the account with the copy of its exact name)
    unlinked = decided(guard, customer(INVOICED, "Kestrel Group Holdings", 10, linked=None, invoiced=True))
    repaired = decided(guard, customer(OLD_COPY, "Kestrel Logistics Ltd", 11, linked=CRM_ID, invoiced=False))

    # then losing the link alone is no finding, but the move of the pair is: audited with all three
    # records and notified, naming the invoiced customer as the copy that holds the history
    assert unlinked.decision is Decision.ALLOW
    assert repaired.rules == ("MAPPING_MOVED",)
    assert repaired.decision is Decision.FLAG
    assert set(repaired.records) == {f"books:{OLD_COPY}", f"crm:{CRM_ID}", f"books:{INVOICED}"}
    assert f"MAPPING_MOVED: books:{INVOICED} holds transactions" in repaired.evidence
    assert AuditLog.from_settings(get_settings()).get(repaired.entry_id) == repaired
    [notify] = [a for a in repaired.actions if a.kind is ActionKind.NOTIFY_FINANCE]
    [notice] = notices_for(notify, repaired, states(guard, repaired))
    by_id = {record.record_id: record for record in notice.records}
    # the old uninvoiced copy is not called new: it is the customer Zoho newly paired the account with
    assert by_id[OLD_COPY].role == Role.NEWLY_PAIRED
    assert (by_id[INVOICED].role, by_id[INVOICED].has_transactions) == (Role.FORMER_PARTNER, True)
    assert by_id[CRM_ID].role == Role.REPAIRED_CRM


def test_the_customer_re_linked_to_its_own_account_after_a_reconnect_is_no_finding(guard: Guard) -> None:
    decided(guard, account(0, "create"))
    decided(guard, customer(INVOICED, "Kestrel Group Holdings", 1, linked=CRM_ID, invoiced=True))
    decided(guard, customer(INVOICED, "Kestrel Group Holdings", 10, linked=None, invoiced=True))

    relinked = decided(guard, customer(INVOICED, "Kestrel Group Holdings", 11, linked=CRM_ID, invoiced=True))

    assert relinked.decision is Decision.ALLOW
    assert relinked.rules == ()


def test_an_ordinary_edit_of_an_invoiced_customer_never_holds_it_but_its_uninvoiced_copy(
    guard: Guard,
) -> None:
    # given a shadow that never saw either Books copy created (installed without a seed): the uninvoiced
    # "Limited" copy is edited first
    decided(guard, customer(OLD_COPY, "Kestrel Logistics Limited", 1, linked=None, invoiced=False))

    # when the bookkeeper edits the customer she has invoiced for years (an ordinary edit)
    entry = decided(guard, customer(INVOICED, "Kestrel Logistics Ltd", 2, linked=None, invoiced=True))

    # then the two are recognised as one company, and the hold takes back the copy without invoices:
    # marking the invoiced customer inactive would stop finance invoicing it
    assert entry.rules == ("NAME_DRIFT",)
    assert_held_instead_of_the_invoiced_customer(guard, entry, OLD_COPY)


def test_a_deleted_partner_notice_names_the_deleted_customer_and_what_it_held(guard: Guard) -> None:
    # given the account and the customer the sync made for it, never invoiced
    decided(guard, account(0, "create"))
    decided(guard, customer(OLD_COPY, "Kestrel Logistics Ltd", 1, linked=CRM_ID, invoiced=False))

    # when the bookkeeper tidies up and deletes the customer (Books' delete webhook: the id only)
    entry = decided(guard, delete(OLD_COPY, 5))

    # then finance is told the account will be recreated, and about the deleted customer by name and id,
    # not that no Books customer is involved
    assert entry.rules == ("PARTNER_DELETED",)
    [notify] = [a for a in entry.actions if a.kind is ActionKind.NOTIFY_FINANCE]
    [notice] = notices_for(notify, entry, states(guard, entry))
    body = " ".join(render_notice(notice, ZohoLinks(books_organization_id="20081234567")).body.split())
    assert f'The deleted Books customer "Kestrel Logistics Ltd" (id {OLD_COPY}) held no transactions' in body
    assert "No Books customer is involved" not in body


def test_an_open_breaker_holds_new_copies_but_not_an_invoiced_customer_met_through_an_edit(
    aws: AwsResources,
) -> None:
    repo = DynamoShadowRepository.from_settings(get_settings())
    guard = Guard(repo, LibraryMatcher(), GuardConfig(mode=Mode.ENFORCE, storm_threshold=2), clock=lambda: T0)
    # given a reconnect cloning customers: the second clone trips the breaker
    for n, name in enumerate(("Alder Vets", "Birch Joinery")):
        decided(guard, customer(f"46000000002620{n}", f"{name} Ltd", n, linked=None, invoiced=False))
    for n, name in enumerate(("Alder Vets", "Birch Joinery")):
        clone = customer(
            f"46000000002621{n}", f"{name} Limited", 5 + n, linked=None, invoiced=False, event="create"
        )
        tripped = decided(guard, clone)
    assert "MULTIPLICATION_STORM" in tripped.rules

    # when the bookkeeper edits a customer she has invoiced for years, which the shadow was not seeded with,
    # and then one more clone arrives
    edit = decided(guard, customer(INVOICED, "Cedar Dental Practice", 10, linked=None, invoiced=True))
    clone = decided(
        guard,
        customer("460000000026220", "Dunmore Farms Ltd", 11, linked=None, invoiced=False, event="create"),
    )

    # then the invoiced customer is not held (Books would refuse its invoices), the new record is
    assert edit.decision is Decision.ALLOW
    assert edit.actions == ()
    assert "MULTIPLICATION_STORM" in clone.rules
    assert [a.target for a in clone.actions if a.kind is ActionKind.MARK_BOOKS_INACTIVE] == [
        "books:460000000026220"
    ]


def test_invoiced_customers_met_through_edits_do_not_trip_the_breaker(aws: AwsResources) -> None:
    repo = DynamoShadowRepository.from_settings(get_settings())
    guard = Guard(repo, LibraryMatcher(), GuardConfig(mode=Mode.ENFORCE, storm_threshold=2), clock=lambda: T0)
    # given an unseeded shadow that has met two uninvoiced copies
    for n, name in enumerate(("Alder Vets", "Birch Joinery")):
        decided(guard, customer(f"46000000002620{n}", f"{name} Limited", n, linked=None, invoiced=False))

    # when the bookkeeper edits the two invoiced customers they duplicate (no creates at all)
    edits = [
        decided(guard, customer(f"46000000002621{n}", f"{name} Ltd", 5 + n, linked=None, invoiced=True))
        for n, name in enumerate(("Alder Vets", "Birch Joinery"))
    ]

    # then each is a duplicate finding, but no storm: the breaker counts copies the sync could have made
    assert [entry.rules for entry in edits] == [("NAME_DRIFT",), ("NAME_DRIFT",)]
    assert (
        repo.read_snapshot(SnapshotRequest(event_id="e", entry_id="e", ref="books:1")).breaker.open is False
    )


SOLE_TRADER_EMAIL = "jane@smithdesign.co.uk"
SOLE_TRADER_CONTACT = "5725767000003000102"


def sole_trader(minutes: float, module: str) -> GuardEvent:
    """The CRM create of a sole trader's account ("Jane Smith Design", id CRM_ID) or of its contact."""
    body: dict[str, Any] = (
        {"id": CRM_ID, "name": "Jane Smith Design"}
        if module == "Accounts"
        else {
            "id": SOLE_TRADER_CONTACT,
            "first_name": "Jane",
            "last_name": "Smith",
            "email": SOLE_TRADER_EMAIL,
            "account_id": CRM_ID,
        }
    )
    body |= {"event": "create", "module": module, "modified": at(minutes).isoformat()}
    return parse_crm_workflow(body, received_at=at(minutes))


def contacts_customer(contact_id: str, minutes: float, *, invoiced: bool) -> GuardEvent:
    """The Books customer the sync makes of the sole trader's CRM contact."""
    when = at(minutes).strftime("%Y-%m-%dT%H:%M:%S+0000")
    contact = {
        "contact_id": contact_id,
        "contact_name": "Jane Smith",
        "contact_type": "customer",
        "customer_sub_type": "individual",
        "status": "active",
        "email": SOLE_TRADER_EMAIL,
        "zcrm_contact_id": SOLE_TRADER_CONTACT,
        "is_linked_with_zohocrm": True,
        "has_transaction": invoiced,
        "created_time": when,
        "last_modified_time": when,
    }
    return parse_books_webhook({"contact": contact}, received_at=at(minutes), operation="create")


def test_a_sole_trader_synced_from_the_account_and_again_from_its_contact_gets_the_right_advice(
    guard: Guard,
) -> None:
    email = SOLE_TRADER_EMAIL
    contact_id = SOLE_TRADER_CONTACT
    # given the account and the customer finance invoices, made from it by the sync
    decided(guard, sole_trader(0, "Accounts"))
    decided(guard, customer(INVOICED, "Jane Smith Design", 1, linked=CRM_ID, invoiced=True, email=email))
    decided(guard, sole_trader(2, "Contacts"))

    # when someone switches the integration to Contacts and the sync makes a customer of the contact
    entry = decided(guard, contacts_customer(OLD_COPY, 5, invoiced=False))

    # then the new copy is held as a mixed mapping (whose advice is the module choice), not as name drift
    # (whose advice, to make the names identical, fixes nothing here), with all four records named
    assert entry.rules == ("MIXED_MAPPING",)
    assert [a.target for a in entry.actions if a.kind is ActionKind.MARK_BOOKS_INACTIVE] == [
        f"books:{OLD_COPY}"
    ]
    assert set(entry.records) == {
        f"books:{OLD_COPY}",
        f"crm:{contact_id}",
        f"books:{INVOICED}",
        f"crm:{CRM_ID}",
    }
    [notify] = [a for a in entry.actions if a.kind is ActionKind.NOTIFY_FINANCE]
    [notice] = notices_for(notify, entry, states(guard, entry))
    body = " ".join(render_notice(notice, ZohoLinks(crm_org_id="20071234567")).body.split())
    assert "set the integration's module to match" in body
    assert f"tab/Contacts/{contact_id}" in body


def test_where_crm_owns_customers_each_one_created_in_books_is_flagged_and_queryable(
    aws: AwsResources,
) -> None:
    # given the seed's design, CRM owns customers: the policy flags customers created in Books
    guard = guard_with({"CREATED_IN_BOOKS": "flag"})
    decided(guard, account(0, "create"))

    # when the sync makes the account's customer, and the bookkeeper creates one by hand to invoice today
    synced = decided(
        guard, customer(OLD_COPY, "Kestrel Logistics Ltd", 1, linked=CRM_ID, invoiced=False, event="create")
    )
    by_hand = decided(
        guard, customer(INVOICED, "Marlow Bakery Limited", 2, linked=None, invoiced=False, event="create")
    )

    # then only the bookkeeper's customer is flagged, finance is told, and admins find it by rule
    assert synced.rules == ()
    assert by_hand.rules == ("CREATED_IN_BOOKS",)
    assert by_hand.decision is Decision.FLAG
    assert [a.target for a in by_hand.actions if a.kind is ActionKind.NOTIFY_FINANCE] == [f"books:{INVOICED}"]
    page = AuditLog.from_settings(get_settings()).query(AuditQuery(rule="CREATED_IN_BOOKS", since=at(-60)))
    assert [entry.entry_id for entry in page.entries] == [by_hand.entry_id]


def test_the_copy_kept_in_a_clean_up_is_not_taken_for_the_deleted_one_recreated(guard: Guard) -> None:
    # given a shadow that never met either copy, the bookkeeper follows the seed's clean-up: she deletes
    # the uninvoiced duplicate (Books' delete webhook with the whole contact)...
    body = {
        "contact": {
            "contact_id": OLD_COPY,
            "contact_name": "Kestrel Logistics Limited",
            "contact_type": "customer",
            "status": "active",
            "created_time": "2024-05-02T09:00:00+0000",
            "last_modified_time": at(1).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        }
    }
    decided(guard, parse_books_webhook(body, received_at=at(10), operation="delete"))

    # when she edits the customer she kept, invoiced for years, and later someone recreates the deleted one
    kept = decided(guard, customer(INVOICED, "Kestrel Logistics Ltd", 11, linked=None, invoiced=True))
    recreated = customer(
        "460000000026103", "Kestrel Logistics Limited", 20, linked=None, invoiced=False, event="create"
    )
    assert recreated.record is not None
    created_now = recreated.model_copy(
        update={"record": recreated.record.model_copy(update={"created_at": at(20)})}
    )
    again = decided(guard, created_now)

    # then the kept customer is no recreation and is not held; the real recreation is
    assert "RECREATED_AFTER_DELETE" not in kept.rules
    assert not [a for a in kept.actions if a.kind is ActionKind.MARK_BOOKS_INACTIVE]
    assert "RECREATED_AFTER_DELETE" in again.rules


def test_a_lost_mapping_never_holds_the_invoiced_customer_met_through_an_edit(guard: Guard) -> None:
    # given a shadow that never saw the invoiced customer (installed without a seed), only the uninvoiced
    # copy the sync made for the account, which then lost Zoho's link (support pointed it back)
    decided(guard, account(0, "create"))
    decided(guard, customer(OLD_COPY, "Kestrel Logistics Ltd.", 1, linked=CRM_ID, invoiced=False))
    decided(guard, customer(OLD_COPY, "Kestrel Logistics Ltd.", 2, linked=None, invoiced=False))

    # when the bookkeeper edits the customer she has invoiced for years, linked to the account again
    entry = decided(guard, customer(INVOICED, "Kestrel Logistics Ltd", 3, linked=CRM_ID, invoiced=True))

    # then the lost mapping is reported, and the hold takes back the copy without invoices
    assert entry.rules == ("BROKEN_MAPPING",)
    assert_held_instead_of_the_invoiced_customer(guard, entry, OLD_COPY)


def test_a_sole_trader_synced_from_its_contact_and_then_from_the_account_is_the_same_mix(
    guard: Guard,
) -> None:
    # given the integration mapped contacts: the sync made the customer finance invoices from the contact
    decided(guard, sole_trader(0, "Accounts"))
    decided(guard, sole_trader(1, "Contacts"))
    decided(guard, contacts_customer(INVOICED, 2, invoiced=True))

    # when someone switches the integration to Accounts and the sync makes a customer of the account
    entry = decided(
        guard,
        customer(
            OLD_COPY,
            "Jane Smith Design",
            5,
            linked=CRM_ID,
            invoiced=False,
            event="create",
            email=SOLE_TRADER_EMAIL,
        ),
    )

    # then it is the same mix, seen from its other end: held as such, not as name drift, and the hold takes
    # the new copy without invoices, never the contact's invoiced customer
    assert entry.rules == ("MIXED_MAPPING",)
    assert_held_instead_of_the_invoiced_customer(guard, entry, OLD_COPY)
    assert set(entry.records) == {
        f"books:{OLD_COPY}",
        f"crm:{SOLE_TRADER_CONTACT}",
        f"books:{INVOICED}",
        f"crm:{CRM_ID}",
    }


@pytest.mark.usefixtures("aws")
def test_mapping_moved_set_to_quarantine_holds_the_old_partner_not_the_invoiced_customer() -> None:
    # given an admin who set MAPPING_MOVED to quarantine, and the account paired with an uninvoiced copy
    guard = guard_with({"MAPPING_MOVED": "quarantine"})
    decided(guard, account(0, "create"))
    decided(guard, customer(OLD_COPY, "Kestrel Logistics Ltd", 1, linked=CRM_ID, invoiced=False))
    decided(guard, customer(INVOICED, "Kestrel Group Holdings", 2, linked=None, invoiced=True))

    # when Zoho's link moves from the copy to the customer finance invoices (a reconnect, or a repair)
    decided(guard, customer(OLD_COPY, "Kestrel Logistics Ltd", 10, linked=None, invoiced=False))
    moved = decided(guard, customer(INVOICED, "Kestrel Group Holdings", 11, linked=CRM_ID, invoiced=True))

    # then the hold takes the copy without invoices: marking the invoiced one inactive stops its invoicing
    assert moved.rules == ("MAPPING_MOVED",)
    assert moved.decision is Decision.QUARANTINE
    assert holds(moved) == [f"books:{OLD_COPY}"]


@pytest.mark.usefixtures("aws")
def test_both_sides_created_set_to_quarantine_holds_the_crm_copy_of_an_invoiced_customer() -> None:
    # given an admin who set BOTH_SIDES_CREATED to quarantine, and sales raising the account
    guard = guard_with({"BOTH_SIDES_CREATED": "quarantine"})
    decided(guard, account(0, "create"))

    # when the guard first meets, through an edit, the customer the bookkeeper raised and invoiced that day
    created = at(20).strftime("%Y-%m-%dT%H:%M:%S+0000")
    entry = decided(
        guard,
        customer(INVOICED, "Kestrel Logistics Limited", 30, linked=None, invoiced=True, created_time=created),
    )

    # then the CRM copy is held back from the sync, and the customer being invoiced is left alone
    assert "BOTH_SIDES_CREATED" in entry.rules
    assert entry.decision is Decision.QUARANTINE
    assert holds(entry) == [f"crm:{CRM_ID}"]


@pytest.mark.usefixtures("aws")
def test_email_mismatch_set_to_quarantine_holds_the_crm_contact_not_the_invoiced_customer() -> None:
    # given an admin who set EMAIL_MISMATCH to quarantine, and a CRM contact
    guard = guard_with({"EMAIL_MISMATCH": "quarantine"})
    contact_id = "5725767000003000501"
    body = {"event": "create", "module": "Contacts", "id": contact_id, "first_name": "Priya"}
    body |= {"last_name": "Raman", "email": "priya@raman-design.co.uk", "modified": at(0).isoformat()}
    decided(guard, parse_crm_workflow(body, received_at=at(0)))

    # when the guard first meets, through an edit, the same person as a Books customer invoiced for years
    entry = decided(
        guard,
        customer(
            INVOICED,
            "Priya Raman",
            5,
            linked=None,
            invoiced=True,
            customer_sub_type="individual",
            email="priya.raman@gmail.com",
        ),
    )

    # then the CRM contact is held back from the sync, and the customer being invoiced is left alone
    assert "EMAIL_MISMATCH" in entry.rules
    assert entry.decision is Decision.QUARANTINE
    assert holds(entry) == [f"crm:{contact_id}"]


def assert_flagged_not_held(guard: Guard, entry: AuditEntry, rule: str, invoiced: str) -> None:
    """The entry reports ``rule`` about Books customer ``invoiced`` as a flag, holds nothing, says in its
    evidence why, and its notice neither says nor heads the customer as held."""
    assert rule in entry.rules
    assert entry.decision is Decision.FLAG
    assert holds(entry) == []
    assert f"{rule}: books:{invoiced} {NOT_HELD_INVOICED}" in entry.evidence
    assert AuditLog.from_settings(get_settings()).get(entry.entry_id) == entry
    [notify] = [a for a in entry.actions if a.kind is ActionKind.NOTIFY_FINANCE]
    [notice] = notices_for(notify, entry, states(guard, entry))
    assert not any(record.held for record in notice.records)
    message = render_notice(notice, ZohoLinks(books_organization_id="20081234567"))
    body = " ".join(message.body.split())
    assert "flagged this for your review and changed nothing in Zoho" in body
    assert "The guard held" not in body
    assert "held:" not in message.subject
    assert NOT_HELD_INVOICED in body


def test_a_recreation_invoiced_before_the_guard_met_it_is_flagged_not_held(guard: Guard) -> None:
    # given the account and the customer the sync made for it, which the bookkeeper then deleted
    decided(guard, account(0, "create"))
    decided(guard, customer(OLD_COPY, "Kestrel Logistics Ltd", 1, linked=CRM_ID, invoiced=False))
    decided(guard, delete(OLD_COPY, 5))

    # when the guard first meets, through an edit, the copy the sync recreated afterwards, which finance
    # has invoiced meanwhile
    recreated = "460000000026103"
    created = at(10).strftime("%Y-%m-%dT%H:%M:%S+0000")
    entry = decided(
        guard,
        customer(recreated, "Kestrel Logistics Ltd", 30, linked=CRM_ID, invoiced=True, created_time=created),
    )

    # then the recreation is still reported, but as a flag: marking it inactive would stop its invoicing,
    # and there is no other copy to hold (the one it replaces is deleted)
    assert_flagged_not_held(guard, entry, "RECREATED_AFTER_DELETE", recreated)


@pytest.mark.usefixtures("aws")
def test_partner_deleted_set_to_quarantine_flags_the_invoiced_partner_instead_of_holding_it() -> None:
    # given an admin who set PARTNER_DELETED to quarantine, and the account paired with the customer
    # finance has invoiced for years
    guard = guard_with({"PARTNER_DELETED": "quarantine"})
    decided(guard, account(0, "create"))
    decided(guard, customer(INVOICED, "Kestrel Logistics Ltd", 1, linked=CRM_ID, invoiced=True))

    # when someone deletes the account in CRM
    entry = decided(guard, account(5, "delete"))

    # then the orphaned customer is reported, not marked inactive: Books would refuse its invoices
    assert_flagged_not_held(guard, entry, "PARTNER_DELETED", INVOICED)


@pytest.mark.usefixtures("aws")
def test_crm_merge_orphan_set_to_quarantine_flags_the_invoiced_orphan_instead_of_holding_it() -> None:
    # given an admin who set CRM_MERGE_ORPHAN to quarantine, the account paired with the customer finance
    # invoices, and a second account for the same company paired with an uninvoiced copy
    guard = guard_with({"CRM_MERGE_ORPHAN": "quarantine"})
    decided(guard, account(0, "create"))
    decided(guard, customer(INVOICED, "Kestrel Logistics Ltd", 1, linked=CRM_ID, invoiced=True))
    master = "5725767000003000102"
    body = {"event": "create", "module": "Accounts", "id": master, "name": "Kestrel Logistics Ltd"}
    body |= {"modified": at(2).isoformat(), "phone": "+44 161 496 0101"}
    decided(guard, parse_crm_workflow(body, received_at=at(2)))
    decided(guard, customer(OLD_COPY, "Kestrel Logistics Ltd.", 3, linked=master, invoiced=False))

    # when sales merge the first account into the second in CRM (the merged-away account is deleted)
    entry = decided(guard, account(10, "delete"))

    # then the orphaned customer is reported, not marked inactive: it is the one holding the invoices
    assert_flagged_not_held(guard, entry, "CRM_MERGE_ORPHAN", INVOICED)
