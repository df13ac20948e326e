"""BooksClient's listing of recently modified contacts against the Zoho simulator, which keeps the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_guard.local.zoho_simulator import Source, ZohoSimulator
from sync_guard.zoho.books import BooksClient
from sync_guard.zoho.errors import BooksApiError
from sync_guard.zoho.factory import ZohoClients
from tests.integration.zoho.zoho_support import RecordClock

START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def minute(n: int) -> datetime:
    return START + timedelta(minutes=n)


def contacts_one_minute_apart(sim: ZohoSimulator, clock: RecordClock, count: int) -> list[str]:
    ids = []
    for n in range(count):
        clock.at = minute(n)
        contact = sim.state.books_create_contact({"contact_name": f"Customer {n}"}, source=Source.ADMIN)
        ids.append(str(contact["contact_id"]))
    return ids


def paged(zoho: ZohoClients, sim: ZohoSimulator, **limits: int) -> BooksClient:
    return BooksClient(zoho.http, sim.books_organization_id, **limits)


def test_contacts_come_newest_modified_first_and_paging_stops_at_the_first_older_one(
    sim: ZohoSimulator, zoho: ZohoClients, record_clock: RecordClock
) -> None:
    # given five customers created a minute apart, the first edited last
    ids = contacts_one_minute_apart(sim, record_clock, 5)
    record_clock.at = minute(5)
    sim.state.books_update_contact(ids[0], {"phone": "020 7946 0000"}, source=Source.ADMIN)

    # when the contacts modified since minute 3 are listed two to a page
    listed = list(paged(zoho, sim, per_page=2).iter_contacts_modified_since(minute(3)))

    # then the edited one comes first, and the listing stops on page 2 at the contact of minute 2
    assert [c.record_id for c in listed] == [ids[0], ids[4], ids[3]]
    assert sim.requests.count("books.list_contacts") == 2


def test_without_an_older_contact_every_page_is_read(
    sim: ZohoSimulator, zoho: ZohoClients, record_clock: RecordClock
) -> None:
    ids = contacts_one_minute_apart(sim, record_clock, 3)

    listed = list(paged(zoho, sim, per_page=2).iter_contacts_modified_since(minute(-60)))

    assert [c.record_id for c in listed] == ids[::-1]
    assert sim.requests.count("books.list_contacts") == 2


def test_recent_pages_past_the_page_cap_are_read_too(
    sim: ZohoSimulator, zoho: ZohoClients, record_clock: RecordClock
) -> None:
    # a burst of edits (a reconnect touches every customer) must not leave the check failing on every run
    ids = contacts_one_minute_apart(sim, record_clock, 4)

    listing = paged(zoho, sim, per_page=1, max_pages=2).iter_contacts_modified_since(minute(0))

    assert [c.record_id for c in listing] == ids[::-1]
    assert sim.requests.count("books.list_contacts") == 4


def test_the_simulator_sorts_as_asked_and_reports_the_order(
    sim: ZohoSimulator, zoho: ZohoClients, record_clock: RecordClock
) -> None:
    ids = contacts_one_minute_apart(sim, record_clock, 3)

    newest_first = zoho.books.list_contacts(sort_column="last_modified_time", sort_order="D")
    by_name = zoho.books.list_contacts(sort_column="contact_name", sort_order="D")
    default = zoho.books.list_contacts()

    assert [c.record_id for c in newest_first.items] == ids[::-1]
    assert newest_first.order == ("last_modified_time", "D")
    assert [c.name for c in by_name.items] == ["Customer 2", "Customer 1", "Customer 0"]
    assert ([c.record_id for c in default.items], default.order) == (ids, ("created_time", "A"))


@pytest.mark.parametrize(("column", "order"), [("status", "D"), ("last_modified_time", "desc")])
def test_a_sort_books_does_not_know_is_refused(
    sim: ZohoSimulator, zoho: ZohoClients, column: str, order: str
) -> None:
    with pytest.raises(BooksApiError) as refused:
        zoho.books.list_contacts(sort_column=column, sort_order=order)

    assert refused.value.http_status == 400
    assert refused.value.zoho_code == 2
