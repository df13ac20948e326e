"""Zoho Books v3 client: customers (contacts) and their invoices, for one organisation.

Reads: one contact (or only whether Books says it does not exist), contacts by display name / email /
linked CRM account / filter, the contacts modified since a moment (newest first), invoices of a customer.
Writes: mark inactive/active (the quarantine lever on the Books side). ``create_contact``,
``update_contact`` and ``create_invoice`` exist for the simulator's scenarios and the demo; the guard never
creates or deletes customers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sync_guard.models.records import PartyRecord
from sync_guard.zoho.convert import books_contact_to_party
from sync_guard.zoho.errors import BOOKS_NOT_FOUND, BooksApiError, ZohoApiError, ZohoListingIncomplete
from sync_guard.zoho.http import Dialect, ZohoHttp

T = TypeVar("T")

# filter_by values Books accepts on /contacts (Status.Crm: linked to Zoho CRM).
FILTER_ALL = "Status.All"
FILTER_ACTIVE = "Status.Active"
FILTER_INACTIVE = "Status.Inactive"
FILTER_CRM = "Status.Crm"

# sort_column/sort_order on /contacts: the modification time, newest first.
SORT_BY_MODIFIED = "last_modified_time"
SORT_DESCENDING = "D"
# A 404 without Books' code 1002 reads as a deleted contact only when its words say the contact (or the
# customer) does not exist: "organization does not exist" says nothing of the contact.
_CONTACT_GONE = re.compile(r"\b(?:contact|customer) does not exist", re.IGNORECASE)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a Books list and whether another follows (``page_context.has_more_page``)."""

    items: list[T]
    page: int
    has_more: bool
    #: The sort column and order Books says it used (``page_context``), when it says.
    order: tuple[str | None, str | None] = (None, None)


@dataclass(frozen=True)
class BooksInvoice:
    invoice_id: str
    invoice_number: str
    customer_id: str
    status: str
    total: Decimal
    balance: Decimal
    date: date | None


def invoice_from_json(data: Mapping[str, Any]) -> BooksInvoice:
    """Explicit conversion of a Books invoice (list row or full entity)."""
    raw_date = data.get("date")
    return BooksInvoice(
        invoice_id=str(data["invoice_id"]),
        invoice_number=str(data.get("invoice_number", "")),
        customer_id=str(data.get("customer_id", "")),
        status=str(data.get("status", "")),
        total=Decimal(str(data.get("total", 0))),
        balance=Decimal(str(data.get("balance", 0))),
        date=date.fromisoformat(raw_date) if isinstance(raw_date, str) and raw_date else None,
    )


