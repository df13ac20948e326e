"""An export's header and rows as text, whatever file holds them: a CSV file (its short rows, the error
values a spreadsheet saved in it) or a workbook's sheet (its cells written as a CSV of it would hold them)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import TextIO

from sync_guard.exports.columns import SYSTEM_OPTIONS, ExportError, ExportFile
from sync_guard.exports.conventions import TIME_FIELDS, ReadAsDecided
from sync_guard.exports.repairs import ID_FIELDS, SPREADSHEET_DIGITS
from sync_guard.exports.text import SPREADSHEET_ENCODINGS, delimiter_of, encoding_of, open_text
from sync_guard.exports.workbook import (
    WorkbookUnreadable,
    cell_text,
    column_letter,
    looks_like_workbook,
    lost_digits,
    read_sheet,
    serial_date_text,
)

# A Zoho record id as an export writes it: digits, in CRM's export after "zcrm_".
_ZOHO_ID = re.compile(r"(?:zcrm_)?\d{6,}")


@dataclass
class _ShortRows:
    """Rows with fewer fields than the header, read with their missing last cells empty.

    Excel leaves out the separators of a row's last cells when they are empty (for a run of rows at a
    time), so a Zoho export saved from it again has such rows. A line break inside a field that is not
    quoted also makes short rows, whose second part would read as a record of its own; so a short row
    is read only when its id is a Zoho id ("4876000000101001", "zcrm_4876000000101001"), which the
    rest of a broken row does not, and refused otherwise, naming the line.
    """

    path: Path
    width: int
    id_index: int
    count: int = 0
    first: int = 0
    previous: tuple[int, int] | None = None  # (line, fields) of the row before, when it was short

    def pad(self, line: int, row: list[str]) -> None:
        """Fill a short row up to the header's width in place (nothing for a full one)."""
        fields = len(row)
        if fields == self.width:
            self.previous = None
            return
        if self.id_index >= fields or not _ZOHO_ID.fullmatch(row[self.id_index].strip()):
            message = f"row has {fields} fields, the header has {self.width}"
            if self.previous is not None:
                message += (
                    f" (and line {self.previous[0]} before it has {self.previous[1]}: is there a line break "
                    "inside a field that is not quoted?)"
                )
            raise ExportError(self.path, line, message)
        self.previous = (line, fields)
        self.count += 1
        self.first = self.first or line
        row.extend([""] * (self.width - fields))

    def warnings(self) -> list[str]:
        """One warning for all the short rows read."""
        if not self.count:
            return []
        return [
            f"{self.path}: {self.count} row(s) have fewer fields than the header (first at line "
            f"{self.first}), as Excel writes a row whose last cells are empty: those cells are read as empty"
        ]


#: What a spreadsheet shows, and a CSV saved from it holds, in a cell whose formula failed.
SPREADSHEET_ERRORS = frozenset(
    {"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!", "#SPILL!", "#CALC!", "#GETTING_DATA"}
)
_SPREADSHEET_ERROR = re.compile("|".join(re.escape(error) for error in sorted(SPREADSHEET_ERRORS)))


def _id_columns(export: ExportFile, columns: dict[str, int]) -> dict[int, str]:
    """The columns that give a record's identity (its id, its link), repeats included: index -> field."""
    return {
        index: name
        for name in ID_FIELDS
        if name in columns
        for index in (columns[name], *export.repeated.get(name, ()))
    }


