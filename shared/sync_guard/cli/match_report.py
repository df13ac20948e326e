"""``sync-guard match-report``: the duplicate match list from Zoho exports (writing nothing to Zoho), or
read from Zoho's APIs with ``--from-zoho``."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from sync_guard.cli._options import (
    DEFAULT_STATE_DIR,
    BooksSheetOption,
    CrmSheetOption,
    StackOption,
    StateDirOption,
    check_sheet_options,
)
from sync_guard.cli._teardown import skip_teardown
from sync_guard.cli._zoho_source import (
    FromZohoOption,
    ModuleOption,
    check_recorded_organization,
    crm_modules,
    exit_unreachable,
    read_from_zoho,
)
from sync_guard.config import get_settings
from sync_guard.errors import ClientError, SyncGuardError
from sync_guard.exports.reader import (
    CANONICAL_FIELDS,
    ExportFile,
    count_rows,
    iter_export,
    overrides_for,
    read_header,
)
from sync_guard.exports.report.build import build_report, bulk_allocation
from sync_guard.exports.report.output import check_output, write_report
from sync_guard.matching.bulk import normalising_ahead
from sync_guard.models.records import PartyRecord, System

# Paragraphs are single lines: the help renderer wraps them to the terminal itself.
_HELP = "\n\n".join(
    [
        "Find duplicate customers in Zoho exports and write a match report.",
        "Give a CRM export (Accounts or Contacts), a Books export (Customers), or both: one file alone "
        "finds the duplicates within it; both also pair CRM records with Books customers.",
        "Writes into OUT: pairs.csv (every duplicate/possible pair with its score and evidence), "
        "clusters.csv (groups of duplicates with suggested survivors), summary.md (counts per pattern, "
        "which copy holds transactions) and support-ticket.md (a draft ticket for Zoho support). OUT is "
        "written all at once: nothing is written if anything fails.",
        "Or, with --from-zoho, read the CRM module(s) and the Books customers through Zoho's APIs, with "
        "the guard's own Zoho configuration (found like every admin command: --stack-name, the "
        "environment, a running 'sync-guard serve'); the ticket then carries its organisation ids. It is "
        "refused (exit 2) while the guard's shadow is recorded as another Books organisation's than "
        "ZohoBooksOrganizationId.",
        "Headers are recognised from Zoho's own exports (e.g. 'Record Id', 'Account Name', 'Display Name', "
        "'EmailID', 'Billing Code') or the canonical set id, name, email, phone, street, city, postcode, "
        "country, website, vat (plus has_transactions, outstanding, modified, linked_crm_id). Use --map to "
        "point any other column at a field. A workbook is read from its first visible sheet, or the one "
        "--crm-sheet/--books-sheet names. See docs/match-report.md.",
    ]
)


def _parse_maps(values: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for value in values:
        column, sep, target = value.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise typer.BadParameter(f"expected COLUMN=FIELD, got {value!r}", param_hint="--map")
        if target.strip() not in CANONICAL_FIELDS:
            raise typer.BadParameter(
                f"unknown field {target.strip()!r}; fields: {', '.join(CANONICAL_FIELDS)}", param_hint="--map"
            )
        overrides[column.strip()] = target.strip()
    return overrides


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _phone_region(value: str) -> str:
    """An ISO 3166 code libphonenumber knows; "UK" or a country's name are read as the country."""
    import phonenumbers

    from sync_guard.matching.normalise import country_code

    code = country_code(value)
    if code is None or code not in phonenumbers.SUPPORTED_REGIONS:
        raise typer.BadParameter(f"{value!r} is not a country code (e.g. GB, US, DE)", param_hint="--region")
    return code


