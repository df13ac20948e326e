"""Reading a workbook python-calamine must not be handed: refused before a call to it, and in another
process whose memory is capped (a failed allocation in its Rust code ends the process it runs in, which a
test must survive to see)."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from sync_guard.exports.reader import ExportError, read_export
from sync_guard.models.records import System

_READ_MEMORY_CAPPED = (
    "import resource, sys\n"
    "from pathlib import Path\n"
    "from sync_guard.exports.reader import ExportError, read_export\n"
    "from sync_guard.models.records import System\n"
    "size = int(next(l for l in open('/proc/self/status') if l.startswith('VmSize')).split()[1]) * 1024\n"
    "resource.setrlimit(resource.RLIMIT_AS, (size + (1 << 30), resource.RLIM_INFINITY))\n"
    "try:\n"
    "    read_export(Path(sys.argv[1]), System.BOOKS)\n"
    "except ExportError as error:\n"
    "    print(error.message)\n"
)


def read_books_export_memory_capped(path: Path) -> subprocess.CompletedProcess[str]:
    """``read_export`` of ``path`` as a Books export, in a process that may take 1 GiB more than it has
    when it starts; what it printed is the ExportError's message, if any."""
    return subprocess.run(
        [sys.executable, "-c", _READ_MEMORY_CAPPED, str(path)], capture_output=True, text=True, timeout=120
    )


def refused_before_python_calamine(
    path: Path, monkeypatch: pytest.MonkeyPatch, owner: type, method: str
) -> str:
    """The message of the ExportError that reading ``path`` as a Books export ends in, with
    python-calamine's ``owner.method`` failing the test if it is called."""

    def not_reached(*_: object, **__: object) -> None:
        raise AssertionError(f"python-calamine's {method} was called with a workbook it could not hold")

    monkeypatch.setattr(owner, method, not_reached)
    with pytest.raises(ExportError) as caught:
        read_export(path, System.BOOKS)
    return caught.value.message


#: The part of an openpyxl-saved workbook's first sheet.
SHEET = "xl/worksheets/sheet1.xml"
HEADER = ["Contact ID", "Display Name", "Outstanding Receivable Amount"]


def xlsx_with_rows(path: Path, rows_xml: str, *, hidden_rows_xml: str | None = None) -> Path:
    """A Books export saved by openpyxl (its header and one customer), with ``rows_xml`` added after
    them in its sheet's XML; and before it a hidden sheet of ``hidden_rows_xml``, when given."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Customers"
    sheet.append(HEADER)
    sheet.append([1, "Acme Ltd", 12.5])
    if hidden_rows_xml is not None:
        lookup = book.create_sheet("Lookup", 0)
        lookup.append(["GBP"])
        lookup.sheet_state = "hidden"
    saved = io.BytesIO()
    book.save(saved)
    written = io.BytesIO()
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(written, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            data = source.read(name)
            if name.startswith("xl/worksheets/sheet"):
                added = hidden_rows_xml if hidden_rows_xml is not None and name == SHEET else rows_xml
                data = data.replace(b"</sheetData>", added.encode() + b"</sheetData>")
            archive.writestr(name, data)
    path.write_bytes(written.getvalue())
    return path
