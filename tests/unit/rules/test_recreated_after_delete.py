"""Seed pattern 3, continued: "the next edit to the CRM account recreates it, minus the history"."""

from __future__ import annotations

from sync_guard.guard.model import ActionKind, Decision
from tests.unit.rules.replay import Replay, assert_decided


def test_recreated_after_delete() -> None:
    replay = Replay()
    replay.crm("create", "5725300", name="Heron Dental Practice Ltd")
    replay.books(
        "create",
        "460300",
        contact_name="Heron Dental Practice Ltd",
        zcrm_account_id="5725300",
        has_transaction=True,
    )
    replay.books("delete", "460300")
    replay.crm("edit", "5725300", name="Heron Dental Practice Ltd", phone="+44 20 7946 0301")

    recreated = replay.books(
        "create",
        "460399",
        contact_name="Heron Dental Practice Ltd",
        zcrm_account_id="5725300",
        has_transaction=False,
    )

    assert_decided(
        recreated,
        "RECREATED_AFTER_DELETE",
        Decision.QUARANTINE,
        "books:460300 deleted",
        "created for the same CRM record crm:5725300",
    )
    assert recreated.findings[0].severity.value == "critical"
    assert [a.target for a in recreated.actions if a.kind is ActionKind.MARK_BOOKS_INACTIVE] == [
        "books:460399"
    ]
    assert "books:460300" in recreated.records
