"""Seed pattern 5: a different email on the Books contact person than on the CRM contact fails the match."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from sync_guard.guard.policy import Policy
from tests.unit.rules.replay import LONG_AGO, Replay, assert_decided, assert_held_instead


def test_email_mismatch_on_contacts() -> None:
    replay = Replay()
    replay.crm(
        "create",
        "5725500",
        module="Contacts",
        first_name="Priya",
        last_name="Raman",
        email="priya@raman-design.co.uk",
    )

    books = replay.books(
        "create",
        "460500",
        contact_name="Priya Raman",
        customer_sub_type="individual",
        contact_persons=[
            {
                "first_name": "Priya",
                "last_name": "Raman",
                "email": "priya.raman@gmail.com",
                "is_primary_contact": True,
            }
        ],
    )

    assert_decided(
        books,
        "EMAIL_MISMATCH",
        Decision.FLAG,
        "books:460500 email: priya.raman@gmail.com",
        "crm:5725500 email: priya@raman-design.co.uk",
    )
    assert books.records[:2] == ("books:460500", "crm:5725500")


def test_same_person_same_email_is_not_a_mismatch() -> None:
    replay = Replay()
    replay.crm(
        "create", "5725501", module="Contacts", first_name="Tom", last_name="Hale", email="tom@hale.co.uk"
    )
    books = replay.books(
        "create",
        "460501",
        contact_name="Tom Hale",
        customer_sub_type="individual",
        contact_persons=[
            {"first_name": "Tom", "last_name": "Hale", "email": "tom@hale.co.uk", "is_primary_contact": True}
        ],
    )
    assert "EMAIL_MISMATCH" not in books.rules


def test_set_to_quarantine_it_never_holds_an_invoiced_customer_met_through_an_edit() -> None:
    # given an admin who set the rule to quarantine, and a Books individual invoiced for years that the
    # guard first meets through an edit (a shadow not seeded)
    replay = Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))
    replay.crm(
        "create", "5725500", module="Contacts", first_name="Priya", last_name="Raman", email="priya@a.uk"
    )

    books = replay.books(
        "edit",
        "460500",
        created=LONG_AGO,
        contact_name="Priya Raman",
        customer_sub_type="individual",
        email="priya.raman@gmail.com",
        has_transaction=True,
    )

    # then the hold takes the CRM contact back from the sync, not the customer being invoiced
    assert_held_instead(replay, books, "EMAIL_MISMATCH", held="crm:5725500", invoiced="books:460500")
