"""Books v3 routes of the simulator: contacts (list/create/get/update/delete/active/inactive), invoices.

Every answer is ``{"code": 0, "message": ..., <entity>: ...}`` on success and ``{"code": n, "message": ...}``
on failure; lists carry ``page_context``. ``organization_id`` is checked by the server before any route.

``GET /contacts`` sorts by ``sort_column`` (the values Books documents) and ``sort_order`` (``A``/``D``),
refusing other values as Books refuses a bad ``filter_by``; without them, oldest created first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sync_guard.local.zoho_simulator.routing import Api, BadQuery, Request, Response, Router, paginate
from sync_guard.local.zoho_simulator.state import SimulatorError, SimulatorState, Source

PREFIX = "/books/v3"
MAX_PER_PAGE = 200
_CONTACT_FILTERS = (
    "contact_name",
    "contact_name_startswith",
    "contact_name_contains",
    "email",
    "zcrm_account_id",
    "zcrm_contact_id",
)
DEFAULT_SORT = ("created_time", "A")
SORT_ORDERS = ("A", "D")


def _primary_person(contact: dict[str, Any]) -> dict[str, Any]:
    persons = contact.get("contact_persons") or []
    return next((p for p in persons if p.get("is_primary_contact")), persons[0] if persons else {})


def _folded(value: Any) -> str:
    return str(value or "").casefold()


def _moment(value: Any) -> datetime:
    """A Books time (``2025-01-01T10:00:00+0100``) as a moment; a missing or odd one sorts first."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# The sort columns Books documents for GET /contacts, and the value each sorts on.
_SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "contact_name": lambda c: _folded(c.get("contact_name")),
    "first_name": lambda c: _folded(_primary_person(c).get("first_name")),
    "last_name": lambda c: _folded(_primary_person(c).get("last_name")),
    "email": lambda c: _folded(c.get("email")),
    "outstanding_receivable_amount": lambda c: float(c.get("outstanding_receivable_amount") or 0),
    # Books' times carry an offset: compared as moments, not as text.
    "created_time": lambda c: _moment(c.get("created_time")),
    "last_modified_time": lambda c: _moment(c.get("last_modified_time")),
}


def _sorted(request: Request, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], tuple[str, str]]:
    """``items`` in the order ``sort_column``/``sort_order`` ask for (ties keep creation order)."""
    column = request.query.get("sort_column") or DEFAULT_SORT[0]
    order = request.query.get("sort_order") or DEFAULT_SORT[1]
    if column not in _SORT_KEYS:
        raise BadQuery("sort_column")
    if order not in SORT_ORDERS:
        raise BadQuery("sort_order")
    if (column, order) == DEFAULT_SORT:
        return items, DEFAULT_SORT  # the state lists them oldest created first already
    return sorted(items, key=_SORT_KEYS[column], reverse=order == "D"), (column, order)


def books_error(status: int, code: int, message: str) -> Response:
    return Response(status, {"code": code, "message": message})


def _ok(message: str, status: int = 200, **entities: Any) -> Response:
    return Response(status, {"code": 0, "message": message, **entities})


def _ok_with(message: str, entities: dict[str, Any], status: int = 200) -> Response:
    return Response(status, {"code": 0, "message": message, **entities})


def _list(
    request: Request,
    items: list[dict[str, Any]],
    key: str,
    report: str,
    applied: str,
    sort: tuple[str, str] = DEFAULT_SORT,
) -> Response:
    page = request.int_query("page", 1)
    per_page = request.int_query("per_page", MAX_PER_PAGE, high=MAX_PER_PAGE)
    chunk, more = paginate(items, page, per_page)
    context = {
        "page": page,
        "per_page": per_page,
        "has_more_page": more,
        "report_name": report,
        "applied_filter": applied,
        "sort_column": sort[0],
        "sort_order": sort[1],
    }
    return _ok_with("success", {key: chunk, "page_context": context})


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise SimulatorError(400, 4, "Invalid value passed for JSONString") from None
    if not isinstance(body, dict):
        raise SimulatorError(400, 4, "Invalid value passed for JSONString")
    return body


def register(router: Router, state: SimulatorState) -> None:
    """Add the Books routes to ``router``."""

    def list_contacts(request: Request) -> Response:
        filters = {name: request.query[name] for name in _CONTACT_FILTERS if name in request.query}
        filter_by = request.query.get("filter_by", "Status.All")
        contacts, sort = _sorted(request, state.books_list_contacts(filter_by=filter_by, **filters))
        return _list(request, contacts, "contacts", "Contacts", filter_by, sort)

    def create_contact(request: Request) -> Response:
        contact = state.books_create_contact(_body(request), source=Source.API)
        return _ok("The contact has been added.", 201, contact=contact)

    def get_contact(request: Request) -> Response:
        contact = state.books_get(request.params["id"])
        if contact is None:
            return books_error(404, 1002, "Contact does not exist.")
        return _ok("success", contact=contact)

    def update_contact(request: Request) -> Response:
        contact = state.books_update_contact(request.params["id"], _body(request), source=Source.API)
        return _ok("Contact information has been saved.", contact=contact)

    def delete_contact(request: Request) -> Response:
        state.books_delete_contact(request.params["id"], source=Source.API)
        return _ok("The contact has been deleted.")

    def mark(active: bool) -> Any:
        def handler(request: Request) -> Response:
            state.books_set_status(request.params["id"], active, source=Source.API)
            return _ok(
                "The contact has been marked as active."
                if active
                else "The contact has been marked as inactive."
            )

        return handler

    def list_invoices(request: Request) -> Response:
        invoices = state.books_list_invoices(customer_id=request.query.get("customer_id"))
        return _list(request, invoices, "invoices", "Invoices", "Status.All")

    def create_invoice(request: Request) -> Response:
        invoice = state.books_create_invoice(_body(request), source=Source.API)
        return _ok("The invoice has been created.", 201, invoice=invoice)

    contact = r"(?P<id>[^/]+)"
    router.add("GET", f"{PREFIX}/contacts", "books.list_contacts", Api.BOOKS, list_contacts)
    router.add("POST", f"{PREFIX}/contacts", "books.create_contact", Api.BOOKS, create_contact)
    router.add(
        "POST", f"{PREFIX}/contacts/{contact}/inactive", "books.mark_inactive", Api.BOOKS, mark(False), "id"
    )
    router.add(
        "POST", f"{PREFIX}/contacts/{contact}/active", "books.mark_active", Api.BOOKS, mark(True), "id"
    )
    router.add("GET", f"{PREFIX}/contacts/{contact}", "books.get_contact", Api.BOOKS, get_contact, "id")
    router.add("PUT", f"{PREFIX}/contacts/{contact}", "books.update_contact", Api.BOOKS, update_contact, "id")
    router.add(
        "DELETE", f"{PREFIX}/contacts/{contact}", "books.delete_contact", Api.BOOKS, delete_contact, "id"
    )
    router.add("GET", f"{PREFIX}/invoices", "books.list_invoices", Api.BOOKS, list_invoices)
    router.add("POST", f"{PREFIX}/invoices", "books.create_invoice", Api.BOOKS, create_invoice)


def render_error(error: SimulatorError) -> Response:
    code = error.code if isinstance(error.code, int) else 1000
    return books_error(error.http_status, code, error.message)


def render_bad_query(error: BadQuery) -> Response:
    return books_error(400, 2, f"Invalid value passed for {error.name}")
