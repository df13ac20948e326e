"""Where the match report's time goes: each stage timed on its own, in one process.

    .venv/bin/python benchmarks/match_stages.py [--records 100000] [--repeat 3] [--work DIR]

Writes synthetic exports of N CRM accounts and N Books customers (``benchmarks/gen_variants.py``, the
same files ``match_scale.py`` uses), then times, in a fresh process each round so that no cache is
warm, the stages ``sync-guard match-report --jobs 1`` runs: starting Python and importing, reading
the two exports into records, normalising them, cutting their blocking keys, writing the features and
keys as a worker sends them back and reading them again ("transfer": what ``--jobs 2`` and up adds,
for the workers' share), the candidate search, the comparisons, assembling the report (pairs in
order, clusters, survivors) and writing its files. Each stage's figure is the least CPU time over
the rounds (the machine is shared: the least is the cost, the rest is other load). The comparisons
are also split by what became of each pair: ruled out by its emails, phones and addresses before
the names are compared, compared and found distinct, or kept (with its reasons written).
The same stages run in workers with ``--jobs``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

STAGES = ("import", "read", "normalise", "keys", "transfer", "search", "compare", "assemble", "write")


def _count_calls(module: object, name: str) -> list[int]:
    """Count the calls of ``module.name`` from now on (in ``[0]`` of the list returned)."""
    calls = [0]
    original = getattr(module, name)

    def counted(*args: object) -> object:
        calls[0] += 1
        return original(*args)

    setattr(module, name, counted)
    return calls


def one_round(crm_path: Path, books_path: Path) -> dict[str, float]:
    """Every stage once, in this process; CPU seconds by stage, and the comparisons by outcome."""
    clock = time.process_time
    started = clock()
    import gc

    gc.disable()  # as the match report runs

    from sync_guard.exports.reader import iter_export
    from sync_guard.exports.report import output
    from sync_guard.exports.report.build import assemble_report
    from sync_guard.matching.blocking import keys_from_features
    from sync_guard.matching.bulk import candidate_pairs, dumps_features, loads_features, score_candidates
    from sync_guard.matching.features import extract_features
    from sync_guard.models.records import System

    times: dict[str, float] = {"import": clock() - started}

    def lap(stage: str, since: float) -> float:
        now = clock()
        times[stage] = now - since
        return now

    mark = clock()
    crm = list(iter_export(crm_path, System.CRM))
    books = list(iter_export(books_path, System.BOOKS))
    mark = lap("read", mark)
    records = [*crm, *books]
    features = [extract_features(record, "GB") for record in records]
    mark = lap("normalise", mark)
    keys = [keys_from_features(f) for f in features]
    mark = lap("keys", mark)
    loads_features(dumps_features(features, keys))
    mark = lap("transfer", mark)
    candidates = candidate_pairs(keys)
    mark = lap("search", mark)
    judged = _count_calls(import_module("sync_guard.matching.compare"), "_judge")
    scored = score_candidates(features, candidates, workers=1)
    mark = lap("compare", mark)
    outcomes = {
        "ruled out before the names": len(candidates) - judged[0],
        "compared and distinct": judged[0] - len(scored),
        "kept": len(scored),
    }
    report = assemble_report(crm, books, candidates, scored)
    mark = lap("assemble", mark)
    output.MIN_FORKED_PAIRS = sys.maxsize  # every file written here, as one process does
    out = Path(tempfile.mkdtemp(prefix="match-stages-")) / "report"
    try:
        output.write_report(report, out)
        lap("write", mark)
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    times.update({f"pairs {outcome}": float(count) for outcome, count in outcomes.items()})
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000, help="records per side")
    parser.add_argument("--repeat", type=int, default=3, help="rounds, each in a fresh process")
    parser.add_argument("--work", type=Path, default=None, help="folder for the exports (default: temporary)")
    parser.add_argument("--round", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.round:
        print(json.dumps(one_round(*args.round)))
        return 0

    from benchmarks.gen_variants import write_exports

    work = args.work or Path(tempfile.mkdtemp(prefix="match-stages-"))
    folder = work / str(args.records)
    crm_path, books_path = folder / "accounts.csv", folder / "customers.csv"
    if not (crm_path.exists() and books_path.exists()):
        write_exports(args.records, folder)
    rounds = []
    for _ in range(args.repeat):
        done = subprocess.run(
            [sys.executable, __file__, "--round", str(crm_path), str(books_path)],
            check=True,
            capture_output=True,
            text=True,
        )
        rounds.append(json.loads(done.stdout))
    least = {stage: min(r[stage] for r in rounds) for stage in STAGES}
    print(f"{args.records} x {args.records} records, one process, least CPU seconds of {args.repeat} rounds:")
    for stage in STAGES:
        print(f"  {stage:<10} {least[stage]:6.2f} s")
    print(f"  {'all':<10} {sum(least[s] for s in STAGES if s != 'transfer'):6.2f} s (without transfer)")
    outcomes = {k.removeprefix("pairs "): int(v) for k, v in rounds[0].items() if k.startswith("pairs ")}
    total = sum(outcomes.values())
    shown = ", ".join(f"{count:,} {outcome}" for outcome, count in outcomes.items())
    print(f"  comparisons: {total:,} ({shown})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
