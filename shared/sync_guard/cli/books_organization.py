"""``sync-guard books-organization``: the Books organisation the shadow belongs to, and the configured one.

The scheduled checks read Books only while ``ZohoBooksOrganizationId`` is the organisation recorded for
the shadow. This command shows both; with ``--adopt`` it records the configured one in place of a
recorded id that was wrong, once Books shows the shadow's customers in the configured organisation
(:func:`~sync_guard.reconcile.organization.adopt_configured_organization`). A guard moved to another
organisation for good starts over instead (docs/operations.md, "Another Books organisation").
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Annotated

import typer

from sync_guard.cli import _context as target
from sync_guard.errors import ConfigurationError, SyncGuardError
from sync_guard.guard.admin import admin_entry
from sync_guard.reconcile.organization import (
    ContactLookup,
    OrganizationRecordUnreadable,
    adopt_configured_organization,
)
from sync_guard.reconcile.ports import BooksOrganization
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog
from sync_guard.store.checks import DynamoCheckState
from sync_guard.store.shadow import DynamoShadowRepository


def _described(recorded: BooksOrganization | None) -> str:
    if recorded is None:
        return "none yet (the first scheduled run or 'sync-guard seed --from-zoho' records it)"
    return f"{recorded.organization_id} ({recorded.provenance})"


AdoptOption = Annotated[
    bool,
    typer.Option(
        "--adopt",
        help="Record the configured organisation as the shadow's, once Books shows the shadow's customers "
        "in it (the recorded id was wrong).",
    ),
]


def books_organization(
    adopt: AdoptOption = False,
    actor: target.ActorOption = None,
    stack_name: target.StackOption = None,
    region: target.RegionOption = None,
    state_dir: target.StateDirOption = target.DEFAULT_STATE_DIR,
) -> None:
    """Show the shadow's Books organisation and the configured one; --adopt the configured one."""
    settings = target.resolve_settings(stack_name=stack_name, region=region, state_dir=state_dir)
    configured = settings.zoho_books_organization_id.strip()
    client = aws.client("dynamodb", settings)
    record = DynamoCheckState(client, settings.shadow_table)
    if not adopt:
        try:
            recorded = record.books_organization()
        except OrganizationRecordUnreadable as error:
            typer.echo(f"configured (ZohoBooksOrganizationId): {configured or 'none'}")
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(2) from error
        typer.echo(f"configured (ZohoBooksOrganizationId): {configured or 'none'}")
        typer.echo(f"recorded for the shadow: {_described(recorded)}")
        if recorded is not None and configured and recorded.organization_id != configured:
            typer.echo("they differ: the scheduled checks read nothing from Books (see docs/operations.md)")
            raise typer.Exit(1)
        return
    if not configured:
        typer.echo("error: no ZohoBooksOrganizationId is configured: there is nothing to adopt", err=True)
        raise typer.Exit(2)
    who = actor or target.default_actor()
    now = datetime.now(UTC)
    with ExitStack() as stack:

        def books() -> ContactLookup:
            from sync_guard.zoho.auth import InMemoryTokenCache
            from sync_guard.zoho.factory import build_zoho_clients

            return stack.enter_context(build_zoho_clients(settings, InMemoryTokenCache())).books

        live = DynamoShadowRepository.from_settings(settings).live_books_customer_ids()
        try:
            adoption = adopt_configured_organization(record, configured, live, books, at=now, by=who)
        except ConfigurationError as error:
            typer.echo(
                f"error: {error.message}. Give --stack-name/--region or set SYNC_GUARD_ZOHO_*.", err=True
            )
            raise typer.Exit(2) from error
        except SyncGuardError as error:
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(1) from error
    if not adoption.changed:
        typer.echo(f"the shadow is already recorded as organisation {configured}'s: nothing to do")
        return
    before = adoption.before.organization_id if adoption.before else "none"
    note = (
        f"Books organisation {configured} recorded for the shadow in place of {before}; "
        f"{adoption.asked} of its Books customers asked about, found in {configured}"
    )
    AuditLog(client, settings.audit_table).append(
        admin_entry("adopt_books_organization", actor=who, at=now, mode=settings.mode, note=note)
    )
    typer.echo(note)


def register(app: typer.Typer) -> None:
    """Add ``books-organization`` to the ``sync-guard`` command line."""
    app.command(name="books-organization")(books_organization)
