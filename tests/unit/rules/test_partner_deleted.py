"""Seed pattern 3: someone tidied up Books and deleted a customer whose CRM account lives on."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import Replay, assert_decided


def test_books_customer_deleted_while_crm_account_lives() -> None:
    replay = Replay()
    replay.crm("create", "5725200", name="Kestrel Logistics Ltd")
    replay.books("create", "460200", contact_name="Kestrel Logistics Ltd", zcrm_account_id="5725200")
    assert replay.shadow.states["crm:5725200"].partner == "books:460200"

    deleted = replay.books("delete", "460200")

    assert_decided(
        deleted, "PARTNER_DELETED", Decision.FLAG, "books:460200 deleted", "was paired with crm:5725200"
    )
    finding = deleted.findings[0]
    assert finding.subject == "crm:5725200"
    assert "recreat" in finding.explanation or "new customer" in finding.explanation
    assert replay.shadow.states["crm:5725200"].partner is None
    assert replay.shadow.states["crm:5725200"].former_partner == "books:460200"


def test_crm_account_deleted_leaves_the_books_customer_unmapped() -> None:
    replay = Replay()
    replay.crm("create", "5725201", name="Osprey Media Ltd")
    replay.books("create", "460201", contact_name="Osprey Media Ltd", zcrm_account_id="5725201")
    deleted = replay.crm("delete", "5725201")
    assert_decided(deleted, "PARTNER_DELETED", Decision.FLAG, "crm:5725201 deleted")
    assert deleted.findings[0].subject == "books:460201"


def test_deleting_a_second_customer_linked_to_the_account_is_the_clean_up_not_a_loss() -> None:
    # The seed's fix, step 5: the duplicate the guard held (a second customer linked to the account)
    # is deleted; the account's own pair lives on.
    replay = Replay()
    replay.crm("create", "5725202", name="Lapwing Ltd")
    replay.books("create", "460202", contact_name="Lapwing Ltd", zcrm_account_id="5725202")
    replay.books("create", "460203", contact_name="Lapwing Ltd (2)", zcrm_account_id="5725202")

    deleted = replay.books("delete", "460203")

    assert deleted.decision is Decision.ALLOW
    assert "PARTNER_DELETED" not in deleted.rules
    assert replay.shadow.states["crm:5725202"].partner == "books:460202"
