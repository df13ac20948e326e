"""BooksClient against the Zoho simulator over HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync_guard.local.zoho_simulator import ChangeKind, FaultKind, Source, ZohoSimulator
from sync_guard.models.records import Module, System
from sync_guard.zoho.books import FILTER_ALL, FILTER_CRM, FILTER_INACTIVE, BooksApiError
from sync_guard.zoho.errors import DisplayNameTaken, ZohoListingIncomplete, ZohoServerError
from sync_guard.zoho.factory import ZohoClients
from sync_guard.zoho.http import Dialect


def _customer(sim: ZohoSimulator, name: str, **fields: object) -> str:
    return str(
        sim.state.books_create_contact({"contact_name": name, **fields}, source=Source.ADMIN)["contact_id"]
    )


def test_create_and_get_contact(zoho: ZohoClients) -> None:
    created = zoho.books.create_contact(
        {"contact_name": "Acme Ltd", "email": "ap@acme.example", "zcrm_account_id": "5725767000003000001"}
    )

    fetched = zoho.books.get_contact(created.record_id)

    assert fetched is not None
    assert (fetched.system, fetched.module) == (System.BOOKS, Module.BOOKS_CUSTOMERS)
    assert fetched.name == "Acme Ltd"
    assert fetched.linked_crm_id == "5725767000003000001"
    assert fetched.active is True


def test_get_missing_contact_is_none(zoho: ZohoClients) -> None:
    assert zoho.books.get_contact("460000009999999") is None


def test_display_name_collision_is_3062_on_create_and_on_update(
    sim: ZohoSimulator, zoho: ZohoClients
) -> None:
    _customer(sim, "Acme Ltd")
    other = _customer(sim, "Acme Limited")

    with pytest.raises(DisplayNameTaken) as on_create:
        zoho.books.create_contact({"contact_name": "ACME LTD"})
    with pytest.raises(DisplayNameTaken) as on_update:
        zoho.books.update_contact(other, {"contact_name": "Acme Ltd"})

    for caught in (on_create, on_update):
        assert caught.value.zoho_code == 3062
        assert caught.value.http_status == 400
        assert caught.value.retryable is False
    # The failed create is not retried (nothing is retryable about it) and left nothing behind.
    assert sim.requests.count("books.create_contact") == 1
    assert len(sim.state.books_contacts) == 2


def test_list_contacts_by_name_email_crm_link_and_filter(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    linked = _customer(sim, "Acme Ltd", zcrm_account_id="5725767000003000001")
    by_person = _customer(sim, "Beta Ltd", contact_persons=[{"first_name": "B", "email": "b@beta.example"}])
    inactive = _customer(sim, "Gamma Ltd")
    sim.state.books_set_status(inactive, False, source=Source.ADMIN)

    def ids(**filters: str) -> list[str]:
        return [c.record_id for c in zoho.books.find_contacts(**filters)]

    assert ids(contact_name="acme ltd") == [linked]
    assert ids(email="B@beta.example") == [by_person]
    assert ids(zcrm_account_id="5725767000003000001") == [linked]
    assert ids(filter_by=FILTER_CRM) == [linked]
    assert ids(filter_by=FILTER_INACTIVE) == [inactive]
    assert ids(contact_name="nobody") == []


def test_list_contacts_pages(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    ids = [_customer(sim, f"Customer {n}") for n in range(5)]

    first = zoho.books.list_contacts(per_page=2)
    last = zoho.books.list_contacts(per_page=2, page=3)
    paged = type(zoho.books)(zoho.http, sim.books_organization_id, per_page=2)
    everything = paged.find_contacts()

    assert [c.record_id for c in first.items] == ids[:2]
    assert first.has_more is True
    assert ([c.record_id for c in last.items], last.has_more) == (ids[4:], False)
    assert [c.record_id for c in everything] == ids


def test_listings_longer_than_the_page_cap_raise(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    customer_id = _customer(sim, "Customer 0")
    for n in range(1, 5):
        _customer(sim, f"Customer {n}")
    for _ in range(5):
        zoho.books.create_invoice(customer_id, [{"name": "Audit", "rate": 100, "quantity": 1}])
    capped = type(zoho.books)(zoho.http, sim.books_organization_id, per_page=2, max_pages=2)

    with pytest.raises(ZohoListingIncomplete) as contacts:
        capped.find_contacts()
    with pytest.raises(ZohoListingIncomplete) as invoices:
        capped.list_invoices(customer_id)

    assert (contacts.value.pages, contacts.value.records) == (2, 4)
    assert (invoices.value.pages, invoices.value.records) == (2, 4)
    assert len(capped.find_contacts(contact_name="Customer 3")) == 1


def test_mark_inactive_and_active(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    customer = _customer(sim, "Acme Ltd")

    zoho.books.mark_inactive(customer)
    zoho.books.mark_inactive(customer)  # idempotent
    held = zoho.books.get_contact(customer)
    zoho.books.mark_active(customer)
    released = zoho.books.get_contact(customer)

    assert held is not None
    assert held.active is False
    assert released is not None
    assert released.active is True
    assert len(sim.state.changes_for(customer, ChangeKind.STATUS)) == 2


def test_invoices_of_a_customer(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    customer = _customer(sim, "Acme Ltd")
    other = _customer(sim, "Beta Ltd")
    zoho.books.create_invoice(customer, [{"name": "Consulting", "rate": 100, "quantity": 2}])
    zoho.books.create_invoice(other, [{"name": "Support", "rate": 50}])

    invoices = zoho.books.list_invoices(customer)
    contact = zoho.books.get_contact(customer)

    assert [(i.customer_id, i.total) for i in invoices] == [(customer, Decimal("200"))]
    assert contact is not None
    assert contact.has_transactions is True
    assert contact.outstanding == Decimal("200")


def test_inactive_customer_cannot_be_invoiced(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    customer = _customer(sim, "Acme Ltd")
    zoho.books.mark_inactive(customer)

    with pytest.raises(BooksApiError) as caught:
        zoho.books.create_invoice(customer, [{"name": "x", "rate": 1}])

    assert caught.value.zoho_code == sim.state.assumptions.books_inactive_invoice_code


def test_books_requires_organization_id_and_a_token(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    with pytest.raises(BooksApiError) as missing_org:
        zoho.http.request("GET", "/books/v3/contacts", dialect=Dialect.BOOKS)
    assert missing_org.value.zoho_code == sim.state.assumptions.books_missing_org_code

    with pytest.raises(BooksApiError) as wrong_org:
        zoho.http.request("GET", "/books/v3/contacts", dialect=Dialect.BOOKS, params={"organization_id": "1"})
    assert wrong_org.value.zoho_code == sim.state.assumptions.books_unknown_org_code


def test_only_books_saying_a_contact_does_not_exist_reads_as_deleted(
    sim: ZohoSimulator, zoho: ZohoClients
) -> None:
    kept = _customer(sim, "Kept Trading Ltd")
    held = _customer(sim, "Held Trading Ltd")
    sim.state.books_set_status(held, False, source=Source.ADMIN)
    gone = _customer(sim, "Gone Trading Ltd")
    sim.state.books_delete_contact(gone, source=Source.ADMIN)

    assert zoho.books.contact_deleted(kept) is False
    assert zoho.books.contact_deleted(held) is False  # inactive is not gone
    assert zoho.books.contact_deleted(gone) is True
    # every status is listed: an inactive (held) customer is not a candidate for a missed delete
    listed = zoho.books.list_contacts(filter_by=FILTER_ALL)
    assert [c.record_id for c in listed.items] == [kept, held]

    # a 404 that is not "does not exist" (a URL Books does not know: code 5) is no answer at all
    with pytest.raises(BooksApiError) as not_an_answer:
        zoho.books.contact_deleted(f"{gone}/statements")
    assert (not_an_answer.value.http_status, not_an_answer.value.zoho_code) == (404, 5)

    # neither is a server error after the retries
    sim.faults.configure(route_pattern=r"^books\.get_contact$")
    sim.faults.script([FaultKind.SERVER_ERROR] * 4)
    with pytest.raises(ZohoServerError):
        zoho.books.contact_deleted(gone)
    assert sim.requests.count("books.get_contact", record_id=gone, status=500) == 4
