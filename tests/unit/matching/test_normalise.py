"""One test per normalisation rule: what is folded, and what must survive folding."""

from __future__ import annotations

import phonenumbers
import pytest

from sync_guard.matching.normalise import (
    _from_e164,
    country_code,
    email_domain,
    emails_in,
    format_phone,
    is_free_mail,
    normalise_city,
    normalise_company_name,
    normalise_date,
    normalise_email,
    normalise_person_name,
    normalise_phone,
    normalise_postcode,
    normalise_street,
    normalise_vat,
    phone_digits,
    postcode_shown,
    split_trading_name,
    vat_core,
    website_domain,
    without_currency,
)
from sync_guard.matching.tables import fold_text, tables, tokenise


def key(name: str) -> str:
    return normalise_company_name(name).key


def core(name: str) -> tuple[str, ...]:
    return normalise_company_name(name).core


class TestText:
    def test_case_and_accents_are_folded(self) -> None:
        assert fold_text("MÜLLER Café Straße") == "muller cafe strasse"

    def test_punctuation_and_whitespace_collapse(self) -> None:
        assert tokenise("  Acme,   Widgets -- (Bristol)  ") == ("acme", "widgets", "bristol")

    def test_apostrophes_are_dropped_not_split(self) -> None:
        assert tokenise("Philips' Lamps") == tokenise("Philip's Lamps") == ("philips", "lamps")

    def test_runs_of_single_letters_join(self) -> None:
        assert tokenise("N. V. Philips") == ("nv", "philips")
        assert tokenise("U.S. Steel") == ("us", "steel")

    def test_ampersand_reads_as_and(self) -> None:
        assert tokenise("Smith & Jones") == tokenise("Smith and Jones")

    def test_a_run_of_single_letters_stops_at_a_comma_before_a_space(self) -> None:
        assert tokenise("Shell B.V., D") == ("shell", "bv", "d")
        assert tokenise("Maasland N,V,") == ("maasland", "nv")

    def test_a_run_ending_in_a_dotted_legal_form_is_split_from_it(self) -> None:
        endings = tables().initialisms
        assert tokenise("D S M N. V.", run_endings=endings) == ("dsm", "nv")
        # Too short to hold a name before the form: "U.S.A." stays one run.
        assert tokenise("U.S.A. Trading", run_endings=endings) == ("usa", "trading")


