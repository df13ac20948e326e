"""The matcher's data tables (legal forms, word lists, free-mail domains), loaded once from package data.

Keeping them as data files means a bookkeeper's missing legal form is a one-line change to a JSON file
and the variants benchmark can check that its generated names are not drawn from these tables.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import msgspec

_DATA = "sync_guard.matching.data"

# Anything that is not a letter or digit separates tokens; apostrophes are dropped instead so that
# "Philips'" and "Philip's" both read "philips".
_APOSTROPHES = re.compile(r"['’`´‘]")
# Letters and digits of every script make tokens ("Ресурс", "Κωνσταντίνος", "北京科技"), not only a-z.
_NON_ALNUM = re.compile(r"[\W_]+")
# Letters that are not a base letter with an accent, so decomposing leaves them whole: written as
# people without them on their keyboard write them ("Møller" / "Moller", "Łódź" / "Lodz").
_UNACCENTED = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ħ": "h", "ı": "i", "ŧ": "t"}
)


def fold_text(text: str) -> str:
    """Lower-case, accents removed (``Müller`` -> ``muller``, ``Møller`` -> ``moller``), ``ß`` -> ``ss``;
    other characters kept."""
    if text.isascii():
        return text.lower()  # nothing to decompose: the common case, and much faster
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Lower case again: decomposing can give capitals ("™" is "TM").
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower().translate(_UNACCENTED)


def plain_key(text: str) -> str:
    """Letters and digits only, folded (``U.K.`` -> ``uk``): how names in a lookup table are matched."""
    return _NON_ALNUM.sub("", fold_text(text))


def tokenise(text: str, *, run_endings: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Folded alphanumeric tokens; runs of single letters join (``N. V.`` -> ``nv``, ``U.S.`` -> ``us``).

    ``&`` and ``+`` are read as ``and`` so that "Smith & Co" and "Smith and Co" give the same tokens.
    A run stops at a semicolon or a comma before a space ("... B.V., D" is not "bvd"; "N,V," is "nv").
    A run that ends in one of ``run_endings`` after at least two other letters is split before it:
    "D S M N. V." is "dsm nv".
    """
    folded = fold_text(text).replace("&", " and ").replace("+", " and ")
    folded = _APOSTROPHES.sub("", folded)
    tokens: list[str] = []
    for clause in _CLAUSES.split(folded):
        run: list[str] = []
        for token in _NON_ALNUM.split(clause):
            if not token:
                continue
            if len(token) == 1 and token.isalpha():
                run.append(token)
                continue
            if run:
                tokens.extend(_split_run("".join(run), run_endings))
                run = []
            tokens.append(token)
        if run:
            tokens.extend(_split_run("".join(run), run_endings))
    return tuple(tokens)


_CLAUSES = re.compile(r";|,\s")


def _split_run(run: str, endings: frozenset[str]) -> tuple[str, ...]:
    for ending in endings:
        if len(run) >= len(ending) + 2 and run.endswith(ending):
            return run[: -len(ending)], ending
    return (run,)


