"""The classic false positives: names that look alike but are different companies, and the seed's variants
that look different but are the same company."""

from __future__ import annotations

import pytest

from sync_guard.matching import DUPLICATE_THRESHOLD, Verdict, compare
from tests.unit.matching.conftest import MakeRecord


@pytest.mark.parametrize(
    ("left", "right", "differing"),
    [
        ("Bank of the West", "Bank of the East", "'West' vs 'East'"),
        ("Ramesh Traders", "Ganesh Traders", "'Ramesh' vs 'Ganesh'"),
        ("North Star Ltd", "South Star Ltd", "'North' vs 'South'"),
        ("Acme (UK) Ltd", "Acme (US) Inc", "'Uk' vs 'Us'"),
        ("Rajesh Traders", "Ramesh Traders", "'Rajesh' vs 'Ramesh'"),
        ("Shell Canada Limited", "Shell Oil Company", "'Canada' vs 'Oil'"),
        ("Acme Paints Ltd", "Acme Prints Ltd", "'Paints' vs 'Prints'"),
    ],
)
def test_names_that_differ_in_a_distinguishing_word_are_distinct(
    company: MakeRecord, left: str, right: str, differing: str
) -> None:
    result = compare(company(left), company(right))
    assert result.verdict is Verdict.DISTINCT
    assert any(differing in reason for reason in result.evidence), result.evidence


def test_a_name_inside_a_longer_name_is_not_a_duplicate(company: MakeRecord) -> None:
    # "Acme" may be "Acme Logistics", or a different Acme: a person should look, the guard must not act.
    result = compare(company("Acme"), company("Acme Logistics"))
    assert result.verdict is Verdict.POSSIBLE
    assert any("extra words 'Logistics'" in reason for reason in result.evidence)


def test_different_words_on_shared_premises_are_never_a_confident_duplicate(company: MakeRecord) -> None:
    left = company("Bank of the West", phone="020 7946 0000", street="1 High Street", postcode="SW1A 1AA")
    right = company("Bank of the East", phone="020 7946 0000", street="1 High Street", postcode="SW1A 1AA")
    result = compare(left, right)
    assert result.score < DUPLICATE_THRESHOLD
    assert result.verdict is not Verdict.DUPLICATE


def test_same_name_different_vat_numbers_is_distinct(company: MakeRecord) -> None:
    result = compare(company("Acme Ltd", vat="GB123456789"), company("Acme Limited", vat="GB987654321"))
    assert result.verdict is Verdict.DISTINCT
    assert any("different VAT" in reason for reason in result.evidence)


def test_same_name_different_legal_entity_kinds_needs_a_look(company: MakeRecord) -> None:
    result = compare(company("Acme Ltd"), company("Acme Inc"))
    assert result.verdict is Verdict.POSSIBLE
    assert "legal forms differ: 'Ltd' vs 'Inc'" in result.evidence


def test_one_country_s_legal_forms_on_one_name_are_one_company(company: MakeRecord) -> None:
    # A register refuses a name that differs from another only by its legal form: Cargill BV and Cargill
    # NV are one Dutch company before and after it changed form.
    result = compare(company("Cargill B.V."), company("CARGILL N.V."))
    assert result.verdict is Verdict.DUPLICATE
    assert any("both used in BE/NL" in reason for reason in result.evidence), result.evidence


def test_a_royal_predicate_is_set_aside_but_royal_is_not(company: MakeRecord) -> None:
    result = compare(company("Koninklijke Philips Electronics N.V."), company("Philips Electronics NV"))
    assert result.verdict is Verdict.DUPLICATE
    assert any("royal predicate 'Koninklijke'" in reason for reason in result.evidence), result.evidence
    mistyped = compare(company("KONINKLIKE PHILIPS ELECTRONICS N.V."), company("Philips Electronics NV"))
    assert mistyped.verdict is Verdict.DUPLICATE
    # "Royal" is part of English names: the Royal Bank of Scotland is not the Bank of Scotland.
    assert (
        compare(company("Royal Bank of Scotland"), company("Bank of Scotland")).verdict
        is not Verdict.DUPLICATE
    )


def test_a_place_after_the_legal_form_is_set_aside_but_a_second_name_is_not(company: MakeRecord) -> None:
    placed = compare(
        company("Shell Research Maatschappij B.V."),
        company("SHELL RESEARCH MAATSCHAPPIJ B.V., DEN HAAG/'S-GRAVENHAGE, NL"),
    )
    assert placed.verdict is Verdict.DUPLICATE
    second_name = compare(
        company("Home of Life Community Dev. Corp. - Home of Life Just For You"),
        company("HOME OF LIFE COMMUNITY DEV. CORP. HLCDC DEV. II"),
    )
    assert second_name.verdict is not Verdict.DUPLICATE


def test_same_surname_different_people_sharing_a_company_domain_are_not_duplicates(
    person: MakeRecord,
) -> None:
    left = person("Jane", "Smith", email="jane.smith@acme.co.uk")
    right = person("John", "Smith", email="john.smith@acme.co.uk")
    assert compare(left, right).verdict is Verdict.DISTINCT


def test_same_person_name_alone_is_only_possible(person: MakeRecord) -> None:
    assert compare(person("Jane", "Smith"), person("Jane", "Smith")).verdict is Verdict.POSSIBLE