class TestCompanyNames:
    @pytest.mark.parametrize(
        ("left", "right"),
        [
            ("Acme Ltd", "ACME LIMITED"),
            ("Acme Ltd.", "acme ltd"),
            ("Acme PLC", "Acme p.l.c."),
            ("Acme LLP", "Acme L.L.P."),
            ("Acme LLC", "Acme Limited Liability Company"),
            ("Acme Inc", "Acme Incorporated"),
            ("Acme Corp", "Acme Corporation"),
            ("Acme Co", "Acme Company"),
            ("Acme GmbH", "ACME G.m.b.H."),
            ("Acme AG", "Acme Aktiengesellschaft"),
            ("Acme N.V.", "Acme NV"),
            ("Acme B.V.", "Acme BV"),
            ("Acme S.A.", "Acme SA"),
            ("Acme SARL", "Acme S.A.R.L."),
            ("Acme Pty Ltd", "Acme Pty. Limited"),
            ("Acme Kft.", "ACME KFT"),
            ("Acme d.o.o.", "Acme DOO"),
            ("Acme PLLC", "Acme P.L.L.C."),
        ],
    )
    def test_legal_forms_fold_to_one_spelling(self, left: str, right: str) -> None:
        assert key(left) == key(right)

    @pytest.mark.parametrize("name", ["Acme Kft.", "Acme Zrt.", "Acme d.o.o.", "Acme PLLC", "Acme gGmbH"])
    def test_more_countries_legal_forms_leave_the_name(self, name: str) -> None:
        assert core(name) == ("acme",)

    def test_legal_forms_of_different_kinds_stay_apart_in_the_key(self) -> None:
        assert key("Acme Ltd") != key("Acme Inc")
        assert core("Acme Ltd") == core("Acme Inc") == ("acme",)

    def test_what_distinguishes_companies_survives(self) -> None:
        assert core("Acme (UK) Ltd") == ("acme", "uk")
        assert core("Acme (US) Inc") == ("acme", "us")

    def test_leading_the_is_dropped(self) -> None:
        assert key("The Design Lab") == key("Design Lab") == "design lab"

    def test_trailing_the_is_dropped(self) -> None:
        assert key("Design Lab, The") == "design lab"

    def test_the_inside_a_name_is_kept(self) -> None:
        assert core("Bank of the West") == ("bank", "of", "the", "west")

    def test_ampersand_and_and_give_one_key(self) -> None:
        assert key("Smith & Co") == key("Smith and Co.") == key("SMITH AND COMPANY")

    def test_trailing_space_and_case_do_not_matter(self) -> None:
        assert key("Acme Widgets Ltd ") == key("ACME WIDGETS LTD")

    def test_a_form_at_the_start_is_recognised_only_where_the_table_says(self) -> None:
        assert core("N.V. Philips Gloeilampenfabrieken") == ("philips", "gloeilampenfabrieken")
        # "SE" is a legal form after a name, but at the start it is the name.
        assert core("SE Electrical Ltd") == ("se", "electrical")

    def test_words_after_the_last_legal_form_are_a_tail(self) -> None:
        name = normalise_company_name("Unilever N.V., Rotterdam")
        assert name.core == ("unilever",)
        assert name.tail == ("rotterdam",)

    def test_a_place_after_a_comma_is_a_tail_when_the_form_leads(self) -> None:
        name = normalise_company_name("Naamloze Vennootschap Nutricia, Zoetermeer, NL")
        assert (name.core, name.tail) == (("nutricia",), ("zoetermeer", "nl"))
        assert normalise_company_name("N.V. Nutricia").core == ("nutricia",)

    def test_an_address_after_the_legal_form_is_a_tail_without_its_house_number(self) -> None:
        name = normalise_company_name("Koninklijke Philips Electronics N.V. Groenewoudseweg 1")
        assert (name.core, name.tail) == (("philips", "electronics"), ("groenewoudseweg",))
        long = normalise_company_name("Shell Research B. V. Carel van Bylandtlaan 30, NL")
        assert long.core == ("shell", "research")
        # Without a street beside it, a number after the form still marks another branch.
        assert normalise_company_name("Acme Ltd 2").tail == ("2",)

    def test_a_legal_form_run_into_the_last_word_is_taken_off(self) -> None:
        assert core("KONINKLIJKE PHILIPS ELECTRONICSN.V.") == ("philips", "electronics")
        assert core("HUNTERDOUGLASINDUSTRIESB.V.") == ("hunterdouglasindustries",)
        assert core("e.g. Foods Ltd") == ("eg", "foods")

    def test_the_royal_predicate_is_dropped_abbreviated_or_run_into_the_name(self) -> None:
        assert core("KONINKL PHILIPS ELECTRONICS NV") == ("philips", "electronics")
        assert core("KoninklijkePhilips Electronics") == ("philips", "electronics")
        assert core("Koninklijke Philips") == ("philips",)

    def test_a_country_in_its_own_language_reads_as_its_english_name(self) -> None:
        assert core("ASML Holland B.V.") == core("ASML Nederland BV") == ("asml", "netherlands")
        assert core("Sony Europa B.V.") == ("sony", "europe")

    def test_html_escapes_are_read(self) -> None:
        assert key("Smith &amp; Sons Ltd") == key("Smith & Sons Ltd")

    def test_two_legal_forms_fold_and_the_name_between_them_stays(self) -> None:
        name = normalise_company_name("Hitachi Storage, Inc. Netherlands B.V.")
        assert name.core == ("hitachi", "storage", "netherlands")
        assert [h.form.canonical for h in name.legal_forms] == ["Inc", "BV"]

    def test_one_name_written_twice_with_two_legal_forms_is_one_name(self) -> None:
        assert normalise_company_name("UNILEVER PLC; UNILEVER NV").core == ("unilever",)
        assert normalise_company_name("Reed Elsevier PLC Reed Elsevier N.V.").core == ("reed", "elsevier")
        assert normalise_company_name("Duran Duran Ltd").core == ("duran", "duran")  # one form: a name

    def test_a_name_made_only_of_legal_form_words_keeps_them(self) -> None:
        assert normalise_company_name("Limited").core == ("limited",)

    def test_every_legal_form_in_the_table_is_recognised(self) -> None:
        for variant, form in tables().legal_forms.items():
            name = normalise_company_name("Zyxwv " + " ".join(variant))
            assert name.core == ("zyxwv",), variant
            assert name.legal_forms[-1].form == form


