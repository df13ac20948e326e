"""Seeding the shadow mapping from Zoho exports (``sync-guard seed``): which records, which pairs.

Pairs come first from Books' own link (``zcrm_account_id``/``zcrm_contact_id``, the sync's real map), then,
for records neither side links, from the matcher: a Books customer and a CRM record are paired when each
is the other's best confident match (mutual best, so "Acme Ltd" with two look-alikes is left for a person).
Everything else is reported as not paired. Pure: reading the files and writing DynamoDB are the CLI's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sync_guard.guard.engine import shadow_keys
from sync_guard.guard.model import PairSource, RecordState, epoch_ms
from sync_guard.guard.ports import Matcher, MatchView
from sync_guard.models.records import PartyRecord


@dataclass
class SeedPlan:
    states: list[RecordState] = field(default_factory=list)
    linked_pairs: list[tuple[str, str]] = field(default_factory=list)
    inferred_pairs: list[tuple[str, str, MatchView]] = field(default_factory=list)
    unpaired_crm: list[PartyRecord] = field(default_factory=list)
    unpaired_books: list[PartyRecord] = field(default_factory=list)
    #: Books customers whose Zoho link names a CRM record that is not in the CRM export.
    dangling_links: list[PartyRecord] = field(default_factory=list)
    #: CRM refs linked by more than one Books customer (the first with transactions is paired).
    double_links: dict[str, list[str]] = field(default_factory=dict)


#: The furthest any time zone is ahead of UTC (UTC+14, the Line Islands).
_LARGEST_UTC_OFFSET = timedelta(hours=14)


def _version(record: PartyRecord) -> int:
    """The version a seeded record loads at: its modified time, exact when the time carries its offset (the
    APIs', ``--from-zoho``), else the earliest instant it can name.

    An export writes the organisation's local time without its offset, and the organisation's zone is not
    in the file. Read as UTC, a time east of UTC (London in summer) would be ahead of the change it names,
    and an edit made within that many hours of it, after the seed, would be dropped as stale. As a lower
    bound no later edit is ever taken as older; an event up to 14 hours older than the export's copy is
    then taken as newer and judged as any edit is, as it would have been before the seed.
    """
    moment = record.modified_at
    if moment is None:  # no modified time: version 0, any webhook about the record supersedes it
        return 0
    if moment.tzinfo is None:
        return epoch_ms(moment.replace(tzinfo=UTC) - _LARGEST_UTC_OFFSET)
    return epoch_ms(moment)


def plan_seed(
    crm: Iterable[PartyRecord], books: Iterable[PartyRecord], matcher: Matcher, *, now: datetime
) -> SeedPlan:
    """States to load, with their pairs, and what could not be paired."""
    crm_by_ref = {record.ref: record for record in crm}
    books_by_ref = {record.ref: record for record in books}
    partner: dict[str, str] = {}
    source: dict[str, PairSource] = {}
    plan = SeedPlan()

    linking: dict[str, list[PartyRecord]] = defaultdict(list)
    for record in books_by_ref.values():
        if record.linked_crm_id:
            linking[f"crm:{record.linked_crm_id}"].append(record)
    for crm_ref, linked in sorted(linking.items()):
        for record in linked:  # a Books customer's partner mirrors its own link
            partner[record.ref], source[record.ref] = crm_ref, PairSource.ZOHO_LINK
        if crm_ref not in crm_by_ref:
            plan.dangling_links.extend(linked)
            continue
        chosen = sorted(linked, key=lambda r: (not r.has_transactions, r.record_id))[0]
        partner[crm_ref], source[crm_ref] = chosen.ref, PairSource.ZOHO_LINK
        plan.linked_pairs.append((crm_ref, chosen.ref))
        if len(linked) > 1:
            plan.double_links[crm_ref] = [r.ref for r in linked]

    # The matcher, for what no link pairs: candidates through blocking keys, mutual best confident match.
    open_crm = {ref: r for ref, r in crm_by_ref.items() if ref not in partner}
    open_books = {ref: r for ref, r in books_by_ref.items() if ref not in partner}
    index: dict[str, set[str]] = defaultdict(set)
    for ref, record in open_crm.items():
        for key in matcher.blocking_keys(record):
            index[key].add(ref)
    best_for_books: dict[str, tuple[float, str, MatchView]] = {}
    best_for_crm: dict[str, tuple[float, str]] = {}
    for books_ref, record in sorted(open_books.items()):
        seen: set[str] = set()
        for key in matcher.blocking_keys(record):
            seen |= index.get(key, set())
        for crm_ref in sorted(seen):
            match = matcher.compare(record, open_crm[crm_ref])
            if not match.is_duplicate:
                continue
            if match.score > best_for_books.get(books_ref, (-1.0, "", match))[0]:
                best_for_books[books_ref] = (match.score, crm_ref, match)
            if match.score > best_for_crm.get(crm_ref, (-1.0, ""))[0]:
                best_for_crm[crm_ref] = (match.score, books_ref)
    for books_ref, (_, crm_ref, match) in sorted(best_for_books.items()):
        if best_for_crm.get(crm_ref, (0.0, ""))[1] != books_ref:
            continue
        partner[books_ref], partner[crm_ref] = crm_ref, books_ref
        source[books_ref] = source[crm_ref] = PairSource.INFERRED
        plan.inferred_pairs.append((crm_ref, books_ref, match))

    for record in [*crm_by_ref.values(), *books_by_ref.values()]:
        plan.states.append(
            RecordState(
                record=record,
                version=_version(record),
                partner=partner.get(record.ref),
                pair_source=source.get(record.ref),
                keys=shadow_keys(record, matcher),
                first_seen=now,
            )
        )
    plan.unpaired_crm = [r for ref, r in sorted(crm_by_ref.items()) if ref not in partner]
    plan.unpaired_books = [r for ref, r in sorted(books_by_ref.items()) if ref not in partner]
    return plan
