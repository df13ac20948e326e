"""Reading exports saved as Excel workbooks (.xlsx, .xls): typed cells read as their CSV would be."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import msoffcrypto.format.ooxml
import openpyxl
import pytest
import xlwt
from typer.testing import CliRunner, Result

from sync_guard.cli import app
from sync_guard.exports.reader import ExportError, read_export, read_header
from sync_guard.exports.workbook import cell_text, column_letter, serial_date_text
from sync_guard.models.records import System

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "exports"

Cell = str | int | float | bool | datetime | date | None


def xlsx(path: Path, *sheets: tuple[str, list[list[Cell]]], hidden: tuple[str, ...] = ()) -> Path:
    """A workbook with the given sheets (name, rows from A1), as Excel keeps typed cells."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if name in hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return path


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


BOOKS_HEADER = [
    "Contact ID",
    "Display Name",
    "Outstanding Receivable Amount",
    "Created Time",
    "Has Transactions",
    "CRM Account ID",
    "Phone",
]


def test_typed_cells_read_as_the_same_export_saved_as_csv(tmp_path: Path) -> None:
    # given: the cells Excel holds after opening a Books export (numbers, times, booleans), and the
    # text the same export holds as CSV
    typed: list[list[Cell]] = [
        BOOKS_HEADER,
        [460000000000001.0, "Acme Ltd", 1250.5, datetime(2017, 3, 15, 9, 0), True, "4876000000101001", None],
        [460000000000002, "Beta Ltd", -20.0, date(2018, 6, 1), False, None, "020 7946 0000"],
        [460000000000003, "Gamma Ltd", 0, None, None],  # its last cells empty
    ]
    as_text = [
        BOOKS_HEADER,
        ["460000000000001", "Acme Ltd", "1250.50", "2017-03-15 09:00:00", "true", "4876000000101001", ""],
        ["460000000000002", "Beta Ltd", "-20", "2018-06-01", "false", "", "020 7946 0000"],
        ["460000000000003", "Gamma Ltd", "0", "", "", "", ""],
    ]
    # when
    from_workbook = read_export(xlsx(tmp_path / "customers.xlsx", ("Customers", typed)), System.BOOKS)
    from_csv = read_export(write_csv(tmp_path / "customers.csv", as_text), System.BOOKS)
    # then
    assert from_workbook.records == from_csv.records
    acme, beta, gamma = from_workbook.records
    assert (acme.record_id, acme.linked_crm_id) == ("460000000000001", "4876000000101001")
    assert acme.created_at == datetime(2017, 3, 15, 9, 0)
    assert (acme.outstanding, acme.has_transactions) == (Decimal("1250.5"), True)
    assert (beta.created_at, beta.outstanding, beta.has_transactions) == (datetime(2018, 6, 1), -20, False)
    assert (gamma.outstanding, gamma.has_transactions, gamma.created_at) == (0, None, None)
    assert from_workbook.sheet == "Customers"
    assert from_workbook.warnings == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (460000000000001.0, "460000000000001"),
        (12.5, "12.5"),
        (0.1 + 0.2, "0.3"),  # a spreadsheet's 15 digits, not the float's 17
        (True, "TRUE"),
        (False, "FALSE"),
        (None, ""),
        (datetime(2017, 3, 15, 9, 30, 5), "2017-03-15 09:30:05"),
        (date(1983, 5, 19), "1983-05-19"),
        (4876000000101001.0, "4.876000000101e+15"),
    ],
)
def test_a_cell_is_written_as_its_csv_would_hold_it(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_columns_are_named_as_a_spreadsheet_names_them() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]


@pytest.mark.parametrize(("column", "field"), [("Contact ID", "id"), ("CRM Account ID", "linked crm id")])
def test_an_id_stored_as_a_long_number_is_refused_naming_sheet_row_and_cell(
    tmp_path: Path, column: str, field: str
) -> None:
    header = ["Display Name", "Contact ID", "CRM Account ID"]
    rows: list[list[Cell]] = [header, ["Acme", "460000000000001", "4876000000101001"]]
    # Excel keeps 15 digits: 4876000000101001 typed into a cell becomes 4876000000101000
    rows.append(["Beta", "460000000000002", "4876000000101002"])
    rows[2][header.index(column)] = 4876000000101000.0
    path = xlsx(tmp_path / "customers.xlsx", ("Sheet1", rows))
    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)
    letter = "B" if column == "Contact ID" else "C"
    assert caught.value.message.startswith(
        f"{path}, sheet 'Sheet1', row 3: '{column}' (cell {letter}3) is the number 4.876000000101e+15"
    )
    assert f"this {field}'s last digits are lost" in caught.value.message


