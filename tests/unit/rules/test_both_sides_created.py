"""Seed pattern 2: sales raise the account while the bookkeeper raises the customer the same day."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from sync_guard.guard.policy import Policy
from tests.unit.rules.replay import Replay, assert_decided, assert_held_instead


def test_both_sides_created_the_same_morning() -> None:
    replay = Replay()
    first = replay.crm("create", "5725100", name="Brightwater Ltd")
    assert first.decision is Decision.ALLOW

    books = replay.books("create", "460100", minutes=30, contact_name="Brightwater Limited")

    assert_decided(books, "BOTH_SIDES_CREATED", Decision.FLAG, "crm:5725100 created", "not paired")
    assert "NAME_DRIFT" not in books.rules
    assert books.records[:2] == ("books:460100", "crm:5725100")
    assert [a.kind.value for a in books.actions] == ["notify_finance"]


def test_the_bookkeeper_first_then_sales_is_both_sides_not_drift() -> None:
    # the other order: the CRM account is the event, and the Books customer a candidate NAME_DRIFT also sees
    replay = Replay()
    replay.books("create", "460101", contact_name="Brightwater Limited")

    crm = replay.crm("create", "5725101", minutes=30, name="Brightwater Ltd")

    assert_decided(crm, "BOTH_SIDES_CREATED", Decision.FLAG, "books:460101 created", "not paired")
    assert "NAME_DRIFT" not in crm.rules


def test_records_created_far_apart_are_not_both_sides() -> None:
    replay = Replay()
    replay.crm("create", "5725100", name="Brightwater Ltd")
    books = replay.books("create", "460100", minutes=60 * 24 * 10, contact_name="Brightwater Limited")
    assert "BOTH_SIDES_CREATED" not in books.rules


def test_set_to_quarantine_it_never_holds_an_invoiced_customer_met_through_an_edit() -> None:
    # given an admin who set the rule to quarantine, and a shadow that never saw the Books customer created:
    # the bookkeeper raised and invoiced it the morning sales raised the account
    replay = Replay(policy=Policy.build({"BOTH_SIDES_CREATED": "quarantine"}))
    replay.crm("create", "5725100", name="Brightwater Ltd")

    books = replay.books(
        "edit", "460100", minutes=30, contact_name="Brightwater Limited", has_transaction=True
    )

    # then the hold takes the CRM copy back from the sync, not the customer being invoiced
    assert_held_instead(replay, books, "BOTH_SIDES_CREATED", held="crm:5725100", invoiced="books:460100")
