"""Excel workbooks (``.xlsx``, ``.xls``; OpenDocument ``.ods`` too), read as the CSV reader reads a file.

Zoho Books exports its customers as CSV, XLS or XLSX, and a CSV opened in Excel is often saved again as
a workbook. A workbook's cells are typed (numbers, dates, booleans); each is written here as the text a
CSV of the same sheet would hold, so that the rows go through the CSV reader's own parsing and checks.

python-calamine (Rust) reads the workbook: about 11 times faster than openpyxl on a 100,000-row export,
and one library for xlsx, xls and ods. It is imported only when a workbook is read: it is a dependency of
the command line (the ``cli`` extra), not of the Lambda layer.
"""

from __future__ import annotations

import html
import posixpath
import re
import struct
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
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
    # (row index, column index) -> the error value its cell holds ("#N/A"), which python-calamine reads
    # as an empty cell. Found in an xlsx workbook's XML, or an xls workbook's records.
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    # Whether the workbook counts its days from 1904 (an old Mac Excel's), not 1900 (an xlsx says so).
    date1904: bool = False
    # (row index, column index) of the cells holding a formula with no value saved for it (a workbook
    # written by a program, such as openpyxl, that saves formulas without computing them), which
    # python-calamine reads as empty cells. Found in an xlsx workbook's XML.
    unsaved_formulas: set[tuple[int, int]] = field(default_factory=set)
    # (row index, column index) of an xls workbook's cells holding a formula whose saved value is empty
    # text: what a spreadsheet saves for a formula it worked out as "", and what a program (xlwt) saves
    # for every formula it never worked out; an xls cannot tell the two apart, as an xlsx can.
    empty_text_formulas: set[tuple[int, int]] = field(default_factory=set)


_DAMAGED = (
    "this looks like a workbook (xlsx, xls, ods), but cannot be read as one (is it damaged, or cut short?)"
)
_PROTECTED = "the workbook is password-protected: save it without a password"


def read_sheet(path: Path, name: str | None = None) -> Sheet:
    """The workbook's worksheet ``name`` (its case aside), or its first visible one, whole;
    WorkbookUnreadable with the reason when it cannot be read, or when there is no such sheet."""
    try:
        return _read_sheet(path, name)
    except BaseException as error:
        # On some damaged files (an xls workbook cut short) python-calamine's Rust code panics, which
        # pyo3 raises as a PanicException: a BaseException the library does not export by name.
        if type(error).__name__ != "PanicException":
            raise
        raise WorkbookUnreadable(_DAMAGED) from error


