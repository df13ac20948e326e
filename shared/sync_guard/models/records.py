"""The domain record: one CRM account/contact or one Books customer, as the guard understands it."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class System(StrEnum):
    CRM = "crm"
    BOOKS = "books"


# Zoho's record ids are long integers written in digits; letters, "_" and "-" are let through as well. An
# id keys the shadow's DynamoDB items (2 KB at most) and goes into the Zoho API paths the guard calls, so
# anything else (an unfilled merge field such as "${!Accounts.Id}", "١٢٣" that Python calls digits) is no
# id. The one definition: the webhook parsers take a record's id by it, and the admin API and the CLI a
# ref's id, so a record the guard stored can always be named to it again.
_RECORD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: What a record id may be, in words, for the messages that refuse one.
RECORD_ID_RULE = "up to 64 letters, digits, '_' or '-'"


def is_record_id(text: str) -> bool:
    """Whether ``text`` is a Zoho record id as the guard takes one: 1 to 64 ASCII letters, digits, _ or -."""
    return _RECORD_ID.fullmatch(text) is not None


class Module(StrEnum):
    """What kind of record it is in its own system."""

    CRM_ACCOUNTS = "Accounts"
    CRM_CONTACTS = "Contacts"
    BOOKS_CUSTOMERS = "Customers"
    # Books keeps suppliers among its contacts too (``contact_type: vendor``). The guard watches the
    # customers the sync creates; a vendor is recorded as outside its scope and never matched.
    BOOKS_VENDORS = "Vendors"


class RecordKind(StrEnum):
    """A business (matched on company names) or an individual (matched on person names and email)."""

    COMPANY = "company"
    PERSON = "person"


#: The fields Zoho's native sync carries from a CRM record to its Books customer (its default mapping:
#: name, email, phone, billing address), as the guard reads a stalled sync.
SYNCED_FIELDS: tuple[str, ...] = ("name", "email", "phone", "street", "city", "postcode")


class ContactPerson(BaseModel):
    """One of a Books customer's contact persons, as Books gives them (``contact_persons[]``): with the
    "Accounts & their Contacts" module the sync makes each CRM contact of the linked account one of them,
    and pairs them by email."""

    model_config = ConfigDict(frozen=True)

    # Books' ``contact_person_id``: which contact person the evidence names.
    person_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class PartyRecord(BaseModel):
    """A customer-like record on either side of the sync, with only what matching and rules need."""

    model_config = ConfigDict(frozen=True)

    system: System
    module: Module
    record_id: str
    name: str = ""
    # Other names the party has in its own system: Books' company name, when the display name is another.
    other_names: tuple[str, ...] = ()
    kind: RecordKind = RecordKind.COMPANY
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    # Further addresses that identify the party: Books contact persons, CRM secondary email.
    other_emails: tuple[str, ...] = ()
    # Books: the customer's contact persons, names and emails (their addresses are in the two fields above).
    contact_persons: tuple[ContactPerson, ...] = ()
    phone: str | None = None
    website: str | None = None
    vat: str | None = None
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    country: str | None = None
    # A person's date of birth as written (CRM Contacts' Date_of_Birth); the matcher reads common formats.
    date_of_birth: str | None = None
    active: bool = True
    # Books: the CRM record this customer is linked to (zcrm_account_id / zcrm_contact_id).
    linked_crm_id: str | None = None
    # CRM Contacts: the account the contact belongs to (its Account_Name lookup's id).
    account_id: str | None = None
    has_transactions: bool | None = None
    outstanding: Decimal | None = None
    # Books: the customer's currency (ISO code); Books keeps one per customer.
    currency: str | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None

    @property
    def ref(self) -> str:
        """``crm:<id>`` or ``books:<id>``: how the audit trail and the CLI name a record."""
        return f"{self.system.value}:{self.record_id}"

    def synced_values(self) -> tuple[str | None, ...]:
        """The values Zoho's sync carries between CRM and Books (``SYNCED_FIELDS``), as held."""
        return tuple(getattr(self, name) for name in SYNCED_FIELDS)
