"""Reading Zoho exports, and writing the report all at once or not at all."""

from __future__ import annotations

import codecs
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from sync_guard.exports.columns import normalise_header
from sync_guard.exports.reader import ExportError, ExportFile, read_export, read_header
from sync_guard.exports.report import output
from sync_guard.exports.report.build import build_report
from sync_guard.exports.report.output import OutputExists, write_report
from sync_guard.models.records import Module, PartyRecord, RecordKind, System


def write(tmp_path: Path, text: str, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_headers_are_matched_whatever_their_case_and_punctuation() -> None:
    assert normalise_header("Billing_Code") == normalise_header(" billing code ") == "billing code"
    assert normalise_header("\ufeffRecord Id") == "record id"


def test_books_display_name_is_the_name_and_a_different_company_name_another(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Company Name,Contact ID,Display Name\nAcme Ltd,1,Acme Widgets (Bristol)\nBeta Ltd,2,BETA LTD\n",
    )
    first, second = read_export(path, System.BOOKS).records
    assert first.name == "Acme Widgets (Bristol)"
    assert first.other_names == ("Acme Ltd",)
    assert first.module is Module.BOOKS_CUSTOMERS
    assert (second.name, second.other_names) == ("BETA LTD", ())  # the same name, differently cased


def test_a_company_name_alone_is_the_name(tmp_path: Path) -> None:
    [record] = read_export(write(tmp_path, "Contact ID,Company Name\n1,Acme Ltd\n"), System.BOOKS).records
    assert (record.name, record.other_names) == ("Acme Ltd", ())


def test_books_individuals_are_people_and_money_means_transactions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Contact ID,Display Name,First Name,Last Name,Customer Sub Type,Outstanding Receivable Amount\n"
        '7,Jane Smith,Jane,Smith,individual,"1,250.50"\n',
    )
    [record] = read_export(path, System.BOOKS).records
    assert record.kind is RecordKind.PERSON
    assert record.outstanding == Decimal("1250.50")
    assert record.has_transactions is True


def test_vendor_rows_of_a_contacts_export_are_left_out_and_counted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Contact ID,Display Name,Contact Type\n"
        "1,Acme Ltd,customer\n2,Acme Ltd (supplier),Vendor\n3,Beta Ltd,\n",
    )
    export = read_export(path, System.BOOKS)
    assert [r.record_id for r in export.records] == ["1", "3"]
    assert any("1 vendor row(s) left out" in w for w in export.warnings)


def test_crm_contacts_export_is_read_as_people_not_as_their_account(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Record Id,First Name,Last Name,Account Name,Date of Birth\nc1,Jane,Smith,Acme Ltd,19/05/1983\n",
    )
    [record] = read_export(path, System.CRM).records
    assert record.module is Module.CRM_CONTACTS
    assert record.kind is RecordKind.PERSON
    assert record.name == "Jane Smith"
    assert record.date_of_birth == "19/05/1983"


def test_a_byte_order_mark_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffRecord Id,Account Name\r\nz1,Acme Ltd\r\n\r\n".encode())
    export = read_export(path, System.CRM)
    assert [r.record_id for r in export.records] == ["z1"]
    assert export.columns == {"id": "Record Id", "name": "Account Name"}


def test_a_spreadsheet_saved_with_semicolons_and_decimal_commas_is_read(tmp_path: Path) -> None:
    # Opened in a spreadsheet and saved again in a European locale.
    path = write(
        tmp_path, 'Contact ID;Display Name;Outstanding Receivable Amount\n1;"Acme; Widgets Ltd";1.250,50\n'
    )
    [record] = read_export(path, System.BOOKS).records
    assert (record.name, record.outstanding) == ("Acme; Widgets Ltd", Decimal("1250.50"))


def test_books_currency_code_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "Contact ID,Display Name,Currency Code\n1,Acme Ltd (USD),USD\n2,Acme Ltd,\n")
    assert [r.currency for r in read_export(path, System.BOOKS).records] == ["USD", None]


def test_tab_separated_text_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "Record Id\tAccount Name\tPhone\nz1\tAcme, Widgets Ltd\t020 7946 0000\n")
    [record] = read_export(path, System.CRM).records
    assert (record.name, record.phone) == ("Acme, Widgets Ltd", "020 7946 0000")


@pytest.mark.parametrize(
    ("written", "amount"),
    [
        ("1,250.50", "1250.50"),
        ("£1,234,567.89", "1234567.89"),
        ("1.250,50", "1250.50"),
        ("12,50", "12.50"),
        ("1,250", "1250"),  # a comma before three digits separates thousands
        ("1.250.000", "1250000"),
        ("0,00", "0.00"),
        # Accounting formats: negatives in brackets or with the minus last, a zero as a dash.
        ("(1,234.56)", "-1234.56"),
        ("$ (1,234.56)", "-1234.56"),
        ("1,234.56-", "-1234.56"),
        ("£ -", "0"),
        # A currency's symbol or code, before or after; an abbreviation's dot is no decimal mark.
        ("USD 1,234.50", "1234.50"),
        ("Rs. 1,234.50", "1234.50"),
        ("Rs.1,234.50", "1234.50"),
        ("1,234.50 Rs.", "1234.50"),
        ("kr. 1.234,50", "1234.50"),
    ],
)
def test_amounts_are_read_with_either_decimal_mark(tmp_path: Path, written: str, amount: str) -> None:
    text = f'Contact ID,Display Name,Outstanding Receivable Amount\n1,Acme,"{written}"\n'
    assert amounts_read(tmp_path, text) == [Decimal(amount)]


