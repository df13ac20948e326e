"""Blocking keys and the in-memory candidate index.

A record yields a handful of short keys; two records are compared only if they share a key. The same
keys index the DynamoDB shadow mapping (as partition-key suffixes), so each key is a short ASCII-ish
string with a type prefix, deterministic, and at most :data:`MAX_KEY_BYTES` bytes:

- ``v:`` VAT/company number without country prefix (``v:123456789``): same legal entity.
- ``e:`` email address, primary (and one more, last) (``e:jane@acme.co.uk``): same contact.
- ``p:`` phone in E.164 (``p:+442079460000``); ``l:`` last 7 digits of a phone written without an
  area code (US lists): same switchboard.
- ``n:`` core name, folded, legal forms and "The" removed, without spaces, its last word singular,
  spelt as it sounds (``n:acmewidget``, ``n:filipselectronic``): Ltd/Limited, &/and, case,
  "Gist-Brocades"/"GISTBROCADES", "Widget"/"Widgets", "Philips"/"Filips".
- ``t:`` distinct name words sorted, for names of 2+ words (``t:acme|widgets``): another word order.
  A name with words after its legal form ("Bosch GmbH Robert") keys its whole name in ``n:`` and ``t:``
  as well; a name ending in a lone letter ("MAASLAND N") keys its name without it (a form cut short).
- ``d:`` company email domain or website, never free-mail (``d:acme.co.uk``): same organisation.
- ``a:`` house number and street name without spaces or type (``a:1845|e79th``): same premises.
- ``q:`` typo keys: of the first two name words, one whole and the other by its first letter
  (``q:acme|w*``, ``q:a*|widgets``), then each by its first or last four letters in all four ways
  (``q:acme*|widg*``, ``q:*acme|*gets``, ``q:acme*|*gets``, ``q:*acme|widg*``); of a one-word name,
  its first four and last letters, first and last four, its letters sorted with doubled letters
  written once, its first three and last three, and its first six (``q:unil*r``, ``q:u*ever``,
  ``q:~eilnruv``, ``q:uni*ver``, ``q:unilev+``): a slip in one word, or one in each word, or a word
  cut short or run on, still leaves one shared. A letter typed twice counts once in these keys
  ("Brryhon" keys as "bryhon"), so a doubled letter and another slip in one word leave one shared too.
- ``w:`` people only, each of two name words (``w:smith``): records with only a given name or surname.
- ``b:`` people only, the date of birth (``b:1983-05-19``): a person whose name is garbled.

At most :data:`MAX_KEYS` keys per record, in the order above (the most selective first); a second
email or domain comes last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sync_guard.matching.features import RecordFeatures, features_of
from sync_guard.matching.names import singular, spelt
from sync_guard.matching.names import undoubled as _undoubled
from sync_guard.matching.normalise import DEFAULT_PHONE_REGION, vat_core
from sync_guard.matching.tables import tables
from sync_guard.models.records import PartyRecord, RecordKind

MAX_KEYS = 8
MAX_KEY_BYTES = 200
# A key shared by more records than this says little on its own (a common word, a big company's domain):
# the in-memory index stops filling it, so a lookup through it returns at most this many records (the
# first ones indexed) and candidate search stays bounded at MAX_KEYS * DEFAULT_MAX_POSTINGS records.
# Keeping the first ones rather than dropping the key keeps a very large cluster of identical names
# connected: each later copy still meets the earlier ones.
DEFAULT_MAX_POSTINGS = 200


def _clip(key: str) -> str:
    """Keep a key under MAX_KEY_BYTES in UTF-8 without splitting a character."""
    if len(key) * 4 <= MAX_KEY_BYTES:
        return key  # no character takes more than four bytes: short keys need no encoding to tell
    encoded = key.encode("utf-8")
    if len(encoded) <= MAX_KEY_BYTES:
        return key
    return encoded[:MAX_KEY_BYTES].decode("utf-8", errors="ignore")


def _joined(words: Sequence[str]) -> str:
    """Words run together, the last one singular, spelt as they sound: the ``n:`` key of a name."""
    return spelt("".join(words[:-1]) + singular(words[-1]))


def _name_keys(features: RecordFeatures) -> list[str]:
    connectors = tables().connectors
    words = [w for w in features.name_words if w not in connectors] or list(features.name_words)
    if not words:
        return []
    # Without spaces, so that "Gist-Brocades", "Gist Brocades" and "GISTBROCADES" meet, and with the
    # last word singular, as the comparison reads it ("Microelectronic" / "Microelectronics").
    keys = [f"n:{_joined(features.name_words)}"]
    # "Acme Inc dba Widgetworld" meets "Widgetworld", a Books display name meets its company name.
    # (A site's name is no key: it counts only at the same premises, which the address key finds.)
    keys.extend(f"n:{_joined(other.name.core)}" for other in features.other_names if not other.site)
    sorted_words = words
    company = features.company
    if company is not None and features.kind is not RecordKind.PERSON:
        if company.tail:
            # Words after a legal form compare as the name's own when the other name has them
            # ("Philips' (N.V.) Gloeilampenfabrieken" / "N.V. Philips' Gloeilampenfabrieken",
            # "Bosch GmbH Robert" / "Robert Bosch GmbH"): key the whole name too.
            whole = [*features.name_words, *company.tail]
            keys.append(f"n:{_joined(whole)}")
            sorted_words = [w for w in whole if w not in connectors] or whole
        elif len(words) >= 2 and len(words[-1]) == 1 and not company.legal_forms:
            # A legal form cut short to its first letter ("MAASLAND N" for "Maasland N.V.").
            keys.append(f"n:{_joined(features.name_words[:-1])}")
    distinct = sorted(set(sorted_words))
    if len(distinct) >= 2:
        keys.append(f"t:{'|'.join(distinct)}")
    fuzzy: list[str] = []
    if len(words) >= 2:
        # Of the first two words, one whole and the other by its first letter (a slip in one word keeps
        # one of these), then each by its first four letters, then each by its last four (a slip in
        # each word, both near the end or both near the start, keeps one of those). Three letters
        # would be shared by too many names: a 100k-record run compares several times more pairs.
        # A run of one letter counts once ("Brryhon" / "Bryrhon": a doubled letter is one more slip).
        first, second = _undoubled(words[0]), _undoubled(words[1])
        fuzzy.extend(
            [
                f"{first}|{second[0]}*",
                f"{first[0]}*|{second}",
                f"{first[:4]}*|{second[:4]}*",
                f"*{first[-4:]}|*{second[-4:]}",
                f"{first[:4]}*|*{second[-4:]}",
                f"*{first[-4:]}|{second[:4]}*",
            ]
        )
    elif len(words[0]) >= 5:
        # One word: its first four letters and last one, its first one and last four, and its letters
        # sorted; a slip near either end leaves one of the first two intact, and letters swapped
        # anywhere keep the last. (Shorter pieces, such as the first two and last two letters, would
        # be shared by far too many names: they cost more than they find.)
        word = _undoubled(words[0])
        fuzzy.extend(
            [
                f"{word[:4]}*{word[-1]}",
                f"{word[0]}*{word[-4:]}",
                "~" + "".join(sorted(word)),  # the word has its doubled letters written once already
            ]
        )
        if len(word) >= 6:
            # A slip in the middle; and the first six letters, for a word cut short or run on
            # ("Unilever" / "UNILEVERNV"), which the comparison reads as an abbreviation.
            fuzzy.extend([f"{word[:3]}*{word[-3:]}", f"{word[:6]}+"])
    if features.kind is RecordKind.PERSON and len(words) >= 2:
        # People's records often carry only a given name or only a surname: each word is a key too.
        keys.extend(f"w:{w}" for w in sorted(set(words))[:2] if len(w) >= 3)
    if features.kind is RecordKind.PERSON and features.date_of_birth:
        # A date of birth is shared by few people (one in ~20,000 in an adult list), however their
        # names were typed: it finds the person whose name is garbled.
        keys.append(f"b:{features.date_of_birth}")
    keys.extend(f"q:{k}" for k in dict.fromkeys(fuzzy))
    return keys


def keys_from_features(features: RecordFeatures) -> tuple[str, ...]:
    """Blocking keys of an already-normalised record, most selective first, at most MAX_KEYS."""
    keys: list[str] = []
    if features.vat:
        keys.append(f"v:{vat_core(features.vat)}")
    keys.extend(f"e:{email}" for email in features.emails[:1])
    if features.phone:
        keys.append(f"p:{features.phone}")
    elif len(features.phone_digits) >= 7:
        keys.append(f"l:{features.phone_digits[-7:]}")
    name_keys = _name_keys(features)
    keys.extend(k for k in name_keys if k[0] in "nt")
    domains = sorted(features.domains)
    keys.extend(f"d:{d}" for d in domains[:1])
    street = features.street
    if street is not None and street.number and street.name_words:
        keys.append(f"a:{street.number}|{street.name_key}")
    keys.extend(k for k in name_keys if k[0] not in "nt")
    keys.extend(f"e:{email}" for email in features.emails[1:2])
    keys.extend(f"d:{d}" for d in domains[1:2])
    unique = list(dict.fromkeys(_clip(k) for k in keys))
    return tuple(unique[:MAX_KEYS])


def blocking_keys(record: PartyRecord, *, default_region: str = DEFAULT_PHONE_REGION) -> frozenset[str]:
    """The record's blocking keys (see the module docstring for the prefixes); deterministic."""
    return frozenset(keys_from_features(features_of(record, default_region)))