class BooksClient:
    """Books calls for one organisation over a shared :class:`ZohoHttp`."""

    def __init__(self, http: ZohoHttp, organization_id: str, *, per_page: int = 200, max_pages: int = 50):
        if not organization_id:
            raise ValueError("Books calls need an organization_id")
        self._http = http
        self._org = organization_id
        self._per_page = per_page
        self._max_pages = max_pages

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Any:
        query: dict[str, str | int] = {"organization_id": self._org, **(params or {})}
        return self._http.request(
            method, "/books/v3" + path, dialect=Dialect.BOOKS, params=query, json=json, idempotent=idempotent
        )

    # ------------------------------------------------------------------------------------ reads

    def get_contact_data(self, contact_id: str) -> dict[str, Any] | None:
        """The raw contact, or None when Books says it does not exist."""
        try:
            body = self._call("GET", f"/contacts/{contact_id}")
        except BooksApiError as error:
            if error.zoho_code == BOOKS_NOT_FOUND or error.http_status == 404:
                return None
            raise
        contact = body.get("contact") if isinstance(body, Mapping) else None
        return dict(contact) if isinstance(contact, Mapping) else None

    def contact_deleted(self, contact_id: str) -> bool:
        """Whether Books says the contact does not exist (``GET /contacts/{id}``: its "does not exist" code
        1002, or HTTP 404 saying the contact or customer does not exist). False when Books returns it; any
        other answer raises (a 404 saying an organisation or a user does not exist among them), so that no
        failure can pass for a deleted customer."""
        try:
            self._call("GET", f"/contacts/{contact_id}")
        except BooksApiError as error:
            if error.zoho_code == BOOKS_NOT_FOUND:
                return True
            if error.http_status == 404 and _CONTACT_GONE.search(error.zoho_message):
                return True
            raise
        return False

    def get_contact(self, contact_id: str) -> PartyRecord | None:
        """The contact as a ``PartyRecord``, or None when it does not exist."""
        data = self.get_contact_data(contact_id)
        return books_contact_to_party(data) if data is not None else None

    def list_contacts(
        self,
        *,
        contact_name: str | None = None,
        email: str | None = None,
        zcrm_account_id: str | None = None,
        filter_by: str | None = None,
        sort_column: str | None = None,
        sort_order: str | None = None,
        page: int = 1,
        per_page: int | None = None,
    ) -> Page[PartyRecord]:
        """One page of contacts matching every given filter (display name and email match exactly), in
        Books' default order or by ``sort_column`` (``sort_order`` ``A`` ascending, ``D`` descending)."""
        params: dict[str, str | int] = {"page": page, "per_page": per_page or self._per_page}
        for key, value in (
            ("contact_name", contact_name),
            ("email", email),
            ("zcrm_account_id", zcrm_account_id),
            ("filter_by", filter_by),
            ("sort_column", sort_column),
            ("sort_order", sort_order),
        ):
            if value:
                params[key] = value
        body = self._call("GET", "/contacts", params=params)
        contacts = body.get("contacts") or [] if isinstance(body, Mapping) else []
        context = body.get("page_context") or {} if isinstance(body, Mapping) else {}
        return Page(
            [books_contact_to_party(c) for c in contacts],
            page,
            bool(context.get("has_more_page", False)),
            order=(context.get("sort_column"), context.get("sort_order")),
        )

    def iter_contacts(
        self,
        *,
        contact_name: str | None = None,
        email: str | None = None,
        zcrm_account_id: str | None = None,
        filter_by: str | None = None,
    ) -> Iterator[PartyRecord]:
        """Every matching contact, page after page; more than ``max_pages`` pages raise
        :class:`ZohoListingIncomplete` (after the items already yielded)."""
        records = 0
        for page in range(1, self._max_pages + 1):
            result = self.list_contacts(
                contact_name=contact_name,
                email=email,
                zcrm_account_id=zcrm_account_id,
                filter_by=filter_by,
                page=page,
            )
            records += len(result.items)
            yield from result.items
            if not result.has_more:
                return
        raise ZohoListingIncomplete("Books GET /contacts", pages=self._max_pages, records=records)

    def iter_contacts_modified_since(self, since: datetime) -> Iterator[PartyRecord]:
        """Every contact (customers and vendors) modified at or after ``since``, newest first.

        ``GET /contacts?sort_column=last_modified_time&sort_order=D``, page after page, until a contact
        modified before ``since`` (not yielded) or the last page: only the recent pages are read, not the
        whole organisation. ``sort_column`` and its value ``last_modified_time`` are in Books' API
        documentation (List Contacts); ``sort_order`` is not listed there, only echoed with ``sort_column``
        in ``page_context``, and ``A``/``D`` is what other Books lists take. So the order Books reports
        is checked: a page said to be in any other order raises :class:`ZohoApiError` rather than being
        read as newest first (which would end the listing early and miss contacts). None of the list
        parameters Books documents filters on "modified since".

        A contact without a modification time does not end the listing. No page cap: the listing ends at
        ``since``, and a cap would fail the scheduled check on every run after a burst of edits (a
        reconnect touches every customer) without its watermark ever moving.
        """
        page = 0
        while True:
            page += 1
            result = self.list_contacts(sort_column=SORT_BY_MODIFIED, sort_order=SORT_DESCENDING, page=page)
            column, order = result.order
            if column not in (None, SORT_BY_MODIFIED) or order not in (None, SORT_DESCENDING):
                raise ZohoApiError(
                    f"Books GET /contacts sorted by {column} {order}, not newest modified first",
                    http_status=200,
                )
            for record in result.items:
                if record.modified_at is not None and record.modified_at < since:
                    return
                yield record
            if not result.has_more:
                return

    def find_contacts(self, **filters: str | None) -> list[PartyRecord]:
        """:meth:`iter_contacts` as a list."""
        return list(self.iter_contacts(**filters))

    def list_invoices(self, customer_id: str) -> list[BooksInvoice]:
        """Every invoice of one customer (all pages; more than ``max_pages`` raise)."""
        out: list[BooksInvoice] = []
        for page in range(1, self._max_pages + 1):
            body = self._call(
                "GET",
                "/invoices",
                params={"customer_id": customer_id, "page": page, "per_page": self._per_page},
            )
            out.extend(invoice_from_json(i) for i in (body or {}).get("invoices") or [])
            if not ((body or {}).get("page_context") or {}).get("has_more_page"):
                return out
        raise ZohoListingIncomplete("Books GET /invoices", pages=self._max_pages, records=len(out))

    # ----------------------------------------------------------------------------------- writes

    def mark_inactive(self, contact_id: str) -> None:
        """Mark a customer inactive: it stays, with its history, but cannot be invoiced. Idempotent."""
        self._call("POST", f"/contacts/{contact_id}/inactive")

    def mark_active(self, contact_id: str) -> None:
        """Undo :meth:`mark_inactive`. Idempotent."""
        self._call("POST", f"/contacts/{contact_id}/active")

    def create_contact(self, fields: Mapping[str, Any]) -> PartyRecord:
        """Create a contact (simulator scenarios, demo). Raises ``DisplayNameTaken`` on error 3062.

        Not idempotent: retried only when Books cannot have acted (429, connection refused)."""
        body = self._call("POST", "/contacts", json=dict(fields), idempotent=False)
        return books_contact_to_party(body["contact"])

    def update_contact(self, contact_id: str, fields: Mapping[str, Any]) -> PartyRecord:
        """Update a contact; renaming onto an existing display name raises ``DisplayNameTaken``."""
        body = self._call("PUT", f"/contacts/{contact_id}", json=dict(fields))
        return books_contact_to_party(body["contact"])

    def create_invoice(self, customer_id: str, line_items: Sequence[Mapping[str, Any]]) -> BooksInvoice:
        """Create an invoice (simulator scenarios, demo). Not idempotent, like :meth:`create_contact`."""
        payload = {"customer_id": customer_id, "line_items": [dict(i) for i in line_items]}
        body = self._call("POST", "/invoices", json=payload, idempotent=False)
        return invoice_from_json(body["invoice"])
