"""Scoring: each kind of evidence moves the score the right way, and the reasons say why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sync_guard.matching import (
    DUPLICATE_THRESHOLD,
    POSSIBLE_THRESHOLD,
    MatchResult,
    Verdict,
    blocking_keys,
    compare,
)
from sync_guard.matching.compare import verdict_for
from sync_guard.matching.features import features_of
from sync_guard.models.records import Module, System
from tests.unit.matching.conftest import MakeRecord


def test_thresholds_are_ordered_inside_the_unit_interval() -> None:
    assert 0 < POSSIBLE_THRESHOLD < DUPLICATE_THRESHOLD < 1
    assert verdict_for(DUPLICATE_THRESHOLD) is Verdict.DUPLICATE
    assert verdict_for(POSSIBLE_THRESHOLD) is Verdict.POSSIBLE
    assert verdict_for(POSSIBLE_THRESHOLD - 0.001) is Verdict.DISTINCT


def test_the_thresholds_are_the_ones_match_report_md_tells_its_readers() -> None:
    # The test above holds whatever the constants are; the documented values are what users rely on.
    text = (Path(__file__).parents[3] / "docs" / "match-report.md").read_text(encoding="utf-8")
    documented = dict(re.findall(r"\*\*(duplicate|possible)\*\*: score ≥ ([0-9.]+)", text))
    assert documented == {"duplicate": str(DUPLICATE_THRESHOLD), "possible": str(POSSIBLE_THRESHOLD)}


def test_result_is_frozen_and_in_range(company: MakeRecord) -> None:
    result = compare(company("Acme"), company("Zenith"))
    assert isinstance(result, MatchResult)
    assert 0.0 <= result.score <= 1.0
    with pytest.raises(AttributeError):
        result.score = 1.0  # type: ignore[misc]


def test_compare_is_symmetric_in_score(company: MakeRecord) -> None:
    left = company("Acme Widgets Ltd", phone="020 7946 0000", city="Bristol")
    right = company("ACME WIDGET LIMITED", phone="020 7946 0001", city="Bath")
    assert compare(left, right).score == compare(right, left).score


@pytest.mark.parametrize(
    ("field", "left_value", "right_value", "reason"),
    [
        ("phone", "020 7946 0000", "+44 20 7946 0000", "same phone +44 20 7946 0000"),
        ("email", "ap@acme.co.uk", "AP@ACME.CO.UK", "same email ap@acme.co.uk"),
        ("website", "www.acme.co.uk", "https://acme.co.uk/", "same website acme.co.uk"),
        ("vat", "GB123456789", "123 456 789", "same VAT/company number GB123456789"),
        ("postcode", "bs1 4dj", "BS1 4DJ", "same postcode BS1 4DJ"),
    ],
)
def test_a_shared_identifier_raises_the_score_and_is_named(
    company: MakeRecord, field: str, left_value: str, right_value: str, reason: str
) -> None:
    # given two records with overlapping names (a "possible" on the name alone)
    base = compare(company("Acme"), company("Acme Logistics"))
    # when they also share an identifier
    result = compare(
        company("Acme", **{field: left_value}), company("Acme Logistics", **{field: right_value})
    )
    # then the score rises and the evidence says why
    assert result.score > base.score
    assert reason in result.evidence


def test_an_exact_email_across_systems_links_a_renamed_customer(company: MakeRecord) -> None:
    crm = company("Acme Widgets", email="accounts@acme.co.uk", phone="020 7946 0000")
    books = company(
        "Acme Widget Co (Bristol)",
        email="accounts@acme.co.uk",
        phone="020 7946 0000",
        system=System.BOOKS,
        module=Module.BOOKS_CUSTOMERS,
    )
    assert compare(crm, books).verdict is Verdict.DUPLICATE


def test_different_phones_lower_the_score(company: MakeRecord) -> None:
    same = compare(company("Acme Ltd"), company("Acme Limited"))
    different = compare(
        company("Acme Ltd", phone="020 7946 0000"), company("Acme Limited", phone="0117 496 0000")
    )
    assert different.score < same.score
    assert any(r.startswith("different phones") for r in different.evidence)


def test_local_numbers_without_area_code_match_the_last_seven_digits(company: MakeRecord) -> None:
    result = compare(
        company("Linne", phone="5345262", street="3221 N. Sacramento"),
        company("Chicago Public Schools Linne, Carl Von", phone="5345262", street="3221 N Sacramento"),
        default_region="US",
    )
    assert result.verdict is Verdict.DUPLICATE
    assert "same phone number ending 5345262" in result.evidence
    assert "same street address 3221 N Sacramento" in result.evidence


def test_words_after_the_legal_form_are_set_aside_and_said(company: MakeRecord) -> None:
    result = compare(company("Unilever N.V., Rotterdam"), company("UNILEVER NV"))
    assert result.verdict is Verdict.DUPLICATE
    assert "ignoring 'Rotterdam' written after the legal form" in result.evidence


def test_person_names_swapped_with_the_same_email_are_a_duplicate(person: MakeRecord) -> None:
    left = person("Noah", "Watson", email="matthew78@ballard.net", city="Bolton")
    right = person("Watson", "Noah", email="matthew78@ballard.net", city="Bolton")
    result = compare(left, right)
    assert result.verdict is Verdict.DUPLICATE
    assert any(r.startswith("same words in a different order") for r in result.evidence)


def test_one_persons_two_mailboxes_at_her_company_are_one_contact(person: MakeRecord) -> None:
    # The seed's fifth pattern: the Books contact person and the CRM contact differ only by email.
    crm = person("Jane", "Smith", email="jane@acme.co.uk")
    books = person(
        "Jane", "Smith", email="J.Smith@acme.co.uk", system=System.BOOKS, module=Module.BOOKS_CUSTOMERS
    )
    result = compare(crm, books)
    assert result.verdict is Verdict.DUPLICATE
    assert "both emails at acme.co.uk are written from the name: jane@acme.co.uk / j.smith@acme.co.uk" in (
        result.evidence
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("Jane", "Smith", "accounts@acme.co.uk"), ("Jane", "Smith", "jane@acme.co.uk")),  # a shared mailbox
        (("Jane", "Smith", "jane@gmail.com"), ("Jane", "Smith", "j.smith@hotmail.com")),  # no company
        (("Jane", "Smith", "jane@acme.co.uk"), ("Jane", "Smith", "jane@beta.co.uk")),  # two companies
        (("Jane", "Smith", "j.smith@acme.co.uk"), ("John", "Smith", "jsmith@acme.co.uk")),  # two people
    ],
)
def test_other_mailboxes_stay_a_question(
    person: MakeRecord, left: tuple[str, str, str], right: tuple[str, str, str]
) -> None:
    result = compare(person(*left[:2], email=left[2]), person(*right[:2], email=right[2]))
    assert result.verdict is not Verdict.DUPLICATE


OFFICE = {"phone": "020 7946 0000", "street": "12 Kings Road", "city": "London", "postcode": "SW3 4RP"}


@pytest.mark.parametrize(
    ("given", "email", "other_given", "other_email"),
    [
        ("Jane", "jane@acme.co.uk", "Peter", "peter@acme.co.uk"),  # each mailbox made of its own name
        ("Jane", "jane@acme.co.uk", "John", "john@acme.co.uk"),  # one domain, half the letters of a mailbox
        ("Jane", "j.smith@acme.co.uk", "Peter", "p.smith@acme.co.uk"),
    ],
)
def test_colleagues_at_one_office_are_not_one_contact(
    person: MakeRecord, given: str, email: str, other_given: str, other_email: str
) -> None:
    # Two people of one company share its address, its switchboard and its email domain.
    result = compare(
        person(given, "Smith", email=email, **OFFICE),
        person(other_given, "Smith", email=other_email, **OFFICE),
    )
    assert result.verdict is Verdict.POSSIBLE
    if not email.startswith("j."):  # "j.smith" / "p.smith" is one slip apart, as two people's may be
        assert not any("written from the name" in r or "nearly the same email" in r for r in result.evidence)


@pytest.mark.parametrize(("given", "other_given"), [("Christine", "Chris"), ("Samantha", "Sam")])
def test_colleagues_called_alike_with_their_own_mailboxes_are_a_question(
    person: MakeRecord, given: str, other_given: str
) -> None:
    # A short form of the given name, but each mailbox is made of its own name: two people, as a rule.
    left = person(given, "Evans", email=f"{given.lower()}.evans@acme.co.uk", **OFFICE)
    right = person(other_given, "Evans", email=f"{other_given.lower()}.evans@acme.co.uk", **OFFICE)
    result = compare(left, right)
    assert result.verdict is Verdict.POSSIBLE
    assert not any(r.startswith("nearly the same email") for r in result.evidence)


def test_a_mistyped_mailbox_at_one_domain_is_still_nearly_the_same(person: MakeRecord) -> None:
    result = compare(
        person("Henry", "Owen", email="nicholasbutler@jackson.net"),
        person("Henry", "Owen", email="nicobaslutler@jackson.net"),
    )
    assert "nearly the same email: nicholasbutler@jackson.net / nicobaslutler@jackson.net" in result.evidence


def test_a_groups_companies_at_one_office_are_a_question(company: MakeRecord) -> None:
    # "Acme" vs "Acme Logistics", the issue's own example, even with the office and phone in common
    result = compare(company("Acme Ltd", **OFFICE), company("Acme Logistics Ltd", **OFFICE))
    assert result.verdict is Verdict.POSSIBLE
    # a group's website and finance mailbox are shared too
    for shared in ({"website": "acme-group.com"}, {"email": "accounts@acme-group.com"}):
        group = compare(
            company("Acme Ltd", **shared, **OFFICE), company("Acme Logistics Ltd", **shared, **OFFICE)
        )
        assert group.verdict is Verdict.POSSIBLE
    # an identifier of the company itself still makes them one
    same_vat = compare(
        company("Acme Ltd", vat="GB123456789", **OFFICE),
        company("Acme Logistics Ltd", vat="GB123456789", **OFFICE),
    )
    assert same_vat.verdict is Verdict.DUPLICATE


def test_an_operators_name_in_front_of_a_site_name_is_one_site(company: MakeRecord) -> None:
    site = {"phone": "(773) 846-7396", "street": "7419 S Cottage Grove Ave", "city": "Chicago"}
    result = compare(
        company("Itsy Bitsy People Palace, Inc.", **site),
        company("Henry Booth House - Itsy Bitsy People Palace, Inc", **site),
    )
    assert result.verdict is Verdict.DUPLICATE


def test_one_street_address_in_two_towns_is_two_places(company: MakeRecord) -> None:
    oxford = company(
        "The Red Lion", phone="01865 000001", street="1 High Street", city="Oxford", postcode="OX1 4AA"
    )
    bath = company(
        "The Red Lion", phone="01225 000002", street="1 High Street", city="Bath", postcode="BA1 5AA"
    )
    result = compare(oxford, bath)
    assert result.verdict is Verdict.POSSIBLE
    assert "same street address 1 High St in different towns" in result.evidence
    # a district for the town, with one postcode, is still one address
    chelsea = company("The Red Lion", street="1 High Street", city="Chelsea", postcode="OX1 4AA")
    assert compare(oxford, chelsea).verdict is Verdict.DUPLICATE


@pytest.mark.parametrize(
    ("street", "other"),
    [
        ("Hauptstraße 5", "Hauptstr. 5"),
        ("Hauptstrasse 5", "Haupt-Strasse 5"),
        ("Kalverstraat 92", "Kalverstr. 92"),
        ("12 Kings Road, Chelsea", "12 Kings Road"),  # a district after the street
        ("Hauptstraße 5\nHinterhaus", "Hauptstraße 5"),  # the building at the back, on a line of its own
    ],
)
def test_one_street_address_written_two_ways_is_one_place(
    company: MakeRecord, street: str, other: str
) -> None:
    ids = {"phone": "+49 30 123456", "postcode": "10115", "city": "Berlin"}
    result = compare(
        company("Müller GmbH", street=street, **ids), company("Müller GmbH", street=other, **ids)
    )
    assert result.verdict is Verdict.DUPLICATE
    assert not any(r.startswith("different street") for r in result.evidence)


def test_a_missing_name_leaves_a_shared_email_to_speak_alone(company: MakeRecord) -> None:
    # An email alone is shared by bookkeepers across clients: worth a look, not a confident duplicate.
    result = compare(company("", email="ap@acme.co.uk"), company("Acme Ltd", email="ap@acme.co.uk"))
    assert result.verdict is Verdict.POSSIBLE
    assert result.evidence == ("same email ap@acme.co.uk",)


def test_a_letter_spelt_as_another_of_the_same_sound_is_the_same_word(company: MakeRecord) -> None:
    result = compare(company("Lucas Motors Ltd"), company("Lukas Motors Ltd"))
    assert result.verdict is Verdict.DUPLICATE, result
    assert result.evidence == ("same name allowing for a spelling that sounds the same: 'Lucas' vs 'Lukas'",)
    # Letters that do not sound alike keep two words apart, and so does the first letter.
    assert compare(company("Lunas Motors Ltd"), company("Lucas Motors Ltd")).verdict is Verdict.DISTINCT
    assert compare(company("Zenith Bakery"), company("Senith Bakery")).verdict is not Verdict.DUPLICATE


def test_a_transliterated_spelling_is_the_same_name(company: MakeRecord) -> None:
    # "ph" read as "f", "c" as "k", a vowel's silent "h": how names come back from another alphabet.
    result = compare(company("Delfi Ehlektroniks B.V."), company("Delphi Electronics B.V."))
    assert result.verdict is Verdict.DUPLICATE, result
    assert result.evidence == (
        "same name allowing for a spelling that sounds the same: "
        "'Delfi' vs 'Delphi', 'Ehlektroniks' vs 'Electronics'",
    )
    # Vowels are kept: another vowel is another word.
    assert compare(company("Gordon Shoes"), company("Garden Shoes")).verdict is Verdict.DISTINCT


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Sunshine Daycare Ltd", "Sunshine Day Care Ltd"),
        ("HUNTERDOUGLASINDUSTRIESB.V.", "Hunter Douglas Industries B.V."),
    ],
)
def test_words_run_together_are_the_same_name(company: MakeRecord, left: str, right: str) -> None:
    result = compare(company(left), company(right))
    assert result.verdict is Verdict.DUPLICATE, result
    assert any("written apart" in reason for reason in result.evidence)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Wollrbur Ltd", "Wollbrrur Ltd"),  # letters swapped on one copy, a letter doubled on the other
        ("Treaarknot PLC", "Trearkknot PLC"),
        ("Pailer Ltd", "Paier Limited"),  # a letter dropped inside a six-letter word
        ("Pulron PLC", "Puron plc"),
    ],
)
def test_common_slips_in_a_name_are_still_a_duplicate(company: MakeRecord, left: str, right: str) -> None:
    result = compare(company(left), company(right))
    assert result.verdict is Verdict.DUPLICATE, result
    assert any("typo" in reason for reason in result.evidence)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Neala Ltd", "Nealad Ltd"),  # a letter added at the end makes another word more often than a slip
        ("Brand Ltd", "Band Ltd"),  # a letter dropped from a five-letter word
        ("Rajesh Traders", "Ramesh Traders"),  # one letter changed in a six-letter word
    ],
)
def test_short_words_one_letter_apart_are_not_a_duplicate(company: MakeRecord, left: str, right: str) -> None:
    assert compare(company(left), company(right)).verdict is not Verdict.DUPLICATE


def test_a_shared_date_of_birth_makes_a_garbled_name_the_same_person(person: MakeRecord) -> None:
    left = person("Noah", "Watson", city="Bolton", date_of_birth="2008-03-23")
    right = person("Watson", "oNah", city="Botlon", date_of_birth="23/03/2008")
    result = compare(left, right)
    assert result.verdict is Verdict.DUPLICATE, result
    assert "same date of birth 2008-03-23" in result.evidence
    assert "nearly the same city: bolton / botlon" in result.evidence


def test_different_dates_of_birth_count_against_the_same_name(person: MakeRecord) -> None:
    same = compare(person("Jessica", "Carr", date_of_birth="1990-01-02"), person("Jessica", "Carr"))
    apart = compare(
        person("Jessica", "Carr", date_of_birth="1990-01-02"),
        person("Jessica", "Carr", date_of_birth="1971-08-30"),
    )
    slip = compare(
        person("Jessica", "Carr", date_of_birth="1990-01-02"),
        person("Jessica", "Carr", date_of_birth="1990-02-01"),
    )
    assert apart.score < same.score < slip.score
    assert "different dates of birth: 1990-01-02 / 1971-08-30" in apart.evidence
    assert "nearly the same date of birth: 1990-01-02 / 1990-02-01" in slip.evidence


def test_people_with_clearly_different_given_names_are_not_one_person(person: MakeRecord) -> None:
    # Family members share a surname, a household email and a town: "Mary" is not a slip for "Mark".
    left = person("Mary", "Smith", email="smiths@example.com", city="Leeds")
    right = person("Mark", "Smith", email="smiths@example.com", city="Leeds")
    assert compare(left, right).verdict is not Verdict.DUPLICATE


def test_one_name_at_another_street_with_another_phone_is_a_branch_to_look_at(company: MakeRecord) -> None:
    left = company("Bethel New Life", street="1120 N Lamon Ave", phone="312 626 7760", city="Chicago")
    right = company("Bethel New Life", street="4950 W Thomas St", phone="312 473 7870", city="Chicago")
    result = compare(left, right)
    assert result.verdict is Verdict.POSSIBLE
    assert "different street addresses" in result.evidence
    # An identifier both share still settles it.
    same_vat = compare(
        left.model_copy(update={"vat": "US12-3456789"}), right.model_copy(update={"vat": "US12-3456789"})
    )
    assert same_vat.verdict is Verdict.DUPLICATE


def test_names_sharing_a_word_of_substance_at_one_address_and_phone_are_one_site(company: MakeRecord) -> None:
    left = company("Gads Hill Center GH Sinai Community Ogden", street="2653 W. Ogden", phone="312 521 1196")
    right = company("Gads Hill Child Care Center", street="2653 W Ogden", phone="(312) 521-1196")
    assert compare(left, right).verdict is Verdict.DUPLICATE


def test_a_longer_name_at_another_street_is_a_branch_even_on_one_switchboard(company: MakeRecord) -> None:
    left = company("Christopher House", street="2610 N Francisco Ave", phone="312 235 4073", postcode="60647")
    right = company("Christopher House Logan Square", street="3255 W Altgeld St", phone="312 235 4073")
    assert compare(left, right).verdict is Verdict.POSSIBLE
    same_street = right.model_copy(update={"street": "2610 N. Francisco"})
    assert compare(left, same_street).verdict is Verdict.DUPLICATE


def test_one_name_and_phone_at_another_street_is_a_second_site_to_look_at(company: MakeRecord) -> None:
    # A charity's centres, a chain's shops: one name, one central line, two premises.
    left = company("Christopher House", street="2610 N Francisco Ave", phone="312 235 4073")
    right = company("Christopher House", street="3255 W Altgeld St", phone="312 235 4073")
    assert compare(left, right).verdict is Verdict.POSSIBLE


def test_a_slip_in_a_street_name_is_the_same_street_but_not_in_its_number(company: MakeRecord) -> None:
    left = company("Bradwell School", street="7736 S Burnham Ave", phone="773 535 6600")
    right = company("Bradwell School", street="7736 S. Burnhan", phone="773 535 6600")
    assert "same street address 7736 S Burnham Ave" in compare(left, right).evidence
    other_street = compare(company("Acme", street="249 E 39th St"), company("Acme", street="249 E 37th St"))
    assert "different street addresses" in other_street.evidence


@pytest.mark.parametrize(
    ("street", "other"),
    [
        ("124 E 113th St", "124 E. 113 St."),  # an ordinal written without its ending
        ("2050 E 93rd Street", "2050 E 93th St."),  # or with the wrong one
        ("10810 S. Ave. H", "10810 Ave. H"),  # the direction before the street left out
        ("4941 W Chicago Ave", "4941 W CHICAGO"),  # a street named for the town, its type left out
        ("710 W. 65th Street Building Z", "710 W 65th Building Z"),  # an ordinal street before a unit
        (
            "4910 S Dr. Martin Luther King Jr Dr",
            "4910 S King Drive",
        ),  # named for a person, given names left out
        ("1 John F Kennedy Blvd", "1 Kennedy Blvd"),
    ],
)
def test_one_us_street_address_written_two_ways_is_one_place(
    company: MakeRecord, street: str, other: str
) -> None:
    ids = {"phone": "(773) 535 6600", "city": "Chicago", "country": "US"}
    result = compare(
        company("Bradwell School", street=street, **ids), company("Bradwell", street=other, **ids)
    )
    assert any(r.startswith("same street address") for r in result.evidence)
    assert not any(r.startswith("different street") for r in result.evidence)


@pytest.mark.parametrize(
    ("street", "other"),
    [
        ("249 E 39th St", "249 E 37th"),  # the ordinal's number still decides
        ("249 N Main St", "249 S Main St"),  # two directions given: two streets
        ("249 W Chicago Ave", "249 W Ohio St"),
        ("12 Park Rd", "12 Regents Park Rd"),  # one word more is another street, not given names
        ("12 N King Dr", "12 S Martin Luther King Dr"),
    ],
)
def test_other_us_streets_stay_other_streets(company: MakeRecord, street: str, other: str) -> None:
    result = compare(
        company("Acme", street=street, city="Chicago"), company("Acme", street=other, city="Chicago")
    )
    assert not any(r.startswith("same street address") for r in result.evidence)


def test_a_unit_or_a_building_written_before_the_street_is_the_same_premises(company: MakeRecord) -> None:
    # UK address lines often start with the unit: the street is still read, and agrees.
    left = company("Harbour Lumen Ltd", street="Unit 4, 12 Wellington Street", city="Leeds")
    right = company("Harbour Lumen Limited", street="12 Wellington St", city="Leeds")
    assert "same street address 12 Wellington St" in compare(left, right).evidence
    elsewhere = company("Harbour Lumen Limited", street="Flat 2, 40 Wellington St", city="Leeds")
    assert "same street, different numbers: 12 / 40" in compare(left, elsewhere).evidence
    named = company("Harbour Lumen Limited", street="Lumen House, 12 Wellington St", city="Leeds")
    assert "same street address 12 Wellington St" in compare(left, named).evidence


def test_a_record_known_by_its_trading_name_is_the_same_business(company: MakeRecord) -> None:
    legal = company("Acme Inc dba Widgetworld")
    result = compare(legal, company("Widgetworld"))
    assert result.verdict is Verdict.DUPLICATE
    assert result.evidence[:2] == ("'Acme Inc' trades as 'Widgetworld'", "same name 'Widgetworld'")
    assert compare(legal, company("ACME INC.")).verdict is Verdict.DUPLICATE


def test_two_businesses_trading_under_one_name_are_not_duplicates(company: MakeRecord) -> None:
    # A franchise's shops: each its own company, all trading as the brand.
    result = compare(company("Smith Foods Ltd t/a Subway"), company("Jones Catering Ltd t/a Subway"))
    assert result.verdict is Verdict.DISTINCT


SITE = {"street": "14 Mill Lane", "phone": "0113 496 0123", "city": "Leeds"}


def test_a_site_named_after_its_operator_is_the_site_at_its_premises(company: MakeRecord) -> None:
    # "Operator - Site": the other system knows the site by its own name, at the same door and line.
    operated = company("Riverside Trust - Little Acorns Nursery", **SITE)
    result = compare(operated, company("Little Acorns Day Nursery", **SITE))
    assert result.verdict is Verdict.DUPLICATE
    assert (
        result.evidence[0]
        == "'Riverside Trust - Little Acorns Nursery' names the site 'Little Acorns Nursery'"
    )


@pytest.mark.parametrize(
    "elsewhere",
    [
        {},  # names alone
        {"street": "14 Mill Lane", "city": "Leeds"},  # the premises without the phone
        {"street": "90 Mill Lane", "phone": "0113 496 0123", "city": "Leeds"},  # the line at another door
    ],
)
def test_a_site_name_alone_is_no_duplicate(company: MakeRecord, elsewhere: dict[str, str]) -> None:
    # An operator runs sites of one name in many places: the site's name speaks only at one site.
    operated = company(
        "Riverside Trust - Little Acorns Nursery", **{k: v for k, v in SITE.items() if k in elsewhere}
    )
    result = compare(operated, company("Little Acorns Day Nursery", **elsewhere))
    assert result.verdict is not Verdict.DUPLICATE
    assert not any("names the site" in r for r in result.evidence)


@pytest.mark.parametrize(
    "name",
    ["DUPLICATE - Acme Widgets Ltd", "Acme Widgets Ltd - GBP", "Acme Widgets - 2", "Acme Ltd - Services"],
)
def test_a_mark_a_currency_a_number_or_a_descriptor_after_a_dash_is_no_site(
    company: MakeRecord, name: str
) -> None:
    assert features_of(company(name)).other_names == ()


def test_a_record_marked_as_a_duplicate_is_still_the_same_company(company: MakeRecord) -> None:
    result = compare(company("DUPLICATE - Acme Widgets Ltd"), company("Acme Widgets Limited"))
    assert result.verdict is Verdict.DUPLICATE
    assert result.evidence[0] == (
        "same name once 'Limited' is folded to 'Ltd' and the record's mark 'DUPLICATE' is set aside"
    )


def test_pages_on_one_platform_and_placeholders_are_not_shared_details(company: MakeRecord) -> None:
    # Two small businesses that give their Facebook pages as websites, and nothing for a postcode.
    left = company("Harbour Bakery", website="https://www.facebook.com/harbourbakery", postcode="n/a")
    right = company("Lumen Florists", website="facebook.com/lumenflorists", postcode="N/A")
    result = compare(left, right)
    assert not any(r.startswith(("same website", "same postcode")) for r in result.evidence)
    same_page = compare(left, company("Harbour Bakery Ltd", website="facebook.com/HarbourBakery"))
    assert "same website facebook.com/harbourbakery" in same_page.evidence


def test_a_national_number_is_read_in_the_records_own_country(company: MakeRecord) -> None:
    # "UK" is no ISO code: the number used to be read nowhere, and so was lost.
    uk = company("Harbour Lumen Ltd", phone="020 7946 0000", country="UK")
    international = company("Harbour Lumen Limited", phone="+44 20 7946 0000")
    assert "same phone +44 20 7946 0000" in compare(uk, international, default_region="US").evidence


def test_one_number_read_in_two_countries_is_still_one_number(company: MakeRecord) -> None:
    # The CRM record gives its country, the Books copy does not (and the default region is GB).
    us = company("Lakeside Dental PLLC", phone="312-555-0100", country="United States")
    bare = company("Lakeside Dental", phone="(312) 555-0100")
    assert "same phone number 3125550100 (read in two countries)" in compare(us, bare).evidence


@pytest.mark.parametrize(
    ("given", "other"), [("Robert", "Bob"), ("Elizabeth", "Liz"), ("Bob", "Rob"), ("Jane", "J.")]
)
def test_a_short_form_or_an_initial_of_a_given_name_is_the_same_person(
    person: MakeRecord, given: str, other: str
) -> None:
    left = person(given, "Smith", email="r.smith@acme.co.uk", city="Leeds")
    right = person(other, "Smith", email="r.smith@acme.co.uk", city="Leeds")
    result = compare(left, right)
    assert result.verdict is Verdict.DUPLICATE
    assert result.evidence[0].startswith("same name allowing for")


@pytest.mark.parametrize(("given", "other"), [("Jane", "John"), ("Mary", "M. J."), ("Robert", "Will")])
def test_other_given_names_on_a_household_email_stay_apart(
    person: MakeRecord, given: str, other: str
) -> None:
    left = person(given, "Smith", email="smiths@example.com", city="Leeds")
    right = person(other, "Smith", email="smiths@example.com", city="Leeds")
    assert compare(left, right).verdict is not Verdict.DUPLICATE


def test_names_in_other_scripts_are_compared_not_dropped(company: MakeRecord) -> None:
    # Before, letters outside a-z were dropped: two Cyrillic names were both empty and never matched.
    assert compare(company("ООО «Ресурс»"), company("Ресурс ООО")).verdict is Verdict.DUPLICATE
    assert compare(company("ООО «Ресурс»"), company("ООО «Вектор»")).verdict is Verdict.DISTINCT
    assert compare(company("北京科技有限公司"), company("上海贸易有限公司")).verdict is Verdict.DISTINCT


def test_a_books_customer_is_found_by_its_company_name_too(company: MakeRecord) -> None:
    # The display name is the contact's; the CRM account carries the company's name.
    books = company(
        "Jane Doe", system=System.BOOKS, module=Module.BOOKS_CUSTOMERS, other_names=("Doe Design Ltd",)
    )
    result = compare(company("Doe Design Limited"), books)
    assert result.verdict is Verdict.DUPLICATE
    assert result.evidence[0] == "'Jane Doe' has the company name 'Doe Design Ltd'"


def test_a_books_individual_is_found_by_its_company_name(company: MakeRecord, person: MakeRecord) -> None:
    books = person(
        "Jane", "Doe", system=System.BOOKS, module=Module.BOOKS_CUSTOMERS, other_names=("Doe Design Ltd",)
    )
    result = compare(company("Doe Design Limited", city="Leeds"), books.model_copy(update={"city": "Leeds"}))
    assert result.verdict is Verdict.DUPLICATE
    assert result.evidence[0] == "'Jane Doe' has the company name 'Doe Design Ltd'"


@pytest.mark.parametrize(
    ("left", "right", "said"),
    [
        (
            "St. John's Bakery",
            "Saint Johns Bakery",
            "same name allowing for an abbreviation: 'St' vs 'Saint'",
        ),
        (
            "Smith & Sons Ltd",
            "Smith and Son Ltd",
            "same name once 'Son' is read as 'Sons' and '&' is read as 'and'",
        ),
        ("Acme International Ltd", "Acme Intl Ltd", "same name once 'Intl' is read as 'International'"),
        # Short forms that stand for several words: read as the word the other name has.
        (
            "Acme Dist Ltd",
            "Acme Distribution Ltd",
            "same name allowing for an abbreviation: 'Dist' vs 'Distribution'",
        ),
        (
            "Acme Dist Ltd",
            "Acme Distributors Ltd",
            "same name allowing for an abbreviation: 'Dist' vs 'Distributors'",
        ),
        (
            "Acme Eng Ltd",
            "Acme Engineering Ltd",
            "same name allowing for an abbreviation: 'Eng' vs 'Engineering'",
        ),
        (
            "Smith & Assoc",
            "Smith and Associates",
            "same name once 'Assoc' is read as 'Associates' and '&' is read as 'and'",
        ),
    ],
)
def test_a_short_form_in_a_company_name_is_read_and_said(
    company: MakeRecord, left: str, right: str, said: str
) -> None:
    result = compare(company(left), company(right))
    assert result.verdict is Verdict.DUPLICATE
    assert result.evidence[0] == said


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Acme Eng Ltd", "Acme English Ltd"),  # a word not known to be cut short is a word
        ("Acme Di Ltd", "Acme Distribution Ltd"),  # two letters stand for too many words
        ("Acme Distribution Ltd", "Acme District Ltd"),  # two long forms of one short form
    ],
)
def test_a_word_is_cut_short_only_to_three_letters_of_a_known_word(
    company: MakeRecord, left: str, right: str
) -> None:
    assert compare(company(left), company(right)).verdict is not Verdict.DUPLICATE


def test_st_is_read_as_saint_only_beside_saint(company: MakeRecord) -> None:
    # "ST" is also an initialism: STMicroelectronics must still meet "ST Microelectronics".
    result = compare(company("STMicroelectronics N.V."), company("ST Microelectronics NV"))
    assert result.verdict is Verdict.DUPLICATE


def test_a_sole_traders_initial_pairs_with_the_given_name(company: MakeRecord) -> None:
    assert (
        compare(company("J Smith Plumbing"), company("John Smith Plumbing Ltd")).verdict is Verdict.DUPLICATE
    )
    # Another initial is another name.
    assert (
        compare(company("J Smith Plumbing"), company("Mark Smith Plumbing Ltd")).verdict
        is not Verdict.DUPLICATE
    )


def test_a_vat_number_and_a_company_number_are_not_compared(company: MakeRecord) -> None:
    # One field holds either: a UK VAT number has 9 digits, a company registration number 8.
    result = compare(
        company("Acme Widgets Ltd", vat="GB 123 4567 89"), company("Acme Widgets Limited", vat="01234567")
    )
    assert result.verdict is Verdict.DUPLICATE
    assert not any("VAT" in reason for reason in result.evidence)
    other = compare(
        company("Acme Widgets Ltd", vat="GB123456789"), company("Acme Widgets Ltd", vat="GB987654321")
    )
    assert "different VAT/company numbers: GB123456789 / GB987654321" in other.evidence


def test_a_company_site_and_its_subdomains_are_one_site(company: MakeRecord) -> None:
    with_site = company("Acme Widgets Ltd", website="https://www.acme.co.uk")
    assert (
        "same website acme.co.uk"
        in compare(with_site, company("Acme Widgets", website="shop.acme.co.uk")).evidence
    )
    mailed = compare(with_site, company("Acme Widgets", email="jane@mail.acme.co.uk"))
    assert "email domain matches the website acme.co.uk" in mailed.evidence
    # Sites on one host are not one site: a bare host is nobody's.
    hosted = compare(company("Acme", website="wixsite.com"), company("Beta", website="beta.wixsite.com"))
    assert not any(reason.startswith("same website") for reason in hosted.evidence)


def test_one_companys_customers_in_two_currencies_are_at_most_possible(company: MakeRecord) -> None:
    # Books keeps one currency per customer, so the twins share every identifier on purpose.
    shared = {"email": "accounts@acme.co.uk", "vat": "GB123456789", "system": System.BOOKS}
    shared["module"] = Module.BOOKS_CUSTOMERS
    result = compare(company("Acme Ltd", currency="GBP", **shared), company("Acme Ltd (USD)", **shared))
    assert result.verdict is Verdict.POSSIBLE
    assert result.evidence[-1].startswith("different currencies: GBP / USD")
    # The same currency, or one side that does not say, leaves the pair as it was.
    assert (
        compare(company("Acme Ltd", currency="usd"), company("Acme Ltd (USD)")).verdict is Verdict.DUPLICATE
    )
    assert compare(company("Acme Ltd"), company("Acme Ltd - USD")).verdict is Verdict.DUPLICATE


def test_a_sole_traders_account_named_with_a_title_meets_the_person(
    company: MakeRecord, person: MakeRecord
) -> None:
    assert compare(company("Mr John Smith"), company("John Smith")).evidence[0] == (
        "same name once the title 'Mr' is set aside"
    )
    books = person("John", "Smith", system=System.BOOKS, module=Module.BOOKS_CUSTOMERS)
    # A person's name alone is shared by many people: worth a look, not a duplicate.
    assert compare(company("Mr John Smith"), books).verdict is Verdict.POSSIBLE
    assert blocking_keys(company("Mr John Smith")) & blocking_keys(books)


def test_mailboxes_at_one_company_domain_make_a_name_with_extra_words_worth_a_look(
    company: MakeRecord,
) -> None:
    # "Brindle Joinery" / "Brindle Joinery Services": extra words alone say two businesses; two
    # mailboxes of the company's own domain say it may be one. A free-mail provider's domain says nothing.
    at_domain = compare(
        company("Brindle Joinery", email="sales@brindle.co.uk"),
        company("Brindle Joinery Services", email="accounts@brindle.co.uk"),
    )
    assert at_domain.verdict is Verdict.POSSIBLE
    assert "same email domain brindle.co.uk" in at_domain.evidence
    for other in ("accounts@elsewhere.co.uk", "brindle.accounts@gmail.com"):
        first = "brindle.sales@gmail.com" if other.endswith("gmail.com") else "sales@brindle.co.uk"
        apart = compare(
            company("Brindle Joinery", email=first), company("Brindle Joinery Services", email=other)
        )
        assert apart.verdict is Verdict.DISTINCT, other
        assert not any("email domain" in reason for reason in apart.evidence)