class _ErrorValues:
    """Error values (``#N/A``, ``#REF!``...) where a field is read: a lookup that found nothing, a deleted
    column. Never a name or an id: read as empty and counted for one warning, except in an id column, where
    the record (or its link) would be another, or none, and the run stops."""

    def __init__(self, export: ExportFile, headers: list[str], *, unit: str) -> None:
        self.export, self.headers, self.unit = export, headers, unit
        self.count = 0
        self.first: tuple[int, int, str] | None = None  # (line or row, column index, error)

    def _place(self, number: int, column: int) -> str:
        header = self.headers[column].strip()
        if self.unit == "row":
            return f"{header!r} (cell {column_letter(column)}{number})"
        return repr(header)

    def _unknown(self, what: str, error: str) -> str:
        """Why an id column's cell leaves its record's ``what`` unknown, and what to do."""
        fix = "correct the formula, or paste the ids in as values"
        return f"holds the error {error}, so this {what} is not known (a lookup that found nothing?): {fix}"

    def _counted(self, count: int, error: str, place: str) -> str:
        """The warning's words for ``count`` such cells, the first (``error``) at ``place``."""
        return (
            f"{count} cell(s) hold an error value (#N/A, #REF!, ...) where a value was read, the first "
            f"{error} at {place}: read as empty"
        )

    def read(self, number: int, column: int, error: str, ids: dict[int, str]) -> None:
        """Count one error value read as empty; ExportError if ``column`` is an id column."""
        if column in ids:
            what = ids[column].replace("_", " ")
            raise self.export.error(number, f"{self._place(number, column)} {self._unknown(what, error)}")
        self.count += 1
        self.first = self.first or (number, column, error)

    def warnings(self) -> list[str]:
        if self.first is None:
            return []
        number, column, error = self.first
        header = repr(self.headers[column].strip())
        column_name = (
            f"column {column_letter(column)} ({header})" if self.unit == "row" else f"column {header}"
        )
        place = f"{self.unit} {number}, {column_name}"
        return [f"{self.export.where(None)}: {self._counted(self.count, error, place)}"]


# What to do about formulas a workbook holds without their values.
_SAVE_VALUES = (
    "open the workbook in a spreadsheet program (Excel, LibreOffice) and save it, so that the values are "
    "saved with the formulas, or paste the values over the formulas, and run this again"
)


class _UnsavedFormulas(_ErrorValues):
    """Cells of a workbook holding a formula whose value was never saved (a workbook written by a
    program, such as openpyxl, that saves the formulas and leaves their computing to a spreadsheet):
    read as empty and counted for one warning, except in an id column, where the run stops, as for an
    error value."""

    held = "a formula with no saved value"

    def _unknown(self, what: str, error: str) -> str:
        return f"holds {self.held}, so this {what} is not known: {_SAVE_VALUES}"

    def _counted(self, count: int, error: str, place: str) -> str:
        return (
            f"{count} cell(s) hold a formula with no saved value (a workbook written by a program, not "
            f"saved from a spreadsheet) where a value was read, the first at {place}: read as empty; "
            f"{_SAVE_VALUES}"
        )


class _EmptyTextFormulas(_UnsavedFormulas):
    """Cells of an xls workbook holding a formula whose saved value is empty text: a spreadsheet's
    formula that came to "" (an IFERROR with nothing found), or one a program such as xlwt wrote
    without working it out, which an xls saves the same way. Read as empty and counted for one
    warning, as :class:`_UnsavedFormulas` are; in the id column the run stops (the record would have
    no id), but not in a link's column, where "" is a spreadsheet's usual way of writing no link."""

    held = "a formula whose saved value is empty text"

    def _counted(self, count: int, error: str, place: str) -> str:
        return (
            f"{count} cell(s) hold {self.held} where a value was read, the first at {place}: read as "
            "empty. An .xls workbook saves that both for a formula a spreadsheet worked out as empty and "
            "for one a program (such as xlwt) wrote without working it out: if these cells should hold "
            f"values, {_SAVE_VALUES}"
        )


