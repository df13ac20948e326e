"""Matching many records at once: the match report's bulk path.

The result is exactly what comparing each record with the earlier ones that share a blocking key
through :class:`~sync_guard.matching.blocking.CandidateIndex` gives (same candidates, same order, same
scores), computed with less overhead:

- candidate search runs on integer positions and key tuples only (no records, no refs);
- the comparisons, which are independent of one another, are split across worker processes when there
  are enough of them and the platform can ``fork`` (the workers inherit the normalised records instead
  of receiving copies; only the pairs that are not ``distinct`` come back).
"""

from __future__ import annotations

import multiprocessing
import os
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

from sync_guard.matching.blocking import DEFAULT_MAX_POSTINGS
from sync_guard.matching.compare import MatchResult, Verdict, score_pair
from sync_guard.matching.features import RecordFeatures
from sync_guard.matching.names import NameRelation

# Below this many comparisons a second process costs more (fork, pickling the results) than it saves.
MIN_PARALLEL_COMPARISONS = 20_000
# Work is handed out in this many slices per worker so that a worker slowed down by other load on a
# shared machine does not hold the others up at the end.
_SLICES_PER_WORKER = 8


@dataclass(frozen=True, slots=True)
class Candidates:
    """Every comparison to make, as parallel arrays of positions: ``earlier[k]`` with ``later[k]``.

    In the order the serial search makes them: by the later record, then by the order of the earlier
    records first seen through the later record's keys.
    """

    earlier: array[int]
    later: array[int]
    saturated_keys: frozenset[str]

    def __len__(self) -> int:
        return len(self.later)


def candidate_pairs(keys: Sequence[Sequence[str]], *, max_postings: int = DEFAULT_MAX_POSTINGS) -> Candidates:
    """For each record, the earlier records sharing one of its keys (the CandidateIndex rule).

    A key's postings stop growing at ``max_postings`` (the first records indexed stay): the key is then
    *saturated*, exactly as :meth:`CandidateIndex.add` does it.
    """
    postings: dict[str, list[int]] = {}
    saturated: set[str] = set()
    earlier: array[int] = array("q")
    later: array[int] = array("q")
    lookup = postings.get
    empty: list[int] = []
    for position, record_keys in enumerate(keys):
        if len(record_keys) == 1:
            found: Sequence[int] = lookup(record_keys[0], empty)
        else:
            # First-seen order without repeats, as CandidateIndex.candidate_positions gives them.
            found = list(dict.fromkeys(chain.from_iterable(lookup(k, empty) for k in record_keys)))
        if found:
            earlier.extend(found)
            later.extend([position] * len(found))
        for key in record_keys:
            bucket = lookup(key)
            if bucket is None:
                postings[key] = [position]
            elif len(bucket) >= max_postings:
                saturated.add(key)
            else:
                bucket.append(position)
    return Candidates(earlier, later, frozenset(saturated))


# One scored pair that is not distinct: (index into the candidates, result, how the names relate).
Scored = tuple[int, MatchResult, NameRelation]
# Called with (comparisons done, comparisons in all) as the work progresses.
Progress = Callable[[int, int], None]

# What a forked worker reads: set just before the workers are started, cleared afterwards.
_SHARED: tuple[Sequence[RecordFeatures], Candidates] | None = None


def _score_range(
    features: Sequence[RecordFeatures], candidates: Candidates, start: int, stop: int
) -> list[Scored]:
    scored: list[Scored] = []
    distinct = Verdict.DISTINCT
    earlier, later = candidates.earlier, candidates.later
    for k in range(start, stop):
        result, relation = score_pair(features[earlier[k]], features[later[k]])
        if result.verdict is not distinct:
            scored.append((k, result, relation))
    return scored


def _score_slice(bounds: tuple[int, int]) -> list[tuple[int, float, str, tuple[str, ...], str]]:
    """Worker side: score one slice; results as plain tuples (cheaper to send than dataclasses)."""
    assert _SHARED is not None, "worker started without the shared records"
    features, candidates = _SHARED
    return [
        (k, r.score, r.verdict.value, r.evidence, relation.value)
        for k, r, relation in _score_range(features, candidates, *bounds)
    ]


def default_workers() -> int:
    """The CPUs this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def score_candidates(
    features: Sequence[RecordFeatures],
    candidates: Candidates,
    *,
    workers: int | None = None,
    on_progress: Progress | None = None,
) -> list[Scored]:
    """Score every candidate pair; the pairs that are not distinct, in candidate order.

    ``workers`` processes share the work when there are at least :data:`MIN_PARALLEL_COMPARISONS`
    comparisons and the platform can fork (``None``: one per CPU); otherwise it runs here. The result
    does not depend on the number of workers.
    """
    total = len(candidates)
    count = default_workers() if workers is None else max(1, workers)
    if count == 1 or total < MIN_PARALLEL_COMPARISONS or not _can_fork():
        return _score_serially(features, candidates, on_progress)
    return _score_in_workers(features, candidates, count, on_progress)


def _score_serially(
    features: Sequence[RecordFeatures], candidates: Candidates, on_progress: Progress | None
) -> list[Scored]:
    total = len(candidates)
    step = max(1, min(total, 10_000))
    scored: list[Scored] = []
    for start in range(0, total, step):
        stop = min(total, start + step)
        scored.extend(_score_range(features, candidates, start, stop))
        if on_progress is not None:
            on_progress(stop, total)
    return scored


def _score_in_workers(
    features: Sequence[RecordFeatures], candidates: Candidates, workers: int, on_progress: Progress | None
) -> list[Scored]:
    global _SHARED  # read by the forked workers, which inherit this process's memory
    total = len(candidates)
    size = -(-total // (workers * _SLICES_PER_WORKER))
    bounds = [(start, min(total, start + size)) for start in range(0, total, size)]
    verdicts = {v.value: v for v in Verdict}
    relations = {r.value: r for r in NameRelation}
    scored: list[Scored] = []
    done = 0
    _SHARED = (features, candidates)
    try:
        with multiprocessing.get_context("fork").Pool(processes=workers) as pool:
            # imap keeps the slices in order, so the pairs come back in candidate order.
            for (start, stop), rows in zip(bounds, pool.imap(_score_slice, bounds), strict=True):
                scored.extend(
                    (k, MatchResult(score, verdicts[verdict], evidence), relations[relation])
                    for k, score, verdict, evidence, relation in rows
                )
                done += stop - start
                if on_progress is not None:
                    on_progress(done, total)
    finally:
        _SHARED = None
    return scored
