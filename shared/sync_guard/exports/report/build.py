"""Building the report: normalise and match every record, then order the pairs and cluster them."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain

from sync_guard.exports.report.clusters import find_clusters
from sync_guard.exports.report.model import MatchReport, ReportPair
from sync_guard.matching import MatchResult, NameRelation, RecordFeatures, Verdict
from sync_guard.matching.bulk import (
    Candidates,
    CandidateSearch,
    Normalised,
    Scored,
    iter_normalised,
    score_candidates,
)
from sync_guard.matching.normalise import DEFAULT_PHONE_REGION
from sync_guard.models.records import PartyRecord, System


@contextmanager
def bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while hundreds of thousands of objects are built.

    Reading and matching create no reference cycles, but every collection walks all the records kept
    so far: a quarter of the time of a 100k x 100k run went there. The previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# (stage, done, total): "normalising" counts records, "comparing" counts candidate pairs.
StageProgress = Callable[[str, int, int], None]


def build_report(
    crm: Sequence[PartyRecord],
    books: Sequence[PartyRecord],
    *,
    default_region: str = DEFAULT_PHONE_REGION,
    on_progress: StageProgress | None = None,
    workers: int | None = None,
    crm_normalised: Iterator[Normalised] | None = None,
) -> MatchReport:
    """Match every record against the earlier ones that share a blocking key, then cluster and choose.

    Work grows with the number of records times the (capped) candidates per record, not with the
    number of pairs of records. Normalising and comparing run in ``workers`` processes (``None``: one
    per CPU; see :mod:`sync_guard.matching.bulk`); the report does not depend on how many.
    ``on_progress`` is called with (stage, done, total) for the stages ``normalising`` (records) and
    ``comparing`` (candidate pairs), in steps. ``crm_normalised``: the CRM records' features and keys
    already under way (:func:`~sync_guard.matching.bulk.normalising_ahead`, started while the Books
    export was read); the report is the same.
    """

    def stage(name: str) -> Callable[[int, int], None] | None:
        if on_progress is None:
            return None
        return lambda done, total: on_progress(name, done, total)

    with bulk_allocation():
        records = [*crm, *books]
        # Each record is normalised once; blocking and every comparison reuse its features. Each record
        # meets the earlier records that share a key (so never itself): that search runs here while the
        # workers normalise the next records.
        features: list[RecordFeatures] = []
        search = CandidateSearch()
        normalising = stage("normalising")
        slices = (
            iter_normalised(records, default_region, workers=workers)
            if crm_normalised is None
            else chain(crm_normalised, iter_normalised(books, default_region, workers=workers))
        )
        for more_features, more_keys in slices:
            features.extend(more_features)
            search.extend(more_keys)
            if normalising is not None:
                normalising(len(features), len(records))
        candidates = search.result()
        del search  # its postings (every key of every record) are not needed for the comparisons
        scored = score_candidates(features, candidates, workers=workers, on_progress=stage("comparing"))
        return assemble_report(crm, books, candidates, scored, records=records)


def assemble_report(
    crm: Sequence[PartyRecord],
    books: Sequence[PartyRecord],
    candidates: Candidates,
    scored: list[Scored],
    *,
    records: Sequence[PartyRecord] | None = None,
) -> MatchReport:
    """The report from the comparisons made: pairs in a stable order, clusters and survivors.

    ``candidates`` and ``scored`` are over the CRM records followed by the Books records, as
    :func:`build_report` makes them; ``records``: that list, when the caller has it already.
    """
    if records is None:
        records = [*crm, *books]
    systems = [r.system for r in records]
    crm_system, books_system = System.CRM, System.BOOKS
    duplicate = Verdict.DUPLICATE
    refs: dict[int, str] = {}
    # A row per pair: its sort key (duplicates first, highest score first, CRM on the left first, the
    # two refs), then the positions of its left and right records, and what the matcher said of it.
    found: list[tuple[bool, float, bool, str, str, int, int, MatchResult, NameRelation]] = []
    for k, result, relation in scored:
        other, position = candidates.earlier[k], candidates.later[k]
        # Left is the CRM record when there is one, else the earlier record.
        crm_first = systems[other] is crm_system or systems[position] is books_system
        left, right = (other, position) if crm_first else (position, other)
        for at in (left, right):
            if at not in refs:
                refs[at] = records[at].ref
        found.append(
            (
                result.verdict is not duplicate,
                -result.score,
                systems[left] is not crm_system,
                refs[left],
                refs[right],
                left,
                right,
                result,
                relation,
            )
        )
    # Refs are unique, so the order is total and does not depend on the order the pairs were found in.
    found.sort(key=lambda row: row[:5])
    pairs: list[ReportPair] = []
    duplicates: list[tuple[int, int]] = []  # the positions of the duplicate pairs' records
    for not_duplicate, _, _, _, _, left, right, result, relation in found:
        pairs.append(ReportPair(records[left], records[right], result, relation))
        if not not_duplicate:
            duplicates.append((left, right))
    # Without any CRM id in the Books export, whether a pair is linked cannot be told.
    links_known = any(b.linked_crm_id for b in books)
    crm_ids = {r.record_id for r in crm}
    clusters, currency_copies = find_clusters(
        records, refs, duplicates, links_known=links_known, crm_exported=crm_ids if crm else None
    )
    return MatchReport(
        crm_count=len(crm),
        books_count=len(books),
        links_known=links_known or not (crm and books),
        orphans=[b for b in books if b.linked_crm_id and b.linked_crm_id not in crm_ids] if crm else [],
        pairs=pairs,
        clusters=clusters,
        currency_copies=currency_copies,
        comparisons=len(candidates),
        saturated_keys=candidates.saturated_keys,
    )
