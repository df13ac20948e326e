"""Links to records in Zoho's web UI, per data centre."""

from __future__ import annotations

import pytest
from notify_builders import books, crm

from sync_guard.config import DataCentre, Settings
from sync_guard.models.records import Module, System
from sync_guard.notify import ZohoLinks, web_domain


@pytest.mark.parametrize(
    ("data_centre", "domain"),
    [
        (DataCentre.US, "zoho.com"),
        (DataCentre.EU, "zoho.eu"),
        (DataCentre.IN, "zoho.in"),
        (DataCentre.AU, "zoho.com.au"),
        (DataCentre.JP, "zoho.jp"),
        (DataCentre.CN, "zoho.com.cn"),
        (DataCentre.CA, "zohocloud.ca"),
        (DataCentre.SA, "zoho.sa"),
        (DataCentre.UK, "zoho.uk"),
    ],
)
def test_links_use_the_data_centre_domain(data_centre: DataCentre, domain: str) -> None:
    links = ZohoLinks(data_centre=data_centre, crm_org_id="123", books_organization_id="456")
    assert web_domain(data_centre) == domain
    assert links.link(crm("9", "X")) == f"https://crm.{domain}/crm/org123/tab/Accounts/9"
    assert links.link(books("8", "X")) == f"https://books.{domain}/app/456#/contacts/8"


def test_crm_contacts_link_to_the_contacts_tab() -> None:
    links = ZohoLinks(data_centre=DataCentre.EU, crm_org_id="123")
    assert (
        links.link(crm("9", "Jo", module=Module.CRM_CONTACTS))
        == "https://crm.zoho.eu/crm/org123/tab/Contacts/9"
    )


def test_an_org_id_given_with_its_org_prefix_is_not_doubled() -> None:
    links = ZohoLinks(crm_org_id="org123")
    assert links.crm_record("9") == "https://crm.zoho.eu/crm/org123/tab/Accounts/9"


def test_no_link_without_the_organisation_id_and_the_setting_is_named() -> None:
    links = ZohoLinks(data_centre=DataCentre.EU)
    assert links.link(crm("9")) is None
    assert links.link(books("8")) is None
    assert links.missing_setting(System.CRM) == "the stack parameter ZohoCrmOrgId"
    assert links.missing_setting(System.BOOKS) == "the stack parameter ZohoBooksOrganizationId"


def test_templates_can_be_overridden() -> None:
    links = ZohoLinks(
        crm_org_id="1",
        books_organization_id="2",
        crm_template="https://crm.example/{org_id}/{module}/{record_id}?d={domain}",
        books_template="https://books.example/{org_id}/c/{record_id}",
    )
    assert links.link(crm("9")) == "https://crm.example/1/Accounts/9?d=zoho.eu"
    assert links.link(books("8")) == "https://books.example/2/c/8"


def test_a_template_with_an_unknown_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match="record_id"):
        ZohoLinks(crm_template="https://crm.example/{recordid}")


def test_links_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_GUARD_ZOHO_DATA_CENTRE", "com.au")
    monkeypatch.setenv("SYNC_GUARD_ZOHO_CRM_ORG_ID", "777")
    monkeypatch.setenv("SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID", "888")
    monkeypatch.setenv("SYNC_GUARD_ZOHO_BOOKS_CONTACT_URL", "https://b.test/{org_id}/{record_id}")
    links = ZohoLinks.from_settings(Settings())
    assert links.link(crm("1")) == "https://crm.zoho.com.au/crm/org777/tab/Accounts/1"
    assert links.link(books("2")) == "https://b.test/888/2"
