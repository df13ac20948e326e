"""Seed pattern 2: sales raise the account while the bookkeeper raises the customer the same day."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from sync_guard.guard.policy import Policy
from tests.unit.rules.replay import Replay, assert_decided, assert_held_instead


def test_both_sides_created_the_same_morning() -> None:
    replay = Replay()
    first = replay.crm("create", "5725100", name="Brightwater Ltd")
    assert first.decision is Decision.ALLOW

    books = replay.books("create", "460100", minutes=30, contact_name="Brightwater Limited")

    assert_decided(books, "BOTH_SIDES_CREATED", Decision.FLAG, "crm:5725100 created", "not paired")
    assert "NAME_DRIFT" not in books.rules
    assert books.records[:2] == ("books:460100", "crm:5725100")
    assert [a.kind.value for a in books.actions] == ["notify_finance"]


def test_the_bookkeeper_first_then_sales_is_both_sides_not_drift() -> None:
    # the other order: the CRM account is the event, and the Books customer a candidate NAME_DRIFT also sees
    replay = Replay()
    replay.books("create", "460101", contact_name="Brightwater Limited")

    crm = replay.crm("create", "5725101", minutes=30, name="Brightwater Ltd")

    assert_decided(crm, "BOTH_SIDES_CREATED", Decision.FLAG, "books:460101 created", "not paired")
    assert "NAME_DRIFT" not in crm.rules


def test_records_created_far_apart_are_not_both_sides() -> None:
    replay = Replay()
    replay.crm("create", "5725100", name="Brightwater Ltd")
    books = replay.books("create", "460100", minutes=60 * 24 * 10, contact_name="Brightwater Limited")
    assert "BOTH_SIDES_CREATED" not in books.rules


def test_set_to_quarantine_it_never_holds_an_invoiced_customer_met_through_an_edit() -> None:
    # given an admin who set the rule to quarantine, and a shadow that never saw the Books customer created:
    # the bookkeeper raised and invoiced it the morning sales raised the account
    replay = Replay(policy=Policy.build({"BOTH_SIDES_CREATED": "quarantine"}))
    replay.crm("create", "5725100", name="Brightwater Ltd")

    books = replay.books(
        "edit", "460100", minutes=30, contact_name="Brightwater Limited", has_transaction=True
    )

    # then the hold takes the CRM copy back from the sync, not the customer being invoiced
    assert_held_instead(replay, books, "BOTH_SIDES_CREATED", held="crm:5725100", invoiced="books:460100")


def _synced(replay: Replay, crm_name: str) -> None:
    """Sales' CRM account 5725100 (``crm_name``) and the Books customer the sync made of it, "Brightwater
    Ltd", paired by Zoho's link, the morning before."""
    replay.crm("create", "5725100", name=crm_name)
    linked = replay.books("create", "460100", contact_name="Brightwater Ltd", zcrm_account_id="5725100")
    assert "BOTH_SIDES_CREATED" not in linked.rules


def test_a_crm_duplicate_of_a_synced_customer_is_a_same_side_duplicate_naming_its_books_customer() -> None:
    # given a customer already synced (its CRM account paired with its Books customer)
    replay = Replay()
    _synced(replay, "Brightwater Ltd")

    # when sales raise the company again in CRM, the same morning
    crm = replay.crm("create", "5725200", minutes=30, name="Brightwater Limited")

    # then the paired Books customer is not taken for one finance created alongside (BOTH_SIDES_CREATED
    # skips it), but the new account is flagged as a CRM duplicate of its partner, naming the customer
    assert "BOTH_SIDES_CREATED" not in crm.rules
    assert "SAME_SIDE_DUPLICATE" in crm.rules
    [same_side] = [f for f in crm.findings if f.code == "SAME_SIDE_DUPLICATE"]
    assert "crm:5725100 is synced to Books customer books:460100" in " ".join(same_side.evidence)
    assert {"crm:5725100", "books:460100"} <= set(same_side.related)


def test_a_books_copy_of_a_synced_customer_is_flagged_as_a_books_duplicate_not_both_sides() -> None:
    # given a customer already synced
    replay = Replay()
    _synced(replay, "Brightwater Ltd")

    # when the bookkeeper raises it again in Books by hand, unlinked, the same morning
    books = replay.books("create", "460200", minutes=30, contact_name="Brightwater Limited")

    # then the paired CRM account is not taken for one sales created alongside, but the copy is flagged
    assert "BOTH_SIDES_CREATED" not in books.rules
    assert books.decision is not Decision.ALLOW, books.rules
    assert "books:460100" in books.records


def test_a_crm_duplicate_of_a_synced_customer_whose_crm_name_drifted_is_flagged() -> None:
    # given a customer synced under another name in CRM (renamed there since: "BW Holdings")
    replay = Replay()
    _synced(replay, "BW Holdings")

    # when sales raise "Brightwater Limited" in CRM: no duplicate of the CRM account by name, but one of
    # its Books customer, which the sync will copy the new account next to
    crm = replay.crm("create", "5725200", minutes=30, name="Brightwater Limited")

    # then it is flagged all the same
    assert "BOTH_SIDES_CREATED" not in crm.rules
    assert crm.decision is not Decision.ALLOW, (crm.rules, crm.note)
    assert "books:460100" in crm.records
