"""Records read from Zoho through its APIs, for ``match-report --from-zoho``, ``seed --from-zoho`` and
``preflight``, and the refusal to read or load another Books organisation's customers than the shadow's.

The product reads customers "from Zoho exports or the APIs": exports suit a one-off look at an
organisation the guard does not reach; the APIs suit the organisation the guard is deployed for, found
like every admin command finds its guard (``--stack-name``, the environment, a running ``serve``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any, NoReturn

import typer

from sync_guard.config import Settings
from sync_guard.errors import ConfigurationError, SyncGuardError
from sync_guard.models.records import Module, PartyRecord
from sync_guard.reconcile.organization import (
    AnotherOrganization,
    OrganizationRecord,
    OrganizationRecordUnreadable,
    refuse_another_organization,
)
from sync_guard.zoho.convert import crm_record_to_party

FromZohoOption = Annotated[
    bool, typer.Option("--from-zoho", help="Read CRM and Books through Zoho's APIs instead of exports.")
]
ModuleOption = Annotated[
    list[str] | None,
    typer.Option("--module", help="With --from-zoho: CRM module to read, Accounts (default) or Contacts."),
]

#: The CRM fields the matcher reads, per module: standard fields only (a field a module lacks may be
#: refused), plus the times the report shows.
MATCH_FIELDS: dict[Module, tuple[str, ...]] = {
    Module.CRM_ACCOUNTS: (
        "Account_Name",
        "Phone",
        "Website",
        "Billing_Street",
        "Billing_City",
        "Billing_Code",
        "Billing_Country",
        "Created_Time",
        "Modified_Time",
    ),
    Module.CRM_CONTACTS: (
        "First_Name",
        "Last_Name",
        "Full_Name",
        "Email",
        "Secondary_Email",
        "Phone",
        "Mobile",
        "Mailing_Street",
        "Mailing_City",
        "Mailing_Zip",
        "Mailing_Country",
        "Account_Name",
        "Created_Time",
        "Modified_Time",
    ),
}


def every_books_contact(books: Any) -> Iterator[PartyRecord]:
    """Every Books contact, customers and vendors, page after page however many (no cap: a listing cut
    short would report, seed or hold too little)."""
    page = 1
    while True:
        result = books.list_contacts(page=page)
        yield from result.items
        if not result.has_more:
            return
        page += 1


def read_from_zoho(
    settings: Settings, modules: Sequence[Module]
) -> tuple[list[PartyRecord], list[PartyRecord]]:
    """Every CRM record of ``modules`` and every Books customer (vendors are not the guard's business)."""
    from sync_guard.zoho.auth import InMemoryTokenCache
    from sync_guard.zoho.factory import build_zoho_clients

    with build_zoho_clients(settings, InMemoryTokenCache()) as zoho:
        crm = [
            crm_record_to_party(module, data)
            for module in modules
            for data in zoho.crm.list_records_data(module, fields=MATCH_FIELDS[module])
        ]
        books = [c for c in every_books_contact(zoho.books) if c.module is Module.BOOKS_CUSTOMERS]
    return crm, books


def crm_modules(names: Sequence[str] | None) -> list[Module]:
    """``--module`` values (Accounts, Contacts) as modules; Accounts when none is given."""
    modules: list[Module] = []
    for name in names or ["Accounts"]:
        match = next((m for m in MATCH_FIELDS if m.value.lower() == name.strip().lower()), None)
        if match is None:
            raise typer.BadParameter(f"{name!r} is not Accounts or Contacts", param_hint="--module")
        modules.append(match)
    return list(dict.fromkeys(modules))


def exit_unreachable(error: SyncGuardError, command: str) -> NoReturn:
    """Print why Zoho could not be read, in one line, and exit (2: configuration, 1: Zoho's answer)."""
    if isinstance(error, ConfigurationError):
        typer.echo(
            f"error: {error.message}. {command} --from-zoho reads Zoho through the guard's configuration: "
            "give --stack-name, set SYNC_GUARD_ZOHO_*, or start 'sync-guard serve'.",
            err=True,
        )
        raise typer.Exit(2) from error
    typer.echo(f"error: {error.message}", err=True)
    raise typer.Exit(1) from error


def exit_under_another_organization(record: OrganizationRecord, organization: str, *, doing: str) -> None:
    """Exit 2, naming both ids, when the shadow is recorded as another Books organisation's than
    ``organization`` (``ZohoBooksOrganizationId``), or its record cannot be read; nothing to compare when
    no organisation is configured."""
    try:
        refuse_another_organization(record, organization, doing=doing)
    except (AnotherOrganization, OrganizationRecordUnreadable) as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from error


def check_recorded_organization(settings: Settings, *, doing: str) -> str | None:
    """Before a read-only command reads Books through ``settings``: exit 2 naming both ids when the guard's
    shadow is recorded as another Books organisation's than ``ZohoBooksOrganizationId`` (or its record
    lacks its id), as ``preflight`` does.

    Nothing is compared, and None returned, when no organisation is configured, when ``settings`` name no
    shadow table (Zoho credentials alone: an offline run), or when that table does not exist. Where the
    shadow's record cannot be read (no AWS credentials, a local stack that is not running, a refusal),
    the run goes on and the warning to show is returned.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from sync_guard.store import aws
    from sync_guard.store.checks import DynamoCheckState

    configured = settings.zoho_books_organization_id.strip()
    if not configured or "shadow_table" not in settings.model_fields_set:
        return None
    # Two tries, not five: an unreachable table costs a second or so, not a dozen, before the warning.
    record = DynamoCheckState(aws.client("dynamodb", settings, attempts=2), settings.shadow_table)
    try:
        exit_under_another_organization(record, configured, doing=doing)
    except ClientError as error:
        reason = str(error.response.get("Error", {}).get("Code") or type(error).__name__)
        if reason == "ResourceNotFoundException":
            return None  # no shadow: nothing recorded to compare
    except BotoCoreError as error:
        reason = type(error).__name__
    else:
        return None
    return (
        f"the Books organisation recorded for the guard's shadow (table {settings.shadow_table}) could not "
        f"be read ({reason}): Books was read as organisation {configured} (ZohoBooksOrganizationId) "
        "without checking that it is the shadow's"
    )
