"""Writing the report's four files into a folder, all of them or none."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sync_guard.errors import ClientError
from sync_guard.exports.report.csv_files import clusters_csv, pairs_csv
from sync_guard.exports.report.model import MatchReport
from sync_guard.exports.report.summary import summary_md
from sync_guard.exports.report.ticket import support_ticket_md
from sync_guard.matching.bulk import can_fork


class OutputExists(ClientError):
    """The output folder cannot take the report: it holds files (and replacing them was not asked for),
    or it cannot be made."""

    code = "output_exists"


# Below this many pairs, writing pairs.csv takes less than forking a process to write it.
MIN_FORKED_PAIRS = 20_000


@contextmanager
def _meanwhile(work: Callable[[], object], *, fork: bool) -> Iterator[None]:
    """Run ``work`` in a forked process while the block runs here (here, after the block, if not ``fork``).

    A forked process that fails leaves its work to be done again here, where the error is raised.
    """
    if not fork:
        yield
        work()
        return
    pid = os.fork()
    if pid == 0:  # the forked process: do the work and end, without this process's clean-up
        status = 1
        try:
            work()
            status = 0
        finally:
            os._exit(status)
    try:
        yield
    finally:
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        work()


def check_output(out: Path, *, replace: bool) -> Path:
    """The output folder, resolved; OutputExists when the report may not be written there (checked
    before the work as well as after it, so that a long run is not wasted on a taken folder)."""
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise OutputExists(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not replace:
        raise OutputExists(f"{out} already holds files; choose another --out or pass --replace")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise OutputExists(f"cannot write a report in {out}: {parent} is a file")
    return out


def write_report(
    report: MatchReport,
    out: Path,
    *,
    crm_org: str | None = None,
    books_org: str | None = None,
    replace: bool = False,
) -> None:
    """Write the four report files into ``out`` all at once: a temporary folder, then a rename.

    On any failure nothing is left behind and an existing ``out`` is untouched. An existing non-empty
    ``out`` is replaced only when ``replace`` is true.
    """
    out = check_output(out, replace=replace)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as error:
        raise OutputExists(f"cannot write a report in {out}: {error.strerror or error}") from error
    try:
        # pairs.csv, the largest file, is written by a forked process while this one writes the rest.
        with _meanwhile(
            lambda: (staging / "pairs.csv").write_text(pairs_csv(report), encoding="utf-8"),
            fork=len(report.pairs) >= MIN_FORKED_PAIRS and can_fork(),
        ):
            (staging / "clusters.csv").write_text(clusters_csv(report), encoding="utf-8")
            (staging / "summary.md").write_text(summary_md(report), encoding="utf-8")
            ticket = support_ticket_md(report, crm_org=crm_org, books_org=books_org)
            (staging / "support-ticket.md").write_text(ticket, encoding="utf-8")
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, retired / out.name)
            try:
                os.replace(staging, out)
            except OSError:
                os.replace(retired / out.name, out)  # put the previous report back
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