def amounts_read(tmp_path: Path, text: str) -> list[Decimal | None]:
    """The outstanding amounts of a Books export, in file order."""
    return [r.outstanding for r in read_export(write(tmp_path, text), System.BOOKS).records]


def test_has_transactions_as_a_spreadsheet_saves_it_again_or_as_an_amount(tmp_path: Path) -> None:
    # German Excel saves TRUE/FALSE as WAHR/FALSCH, French as VRAI/FAUX; --map may point it at an amount.
    rows = ["WAHR", "FAUX", "1.234,56", "0,00", "maybe"]
    body = "".join(f"{n};Acme {n};{flag}\n" for n, flag in enumerate(rows, start=1))
    export = read_export(write(tmp_path, f"Contact ID;Display Name;Has Transactions\n{body}"), System.BOOKS)
    assert [r.has_transactions for r in export.records] == [True, False, True, False, None]
    assert export.warnings == [f"{export.path}, line 6: has transactions 'maybe' not understood, ignored"]


def test_an_amount_not_understood_is_warned_of(tmp_path: Path) -> None:
    text = "Contact ID,Display Name,Outstanding Receivable Amount\n1,Acme,see notes\n2,Beta,12.50\n"
    export = read_export(write(tmp_path, text), System.BOOKS)
    assert [r.outstanding for r in export.records] == [None, Decimal("12.50")]
    assert export.warnings == [
        f"{export.path}, line 2: outstanding amount 'see notes' not understood, ignored"
    ]


def test_in_a_file_with_a_decimal_comma_a_dot_separates_thousands(tmp_path: Path) -> None:
    # Semicolons, and amounts such as "1 250,50": "12.500 €" there is twelve thousand five hundred.
    text = "Contact ID;Display Name;Outstanding Receivable Amount\n1;Acme;12.500 €\n2;Beta;1 250,50\n"
    assert amounts_read(tmp_path, text + "3;Gamma;CHF 1'250.50\n") == [
        Decimal("12500"),
        Decimal("1250.50"),
        Decimal("1250.50"),
    ]


def test_a_semicolon_file_with_no_amount_that_tells_reads_a_decimal_comma(tmp_path: Path) -> None:
    text = "Contact ID;Display Name;Outstanding Receivable Amount\n1;Acme;1.250\n"
    assert amounts_read(tmp_path, text) == [Decimal("1250")]


def test_a_repeated_header_reads_the_first_filled_in_column_and_warns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Contact ID;Display Name;Phone;Phone\n1;Acme;;+49 30 1234567\n2;Beta;030 111;+49 30 7654321\n",
    )
    export = read_export(path, System.BOOKS)
    assert [r.phone for r in export.records] == ["+49 30 1234567", "030 111"]
    assert export.warnings == [
        f"{path}: 2 columns are headed 'Phone' (columns 3, 4): phone is read from the first of them that a "
        "row fills in"
    ]


def test_rows_excel_saved_without_their_empty_last_cells_are_read_and_warned_of(tmp_path: Path) -> None:
    # Excel leaves out the separators of empty last cells for runs of rows.
    path = write(
        tmp_path,
        "Record Id,Account Name,Billing City,Phone\n"
        "zcrm_4876000000101001,Acme Ltd,Bristol,0117 496 0000\n"
        "zcrm_4876000000101002,Beta Ltd\n"
        "4876000000101003,Gamma Ltd,Leeds\n",
    )
    export = read_export(path, System.CRM)
    assert [(r.name, r.city, r.phone) for r in export.records] == [
        ("Acme Ltd", "Bristol", "0117 496 0000"),
        ("Beta Ltd", None, None),
        ("Gamma Ltd", "Leeds", None),
    ]
    assert export.warnings == [
        f"{path}: 2 row(s) have fewer fields than the header (first at line 3), as Excel writes a row whose "
        "last cells are empty: those cells are read as empty"
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        # A line break in a street that is not quoted: the rest of the row is no record of its own.
        (
            "4876000000101001,Acme Ltd,1 High St\nUnit 2,Bristol,0117 496 0000\n",
            "line 3: row has 3 fields, the header has 5 (and line 2 before it has 3: is there a line break "
            "inside a field that is not quoted?)",
        ),
        ("z1,Acme Ltd\n", "line 2: row has 2 fields, the header has 5"),  # no Zoho id: no Excel row
    ],
)
def test_a_short_row_that_excel_did_not_write_is_refused(tmp_path: Path, rows: str, message: str) -> None:
    path = write(tmp_path, f"Record Id,Account Name,Billing Street,Billing City,Phone\n{rows}")
    with pytest.raises(ExportError, match=re.escape(message)):
        read_export(path, System.CRM)


