"""Blocking keys: short, deterministic, few, shared by the variants that must meet; and the index."""

from __future__ import annotations

import pytest

from sync_guard.matching import MAX_KEYS, CandidateIndex, Verdict, blocking_keys, compare, name_key
from sync_guard.matching.blocking import MAX_KEY_BYTES
from sync_guard.models.records import Module, System
from tests.unit.matching.conftest import MakeRecord


def test_keys_carry_a_type_prefix_and_the_normalised_values(company: MakeRecord) -> None:
    record = company(
        "Acme Widgets Ltd",
        email="Jane@Acme.co.uk",
        phone="020 7946 0000",
        vat="GB 123 4567 89",
        website="https://www.acme.co.uk",
        street="1 High Street",
    )
    keys = blocking_keys(record)
    assert {"n:acmewidget", "t:acme|widgets", "e:jane@acme.co.uk", "d:acme.co.uk"} <= keys
    assert {"p:+442079460000", "v:123456789"} <= keys
    assert len(keys) <= MAX_KEYS


def test_keys_are_deterministic_and_short(company: MakeRecord) -> None:
    long_name = "Very " * 100 + "Long Name Ltd"
    first = blocking_keys(company(long_name, email="a@b.co"))
    second = blocking_keys(company(long_name, email="a@b.co"))
    assert first == second
    assert all(len(k.encode()) <= MAX_KEY_BYTES for k in first)


def test_free_mail_gives_no_domain_key(company: MakeRecord) -> None:
    keys = blocking_keys(company("Acme", email="acme.orders@gmail.com"))
    assert not any(k.startswith("d:") for k in keys)
    assert "e:acmeorders@gmail.com" in keys  # the mailbox: Gmail ignores the dots


def test_seed_variants_share_the_name_key(company: MakeRecord) -> None:
    names = ["Acme Widgets Ltd", "ACME WIDGETS LIMITED ", "The Acme Widgets", "Acme Widgets, The"]
    keys = [blocking_keys(company(n)) for n in names]
    assert all("n:acmewidget" in k for k in keys)


def test_reordered_words_share_the_sorted_key(company: MakeRecord) -> None:
    assert blocking_keys(company("Robert Bosch GmbH")) & blocking_keys(company("Bosch Robert GmbH"))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Koninklijke Philips Electronics", "Koninklijke Phillips Electronics"),
        ("Fairbourne Engineering", "Fairborne Engineering"),
        ("Fairbourne Engineering", "Fairbourne Enginering"),
        ("Unilever", "Unilver"),
        ("Unilever", "Unlever"),
    ],
)
def test_a_typo_that_spares_the_first_letter_still_shares_a_typo_key(
    company: MakeRecord, left: str, right: str
) -> None:
    shared = blocking_keys(company(left)) & blocking_keys(company(right))
    assert {k for k in shared if k.startswith("q:")}, shared


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Prenthoum Toulchitix PLC", "Prenthuom Toulchimtix PLC"),  # a slip in each word, both near the end
        ("Clatvvourk Kylloungdy Ltd", "Clatvourk Kylloundy Ltd"),
        ("Prnthoum Tolchitix PLC", "Prenthoum Toulchitix PLC"),  # both near the start
        ("Sithsour PLC", "Sitshour PLC"),  # letters swapped in a one-word name
        ("Fynbung Forkchnog Inc.", "Fynnbung Forkchong Inc."),  # near the start of one, the end of the other
        ("Paitkelrril & Cheastnai Inc.", "Paitkelril and Chastnai Inc."),  # near the end, then the start
        ("Briwel Inc", "Brirwel Inc"),  # a letter added in the middle of a one-word name
        ("Varkboox Inc", "Vrakbox Inc"),  # letters swapped and one doubled
        # A letter typed twice counts once, so another slip in the same word still leaves a key shared.
        ("Brryhon Ltd", "Bryrhon Ltd"),
        ("Jixjeat plc", "Juxjeaat plc"),
        ("Zisttrack PLC", "Ziisttraick PLC"),
    ],
)
def test_slips_in_every_word_still_share_a_typo_key(company: MakeRecord, left: str, right: str) -> None:
    shared = blocking_keys(company(left)) & blocking_keys(company(right))
    assert {k for k in shared if k.startswith("q:")}, shared


