"""Property: whatever an export file holds, the match report's reader reads it or refuses it with its own
ExportError naming the file (and, for a fault in one place, its line, or a workbook's sheet and row);
never another exception, never a hang. And a ``sync-guard match-report`` run that fails leaves its
``--out`` folder as it was.

The files are CSV exports built from Zoho's usual headers and the canonical ones mixed with any text,
their cells the values exports are known to hold oddly (quotes, line breaks, NUL bytes, long fields,
byte order marks, dates, amounts, flags, phones, emails), in any of the encodings the reader takes;
then the bytes of valid CSV, xlsx and xls exports damaged or cut short. Example counts are modest and
generation is derandomised, so the suite takes a few seconds and every run tries the same files.
"""

from __future__ import annotations

import codecs
import csv
import io
import signal
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType

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
# Longer than any of these small files takes to read: reaching it means the reader is stuck.
HANG_SECONDS = 10


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


def assert_read_or_refused(data: bytes, name: str, system: System) -> None:
    """Read ``data`` as the export file ``name``: it must be read, or refused with an ExportError that
    names the file, and a line (a sheet's row) that the file has."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        for read in (lambda: read_export(path, system), lambda: read_header(path)):
            with no_hang():
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
        place = f"sheet {error.sheet!r}, row {error.line}" if error.sheet else f"line {error.line}"
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


@FUZZ_SETTINGS
@given(data=csv_exports(), system=st.sampled_from([System.CRM, System.BOOKS]))
def test_any_csv_export_is_read_or_refused_naming_its_line(data: bytes, system: System) -> None:
    assert_read_or_refused(data, "export.csv", system)


EXPORTS = pytest.mark.parametrize(
    ("valid", "name"),
    [(VALID_CSV, "accounts.csv"), (VALID_XLSX, "customers.xlsx"), (VALID_XLS, "customers.xls")],
    ids=["csv", "xlsx", "xls"],
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


runner = CliRunner()


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@settings(FUZZ_SETTINGS, max_examples=12)
@given(crm=st.just(VALID_CSV) | damaged(VALID_CSV) | csv_exports(), out_exists=st.booleans())
def test_a_match_report_that_fails_leaves_its_out_folder_as_it_was(crm: bytes, out_exists: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        accounts = root / "accounts.csv"
        accounts.write_bytes(crm)
        out = root / "report"
        if out_exists:  # a previous report, which only a successful run may replace
            out.mkdir()
            (out / "summary.md").write_text("the previous report\n", encoding="utf-8")
        before = files_in(root)
        args = [
            "match-report",
            "--crm",
            str(accounts),
            "--out",
            str(out),
            "--quiet",
            "--jobs",
            "1",
            "--replace",
        ]
        with no_hang():
            result = runner.invoke(app, args)
        assert result.exit_code in (0, 2), result.output
        assert isinstance(result.exception, SystemExit | None), result.exception
        if result.exit_code == 0:
            statistics_label("report written")
            assert (out / "pairs.csv").is_file()
        else:
            statistics_label("refused")
            assert f"error: {accounts}" in " ".join(result.output.split()), result.output
            assert files_in(root) == before  # no report, no staging folder, the old report untouched
        assert sorted(p.name for p in root.iterdir()) == sorted(
            ["accounts.csv", *(["report"] if out.exists() else [])]
        )
