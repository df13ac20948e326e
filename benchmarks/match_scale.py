"""How the match report scales: synthetic exports of 10k x 10k and 100k x 100k records, next to splink.

    .venv/bin/python benchmarks/match_scale.py [--sizes 10000,100000] [--rounds N] [--no-splink] [--work DIR]

For each size N it writes N CRM accounts and N Books customers with Zoho's export headers
(``benchmarks/gen_variants.py``: the seed's name drift, duplicates, Books-only customers), then runs

- ``sync-guard match-report`` (the real command, in its own process: reading, matching, writing), and
- splink 5 (DuckDB backend, link-and-dedupe over the same two files, blocking on exact name, phone
  and postcode, u by random sampling, m by EM, predictions at match probability >= 0.9), also in its
  own process, reading the same CSVs.

It prints wall-clock and CPU seconds (CPU includes the worker processes each command starts), peak
memory, what each tool found (pairwise precision and recall against the rows the generator made from one
company, its ``truth.csv``: the report's ``duplicate`` pairs, then with its ``possible`` ones, and
splink's predictions), the growth ratio between the smallest and largest size (target: 10x the records
in <= 12x the time), whether peak memory stays under 2 GiB, and whether the match report beats splink on
the largest size. Peak memory is the larger of the biggest single process's max RSS and, sampled every
half second on Linux, the summed PSS of the command's whole process tree: the match report forks workers
that share the parent's pages, so neither the largest RSS alone (misses the workers) nor summed RSS
(counts shared pages once per process) is the memory the machine needs. splink is a benchmark-only
dependency: ``.venv/bin/pip install -e '.[bench]'`` (or ``pip install splink``); without it the
splink column is skipped and said so. Not part of ``make test``: the 100k run takes minutes.

Each tool runs three times at 10k (``--rounds`` times at the larger sizes, one by default), the two
alternated, and the run with the least CPU time of each is shown: the machines are shared, and other
load only ever adds time. The growth ratio is as steady as its two least figures.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

GIB = 1024**3


@dataclass(frozen=True)
class Run:
    seconds: float
    # user + system CPU of the process and the children it waited for (the match report's workers):
    # steadier than wall time on a shared machine.
    cpu_seconds: float
    rss_bytes: int  # max RSS of the largest single process (wait4)
    pss_bytes: int  # peak summed PSS of the process tree, sampled (0 where /proc cannot tell)
    detail: str

    @property
    def peak_bytes(self) -> int:
        """The memory the run needed: the larger of the two measures."""
        return max(self.rss_bytes, self.pss_bytes)


def _process_tree(pid: int) -> list[int]:
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                for child in handle.read().split():
                    found.extend(_process_tree(int(child)))
    except OSError:
        pass  # gone already, or no /proc
    return found


def _tree_pss(pid: int) -> int:
    """Summed proportional set size of a process and its descendants, in bytes (0 without /proc)."""
    total = 0
    for member in _process_tree(pid):
        try:
            with open(f"/proc/{member}/smaps_rollup", encoding="ascii") as handle:
                total += next((int(line.split()[1]) for line in handle if line.startswith("Pss:")), 0)
        except OSError:
            continue
    return total * 1024


class _PssSampler(threading.Thread):
    """Samples the process tree's summed PSS every half second until stopped; keeps the peak.

    Reading PSS walks the processes' page tables (some 25 ms for a 1 GiB tree): sampled more often,
    the measuring would take a noticeable share of a CPU from the command being measured.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.peak = max(self.peak, _tree_pss(self.pid))


