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


def read_first_sheet(path: Path) -> Sheet:
    """The workbook's first visible worksheet, whole; WorkbookUnreadable with the reason when it cannot
    be read."""
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
        sheets = [
            meta.name
            for meta in workbook.sheets_metadata
            if meta.typ == python_calamine.SheetTypeEnum.WorkSheet
            and meta.visible == python_calamine.SheetVisibleEnum.Visible
        ]
        if not sheets:
            raise WorkbookUnreadable("the workbook has no visible worksheet")
        try:
            # Every row and column from A1, so that a row's index is its number in the spreadsheet.
            cells = workbook.get_sheet_by_name(sheets[0]).to_python(skip_empty_area=False)
        except (python_calamine.CalamineError, ValueError) as error:
            message = f"sheet {sheets[0]!r} cannot be read (is it damaged?): {error}"
            raise WorkbookUnreadable(message) from error
    return Sheet(sheets[0], cells, sheets[1:])


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
