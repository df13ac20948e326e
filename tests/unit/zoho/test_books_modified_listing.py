"""BooksClient.iter_contacts_modified_since with a stub transport: what it asks Books, what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sync_guard.zoho.books import BooksClient
from sync_guard.zoho.errors import ZohoApiError

SINCE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class StubHttp:
    """Answers every GET /contacts with the next of ``pages``; remembers the query parameters."""

    def __init__(self, *pages: dict[str, Any]) -> None:
        self.pages = list(pages)
        self.params: list[dict[str, Any]] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.params.append(dict(kwargs["params"]))
        return self.pages.pop(0)


def page(*modified: str, more: bool = False, order: tuple[str, str] = ("last_modified_time", "D")) -> Any:
    contacts = [
        {"contact_id": str(n), "contact_name": f"C{n}", "last_modified_time": at}
        for n, at in enumerate(modified)
    ]
    context = {"has_more_page": more, "sort_column": order[0], "sort_order": order[1]}
    return {"code": 0, "contacts": contacts, "page_context": context}


def test_it_asks_for_the_newest_modified_first_and_stops_at_the_first_older_contact() -> None:
    http = StubHttp(page("2026-03-10T13:00:00+0100", "2026-03-10T12:30:00+0000", "2026-03-10T12:00:00+0100"))
    books = BooksClient(http, "20000000001")  # type: ignore[arg-type]

    listed = list(books.iter_contacts_modified_since(SINCE))

    # 13:00+01:00 is 12:00 UTC (kept); 12:00+01:00 is 11:00 UTC, older than since (the end)
    assert [c.record_id for c in listed] == ["0", "1"]
    assert http.params == [
        {
            "organization_id": "20000000001",
            "sort_column": "last_modified_time",
            "sort_order": "D",
            "page": 1,
            "per_page": 200,
        }
    ]


def test_a_listing_books_says_is_in_another_order_is_refused_not_cut_short() -> None:
    http = StubHttp(page("2020-01-01T00:00:00+0000", "2026-03-10T12:30:00+0000", order=("created_time", "A")))
    books = BooksClient(http, "20000000001")  # type: ignore[arg-type]

    with pytest.raises(ZohoApiError, match="not newest modified first"):
        list(books.iter_contacts_modified_since(SINCE))
