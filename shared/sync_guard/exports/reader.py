"""Reading Zoho export CSVs (CRM Accounts/Contacts, Books Customers) into PartyRecords.

Headers are recognised whatever their case, spacing or punctuation (``Account Name``, ``account_name``
and ``ACCOUNT NAME`` are one header). A column can be pointed at a field explicitly with an override
(``{"Trading Name": "name"}``), which is what ``sync-guard match-report --map`` passes. Every error
names the file and the line, and nothing is guessed silently: a row with the wrong number of fields, a
missing or repeated id, or a file without an id or name column stops the read.

This module holds the entry points and the step from a row to a record; the rest of the reading is in
:mod:`.columns` (the header, ExportFile, ExportError), :mod:`.tables` (the rows of a CSV file or a
workbook's sheet, with :mod:`.text` opening a CSV file), :mod:`.conventions` (how the file writes dates
and amounts) and :mod:`.repairs` (numbers a spreadsheet rewrote).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from sync_guard.exports.columns import (
    CANONICAL_FIELDS,
    SYSTEM_OPTIONS,
    ExportError,
    ExportFile,
    map_columns,
    normalise_header,
    not_understood,
    overrides_for,
    repeated_headers,
)
from sync_guard.exports.conventions import ReadAsDecided, parse_amount, parse_time, settle_conventions
from sync_guard.exports.repairs import (
    SPREADSHEET_DIGITS,
    drop_numbers_a_spreadsheet_rewrote,
    restore_leading_zeros,
    restored_zeros_warning,
)
from sync_guard.exports.tables import is_workbook, open_table
from sync_guard.exports.text import delimiter_of, encoding_of, open_text
from sync_guard.models.records import Module, PartyRecord, RecordKind, System

# The names the CLI, the benchmarks and the tests read exports with.
__all__ = [
    "CANONICAL_FIELDS",
    "ExportError",
    "ExportFile",
    "count_rows",
    "is_workbook",
    "iter_export",
    "overrides_for",
    "read_export",
    "read_header",
]


_LIST_SEPARATORS = re.compile(r"[;,]")
# Yes and no, also as a spreadsheet saves TRUE and FALSE again in its language (WAHR, VRAI, WAAR, ...).
_TRUE = frozenset({"true", "yes", "y", "1", "t"}) | {
    "wahr", "ja", "vrai", "oui", "verdadero", "verdadeiro", "vero", "sí", "si", "waar", "sant",
}  # fmt: skip
_FALSE = frozenset({"false", "no", "n", "0", "f"}) | {
    "falsch", "nein", "faux", "non", "falso", "onwaar", "nee", "falskt",
}  # fmt: skip


# Fields a record takes from its cell as written (trimmed), when the cell holds something.
_AS_WRITTEN = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "website",
        "vat",
        "street",
        "city",
        "postcode",
        "country",
        "date_of_birth",
        "linked_crm_id",
        "currency",
    }
)


# CRM's own export writes a record's id as "zcrm_4876000000101001"; its API, its webhooks and Books' CRM
# Account ID give the bare id, which is the one a link, the sync and a support ticket use.
_CRM_EXPORT_PREFIX = "zcrm_"


def _row_record(
    export: ExportFile, line: int, row: list[str], columns: dict[str, int], module: Module
) -> PartyRecord:
    # The mapped cells that hold something, each stripped once; a field missing here reads as empty.
    cells = {name: value for name, index in columns.items() if (value := row[index].strip())}
    for name, further in export.repeated.items():
        if name not in cells and (filled := next((v for i in further if (v := row[i].strip())), None)):
            cells[name] = filled
    drop_numbers_a_spreadsheet_rewrote(export, line, cells)
    restore_leading_zeros(export, cells)
    get = cells.get

    record_id = get("id")
    if not record_id:
        raise export.error(line, "empty id")
    if export.system is System.CRM:
        record_id = record_id.removeprefix(_CRM_EXPORT_PREFIX)
    # Only the fields that carry a value: pydantic keeps a set of the fields given per record, and with
    # all 22 of them that set alone costs 2 KB a record (400 MB over a 100k x 100k run).
    values: dict[str, object] = {name: cells[name] for name in _AS_WRITTEN.intersection(cells)}
    if "linked_crm_id" in cells:
        values["linked_crm_id"] = cells["linked_crm_id"].removeprefix(_CRM_EXPORT_PREFIX)
    company_name = get("company_name")
    name = get("name") or company_name or " ".join(p for p in (get("first_name"), get("last_name")) if p)
    if company_name and company_name.casefold() != name.casefold():
        values["other_names"] = (company_name,)
    person = get("kind", "").lower() in {"individual", "person"} or module is Module.CRM_CONTACTS
    has_transactions: bool | None = None
    flag = get("has_transactions", "").lower()
    if flag in _TRUE:
        has_transactions = True
    elif flag and flag in _FALSE:
        has_transactions = False
    elif flag:  # a count or an amount of invoices, mapped to the field with --map
        invoiced = parse_amount(flag, decimal_comma=export.decimal_comma)
        if invoiced is None:
            not_understood(export, line, "has transactions", cells["has_transactions"])
        else:
            has_transactions = invoiced != 0
    outstanding = None
    if "outstanding" in cells:
        outstanding = parse_amount(cells["outstanding"], decimal_comma=export.decimal_comma)
        if outstanding is None:
            not_understood(export, line, "outstanding amount", cells["outstanding"])
    if has_transactions is None and outstanding is not None and outstanding != 0:
        has_transactions = True  # money owed means invoices exist
    for label, field_name in (("modified", "modified_at"), ("created", "created_at")):
        text = get(label)
        if not text:
            continue
        moment = parse_time(text, month_first=export.month_first_in.get(label, export.month_first))
        if moment is not None:
            values[field_name] = moment
        else:
            not_understood(export, line, f"{label} time", text)
    if "other_emails" in cells:
        others = tuple(e.strip() for e in _LIST_SEPARATORS.split(cells["other_emails"]) if e.strip())
        if others:
            values["other_emails"] = others
    if "street2" in cells:  # "Acme House" / "12 Kings Road": the street reader takes the line apart
        values["street"] = ", ".join(filter(None, (get("street"), cells["street2"])))
    phone = get("phone") or get("mobile")
    if phone:
        values["phone"] = phone
    status = get("status", "").lower()
    if status in {"inactive", "deleted"}:
        values["active"] = False
    elif status == "active":
        values["active"] = True  # given, so that the report can tell an Active copy from one of no status
    if has_transactions is not None:
        values["has_transactions"] = has_transactions
    if outstanding is not None:
        values["outstanding"] = outstanding
    values.update(
        system=export.system,
        module=module,
        record_id=record_id,
        name=name,
        kind=RecordKind.PERSON if person else RecordKind.COMPANY,
    )
    return PartyRecord.model_validate(values)


# Headers only one system's exports have: CRM names its ids "Record Id", Books its customers
# "Contact ID" beside a "Display Name". Swapping --crm and --books would mislabel every record.
_SIGNATURES: dict[System, tuple[frozenset[str], str]] = {
    System.CRM: (frozenset({"record id"}), "a Zoho CRM export"),
    System.BOOKS: (frozenset({"contact id", "display name"}), "a Zoho Books customers export"),
}


def _rounded_hint(record_id: str) -> str:
    """Why a long numeric id may stand twice: a spreadsheet rounded both copies to its 15 digits."""
    if record_id.isdigit() and len(record_id) > SPREADSHEET_DIGITS and record_id.endswith("0"):
        return (
            f": a spreadsheet keeps only {SPREADSHEET_DIGITS} digits of a number, so if the file was saved "
            "from one, export it from Zoho again and pass it on as it is"
        )
    return ""


def _check_system(path: Path, system: System, headers: list[str], *, sheet: str | None = None) -> None:
    """ExportError when the file is plainly the other system's export."""
    present = {normalise_header(h) for h in headers}
    own, _ = _SIGNATURES[system]
    other = System.BOOKS if system is System.CRM else System.CRM
    theirs, kind = _SIGNATURES[other]
    if theirs <= present and not own & present:
        shown = ", ".join(f"'{h.strip()}'" for h in headers if normalise_header(h) in theirs)
        raise ExportError(
            path, 1, f"this is {kind} ({shown}): pass it with {SYSTEM_OPTIONS[other]}", sheet=sheet
        )


