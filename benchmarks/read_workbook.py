"""Reading a Books export saved as an Excel workbook, next to reading it as CSV, in the same run.

    .venv/bin/python benchmarks/read_workbook.py [--records 100000] [--repeat 3] [--work DIR]
        [--openpyxl] [--xls]

Writes the synthetic Books export of ``match_scale.py`` (``benchmarks/gen_variants.py``) as CSV and as
the workbook Excel saves after opening it (ids and amounts as numbers, times as dates; written with
openpyxl, a dev dependency), then reads each with ``read_export`` in a fresh process per round and
prints the least CPU seconds of the rounds (the machine is shared: the least is the cost): the CSV, the
workbook, and of the workbook's time the loading of its sheet (python-calamine reading it, and the
search of its XML for error cells and formulas). ``--openpyxl`` also times openpyxl's read-only mode
iterating the same sheet, the library not chosen; ``--xls`` also times the export's first 65,535
customers (the most rows an .xls sheet has) as an Excel 97 workbook (written with xlwt, a dev
dependency), and the loading of its sheet.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

# Columns Excel takes for numbers and dates when it opens the CSV.
_NUMBERS = ("Contact ID", "Outstanding Receivable Amount")
_TIMES = ("Created Time", "Last Modified Time")
# The customers an .xls sheet holds below its header (65,536 rows).
_XLS_CUSTOMERS = 65_535


def typed_rows(books_csv: Path) -> Iterator[list[object]]:
    """The CSV's header, then its rows as the typed cells Excel holds after opening it."""
    with books_csv.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        yield list(header)
        numbers = {i for i, name in enumerate(header) if name in _NUMBERS}
        times = {i for i, name in enumerate(header) if name in _TIMES}
        for row in rows:
            cells: list[object] = []
            for i, text in enumerate(row):
                if i in numbers and text:
                    cells.append(float(text))
                elif i in times and text:
                    cells.append(datetime.fromisoformat(text))
                else:
                    cells.append(text or None)
            yield cells


def write_workbook(books_csv: Path, workbook: Path) -> None:
    """The CSV's rows as a workbook of typed cells."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Customers")
    for cells in typed_rows(books_csv):
        sheet.append(cells)
    book.save(workbook)


def write_xls(books_csv: Path, workbook: Path) -> None:
    """The CSV's header and first 65,535 rows as an Excel 97 workbook of typed cells."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Customers")
    as_date = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss")
    for number, cells in enumerate(islice(typed_rows(books_csv), _XLS_CUSTOMERS + 1)):
        for column, value in enumerate(cells):
            if isinstance(value, datetime):
                sheet.write(number, column, value, as_date)
            elif value is not None:
                sheet.write(number, column, value)
    book.save(str(workbook))


def one_round(kind: str, path: Path) -> float:
    """CPU seconds of one reading, in this process (imports included: a workbook's library is loaded
    only when one is read)."""
    started = time.process_time()
    if kind == "openpyxl":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for _ in book.worksheets[0].iter_rows(values_only=True):
            pass
    elif kind in {"sheet", "xls-sheet"}:
        from sync_guard.exports.workbook import read_sheet

        read_sheet(path)
    else:
        from sync_guard.exports.reader import read_export
        from sync_guard.models.records import System

        read_export(path, System.BOOKS)
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--openpyxl", action="store_true", help="also time openpyxl reading the sheet")
    parser.add_argument("--xls", action="store_true", help="also time 65,535 customers as an .xls workbook")
    parser.add_argument("--records", type=int, default=100_000, help="Books customers")
    parser.add_argument("--repeat", type=int, default=3, help="rounds, each in a fresh process")
    parser.add_argument("--work", type=Path, default=None, help="folder for the exports (default: temporary)")
    parser.add_argument("--round", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.round:
        print(json.dumps(one_round(args.round[0], Path(args.round[1]))))
        return 0

    from benchmarks.gen_variants import write_exports

    folder = (args.work or Path(tempfile.mkdtemp(prefix="read-workbook-"))) / str(args.records)
    books_csv, workbook = folder / "customers.csv", folder / "customers.xlsx"
    if not books_csv.exists():
        write_exports(args.records, folder)
    if not workbook.exists():
        write_workbook(books_csv, workbook)
    runs = [("csv", books_csv), ("xlsx", workbook), ("sheet", workbook)]
    if args.openpyxl:
        runs.append(("openpyxl", workbook))
    if args.xls:
        xls = folder / "customers.xls"
        if not xls.exists():
            write_xls(books_csv, xls)
        runs += [("xls", xls), ("xls-sheet", xls)]
    print(f"{args.records} Books customers, least CPU seconds of {args.repeat} rounds (fresh processes):")
    labels = {
        "csv": "read_export, CSV",
        "xlsx": "read_export, XLSX",
        "sheet": "  of which loading the sheet (and its error cells, formulas)",
        "openpyxl": "openpyxl read-only, iterating the sheet",
        "xls": f"read_export, XLS ({_XLS_CUSTOMERS:,} customers)",
        "xls-sheet": "  of which loading the sheet (and its error cells)",
    }
    for kind, path in runs:
        least = min(
            json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--round", kind, str(path)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for _ in range(args.repeat)
        )
        print(f"  {labels[kind]:<45} {least:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
