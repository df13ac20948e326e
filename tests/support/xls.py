"""Excel 97 (.xls) workbooks written record by record: what a spreadsheet would never write (a cell at
column 65,535, a DIMENSIONS record saying four billion rows, one string in thousands of cells) is as
easy to write as what it would. The records are BIFF8's; xlwt's compound file writer holds them."""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from xlwt.CompoundDoc import XlsDoc

# The most data a record holds as Excel writes it (the rest of a long string goes in CONTINUE records).
_MOST_RECORD_DATA = 8224
_BOF, _EOF, _BOUNDSHEET, _SST, _CONTINUE = 0x0809, 0x000A, 0x0085, 0x00FC, 0x003C
_WORKBOOK_GLOBALS, _WORKSHEET = 0x0005, 0x0010


def record(kind: int, data: bytes = b"") -> bytes:
    """A BIFF record: its type, its length, its data."""
    return struct.pack("<HH", kind, len(data)) + data


def number(row: int, column: int, value: float) -> bytes:
    """A NUMBER record: ``value`` at (row, column), from 0."""
    return record(0x0203, struct.pack("<HHHd", row, column, 0, value))


def label(row: int, column: int, text: str) -> bytes:
    """A LABEL record: ``text`` (Latin-1) written in the cell itself."""
    written = text.encode("latin-1")
    return record(0x0204, struct.pack("<HHHHB", row, column, 0, len(written), 0) + written)


def shared(row: int, column: int, index: int) -> bytes:
    """A LABELSST record: the workbook's shared string ``index`` at (row, column)."""
    return record(0x00FD, struct.pack("<HHHI", row, column, 0, index))


def dimensions(first_row: int, past_row: int, first_column: int, past_column: int) -> bytes:
    """A DIMENSIONS record as BIFF8 writes it: the sheet's first row and column, and the ones past its
    last (whatever its cells say)."""
    return record(0x0200, struct.pack("<IIHHH", first_row, past_row, first_column, past_column, 0))


def shared_strings(strings: Sequence[str]) -> bytes:
    """An SST record holding ``strings`` (each in one byte a character when Latin-1 holds it, else two),
    continued in CONTINUE records as Excel writes them: a string's characters may go on in the next,
    which starts with their flag again."""
    pieces = [struct.pack("<ii", len(strings), len(strings))]
    records: list[bytes] = []
    size = len(pieces[0])

    def cut() -> None:
        nonlocal pieces, size
        records.append(record(_CONTINUE if records else _SST, b"".join(pieces)))
        pieces, size = [], 0

    for text in strings:
        wide = any(ord(character) > 0xFF for character in text)
        width = 2 if wide else 1
        if size + 3 + width > _MOST_RECORD_DATA:  # a string's start is never split
            cut()
        pieces.append(struct.pack("<HB", len(text), int(wide)))
        size += 3
        characters = text.encode("utf-16-le" if wide else "latin-1")
        while characters:
            room = (_MOST_RECORD_DATA - size) // width * width
            if room <= 0:
                cut()
                pieces.append(bytes([int(wide)]))
                size = 1
                continue
            pieces.append(characters[:room])
            size += len(characters[:room])
            characters = characters[room:]
    cut()
    return b"".join(records)


@dataclass
class XlsSheet:
    """A worksheet: its name, its records (BOF and EOF aside), and whether it is hidden."""

    name: str
    records: list[bytes] = field(default_factory=list)
    hidden: bool = False


def workbook_stream(sheets: Sequence[XlsSheet], strings: Sequence[str] = ()) -> bytes:
    """The workbook stream of ``sheets``, sharing ``strings``: its globals (the strings' SST, each
    sheet's entry) and each sheet's records."""
    globals_start = record(_BOF, struct.pack("<HHHHII", 0x0600, _WORKBOOK_GLOBALS, 0, 0, 0, 0))
    table = shared_strings(strings) if strings else b""
    entries_size = sum(len(_entry(0, sheet)) for sheet in sheets)
    at = len(globals_start) + len(table) + entries_size + len(record(_EOF))
    entries, bodies = [], []
    for sheet in sheets:
        body = (
            record(_BOF, struct.pack("<HHHHII", 0x0600, _WORKSHEET, 0, 0, 0, 0))
            + b"".join(sheet.records)
            + record(_EOF)
        )
        entries.append(_entry(at, sheet))
        bodies.append(body)
        at += len(body)
    return globals_start + table + b"".join(entries) + record(_EOF) + b"".join(bodies)


def _entry(at: int, sheet: XlsSheet) -> bytes:
    """A BOUNDSHEET record: where ``sheet`` starts, whether it is hidden, its name."""
    name = sheet.name.encode("latin-1")
    return record(_BOUNDSHEET, struct.pack("<IBBBB", at, int(sheet.hidden), 0, len(name), 0) + name)


def xls_bytes(sheets: Sequence[XlsSheet], strings: Sequence[str] = ()) -> bytes:
    """The .xls file holding :func:`workbook_stream` of ``sheets`` and ``strings``."""
    written = io.BytesIO()
    XlsDoc().save(written, workbook_stream(sheets, strings))
    return written.getvalue()