@dataclass(slots=True)
class _Entry:
    record: PartyRecord
    features: RecordFeatures
    keys: tuple[str, ...]


@dataclass
class CandidateIndex:
    """Records by blocking key, in memory: ``add`` records, then ask for a record's ``candidates``.

    Keys shared by more than ``max_postings`` records are *saturated*: the index stops filling them, so a
    lookup through such a key yields only the first ``max_postings`` records indexed under it (the
    others are still found through their other keys). ``saturated_keys`` lists them so a report can
    say which keys were too common to search in full.
    """

    max_postings: int = DEFAULT_MAX_POSTINGS
    default_region: str = DEFAULT_PHONE_REGION
    _entries: list[_Entry] = field(default_factory=list, init=False, repr=False)
    _postings: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False)
    _saturated: set[str] = field(default_factory=set, init=False, repr=False)
    _refs: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def saturated_keys(self) -> frozenset[str]:
        """Keys that were too common to use for candidate search."""
        return frozenset(self._saturated)

    def features(self, record: PartyRecord) -> RecordFeatures:
        """The record's normalised view (cached)."""
        index = self._refs.get(record.ref)
        if index is not None and self._entries[index].record is record:
            return self._entries[index].features
        return features_of(record, self.default_region)

    def add(
        self,
        record: PartyRecord,
        *,
        features: RecordFeatures | None = None,
        keys: tuple[str, ...] | None = None,
    ) -> None:
        """Index a record under its blocking keys (a record with the same ``ref`` is indexed again).

        ``features`` and ``keys`` may be passed when the caller already computed them (bulk runs).
        """
        if features is None:
            features = features_of(record, self.default_region)
        if keys is None:
            keys = keys_from_features(features)
        position = len(self._entries)
        self._entries.append(_Entry(record, features, keys))
        self._refs[record.ref] = position
        for key in keys:
            postings = self._postings.setdefault(key, [])
            if len(postings) >= self.max_postings:
                self._saturated.add(key)
                continue
            postings.append(position)

    def add_all(self, records: Iterable[PartyRecord]) -> None:
        """Index many records."""
        for record in records:
            self.add(record)

    def candidate_positions(self, keys: Iterable[str], *, exclude_ref: str | None = None) -> list[int]:
        """Positions of indexed records sharing any of ``keys``, first-seen order, without duplicates."""
        seen: dict[int, None] = {}
        for key in keys:
            for position in self._postings.get(key, ()):
                seen.setdefault(position, None)
        if exclude_ref is not None:
            return [p for p in seen if self._entries[p].record.ref != exclude_ref]
        return list(seen)

    def entry(self, position: int) -> tuple[PartyRecord, RecordFeatures]:
        """The record and its features at a position returned by :meth:`candidate_positions`."""
        found = self._entries[position]
        return found.record, found.features

    def candidates(self, record: PartyRecord) -> list[PartyRecord]:
        """Indexed records that share a blocking key with ``record`` (never the record itself)."""
        keys = keys_from_features(features_of(record, self.default_region))
        return [self._entries[p].record for p in self.candidate_positions(keys, exclude_ref=record.ref)]
