"""Explicit converters from Zoho's JSON records to the domain ``PartyRecord``.

Both the API clients (full records) and the webhook parsers (whatever a payload carried) build their
records here, so a field means the same thing whichever way it reached the guard. The converters are
forgiving about absent fields (webhook templates carry a subset) but never invent values: an empty string
from Zoho becomes ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sync_guard.errors import InvalidPayload
from sync_guard.models.records import ContactPerson, Module, PartyRecord, RecordKind, System

# CRM custom fields commonly used for a UK VAT number; the first one present wins. Zoho has no standard
# field for it, so this is a convention of the deployments we know, not a Zoho fact.
CRM_VAT_FIELDS: tuple[str, ...] = ("VAT_Number", "VAT_Registration_Number", "VAT_No", "Tax_Number")


def _text(value: Any) -> str | None:
    """A trimmed string, or None for absent/empty/null values (Zoho sends "" and null interchangeably)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        # Lookup fields come as {"name": ..., "id": ...}; the display value is the name.
        value = value.get("name")
        if value is None:
            return None
    text = str(value).strip()
    return text or None


def _lookup_id(value: Any) -> str | None:
    """The id of a CRM lookup field ``{"name":..,"id":..}``; None when it is not a lookup."""
    if isinstance(value, Mapping):
        return _text(value.get("id"))
    return None


def parse_zoho_time(value: Any) -> datetime | None:
    """Parse CRM (``2026-03-01T10:00:00+00:00``) and Books (``2025-01-01T10:00:00+0100``) timestamps.

    Books list endpoints sometimes send a bare date (``2025-01-01``); that parses too. A time without an
    offset is read as UTC, so that every time compares with every other. Anything else is treated as
    absent rather than failing the whole record: a timestamp is never worth losing an event.
    """
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None  # "NaN", "Infinity" or 1e400 are no amount


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "1", "yes"}


def _record_id(data: Mapping[str, Any], key: str, what: str) -> str:
    record_id = _text(data.get(key))
    if record_id is None:
        raise InvalidPayload(f"{what} has no {key}", field=key)
    return record_id


