"""Property: whatever an export file holds, the match report's reader reads it or refuses it with its own
ExportError naming the file (and, for a fault in one place, its line, or a workbook's sheet and row);
never another exception, never a hang. And a ``sync-guard match-report`` run that fails leaves its
``--out`` folder as it was.

The files are CSV exports built from Zoho's usual headers and the canonical ones mixed with any text,
their cells the values exports are known to hold oddly (quotes, line breaks, NUL bytes, long fields,
byte order marks, dates, amounts, flags, phones, emails), in any of the encodings the reader takes;
then the bytes of valid CSV, xlsx, xls and ods exports damaged or cut short; then xlsx and xls sheets with
cells placed anywhere (past a spreadsheet's last row and column too; an xls sheet's DIMENSIONS record
saying anything, a long shared string in many cells) and OpenDocument (.ods)
sheets written cell by cell, with what their XML can say (repeated cells and rows, huge repeat counts,
merged and hidden cells and sheets, formulas, dates, runs of spaces) and parts missing or not XML, read
with the process's memory capped: a sheet python-calamine cannot hold must be refused before it is
handed over, not end the process. Example counts are modest and generation is derandomised, so the
suite takes a few seconds and every run tries the same files.
"""

from __future__ import annotations

import codecs
import csv
import io
import resource
import signal
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import cast

import openpyxl
import pytest
import xlwt
from hypothesis import event as statistics_label
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sync_guard.cli import app
from sync_guard.exports.reader import ExportError, read_export, read_header
from sync_guard.models.records import System
from tests.support import ods, xls
from tests.support.fuzz import SHARED_FUZZ_SETTINGS

ZOHO_HEADERS = [
    "Record Id", "Account Id", "Contact ID", "Customer ID", "Display Name", "Account Name", "Customer Name",
    "Contact Name", "Full Name", "Company Name", "First Name", "Last Name", "Date of Birth", "Email",
    "Secondary Email", "Phone", "Work Phone", "Mobile", "Billing Street", "Billing Street2", "Billing City",
    "Billing Code", "Billing Country", "Website", "VAT Reg No", "Outstanding Receivable Amount",
    "Modified Time", "Created Time", "CRM Account ID", "Customer Sub Type", "Status", "Contact Type",
    "Has Transactions", "Currency Code",
]  # fmt: skip
CANONICAL_HEADERS = [
    "id", "name", "company_name", "first_name", "last_name", "email", "other_emails", "phone", "mobile",
    "street", "street2", "city", "postcode", "country", "date_of_birth", "website", "vat",
    "has_transactions", "outstanding", "currency", "modified", "created", "linked_crm_id", "kind", "status",
    "contact_type",
]  # fmt: skip
# Cells that exports are known to hold, or that a spreadsheet leaves in them.
ODD_CELLS = [
    "", " ", '"', '""', "a\nb", "a\r\nb", "a\rb", "\x00", "\ufeff", "x" * 5000, "4.6E+14", "1,250.50",
    "1.250,50", "(1,250.50)", "1,250.50-", "-", "£1,234.50", "Rs. 1,234.50", "TRUE", "FALSE", "WAHR",
    "yes", "0", "45292", "45292.5", "nan", "inf", "-1e308", "2020-01-03T10:00:00", "03/04/2020",
    "13/02/2020", "02/13/2020", "15-Mar-2017", "15/03/17 09:00", "31/02/2020", "00/00/0000", "9999-99-99",
    "12/01/2018 13:00 PM", "24:61", "+44 20 7946 0958", "00000", "++1", "0" * 40, "9" * 40, "a@b", "@",
    "x@y.z;;;@", "zcrm_", "zcrm_4876000000101001", "4876000000101001", "#N/A", "=1+1", "１２３", "vendor",
]  # fmt: skip
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252", "mac_roman"]

cells = st.one_of(
    st.sampled_from(ODD_CELLS),
    st.text(max_size=30),
    st.from_regex(r"[0-9./\-:, ]{1,20}", fullmatch=True),
)
headers = st.one_of(st.sampled_from(ZOHO_HEADERS), st.sampled_from(CANONICAL_HEADERS), st.text(max_size=12))

FUZZ_SETTINGS = settings(SHARED_FUZZ_SETTINGS, max_examples=60)
# Far longer than any of these small files takes to read, even on a loaded shared machine (10 s was
# reached once at a load near 9): reaching it means the reader is stuck.
HANG_SECONDS = 30


