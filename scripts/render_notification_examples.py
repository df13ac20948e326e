#!/usr/bin/env python3
"""Write one rendered finance notification per rule (and the digests) to ``events/notifications/``.

    .venv/bin/python scripts/render_notification_examples.py          # (re)write the files
    .venv/bin/python scripts/render_notification_examples.py --check  # exit 1 if a file is stale

The notices are fixed (``sync_guard.notify.examples``); a unit test re-renders them and compares with the
checked-in files, so the examples always show what the code really sends.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sync_guard.notify.examples import example_files

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "events" / "notifications"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the example files; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="directory to write to")
    parser.add_argument("--check", action="store_true", help="only report files that differ")
    args = parser.parse_args(argv)
    expected = example_files()
    present = {path.name for path in args.out.glob("*.txt")} if args.out.is_dir() else set()
    stale = sorted(present - set(expected))
    differing = sorted(
        name
        for name, text in expected.items()
        if not (args.out / name).is_file() or (args.out / name).read_text(encoding="utf-8") != text
    )
    if args.check:
        for name in differing + stale:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if differing or stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (args.out / name).unlink()
    for name in differing:
        (args.out / name).write_text(expected[name], encoding="utf-8")
    print(f"{len(expected)} examples in {args.out}: {len(differing)} written, {len(stale)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