def test_a_multi_line_field_keeps_line_numbers_right(tmp_path: Path) -> None:
    path = write(tmp_path, 'Record Id,Account Name\nz1,"Acme\nWidgets"\nz1,Beta Ltd\n')
    with pytest.raises(ExportError, match=r"line 4: id 'z1' appears again \(first at line 2\)"):
        read_export(path, System.CRM)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("Account Name,Phone\nAcme,1\n", "line 1: no id column"),
        ("Record Id,Phone\nz1,1\n", "line 1: no name column"),
        ("Record Id,Account Name\n,Acme\n", "line 2: empty id"),
    ],
)
def test_unreadable_exports_say_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ExportError, match=message) as caught:
        read_export(write(tmp_path, text), System.CRM)
    assert "export.csv" in caught.value.message


@pytest.mark.parametrize(
    ("text", "system", "message"),
    [
        (
            "Contact ID,Display Name\n1,Acme Ltd\n",
            System.CRM,
            "line 1: this is a Zoho Books customers export ('Contact ID', 'Display Name'): "
            "pass it with --books",
        ),
        (
            "Record Id,Account Name\nz1,Acme Ltd\n",
            System.BOOKS,
            "line 1: this is a Zoho CRM export ('Record Id'): pass it with --crm",
        ),
    ],
)
def test_the_other_systems_export_is_refused(tmp_path: Path, text: str, system: System, message: str) -> None:
    with pytest.raises(ExportError, match=re.escape(message)):
        read_export(write(tmp_path, text), system)


def test_files_in_the_canonical_headers_are_either_systems(tmp_path: Path) -> None:
    path = write(tmp_path, "id,name\n1,Acme Ltd\n")
    assert len(read_export(path, System.CRM).records) == len(read_export(path, System.BOOKS).records) == 1


def test_a_file_excel_saved_as_windows_1252_is_read_and_says_so(tmp_path: Path) -> None:
    # Excel on Windows saves "CSV (Comma delimited)" in the system's code page, here with semicolons.
    path = tmp_path / "excel.csv"
    text = "Contact ID;Display Name;Billing City\r\n1;Acme Ltd;Bristol\r\n2;Müller GmbH;München\r\n"
    path.write_bytes((text + "3;Société Générale;Paris\r\n").encode("cp1252"))
    export = read_export(path, System.BOOKS)
    assert [(r.name, r.city) for r in export.records] == [
        ("Acme Ltd", "Bristol"),
        ("Müller GmbH", "München"),
        ("Société Générale", "Paris"),
    ]
    [warning] = export.warnings
    assert warning.startswith(f"{path}, line 3: not UTF-8, so the file is read as Windows-1252")
    assert "save the file as 'CSV UTF-8'" in warning


def test_a_file_excel_for_mac_saved_as_mac_roman_is_read_and_says_so(tmp_path: Path) -> None:
    # Excel for Mac's "Comma Separated Values": Mac Roman, lines ended by CR alone.
    path = tmp_path / "mac.csv"
    text = "Record Id,Account Name,Billing City\rz1,Acme Ltd,Bristol\rz2,Müller GmbH,München\r"
    path.write_bytes((text + "z3,Société Générale,Paris\r").encode("mac_roman"))
    export = read_export(path, System.CRM)
    assert [(r.name, r.city) for r in export.records][1:] == [
        ("Müller GmbH", "München"),
        ("Société Générale", "Paris"),
    ]
    [warning] = export.warnings
    assert warning.startswith(f"{path}, line 3: not UTF-8, so the file is read as Mac Roman")


def test_bytes_that_no_windows_1252_text_holds_are_refused_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"Record Id,Account Name\nz1,Caf\xe9 Ltd\nz2,Acme \x81 Ltd\n")
    with pytest.raises(ExportError, match=r"odd\.csv, line 3: neither UTF-8 nor Windows-1252 text"):
        read_export(path, System.CRM)


def test_a_file_that_starts_as_utf8_and_goes_on_in_another_encoding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "joined.csv"
    path.write_bytes(
        codecs.BOM_UTF8 + "Record Id,Account Name\nz1,Müller GmbH\n".encode() + b"z2,Caf\xe9 Ltd\n"
    )
    with pytest.raises(
        ExportError, match=r"joined\.csv, line 3: not UTF-8 text, though the file starts as UTF-8"
    ):
        read_export(path, System.CRM)


def test_excel_unicode_text_is_read(tmp_path: Path) -> None:
    # Excel's "Unicode Text": UTF-16 (little-endian, with its byte order mark), separated by tabs.
    path = tmp_path / "unicode.txt"
    text = 'Contact ID\tDisplay Name\tBilling Street\r\n1\tMüller GmbH\t"Hauptstraße 1\r\nHof 2"\r\n'
    text += "2\tÆsir AS\t\r\n"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    first, second = read_export(path, System.BOOKS).records
    assert (first.name, first.street, second.name) == ("Müller GmbH", "Hauptstraße 1\r\nHof 2", "Æsir AS")


