"""A decision stands only on the states it was made on: the records its findings cite are checked at commit.

Each test is one interleaving: the event's snapshot is read, another event commits a change of a record
the decision cites (a change that writes no key or state the first event's plan writes), then the first
event's plan is committed. Without a check of the cited record's revision the plan would commit on its
stale view; with it, the commit is cancelled and the event re-decided on fresh reads. The same races run on
the real DynamoDB server in ``tests/integration/test_decision_basis_race.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pytest

from sync_guard.config import Mode
from sync_guard.guard.engine import Guard, GuardConfig, GuardResult
from sync_guard.guard.model import Decision
from sync_guard.guard.policy import Policy
from sync_guard.guard.ports import ShadowRepository
from sync_guard.models.events import GuardEvent, Operation
from sync_guard.store.shadow import MAX_KEY_MEMBERS
from tests.unit.guard.builders import T0, books_customer, crm_account, crm_contact, event_for
from tests.unit.guard.fakes import ExactMatcher, FakeTime, InMemoryShadow


def make_guard(shadow: ShadowRepository, *, config: GuardConfig | None = None, now: datetime = T0) -> Guard:
    config = config or GuardConfig(mode=Mode.ENFORCE)
    return Guard(shadow, ExactMatcher(), config, clock=lambda: now, backoff=FakeTime().backoff())


#: A storm breaker that trips on the second create matching an existing record within the window.
STORM = GuardConfig(mode=Mode.ENFORCE, storm_threshold=2)
#: Five days: no rule cites a CRM account created this long before a Books customer of its name.
DAYS_5 = 5 * 24 * 60
#: The company's name key, at its cap after an earlier storm: ``MAX_KEY_MEMBERS`` records, the copies deleted.
ACME_KEY = "n:acme ltd"
#: Records of the earlier storm, deleted since: members of ``ACME_KEY`` (and marked gone there), no states.
STORM_COPIES = frozenset(f"books:old{n}" for n in range(MAX_KEY_MEMBERS - 1))


def fill_in_memory(shadow: InMemoryShadow) -> Callable[[str, frozenset[str]], None]:
    """Adds deleted records to a key item of ``shadow``, as their deletes left them (members, gone)."""

    def fill(key: str, refs: frozenset[str]) -> None:
        item = shadow.keys[key]
        shadow.keys[key] = replace(
            item, members=item.members | refs, gone=item.gone | refs, rev=(item.rev or 0) + 1
        )

    return fill


def a_create_the_storm_counts_on_one_account(
    guard: Callable[[], Guard], fill: Callable[[str, frozenset[str]], None], received: datetime = T0
) -> tuple[GuardEvent, GuardEvent]:
    """Under ``STORM``, one create already counted in the window (Books customer books:20, matching CRM
    account crm:2), and the name key of a company "Acme Ltd" full (``fill``: an earlier storm's copies, all
    deleted since), so that a new record of that name claims no key item. Returns the next create: a
    customer finance creates in Books, books:10 "Acme Ltd", whose only live match is CRM account crm:1,
    created days before and paired with nothing (no finding cites it), which makes it create number 2 and
    trips the breaker; and crm:1's delete at that moment (sales merging it into another account). Events
    are received at ``received`` (their storm window)."""
    guard().process(event_for(crm_account("1", "Acme Ltd"), received=received))
    guard().process(event_for(crm_account("2", "Beta Ltd"), received=received))
    counted = guard().process(event_for(books_customer("20", "Beta Ltd", minutes=DAYS_5), received=received))
    assert counted.entry is not None
    assert counted.entry.rules == ("CREATED_IN_BOOKS",)
    fill(ACME_KEY, STORM_COPIES)
    create = event_for(books_customer("10", "Acme Ltd", minutes=DAYS_5 + 1), received=received)
    gone = event_for(crm_account("1", "Acme Ltd", minutes=DAYS_5 + 1), Operation.DELETE, received=received)
    return create, gone


def assert_not_counted_against_the_deleted(result: GuardResult) -> None:
    """books:10 re-decided: no live record matches it any more, so it is no storm hit, trips nothing, and
    is not held (its own creation in Books is recorded, as for any customer finance creates)."""
    assert result.entry is not None
    assert result.entry.rules == ("CREATED_IN_BOOKS",)
    assert result.decision is Decision.ALLOW
    assert result.attempts == 2
    assert not [a for a in result.entry.actions if a.kind.writes_to_zoho]


def mixed_mapping_with_a_delete(guard: Guard) -> tuple[GuardEvent, GuardEvent]:
    """A sole trader's Books customer books:10, her CRM account synced to a second customer books:9, and her
    contact. Returns the sync linking books:10 to the contact (a mixed mapping, for which books:10 would be
    held as the copy of books:9), and the bookkeeper's delete of books:9 at that moment."""
    guard.process(event_for(books_customer("10", "Jane Smith")))
    guard.process(event_for(crm_account("1", "Jane Smith", minutes=1)))
    guard.process(event_for(books_customer("9", "Jane Smith", linked="1", minutes=2)))
    guard.process(event_for(crm_contact("5", "Jane", "Smith", None, minutes=3, account="1")))
    relink = event_for(books_customer("10", "Jane Smith", linked="5", minutes=20), Operation.UPDATE)
    gone = event_for(books_customer("9", "Jane Smith", linked="1", minutes=20), Operation.DELETE)
    return relink, gone


