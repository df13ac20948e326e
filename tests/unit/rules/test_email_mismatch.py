"""Seed pattern 5: a different email on the Books contact person than on the CRM contact fails the match."""

from __future__ import annotations

from typing import Any

import pytest

from sync_guard.guard.model import AuditEntry, Decision, EntryKind
from sync_guard.guard.policy import Policy
from sync_guard.redact import mask_email
from sync_guard.zoho.payloads import parse_crm_workflow
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
        f"books:460500 email: {mask_email('priya.raman@gmail.com')}",
        f"crm:5725500 email: {mask_email('priya@raman-design.co.uk')}",
    )
    assert books.records[:2] == ("books:460500", "crm:5725500")
    # the addresses are masked in all the finding says, the matcher's words included
    finding = next(f for f in books.findings if f.code == "EMAIL_MISMATCH")
    assert "@" not in " ".join(finding.evidence).replace("***@", "")


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


def test_set_to_quarantine_an_edit_not_saying_the_customer_is_invoiced_holds_the_crm_contact() -> None:
    # given a Books individual the guard knows holds transactions, paired with its CRM contact
    replay = Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))
    priya = {"contact_name": "Priya Raman", "customer_sub_type": "individual", "zcrm_contact_id": "5725505"}
    replay.crm(
        "create", "5725505", module="Contacts", first_name="Priya", last_name="Raman", email="priya@a.uk"
    )
    created = replay.books("create", "460505", email="priya@a.uk", has_transaction=True, **priya)
    assert "EMAIL_MISMATCH" not in created.rules

    # when its address is changed in Books, by a webhook whose body does not send has_transaction
    books = replay.books("edit", "460505", email="priya.raman@gmail.com", **priya)

    # then the CRM contact is held, not the invoiced customer (before: the rule chose the customer, the
    # engine spared it, and nothing was held)
    assert_held_instead(replay, books, "EMAIL_MISMATCH", held="crm:5725505", invoiced="books:460505")
    assert replay.shadow.states["books:460505"].record.has_transactions is True


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


# An already paired person: the Books individual carries Zoho's link to the CRM contact.
TOM_CRM, TOM_BOOKS = "crm:5725510", "books:460510"


def _paired_tom_hale(replay: Replay, email: str = "tom@hale.co.uk", **books: Any) -> None:
    replay.crm("create", "5725510", module="Contacts", first_name="Tom", last_name="Hale", email=email)
    entry = _tom_hale_linked_in_books(replay, "create", email, **books)
    assert replay.shadow.states[TOM_CRM].partner == TOM_BOOKS
    assert "EMAIL_MISMATCH" not in entry.rules


def _tom_hale_linked_in_books(replay: Replay, event: str, *emails: str, **fields: Any) -> AuditEntry:
    persons = [
        {"first_name": "Tom", "last_name": "Hale", "email": email, "is_primary_contact": number == 0}
        for number, email in enumerate(emails)
    ]
    return replay.books(
        event,
        "460510",
        contact_name="Tom Hale",
        customer_sub_type="individual",
        zcrm_contact_id="5725510",
        contact_persons=persons,
        **fields,
    )


def _tom_hale_edited_in_crm(replay: Replay, email: str) -> AuditEntry:
    return replay.crm("edit", "5725510", module="Contacts", first_name="Tom", last_name="Hale", email=email)


def test_a_paired_crm_contact_whose_email_changes_away_from_its_books_partner_is_a_mismatch() -> None:
    # given a CRM contact and the Books individual Zoho's sync pairs it with, both at tom@hale.co.uk
    replay = Replay()
    _paired_tom_hale(replay)

    # when the CRM contact's email is changed to an address the Books side does not have
    crm = _tom_hale_edited_in_crm(replay, "tom.hale@gmail.com")

    # then the sync is about to fail to match the contact person: flagged, naming both addresses masked
    assert_decided(
        crm,
        "EMAIL_MISMATCH",
        Decision.FLAG,
        f"{TOM_CRM} email changed from {mask_email('tom@hale.co.uk')} to {mask_email('tom.hale@gmail.com')}",
        f"its partner {TOM_BOOKS} has {mask_email('tom@hale.co.uk')}",
    )
    assert crm.records[:2] == (TOM_CRM, TOM_BOOKS)
    finding = next(f for f in crm.findings if f.code == "EMAIL_MISMATCH")
    said = " ".join((finding.explanation, *finding.evidence))
    assert "gmail.com" in said
    assert "tom@hale.co.uk" not in said
    assert "tom.hale@" not in said