@pytest.mark.parametrize(
    ("tail", "line"),
    [
        ("2\tAcme\r\n".encode("utf-16-be") + b"\xd8\x00\x00x", 3),  # half a surrogate pair, then a letter
        (b"\x00", 2),  # an odd number of bytes: the file was cut short
    ],
    ids=["lone surrogate", "cut short"],
)
def test_a_file_that_starts_as_utf16_and_is_not_is_refused_with_its_line(
    tmp_path: Path, tail: bytes, line: int
) -> None:
    # Found by fuzzing: bytes that start with UTF-16's byte order mark but do not go on as UTF-16 text
    # (here, a damaged workbook's first bytes) escaped as a UnicodeDecodeError.
    path = tmp_path / "odd.csv"
    path.write_bytes(codecs.BOM_UTF16_BE + "Contact ID\tDisplay Name\r\n".encode("utf-16-be") + tail)
    expected = rf"odd\.csv, line {line}: not UTF-16 text, though the file starts as UTF-16"
    with pytest.raises(ExportError, match=expected):
        read_export(path, System.BOOKS)
    with pytest.raises(ExportError, match=expected):
        read_header(path)


def test_lines_ended_by_a_carriage_return_alone_are_read(tmp_path: Path) -> None:
    # Older Excel for Mac ends lines with CR only.
    path = tmp_path / "mac.csv"
    path.write_bytes(
        b'Record Id,Account Name,Billing Street\rz1,Acme Ltd,"1 High St\rUnit 2"\rz2,Beta Ltd,\rz2,Gamma,\r'
    )
    with pytest.raises(ExportError, match=r"line 5: id 'z2' appears again \(first at line 4\)"):
        read_export(path, System.CRM)
    path.write_bytes(
        b'Record Id,Account Name,Billing Street\rz1,Acme Ltd,"1 High St\rUnit 2"\rz2,Beta Ltd,\r'
    )
    assert [(r.name, r.street) for r in read_export(path, System.CRM).records] == [
        ("Acme Ltd", "1 High St\rUnit 2"),
        ("Beta Ltd", None),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xef\xbb\xbf\r\n<!DOCTYPE html>\n<html><body>Session expired</body></html>", "a web page (HTML)"),
        (b"<html><table><tr><td>Contact ID</td></tr></table></html>", "a web page (HTML)"),
        (b'<?xml version="1.0"?>\n<Workbook>', "an XML file"),
        (b"C\x00o\x00n\x00t\x00a\x00c\x00t\x00", "this is not text (it holds NUL bytes)"),
    ],
)
def test_a_file_that_is_not_csv_is_refused_as_what_it_is(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(content)
    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)
    assert caught.value.message.startswith(f"{path}: ")
    assert message in caught.value.message
    assert "export it from Zoho again (CSV, XLS or XLSX)" in caught.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xef\xbb\xbf", "export.csv: the file is empty"),
        (b"\r\n\r\n", "export.csv: the file is empty"),
        (b"\r\nRecord Id,Account Name\r\nz1,Acme\r\n", "export.csv, line 1: the first line is blank"),
    ],
)
def test_a_file_with_nothing_on_its_first_line_says_so(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    with pytest.raises(ExportError, match=re.escape(message)):
        read_export(path, System.CRM)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "4.6E+14,Acme Ltd,",
            "line 2: 'Contact ID' is '4.6E+14': a spreadsheet saved this id in scientific notation",
        ),
        ("460000000026049,Acme Ltd,4,87688E+18", "line 2: 'CRM Account ID' is '4,87688E+18'"),
    ],
)
def test_an_id_a_spreadsheet_saved_in_scientific_notation_is_refused(
    tmp_path: Path, row: str, message: str
) -> None:
    # Excel shows a number of more than 11 digits as 4.6E+14 and saves it so; a decimal comma elsewhere.
    delimiter = ";" if row.count(",") > 2 else ","
    header = delimiter.join(("Contact ID", "Display Name", "CRM Account ID"))
    path = write(tmp_path, f"{header}\n{row.replace(',', delimiter, 2)}\n")
    with pytest.raises(ExportError, match=re.escape(message)):
        read_export(path, System.BOOKS)


def test_a_phone_a_spreadsheet_saved_in_scientific_notation_is_dropped_and_warned_of(tmp_path: Path) -> None:
    path = write(
        tmp_path, "Contact ID,Display Name,Phone\n1,Acme Ltd,4.47946E+11\n2,Beta Ltd,+44 20 7946 0000\n"
    )
    export = read_export(path, System.BOOKS)
    assert [r.phone for r in export.records] == [None, "+44 20 7946 0000"]
    assert export.warnings == [
        f"{path}, line 2: phone '4.47946E+11' was saved by a spreadsheet in scientific notation and its "
        "digits are lost: ignored"
    ]


