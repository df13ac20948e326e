"""Sizing a workbook's sheets from their XML before python-calamine reads them.

python-calamine reads a sheet as a block of cells from A1 to the last cell that holds anything, and a
few hundred bytes of XML can make that block gigabytes (a cell repeated across every column, a cell at
row a million, a long string copied into every cell). A failed allocation in Rust ends the process
beyond any handler, so :mod:`sync_guard.exports.workbook` has the sheet it will read (an .ods or .xls
workbook's every sheet, an xlsx workbook's chosen one and its shared strings) sized here first, and
refused with :class:`~sync_guard.exports.workbook.WorkbookUnreadable` when it could not be held.
Imported only when a workbook is read, as python-calamine is.
"""

from __future__ import annotations

import contextlib
import html
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import IO

from sync_guard.exports.workbook import (
    _ATTRIBUTE,
    _BOOLERR,
    _DAMAGED,
    _EOF,
    _FORMULA,
    _RECORD,
    _XLS_STREAMS,
    WorkbookUnreadable,
    _attributes,
    _sheet_part,
    _SheetMarks,
    _xls_globals,
    column_index,
)

# An OpenDocument spreadsheet (.ods): python-calamine reads every sheet of its content.xml as soon as the
# file is opened, each as a block of cells from A1 (as read here) to the last cell that holds anything,
# a repeated cell's text copied for each repeat. A cell repeated across 16,384 columns and a row
# repeated a million times take a few hundred bytes to write, and python-calamine then asks for
# gigabytes (a failed allocation in Rust ends the process, beyond any handler): the sheets are sized
# from their XML before it is handed over. LibreOffice writes the empty cells and rows past a sheet's
# data as repeats too, which python-calamine leaves out, and so does the sizing.
_ODS_CONTENT = "content.xml"
# The most rows and columns python-calamine reads of a sheet (a spreadsheet's own limits).
_ODS_ROWS, _ODS_COLUMNS = 1_048_576, 16_384
# What an .ods workbook's sheets may hold together: the cells of 100,000 customers in 100 columns,
# repeats counted (python-calamine's own limit, 100 million, takes gigabytes); 256 MB of text written
# once in the XML and read many times (a repeated cell's, a run of spaces written as a count); and
# 1 GB of XML (about 10 million cells as LibreOffice writes them), which a small zip can inflate to.
_MOST_CELLS = 10_000_000
_MOST_COPIED_TEXT = 1 << 28
_MOST_XML = 1 << 30
# The most XML a row may take (16,384 cells of 2 KB each): past it, a damaged file or a made one.
_MOST_ROW_XML = 1 << 25
# A sheet's start, a row's start (whole tags: their attributes are read) and a row's end; a cell's tag;
# what makes a cell hold something for python-calamine (a value, a text, a formula; its attributes'
# names as written, prefix included, which is what it matches); a repeat count and a run of spaces.
_TAG_REST = rb"""(?=[\s>/])(?:[^>"']|"[^"]*"|'[^']*')*>"""  # to the '>' that is not in a quoted value
_ODS_MARK = re.compile(rb"<table:table(-row)?" + _TAG_REST + rb"|</table:table-row\s*>")
_ODS_CELL = re.compile(rb"<table:(?:covered-)?table-cell" + _TAG_REST)
# Where a mark may begin (a sheet's or a row's tag, a row's end), and the longest such beginning.
_ODS_MARK_START = re.compile(rb"<table:table(?:-row)?[\s>/]|</table:table-row")
_MARK_START_LENGTH = len(b"</table:table-row")
_ODS_HOLDS = re.compile(rb"office:(?:value|string-value|date-value|time-value|boolean-value)|table:formula")
_ODS_CELL_STARTS = (b"<table:table-cell", b"<table:covered-table-cell")
_ODS_REPEATED = re.compile(rb"""number-(?:rows|columns)-repeated\s*=\s*["']([^"']*)""")
# An empty cell repeated, as LibreOffice writes one (whose count is all there is to read of it).
_ODS_EMPTY_RUN = re.compile(
    rb"""<table:(?:covered-)?table-cell table:number-columns-repeated="([0-9]{1,9})"/>"""
)
_ODS_SPACES = re.compile(rb"""text:c\s*=\s*["']([^"']*)""")
# How much of a part's XML is inflated at a time.
_CHUNK = 1 << 22
# What the zipfile module raises for an entry it cannot inflate (RuntimeError: one a password encrypted).
_UNINFLATABLE = (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError)