def test_an_id_the_spreadsheet_wrote_as_scientific_text_is_refused_as_in_a_csv(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [["Record Id", "Account Name"], ["4.6E+14", "Acme"]]
    path = xlsx(tmp_path / "accounts.xlsx", ("Accounts", rows))
    with pytest.raises(ExportError, match=r"sheet 'Accounts', row 2: 'Record Id' is '4.6E\+14'"):
        read_export(path, System.CRM)


def test_warnings_name_the_sheet_and_the_row(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [
        ["Contact ID", "Display Name", "Outstanding Receivable Amount"],
        [1, "Acme", "lots"],
    ]
    export = read_export(xlsx(tmp_path / "c.xlsx", ("Customers", rows)), System.BOOKS)
    assert export.warnings == [
        f"{tmp_path / 'c.xlsx'}, sheet 'Customers', row 2: outstanding amount 'lots' not understood, ignored"
    ]


def test_rows_keep_their_numbers_when_the_header_is_not_on_the_first_row(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [[], [None, "Record Id", "Account Name"], [None, 1, "Acme"], [None, 1, "Acme"]]
    path = xlsx(tmp_path / "accounts.xlsx", ("Accounts", rows))
    assert read_header(path) == ["", "Record Id", "Account Name"]
    again = r"sheet 'Accounts', row 4: id '1' appears again \(first at row 3\)"
    with pytest.raises(ExportError, match=again):
        read_export(path, System.CRM)


def test_the_first_visible_sheet_is_read_and_the_others_named_in_a_warning(tmp_path: Path) -> None:
    customers: list[list[Cell]] = [["Contact ID", "Display Name"], [1, "Acme"]]
    path = xlsx(
        tmp_path / "c.xlsx",
        ("Old", [["Contact ID", "Display Name"], [9, "Hidden Ltd"]]),
        ("Customers", customers),
        ("Notes", [["checked by finance"]]),
        hidden=("Old",),
    )
    export = read_export(path, System.BOOKS)
    assert [r.name for r in export.records] == ["Acme"]
    assert export.sheet == "Customers"
    [warning] = export.warnings
    assert "the workbook has 2 sheets; the first, 'Customers', is read and 'Notes' left aside" in warning


def test_a_map_override_and_the_system_check_apply_to_a_workbook(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [["Record Id", "Trading Name"], [1, "Acme"]]
    path = xlsx(tmp_path / "a.xlsx", ("Accounts", rows))
    [record] = read_export(path, System.CRM, {"Trading Name": "name"}).records
    assert record.name == "Acme"
    with pytest.raises(ExportError, match=r"a\.xlsx, sheet 'Accounts', row 1: no name column"):
        read_export(path, System.CRM)
    books = xlsx(tmp_path / "b.xlsx", ("Sheet1", [["Contact ID", "Display Name"], [1, "Acme"]]))
    with pytest.raises(ExportError, match=r"sheet 'Sheet1', row 1: this is a Zoho Books customers export"):
        read_export(books, System.CRM)


def test_a_workbook_saved_under_a_csv_name_is_read_as_a_workbook(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "customers.csv", ("Customers", [["Contact ID", "Display Name"], [7, "Acme"]]))
    [record] = read_export(path, System.BOOKS).records
    assert (record.record_id, record.name) == ("7", "Acme")


def test_an_excel_97_workbook_is_read(tmp_path: Path) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Customers")
    for column, header in enumerate(["Contact ID", "Display Name", "Created Time", "Has Transactions"]):
        sheet.write(0, column, header)
    sheet.write(1, 0, 460000000000001)
    sheet.write(1, 1, "Acme Ltd")
    sheet.write(1, 2, datetime(2017, 3, 15, 9, 0), xlwt.easyxf(num_format_str="DD/MM/YYYY HH:MM"))
    sheet.write(1, 3, True)
    path = tmp_path / "customers.xls"
    book.save(str(path))
    [record] = read_export(path, System.BOOKS).records
    assert (record.record_id, record.created_at, record.has_transactions) == (
        "460000000000001",
        datetime(2017, 3, 15, 9, 0),
        True,
    )


def test_a_password_protected_workbook_is_a_clear_error(tmp_path: Path) -> None:
    plain = xlsx(tmp_path / "plain.xlsx", ("Customers", [["Contact ID", "Display Name"], [1, "Acme"]]))
    encrypted = io.BytesIO()
    with plain.open("rb") as handle:
        msoffcrypto.format.ooxml.OOXMLFile(handle).encrypt("finance", encrypted)
    path = tmp_path / "customers.xlsx"
    path.write_bytes(encrypted.getvalue())
    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)
    assert caught.value.message == f"{path}: the workbook is password-protected: save it without a password"


def test_a_damaged_workbook_is_a_clear_error(tmp_path: Path) -> None:
    whole = xlsx(tmp_path / "whole.xlsx", ("Customers", [["Contact ID", "Display Name"], [1, "Acme"]]))
    path = tmp_path / "customers.xlsx"
    path.write_bytes(whole.read_bytes()[:600])  # a download cut short
    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)
    assert caught.value.message.startswith(
        f"{path}: this looks like a workbook (xlsx, xls, ods), but cannot be read as one"
    )


def test_an_excel_97_workbook_cut_short_is_a_clear_error(tmp_path: Path) -> None:
    # Found by fuzzing: on such a file python-calamine's Rust code panics ("slice index starts at 4096
    # but ends at 3584"), which escaped as a PanicException, not even an Exception.
    book = xlwt.Workbook()
    sheet = book.add_sheet("Customers")
    for column, value in enumerate(["Contact ID", "Display Name"]):
        sheet.write(0, column, value)
    whole = io.BytesIO()
    book.save(whole)
    path = tmp_path / "customers.xls"
    path.write_bytes(whole.getvalue()[:4096])  # a download cut short
    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)
    assert caught.value.message == (
        f"{path}: this looks like a workbook (xlsx, xls, ods), but cannot be read as one "
        "(is it damaged, or cut short?)"
    )


def test_an_excel_97_file_without_its_workbook_stream_is_refused_before_calamine_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by fuzzing: a damaged xls in which olefile finds no workbook made python-calamine ask for
    # 4 GiB and the process abort. Here the stream's entry in the file's directory is renamed.
    book = xlwt.Workbook()
    book.add_sheet("Customers").write(0, 0, "Contact ID")
    whole = io.BytesIO()
    book.save(whole)
    entry = "Workbook".encode("utf-16-le")
    assert whole.getvalue().count(entry) == 1
    path = tmp_path / "customers.xls"
    path.write_bytes(whole.getvalue().replace(entry, "Wordbook".encode("utf-16-le")))
    import python_calamine

    def not_reached(*_: object) -> None:
        raise AssertionError("python-calamine was given a file with no workbook")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", not_reached)
    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)
    assert caught.value.message == (
        f"{path}: this starts as an Excel 97 workbook does, but holds no workbook (is it damaged, or "
        "another Office document?)"
    )


def test_an_empty_sheet_is_a_clear_error(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "c.xlsx", ("Customers", []))
    empty = r"c\.xlsx, sheet 'Customers': the sheet is empty \(no header row\)"
    with pytest.raises(ExportError, match=empty):
        read_export(path, System.BOOKS)


