"""Added rule: duplicates created in CRM; each becomes one more Books customer once synced."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import Replay, assert_decided


def test_same_side_duplicate_in_crm() -> None:
    replay = Replay()
    replay.crm("create", "5726000", name="Northwind Traders Ltd")
    second = replay.crm("create", "5726001", name="Northwind Traders Limited")
    assert_decided(second, "SAME_SIDE_DUPLICATE", Decision.FLAG, "'Limited'")
    assert second.records[:2] == ("crm:5726001", "crm:5726000")


def test_different_companies_are_not_duplicates() -> None:
    replay = Replay()
    replay.crm("create", "5726002", name="Bank of the West")
    second = replay.crm("create", "5726003", name="Bank of the East")
    assert second.rules == ()
    assert second.decision is Decision.ALLOW


def test_a_contact_for_the_person_of_an_account_is_not_a_same_side_duplicate() -> None:
    # given a sole trader's CRM account, then a CRM contact for the same person (the same name and email):
    # a duplicate by the matcher, but a contact is not a second account
    replay = Replay()
    replay.crm("create", "5726004", name="Morgan Hale", email="morgan@hale-joinery.co.uk")
    contact = replay.crm(
        "create",
        "5726005",
        module="Contacts",
        first_name="Morgan",
        last_name="Hale",
        email="morgan@hale-joinery.co.uk",
    )
    # then the rule compares records of one module only
    assert "SAME_SIDE_DUPLICATE" not in contact.rules


def test_only_a_new_record_is_a_same_side_duplicate_not_an_edit_of_it() -> None:
    # given a CRM duplicate, flagged when it was created
    replay = Replay()
    replay.crm("create", "5726006", name="Northwind Traders Ltd")
    created = replay.crm("create", "5726007", name="Northwind Traders Limited")
    assert "SAME_SIDE_DUPLICATE" in created.rules
    # when it is edited later, the duplicate is not news
    edited = replay.crm("edit", "5726007", name="Northwind Traders Limited", phone="+44 20 7946 0000")
    assert "SAME_SIDE_DUPLICATE" not in edited.rules


def test_a_same_side_duplicate_names_the_books_customer_the_existing_record_is_synced_to() -> None:
    # given a CRM account the sync paired with a Books customer of another display name (its link says so)
    replay = Replay()
    replay.crm("create", "5726010", name="Northwind Traders Ltd", phone="+44 20 7946 0101")
    replay.books(
        "create",
        "460000000026010",
        contact_name="NW Traders (invoicing)",
        zcrm_account_id="5726010",
        has_transaction=True,
    )
    # when a new CRM account duplicates it
    second = replay.crm("create", "5726011", name="Northwind Traders Limited", phone="+44 20 7946 0101")
    # then the finding names that Books customer (the one finance invoices), in its records and evidence
    finding = next(f for f in second.findings if f.code == "SAME_SIDE_DUPLICATE")
    assert finding.related == ("crm:5726010", "books:460000000026010")
    assert "books:460000000026010" in second.records
    assert any(
        "crm:5726010 is synced to Books customer books:460000000026010" in line for line in finding.evidence
    )


def test_a_same_side_duplicate_of_an_unsynced_record_names_no_books_customer() -> None:
    replay = Replay()
    replay.crm("create", "5726012", name="Northwind Traders Ltd")
    second = replay.crm("create", "5726013", name="Northwind Traders Limited")
    finding = next(f for f in second.findings if f.code == "SAME_SIDE_DUPLICATE")
    assert finding.related == ("crm:5726012",)
    assert not any("synced to Books customer" in line for line in finding.evidence)