class TestPersonNames:
    def test_first_and_last_are_folded(self) -> None:
        assert normalise_person_name(" José ", "O'Neill").key == "jose oneill"

    def test_full_name_is_used_when_parts_are_missing(self) -> None:
        assert normalise_person_name(None, None, "Dr Jane Smith").key == "jane smith"

    def test_sorted_key_ignores_order(self) -> None:
        assert (
            normalise_person_name("Jane", "Smith").sorted_key
            == normalise_person_name("Smith", "Jane").sorted_key
        )


class TestContactDetails:
    def test_email_case_and_whitespace(self) -> None:
        assert normalise_email("  Jane.Doe@Acme.CO.UK ") == "jane.doe@acme.co.uk"
        assert normalise_email("jane.doe @ acme.co.uk") == "jane.doe@acme.co.uk"

    def test_a_full_stop_after_an_email_is_not_the_address(self) -> None:
        assert normalise_email("jane.doe@acme.co.uk.") == "jane.doe@acme.co.uk"

    @pytest.mark.parametrize("bad", ["", "jane", "jane@", "@acme.com", "jane@acme", "jane doe@acme.com"])
    def test_malformed_emails_are_dropped(self, bad: str) -> None:
        assert normalise_email(bad) is None

    def test_email_domain_ignores_free_mail(self) -> None:
        assert email_domain("jane@acme.co.uk") == "acme.co.uk"
        assert email_domain("jane@gmail.com") is None
        assert email_domain("jane@HOTMAIL.co.uk") is None

    def test_free_mail_covers_subdomains(self) -> None:
        assert is_free_mail("mail.yahoo.co.uk")
        assert not is_free_mail("yahoo-widgets.co.uk")

    def test_uk_phone_in_national_form_becomes_e164(self) -> None:
        assert normalise_phone("020 7946 0000", "GB") == "+442079460000"
        assert normalise_phone("+44 (0)20 7946 0000", "US") == "+442079460000"

    def test_default_region_reads_national_numbers(self) -> None:
        assert normalise_phone("(773) 386-5286", "US") == "+17733865286"

    @pytest.mark.parametrize("bad", [None, "", "n/a", "123", "3865286"])
    def test_numbers_that_cannot_be_e164_are_none(self, bad: str | None) -> None:
        assert normalise_phone(bad, "US") is None

    def test_phone_shows_in_international_format(self) -> None:
        assert format_phone("+442079460000") == "+44 20 7946 0000"
        assert format_phone("+17733865286") == "+1 773-386-5286"
        assert format_phone("not a number") == "not a number"

    def test_shown_phone_is_what_libphonenumber_reads_from_e164(self) -> None:
        # format_phone takes E.164 apart itself instead of parsing it again: for every region's example
        # numbers of every type (Italy's leading zeros among them) it must read what parse() reads.
        checked = 0
        for region in sorted(phonenumbers.SUPPORTED_REGIONS):
            for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
                example = phonenumbers.example_number_for_type(region, kind)
                if example is None:
                    continue
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                assert _from_e164(e164) == phonenumbers.parse(e164, None), e164
                checked += 1
        for e164 in ("+390612345678", "+3900012345", "+2250700000000"):
            assert _from_e164(e164) == phonenumbers.parse(e164, None), e164
        assert checked > 400

    def test_vat_keeps_letters_and_digits(self) -> None:
        assert normalise_vat("gb 123 4567 89") == "GB123456789"
        assert vat_core("GB123456789") == "123456789"
        assert normalise_vat("n/a") is None

    def test_postcodes(self) -> None:
        assert normalise_postcode("sw1a 1aa") == "SW1A1AA"
        assert normalise_postcode("60649-1234") == "60649"

    @pytest.mark.parametrize(
        ("written", "shown"),
        [
            ("sw1a 1aa", "SW1A 1AA"),
            ("M1 1AE", "M1 1AE"),
            ("ls11aa", "LS1 1AA"),
            ("10115", "10115"),  # German: no space to put back
            ("1012 AB", "1012AB"),  # Dutch: digits first, not a UK shape, left as the key
        ],
    )
    def test_a_uk_postcode_is_shown_with_its_space(self, written: str, shown: str) -> None:
        key = normalise_postcode(written)
        assert key is not None
        assert postcode_shown(key) == shown

    def test_websites_become_domains(self) -> None:
        assert website_domain("https://www.Acme.co.uk/about?x=1") == "acme.co.uk"
        assert website_domain("acme.co.uk") == "acme.co.uk"
        assert website_domain("http://shop.acme.com:8080") == "shop.acme.com"
        assert website_domain("not a site") is None

    def test_street_words_are_folded(self) -> None:
        street = normalise_street("1845 East 79th Street")
        assert street is not None
        assert street.number == "1845"
        assert street.words == ("e", "79th", "st")
        assert street.name_words == ("e", "79th")
        assert normalise_street("1845 E. 79th St.") == street


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1983-05-19", "1983-05-19"),
        ("19/05/1983", "1983-05-19"),
        ("05/19/1983", "1983-05-19"),  # 19 cannot be a month: read US-style
        ("19.5.1983", "1983-05-19"),
        ("1983-02-30", None),
        ("next Tuesday", None),
        ("", None),
        (None, None),
    ],
)
def test_dates_of_birth_are_read_in_iso_or_day_first_order(raw: str | None, expected: str | None) -> None:
    assert normalise_date(raw) == expected


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("4753 W. Washington Blvd", "4753-59 W Washington"),  # a range of house numbers
        ("2929 S Wabash", "2929 S Wabash Suite 200"),  # a unit inside the premises
        ("10001 S. Woodlawn", "10001 South Woodlawn Avenue First Floor"),
        ("3038 West 59th Street 1st", "3038 W. 59th St."),  # an ordinal after the street: the floor
        ("2610 West 25th Place Lower level", "2610 W 25th Pl"),  # units after the street
        ("12 Kings Road Flat 3", "12 Kings Rd"),
        ("12 Kings Road, Lower Ground Floor", "12 Kings Rd"),
        ("4208 N Broadway Street 10", "4208 N. Broadway"),
        ("1631 W. Jonquil Terrace", "1631 W Jonquil Tr."),
        ("1900 W VAN BUREN", "1900 W. VanBuren"),  # a street name written as one word
        # A unit written before the street, as UK addresses have it.
        ("Unit 4, 12-14 High Street", "12 High St"),
        ("Flat 3, 10 Downing Street", "10 Downing St"),
        ("Apartment 7b 3 Kings Road", "3 Kings Rd"),
        ("Building B, 7 Mill Lane", "7 Mill Ln"),
        ("2nd Floor, 1 Main St", "1 Main Street"),
        ("Ground Floor Suite 5, 20 Queen Street", "20 Queen St"),
        ("Level 3, 100 George St", "100 George Street"),
        # The premises named before the number, on the same line or the line above.
        ("Acme House, 12 Kings Road", "12 Kings Rd"),
        ("Flat 3, Acme House, 12 Kings Rd", "12 Kings Road"),
        ("c/o Acme Ltd, 5 Mill Rd", "5 Mill Road"),
        ("Hayes Center\n4859 S. Wabash\n", "4859 S Wabash"),
        # The number after the street, as much of Europe writes it.
        ("Kalverstraat 92-1", "Kalverstraat 92"),
        ("12a High Street", "12A High St"),
        # Flats and units named by two numbers: a Glasgow flat (floor/door), a range of units, and
        # a unit and its building's number written with a slash, as Australia writes them.
        ("Flat 1/2, 12 Kings Road", "12 Kings Rd"),
        ("1/2, 12 Kings Road", "12 Kings Rd"),
        ("Units 12-14, 5 Mill Lane", "5 Mill Ln"),
        ("4/12 High St", "Unit 4, 12 High Street"),
        ("4753 - 59 W Washington", "4753 W Washington Blvd"),
    ],
)
def test_street_lines_that_name_one_address_agree(left: str, right: str) -> None:
    a, b = normalise_street(left), normalise_street(right)
    assert a is not None
    assert b is not None
    assert (a.number, a.name_key) == (b.number, b.name_key)


