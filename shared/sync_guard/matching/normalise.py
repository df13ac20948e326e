"""Normalisation: turn what people typed into forms that can be compared.

Company names keep what distinguishes two companies ("Acme (UK)" vs "Acme (US)") and fold what does not
(case, accents, punctuation, ``&``/``and``, a leading or trailing "The", legal forms from
``data/legal_forms.json``). Everything here is pure and deterministic.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import msgspec
import phonenumbers
from rapidfuzz.distance import OSA

from sync_guard.matching.tables import LegalForm, fold_text, plain_key, tables, tokenise

DEFAULT_PHONE_REGION = "GB"


class LegalFormHit(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A legal form found in a name: as written there, and what it folds to."""

    written: str
    form: LegalForm


class CompanyName(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A company name taken apart for comparison."""

    raw: str
    # The name's own words, legal forms and a leading/trailing article removed: what tells companies apart.
    core: tuple[str, ...]
    # Words after the last legal form ("Unilever N.V., Rotterdam"): usually a place or an address.
    tail: tuple[str, ...]
    legal_forms: tuple[LegalFormHit, ...]
    # The article dropped from either end, if any ("The Design Lab", "Design Lab, The").
    dropped_article: str | None
    # A royal predicate dropped from the start ("Koninklijke Philips"), or a person's title before a
    # sole trader's name ("Mr John Smith"), if any: a title, not a name.
    dropped_honorific: str | None = None
    # A mark an administrator put on the record, set aside ("DUPLICATE - Acme Ltd", "ZZ Acme", "Acme
    # (old)"): it says what became of the record, not whose it is.
    dropped_mark: str | None = None
    # A currency code set off at the end ("Acme Ltd (USD)"): which of a company's Books customers it is.
    currency: str | None = None

    @property
    def key(self) -> str:
        """The exact normalised name: core words, then the canonical legal forms, then the tail."""
        forms = [hit.form.canonical.lower() for hit in self.legal_forms]
        return " ".join([*self.core, *forms, *self.tail])

    @property
    def core_key(self) -> str:
        """Core words only (legal forms and tail left out): the name blocking key."""
        return " ".join(self.core)

    @property
    def families(self) -> frozenset[str]:
        """The kinds of entity the name's legal forms say (``limited``, ``corporation``, ...)."""
        return frozenset(hit.form.family for hit in self.legal_forms)

    @property
    def form_countries(self) -> frozenset[str]:
        """The countries whose registers use the name's legal forms."""
        return frozenset(country for hit in self.legal_forms for country in hit.form.countries)


def _match_legal_form(tokens: tuple[str, ...], start: int) -> tuple[int, LegalForm] | None:
    """The longest legal form starting at ``tokens[start]``, as (length, form)."""
    table = tables()
    if tokens[start] not in table.legal_form_starts:
        return None
    for length in range(min(table.legal_form_max_len, len(tokens) - start), 0, -1):
        form = table.legal_forms.get(tokens[start : start + length])
        if form is not None:
            return length, form
    return None


def _name_tokens(text: str) -> tuple[str, ...]:
    """A company name's tokens with abbreviations and synonyms read as their long form."""
    table = tables()
    if "&" in text:
        text = html.unescape(text)  # "Smith &amp; Sons" from a web form or an HTML export
    if "." in text:
        text = _GLUED_FORM.sub(_unglue_form, text)
    abbreviations = table.abbreviations
    return tuple(abbreviations.get(t, t) for t in tokenise(text, run_endings=table.initialisms))


# A word run into a dotted legal form ("ELECTRONICSN.V."): three letters of the word, then the form.
_GLUED_FORM = re.compile(r"(?<=[^\W\d_]{3})([^\W\d_])\.\s?([^\W\d_])\b")


def _unglue_form(match: re.Match[str]) -> str:
    form = (match[1] + match[2]).lower()
    return f" {match[0]}" if form in tables().initialisms else match[0]


# "Acme Ltd t/a Acme Widgets", "Acme Inc d/b/a Widgetworld", "Acme Widgets (trading as Acme)": a
# business and the name it trades under, written in one field.
_TRADING_AS = re.compile(
    r"[\s(\[,;-]+(?:t/as?|t\.a\.|d/b/a|d\.b\.a\.?|dba|trading\s+as)[\s:]+", re.IGNORECASE
)


_TRADING_HINT = re.compile(r"dba|trading", re.IGNORECASE)


def split_trading_name(text: str) -> tuple[str, str | None]:
    """A name written with the name it trades under: (the name, the trading name), else (text, None)."""
    if "/" not in text and "." not in text and not _TRADING_HINT.search(text):
        return text, None  # the cheap look: every marker has a slash, a dot, "dba" or "trading"
    found = _TRADING_AS.search(text)
    if found is None:
        return text, None
    name, trading = text[: found.start()].strip(), text[found.end() :].strip(" \t()[]-,;:")
    if not name or not trading:
        return text, None
    return name, trading


# A dash with a space on each side, as one writes "Operator - Site" ("Gist-Brocades" has none).
_SITE_DASH = re.compile(r"\s[-\u2013\u2014]\s")


def site_name(text: str) -> str | None:
    """The site's name in a name written "Operator - Site" ("YMCA of Metropolitan Chicago - Rauner"):
    what follows the first spaced dash, when both sides have letters; else ``None``. An
    administrator's mark ("DUPLICATE - Acme Ltd") is no operator, nor a currency a site ("Acme - GBP")."""
    if " " not in text or ("-" not in text and "\u2013" not in text and "\u2014" not in text):
        return None  # the cheap look
    parts = _SITE_DASH.split(without_currency(without_mark(text)[1])[1], maxsplit=1)
    if len(parts) < 2 or not any(c.isalpha() for c in parts[0]) or not any(c.isalpha() for c in parts[1]):
        return None
    return parts[1].strip()


# Marks administrators put on a record they mean to retire. Most are also words of names ("Old Mill
# Bakery", "Archive Solutions"), so they count only when set off ("OLD - Acme", "[Duplicate] Acme",
# "Acme (old)"); a few never start a name ("ZZ Acme", "DNU Acme").
_MARKS_BARE = r"do\s+not\s+use|dnu|zz+|xx+"
_MARKS = rf"{_MARKS_BARE}|duplicate|dupe?|inactive|archived?|deleted?|obsolete|unused|old|closed"
_LEADING_MARK = re.compile(
    rf"^\W*(?:(?P<bare>{_MARKS_BARE})\b[\W_]*|(?P<mark>{_MARKS})\s*[-:)\]*]+\W*)(?=\w)",
    re.IGNORECASE,
)
# How a name with a mark before it can start: a mark's first letter, or what sets a mark off.
_MARK_FIRST = frozenset("dDzZxXiIaAoOcCuU([*#!-_ \t")
_MARK_ENDINGS = ("use", "dnu", "zz", "xx", "duplicate", "dup", "dupe", "inactive", "archived", "archive",
                 "deleted", "delete", "obsolete", "unused", "old", "closed")  # fmt: skip
_TRAILING_MARK = re.compile(
    rf"\s*(?:[(\[*]\s*(?P<mark>{_MARKS})\s*[)\]*]+|\s-+\s*(?P<dashed>{_MARKS}))\W*$",
    re.IGNORECASE,
)


# A copy's number in brackets at the end: "Acme Ltd (2)". Books refuses a second customer of one
# display name, so a person who creates one anyway numbers it. "#2" is left alone: it numbers sites.
_COPY_NUMBER = re.compile(r"\s*[(\[]\s*(\d{1,2})\s*[)\]]\s*$")


def without_mark(text: str) -> tuple[str | None, str]:
    """An administrator's mark on a name, and the name without it: "DUPLICATE - Acme Ltd", "[Do not
    use] Acme", "ZZ Acme Ltd", "Acme (old)", "Acme Ltd - DO NOT USE", "Acme Ltd (2)"; else (None, text)."""
    found = _LEADING_MARK.match(text) if text[:1] in _MARK_FIRST else None
    if found is not None:
        return (found["bare"] or found["mark"]).upper(), text[found.end() :]
    if text.rstrip()[-1:] in (")", "]"):
        copy = _COPY_NUMBER.search(text)
        if copy is not None and copy.start() > 0:
            return f"({copy[1]})", text[: copy.start()]
    # Only a name that ends in a mark's word is searched for one (a search costs more than this look).
    if text.rstrip(" )]*.").lower().endswith(_MARK_ENDINGS):
        found = _TRAILING_MARK.search(text)
        if found is not None and found.start() > 0:
            return (found["mark"] or found["dashed"]).upper(), text[: found.start()]
    return None, text


# A currency code set off at the end of a name: "Acme Ltd (USD)", "Acme Ltd [EUR]", "Acme Ltd - GBP".
_CURRENCY_SUFFIX = re.compile(r"\s*(?:[(\[]\s*([A-Za-z]{3})\s*[)\]]|\s[-\u2013|/:]\s*([A-Za-z]{3}))\s*$")


def without_currency(text: str) -> tuple[str | None, str]:
    """The currency code a name ends with, set off by brackets or a dash, and the name without it:
    "Acme Ltd (USD)" -> ("USD", "Acme Ltd"); else (None, text). Books keeps one currency per
    customer, so a company billed in two currencies has a customer in each, named so."""
    if text.rstrip(" )]")[-3:].upper() not in tables().currencies:
        return None, text  # the cheap look first: most names end in no currency's code
    found = _CURRENCY_SUFFIX.search(text)
    if found is None or found.start() == 0:
        return None, text
    return (found[1] or found[2]).upper(), text[: found.start()]


# "Acme Ltd c/o Jane Smith": the person the post goes to, not a word of the name.
# ("care of" in words is left alone: "Sunrise Care of Surrey Ltd" is a care home's name.)
_CARE_OF = re.compile(r"[\s,]+(?:c/o|c\.o\.)\s.*$", re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=200_000)
def normalise_company_name(text: str) -> CompanyName:
    """Take a company name apart: core words, legal forms (folded), a trailing place or address.

    An administrator's mark (:func:`without_mark`), a currency code at the end
    (:func:`without_currency`) and whoever the post goes to ("c/o Jane Smith") are set aside. Legal
    forms are recognised after at least one word of the name (anywhere after it, since "Hitachi ...
    Technologies, Inc. Netherlands B.V." has two), and at the very start only for forms the table
    marks ``leading`` ("N.V. Philips"). Words after the last legal form go to ``tail``, and so do
    words after a comma in a name whose only legal form leads it ("N.V. Nutricia, Zoetermeer").
    """
    table = tables()
    mark, name = without_mark(text)
    if "/" in name or "." in name:
        name = _CARE_OF.sub("", name)
    currency, name = without_currency(name)
    tokens = _name_tokens(name)
    words: list[str] = []
    hits: list[tuple[int, LegalFormHit]] = []  # (index into words where the form stood, hit)
    i = 0
    while i < len(tokens):
        found = _match_legal_form(tokens, i)
        if found is not None:
            length, form = found
            if words or form.leading:
                hits.append((len(words), LegalFormHit(" ".join(tokens[i : i + length]), form)))
                i += length
                continue
        words.append(tokens[i])
        i += 1
    if not words and hits:
        # A name made only of legal-form words ("The Company"): keep them as the name.
        return CompanyName(text, tokens, (), (), None, currency=currency)
    tail: tuple[str, ...] = ()
    if hits:
        last_at = hits[-1][0]
        if 0 < last_at < len(words) and _reads_as_place(text, words[last_at:]):
            tail = tuple(words[last_at:])
            words = words[:last_at]
        elif last_at == 0:
            # A form at the start ("N.V. Philips") is followed by the whole name; a place may still
            # follow a comma.
            place = _after_comma(text, words)
            if place:
                tail, words = tuple(words[-place:]), words[:-place]
        if _reads_as_address(tail):
            # "... N.V. Groenewoudseweg 1": the house number is the address's, not a branch's.
            tail = tuple(w for w in tail if not w.isdigit())
    half = len(words) // 2
    if len(hits) >= 2 and half and len(words) == 2 * half and words[:half] == words[half:]:
        # One name written twice, once with each legal form ("Unilever PLC; Unilever N.V."): a
        # dual-listed company or joint applicants of one group, not a name of two words.
        words = words[:half]
    # "Smith & Co" leaves a dangling "and" once "Co" is folded away.
    while len(words) > 1 and words[-1] in table.connectors and words[-1] not in table.articles:
        words.pop()
    dropped: str | None = None
    if len(words) > 1 and words[0] in table.articles:
        dropped = words.pop(0)
    elif len(words) > 1 and words[-1] in table.articles and not tail:
        dropped = words.pop()
    honorific: str | None = None
    if len(words) > 2 and _is_honorific(words[0] + words[1]):
        words[:2] = [words[0] + words[1]]  # "Konin-klijke Philips"
    elif words and not _is_honorific(words[0]):
        glued = _glued_honorific(words[0])  # "KoninklijkePhilips"
        if glued:
            words[:1] = [glued, words[0][len(glued) :]]
    if len(words) > 1 and _is_honorific(words[0]):
        honorific = words.pop(0)
    elif len(words) > 2 and not hits and words[0] in _LEADING_TITLES:
        honorific = words.pop(0)  # "Mr John Smith": a sole trader's account, named as a person is
    forms = tuple(hit for _, hit in hits)
    return CompanyName(text, tuple(words), tail, forms, dropped, honorific, mark, currency)


# The most words a place takes when written after the legal form without a comma ("... B.V. Zeist").
_PLACE_WORDS = 3


def _reads_as_place(text: str, words: list[str]) -> bool:
    """Whether words after the last legal form read as a place or an address rather than a second name.

    After a comma they do ("Shell ... B.V., Den Haag/'s-Gravenhage, NL"), and so does a street address
    ("... B.V. Carel van Bylandtlaan 30, NL"); otherwise only a few words do: "Home of Life Community
    Dev. Corp. - Home of Life Just For You" carries a second name.
    """
    if len(words) <= _PLACE_WORDS or _reads_as_address(words):
        return True
    _, comma, after = text.partition(",")
    return bool(comma) and set(words) <= set(_name_tokens(after))


def _after_comma(text: str, words: list[str]) -> int:
    """How many of the last words were written after the name's first comma, when they read as a place
    (at most a few words, or an address) and leave a name before them; else 0."""
    _, comma, after = text.partition(",")
    if not comma:
        return 0
    place = _name_tokens(after)
    count = len(place)
    if not 0 < count < len(words) or tuple(words[-count:]) != place:
        return 0
    return count if count <= _PLACE_WORDS or _reads_as_address(place) else 0


def _reads_as_address(words: Sequence[str]) -> bool:
    """A street word next to a house number: "Groenewoudseweg 1", "12 High Street"."""
    table = tables()
    for i, word in enumerate(words):
        if not word.isdigit():
            continue
        for near in (*words[max(0, i - 1) : i], *words[i + 1 : i + 2]):
            street = table.street_fold.get(near, near)
            if street in table.street_types or any(
                len(near) > len(suffix) + 2 and near.endswith(suffix) for suffix in table.street_suffixes
            ):
                return True
    return False


def _glued_honorific(word: str) -> str | None:
    """The royal predicate a word starts with when the name was run into it ("koninklijkephilips")."""
    for honorific in tables().honorifics_longest_first:
        if len(word) >= len(honorific) + 3 and word.startswith(honorific):
            return honorific
    return None


def _is_honorific(word: str) -> bool:
    """A royal predicate as written, or mistyped in up to two places ("Koninklike", "Kinonklijke")."""
    honorifics = tables().honorifics
    if word in honorifics:
        return True
    return len(word) >= 8 and any(
        word[0] == h[0] and OSA.distance(word, h, score_cutoff=2) <= 2 for h in honorifics
    )


class PersonName(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A person's name as folded tokens, given names first when known."""

    tokens: tuple[str, ...]

    @property
    def key(self) -> str:
        """Exact normalised name (``jane smith``)."""
        return " ".join(self.tokens)

    @property
    def sorted_key(self) -> str:
        """Tokens in alphabetical order, so that "Smith, Jane" and "Jane Smith" meet."""
        return " ".join(sorted(self.tokens))


def normalise_person_name(first: str | None, last: str | None, full: str | None = None) -> PersonName:
    """Fold a person's name; uses first/last when given, else the full name."""
    parts = [p for p in (first, last) if p and p.strip()]
    text = " ".join(parts) if parts else (full or "")
    # Titles and honorifics say nothing about who it is.
    return PersonName(tuple(t for t in tokenise(text) if t not in _TITLES))


# Titles, generations and letters after a name ("Dr. John Smith PhD", "John Smith III"), and the
# "and" of a couple ("Mr & Mrs Smith"). Letters that are also two initials ("M. D.", "J. D.") are not here.
# Titles that come before a person's name, as a sole trader's account may be named ("Mr J Smith").
_LEADING_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "revd"})
_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dame", "mx", "jr", "sr", "rev", "revd", "ii", "iii",
     "phd", "mba", "cpa", "esq", "obe", "mbe", "cbe", "kbe", "frcs", "dds", "and"}
)  # fmt: skip