def _read_sheet(path: Path, name: str | None) -> Sheet:
    """:func:`read_sheet`, but for the panics of python-calamine."""
    import python_calamine  # only here: the cli extra's library, loaded when a workbook is met

    from sync_guard.exports import sizing  # the same: what python-calamine is given is sized first

    if _is_ole(path):
        _refuse_xls_without_a_workbook(path)
        # python-calamine reads every sheet of an xls workbook as it opens it: sized before that. The
        # stream sized is kept for the search of the chosen sheet's error cells, not read again.
        stream = sizing.refuse_xls_too_large_to_hold(path)
    else:
        sizing.refuse_ods_too_large_to_hold(path)
        # python-calamine reads an xlsx workbook's shared strings as it opens it: sized before that.
        shared = sizing.xlsx_shared_string_lengths(path)
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError as error:
        raise WorkbookUnreadable(_PROTECTED) from error
    except (python_calamine.CalamineError, OSError, ValueError) as error:
        raise WorkbookUnreadable(
            "this looks like a workbook (xlsx, xls, ods), but cannot be read as one (is it damaged, or "
            f"another kind of zip archive?): {error}"
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
        if not _is_ole(path):
            # The sizing walks the sheet's whole XML: it notes whether an error cell or a formula is there.
            marks = sizing.refuse_xlsx_sheet_too_large_to_hold(path, chosen, shared)
        try:
            # Every row and column from A1, so that a row's index is its number in the spreadsheet.
            cells = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
        except (python_calamine.CalamineError, ValueError) as error:
            message = f"sheet {chosen!r} cannot be read (is it damaged?): {error}"
            raise WorkbookUnreadable(message) from error
    if _is_ole(path):
        errors, empty_texts, date1904 = _xls_facts(stream, chosen)
        return Sheet(chosen, cells, others, errors, date1904, empty_text_formulas=empty_texts)
    errors, unsaved, date1904 = _xlsx_facts(path, chosen, marks)
    return Sheet(chosen, cells, others, errors, date1904, unsaved)


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


# An xlsx package: the relationship that leads from the package to its workbook, and from the workbook to
# its sheets (the parts' names are the writer's choice).
_PACKAGE_RELATIONS = "_rels/.rels"
_OFFICE_DOCUMENT = "/officeDocument"
# What marks a cell whose type is an error, the start of a cell's tag (with or without a namespace
# prefix), and where a cell ends.
_ERROR_TYPES = (b't="e"', b"t='e'")
_CELL_TAG = re.compile(rb"<(?:[\w.-]+:)?c\s")
_CELL_END = re.compile(rb"</(?:[\w.-]+:)?c>")
_CELL_REF = re.compile(rb"""\br\s*=\s*["']\$?([A-Z]{1,3})\$?([0-9]{1,7})["']""")
_CELL_VALUE = re.compile(rb"<(?:[\w.-]+:)?v>([^<]*)<")
# The tags of a workbook's sheets and of its relationships, and an attribute in them.
_SHEET_TAG = re.compile(rb"<(?:[\w.-]+:)?sheet\s[^>]*>")
_PROPERTIES_TAG = re.compile(rb"<(?:[\w.-]+:)?workbookPr\s[^>]*>")
_RELATIONSHIP_TAG = re.compile(rb"<(?:[\w.-]+:)?Relationship\s[^>]*>")
_ATTRIBUTE = re.compile(rb"""([\w.:-]+)\s*=\s*(["'])(.*?)\2""")
# What shows a formula in a sheet's XML: the end of its element (</f>, </x:f>), or its start when it
# has no attributes (one search: each costs about 0.04 s over the 100k-row benchmark's 59 MB of XML; a
# shared formula's cells that hold only <f .../> follow the one that holds its text). The element a
# cell's formula is in (first of the cell's children), with or without a namespace prefix; what ends
# it; a cell's saved value, and the type of a formula's text result.
_FORMULA_MARK = b"f>"
_FORMULA_TAG = re.compile(rb"<(?:[\w.-]+:)?f[\s>/]")
_FORMULA_END = re.compile(rb"</(?:[\w.-]+:)?f>")
_SAVED_VALUE = re.compile(rb"\s*<(?:[\w.-]+:)?v\s*>([^<]*)<")
_TEXT_RESULT = re.compile(rb"""\bt\s*=\s*["']str["']""")


@dataclass
class _SheetMarks:
    """Whether a sheet's XML may hold an error cell (``t="e"`` anywhere) and a formula (``f>``
    anywhere): each ruled out only once every piece of the XML has been noted without it."""

    errors: bool = False
    formulas: bool = False

    @classmethod
    def unseen(cls) -> _SheetMarks:
        """The marks of a sheet whose XML was not gone through: nothing ruled out."""
        return cls(errors=True, formulas=True)

    def note(self, xml: bytes) -> None:
        """Note the marks in ``xml``, a piece of the sheet's XML in which each occurs whole."""
        self.errors = self.errors or any(marker in xml for marker in _ERROR_TYPES)
        self.formulas = self.formulas or _FORMULA_MARK in xml


def _xlsx_facts(
    path: Path, sheet: str, marks: _SheetMarks
) -> tuple[dict[tuple[int, int], str], set[tuple[int, int]], bool]:
    """The error cells of an xlsx workbook's ``sheet`` by (row, column) index, its cells holding a
    formula with no saved value, and whether its dates count from 1904; none and False for another kind
    of workbook, or one whose parts are not where the package's relationships say. The sheet's XML is
    inflated and parsed only when ``marks`` (the sizing's, which saw all of it) say it may hold one."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = _sheet_part(archive, sheet)
            if parts is None:
                return {}, set(), False
            part, date1904 = parts
            if not marks.errors and not marks.formulas:
                return {}, set(), date1904
            xml = archive.read(part)
    except (zipfile.BadZipFile, KeyError, OSError, UnicodeDecodeError):
        return {}, set(), False
    errors = _error_cells(xml) if marks.errors else {}
    return errors, (_unsaved_formulas(xml) if marks.formulas else set()), date1904


def _unsaved_formulas(xml: bytes) -> set[tuple[int, int]]:
    """A sheet's cells holding a formula but no value saved for it, from its XML. A formula whose
    saved result is empty text (``t="str"`` with an empty value) has its value, and so has one whose
    ``<v>`` holds anything."""
    unsaved: set[tuple[int, int]] = set()
    for match in _FORMULA_TAG.finditer(xml):
        at = match.start()
        start = xml.rfind(b"<", 0, at)
        tag = xml[start:at]
        ref = _CELL_REF.search(tag)
        if not _CELL_TAG.match(tag) or ref is None:
            continue  # the formula is a cell's first child: anything else is not a cell's formula
        opened = xml.find(b">", at)
        if xml[opened - 1 : opened] == b"/":  # <f t="shared" si="0"/>: a shared formula's other cells
            after = opened + 1
        else:
            end = _FORMULA_END.search(xml, opened)
            if end is None:
                continue
            after = end.end()
        value = _SAVED_VALUE.match(xml, after)
        if value is None or (not value[1].strip() and _TEXT_RESULT.search(tag) is None):
            unsaved.add((int(ref[2]) - 1, column_index(ref[1].decode())))
    return unsaved


def _error_cells(xml: bytes) -> dict[tuple[int, int], str]:
    """A sheet's error cells, from its XML."""
    errors: dict[tuple[int, int], str] = {}
    # Found by the marker, not by matching every cell's tag: a sheet of a million cells with one #N/A
    # is searched at the speed of bytes.find.
    for marker in _ERROR_TYPES:
        at = xml.find(marker)
        while at >= 0:
            start, end = xml.rfind(b"<", 0, at), xml.find(b">", at)
            tag = xml[start : end + 1]
            ref = _CELL_REF.search(tag)
            # A cell's tag, the marker its own attribute; a cell without its reference (Excel always
            # writes it) has no place to name.
            if _CELL_TAG.match(tag) and xml[at - 1 : at].isspace() and ref is not None:
                close = _CELL_END.search(xml, end)
                value = (
                    None
                    if tag.endswith(b"/>")
                    else _CELL_VALUE.search(xml, end, close.start() if close else end)
                )
                error = value[1].decode(errors="replace").strip() if value else ""
                errors[int(ref[2]) - 1, column_index(ref[1].decode())] = error or "#VALUE!"
            at = xml.find(marker, at + 1)
    return errors


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> tuple[str, bool] | None:
    """The zip entry holding ``sheet``'s XML, by the workbook's relationships, and whether the
    workbook's dates count from 1904; None when there is no xlsx workbook (an ods file is a zip too).
    The small parts are searched, not parsed: a workbook is a stranger's file, and a regular
    expression expands no XML entity."""
    names = set(archive.namelist())
    package = _relations(archive, "", _PACKAGE_RELATIONS, names)
    workbook = next((target for kind, target in package.values() if kind.endswith(_OFFICE_DOCUMENT)), None)
    if workbook is None or workbook not in names:
        return None
    folder, name = posixpath.split(workbook)
    targets = _relations(archive, folder, posixpath.join(folder, "_rels", f"{name}.rels"), names)
    xml = archive.read(workbook)
    properties = _PROPERTIES_TAG.search(xml)
    date1904 = properties is not None and _attributes(properties[0]).get("date1904") in {"1", "true"}
    for tag in _SHEET_TAG.findall(xml):
        attributes = _attributes(tag)
        if attributes.get("name") == sheet:
            relation = next((v for k, v in attributes.items() if k.endswith(":id")), None)
            return (targets[relation][1], date1904) if relation in targets else None
    return None


def _relations(
    archive: zipfile.ZipFile, folder: str, part: str, names: set[str]
) -> dict[str, tuple[str, str]]:
    """A relationships part's entries: id -> (type, target as a zip entry's name); none when it is
    missing."""
    if part not in names:
        return {}
    relations = {}
    for tag in _RELATIONSHIP_TAG.findall(archive.read(part)):
        attributes = _attributes(tag)
        relations[attributes.get("Id", "")] = (
            attributes.get("Type", ""),
            _target(folder, attributes.get("Target", "")),
        )
    return relations


def _attributes(tag: bytes) -> dict[str, str]:
    """A tag's attributes by name (with its prefix, as written), their values unescaped."""
    return {m[1].decode(): html.unescape(m[3].decode()) for m in _ATTRIBUTE.finditer(tag)}


def _target(folder: str, target: str) -> str:
    """A relationship's target as a zip entry's name: from the package's root when it starts with a
    slash, else from the folder of the part it belongs to."""
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(folder, target))


