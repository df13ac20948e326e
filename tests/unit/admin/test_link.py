"""Linking a pair by hand (``sync-guard link``, ``POST /admin/links``) against Zoho's own link, over a shadow
the engine built from webhooks (the DynamoDB side is in tests/integration/test_admin_operations.py)."""

from __future__ import annotations

import pytest

from sync_guard.errors import Conflict
from sync_guard.guard.model import PairSource
from tests.unit.rules.replay import Replay


def _refused(replay: Replay, crm_ref: str, books_ref: str) -> Conflict:
    before = dict(replay.shadow.states)
    with pytest.raises(Conflict) as refused:
        replay.link_by_admin(crm_ref, books_ref)
    assert replay.shadow.states == before  # nothing paired
    return refused.value


def test_a_customer_zoho_links_to_another_crm_record_is_not_linked_naming_books() -> None:
    # given the Books customer Zoho's sync links to one account, and another account
    replay = Replay()
    replay.crm("create", "5725940", name="Oak Dental Ltd")
    replay.crm("create", "5725941", name="Oak Dental Group")
    replay.books("create", "460940", contact_name="Oak Dental Ltd", zcrm_account_id="5725940")

    # when an admin links the customer with the other account: the engine would undo it at its next event
    refused = _refused(replay, "crm:5725941", "books:460940")

    # then a 409 naming the customer, saying what Zoho links it to and that the guard follows Zoho's link
    assert refused.field == "books"
    assert refused.message.startswith("Zoho's own link pairs books:460940 with crm:5725940")
    assert "the guard follows Zoho's link" in refused.message
    assert "replaced at the next event of books:460940" in refused.message


def test_a_crm_record_zoho_links_to_another_customer_is_not_linked_naming_crm() -> None:
    # given an account Zoho's sync links to one Books customer, and a customer with no Zoho link
    replay = Replay()
    replay.crm("create", "5725950", name="Ash Plumbing Ltd")
    replay.books("create", "460950", contact_name="Ash Plumbing Ltd", zcrm_account_id="5725950")
    replay.books("create", "460951", contact_name="Ash Plumbing Services")

    refused = _refused(replay, "crm:5725950", "books:460951")

    assert refused.field == "crm"
    assert refused.message.startswith("Zoho's own link pairs books:460950 with crm:5725950")
    assert "a pair of crm:5725950 and books:460951 made here" in refused.message


@pytest.mark.parametrize("zoho_link", ["5725960", None], ids=["zoho-link-agrees", "no-zoho-link"])
def test_a_pair_zoho_s_link_does_not_contradict_is_linked(zoho_link: str | None) -> None:
    # given an account and a customer, linked by Zoho to each other or to nothing, and a customer Zoho
    # linked to the account that was deleted since
    replay = Replay()
    replay.crm("create", "5725960", name="Pine Optics Ltd")
    replay.books("create", "460969", contact_name="Pine Optics Old", zcrm_account_id="5725960")
    replay.books("delete", "460969")
    link = {"zcrm_account_id": zoho_link} if zoho_link else {}
    replay.books("create", "460960", contact_name="Pine Optics Ltd", **link)

    result = replay.link_by_admin("crm:5725960", "books:460960")

    assert result.operation == "link"
    for ref, partner in (("crm:5725960", "books:460960"), ("books:460960", "crm:5725960")):
        assert (replay.shadow.states[ref].partner, replay.shadow.states[ref].pair_source) == (
            partner,
            PairSource.ADMIN,
        )