def test_a_long_id_repeated_with_its_last_digits_zero_says_a_spreadsheet_may_have_rounded_it(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "Contact ID,Display Name\n4876876000000345000,Acme\n4876876000000345000,Beta\n")
    with pytest.raises(
        ExportError, match=r"line 3: id '4876876000000345000' appears again .* keeps only 15 digits"
    ):
        read_export(path, System.BOOKS)


def test_map_names_a_column_that_is_not_there(tmp_path: Path) -> None:
    path = write(tmp_path, "id,name\n1,Acme\n")
    with pytest.raises(ExportError, match="not in the header: 'Trading Name'"):
        read_export(path, System.CRM, {"Trading Name": "name"})


def _records() -> tuple[list[PartyRecord], list[PartyRecord]]:
    crm = [PartyRecord(system=System.CRM, module=Module.CRM_ACCOUNTS, record_id="z1", name="Acme Ltd")]
    books = [
        PartyRecord(system=System.BOOKS, module=Module.BOOKS_CUSTOMERS, record_id="b1", name="Acme Limited"),
        PartyRecord(system=System.BOOKS, module=Module.BOOKS_CUSTOMERS, record_id="b2", name="ACME LTD"),
    ]
    return crm, books


def test_a_failure_while_writing_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = build_report(*_records())

    def broken(*_: object, **__: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(output, "support_ticket_md", broken)
    with pytest.raises(RuntimeError):
        write_report(report, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_keeps_the_previous_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_report(build_report(*_records()), out)
    before = (out / "pairs.csv").read_text(encoding="utf-8")
    real_replace = output.os.replace
    calls = []

    def flaky(src: str | Path, dst: str | Path) -> None:
        calls.append((src, dst))
        if len(calls) == 2:  # the staging folder moving into place
            raise OSError("device busy")
        real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", flaky)
    with pytest.raises(OSError, match="device busy"):
        write_report(build_report([], []), out, replace=True)
    assert (out / "pairs.csv").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".out.old")) == ["out"]


def test_an_existing_non_empty_folder_needs_replace(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputExists):
        write_report(build_report([], []), tmp_path)
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_a_second_street_line_is_joined_to_the_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Contact ID,Display Name,Billing Address,Billing Street2\n"
        "1,Acme Ltd,Acme House,12 Kings Road\n"
        "2,Beta,,5 Mill Rd\n",
    )
    first, second = read_export(path, System.BOOKS).records
    assert first.street == "Acme House, 12 Kings Road"
    assert second.street == "5 Mill Rd"


@pytest.mark.parametrize(
    ("written", "moment"),
    [
        ("2019-03-01 09:00:00", datetime(2019, 3, 1, 9, 0)),
        ("03/15/2017 09:00 AM", datetime(2017, 3, 15, 9, 0)),  # a 12-hour clock: the US order, month first
        ("01/02/2018 10:00 PM", datetime(2018, 1, 2, 22, 0)),
        ("12/01/2018", datetime(2018, 1, 12)),  # day first, as outside the US
        ("05/15/2018", datetime(2018, 5, 15)),  # 15 cannot be a month
        ("15.03.2016", datetime(2016, 3, 15)),
        ("15 Mar 2019", datetime(2019, 3, 15)),
        ("Mar 15, 2017", datetime(2017, 3, 15)),
        # Zoho's other date formats, and dates a spreadsheet saved again in its locale's short format.
        ("15/03/2017 09:00 PM", datetime(2017, 3, 15, 21, 0)),
        ("15-03-2017 09:00", datetime(2017, 3, 15, 9, 0)),
        ("2017/03/15 09:00", datetime(2017, 3, 15, 9, 0)),
        ("15-Mar-2017 09:00 AM", datetime(2017, 3, 15, 9, 0)),
        ("15 March 2017", datetime(2017, 3, 15)),
        ("March 15, 2017 09:00 AM", datetime(2017, 3, 15, 9, 0)),
        ("15/03/17 09:00", datetime(2017, 3, 15, 9, 0)),
        ("3/15/17 9:00", datetime(2017, 3, 15, 9, 0)),
        ("15.03.17", datetime(2017, 3, 15)),
    ],
)
def test_created_times_in_the_formats_exports_use(tmp_path: Path, written: str, moment: datetime) -> None:
    path = write(tmp_path, f'Record Id,Account Name,Created Time\nz1,Acme Ltd,"{written}"\n')
    export = read_export(path, System.CRM)
    assert export.records[0].created_at == moment
    assert export.warnings == []