def test_a_paired_books_person_whose_contact_person_email_changes_is_a_mismatch_and_held() -> None:
    # given the pair, with the rule set to quarantine
    replay = Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))
    _paired_tom_hale(replay)

    # when the bookkeeper changes the Books contact person's email
    books = _tom_hale_linked_in_books(replay, "edit", "accounts@hale-joinery.co.uk")

    # then the edited Books customer (no transactions) is the one held back, its CRM partner is not
    assert_decided(
        books,
        "EMAIL_MISMATCH",
        Decision.QUARANTINE,
        f"{TOM_BOOKS} email changed from {mask_email('tom@hale.co.uk')} to "
        f"{mask_email('accounts@hale-joinery.co.uk')}",
        f"its partner {TOM_CRM} has {mask_email('tom@hale.co.uk')}",
    )
    assert replay.shadow.states[TOM_BOOKS].held_by == books.entry_id
    assert replay.shadow.states[TOM_CRM].held_by is None


def test_a_paired_crm_contact_set_to_quarantine_is_held_itself() -> None:
    replay = Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))
    _paired_tom_hale(replay, has_transaction=True)

    crm = _tom_hale_edited_in_crm(replay, "tom.hale@gmail.com")

    # the CRM contact whose email changed is held back from the sync; the invoiced customer stays active
    assert crm.decision is Decision.QUARANTINE
    assert replay.shadow.states[TOM_CRM].held_by == crm.entry_id
    assert replay.shadow.states[TOM_BOOKS].held_by is None


def test_an_invoiced_paired_books_person_edited_away_is_not_held_its_crm_contact_is() -> None:
    replay = Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))
    _paired_tom_hale(replay, has_transaction=True)

    books = _tom_hale_linked_in_books(replay, "edit", "accounts@hale-joinery.co.uk", has_transaction=True)

    assert_held_instead(replay, books, "EMAIL_MISMATCH", held=TOM_CRM, invoiced=TOM_BOOKS)


def test_a_paired_person_edit_that_keeps_an_email_in_common_is_no_mismatch() -> None:
    replay = Replay()
    _paired_tom_hale(replay)
    # re-cased, with spaces around: the same address
    assert "EMAIL_MISMATCH" not in _tom_hale_edited_in_crm(replay, "  Tom@HALE.co.uk ").rules
    # a second contact person with another address, the shared one kept
    books = _tom_hale_linked_in_books(replay, "edit", "tom@hale.co.uk", "accounts@hale-joinery.co.uk")
    assert "EMAIL_MISMATCH" not in books.rules
    # the CRM contact moves to that second address: still one address in common
    assert "EMAIL_MISMATCH" not in _tom_hale_edited_in_crm(replay, "accounts@hale-joinery.co.uk").rules


def test_a_tag_added_to_a_paired_persons_address_is_another_address_to_the_sync() -> None:
    # The matcher reads tom+invoices@ as tom@'s mailbox; the sync compares the addresses as written.
    replay = Replay()
    _paired_tom_hale(replay)
    crm = _tom_hale_edited_in_crm(replay, "Tom+Invoices@hale.co.uk")
    assert_decided(
        crm,
        "EMAIL_MISMATCH",
        Decision.FLAG,
        f"{TOM_CRM} email changed from {mask_email('tom@hale.co.uk')} to "
        f"{mask_email('tom+invoices@hale.co.uk')}",
    )


def test_a_paired_person_whose_email_is_removed_is_checked_when_one_is_typed_in_again() -> None:
    replay = Replay()
    _paired_tom_hale(replay)
    # an email removed leaves no address to disagree on
    assert "EMAIL_MISMATCH" not in _tom_hale_edited_in_crm(replay, "").rules
    assert replay.shadow.states[TOM_CRM].record.email is None
    # the address typed in next is compared with the partner's
    assert "EMAIL_MISMATCH" in _tom_hale_edited_in_crm(replay, "tom.hale@gmail.com").rules


def test_a_paired_company_whose_email_changes_is_no_email_mismatch() -> None:
    # given a CRM account and its linked Books business customer, both at accounts@hale-joinery.co.uk
    replay = Replay()
    replay.crm("create", "5725511", name="Hale Joinery Ltd", email="accounts@hale-joinery.co.uk")
    replay.books(
        "create",
        "460511",
        contact_name="Hale Joinery Ltd",
        zcrm_account_id="5725511",
        email="accounts@hale-joinery.co.uk",
    )
    assert replay.shadow.states["crm:5725511"].partner == "books:460511"
    # when the account's email changes: companies are not paired by email
    edited = replay.crm("edit", "5725511", name="Hale Joinery Ltd", email="office@halejoinery.com")
    assert "EMAIL_MISMATCH" not in edited.rules