# An address inside other text: "Jane Smith <jane@acme.co.uk>", "jane@acme.co.uk; accounts@acme.co.uk".
_EMAIL_IN_TEXT = re.compile(r"[^\s<>;,:()\[\]\"']+@[^\s<>;,:()\[\]\"']+")


def emails_in(text: str | None) -> list[str]:
    """Every address a field gives, normalised, in order: a name around an address, or several."""
    if not text:
        return []
    if text.count("@") == 1 and "<" not in text:
        one = normalise_email(text)
        return [one] if one else []
    return [e for e in map(normalise_email, _EMAIL_IN_TEXT.findall(text)) if e]


def normalise_email(email: str | None) -> str | None:
    """Trim and lower-case an email address, as the mailbox it reaches; ``None`` unless it looks like
    ``local@domain.tld``.

    A tag after ``+`` reaches the same mailbox (``jane+invoices@acme.co.uk`` is ``jane@acme.co.uk``),
    and Gmail ignores dots and answers at googlemail.com too.
    """
    if not email:
        return None
    value = email.strip().strip("<>").strip().lower()
    if value.startswith("mailto:"):
        value = value[len("mailto:") :]
    local, at, domain = value.rpartition("@")
    # A sentence's full stop after the address, or spaces typed around the "@" ("jane @ acme.co.uk").
    local, domain = local.rstrip(), domain.lstrip().rstrip(".")
    value = f"{local}@{domain}"
    if not at or not local or "." not in domain or " " in value:
        return None
    if "+" in local[1:]:
        local = local[: local.index("+", 1)]
        value = f"{local}@{domain}"
    if domain in _GMAIL:
        value = f"{local.replace('.', '')}@gmail.com"
    return value


