"""The match report: pairs, clusters, suggested survivors and a draft support ticket, from Zoho exports.

This is step 2 of the seed's fix ("build a match list") done by the matcher instead of a spreadsheet.
Everything is computed in memory from the two exports (:func:`build_report`) and written as a whole or
not at all (:func:`write_report`: a temporary folder beside the output, renamed into place).
"""

from __future__ import annotations

import csv
import gc
import io
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from itertools import chain
from pathlib import Path

from sync_guard.errors import ClientError
from sync_guard.exports.cells import spreadsheet_text
from sync_guard.matching import (
    DUPLICATE_THRESHOLD,
    POSSIBLE_THRESHOLD,
    MatchResult,
    NameRelation,
    RecordFeatures,
    Verdict,
)
from sync_guard.matching.bulk import (
    Candidates,
    CandidateSearch,
    Normalised,
    Scored,
    can_fork,
    iter_normalised,
    score_candidates,
)
from sync_guard.matching.features import record_currency
from sync_guard.matching.normalise import DEFAULT_PHONE_REGION, without_mark
from sync_guard.models.records import PartyRecord, System
from sync_guard.redact import mask_emails_in

PAIRS_HEADER = ("left_system", "left_id", "right_system", "right_id", "score", "verdict", "evidence")
CLUSTERS_HEADER = (
    "cluster",
    "system",
    "id",
    "name",
    "status",
    "has_transactions",
    "outstanding",
    "created",
    "modified",
    "linked_crm_id",
    "suggested_survivor",
    "sync_links_to_repair",
    "pattern",
)

_SCOPES = {
    (System.CRM, System.BOOKS): "CRM ↔ Books",
    (System.CRM, System.CRM): "within CRM",
    (System.BOOKS, System.BOOKS): "within Books",
}
_NAME_PATTERNS = {
    "identical": "identical names",
    NameRelation.SAME: "name drift (Ltd/Limited, &/and, The, case, spaces)",
    NameRelation.REORDERED: "name drift (words in another order)",
    NameRelation.TYPO: "typos or abbreviations in the name",
}


# Books keeps one currency per customer: a company billed in two has a customer in each, on purpose.
_OTHER_CURRENCY = "a customer in another currency (intended)"

_CRM_CUSTOMER_IN_OTHER_CURRENCY = f"{_SCOPES[(System.CRM, System.BOOKS)]}: {_OTHER_CURRENCY}"

_SYSTEM_NAMES = {"crm": "CRM", "books": "Books"}


class OutputExists(ClientError):
    """The output folder cannot take the report: it holds files (and replacing them was not asked for),
    or it cannot be made."""

    code = "output_exists"


@dataclass(frozen=True)
class ReportPair:
    """Two records the matcher links, left being the CRM one (or the earlier one on the same side)."""

    left: PartyRecord
    right: PartyRecord
    result: MatchResult
    relation: NameRelation
    # True when the Books record already carries this CRM record's id: the sync's own pair. Set once
    # (the pattern, the summary and the ticket each ask it of every pair), as a field: a cached property
    # takes a lock the first time it is asked, which costs twice what working it out does.
    linked: bool = field(init=False)

    def __post_init__(self) -> None:
        crm, books = self.left, self.right
        linked = (
            crm.system is System.CRM and books.system is System.BOOKS and books.linked_crm_id == crm.record_id
        )
        object.__setattr__(self, "linked", linked)  # frozen: set as the dataclass's own __init__ does

    @property
    def pattern(self) -> str:
        """Scope and name pattern, e.g. ``CRM ↔ Books: name drift (Ltd/Limited, ...)``.

        Worked out each time it is asked: :attr:`MatchReport.patterns` asks it once of each pair.
        """
        scope = _SCOPES[(self.left.system, self.right.system)]
        if self.linked:
            return f"{scope}: already linked by the sync"
        if self.left.system is System.BOOKS:
            currencies = {record_currency(self.left), record_currency(self.right)}
            if None not in currencies and len(currencies) == 2:
                return f"{scope}: {_OTHER_CURRENCY}"
        if self.relation is NameRelation.SAME and self.left.name.strip() == self.right.name.strip():
            kind = _NAME_PATTERNS["identical"]
        else:
            kind = _NAME_PATTERNS.get(self.relation, "different names, shared contact details")
        return f"{scope}: {kind}"


def _holds_transactions(record: PartyRecord) -> bool | None:
    """Whether a Books customer holds transactions: yes when the export says so or money is outstanding,
    no only when the export says so, None when it cannot tell (nothing outstanding only means nothing
    is owed: a customer who paid every invoice owes nothing)."""
    if record.outstanding:
        return True
    return record.has_transactions


def _balance_in_words(amount: Decimal) -> str:
    """A receivable as finance says it: money owed by the customer, or (below zero, an overpayment or
    a credit note not yet used) owed to the customer."""
    return "an outstanding balance" if amount > 0 else "a credit balance"


