"""Matching many records at once: the match report's bulk path.

The result is exactly what comparing each record with the earlier ones that share a blocking key
through :class:`~sync_guard.matching.blocking.CandidateIndex` gives (same candidates, same order, same
scores), computed with less overhead:

- candidate search runs on integer positions and key tuples only (no records, no refs);
- normalising the records and the comparisons, each independent of the others, are split across
  processes when there is enough work and the platform can ``fork`` safely (Linux): this process
  and the forked workers each take the next slice of the work whenever they are free, so
  ``workers`` processes run in all. The workers inherit the records (and, for the comparisons,
  their features) instead of receiving copies. Normalised features come back in a compact form
  (:func:`dumps_features`); of the comparisons, only the pairs that are not ``distinct`` come back.
- the candidate search runs in this process between its own slices, on the slices done so far.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from typing import Any, TypeVar

import msgspec

from sync_guard.matching.blocking import DEFAULT_MAX_POSTINGS, keys_from_features
from sync_guard.matching.compare import MatchResult, Verdict, score_unless_distinct
from sync_guard.matching.features import RecordFeatures, extract_features
from sync_guard.matching.names import NameRelation
from sync_guard.matching.tables import LegalForm
from sync_guard.models.records import PartyRecord

# Below this much work a second process costs more (fork, sending results back) than it saves.
MIN_PARALLEL_COMPARISONS = 20_000
MIN_PARALLEL_RECORDS = 20_000
# Work is handed out in this many slices per worker so that a worker slowed down by other load on a
# shared machine does not hold the others up at the end.
_SLICES_PER_WORKER = 16


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


class CandidateSearch:
    """For each record in turn, the earlier records sharing one of its keys (the CandidateIndex rule).

    Records are given in order, in as many batches as convenient (:meth:`extend`), so that the search
    can run while later records are still being normalised. A key's postings stop growing at
    ``max_postings`` (the first records indexed stay): the key is then *saturated*, exactly as
    :meth:`CandidateIndex.add` does it.
    """

    def __init__(self, *, max_postings: int = DEFAULT_MAX_POSTINGS) -> None:
        self.max_postings = max_postings
        self._postings: dict[str, list[int]] = {}
        self._saturated: set[str] = set()
        self._earlier: array[int] = array("q")
        self._later: array[int] = array("q")
        self._count = 0

    def extend(self, keys: Iterable[Sequence[str]]) -> None:
        """The next records' keys, in record order."""
        postings, saturated, cap = self._postings, self._saturated, self.max_postings
        earlier, later = self._earlier, self._later
        lookup = postings.get
        empty: list[int] = []
        position = self._count
        for record_keys in keys:
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
                elif len(bucket) >= cap:
                    saturated.add(key)
                else:
                    bucket.append(position)
            position += 1
        self._count = position

    def result(self) -> Candidates:
        """Every comparison found so far."""
        return Candidates(self._earlier, self._later, frozenset(self._saturated))


def candidate_pairs(keys: Iterable[Sequence[str]], *, max_postings: int = DEFAULT_MAX_POSTINGS) -> Candidates:
    """:class:`CandidateSearch` over all the records' keys at once."""
    search = CandidateSearch(max_postings=max_postings)
    search.extend(keys)
    return search.result()


# One scored pair that is not distinct: (index into the candidates, result, how the names relate).
Scored = tuple[int, MatchResult, NameRelation]
# Called with (comparisons done, comparisons in all) as the work progresses.
Progress = Callable[[int, int], None]

R = TypeVar("R")

# What a forked worker reads: set just before the workers are started, cleared afterwards.
_SHARED: Any = None


@dataclass(frozen=True)
class _Turns:
    """Slices of work handed out in order, to whichever process asks first: this one or a worker."""

    bounds: list[tuple[int, int]]
    claimed: Any  # multiprocessing.Value: how many slices have been taken
    done: Any  # multiprocessing.Queue: (slice, result) from the workers

    def claim(self) -> int | None:
        """The next slice nobody has taken (``None`` once all are taken)."""
        with self.claimed.get_lock():
            k = int(self.claimed.value)
            if k >= len(self.bounds):
                return None
            self.claimed.value = k + 1
        return k


_TURNS: _Turns | None = None


def _take_turns(there: Callable[[tuple[int, int]], Any]) -> None:
    """Worker side: do slices until none is left, sending each result back as it is done."""
    turns = _TURNS
    assert turns is not None  # set by _in_turns before the workers were forked
    while (k := turns.claim()) is not None:
        turns.done.put((k, there(turns.bounds[k])))