def _refuse_xls_without_a_workbook(path: Path) -> None:
    """WorkbookUnreadable for an OLE compound file that holds no workbook stream as olefile reads it:
    damaged that way, python-calamine may ask for gigabytes of memory and end the process, beyond any
    handler."""
    import olefile  # the cli extra's, as python-calamine is

    try:
        with olefile.OleFileIO(str(path)) as ole:
            found = any(ole.exists(name) for name in _XLS_STREAMS)
            encrypted = ole.exists(_ENCRYPTED_PACKAGE)
    except (OSError, ValueError, IndexError, struct.error) as error:  # olefile's errors on a damaged file
        raise WorkbookUnreadable(_DAMAGED) from error
    if encrypted:
        raise WorkbookUnreadable(_PROTECTED)
    if not found:
        raise WorkbookUnreadable(
            "this starts as an Excel 97 workbook does, but holds no workbook (is it damaged, or another "
            "Office document?)"
        )


def _is_ole(path: Path) -> bool:
    """Whether the workbook is an OLE compound file: an xls workbook (python-calamine has opened it)."""
    with path.open("rb") as handle:
        return handle.read(len(_OLE_START)) == _OLE_START


# An xls workbook's records (BIFF5 and BIFF8, Excel 95 to 2003): a substream's start and end, a sheet's
# entry in the workbook's globals, the globals' count of days (1 when from 1904), a cell holding a
# boolean or an error, a formula's cell with the value saved for it.
_BOF, _EOF, _BOUNDSHEET, _DATEMODE, _BOOLERR, _FORMULA = 0x0809, 0x000A, 0x0085, 0x0022, 0x0205, 0x0006
# The workbook's table of shared strings (the text of its text cells, each written once).
_SST = 0x00FC
_BIFF8 = 0x0600
# The stream that holds an xls workbook: Excel 97 to 2003's name, then Excel 5/95's.
_XLS_STREAMS = ("Workbook", "Book")
# What a password-protected xlsx is inside the compound file it is saved as.
_ENCRYPTED_PACKAGE = "EncryptedPackage"
_RECORD = struct.Struct("<HH")
# The codes of the error values an xls cell holds.
_XLS_ERRORS = {
    0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?", 0x24: "#NUM!",
    0x2A: "#N/A", 0x2B: "#GETTING_DATA",
}  # fmt: skip
# What an error cell's record is bound to hold, which a sheet's bytes are searched for before its
# records are walked: a BOOLERR record's type and length (8), and a formula's saved value when it is an
# error (type 2, the code, 0xFFFF in the last two of its eight bytes), or empty text (type 3).
_BOOLERR_START = _RECORD.pack(_BOOLERR, 8)
_FORMULA_ERROR = re.compile(rb"\x02\x00[" + re.escape(bytes(sorted(_XLS_ERRORS))) + rb"]\x00\x00\x00\xff\xff")
_FORMULA_EMPTY_TEXT = re.compile(rb"\x03.{5}\xff\xff", re.DOTALL)
# A formula's saved value by its first byte, where its last two are 0xFFFF: an error, empty text.
_RESULT_ERROR, _RESULT_EMPTY_TEXT = 2, 3


