"""Seed pattern 4: merging two CRM accounts that each had a Books customer orphans one of them."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import Replay, assert_decided


def _two_accounts_of_one_company_each_with_a_customer(
    replay: Replay, crm_kept: str, books_kept: str, crm_other: str, books_other: str
) -> None:
    replay.crm("create", crm_kept, name="Fenwick & Sons Ltd")
    replay.books("create", books_kept, contact_name="Fenwick & Sons Ltd", zcrm_account_id=crm_kept)
    replay.crm("create", crm_other, name="Fenwick and Sons Limited")
    replay.books("create", books_other, contact_name="Fenwick and Sons Limited", zcrm_account_id=crm_other)


def test_crm_merge_orphans_the_merged_away_accounts_customer() -> None:
    replay = Replay()
    _two_accounts_of_one_company_each_with_a_customer(replay, "5725400", "460400", "5725401", "460401")

    # a manual merge keeps 5725400 and deletes 5725401 (the workflow delete trigger fires for manual merges)
    merged_away = replay.crm("delete", "5725401")

    assert_decided(
        merged_away,
        "CRM_MERGE_ORPHAN",
        Decision.FLAG,
        "crm:5725401 was paired with books:460401",
        "crm:5725400 is paired with books:460400",
    )
    assert "PARTNER_DELETED" not in merged_away.rules
    finding = merged_away.findings[0]
    assert finding.subject == "books:460401"
    assert set(finding.related) >= {"crm:5725401", "crm:5725400", "books:460400"}
    assert set(merged_away.records) >= {"crm:5725401", "books:460401", "crm:5725400", "books:460400"}


def test_a_merge_after_the_books_customer_was_deleted_orphans_nothing() -> None:
    # given two CRM duplicates with a Books customer each, one of which was deleted in Books already
    replay = Replay()
    _two_accounts_of_one_company_each_with_a_customer(replay, "5725410", "460410", "5725411", "460411")
    replay.books("delete", "460411")
    # when the CRM merge deletes that customer's account, no live Books customer is left orphaned
    merged_away = replay.crm("delete", "5725411")
    assert "CRM_MERGE_ORPHAN" not in merged_away.rules
