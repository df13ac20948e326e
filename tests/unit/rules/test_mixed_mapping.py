"""Added rule: a sole trader synced to Books from the CRM account and again from its contact."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import Replay, assert_decided

EMAIL = "jane@smithdesign.co.uk"


def account_with_its_customer(replay: Replay, *, invoiced: bool) -> None:
    replay.crm("create", "5725930", name="Jane Smith Design")
    replay.books(
        "create",
        "460930",
        contact_name="Jane Smith Design",
        email=EMAIL,
        zcrm_account_id="5725930",
        has_transaction=invoiced,
    )
    replay.crm(
        "create",
        "5725931",
        module="Contacts",
        first_name="Jane",
        last_name="Smith",
        email=EMAIL,
        account_id="5725930",
    )


def test_a_customer_made_from_the_accounts_contact_is_held_not_called_name_drift() -> None:
    replay = Replay()
    account_with_its_customer(replay, invoiced=True)

    entry = replay.books(
        "create",
        "460931",
        contact_name="Jane Smith",
        customer_sub_type="individual",
        email=EMAIL,
        zcrm_contact_id="5725931",
    )

    assert_decided(
        entry,
        "MIXED_MAPPING",
        Decision.QUARANTINE,
        "books:460931 zcrm link: contact crm:5725931",
        "crm:5725931 belongs to account crm:5725930",
        "books:460930 is the Books customer of crm:5725930",
    )
    assert "NAME_DRIFT" not in entry.rules
    assert replay.shadow.states["books:460931"].held_by == entry.entry_id


def test_a_contact_of_an_account_without_a_books_customer_is_no_mix() -> None:
    replay = Replay()
    replay.crm("create", "5725940", name="Oakfield Studio")
    replay.crm(
        "create",
        "5725941",
        module="Contacts",
        first_name="Ola",
        last_name="Berg",
        email="ola@oakfield.example",
        account_id="5725940",
    )

    entry = replay.books(
        "create",
        "460941",
        contact_name="Ola Berg",
        customer_sub_type="individual",
        email="ola@oakfield.example",
        zcrm_contact_id="5725941",
    )

    assert "MIXED_MAPPING" not in entry.rules