def _module_for(system: System, columns: dict[str, int]) -> Module:
    if system is System.BOOKS:
        return Module.BOOKS_CUSTOMERS
    # A CRM export with person-name columns and no account name column is a Contacts export.
    if {"first_name", "last_name"} & set(columns) and "name" not in columns:
        return Module.CRM_CONTACTS
    return Module.CRM_ACCOUNTS


def _retake(readings: Sequence[ReadAsDecided], held: list[tuple[int, PartyRecord]]) -> None:
    """The values read by a decision since proven wrong, read again in the ``held`` records."""
    for reading in readings:
        if reading.wrong:
            reading.retake(held)


def iter_export(
    path: Path, system: System, overrides: Mapping[str, str] | None = None, export: ExportFile | None = None
) -> Iterator[PartyRecord]:
    """Records of one export file, in file order; raises ExportError naming the file and line (a
    workbook's sheet and row).

    A CSV file's fields may be separated by commas, semicolons or tabs, as the header row shows. An
    Excel workbook (.xlsx, .xls) is read from ``export.wanted_sheet`` or else its first visible sheet,
    each cell written as a CSV would hold it and then read the same way.
    """
    export = export or ExportFile(path, system)
    with open_table(export) as table:
        headers, sheet = table.headers, export.sheet
        _check_system(path, system, headers, sheet=sheet)
        columns = map_columns(path, headers, overrides or {}, sheet=sheet)
        export.columns = {f: headers[i] for f, i in columns.items()}
        export.repeated = repeated_headers(export, headers, columns)
        readings = settle_conventions(
            export, table.sample(columns), columns, semicolons=table.semicolons, date1904=table.date1904
        )
        kept = readings[0].kept
        module = _module_for(system, columns)
        type_column = columns.get("contact_type")
        vendors = 0
        seen: dict[str, int] = {}
        unit = "line" if sheet is None else "row"
        # The records read since a value was read by a decision that may yet be proven wrong (see
        # ReadAsDecided): held back until none may.
        held: list[tuple[int, PartyRecord]] = []
        for line, row in table.rows(columns, readings):
            if held:
                _retake(readings, held)
                if not kept:
                    yield from (record for _, record in held)
                    held.clear()
            if type_column is not None and row[type_column].strip().lower() == "vendor":
                vendors += 1
                continue
            record = _row_record(export, line, row, columns, module)
            if record.record_id in seen:
                raise export.error(
                    line,
                    f"id {record.record_id!r} appears again (first at {unit} {seen[record.record_id]})"
                    + _rounded_hint(record.record_id),
                )
            seen[record.record_id] = line
            if kept:
                held.append((line, record))
            else:
                yield record
        _retake(readings, held)
        for reading in readings:
            reading.settle()
        yield from (record for _, record in held)
        if vendors:
            export.warnings.append(
                f"{export.where(None)}: {vendors} vendor row(s) left out: suppliers are not the sync's "
                "customers"
            )
        export.warnings.extend(table.warnings())
        export.warnings.extend(restored_zeros_warning(export))


