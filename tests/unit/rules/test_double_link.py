"""Two Books customers linked to one CRM record: only one can be its real partner."""

from __future__ import annotations

from typing import Any

import pytest

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


@pytest.mark.parametrize(
    ("says", "held", "kept"),
    [
        ({}, "books:460821", "books:460820"),
        ({"has_transaction": ""}, "books:460821", "books:460820"),  # a form's unfilled placeholder
        ({"has_transaction": False}, "books:460820", "books:460821"),
        ({"has_transaction": "false", "outstanding_receivable_amount": "0"}, "books:460820", "books:460821"),
    ],
    ids=["not-sent", "blank", "false", "false-as-text"],
)
def test_an_invoiced_customer_s_edit_is_judged_on_what_the_guard_knows(
    says: dict[str, Any], held: str, kept: str
) -> None:
    # given a customer the guard knows holds transactions, and another linked to the CRM account
    replay = Replay()
    replay.crm("create", "5725820", name="Marlow Engineering Ltd")
    replay.books("create", "460820", contact_name="Marlow Engineering Ltd", has_transaction=True)
    replay.books("create", "460821", contact_name="Marlow Works", zcrm_account_id="5725820")

    # when the invoiced customer gains the same link, by a webhook that says `says` of its transactions
    edited = replay.books(
        "edit", "460820", contact_name="Marlow Engineering Ltd", zcrm_account_id="5725820", **says
    )

    # then a body silent on them holds the other copy, as the shadow's knowledge says (before: the edited
    # customer was chosen, spared as invoiced, and nothing was held); one saying "none" is taken at its word
    assert_decided(edited, "DOUBLE_LINK", Decision.QUARANTINE)
    assert [a.target for a in edited.actions if a.kind is ActionKind.MARK_BOOKS_INACTIVE] == [held]
    assert replay.shadow.states[held].held_by == edited.entry_id
    assert replay.shadow.states[kept].held_by is None
