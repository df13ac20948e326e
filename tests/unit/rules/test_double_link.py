"""Two Books customers linked to one CRM record: only one can be its real partner."""

from __future__ import annotations

from sync_guard.guard.model import ActionKind, Decision
from tests.unit.rules.replay import Replay, assert_decided


def test_double_link_holds_the_copy_without_transactions() -> None:
    replay = Replay()
    replay.crm("create", "5725800", name="Marlow Engineering Ltd")
    replay.books(
        "create",
        "460800",
        contact_name="Marlow Engineering Ltd",
        zcrm_account_id="5725800",
        has_transaction=True,
    )

    second = replay.books(
        "create",
        "460801",
        contact_name="Marlow Engineering (UK) Ltd",
        zcrm_account_id="5725800",
        has_transaction=False,
    )

    assert_decided(
        second,
        "DOUBLE_LINK",
        Decision.QUARANTINE,
        "books:460801 carries Zoho's link to crm:5725800",
        "books:460800 carries Zoho's link to crm:5725800",
        "books:460801 holds no transactions",
        "books:460800 holds transactions",
    )
    finding = next(f for f in second.findings if f.code == "DOUBLE_LINK")
    assert finding.subject == "books:460801"
    assert [a.target for a in second.actions if a.kind is ActionKind.MARK_BOOKS_INACTIVE] == ["books:460801"]
    # the CRM record keeps its first partner
    assert replay.shadow.states["crm:5725800"].partner == "books:460800"


def test_an_edit_that_leaves_the_link_alone_is_not_a_new_double_link() -> None:
    # given a double link, found when the second customer was linked
    replay = Replay()
    replay.crm("create", "5725810", name="Marlow Engineering Ltd")
    replay.books("create", "460810", contact_name="Marlow Engineering Ltd", zcrm_account_id="5725810")
    second = replay.books(
        "create", "460811", contact_name="Marlow Engineering (UK) Ltd", zcrm_account_id="5725810"
    )
    # (Books said nothing of either customer's transactions, and the evidence says so in words)
    assert_decided(
        second,
        "DOUBLE_LINK",
        Decision.QUARANTINE,
        "books:460811: not known whether it holds transactions",
        "books:460810: not known whether it holds transactions",
    )
    # when the first customer is edited without its link changing, that is no news
    edited = replay.books(
        "edit",
        "460810",
        contact_name="Marlow Engineering Ltd",
        zcrm_account_id="5725810",
        phone="+44 1628 000000",
    )
    assert "DOUBLE_LINK" not in edited.rules