_GMAIL = frozenset({"gmail.com", "googlemail.com"})


def is_free_mail(domain: str) -> bool:
    """True for gmail.com, hotmail.co.uk and the like (subdomains included)."""
    free = tables().free_mail
    parts = domain.lower().split(".")
    return any(".".join(parts[i:]) in free for i in range(len(parts) - 1))


def email_domain(email: str | None) -> str | None:
    """The company domain of an email address, or ``None`` for free-mail providers and bad addresses."""
    value = normalise_email(email)
    if value is None:
        return None
    domain = value.rpartition("@")[2]
    return None if is_free_mail(domain) else domain


_URL_PREFIX = re.compile(r"^[a-z][a-z0-9+.-]*://")
_URL_END = re.compile(r"[/?#:\s]")
_HOST = re.compile(r"[a-z0-9.-]+")
_NOT_ALNUM_UPPER = re.compile(r"[^0-9A-Z]")
_ZIP = re.compile(r"\d{5}|\d{9}")


def website_domain(url: str | None) -> str | None:
    """``https://www.Acme.co.uk/about`` -> ``acme.co.uk``; ``None`` for empty or free-mail-like hosts.

    A page on a site that hosts many businesses' pages keeps the page's name
    (``facebook.com/AcmeWidgets`` -> ``facebook.com/acmewidgets``): the host alone is nobody's.
    """
    if not url:
        return None
    value = _URL_PREFIX.sub("", url.strip().lower())
    host, _, path = value.partition("/")
    host = _URL_END.split(host, maxsplit=1)[0].strip(".")
    if host.startswith("www."):
        host = host[4:]
    if "." not in host or not _HOST.fullmatch(host):
        return None
    table = tables()
    if host in table.platform_hosts:
        folders = table.platform_path_words
        page = next((p for p in _URL_END.split(path) if p and p not in folders), None)
        return f"{host}/{page}" if page else None
    return host


