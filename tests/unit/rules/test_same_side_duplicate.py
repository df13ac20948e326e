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