def _slices(total: int, workers: int) -> list[tuple[int, int]]:
    size = max(1, -(-total // (workers * _SLICES_PER_WORKER)))
    return [(start, min(total, start + size)) for start in range(0, total, size)]


def _in_turns(
    bounds: list[tuple[int, int]],
    workers: int,
    shared: object,
    here: Callable[[tuple[int, int]], R],
    there: Callable[[tuple[int, int]], Any],
    received: Callable[[Any], R],
) -> Iterator[R]:
    """Each slice's result, in slice order, from this process and ``workers - 1`` forked ones.

    Every process takes the next slice nobody has taken whenever it is free, so that the share each
    does follows how fast it goes: this one also reads the workers' results back (``received``) and
    runs what the caller does with each result, and another program may be using a CPU. This
    process is one of the workers rather than a dispatcher waiting on them: the machine runs
    ``workers`` processes, not one more, and the slices done here are never sent back and forth.
    The workers run ``there`` on a slice and see ``shared`` as this module's ``_SHARED``; they are
    forked when the first result is asked for (see :class:`_Session` to fork them sooner).
    """
    yield from _Session(bounds, workers, shared, there).results(here, received)


class _Session:
    """Workers forked now that take slices in turns (see :func:`_in_turns`) until :meth:`results`,
    run here, has them all, or :meth:`close` stops them."""

    def __init__(
        self,
        bounds: list[tuple[int, int]],
        workers: int,
        shared: object,
        there: Callable[[tuple[int, int]], Any],
    ) -> None:
        global _SHARED, _TURNS  # read by the forked workers, which inherit this process's memory
        context = multiprocessing.get_context("fork")
        self.turns = _Turns(bounds, context.Value("q", 0), context.Queue())
        _SHARED, _TURNS = shared, self.turns
        try:
            self.pool: Any = context.Pool(processes=workers - 1)
        except BaseException:
            _SHARED = _TURNS = None
            raise
        self.running = [self.pool.apply_async(_take_turns, (there,)) for _ in range(workers - 1)]

    def results(self, here: Callable[[tuple[int, int]], R], received: Callable[[Any], R]) -> Iterator[R]:
        """Each slice's result in slice order: this process does the slices nobody has taken yet."""
        turns, running = self.turns, self.running
        try:
            ready: dict[int, R] = {}
            for k in range(len(turns.bounds)):
                while k not in ready:
                    arrived = _arrival(turns, running, wait=False)
                    if arrived is None and (mine := turns.claim()) is not None:
                        ready[mine] = here(turns.bounds[mine])
                        continue
                    if arrived is None:  # every slice is taken: wait for the workers'
                        arrived = _arrival(turns, running, wait=True)
                    if arrived is not None:
                        ready[arrived[0]] = received(arrived[1])
                yield ready.pop(k)
            for result in running:
                result.get()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers (those still at work are ended); nothing happens a second time."""
        global _SHARED, _TURNS
        if self.pool is not None:
            self.pool.terminate()
            self.pool = None
            _SHARED = _TURNS = None


def _arrival(turns: _Turns, running: list[Any], *, wait: bool) -> tuple[int, Any] | None:
    """A worker's next result; ``None`` if there is none yet and ``wait`` is false.

    A worker that failed raises its error here instead of leaving this process waiting for a
    result that will never come.
    """
    while True:
        try:
            arrived: tuple[int, Any] = turns.done.get(block=wait, timeout=0.2 if wait else None)
            return arrived
        except queue.Empty:
            for result in running:
                if result.ready():
                    result.get()  # raises what the worker raised; a worker that is done has sent all
            if not wait:
                return None


# --- normalising -----------------------------------------------------------------------------------

# Features travel back from a worker as MessagePack (msgspec): the feature classes are msgspec structs
# written as arrays, so writing and reading them back runs in C, several times faster than pickling them
# or rebuilding them from marshalled tuples, and no field can be forgotten on the way.
Normalised = tuple[list[RecordFeatures], list[tuple[str, ...]]]
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Normalised)


def dumps_features(features: Sequence[RecordFeatures], keys: Sequence[tuple[str, ...]]) -> bytes:
    """Records' features and blocking keys as compact bytes; read back with :func:`loads_features`."""
    return _ENCODER.encode((features, keys))


def loads_features(data: bytes) -> Normalised:
    """What :func:`dumps_features` wrote."""
    features, keys = _DECODER.decode(data)
    _share_legal_forms(features)
    return features, keys


def _share_legal_forms(features: list[RecordFeatures]) -> None:
    """One object per legal form again, as the normaliser's tables have it: decoding writes a new form
    (with its set of countries) for every name that has one, 55 MB more per 100k records."""
    shared: dict[LegalForm, LegalForm] = {}
    for f in features:
        names = [f.company] if f.company is not None else []
        names.extend(other.name for other in f.other_names)
        for name in names:
            for hit in name.legal_forms:
                # Just decoded: nothing else holds the hit, and nothing has hashed it yet.
                msgspec.structs.force_setattr(hit, "form", shared.setdefault(hit.form, hit.form))


def _normalise_range(records: Sequence[PartyRecord], region: str, start: int, stop: int) -> Normalised:
    features = [extract_features(records[i], region) for i in range(start, stop)]
    return features, [keys_from_features(f) for f in features]


def _normalise_slice(bounds: tuple[int, int]) -> bytes:
    """Worker side: features and keys of one slice of the records, as compact bytes."""
    records, region = _SHARED
    return dumps_features(*_normalise_range(records, region, *bounds))


def iter_normalised(
    records: Sequence[PartyRecord],
    default_region: str,
    *,
    workers: int | None = None,
    min_parallel: int | None = None,
) -> Iterator[Normalised]:
    """Features and blocking keys of the records, in record order, a slice at a time.

    Runs in ``workers`` processes, this one and forked ones (``None``: one per CPU), when there are
    at least ``min_parallel`` records (default :data:`MIN_PARALLEL_RECORDS`) and the platform can
    fork; otherwise here alone. Concatenated, the slices are the same whatever ``workers`` is. The
    workers are forked when the first slice is asked for (:func:`normalising_ahead`: at once).
    """
    with normalising_ahead(records, default_region, workers=workers, min_parallel=min_parallel) as slices:
        yield from slices


@contextmanager
def normalising_ahead(
    records: Sequence[PartyRecord],
    default_region: str,
    *,
    workers: int | None = None,
    min_parallel: int | None = None,
) -> Iterator[Iterator[Normalised]]:
    """What :func:`iter_normalised` gives, with its workers forked now: they normalise the first slices
    while this process does something else (reads the next export), and it takes its turns once the
    slices are asked for. Leaving the block stops any worker still at work."""
    total = len(records)
    count = default_workers() if workers is None else max(1, workers)
    threshold = MIN_PARALLEL_RECORDS if min_parallel is None else min_parallel
    if count == 1 or total < threshold or not can_fork():
        yield (_normalise_range(records, default_region, start, stop) for start, stop in _slices(total, 1))
        return
    session = _Session(_slices(total, count), count, (records, default_region), _normalise_slice)
    try:
        yield session.results(
            here=lambda bounds: _normalise_range(records, default_region, *bounds), received=loads_features
        )
    finally:
        session.close()


def normalise_records(
    records: Sequence[PartyRecord],
    default_region: str,
    *,
    workers: int | None = None,
    on_progress: Progress | None = None,
    min_parallel: int | None = None,
) -> Normalised:
    """Every record's features and blocking keys, in record order (see :func:`iter_normalised`)."""
    features: list[RecordFeatures] = []
    keys: list[tuple[str, ...]] = []
    for more_features, more_keys in iter_normalised(
        records, default_region, workers=workers, min_parallel=min_parallel
    ):
        features.extend(more_features)
        keys.extend(more_keys)
        if on_progress is not None:
            on_progress(len(features), len(records))
    return features, keys


# --- comparing -------------------------------------------------------------------------------------


def _score_range(
    features: Sequence[RecordFeatures], candidates: Candidates, start: int, stop: int
) -> list[Scored]:
    scored: list[Scored] = []
    earlier, later = candidates.earlier, candidates.later
    for k in range(start, stop):
        found = score_unless_distinct(features[earlier[k]], features[later[k]])
        if found is not None:
            scored.append((k, *found))
    return scored


def _score_slice(bounds: tuple[int, int]) -> list[tuple[int, float, str, tuple[str, ...], str]]:
    """Worker side: score one slice; results as plain tuples (cheaper to send than dataclasses)."""
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


def can_fork() -> bool:
    # Linux only: macOS offers fork but its system libraries are not safe in a forked child (which is
    # why Python starts processes there by spawning), and Windows has no fork at all.
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def score_candidates(
    features: Sequence[RecordFeatures],
    candidates: Candidates,
    *,
    workers: int | None = None,
    on_progress: Progress | None = None,
    min_parallel: int | None = None,
) -> list[Scored]:
    """Score every candidate pair; the pairs that are not distinct, in candidate order.

    ``workers`` processes share the work when there are at least ``min_parallel`` comparisons (default
    :data:`MIN_PARALLEL_COMPARISONS`) and the platform can fork (``None``: one per CPU); otherwise it
    runs here. The result does not depend on the number of workers.
    """
    total = len(candidates)
    count = default_workers() if workers is None else max(1, workers)
    threshold = MIN_PARALLEL_COMPARISONS if min_parallel is None else min_parallel
    if count == 1 or total < threshold or not can_fork():
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
    total = len(candidates)
    bounds = _slices(total, workers)
    verdicts = {v.value: v for v in Verdict}
    relations = {r.value: r for r in NameRelation}

    def received(rows: list[tuple[int, float, str, tuple[str, ...], str]]) -> list[Scored]:
        return [
            (k, MatchResult(score, verdicts[verdict], evidence), relations[relation])
            for k, score, verdict, evidence, relation in rows
        ]

    scored: list[Scored] = []
    results = _in_turns(
        bounds,
        workers,
        (features, candidates),
        here=lambda bound: _score_range(features, candidates, *bound),
        there=_score_slice,
        received=received,
    )
    # The slices come back in order, so the pairs are in candidate order.
    for (_, stop), more in zip(bounds, results, strict=True):
        scored.extend(more)
        if on_progress is not None:
            on_progress(stop, total)
    return scored