def measure(command: list[str]) -> Run:
    """Run a command in its own process: wall time, CPU, peak RSS (Linux ``wait4``) and tree PSS."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = _PssSampler(process.pid)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout = process.stdout.read() if process.stdout else ""
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} ... failed ({process.returncode}):\n{stderr[-2000:]}")
    # The last line either command prints (the match report prints its counts to stderr).
    lines = stdout.strip().splitlines() or stderr.strip().splitlines() or [""]
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, usage.ru_maxrss * 1024, sampler.peak, " ".join(lines[-2:]).strip())


def sync_guard_command() -> list[str]:
    script = Path(sys.executable).parent / "sync-guard"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from sync_guard.cli import main; main()"]


def run_match_report(crm: Path, books: Path, out: Path) -> Run:
    return measure(
        [*sync_guard_command(), "match-report", "--crm", str(crm), "--books", str(books), "--out", str(out),
         "--replace"]
    )  # fmt: skip


def splink_available() -> bool:
    try:
        import splink  # noqa: F401
    except ImportError:
        return False
    return True


def run_splink(crm: Path, books: Path, pairs_out: Path) -> Run:
    return measure([sys.executable, __file__, "--splink-worker", str(crm), str(books), str(pairs_out)])


def _splink_rows(path: Path, system: str) -> list[dict[str, str | None]]:
    """The same columns from either export, lightly cleaned as a splink user would (lower case, trimmed)."""
    columns = {
        "crm": ("Record Id", "Account Name", "Phone", "Billing Code", "Billing City"),
        "books": ("Contact ID", "Display Name", "Phone", "Billing Code", "Billing City"),
    }[system]
    rows: list[dict[str, str | None]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            ident, name, phone, postcode, city = (row[c].strip() for c in columns)
            rows.append(
                {
                    "unique_id": f"{system}:{ident}",
                    "name": " ".join(name.lower().replace(",", " ").replace(".", " ").split()) or None,
                    "phone": "".join(ch for ch in phone if ch.isdigit()) or None,
                    "postcode": postcode.replace(" ", "").upper() or None,
                    "city": city.lower() or None,
                }
            )
    return rows


def splink_worker(crm: Path, books: Path, pairs_out: Path) -> None:
    """Link and dedupe the two exports with splink; writes the predicted pairs, prints their number."""
    import logging

    import pyarrow as pa
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    db_api = DuckDBAPI()
    tables = [
        db_api.register(pa.Table.from_pylist(_splink_rows(path, system)), table_name=system)
        for path, system in ((crm, "crm"), (books, "books"))
    ]
    settings = SettingsCreator(
        link_type="link_and_dedupe",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.95, 0.88]),
            cl.ExactMatch("phone"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("city"),
        ],
        blocking_rules_to_generate_predictions=[block_on("name"), block_on("phone"), block_on("postcode")],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(tables, settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("name"), block_on("phone")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    predictions = linker.inference.predict(threshold_match_probability=0.9).as_duckdbpyrelation()
    predictions.project("unique_id_l, unique_id_r").write_csv(str(pairs_out))
    count = predictions.aggregate("count(*)").fetchall()[0][0]
    print(f"{count} predicted pairs")


def _ordered(left: str, right: str) -> tuple[str, str]:
    """Two refs as one pair, by the record ids Zoho's API uses: the report reads CRM's "zcrm_<id>" export
    ids as "<id>", while splink and the truth keep what the export says."""
    left, right = _api_ref(left), _api_ref(right)
    return (left, right) if left <= right else (right, left)


def _api_ref(ref: str) -> str:
    system, _, record_id = ref.partition(":")
    return f"{system}:{record_id.removeprefix('zcrm_')}"


def _report_pairs(pairs_csv: Path) -> dict[tuple[str, str], str]:
    """The report's pairs and their verdicts."""
    with pairs_csv.open(newline="", encoding="utf-8") as handle:
        return {
            _ordered(
                f"{row['left_system']}:{row['left_id']}", f"{row['right_system']}:{row['right_id']}"
            ): row["verdict"]
            for row in csv.DictReader(handle)
        }


def _splink_pairs(pairs_csv: Path) -> set[tuple[str, str]]:
    with pairs_csv.open(newline="", encoding="utf-8") as handle:
        return {_ordered(row["unique_id_l"], row["unique_id_r"]) for row in csv.DictReader(handle)}