def test_a_csv_time_column_of_spreadsheet_date_numbers_is_read_as_their_dates_with_one_warning(
    tmp_path: Path,
) -> None:
    # given: a CSV a spreadsheet saved from date columns formatted General (and one row with no time)
    lines = ["Record Id,Account Name,Created Time,Modified Time", 'z1,Acme Ltd,45292,"45292,5"']
    lines += ["z2,Beta Ltd,43252.375,", "z3,Gamma Ltd,,73415"]
    # when
    export = read_export(path := write(tmp_path, "\n".join(lines) + "\n"), System.CRM)
    # then: 1900's count, its fraction the time of day, a decimal comma read as a decimal mark
    acme, beta, gamma = export.records
    assert (acme.created_at, acme.modified_at) == (datetime(2024, 1, 1), datetime(2024, 1, 1, 12, 0))
    assert (beta.created_at, gamma.modified_at) == (datetime(2018, 6, 1, 9, 0), datetime(2100, 12, 31))
    assert export.warnings == [
        f"{path}: the {name} column holds spreadsheet date numbers ('{example}' is {day}), as a "
        "spreadsheet saves a date column formatted General: read as the dates they stand for (counted "
        "from 1900)"
        for name, example, day in (
            ("modified", "45292,5", "2024-01-01 12:00:00"),
            ("created", "45292", "2024-01-01"),
        )
    ]


@pytest.mark.parametrize(
    ("column", "why"),
    [
        (["45292", "2024-01-02 09:00:00"], "a date written otherwise"),
        (["45292", "12345"], "a number before 1990"),
        (["45292", "73416"], "a number after 2100"),
        (["45292", "452920"], "a longer number"),
        (["45292", "06/01/2018"], "a slash date that reads both ways"),
    ],
)
def test_day_numbers_in_a_column_not_all_of_them_are_not_understood_as_before(
    tmp_path: Path, column: list[str], why: str
) -> None:
    rows = "".join(f"z{i},Acme {i},{value}\n" for i, value in enumerate(column))
    path = write(tmp_path, f"Record Id,Account Name,Created Time\n{rows}")

    export = read_export(path, System.CRM)

    assert export.records[0].created_at is None, why
    assert export.warnings[0] == f"{path}, line 2: created time '45292' not understood, ignored"
    assert not [w for w in export.warnings if "spreadsheet date numbers" in w]


# More rows than the pass that settles a file's conventions looks at (conventions._CONVENTION_ROWS).
PAST_THE_FIRST_ROWS = 20_001
# The ids of the records of write_past_the_first_rows, in file order.
LATE_FILE_IDS = [f"z{i}" for i in range(PAST_THE_FIRST_ROWS + 1)]


def write_past_the_first_rows(
    tmp_path: Path, header: str, cell: str, late: str, *, first: str | None = None
) -> Path:
    """A CSV file headed ``header``: PAST_THE_FIRST_ROWS rows of an id, a name and ``cell`` (``first`` in
    the first row, if given), then one of ``late``, at line PAST_THE_FIRST_ROWS + 2."""
    cells = [first or cell, *[cell] * (PAST_THE_FIRST_ROWS - 1), late]
    return write(tmp_path, header + "\n" + "".join(f'z{i},Acme {i},"{c}"\n' for i, c in enumerate(cells)))


def read_late_file(export: ExportFile, field: str) -> tuple[set[object], object]:
    """The ``field`` values of the records of write_past_the_first_rows before its last, and the last's,
    once its records are seen to come in file order."""
    assert [record.record_id for record in export.records] == LATE_FILE_IDS
    *before, late = (getattr(record, field) for record in export.records)
    return set(before), late


def test_day_numbers_are_not_understood_when_the_column_goes_on_with_a_date_written_otherwise(
    tmp_path: Path,
) -> None:
    # given: day numbers in every row the conventions' pass looks at, then a date written otherwise
    header = "Record Id,Account Name,Created Time"
    path = write_past_the_first_rows(tmp_path, header, "45292", "2024-01-02 09:00:00")
    # when
    export = read_export(path, System.CRM)
    # then: the column mixes them, so none is read as a date, as when the mix shows in the first rows
    assert read_late_file(export, "created_at") == ({None}, datetime(2024, 1, 2, 9, 0))
    assert export.warnings[:2] == [
        f"{path}, line {line}: created time '45292' not understood, ignored" for line in (2, 3)
    ]
    assert not [w for w in export.warnings if "spreadsheet date numbers" in w]


def test_a_time_column_empty_in_its_first_rows_and_then_of_day_numbers_is_read_as_their_dates(
    tmp_path: Path,
) -> None:
    rows = [f"z{i},Acme {i},\n" for i in range(PAST_THE_FIRST_ROWS)]
    rows += ["za,Late Ltd,45292\n", "zb,Later Ltd,45292.5\n"]
    path = write(tmp_path, "Record Id,Account Name,Created Time\n" + "".join(rows))

    export = read_export(path, System.CRM)

    assert [record.created_at for record in export.records[-3:]] == [
        None,
        datetime(2024, 1, 1),
        datetime(2024, 1, 1, 12, 0),
    ]
    assert [w for w in export.warnings if "spreadsheet date numbers" in w] == [
        f"{path}: the created column holds spreadsheet date numbers ('45292' is 2024-01-01), as a "
        "spreadsheet saves a date column formatted General: read as the dates they stand for (counted "
        "from 1900)"
    ]