_PHONE_NOISE = re.compile(r"[\s().\-/]")
# What a phone field may hold besides one number: labels, words, several numbers.
_PLAIN_PHONE = str.maketrans("", "", "0123456789 +()-.\t")
_PHONE_LABEL = re.compile(r"\([^()]*[A-Za-z][^()]*\)|\[[^\]]*\]")  # "(main)", "[office]"
_PHONE_LIST = re.compile(r"\s+/\s+|[;,|&]|\s+(?:or|and)\s+", re.IGNORECASE)
# Words after the number ("... main", "... mobile"), but not an extension, which libphonenumber reads.
_PHONE_TRAILING_WORDS = re.compile(r"(?:\s+(?!(?:ext|extn|extension|x)\b)[A-Za-z]+\.?:?)+\s*$", re.IGNORECASE)


def first_number(raw: str) -> str:
    """The first phone number a field gives, without labels: "020 7946 0000 / 07700 900123",
    "+44 20 7946 0000 (main)", "Office, 020 7946 0000" all give the 020 number as written."""
    if not raw.translate(_PLAIN_PHONE):
        return raw  # digits, spaces, brackets, dashes, dots and a plus only: the common case
    parts = _PHONE_LIST.split(_PHONE_LABEL.sub(" ", raw))
    written = next((part for part in parts if any(ch.isdigit() for ch in part)), "")
    return _PHONE_TRAILING_WORDS.sub("", written)