def _first_present(data: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = _text(data.get(key))
        if value is not None:
            return value
    return None


def crm_module(module: str | Module) -> Module:
    """``"Accounts"``/``"Contacts"`` (any case) to the domain ``Module``; anything else is a bad payload."""
    if isinstance(module, Module):
        if module is Module.BOOKS_CUSTOMERS:
            raise InvalidPayload("not a CRM module: Customers", field="module")
        return module
    lowered = str(module).strip().lower()
    if lowered == "accounts":
        return Module.CRM_ACCOUNTS
    if lowered == "contacts":
        return Module.CRM_CONTACTS
    raise InvalidPayload(f"unsupported CRM module {module!r}", field="module")


def crm_record_to_party(module: str | Module, data: Mapping[str, Any]) -> PartyRecord:
    """Build a ``PartyRecord`` from a CRM v8 record (``GET /crm/v8/{module}/{id}`` -> ``data[0]``).

    Accounts are companies named by ``Account_Name``; contacts are people named ``First_Name Last_Name``.
    A contact's ``Account_Name`` is a lookup; it is not the contact's own name and is not used as one.
    """
    mod = crm_module(module)
    record_id = _record_id(data, "id", f"CRM {mod.value} record")
    secondary = _text(data.get("Secondary_Email"))
    common: dict[str, Any] = {
        "system": System.CRM,
        "module": mod,
        "record_id": record_id,
        "website": _text(data.get("Website")),
        "vat": _first_present(data, CRM_VAT_FIELDS),
        "created_at": parse_zoho_time(data.get("Created_Time")),
        "modified_at": parse_zoho_time(data.get("Modified_Time")),
    }
    if mod is Module.CRM_ACCOUNTS:
        return PartyRecord(
            **common,
            name=_text(data.get("Account_Name")) or "",
            kind=RecordKind.COMPANY,
            email=_text(data.get("Email")),
            other_emails=(secondary,) if secondary else (),
            phone=_text(data.get("Phone")),
            street=_text(data.get("Billing_Street")),
            city=_text(data.get("Billing_City")),
            postcode=_text(data.get("Billing_Code")),
            country=_text(data.get("Billing_Country")),
        )
    first = _text(data.get("First_Name"))
    last = _text(data.get("Last_Name"))
    name = _text(data.get("Full_Name")) or " ".join(part for part in (first, last) if part)
    return PartyRecord(
        **common,
        name=name,
        kind=RecordKind.PERSON,
        first_name=first,
        last_name=last,
        email=_text(data.get("Email")),
        other_emails=(secondary,) if secondary else (),
        phone=_text(data.get("Phone")) or _text(data.get("Mobile")),
        street=_text(data.get("Mailing_Street")),
        city=_text(data.get("Mailing_City")),
        postcode=_text(data.get("Mailing_Zip")),
        country=_text(data.get("Mailing_Country")),
        date_of_birth=_text(data.get("Date_of_Birth")),
        account_id=crm_account_id_of_contact(data),
    )


def crm_account_id_of_contact(data: Mapping[str, Any]) -> str | None:
    """The id of the account a CRM contact belongs to (its ``Account_Name`` lookup), if any."""
    return _lookup_id(data.get("Account_Name"))


def _primary_person(persons: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    for person in persons:
        if _bool(person.get("is_primary_contact")):
            return person
    return persons[0] if persons else None


def _contact_persons(persons: list[Mapping[str, Any]]) -> tuple[ContactPerson, ...]:
    found = (
        ContactPerson(
            person_id=_text(person.get("contact_person_id")),
            first_name=_text(person.get("first_name")),
            last_name=_text(person.get("last_name")),
            email=_text(person.get("email")),
        )
        for person in persons
    )
    return tuple(person for person in found if person.name or person.email)


def books_contact_to_party(data: Mapping[str, Any]) -> PartyRecord:
    """Build a ``PartyRecord`` from a Books v3 contact (``GET /contacts/{id}`` -> ``contact``, or a webhook).

    ``contact_name`` is the display name (unique per organisation); ``customer_sub_type=individual`` makes a
    person, whose first/last names come from the primary contact person. The contact's own email (or the
    primary person's) is ``email``; every other contact person's address goes to ``other_emails``. Each
    contact person with a name or an email is kept in ``contact_persons`` too (the CRM contacts the sync
    made them from are paired with them by email).
    ``contact_type=vendor`` (a supplier) gives module ``Vendors``, which the guard leaves alone.
    """
    record_id = _record_id(data, "contact_id", "Books contact")
    raw_persons = data.get("contact_persons") or []
    persons: list[Mapping[str, Any]] = [p for p in raw_persons if isinstance(p, Mapping)]
    primary = _primary_person(persons)

    email = _text(data.get("email")) or (_text(primary.get("email")) if primary else None)
    others: list[str] = []
    for person in persons:
        person_email = _text(person.get("email"))
        if person_email and person_email != email and person_email not in others:
            others.append(person_email)

    is_person = _text(data.get("customer_sub_type")) == "individual"
    first = _text(primary.get("first_name")) if (primary and is_person) else None
    last = _text(primary.get("last_name")) if (primary and is_person) else None

    address = data.get("billing_address")
    address = address if isinstance(address, Mapping) else {}
    street_parts = [_text(address.get("address")), _text(address.get("street2"))]
    street = ", ".join(part for part in street_parts if part) or None

    linked = _text(data.get("zcrm_account_id")) or _text(data.get("zcrm_contact_id"))
    status = _text(data.get("status"))
    vendor = (_text(data.get("contact_type")) or "").lower() == "vendor"
    # The display name is unique in Books; the company name is the party's other name when it differs.
    display, company = _text(data.get("contact_name")), _text(data.get("company_name"))
    return PartyRecord(
        system=System.BOOKS,
        module=Module.BOOKS_VENDORS if vendor else Module.BOOKS_CUSTOMERS,
        record_id=record_id,
        name=display or company or "",
        other_names=(company,) if display and company and company.casefold() != display.casefold() else (),
        kind=RecordKind.PERSON if is_person else RecordKind.COMPANY,
        first_name=first,
        last_name=last,
        email=email,
        other_emails=tuple(others),
        contact_persons=_contact_persons(persons),
        phone=_text(data.get("phone")) or _text(data.get("mobile")),
        website=_text(data.get("website")),
        vat=_text(data.get("vat_reg_no")),
        street=street,
        city=_text(address.get("city")),
        postcode=_text(address.get("zip")),
        country=_text(address.get("country")),
        active=status != "inactive",
        linked_crm_id=linked,
        has_transactions=_bool(data.get("has_transaction")),
        outstanding=_decimal(data.get("outstanding_receivable_amount")),
        currency=_text(data.get("currency_code")),
        created_at=parse_zoho_time(data.get("created_time")),
        modified_at=parse_zoho_time(data.get("last_modified_time")),
    )
