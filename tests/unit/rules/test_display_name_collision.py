"""Books display names are unique: a CRM record whose name is taken will fail with error 3062."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import Replay, assert_decided


def test_display_name_collision_on_create() -> None:
    replay = Replay()
    replay.crm("create", "5725600", name="Harbour Foods Ltd")
    replay.books("create", "460600", contact_name="Harbour Foods Ltd", zcrm_account_id="5725600")

    second = replay.crm("create", "5725601", name="Harbour Foods Ltd")

    assert_decided(
        second,
        "DISPLAY_NAME_COLLISION",
        Decision.FLAG,
        "display name 'Harbour Foods Ltd' is taken by books:460600",
    )
    assert "3062" in next(f for f in second.findings if f.code == "DISPLAY_NAME_COLLISION").explanation


def test_renaming_into_a_taken_name_collides_but_the_own_partner_does_not() -> None:
    replay = Replay()
    replay.crm("create", "5725602", name="Quayside Bakery")
    replay.books("create", "460602", contact_name="Quayside Bakery Ltd", zcrm_account_id="5725602")
    replay.crm("create", "5725603", name="Quayside Cafe Ltd")
    # renamed to the name its own Books customer has: the sync updates that customer, no clash
    own_rename = replay.crm("edit", "5725602", name="Quayside Bakery Ltd", phone="+44 117 496 0000")
    assert "DISPLAY_NAME_COLLISION" not in own_rename.rules
    renamed = replay.crm("edit", "5725603", name="Quayside Bakery Ltd")
    assert_decided(renamed, "DISPLAY_NAME_COLLISION", Decision.FLAG, "taken by books:460602")


def test_the_name_of_a_deleted_books_customer_is_free_again() -> None:
    # given a Books customer that was deleted
    replay = Replay()
    replay.books("create", "460604", contact_name="Tidewater Joinery Ltd")
    replay.books("delete", "460604")
    # when a CRM account takes its name, Books has no live customer of that name to clash with
    created = replay.crm("create", "5725604", name="Tidewater Joinery Ltd")
    assert "DISPLAY_NAME_COLLISION" not in created.rules