def test_a_cell_right_of_the_header_is_a_clear_error(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [["Contact ID", "Display Name"], [1, "Acme"], [2, "Beta", "call back"]]
    path = xlsx(tmp_path / "c.xlsx", ("Customers", rows))
    with pytest.raises(
        ExportError, match=r"row 3: cell C3 holds 'call back', right of the header's last column \(B\)"
    ):
        read_export(path, System.BOOKS)


# Leading zeros a spreadsheet dropped, in a workbook's number cells and in a CSV saved from one.
ZERO_HEADER = ["Contact ID", "Display Name", "Billing Code", "Billing Country", "Phone"]


def test_a_us_zip_code_and_a_phone_number_get_their_leading_zeros_back_in_a_workbook(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [
        ZERO_HEADER,
        [1, "Acme Inc", 2134, "United States", 2125551234],
        [2, "Rossi SpA", 20121, "Italy", 212345678],  # Milan's 02 1234 5678
        [3, "Acme Ltd", 2134, "United Kingdom", 2079460000],  # no US ZIP; libphonenumber reads it as is
    ]
    export = read_export(xlsx(tmp_path / "c.xlsx", ("Customers", rows)), System.BOOKS)
    acme_inc, rossi, acme_ltd = export.records
    assert (acme_inc.postcode, acme_inc.phone) == ("02134", "2125551234")
    assert (rossi.postcode, rossi.phone) == ("20121", "0212345678")
    assert (acme_ltd.postcode, acme_ltd.phone) == ("2134", "2079460000")
    assert export.warnings == [
        f"{tmp_path / 'c.xlsx'}, sheet 'Customers': 1 US ZIP code(s) and 1 phone number(s) had lost their "
        "leading zeros, as a spreadsheet drops them from a column it takes for numbers (2134 for ZIP "
        "02134): put back"
    ]


def test_a_csv_saved_from_a_spreadsheet_gets_its_zeros_back_by_the_default_region(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        [
            ["Contact ID", "Display Name", "Billing Code", "Billing Country", "Phone"],
            ["1", "Acme Inc", "501", "", "2125551234"],
            ["2", "Beta", "12345", "", ""],
            ["3", "Rossi SpA", "20121", "Italy", "212345678"],
            ["4", "Verdi Srl", "", "Italy", "+39 02 1234 5678"],  # written in full: left alone
        ],
    )
    us = read_export(path, System.BOOKS, default_region="US")
    assert [(r.postcode, r.phone) for r in us.records] == [
        ("00501", "2125551234"),
        ("12345", None),
        ("20121", "0212345678"),
        (None, "+39 02 1234 5678"),
    ]
    assert us.warnings == [
        f"{path}: 1 US ZIP code(s) and 1 phone number(s) had lost their leading zeros, as a spreadsheet "
        "drops them from a column it takes for numbers (2134 for ZIP 02134): put back"
    ]
    gb = read_export(path, System.BOOKS, default_region="GB")  # the Italian row's country still says
    assert [(r.postcode, r.phone) for r in gb.records][:3] == [
        ("501", "2125551234"),
        ("12345", None),
        ("20121", "0212345678"),
    ]
    [warning] = gb.warnings
    assert warning.startswith(f"{path}: 1 phone number(s) had lost their leading zeros")


def test_match_report_reads_a_books_workbook_as_it_reads_the_csv(tmp_path: Path) -> None:
    # given: the Books fixture as Excel holds it once opened (ids, amounts as numbers; times as dates)
    with (FIXTURES / "books_customers.csv").open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    typed: list[list[Cell]] = [list(header)]
    for row in rows:
        cells: list[Cell] = []
        for column, text in zip(header, row, strict=True):
            if column in {"Contact ID", "Outstanding Receivable Amount"}:
                cells.append(float(text))
            elif column == "Created Time" and text:
                cells.append(datetime.fromisoformat(text))
            else:
                cells.append(text or None)
        typed.append(cells)
    workbook = xlsx(tmp_path / "customers.xlsx", ("Customers", typed))
    runner = CliRunner()

    def pairs(books: Path, out: Path) -> str:
        args = ["--crm", str(FIXTURES / "crm_accounts.csv"), "--books", str(books), "--out", str(out)]
        result = runner.invoke(app, ["match-report", *args, "--quiet"])
        assert result.exit_code == 0, result.output
        return (out / "pairs.csv").read_text(encoding="utf-8")

    # when
    from_workbook = pairs(workbook, tmp_path / "from-workbook")
    from_csv = pairs(FIXTURES / "books_customers.csv", tmp_path / "from-csv")
    # then
    assert from_workbook == from_csv
    assert from_workbook.count("\n") > 2  # pairs were found, not two empty reports


def test_the_workbook_library_is_loaded_only_to_read_a_workbook(tmp_path: Path) -> None:
    # A fresh interpreter: this test process has read workbooks already.
    workbook = xlsx(tmp_path / "c.xlsx", ("Customers", [["Contact ID", "Display Name"], [1, "Acme"]]))
    probe = (
        "import sys; from pathlib import Path; from sync_guard.exports.reader import read_export; "
        "from sync_guard.models.records import System; "
        f"read_export(Path({str(FIXTURES / 'books_customers.csv')!r}), System.BOOKS); "
        "print('python_calamine' in sys.modules, end=' '); "
        f"read_export(Path({str(workbook)!r}), System.BOOKS); print('python_calamine' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False True"


def test_match_report_puts_zip_codes_back_by_its_region(tmp_path: Path) -> None:
    books = write_csv(
        tmp_path / "customers.csv",
        [["Contact ID", "Display Name", "Billing Code"], ["1", "Acme Inc", "2134"], ["2", "Beta Inc", "501"]],
    )
    runner = CliRunner()
    for region, out in (("US", tmp_path / "us"), ("GB", tmp_path / "gb")):
        result = runner.invoke(
            app, ["match-report", "--books", str(books), "--region", region, "--out", str(out), "--quiet"]
        )
        assert result.exit_code == 0, result.output
    assert "2 US ZIP code(s) had lost their leading zeros" in (tmp_path / "us" / "summary.md").read_text()
    assert "leading zeros" not in (tmp_path / "gb" / "summary.md").read_text()


# Choosing the sheet: --crm-sheet / --books-sheet (one option per export: each file names its own).
# A terminal wide enough that the error panel does not break a long path in two.
WIDE = {"COLUMNS": "1000"}


def said(result: Result) -> str:
    """A command's output as one line: the error panel wraps its message at the terminal's width."""
    return " ".join(result.output.replace("\u2502", " ").split())


def two_sheet_workbook(path: Path) -> Path:
    """One workbook holding both exports, the Books sheet first, and a hidden sheet of old accounts."""
    return xlsx(
        path,
        ("Customers", [["Contact ID", "Display Name"], [460000000000001, "Acme Limited"]]),
        ("Accounts", [["Record Id", "Account Name"], ["5725767000000000001", "Acme Ltd"]]),
        ("Old accounts", [["Record Id", "Account Name"], ["5725767000000000009", "Gone Ltd"]]),
        hidden=("Old accounts",),
    )


def test_the_sheet_named_is_read_wherever_it_stands_and_whatever_its_case(tmp_path: Path) -> None:
    path = two_sheet_workbook(tmp_path / "exports.xlsx")

    accounts = read_export(path, System.CRM, sheet="accounts")
    hidden = read_export(path, System.CRM, sheet="Old accounts")  # named, so read though hidden

    assert (accounts.sheet, [r.name for r in accounts.records]) == ("Accounts", ["Acme Ltd"])
    assert accounts.warnings == []  # no warning about the sheets left aside: the user chose
    assert [r.name for r in hidden.records] == ["Gone Ltd"]
    assert read_header(path, "Accounts") == ["Record Id", "Account Name"]


def test_a_sheet_the_workbook_lacks_is_an_error_listing_its_sheets(tmp_path: Path) -> None:
    path = two_sheet_workbook(tmp_path / "exports.xlsx")
    with pytest.raises(ExportError) as caught:
        read_export(path, System.CRM, sheet="Acounts")
    assert caught.value.message == (
        f"{path}: the workbook has no sheet 'Acounts'; its sheets: 'Customers', 'Accounts', "
        "'Old accounts' (hidden)"
    )


def test_a_sheet_asked_of_a_csv_file_is_an_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [["Contact ID", "Display Name"], ["1", "Acme"]])
    with pytest.raises(ExportError, match=r"c\.csv: sheet 'Customers' asked for, but this is a CSV file"):
        read_export(path, System.BOOKS, sheet="Customers")


def test_match_report_reads_each_export_from_its_own_sheet_of_one_workbook(tmp_path: Path) -> None:
    path = two_sheet_workbook(tmp_path / "exports.xlsx")
    args = ["--crm", str(path), "--crm-sheet", "Accounts", "--books", str(path), "--books-sheet", "Customers"]

    result = CliRunner().invoke(app, ["match-report", *args, "--out", str(tmp_path / "out"), "--quiet"])

    assert result.exit_code == 0, result.output
    pairs = (tmp_path / "out" / "pairs.csv").read_text(encoding="utf-8")
    assert "5725767000000000001" in pairs
    assert "460000000000001" in pairs


def test_the_summary_names_the_sheet_each_export_was_read_from(tmp_path: Path) -> None:
    # given: the CRM export as a sheet of a workbook (named in another case), the Books export as CSV
    path = two_sheet_workbook(tmp_path / "exports.xlsx")
    books = write_csv(tmp_path / "books.csv", [["Contact ID", "Display Name"], ["460000000000001", "Acme"]])
    args = ["--crm", str(path), "--crm-sheet", "accounts", "--books", str(books)]
    # when
    result = CliRunner().invoke(app, ["match-report", *args, "--out", str(tmp_path / "out"), "--quiet"])
    # then: the sheet as the workbook names it; a CSV file has none
    assert result.exit_code == 0, result.output
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "from CRM export `exports.xlsx`, sheet 'Accounts' and Books export `books.csv`: 1 CRM" in summary


def test_an_empty_sheet_is_named_in_the_warning_that_it_holds_no_records(tmp_path: Path) -> None:
    sheets = (("Notes", [["x"]]), ("Customers", [["Contact ID", "Display Name"]]))
    path = xlsx(tmp_path / "exports.xlsx", *sheets)
    args = ["--books", str(path), "--books-sheet", "Customers", "--out", str(tmp_path / "out"), "--quiet"]

    result = CliRunner().invoke(app, ["match-report", *args])

    assert result.exit_code == 0, result.output
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert f"{path}, sheet 'Customers' holds no records, only its header" in summary


def test_match_report_maps_a_column_in_the_sheet_named(tmp_path: Path) -> None:
    # --map with two exports looks for its column in each export's header: the sheet's, not the first one's
    path = xlsx(
        tmp_path / "exports.xlsx",
        ("Notes", [["checked by finance"]]),
        ("Accounts", [["Record Id", "Trading Name"], ["5725767000000000001", "Acme Ltd"]]),
    )
    books = write_csv(tmp_path / "c.csv", [["Contact ID", "Display Name"], ["460000000000001", "Acme Ltd"]])
    args = [
        "--crm",
        str(path),
        "--crm-sheet",
        "Accounts",
        "--books",
        str(books),
        "--map",
        "Trading Name=name",
    ]

    result = CliRunner().invoke(app, ["match-report", *args, "--out", str(tmp_path / "out"), "--quiet"])

    assert result.exit_code == 0, result.output
    assert "5725767000000000001" in (tmp_path / "out" / "pairs.csv").read_text(encoding="utf-8")


def test_match_report_names_the_file_and_its_sheets_when_the_sheet_is_not_there(tmp_path: Path) -> None:
    path = two_sheet_workbook(tmp_path / "exports.xlsx")
    args = ["--books", str(path), "--books-sheet", "Clients", "--out", str(tmp_path / "out")]

    result = CliRunner().invoke(app, ["match-report", *args])

    assert result.exit_code == 2
    assert "exports.xlsx: the workbook has no sheet 'Clients'; its sheets: 'Customers'," in said(result)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["match-report", "seed", "preflight"])
def test_a_sheet_option_with_a_csv_export_is_refused_naming_the_option(tmp_path: Path, command: str) -> None:
    crm = write_csv(
        tmp_path / "accounts.csv", [["Record Id", "Account Name"], ["5725767000000000001", "Acme"]]
    )
    books = write_csv(
        tmp_path / "customers.csv", [["Contact ID", "Display Name"], ["460000000000001", "Acme"]]
    )
    files = {
        "match-report": ["--crm", str(crm), "--books", str(books), "--out", str(tmp_path / "out")],
        "seed": ["--crm", str(crm), "--books", str(books), "--dry-run"],
        "preflight": ["--crm-export", str(crm), "--books-export", str(books)],
    }[command]

    result = CliRunner().invoke(app, [command, *files, "--crm-sheet", "Accounts"], env=WIDE)

    assert result.exit_code == 2
    assert "Invalid value for --crm-sheet" in said(result)
    assert "accounts.csv is a CSV file, which has no sheets" in said(result)


def test_a_sheet_option_without_its_export_is_refused(tmp_path: Path) -> None:
    books = write_csv(
        tmp_path / "customers.csv", [["Contact ID", "Display Name"], ["460000000000001", "Acme"]]
    )
    args = ["--books", str(books), "--crm-sheet", "Accounts", "--out", str(tmp_path / "out")]

    result = CliRunner().invoke(app, ["match-report", *args], env=WIDE)

    assert result.exit_code == 2
    assert "Invalid value for --crm-sheet: no --crm to read the sheet of" in said(result)


def test_preflight_reads_the_sheets_named_and_names_one_it_cannot_find(tmp_path: Path) -> None:
    path = two_sheet_workbook(tmp_path / "exports.xlsx")
    files = ["--crm-export", str(path), "--books-export", str(path), "--books-sheet", "Customers"]

    read = CliRunner().invoke(app, ["preflight", *files, "--crm-sheet", "Accounts", "--json"])
    missing = CliRunner().invoke(app, ["preflight", *files, "--crm-sheet", "Acounts", "--json"])

    assert read.exit_code == 0, read.output
    assert "Acme" in read.output
    assert missing.exit_code == 2
    assert "the workbook has no sheet 'Acounts'; its sheets: 'Customers', 'Accounts'" in said(missing)


def test_seeding_another_sheet_of_the_same_workbook_is_another_seed(tmp_path: Path) -> None:
    from sync_guard.cli.seed import _digest

    path = two_sheet_workbook(tmp_path / "exports.xlsx")
    assert _digest([(path, "Accounts")]) != _digest([(path, "Old accounts")])
    assert _digest([(path, None)]) == _digest([(path, None)])


# Formulas and error values, in a workbook as Excel saves it (tests/fixtures/make_formula_workbook.py).
FORMULAS = FIXTURES / "formulas.xlsx"


def test_the_formula_workbook_is_what_its_script_writes(tmp_path: Path) -> None:
    script = FIXTURES.parent / "make_formula_workbook.py"
    subprocess.run([sys.executable, str(script), str(tmp_path / "again.xlsx")], check=True)
    with zipfile.ZipFile(FORMULAS) as committed, zipfile.ZipFile(tmp_path / "again.xlsx") as written:
        assert committed.namelist() == written.namelist()
        for name in committed.namelist():
            assert committed.read(name) == written.read(name), name


def test_a_formula_cell_is_read_by_the_value_excel_saved_for_it() -> None:
    acme, beta, *_ = read_export(FORMULAS, System.BOOKS).records
    assert (acme.name, acme.outstanding) == ("Acme Ltd", Decimal("1234.5"))  # =TRIM(...), =1000+234.5
    assert beta.record_id == "460000000000002"  # ="46000000000000"&"2"


def test_error_values_in_fields_that_may_be_empty_are_read_as_empty_with_one_warning() -> None:
    export = read_export(FORMULAS, System.BOOKS)

    values = [str(value) for record in export.records for value in record.model_dump().values()]
    assert not [value for value in values if "#" in value]
    beta, gamma, delta = export.records[1:]
    assert (beta.other_names, beta.email, beta.outstanding) == ((), None, None)
    assert (gamma.other_names, gamma.outstanding, delta.email) == ((), None, None)
    errors = [w for w in export.warnings if "error value" in w]
    # the 6 in columns read; the #REF! in Notes, a column no field reads, is nobody's concern
    assert errors == [
        f"{FORMULAS}, sheet 'Customers': 6 cell(s) hold an error value (#N/A, #REF!, ...) where a value was "
        "read, the first #N/A at row 3, column C ('Company Name'): read as empty"
    ]


@pytest.mark.parametrize(
    ("sheet", "cell", "column", "field"),
    [("Bad id", "A3", "Contact ID", "id"), ("Bad link", "C3", "CRM Account ID", "linked crm id")],
)
def test_an_error_value_in_an_id_column_stops_the_read_naming_sheet_row_and_column(
    sheet: str, cell: str, column: str, field: str
) -> None:
    with pytest.raises(ExportError) as caught:
        read_export(FORMULAS, System.BOOKS, sheet=sheet)
    assert caught.value.message.startswith(
        f"{FORMULAS}, sheet '{sheet}', row 3: '{column}' (cell {cell}) holds the error #N/A, so this "
        f"{field} is not known"
    )


def test_match_report_stops_on_an_error_value_in_an_id_column(tmp_path: Path) -> None:
    args = ["--books", str(FORMULAS), "--books-sheet", "Bad id", "--out", str(tmp_path / "out")]

    result = CliRunner().invoke(app, ["match-report", *args, "--quiet"])

    assert result.exit_code == 2
    assert "sheet 'Bad id', row 3: 'Contact ID' (cell A3) holds the error #N/A" in said(result)


def test_error_cells_are_found_however_the_xml_quotes_their_type(tmp_path: Path) -> None:
    # XML allows single quotes; a writer other than Excel may use them
    path = tmp_path / "single-quoted.xlsx"
    with zipfile.ZipFile(FORMULAS) as committed, zipfile.ZipFile(path, "w") as written:
        for name in committed.namelist():
            written.writestr(name, committed.read(name).replace(b't="e"', b"t='e'"))

    export = read_export(path, System.BOOKS, sheet="Customers")

    assert [w for w in export.warnings if "6 cell(s) hold an error value" in w]


# Dates and amounts a spreadsheet stores as numbers.
def test_a_date_cell_that_lost_its_format_is_read_by_its_serial_number(tmp_path: Path) -> None:
    # given: dates whose cells show their serial numbers (a column formatted General, or values pasted)
    header = ["Contact ID", "Display Name", "Last Modified Time", "Created Time", "Date of Birth"]
    rows: list[list[Cell]] = [
        header,
        [1, "Acme Ltd", 42809.375, 43252, 30455],
        [2, "Beta Ltd", datetime(2017, 3, 15, 9, 0), "2018-06-01", "1983-05-19"],  # as dates, for the same
    ]
    # when
    export = read_export(xlsx(tmp_path / "c.xlsx", ("Customers", rows)), System.BOOKS)
    # then
    acme, beta = export.records
    assert (acme.modified_at, acme.created_at) == (datetime(2017, 3, 15, 9, 0), datetime(2018, 6, 1))
    assert (acme.modified_at, acme.created_at) == (beta.modified_at, beta.created_at)
    assert acme.date_of_birth == beta.date_of_birth == "1983-05-19"
    assert export.warnings == []


def mac_xlsx(path: Path, header: str, value: Cell) -> Path:
    """An old Mac Excel's workbook, its days counted from 1904: one customer, ``value`` under ``header``."""
    book = openpyxl.Workbook()
    book.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    sheet = book.active
    sheet.title = "Customers"
    sheet.append(["Contact ID", "Display Name", header])
    sheet.append([1, "Acme Ltd", value])
    book.save(path)
    return path


def test_serial_numbers_count_from_1904_in_a_workbook_that_says_so(tmp_path: Path) -> None:
    # 1462 days from 1900's count to 1904's
    path = mac_xlsx(tmp_path / "mac.xlsx", "Last Modified Time", 42809.375 - 1462)

    [record] = read_export(path, System.BOOKS).records

    assert record.modified_at == datetime(2017, 3, 15, 9, 0)


def test_amounts_stored_as_numbers_or_as_text_with_a_currency_are_read(tmp_path: Path) -> None:
    # given: a column whose text amounts show a decimal comma ("1.250,50"), beside number cells
    rows: list[list[Cell]] = [
        ["Contact ID", "Display Name", "Outstanding Receivable Amount"],
        [1, "Acme", 1234.5],
        [2, "Beta", 1250.125],  # three decimals: the number, not 1250125
        [3, "Gamma", "1.250,50 €"],
        [4, "Delta", "Rs. 1.234,50"],
        [5, "Epsilon", 0],
        [6, "Zeta", "2.500,00"],
    ]
    # when
    export = read_export(xlsx(tmp_path / "c.xlsx", ("Customers", rows)), System.BOOKS)
    # then
    assert [r.outstanding for r in export.records] == [
        Decimal("1234.5"),
        Decimal("1250.125"),
        Decimal("1250.50"),
        Decimal("1234.50"),
        Decimal(0),
        Decimal("2500.00"),
    ]
    assert export.warnings == []


def test_the_text_amounts_alone_show_a_workbooks_decimal_mark(tmp_path: Path) -> None:
    # given: number cells with decimals (their text has cell_text's dot, whatever the sheet's locale),
    # more of them than the text amounts, which show a decimal comma
    rows: list[list[Cell]] = [
        ["Contact ID", "Display Name", "Outstanding Receivable Amount"],
        [1, "Acme", 1234.5],
        [2, "Beta", 99.5],
        [3, "Gamma", "12.500"],
        [4, "Delta", "1.250,50"],
    ]
    # when
    export = read_export(xlsx(tmp_path / "c.xlsx", ("Customers", rows)), System.BOOKS)
    # then: "12.500" is read as the text amounts show, twelve thousand five hundred
    expected = [Decimal(text) for text in ("1234.5", "99.5", "12500", "1250.50")]
    assert ([r.outstanding for r in export.records], export.warnings) == (expected, [])


def test_a_later_text_amount_shows_a_workbooks_decimal_mark_as_in_a_csv(tmp_path: Path) -> None:
    # given: a number cell, then text amounts that read either way in every row the conventions' pass
    # looks at, then one that shows a decimal comma, and a number cell after it
    late = 20_001
    rows: list[list[Cell]] = [
        ["Contact ID", "Display Name", "Outstanding Receivable Amount"],
        [1, "Acme", 1250.125],
        *([i, f"Acme {i}", "12.500"] for i in range(2, late + 1)),
        [late + 1, "Late Ltd", "1.250,50"],
        [late + 2, "Later Ltd", 1250.125],
    ]
    path = xlsx(tmp_path / "c.xlsx", ("Customers", rows))
    # when
    export = read_export(path, System.BOOKS)
    # then: the text amounts before it read with a decimal comma, with one warning naming its row; the
    # number cells read as the numbers they are
    amounts = [r.outstanding for r in export.records]
    assert [r.record_id for r in export.records] == [str(i) for i in range(1, late + 3)]
    assert (amounts[0], set(amounts[1:-2]), amounts[-2:]) == (
        Decimal("1250.125"),
        {Decimal(12500)},
        [Decimal("1250.50"), Decimal("1250.125")],
    )
    assert export.warnings == [
        f"{path}, sheet 'Customers', row {late + 2}: outstanding amount '1.250,50' shows a decimal comma, "
        "and the file's first 20,000 rows show no amount's mark: the 20000 amounts before it that read "
        "either way (such as '12.500') are read with a decimal comma, not a decimal dot"
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (42809.375, "2017-03-15 09:00:00"),
        (43252.0, "2018-06-01"),
        (1, "1900-01-01"),
        (61, "1900-03-01"),  # past the February 29 that 1900 did not have
        (0, None),
        ("42809", None),  # text stays text
        (True, None),
    ],
)
def test_a_serial_number_is_the_date_a_spreadsheet_means(value: object, text: str | None) -> None:
    assert serial_date_text(value) == text