def read_header(path: Path, sheet: str | None = None) -> list[str]:
    """The column names of an export (its first row, a workbook's first row that holds anything, in
    its ``sheet`` when given); ExportError when it cannot be read."""
    if is_workbook(path) or sheet is not None:
        with open_table(ExportFile(path, System.BOOKS, wanted_sheet=sheet)) as table:
            return table.headers
    encoding, _ = encoding_of(path)
    with open_text(path, encoding) as handle:
        first = handle.readline()
    try:
        return next(csv.reader([first], delimiter=delimiter_of(first)), [])
    except csv.Error as error:
        raise ExportError(path, 1, f"header row is not valid CSV: {error}") from error


def read_export(
    path: Path,
    system: System,
    overrides: Mapping[str, str] | None = None,
    *,
    default_region: str | None = None,
    sheet: str | None = None,
) -> ExportFile:
    """Read a whole export file (see :func:`iter_export`); ``default_region`` is the country of rows
    that give none (see :attr:`ExportFile.default_region`), ``sheet`` a workbook's sheet to read (see
    :attr:`ExportFile.wanted_sheet`)."""
    export = ExportFile(path, system, default_region=default_region, wanted_sheet=sheet)
    export.records = list(iter_export(path, system, overrides, export))
    return export


def count_rows(path: Path) -> int:
    """Physical lines after the header: the total for a progress bar (cheap, no CSV parsing); 0 (no
    total) for a workbook, whose rows are counted only by reading it."""
    if is_workbook(path):
        return 0
    try:
        with path.open("rb") as handle:
            return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1)
    except OSError:
        return 0
