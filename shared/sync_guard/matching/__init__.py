"""The matcher: normalisation, blocking keys, pairwise scoring with evidence. Pure library, no AWS.

Public API (other parts of the guard code against these names)::

    blocking_keys(record) -> frozenset[str]      # short prefixed keys, shared by likely duplicates
    compare(a, b) -> MatchResult                  # score in [0, 1], verdict, readable evidence
    name_key(record) -> str                       # exact normalised name ("" if no name)
    CandidateIndex                                # in-memory index by blocking key
    DUPLICATE_THRESHOLD, POSSIBLE_THRESHOLD       # fixed, shipped
"""

from sync_guard.matching.blocking import MAX_KEYS, CandidateIndex, blocking_keys, keys_from_features
from sync_guard.matching.compare import (
    DUPLICATE_THRESHOLD,
    POSSIBLE_THRESHOLD,
    MatchResult,
    Verdict,
    compare,
    compare_features,
    name_relation,
    score_pair,
    verdict_for,
)
from sync_guard.matching.features import RecordFeatures, extract_features, features_of
from sync_guard.matching.names import NameRelation
from sync_guard.matching.normalise import DEFAULT_PHONE_REGION
from sync_guard.models.records import PartyRecord, RecordKind


def name_key(record: PartyRecord) -> str:
    """The exact normalised name: what exact-name pairing sees ("" if the record has no name).

    Companies: folded words with legal forms in canonical spelling ("Acme Limited" and "ACME LTD." both
    give ``acme ltd``) and a leading/trailing "The" dropped. People: folded given and family names.
    """
    features = features_of(record)
    if record.kind is RecordKind.PERSON and features.person is not None and features.person.tokens:
        return features.person.key
    return features.company.key if features.company is not None else ""


__all__ = [
    "DEFAULT_PHONE_REGION",
    "DUPLICATE_THRESHOLD",
    "MAX_KEYS",
    "POSSIBLE_THRESHOLD",
    "CandidateIndex",
    "MatchResult",
    "NameRelation",
    "RecordFeatures",
    "Verdict",
    "blocking_keys",
    "compare",
    "compare_features",
    "extract_features",
    "features_of",
    "keys_from_features",
    "name_key",
    "name_relation",
    "score_pair",
    "verdict_for",
]