class LegalForm(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One legal form: how it is shown in evidence, and which kind of entity it names."""

    canonical: str
    family: str
    leading: bool = False
    # Where the form is used (ISO 3166 alpha-2): a register tells names apart regardless of legal form,
    # so two forms of one country on one name are one company that changed form, not two companies.
    countries: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Tables:
    """Everything the normaliser looks up, built once."""

    # token sequence -> legal form; the longest sequence wins when several start at one token.
    legal_forms: dict[tuple[str, ...], LegalForm]
    legal_form_max_len: int
    legal_form_starts: frozenset[str]  # the tokens a legal form can begin with
    # Legal forms written as dotted initials ("N.V.", "S.A."), as one token ("nv", "sa").
    initialisms: frozenset[str]
    articles: frozenset[str]
    honorifics: frozenset[str]
    honorifics_longest_first: tuple[str, ...]
    connectors: frozenset[str]
    generic: frozenset[str]
    abbreviations: dict[str, str]  # synonyms included
    abbreviation_targets: frozenset[str]  # what abbreviations and synonyms are read as
    paired_abbreviations: frozenset[tuple[str, str]]  # (short, long) and (long, short)
    cut_short: frozenset[str]  # words that an abbreviation of three letters or more may stand for
    currencies: frozenset[str]  # ISO 4217 codes, upper case
    # How one sound is written in other spellings: digraphs read as one letter ("ph" -> "f"), then
    # letters read as another ("v" -> "b", "k" -> "c"), as a str.translate table.
    spelling_digraphs: tuple[tuple[str, str], ...]
    spelling_letters: dict[int, str]
    free_mail: frozenset[str]
    placeholders: frozenset[str]  # letters and digits only, lower case
    platform_hosts: frozenset[str]
    platform_path_words: frozenset[str]
    # Pairs of given names that one person goes by (a name and a short form, or two short forms of
    # one name), each pair in alphabetical order.
    nicknames: frozenset[tuple[str, str]]
    countries: dict[str, str]  # a country's name, letters and digits only, lower case -> ISO alpha-2
    street_fold: dict[str, str]
    street_types: frozenset[str]
    street_units: frozenset[str]
    street_leading_units: frozenset[str]  # units, and the words that are units only before the street
    street_suffixes: tuple[str, ...]
    # Endings that are the street's type glued to its name, and the type they fold to, longest first.
    street_glued_types: tuple[tuple[str, str], ...]


def _nickname_pairs(nicknames: dict[str, list[str]]) -> frozenset[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for full, short_forms in nicknames.items():
        names = [full, *short_forms]
        pairs.update((a, b) if a < b else (b, a) for i, a in enumerate(names) for b in names[i + 1 :])
    return frozenset(pairs)


def _read_json(name: str) -> Any:
    return json.loads(resources.files(_DATA).joinpath(name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def tables() -> Tables:
    """The tables, read from the package's data files on first use and cached for the process."""
    legal: dict[tuple[str, ...], LegalForm] = {}
    initialisms: set[str] = set()
    for entry in _read_json("legal_forms.json")["forms"]:
        form = LegalForm(
            canonical=entry["canonical"],
            family=entry["family"],
            leading=bool(entry.get("leading", False)),
            countries=frozenset(entry.get("countries", ())),
        )
        for variant in [entry["canonical"], *entry["variants"]]:
            tokens = tokenise(variant)
            legal.setdefault(tokens, form)
            if "." in variant and len(tokens) == 1 and len(tokens[0]) <= 3:
                initialisms.add(tokens[0])
    words = _read_json("words.json")
    street = _read_json("street_words.json")
    # JSON rather than a text list: the package ships *.json data files (see pyproject package-data).
    free_mail = frozenset(d.strip().lower() for d in _read_json("free_mail_domains.json")["domains"])
    contact = _read_json("contact_values.json")
    countries = {
        plain_key(name): code
        for code, names in _read_json("countries.json")["countries"].items()
        for name in names
    }
    return Tables(
        legal_forms=legal,
        legal_form_max_len=max(len(k) for k in legal),
        legal_form_starts=frozenset(k[0] for k in legal),
        initialisms=frozenset(initialisms),
        articles=frozenset(words["articles"]),
        honorifics=frozenset(words["honorifics"]),
        honorifics_longest_first=tuple(sorted(words["honorifics"], key=len, reverse=True)),
        connectors=frozenset(words["connectors"]),
        generic=frozenset(words["generic"]),
        # Synonyms (a country's name in its own language) are read the same way as abbreviations.
        abbreviations={tokenise(k)[0]: v for k, v in (words["abbreviations"] | words["synonyms"]).items()},
        abbreviation_targets=frozenset((words["abbreviations"] | words["synonyms"]).values()),
        paired_abbreviations=frozenset(
            pair
            for short, long_ in words["paired_abbreviations"].items()
            for pair in ((short, long_), (long_, short))
        ),
        cut_short=frozenset(words["cut_short"]),
        currencies=frozenset(words["currencies"]),
        spelling_digraphs=tuple(words["spelling"]["digraphs"].items()),
        spelling_letters={ord(second): first for first, second in words["spelling"]["letters"]},
        free_mail=free_mail,
        placeholders=frozenset(contact["placeholders"]),
        platform_hosts=frozenset(contact["platform_hosts"]),
        platform_path_words=frozenset(contact["platform_path_words"]),
        countries=countries,
        nicknames=_nickname_pairs(words["nicknames"]),
        street_fold=dict(street["fold"]),
        street_types=frozenset(street["types"]),
        street_units=frozenset(street["units"]),
        street_leading_units=frozenset(street["units"]) | frozenset(street["leading_units"]),
        street_suffixes=tuple(street["suffixes"]),
        street_glued_types=tuple(sorted(street["glued_types"].items(), key=lambda kv: -len(kv[0]))),
    )