@pytest.mark.parametrize(
    ("left", "right", "reason"),
    [
        ("Acme Ltd", "Acme Limited", "same name once 'Limited' is folded to 'Ltd'"),
        ("Smith & Co", "Smith and Co", "same name once '&' is read as 'and'"),
        ("The Design Lab", "Design Lab, The", "'The' is dropped"),
        ("Design Lab Ltd ", "design lab ltd", "same name"),
        ("Acme Widgets Ltd", "Acme Widgets", "the legal form 'Ltd' is set aside"),
        ("ASML Holland B.V.", "ASML Netherlands B.V.", "'Holland' is read as 'Netherlands'"),
        ("Fairbourne Engineering", "Fairborne Engineering", "'Fairbourne' vs 'Fairborne'"),
        # A slip in a short word counts only when two other words of substance agree exactly.
        ("Harwood Kestrel Wetu LLP", "Harwood Kestrel Wertu LLP", "'Wetu' vs 'Wertu'"),
    ],
)
def test_the_seed_variants_are_duplicates(company: MakeRecord, left: str, right: str, reason: str) -> None:
    result = compare(company(left), company(right))
    assert result.verdict is Verdict.DUPLICATE
    assert any(reason in r for r in result.evidence), result.evidence


def test_evidence_names_the_shared_phone(company: MakeRecord) -> None:
    result = compare(
        company("Acme Ltd", phone="020 7946 0000"), company("ACME LIMITED", phone="+442079460000")
    )
    assert "same phone +44 20 7946 0000" in result.evidence


def test_a_legal_form_cut_short_is_read_as_the_other_name_s_form(company: MakeRecord) -> None:
    result = compare(company("AKZO NOBEL N"), company("Akzo Nobel N.V."))
    assert result.verdict is Verdict.DUPLICATE
    assert "same name once 'N' is read as 'NV' cut short" in result.evidence
    # A last letter that starts no legal form of the other name is part of the name: Plan B is not Plan.
    assert compare(company("Plan B"), company("Plan Ltd")).verdict is not Verdict.DUPLICATE
    assert compare(company("Plan B"), company("Plan")).verdict is not Verdict.DUPLICATE


@pytest.mark.parametrize(
    ("left", "right", "said"),
    [
        (
            "Disney Magnet",
            "Disney Magnet II",
            "one name adds 'II', a number marking another branch: 'Disney Magnet' / 'Disney Magnet II'",
        ),
        (
            "Effie Ellis Centre",
            "Effie Ellis II Centre",
            "one name adds 'II', a number marking another branch: "
            "'Effie Ellis Centre' / 'Effie Ellis II Centre'",
        ),
        (
            "Home of Life",
            "Home of Life 773 626 8655",
            "one name has extra words '773 626 8655', with '773' and '626' and '8655', numbers marking "
            "another branch: 'Home of Life' / 'Home of Life 773 626 8655'",
        ),
        (
            "Care Services",
            "Care Services Acme",
            "one name has extra words 'Acme' and the words they share, 'Care Services', only describe: "
            "'Care Services' / 'Care Services Acme'",
        ),
    ],
)
def test_a_name_with_words_of_its_own_on_one_side_only_says_which(
    company: MakeRecord, left: str, right: str, said: str
) -> None:
    # Never "names differ: 'II' vs ''": the reason names the words one side adds, and why they count.
    result = compare(company(left), company(right))
    assert result.verdict is not Verdict.DUPLICATE
    assert said in result.evidence, result.evidence


def test_clients_of_one_bookkeeper_are_not_one_company(company: MakeRecord) -> None:
    # Small firms give their accountant's mailbox, phone and office: names with nothing in common stay apart.
    agent = {"email": "clients@hillbookkeeping.co.uk", "phone": "01223 496000", "street": "8 Station Road"}
    result = compare(company("Oak Tree Cafe Ltd", **agent), company("Birch Florists Ltd", **agent))
    assert result.verdict is Verdict.POSSIBLE
    assert any("names differ" in reason for reason in result.evidence), result.evidence


@pytest.mark.parametrize("shared", [{}, {"email": "ap@cranegroup.co.uk", "street": "1 Colmore Row"}])
def test_companies_of_one_vat_group_are_a_question(company: MakeRecord, shared: dict[str, str]) -> None:
    # UK VAT group members file under one number: their registered names each go their own way.
    left = company("Crane Group Holdings Ltd", vat="GB123456789", **shared)
    right = company("Crane Hire Services Ltd", vat="GB 123 4567 89", **shared)
    result = compare(left, right)
    assert result.verdict is Verdict.POSSIBLE
    assert "names differ in descriptive words: 'Group Holdings' vs 'Hire Services'" in result.evidence


def test_one_name_in_two_towns_is_two_branches(company: MakeRecord) -> None:
    left = company("Premier Cleaning Services Ltd", phone="0161 496 0001", city="Manchester")
    right = company("Premier Cleaning Services Ltd", phone="0113 496 0002", city="Leeds")
    assert compare(left, right).verdict is Verdict.POSSIBLE


def test_one_person_name_with_two_mobiles_is_a_question(person: MakeRecord) -> None:
    left = person("John", "Smith", phone="07700 900111")
    right = person("John", "Smith", phone="07700 900222")
    assert compare(left, right).verdict is Verdict.POSSIBLE


@pytest.mark.parametrize(
    ("left", "right"),
    [("Muvoul Ltd", "Mutoul Ltd"), ("Nyrkflyll Collur Inc", "Nyrkflyll Collgtr Incorporated")],
)
def test_a_name_mistyped_past_its_words_is_still_one_company_at_one_office(
    company: MakeRecord, left: str, right: str
) -> None:
    # The slips are too many for the words to pair, but the letters are mostly the same.
    office = {"email": "accounts@muvoul.co.uk", "phone": "020 7259 2406", "street": "119 Theanstend Road"}
    assert compare(company(left, **office), company(right, **office)).verdict is Verdict.DUPLICATE