def test_a_stale_edit_with_another_email_runs_no_rules() -> None:
    # given the pair, and a CRM edit that Zoho made before the state the shadow holds
    replay = Replay()
    _paired_tom_hale(replay)
    _tom_hale_edited_in_crm(replay, "tom@hale.co.uk")  # a later save: the shadow's state is newer
    old = "2026-03-02T08:00:00+00:00"
    body = {"event": "edit", "module": "Contacts", "id": "5725510", "modified": old, "email": "tom@old.co.uk"}
    stale = replay.send(
        parse_crm_workflow({**body, "first_name": "Tom", "last_name": "Hale"}, received_at=replay.now)
    )
    # then it is old news: audited as stale, no rule runs
    assert stale.kind is EntryKind.STALE
    assert stale.rules == ()
    assert replay.shadow.states[TOM_CRM].record.email == "tom@hale.co.uk"


def test_the_echo_of_the_hold_on_a_paired_person_is_not_decided_again() -> None:
    # given an edited Books person held (marked inactive) for the mismatch
    replay = Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))
    _paired_tom_hale(replay)
    held = _tom_hale_linked_in_books(replay, "edit", "accounts@hale-joinery.co.uk")
    assert replay.shadow.states[TOM_BOOKS].held_by == held.entry_id
    # when Books sends the change back: inactive, nothing else changed
    echo = _tom_hale_linked_in_books(replay, "edit", "accounts@hale-joinery.co.uk", status="inactive")
    # then it is the guard's own echo, allowed without running the rules
    assert echo.kind is EntryKind.SELF_ECHO
    assert echo.rules == ()


# "Accounts & their Contacts": a CRM contact becomes a contact person of the Books customer linked to its
# account, and the sync pairs contact persons by email.
HALE_ACCOUNT, HALE_CUSTOMER, SAM_CRM = "crm:5725520", "books:460520", "crm:5725521"


def _hale_joinery_paired(
    replay: Replay, *persons: dict[str, Any], linked: bool = True, **fields: Any
) -> None:
    """The CRM account and its Books business customer with ``persons``, linked by Zoho or not."""
    replay.crm("create", "5725520", name="Hale Joinery Ltd", email="accounts@hale-joinery.co.uk")
    link = {"zcrm_account_id": "5725520"} if linked else {}
    replay.books(
        "create", "460520", contact_name="Hale Joinery Ltd", contact_persons=list(persons), **link, **fields
    )
    assert replay.shadow.states[HALE_ACCOUNT].partner == (HALE_CUSTOMER if linked else None)


def _sam(email: str, *, person_id: str = "460000000099001", first: str = "Sam") -> dict[str, Any]:
    return {"contact_person_id": person_id, "first_name": first, "last_name": "Okafor", "email": email}


def _sam_in_crm(replay: Replay, event: str, email: str, **fields: Any) -> AuditEntry:
    return replay.crm(
        event,
        "5725521",
        module="Contacts",
        first_name="Sam",
        last_name="Okafor",
        email=email,
        **({"account_id": "5725520"} | fields),
    )


def test_the_shadow_holds_a_books_customers_contact_persons() -> None:
    replay = Replay()
    _hale_joinery_paired(replay, _sam("sam@hale-joinery.co.uk"))
    persons = replay.shadow.states[HALE_CUSTOMER].record.contact_persons
    assert [(p.person_id, p.name, p.email) for p in persons] == [
        ("460000000099001", "Sam Okafor", "sam@hale-joinery.co.uk")
    ]


def test_a_crm_contact_new_under_a_paired_account_whose_namesake_contact_person_has_another_email() -> None:
    # given a CRM account paired with its Books business customer, whose contact person Sam Okafor has a
    # work address
    replay = Replay()
    _hale_joinery_paired(replay, _sam("sam@hale-joinery.co.uk"))

    # when Sam Okafor is created in CRM under the account with a private address
    crm = _sam_in_crm(replay, "create", "sam.okafor@gmail.com")

    # then the sync would add him as a second contact person: flagged, both addresses masked, the contact
    # person named
    assert_decided(
        crm,
        "EMAIL_MISMATCH",
        Decision.FLAG,
        f"{SAM_CRM} email: {mask_email('sam.okafor@gmail.com')}",
        f"its account {HALE_ACCOUNT} is paired with {HALE_CUSTOMER}, whose contact person 'Sam Okafor' "
        f"(460000000099001) has {mask_email('sam@hale-joinery.co.uk')}",
    )
    assert crm.records[:2] == (SAM_CRM, HALE_CUSTOMER)
    finding = next(f for f in crm.findings if f.code == "EMAIL_MISMATCH")
    said = " ".join((finding.explanation, *finding.evidence))
    assert "sam@hale-joinery" not in said
    assert "sam.okafor@" not in said