# Formulas a program saved without their values (openpyxl writes <f>...</f><v />).
def formula_workbook(path: Path, rows: list[list[Cell]]) -> Path:
    """A Books export whose formula cells ("=...") openpyxl saves without values, as a program does."""
    header = ["Contact ID", "Display Name", "Company Name", "Email", "CRM Account ID"]
    return xlsx(path, ("Customers", [header, *rows]))


def test_formulas_with_no_saved_value_are_read_as_empty_with_one_warning_saying_what_to_do(
    tmp_path: Path,
) -> None:
    # given: names and emails computed by formulas that were never computed
    path = formula_workbook(
        tmp_path / "built.xlsx",
        [
            [460000000000001, "Acme Ltd", '=B2&" Limited"', "=LOWER(D3)", "4876000000101001"],
            [460000000000002, "Beta Ltd", None, "=D2", None],
            [460000000000003, '=TRIM(" Gamma ")', None, None, None],
        ],
    )
    # when
    export = read_export(path, System.BOOKS)
    # then: the cells read as empty, as before, and one warning counts them, naming the first
    acme, beta, gamma = export.records
    assert (acme.other_names, acme.email, acme.linked_crm_id) == ((), None, "4876000000101001")
    assert (beta.email, gamma.name) == (None, "")
    assert export.warnings == [
        f"{path}, sheet 'Customers': 4 cell(s) hold a formula with no saved value (a workbook written by a "
        "program, not saved from a spreadsheet) where a value was read, the first at row 2, column C "
        "('Company Name'): read as empty; open the workbook in a spreadsheet program (Excel, LibreOffice) "
        "and save it, so that the values are saved with the formulas, or paste the values over the "
        "formulas, and run this again"
    ]