class _CsvTable:
    """A CSV export's header row and its rows (see :func:`.reader.iter_export`)."""

    def __init__(self, export: ExportFile, handle: TextIO) -> None:
        self.export = export
        path = export.path
        first = handle.readline()
        self.reader = csv.reader(chain((first,), handle), delimiter=delimiter_of(first), strict=True)
        try:
            self.headers = next(self.reader)
        except StopIteration:
            raise ExportError(path, None, "the file is empty (no header row)") from None
        except csv.Error as error:
            raise ExportError(path, 1, f"header row is not valid CSV: {error}") from error
        if not any(header.strip() for header in self.headers):
            if any(line.strip() for line in handle):
                raise ExportError(path, 1, "the first line is blank: the header row must come first")
            raise ExportError(path, None, "the file is empty (no header row)")
        self.semicolons = self.reader.dialect.delimiter == ";"
        self.date1904 = False  # a workbook's count of days, which a CSV file does not say
        self.short: _ShortRows | None = None
        self.errors: _ErrorValues | None = None

    def sample(self, columns: dict[str, int]) -> Iterator[list[str]]:
        """The rows after the header, read again from the start, up to the first that is not valid (every
        cell as written: a CSV file's ``columns`` are all text)."""
        with open_text(self.export.path, self.export.encoding) as handle:
            rows = csv.reader(handle, delimiter=self.reader.dialect.delimiter)
            try:
                next(rows, None)
                yield from rows
            except (csv.Error, UnicodeDecodeError):
                return  # the reading proper stops there, naming the line

    def rows(
        self, columns: dict[str, int], readings: Sequence[ReadAsDecided]
    ) -> Iterator[tuple[int, list[str]]]:
        """(line, row) of each row that is not blank, a short one filled up to the header's width, an error
        value a spreadsheet saved (see :class:`_ErrorValues`) read as empty where a field is read, the
        cells of the columns the ``readings`` look at as they read them (a spreadsheet's day number as
        its date)."""
        path, width = self.export.path, len(self.headers)
        self.short = short = _ShortRows(path, width, columns["id"])
        ids = _id_columns(self.export, columns)
        read = sorted({*columns.values(), *ids}) if self._holds_error_values() else []
        self.errors = errors = _ErrorValues(self.export, self.headers, unit="line")
        reader, looking = self.reader, [reading for reading in readings if reading.columns]
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise ExportError(path, start, f"not valid CSV: {error}") from error
            except UnicodeDecodeError as error:
                raise ExportError(path, start, f"not {self.export.encoding} text: {error.reason}") from error
            if not any(cell.strip() for cell in row):
                continue  # blank lines at the end of hand-edited exports
            if len(row) > width:
                raise ExportError(path, start, f"row has {len(row)} fields, the header has {width}")
            short.pad(start, row)
            for index in read:
                if row[index].strip() in SPREADSHEET_ERRORS:
                    errors.read(start, index, row[index].strip(), ids)
                    row[index] = ""
            for reading in looking:
                for index in [*reading.columns]:
                    row[index] = reading.text(start, index, row[index])
            yield start, row

    def _holds_error_values(self) -> bool:
        """Whether the file's text holds an error value anywhere: one quick search, so that the cells are
        looked at one by one only in a file a spreadsheet saved with some."""
        with open_text(self.export.path, self.export.encoding) as handle:
            tail = ""
            while chunk := handle.read(1 << 20):
                if _SPREADSHEET_ERROR.search(tail + chunk):
                    return True
                tail = chunk[-16:]
        return False

    def warnings(self) -> list[str]:
        """What a person should know about how the rows were read."""
        found = self.short.warnings() if self.short is not None else []
        return found + (self.errors.warnings() if self.errors is not None else [])


