"""Added rule: a customer created in Books by a person, where the seed's design has CRM own customers."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from sync_guard.guard.policy import Policy
from tests.unit.rules.replay import Replay, assert_decided


def test_a_customer_created_in_books_is_recorded_and_allowed_by_default() -> None:
    replay = Replay()

    entry = replay.books("create", "460950", contact_name="Marlow Bakery Limited")

    assert_decided(entry, "CREATED_IN_BOOKS", Decision.ALLOW, "books:460950 carries no Zoho CRM link")
    assert entry.actions == ()


def test_with_crm_owning_customers_each_one_is_flagged() -> None:
    replay = Replay(policy=Policy.build({"CREATED_IN_BOOKS": "flag"}))

    entry = replay.books("create", "460951", contact_name="Marlow Bakery Limited")

    assert_decided(entry, "CREATED_IN_BOOKS", Decision.FLAG)


def test_customers_the_sync_makes_and_later_edits_are_not_books_creations() -> None:
    replay = Replay(policy=Policy.build({"CREATED_IN_BOOKS": "flag"}))
    replay.crm("create", "5725960", name="Marlow Bakery Ltd")

    synced = replay.books("create", "460960", contact_name="Marlow Bakery Ltd", zcrm_account_id="5725960")
    replay.books("create", "460961", contact_name="Pellow Farm Shop")
    edited = replay.books("edit", "460961", contact_name="Pellow Farm Shop Ltd")

    assert "CREATED_IN_BOOKS" not in synced.rules
    assert "CREATED_IN_BOOKS" not in edited.rules
