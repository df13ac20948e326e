"""Links to records in Zoho's web UI for the configured data centre.

URL shapes (not in Zoho's API reference; taken from links that public integrations build and from the
browser's address bar, so both templates are configurable):

- CRM: ``https://crm.zoho.<dc>/crm/org<crm org id>/tab/<Accounts|Contacts>/<record id>``
- Books: ``https://books.zoho.<dc>/app/<organization_id>#/contacts/<contact id>``

The Canadian data centre serves its web UI from ``zohocloud.ca`` rather than ``zoho.ca``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_guard.config import DataCentre, Settings
from sync_guard.models.records import Module, System
from sync_guard.notify.model import NoticeRecord

DEFAULT_CRM_TEMPLATE = "https://crm.{domain}/crm/org{org_id}/tab/{module}/{record_id}"
DEFAULT_BOOKS_TEMPLATE = "https://books.{domain}/app/{org_id}#/contacts/{record_id}"

_PLACEHOLDERS = {"domain", "org_id", "module", "record_id"}

# The registrable domain of the web UI per data centre; all but Canada follow ``zoho.<tld>``.
_WEB_DOMAINS: dict[DataCentre, str] = {dc: f"zoho.{dc.value}" for dc in DataCentre} | {
    DataCentre.CA: "zohocloud.ca",
}


def web_domain(data_centre: DataCentre) -> str:
    """``zoho.eu``, ``zoho.com``, ``zohocloud.ca``, ...: the domain Zoho's web apps live under."""
    return _WEB_DOMAINS[data_centre]


def _check_template(template: str) -> str:
    probe = dict.fromkeys(_PLACEHOLDERS, "x")
    try:
        template.format_map(probe)
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"link template {template!r} may only use {{domain}}, {{org_id}}, {{module}}, {{record_id}}"
        ) from error
    return template


@dataclass(frozen=True)
class ZohoLinks:
    """Builds web UI links; ``link`` returns None when the organisation id needed for it is not configured."""

    data_centre: DataCentre = DataCentre.EU
    crm_org_id: str = ""
    books_organization_id: str = ""
    crm_template: str = DEFAULT_CRM_TEMPLATE
    books_template: str = DEFAULT_BOOKS_TEMPLATE

    def __post_init__(self) -> None:
        _check_template(self.crm_template)
        _check_template(self.books_template)
        # The CRM URL carries "org<id>"; accept the id with or without that prefix.
        crm_org = self.crm_org_id.strip()
        object.__setattr__(self, "crm_org_id", crm_org.removeprefix("org"))
        object.__setattr__(self, "books_organization_id", self.books_organization_id.strip())

    @classmethod
    def from_settings(cls, settings: Settings) -> ZohoLinks:
        """Links for the data centre and organisations the guard is configured for."""
        return cls(
            data_centre=settings.zoho_data_centre,
            crm_org_id=settings.zoho_crm_org_id,
            books_organization_id=settings.zoho_books_organization_id,
            crm_template=settings.zoho_crm_record_url or DEFAULT_CRM_TEMPLATE,
            books_template=settings.zoho_books_contact_url or DEFAULT_BOOKS_TEMPLATE,
        )

    def crm_record(self, record_id: str, module: Module = Module.CRM_ACCOUNTS) -> str | None:
        """The CRM page of an account or contact."""
        if not self.crm_org_id:
            return None
        return self.crm_template.format_map(
            {
                "domain": web_domain(self.data_centre),
                "org_id": self.crm_org_id,
                "module": module.value,
                "record_id": record_id,
            }
        )

    def books_contact(self, contact_id: str) -> str | None:
        """The Books page of a customer."""
        if not self.books_organization_id:
            return None
        return self.books_template.format_map(
            {
                "domain": web_domain(self.data_centre),
                "org_id": self.books_organization_id,
                "module": "contacts",
                "record_id": contact_id,
            }
        )

    def link(self, record: NoticeRecord) -> str | None:
        """The web UI link of any record in a notice."""
        if record.system is System.CRM:
            module = record.effective_module
            if module is Module.BOOKS_CUSTOMERS:  # a mislabelled CRM record: Accounts is the safe guess
                module = Module.CRM_ACCOUNTS
            return self.crm_record(record.record_id, module)
        return self.books_contact(record.record_id)

    def missing_setting(self, system: System) -> str:
        """The setting an admin sets for links into ``system`` (said in a message that has none).

        The stack parameter: the message goes to finance, who pass it on to whoever deployed the guard;
        locally the variable is ``SYNC_GUARD_ZOHO_CRM_ORG_ID`` / ``SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID``.
        """
        if system is System.CRM:
            return "the stack parameter ZohoCrmOrgId"
        return "the stack parameter ZohoBooksOrganizationId"