def _transactions_in_words(record: PartyRecord) -> str:
    """A Books customer's transactions as the summary and the ticket say them."""
    if record.outstanding:
        amount = record.outstanding
        return f"holds {_balance_in_words(amount)} ({amount if amount > 0 else -amount})"
    if record.has_transactions:
        return "holds transactions"
    if record.has_transactions is False:
        return "no transactions"
    return (
        "nothing outstanding, transactions unknown"
        if record.outstanding is not None
        else "transactions unknown"
    )


def _status(record: PartyRecord) -> str:
    """``active`` or ``inactive`` as the export says it, ``""`` when it does not (no Status column)."""
    if not record.active:
        return "inactive"
    return "active" if "active" in record.model_fields_set else ""


def _count(number: int, noun: str) -> str:
    """``1 cluster``, ``2 clusters``: a number and its noun, agreeing."""
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _are(things: Collection[object]) -> str:
    return "is" if len(things) == 1 else "are"


def _were(things: Collection[object]) -> str:
    return "was" if len(things) == 1 else "were"


def _ids(records: Sequence[PartyRecord], shown: int = 3) -> str:
    """``8001, 8002 and 3 more``: ids for a sentence, a few at most."""
    ids = ", ".join(r.record_id for r in records[:shown])
    return ids + (f" and {len(records) - shown} more" if len(records) > shown else "")


def _unmarked_first(records: list[PartyRecord]) -> tuple[list[PartyRecord], bool]:
    """The records whose names carry no administrator's mark ("DUPLICATE - Acme", "ZZ Acme"), if any
    remain, else all of them; and whether a marked one was set aside."""
    unmarked = [r for r in records if without_mark(r.name)[0] is None]
    if unmarked and len(unmarked) < len(records):
        return unmarked, True
    return records, False


def _sort_time(value: datetime | None) -> float:
    if value is None:
        return float("inf")
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


# Said of a survivor chosen over copies whose names an administrator marked to retire.
_MARKED_ASIDE = " (copies marked 'DUPLICATE', 'DO NOT USE', 'ZZ', ... set aside)"


