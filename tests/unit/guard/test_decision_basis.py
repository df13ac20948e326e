"""A decision stands only on the states it was made on: the records its findings cite are checked at commit.

Each test is one interleaving: the event's snapshot is read, another event commits a change of a record
the decision cites (a change that writes no key or state the first event's plan writes), then the first
event's plan is committed. Without a check of the cited record's revision the plan would commit on its
stale view; with it, the commit is cancelled and the event re-decided on fresh reads. The same races run on
the real DynamoDB server in ``tests/integration/test_decision_basis_race.py``.
"""

from __future__ import annotations

from sync_guard.config import Mode
from sync_guard.guard.engine import Guard, GuardConfig, GuardResult
from sync_guard.guard.model import Decision
from sync_guard.guard.ports import ShadowRepository
from sync_guard.models.events import GuardEvent, Operation
from tests.unit.guard.builders import T0, books_customer, crm_account, crm_contact, event_for
from tests.unit.guard.fakes import ExactMatcher, FakeTime, InMemoryShadow


def make_guard(shadow: ShadowRepository) -> Guard:
    return Guard(
        shadow, ExactMatcher(), GuardConfig(mode=Mode.ENFORCE), clock=lambda: T0, backoff=FakeTime().backoff()
    )


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