def normalise_phone(raw: str | None, default_region: str = DEFAULT_PHONE_REGION) -> str | None:
    """E.164 (``+442079460000``) via libphonenumber, reading national numbers in ``default_region``.

    Reads the field's first number (:func:`first_number`). Returns ``None`` when it cannot be a phone
    number there (too short, letters, ...).
    """
    if not raw or not any(ch.isdigit() for ch in raw):
        return None
    # Spacing and brackets never change the number: strip them so that differently written copies of
    # one number share a cache entry (libphonenumber is the slowest step of normalising a record).
    return _parse_phone(_PHONE_NOISE.sub("", first_number(raw)), default_region)


@lru_cache(maxsize=200_000)
def _parse_phone(raw: str, default_region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    # A local-only number (no area code) is "possible" to libphonenumber but is not a full E.164 number.
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=200_000)
def format_phone(e164: str) -> str:
    """A phone number in E.164 as evidence shows it: international format (``+44 20 7946 0000``)."""
    number = _from_e164(e164)
    if number is None:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _from_e164(e164: str) -> phonenumbers.PhoneNumber | None:
    """The number :func:`normalise_phone` wrote, read back without parsing it again.

    E.164 is the country code (which no other code begins) and the national number, so it takes
    apart by looking the code up; this is what ``phonenumbers.parse`` gives for it, at a tenth of the
    cost (tests/unit/matching/test_normalise.py compares the two for every region's numbers).
    """
    digits = e164[1:]
    if not e164.startswith("+") or not digits.isdigit():
        return None
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            continue
        national = digits[size:]
        if not national:
            return None
        number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
        if len(national) > 1 and national[0] == "0":
            # Numbers written with leading zeros (Italy's landlines): the zeros are part of the number,
            # and all of them but the last digit count.
            number.italian_leading_zero = True
            zeros = len(national) - len(national.lstrip("0"))
            zeros = min(zeros, len(national) - 1)
            if zeros != 1:
                number.number_of_leading_zeros = zeros
        return number
    return None