@pytest.mark.parametrize(("column", "cell", "field"), [(0, "A3", "id"), (4, "E3", "linked crm id")])
def test_a_formula_with_no_saved_value_in_an_id_column_stops_the_read_naming_the_cell(
    tmp_path: Path, column: int, cell: str, field: str
) -> None:
    row: list[Cell] = [460000000000002, "Beta Ltd", None, None, "4876000000101002"]
    row[column] = '="46000000000000"&"2"'
    path = formula_workbook(tmp_path / "built.xlsx", [[460000000000001, "Acme Ltd", None, None, None], row])

    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)

    header = ["Contact ID", "CRM Account ID"][column // 4]
    assert caught.value.message.startswith(
        f"{path}, sheet 'Customers', row 3: '{header}' (cell {cell}) holds a formula with no saved value, "
        f"so this {field} is not known: open the workbook in a spreadsheet program"
    )


def test_formulas_with_saved_values_give_no_such_warning(tmp_path: Path) -> None:
    # given: the formula cells of an openpyxl workbook rewritten as a spreadsheet saves them: with a value,
    # an empty text result (t="str"), a shared formula's other cell with its value; and one without
    path = formula_workbook(
        tmp_path / "built.xlsx",
        [[460000000000001, "=X", "=Y", "=Z", None], [460000000000002, "Beta Ltd", None, "=W", None]],
    )
    saved = tmp_path / "saved.xlsx"
    with zipfile.ZipFile(path) as built, zipfile.ZipFile(saved, "w") as written:
        for name in built.namelist():
            xml = built.read(name)
            if name.startswith("xl/worksheets/"):
                xml = (
                    xml.replace(b"<f>X</f><v />", b"<f>X</f><v>Acme Ltd</v>")
                    .replace(b'<c r="C2"><f>Y</f><v />', b'<c r="C2" t="str"><f>Y</f><v></v>')
                    .replace(b"<f>Z</f><v />", b'<f t="shared" si="0" /><v>acme@example.com</v>')
                    .replace(b"<f>W</f><v />", b'<f t="shared" ref="D3" si="1"/>')
                )
            written.writestr(name, xml)
    with zipfile.ZipFile(saved) as written:
        assert b'<c r="D3"><f t="shared" ref="D3" si="1"/></c>' in written.read("xl/worksheets/sheet1.xml")
    # when
    export = read_export(saved, System.BOOKS)
    # then: only the one left without a value is counted
    acme, _ = export.records
    assert (acme.name, acme.email) == ("Acme Ltd", "acme@example.com")
    assert [w.split(": ", 1)[1][:60] for w in export.warnings] == [
        "1 cell(s) hold a formula with no saved value (a workbook wri"
    ]
    assert "the first at row 3, column D ('Email')" in export.warnings[0]


def test_the_formula_workbook_excel_saved_gives_no_warning_of_unsaved_formulas() -> None:
    export = read_export(FORMULAS, System.BOOKS)
    assert not [w for w in export.warnings if "no saved value" in w]


# An xls workbook's error cells: python-calamine reads them as empty cells, as it does an xlsx's.
XLS_HEADER = ["Contact ID", "Display Name", "Company Name", "Email", "CRM Account ID", "Notes"]
# xlwt writes a formula's saved value as an empty text (type 3); Excel saves a failed one as its error
# (type 2, the error's code, 0xFFFF last): #N/A's code is 0x2A.
XLWT_FORMULA_VALUE = (0xFFFF_0000_0000_0003).to_bytes(8, "little")
NA_FORMULA_VALUE = bytes([2, 0, 0x2A, 0, 0, 0, 0xFF, 0xFF])


def xls(path: Path, sheets: dict[str, list[list[Cell | tuple[str, int] | xlwt.Formula]]]) -> Path:
    """An Excel 97 workbook; a cell ("error", code) holds that error value, ("formula", code) a formula
    whose saved value is that error, an xlwt.Formula that formula as xlwt saves it (its value empty
    text); a workbook holds one kind of formula or the other."""
    book = xlwt.Workbook()
    for name, rows in sheets.items():
        sheet = book.add_sheet(name)
        for number, row in enumerate(rows):
            for column, value in enumerate(row):
                if isinstance(value, tuple) and value[0] == "error":
                    sheet.row(number).set_cell_error(column, value[1])
                elif isinstance(value, tuple):
                    sheet.write(number, column, xlwt.Formula("1/0"))
                elif value is not None:
                    sheet.write(number, column, value)
    book.save(str(path))
    data = path.read_bytes()
    cells = [value for rows in sheets.values() for row in rows for value in row]
    failed = sum(1 for value in cells if value == ("formula", 0x2A))
    as_xlwt_saves = sum(1 for value in cells if isinstance(value, xlwt.Formula))
    assert data.count(XLWT_FORMULA_VALUE) == failed + as_xlwt_saves
    if failed:
        assert not as_xlwt_saves
        path.write_bytes(data.replace(XLWT_FORMULA_VALUE, NA_FORMULA_VALUE))
    return path


def test_an_xls_workbooks_error_cells_are_read_as_empty_with_one_warning(tmp_path: Path) -> None:
    # given: error cells (#N/A, #REF!) and a formula whose saved value is #N/A in columns read, and a
    # #DIV/0! in Notes, which no field reads
    path = xls(
        tmp_path / "customers.xls",
        {
            "Customers": [
                XLS_HEADER,
                ["1", "Acme Ltd", "Acme", "acme@example.com", "4876000000101001", ""],
                ["2", "Beta Ltd", ("error", 0x2A), ("error", 0x17), "", ("error", 0x07)],
                ["3", "Gamma Ltd", "", ("formula", 0x2A), "", ""],
            ]
        },
    )
    # when
    export = read_export(path, System.BOOKS)
    # then
    _, beta, gamma = export.records
    assert (beta.other_names, beta.email, gamma.email) == ((), None, None)
    assert export.warnings == [
        f"{path}, sheet 'Customers': 3 cell(s) hold an error value (#N/A, #REF!, ...) where a value was "
        "read, the first #N/A at row 3, column C ('Company Name'): read as empty"
    ]


@pytest.mark.parametrize(
    ("cell", "column", "field", "value"),
    [
        ("A3", "Contact ID", "id", ("formula", 0x2A)),
        ("E3", "CRM Account ID", "linked crm id", ("error", 0x2A)),
    ],
)
def test_an_error_value_in_an_xls_id_column_stops_the_read_naming_the_cell(
    tmp_path: Path, cell: str, column: str, field: str, value: tuple[str, int]
) -> None:
    row: list[Cell | tuple[str, int]] = ["2", "Beta Ltd", "", "", "", ""]
    row[XLS_HEADER.index(column)] = value
    path = xls(
        tmp_path / "customers.xls", {"Customers": [XLS_HEADER, ["1", "Acme Ltd", "", "", "", ""], row]}
    )

    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)

    assert caught.value.message.startswith(
        f"{path}, sheet 'Customers', row 3: '{column}' (cell {cell}) holds the error #N/A, so this "
        f"{field} is not known"
    )


