"""``sync-guard seed``: load the shadow mapping from the same Zoho exports the match report reads, or
from Zoho's APIs (``--from-zoho``).

Idempotent: a record already in the shadow at the same or a newer version is left alone, key memberships
are merged, and the audit entry of a seed from exports is keyed by the files' content, so running it twice
loads and records once. Prints what it loaded and what it could not pair (names, never emails).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from sync_guard.cli._context import (
    DEFAULT_STATE_DIR,
    ActorOption,
    AuditTableOption,
    RegionOption,
    ShadowTableOption,
    StackOption,
    StateDirOption,
    default_actor,
    resolve_settings,
)
from sync_guard.cli._options import BooksSheetOption, CrmSheetOption, check_sheet_options
from sync_guard.cli._zoho_source import (
    FromZohoOption,
    ModuleOption,
    crm_modules,
    exit_under_another_organization,
    exit_unreachable,
    read_from_zoho,
)
from sync_guard.errors import ClientError, SyncGuardError, Throttled
from sync_guard.exports.reader import CANONICAL_FIELDS, read_export
from sync_guard.guard.admin import admin_entry
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.ports import EventAlreadyProcessed
from sync_guard.guard.seeding import SeedPlan, plan_seed
from sync_guard.models.records import PartyRecord, System
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog
from sync_guard.store.bulk import ShadowSeeder
from sync_guard.store.checks import DynamoCheckState

_SHOWN = 20


def _overrides(values: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for value in values:
        column, sep, target = value.rpartition("=")
        if not sep or not column.strip() or target.strip() not in CANONICAL_FIELDS:
            raise typer.BadParameter(
                f"expected COLUMN=FIELD with FIELD one of {', '.join(CANONICAL_FIELDS)}", param_hint="--map"
            )
        overrides[column.strip()] = target.strip()
    return overrides


def _digest(exports: list[tuple[Path, str | None]]) -> str:
    """The exports' content (and the sheet read of a workbook, when one was named: another sheet of the
    same file is another seed)."""
    digest = hashlib.sha256()
    for path, sheet in exports:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
        if sheet is not None:
            digest.update(f"sheet:{sheet}".encode())
    return digest.hexdigest()[:24]


def _names(records: list[PartyRecord]) -> list[str]:
    lines = [f"  {record.ref} '{record.name}'" for record in records[:_SHOWN]]
    if len(records) > _SHOWN:
        lines.append(f"  ... and {len(records) - _SHOWN} more")
    return lines


def report_lines(
    plan: SeedPlan, written: int, crm_count: int, books_count: int, *, dry_run: bool = False
) -> list[str]:
    """What the seed did, for a person."""
    loaded = (
        f"would load {len(plan.states)} records (dry run: nothing written)"
        if dry_run
        else f"loaded {len(plan.states)} records: {written} new or newer, "
        f"{len(plan.states) - written} already up to date"
    )
    lines = [
        f"read {crm_count} CRM records and {books_count} Books customers",
        f"paired {len(plan.linked_pairs)} by Books' CRM link and {len(plan.inferred_pairs)} by the matcher",
        loaded,
    ]
    if plan.unpaired_crm or plan.unpaired_books:
        lines.append(
            f"could not pair {len(plan.unpaired_crm)} CRM records "
            f"and {len(plan.unpaired_books)} Books customers:"
        )
        lines += _names(plan.unpaired_crm) + _names(plan.unpaired_books)
    if plan.dangling_links:
        lines.append(
            f"{len(plan.dangling_links)} Books customers link to CRM records missing from the CRM export:"
        )
        lines += _names(plan.dangling_links)
    for crm_ref, books_refs in sorted(plan.double_links.items()):
        lines.append(f"{crm_ref} is linked by several Books customers: {', '.join(books_refs)} (DOUBLE_LINK)")
    return lines


def seed(
    crm: Annotated[Path | None, typer.Option(help="CRM Accounts or Contacts export (CSV, XLSX).")] = None,
    books: Annotated[Path | None, typer.Option(help="Books Customers export (CSV, XLSX or XLS).")] = None,
    crm_sheet: CrmSheetOption = None,
    books_sheet: BooksSheetOption = None,
    map_: Annotated[list[str] | None, typer.Option("--map", help="COLUMN=FIELD header override.")] = None,
    from_zoho: FromZohoOption = False,
    module: ModuleOption = None,
    actor: ActorOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and pair, write nothing.")] = False,
    stack_name: StackOption = None,
    region: RegionOption = None,
    state_dir: StateDirOption = DEFAULT_STATE_DIR,
    shadow_table: ShadowTableOption = None,
    audit_table: AuditTableOption = None,
) -> None:
    """Load the shadow mapping from Zoho exports (the match report's inputs) or from Zoho's APIs."""
    if from_zoho and (crm is not None or books is not None):
        raise typer.BadParameter("give exports or --from-zoho, not both", param_hint="--from-zoho")
    if not from_zoho and crm is None and books is None:
        raise typer.BadParameter("give --crm, --books or both (or --from-zoho)", param_hint="--crm/--books")
    check_sheet_options(crm, crm_sheet, books, books_sheet)
    # The stack's phone region, not this shell's: seeded records must key as the processor keys events.
    settings = resolve_settings(
        stack_name=stack_name,
        region=region,
        state_dir=state_dir,
        shadow_table=shadow_table,
        audit_table=audit_table,
    )
    # One organisation's customers are never loaded into a shadow recorded as another's.
    organization = settings.zoho_books_organization_id.strip()
    shadow_organization = DynamoCheckState(aws.client("dynamodb", settings), settings.shadow_table)
    exit_under_another_organization(shadow_organization, organization, doing="seeding it")
    if from_zoho:
        modules = crm_modules(module)
        try:
            crm_records, books_records = read_from_zoho(settings, modules)
        except SyncGuardError as error:
            exit_unreachable(error, "seed")
    else:
        overrides = _overrides(map_ or [])
        try:
            sources = ((crm, crm_sheet, System.CRM), (books, books_sheet, System.BOOKS))
            region = settings.default_phone_region  # where a US ZIP code's dropped zeros are put back
            exports = [
                read_export(p, system, overrides, default_region=region, sheet=sheet)
                for p, sheet, system in sources
                if p
            ]
        except ClientError as error:
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(2) from error
        for export in exports:  # how a file was read (its encoding, rows left out) is for the user to judge
            for warning in export.warnings:
                typer.echo(f"warning: {warning}", err=True)
        crm_records = [r for e in exports if e.system is System.CRM for r in e.records]
        books_records = [r for e in exports if e.system is System.BOOKS for r in e.records]
    now = datetime.now(UTC)
    plan = plan_seed(crm_records, books_records, LibraryMatcher(settings.default_phone_region), now=now)
    written = 0
    if not dry_run:
        who = actor or default_actor()
        if from_zoho:
            # Read from this organisation: the shadow is its, unless another was recorded meanwhile.
            shadow_organization.record_books_organization(organization, at=now, by=f"sync-guard seed ({who})")
        # Again, before anything is written: while Zoho or the files were read, the first scheduled run
        # of a stack deployed with another ZohoBooksOrganizationId may have recorded that one.
        exit_under_another_organization(shadow_organization, organization, doing="seeding it")
        client = aws.client("dynamodb", settings)
        try:
            written = ShadowSeeder(client, settings.shadow_table).load(plan.states)
        except Throttled as error:
            # What was written stays written: a seed run again loads only the rest.
            typer.echo(
                f"error: {error.message}: the shadow table is throttled; run the seed again in a few "
                "minutes (records already loaded are left alone)",
                err=True,
            )
            raise typer.Exit(1) from error
        note = (
            f"seeded {len(plan.states)} records ({written} new or newer); pairs: "
            f"{len(plan.linked_pairs)} by Zoho link, {len(plan.inferred_pairs)} inferred; unpaired: "
            f"{len(plan.unpaired_crm)} CRM, {len(plan.unpaired_books)} Books"
        )
        # From exports, keyed by their content (the same files seed once); from Zoho, by time (it changes).
        files = [(p, sheet) for p, sheet in ((crm, crm_sheet), (books, books_sheet)) if p]
        entry_id = None if from_zoho else f"seed_{_digest(files)}"
        if from_zoho:
            note += f"; read from Zoho's APIs ({', '.join(m.value for m in modules)} and Books customers)"
        entry = admin_entry("seed", actor=who, at=now, mode=settings.mode, note=note, entry_id=entry_id)
        try:
            AuditLog(client, settings.audit_table).append(entry)
        except EventAlreadyProcessed:
            typer.echo("these exports were seeded before (audit entry exists)")
    for line in report_lines(plan, written, len(crm_records), len(books_records), dry_run=dry_run):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add ``seed`` to the ``sync-guard`` command line."""
    app.command(name="seed", no_args_is_help=True)(seed)
