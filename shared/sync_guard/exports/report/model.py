"""What the report files are written from: the pairs the matcher found and their patterns, the clusters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from sync_guard.exports.report.clusters import Cluster
from sync_guard.matching import MatchResult, NameRelation, Verdict
from sync_guard.matching.features import record_currency
from sync_guard.models.records import PartyRecord, System

_SCOPES = {
    (System.CRM, System.BOOKS): "CRM ↔ Books",
    (System.CRM, System.CRM): "within CRM",
    (System.BOOKS, System.BOOKS): "within Books",
}
_IDENTICAL_NAMES = "identical names"
_NAME_PATTERNS = {
    NameRelation.SAME: "name drift (Ltd/Limited, &/and, The, case, spaces)",
    NameRelation.REORDERED: "name drift (words in another order)",
    NameRelation.TYPO: "typos or abbreviations in the name",
}


# Books keeps one currency per customer: a company billed in two has a customer in each, on purpose.
_OTHER_CURRENCY = "a customer in another currency (intended)"

CRM_CUSTOMER_IN_OTHER_CURRENCY = f"{_SCOPES[(System.CRM, System.BOOKS)]}: {_OTHER_CURRENCY}"


@dataclass(frozen=True)
class ReportPair:
    """Two records the matcher links, left being the CRM one (or the earlier one on the same side)."""

    left: PartyRecord
    right: PartyRecord
    result: MatchResult
    relation: NameRelation
    # True when the Books record already carries this CRM record's id: the sync's own pair. Set once
    # (the pattern and the ticket ask it of every pair), as a field: a cached property takes a lock
    # the first time it is asked, which costs twice what working it out does.
    linked: bool = field(init=False)

    def __post_init__(self) -> None:
        left, right = self.left, self.right
        linked = (
            left.system is System.CRM
            and right.system is System.BOOKS
            and right.linked_crm_id == left.record_id
        )
        object.__setattr__(self, "linked", linked)  # frozen: set as the dataclass's own __init__ does

    @property
    def pattern(self) -> str:
        """Scope and name pattern, e.g. ``CRM ↔ Books: name drift (Ltd/Limited, ...)``, as the two records
        show it: :meth:`MatchReport.pattern_of` knows more (a customer in another currency) and is the
        one the files use.

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
            kind = _IDENTICAL_NAMES
        else:
            kind = _NAME_PATTERNS.get(self.relation, "different names, shared contact details")
        return f"{scope}: {kind}"


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
            return CRM_CUSTOMER_IN_OTHER_CURRENCY
        return pair.pattern

    @cached_property
    def patterns(self) -> list[str]:
        """Each pair's :meth:`pattern_of`, in the order of ``pairs``, worked out once: the summary and
        the ticket both count the pairs by pattern."""
        return [self.pattern_of(p) for p in self.pairs]

    @cached_property
    def cluster_patterns(self) -> Counter[str]:
        """How many clusters show each pattern, counted once: the summary and the ticket both list them."""
        return Counter(pattern for cluster in self.clusters for pattern in cluster.patterns)

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