def test_the_error_cells_of_another_sheet_of_an_xls_workbook_are_not_counted(tmp_path: Path) -> None:
    rows: list[list[Cell | tuple[str, int]]] = [XLS_HEADER, ["1", "Acme Ltd", ("error", 0x2A), "", "", ""]]
    clean: list[list[Cell | tuple[str, int]]] = [XLS_HEADER, ["1", "Acme Ltd", "", "", "", ""]]
    path = xls(tmp_path / "two.xls", {"Clean": clean, "Errors": rows, "Later": clean})

    assert read_export(path, System.BOOKS, sheet="Clean").warnings == []
    assert read_export(path, System.BOOKS, sheet="Later").warnings == []
    assert len(read_export(path, System.BOOKS, sheet="Errors").warnings) == 1


def test_an_xls_workbooks_formulas_saved_as_empty_text_are_counted_in_one_warning(tmp_path: Path) -> None:
    # given: formulas as xlwt saves them, never worked out (their value empty text), in columns read and
    # in Notes, which no field reads
    path = xls(
        tmp_path / "built.xls",
        {
            "Customers": [
                XLS_HEADER,
                ["1", "Acme Ltd", xlwt.Formula('TRIM(" Acme ")'), "acme@example.com", "", ""],
                ["2", "Beta Ltd", "", xlwt.Formula('LOWER("B@EXAMPLE.COM")'), xlwt.Formula('"48"&"76"'), ""],
                ["3", "Gamma Ltd", "", "", "", xlwt.Formula('"note"')],
            ]
        },
    )
    # when
    export = read_export(path, System.BOOKS)
    # then: read as empty, as before, and one warning counts them (a link's "" stops nothing)
    assert [(r.other_names, r.email, r.linked_crm_id) for r in export.records[:2]] == [
        ((), "acme@example.com", None),
        ((), None, None),
    ]
    [warning] = export.warnings
    assert warning == (
        f"{path}, sheet 'Customers': 3 cell(s) hold a formula whose saved value is empty text where a value "
        "was read, the first at row 2, column C ('Company Name'): read as empty. An .xls workbook saves that "
        "both for a formula a spreadsheet worked out as empty and for one a program (such as xlwt) wrote "
        "without working it out: if these cells should hold values, open the workbook in a spreadsheet "
        "program (Excel, LibreOffice) and save it, so that the values are saved with the formulas, or "
        "paste the values over the formulas, and run this again"
    )