def _overrides_per_file(
    exports: dict[System, tuple[Path, str | None]], overrides: dict[str, str]
) -> dict[System, dict[str, str]]:
    """Each export's share of the ``--map`` entries: a column one export has and the other lacks is
    mapped where it is. With one file, every entry is its own (a column it lacks is an error there).
    ``exports`` gives each system's file and sheet (both may be sheets of one workbook)."""
    if len(exports) < 2 or not overrides:
        return dict.fromkeys(exports, overrides)
    headers = {system: read_header(path, sheet) for system, (path, sheet) in exports.items()}
    nowhere = [
        column for column in overrides if not any(overrides_for(h, {column: ""}) for h in headers.values())
    ]
    if nowhere:
        shown = ", ".join(f"'{c}'" for c in nowhere)
        raise typer.BadParameter(f"column(s) {shown} in neither export's header", param_hint="--map")
    return {system: overrides_for(headers[system], overrides) for system in exports}


def _read(
    path: Path,
    system: System,
    sheet: str | None,
    overrides: dict[System, dict[str, str]],
    progress: Progress,
    console: Console,
    warnings: list[str],
    *,
    default_region: str,
) -> ExportFile:
    """The export read, its records in it, its warnings printed and added to ``warnings``."""
    # A US user's export writes its dates month first (12/01/2018 is December 1).
    export = ExportFile(
        path, system, month_first=default_region == "US", default_region=default_region, wanted_sheet=sheet
    )
    task = progress.add_task(f"reading {path.name}", total=count_rows(path) or None)
    records = []
    for record in iter_export(path, system, overrides[system], export):
        records.append(record)
        if len(records) % 1000 == 0:  # the bar in steps: advancing it costs more than reading a row
            progress.update(task, completed=len(records))
    progress.update(task, completed=len(records), total=len(records))
    if not records:
        export.warnings.append(f"{export.where(None)} holds no records, only its header")
    for warning in export.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    warnings.extend(export.warnings)
    export.records = records
    return export