def assert_not_held_against_the_deleted(result: GuardResult) -> None:
    """books:10 re-decided: the one customer left, not a copy of a deleted one to hold."""
    assert result.attempts == 2
    assert result.entry is not None
    assert "MIXED_MAPPING" not in result.entry.rules
    assert result.decision is not Decision.QUARANTINE
    assert not [a for a in result.entry.actions if a.target == "books:10" and a.kind.writes_to_zoho]


def two_merged_pairs(guard: Guard) -> tuple[GuardEvent, GuardEvent]:
    """Two CRM accounts of one company, each synced to a Books customer of its own; returns their deletes
    (a merge of both into a third, or a clean-up of both)."""
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=1)))
    guard.process(event_for(crm_account("2", "Acme Ltd", minutes=2)))
    guard.process(event_for(books_customer("10", "Acme Ltd", linked="2", minutes=3)))
    return tuple(  # type: ignore[return-value]
        event_for(crm_account(n, "Acme Ltd", minutes=10), Operation.DELETE) for n in ("1", "2")
    )


def assert_no_orphan_of_the_deleted(result: GuardResult) -> None:
    """crm:1's delete re-decided: crm:2 is no survivor a merge kept, so books:9 is no merge orphan of it."""
    assert result.attempts == 2
    assert result.entry is not None
    assert "CRM_MERGE_ORPHAN" not in result.entry.rules


def a_merge_while_the_sync_links_the_master(guard: Guard) -> tuple[GuardEvent, GuardEvent]:
    """CRM account crm:1 synced to Books customer books:9, and crm:2, another account of the company, not
    synced yet. Returns crm:1's delete (sales merging it into crm:2) and, at that moment, the sync's link of
    a new Books customer books:10 to crm:2 (the customer it made of it)."""
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=1)))
    guard.process(event_for(crm_account("2", "Acme Ltd", minutes=2)))
    merged = event_for(crm_account("1", "Acme Ltd", minutes=10), Operation.DELETE)
    linked = event_for(books_customer("10", "Acme Ltd", linked="2", minutes=10))
    return merged, linked


def assert_orphaned_by_the_merge(result: GuardResult) -> None:
    """crm:1's delete re-decided: crm:2 is paired now, so books:9 is the orphan of a merge into it (as
    the delete decided after the link says), not a customer merely left unmapped."""
    assert result.attempts == 2
    assert result.entry is not None
    assert result.entry.rules == ("CRM_MERGE_ORPHAN",)
    [finding] = result.entry.findings
    assert finding.subject == "books:9"
    assert set(finding.related) == {"crm:1", "crm:2", "books:10"}
    assert "crm:2 is paired with books:10" in finding.evidence


JANE = "jane@smith.design"