def _precision_recall(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> str:
    right = len(found & truth)
    precision = right / len(found) if found else 1.0
    return f"P {precision:.3f} R {right / len(truth):.3f}"


def _found(truth: set[tuple[str, str]], folder: Path, *, splink: bool) -> str:
    """Pairwise precision and recall of each tool's pairs against the rows made from the same company."""
    truth = {_ordered(*pair) for pair in truth}
    verdicts = _report_pairs(folder / "report" / "pairs.csv")
    duplicates = {pair for pair, verdict in verdicts.items() if verdict == "duplicate"}
    worth_a_look = set(verdicts)  # duplicate or possible: pairs.csv holds nothing else
    line = (
        f"of {len(truth):,} true pairs: match-report duplicate {_precision_recall(duplicates, truth)}, "
        f"with possible {_precision_recall(worth_a_look, truth)}"
    )
    if splink:
        line += f" | splink {_precision_recall(_splink_pairs(folder / 'splink-pairs.csv'), truth)}"
    return line


def _mib(value: int) -> str:
    return f"{value / 1024**2:,.0f} MiB"


def _memory_detail(run: Run) -> str:
    return f"[largest RSS {_mib(run.rss_bytes)}, tree PSS {_mib(run.pss_bytes) if run.pss_bytes else 'n/a'}]"


def _least_of_rounds(
    rounds: int, crm: Path, books: Path, folder: Path, *, splink: bool
) -> tuple[Run, Run | None]:
    """Each tool ``rounds`` times, alternated (the match report, then splink, then again), least CPU of each.

    On a shared machine another process's load only ever adds time: the least of several runs is the
    nearest to the cost, and alternating lets both tools meet the same spells of load."""
    ours: list[Run] = []
    theirs: list[Run] = []
    for _ in range(rounds):
        ours.append(run_match_report(crm, books, folder / "report"))
        if splink:
            theirs.append(run_splink(crm, books, folder / "splink-pairs.csv"))
    least = min(ours, key=lambda r: r.cpu_seconds)
    return least, (min(theirs, key=lambda r: r.cpu_seconds) if theirs else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="records per side, comma-separated")
    parser.add_argument("--no-splink", action="store_true", help="do not run splink")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="runs of each tool per size above 20k records, alternated; the least CPU of each is shown "
        "(sizes up to 20k take at least 3)",
    )
    parser.add_argument("--work", type=Path, default=None, help="folder for the exports (default: temporary)")
    parser.add_argument("--splink-worker", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.splink_worker:
        splink_worker(*args.splink_worker)
        return 0

    from benchmarks.gen_variants import read_true_pairs, write_exports

    sizes = [int(s) for s in args.sizes.split(",")]
    use_splink = not args.no_splink and splink_available()
    if not args.no_splink and not use_splink:
        print("splink is not installed: skipping it (install with: .venv/bin/pip install -e '.[bench]')\n")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{cpus} CPUs: match-report runs with its default --jobs (one process per CPU), splink with "
        "DuckDB's default threads\n"
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="match-scale-"))
    results: dict[int, tuple[Run, Run | None]] = {}
    for size in sizes:
        folder = work / f"{size}"
        crm, books = write_exports(size, folder)
        # Small runs are short enough for the machine's other load to swing them: at least three rounds.
        rounds = max(args.rounds, 3) if size <= 20_000 else args.rounds
        ours, theirs = _least_of_rounds(rounds, crm, books, folder, splink=use_splink)
        results[size] = (ours, theirs)
        line = (
            f"{size:>7} x {size:<7} match-report {ours.seconds:6.1f} s (cpu {ours.cpu_seconds:6.1f} s) "
            f"peak {_mib(ours.peak_bytes):>10} {_memory_detail(ours)}"
        )
        if theirs:
            line += (
                f"   | splink {theirs.seconds:6.1f} s (cpu {theirs.cpu_seconds:6.1f} s) "
                f"peak {_mib(theirs.peak_bytes):>10} {_memory_detail(theirs)} ({theirs.detail})"
            )
        print(line, flush=True)
        print(f"{'':>17} {ours.detail}")
        print(f"{'':>17} {_found(read_true_pairs(folder), folder, splink=theirs is not None)}")
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        # "10x the records costs <= 12x the time": 1.2x per 1x of growth in the number of records.
        allowed = 1.2 * large / small
        for label, attr in (("wall", "seconds"), ("cpu", "cpu_seconds")):
            growth = getattr(results[large][0], attr) / getattr(results[small][0], attr)
            print(
                f"growth ({label}): {large / small:.0f}x the records took {growth:.1f}x the time "
                f"(target <= {allowed:.0f}x): {'met' if growth <= allowed else 'MISSED'}"
            )
    peak = max(r[0].peak_bytes for r in results.values())
    print(
        f"peak memory {_mib(peak)} (larger of largest RSS and tree PSS; target < 2 GiB): "
        f"{'met' if peak < 2 * GIB else 'MISSED'}"
    )
    largest = results[sizes[-1]]
    if largest[1] is not None:
        verdict = "met" if largest[0].seconds < largest[1].seconds else "MISSED"
        print(
            f"faster than splink at {sizes[-1]} x {sizes[-1]}: {largest[0].seconds:.1f} s vs "
            f"{largest[1].seconds:.1f} s wall, {largest[0].cpu_seconds:.1f} s vs "
            f"{largest[1].cpu_seconds:.1f} s cpu: {verdict}"
        )
    print(f"\nexports and reports in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