def match_report(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the report into.")],
    crm: Annotated[
        Path | None,
        typer.Option("--crm", help="CRM export (Accounts or Contacts), CSV or XLSX.", dir_okay=False),
    ] = None,
    books: Annotated[
        Path | None,
        typer.Option("--books", help="Books Customers export, CSV, XLSX or XLS.", dir_okay=False),
    ] = None,
    crm_sheet: CrmSheetOption = None,
    books_sheet: BooksSheetOption = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="COLUMN=FIELD",
            help="Read COLUMN as FIELD (e.g. --map 'Trading Name=name'); repeatable.",
        ),
    ] = None,
    crm_org: Annotated[
        str | None, typer.Option("--crm-org", help="CRM organisation id, for the ticket.")
    ] = None,
    books_org: Annotated[
        str | None, typer.Option("--books-org", help="Books organisation id, for the ticket.")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="Country (ISO code) for phone numbers written without one (default: the guard's "
            "SYNC_GUARD_DEFAULT_PHONE_REGION, GB unless set).",
        ),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing report in OUT.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary line.")] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Processes normalising and comparing records (default: one per CPU); same report for any N.",
        ),
    ] = None,
    from_zoho: FromZohoOption = False,
    module: ModuleOption = None,
    stack_name: StackOption = None,
    state_dir: StateDirOption = DEFAULT_STATE_DIR,
) -> None:
    console = Console(stderr=True)
    if from_zoho and (crm is not None or books is not None):
        raise typer.BadParameter("give exports or --from-zoho, not both", param_hint="--from-zoho")
    if not from_zoho and crm is None and books is None:
        raise typer.BadParameter("give --crm, --books or both (or --from-zoho)", param_hint="--crm/--books")
    check_sheet_options(crm, crm_sheet, books, books_sheet)
    overrides = _parse_maps(mapping or [])
    warnings: list[str] = []
    zoho_crm: list[PartyRecord] = []
    zoho_books: list[PartyRecord] = []
    if from_zoho:
        modules = crm_modules(module)
        try:
            check_output(out, replace=replace)  # before reading a whole organisation
        except ClientError as error:
            console.print(f"[red]error:[/red] {error.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from error
        from sync_guard.cli._context import resolve_settings  # the AWS SDK, only when Zoho is read

        settings = resolve_settings(stack_name=stack_name, state_dir=state_dir)
        # Pairs with another organisation's customers than the shadow's would be a report on the wrong
        # organisation: refused, as preflight refuses, before Zoho is read or anything written.
        unchecked = check_recorded_organization(
            settings,
            doing=f"a match report on organisation {settings.zoho_books_organization_id}'s customers",
        )
        if unchecked is not None:
            console.print(f"[yellow]warning:[/yellow] {unchecked}", highlight=False, soft_wrap=True)
            warnings.append(unchecked)
        reading = console.status("reading Zoho CRM and Books") if not quiet else nullcontext()
        try:
            with reading:
                zoho_crm, zoho_books = read_from_zoho(settings, modules)
        except SyncGuardError as error:
            exit_unreachable(error, "match-report")
        crm_org = crm_org or settings.zoho_crm_org_id or None
        books_org = books_org or settings.zoho_books_organization_id or None
        region = region or settings.default_phone_region
    default_region = _phone_region(region or get_settings().default_phone_region)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    # The collector is paused from the reading to the exit: the records, features, report and rows
    # written make no cycles, and each collection would walk all the objects made so far (resumed
    # between the matching and the writing, it took 1 s at 100k x 100k only to find nothing).
    with bulk_allocation():
        try:
            check_output(out, replace=replace)
            exports = {
                system: (path, sheet)
                for system, path, sheet in ((System.CRM, crm, crm_sheet), (System.BOOKS, books, books_sheet))
                if path is not None
            }
            per_file = _overrides_per_file(exports, overrides)
            with Progress(*columns, console=console, transient=True, disable=quiet) as progress:
                sheets_read: dict[str, str] = {}

                def read(system: System) -> list[PartyRecord]:
                    if system not in exports:
                        return []
                    path, sheet = exports[system]
                    export = _read(
                        path,
                        system,
                        sheet,
                        per_file,
                        progress,
                        console,
                        warnings,
                        default_region=default_region,
                    )
                    if export.sheet is not None:
                        sheets_read[system.value] = export.sheet
                    return export.records

                crm_records = zoho_crm if from_zoho else read(System.CRM)
                # The workers normalise the CRM records while this process reads the Books export.
                with normalising_ahead(crm_records, default_region, workers=jobs) as crm_normalised:
                    books_records = zoho_books if from_zoho else read(System.BOOKS)
                    tasks: dict[str, TaskID] = {}

                    def advance(stage: str, done: int, total: int) -> None:
                        if stage not in tasks:
                            tasks[stage] = progress.add_task(stage, total=total)
                        progress.update(tasks[stage], completed=done, total=total)

                    report = build_report(
                        crm_records,
                        books_records,
                        default_region=default_region,
                        on_progress=advance,
                        workers=jobs,
                        crm_normalised=crm_normalised,
                    )
            if from_zoho:
                names = " and ".join(m.value for m in modules)
                report.sources = {"crm": f"Zoho CRM API ({names})", "books": "Zoho Books API (customers)"}
            else:
                report.sources = {k: p.name for k, p in (("crm", crm), ("books", books)) if p is not None}
                report.sheets = sheets_read
            report.warnings = warnings
            write_report(report, out, crm_org=crm_org, books_org=books_org, replace=replace)
        except ClientError as error:
            console.print(f"[red]error:[/red] {error.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from error
        if not quiet:
            duplicates = len(report.duplicates)
            console.print(
                f"{report.crm_count} CRM + {report.books_count} Books records: "
                f"{_count(duplicates, 'duplicate pair')}, {len(report.pairs) - duplicates} possible, "
                f"{_count(len(report.clusters), 'cluster')} -> {out}",
                highlight=False,
                soft_wrap=True,
            )
        # The report is written: freeing the records and the report object by object would only delay exit.
        skip_teardown(crm_records, books_records, report)


match_report.__doc__ = _HELP


def register(app: typer.Typer) -> None:
    """Add ``match-report`` to the ``sync-guard`` command line."""
    app.command(name="match-report", help=_HELP, no_args_is_help=True)(match_report)
