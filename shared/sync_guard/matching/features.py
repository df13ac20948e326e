"""A record's normalised view, computed once per record and reused by blocking and scoring."""

from __future__ import annotations

from functools import lru_cache

import msgspec

from sync_guard.matching.names import word_weight
from sync_guard.matching.normalise import (
    DEFAULT_PHONE_REGION,
    CompanyName,
    PersonName,
    StreetAddress,
    country_code,
    email_domain,
    emails_in,
    normalise_city,
    normalise_company_name,
    normalise_date,
    normalise_person_name,
    normalise_phone,
    normalise_postcode,
    normalise_street,
    normalise_vat,
    phone_digits,
    site_name,
    split_trading_name,
    website_domain,
    without_currency,
)
from sync_guard.models.records import PartyRecord, RecordKind


class OtherName(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """Another name a record gives for the same party: one it trades under ("Acme Ltd t/a Acme
    Widgets"), or Books' company name beside a display name."""

    name: CompanyName
    # Two records that agree only by trading names may be two businesses under one brand (a franchise).
    trading: bool
    # The site's name in "Operator - Site" (a trading name too): an operator runs sites of one name in
    # many places, so it names the same party only at the same premises (see compare).
    site: bool = False


class RecordFeatures(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """Everything the matcher compares, already normalised."""

    kind: RecordKind
    company: CompanyName | None  # set for companies (and for people's records that carry a company name)
    person: PersonName | None  # set for people
    emails: tuple[str, ...]  # primary first
    email_domains: frozenset[str]  # not free-mail
    web_domain: str | None
    phone: str | None  # E.164
    phone_digits: str
    vat: str | None
    postcode: str | None
    street: StreetAddress | None
    city: str | None
    country: str | None
    date_of_birth: str | None = None  # YYYY-MM-DD
    # Further names of the party (``company`` is the first name given, without a trading name): the
    # other record may know it by any of them.
    other_names: tuple[OtherName, ...] = ()
    # The currency the customer is billed in (ISO code): Books' currency code, or one its name ends with.
    currency: str | None = None

    @property
    def name_words(self) -> tuple[str, ...]:
        """The words compared as the name: a person's name tokens, else the company's core words."""
        if self.kind is RecordKind.PERSON and self.person is not None:
            return self.person.tokens
        return self.company.core if self.company is not None else ()

    @property
    def domains(self) -> frozenset[str]:
        """Company domains from email addresses and the website."""
        return self.email_domains | ({self.web_domain} if self.web_domain else set())


def _emails(record: PartyRecord) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for raw in (record.email, *record.other_emails):
        for value in emails_in(raw):
            seen.setdefault(value, None)
    return tuple(seen)


def record_currency(record: PartyRecord) -> str | None:
    """The currency a customer is billed in: Books' currency code, else one its name ends with
    ("Acme Ltd (USD)"); ``None`` when neither says."""
    named = without_currency(split_trading_name(record.name)[0])[0] if record.name else None
    return _currency_code(record) or named


def _currency_code(record: PartyRecord) -> str | None:
    return record.currency.strip().upper() if record.currency and record.currency.strip() else None


def extract_features(record: PartyRecord, default_region: str = DEFAULT_PHONE_REGION) -> RecordFeatures:
    """Normalise every field the matcher uses (no caching; see :func:`features_of`)."""
    person: PersonName | None = None
    if record.kind is RecordKind.PERSON:
        person = normalise_person_name(record.first_name, record.last_name, record.name)
    company = None
    other_names: list[OtherName] = []
    if record.name and record.name.strip():
        name, trading = split_trading_name(record.name)
        company = normalise_company_name(name)
        if trading:
            other_names.append(OtherName(normalise_company_name(trading), trading=True))
        elif (site := site_name(name)) is not None:
            site_words = normalise_company_name(site)
            if _has_substance(site_words.core):  # not "Acme Ltd - Services", "Acme - The Group"
                other_names.append(OtherName(site_words, trading=True, site=True))
    for other in record.other_names:
        other_name, trading = split_trading_name(other)
        other_names.append(OtherName(normalise_company_name(other_name), trading=False))
        if trading:
            other_names.append(OtherName(normalise_company_name(trading), trading=True))
    emails = _emails(record)
    domains = frozenset(d for d in (email_domain(e) for e in emails) if d)
    country = record.country.strip().upper() if record.country and record.country.strip() else None
    # National numbers are read in the record's own country ("United Kingdom", "UK", "USA", "DE").
    region = country_code(record.country) or default_region
    city = normalise_city(record.city)
    return RecordFeatures(
        kind=record.kind,
        company=company,
        person=person,
        emails=emails,
        email_domains=domains,
        web_domain=website_domain(record.website),
        phone=normalise_phone(record.phone, region),
        phone_digits=phone_digits(record.phone),
        vat=normalise_vat(record.vat),
        postcode=normalise_postcode(record.postcode),
        street=normalise_street(record.street, tuple(city.split()) if city else ()),
        city=city,
        country=country,
        date_of_birth=normalise_date(record.date_of_birth),
        other_names=_distinct_names(company, other_names) if other_names else (),
        # As record_currency() has it; the name's code was found when the name was taken apart.
        currency=_currency_code(record) or (company.currency if company is not None else None),
    )


def _has_substance(words: tuple[str, ...]) -> bool:
    return any(word_weight(w) >= 1.0 and not w.isdigit() for w in words)


def _distinct_names(company: CompanyName | None, others: list[OtherName]) -> tuple[OtherName, ...]:
    """The other names that are not the first name again, nor one another, and have words."""
    seen = {company.core} if company is not None else set()
    kept: list[OtherName] = []
    for other in others:
        if other.name.core and other.name.core not in seen:
            seen.add(other.name.core)
            kept.append(other)
    return tuple(kept)


@lru_cache(maxsize=65_536)
def features_of(record: PartyRecord, default_region: str = DEFAULT_PHONE_REGION) -> RecordFeatures:
    """:func:`extract_features`, cached: a record is compared with several candidates in a row."""
    return extract_features(record, default_region)