def a_sole_trader_linked_twice(guard: Guard, *, made_from_contact: bool = False) -> dict[str, GuardEvent]:
    """Jane Smith, a sole trader: Books customers books:9 "Jane Smith Design" and books:10 "Jane Smith",
    one address (the same customer, typed in twice), neither linked; her CRM account crm:1 "Jane Smith
    Design" and its contact crm:5 Jane Smith. Returns the sync's links at one moment, each by exact name, of
    books:9 to the account ("account") and of books:10 to the contact ("contact"): a mixed mapping.
    ``made_from_contact``: books:10 does not exist yet, the sync creates it from the contact."""
    guard.process(event_for(books_customer("9", "Jane Smith Design", email=JANE)))
    if not made_from_contact:
        guard.process(event_for(books_customer("10", "Jane Smith", minutes=1, email=JANE)))
    guard.process(event_for(crm_account("1", "Jane Smith Design", minutes=2, email=JANE)))
    guard.process(event_for(crm_contact("5", "Jane", "Smith", JANE, minutes=3, account="1")))
    account = books_customer("9", "Jane Smith Design", linked="1", minutes=20, email=JANE)
    contact = books_customer("10", "Jane Smith", linked="5", minutes=20, email=JANE)
    return {
        "account": event_for(account, Operation.UPDATE),
        "contact": event_for(contact, Operation.CREATE if made_from_contact else Operation.UPDATE),
    }


def assert_mixed_mapping_found(result: GuardResult) -> None:
    """The link read first, re-decided after the other committed: the customer is in Books twice, synced
    from the account and from its contact, and the copy this link made the mix with is held."""
    assert result.attempts == 2
    assert result.entry is not None
    assert result.entry.rules == ("MIXED_MAPPING",)
    assert result.decision is Decision.QUARANTINE
    [finding] = result.entry.findings
    assert {finding.subject, *finding.related} == {"books:9", "books:10", "crm:1", "crm:5"}


def test_a_customer_is_not_held_as_a_duplicate_of_one_deleted_meanwhile() -> None:
    shadow = InMemoryShadow()
    relink, gone = mixed_mapping_with_a_delete(make_guard(shadow))
    # when the bookkeeper deletes books:9 between the link's read and its commit
    shadow.interleave.append(lambda: make_guard(shadow).process(gone))

    result = make_guard(shadow).process(relink)

    assert_not_held_against_the_deleted(result)
    assert shadow.states["books:10"].held_by is None
    assert shadow.states["books:9"].deleted


def test_a_merge_orphan_is_not_flagged_against_a_survivor_deleted_meanwhile() -> None:
    shadow = InMemoryShadow()
    first, second = two_merged_pairs(make_guard(shadow))
    # when both are deleted at once: the second's delete commits between the first's read and its commit
    shadow.interleave.append(lambda: make_guard(shadow).process(second))

    result = make_guard(shadow).process(first)

    assert_no_orphan_of_the_deleted(result)
    assert shadow.states["crm:2"].deleted


def test_both_sides_created_is_not_flagged_against_a_customer_the_sync_paired_meanwhile() -> None:
    # given a Books customer finance created, not linked to any CRM record yet
    shadow = InMemoryShadow()
    make_guard(shadow).process(event_for(books_customer("9", "Acme Ltd")))
    sales = event_for(crm_account("1", "Acme Ltd", minutes=60))
    # when sales create its CRM account while the sync links the customer to the CRM record it made of it
    linked = books_customer("9", "Acme Ltd", linked="2", minutes=61)
    shadow.interleave.append(lambda: make_guard(shadow).process(event_for(linked, Operation.UPDATE)))

    result = make_guard(shadow).process(sales)

    # then the account is re-decided: books:9 is paired now, no record "created on both sides, not linked"
    assert result.attempts == 2
    assert result.entry is not None
    assert "BOTH_SIDES_CREATED" not in result.entry.rules
    assert shadow.states["books:9"].partner == "crm:2"


