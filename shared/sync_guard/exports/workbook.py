"""Excel workbooks (``.xlsx``, ``.xls``; OpenDocument ``.ods`` too), read as the CSV reader reads a file.

Zoho Books exports its customers as CSV, XLS or XLSX, and a CSV opened in Excel is often saved again as
a workbook. A workbook's cells are typed (numbers, dates, booleans); each is written here as the text a
CSV of the same sheet would hold, so that the rows go through the CSV reader's own parsing and checks.

python-calamine (Rust) reads the workbook: about 11 times faster than openpyxl on a 100,000-row export,
and one library for xlsx, xls and ods. It is imported only when a workbook is read: it is a dependency of
the command line (the ``cli`` extra), not of the Lambda layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

# How a workbook starts: a zip archive (xlsx, ods) or an OLE compound file (xls, and an xlsx that a
# password encrypted).
_ZIP_START = b"PK\x03\x04"
_OLE_START = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# A spreadsheet keeps 15 significant digits of a number; an integer below 10**15 is also exact as a
# float (2**53 is about 9 * 10**15).
_EXACT_BELOW = 10**15


def looks_like_workbook(head: bytes) -> bool:
    """Whether a file's first bytes are a workbook's (whatever the file's name says)."""
    return head.startswith((_ZIP_START, _OLE_START))


class WorkbookUnreadable(Exception):
    """A workbook that cannot be opened: password-protected, damaged, or no spreadsheet at all."""


@dataclass
class Sheet:
    """The sheet read from a workbook: its name, its cells by row from A1, and the sheets left aside."""

    name: str
    cells: Sequence[Sequence[object]]
    others: list[str]


def read_sheet(path: Path, name: str | None = None) -> Sheet:
    """The workbook's worksheet ``name`` (its case aside), or its first visible one, whole;
    WorkbookUnreadable with the reason when it cannot be read, or when there is no such sheet."""
    import python_calamine  # only here: the cli extra's library, loaded when a workbook is met

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError as error:
        raise WorkbookUnreadable("the workbook is password-protected: save it without a password") from error
    except (python_calamine.CalamineError, OSError, ValueError) as error:
        raise WorkbookUnreadable(
            f"this starts as an Excel workbook does, but cannot be read as one (is it damaged, or another "
            f"kind of zip archive?): {error}"
        ) from error
    with workbook:
        worksheets = [m for m in workbook.sheets_metadata if m.typ == python_calamine.SheetTypeEnum.WorkSheet]
        visible = [m.name for m in worksheets if m.visible == python_calamine.SheetVisibleEnum.Visible]
        if name is not None:
            chosen = _sheet_named(name, [m.name for m in worksheets], visible)
            others: list[str] = []
        elif visible:
            chosen, others = visible[0], visible[1:]
        else:
            raise WorkbookUnreadable("the workbook has no visible worksheet")
        try:
            # Every row and column from A1, so that a row's index is its number in the spreadsheet.
            cells = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
        except (python_calamine.CalamineError, ValueError) as error:
            message = f"sheet {chosen!r} cannot be read (is it damaged?): {error}"
            raise WorkbookUnreadable(message) from error
    return Sheet(chosen, cells, others)


def _sheet_named(name: str, worksheets: list[str], visible: list[str]) -> str:
    """The worksheet a person named: as written, else the one whose name differs only in case (a
    spreadsheet allows no two such names); WorkbookUnreadable listing the sheets there are."""
    if name in worksheets:
        return name
    folded = [sheet for sheet in worksheets if sheet.casefold() == name.strip().casefold()]
    if folded:
        return folded[0]
    shown = ", ".join(repr(sheet) + ("" if sheet in visible else " (hidden)") for sheet in worksheets)
    raise WorkbookUnreadable(f"the workbook has no sheet {name!r}; its sheets: {shown or 'none'}")


def cell_text(value: object) -> str:
    """A cell as a CSV of its sheet writes it: numbers without a needless ``.0`` and with at most 15
    significant digits (a spreadsheet's precision), times in ISO 8601, booleans as TRUE and FALSE."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_BELOW:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def lost_digits(value: object) -> bool:
    """Whether a cell is a number too long for a spreadsheet to hold every digit of (a Zoho id typed or
    imported as a number): its last digits are gone."""
    return isinstance(value, float) and abs(value) >= _EXACT_BELOW


def column_letter(index: int) -> str:
    """A column as a spreadsheet names it: 0 is A, 26 is AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
