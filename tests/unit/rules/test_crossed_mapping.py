"""Added rule: a customer's Zoho link re-pointed at another CRM record (accounts and contacts mixed)."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import Replay, assert_decided


def _paired(crm_id: str, books_id: str) -> Replay:
    """A CRM account and the Books customer the sync made for it, linked."""
    replay = Replay()
    replay.crm("create", crm_id, name="Alder Vets Ltd")
    replay.books("create", books_id, contact_name="Alder Vets Ltd", zcrm_account_id=crm_id)
    return replay


def test_crossed_mapping_from_account_to_contact() -> None:
    replay = _paired("5725900", "460900")

    crossed = replay.books(
        "edit", "460900", contact_name="Alder Vets Ltd", zcrm_account_id="", zcrm_contact_id="5725955"
    )

    assert_decided(
        crossed,
        "CROSSED_MAPPING",
        Decision.FLAG,
        "books:460900 was paired with crm:5725900 in the guard's mapping through Zoho's link",
        "Zoho linked books:460900 to crm:5725900 before, now to crm:5725955",
    )
    assert replay.shadow.states["books:460900"].partner == "crm:5725955"
    assert replay.shadow.states["crm:5725900"].partner is None


def test_an_edit_that_keeps_the_link_is_not_a_crossed_mapping() -> None:
    replay = _paired("5725910", "460910")

    edited = replay.books(
        "edit", "460910", contact_name="Alder Vets Ltd", zcrm_account_id="5725910", phone="+44 1632 960000"
    )

    assert "CROSSED_MAPPING" not in edited.rules
    assert replay.shadow.states["books:460910"].partner == "crm:5725910"


def test_an_edit_of_a_customer_an_admin_paired_against_its_link_is_not_a_crossed_mapping() -> None:
    # given a customer linked by Zoho to the account, which an admin paired by hand with another CRM record
    replay = _paired("5725920", "460920")
    replay.crm("create", "5725921", name="Alder Veterinary Group")
    replay.link_by_admin("crm:5725921", "books:460920", against_zoho=True)
    assert replay.shadow.states["books:460920"].partner == "crm:5725921"

    # when the customer is edited, its Zoho link unchanged
    edited = replay.books(
        "edit", "460920", contact_name="Alder Vets Ltd", zcrm_account_id="5725920", phone="+44 1632 960001"
    )

    # then Zoho's link was not re-pointed: no crossed mapping
    assert "CROSSED_MAPPING" not in edited.rules