@pytest.mark.parametrize(
    ("raw", "number", "words"),
    [
        ("123 Flat Rock Rd", "123", ("flat", "rock", "rd")),  # no unit's name after the word: a street
        ("12 Old Flat Lane", "12", ("old", "flat", "ln")),
        ("Flat Rock Road", None, ("flat", "rock", "rd")),
        ("Unit 4 Riverside Estate", None, ("riverside", "estate")),
        ("Unit 12-14, Riverside Park", None, ("riverside", "park")),  # the range names the units
        ("Hauptstrasse 12/14", "12", ("haupt", "st")),  # after the street, a slash is a range
    ],
)
def test_a_unit_word_before_the_street_needs_a_units_name(
    raw: str, number: str | None, words: tuple[str, ...]
) -> None:
    street = normalise_street(raw)
    assert street is not None
    assert (street.number, street.words) == (number, words)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("12A High Street", "12 High Street"),  # 12A is a door of its own
        ("Hauptstrasse 5", "Hauptstrasse 7"),
        ("PO Box 123", "PO Box 124"),
    ],
)
def test_one_street_with_other_numbers_is_other_premises(left: str, right: str) -> None:
    a, b = normalise_street(left), normalise_street(right)
    assert a is not None
    assert b is not None
    assert a.name_key == b.name_key
    assert a.number != b.number