def test_a_crm_contact_whose_email_changes_away_from_its_contact_person_is_a_mismatch() -> None:
    # given Sam Okafor in CRM under the paired account, with the address his contact person has
    replay = Replay()
    _hale_joinery_paired(replay, _sam("sam@hale-joinery.co.uk"))
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", "Sam@Hale-Joinery.co.uk ").rules

    # when his CRM email is changed
    crm = _sam_in_crm(replay, "edit", "sam.okafor@gmail.com")

    # then the evidence says what it changed from
    assert_decided(
        crm,
        "EMAIL_MISMATCH",
        Decision.FLAG,
        f"{SAM_CRM} email changed from {mask_email('sam@hale-joinery.co.uk')} to "
        f"{mask_email('sam.okafor@gmail.com')}",
        f"whose contact person 'Sam Okafor' (460000000099001) has {mask_email('sam@hale-joinery.co.uk')}",
    )
    # and an edit that leaves the email alone is not checked again
    assert (
        "EMAIL_MISMATCH"
        not in _sam_in_crm(replay, "edit", "sam.okafor@gmail.com", phone="01632 960000").rules
    )


def test_a_namesake_contact_person_sharing_an_email_or_another_persons_name_is_no_mismatch() -> None:
    # given two contact persons named Sam Okafor (one with the CRM contact's address) and a Sami Okafor
    replay = Replay()
    _hale_joinery_paired(
        replay,
        _sam("sam@hale-joinery.co.uk"),
        _sam("sam.okafor@gmail.com", person_id="460000000099002"),
        _sam("sami@hale-joinery.co.uk", person_id="460000000099003", first="Sami"),
    )
    # then a CRM contact with one of the namesakes' addresses shares an email with the sync's pair
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", "SAM.OKAFOR@gmail.com").rules


def test_a_contact_person_of_another_name_with_the_contacts_address_is_no_mismatch() -> None:
    # given the customer's contact persons Sam Okafor (work address) and S. Okafor (his private one)
    replay = Replay()
    _hale_joinery_paired(
        replay,
        _sam("sam@hale-joinery.co.uk"),
        _sam("sam.okafor@gmail.com", person_id="460000000099002", first="S."),
    )
    # then Sam Okafor created in CRM with the private address is paired by it: no second contact person
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", "sam.okafor@gmail.com").rules


def test_a_contact_person_edited_away_while_another_keeps_the_contacts_address_is_no_mismatch() -> None:
    # given Sam Okafor in CRM synced with the contact person of his name and address
    replay = Replay()
    _hale_joinery_paired(replay, _sam("sam@hale-joinery.co.uk"))
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", "sam@hale-joinery.co.uk").rules
    # when Books gives that contact person another address and adds S. Okafor with the old one
    books = replay.books(
        "edit",
        "460520",
        contact_name="Hale Joinery Ltd",
        zcrm_account_id="5725520",
        contact_persons=[
            _sam("sam.okafor@gmail.com"),
            _sam("sam@hale-joinery.co.uk", person_id="460000000099002", first="S."),
        ],
    )
    # then the sync pairs the CRM contact with S. Okafor by that address: no second contact person
    assert "EMAIL_MISMATCH" not in books.rules


def test_a_contact_person_of_another_name_or_without_an_email_is_no_mismatch() -> None:
    replay = Replay()
    _hale_joinery_paired(
        replay,
        _sam("sami@hale-joinery.co.uk", first="Sami"),
        {"contact_person_id": "460000000099004", "first_name": "Sam", "last_name": "Okafor"},
    )
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", "sam.okafor@gmail.com").rules


def test_a_crm_contact_of_an_unpaired_account_is_not_compared_with_contact_persons() -> None:
    # given the Books customer with Sam Okafor's contact person, but not linked to the CRM account
    replay = Replay()
    _hale_joinery_paired(replay, _sam("sam@hale-joinery.co.uk"), linked=False)
    # then the contact is the account's, not that customer's: nothing the sync pairs
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", "sam.okafor@gmail.com").rules