@pytest.mark.parametrize(
    ("header", "system", "cell", "late", "field", "read", "warning"),
    [
        # dates that read either way (read day first, the default), then one that can only be month first
        (
            "Record Id,Account Name,Created Time",
            System.CRM,
            "03/04/2020",
            "02/13/2020",
            "created_at",
            ({datetime(2020, 3, 4)}, datetime(2020, 2, 13)),
            "created time '02/13/2020' can only be month first, and the file's first 20,000 rows show "
            "neither order: the 20001 created times before it that read either way (such as '03/04/2020') "
            "are read month first, not day first",
        ),
        # whole amounts with a dot before three digits (read as a decimal dot in a file of commas), then
        # one that shows a decimal comma: the dots separate thousands
        (
            "Contact ID,Display Name,Outstanding Receivable Amount",
            System.BOOKS,
            "12.500",
            "1.250,50",
            "outstanding",
            ({Decimal(12500)}, Decimal("1250.50")),
            "outstanding amount '1.250,50' shows a decimal comma, and the file's first 20,000 rows show no "
            "amount's mark: the 20001 amounts before it that read either way (such as '12.500') are read "
            "with a decimal comma, not a decimal dot",
        ),
    ],
)
def test_values_that_read_either_way_are_read_again_as_a_later_value_shows(
    tmp_path: Path,
    header: str,
    system: System,
    cell: str,
    late: str,
    field: str,
    read: tuple[set[object], object],
    warning: str,
) -> None:
    # given: values that read either way in every row the conventions' pass looks at, then one that
    # shows the other convention
    path = write_past_the_first_rows(tmp_path, header, cell, late)
    # when
    export = read_export(path, system)
    # then: all read as if that value had been among the first rows, with one warning saying so
    assert read_late_file(export, field) == read
    assert export.warnings == [f"{path}, line {PAST_THE_FIRST_ROWS + 2}: {warning}"]


def test_a_later_date_against_the_order_the_first_rows_show_is_warned_of_as_both_orders(
    tmp_path: Path,
) -> None:
    header = "Record Id,Account Name,Created Time"
    path = write_past_the_first_rows(tmp_path, header, "03/04/2020", "02/13/2020", first="13/02/2020")

    export = read_export(path, System.CRM)

    # the file mixes both orders: those that read either way stay in the order its first rows show
    before, late = read_late_file(export, "created_at")
    assert (before, late) == ({datetime(2020, 2, 13), datetime(2020, 4, 3)}, datetime(2020, 2, 13))
    assert export.warnings == [
        f"{path}, line {PAST_THE_FIRST_ROWS + 2}: created times are written both day first "
        "('13/02/2020') and month first ('02/13/2020'); those that read either way are read day first"
    ]


# Zoho writes its times in ISO 8601; a slash date further down was typed or pasted in a spreadsheet.
ISO_TIME = "2020-01-03T10:00:00"


def test_slash_dates_after_iso_times_are_read_again_as_a_later_one_shows_its_order(tmp_path: Path) -> None:
    # given: ISO times in every row the conventions' pass looks at, then a slash date that reads either
    # way (read day first, the default) and one that can only be month first
    rows = [f"z{i},Acme {i},{ISO_TIME}\n" for i in range(PAST_THE_FIRST_ROWS)]
    rows += ["za,Late Ltd,03/04/2020\n", "zb,Later Ltd,02/13/2020\n"]
    path = write(tmp_path, "Record Id,Account Name,Created Time\n" + "".join(rows))
    # when
    export = read_export(path, System.CRM)
    # then: the date that read either way is read month first, as the column shows, with one warning
    assert {record.created_at for record in export.records[:-2]} == {datetime(2020, 1, 3, 10, 0)}
    assert [record.created_at for record in export.records[-2:]] == [
        datetime(2020, 3, 4),
        datetime(2020, 2, 13),
    ]
    assert export.warnings == [
        f"{path}, line {PAST_THE_FIRST_ROWS + 3}: created time '02/13/2020' can only be month first, and the "
        "file's first 20,000 rows show neither order: the 1 created times before it that read either way "
        "(such as '03/04/2020') are read month first, not day first"
    ]


def test_a_later_slash_date_against_the_order_an_iso_columns_first_rows_show_is_warned_of(
    tmp_path: Path,
) -> None:
    # given: ISO times and one day-first date in the first rows, then a date that can only be month first
    header = "Record Id,Account Name,Created Time"
    path = write_past_the_first_rows(tmp_path, header, ISO_TIME, "02/13/2020", first="15/03/2020")
    # when
    export = read_export(path, System.CRM)
    # then
    before, late = read_late_file(export, "created_at")
    assert (before, late) == ({datetime(2020, 3, 15), datetime(2020, 1, 3, 10, 0)}, datetime(2020, 2, 13))
    assert export.warnings == [
        f"{path}, line {PAST_THE_FIRST_ROWS + 2}: created times are written both day first "
        "('15/03/2020') and month first ('02/13/2020'); those that read either way are read day first"
    ]


def test_an_empty_time_column_is_no_column_of_day_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "Record Id,Account Name,Created Time\nz1,Acme Ltd,\n")
    export = read_export(path, System.CRM)
    assert (export.records[0].created_at, export.warnings) == (None, [])