def test_a_part_before_the_street_with_a_number_of_its_own_is_kept() -> None:
    street = normalise_street("P.O. Box 44, Leeds")
    assert street is not None
    assert street.words == ("po", "box", "44", "leeds")


def test_a_unit_alone_is_no_street() -> None:
    assert normalise_street("Unit 4") is None


def test_the_town_written_into_the_street_line_is_taken_off() -> None:
    with_town = normalise_street("1248 West 69th Street Chicago", ("chicago",))
    without = normalise_street("1248 W 69th St")
    assert with_town is not None
    assert without is not None
    assert with_town.name_key == without.name_key == "w69th"


@pytest.mark.parametrize(
    ("raw", "name", "trading"),
    [
        ("Acme Ltd t/a Acme Widgets", "Acme Ltd", "Acme Widgets"),
        ("ACME LTD T/A: ACME WIDGETS", "ACME LTD", "ACME WIDGETS"),
        ("Acme Inc dba Widgetworld", "Acme Inc", "Widgetworld"),
        ("Acme Inc d/b/a Widgetworld", "Acme Inc", "Widgetworld"),
        ("Smith Holdings Ltd trading as Smith Plumbing", "Smith Holdings Ltd", "Smith Plumbing"),
        ("Acme Widgets (trading as Acme)", "Acme Widgets", "Acme"),
        # No trading name: the marker is part of a word, or nothing follows it.
        ("Trading Associates Ltd", "Trading Associates Ltd", None),
        ("Dbase Systems Ltd", "Dbase Systems Ltd", None),
        ("Acme t/a", "Acme t/a", None),
    ],
)
def test_a_trading_name_is_told_from_the_name(raw: str, name: str, trading: str | None) -> None:
    assert split_trading_name(raw) == (name, trading)