@dataclass
class Cluster:
    """Records joined by ``duplicate`` pairs (connected components), with suggested survivors."""

    number: int
    members: list[PartyRecord]
    books_survivor: PartyRecord | None = None
    books_reason: str = ""
    crm_survivor: PartyRecord | None = None
    crm_reason: str = ""
    patterns: list[str] = field(default_factory=list)
    # Books customers to keep (or holding transactions) linked to a CRM copy that is not the CRM survivor.
    repoint: list[PartyRecord] = field(default_factory=list)
    # The CRM record the Books copy that stays should be linked to, when the sync does not link them
    # (the CRM record kept, or the one the Books copies to deactivate are linked to); "" when it does.
    relink_crm_id: str = ""

    # The members by system, and the Books ones that duplicate one another (see __post_init__): set once,
    # as every step of choosing survivors and describing patterns asks for them.
    crm: list[PartyRecord] = field(init=False, repr=False)
    books: list[PartyRecord] = field(init=False, repr=False)
    duplicate_books: list[PartyRecord] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        crm, books = System.CRM, System.BOOKS
        self.crm = [r for r in self.members if r.system is crm]
        self.books = [r for r in self.members if r.system is books]
        self.duplicate_books = self._duplicate_books()

    @property
    def _crm_ids(self) -> set[str]:
        return {r.record_id for r in self.crm}

    def _duplicate_books(self) -> list[PartyRecord]:
        """The Books members that duplicate one another: the largest group billed in one currency
        (all of them when no currency is known), of equal groups the one linked to a CRM member."""
        books = self.books
        if len(books) < 2:
            return books  # most clusters: a CRM record and its Books copy
        by_currency: dict[str | None, list[PartyRecord]] = defaultdict(list)
        for record in books:
            by_currency[record_currency(record)].append(record)
        crm_ids = self._crm_ids
        return max(
            by_currency.values(),
            key=lambda group: (len(group), any(r.linked_crm_id in crm_ids for r in group)),
            default=[],
        )

    def choose_survivors(self, *, crm_exported: Collection[str] | None = None) -> None:
        """The Books copy with transactions; the CRM copy with the longer history (earliest created);
        and the sync link to repair so that the CRM record kept is linked to the Books copy kept.

        ``crm_exported``: the ids of the CRM export (None without one), so that a Books copy's link to
        a CRM record no longer there is not taken for the link to move.
        """
        crm_ids = {r.record_id for r in self.crm}
        books = self.duplicate_books
        if len(books) > 1:
            self._choose_books_survivor(books, crm_ids)
        crm, crm_marked_aside = _unmarked_first(self.crm)
        if len(self.crm) > 1:
            dated = [r for r in crm if r.created_at is not None]
            if dated:
                self.crm_survivor = min(dated, key=lambda r: _sort_time(r.created_at))
                self.crm_reason = "created first: the longer history"
            else:
                linked_from_books = {r.linked_crm_id for r in self.books if r.linked_crm_id}
                linked = [r for r in crm if r.record_id in linked_from_books]
                self.crm_survivor = (linked or crm)[0]
                self.crm_reason = (
                    "the one Books is linked to" if linked else "first listed (no created times)"
                )
            if crm_marked_aside:
                self.crm_reason += _MARKED_ASIDE
            self.repoint = self._linked_elsewhere(crm_ids, self.crm_survivor.record_id)
        self.relink_crm_id = self._crm_id_to_link(crm_exported)

    @property
    def books_kept(self) -> PartyRecord | None:
        """The Books copy that stays: the survivor, or the cluster's one Books copy (in its currency)."""
        books = self.duplicate_books
        return self.books_survivor or (books[0] if len(books) == 1 else None)

    def _displaced(self, crm_id: str) -> list[PartyRecord]:
        """The Books copies to deactivate (holding no transactions to move first) that the sync links to
        ``crm_id``, the CRM record the kept copy is to be linked to."""
        kept = self.books_kept
        return [
            r
            for r in self.duplicate_books
            if r is not kept and r.linked_crm_id == crm_id and not any(r is m for m in self.repoint)
        ]

    def _crm_id_to_link(self, crm_exported: Collection[str] | None) -> str:
        """The CRM id the kept Books copy should be linked to and is not, else "".

        Deactivating the copy the sync links to while the kept one is linked to nothing leaves the CRM
        record without its Books customer: its next edit creates yet another one (the seed's deleted
        partner). A kept copy linked to a CRM copy merged away is in ``repoint`` instead.
        """
        kept = self.books_kept
        if kept is None or any(r is kept for r in self.repoint):
            return ""
        link = kept.linked_crm_id
        if link and crm_exported is not None and link in crm_exported and link not in self._crm_ids:
            return ""  # linked to a CRM record outside these duplicates: moving it is a person's call
        if self.crm_survivor is not None:
            target = self.crm_survivor.record_id
        elif len(self.crm) == 1:
            target = self.crm[0].record_id
        elif not self.crm and not kept.linked_crm_id:
            # No CRM record here: the one the copies to deactivate are linked to, if they agree.
            links = {r.linked_crm_id for r in self.duplicate_books if r is not kept and r.linked_crm_id}
            if len(links) != 1:
                return ""
            target = links.pop()
            if crm_exported is not None and target not in crm_exported:
                return ""  # gone from CRM: listed with the orphans
        else:
            return ""
        return "" if kept.linked_crm_id == target else target

    def relink_note(self) -> str:
        """The sync link to repair ("" when none is): the CRM record to link to the Books copy kept."""
        if not self.relink_crm_id:
            return ""  # most clusters
        kept = self.books_kept
        if kept is None:
            return ""
        note = f"link CRM {self.relink_crm_id} to Books {kept.record_id}"
        displaced = self._displaced(self.relink_crm_id)
        if displaced:
            them = "it" if len(displaced) == 1 else "them"
            note += f" instead of Books {_ids(displaced)}, before deactivating {them}"
        return note

    def _linked_elsewhere(self, crm_ids: set[str], survivor_id: str) -> list[PartyRecord]:
        """The Books customers that stay (or hold transactions) but are linked to a CRM copy other than
        the CRM survivor: merging that copy away first would leave them linked to nothing, the seed's
        CRM-merge orphan, so they are re-pointed to the survivor before the CRM records are merged."""
        survivor = self.books_survivor
        retired = {r.record_id for r in self.duplicate_books if survivor and r is not survivor}
        return [
            r
            for r in self.books
            if (r.record_id not in retired or _holds_transactions(r))
            and r.linked_crm_id in crm_ids
            and r.linked_crm_id != survivor_id
        ]

    def repoint_note(self) -> str:
        """What to re-point before the CRM records are merged ("" when nothing is)."""
        if not self.repoint or self.crm_survivor is None:
            return ""
        moves = ", ".join(f"Books {r.record_id} (linked to CRM {r.linked_crm_id})" for r in self.repoint)
        target = self.crm_survivor.record_id
        # The kept Books copy takes the CRM survivor's link from a copy to deactivate, if one has it.
        kept = self.books_kept
        displaced = self._displaced(target) if any(r is kept for r in self.repoint) else []
        instead = f" instead of Books {_ids(displaced)} (to deactivate)" if displaced else ""
        return f"re-point {moves} to CRM {target}{instead} before merging the CRM records"

    def _choose_books_survivor(self, books: list[PartyRecord], crm_ids: set[str]) -> None:
        with_money = [r for r in books if _holds_transactions(r)]
        # Transactions decide first (moving them is the costly part), then a copy nobody marked.
        pool, marked_aside = _unmarked_first(with_money or books)
        # An Active copy is the one people use; an Inactive one was set aside by someone already.
        active = [r for r in pool if r.active]
        inactive_aside = 0 < len(active) < len(pool)
        pool = active or pool
        linked = [r for r in pool if r.linked_crm_id and r.linked_crm_id in crm_ids]
        pool = linked or pool
        survivor = self.books_survivor = min(pool, key=lambda r: _sort_time(r.created_at))
        unknown = [r for r in books if r is not survivor and _holds_transactions(r) is None]
        if len(with_money) == 1:
            money = _balance_in_words(survivor.outstanding) if survivor.outstanding else "transactions"
            reason = f"the only copy with {money}"
        else:
            if len(with_money) > 1:
                # Both are invoiced: nothing can be deleted, and no copy deactivated before its
                # transactions have moved to the one kept.
                others = [r for r in with_money if r is not survivor]
                them = "it" if len(others) == 1 else "them"
                reason = (
                    f"{len(with_money)} copies hold transactions: move those of {_ids(others)} to this one "
                    f"before deactivating {them}"
                )
            else:
                reason = f"no copy {'is known to hold' if unknown else 'holds'} transactions"
            # What decided among them, when transactions did not.
            if inactive_aside and len(active) == 1:
                reason += "; the only active copy"
            else:
                choice = "this one is linked to CRM" if linked else "the oldest (or first listed)"
                reason += f"; {'active, ' if inactive_aside else ''}{choice}"
        if marked_aside:
            reason += _MARKED_ASIDE
        if not survivor.active and any(r.active for r in books):
            # Kept for its transactions though someone set it aside: it must be in use again.
            reason += "; it is inactive: mark it active before deactivating the others"
        if unknown:
            reason += f"; transactions of {_ids(unknown)} unknown: check them in Books before deactivating"
        self.books_reason = reason

    def describe_patterns(self, *, links_known: bool) -> None:
        """Which failure patterns this cluster shows (none for a CRM record and its one Books copy).

        Books keeps one currency per customer, so one customer per currency ("Acme Ltd" in GBP, "Acme
        Ltd (USD)") is intended: only two customers in one currency are "several Books customers".
        """
        books, crm = self.books, self.crm
        links = [r.linked_crm_id for r in books if r.linked_crm_id]
        if len(self.duplicate_books) > 1:
            self.patterns.append("several Books customers")
        if len(crm) > 1:
            self.patterns.append("several CRM records")
        if len(set(links)) < len(links):
            self.patterns.append("two Books customers linked to one CRM record")
        if links_known and crm and books and self._crm_ids.isdisjoint(links):
            self.patterns.append("CRM and Books copies not linked")


