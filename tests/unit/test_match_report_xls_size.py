"""An .xls workbook's sheets are sized from their records before python-calamine opens it: one too large
to hold is refused naming its sheet, not handed over to end the process. Measured before the sizing (a
5.5 KB file each): a DIMENSIONS record saying 4,294,967,295 rows made python-calamine ask for 44 TB; a
cell at column 65,535 for 137 GB; a 65,535-character string in 50,000 cells (a 773 KB file) for more
than 6 GB."""

from __future__ import annotations

from pathlib import Path

import pytest
import python_calamine

from sync_guard.exports import sizing
from sync_guard.exports.reader import read_export
from sync_guard.models.records import System
from tests.support.workbooks import read_books_export_memory_capped, refused_before_python_calamine
from tests.support.xls import XlsSheet, dimensions, label, number, shared, xls_bytes

HEADER_AND_CUSTOMER = [
    label(0, 0, "Contact ID"),
    label(0, 1, "Display Name"),
    number(1, 0, 7),
    label(1, 1, "Acme"),
]
TOO_MANY = "more than the 10,000,000 cells read of a workbook (its sheets together)"
CLEAR = "clear the rows and columns past the data (a cell filled to the end of the sheet?) and save it again"
LONG = "x" * 65_535


def customers(
    path: Path, *records: bytes, others: tuple[XlsSheet, ...] = (), strings: tuple[str, ...] = ()
) -> Path:
    """A Books export of one customer on its sheet 'Customers', ``records`` added after it."""
    sheets = [XlsSheet("Customers", [*HEADER_AND_CUSTOMER, *records]), *others]
    path.write_bytes(xls_bytes(sheets, strings))
    return path


def refused(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Why reading ``path`` is refused, python-calamine never opening it."""
    return refused_before_python_calamine(path, monkeypatch, python_calamine.CalamineWorkbook, "from_path")


def test_a_dimensions_record_saying_four_billion_rows_is_refused_before_python_calamine_reserves_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # python-calamine reserves room for the cells a sheet's DIMENSIONS record says it spans.
    path = customers(tmp_path / "customers.xls", dimensions(0, 2**32 - 1, 0, 256))
    assert refused(path, monkeypatch) == (
        f"{path}: sheet 'Customers' says it spans 4,294,967,295 rows and 256 columns (its DIMENSIONS "
        f"record), {TOO_MANY}: {CLEAR}"
    )


def test_a_dimensions_record_whose_first_row_is_past_its_last_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rows are counted in 32 bits: 10 to 5 comes round to four billion.
    path = customers(tmp_path / "customers.xls", dimensions(10, 5, 0, 2))
    assert "says it spans 4,294,967,291 rows and 2 columns" in refused(path, monkeypatch)


def test_a_dimensions_record_of_ten_million_cells_is_read_and_one_row_more_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    within = customers(tmp_path / "within.xls", dimensions(0, 40_000, 0, 250))
    assert [record.name for record in read_export(within, System.BOOKS).records] == ["Acme"]
    past = customers(tmp_path / "past.xls", dimensions(0, 40_001, 0, 250))
    assert "says it spans 40,001 rows and 250 columns" in refused(past, monkeypatch)


def test_a_cell_at_column_65535_is_refused_in_a_process_whose_memory_is_capped(tmp_path: Path) -> None:
    # A record writes its cell's column in two bytes: past the 256 columns an .xls sheet has.
    path = customers(tmp_path / "customers.xls", number(65_535, 65_535, 1))
    finished = read_books_export_memory_capped(path)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip() == (
        f"{path}: sheet 'Customers' spans 65,536 rows and 65,536 columns from A1 to its last cell, "
        f"{TOO_MANY}: {CLEAR}"
    )


def test_the_hidden_sheets_of_an_xls_workbook_count_with_the_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # python-calamine reads every sheet as it opens the workbook: three hidden ones of 3,000,000 cells
    # each (A1 to CV30000) and the one read come to more than it may be given.
    lookups = tuple(
        XlsSheet(f"Lookup{at}", [label(0, 0, "GBP"), number(29_999, 99, 1)], hidden=True)
        for at in range(1, 5)
    )
    path = customers(tmp_path / "customers.xls", others=lookups)
    assert refused(path, monkeypatch) == (
        f"{path}: sheet 'Lookup4' spans 30,000 rows and 100 columns from A1 to its last cell, {TOO_MANY}: "
        f"{CLEAR}"
    )
    three = customers(tmp_path / "three.xls", others=lookups[:3])
    sizing.refuse_xls_too_large_to_hold(three)  # 9,000,004 cells: within the bound


def test_a_long_shared_string_in_thousands_of_cells_is_refused_in_a_process_whose_memory_is_capped(
    tmp_path: Path,
) -> None:
    # python-calamine copies a shared string into each cell that uses it: 20,000 copies of 65,535
    # characters from a 300 KB file.
    cells = [shared(2 + at // 200, at % 200, 0) for at in range(20_000)]
    path = customers(tmp_path / "customers.xls", *cells, strings=(LONG,))
    finished = read_books_export_memory_capped(path)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.strip() == (
        f"{path}: sheet 'Customers' holds more than 256 MB of text once its shared strings are copied into "
        "each cell that uses them (the workbook's sheets together): is the workbook damaged, or a long text "
        "filled across the sheet?"
    )


@pytest.mark.parametrize(
    ("text", "copies"),
    [(LONG, 4_096), ("€" * 65_535, 2_048)],  # 256 MiB exactly, a character in one byte and in two
    ids=["one byte a character", "two bytes a character"],
)
def test_shared_strings_copied_to_256_mb_are_within_the_bound_and_one_copy_more_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, copies: int
) -> None:
    # Each string counts as the bytes its characters take in the file, read across the CONTINUE
    # records a long one is written in.
    def with_copies(name: str, count: int) -> Path:
        cells = [shared(2 + at // 200, at % 200, 1) for at in range(count)]
        return customers(tmp_path / name, *cells, strings=("Beta Ltd", text))

    sizing.refuse_xls_too_large_to_hold(with_copies("within.xls", copies))
    assert "holds more than 256 MB of text" in refused(with_copies("past.xls", copies + 1), monkeypatch)
