"""``sync-guard audit``: query the audit trail, newest first, as a table, JSON or CSV.

Which trail: ``--stack-name``/``--region`` (table names from the CloudFormation outputs), or
``--audit-table``, or the ``SYNC_GUARD_*`` environment, or a running local stack (``--state-dir``; see
``cli._context``).
Output is audit data for admins, so it is not masked; nothing here is logged.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sync_guard.admin.model import end_of_day, parse_decision, parse_ref, parse_rule
from sync_guard.cli._context import (
    DEFAULT_STATE_DIR,
    AuditTableOption,
    RegionOption,
    StackOption,
    StateDirOption,
    resolve_settings,
)
from sync_guard.cli._words import what_happened
from sync_guard.errors import InvalidPayload, SyncGuardError
from sync_guard.exports.cells import spreadsheet_text
from sync_guard.guard.model import AuditEntry
from sync_guard.store.audit import AuditLog, AuditPage, AuditQuery

#: The audit trail's query terms (the admin API's parameters) and the options that give them here.
_OPTIONS = {"cursor": "--cursor", "since": "--since", "until": "--until", "limit": "--limit"}
_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
CSV_COLUMNS = (
    "at",
    "entry_id",
    "kind",
    "decision",
    "mode",
    "actor",
    "event_id",
    "operation",
    "records",
    "names",
    "rules",
    "evidence",
    "actions",
    "note",
)


def parse_moment(
    value: str | None, *, now: datetime, option: str, whole_day: bool = False
) -> datetime | None:
    """``2026-03-01``, ``2026-03-01T10:00``, ``2026-03-01T10:00:00+01:00`` (naive = UTC) or ``7d``/``12h``.

    A date alone is its first moment, or with ``whole_day`` its last (an inclusive upper bound)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        try:
            return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
        except OverflowError as error:  # past what a date can hold (before 1 January of the year 1)
            raise typer.BadParameter(f"{text} reaches back before the year 1", param_hint=option) from error
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise typer.BadParameter(
            f"not a date/time or a duration like 7d: {value!r}", param_hint=option
        ) from error
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (whole_day and end_of_day(text)) or moment


def _csv_row(entry: AuditEntry) -> dict[str, str]:
    """One row; every cell stays text in a spreadsheet (names, notes and reasons are typed by people)."""
    row = {
        "at": entry.at.isoformat(),
        "entry_id": entry.entry_id,
        "kind": entry.kind.value,
        "decision": entry.decision.value,
        "mode": entry.mode.value,
        "actor": entry.actor,
        "event_id": entry.event_id or "",
        "operation": entry.operation or "",
        "records": " ".join(entry.records),
        "names": " | ".join(f"{ref} {name}" for ref, name in entry.names.items()),
        "rules": " ".join(entry.rules),
        "evidence": " | ".join(entry.evidence),
        "actions": " ".join(
            f"{a.kind.value}:{a.target}{'' if a.execute else '(not executed)'}" for a in entry.actions
        ),
        "note": entry.note,
    }
    return {column: spreadsheet_text(value) for column, value in row.items()}


#: Narrower than this, six columns fold record ids, rule codes and times mid-word: each entry is then a block.
NARROW_TABLE = 160


def _when(entry: AuditEntry) -> str:
    return entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _records(entry: AuditEntry) -> str:
    return ", ".join(f"{ref} '{entry.names[ref]}'" if ref in entry.names else ref for ref in entry.records)


def _note_and_evidence(entry: AuditEntry) -> list[str]:
    return [*([entry.note] if entry.note else []), *entry.evidence[:6]]