@dataclass
class MatchReport:
    """Everything the report files are written from."""

    crm_count: int
    books_count: int
    pairs: list[ReportPair]
    clusters: list[Cluster]
    comparisons: int
    saturated_keys: frozenset[str]
    sources: dict[str, str] = field(default_factory=dict)  # "crm"/"books" -> file name
    # "crm"/"books" -> the sheet read, when that export is a workbook: one file may hold both exports.
    sheets: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Whether the Books export says which CRM record each customer is linked to (its CRM Account ID).
    links_known: bool = True
    # Books customers linked to a CRM record the CRM export does not have: merged or deleted in CRM.
    orphans: list[PartyRecord] = field(default_factory=list)
    # Refs of the Books customers that a duplicate group has in another currency than its own.
    currency_copies: set[str] = field(default_factory=set)

    def pattern_of(self, pair: ReportPair) -> str:
        """The pair's pattern, a CRM record's customer in another currency being intended, not a copy."""
        if (
            self.currency_copies  # mostly none: the ref is not worked out for nothing
            and pair.left.system is System.CRM
            and not pair.linked
            and pair.right.ref in self.currency_copies
        ):
            return _CRM_CUSTOMER_IN_OTHER_CURRENCY
        return pair.pattern

    @cached_property
    def patterns(self) -> list[str]:
        """Each pair's :meth:`pattern_of`, in the order of ``pairs``, worked out once: the summary and
        the ticket both count the pairs by pattern."""
        return [self.pattern_of(p) for p in self.pairs]

    def duplicates_with_patterns(self) -> list[tuple[ReportPair, str]]:
        """The duplicate pairs, each with its pattern."""
        duplicate = Verdict.DUPLICATE
        return [
            (p, pattern)
            for p, pattern in zip(self.pairs, self.patterns, strict=True)
            if p.result.verdict is duplicate
        ]

    @property
    def duplicates(self) -> list[ReportPair]:
        """Pairs with verdict duplicate."""
        return [p for p in self.pairs if p.result.verdict is Verdict.DUPLICATE]


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
    with bulk_allocation():
        return _build_report(
            crm,
            books,
            default_region=default_region,
            on_progress=on_progress,
            workers=workers,
            crm_normalised=crm_normalised,
        )


# (stage, done, total): "normalising" counts records, "comparing" counts candidate pairs.
StageProgress = Callable[[str, int, int], None]


def _build_report(
    crm: Sequence[PartyRecord],
    books: Sequence[PartyRecord],
    *,
    default_region: str,
    on_progress: StageProgress | None,
    workers: int | None,
    crm_normalised: Iterator[Normalised] | None,
) -> MatchReport:
    records = [*crm, *books]

    def stage(name: str) -> Callable[[int, int], None] | None:
        if on_progress is None:
            return None
        return lambda done, total: on_progress(name, done, total)

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
    scored = score_candidates(
        features,
        candidates,
        workers=workers,
        on_progress=stage("comparing"),
    )
    return assemble_report(crm, books, candidates, scored)


