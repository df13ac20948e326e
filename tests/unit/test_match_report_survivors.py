"""Which copy the match report suggests keeping when an administrator has marked the others."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from sync_guard.exports.report.clusters import Cluster, is_sync_pair
from sync_guard.exports.report.wording import transactions_in_words
from sync_guard.models.records import Module, PartyRecord, System


def crm(record_id: str, name: str, created: str) -> PartyRecord:
    return record(System.CRM, Module.CRM_ACCOUNTS, record_id, name, created)


def books(record_id: str, name: str, created: str, outstanding: str = "0") -> PartyRecord:
    return record(System.BOOKS, Module.BOOKS_CUSTOMERS, record_id, name, created, Decimal(outstanding))


def record(
    system: System,
    module: Module,
    record_id: str,
    name: str,
    created: str,
    outstanding: Decimal | None = None,
) -> PartyRecord:
    return PartyRecord(
        system=system,
        record_id=record_id,
        module=module,
        name=name,
        created_at=datetime.fromisoformat(created),
        outstanding=outstanding,
    )


def test_a_copy_marked_to_retire_is_not_the_one_to_keep_though_older() -> None:
    cluster = Cluster(
        1,
        [
            crm("c1", "DUPLICATE - Acme Widgets Ltd", "2019-01-01"),
            crm("c2", "Acme Widgets Ltd", "2021-06-01"),
            books("b1", "ZZ Acme Widgets Ltd", "2019-01-02"),
            books("b2", "Acme Widgets Limited", "2021-06-02"),
        ],
    )
    cluster.choose_survivors()
    assert cluster.crm_survivor is not None
    assert cluster.books_survivor is not None
    assert (cluster.crm_survivor.record_id, cluster.books_survivor.record_id) == ("c2", "b2")
    assert cluster.crm_reason.startswith("created first: the longer history (copies marked")


def test_transactions_outweigh_a_mark() -> None:
    # Moving invoices is the costly part of a clean-up: the copy holding them stays, marked or not.
    cluster = Cluster(
        1,
        [
            books("b1", "DO NOT USE Acme Ltd", "2019-01-02", outstanding="120.00"),
            books("b2", "Acme Ltd", "2021-01-01"),
        ],
    )
    cluster.choose_survivors()
    assert cluster.books_survivor is not None
    assert cluster.books_survivor.record_id == "b1"
    assert cluster.books_reason.startswith("the only copy with an outstanding balance")


def test_nothing_outstanding_leaves_transactions_unknown_and_says_so() -> None:
    # A customer who paid every invoice owes nothing: zero outstanding is no proof of no transactions.
    cluster = Cluster(
        1,
        [
            books("b1", "Greenway Landscapes Ltd", "2015-02-01", outstanding="0.00"),
            books("b2", "Greenway Landscapes Ltd (2)", "2025-06-10", outstanding="120.00"),
        ],
    )
    cluster.choose_survivors()
    assert cluster.books_survivor is not None
    assert cluster.books_survivor.record_id == "b2"
    assert cluster.books_reason == (
        "the only copy with an outstanding balance; transactions of b1 unknown: check them in Books "
        "before deactivating"
    )


def test_a_copy_the_export_says_has_no_transactions_is_no_unknown() -> None:
    paid_up = books("b1", "Acme Ltd", "2015-02-01").model_copy(update={"has_transactions": False})
    cluster = Cluster(1, [paid_up, books("b2", "Acme Ltd (2)", "2025-06-10", outstanding="120.00")])
    cluster.choose_survivors()
    assert cluster.books_reason == "the only copy with an outstanding balance"


def test_books_linked_to_the_crm_copy_merged_away_is_re_pointed_first() -> None:
    # Merging CRM c2 into c1 while Books b1 still points at c2 makes the seed's CRM-merge orphan.
    linked = books("b1", "Thames Valley Bakery", "2021-01-01", outstanding="90.00")
    cluster = Cluster(
        1,
        [
            crm("c1", "Thames Valley Bakery", "2015-05-05"),
            crm("c2", "The Thames Valley Bakery Ltd", "2022-05-05"),
            linked.model_copy(update={"linked_crm_id": "c2"}),
        ],
    )
    cluster.choose_survivors()
    assert [r.record_id for r in cluster.repoint] == ["b1"]
    assert cluster.repoint_note() == (
        "re-point Books b1 (linked to CRM c2) to CRM c1 before merging the CRM records"
    )


def test_a_books_copy_to_deactivate_needs_no_re_pointing() -> None:
    kept = books("b1", "Acme Ltd", "2019-01-01", outstanding="10")
    retired = books("b2", "Acme Limited", "2020-01-01").model_copy(update={"has_transactions": False})
    cluster = Cluster(
        1,
        [
            crm("c1", "Acme Ltd", "2018-01-01"),
            crm("c2", "Acme Limited", "2020-01-01"),
            kept.model_copy(update={"linked_crm_id": "c1"}),
            retired.model_copy(update={"linked_crm_id": "c2"}),
        ],
    )
    cluster.choose_survivors()
    assert cluster.repoint == []
    assert cluster.repoint_note() == ""


def test_an_active_copy_is_kept_over_an_inactive_one_when_transactions_do_not_decide() -> None:
    older = books("b1", "Marlow Joinery Ltd", "2016-02-01").model_copy(update={"active": False})
    cluster = Cluster(1, [older, books("b2", "Marlow Joinery Limited", "2021-06-10")])
    cluster.choose_survivors()
    assert cluster.books_survivor is not None
    assert cluster.books_survivor.record_id == "b2"
    assert cluster.books_reason.startswith("no copy is known to hold transactions; the only active copy")


def test_transactions_outweigh_being_active() -> None:
    inactive = books("b1", "Acme Ltd", "2016-02-01", outstanding="50").model_copy(update={"active": False})
    cluster = Cluster(1, [inactive, books("b2", "Acme Limited", "2021-06-10")])
    cluster.choose_survivors()
    assert cluster.books_survivor is not None
    assert cluster.books_survivor.record_id == "b1"


def linked(record: PartyRecord, crm_id: str) -> PartyRecord:
    return record.model_copy(update={"linked_crm_id": crm_id})


def relink_note(*members: PartyRecord, crm_exported: set[str] | None) -> str:
    """The sync link the report asks to repair for a cluster of these records."""
    cluster = Cluster(1, list(members))
    cluster.choose_survivors(crm_exported=crm_exported)
    return cluster.relink_note()


def test_the_crm_link_moves_to_the_books_copy_kept_from_the_one_deactivated() -> None:
    # The sync links CRM c1 to b2; b1 holds the money and stays. Deactivating b2 while c1 is linked to
    # it would make the sync's next edit of c1 create a third customer.
    assert (
        relink_note(
            crm("c1", "Acme Ltd", "2015-03-01"),
            books("b1", "Acme Limited", "2015-02-01", outstanding="1250.50"),
            linked(books("b2", "Acme Ltd", "2015-03-02"), "c1"),
            crm_exported={"c1"},
        )
        == "link CRM c1 to Books b1 instead of Books b2, before deactivating it"
    )


def test_a_lone_books_copy_linked_to_a_crm_record_gone_is_linked_to_the_one_here() -> None:
    # The seed's CRM merge: b1's CRM record was merged into c1, which is the one it copies.
    lone = linked(books("b1", "Greenway Landscapes Ltd", "2018-01-02"), "c9")
    note = relink_note(crm("c1", "Greenway Landscapes Ltd", "2018-01-01"), lone, crm_exported={"c1"})
    assert note == "link CRM c1 to Books b1"


def test_a_books_copy_kept_and_already_linked_needs_no_new_link() -> None:
    kept = linked(books("b1", "Acme Limited", "2015-02-01", outstanding="10"), "c1")
    other = books("b2", "Acme Ltd", "2015-03-02")
    assert relink_note(crm("c1", "Acme Ltd", "2015-03-01"), kept, other, crm_exported={"c1"}) == ""


def test_without_a_crm_record_here_the_link_of_the_copy_deactivated_moves_unless_it_is_gone() -> None:
    members = (
        books("b1", "Acme Limited", "2015-02-01", outstanding="10"),
        linked(books("b2", "Acme Ltd", "2015-03-02"), "c1"),
    )
    # No CRM export: the link is all there is to go by.
    moved = relink_note(*members, crm_exported=None)
    assert moved == "link CRM c1 to Books b1 instead of Books b2, before deactivating it"
    # c1 is not in the CRM export: an orphan, listed as such, not a record to link to.
    assert relink_note(*members, crm_exported={"c2"}) == ""


def test_when_two_copies_hold_transactions_the_others_are_moved_before_deactivating() -> None:
    cluster = Cluster(
        1,
        [
            books("b1", "Northwind Traders Ltd", "2014-01-02", outstanding="800"),
            books("b2", "Northwind Traders Limited", "2020-01-02", outstanding="200"),
        ],
    )
    cluster.choose_survivors()
    assert cluster.books_reason.startswith(
        "2 copies hold transactions: move those of b2 to this one before deactivating it;"
    )


def test_an_inactive_copy_kept_for_its_transactions_is_to_be_marked_active() -> None:
    inactive = books("b1", "Harbour Foods Ltd", "2017-05-02", outstanding="500").model_copy(
        update={"active": False}
    )
    cluster = Cluster(1, [inactive, books("b2", "Harbour Foods Ltd (2)", "2025-05-02")])
    cluster.choose_survivors()
    assert cluster.books_reason.startswith(
        "the only copy with an outstanding balance; it is inactive: mark it active before deactivating "
        "the others;"
    )


def test_books_kept_re_pointed_to_the_crm_survivor_takes_the_link_of_the_copy_deactivated() -> None:
    # The seed's both-sides creation: each side's copy was pushed to the other, crossing the links.
    cluster = Cluster(
        1,
        [
            crm("c1", "Orchard Bakery Ltd", "2024-03-01T09:00"),
            crm("c2", "Orchard Bakery Limited", "2024-03-01T15:00"),
            linked(books("b1", "Orchard Bakery Limited", "2024-03-01T10:00", outstanding="640"), "c2"),
            linked(books("b2", "Orchard Bakery Ltd", "2024-03-01T09:05"), "c1"),
        ],
    )
    cluster.choose_survivors(crm_exported={"c1", "c2"})
    assert cluster.repoint_note() == (
        "re-point Books b1 (linked to CRM c2) to CRM c1 instead of Books b2 (to deactivate) before merging "
        "the CRM records"
    )


def test_a_negative_receivable_is_called_a_credit_balance_not_money_outstanding() -> None:
    # Books writes an overpayment or an unused credit note as a receivable below zero.
    cluster = Cluster(
        1,
        [
            books("b1", "Marlow Joinery Ltd", "2016-02-01", outstanding="-250.00"),
            books("b2", "Marlow Joinery Limited", "2021-06-10"),
        ],
    )
    cluster.choose_survivors()
    assert cluster.books_reason.startswith("the only copy with a credit balance;")
    assert transactions_in_words(cluster.members[0]) == "holds a credit balance (250.00)"


def test_a_books_copy_the_sync_links_to_another_crm_record_in_the_export_is_not_taken_from_it() -> None:
    # b1 is linked to c7, a CRM record that exists but is no duplicate of c1: moving b1's link to c1
    # would leave c7 without its customer, so the report asks for no such link.
    lone = linked(books("b1", "Greenway Landscapes Ltd", "2018-01-02"), "c7")
    crm_record = crm("c1", "Greenway Landscapes Ltd", "2018-01-01")
    assert relink_note(crm_record, lone, crm_exported={"c1", "c7"}) == ""


@pytest.mark.parametrize("links_known", [True, False])
@pytest.mark.parametrize("link", [None, "", "c1", "c2"])
def test_a_crm_record_and_its_linked_books_copy_are_told_apart_as_describing_patterns_would(
    links_known: bool, link: str | None
) -> None:
    # The report skips building a cluster for such pairs: the shortcut must agree with the patterns.
    crm_record = crm("c1", "Acme Ltd", "2020-01-01")
    books_copy = books("b1", "Acme Limited", "2021-01-01").model_copy(update={"linked_crm_id": link})
    cluster = Cluster(1, [crm_record, books_copy])
    cluster.describe_patterns(links_known=links_known)
    assert is_sync_pair([crm_record, books_copy], links_known=links_known) is not bool(cluster.patterns)


def test_two_records_of_one_system_are_never_the_sync_s_pair() -> None:
    pairs = [
        [crm("c1", "Acme Ltd", "2020-01-01"), crm("c2", "Acme Limited", "2021-01-01")],
        [books("b1", "Acme Ltd", "2020-01-01"), books("b2", "Acme Limited", "2021-01-01")],
    ]
    for members in pairs:
        assert not is_sync_pair(members, links_known=True)
        assert not is_sync_pair(members, links_known=False)
