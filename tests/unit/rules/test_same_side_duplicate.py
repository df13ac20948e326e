"""Added rule: duplicates created in CRM; each becomes one more Books customer once synced."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import Replay, assert_decided


def test_same_side_duplicate_in_crm() -> None:
    replay = Replay()
    replay.crm("create", "5726000", name="Northwind Traders Ltd")
    second = replay.crm("create", "5726001", name="Northwind Traders Limited")
    assert_decided(second, "SAME_SIDE_DUPLICATE", Decision.FLAG, "'Limited'")
    assert second.records[:2] == ("crm:5726001", "crm:5726000")


def test_different_companies_are_not_duplicates() -> None:
    replay = Replay()
    replay.crm("create", "5726002", name="Bank of the West")
    second = replay.crm("create", "5726003", name="Bank of the East")
    assert second.rules == ()
    assert second.decision is Decision.ALLOW
