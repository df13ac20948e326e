"""Reading a workbook python-calamine must not be handed: refused before a call to it, and in another
process whose memory is capped (a failed allocation in its Rust code ends the process it runs in, which a
test must survive to see)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