@pytest.mark.parametrize(
    ("left", "right"), [("Acme Dist Ltd", "Acme Distribution Ltd"), ("Acme Eng", "Acme Engineers")]
)
def test_a_word_cut_short_still_shares_a_typo_key(company: MakeRecord, left: str, right: str) -> None:
    shared = blocking_keys(company(left)) & blocking_keys(company(right))
    assert {k for k in shared if k.startswith("q:")}, shared


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # Words after the legal form are compared as the name's own where the other name has them.
        ("PHILIPS' (N.V.) GLOEILAMPENFABRIEKEN", "N.V. Philips' Gloeilampenfabrieken"),
        ("BOSCH GMBH ROBERT", "Robert Bosch GmbH"),
        # A legal form cut short to its first letter.
        ("MAASLAND N", "Maasland N.V."),
        # A word run on, which the comparison reads as an abbreviation the other way round.
        ("UNILEVERNV", "Unilever N.V."),
        # A plural, which the comparison reads as the singular.
        ("STMICROELECTRONIC N.V.", "STMicroelectronics N.V."),
        # Another spelling of the same sounds, in every word.
        ("Delfi Ehlektroniks B.V.", "Delphi Electronics B.V."),
    ],
)
def test_names_the_comparison_calls_the_same_share_a_name_key(
    company: MakeRecord, left: str, right: str
) -> None:
    shared = blocking_keys(company(left)) & blocking_keys(company(right))
    assert {k for k in shared if k[0] in "ntq"}, shared
    assert compare(company(left), company(right)).verdict is Verdict.DUPLICATE


def test_typo_keys_of_unrelated_names_differ(company: MakeRecord) -> None:
    assert not blocking_keys(company("Acme Widgets Ltd")) & blocking_keys(company("Zenith Bakery Ltd"))


def test_people_with_one_date_of_birth_share_a_key_whatever_their_names(person: MakeRecord) -> None:
    left = blocking_keys(person("Hn", "yr", date_of_birth="2012-11-30"))
    right = blocking_keys(person("Henry", "Ali", date_of_birth="30/11/2012"))
    assert left & right == {"b:2012-11-30"}


def test_people_in_either_order_share_a_key(person: MakeRecord) -> None:
    assert blocking_keys(person("Noah", "Watson")) & blocking_keys(person("Watson", "Noah"))


def test_name_key_folds_legal_forms_but_keeps_their_kind(company: MakeRecord, person: MakeRecord) -> None:
    assert name_key(company("ACME LIMITED")) == name_key(company("Acme Ltd.")) == "acme ltd"
    assert name_key(company("Acme Inc")) == "acme inc"
    assert name_key(company("")) == ""
    assert name_key(person("José", "Smith")) == "jose smith"


def test_index_finds_candidates_by_any_shared_key(company: MakeRecord) -> None:
    index = CandidateIndex()
    by_name = company("Acme Widgets Ltd")
    by_phone = company("Totally Different", phone="020 7946 0000")
    unrelated = company("Zenith Bakery")
    index.add_all([by_name, by_phone, unrelated])
    probe = company(
        "ACME WIDGETS LIMITED", phone="+44 20 7946 0000", system=System.BOOKS, module=Module.BOOKS_CUSTOMERS
    )
    assert {r.record_id for r in index.candidates(probe)} == {by_name.record_id, by_phone.record_id}


def test_index_never_returns_the_record_itself(company: MakeRecord) -> None:
    index = CandidateIndex()
    record = company("Acme Ltd")
    index.add(record)
    assert index.candidates(record) == []


def test_over_common_keys_are_capped(company: MakeRecord) -> None:
    # 8 records share one domain; with a cap of 5 the domain key saturates: lookups see the first 5 only.
    index = CandidateIndex(max_postings=5)
    branches = [company(f"Branch{i} Unique{i}", website="bigcorp.com") for i in range(8)]
    index.add_all(branches)
    probe = company("Someone Else", website="bigcorp.com")
    assert "d:bigcorp.com" in index.saturated_keys
    assert [r.record_id for r in index.candidates(probe)] == [b.record_id for b in branches[:5]]


def test_a_trading_name_is_a_key_of_its_own(company: MakeRecord) -> None:
    index = CandidateIndex()
    index.add(company("Acme Inc dba Widgetworld"))
    found = index.candidates(company("Widgetworld"))
    assert [c.name for c in found] == ["Acme Inc dba Widgetworld"]


def test_a_books_company_name_is_a_key_too(company: MakeRecord) -> None:
    index = CandidateIndex()
    index.add(
        company(
            "Jane Doe", system=System.BOOKS, module=Module.BOOKS_CUSTOMERS, other_names=("Doe Design Ltd",)
        )
    )
    assert [c.name for c in index.candidates(company("Doe Design Limited"))] == ["Jane Doe"]
