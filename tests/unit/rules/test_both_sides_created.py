"""Seed pattern 2: sales raise the account while the bookkeeper raises the customer the same day."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import Replay, assert_decided


def test_both_sides_created_the_same_morning() -> None:
    replay = Replay()
    first = replay.crm("create", "5725100", name="Brightwater Ltd")
    assert first.decision is Decision.ALLOW

    books = replay.books("create", "460100", minutes=30, contact_name="Brightwater Limited")

    assert_decided(books, "BOTH_SIDES_CREATED", Decision.FLAG, "crm:5725100 created", "not paired")
    assert "NAME_DRIFT" not in books.rules
    assert books.records[:2] == ("books:460100", "crm:5725100")
    assert [a.kind.value for a in books.actions] == ["notify_finance"]


def test_records_created_far_apart_are_not_both_sides() -> None:
    replay = Replay()
    replay.crm("create", "5725100", name="Brightwater Ltd")
    books = replay.books("create", "460100", minutes=60 * 24 * 10, contact_name="Brightwater Limited")
    assert "BOTH_SIDES_CREATED" not in books.rules