def phone_digits(raw: str | None) -> str:
    """Only the digits of the field's first number, for comparing numbers written without an area code."""
    return "".join(filter(str.isdigit, first_number(raw))) if raw else ""


@lru_cache(maxsize=4_096)
def country_code(raw: str | None) -> str | None:
    """A country as its ISO 3166 alpha-2 code: "United Kingdom", "UK", "U.K." and "gb" are ``GB``.

    ``None`` when it is not recognised (data/countries.json lists the names read; any two-letter code
    that libphonenumber knows is read as itself).
    """
    if not raw or not raw.strip():
        return None
    code = tables().countries.get(plain_key(raw))
    if code is not None:
        return code
    letters = raw.strip().upper()
    return letters if letters in phonenumbers.SUPPORTED_REGIONS else None


def normalise_vat(raw: str | None) -> str | None:
    """VAT or company number: upper-case letters and digits only (``gb 123 4567 89`` -> ``GB123456789``)."""
    if not raw:
        return None
    value = _NOT_ALNUM_UPPER.sub("", fold_text(raw).upper())
    return value if len(value) >= 4 and any(ch.isdigit() for ch in value) else None


def vat_core(vat: str) -> str:
    """The number without a two-letter country prefix, so ``GB123456789`` meets ``123456789``."""
    return vat[2:] if len(vat) > 2 and vat[:2].isalpha() else vat


@lru_cache(maxsize=65_536)  # a list holds few postcodes and towns, each many times
def normalise_postcode(raw: str | None) -> str | None:
    """Upper-case without spaces (``sw1a 1aa`` -> ``SW1A1AA``); US ZIP+4 cut to five digits."""
    if not raw:
        return None
    value = _NOT_ALNUM_UPPER.sub("", fold_text(raw).upper())
    if _ZIP.fullmatch(value):
        return value[:5]
    return value if value and value.lower() not in tables().placeholders else None


# A UK postcode once spaces are gone: outward code (area, district) and inward code (sector, unit).
_UK_POSTCODE = re.compile(r"([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})")


def postcode_shown(key: str) -> str:
    """A normalised postcode as people write it: a UK one with its space back (``SW1A1AA`` ->
    ``SW1A 1AA``, not read as a slip in the evidence), any other as it is."""
    uk = _UK_POSTCODE.fullmatch(key)
    return f"{uk[1]} {uk[2]}" if uk else key