@pytest.mark.parametrize("invoiced", [True, False])
def test_set_to_quarantine_the_crm_contact_is_held_never_the_business_customer(invoiced: bool) -> None:
    # given the rule set to quarantine, the business customer holding transactions or not
    replay = Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))
    _hale_joinery_paired(replay, _sam("sam@hale-joinery.co.uk"), has_transaction=invoiced)

    crm = _sam_in_crm(replay, "create", "sam.okafor@gmail.com")

    # then the CRM contact is taken back from the sync; the customer and its other contacts stay as they are
    assert crm.decision is Decision.QUARANTINE
    assert replay.shadow.states[SAM_CRM].held_by == crm.entry_id
    assert replay.shadow.states[HALE_CUSTOMER].held_by is None
    assert replay.shadow.states[HALE_ACCOUNT].held_by is None


def _about_sam_in_crm_masked(entry: AuditEntry) -> None:
    """The mismatch is about Sam Okafor's CRM contact, and neither of his addresses is in its text."""
    finding = next(f for f in entry.findings if f.code == "EMAIL_MISMATCH")
    assert finding.subject == SAM_CRM
    said = " ".join((finding.explanation, *finding.evidence))
    assert "sam@hale-joinery" not in said
    assert "sam.okafor@" not in said


def _sam_synced_as_contact_person(replay: Replay, **fields: Any) -> None:
    """Sam Okafor in CRM under the paired account and as the customer's contact person, one address."""
    _hale_joinery_paired(replay, _sam("sam.okafor@gmail.com"), **fields)
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", "sam.okafor@gmail.com").rules


def _hale_joinery_edited(replay: Replay, *persons: dict[str, Any], **fields: Any) -> AuditEntry:
    return replay.books(
        "edit",
        "460520",
        contact_name="Hale Joinery Ltd",
        zcrm_account_id="5725520",
        contact_persons=list(persons),
        **fields,
    )


def test_a_contact_person_whose_email_is_edited_away_from_its_crm_contact_is_a_mismatch() -> None:
    # given Sam Okafor synced from CRM as a contact person of the paired business customer
    replay = Replay()
    _sam_synced_as_contact_person(replay)

    # when the bookkeeper changes the contact person's email to his work address
    books = _hale_joinery_edited(replay, _sam("sam@hale-joinery.co.uk"))

    # then the CRM contact, which shares no key with the edited customer, was read under the address
    # dropped, and no longer matches it: flagged, naming the contact person and both addresses
    assert_decided(
        books,
        "EMAIL_MISMATCH",
        Decision.FLAG,
        f"{HALE_CUSTOMER} contact person 'Sam Okafor' (460000000099001) email changed from "
        f"{mask_email('sam.okafor@gmail.com')} to {mask_email('sam@hale-joinery.co.uk')}",
        f"the CRM contact {SAM_CRM} has {mask_email('sam.okafor@gmail.com')}",
    )
    _about_sam_in_crm_masked(books)


def test_a_contact_person_edit_that_keeps_an_address_in_common_is_no_mismatch() -> None:
    replay = Replay()
    _sam_synced_as_contact_person(replay)
    # re-cased, with a namesake added at another address: Sam's address is still there
    second = _sam("sam@hale-joinery.co.uk", person_id="460000000099002")
    reads = replay.shadow.calls["read"]
    books = _hale_joinery_edited(replay, _sam(" Sam.Okafor@GMAIL.com"), second)
    assert "EMAIL_MISMATCH" not in books.rules
    # no address dropped: the shadow is read once, as for any event
    assert replay.shadow.calls["read"] == reads + 1
    # the contact person removed: nothing left for the sync to pair by email, no address to disagree on
    assert "EMAIL_MISMATCH" not in _hale_joinery_edited(replay).rules


@pytest.mark.parametrize("invoiced", [True, False])
def test_set_to_quarantine_a_contact_person_edited_away_holds_the_crm_contact(invoiced: bool) -> None:
    replay = Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))
    _sam_synced_as_contact_person(replay, has_transaction=invoiced)

    books = _hale_joinery_edited(replay, _sam("sam@hale-joinery.co.uk"), has_transaction=invoiced)

    assert books.decision is Decision.QUARANTINE
    assert replay.shadow.states[SAM_CRM].held_by == books.entry_id
    assert replay.shadow.states[HALE_CUSTOMER].held_by is None


