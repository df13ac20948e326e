"""An .xlsx sheet is sized from its XML before python-calamine reads it: one too large to hold is refused
naming it, not handed over to end the process."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from sync_guard.exports.reader import ExportError, read_export
from sync_guard.models.records import System
from tests.support.workbooks import (
    read_books_export_memory_capped,
    refused_before_python_calamine,
    xlsx_with_rows,
)


def with_shared_strings(path: Path, strings: list[str]) -> Path:
    """The workbook at ``path`` with a shared strings part holding ``strings``, as Excel writes one."""
    items = "".join(f"<si><t>{text}</t></si>" for text in strings)
    shared = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>'
    )
    relation = (
        '<Relationship Id="rIdShared" Target="sharedStrings.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
    )
    content_type = (
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    )
    written = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(written, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", relation.encode() + b"</Relationships>")
            elif name == "[Content_Types].xml":
                data = data.replace(b"</Types>", content_type.encode() + b"</Types>")
            archive.writestr(name, data)
        archive.writestr("xl/sharedStrings.xml", shared)
    path.write_bytes(written.getvalue())
    return path


def shared_string_rows(first: int, count: int, index: int) -> str:
    """``count`` rows from row ``first``, each a customer whose name is the shared string ``index``."""
    return "".join(
        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}" t="s"><v>{index}</v></c></row>'
        for r in range(first, first + count)
    )


def refused_before_python_calamine_reads_it(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    import python_calamine

    return refused_before_python_calamine(
        path, monkeypatch, python_calamine.CalamineWorkbook, "get_sheet_by_name"
    )


def test_a_small_file_whose_sheet_spans_more_cells_than_are_read_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given 6 KB whose cells at A1 and XFD100000 make python-calamine ask for 52 GB (and abort)
    path = xlsx_with_rows(tmp_path / "customers.xlsx", '<row r="100000"><c r="XFD100000"><v>1</v></c></row>')
    assert path.stat().st_size < 7_000

    message = refused_before_python_calamine_reads_it(path, monkeypatch)

    assert message == (
        f"{path}: sheet 'Customers' spans 100,000 rows and 16,384 columns from A1 to its last cell holding "
        "a value, more than the 10,000,000 cells read of a sheet: clear the rows and columns past the data "
        "(a cell filled to the end of the sheet?) and save it again"
    )


@pytest.mark.parametrize(
    ("rows_xml", "size"),
    [
        # a cell's own reference places it, whatever its row's says, and may be any number of digits
        ('<row r="3"><c r="B4000000000"><v>1</v></c></row>', "4,000,000,000 rows and 3 columns"),
        # or letters: python-calamine reads ZZZZ as the 475,254th column
        ('<row r="30"><c r="ZZZZ30"><v>1</v></c></row>', "30 rows and 475,254 columns"),
        # rows and cells without a reference follow the one before them
        (
            "<row><c><v>1</v></c></row>" * 2 + '<row r="60000">' + "<c><v>1</v></c>" * 200 + "</row>",
            "60,000 rows and 200 columns",
        ),
        # a reference written in another attribute's quoted value, which is not the cell's
        (
            '<row r="100000"><c s="0" t="n" x=\' r="A3"\' r="XFD100000"><v>1</v></c></row>',
            "100,000 rows and 16,384 columns",
        ),
        # a line break after the cell's name, as XML allows
        ('<row r="100000"><c\nr="XFD100000"><v>1</v></c></row>', "100,000 rows and 16,384 columns"),
        # a namespace prefix on the elements, which python-calamine reads past
        (
            '<x:row xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="100000">'
            '<x:c r="XFD100000"><x:v>1</x:v></x:c></x:row>',
            "100,000 rows and 16,384 columns",
        ),
    ],
    ids=[
        "long row number",
        "long column letters",
        "no references",
        "quoted reference",
        "line break",
        "prefixed",
    ],
)
def test_a_sheet_is_sized_as_python_calamine_places_its_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_xml: str, size: str
) -> None:
    path = xlsx_with_rows(tmp_path / "customers.xlsx", rows_xml)

    assert f"sheet 'Customers' spans {size} from A1" in refused_before_python_calamine_reads_it(
        path, monkeypatch
    )


def test_formatted_empty_cells_past_the_data_count_for_nothing(tmp_path: Path) -> None:
    # 1,000 customers whose rows reach column XFD, 16 million cells, only their first two holding anything
    rows = "".join(
        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}" t="inlineStr"><is><t>Beta {r}</t></is></c>'
        f'<c r="XFD{r}" s="0"/></row>'
        for r in range(3, 1_003)
    )
    path = xlsx_with_rows(tmp_path / "customers.xlsx", rows)

    export = read_export(path, System.BOOKS)

    assert len(export.records) == 1_001


def test_only_the_sheet_read_is_sized(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # python-calamine reads an xlsx workbook's sheets one by one: a hidden sheet left aside is not read
    lookup = '<row r="100000"><c r="XFD100000"><v>1</v></c></row>'
    path = xlsx_with_rows(tmp_path / "customers.xlsx", "", hidden_rows_xml=lookup)

    assert len(read_export(path, System.BOOKS).records) == 1
    with pytest.raises(ExportError, match="sheet 'Lookup' spans 100,000 rows and 16,384 columns"):
        read_export(path, System.BOOKS, sheet="Lookup")


def test_a_long_shared_string_used_across_the_sheet_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 30 KB of text written once and used by 10,000 cells: 300 MB once python-calamine copies it
    path = xlsx_with_rows(tmp_path / "customers.xlsx", shared_string_rows(3, 10_000, 0))
    with_shared_strings(path, ["x" * 30_000])

    assert refused_before_python_calamine_reads_it(path, monkeypatch) == (
        f"{path}: sheet 'Customers' holds more than 256 MB of text once its shared strings are copied into "
        "each cell that uses them: is the workbook damaged, or a long text filled across the sheet?"
    )


def test_a_long_shared_string_used_once_is_read(tmp_path: Path) -> None:
    # the longest string as many times as the sheet has cells would be 900 MB: each cell is looked at
    rows = shared_string_rows(3, 1, 0) + shared_string_rows(4, 10_000, 1)
    path = with_shared_strings(xlsx_with_rows(tmp_path / "customers.xlsx", rows), ["x" * 30_000, "Beta Ltd"])

    records = read_export(path, System.BOOKS).records

    assert len(records) == 10_002
    assert records[1].name == "x" * 30_000
    assert records[-1].name == "Beta Ltd"


def test_shared_strings_of_more_xml_than_is_read_are_refused_before_python_calamine_opens_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # python-calamine reads them all as it opens the workbook: a small zip may inflate them to gigabytes
    import python_calamine

    monkeypatch.setattr("sync_guard.exports.sizing._MOST_XML", 1 << 20)
    path = xlsx_with_rows(tmp_path / "customers.xlsx", shared_string_rows(3, 1, 0))
    with_shared_strings(path, ["x" * 1_000] * 2_000)

    message = refused_before_python_calamine(path, monkeypatch, python_calamine.CalamineWorkbook, "from_path")

    assert message == f"{path}: its sheets' XML is more than the 1 MB read here"


def test_xml_with_a_text_longer_than_is_read_is_refused_as_it_comes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 40 MB of text with no tag in it: a small zip, which would be joined in memory whole
    rows = '<row r="3"><c r="A3" t="inlineStr"><is><t>' + "x" * (40 << 20) + "</t></is></c></row>"
    path = xlsx_with_rows(tmp_path / "customers.xlsx", rows)

    assert "its XML has a tag or a text of more than 32 MB" in refused_before_python_calamine_reads_it(
        path, monkeypatch
    )


def test_a_sheet_python_calamine_could_not_hold_ends_in_an_error_not_an_abort(tmp_path: Path) -> None:
    # The memory a process may take capped at 1 GiB over what it has: python-calamine, handed this
    # file, fails to allocate and ends the process.
    path = xlsx_with_rows(tmp_path / "customers.xlsx", '<row r="100000"><c r="XFD100000"><v>1</v></c></row>')
    done = read_books_export_memory_capped(path)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "spans 100,000 rows and 16,384 columns" in done.stdout