def assemble_report(
    crm: Sequence[PartyRecord], books: Sequence[PartyRecord], candidates: Candidates, scored: list[Scored]
) -> MatchReport:
    """The report from the comparisons made: pairs in a stable order, clusters and survivors.

    ``candidates`` and ``scored`` are over the CRM records followed by the Books records, as
    :func:`build_report` makes them.
    """
    records = [*crm, *books]
    systems = [r.system for r in records]
    crm_system, books_system = System.CRM, System.BOOKS
    duplicate = Verdict.DUPLICATE
    refs: dict[int, str] = {}
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
    pairs = [
        ReportPair(records[left], records[right], result, relation)
        for _, _, _, _, _, left, right, result, relation in found
    ]
    # Without any CRM id in the Books export, whether a pair is linked cannot be told.
    links_known = any(b.linked_crm_id for b in books)
    crm_ids = {r.record_id for r in crm}
    clusters, currency_copies = _clusters(
        records,
        refs,
        [(left, right) for not_duplicate, _, _, _, _, left, right, _, _ in found if not not_duplicate],
        links_known=links_known,
        crm_exported=crm_ids if crm else None,
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


def _clusters(
    records: Sequence[PartyRecord],
    refs: Mapping[int, str],
    duplicates: Iterable[tuple[int, int]],
    *,
    links_known: bool,
    crm_exported: Collection[str] | None = None,
) -> tuple[list[Cluster], set[str]]:
    """Connected components of the duplicate pairs that show a problem, largest first; and the refs of
    the Books customers in another currency than their component's duplicates (intended).

    ``duplicates`` are pairs of positions in ``records``, ``refs`` the refs of the records at those
    positions; ``crm_exported`` the CRM export's ids (None without a CRM export).
    """
    parent: dict[int, int] = {}

    def find(at: int) -> int:
        """The root of a position's component, halving the path to it on the way."""
        while parent[at] != at:
            parent[at] = at = parent[parent[at]]
        return at

    for left, right in duplicates:
        parent.setdefault(left, left)
        parent.setdefault(right, right)
        a, b = find(left), find(right)
        if a != b:
            parent[a] = b
    groups: dict[int, list[int]] = defaultdict(list)
    for at in parent:
        groups[find(at)].append(at)
    # Refs are unique, so both orders are total.
    ordered = sorted(groups.values(), key=lambda group: (-len(group), min(refs[at] for at in group)))
    crm = System.CRM
    clusters: list[Cluster] = []
    currency_copies: set[str] = set()
    for group in ordered:
        group.sort(key=lambda at: (records[at].system is not crm, refs[at]))
        members = [records[at] for at in group]
        if len(members) == 2 and _sync_pair(members, links_known=links_known):
            continue
        cluster = Cluster(len(clusters) + 1, members)
        if len(cluster.books) > 1:
            kept = {id(r) for r in cluster.duplicate_books}
            currency_copies.update(
                refs[at] for at in group if records[at].system is System.BOOKS and id(records[at]) not in kept
            )
        cluster.describe_patterns(links_known=links_known)
        if cluster.patterns:
            cluster.choose_survivors(crm_exported=crm_exported)
            clusters.append(cluster)
    return clusters, currency_copies


def _sync_pair(members: list[PartyRecord], *, links_known: bool) -> bool:
    """Whether two records (CRM first) are a CRM record and the Books customer the sync links to it, or
    could be, when the links are not known: the expected pairing, in which
    :meth:`Cluster.describe_patterns` finds nothing to clean up. Told without building the cluster:
    most components are such pairs."""
    crm, books = members
    return (
        crm.system is System.CRM
        and books.system is System.BOOKS
        and (not links_known or (bool(books.linked_crm_id) and books.linked_crm_id == crm.record_id))
    )


# --- writing -------------------------------------------------------------------------------------


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


# Dict lookups: an enum's .value is a slow descriptor, asked here of every row.
_SYSTEM_TEXT = {s: s.value for s in System}
_VERDICT_TEXT = {v: v.value for v in Verdict}
_FLAG_TEXT = {None: "", True: "true", False: "false"}


def pairs_csv(report: MatchReport) -> str:
    """``pairs.csv``: one row per duplicate or possible pair, evidence joined by ``; ``."""
    system, verdict = _SYSTEM_TEXT, _VERDICT_TEXT
    scores: dict[float, str] = {}  # a score as written: a few distinct ones among all the pairs
    rows = []
    for pair in report.pairs:
        left, right, result = pair.left, pair.right, pair.result
        score = scores.get(result.score)
        if score is None:
            score = scores[result.score] = f"{result.score:.4f}"
        rows.append(
            (
                system[left.system],
                spreadsheet_text(left.record_id),
                system[right.system],
                spreadsheet_text(right.record_id),
                score,
                verdict[result.verdict],
                spreadsheet_text("; ".join(result.evidence)),
            )
        )
    return _csv_text(PAIRS_HEADER, rows)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def clusters_csv(report: MatchReport) -> str:
    """``clusters.csv``: one row per record in a cluster of duplicates, with the suggested survivors
    and the sync links to repair (the summary lists only the first clusters: this file has them all)."""
    system, flag = _SYSTEM_TEXT, _FLAG_TEXT
    rows = []
    for cluster in report.clusters:
        links = "; ".join(note for note in (cluster.repoint_note(), cluster.relink_note()) if note)
        patterns = "; ".join(cluster.patterns)
        for record in cluster.members:
            survivor = ""
            if record is cluster.books_survivor:
                survivor = f"keep in Books: {cluster.books_reason}"
            elif record is cluster.crm_survivor:
                survivor = f"keep in CRM: {cluster.crm_reason}"
            rows.append(
                (
                    cluster.number,
                    system[record.system],
                    spreadsheet_text(record.record_id),
                    spreadsheet_text(record.name),
                    _status(record),
                    flag[record.has_transactions],
                    "" if record.outstanding is None else str(record.outstanding),
                    _iso(record.created_at),
                    _iso(record.modified_at),
                    spreadsheet_text(record.linked_crm_id or ""),
                    survivor,
                    links,
                    patterns,
                )
            )
    return _csv_text(CLUSTERS_HEADER, rows)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _record_line(record: PartyRecord) -> str:
    status = _status(record)
    money = f", {status}" if status else ""
    if record.system is System.BOOKS:
        currency = record_currency(record)
        money += f", billed in {currency}" if currency else ""
        money += ", " + _transactions_in_words(record)
    return f'{_SYSTEM_NAMES[record.system.value]} "{_md(record.name)}" (id {record.record_id}{money})'


def _source(report: MatchReport, system: str) -> str:
    """Where a system's records came from: the export's file name and, for a workbook, its sheet read."""
    sheet = report.sheets.get(system)
    return f"{_SYSTEM_NAMES[system]} export `{report.sources[system]}`" + (
        "" if sheet is None else f", sheet {sheet!r}"
    )


def summary_md(report: MatchReport, *, max_clusters: int = 200) -> str:
    """``summary.md``: counts per pattern, clusters, which copy holds transactions, suggested survivors."""
    verdicts = Counter(p.result.verdict for p in report.pairs)
    patterns: dict[str, Counter[Verdict]] = defaultdict(Counter)
    for pair, pattern in zip(report.pairs, report.patterns, strict=True):
        patterns[pattern][pair.result.verdict] += 1
    cluster_patterns = Counter(p for c in report.clusters for p in c.patterns)
    lines = [
        "# Match report",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from "
        + " and ".join(_source(report, system) for system in report.sources)
        + f": {_count(report.crm_count, 'CRM record')}, {_count(report.books_count, 'Books customer')}, "
        f"{_count(report.comparisons, 'comparison')}.",
        "",
        f"Verdicts use the shipped thresholds: **duplicate** at a score of {DUPLICATE_THRESHOLD} or more "
        f"(confident), **possible** from {POSSIBLE_THRESHOLD} (worth a person's look). Each pair in "
        "`pairs.csv` lists the evidence behind its score.",
        "",
        "## Pairs",
        "",
        "| pattern | duplicate | possible |",
        "| --- | ---: | ---: |",
    ]
    for pattern in sorted(patterns):
        counts = patterns[pattern]
        lines.append(f"| {_md(pattern)} | {counts[Verdict.DUPLICATE]} | {counts[Verdict.POSSIBLE]} |")
    lines.append(f"| **all** | **{verdicts[Verdict.DUPLICATE]}** | **{verdicts[Verdict.POSSIBLE]}** |")
    lines += [
        "",
        "Pairs *already linked by the sync* are a CRM record and the Books customer that carries its id: the",
        "expected pairing, listed to confirm it, and so are pairs with *a customer in another currency*:",
        "Books keeps one currency per customer. Every other duplicate pair is a copy to clean up.",
        "",
    ]
    if not report.links_known:
        lines += [
            "**The Books export gives no CRM Account ID**, so the sync's own pairs (a CRM record and the",
            "Books customer linked to it) cannot be told from copies here: a CRM ↔ Books pair may be the",
            "expected pairing. Export the Books customers with their CRM Account ID to tell them apart.",
            "",
        ]
    lines += [
        "## Clusters of duplicates",
        "",
        f"{_count(len(report.clusters), 'cluster')} of records joined by duplicate pairs that need "
        "cleaning up (a CRM record and its one linked Books copy is not listed). Patterns:",
        "",
    ]
    for pattern, count in cluster_patterns.most_common():
        lines.append(f"- {pattern}: {count}")
    if not cluster_patterns:
        lines.append("- none")
    lines += [
        "",
        "Suggested survivors follow the usual clean-up rule: in Books, the copy with transactions (invoices)",
        "against it; in CRM, the copy with the longer history. Check them before acting: merge in CRM only",
        "after Zoho support has repaired the mappings. Books keeps one currency per customer, so a",
        "company's customers in other currencies are intended: they are not counted as duplicates.",
        "Nothing outstanding only means nothing is owed: unless the export says whether a customer has",
        "transactions, they are unknown, so check them in Books before deactivating a copy.",
        "",
        "| cluster | records | holds transactions | keep in Books | keep in CRM | sync link to repair "
        "| patterns |",
        "| ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for cluster in report.clusters[:max_clusters]:
        members = "<br>".join(_record_line(r) for r in cluster.members)
        holders = [r for r in cluster.duplicate_books if _holds_transactions(r)]
        unknown = [r for r in cluster.duplicate_books if _holds_transactions(r) is None]
        holds = ", ".join(r.record_id for r in holders) or ("none known" if unknown else "none")
        if unknown:
            holds += f" (unknown: {_ids(unknown)})"
        books_keep = (
            f"{cluster.books_survivor.record_id} ({cluster.books_reason})" if cluster.books_survivor else ""
        )
        crm_keep = f"{cluster.crm_survivor.record_id} ({cluster.crm_reason})" if cluster.crm_survivor else ""
        if cluster.repoint:
            crm_keep += f"; first {cluster.repoint_note()}"
        lines.append(
            f"| {cluster.number} | {members} | {holds} | {_md(books_keep)} | "
            f"{_md(crm_keep)} | {_md(cluster.relink_note())} | {_md('; '.join(cluster.patterns))} |"
        )
    if len(report.clusters) > max_clusters:
        lines.append(f"\n{len(report.clusters) - max_clusters} more clusters in `clusters.csv`.")
    if report.orphans:
        lines += [
            "",
            "## Books customers whose CRM record is gone",
            "",
            f"{_count(len(report.orphans), 'Books customer')} {_are(report.orphans)} linked to a CRM record "
            "that is not in the CRM export: merged or deleted in CRM (or a record of a module that was not "
            "exported). The sync has lost the partner, and an edit of the surviving CRM record may create "
            "yet another Books customer. Ask Zoho support to re-point each to the CRM record that survived, "
            "before merging anything else.",
            "",
            "| Books customer | linked CRM id | holds transactions |",
            "| --- | --- | --- |",
        ]
        for record in report.orphans[:max_clusters]:
            holds = {True: "yes", False: "no", None: "unknown"}[_holds_transactions(record)]
            lines.append(f"| {_md(_record_line(record))} | {_md(record.linked_crm_id or '')} | {holds} |")
        if len(report.orphans) > max_clusters:
            lines.append(f"\n{len(report.orphans) - max_clusters} more not listed.")
    if report.saturated_keys:
        shown = ", ".join(f"`{k}`" for k in sorted(report.saturated_keys)[:10])
        lines += [
            "",
            f"Note: {_count(len(report.saturated_keys), 'blocking key')} {_were(report.saturated_keys)} "
            "shared by too many records to search in full "
            f"(e.g. {shown}); records sharing only those keys were compared with the first ones listed.",
        ]
    if report.warnings:
        lines += ["", "## Warnings", "", *[f"- {_md(w)}" for w in report.warnings]]
    return "\n".join(lines) + "\n"


def _ticket_examples(
    report: MatchReport, duplicates: list[tuple[ReportPair, str]], main_pattern: str, count: int = 3
) -> list[Cluster]:
    """Readable examples for the ticket: clusters that show the main pattern with transactions
    involved first, each kind smallest first (the largest clusters list hundreds of records)."""
    # By identity: a cluster's members are the very records of its pairs (and a ref is a new string).
    showing = {id(r) for p, pattern in duplicates if pattern == main_pattern for r in (p.left, p.right)}

    def rank(cluster: Cluster) -> tuple[bool, bool, int, int]:
        shows_main = not showing.isdisjoint(map(id, cluster.members))
        with_money = any(map(_holds_transactions, cluster.books))
        return (not shows_main, not with_money, len(cluster.members), cluster.number)

    return sorted(report.clusters, key=rank)[:count]


# An example in the ticket lists this many records at most; clusters.csv has them all.
MAX_EXAMPLE_RECORDS = 6


def _example_records(cluster: Cluster) -> str:
    """The records of a ticket example, the ones to keep first, a few at most."""
    keep = [r for r in (cluster.crm_survivor, cluster.books_survivor, *cluster.repoint) if r is not None]
    records = list(dict.fromkeys([*keep, *cluster.members]))  # duplicates dropped, order kept
    listed = "; ".join(_record_line(r) for r in records[:MAX_EXAMPLE_RECORDS])
    more = len(records) - MAX_EXAMPLE_RECORDS
    return listed + (
        f"; and {more} more records (cluster {cluster.number} in our report)" if more > 0 else ""
    )


def support_ticket_md(report: MatchReport, *, crm_org: str | None, books_org: str | None) -> str:
    """``support-ticket.md``: a draft ticket asking Zoho to repair the mappings, with three examples."""
    cluster_patterns = Counter(p for c in report.clusters for p in c.patterns)
    duplicates = report.duplicates_with_patterns()
    pair_patterns = Counter(pattern for p, pattern in duplicates if not p.linked)
    pair_patterns.pop(_CRM_CUSTOMER_IN_OTHER_CURRENCY, None)  # intended: no duplicate pattern
    main_pattern = pair_patterns.most_common(1)[0][0] if pair_patterns else "no duplicate pattern found"
    examples = _ticket_examples(report, duplicates, main_pattern)
    if not examples and not report.orphans:
        return (
            "# Draft Zoho support ticket\n\nNo duplicates were found in these exports: there is nothing to "
            "ask Zoho support to repair.\n"
        )
    lines = [
        "# Draft Zoho support ticket",
        "",
        # The ticket says the sync is paused: the seed's first step, which only the reader can take.
        "> Before you send it: pause the contact and account sync in CRM (Setup > Marketplace > Zoho > "
        "Zoho Finance Suite), without disconnecting the integration. The ticket says you have.",
        "",
        "**Subject:** Zoho Finance (CRM ↔ Books) customer sync: duplicate customers and broken mappings",
        "",
        "Hello Zoho support,",
        "",
        f"- Zoho CRM organisation ID: {crm_org or '<CRM org id: Setup > Company Details>'}",
        f"- Zoho Books organisation ID: {books_org or '<Books org id: Settings > Organisation Profile>'}",
        "",
        ("The CRM ↔ Books customer sync has created duplicate customers." if examples else "The CRM ↔ Books "
         "customer sync has lost the CRM partners of some Books customers.")
        + " We have paused the contact sync (without disconnecting) and will not merge or delete anything "
        "until the mappings are repaired.",
    ]  # fmt: skip
    if examples:
        lines += _ticket_duplicates(report, examples, main_pattern, cluster_patterns)
    if report.orphans:
        shown = "; ".join(
            f"Books customer {r.record_id} linked to CRM id {r.linked_crm_id}" for r in report.orphans[:3]
        )
        one = len(report.orphans) == 1
        lines += [
            "",
            f"{'Also, ' if examples else ''}{_count(len(report.orphans), 'Books customer')} "
            + (
                f"is linked to a CRM record that no longer exists (merged or deleted in CRM): {shown}. "
                "Please re-point it to the surviving CRM record."
                if one
                else f"are linked to CRM records that no longer exist (merged or deleted in CRM), e.g. "
                f"{shown}. Please re-point them to the surviving CRM records."
            ),
        ]
    if report.sources and "books" not in report.sources:
        # The CRM copies' Books partners are not known here: merging CRM first would orphan them.
        lines += [
            "",
            "We compared our CRM records only: please tell us which Books customer each CRM record in "
            "these examples is linked to, before we merge any of them.",
        ]
    lines += [
        "",
        "Please re-point the mappings so that each CRM record is linked to the surviving Books customer, "
        "and confirm, so that we can deactivate the duplicates in Books and merge in CRM afterwards.",
        "",
        "Thank you.",
    ]
    # A name may be an address ("jane.doe@acme.co.uk" as a display name): a ticket carries no emails.
    return mask_emails_in("\n".join(lines) + "\n")


def _ticket_duplicates(
    report: MatchReport, examples: list[Cluster], main_pattern: str, cluster_patterns: Counter[str]
) -> list[str]:
    """The ticket's account of the duplicates: the pattern, the counts and the examples."""
    lines = [
        "",
        f"Pattern: {main_pattern}. In our exports: {_count(report.crm_count, 'CRM record')} and "
        f"{_count(report.books_count, 'Books customer')}; "
        f"{_count(len(report.clusters), 'group')} of duplicates"
        + (
            " (" + ", ".join(f"{p}: {n}" for p, n in cluster_patterns.most_common()) + ")"
            if cluster_patterns
            else ""
        )
        + ".",
        "",
        "Examples:",
        "",
    ]
    for number, cluster in enumerate(examples, start=1):
        lines.append(f"{number}. {_example_records(cluster)}.")
        wanted = []
        if cluster.books_survivor:
            wanted.append(f"Books customer {cluster.books_survivor.record_id} should be the one kept")
        if cluster.crm_survivor:
            wanted.append(f"CRM record {cluster.crm_survivor.record_id} should be the one kept")
        if cluster.repoint:
            wanted.append(f"please {cluster.repoint_note()}")
        if cluster.relink_crm_id:
            wanted.append(f"please {cluster.relink_note()}")
        if wanted:
            lines.append(f"   Request: {'; '.join(wanted)}.")
        unknown = [
            r
            for r in cluster.duplicate_books
            if r is not cluster.books_survivor and _holds_transactions(r) is None
        ]
        survivor = cluster.books_survivor
        if survivor and unknown:
            lines.append(f"   We will check the transactions of {_ids(unknown)} before deactivating.")
        invoiced = [r for r in cluster.duplicate_books if r is not survivor and _holds_transactions(r)]
        if survivor and invoiced:
            also, it = ("also holds", "it") if len(invoiced) == 1 else ("also hold", "them")
            lines.append(
                f"   Books {_ids(invoiced)} {also} transactions: we will move them to "
                f"{survivor.record_id} before deactivating {it}, and delete nothing."
            )
    return lines


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