@pytest.mark.parametrize(
    ("raw", "mark"),
    [
        ("DUPLICATE - Acme Ltd", "DUPLICATE"),
        ("[Do not use] Acme Ltd", "DO NOT USE"),
        ("DNU Acme Ltd", "DNU"),
        ("ZZ Acme Ltd", "ZZ"),
        ("zz-Acme Ltd", "ZZ"),
        ("OLD - Acme Ltd", "OLD"),
        ("Acme Ltd (old)", "OLD"),
        ("Acme Ltd [Archived]", "ARCHIVED"),
        ("Acme Ltd - DO NOT USE", "DO NOT USE"),
        ("ACME LTD *DUPLICATE*", "DUPLICATE"),
        # A copy numbered to get past Books' unique display names.
        ("Acme Ltd (2)", "(2)"),
        ("Acme Ltd [ 3 ]", "(3)"),
    ],
)
def test_an_administrators_mark_is_set_aside(raw: str, mark: str) -> None:
    name = normalise_company_name(raw)
    assert name.core == ("acme",)
    assert name.dropped_mark == mark
    assert name.raw == raw  # shown as written


@pytest.mark.parametrize(
    "raw",
    ["Old Mill Bakery", "Closed Loop Systems", "Archive Solutions Ltd", "XXL Clothing", "Duplicate Keys Ltd"],
)
def test_a_mark_that_is_a_word_of_the_name_stays(raw: str) -> None:
    name = normalise_company_name(raw)
    assert name.dropped_mark is None
    assert len(name.core) >= 2


@pytest.mark.parametrize(
    "raw", ["Rachel's Learning Center #2", "Acme Ltd 2", "Acme Ltd (UK)", "Acme Ltd (123)"]
)
def test_a_number_that_tells_sites_or_entities_apart_stays(raw: str) -> None:
    assert normalise_company_name(raw).dropped_mark is None


@pytest.mark.parametrize(
    ("raw", "emails"),
    [
        ("Jane Smith <Jane@Acme.co.uk>", ["jane@acme.co.uk"]),
        ("jane@acme.co.uk; accounts@acme.co.uk", ["jane@acme.co.uk", "accounts@acme.co.uk"]),
        ('"Smith, Jane" <jane@acme.co.uk>, accounts@acme.co.uk', ["jane@acme.co.uk", "accounts@acme.co.uk"]),
        ("mailto:jane@acme.co.uk", ["jane@acme.co.uk"]),
        ("n/a", []),
        (None, []),
    ],
)
def test_every_address_a_field_gives_is_read(raw: str | None, emails: list[str]) -> None:
    assert emails_in(raw) == emails


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://www.facebook.com/AcmeWidgets/", "facebook.com/acmewidgets"),
        ("https://www.linkedin.com/company/acme-widgets/about", "linkedin.com/acme-widgets"),
        ("https://www.facebook.com/pages/Acme/12345", "facebook.com/acme"),
        ("instagram.com/acme?hl=en", "instagram.com/acme"),
        ("facebook.com", None),  # the platform alone is nobody's site
    ],
)
def test_a_page_on_a_platform_is_the_pages_own_site(url: str, site: str | None) -> None:
    assert website_domain(url) == site


@pytest.mark.parametrize("raw", ["n/a", "N/A", "-", "TBC", "unknown", "0"])
def test_a_placeholder_is_no_address(raw: str) -> None:
    assert normalise_postcode(raw) is None
    assert normalise_city(raw) is None
    assert normalise_street(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "020 7946 0000 / 07700 900123",
        "020 7946 0000; 07700 900123",
        "020 7946 0000 or 07700 900123",
        "+44 20 7946 0000 (main)",
        "020 7946 0000 main",
        "Office, 020 7946 0000",
        "Tel: 020 7946 0000",
        "020 7946 0000 ext. 12",  # an extension is the same line
    ],
)
def test_the_first_number_of_a_field_is_read_without_labels(raw: str) -> None:
    assert normalise_phone(raw, "GB") == "+442079460000"
    digits = phone_digits(raw)
    assert "2079460000" in digits
    assert "900123" not in digits  # nothing of the second number


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("England", "GB"),
        ("gb", "GB"),
        ("United States of America", "US"),
        ("USA", "US"),
        ("Deutschland", "DE"),
        ("Österreich", "AT"),
        ("The Netherlands", "NL"),
        ("UAE", "AE"),
        ("FR", "FR"),  # any code libphonenumber knows
        ("Narnia", None),
        ("XX", None),
        ("", None),
    ],
)
def test_countries_are_read_as_their_codes(raw: str, code: str | None) -> None:
    assert country_code(raw) == code


