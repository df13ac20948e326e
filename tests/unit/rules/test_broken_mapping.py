"""Identical name, new record: the pair was lost (a disconnect wiped the map) and the sync made another."""

from __future__ import annotations

from typing import Any

import pytest

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import LONG_AGO, Replay, assert_decided, assert_held_instead


def test_broken_mapping_after_the_link_was_lost() -> None:
    replay = Replay()
    replay.crm("create", "5725700", name="Linden Architects LLP")
    replay.books(
        "create",
        "460700",
        contact_name="Linden Architects LLP",
        zcrm_account_id="5725700",
        has_transaction=True,
    )
    # the integration is disconnected: Books no longer shows the link
    replay.books(
        "edit", "460700", contact_name="Linden Architects LLP", zcrm_account_id="", has_transaction=True
    )
    # and the shadow's pair, which followed Zoho's link, is gone with it
    assert replay.shadow.states["books:460700"].partner is None
    assert replay.shadow.states["crm:5725700"].partner is None

    # the sync treats the account as new and creates the customer again
    again = replay.books("create", "460799", contact_name="Linden Architects LLP.", zcrm_account_id="5725700")

    assert_decided(
        again,
        "BROKEN_MAPPING",
        Decision.QUARANTINE,
        "books:460700 was paired with crm:5725700",
        "no longer carries Zoho's link",
        "identical normalised name",
    )
    assert "NAME_DRIFT" not in again.rules
    assert replay.shadow.states["crm:5725700"].partner == "books:460799"
    assert replay.shadow.states["crm:5725700"].former_partner == "books:460700"


@pytest.mark.parametrize(
    "invoiced",
    [
        {"has_transaction": True},
        # Books' flag absent from the edit: the balance owed says the same (the engine's test, too)
        {"outstanding_receivable_amount": 1250.0},
    ],
    ids=["has_transaction", "balance_outstanding"],
)
def test_an_invoiced_customer_met_through_an_edit_is_never_the_one_held(invoiced: dict[str, Any]) -> None:
    # given a shadow not seeded with the invoiced customer: it only saw the sync's uninvoiced copy made for
    # the account, and that copy then lost Zoho's link (support pointed the mapping back at the original)
    replay = Replay()
    replay.crm("create", "5725710", name="Linden Architects LLP")
    replay.books("create", "460710", contact_name="Linden Architects LLP.", zcrm_account_id="5725710")
    replay.books("edit", "460710", contact_name="Linden Architects LLP.", zcrm_account_id="")

    # when the bookkeeper edits the customer she has invoiced for years, now linked to the account
    edited = replay.books(
        "edit",
        "460711",
        created=LONG_AGO,
        contact_name="Linden Architects LLP",
        zcrm_account_id="5725710",
        **invoiced,
    )

    # then the hold takes back the copy without transactions, not the invoiced customer
    assert_held_instead(replay, edited, "BROKEN_MAPPING", held="books:460710", invoiced="books:460711")


def _linden_paired_then_unlinked(replay: Replay) -> None:
    """A CRM account and its Books customer, whose link a disconnect wiped."""
    replay.crm("create", "5725710", name="Linden Architects LLP")
    replay.books("create", "460710", contact_name="Linden Architects LLP", zcrm_account_id="5725710")
    replay.books("edit", "460710", contact_name="Linden Architects LLP", zcrm_account_id="")


def test_a_lost_pair_made_again_under_another_name_is_drift_not_a_broken_mapping() -> None:
    replay = Replay()
    _linden_paired_then_unlinked(replay)
    # the sync creates the account's customer again, under a name that is not the old one's
    again = replay.books("create", "460711", contact_name="Linden Architects", zcrm_account_id="5725710")
    assert "BROKEN_MAPPING" not in again.rules
    assert "NAME_DRIFT" in again.rules


def test_a_copy_made_while_the_old_customer_still_carries_the_link_is_a_double_link() -> None:
    # given a pair whose Books customer still carries Zoho's link to the account
    replay = Replay()
    replay.crm("create", "5725720", name="Linden Architects LLP")
    replay.books("create", "460720", contact_name="Linden Architects LLP", zcrm_account_id="5725720")
    # when a second customer of the same name is linked to the account, no mapping was lost
    again = replay.books("create", "460721", contact_name="Linden Architects LLP", zcrm_account_id="5725720")
    assert "BROKEN_MAPPING" not in again.rules
    assert "DOUBLE_LINK" in again.rules