class StreetAddress(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A street line: the house number (if any), its folded words, and those words without the type.

    ``name_words`` leaves out the street type (``st``, ``ave``) so that "79th St" and "79th" agree.
    """

    number: str | None
    words: tuple[str, ...]
    name_words: tuple[str, ...] = ()

    @property
    def name_key(self) -> str:
        """The street's name without spaces or type: "W Van Buren St" and "W VanBuren" agree."""
        return "".join(self.name_words)


_ORDINAL = re.compile(r"\d+(st|nd|rd|th)")
# What names a unit after its word: a number, maybe with a letter ("4", "4a"), a range ("12-14"), a
# Glasgow flat ("1/2": floor 1, door 2), or a letter ("B", "b2").
_UNIT_NAME = re.compile(r"\d+[a-z]?(?:[-/]\d+[a-z]?)?|[a-z]\d*")
_FLOOR_NAMES = frozenset({"ground", "lower", "upper", "top", "basement"})
_FLOOR = "fl"  # "Floor" as folded
# The points of the compass a street line starts with, as folded ("W 79th St", "North Ave" is "n").
STREET_DIRECTIONS = frozenset({"n", "s", "e", "w", "ne", "nw", "se", "sw"})


# A house number: digits, maybe with a letter ("12", "12a").
_HOUSE_NUMBER = re.compile(r"\d+[a-z]?")
# Two numbers joined by a dash or a slash, kept as one token: a range of house numbers ("4753-59",
# "12 - 14"), or a unit and the number of its building ("4/12 High St", as Australia writes it).
_NUMBER_PAIR = re.compile(r"\b(\d+[a-z]?)\s*([-/])\s*(\d+[a-z]?)\b", re.IGNORECASE)
_NUMBERED = re.compile(r"(\d+[a-z]?)(?:([-/])(\d+[a-z]?))?")
# What separates the parts of an address written on one line.
_ADDRESS_BREAKS = re.compile(r"[,;\n]")


def _street_tokens(raw: str) -> list[str]:
    """Folded street words; a pair of numbers joined by a dash or a slash stays one token ("12-14")."""
    if "-" not in raw and "/" not in raw:
        return _folded_street_words(tokenise(raw))
    tokens: list[str] = []
    start = 0
    for pair in _NUMBER_PAIR.finditer(raw):
        tokens.extend(_folded_street_words(tokenise(raw[start : pair.start()])))
        tokens.append(f"{pair[1]}{pair[2]}{pair[3]}".lower())
        start = pair.end()
    tokens.extend(_folded_street_words(tokenise(raw[start:])))
    return tokens


def _folded_street_words(words: Sequence[str]) -> list[str]:
    """Each word in its one spelling; a street's type glued to its name is split off ("hauptstr":
    "haupt st"), so that "Hauptstrasse", "Hauptstr." and "Haupt Strasse" are one street."""
    table = tables()
    fold = table.street_fold
    folded: list[str] = []
    for word in words:
        for ending, street_type in table.street_glued_types:
            if len(word) > len(ending) + 2 and word.endswith(ending):
                folded += [word[: -len(ending)], street_type]
                break
        else:
            folded.append(fold.get(word, word))
    return folded


def _house_number(token: str, *, before_the_street: bool) -> str | None:
    """The house number a token gives: "12", "12a"; a range gives its first number ("12-14": 12).

    A unit and its building's number ("4/12 High St") gives the building's number when written
    before the street; after it ("Hauptstrasse 12/14") a slash is a range.
    """
    numbered = _NUMBERED.fullmatch(token)
    if numbered is None:
        return None
    if before_the_street and numbered[2] == "/":
        return numbered[3]
    return numbered[1]


def _from_the_numbered_part(raw: str) -> str:
    """The part of the line that gives the street and its house number, when the parts before it only
    name the premises or a unit: "Acme House, 12 Kings Road", "c/o Acme Ltd, 5 Mill Rd", "Hayes
    Center" on the line above "4859 S. Wabash", "Flat 3, Acme House, 12 Kings Rd", "Hauptstrasse 5"
    above "Hinterhaus". The parts after it name a district, a town or a unit ("12 Kings Road,
    Chelsea"), not the street. A part before it with a number of its own ("PO Box 44, Leeds") keeps
    the whole line.
    """
    if "," not in raw and "\n" not in raw and ";" not in raw:
        return raw
    parts = _ADDRESS_BREAKS.split(raw)
    for part in parts:
        tokens = _without_leading_units(_street_tokens(part))
        numbered_first = len(tokens) > 1 and _NUMBERED.fullmatch(tokens[0])
        # "Hauptstrasse 5", "Kalverstraat 92-1": the number after the street, as much of Europe writes it
        # (a street's word, not "PO Box 44").
        numbered_last = (
            len(tokens) > 1
            and not tokens[0][0].isdigit()
            and _NUMBERED.fullmatch(tokens[-1])
            and _reads_as_address(tokens[-2:])
        )
        if numbered_first or numbered_last:
            return part
        if any(ch.isdigit() for token in tokens for ch in token):
            return raw
    return raw


def _without_leading_units(tokens: list[str]) -> list[str]:
    """A street line with the units written before the street taken off: "Unit 4, 12-14 High Street",
    "Flat 3 10 Downing St", "2nd Floor, 1 Main St" and "Ground Floor Suite 5, ..." all start at their
    street. A unit word without a unit's name after it ("Flat Rock Road") is the street's own.
    """
    units = tables().street_leading_units
    start = 0
    while start + 1 < len(tokens):
        word, after = tokens[start], tokens[start + 1]
        if "/" in word and _NUMBERED.fullmatch(word) and _HOUSE_NUMBER.fullmatch(after):
            start += 1  # "1/2 12 Kings Road": a Glasgow flat, then the house number
            continue
        unit = word in units and _UNIT_NAME.fullmatch(after)
        floor = after == "fl" and (word in _FLOOR_NAMES or _ORDINAL.fullmatch(word))
        if not (unit or floor):
            break
        start += 2
    return tokens[start:] if start else tokens


def _unit_after_the_street(tokens: list[str], i: int) -> bool:
    """Whether a word that names a unit only before the street does so after it too: when a unit's name
    follows or a floor's name goes before it: "... Road Flat 3", "... Place Lower Level" (but "Old
    Flat Lane")."""
    named = i + 1 < len(tokens) and _UNIT_NAME.fullmatch(tokens[i + 1]) is not None
    return named or tokens[i - 1] in _FLOOR_NAMES


@lru_cache(maxsize=100_000)
def normalise_street(raw: str | None, city: tuple[str, ...] = ()) -> StreetAddress | None:
    """Fold a street line: ``1845 East 79th Street`` -> number ``1845``, words ``e 79th st``.

    ``city`` (folded words) is taken off the end when the town was written into the street line.
    """
    if not raw or not raw.strip():
        return None
    table = tables()
    tokens = _without_leading_units(_street_tokens(_from_the_numbered_part(raw)))
    if "".join(tokens) in table.placeholders:
        return None  # "n/a", "-", "TBC"
    number = _house_number(tokens[0], before_the_street=True) if tokens else None
    if number is not None:
        del tokens[0]
        # "4753 59 W Washington": the end of a range of house numbers is not a street word.
        while tokens and tokens[0].isdigit():
            tokens.pop(0)
    # "2929 S Wabash Suite 200", "1653 W 43rd St Building", "... 1st Floor": a unit inside the premises,
    # not the street (nor is a floor's ordinal, nor a bare number after the street: "Broadway St 10").
    for i, token in enumerate(tokens):
        if token in table.street_units or (
            i and token in table.street_leading_units and _unit_after_the_street(tokens, i)
        ):
            start = i
            # "... Lower Ground Floor", "... 2nd Floor": the floor's name or ordinal goes with it. Before
            # another unit an ordinal is the street ("710 W 65th Building Z" is on 65th Street).
            floor = token == _FLOOR
            while start > 1 and (
                tokens[start - 1] in _FLOOR_NAMES or (floor and _ORDINAL.fullmatch(tokens[start - 1]))
            ):
                start -= 1
            del tokens[start:]
            break
    # "3038 West 59th Street 1st": an ordinal after the street's type is the floor.
    while len(tokens) > 2 and _ORDINAL.fullmatch(tokens[-1]) and tokens[-2] in table.street_types:
        tokens.pop()
    # Without a number before the street, the first of the numbers after it is the house number
    # ("Hauptstrasse 5", "Kalverstraat 92-1", "PO Box 123").
    number_after = number is None
    while len(tokens) > 1 and tokens[-1][0].isdigit():
        last = _house_number(tokens[-1], before_the_street=False)
        if last is None or not last.isdigit():
            break
        tokens.pop()
        if number_after:
            number = last
    # "1248 West 69th Street Chicago": the town written into the street line; but a street named for
    # the town keeps its name ("4941 W Chicago" in Chicago, its type left out).
    if (
        city
        and len(tokens) > len(city)
        and tuple(tokens[-len(city) :]) == city
        and any(w not in table.street_types and w not in STREET_DIRECTIONS for w in tokens[: -len(city)])
    ):
        del tokens[-len(city) :]
    if not tokens and number is None:
        return None
    return StreetAddress(number, tuple(tokens), tuple(w for w in tokens if w not in table.street_types))


@lru_cache(maxsize=65_536)
def normalise_city(raw: str | None) -> str | None:
    """Folded city words (``St. Albans`` -> ``st albans``)."""
    if not raw:
        return None
    words = tokenise(raw)
    return " ".join(words) if words and "".join(words) not in tables().placeholders else None


_DATE_PARTS = re.compile(r"\d+")


def normalise_date(raw: str | None) -> str | None:
    """A date of birth as ``YYYY-MM-DD``: ISO order (``1983-05-19``), else day first (``19/05/1983``).

    ``None`` when it is not a calendar date. Day first is the reading outside the US; a US-style
    ``05/19/1983`` is still read, since 19 cannot be a month.
    """
    if not raw:
        return None
    parts = _DATE_PARTS.findall(raw)
    if len(parts) < 3:
        return None
    if len(parts[0]) == 4:
        year, month, day = parts[0], parts[1], parts[2]
    elif len(parts[2]) == 4:
        day, month, year = parts[0], parts[1], parts[2]
        if int(month) > 12 >= int(day):
            day, month = month, day
    else:
        return None
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None