def an_invoiced_copy_while_its_crm_twin_is_unpaired(guard: Guard) -> tuple[GuardEvent, GuardEvent]:
    """CRM account crm:2 "Acme Ltd" paired (Zoho's link) with Books customer books:9, which finance renamed
    "Acme Trading Ltd": the pair is no duplicate of each other by name. Returns the first event the guard
    sees of Books customer books:10 "Acme Ltd", finance's own, invoiced (an edit: it counts towards no
    storm), an hour later; and books:9's edit dropping Zoho's link at that moment, which leaves crm:2
    unpaired (what BOTH_SIDES_CREATED passed it over for)."""
    guard.process(event_for(crm_account("2", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Trading Ltd", linked="2", minutes=1)))
    invoiced = books_customer("10", "Acme Ltd", minutes=60, has_transactions=True)
    unlinked = books_customer("9", "Acme Trading Ltd", minutes=60)
    return event_for(invoiced, Operation.UPDATE), event_for(unlinked, Operation.UPDATE)


def assert_both_sides_against_the_unpaired(result: GuardResult) -> None:
    """books:10 decided on crm:2 as it is at the commit: unpaired, created an hour before it."""
    assert result.entry is not None
    assert "BOTH_SIDES_CREATED" in result.entry.rules
    [finding] = [f for f in result.entry.findings if f.code == "BOTH_SIDES_CREATED"]
    # (held, the CRM copy: books:10 holds transactions)
    assert (finding.subject, finding.related) == ("crm:2", ("books:10",))


def test_both_sides_created_is_found_against_a_crm_record_unpaired_meanwhile() -> None:
    # given the invoiced customer's first event read while crm:2 is still paired with books:9 (passed over:
    # no record "created on both sides, not linked"), and no other rule citing crm:2
    shadow = InMemoryShadow()
    copy, unlinked = an_invoiced_copy_while_its_crm_twin_is_unpaired(make_guard(shadow))
    # when books:9's link is dropped between that read and its commit
    shadow.interleave.append(lambda: make_guard(shadow).process(unlinked))

    result = make_guard(shadow).process(copy)

    # then the commit is cancelled (crm:2 changed) and books:10 decided again, against crm:2 unpaired
    assert result.attempts == 2
    assert_both_sides_against_the_unpaired(result)
    assert shadow.states["crm:2"].partner is None


def test_a_create_is_not_counted_towards_a_storm_on_a_record_deleted_meanwhile() -> None:
    shadow = InMemoryShadow()
    create, gone = a_create_the_storm_counts_on_one_account(
        lambda: make_guard(shadow, config=STORM), fill_in_memory(shadow)
    )
    assert len(shadow.keys[ACME_KEY].members) == MAX_KEY_MEMBERS
    # when sales merge crm:1 away (its delete) between the customer's read and its commit
    shadow.interleave.append(lambda: make_guard(shadow, config=STORM).process(gone))

    result = make_guard(shadow, config=STORM).process(create)

    # then the create is not counted on a record no longer live: the breaker stays closed, one hit in it
    assert_not_counted_against_the_deleted(result)
    assert not shadow.breaker.open
    assert sum(shadow.windows.values()) == 1
    assert shadow.states["books:10"].held_by is None


def test_a_crm_delete_is_decided_a_merge_orphan_on_a_master_the_sync_paired_meanwhile() -> None:
    shadow = InMemoryShadow()
    merged, linked = a_merge_while_the_sync_links_the_master(make_guard(shadow))
    # when the sync links books:10 to crm:2 between the delete's read and its commit
    shadow.interleave.append(lambda: make_guard(shadow).process(linked))

    result = make_guard(shadow).process(merged)

    assert_orphaned_by_the_merge(result)
    assert shadow.states["crm:2"].partner == "books:10"


def test_under_a_policy_that_holds_merge_orphans_the_interleaving_does_not_decide_the_hold() -> None:
    # given an admin's policy that holds merge orphans and only flags a partner deleted
    config = GuardConfig(mode=Mode.ENFORCE, policy=Policy.build({"CRM_MERGE_ORPHAN": "quarantine"}))
    shadow = InMemoryShadow()
    merged, linked = a_merge_while_the_sync_links_the_master(make_guard(shadow, config=config))
    shadow.interleave.append(lambda: make_guard(shadow, config=config).process(linked))

    result = make_guard(shadow, config=config).process(merged)

    # then books:9 is held as the merge's orphan, as when the link commits before the delete is read
    assert_orphaned_by_the_merge(result)
    assert result.decision is Decision.QUARANTINE
    assert shadow.states["books:9"].held_by == result.event_id


#: Which link is read first, and whether the contact's copy is one the sync creates: the account's link
#: then reads the contact it pairs, not the copy.
MIXED_RACES = [("account", False), ("contact", False), ("account", True)]


@pytest.mark.parametrize(("first", "made_from_contact"), MIXED_RACES)
def test_a_mixed_mapping_linked_from_both_sides_at_once_is_found(first: str, made_from_contact: bool) -> None:
    shadow = InMemoryShadow()
    links = a_sole_trader_linked_twice(make_guard(shadow), made_from_contact=made_from_contact)
    other = links["contact" if first == "account" else "account"]
    # when the other link commits between the read of this one and its commit (neither saw the other)
    shadow.interleave.append(lambda: make_guard(shadow).process(other))

    result = make_guard(shadow).process(links[first])

    assert_mixed_mapping_found(result)
