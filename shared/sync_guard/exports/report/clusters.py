"""Clusters of duplicates: the connected components of the duplicate pairs, and in each the copies to
keep (suggested survivors) and the sync links to repair."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sync_guard.exports.report.wording import balance_in_words, ids_in_words
from sync_guard.matching.features import record_currency
from sync_guard.matching.normalise import without_mark
from sync_guard.models.records import PartyRecord, System


def holds_transactions(record: PartyRecord) -> bool | None:
    """Whether a Books customer holds transactions: yes when the export says so or money is outstanding,
    no only when the export says so, None when it cannot tell (nothing outstanding only means nothing
    is owed: a customer who paid every invoice owes nothing)."""
    if record.outstanding:
        return True
    return record.has_transactions


def _unmarked_first(records: list[PartyRecord]) -> tuple[list[PartyRecord], bool]:
    """The records whose names carry no administrator's mark ("DUPLICATE - Acme", "ZZ Acme"), if any
    remain, else all of them; and whether a marked one was set aside."""
    unmarked = [r for r in records if without_mark(r.name)[0] is None]
    if unmarked and len(unmarked) < len(records):
        return unmarked, True
    return records, False


def _sort_time(value: datetime | None) -> float:
    """A created time as a number to sort by: a missing one last, a naive one read as UTC."""
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

    # The members by system, the CRM members' ids, and the Books members that duplicate one another (see
    # __post_init__): set once, as every step of choosing survivors and describing patterns asks for them.
    crm: list[PartyRecord] = field(init=False, repr=False)
    books: list[PartyRecord] = field(init=False, repr=False)
    crm_ids: set[str] = field(init=False, repr=False)
    duplicate_books: list[PartyRecord] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        crm, books = System.CRM, System.BOOKS
        self.crm = [r for r in self.members if r.system is crm]
        self.books = [r for r in self.members if r.system is books]
        self.crm_ids = {r.record_id for r in self.crm}
        self.duplicate_books = self._duplicate_books()

    def _duplicate_books(self) -> list[PartyRecord]:
        """The Books members that duplicate one another: the largest group billed in one currency
        (all of them when no currency is known), of equal groups the one linked to a CRM member."""
        books = self.books
        if len(books) < 2:
            return books  # most clusters: a CRM record and its Books copy
        by_currency: dict[str | None, list[PartyRecord]] = defaultdict(list)
        for record in books:
            by_currency[record_currency(record)].append(record)
        crm_ids = self.crm_ids
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
        if len(self.duplicate_books) > 1:
            self._choose_books_survivor()
        if len(self.crm) > 1:
            self.crm_survivor, self.crm_reason = self._crm_survivor()
            self.repoint = self._linked_elsewhere(self.crm_survivor.record_id)
        self.relink_crm_id = self._crm_id_to_link(crm_exported)

    def _crm_survivor(self) -> tuple[PartyRecord, str]:
        """The CRM copy to keep, and why: the one created first, else the one Books is linked to."""
        crm, marked_aside = _unmarked_first(self.crm)
        dated = [r for r in crm if r.created_at is not None]
        if dated:
            survivor = min(dated, key=lambda r: _sort_time(r.created_at))
            reason = "created first: the longer history"
        else:
            linked_from_books = {r.linked_crm_id for r in self.books if r.linked_crm_id}
            linked = [r for r in crm if r.record_id in linked_from_books]
            survivor = (linked or crm)[0]
            reason = "the one Books is linked to" if linked else "first listed (no created times)"
        return survivor, reason + (_MARKED_ASIDE if marked_aside else "")

    def books_in_other_currencies(self) -> list[PartyRecord]:
        """The Books members billed in another currency than the duplicate ones: intended, not copies."""
        duplicates = {id(r) for r in self.duplicate_books}
        return [r for r in self.books if id(r) not in duplicates]

    def books_to_deactivate(self) -> list[PartyRecord]:
        """The Books copies that duplicate the survivor (none without one): to deactivate once any
        transactions they hold have moved to it."""
        survivor = self.books_survivor
        if survivor is None:
            return []
        return [r for r in self.duplicate_books if r is not survivor]

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
        if link and crm_exported is not None and link in crm_exported and link not in self.crm_ids:
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
            note += f" instead of Books {ids_in_words(displaced)}, before deactivating {them}"
        return note

    def _linked_elsewhere(self, survivor_id: str) -> list[PartyRecord]:
        """The Books customers that stay (or hold transactions) but are linked to a CRM copy other than
        the CRM survivor: merging that copy away first would leave them linked to nothing, the seed's
        CRM-merge orphan, so they are re-pointed to the survivor before the CRM records are merged."""
        retired = {r.record_id for r in self.books_to_deactivate()}
        return [
            r
            for r in self.books
            if (r.record_id not in retired or holds_transactions(r))
            and r.linked_crm_id in self.crm_ids
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
        instead = f" instead of Books {ids_in_words(displaced)} (to deactivate)" if displaced else ""
        return f"re-point {moves} to CRM {target}{instead} before merging the CRM records"

    def _choose_books_survivor(self) -> None:
        books = self.duplicate_books
        with_money = [r for r in books if holds_transactions(r)]
        # Transactions decide first (moving them is the costly part), then a copy nobody marked.
        pool, marked_aside = _unmarked_first(with_money or books)
        # An Active copy is the one people use; an Inactive one was set aside by someone already.
        active = [r for r in pool if r.active]
        inactive_aside = 0 < len(active) < len(pool)
        pool = active or pool
        linked = [r for r in pool if r.linked_crm_id and r.linked_crm_id in self.crm_ids]
        pool = linked or pool
        survivor = self.books_survivor = min(pool, key=lambda r: _sort_time(r.created_at))
        unknown = [r for r in self.books_to_deactivate() if holds_transactions(r) is None]
        if len(with_money) == 1:
            money = balance_in_words(survivor.outstanding) if survivor.outstanding else "transactions"
            reason = f"the only copy with {money}"
        else:
            if len(with_money) > 1:
                # Both are invoiced: nothing can be deleted, and no copy deactivated before its
                # transactions have moved to the one kept.
                others = [r for r in self.books_to_deactivate() if holds_transactions(r)]
                them = "it" if len(others) == 1 else "them"
                reason = (
                    f"{len(with_money)} copies hold transactions: move those of {ids_in_words(others)} "
                    f"to this one before deactivating {them}"
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
            reason += (
                f"; transactions of {ids_in_words(unknown)} unknown: check them in Books before deactivating"
            )
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
        if links_known and crm and books and self.crm_ids.isdisjoint(links):
            self.patterns.append("CRM and Books copies not linked")


def find_clusters(
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
        if len(members) == 2 and is_sync_pair(members, links_known=links_known):
            continue
        cluster = Cluster(len(clusters) + 1, members)
        if len(cluster.books) > 1:
            currency_copies.update(r.ref for r in cluster.books_in_other_currencies())
        cluster.describe_patterns(links_known=links_known)
        if cluster.patterns:
            cluster.choose_survivors(crm_exported=crm_exported)
            clusters.append(cluster)
    return clusters, currency_copies


def is_sync_pair(members: list[PartyRecord], *, links_known: bool) -> bool:
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
