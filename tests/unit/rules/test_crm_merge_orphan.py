"""Seed pattern 4: merging two CRM accounts that each had a Books customer orphans one of them."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import Replay, assert_decided


def test_crm_merge_orphans_the_merged_away_accounts_customer() -> None:
    replay = Replay()
    replay.crm("create", "5725400", name="Fenwick & Sons Ltd")
    replay.books("create", "460400", contact_name="Fenwick & Sons Ltd", zcrm_account_id="5725400")
    replay.crm("create", "5725401", name="Fenwick and Sons Limited")
    replay.books("create", "460401", contact_name="Fenwick and Sons Limited", zcrm_account_id="5725401")

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