def _print_table(entries: list[AuditEntry], console: Console) -> None:
    """The entries for people: a table of six columns, or on a narrow terminal (80 columns) a block each."""
    if console.width < NARROW_TABLE:
        _print_blocks(entries, console)
        return
    table = Table(show_lines=False)
    table.add_column("time (UTC)", no_wrap=True)
    for column in ("decision", "rules", "records", "actor", "evidence"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(
            _when(entry),
            # In words ("admin: released crm:1"); the note after says how it went (a replay's "moved 2
            # message(s)" before the ids it moved).
            what_happened(entry),
            " ".join(entry.rules) or "-",
            _records(entry),
            entry.actor,
            "\n".join(_note_and_evidence(entry)),
        )
    console.print(table)


def _print_blocks(entries: list[AuditEntry], console: Console) -> None:
    """The time on the left, and what the table's other columns say beside it, a line each, wrapped at words
    in the width left (an id or a rule code is narrower than that, so none is cut)."""
    grid = Table.grid(padding=(0, 2, 1, 0))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for entry in entries:
        lines = [
            what_happened(entry),
            *([f"rules: {' '.join(entry.rules)}"] if entry.rules else []),
            *([f"records: {_records(entry)}"] if entry.records else []),
            f"by {entry.actor}",
            *_note_and_evidence(entry),
        ]
        grid.add_row(f"{_when(entry)} UTC", "\n".join(lines))
    console.print(grid)


def audit(
    record: Annotated[
        str | None, typer.Option(help="Only entries about this record: crm:ID or books:ID.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time (ISO date/time, or 7d, 12h, 30m, 2w ago).")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Up to this time (same forms as --since; a date alone includes that day)."),
    ] = None,
    rule: Annotated[
        str | None, typer.Option(help="Only entries naming this rule code, e.g. NAME_DRIFT.")
    ] = None,
    decision: Annotated[
        str | None, typer.Option(help="Only this decision: allow, flag, quarantine, pending or admin.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries (newest first).")] = 50,
    cursor: Annotated[
        str | None, typer.Option(help="Continue after a previous page (printed on stderr).")
    ] = None,
    every_page: Annotated[
        bool, typer.Option("--all", help="Every matching entry, page after page (--limit per page).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    stack_name: StackOption = None,
    region: RegionOption = None,
    state_dir: StateDirOption = DEFAULT_STATE_DIR,
    audit_table: AuditTableOption = None,
) -> None:
    """Show audit entries: decisions on events and admin operations, newest first."""
    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv", param_hint="--json/--csv")
    try:
        # The admin API's spelling rules, so that both find the same entries for the same words.
        record = parse_ref(record) if record else None
        rule = parse_rule(rule) if rule else None
        decision = parse_decision(decision) if decision else None
    except InvalidPayload as error:
        raise typer.BadParameter(error.message, param_hint=f"--{error.field}") from error
    now = datetime.now(UTC)
    query = AuditQuery(
        record=record,
        rule=rule,
        decision=decision,
        since=parse_moment(since, now=now, option="--since"),
        until=parse_moment(until, now=now, option="--until", whole_day=True),
    )
    if query.since and query.until and query.since > query.until:
        raise typer.BadParameter(f"{since} is after --until {until}", param_hint="--since")
    settings = resolve_settings(
        stack_name=stack_name, region=region, state_dir=state_dir, audit_table=audit_table
    )
    log = AuditLog.from_settings(settings)
    try:
        page = log.query(query, limit=limit, cursor=cursor)
        # An export of a time range wants all of it, not its newest page and a cursor to type in.
        while every_page and page.cursor:
            more = log.query(query, limit=limit, cursor=page.cursor)
            page = AuditPage([*page.entries, *more.entries], more.cursor)
    except SyncGuardError as error:
        typer.echo(f"error: {error.naming(_OPTIONS)}", err=True)
        raise typer.Exit(2) from error
    if as_json:
        document = {
            "entries": [entry.model_dump(mode="json") for entry in page.entries],
            "next_cursor": page.cursor,
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(_csv_row(entry) for entry in page.entries)
    else:
        if page.entries:
            # Wide when piped, so that a captured table is not folded into 80 columns.
            _print_table(page.entries, Console(width=None if sys.stdout.isatty() else 200))
        else:
            typer.echo("no audit entries match")
    if page.cursor and not as_json:
        typer.echo(f"more entries: --cursor {page.cursor}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``audit`` to the ``sync-guard`` command line."""
    app.command(name="audit")(audit)