def _sam_synced_beside_a_namesake(replay: Replay) -> dict[str, Any]:
    """Sam Okafor synced as contact person 460000000099001 of the paired customer, beside another contact
    person of his name at another address (returned)."""
    namesake = _sam("s.okafor@hale-joinery.co.uk", person_id="460000000099002")
    _hale_joinery_paired(replay, _sam("sam.okafor@gmail.com"), namesake)
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", "sam.okafor@gmail.com").rules
    return namesake


def test_a_contact_person_edited_away_beside_a_namesake_is_the_one_named() -> None:
    # given Sam's contact person beside a namesake at another address
    replay = Replay()
    namesake = _sam_synced_beside_a_namesake(replay)

    # when the bookkeeper changes Sam's contact person's address (Books lists the namesake first)
    books = _hale_joinery_edited(replay, namesake, _sam("sam@hale-joinery.co.uk"))

    # then the evidence names the contact person whose address changed, and what it changed to
    [finding] = [f for f in books.findings if f.code == "EMAIL_MISMATCH"]
    assert finding.evidence[0] == (
        f"{HALE_CUSTOMER} contact person 'Sam Okafor' (460000000099001) email changed from "
        f"{mask_email('sam.okafor@gmail.com')} to {mask_email('sam@hale-joinery.co.uk')}"
    )


def test_a_contact_person_removed_beside_a_namesake_is_no_email_change() -> None:
    # given Sam's contact person beside a namesake at another address
    replay = Replay()
    namesake = _sam_synced_beside_a_namesake(replay)

    # when Sam's contact person is removed: no contact person's email was changed
    books = _hale_joinery_edited(replay, namesake)

    # then no finding says the namesake's email changed from Sam's address to its own
    assert "EMAIL_MISMATCH" not in books.rules


def test_a_contact_person_edited_away_again_after_its_crm_contact_was_released_is_not_held_again() -> None:
    # given Sam's contact person edited away, the CRM contact held, and an admin releasing it: judged not a
    # duplicate of the business customer
    replay = Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))
    _sam_synced_as_contact_person(replay)
    held = _hale_joinery_edited(replay, _sam("sam@hale-joinery.co.uk"))
    assert replay.shadow.states[SAM_CRM].held_by == held.entry_id
    replay.release(SAM_CRM)
    assert HALE_CUSTOMER in replay.shadow.states[SAM_CRM].cleared

    # when the bookkeeper puts the address back, then changes it away again
    assert "EMAIL_MISMATCH" not in _hale_joinery_edited(replay, _sam("sam.okafor@gmail.com")).rules
    again = _hale_joinery_edited(replay, _sam("sam@hale-joinery.co.uk"))

    # then the guard does not hold the contact again for what the admin judged
    assert "EMAIL_MISMATCH" not in again.rules
    assert replay.shadow.states[SAM_CRM].held_by is None


def test_an_edit_of_a_customer_whose_contact_person_of_another_name_has_the_contacts_address() -> None:
    # given Sam Okafor in CRM, paired by his address with the customer's contact person 'Accounts Office'
    replay = Replay()
    office = {"contact_person_id": "460000000099006", "first_name": "Accounts", "last_name": "Office"}
    _hale_joinery_paired(replay, office | {"email": "sam@hale-joinery.co.uk"})
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", "sam@hale-joinery.co.uk").rules

    # when the customer is edited (its phone), the contact read with it through the address they share
    books = _hale_joinery_edited(replay, office | {"email": "sam@hale-joinery.co.uk"}, phone="01632 960001")

    # then no contact person of Sam's name had his address: none was edited away from it
    assert "EMAIL_MISMATCH" not in books.rules


def test_a_contact_person_without_an_id_edited_away_is_a_mismatch_naming_it_by_name() -> None:
    # given Sam synced as a contact person of the customer, which Books lists without a contact_person_id
    replay = Replay()
    sam = {"first_name": "Sam", "last_name": "Okafor"}
    _hale_joinery_paired(replay, sam | {"email": "sam.okafor@gmail.com"})
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", "sam.okafor@gmail.com").rules

    # when his contact person's address is changed
    books = _hale_joinery_edited(replay, sam | {"email": "sam@hale-joinery.co.uk"})

    # then the namesake with an address is the one changed, named without an id
    assert_decided(
        books,
        "EMAIL_MISMATCH",
        Decision.FLAG,
        f"{HALE_CUSTOMER} contact person 'Sam Okafor' email changed from "
        f"{mask_email('sam.okafor@gmail.com')} to {mask_email('sam@hale-joinery.co.uk')}",
        f"the CRM contact {SAM_CRM} has {mask_email('sam.okafor@gmail.com')}",
    )


