"""Zoho JSON -> PartyRecord converters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sync_guard.errors import InvalidPayload
from sync_guard.models.records import Module, RecordKind, System
from sync_guard.zoho.convert import (
    books_contact_to_party,
    crm_account_id_of_contact,
    crm_record_to_party,
    parse_zoho_time,
)


def test_crm_account_maps_name_address_and_times() -> None:
    record = crm_record_to_party(
        "Accounts",
        {
            "id": "5725767000003000010",
            "Account_Name": "  ACME GmbH ",
            "Phone": "+44 20 7946 0000",
            "Website": "",
            "Billing_Street": "1 High St",
            "Billing_City": "London",
            "Billing_Code": "EC1A 1BB",
            "Billing_Country": "UK",
            "VAT_Number": "GB123456789",
            "Modified_Time": "2026-03-01T10:00:00+00:00",
        },
    )
    assert record.system is System.CRM
    assert record.module is Module.CRM_ACCOUNTS
    assert record.name == "ACME GmbH"
    assert record.kind is RecordKind.COMPANY
    assert record.website is None  # "" from Zoho is absent, not an empty website
    assert record.postcode == "EC1A 1BB"
    assert record.vat == "GB123456789"
    assert record.modified_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert record.ref == "crm:5725767000003000010"


def test_crm_contact_is_a_person_and_its_account_lookup_is_not_its_name() -> None:
    data = {
        "id": "1",
        "First_Name": "Jane",
        "Last_Name": "Doe",
        "Email": "jane@acme.co.uk",
        "Secondary_Email": "jd@example.org",
        "Mobile": "07700 900000",
        "Date_of_Birth": "1983-05-19",
        "Account_Name": {"name": "Acme Ltd", "id": "42"},
    }
    record = crm_record_to_party(Module.CRM_CONTACTS, data)
    assert record.kind is RecordKind.PERSON
    assert record.name == "Jane Doe"
    assert (record.first_name, record.last_name) == ("Jane", "Doe")
    assert record.other_emails == ("jd@example.org",)
    assert record.phone == "07700 900000"
    assert record.date_of_birth == "1983-05-19"
    assert crm_account_id_of_contact(data) == "42"


def test_crm_record_without_id_or_with_unknown_module_is_invalid() -> None:
    with pytest.raises(InvalidPayload):
        crm_record_to_party("Accounts", {"Account_Name": "x"})
    with pytest.raises(InvalidPayload):
        crm_record_to_party("Leads", {"id": "1"})


def test_books_contact_maps_link_status_money_and_persons() -> None:
    record = books_contact_to_party(
        {
            "contact_id": "460000000026049",
            "contact_name": "ACME GmbH",
            "company_name": "ACME GmbH",
            "customer_sub_type": "business",
            "status": "inactive",
            "zcrm_account_id": "5725767000003000010",
            "zcrm_contact_id": "",
            "has_transaction": True,
            "outstanding_receivable_amount": 120.5,
            "vat_reg_no": "GB999",
            "billing_address": {"address": "1 High St", "street2": "Unit 4", "city": "Leeds", "zip": "LS1"},
            "contact_persons": [
                {"first_name": "A", "email": "a@acme.de", "is_primary_contact": False},
                {"first_name": "B", "email": "b@acme.de", "is_primary_contact": True},
            ],
            "created_time": "2025-01-01T10:00:00+0100",
        }
    )
    assert record.system is System.BOOKS
    assert record.module is Module.BOOKS_CUSTOMERS
    assert record.active is False
    assert record.linked_crm_id == "5725767000003000010"
    assert record.has_transactions is True
    assert record.outstanding == Decimal("120.5")
    assert record.email == "b@acme.de"  # the primary person's, the contact itself has none
    assert record.other_emails == ("a@acme.de",)
    assert record.street == "1 High St, Unit 4"
    assert record.first_name is None  # a business has no person names
    assert record.created_at == datetime(2025, 1, 1, 10, tzinfo=timezone(timedelta(hours=1)))


def test_books_individual_takes_names_from_primary_person() -> None:
    record = books_contact_to_party(
        {
            "contact_id": "7",
            "contact_name": "Jane Doe",
            "customer_sub_type": "individual",
            "email": "jane@x.org",
            "contact_persons": [{"first_name": "Jane", "last_name": "Doe", "is_primary_contact": True}],
        }
    )
    assert record.kind is RecordKind.PERSON
    assert (record.first_name, record.last_name) == ("Jane", "Doe")
    assert record.active is True


def test_books_contact_keeps_its_contact_persons_names_and_emails() -> None:
    record = books_contact_to_party(
        {
            "contact_id": "8",
            "contact_name": "Hale Joinery Ltd",
            "customer_sub_type": "business",
            "contact_persons": [
                {
                    "contact_person_id": "81",
                    "first_name": " Sam ",
                    "last_name": "Okafor",
                    "email": "sam@h.uk",
                },
                {"contact_person_id": "82", "first_name": "", "last_name": None, "email": ""},
                {"contact_person_id": "83", "last_name": "Reception"},
            ],
        }
    )
    assert [(p.person_id, p.first_name, p.last_name, p.email) for p in record.contact_persons] == [
        ("81", "Sam", "Okafor", "sam@h.uk"),
        ("83", None, "Reception", None),
    ]
    assert record.contact_persons[0].name == "Sam Okafor"


def test_books_contact_keeps_its_currency() -> None:
    record = books_contact_to_party(
        {"contact_id": "7", "contact_name": "Acme Ltd (USD)", "currency_code": "USD"}
    )
    assert record.currency == "USD"


def test_books_contact_without_id_is_invalid() -> None:
    with pytest.raises(InvalidPayload):
        books_contact_to_party({"contact_name": "x"})


@pytest.mark.parametrize("value", [None, "", "not a date"])
def test_unparseable_times_are_absent(value: object) -> None:
    assert parse_zoho_time(value) is None


def test_books_company_name_is_another_name_when_the_display_name_differs() -> None:
    record = books_contact_to_party(
        {"contact_id": "8", "contact_name": "Jane Doe", "company_name": "Doe Design Ltd"}
    )
    assert (record.name, record.other_names) == ("Jane Doe", ("Doe Design Ltd",))
    same = books_contact_to_party(
        {"contact_id": "9", "contact_name": "ACME GmbH", "company_name": "ACME GmbH"}
    )
    assert same.other_names == ()


@pytest.mark.parametrize(
    ("contact_type", "module"),
    [
        ("customer", Module.BOOKS_CUSTOMERS),
        (None, Module.BOOKS_CUSTOMERS),  # webhooks configured with a field list may leave it out
        ("vendor", Module.BOOKS_VENDORS),
        ("Vendor", Module.BOOKS_VENDORS),
    ],
)
def test_books_contact_type_says_customer_or_vendor(contact_type: str | None, module: Module) -> None:
    data = {"contact_id": "7", "contact_name": "Acme Ltd"}
    if contact_type is not None:
        data["contact_type"] = contact_type
    assert books_contact_to_party(data).module is module


def test_a_crm_contact_keeps_the_account_it_belongs_to() -> None:
    record = crm_record_to_party(
        "Contacts",
        {
            "id": "c1",
            "First_Name": "Jane",
            "Last_Name": "Smith",
            "Account_Name": {"name": "Jane Smith Design", "id": "a1"},
        },
    )
    assert record.account_id == "a1"
    assert (
        crm_record_to_party("Accounts", {"id": "a1", "Account_Name": "Jane Smith Design"}).account_id is None
    )