class ReaderHung(Exception):
    """The reader took longer than HANG_SECONDS over one small file."""


@contextmanager
def no_hang() -> Iterator[None]:
    def hung(signum: int, frame: FrameType | None) -> None:
        raise ReaderHung(f"no answer after {HANG_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# More memory than any of these files takes to read (a sheet of 10 million cells, the most an .ods
# workbook may hold, takes about 2 GiB): past it, an allocation fails, which in python-calamine's Rust
# code ends the process.
MEMORY_ALLOWED = 3 << 30


@contextmanager
def memory_capped() -> Iterator[None]:
    """The process's address space capped at what it has now and MEMORY_ALLOWED more."""
    with open("/proc/self/status", encoding="ascii") as status:
        size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    previous = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + MEMORY_ALLOWED, previous[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, previous)


def assert_read_or_refused(data: bytes, name: str, system: System) -> None:
    """Read ``data`` as the export file ``name``: it must be read, or refused with an ExportError that
    names the file, and a line (a sheet's row) that the file has."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        for read in (lambda: read_export(path, system), lambda: read_header(path)):
            with no_hang(), memory_capped():
                try:
                    read()
                except ExportError as error:
                    statistics_label("refused")
                    assert_names_its_place(error, path, data)
                else:
                    statistics_label("read")


def assert_names_its_place(error: ExportError, path: Path, data: bytes) -> None:
    assert error.path == path
    assert error.message.startswith(str(path)), error.message
    if error.line is not None:
        # A line of the CSV file (one past its last line end at most), or a workbook sheet's row.
        assert 1 <= error.line <= max(data.count(b"\n"), data.count(b"\r")) + 1 or error.sheet is not None
        place = (
            f"sheet {error.sheet!r}, row {error.line}" if error.sheet is not None else f"line {error.line}"
        )
        assert place in error.message, error.message


@st.composite
def csv_exports(draw: st.DrawFn) -> bytes:
    """A CSV export: some headers (often with an id), a few rows of odd cells, some of them ragged."""
    names = draw(st.lists(headers, min_size=1, max_size=8))
    if draw(st.booleans()):
        names.insert(0, draw(st.sampled_from(["Record Id", "Contact ID", "id"])))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        width = len(names) if draw(st.integers(0, 3)) else draw(st.integers(0, len(names) + 2))
        rows.append([draw(cells) for _ in range(width)])
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    line_end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    quoting = draw(st.sampled_from(["as csv writes it", "all quoted", "as typed"]))
    if quoting == "as typed":  # a file put together by hand: its quotes and line breaks as they fall
        text = "".join(delimiter.join(row) + line_end for row in [names, *rows])
    else:
        written = io.StringIO()
        everything = csv.QUOTE_ALL if quoting == "all quoted" else csv.QUOTE_MINIMAL
        csv.writer(written, delimiter=delimiter, lineterminator=line_end, quoting=everything).writerows(
            [names, *rows]
        )
        text = written.getvalue()
    encoding = draw(st.sampled_from(ENCODINGS))
    statistics_label(encoding)
    return text.encode(encoding, errors="replace")


# How files start that the reader tells apart by their first bytes: byte order marks, a zip archive (xlsx),
# an OLE compound file (xls), a web page.
FILE_STARTS = [
    codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"<!DOCTYPE html>",
]  # fmt: skip


def damaged(valid: bytes) -> st.SearchStrategy[bytes]:
    """``valid`` with a few bytes changed, dropped or added, its start another kind of file's, or cut
    short."""

    @st.composite
    def damage(draw: st.DrawFn) -> bytes:
        data = bytearray(valid)
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, len(data)))
            kind = draw(st.sampled_from(["change", "drop", "add", "cut", "start"]))
            if kind == "change" and at < len(data):
                data[at] = draw(st.integers(0, 255))
            elif kind == "drop":
                del data[at : at + draw(st.integers(1, 50))]
            elif kind == "add":
                data[at:at] = draw(st.binary(min_size=1, max_size=10))
            elif kind == "cut":
                del data[at:]
            elif kind == "start":  # the first bytes of another kind of file
                data[: draw(st.integers(0, 8))] = draw(st.sampled_from(FILE_STARTS))
        return bytes(data)

    return damage()


VALID_CSV = (
    b"Record Id,Account Name,Phone,Email,Modified Time,Billing Code\r\n"
    b"zcrm_4876000000101001,Acme Ltd,+44 20 7946 0958,a@acme.example,2020-01-03 10:00:00,SW1A 1AA\r\n"
    b'zcrm_4876000000101002,"Beta, ""Inc""\nBranch",020 7946 0000,,03/04/2020,\r\n'
)


def xlsx_export() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Customers"
    sheet.append(["Contact ID", "Display Name", "Outstanding Receivable Amount", "Created Time"])
    sheet.append([1, "Acme Ltd", 12.5, "2020-01-01"])
    sheet.append([2, "Beta Inc", "=1+1", 45292])
    written = io.BytesIO()
    book.save(written)
    return written.getvalue()


def xls_export(rows: list[list[object]]) -> bytes:
    """An Excel 97 workbook of one sheet, its datetimes formatted as dates."""
    book = xlwt.Workbook()
    sheet = book.add_sheet("Customers")
    as_date = xlwt.easyxf(num_format_str="DD/MM/YYYY HH:MM")
    for at, row in enumerate(rows):
        for column, value in enumerate(row):
            sheet.write(at, column, value, *([as_date] if isinstance(value, datetime) else []))
    written = io.BytesIO()
    book.save(written)
    return written.getvalue()


VALID_XLSX = xlsx_export()
VALID_XLS = xls_export(
    [
        ["Contact ID", "Display Name", "Created Time", "Has Transactions"],
        [460000000000001, "Acme Ltd", datetime(2017, 3, 15, 9, 0), True],
        [2, xlwt.Formula('""'), None, xlwt.Formula("1/0")],  # empty text and an error, worked out
    ]
)
# What an xlsx part's XML may be changed with: error cells, formulas, odd references, entities.
XML_PIECES = [
    b' t="e"', b"<f>1+1</f>", b'<f t="shared" si="0"/>', b' r="ZZZ9999999"', b' r="A0"', b"<v>#N/A</v>",
    b"<v></v>", b' t="str"', b'<c r="B2" t="e"/>', b'date1904="1"', b'state="hidden"', b'r:id="rId99"',
    b'Target="/xl/../../x"', b"&#xD800;", b"\xff\xfe", b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
]  # fmt: skip


@st.composite
def xlsx_with_damaged_parts(draw: st.DrawFn) -> bytes:
    """A valid zip whose parts' XML has been edited: the damage is in the workbook, not the archive."""
    source = zipfile.ZipFile(io.BytesIO(VALID_XLSX))
    edited = draw(st.sampled_from(source.namelist()))
    written = io.BytesIO()
    with zipfile.ZipFile(written, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            data = source.read(name)
            if name == edited:
                for _ in range(draw(st.integers(1, 4))):
                    at = draw(st.integers(0, len(data)))
                    piece = draw(st.sampled_from(XML_PIECES))
                    data = data[:at] + piece + data[at + draw(st.sampled_from([0, len(piece), 20])) :]
            archive.writestr(name, data)
    return written.getvalue()


# Where an xlsx cell may be placed: near the data, at a spreadsheet's last row or column, or past them
# (python-calamine reads any number of letters and digits), or by none (after the cell or row before).
XLSX_ROWS = [None, 1, 2, 3, 1_000, 1_048_576, 4_000_000_000]
XLSX_COLUMNS = [None, "A", "B", "C", "Z", "ZZ", "XFD", "ZZZZ"]
# What such a cell may hold: a value, text, a formula without one, nothing (a formatted empty cell).
XLSX_CELL_CONTENTS = ["<v>1</v>", "<is><t>x</t></is>", "<f>1+1</f>", "", "<v></v>"]


@st.composite
def xlsx_cells_anywhere(draw: st.DrawFn) -> bytes:
    """The valid xlsx export with rows and cells added to its sheet wherever their references place
    them (with or without a namespace prefix), holding a value or not."""
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        number = draw(st.sampled_from(XLSX_ROWS))
        cells = []
        for _ in range(draw(st.integers(0, 3))):
            column, row = draw(st.sampled_from(XLSX_COLUMNS)), draw(st.sampled_from(XLSX_ROWS))
            reference = f' r="{column}{row}"' if column and row else ""
            content = draw(st.sampled_from(XLSX_CELL_CONTENTS))
            repeats = draw(st.sampled_from([1, 1, 300]))  # cells without a reference run on
            cells.append(f"<c{reference}>{content}</c>" if content else f'<c{reference} s="0"/>' * repeats)
        rows.append((f'<row r="{number}">' if number else "<row>") + "".join(cells) + "</row>")
    added = "".join(rows)
    if draw(st.booleans()):
        prefix = '<x:row xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        added = added.replace("<row", prefix, 1).replace("<row", "<x:row").replace("</row", "</x:row")
        added = (
            added.replace("<c", "<x:c").replace("</c", "</x:c").replace("<v", "<x:v").replace("</v", "</x:v")
        )
    source = zipfile.ZipFile(io.BytesIO(VALID_XLSX))
    written = io.BytesIO()
    with zipfile.ZipFile(written, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", added.encode() + b"</sheetData>")
            archive.writestr(name, data)
    return written.getvalue()


# Where an .xls cell may be placed: near the data, at an .xls sheet's last row or column, or past its
# columns (a record writes a column in two bytes); what a sheet's DIMENSIONS record may say (whatever its
# cells do); how many cells may share a string of 65,535 characters.
XLS_ROWS = [0, 1, 2, 3, 1_000, 65_535]
XLS_COLUMNS = [0, 1, 2, 3, 255, 65_535]
XLS_DIMENSION_ROWS = [0, 1, 3, 65_536, 2**32 - 1]
XLS_DIMENSION_COLUMNS = [0, 1, 3, 256, 65_535]
XLS_SHARED_COPIES = [0, 0, 1, 300, 5_000]


@st.composite
def xls_sheets_anywhere(draw: st.DrawFn) -> bytes:
    """An .xls Books export, and sheets after it (hidden or not), with cells wherever their records
    place them, DIMENSIONS records saying anything, and a long shared string in many cells."""
    sheets = []
    for sheet_at in range(draw(st.integers(1, 3))):
        records = []
        if sheet_at == 0:
            records = [xls.label(0, 0, "Contact ID"), xls.label(0, 1, "Display Name"), xls.number(1, 0, 7)]
            records.append(xls.shared(1, 1, 0))
        if draw(st.booleans()):
            rows = [draw(st.sampled_from(XLS_DIMENSION_ROWS)) for _ in range(2)]
            columns = [draw(st.sampled_from(XLS_DIMENSION_COLUMNS)) for _ in range(2)]
            records.insert(0, xls.dimensions(rows[0], rows[1], columns[0], columns[1]))
        for _ in range(draw(st.integers(0, 3))):
            row, column = draw(st.sampled_from(XLS_ROWS)), draw(st.sampled_from(XLS_COLUMNS))
            cell = draw(st.sampled_from([xls.number, xls.label, xls.shared]))
            records.append(
                xls.number(row, column, 1) if cell is xls.number else
                xls.label(row, column, "x") if cell is xls.label else
                xls.shared(row, column, 1)
            )  # fmt: skip
        copies = draw(st.sampled_from(XLS_SHARED_COPIES))
        records.extend(xls.shared(2 + at // 200, 2 + at % 200, 1) for at in range(copies))
        hidden = sheet_at > 0 and draw(st.booleans())
        sheets.append(xls.XlsSheet("Customers" if sheet_at == 0 else f"Lookup{sheet_at}", records, hidden))
    return xls.xls_bytes(sheets, ["Acme Ltd", "x" * 65_535])


# What an .ods cell's XML may say: how many times it (or its row) repeats, a number, a date or a time,
# first as a spreadsheet writes them, then (in a hostile workbook) as none would: python-calamine
# refuses a whole workbook for one of those, so only some workbooks hold them.
ODS_REPEATS: list[int | str | None] = [None, None, None, None, 2, 3]
HOSTILE_REPEATS: list[int | str | None] = [0, 16_384, 10**9, 2**64, "-1", "&#51;", "x"]
ODS_ROW_REPEATS: list[int | str | None] = [None, None, None, None, 2, 3]
HOSTILE_ROW_REPEATS: list[int | str | None] = [0, 5_000, 1_048_576, 2**64, "-1"]
ODS_NUMBERS = ["0", "1", "12.5", "-1250.5", "4.6E+14", "460000000000001", "45292", "45292.375", "-0"]
HOSTILE_NUMBERS = ["1e308", "NaN", "inf", "1,5", "", "abc"]
ODS_DATES = ["2020-01-03", "2020-01-03T10:00:00", "1899-12-30", "1904-01-01", "9999-12-31T23:59:59"]
HOSTILE_DATES = ["2020-01-03T10:00:00.123456789", "2020-02-30", "9999-99-99", "0000-00-00", "-0044-03-15", ""]
ODS_TIMES = ["PT10H00M00S", "PT0H", "PT1.5S"]
HOSTILE_TIMES = ["PT999999999H", "P1DT2H", "bad", ""]
ODS_FORMULAS = ['of:=""', "of:=1/0", "of:=[.A1]", "of:=NA()"]
# Runs of spaces a text cell writes as their length: a typist's, and what no cell holds.
ODS_SPACES = [1, 3, 80]
HOSTILE_SPACES = [10**6, 2 * 10**9, 2**40]
# What the XML may hold in place of a cell's value, a row's or a sheet's attribute: repeats,
# structure, entities, what is not XML at all.
ODS_XML_PIECES = [
    b' table:number-columns-repeated="16384"', b' table:number-rows-repeated="5000"',
    b' table:number-rows-repeated="99999999999999999999"', b'<text:s text:c="2000000000"/>',
    b' office:value-type="float" office:value="x"', b"<table:table-cell>", b"</table:table-row>",
    b"<table:table-row>", b'<table:table table:name="B">', b"</table:table>", b"&#xD800;", b"\xff\xfe",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b'table:display="false"', b'office:date-value="9999-99-99"',
    b'table:formula="of:=&quot;&quot;"', b"<table:covered-table-cell/>",
]  # fmt: skip


def space_cell(count: int) -> str:
    """A text cell holding a run of ``count`` spaces, written as the XML writes one: by its length."""
    return (
        f'<table:table-cell office:value-type="string"><text:p>a<text:s text:c="{count}"/>b</text:p>'
        "</table:table-cell>"
    )


def typed_cell(value_type: str, attribute: str, value: str) -> str:
    return f'<table:table-cell office:value-type="{value_type}" office:{attribute}="{value}"/>'


def ods_cells(hostile: bool) -> st.SearchStrategy[str]:
    """One cell of an .ods sheet's XML (or a merged cell and those it covers), its values as a
    spreadsheet writes them or, in a ``hostile`` workbook, also as none would."""

    def values(usual: list[object], odd: list[object]) -> st.SearchStrategy[object]:
        return st.sampled_from(usual) | st.sampled_from(odd) if hostile else st.sampled_from(usual)

    @st.composite
    def cell(draw: st.DrawFn) -> str:
        repeated = cast(int | str | None, draw(values(ODS_REPEATS, HOSTILE_REPEATS)))
        kind = draw(
            st.sampled_from(
                ["text", "text", "number", "date", "time", "boolean", "formula", "empty", "merged", "spaces"]
            )
        )
        statistics_label(f"ods {kind}")
        if kind == "text":
            return ods.text_cell(draw(cells), repeated=repeated)
        if kind == "number":
            return ods.number_cell(str(draw(values(ODS_NUMBERS, HOSTILE_NUMBERS))), repeated=repeated)
        if kind == "date":
            return ods.date_cell(str(draw(values(ODS_DATES, HOSTILE_DATES))))
        if kind == "time":
            return typed_cell("time", "time-value", str(draw(values(ODS_TIMES, HOSTILE_TIMES))))
        if kind == "boolean":
            return typed_cell(
                "boolean", "boolean-value", draw(st.sampled_from(["true", "false", "TRUE", "1"]))
            )
        if kind == "formula":
            saved = draw(st.sampled_from([("string", ""), ("float", "2"), ("string", "#DIV/0!")]))
            return ods.formula_cell(draw(st.sampled_from(ODS_FORMULAS)), *saved)
        if kind == "empty":
            return ods.empty_cell(repeated=repeated)
        if kind == "merged":
            span = draw(st.integers(1, 3))
            merged = ods.text_cell(draw(cells)).replace(">", f' table:number-columns-spanned="{span}">', 1)
            return merged + "<table:covered-table-cell/>" * (span - 1)
        return space_cell(cast(int, draw(values(ODS_SPACES, HOSTILE_SPACES))))

    return cell()


@st.composite
def ods_sheets(draw: st.DrawFn, hostile: bool) -> str:
    """A sheet: a header of export headers (often with an id and a name), rows of any cells, some
    repeated, the empty rest of the sheet as LibreOffice writes it or not, hidden or not."""
    rows = (
        [ods.row([ods.empty_cell()], repeated=draw(st.sampled_from([None, 2])))]
        if draw(st.booleans())
        else []
    )
    names = draw(st.lists(headers, min_size=1, max_size=5))
    if draw(st.integers(0, 3)) < 3:
        names[:0] = ["Contact ID", "Display Name"]
    rows.append(ods.row([ods.text_cell(name) for name in names]))
    row_repeats = (
        st.sampled_from(ODS_ROW_REPEATS) | st.sampled_from(HOSTILE_ROW_REPEATS)
        if hostile
        else st.sampled_from(ODS_ROW_REPEATS)
    )
    for _ in range(draw(st.integers(0, 4))):
        rows.append(
            ods.row(draw(st.lists(ods_cells(hostile), max_size=len(names))), repeated=draw(row_repeats))
        )
    if draw(st.booleans()):
        rows.append(ods.row([ods.empty_cell(repeated=1024)], repeated=1_048_576 - len(rows)))
    name = draw(st.sampled_from(["Customers", "Sheet1", "", "A & B"]))
    return ods.table(name, rows, hidden=draw(st.integers(0, 3)) == 3)


@st.composite
def ods_exports(draw: st.DrawFn) -> bytes:
    """An .ods workbook of one to three sheets written cell by cell, in half of them with values no
    spreadsheet writes."""
    hostile = draw(st.booleans())
    statistics_label("hostile" if hostile else "as a spreadsheet writes it")
    return ods.ods(*draw(st.lists(ods_sheets(hostile), min_size=1, max_size=3)))


VALID_ODS = ods.ods(
    ods.table(
        "Customers",
        [
            ods.row(
                [
                    *map(ods.text_cell, ["Contact ID", "Display Name", "Outstanding Receivable Amount"]),
                    ods.empty_cell(repeated=1021),
                ]
            ),
            ods.row(
                [
                    ods.number_cell("1"),
                    ods.text_cell("Acme Ltd"),
                    ods.number_cell("12.5"),
                    ods.empty_cell(repeated=1021),
                ]
            ),
            ods.row(
                [
                    ods.number_cell("2"),
                    ods.formula_cell('of:=""'),
                    ods.text_cell("1.250,50"),
                    ods.empty_cell(repeated=1021),
                ]
            ),
            ods.row([ods.empty_cell(repeated=1024)], repeated=1_048_573),
        ],
    )
)


@st.composite
def ods_with_damaged_parts(draw: st.DrawFn, damage: str) -> bytes:
    """A valid zip whose parts are missing, not XML, or edited XML; or whose manifest says its content
    is encrypted."""
    source = zipfile.ZipFile(io.BytesIO(VALID_ODS))
    parts = {name: source.read(name) for name in source.namelist()}
    name = draw(st.sampled_from(sorted(parts)))
    if damage == "part missing":
        del parts[name]
    elif damage == "part not XML":
        parts[name] = draw(st.sampled_from([b"", b"<a", b"PK\x03\x04", b"<?xml?>"]) | st.binary(max_size=40))
    elif damage == "encrypted":
        parts["META-INF/manifest.xml"] = ods.manifest(encrypted=True)
    else:
        data = parts[name]
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data)))
            piece = draw(st.sampled_from(ODS_XML_PIECES))
            data = data[:at] + piece + data[at + draw(st.sampled_from([0, len(piece), 20])) :]
        parts[name] = data
    return ods.package(parts)


@FUZZ_SETTINGS
@given(data=csv_exports(), system=st.sampled_from([System.CRM, System.BOOKS]))
def test_any_csv_export_is_read_or_refused_naming_its_line(data: bytes, system: System) -> None:
    assert_read_or_refused(data, "export.csv", system)


EXPORTS = pytest.mark.parametrize(
    ("valid", "name"),
    [
        (VALID_CSV, "accounts.csv"),
        (VALID_XLSX, "customers.xlsx"),
        (VALID_XLS, "customers.xls"),
        (VALID_ODS, "customers.ods"),
    ],
    ids=["csv", "xlsx", "xls", "ods"],
)


def system_of(name: str) -> System:
    return System.CRM if name.startswith("accounts") else System.BOOKS


@EXPORTS
@FUZZ_SETTINGS
@given(data=st.data())
def test_a_damaged_export_is_read_or_refused_naming_its_place(
    valid: bytes, name: str, data: st.DataObject
) -> None:
    assert_read_or_refused(data.draw(damaged(valid)), name, system_of(name))


@EXPORTS
@FUZZ_SETTINGS
@given(share=st.floats(0, 1))
def test_an_export_cut_short_is_read_or_refused(valid: bytes, name: str, share: float) -> None:
    assert_read_or_refused(valid[: int(len(valid) * share)], name, system_of(name))


@FUZZ_SETTINGS
@given(data=xlsx_with_damaged_parts())
def test_an_xlsx_export_with_damaged_xml_is_read_or_refused(data: bytes) -> None:
    assert_read_or_refused(data, "customers.xlsx", System.BOOKS)


@settings(FUZZ_SETTINGS, max_examples=30)  # a sheet of a million rows takes a second or two to read
@given(data=xlsx_cells_anywhere())
def test_an_xlsx_export_with_cells_anywhere_is_read_or_refused(data: bytes) -> None:
    assert_read_or_refused(data, "customers.xlsx", System.BOOKS)


@FUZZ_SETTINGS
@given(data=xls_sheets_anywhere())
def test_an_xls_export_with_cells_anywhere_is_read_or_refused(data: bytes) -> None:
    assert_read_or_refused(data, "customers.xls", System.BOOKS)


@FUZZ_SETTINGS
@given(data=ods_exports())
def test_any_ods_export_is_read_or_refused_naming_its_place(data: bytes) -> None:
    assert_read_or_refused(data, "customers.ods", System.BOOKS)


@pytest.mark.parametrize("damage", ["part missing", "part not XML", "XML edited", "encrypted"])
@FUZZ_SETTINGS
@given(data=st.data())
def test_an_ods_export_with_damaged_parts_is_read_or_refused(damage: str, data: st.DataObject) -> None:
    assert_read_or_refused(data.draw(ods_with_damaged_parts(damage)), "customers.ods", System.BOOKS)


runner = CliRunner()


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_a_failed_report_leaves_its_out_folder_as_it_was(
    option: str, name: str, export: bytes, out_exists: bool
) -> None:
    """Run ``match-report`` on ``export`` (the file ``name``, given as ``option``): it writes its report,
    or fails naming the file and leaves the folder as it was (no report, no staging folder, the previous
    report untouched)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / name
        path.write_bytes(export)
        out = root / "report"
        if out_exists:  # a previous report, which only a successful run may replace
            out.mkdir()
            (out / "summary.md").write_text("the previous report\n", encoding="utf-8")
        before = files_in(root)
        args = [
            "match-report",
            option,
            str(path),
            "--out",
            str(out),
            "--quiet",
            "--jobs",
            "1",
            "--replace",
        ]
        with no_hang(), memory_capped():
            result = runner.invoke(app, args)
        assert result.exit_code in (0, 2), result.output
        assert isinstance(result.exception, SystemExit | None), result.exception
        if result.exit_code == 0:
            statistics_label("report written")
            assert (out / "pairs.csv").is_file()
        else:
            statistics_label("refused")
            assert f"error: {path}" in " ".join(result.output.split()), result.output
            assert files_in(root) == before  # no report, no staging folder, the old report untouched
        assert sorted(p.name for p in root.iterdir()) == sorted([name, *(["report"] if out.exists() else [])])


@settings(FUZZ_SETTINGS, max_examples=12)
@given(crm=st.just(VALID_CSV) | damaged(VALID_CSV) | csv_exports(), out_exists=st.booleans())
def test_a_match_report_that_fails_leaves_its_out_folder_as_it_was(crm: bytes, out_exists: bool) -> None:
    assert_a_failed_report_leaves_its_out_folder_as_it_was("--crm", "accounts.csv", crm, out_exists)


@settings(FUZZ_SETTINGS, max_examples=12)
@given(
    books=st.just(VALID_ODS) | ods_exports() | ods_with_damaged_parts("XML edited") | damaged(VALID_ODS),
    out_exists=st.booleans(),
)
def test_a_match_report_of_an_ods_export_that_fails_leaves_its_out_folder_as_it_was(
    books: bytes, out_exists: bool
) -> None:
    assert_a_failed_report_leaves_its_out_folder_as_it_was("--books", "customers.ods", books, out_exists)