def _xls_facts(
    data: bytes | None, sheet: str
) -> tuple[dict[tuple[int, int], str], set[tuple[int, int]], bool]:
    """The error cells of ``sheet`` by (row, column) index in an xls workbook's stream ``data`` (the
    cells holding an error value, and the formulas whose saved value is one), its formulas whose saved
    value is empty text, and whether its dates count from 1904; none and False when the workbook's
    stream was not found. The sheet's bytes are searched for what such a cell's record holds (at the
    speed of bytes.find), and its records walked only where that occurs."""
    if data is None:
        return {}, set(), False
    try:
        globals_ = _xls_globals(data)
        if sheet not in globals_.sheets:
            return {}, set(), globals_.date1904
        start = globals_.sheets[sheet]
        end = min((other for other in globals_.sheets.values() if other > start), default=len(data))
        if (
            data.find(_BOOLERR_START, start, end) < 0
            and _FORMULA_ERROR.search(data, start, end) is None
            and _FORMULA_EMPTY_TEXT.search(data, start, end) is None
        ):
            return {}, set(), globals_.date1904
        return *_xls_errors_in(data, start), globals_.date1904
    except (struct.error, IndexError, ValueError):
        return {}, set(), False


def _xls_records(data: bytes, at: int) -> Iterator[tuple[int, int, int]]:
    """(type, offset of its data, length) of each record from ``at`` to the stream's end."""
    while at + 4 <= len(data):
        kind, length = _RECORD.unpack_from(data, at)
        yield kind, at + 4, length
        at += 4 + length


@dataclass(frozen=True)
class _XlsGlobals:
    """What an xls workbook's globals say: where each sheet's substream starts, by the sheet's name, and
    whether its dates count from 1904; every sheet's entry in order (a name given twice included), and
    where each table of shared strings (SST record) starts."""

    sheets: dict[str, int]
    date1904: bool
    entries: tuple[tuple[str, int], ...] = ()
    string_tables: tuple[int, ...] = ()


