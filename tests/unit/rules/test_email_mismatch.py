"""Seed pattern 5: a different email on the Books contact person than on the CRM contact fails the match."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from sync_guard.guard.policy import Policy
from tests.unit.guard.builders import crm_contact, event_for
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


def _tom_hale_in_crm(replay: Replay, email: str) -> None:
    replay.crm("create", "5725502", module="Contacts", first_name="Tom", last_name="Hale", email=email)


def _tom_hale_in_books(replay: Replay, event: str, email: str, *, name: str = "Tom Hale") -> list[str]:
    first, last = name.split()
    entry = replay.books(
        event,
        "460502",
        contact_name=name,
        customer_sub_type="individual",
        contact_persons=[
            {"first_name": first, "last_name": last, "email": email, "is_primary_contact": True}
        ],
    )
    return list(entry.rules)


def test_an_email_written_in_another_case_is_the_same_email() -> None:
    replay = Replay()
    _tom_hale_in_crm(replay, "Tom.Hale@Hale.co.uk")
    assert "EMAIL_MISMATCH" not in _tom_hale_in_books(replay, "create", "tom.hale@hale.co.uk")


def test_a_person_whose_email_changes_on_an_edit_is_checked_again() -> None:
    # given a CRM contact and its Books copy with the same email: no mismatch
    replay = Replay()
    _tom_hale_in_crm(replay, "tom@hale.co.uk")
    assert "EMAIL_MISMATCH" not in _tom_hale_in_books(replay, "create", "tom@hale.co.uk")
    # when the Books copy's email is changed to another address, it is a mismatch now
    assert "EMAIL_MISMATCH" in _tom_hale_in_books(replay, "edit", "tom.hale@gmail.com")


def test_a_person_of_another_name_is_not_an_email_mismatch() -> None:
    # given a CRM contact, and a Books individual of another given name with an email at the same domain
    replay = Replay()
    _tom_hale_in_crm(replay, "tom@hale.co.uk")
    rules = _tom_hale_in_books(replay, "create", "thomas@hale.co.uk", name="Thomas Hale")
    # then, whatever the matcher makes of them, the names differ: not the same person with two emails
    assert "EMAIL_MISMATCH" not in rules


def test_a_crm_secondary_email_the_books_person_has_is_an_email_in_common() -> None:
    # given a CRM contact (as the CRM API gives it) with a work email and a secondary, private one
    replay = Replay()
    contact = crm_contact("5725503", "Ana", "Lopes", "ana@lopes-studio.pt")
    replay.send(event_for(contact.model_copy(update={"other_emails": ("ana.lopes@gmail.com",)})))
    # when Books has the person with the secondary email
    books = replay.books(
        "create",
        "460503",
        contact_name="Ana Lopes",
        customer_sub_type="individual",
        email="ana.lopes@gmail.com",
    )
    # then they share an email: no mismatch
    assert "EMAIL_MISMATCH" not in books.rules