def test_crm_export_ids_are_read_as_the_api_ids_books_links_to(tmp_path: Path) -> None:
    # CRM's export prefixes its ids with "zcrm_"; Books' CRM Account ID may hold either form.
    crm = write(tmp_path, "Record Id,Account Name\nzcrm_4876000000101001,Acme Widgets Ltd\n", "crm.csv")
    books = write(
        tmp_path,
        "Contact ID,Display Name,CRM Account ID\n7001,Acme Widgets Ltd,4876000000101001\n"
        "7002,Beta Ltd,zcrm_4876000000101002\n",
        "books.csv",
    )
    [account] = read_export(crm, System.CRM).records
    linked = [r.linked_crm_id for r in read_export(books, System.BOOKS).records]
    assert account.record_id == "4876000000101001"
    assert linked == ["4876000000101001", "4876000000101002"]


def test_a_status_the_export_gives_is_told_from_none(tmp_path: Path) -> None:
    path = write(
        tmp_path, "Contact ID,Display Name,Status\n1,Acme Ltd,Active\n2,Beta Ltd,Inactive\n3,Gamma Ltd,\n"
    )
    active, inactive, unknown = read_export(path, System.BOOKS).records
    assert (active.active, inactive.active, unknown.active) == (True, False, True)
    assert "active" in active.model_fields_set
    assert "active" not in unknown.model_fields_set


def test_error_values_a_spreadsheet_saved_in_a_csv_are_read_as_empty_with_one_warning(tmp_path: Path) -> None:
    # A VLOOKUP that found nothing, saved as CSV: "#N/A" must not become a name (every such row would then
    # be a duplicate of every other) nor a phone.
    path = write(
        tmp_path,
        "Contact ID,Display Name,Phone,Notes\n"
        "1,#N/A,#N/A,#N/A\n"
        "2,Acme Ltd, #REF! ,\n"
        "3,Beta Ltd,020 7946 0000,#DIV/0!\n",
    )
    export = read_export(path, System.BOOKS)
    first, second, third = export.records
    assert (first.name, first.phone) == ("", None)
    assert (second.name, second.phone) == ("Acme Ltd", None)
    assert third.phone is not None
    assert [w for w in export.warnings if "error value" in w] == [
        f"{path}: 3 cell(s) hold an error value (#N/A, #REF!, ...) where a value was read, the first #N/A "
        "at line 2, column 'Display Name': read as empty"
    ]


def test_an_error_value_in_a_csv_id_column_stops_the_run_naming_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "Contact ID,Display Name,CRM Account ID\n1,Acme Ltd,4876000000101001\n2,Beta Ltd,#N/A\n"
    )
    with pytest.raises(ExportError) as raised:
        read_export(path, System.BOOKS)
    assert str(raised.value) == (
        f"{path}, line 3: 'CRM Account ID' holds the error #N/A, so this linked crm id is not known "
        "(a lookup that found nothing?): correct the formula, or paste the ids in as values"
    )


def test_text_that_only_contains_an_error_value_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "Contact ID,Display Name\n1,Club #N/A Ltd\n")
    [record] = read_export(path, System.BOOKS).records
    assert record.name == "Club #N/A Ltd"


def test_records_are_what_validating_their_values_gives(tmp_path: Path) -> None:
    # Every value the reader gives is already of its field's type: validating the record's fields again
    # makes the same record.
    path = write(
        tmp_path,
        "Contact ID,Display Name,Company Name,EmailID,Secondary Email,Phone,Billing Address,"
        "Billing Street2,Status,Outstanding Receivable Amount,Has Transactions,CRM Account ID,"
        "Created Time,Customer Sub Type\n"
        "1,Acme Widgets,Acme Ltd,a@acme.example,b@acme.example;c@acme.example,020 7946 0000,Acme House,"
        '12 Kings Road,Inactive,"1,250.50",yes,zcrm_4876000000101001,2017-03-15 09:00:00,business\n'
        "2,Jane Smith,,,,,,,Active,0,,,15/03/2017,individual\n",
    )
    records = read_export(path, System.BOOKS).records
    for record in records:
        validated = PartyRecord.model_validate(record.model_dump(include=record.model_fields_set))
        assert record == validated
        assert record.model_fields_set == validated.model_fields_set
    assert [r.outstanding for r in records] == [Decimal("1250.50"), Decimal(0)]


@pytest.mark.parametrize("written", ["0", "990", "007"])
def test_an_amount_of_digits_alone_reads_as_the_number(tmp_path: Path, written: str) -> None:
    text = f"Contact ID,Display Name,Outstanding Receivable Amount\n1,Acme,{written}\n"
    [amount] = amounts_read(tmp_path, text)
    assert amount == Decimal(written)
    assert str(amount) == str(Decimal(written))


def test_an_amount_in_digits_of_another_script_is_not_understood(tmp_path: Path) -> None:
    # "١٢" is 12 in Arabic-Indic digits, which Decimal would read: an amount is written in ASCII digits.
    text = "Contact ID,Display Name,Outstanding Receivable Amount\n1,Acme,١٢\n"
    assert amounts_read(tmp_path, text) == [None]