def test_an_xls_formula_saved_as_empty_text_in_the_id_column_stops_the_read_naming_the_cell(
    tmp_path: Path,
) -> None:
    row: list[Cell | tuple[str, int] | xlwt.Formula] = [xlwt.Formula('"46"&"2"'), "Beta Ltd", "", "", "", ""]
    path = xls(tmp_path / "built.xls", {"Customers": [XLS_HEADER, ["1", "Acme Ltd", "", "", "", ""], row]})

    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)

    assert caught.value.message.startswith(
        f"{path}, sheet 'Customers', row 3: 'Contact ID' (cell A3) holds a formula whose saved value is "
        "empty text, so this id is not known: open the workbook in a spreadsheet program"
    )


def test_slash_dates_typed_below_a_workbooks_date_cells_are_read_as_a_later_one_shows(tmp_path: Path) -> None:
    # given: date cells (read as ISO times) in every row the conventions' pass looks at, then text cells
    # holding a slash date that reads either way and one that can only be month first
    late = 20_001
    rows: list[list[Cell]] = [
        ["Contact ID", "Display Name", "Created Time"],
        *([i, f"Acme {i}", datetime(2020, 1, 3, 10, 0)] for i in range(1, late + 1)),
        [late + 1, "Late Ltd", "03/04/2020"],
        [late + 2, "Later Ltd", "02/13/2020"],
    ]
    path = xlsx(tmp_path / "c.xlsx", ("Customers", rows))
    # when
    export = read_export(path, System.BOOKS)
    # then: the first read month first, as the second shows, with one warning naming its row
    *_, date_cell, either_way, month_first = (r.created_at for r in export.records)
    assert date_cell == datetime(2020, 1, 3, 10, 0)
    assert (either_way, month_first) == (datetime(2020, 3, 4), datetime(2020, 2, 13))
    [warning] = export.warnings
    assert warning == (
        f"{path}, sheet 'Customers', row {late + 3}: created time '02/13/2020' can only be month first, and "
        "the file's first 20,000 rows show neither order: the 1 created times before it that read either "
        "way (such as '03/04/2020') are read month first, not day first"
    )


