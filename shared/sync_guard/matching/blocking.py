"""Blocking keys and the in-memory candidate index.

A record yields a handful of short keys; two records are compared only if they share a key. The same
keys index the DynamoDB shadow mapping (as partition-key suffixes), so each key is a short ASCII-ish
string with a type prefix, deterministic, and at most :data:`MAX_KEY_BYTES` bytes:

=========  ===============================================================  ==========================
prefix     what                                                             catches
=========  ===============================================================  ==========================
``v:``     VAT/company number without country prefix (``v:123456789``)     same legal entity
``e:``     email address (primary, then one more)                           same contact
``p:``     phone in E.164 (``p:+442079460000``)                              same switchboard
``l:``     last 7 digits of a phone that has no area code                   local numbers (US lists)
``n:``     core name: folded, legal forms and "The" removed (``n:acme``)    Ltd/Limited, &/and, case
``t:``     distinct name words sorted (``t:acme|widgets``), 2+ words         words in another order
``q:``     3-letter prefixes of two name words, sorted (``q:kon|phi``)       typos after the 3rd letter
``d:``     company email domain or website, not free-mail (``d:acme.co.uk``)  same organisation
``a:``     house number and street words (``a:1845|e 79th``)                same premises
=========  ===============================================================  ==========================

At most :data:`MAX_KEYS` keys per record, in the order above (the most selective first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sync_guard.matching.features import RecordFeatures, features_of
from sync_guard.matching.normalise import DEFAULT_PHONE_REGION, vat_core
from sync_guard.matching.tables import tables
from sync_guard.models.records import PartyRecord

MAX_KEYS = 8
MAX_KEY_BYTES = 200
# A key shared by more records than this says little (a common word, a big company's domain): the
# in-memory index stops filling it and ignores it for lookups, so candidate search stays bounded.
DEFAULT_MAX_POSTINGS = 200


def _clip(key: str) -> str:
    """Keep a key under MAX_KEY_BYTES in UTF-8 without splitting a character."""
    encoded = key.encode("utf-8")
    if len(encoded) <= MAX_KEY_BYTES:
        return key
    return encoded[:MAX_KEY_BYTES].decode("utf-8", errors="ignore")


def _name_keys(features: RecordFeatures) -> list[str]:
    connectors = tables().connectors
    words = [w for w in features.name_words if w not in connectors] or list(features.name_words)
    if not words:
        return []
    keys = [f"n:{' '.join(features.name_words)}"]
    distinct = sorted(set(words))
    if len(distinct) >= 2:
        keys.append(f"t:{'|'.join(distinct)}")
    prefixes: list[str] = []
    if len(words) >= 2:
        prefixes.append("|".join(sorted((words[0][:3], words[1][:3]))))
        if len(words) >= 3:
            prefixes.append("|".join(sorted((words[-2][:3], words[-1][:3]))))
    elif len(words[0]) >= 5:
        prefixes.append(words[0][:4])
    keys.extend(f"q:{p}" for p in dict.fromkeys(prefixes))
    return keys


def keys_from_features(features: RecordFeatures) -> tuple[str, ...]:
    """Blocking keys of an already-normalised record, most selective first, at most MAX_KEYS."""
    keys: list[str] = []
    if features.vat:
        keys.append(f"v:{vat_core(features.vat)}")
    keys.extend(f"e:{email}" for email in features.emails[:2])
    if features.phone:
        keys.append(f"p:{features.phone}")
    elif len(features.phone_digits) >= 7:
        keys.append(f"l:{features.phone_digits[-7:]}")
    name_keys = _name_keys(features)
    keys.extend(name_keys[:2])
    domains = sorted(features.domains)
    keys.extend(f"d:{d}" for d in domains[:1])
    street = features.street
    if street is not None and street.number and street.name_words:
        keys.append(f"a:{street.number}|{' '.join(street.name_words)}")
    keys.extend(name_keys[2:])
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

    Keys shared by more than ``max_postings`` records are *saturated*: the index stops filling them and
    lookups skip them (their records are still found through their other keys). ``saturated_keys``
    lists them so a report can say which keys were too common to use.
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

    def add(self, record: PartyRecord) -> None:
        """Index a record under its blocking keys (a record with the same ``ref`` is indexed again)."""
        features = features_of(record, self.default_region)
        keys = keys_from_features(features)
        position = len(self._entries)
        self._entries.append(_Entry(record, features, keys))
        self._refs[record.ref] = position
        for key in keys:
            if key in self._saturated:
                continue
            postings = self._postings.setdefault(key, [])
            if len(postings) >= self.max_postings:
                self._saturated.add(key)
                del self._postings[key]
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
        """Indexed records that share a usable blocking key with ``record`` (never the record itself)."""
        keys = keys_from_features(features_of(record, self.default_region))
        return [self._entries[p].record for p in self.candidate_positions(keys, exclude_ref=record.ref)]