def refuse_ods_too_large_to_hold(path: Path) -> None:
    """WorkbookUnreadable for an .ods workbook whose sheets, once their repeated cells and rows are
    counted, hold more than python-calamine can be given to read (see ``_MOST_CELLS``), or whose
    content.xml the zipfile module cannot inflate; nothing for another kind of zip archive, or one the
    zipfile module cannot open (python-calamine says what is wrong with it)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return
    with archive:
        for entry in archive.infolist():
            if entry.filename != _ODS_CONTENT:
                continue
            try:
                with archive.open(entry) as handle:
                    _size_ods_content(handle)
            except _UNINFLATABLE as error:
                # What cannot be inflated here cannot be sized: not handed over on trust.
                raise WorkbookUnreadable(_DAMAGED) from error


def _size_ods_content(handle: IO[bytes]) -> None:
    """Go through a content.xml a chunk at a time, refusing it as soon as its sheets outgrow the
    bounds. What follows the last mark read waits, a chunk at a time, until a mark begins: a long row
    is joined once, not once a chunk."""
    sizes = _OdsSizes()
    waiting: list[bytes] = []
    waiting_size = read = 0
    while chunk := handle.read(_CHUNK):
        read += len(chunk)
        if read > _MOST_XML:
            raise WorkbookUnreadable(f"its sheets' XML is more than the {_MOST_XML >> 20} MB read here")
        overlap = waiting[-1][-_MARK_START_LENGTH:] if waiting else b""
        waiting.append(chunk)
        waiting_size += len(chunk)
        if waiting_size > _MOST_ROW_XML:
            raise WorkbookUnreadable(
                f"sheet {sizes.sheet!r} has a row of more than {_MOST_ROW_XML >> 20} MB of XML, more than is "
                "read here (is the workbook damaged?)"
            )
        if len(waiting) > 1 and not _ODS_MARK_START.search(overlap + chunk):
            continue
        data = b"".join(waiting)
        rest = data[sizes.read(data, at_end=False) :]
        waiting, waiting_size = [rest], len(rest)
    sizes.read(b"".join(waiting), at_end=True)
    sizes.end_sheet()


@dataclass
class _OdsRow:
    """A row being read: how many times it repeats, its width so far, where its last cell holding
    something ends, the bytes of the cells to that one as python-calamine holds them (a repeated cell's
    for each repeat, a run of spaces as long as it is), and as the XML writes them."""

    repeats: int
    width: int = 0
    end: int = 0
    text: int = 0
    written: int = 0


@dataclass
class _OdsSizes:
    """The size of the sheets read so far of an .ods workbook's content.xml, and of the one being read.
    A row's cells are those from its tag to the next row's (or sheet's), whatever ends it, so that no
    cell goes uncounted; a row or a sheet inside a row (a table in a cell) is refused."""

    cells: int = 0
    copied_text: int = 0  # bytes of text held beyond those the XML writes
    sheet: str = ""
    rows: int = 0  # rows of the sheet so far
    height: int = 0  # rows to the last that holds anything
    width: int = 0  # columns to the last that holds anything, in any row
    row: _OdsRow | None = None
    in_row: bool = False

    def read(self, data: bytes, *, at_end: bool) -> int:
        """Size what ``data`` holds up to its last mark (to its end when ``at_end``); where the rest
        starts."""
        at = 0
        for mark in _ODS_MARK.finditer(data):
            self._cells(data, at, mark.start())
            at = mark.end()
            tag = mark[0]
            if tag.startswith(b"</"):
                self.in_row = False
                continue
            if self.in_row:
                raise WorkbookUnreadable(
                    f"sheet {self.sheet!r} has a table inside a cell (is the workbook damaged?)"
                )
            self.end_row()
            if mark[1]:  # a row
                self.row = _OdsRow(_count(tag))
                self.in_row = not tag.endswith(b"/>")
            else:
                self.end_sheet()
                self.sheet = _attributes(tag).get("table:name", "")
        if at_end:
            self._cells(data, at, len(data))
            return len(data)
        return at

    def _cells(self, data: bytes, start: int, stop: int) -> None:
        """Count the cells between ``start`` and ``stop`` into the row being read (none before a sheet's
        first row: python-calamine reads only a row's): at the speed of bytes.count when no cell is
        repeated but as LibreOffice writes a run of empty cells, else one by one."""
        row = self.row
        if row is None or start >= stop:
            return
        row.written += stop - start
        row.text += stop - start
        if data.find(b"text:c", start, stop) >= 0:
            row.text += sum(map(_number, _ODS_SPACES.findall(data, start, stop)))
        repeats = data.count(b"-repeated", start, stop)
        runs = _ODS_EMPTY_RUN.findall(data, start, stop) if repeats else []
        if len(runs) == repeats:
            row.width += sum(data.count(cell, start, stop) for cell in _ODS_CELL_STARTS)
            row.width += sum(min(int(run), _ODS_COLUMNS) - 1 for run in runs)
            if _ODS_HOLDS.search(data, start, stop):
                # A run of empty cells that ends the row is left out, as python-calamine leaves it out.
                last = _ODS_EMPTY_RUN.match(data, data.rfind(b"<", start, stop), stop)
                trailing = (
                    min(int(last[1]), _ODS_COLUMNS) if last and not data[last.end() : stop].strip() else 0
                )
                row.end = max(row.end, min(row.width - trailing, _ODS_COLUMNS))
        else:
            self._each_cell(data, start, stop)
        if row.text - row.written > _MOST_COPIED_TEXT:
            raise WorkbookUnreadable(self.too_much_text())

    def _each_cell(self, data: bytes, start: int, stop: int) -> None:
        """Count the cells between ``start`` and ``stop`` into the row being read one by one, each tag
        read whole (a quoted attribute may hold a '>'), and the copies of a repeated cell's text."""
        row = self.row
        assert row is not None
        cells = list(_ODS_CELL.finditer(data, start, stop))
        # A cell's start whose tag does not end (a quote left open) takes a column too.
        row.width += max(0, sum(data.count(cell, start, stop) for cell in _ODS_CELL_STARTS) - len(cells))
        for at, cell in enumerate(cells):
            repeats = min(_count(cell[0]), _ODS_COLUMNS)
            row.width += repeats
            if _ODS_HOLDS.search(cell[0]):
                row.end = min(row.width, _ODS_COLUMNS)
                until = cells[at + 1].start() if at + 1 < len(cells) else stop
                spaces = sum(map(_number, _ODS_SPACES.findall(data, cell.end(), until)))
                row.text += (until - cell.start() + spaces) * (repeats - 1)

    def end_row(self) -> None:
        """Add the row read to its sheet's size."""
        row, self.row = self.row, None
        if row is None:
            return
        repeats = min(row.repeats, _ODS_ROWS)
        if row.end:
            self.height = min(self.rows + repeats, _ODS_ROWS)
            self.width = max(self.width, row.end)
            self.copied_text += row.text * repeats - row.written
        self.rows = min(self.rows + repeats, _ODS_ROWS)
        if self.cells + self.height * self.width > _MOST_CELLS:
            raise WorkbookUnreadable(
                _too_many_cells(
                    self.sheet, self.height, self.width, " once its repeated cells are counted", _SHEETS
                )
            )
        if self.copied_text > _MOST_COPIED_TEXT:
            raise WorkbookUnreadable(self.too_much_text())

    def end_sheet(self) -> None:
        """Add the sheet read to the workbook's size."""
        self.end_row()
        self.cells += self.height * self.width
        self.rows = self.height = self.width = 0

    def too_much_text(self) -> str:
        """Why a workbook whose repeated cells (or runs of spaces) come to too much text is refused."""
        return (
            f"sheet {self.sheet!r} holds more than {_MOST_COPIED_TEXT >> 20} MB of text once its repeated "
            "cells and runs of spaces are counted: is the workbook damaged, or a long text filled across "
            "the sheet?"
        )


def _too_many_cells(
    sheet: str, height: int, width: int, counted: str, read_of: str, spans: str = "spans"
) -> str:
    """Why a sheet of ``height`` rows and ``width`` columns (as ``counted``) is refused: more cells than
    are read of a ``read_of``."""
    return (
        f"sheet {sheet!r} {spans} {height:,} rows and {width:,} columns{counted}, more than the "
        f"{_MOST_CELLS:,} cells read of a {read_of}: clear the rows and columns past the data (a cell filled "
        "to the end of the sheet?) and save it again"
    )


# What the cells of an .ods or .xls workbook are counted against: python-calamine reads all its sheets
# as it opens the file.
_SHEETS = "workbook (its sheets together)"


def _count(tag: bytes) -> int:
    """How many times a row's or a cell's tag says it repeats (the largest, if it says so twice): 1 when
    it does not say, or says it in a way python-calamine refuses."""
    if b"-repeated" not in tag:
        return 1
    return max(map(_number, _ODS_REPEATED.findall(tag)), default=1) or 1


def _number(value: bytes) -> int:
    """An attribute's whole number, its entities read (``&#49;``); 0 when it is none."""
    if value.isdigit():
        return int(value)
    text = html.unescape(value.decode(errors="replace"))
    return int(text) if re.fullmatch(r"\+?[0-9]+", text) else 0


# An xlsx sheet as python-calamine reads it: a block of cells from A1 to its last row and column that
# hold a value, each cell placed by its reference (any number of letters and digits: ``r="A4000000000"``
# is read as row four billion), or after the one before it when it has none. A few kilobytes of XML can
# ask for gigabytes (see the .ods sizing above): the sheet is sized from its XML before it is read.
# First every cell it writes is counted, a value in it or not (a bound python-calamine's block never
# exceeds): the common writers (Excel, openpyxl) write each row and cell with its reference first,
# which a regular expression with a literal start finds quickly; anything else is walked tag by tag.
# Only a sheet over the bound is walked again, counting the cells that hold a value (a formatted empty
# cell does not).
_XLSX_CELL_REFERENCED = re.compile(rb'<c r="([A-Z]+)([0-9]+)"')
_XLSX_ROW_REFERENCED = re.compile(rb'<row r="([0-9]+)"')
# Any row's or cell's start (a tab or a line break may follow its name), without a prefix.
_XLSX_CELL_START = re.compile(rb"<c[\s>/]")
_XLSX_ROW_START = re.compile(rb"<row[\s>/]")
_XLSX_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
# A row's or a cell's tag, or a cell's end; a reference's value, as python-calamine reads it; what a
# cell holds its value in (an empty <v/> included: a bound, not the exact count).
_XLSX_TAG = re.compile(rb"<(?:[\w.-]+:)?(row|c)" + _TAG_REST + rb"|</(?:[\w.-]+:)?c\s*>")
_XLSX_REFERENCE = re.compile(rb"\$?([A-Za-z]*)\$?([0-9]*)")
_XLSX_VALUE = re.compile(rb"<(?:[\w.-]+:)?(?:v|is)[\s>/]")


@dataclass
class _XlsxSizes:
    """The rows and columns of an xlsx sheet's XML read so far, from A1 to its last cell (to its last
    holding a value when ``values_only``), and where a cell without a reference goes: the row being
    read, and the column after the last cell."""

    values_only: bool
    height: int = 0
    width: int = 0
    row: int = -1
    column: int = 0
    open_cell: tuple[int, int] | None = None  # a cell whose value has not been seen yet

    def read(self, data: bytes) -> None:
        """Size the rows and cells in ``data``, which holds whole tags."""
        if self.values_only or not self._read_referenced(data):
            self._walk(data)

    def _read_referenced(self, data: bytes) -> bool:
        """Size ``data`` if each of its rows and cells starts with its reference, as Excel and openpyxl
        write them; whether it did."""
        cells = _XLSX_CELL_REFERENCED.findall(data)
        rows = _XLSX_ROW_REFERENCED.findall(data)
        if (
            len(cells) != len(_XLSX_CELL_START.findall(data))
            or len(rows) != len(_XLSX_ROW_START.findall(data))
            or _XLSX_PREFIXED.search(data) is not None
        ):
            return False
        if cells:
            letters = max({letters for letters, _ in cells}, key=lambda name: (len(name), name))
            self.width = max(self.width, column_index(letters.decode()) + 1)
            self.height = max(self.height, max(map(int, {number for _, number in cells})))
            self.column = column_index(cells[-1][0].decode()) + 1
        if rows:
            self.row = int(rows[-1]) - 1
            self.height = max(self.height, self.row + 1)
        return True

    def _walk(self, data: bytes) -> None:
        """Size ``data`` a tag at a time."""
        at = 0
        for tag in _XLSX_TAG.finditer(data):
            self._held(data, at, tag.start())
            at = tag.end()
            if tag[1] is None:  # a cell's end
                self.open_cell = None
                continue
            reference = _reference(tag[0])
            if tag[1] == b"row":
                self.row = int(reference[2]) - 1 if reference and reference[2] else self.row + 1
                self.column = 0
                self.open_cell = None
                continue
            row, column = self.row, self.column
            if reference and reference[1]:
                column = column_index(reference[1].upper().decode())
            if reference and reference[2]:
                row = int(reference[2]) - 1
            self.column = column + 1
            if not self.values_only:
                self._grow(row, column)
            elif not tag[0].endswith(b"/>"):
                self.open_cell = row, column
        self._held(data, at, len(data))

    def _held(self, data: bytes, start: int, stop: int) -> None:
        """Count the open cell if what follows its tag from ``start`` to ``stop`` holds its value."""
        if self.open_cell is not None and _XLSX_VALUE.search(data, start, stop):
            self._grow(*self.open_cell)
            self.open_cell = None

    def _grow(self, row: int, column: int) -> None:
        self.height, self.width = max(self.height, row + 1), max(self.width, column + 1)


def _reference(tag: bytes) -> re.Match[bytes] | None:
    """The letters and digits of a row's or a cell's ``r`` attribute (the attributes read in turn: one
    may hold `` r="A1"`` in its quoted value); None when it has none, or one python-calamine refuses."""
    for attribute in _ATTRIBUTE.finditer(tag):
        if attribute[1] == b"r":
            return _XLSX_REFERENCE.fullmatch(attribute[3])
    return None


def refuse_xlsx_sheet_too_large_to_hold(path: Path, sheet: str, shared: list[int]) -> _SheetMarks:
    """WorkbookUnreadable for an xlsx workbook whose ``sheet`` spans more cells from A1 to its last
    value than python-calamine can be given to read (``_MOST_CELLS``, as for an .ods workbook), or
    whose cells would hold too many copies of the ``shared`` strings (their lengths), or whose XML the
    zipfile module cannot inflate; nothing for another kind of workbook, or a sheet whose part is not
    where the package's relationships say (python-calamine says what is wrong with it). What the sheet's
    XML was seen to hold (an error cell's type, a formula) as it was walked, so that it is inflated
    again only to find those; nothing ruled out when it was not walked."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return _SheetMarks.unseen()
    with archive:
        try:
            parts = _sheet_part(archive, sheet)
        except (KeyError, UnicodeDecodeError, *_UNINFLATABLE):
            return _SheetMarks.unseen()
        if parts is None:
            return _SheetMarks.unseen()
        marks = _SheetMarks()  # the walk that goes to the end sees every piece of the XML
        try:
            sizes = _XlsxSizes(values_only=False)
            if not _xlsx_sheet_within(archive, parts[0], sizes, marks):
                sizes = _XlsxSizes(values_only=True)
                if not _xlsx_sheet_within(archive, parts[0], sizes, marks):
                    raise WorkbookUnreadable(
                        _too_many_cells(
                            sheet,
                            sizes.height,
                            sizes.width,
                            " from A1 to its last cell holding a value",
                            "sheet",
                        )
                    )
            _refuse_too_much_shared_text(archive, parts[0], sheet, sizes.height * sizes.width, shared)
        except _UNINFLATABLE as error:
            raise WorkbookUnreadable(_DAMAGED) from error
    return marks


# An xlsx workbook's shared strings (the text of its text cells, each written once), and a cell that
# holds one: python-calamine copies the string into each cell that uses it, so a few hundred bytes of
# XML can ask for as many copies of a long string as the sheet has cells. What marks one; a cell that
# holds one as Excel writes it (a quick search, trusted when it finds as many as there are "s" values),
# as any writer may; a cell's type saying it holds one (one whose index is not found counts as the
# longest).
_XLSX_SHARED_STRINGS = "sharedstrings.xml"
_XLSX_SHARED_ITEM = re.compile(rb"<(?:[\w.-]+:)?si[\s>/]")
_XLSX_SHARED_CELL = re.compile(
    rb"""<(?:[\w.-]+:)?c\s[^>]*?\bt\s*=\s*["']s["'][^>]*>\s*<(?:[\w.-]+:)?v\s*>\s*([0-9]{1,9})\s*<"""
)
_XLSX_SHARED_AS_EXCEL_WRITES = re.compile(rb'<c r="[A-Z]+[0-9]+"(?: s="[0-9]+")? t="s"><v>([0-9]{1,9})</v>')
_XLSX_SHARED_TYPE = re.compile(rb"""\bt\s*=\s*["']s["']""")


def _refuse_too_much_shared_text(
    archive: zipfile.ZipFile, part: str, sheet: str, cells: int, lengths: list[int]
) -> None:
    """WorkbookUnreadable when the shared strings the cells of the sheet in ``part`` use come to more
    than ``_MOST_COPIED_TEXT`` (as for an .ods workbook's repeated cells), counting each string by the
    bytes of XML it takes; only looked at cell by cell when the longest string as many times as the
    sheet's ``cells`` would come to more."""
    longest = max(lengths, default=0)
    if longest * cells <= _MOST_COPIED_TEXT:
        return
    total = 0
    with archive.open(part) as handle:
        for data in _whole_tags(handle):
            found = _XLSX_SHARED_AS_EXCEL_WRITES.findall(data)
            unplaced = 0
            if len(found) != data.count(b'"s"') + data.count(b"'s'"):  # written otherwise: looked at closer
                found = _XLSX_SHARED_CELL.findall(data)
                unplaced = len(_XLSX_SHARED_TYPE.findall(data)) - len(found)
            indices = map(int, found)
            total += sum(lengths[index] for index in indices if index < len(lengths)) + unplaced * longest
            if total > _MOST_COPIED_TEXT:
                raise WorkbookUnreadable(_too_much_shared_text(sheet))


def _too_much_shared_text(sheet: str, together: str = "") -> str:
    """Why a sheet whose cells would hold too many copies of its workbook's shared strings is refused."""
    return (
        f"sheet {sheet!r} holds more than {_MOST_COPIED_TEXT >> 20} MB of text once its shared strings are "
        f"copied into each cell that uses them{together}: is the workbook damaged, or a long text filled "
        "across the sheet?"
    )


def xlsx_shared_string_lengths(path: Path) -> list[int]:
    """:func:`_shared_string_lengths` of the zip archive at ``path``; none when the zipfile module
    cannot open it (python-calamine says what is wrong with it), WorkbookUnreadable when it cannot
    inflate them, or they are more than ``_MOST_XML``."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return []
    with archive:
        try:
            return _shared_string_lengths(archive)
        except _UNINFLATABLE as error:
            raise WorkbookUnreadable(_DAMAGED) from error


def _shared_string_lengths(archive: zipfile.ZipFile) -> list[int]:
    """The bytes of XML each of an xlsx workbook's shared strings takes (no fewer than its text), in
    order; of several such parts, the longest at each place."""
    found: list[int] = []
    for entry in archive.infolist():
        if posixpath.basename(entry.filename).lower() != _XLSX_SHARED_STRINGS:
            continue
        lengths: list[int] = []
        with archive.open(entry) as handle:
            for data in _whole_tags(handle):
                starts = [item.start() for item in _XLSX_SHARED_ITEM.finditer(data)]
                if lengths:  # the string open at the last chunk's end goes on to the first start here
                    lengths[-1] += starts[0] if starts else len(data)
                lengths.extend(after - before for before, after in pairwise(starts))
                if starts:
                    lengths.append(len(data) - starts[-1])
        found = _longest_at_each_place(found, lengths)
    return found


def _longest_at_each_place(these: list[int], those: list[int]) -> list[int]:
    """Of two tables of shared strings' lengths (a workbook may hold several), the longer at each place."""
    longer, shorter = (these, those) if len(these) >= len(those) else (those, these)
    return [max(pair) for pair in zip(longer, shorter, strict=False)] + longer[len(shorter) :]


def _xlsx_sheet_within(archive: zipfile.ZipFile, part: str, sizes: _XlsxSizes, marks: _SheetMarks) -> bool:
    """Whether the sheet in ``part``, sized by ``sizes``, holds no more than ``_MOST_CELLS`` cells
    (False as soon as it is seen to hold more); each piece of its XML read is noted in ``marks`` (whole
    tags hold each mark whole: no mark holds a '<')."""
    with archive.open(part) as handle:
        for data in _whole_tags(handle):
            sizes.read(data)
            marks.note(data)
            if sizes.height * sizes.width > _MOST_CELLS:
                return False
    return True


def _whole_tags(handle: IO[bytes]) -> Iterator[bytes]:
    """A part's XML inflated a chunk at a time, each cut before its last '<' (no attribute's value
    holds one) so that every tag in it is whole; WorkbookUnreadable past ``_MOST_XML``, or when more
    than ``_MOST_ROW_XML`` goes by without a '<'."""
    waiting: list[bytes] = []
    read = 0
    while chunk := handle.read(_CHUNK):
        read += len(chunk)
        if read > _MOST_XML:
            raise WorkbookUnreadable(f"its sheets' XML is more than the {_MOST_XML >> 20} MB read here")
        waiting.append(chunk)
        cut = chunk.rfind(b"<")
        if cut < 0:
            if sum(map(len, waiting)) > _MOST_ROW_XML:
                raise WorkbookUnreadable(
                    f"its XML has a tag or a text of more than {_MOST_ROW_XML >> 20} MB, more than is read "
                    "here (is the workbook damaged?)"
                )
            continue
        waiting[-1] = chunk[:cut]
        yield b"".join(waiting)
        waiting = [chunk[cut:]]
    yield b"".join(waiting)


# An xls workbook (BIFF8 records in an OLE compound file, Excel 97 to 2003; BIFF5's, Excel 95) as
# python-calamine reads it: every sheet its globals list (hidden ones, charts and macro sheets too) as
# the file opens, each from its entry's offset to the first EOF record, its cells held as a block from
# the first to the last (from A1 here, as the reader takes it) and its formulas' text as a second block
# from the first formula to the last; a string of the shared strings table (SST) is copied into each
# cell that uses it. A few kilobytes can make it ask for terabytes (a failed allocation in Rust ends
# the process, beyond any handler): a DIMENSIONS record saying a sheet has four billion rows (it reserves
# room for their cells first), a cell at column 65,535 (a record writes the column in two bytes, past
# the 256 an .xls sheet has), the same far cell on twenty sheets, a string of 65,535 characters used by
# thousands of cells. The sheets are sized from their records before python-calamine is given the file,
# as an .ods workbook's are, with the same bounds.
_XLS_NUMBER, _XLS_LABEL, _XLS_RK, _XLS_LABELSST, _XLS_RSTRING = 0x0203, 0x0204, 0x027E, 0x00FD, 0x00D6
_XLS_MULRK, _XLS_DIMENSIONS, _XLS_CONTINUE = 0x00BD, 0x0200, 0x003C
# The records of a cell python-calamine holds, each starting with the cell's row and column (two bytes
# each); a formula's STRING record holds its text at the formula's place, counted with the formula.
_XLS_CELLS = frozenset(
    {_XLS_NUMBER, _XLS_LABEL, _BOOLERR, _XLS_RK, _XLS_LABELSST, _XLS_RSTRING, _XLS_MULRK, _FORMULA}
)
_XLS_RECORD_AND_PLACE = struct.Struct("<HHHH")  # a record's type and length, a cell's row and column
# A DIMENSIONS record as BIFF8 writes it (rows in four bytes) and as BIFF5 does (in two); its first row
# and column, and the ones past its last.
_XLS_DIMENSIONS_8 = struct.Struct("<IIHH")
_XLS_DIMENSIONS_5 = struct.Struct("<HHHH")
_U32 = 1 << 32
# A string's count of characters and its flags (1: two bytes a character; 8: formatting runs follow its
# count, 4: phonetic data follows them), the count of runs and the phonetic data's bytes.
_XLS_STRING_START = struct.Struct("<HB")
_XLS_WIDE, _XLS_RICH, _XLS_PHONETIC = 0x1, 0x8, 0x4
_XLS_RUNS = struct.Struct("<H")
_XLS_PHONETIC_SIZE = struct.Struct("<i")
_XLS_COUNTS = struct.Struct("<ii")  # an SST's strings in the workbook's cells, and in the table
_XLS_INDEX = struct.Struct("<I")


def refuse_xls_too_large_to_hold(path: Path) -> bytes | None:
    """WorkbookUnreadable for an xls workbook whose sheets, as python-calamine holds them all once it
    opens the file, span more cells together than ``_MOST_CELLS`` (a DIMENSIONS record saying so
    included), whose cells would hold more than ``_MOST_COPIED_TEXT`` of copies of its shared strings,
    or whose workbook stream is more than ``_MOST_XML``; nothing for a file olefile finds no workbook in
    (:func:`~sync_guard.exports.workbook._refuse_xls_without_a_workbook` refuses it). The workbook
    stream sized, so that it is read once (for its error cells too)."""
    import olefile  # the cli extra's, as python-calamine is

    try:
        with olefile.OleFileIO(str(path)) as ole:
            stream = next((name for name in _XLS_STREAMS if ole.exists(name)), None)
            if stream is None:
                return None
            data = ole.openstream(stream).read()
    except (OSError, ValueError, IndexError, struct.error) as error:  # olefile's errors on a damaged file
        raise WorkbookUnreadable(_DAMAGED) from error
    if len(data) > _MOST_XML:
        raise WorkbookUnreadable(f"its workbook stream is more than the {_MOST_XML >> 20} MB read here")
    try:
        globals_ = _xls_globals(data)
    except (struct.error, IndexError) as error:  # its globals cut short: python-calamine stops there too
        raise WorkbookUnreadable(_DAMAGED) from error
    lengths: list[int] = []
    for table in globals_.string_tables:
        lengths = _longest_at_each_place(lengths, _xls_string_lengths(data, table))
    sizes = _XlsSizes(lengths)
    for name, start in globals_.entries:
        sizes.add_sheet(data, name, start)
    return data


@dataclass(frozen=True)
class _XlsSheet:
    """One sheet's records as python-calamine would hold them: its rows and columns from A1 to its last
    cell, its formulas' block, the most cells a DIMENSIONS record has it reserve room for (and the rows
    and columns it says), the bytes of the shared strings its cells copy, and the bytes walked."""

    height: int
    width: int
    formulas: int
    reserved: tuple[int, int, int]
    copied_text: int
    walked: int


@dataclass
class _XlsSizes:
    """The cells and copied text of an xls workbook's sheets read so far; a sheet walked once however
    many entries name it (each is held, under its own name)."""

    lengths: list[int]
    cells: int = 0
    copied_text: int = 0
    walked: int = 0
    seen: dict[int, _XlsSheet] = field(default_factory=dict)

    def add_sheet(self, data: bytes, name: str, start: int) -> None:
        """Add the sheet ``name`` whose records start at ``start``; WorkbookUnreadable once the sheets
        read so far are more than python-calamine can be given."""
        sheet = self.seen.get(start)
        if sheet is None:
            sheet = self.seen[start] = _walk_xls_sheet(data, start, self.lengths)
            self.walked += sheet.walked
            if self.walked > _MOST_XML:
                raise WorkbookUnreadable(
                    f"its sheets' records are more than the {_MOST_XML >> 20} MB read here"
                )
        reserved, rows, columns = sheet.reserved
        if self.cells + reserved > _MOST_CELLS:
            raise WorkbookUnreadable(
                _too_many_cells(
                    name, rows, columns, " (its DIMENSIONS record)", _SHEETS, spans="says it spans"
                )
            )
        self.cells += sheet.height * sheet.width + sheet.formulas
        if self.cells > _MOST_CELLS:
            raise WorkbookUnreadable(
                _too_many_cells(name, sheet.height, sheet.width, " from A1 to its last cell", _SHEETS)
            )
        self.copied_text += sheet.copied_text
        if self.copied_text > _MOST_COPIED_TEXT:
            raise WorkbookUnreadable(_too_much_shared_text(name, " (the workbook's sheets together)"))


def _walk_xls_sheet(data: bytes, start: int, lengths: list[int]) -> _XlsSheet:
    """Size the sheet whose records start at ``start``, as python-calamine reads them: to the first EOF
    record, or to one cut short by the stream's end (where it stops reading the workbook)."""
    # A record's type and length, and the row and column a cell's starts with, read at once: the loop
    # runs once for each of a sheet's records (at about 0.3 microseconds a record).
    unpack, index_at = _XLS_RECORD_AND_PLACE.unpack_from, _XLS_INDEX.unpack_from
    cells, strings, end = _XLS_CELLS, len(lengths), len(data)
    height = width = copied = reserved = 0
    dimensions = (0, 0)
    formula_rows: list[int] = []
    formula_columns: list[int] = []
    at = start
    while at + _XLS_RECORD_AND_PLACE.size <= end:  # a shorter record at the end holds no cell
        kind, length, row, column = unpack(data, at)
        body = at + 4
        at = body + length
        if at > end or kind == _EOF:
            break
        if kind in cells:
            if length < 4:
                continue
            if kind == _XLS_LABELSST:
                if length >= 10 and (index := index_at(data, body + 6)[0]) < strings:
                    copied += lengths[index]
            elif kind == _XLS_MULRK:
                column += max(0, (length - 6) // 6 - 1)  # each value is 6 bytes, from the first column
            elif kind == _FORMULA:
                formula_rows.append(row)
                formula_columns.append(column)
            if row >= height:
                height = row + 1
            if column >= width:
                width = column + 1
        elif kind == _XLS_DIMENSIONS:
            claimed = _reserved_for(data, body, length)
            if claimed[0] * claimed[1] > reserved:
                reserved, dimensions = claimed[0] * claimed[1], claimed
    formulas = (
        (max(formula_rows) - min(formula_rows) + 1) * (max(formula_columns) - min(formula_columns) + 1)
        if formula_rows
        else 0
    )
    return _XlsSheet(height, width, formulas, (reserved, *dimensions), copied, min(at, end) - start)


def _reserved_for(data: bytes, body: int, length: int) -> tuple[int, int]:
    """The rows and columns python-calamine reserves room for on a DIMENSIONS record: from its first to
    the one before its last, counted in 32 bits (a first past the last wraps round to four billion); none
    for a record of another length (python-calamine refuses the workbook)."""
    if length == _XLS_DIMENSIONS_8.size + 2:
        first_row, past_row, first_column, past_column = _XLS_DIMENSIONS_8.unpack_from(data, body)
    elif length == _XLS_DIMENSIONS_5.size + 2:
        first_row, past_row, first_column, past_column = _XLS_DIMENSIONS_5.unpack_from(data, body)
    else:
        return 0, 0
    if past_row < 1 or past_column < 1:
        return 1, 1
    return (past_row - first_row) % _U32, (past_column - first_column) % _U32


def _xls_string_lengths(data: bytes, start: int) -> list[int]:
    """The bytes the characters of each string in the SST record at ``start`` take (one or two a
    character), in order, read as python-calamine reads them: its CONTINUE records following it, each
    starting with the flag of the characters it goes on with; as far as they can be read (python-calamine
    refuses the workbook there)."""
    segments = _continued(data, start)
    first, stop = segments[0]
    if stop - first < _XLS_COUNTS.size:
        return []
    count = _XLS_COUNTS.unpack_from(data, first)[1]
    lengths: list[int] = []
    with contextlib.suppress(struct.error):  # a count read past the stream's end: python-calamine stops there
        _read_string_lengths(data, segments, count, lengths)
    return lengths


def _read_string_lengths(
    data: bytes, segments: list[tuple[int, int]], count: int, lengths: list[int]
) -> None:
    """Add to ``lengths`` those of the ``count`` strings in ``segments`` (an SST record's data, after its
    counts, and its CONTINUE records'), as far as they can be read."""
    at, stop = segments[0]
    at += _XLS_COUNTS.size
    segment = 0
    for _ in range(max(count, 0)):
        if at >= stop and segment + 1 < len(segments):
            segment += 1
            at, stop = segments[segment]
        if stop - at < _XLS_STRING_START.size:
            break
        characters, flags = _XLS_STRING_START.unpack_from(data, at)
        at += _XLS_STRING_START.size
        width = 2 if flags & _XLS_WIDE else 1
        if not flags & ~_XLS_WIDE and at + characters * width <= stop:  # as nearly every string is written
            lengths.append(characters * width)
            at += characters * width
            continue
        skipped = 0
        if flags & _XLS_RICH:
            skipped += 4 * _XLS_RUNS.unpack_from(data, at)[0]
            at += _XLS_RUNS.size
        if flags & _XLS_PHONETIC:
            skipped += _XLS_PHONETIC_SIZE.unpack_from(data, at)[0]
            at += _XLS_PHONETIC_SIZE.size
        size = 0
        while characters:
            taken = min(characters, max(stop - at, 0) // width)
            size, at, characters = size + taken * width, at + taken * width, characters - taken
            if characters:
                segment += 1
                if segment == len(segments) or segments[segment][0] >= segments[segment][1]:
                    lengths.append(size)
                    return
                at, stop = segments[segment]
                width = 2 if data[at] & _XLS_WIDE else 1
                at += 1
        lengths.append(size)
        if skipped < 0:
            break
        while skipped:
            if at >= stop:
                segment += 1
                if segment == len(segments):
                    return
                at, stop = segments[segment]
            step = min(skipped, stop - at)
            at, skipped = at + step, skipped - step


def _continued(data: bytes, start: int) -> list[tuple[int, int]]:
    """Where the data of the record at ``start`` is, and of each CONTINUE record following it."""
    segments: list[tuple[int, int]] = []
    at = start
    while at + 4 <= len(data):
        kind, length = _RECORD.unpack_from(data, at)
        if (segments and kind != _XLS_CONTINUE) or at + 4 + length > len(data):
            break
        segments.append((at + 4, at + 4 + length))
        at += 4 + length
    return segments or [(start, start)]
