"""Reading exports saved as OpenDocument spreadsheets (.ods): read as their CSV would be, and refused,
naming the file, before python-calamine is handed one whose repeated cells it could not hold."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from sync_guard.exports.reader import ExportError, read_export
from sync_guard.models.records import System
from tests.support import ods
from tests.support.ods import date_cell, empty_cell, formula_cell, number_cell, row, table, text_cell
from tests.support.workbooks import read_books_export_memory_capped, refused_before_python_calamine

HEADER = ["Contact ID", "Display Name", "Outstanding Receivable Amount", "Created Time"]
# What LibreOffice writes past a sheet's data: the rest of each row, and the rest of the sheet's rows,
# each as one empty cell or row repeated.
COLUMNS_LEFT = 1020
ROWS_LEFT = 1_048_573


def customers(*rows: str, hidden: tuple[str, ...] = ()) -> bytes:
    """A Books export's sheet of ``rows`` after its header, as LibreOffice saves it, and the hidden
    sheets named."""
    header = row([*map(text_cell, HEADER), empty_cell(repeated=COLUMNS_LEFT)])
    rest = row([empty_cell(repeated=len(HEADER) + COLUMNS_LEFT)], repeated=ROWS_LEFT)
    others = [table(name, [row([text_cell("x")])], hidden=True) for name in hidden]
    return ods.ods(*others, table("Customers", [header, *rows, rest]))


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_an_ods_export_is_read_as_the_same_export_saved_as_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path / "customers.ods",
        customers(
            row(
                [
                    number_cell("1"),
                    text_cell("Acme Ltd"),
                    number_cell("12.5"),
                    date_cell("2020-01-03T10:00:00"),
                ]
            ),
            row([number_cell("2"), text_cell("Beta Inc"), text_cell("£1,234.50"), date_cell("2020-01-04")]),
            row([number_cell("3"), formula_cell('of:=""'), empty_cell(), empty_cell()]),
            hidden=("Old customers",),
        ),
    )

    export = read_export(path, System.BOOKS)

    assert export.sheet == "Customers"  # the hidden sheet before it is passed over, and not named
    assert export.warnings == []
    assert [(r.record_id, r.name, r.outstanding) for r in export.records] == [
        ("1", "Acme Ltd", pytest.approx(12.5)),
        ("2", "Beta Inc", pytest.approx(1234.5)),
        ("3", "", None),  # a formula worked out as empty text is an empty cell
    ]
    assert [str(r.created_at) for r in export.records] == [
        "2020-01-03 10:00:00",
        "2020-01-04 00:00:00",
        "None",
    ]


def test_the_empty_cells_and_rows_past_the_data_count_for_nothing_however_many(tmp_path: Path) -> None:
    # given a sheet whose last row is repeated to the spreadsheet's last, and each row's empty cells to
    # its last column: two million billion cells, were they counted
    path = write(
        tmp_path / "customers.ods",
        ods.ods(
            table(
                "Customers",
                [
                    row([*map(text_cell, HEADER[:2]), empty_cell(repeated=16_382)]),
                    row([number_cell("1"), text_cell("Acme Ltd"), empty_cell(repeated=10**9)]),
                    row([empty_cell(repeated=2**40)], repeated=2**40),
                ],
            )
        ),
    )

    assert [r.name for r in read_export(path, System.BOOKS).records] == ["Acme Ltd"]


def refused_before_python_calamine_reads_it(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    import python_calamine

    return refused_before_python_calamine(path, monkeypatch, python_calamine.CalamineWorkbook, "from_path")


def test_a_sheet_whose_repeats_span_more_cells_than_are_read_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by fuzzing: 1 KB of XML for 98 million cells, which python-calamine reads from every sheet
    # as the file is opened (18 s and 6 GB; under a memory limit, the process aborted).
    hidden = table("Lookup", [row([text_cell("GBP", repeated=16_384)], repeated=6_000)], hidden=True)
    path = write(
        tmp_path / "customers.ods", ods.ods(hidden, table("Customers", [row([text_cell("Contact ID")])]))
    )

    message = refused_before_python_calamine_reads_it(path, monkeypatch)

    assert message == (
        f"{path}: sheet 'Lookup' spans 6,000 rows and 16,384 columns once its repeated cells are counted, "
        "more than the 10,000,000 cells read of a workbook (its sheets together): clear the rows and columns "
        "past the data (a cell filled to the end of the sheet?) and save it again"
    )


def test_the_sheets_of_a_workbook_are_counted_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each sheet 6 million cells, from A1 to its last cell holding something
    sheets = [
        table(f"Sheet{n}", [row([empty_cell(repeated=5_999), text_cell("x")], repeated=1_000)])
        for n in (1, 2)
    ]
    path = write(tmp_path / "customers.ods", ods.ods(*sheets))

    assert "sheet 'Sheet2' spans 1,000 rows and 6,000 columns" in refused_before_python_calamine_reads_it(
        path, monkeypatch
    )


@pytest.mark.parametrize(
    "cell",
    [
        # a run of spaces written as its length, which python-calamine writes out
        '<table:table-cell office:value-type="string"><text:p>a<text:s text:c="2000000000"/></text:p>'
        "</table:table-cell>",
        # 20 KB of text in a cell repeated across the sheet: 320 MB (and as much again for Python)
        text_cell("x" * 20_000, repeated=16_384),
    ],
    ids=["spaces", "repeated text"],
)
def test_a_sheet_whose_repeats_come_to_too_much_text_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cell: str
) -> None:
    sheet = table("Customers", [row([text_cell("Contact ID")]), row([cell])])
    path = write(tmp_path / "customers.ods", ods.ods(sheet))

    assert refused_before_python_calamine_reads_it(path, monkeypatch) == (
        f"{path}: sheet 'Customers' holds more than 256 MB of text once its repeated cells and runs of "
        "spaces are counted: is the workbook damaged, or a long text filled across the sheet?"
    )


def test_a_workbook_python_calamine_could_not_hold_ends_in_an_error_not_an_abort(tmp_path: Path) -> None:
    # The memory a process may take capped at 1 GiB over what it has: python-calamine, handed this
    # file, fails to allocate and ends the process.
    path = write(
        tmp_path / "customers.ods", customers(row([text_cell("Acme", repeated=16_384)], repeated=6_000))
    )
    done = read_books_export_memory_capped(path)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "spans 6,001 rows and 16,384 columns" in done.stdout


@pytest.mark.parametrize(
    "rows",
    [
        # the row's count after an attribute holding a '>', which XML allows in a quoted value
        [
            row([text_cell("GBP", repeated=16_384)]).replace(
                "<table:table-row>",
                '<table:table-row table:style-name="a>b" table:number-rows-repeated="6000">',
            )
        ],
        # the cell's count before such an attribute, and what makes it hold something after it
        [
            row(
                [
                    text_cell("1"),
                    '<table:table-cell table:number-columns-repeated="16384" table:style-name="a>b" '
                    'office:value-type="string"><text:p>GBP</text:p></table:table-cell>',
                ],
                repeated=6_000,
            )
        ],
    ],
    ids=["row", "cell"],
)
def test_a_repeat_count_is_read_whatever_the_attributes_around_it_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[str]
) -> None:
    path = write(
        tmp_path / "customers.ods", ods.ods(table("Customers", [row([text_cell("Contact ID")]), *rows]))
    )

    assert "spans 6,001 rows and 16,384 columns" in refused_before_python_calamine_reads_it(path, monkeypatch)


def test_a_table_inside_a_row_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # its cells would be counted in rows python-calamine does not read them in
    nested = "<table:table-row>" + text_cell("Contact ID") + row([text_cell("1")]) + "</table:table-row>"
    path = write(tmp_path / "customers.ods", ods.ods(table("Customers", [nested])))

    assert refused_before_python_calamine_reads_it(path, monkeypatch) == (
        f"{path}: sheet 'Customers' has a table inside a cell (is the workbook damaged?)"
    )


def test_a_row_of_more_xml_than_is_read_is_refused_as_it_comes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 34 MB of empty cells in one row, 160 KB zipped: went through once per chunk of XML inflated, a
    # row four times longer took ten times as long (a gigabyte, minutes).
    sheet = table(
        "Customers",
        [row([text_cell("Contact ID"), empty_cell()]).replace(empty_cell(), empty_cell() * 1_800_000)],
    )
    path = write(tmp_path / "customers.ods", ods.ods(sheet))

    assert refused_before_python_calamine_reads_it(path, monkeypatch) == (
        f"{path}: sheet 'Customers' has a row of more than 32 MB of XML, more than is read here (is the "
        "workbook damaged?)"
    )


def test_a_password_protected_ods_is_a_clear_error(tmp_path: Path) -> None:
    parts = {
        "mimetype": ods.MIMETYPE.encode(),
        "META-INF/manifest.xml": ods.manifest(encrypted=True),
        "content.xml": b"\x8f\x12 not XML: what a password makes of it",
    }
    path = write(tmp_path / "customers.ods", ods.package(parts))

    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)

    assert caught.value.message == f"{path}: the workbook is password-protected: save it without a password"


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ({"mimetype": ods.MIMETYPE.encode(), "META-INF/manifest.xml": ods.manifest()}, "content.xml"),
        (
            {
                "mimetype": ods.MIMETYPE.encode(),
                "META-INF/manifest.xml": ods.manifest(),
                "content.xml": b"<a",
            },
            "tag not closed",
        ),
    ],
    ids=["no content.xml", "content.xml not XML"],
)
def test_an_ods_without_its_sheets_is_a_clear_error(
    tmp_path: Path, parts: dict[str, bytes], reason: str
) -> None:
    path = write(tmp_path / "customers.ods", ods.package(parts))

    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)

    assert caught.value.message.startswith(
        f"{path}: this looks like a workbook (xlsx, xls, ods), but cannot be read"
    )
    assert reason in caught.value.message


def test_an_ods_whose_content_cannot_be_inflated_is_refused_as_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = customers(row([number_cell("1"), text_cell("Acme Ltd")]))
    entry = zipfile.ZipFile(write(tmp_path / "whole.ods", whole)).getinfo("content.xml")
    data = bytearray(whole)
    # the deflated bytes of content.xml changed where its sheet is
    data[entry.header_offset + 30 + len(entry.filename) + entry.compress_size // 2] ^= 0xFF
    path = write(tmp_path / "customers.ods", bytes(data))

    assert refused_before_python_calamine_reads_it(path, monkeypatch) == (
        f"{path}: this looks like a workbook (xlsx, xls, ods), but cannot be read as one (is it damaged, "
        "or cut short?)"
    )