def _xls_globals(data: bytes) -> _XlsGlobals:
    """The BOUNDSHEET and DATEMODE records of an xls workbook's globals, which end with their EOF."""
    first, _ = _RECORD.unpack_from(data, 0)
    version = struct.unpack_from("<H", data, 4)[0] if first == _BOF else 0
    entries: list[tuple[str, int]] = []
    string_tables: list[int] = []
    date1904 = False
    for kind, at, length in _xls_records(data, 0):
        if kind == _EOF:
            break
        if kind == _DATEMODE and length >= 2:
            date1904 = struct.unpack_from("<H", data, at)[0] == 1
        elif kind == _BOUNDSHEET and length > 7:
            count = data[at + 6]
            if version == _BIFF8:  # a flag says whether the name is written in 2 bytes a character
                wide = data[at + 7] & 1
                name = data[at + 8 : at + 8 + count * (1 + wide)].decode(
                    "utf-16-le" if wide else "latin-1", errors="replace"
                )
            else:
                name = data[at + 7 : at + 7 + count].decode("cp1252", errors="replace")
            entries.append((name, struct.unpack_from("<I", data, at)[0]))
        elif kind == _SST:
            string_tables.append(at - _RECORD.size)
    return _XlsGlobals(dict(entries), date1904, tuple(entries), tuple(string_tables))


def _xls_errors_in(data: bytes, start: int) -> tuple[dict[tuple[int, int], str], set[tuple[int, int]]]:
    """The error cells of the sheet whose substream starts at ``start``, and its formulas whose saved
    value is empty text (a chart's substream inside it, BOF to EOF, is passed over)."""
    errors: dict[tuple[int, int], str] = {}
    empty_texts: set[tuple[int, int]] = set()
    depth = 0
    for kind, at, length in _xls_records(data, start):
        if kind == _BOF:
            depth += 1
        elif kind == _EOF:
            depth -= 1
            if depth <= 0:
                break
        elif depth != 1:
            continue
        elif kind == _BOOLERR and length >= 8 and data[at + 7] == 1:
            row, column = struct.unpack_from("<HH", data, at)
            errors[row, column] = _XLS_ERRORS.get(data[at + 6], "#VALUE!")
        elif kind == _FORMULA and length >= 14 and data[at + 12 : at + 14] == b"\xff\xff":
            row, column = struct.unpack_from("<HH", data, at)
            if data[at + 6] == _RESULT_ERROR:
                errors[row, column] = _XLS_ERRORS.get(data[at + 8], "#VALUE!")
            elif data[at + 6] == _RESULT_EMPTY_TEXT:
                empty_texts.add((row, column))
    return errors, empty_texts


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


# Day 0 of a spreadsheet's dates as it counts them: 1900's count is off by one from March 1900, for
# a February 29 that 1900 did not have (Lotus 1-2-3's, kept by Excel); 1904's is not.
_DAY_ZERO = datetime(1899, 12, 30)
_DAY_ZERO_BEFORE_MARCH_1900 = datetime(1899, 12, 31)
_DAY_ZERO_1904 = datetime(1904, 1, 1)
_FIRST_OF_MARCH_1900 = 61
_LAST_DAY = 2_958_465  # 9999-12-31


def serial_date_text(value: object, *, date1904: bool = False) -> str | None:
    """A number cell in a column of dates as the date or time a spreadsheet means by it (a date cell
    whose format was lost shows its serial number: 42809.375 is 2017-03-15 09:00), written as
    :func:`cell_text` writes a date cell; None for anything else."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not 1 <= value <= _LAST_DAY:
        return None
    if date1904:
        zero = _DAY_ZERO_1904
    else:
        zero = _DAY_ZERO if value >= _FIRST_OF_MARCH_1900 else _DAY_ZERO_BEFORE_MARCH_1900
    moment = zero + timedelta(seconds=round(value * 86_400))
    return cell_text(moment.date() if moment.time() == time() else moment)


def lost_digits(value: object) -> bool:
    """Whether a cell is a number too long for a spreadsheet to hold every digit of (a Zoho id typed or
    imported as a number): its last digits are gone."""
    return isinstance(value, float) and abs(value) >= _EXACT_BELOW


def column_index(letters: str) -> int:
    """A spreadsheet's column by its letters, from 0: A is 0, AA is 26."""
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def column_letter(index: int) -> str:
    """A column as a spreadsheet names it: 0 is A, 26 is AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