class _WorkbookTable:
    """A workbook's sheet (the one asked for, or its first visible one), its cells written as a CSV of
    it would hold them: its header is the first row that holds anything, and rows keep their numbers
    in the sheet."""

    def __init__(self, export: ExportFile) -> None:
        self.export = export
        try:
            sheet = read_sheet(export.path, export.wanted_sheet)
        except WorkbookUnreadable as error:
            raise ExportError(export.path, None, str(error)) from error
        export.sheet = sheet.name
        if sheet.others:
            others = ", ".join(repr(name) for name in sheet.others)
            export.warnings.append(
                f"{export.path}: the workbook has {len(sheet.others) + 1} sheets; the first, {sheet.name!r}, "
                f"is read and {others} left aside (a Zoho export has one sheet: name the customers' sheet "
                f"with {SYSTEM_OPTIONS[export.system]}-sheet to read another)"
            )
        self.cells = sheet.cells
        texts = ([cell_text(value) for value in row] for row in self.cells)
        header_index = next((i for i, row in enumerate(texts) if any(t.strip() for t in row)), None)
        if header_index is None:
            raise export.error(None, "the sheet is empty (no header row)")
        self.header_index = header_index
        headers = [cell_text(value) for value in self.cells[self.header_index]]
        while not headers[-1].strip():
            headers.pop()  # the sheet's width is its widest row's
        self.headers = headers
        self.semicolons = False
        self.error_cells = sheet.errors
        self.unsaved_formula_cells = sheet.unsaved_formulas
        self.empty_text_formula_cells = sheet.empty_text_formulas
        self.date1904 = sheet.date1904
        self.errors = _ErrorValues(export, headers, unit="row")
        self.unsaved_formulas = _UnsavedFormulas(export, headers, unit="row")
        self.empty_text_formulas = _EmptyTextFormulas(export, headers, unit="row")

    def _row_text(self, row: Sequence[object]) -> list[str]:
        width = len(self.headers)
        texts = [cell_text(value) for value in row[:width]]
        texts.extend([""] * (width - len(texts)))
        return texts

    def sample(self, columns: dict[str, int]) -> Iterator[list[str]]:
        """The rows after the header, as text, the number cells of the amount column left out: a
        number's text has the dot :func:`cell_text` writes, which tells nothing of the mark the sheet's
        text amounts are written with ("1.250,50")."""
        amount = columns.get("outstanding")
        for row in islice(self.cells, self.header_index + 1, None):
            texts = self._row_text(row)
            if amount is not None and amount < len(row) and type(row[amount]) in (float, int):
                texts[amount] = ""
            yield texts

    def rows(
        self, columns: dict[str, int], readings: Sequence[ReadAsDecided]
    ) -> Iterator[tuple[int, list[str]]]:
        """(row number, row) of each row that is not blank, its text cells in the columns the ``readings``
        look at as they read them; ExportError for an id a number has cut short or an error value has
        taken the place of, or a cell right of the header's last column."""
        export, width = self.export, len(self.headers)
        ids = _id_columns(export, columns)
        errors = self._read_in_columns(columns, self.error_cells)
        unsaved = self._read_in_columns(columns, dict.fromkeys(self.unsaved_formula_cells, ""))
        empty_texts = self._read_in_columns(columns, dict.fromkeys(self.empty_text_formula_cells, ""))
        record_ids = {index: name for index, name in ids.items() if name == "id"}
        dates = [columns[name] for name in (*TIME_FIELDS, "date_of_birth") if name in columns]
        amount = columns.get("outstanding")
        typed = bool(dates) or amount is not None
        looking = [reading for reading in readings if reading.columns]
        for number, row in enumerate(islice(self.cells, self.header_index + 1, None), self.header_index + 2):
            texts = self._row_text(row)
            if typed:
                self._typed_by_column(row, texts, dates, amount)
            beyond = next((i for i in range(width, len(row)) if cell_text(row[i]).strip()), None)
            if beyond is not None:
                raise export.error(
                    number,
                    f"cell {column_letter(beyond)}{number} holds {cell_text(row[beyond])!r}, right "
                    f"of the header's last column ({column_letter(width - 1)}): give it a header, or "
                    "clear it",
                )
            # python-calamine reads both an error cell and a formula with no saved value as empty
            for column, error in errors.get(number, ()):
                self.errors.read(number, column, error, ids)
            for column, _ in unsaved.get(number, ()):
                self.unsaved_formulas.read(number, column, "", ids)
            if not any(text.strip() for text in texts):
                continue
            # After the blank rows: a row of formulas worked out as "" (filled down past the data) shows
            # nothing, and is passed over as any blank row is, its id column's "" included.
            for column, _ in empty_texts.get(number, ()):
                self.empty_text_formulas.read(number, column, "", record_ids)
            for reading in looking:  # day numbers written as text; a number cell is a date already
                for index in [*reading.columns]:
                    if index >= len(row) or type(row[index]) not in (float, int):
                        texts[index] = reading.text(number, index, texts[index])
            for index, name in ids.items():
                if lost_digits(row[index]):
                    raise export.error(
                        number,
                        f"{self.headers[index].strip()!r} (cell {column_letter(index)}{number}) is the "
                        f"number {texts[index]}: a spreadsheet keeps only {SPREADSHEET_DIGITS} digits of a "
                        f"number, so this {name.replace('_', ' ')}'s last digits are lost. Export the file "
                        "from Zoho again, or format that column as Text before the ids are typed or pasted",
                    )
            yield number, texts

    def _typed_by_column(
        self, row: Sequence[object], texts: list[str], dates: list[int], amount: int | None
    ) -> None:
        """A number cell read as its column means it: in a column of dates, the date its serial number
        stands for; in the ``amount`` column, while the file's amounts are read with a decimal comma (its
        text amounts may show one at any row: see :class:`.conventions._DecimalMark`), written with a
        decimal comma (1250.125 would read as 1250125 there: a mark before three digits is the file's
        thousands). A number cell's text has a decimal dot, which is what a file of decimal dots means."""
        for index in dates:
            if index < len(row) and (text := serial_date_text(row[index], date1904=self.date1904)):
                texts[index] = text
        if (
            amount is not None
            and self.export.decimal_comma
            and amount < len(row)
            and type(row[amount]) in (float, int)
        ):
            texts[amount] = texts[amount].replace(".", ",")

    def _read_in_columns(
        self, columns: dict[str, int], cells: dict[tuple[int, int], str]
    ) -> dict[int, list[tuple[int, str]]]:
        """The ``cells`` below the header in the columns read, by row number: (column index, what the
        cell holds)."""
        read = {*columns.values(), *(i for further in self.export.repeated.values() for i in further)}
        by_row: dict[int, list[tuple[int, str]]] = {}
        for (row, column), error in sorted(cells.items()):
            if row > self.header_index and column in read:
                by_row.setdefault(row + 1, []).append((column, error))
        return by_row

    def warnings(self) -> list[str]:
        """One warning counting the error cells read as empty, one counting the formulas with no saved
        value, one counting an xls workbook's formulas saved as empty text (a sheet's rows need no other
        mending)."""
        return self.errors.warnings() + self.unsaved_formulas.warnings() + self.empty_text_formulas.warnings()


@contextmanager
def open_table(export: ExportFile) -> Iterator[_CsvTable | _WorkbookTable]:
    """The export's header and rows, by what the file holds: a workbook (whatever its name) or CSV."""
    if is_workbook(export.path):
        yield _WorkbookTable(export)
        return
    if export.wanted_sheet is not None:
        raise ExportError(
            export.path,
            None,
            f"sheet {export.wanted_sheet!r} asked for, but this is a CSV file: it has no sheets",
        )
    export.encoding, not_utf8 = encoding_of(export.path)
    if not_utf8 is not None:
        export.warnings.append(
            f"{export.path}, line {not_utf8}: not UTF-8, so the file is read as "
            f"{SPREADSHEET_ENCODINGS[export.encoding]}; if names look wrong in the report, save the file as "
            "'CSV UTF-8' and run it again"
        )
    with open_text(export.path, export.encoding) as handle:
        yield _CsvTable(export, handle)


def is_workbook(path: Path) -> bool:
    """Whether the file is an Excel workbook by its first bytes (also one saved under a .csv name)."""
    try:
        with path.open("rb") as handle:
            return looks_like_workbook(handle.read(8))
    except OSError:
        return False  # reading it as CSV names the reason