@pytest.mark.parametrize(
    ("written", "plain"),
    [
        ("Møller A/S", "Moller AS"),
        ("Łódź Sp. z o.o.", "Lodz Sp. z o.o."),
        ("Ærø Cykler", "Aero Cykler"),
        ("Þór ehf", "Thor ehf"),
    ],
)
def test_letters_without_a_base_letter_fold_as_typed_without_them(written: str, plain: str) -> None:
    assert tokenise(written) == tokenise(plain)


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("ООО «Ресурс»", ("ресурс",)),  # a leading Russian form
        ("Ресурс ООО", ("ресурс",)),
        ("Κωνσταντίνος ΑΕ", ("κωνσταντινοσ", "αε")),
        ("北京科技 有限公司", ("北京科技",)),
        ("Acme 株式会社", ("acme",)),
        ("شركة الأمل", ("شركة", "الامل")),
    ],
)
def test_names_in_other_scripts_keep_their_words(name: str, core: tuple[str, ...]) -> None:
    assert normalise_company_name(name).core == core


def test_a_symbol_that_decomposes_to_capitals_is_folded_too() -> None:
    assert tokenise("Acme™ Ltd") == ("acmetm", "ltd")


@pytest.mark.parametrize(
    ("full", "tokens"),
    [
        ("Dr. John Smith PhD", ("john", "smith")),
        ("Rev. John Smith III", ("john", "smith")),
        ("Mr & Mrs Smith", ("smith",)),
        ("M. D. Smith", ("md", "smith")),  # two initials, not a doctor's letters
    ],
)
def test_titles_and_letters_after_a_name_are_not_the_name(full: str, tokens: tuple[str, ...]) -> None:
    assert normalise_person_name(None, None, full).tokens == tokens


@pytest.mark.parametrize(
    ("raw", "mailbox"),
    [
        ("jane+invoices@acme.co.uk", "jane@acme.co.uk"),
        ("Jane.Smith+Orders@Gmail.com", "janesmith@gmail.com"),
        ("jane.smith@googlemail.com", "janesmith@gmail.com"),
        ("jane.smith@acme.co.uk", "jane.smith@acme.co.uk"),  # dots count elsewhere
        ("+447700900123@sms.example.com", "+447700900123@sms.example.com"),  # a leading plus is the name
    ],
)
def test_an_email_is_read_as_the_mailbox_it_reaches(raw: str, mailbox: str) -> None:
    assert normalise_email(raw) == mailbox


@pytest.mark.parametrize(
    ("name", "currency", "rest"),
    [
        ("Acme Ltd (USD)", "USD", "Acme Ltd"),
        ("Acme Ltd [eur]", "EUR", "Acme Ltd"),
        ("Acme Ltd - GBP", "GBP", "Acme Ltd"),
        ("Acme Ltd", None, "Acme Ltd"),
        ("Acme USD", None, "Acme USD"),  # not set off: a word of the name
        ("Acme Ltd (ABC)", None, "Acme Ltd (ABC)"),  # no currency's code
        ("(USD)", None, "(USD)"),  # nothing but the code
    ],
)
def test_a_currency_set_off_at_the_end_of_a_name_is_read_apart(
    name: str, currency: str | None, rest: str
) -> None:
    assert without_currency(name) == (currency, rest)
    assert key(name) == key(rest)


def test_a_persons_title_before_a_sole_traders_name_is_set_aside() -> None:
    name = normalise_company_name("Mr John Smith")
    assert (name.core, name.dropped_honorific) == (("john", "smith"), "mr")
    assert core("Dr Martens") == ("dr", "martens")  # a title and one word: a brand's name
    assert core("Dr. Ing. h.c. F. Porsche AG")[0] == "dr"  # a company's registered name


def test_whoever_the_post_goes_to_is_not_the_name() -> None:
    name = normalise_company_name("Acme Widgets Ltd c/o Jane Smith")
    assert (name.core, name.tail, [h.form.canonical for h in name.legal_forms]) == (
        ("acme", "widgets"),
        (),
        ["Ltd"],
    )
    assert core("Sunrise Care of Surrey Ltd") == ("sunrise", "care", "of", "surrey")  # words of a name