# Day numbers written as text in a workbook's time column, as a CSV file holds them.
def test_day_numbers_in_text_cells_are_read_as_their_dates_as_in_a_csv_with_one_warning(
    tmp_path: Path,
) -> None:
    # given: text cells holding day numbers, beside a number cell (a date by its type) and an empty one
    header = ["Contact ID", "Display Name", "Created Time", "Last Modified Time"]
    rows: list[list[Cell]] = [
        header,
        [1, "Acme Ltd", "45292", "45292,5"],
        [2, "Beta Ltd", 43252.375, None],
        [3, "Gamma Ltd", "43252.375", "73415"],
    ]
    path = xlsx(tmp_path / "customers.xlsx", ("Customers", rows))
    # when
    export = read_export(path, System.BOOKS)
    # then: the dates they stand for, as the same values in a CSV file
    acme, beta, gamma = export.records
    assert (acme.created_at, acme.modified_at) == (datetime(2024, 1, 1), datetime(2024, 1, 1, 12, 0))
    assert beta.created_at == gamma.created_at == datetime(2018, 6, 1, 9, 0)
    assert gamma.modified_at == datetime(2100, 12, 31)
    as_csv = write_csv(tmp_path / "customers.csv", [[cell_text(value) for value in row] for row in rows])
    in_csv = read_export(as_csv, System.BOOKS).records
    assert [(r.created_at, r.modified_at) for r in in_csv] == [
        (r.created_at, r.modified_at) for r in export.records
    ]
    assert export.warnings == [
        f"{path}, sheet 'Customers': the {name} column holds spreadsheet date numbers as text ('{example}' "
        f"is {day}), as a spreadsheet saves a date column formatted General: read as the dates they stand "
        "for (counted from 1900)"
        for name, example, day in (
            ("modified", "45292,5", "2024-01-01 12:00:00"),
            ("created", "45292", "2024-01-01"),
        )
    ]


def test_day_numbers_in_text_cells_beside_a_date_cell_are_not_understood_as_in_a_csv(tmp_path: Path) -> None:
    rows: list[list[Cell]] = [
        ["Contact ID", "Display Name", "Created Time"],
        [1, "Acme Ltd", "45292"],
        [2, "Beta Ltd", datetime(2018, 6, 1, 9, 0)],
    ]
    path = xlsx(tmp_path / "customers.xlsx", ("Customers", rows))

    export = read_export(path, System.BOOKS)

    assert [record.created_at for record in export.records] == [None, datetime(2018, 6, 1, 9, 0)]
    assert export.warnings == [
        f"{path}, sheet 'Customers', row 2: created time '45292' not understood, ignored"
    ]


def test_day_numbers_in_text_cells_count_from_1904_in_a_workbook_that_says_so(tmp_path: Path) -> None:
    # as the number cell of the 1904 test
    path = mac_xlsx(tmp_path / "mac.xlsx", "Last Modified Time", str(42809.375 - 1462))

    export = read_export(path, System.BOOKS)

    assert export.records[0].modified_at == datetime(2017, 3, 15, 9, 0)
    assert export.warnings[0].endswith("(counted from 1904)")


def test_day_numbers_in_text_cells_of_1990_count_from_1904_too(tmp_path: Path) -> None:
    # given: 1990-06-01 counted from 1904 is day 31,564, under 1900's count of 1990's first day
    day = str((date(1990, 6, 1) - date(1904, 1, 1)).days)
    path = mac_xlsx(tmp_path / "mac.xlsx", "Created Time", day)
    # when
    [record] = read_export(path, System.BOOKS).records
    # then
    assert record.created_at == datetime(1990, 6, 1)


def test_serial_numbers_count_from_1904_in_an_xls_workbook_that_says_so(tmp_path: Path) -> None:
    # given: an old Mac Excel's xls, its dates counted from 1904, a date left as a number cell
    book = xlwt.Workbook()
    book.dates_1904 = True
    sheet = book.add_sheet("Customers")
    for column, header in enumerate(["Contact ID", "Display Name", "Last Modified Time"]):
        sheet.write(0, column, header)
    sheet.write(1, 0, 1)
    sheet.write(1, 1, "Acme Ltd")
    sheet.write(1, 2, 42809.375 - 1462)  # 1462 days from 1900's count to 1904's
    path = tmp_path / "mac.xls"
    book.save(str(path))
    # when
    [record] = read_export(path, System.BOOKS).records
    # then
    assert record.modified_at == datetime(2017, 3, 15, 9, 0)


def test_an_xls_row_of_formulas_saved_as_empty_text_is_a_blank_row_passed_over(tmp_path: Path) -> None:
    # given: the formulas of a sheet filled down past its data, which a spreadsheet worked out as ""
    # (IF(Sheet2!A4="","",Sheet2!A4)): a row that shows nothing, as an xls saves it
    filled_down: list[Cell | tuple[str, int] | xlwt.Formula] = [xlwt.Formula('""') for _ in XLS_HEADER]
    path = xls(
        tmp_path / "filled.xls",
        {"Customers": [XLS_HEADER, ["1", "Acme Ltd", "", "", "", ""], filled_down, filled_down]},
    )
    # when
    export = read_export(path, System.BOOKS)
    # then: the blank rows are passed over, as a CSV's are: no stop naming an id, nothing counted
    assert [record.record_id for record in export.records] == ["1"]
    assert export.warnings == []