def test_a_crm_contact_whose_name_is_a_placeholder_has_no_namesake_contact_person() -> None:
    # given the customer's contact person entered with a placeholder for a name ("-")
    replay = Replay()
    placeholder = {"contact_person_id": "460000000099005", "last_name": "-"}
    _hale_joinery_paired(replay, placeholder | {"email": "office@hale-joinery.co.uk"})

    # when a CRM contact under the account is created with the same placeholder (CRM requires a last name)
    crm = replay.crm(
        "create", "5725521", module="Contacts", last_name="-", email="sam@gmail.com", account_id="5725520"
    )

    # then a name that normalises to nothing names no one: not the same person, no mismatch
    assert "EMAIL_MISMATCH" not in crm.rules


# Sole trader Jane Smith: her CRM account and its contact (her), and two Books customers synced from them.
JANE_CRM, JANE_BUSINESS = "crm:5725931", "books:460930"
JANE_CONTACT = {"module": "Contacts", "first_name": "Jane", "last_name": "Smith", "account_id": "5725930"}
JANE_INDIVIDUAL = {
    "contact_name": "Jane Smith",
    "customer_sub_type": "individual",
    "zcrm_contact_id": "5725931",
}


def _jane_judged_distinct_from_the_business_customer(replay: Replay, email: str) -> None:
    """Jane synced to Books from her CRM account (the business customer, whose contact person she is) and
    from her contact (an individual, with the invoices): MIXED_MAPPING holds the business customer, and an
    admin's release judges it not a duplicate of the contact."""
    replay.crm("create", "5725930", name="Jane Smith Design")
    replay.crm("create", "5725931", email=email, **JANE_CONTACT)
    person = {"contact_person_id": "460000000099301", "first_name": "Jane", "last_name": "Smith"}
    business = {"contact_name": "Jane Smith Design", "email": email, "zcrm_account_id": "5725930"}
    replay.books("create", "460930", contact_persons=[person | {"email": email}], **business)
    mixed = replay.books("create", "460931", email=email, has_transaction=True, **JANE_INDIVIDUAL)
    assert replay.shadow.states[JANE_BUSINESS].held_by == mixed.entry_id
    replay.release(JANE_BUSINESS)
    assert JANE_CRM in replay.shadow.states[JANE_BUSINESS].cleared


def test_a_crm_contact_edited_away_from_a_customer_released_as_not_its_duplicate_is_no_mismatch() -> None:
    # given the business customer judged not a duplicate of Jane's CRM contact (its own list says so, the
    # contact's does not: the hold was the customer's)
    replay = Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))
    _jane_judged_distinct_from_the_business_customer(replay, "jane@smithdesign.co.uk")
    assert JANE_BUSINESS not in replay.shadow.states[JANE_CRM].cleared

    # when her new address is put on the individual in Books (a payload that does not say it holds
    # transactions), then on the CRM contact: the business customer's contact person keeps the old one
    books = replay.books("edit", "460931", email="jane@janesmith.studio", **JANE_INDIVIDUAL)
    crm = replay.crm("edit", "5725931", email="jane@janesmith.studio", **JANE_CONTACT)

    # then the Books edit, apart from its partner, holds the contact instead of the invoiced individual
    # the shadow knows of (before: it chose the individual, which was spared, and nothing was held)
    assert_held_instead(replay, books, "EMAIL_MISMATCH", held=JANE_CRM, invoiced="books:460931")
    # and the contact's edit is no mismatch with the business customer, for what the admin judged, as from
    # the customer's side (before: only the contact's own list was read, and the contact was held for it)
    assert "EMAIL_MISMATCH" not in crm.rules
    assert crm.decision is Decision.ALLOW
    assert replay.shadow.states[JANE_CRM].held_by == books.entry_id


def _sam_before_the_pairing(replay: Replay, email: str) -> None:
    """The CRM account, not yet in Books, and its contact Sam Okafor with ``email``: nothing to compare."""
    replay.crm("create", "5725520", name="Hale Joinery Ltd", email="accounts@hale-joinery.co.uk")
    assert "EMAIL_MISMATCH" not in _sam_in_crm(replay, "create", email).rules


def _hale_joinery_linked(replay: Replay, *persons: dict[str, Any]) -> AuditEntry:
    """The account's Books customer created, linked to it, with ``persons``."""
    return replay.books(
        "create",
        "460520",
        contact_name="Hale Joinery Ltd",
        zcrm_account_id="5725520",
        contact_persons=list(persons),
    )


