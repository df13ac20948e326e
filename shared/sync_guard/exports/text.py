"""An export CSV opened as text: what is not text refused, its encoding found (UTF-8, UTF-16, or what Excel
writes when not asked for UTF-8), and the delimiter its header row uses."""

from __future__ import annotations

import codecs
from itertools import chain
from pathlib import Path
from typing import BinaryIO, TextIO

from sync_guard.exports.columns import ExportError

# What a file named .csv sometimes is instead, by the bytes it starts with: the web page a browser saved
# when an export link had expired, or Excel's XML spreadsheet. (A workbook is read as one, whatever its
# name: see tables.is_workbook.)
_NOT_CSV: tuple[tuple[bytes, str], ...] = (
    (b"<!doctype html", "a web page (HTML)"),
    (b"<html", "a web page (HTML)"),
    (b"<?xml", "an XML file (an Excel XML spreadsheet?)"),
)
_AS_CSV = (
    "export it from Zoho again (CSV, XLS or XLSX), or save it from the spreadsheet as 'Excel Workbook "
    "(.xlsx)' or 'CSV UTF-8'"
)
# How much of a file shows what it is.
_HEAD_BYTES = 4096


def _refuse_what_is_not_text(path: Path, head: bytes) -> None:
    """ExportError when a file's first bytes show a web page or other binary data."""
    start = head.removeprefix(codecs.BOM_UTF8).lstrip().lower()
    for signature, kind in _NOT_CSV:
        if start.startswith(signature.lower()):
            raise ExportError(path, None, f"this is {kind}, not a CSV file: {_AS_CSV}")
    if b"\x00" in head:
        raise ExportError(path, None, f"this is not text (it holds NUL bytes): {_AS_CSV}")


def _first_line_not_in(handle: BinaryIO, codec: str, *, mac_lines: bool) -> int | None:
    """The number of the first line that does not decode with ``codec``; None when all do. Lines end
    with LF (or CRLF), or with CR alone when ``mac_lines`` (such a file is read whole)."""
    handle.seek(0)
    lines = handle.read().split(b"\r") if mac_lines else handle
    for number, raw in enumerate(lines, start=1):
        try:
            raw.decode(codec)
        except UnicodeDecodeError:
            return number
    return None


def _first_line_not_utf16(handle: BinaryIO) -> int | None:
    """The number of the first line of a file that starts with UTF-16's byte order mark that does not
    decode as UTF-16 (half a surrogate pair, an odd byte at its end); None when all do. Checked before
    reading, as for UTF-8, since the text reader decodes ahead of the line it returns."""
    handle.seek(0)
    decoder = codecs.getincrementaldecoder("utf-16")()
    newlines = returns = 0
    for chunk in chain(iter(lambda: handle.read(1 << 20), b""), (None,)):
        try:
            text = decoder.decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError as error:
            # The bytes before the fault, in the order the byte order mark gave.
            text = error.object[: error.start].decode(error.encoding)
            newlines, returns = newlines + text.count("\n"), returns + text.count("\r")
            return (newlines or returns) + 1  # lines end with LF (or CRLF), or a Mac's CR alone
        newlines, returns = newlines + text.count("\n"), returns + text.count("\r")
    return None


# What Excel writes when it is not told to write UTF-8, as a warning names it: "CSV (Comma delimited)"
# on Windows in Western Europe and the Americas, and "Comma Separated Values" on a Mac, whose lines end
# with CR alone.
SPREADSHEET_ENCODINGS = {
    "cp1252": "Windows-1252 (Excel's 'CSV (Comma delimited)' on Windows)",
    "mac_roman": "Mac Roman (Excel for Mac's 'Comma Separated Values')",
}


def encoding_of(path: Path) -> tuple[str, int | None]:
    """The codec to read a file with and, when it is not UTF-8, the first line that showed it.

    UTF-8, with or without a byte order mark, is what Zoho writes. UTF-16 with its byte order mark is
    Excel's "Unicode Text". Anything else is read as the encoding Excel writes when it is not asked for
    UTF-8 (:data:`SPREADSHEET_ENCODINGS`): Mac Roman when its lines end with CR alone, as a Mac's do,
    otherwise Windows-1252. Refusing such a file would send the user back to a spreadsheet whose save
    dialog offers that format first. ExportError when even Windows-1252 cannot read the file, or when
    it is a workbook or a web page under a .csv name.
    """
    try:
        handle = path.open("rb")
    except OSError as error:
        raise ExportError(path, None, f"cannot open: {error.strerror or error}") from error
    with handle:
        head = handle.read(_HEAD_BYTES)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            not_utf16 = _first_line_not_utf16(handle)
            if not_utf16 is not None:
                message = "not UTF-16 text, though the file starts as UTF-16 (save it as CSV UTF-8)"
                raise ExportError(path, not_utf16, message)
            return "utf-16", None
        _refuse_what_is_not_text(path, head)
        mac_lines = b"\r" in head and b"\n" not in head
        not_utf8 = _first_line_not_in(handle, "utf-8", mac_lines=mac_lines)
        if not_utf8 is None:
            return "utf-8-sig", None
        if head.startswith(codecs.BOM_UTF8):  # UTF-8 by its own word: the rest was pieced on to it
            raise ExportError(
                path, not_utf8, "not UTF-8 text, though the file starts as UTF-8 (save it as CSV UTF-8)"
            )
        if mac_lines:
            return "mac_roman", not_utf8  # it has a character for every byte
        not_cp1252 = _first_line_not_in(handle, "cp1252", mac_lines=False)
        if not_cp1252 is not None:
            raise ExportError(
                path, not_cp1252, "neither UTF-8 nor Windows-1252 text (save the file as CSV UTF-8)"
            )
        return "cp1252", not_utf8


def open_text(path: Path, encoding: str) -> TextIO:
    """The file as text, its line ends (CRLF, LF, or a Mac's CR) left for the CSV reader."""
    try:
        return path.open(encoding=encoding, newline="")
    except OSError as error:
        raise ExportError(path, None, f"cannot open: {error.strerror or error}") from error


# What separates the fields: Zoho exports use commas; a spreadsheet saved again in a European locale
# uses semicolons, and text copied out of one uses tabs.
_DELIMITERS = (",", ";", "\t")


def delimiter_of(header: str) -> str:
    """The delimiter the header row uses most (a comma when it uses none: a one-column file)."""
    return max(_DELIMITERS, key=header.count) if header else ","
