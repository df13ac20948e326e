"""Added rule: Zoho's link takes a CRM record's pair from a live Books customer to another (a reconnect)."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from sync_guard.guard.policy import Policy
from tests.unit.rules.replay import Replay, assert_decided, assert_held_instead


def paired_then_unlinked(replay: Replay) -> None:
    replay.crm("create", "5725910", name="Birch Joinery Ltd")
    replay.books("create", "460910", contact_name="Birch Joinery Ltd", zcrm_account_id="5725910")
    replay.books("edit", "460910", contact_name="Birch & Sons Workshop", zcrm_account_id="5725910")
    replay.books("create", "460911", contact_name="Birch Joinery Ltd Old")
    # the disconnect: Zoho's link is gone from the paired customer
    replay.books("edit", "460910", contact_name="Birch & Sons Workshop", zcrm_account_id="")


def test_a_reconnect_pairing_the_account_with_another_existing_customer_is_flagged() -> None:
    replay = Replay()
    paired_then_unlinked(replay)

    moved = replay.books("edit", "460911", contact_name="Birch Joinery Ltd Old", zcrm_account_id="5725910")

    assert_decided(
        moved,
        "MAPPING_MOVED",
        Decision.FLAG,
        "crm:5725910 was paired with books:460910",
        "books:460910 no longer carries Zoho's link to crm:5725910",
    )
    assert replay.shadow.states["crm:5725910"].partner == "books:460911"


def test_the_old_partner_linked_again_is_no_finding() -> None:
    replay = Replay()
    paired_then_unlinked(replay)

    relinked = replay.books("edit", "460910", contact_name="Birch & Sons Workshop", zcrm_account_id="5725910")

    assert relinked.rules == ()


def test_a_pair_moving_away_from_a_deleted_customer_is_left_to_the_delete_rules() -> None:
    replay = Replay()
    replay.crm("create", "5725920", name="Cedar Dental Ltd")
    replay.books("create", "460920", contact_name="Cedar Dental Ltd", zcrm_account_id="5725920")
    replay.books("create", "460921", contact_name="Cedar Dental Care")
    replay.books("delete", "460920")

    relinked = replay.books("edit", "460921", contact_name="Cedar Dental Care", zcrm_account_id="5725920")

    assert "MAPPING_MOVED" not in relinked.rules


def test_set_to_quarantine_it_holds_the_customer_without_transactions() -> None:
    # given an admin who set the rule to quarantine, and the reconnect's new partner holds the invoices
    replay = Replay(policy=Policy.build({"MAPPING_MOVED": "quarantine"}))
    paired_then_unlinked(replay)

    moved = replay.books(
        "edit",
        "460911",
        contact_name="Birch Joinery Ltd Old",
        zcrm_account_id="5725910",
        has_transaction=True,
    )

    # then the hold takes the old partner, which has none: marking the invoiced one inactive stops invoicing
    assert_held_instead(replay, moved, "MAPPING_MOVED", held="books:460910", invoiced="books:460911")


def test_a_customer_an_admin_paired_gaining_the_link_its_old_partner_still_carries_is_a_double_link() -> None:
    # given the account linked by Zoho to one customer, and an admin pairing it by hand with another
    replay = Replay()
    replay.crm("create", "5725930", name="Elm Bakery Ltd")
    replay.books("create", "460930", contact_name="Elm Bakery Ltd", zcrm_account_id="5725930")
    replay.books("create", "460931", contact_name="Elm Bakery Wholesale")
    replay.link_by_admin("crm:5725930", "books:460931", against_zoho=True)
    assert replay.shadow.states["crm:5725930"].former_partner == "books:460930"

    # when Zoho links the admin's choice to the account too
    linked = replay.books("edit", "460931", contact_name="Elm Bakery Wholesale", zcrm_account_id="5725930")

    # then the old partner still carries the link: two customers linked to one account, not a moved pair
    assert "MAPPING_MOVED" not in linked.rules
    assert "DOUBLE_LINK" in linked.rules