def test_a_books_customer_created_linked_to_an_account_whose_contact_has_another_email() -> None:
    # given Sam Okafor in CRM under an account that has no Books customer yet, with a private address
    replay = Replay()
    _sam_before_the_pairing(replay, "sam.okafor@gmail.com")

    # when the account's Books customer is created, linked to it, with Sam as its contact person at his
    # work address
    books = _hale_joinery_linked(replay, _sam("sam@hale-joinery.co.uk"))

    # then the contact, which shares no key with the customer, was looked for under the contact person's
    # name and found apart from it: flagged, the CRM contact its subject, both addresses masked
    assert_decided(
        books,
        "EMAIL_MISMATCH",
        Decision.FLAG,
        f"{HALE_CUSTOMER} is linked to {HALE_ACCOUNT}; its contact person 'Sam Okafor' (460000000099001) has "
        f"{mask_email('sam@hale-joinery.co.uk')}",
        f"the CRM contact {SAM_CRM} of {HALE_ACCOUNT} has {mask_email('sam.okafor@gmail.com')}",
    )
    _about_sam_in_crm_masked(books)


def test_a_books_customer_linked_later_to_an_account_whose_contact_has_another_email_is_a_mismatch() -> None:
    # given Sam Okafor in CRM, and the account's Books customer made in Books, not linked
    replay = Replay()
    _sam_before_the_pairing(replay, "sam.okafor@gmail.com")
    unlinked = {"contact_name": "Hale Joinery Ltd", "contact_persons": [_sam("sam@hale-joinery.co.uk")]}
    assert "EMAIL_MISMATCH" not in replay.books("create", "460520", **unlinked).rules

    # when the sync links it to the account
    books = replay.books("edit", "460520", zcrm_account_id="5725520", **unlinked)

    # then the mismatch is found on the link
    assert "EMAIL_MISMATCH" in books.rules
    # and an edit of the linked customer that changes nothing of its persons is not checked again
    again = replay.books("edit", "460520", zcrm_account_id="5725520", phone="01632 960000", **unlinked)
    assert "EMAIL_MISMATCH" not in again.rules


@pytest.mark.parametrize(
    "person",
    [
        _sam("Sam.Okafor@gmail.com "),  # the contact's address, as the sync compares it
        _sam("sam@hale-joinery.co.uk", first="Samuel"),  # another name
        {"contact_person_id": "460000000099001", "first_name": "Sam", "last_name": "Okafor"},  # no address
    ],
)
def test_a_books_customer_linked_with_its_contacts_address_or_no_namesake_is_no_mismatch(
    person: dict[str, Any],
) -> None:
    replay = Replay()
    _sam_before_the_pairing(replay, "sam.okafor@gmail.com")
    books = _hale_joinery_linked(replay, person)
    assert "EMAIL_MISMATCH" not in books.rules


def test_a_crm_contact_moved_under_a_paired_account_apart_from_its_namesake_contact_person() -> None:
    # given the paired account and customer, Sam Okafor its contact person at his work address, and Sam
    # in CRM at his private address under another account, with no Books customer
    replay = Replay()
    _hale_joinery_paired(replay, _sam("sam@hale-joinery.co.uk"))
    replay.crm("create", "5725600", name="Okafor Carpentry")
    assert (
        "EMAIL_MISMATCH"
        not in _sam_in_crm(replay, "create", "sam.okafor@gmail.com", account_id="5725600").rules
    )

    # when the contact is moved under the paired account, its address unchanged
    crm = _sam_in_crm(replay, "edit", "sam.okafor@gmail.com")

    # then it is compared with the customer's contact persons as a new contact of the account would be
    assert_decided(
        crm,
        "EMAIL_MISMATCH",
        Decision.FLAG,
        f"{SAM_CRM} moved to the account {HALE_ACCOUNT}; its email: {mask_email('sam.okafor@gmail.com')}",
        f"its account {HALE_ACCOUNT} is paired with {HALE_CUSTOMER}, whose contact person 'Sam Okafor' "
        f"(460000000099001) has {mask_email('sam@hale-joinery.co.uk')}",
    )
    # and an edit that moves nothing and keeps its address is not checked again
    assert (
        "EMAIL_MISMATCH"
        not in _sam_in_crm(replay, "edit", "sam.okafor@gmail.com", phone="01632 960000").rules
    )
