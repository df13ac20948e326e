"""What each blocking key costs and finds: comparisons it alone brings in, and how many of them matter.

    .venv/bin/python benchmarks/key_yield.py [--records 20000] [--seed 7] [--top 15]

Writes synthetic CRM and Books exports of ``--records`` records each (``benchmarks/gen_variants.py``,
as ``match_scale.py`` does), finds the candidate pairs the match report would compare, and groups the
pairs by the one kind of key they share (``q:4*1`` is a typo key made of a name's first four letters
and its last one; pairs sharing keys of several kinds are counted together as ``several``). For each
kind it prints the comparisons and how many of them scored ``duplicate`` or ``possible``: a kind that
brings in many comparisons and finds almost nothing is where candidate search spends time for little.
Figures grow with ``--records`` (a short key is shared by more names as the vocabulary fills up), so
compare kinds within one run, not across runs.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from benchmarks.gen_variants import write_exports  # noqa: E402
from sync_guard.exports.reader import iter_export  # noqa: E402
from sync_guard.matching.bulk import candidate_pairs, normalise_records, score_candidates  # noqa: E402
from sync_guard.matching.normalise import DEFAULT_PHONE_REGION  # noqa: E402
from sync_guard.models.records import System  # noqa: E402

_LETTERS = re.compile(r"[^*|~+]+")


def key_kind(key: str) -> str:
    """A key's prefix, and for a typo key its shape: ``q:acme*|widg*`` -> ``q:4*|4*``."""
    if key.startswith("q:"):
        return "q:" + _LETTERS.sub(lambda m: str(len(m.group())), key[2:])
    return key[:2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20_000, help="records in each export")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated exports")
    parser.add_argument("--top", type=int, default=15, help="kinds to print, most comparisons first")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as work:
        crm, books = write_exports(args.records, Path(work), seed=args.seed)
        records = [*iter_export(crm, System.CRM), *iter_export(books, System.BOOKS)]
    started = time.perf_counter()
    features, keys = normalise_records(records, DEFAULT_PHONE_REGION)
    candidates = candidate_pairs(keys)
    # The match report's own scoring (in worker processes where it pays): the pairs that are not distinct.
    mattered = {k for k, _, _ in score_candidates(features, candidates)}
    comparisons: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for k, (earlier, later) in enumerate(zip(candidates.earlier, candidates.later, strict=True)):
        kinds = {key_kind(k) for k in set(keys[earlier]) & set(keys[later])}
        kind = kinds.pop() if len(kinds) == 1 else "several"
        comparisons[kind] += 1
        if k in mattered:
            found[kind] += 1
    seconds = time.perf_counter() - started

    total = len(candidates)
    print(f"{len(records):,} records, {total:,} comparisons ({seconds:.1f} s)")
    print(f"{'key kind':<12} {'comparisons':>12} {'share':>6} {'found':>8} {'found/1000':>10}")
    for kind, count in comparisons.most_common(args.top):
        per_thousand = 1000 * found[kind] / count
        print(f"{kind:<12} {count:>12,} {count / total:>6.1%} {found[kind]:>8,} {per_thousand:>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
