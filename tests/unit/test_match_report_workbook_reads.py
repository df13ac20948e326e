"""A workbook's sheet is read from the file once before python-calamine is given it: the sizing's walk of
an xlsx sheet's XML notes whether an error cell or a formula is there (the XML is inflated again only to
find them), and an xls workbook's stream, read for the sizing, is searched for the error cells too."""

from __future__ import annotations

import zipfile
from pathlib import Path

import olefile
import pytest

from sync_guard.exports import sizing
from sync_guard.exports.reader import read_export
from sync_guard.models.records import System
from tests.support.workbooks import SHEET, xlsx_with_rows
from tests.support.xls import XlsSheet, label, number, xls_bytes

FORMULA_CELL = '<row r="3"><c r="A3"><v>2</v></c><c r="C3"><f t="normal">1+1</f><v></v></c></row>'
ONE_ERROR = "1 cell(s) hold an error value"
ONE_UNSAVED = "1 cell(s) hold a formula with no saved value"


def error_cell_row(row: int) -> str:
    """A customer whose amount is the error #N/A."""
    return f'<row r="{row}"><c r="A{row}"><v>{row}</v></c><c r="C{row}" t="e"><v>#N/A</v></c></row>'


ERROR_CELL = error_cell_row(3)


def sheet_openings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the zip entries opened from now on (python-calamine reads the file in Rust)."""
    opened: list[str] = []
    original = zipfile.ZipFile.open

    def counted(
        archive: zipfile.ZipFile, name: str | zipfile.ZipInfo, *args: object, **kwargs: object
    ) -> object:
        opened.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return original(archive, name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "open", counted)
    return opened


def warnings_of(path: Path) -> list[str]:
    return read_export(path, System.BOOKS).warnings


def test_an_xlsx_sheet_without_error_cells_or_formulas_is_inflated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a Books export with neither; the zip entries opened counted
    path = xlsx_with_rows(tmp_path / "customers.xlsx", '<row r="3"><c r="A3"><v>2</v></c></row>')
    opened = sheet_openings(monkeypatch)
    # when
    export = read_export(path, System.BOOKS)
    # then: the sizing's walk alone
    assert (len(export.records), export.warnings) == (2, [])
    assert opened.count(SHEET) == 1


@pytest.mark.parametrize(
    ("rows_xml", "said"),
    [(ERROR_CELL, ONE_ERROR), (FORMULA_CELL, ONE_UNSAVED)],
    ids=["error cell", "formula"],
)
def test_an_xlsx_sheet_with_an_error_cell_or_a_formula_is_inflated_again_to_find_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_xml: str, said: str
) -> None:
    path = xlsx_with_rows(tmp_path / "customers.xlsx", rows_xml)
    opened = sheet_openings(monkeypatch)

    warnings = warnings_of(path)

    assert [w for w in warnings if said in w]
    assert opened.count(SHEET) == 2


@pytest.mark.parametrize(
    ("rows_xml", "mark", "said"),
    [(ERROR_CELL, b't="e"', ONE_ERROR), (FORMULA_CELL, b"f>", ONE_UNSAVED)],
    ids=["error cell", "formula"],
)
def test_a_mark_that_a_chunk_of_the_xml_cuts_in_two_is_noted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_xml: str, mark: bytes, said: str
) -> None:
    # given: the sheet's only mark cut after its first byte as the XML is inflated a chunk at a time
    path = xlsx_with_rows(tmp_path / "customers.xlsx", rows_xml)
    with zipfile.ZipFile(path) as archive:
        xml = archive.read(SHEET)
    assert xml.count(mark) == 1
    monkeypatch.setattr(sizing, "_CHUNK", xml.find(mark) + 1)
    # when
    warnings = warnings_of(path)
    # then
    assert [w for w in warnings if said in w]


def test_an_error_cell_past_where_the_first_walk_of_a_wide_sheet_stops_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: 1,000 rows reaching column XFD, 16 million cells, the only error cell in the last row; the
    # XML inflated 4 KB at a time, so that the first walk (counting the formatted empty cells) stops at
    # the chunk where the sheet passes 10,000,000 cells and the second (counting only the cells holding
    # a value) goes to its end
    rows = "".join(
        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="XFD{r}" s="0"/></row>' for r in range(3, 1_002)
    )
    path = xlsx_with_rows(tmp_path / "customers.xlsx", rows + error_cell_row(1_002))
    monkeypatch.setattr(sizing, "_CHUNK", 1 << 12)
    opened = sheet_openings(monkeypatch)
    # when
    warnings = warnings_of(path)
    # then: walked twice, then searched
    assert [w for w in warnings if ONE_ERROR in w and "row 1002" in w]
    assert opened.count(SHEET) == 3


def stream_readings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The streams opened from an OLE compound file from now on (python-calamine reads it in Rust)."""
    opened: list[str] = []
    original = olefile.OleFileIO.openstream

    def counted(ole: olefile.OleFileIO, name: str) -> object:
        opened.append(name)
        return original(ole, name)

    monkeypatch.setattr(olefile.OleFileIO, "openstream", counted)
    return opened


def test_an_xls_workbooks_stream_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a Books export of one customer
    path = tmp_path / "customers.xls"
    cells = [label(0, 0, "Contact ID"), label(0, 1, "Display Name"), number(1, 0, 7), label(1, 1, "Acme")]
    path.write_bytes(xls_bytes([XlsSheet("Customers", cells)]))
    opened = stream_readings(monkeypatch)
    # when
    export = read_export(path, System.BOOKS)
    # then: read by the sizing, its error cells searched in what it read
    assert [record.name for record in export.records] == ["Acme"]
    assert opened == ["Workbook"]
