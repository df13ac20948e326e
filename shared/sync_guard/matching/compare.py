"""Scoring a pair of records, with the reasons behind the score.

Each piece of evidence adds or takes away points (log-odds, as in Fellegi-Sunter record linkage); the
score is the logistic of the sum, so it lies in (0, 1). Weights and thresholds are fixed here, set by
reasoning about how much each fact says (a shared VAT number says far more than a shared city) and then
checked on every labelled set at once (``benchmarks/match_quality.py``), never fitted to one set.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import msgspec
from rapidfuzz.distance import OSA, Indel

from sync_guard.matching.features import OtherName, RecordFeatures, features_of
from sync_guard.matching.names import (
    ROMAN_NUMERALS,
    ComparedWords,
    NameComparison,
    NameRelation,
    compare_words,
    letters_alike,
    number_words,
    same_words_possible,
)
from sync_guard.matching.normalise import (
    DEFAULT_PHONE_REGION,
    STREET_DIRECTIONS,
    CompanyName,
    PersonName,
    StreetAddress,
    format_phone,
    postcode_shown,
    vat_core,
)
from sync_guard.matching.tables import tables, tokenise
from sync_guard.models.records import PartyRecord, RecordKind

# A pair at or above DUPLICATE_THRESHOLD is the same party with confidence; at or above
# POSSIBLE_THRESHOLD it is worth a person's look. Fixed in advance, the same for every data set.
DUPLICATE_THRESHOLD = 0.9
POSSIBLE_THRESHOLD = 0.5

# Points before any evidence: two records drawn at random are almost never the same party.
_PRIOR = -4.0


class Verdict(StrEnum):
    """What the guard concludes about a pair."""

    DUPLICATE = "duplicate"
    POSSIBLE = "possible"
    DISTINCT = "distinct"


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Score in [0, 1], the verdict it gives under the shipped thresholds, and reasons a person can read."""

    score: float
    verdict: Verdict
    evidence: tuple[str, ...]


def verdict_for(score: float) -> Verdict:
    """The verdict a score earns under the shipped thresholds."""
    if score >= DUPLICATE_THRESHOLD:
        return Verdict.DUPLICATE
    if score >= POSSIBLE_THRESHOLD:
        return Verdict.POSSIBLE
    return Verdict.DISTINCT


@dataclass(frozen=True, slots=True)
class _NameWeights:
    same: float
    reordered: float
    typo_base: float
    per_typo: float
    subset: float
    overlap_slope: float  # points per unit of shared share, added to overlap_base
    overlap_base: float
    different: float
    # The most points a name comparison earns when the names' words are not the same words (a typo,
    # one at least; extra words; some words shared; no name), and the most any comparison earns.
    most_unless_same_words: float = field(init=False)
    most: float = field(init=False)

    def __post_init__(self) -> None:
        unless_same = max(
            self.typo_base - self.per_typo, self.subset, self.overlap_base + self.overlap_slope, 0.0
        )
        object.__setattr__(self, "most_unless_same_words", unless_same)
        object.__setattr__(self, "most", max(self.same, self.reordered, unless_same))


_COMPANY_NAME = _NameWeights(
    same=8.5,
    reordered=7.5,
    typo_base=8.0,
    per_typo=0.75,
    subset=4.0,
    overlap_slope=5.0,
    overlap_base=-3.5,
    different=-4.0,
)
# People's names are shared by strangers far more often than company names: a same name alone is a
# "possible", and needs an email, phone or city to become a duplicate.
_PERSON_NAME = _NameWeights(
    same=5.5,
    reordered=5.5,  # given name and surname swapped is how people's names are most often mis-entered
    typo_base=5.0,
    per_typo=0.75,
    subset=2.0,
    overlap_slope=3.0,
    overlap_base=-4.0,
    different=-4.0,
)


def _show(words: list[str] | tuple[str, ...]) -> str:
    return " ".join(w.upper() if w in ROMAN_NUMERALS and len(w) > 1 else w.capitalize() for w in words)


def _quote(words: list[str] | tuple[str, ...]) -> str:
    return f"'{_show(words)}'"


def _company_folds(left: CompanyName, right: CompanyName) -> list[str]:
    """What was folded to make two company names equal, in a bookkeeper's words."""
    table = tables()
    folds: list[str] = []
    left_forms = {h.form.canonical: h.written for h in left.legal_forms}
    right_forms = {h.form.canonical: h.written for h in right.legal_forms}
    for canonical in sorted(set(left_forms) & set(right_forms)):
        for written in {left_forms[canonical], right_forms[canonical]}:
            if written.replace(" ", "") != canonical.lower().replace(" ", ""):
                folds.append(f"'{written.title()}' is folded to '{canonical}'")
    only = sorted(set(left_forms) ^ set(right_forms))
    for name, other in ((left, right), (right, left)):
        cut = _cut_off_form(name, other)
        if cut:
            folds.append(f"'{name.core[-1].upper()}' is read as '{cut}' cut short")
            only = []
    if only and (not left_forms or not right_forms):
        folds.append("the legal form " + " / ".join(f"'{c}'" for c in only) + " is set aside")
    if left.dropped_article or right.dropped_article:
        folds.append("the leading or trailing 'The' is dropped")
    honorific = left.dropped_honorific or right.dropped_honorific
    if honorific and left.dropped_honorific != right.dropped_honorific:
        kind = "royal predicate" if honorific in table.honorifics or len(honorific) > 5 else "title"
        folds.append(f"the {kind} '{honorific.capitalize()}' is set aside")
    marks = sorted({m for m in (left.dropped_mark, right.dropped_mark) if m})
    if marks:
        folds.append("the record's mark " + " and ".join(f"'{m}'" for m in marks) + " is set aside")
    # A word read as another (an abbreviation or a synonym) leaves what it is read as among the
    # name's words: only then is it worth reading the names again to say which word it was, on the
    # side that wrote it one way and not the other.
    if not table.abbreviation_targets.isdisjoint((*left.core, *left.tail, *right.core, *right.tail)):
        abbreviations = table.abbreviations
        one_side_only = set(tokenise(left.raw)) ^ set(tokenise(right.raw))
        read_as = sorted(word for word in one_side_only if word in abbreviations)
        folds.extend(
            f"'{word.capitalize()}' is read as '{abbreviations[word].capitalize()}'" for word in read_as
        )
    if ("&" in left.raw) != ("&" in right.raw):
        folds.append("'&' is read as 'and'")
    return folds


class _FormDifference(StrEnum):
    """How two company names' legal forms differ, when they do."""

    NONE = "none"
    ONE_COUNTRY = "one country"  # Ltd / PLC, BV / NV: forms one register uses, so one company
    COUNTRIES = "countries"  # Ltd / Inc: usually two legal entities (a UK company and its US sister)


def _form_difference(
    left: RecordFeatures, right: RecordFeatures, person: bool, relation: NameRelation
) -> _FormDifference:
    if person or left.company is None or right.company is None or relation is NameRelation.MISSING:
        return _FormDifference.NONE
    # "Co"/"Company" goes with any form ("Smith & Co" / "Smith & Co Ltd").
    left_families = left.company.families - {"company"}
    right_families = right.company.families - {"company"}
    if not left_families or not right_families or left_families & right_families:
        return _FormDifference.NONE
    if left.company.form_countries & right.company.form_countries:
        return _FormDifference.ONE_COUNTRY
    return _FormDifference.COUNTRIES


def _form_reason(forms: _FormDifference, left: CompanyName, right: CompanyName) -> str:
    left_forms = "/".join(h.form.canonical for h in left.legal_forms)
    right_forms = "/".join(h.form.canonical for h in right.legal_forms)
    if forms is _FormDifference.ONE_COUNTRY:
        countries = left.form_countries & right.form_countries
        # A company register refuses a name that differs from another only by its legal form (Companies
        # House, the Dutch and German registers): within one country a different form is the same
        # company before and after it changed form (Ltd -> PLC, BV -> NV).
        return (
            f"legal forms '{left_forms}' / '{right_forms}' are both used in "
            f"{'/'.join(sorted(countries))}, where a register tells names apart without them"
        )
    return f"legal forms differ: '{left_forms}' vs '{right_forms}'"


def _name_evidence(
    comparison: NameComparison,
    forms: _FormDifference,
    left: RecordFeatures,
    right: RecordFeatures,
    person: bool,
) -> list[str]:
    a = comparison.alignment
    relation = comparison.relation
    left_raw = left.company.raw if left.company else _show(left.name_words)
    right_raw = right.company.raw if right.company else _show(right.name_words)
    reasons: list[str] = []
    if relation is NameRelation.SAME:
        if left_raw.strip() == right_raw.strip():
            reasons.append(f"same name '{left_raw.strip()}'")
        else:
            folds = (
                _company_folds(left.company, right.company)
                if not person and left.company and right.company
                else []
            )
            if folds:
                reasons.append("same name once " + " and ".join(folds))
            else:
                reasons.append(
                    f"same name ignoring case, spaces and punctuation: '{left_raw}' / '{right_raw}'"
                )
    elif relation is NameRelation.REORDERED:
        reasons.append(f"same words in a different order: '{left_raw}' / '{right_raw}'")
    elif relation is NameRelation.TYPO:
        shown = ", ".join(f"'{x.capitalize()}' vs '{y.capitalize()}'" for x, y, _ in a.fuzzy)
        hows = sorted({how for _, _, how in a.fuzzy})
        kinds = {
            "typo": "a typo",
            "abbreviation": "an abbreviation",
            "split": "a word written apart",
            "plural": "a plural",
            "scrambled": "scrambled letters",
            "spelling": "a spelling that sounds the same",
            "nickname": "a short form of a given name",
            "initial": "an initial",
        }
        reasons.append(f"same name allowing for {' / '.join(kinds[h] for h in hows)}: {shown}")
    elif relation is NameRelation.SUBSET and a.left_only and a.right_only:
        # Each keeps descriptive words of its own ("Group Holdings" / "Hire Services").
        reasons.append(f"names differ in descriptive words: {_quote(a.left_only)} vs {_quote(a.right_only)}")
    elif relation is NameRelation.SUBSET:
        extra = a.left_only or a.right_only
        reasons.append(f"one name has extra words {_quote(extra)}: '{left_raw}' / '{right_raw}'")
    elif relation in (NameRelation.OVERLAP, NameRelation.DIFFERENT) and a.left_only and a.right_only:
        reasons.append(f"names differ: {_quote(a.left_only)} vs {_quote(a.right_only)}")
    elif relation in (NameRelation.OVERLAP, NameRelation.DIFFERENT):
        # Words on one side only: among them a number ("Disney Magnet" / "Disney Magnet II"), or the
        # words both names have are descriptors alone ("Care Services" / "Care Services Acme").
        extra, both = a.left_only or a.right_only, [*a.exact, *(x for x, _, _ in a.fuzzy)]
        found = number_words(extra)
        numbers = " and ".join(_quote([n]) for n in found)
        marking = "a number marking" if len(found) == 1 else "numbers marking"
        if not numbers:
            shared = _quote(both)
            why = (
                f"one name has extra words {_quote(extra)} and the words they share, {shared}, only describe"
            )
        elif len(extra) > 1:
            why = f"one name has extra words {_quote(extra)}, with {numbers}, {marking} another branch"
        else:
            why = f"one name adds {numbers}, {marking} another branch"
        reasons.append(f"{why}: '{left_raw}' / '{right_raw}'")
    if comparison.ignored_tail:
        reasons.append(f"ignoring {_quote(comparison.ignored_tail)} written after the legal form")
    if forms is not _FormDifference.NONE and left.company and right.company:
        reasons.append(_form_reason(forms, left.company, right.company))
    return reasons


def _name_points(comparison: NameComparison, weights: _NameWeights) -> float:
    relation = comparison.relation
    if relation is NameRelation.SAME:
        return weights.same
    if relation is NameRelation.REORDERED:
        return weights.reordered
    if relation is NameRelation.TYPO:
        return weights.typo_base - weights.per_typo * comparison.typos
    if relation is NameRelation.SUBSET:
        return weights.subset
    if relation is NameRelation.OVERLAP:
        return weights.overlap_base + weights.overlap_slope * comparison.shared_share
    if relation is NameRelation.DIFFERENT:
        return weights.different
    return 0.0


def _cut_off_form(name: CompanyName, other: CompanyName) -> str | None:
    """The other name's legal form when this name ends in its first letter and has no form of its own:
    an export or a form field cut "Akzo Nobel N.V." to "AKZO NOBEL N"."""
    if name.legal_forms or name.tail or len(name.core) < 2 or len(name.core[-1]) != 1:
        return None
    letter = name.core[-1]
    for hit in other.legal_forms:
        if hit.form.canonical.lower().startswith(letter):
            return hit.form.canonical
    return None


def _compared_core(name: CompanyName, other: CompanyName) -> tuple[str, ...]:
    return name.core[:-1] if _cut_off_form(name, other) else name.core


def _compared_words(left: RecordFeatures, right: RecordFeatures, person: bool) -> ComparedWords:
    """The words of the two names as they are compared: core words, then words after the legal form."""
    if person or left.company is None or right.company is None:
        return left.name_words, right.name_words, (), ()
    return (
        _compared_core(left.company, right.company),
        _compared_core(right.company, left.company),
        left.company.tail,
        right.company.tail,
    )


def _compare_names(left: RecordFeatures, right: RecordFeatures, person: bool) -> NameComparison:
    left_words, right_words, left_tail, right_tail = _compared_words(left, right, person)
    return compare_words(left_words, right_words, person=person, left_tail=left_tail, right_tail=right_tail)


def name_relation(left: RecordFeatures, right: RecordFeatures) -> NameRelation:
    """How two records' names relate (same, reordered, typo, subset, ...): the match report's patterns.

    Between the names the records are scored by (another name they give, when it scores higher).
    """
    return score_pair(left, right)[1]


def _local_phone_match(left: RecordFeatures, right: RecordFeatures) -> bool:
    """Same number when one side was written without an area code (the last seven digits agree)."""
    a, b = left.phone_digits, right.phone_digits
    if len(a) < 7 or len(b) < 7 or (left.phone and right.phone):
        return False
    return a[-7:] == b[-7:]


def compare_features(left: RecordFeatures, right: RecordFeatures) -> MatchResult:
    """Score two already-normalised records."""
    return score_pair(left, right)[0]


Scored = tuple[MatchResult, NameRelation]


def score_pair(left: RecordFeatures, right: RecordFeatures) -> Scored:
    """Score two already-normalised records, and say how their names relate.

    A record that gives other names for the party (one it trades under, "Acme Ltd t/a Acme Widgets",
    Books' company name beside the display name, or a site's name after its operator's, "Riverside
    Trust - Little Acorns Nursery") is scored by each of its names, and the pair by the names that
    agree best.
    """
    if not left.other_names and not right.other_names:
        return _score_pair(left, right)
    scored = _by_the_best_names(left, right, _score_pair)
    assert scored is not None  # every pair of names is scored
    return scored


def _score_pair(left: RecordFeatures, right: RecordFeatures) -> Scored:
    person = _either_person(left, right)
    judgement = _judge(left, right, person, _facts(left, right, person))
    return _explain(judgement, left, right, person), judgement.names.relation


def score_unless_distinct(left: RecordFeatures, right: RecordFeatures) -> Scored | None:
    """:func:`score_pair` when its verdict is not ``distinct``, else None: the match report's hot path.

    Most candidate pairs of a large export are strangers that share a typo key, and their emails, phones
    and addresses already rule them out: when even the same name could not lift a pair to ``possible``,
    the names are not compared at all. Nor are reasons written for a pair that turns out distinct.
    """
    if not left.other_names and not right.other_names:
        return _score_unless_distinct(left, right)
    return _by_the_best_names(left, right, _score_unless_distinct)


# A record under one of its names: the features with that name first, and the other name it is
# (``None`` for the record's first name).
_Named = tuple[RecordFeatures, OtherName | None]


def _as_named(features: RecordFeatures) -> list[_Named]:
    """The record under each of its names: its first name, then each other name it gives (a business's
    name, even on a Books individual's record: "Jane Doe" of "Doe Design Ltd")."""
    named: list[_Named] = [(features, None)]
    named.extend(
        (
            msgspec.structs.replace(
                features, kind=RecordKind.COMPANY, company=other.name, person=None, other_names=()
            ),
            other,
        )
        for other in features.other_names
    )
    return named


def _by_the_best_names(
    left: RecordFeatures,
    right: RecordFeatures,
    score: Callable[[RecordFeatures, RecordFeatures], Scored | None],
) -> Scored | None:
    """The best of ``score`` over the records' names (the first of equals), saying which other name
    it was scored by. ``score`` may return None for a pair that is distinct; so is the result then.

    Two trading names are not compared with each other: two businesses can trade under one name (a
    franchise's shops), so the pair must agree by at least one name that is not a trading name. A
    site's name is compared only when the two records are at one site (:func:`_at_one_site`).
    """
    best: Scored | None = None
    chosen: tuple[_Named, _Named] = ((left, None), (right, None))
    at_one_site: bool | None = None  # looked at once, for the first pair of names that needs it
    for a in _as_named(left):
        for b in _as_named(right):
            if a[1] is not None and b[1] is not None and a[1].trading and b[1].trading:
                continue
            if _by_a_site(a, b):
                if at_one_site is None:
                    at_one_site = _at_one_site(left, right)
                if not at_one_site:
                    continue
            found = score(a[0], b[0])
            if found is not None and (best is None or found[0].score > best[0].score):
                best, chosen = found, (a, b)
    if best is None:
        return None
    said = [_other_name_said(whole, other) for whole, (_, other) in zip((left, right), chosen, strict=True)]
    result, relation = best
    if any(said):
        result = MatchResult(result.score, result.verdict, (*filter(None, said), *result.evidence))
    return result, relation


def _by_a_site(a: _Named, b: _Named) -> bool:
    return (a[1] is not None and a[1].site) or (b[1] is not None and b[1].site)


def _at_one_site(left: RecordFeatures, right: RecordFeatures) -> bool:
    """Whether a site's name may speak for a record ("YMCA of Metropolitan Chicago - Rauner" / "Rauner
    Family YMCA"): at the same premises with the same phone, or with an identifier shared, as for
    names that each keep words of their own. An operator runs sites of one name in many places, and
    two operators may each run a site of one name."""
    facts = _facts(left, right, _either_person(left, right))
    return facts.strong or (facts.premises is _Premises.SAME and facts.same_phone)


def _other_name_said(record: RecordFeatures, other: OtherName | None) -> str | None:
    if other is None or record.company is None:
        return None
    if other.site:
        return f"'{record.company.raw}' names the site '{other.name.raw}'"
    if other.trading:
        return f"'{record.company.raw}' trades as '{other.name.raw}'"
    return f"'{record.company.raw}' has the company name '{other.name.raw}'"


def _score_unless_distinct(left: RecordFeatures, right: RecordFeatures) -> Scored | None:
    person = _either_person(left, right)
    facts = _facts(left, right, person)
    # No name earns more than ``most``, and what the name brings next (a legal form that differs, a place
    # after the form) and the caps on the score only ever take points away.
    weights, points = _weights(person), _PRIOR + sum(facts.points)
    if points + weights.most < 0:
        return None
    # Only the same words (in any order) earn more than ``most_unless_same_words``, and a glance at the
    # words tells when they cannot be the same: then the full comparison could not lift the pair either.
    if points + weights.most_unless_same_words < 0 and not same_words_possible(
        *_compared_words(left, right, person)
    ):
        return None
    judgement = _judge(left, right, person, facts)
    if judgement.verdict is Verdict.DISTINCT:
        return None
    return _explain(judgement, left, right, person), judgement.names.relation


def _either_person(left: RecordFeatures, right: RecordFeatures) -> bool:
    return left.kind is RecordKind.PERSON or right.kind is RecordKind.PERSON


def _weights(person: bool) -> _NameWeights:
    return _PERSON_NAME if person else _COMPANY_NAME


@dataclass(frozen=True, slots=True)
class _Judgement:
    """A pair's score and what it rests on, before any reason is written out."""

    score: float
    verdict: Verdict
    names: NameComparison
    name_points: float
    forms: _FormDifference
    facts: _Facts


def _judge(left: RecordFeatures, right: RecordFeatures, person: bool, facts: _Facts) -> _Judgement:
    weights = _weights(person)
    points = _PRIOR
    names = _compare_names(left, right, person)
    name_points = _name_points(names, weights)
    if person and min(len(left.name_words), len(right.name_words)) == 1:
        # "Alfie" and "Alfie": a lone given name or surname is shared by too many people to count as a name.
        name_points = min(name_points, weights.subset)
    if names.ignored_tail and left.company and right.company and left.company.tail and right.company.tail:
        name_points -= 0.5  # both name a place after the legal form, and the places differ
    points += name_points
    forms = _form_difference(left, right, person, names.relation)
    if forms is _FormDifference.COUNTRIES:
        # Acme Ltd and Acme Inc are usually two legal entities (a UK company and its US sister): a person
        # should look, so the same name with different legal forms is at most a "possible" on its own.
        points -= 3.0
    for more in facts.points:
        points += more

    score = 1.0 / (1.0 + math.exp(-points))
    if _at_most_possible(left, right, person, names.relation, facts):
        score = min(score, DUPLICATE_THRESHOLD - 0.01)
    return _Judgement(score, verdict_for(score), names, name_points, forms, facts)


def _at_most_possible(
    left: RecordFeatures, right: RecordFeatures, person: bool, relation: NameRelation, facts: _Facts
) -> bool:
    """Whether the pair is a question for a person however high its points: what a shared phone,
    office or mailbox cannot settle."""
    premises, strong = facts.premises, facts.strong
    # Company names with nothing in common, not even most of their letters ("Oak Tree Cafe Ltd" /
    # "Birch Florists Ltd"), are two parties whatever they share: a bookkeeper's mailbox and office
    # serve all its clients, a VAT group has one number, and a renamed company is for a person to
    # confirm. ("Muvoul" / "Mutoul" is one name mistyped; so is a person's name, still one person's
    # with the same email and date of birth.)
    if relation is NameRelation.DIFFERENT and not person and not _spelt_alike(left, right):
        return True
    # Two names that each keep words of their own ("Bank of the West" / "Bank of the East") are not
    # the same company on shared premises or a shared switchboard alone: only a strong identifier, or
    # both the premises and the phone with a word of substance in common (an OVERLAP, not merely a
    # descriptor such as "Bank": "Gads Hill Center GH Sinai" / "Gads Hill Child Care Center"), can
    # make such a pair a duplicate. People are another matter: colleagues share their office and its
    # switchboard as a rule.
    one_site = (
        not person and premises is _Premises.SAME and facts.same_phone and relation is NameRelation.OVERLAP
    )
    if relation in (NameRelation.OVERLAP, NameRelation.DIFFERENT) and not strong and not one_site:
        return True
    # Two registered names, one the other with words added at its end ("Acme Ltd" / "Acme Logistics
    # Ltd"), are a group's two companies, which share an office, a phone, often a website and a finance
    # mailbox: only the company's own registration number makes them one. (Words put in front name an
    # operator: "Henry Booth House - Kids Place II, Inc" is Kids Place II, Inc.)
    if relation is NameRelation.SUBSET and not facts.same_registration and _sister_companies(left, right):
        return True
    # Two registered names that start alike and then each go their own way ("Crane Group Holdings Ltd"
    # / "Crane Hire Services Ltd") are two companies of one group, even with one VAT number: a VAT group
    # files under one.
    group = relation in (NameRelation.SUBSET, NameRelation.OVERLAP)
    if group and _group_companies(left.company, right.company):
        return True
    # Records that give different premises are two sites until an identifier says otherwise: a chain's
    # shops and a charity's centres share a name and often one central phone line, and "Acme" next door
    # to "Acme Logistics" is a sister company. A person should decide.
    elsewhere = premises is _Premises.DIFFERENT or (
        premises is _Premises.NEIGHBOURING and relation is NameRelation.SUBSET
    )
    # Customers billed in two currencies, and two people's own mailboxes at one company, are on purpose.
    return (elsewhere and not strong) or facts.other_currencies or facts.own_mailboxes


def _sister_companies(left: RecordFeatures, right: RecordFeatures) -> bool:
    """Both names are registered names (each has a legal form), and the longer one is the shorter with
    words added at its end."""
    if not (left.company and left.company.legal_forms and right.company and right.company.legal_forms):
        return False
    shorter, longer = sorted((left.company.core, right.company.core), key=len)
    return len(longer) > len(shorter) > 0 and longer[: len(shorter)] == shorter


def _spelt_alike(left: RecordFeatures, right: RecordFeatures) -> bool:
    """Most of the two names' letters, in order, are the same: one name with slips in it."""
    return _alike(*_compared_words(left, right, person=False)[:2])


def _alike(left: tuple[str, ...], right: tuple[str, ...]) -> bool:
    return Indel.normalized_similarity(" ".join(left), " ".join(right)) >= 0.7


def _registered(name: CompanyName) -> bool:
    """A name that ends in its legal form, as a registered name does ("Crane Hire Services Ltd")."""
    return bool(name.legal_forms) and not name.tail


def _group_companies(left: CompanyName | None, right: CompanyName | None) -> bool:
    """Both names are registered names (each ends in its legal form) with their first word in common,
    and each has words of its own after the words they share (not one word mistyped: "Nyrkflyll
    Collur Inc" / "Nyrkflyll Collgtr Incorporated")."""
    if left is None or right is None or not (_registered(left) and _registered(right)):
        return False
    one, other = left.core, right.core
    shared = 0
    while shared < min(len(one), len(other)) and one[shared] == other[shared]:
        shared += 1
    return 0 < shared < min(len(one), len(other)) and not _alike(one[shared:], other[shared:])


def _explain(judgement: _Judgement, left: RecordFeatures, right: RecordFeatures, person: bool) -> MatchResult:
    """The result with its reasons: what the names say for or against, then the other facts."""
    name_reasons = _name_evidence(judgement.names, judgement.forms, left, right, person)
    evidence, against = judgement.facts.written()
    if judgement.name_points >= 0:
        evidence = name_reasons + evidence
    else:
        against = name_reasons + against
    return MatchResult(round(judgement.score, 4), judgement.verdict, tuple(evidence + against))


def _one_site(domain: str, other: str) -> bool:
    """One domain, or one inside the other: "shop.acme.co.uk" and "mail.acme.co.uk" are acme.co.uk's."""
    if domain == other:
        return True
    shorter, longer = (domain, other) if len(domain) < len(other) else (other, domain)
    return longer.endswith("." + shorter) and "/" not in shorter


def _facts(left: RecordFeatures, right: RecordFeatures, person: bool) -> _Facts:
    facts = _Facts()
    shared_emails = set(left.emails) & set(right.emails)
    if shared_emails:
        facts.strong = True
        facts.add(6.0, f"same email {sorted(shared_emails)[0]}")
    elif left.emails and right.emails:
        shared_domains = left.email_domains & right.email_domains
        # Two mailboxes at one company, each made of its own name ("chris.evans@" / "christine.evans@"):
        # made on purpose, for two people as a rule (colleagues called alike), so at most a question.
        facts.own_mailboxes = bool(person and shared_domains and _each_from_its_own_name(left, right))
        near = not facts.own_mailboxes and _near_email(left.emails[0], right.emails[0], person=person)
        if near:
            facts.add(3.0 if person else 2.0, f"nearly the same email: {left.emails[0]} / {right.emails[0]}")
        elif person and shared_domains and _from_one_name(left, right):
            # "jane@acme.co.uk" / "j.smith@acme.co.uk": one person's two mailboxes at her company,
            # as a contact person's email in Books and in CRM often are.
            domain = sorted(shared_domains)[0]
            facts.add(
                2.0,
                f"both emails at {domain} are written from the name: {left.emails[0]} / {right.emails[0]}",
            )
        else:
            facts.add(-0.5 if person else -1.0, f"different emails: {left.emails[0]} / {right.emails[0]}")
            if shared_domains:
                facts.add(1.0 if person else 2.5, f"same email domain {sorted(shared_domains)[0]}")

    if left.web_domain and right.web_domain:
        if _one_site(left.web_domain, right.web_domain):
            facts.strong = True
            facts.add(3.0, f"same website {min(left.web_domain, right.web_domain, key=len)}")
        else:
            facts.add(-1.0, f"different websites: {left.web_domain} / {right.web_domain}")
    elif left.web_domain and any(_one_site(left.web_domain, d) for d in right.email_domains):
        facts.add(2.5, f"email domain matches the website {left.web_domain}")
    elif right.web_domain and any(_one_site(right.web_domain, d) for d in left.email_domains):
        facts.add(2.5, f"email domain matches the website {right.web_domain}")

    if left.vat and right.vat:
        left_core, right_core = vat_core(left.vat), vat_core(right.vat)
        if left.vat == right.vat or left_core == right_core:
            facts.strong = True
            facts.same_registration = True
            facts.add(8.0, f"same VAT/company number {left.vat}")
        elif len(left_core) == len(right_core):
            facts.add(-8.0, f"different VAT/company numbers: {left.vat} / {right.vat}")
        # Otherwise they are numbers of two kinds (a VAT number, 9 digits in the UK, and a company
        # registration number, 8): one field holds either, and neither says anything of the other.

    if left.currency and right.currency and left.currency != right.currency:
        # Books keeps one currency per customer: a company billed in two has a customer in each, and
        # they share every identifier. A person should decide; the guard must not merge them.
        facts.other_currencies = True
        facts.add(
            -1.0,
            f"different currencies: {left.currency} / {right.currency} (Books keeps one currency per "
            "customer: a company billed in two has a customer in each)",
        )

    phone, other_phone = left.phone, right.phone
    if phone and other_phone:
        if phone == other_phone:
            facts.same_phone = True
            facts.add(4.0, lambda: f"same phone {format_phone(phone)}")
        elif left.phone_digits == right.phone_digits:
            # One number written without its country code, read in each record's own country (one
            # record gives the country, the other does not): the digits as written are the same.
            facts.same_phone = True
            facts.add(4.0, f"same phone number {left.phone_digits} (read in two countries)")
        else:
            facts.add(-1.0, lambda: f"different phones: {format_phone(phone)} / {format_phone(other_phone)}")
    elif _local_phone_match(left, right):
        facts.same_phone = True
        facts.add(3.5, f"same phone number ending {right.phone_digits[-7:]}")
    elif len(left.phone_digits) >= 7 and len(right.phone_digits) >= 7:
        facts.add(-1.0, "different phone numbers")

    _address_facts(facts, left, right, person)
    if person:
        _birth_facts(facts, left.date_of_birth, right.date_of_birth)
    return facts


_NOT_LETTERS = re.compile(r"[^a-z]")


def _from_one_name(left: RecordFeatures, right: RecordFeatures) -> bool:
    """Both records' first mailboxes are made of either record's person name: one person's two
    mailboxes ("jane@" / "j.smith@" for Jane Smith), not two colleagues' ("jane@" / "peter@")."""
    return all(
        _written_from(record.emails[0], named.person) for record in (left, right) for named in (left, right)
    )


def _each_from_its_own_name(left: RecordFeatures, right: RecordFeatures) -> bool:
    """Each record's first mailbox is made of its own person's name, and the names differ: two
    mailboxes made on purpose ("chris.evans@" for Chris Evans, "christine.evans@" for Christine Evans),
    not one address with a slip in it."""
    if left.person is None or right.person is None or left.person.tokens == right.person.tokens:
        return False
    return _written_from(left.emails[0], left.person) and _written_from(right.emails[0], right.person)


def _written_from(email: str, name: PersonName | None) -> bool:
    """The mailbox is made of the person's name: "jane", "smith", "jane.smith", "j.smith", "smithj",
    "jane_s" for Jane Smith."""
    if name is None or len(name.tokens) < 2:
        return False
    given, family = name.tokens[0], name.tokens[-1]
    mailbox = _NOT_LETTERS.sub("", email.rpartition("@")[0])
    return mailbox in {
        given,
        family,
        given + family,
        family + given,
        given[0] + family,
        given + family[0],
        family + given[0],
    }


def _near_email(a: str, b: str, *, person: bool) -> bool:
    """The same address give or take typing slips.

    Company mailboxes differ by one letter for real (``info@acme.com`` / ``info@acne.com``), so for
    companies only one or two edits in a long address count; a person's address mistyped in a few places
    (``hensondrbbie@gaeia.com`` / ``hensondebbie@garcia.com``) still counts when most of it agrees.
    """
    longest = max(len(a), len(b))
    if longest < 12:
        return False
    if person:
        mailbox, at, domain = a.rpartition("@")
        other_mailbox, _, other_domain = b.rpartition("@")
        if at and domain == other_domain:
            # A shared domain is most of the two addresses and says nothing of the mailboxes: those must
            # mostly agree by themselves ("nicholasbutler" / "nicobaslutler"), so "jane@" and "john@"
            # (half their letters) are two people's.
            return Indel.normalized_similarity(mailbox, other_mailbox) >= 0.7
        return Indel.normalized_similarity(a, b) >= 0.85
    budget = 1 if longest < 20 else 2
    return OSA.distance(a, b, score_cutoff=budget) <= budget


class _Premises(StrEnum):
    SAME = "same"
    NEIGHBOURING = "neighbouring"  # same street, another number
    DIFFERENT = "different"
    UNKNOWN = "unknown"


@dataclass(slots=True)
class _Facts:
    """What two records' identifiers and addresses say, apart from their names."""

    points: list[float] = field(default_factory=list)  # in the order they are added to the score
    evidence: list[Reason] = field(default_factory=list)
    against: list[Reason] = field(default_factory=list)
    strong: bool = False  # an identifier that two different parties practically never share
    same_registration: bool = False  # the same VAT or company number: one legal entity
    own_mailboxes: bool = False  # people's mailboxes at one company, each made of its own name
    same_phone: bool = False
    other_currencies: bool = False  # billed in two currencies: two customers, on purpose
    premises: _Premises = _Premises.UNKNOWN

    def add(self, points: float, reason: Reason) -> None:
        self.points.append(points)
        (self.evidence if points >= 0 else self.against).append(reason)

    def written(self) -> tuple[list[str], list[str]]:
        """The reasons for and against, written out."""
        return _written(self.evidence), _written(self.against)


# A reason, or a function that writes it when it costs more to write (a phone number in international
# format, names in title case): most pairs compared are strangers whose reasons are never shown.
Reason = str | Callable[[], str]


def _written(reasons: list[Reason]) -> list[str]:
    return [reason if isinstance(reason, str) else reason() for reason in reasons]


def _same_street_name(street: StreetAddress, other: StreetAddress) -> bool:
    """One street name, allowing a slip in a long one ("Maplewood" / "Mapplewood"), never in a number
    ("79th" / "78th" are two streets), and written with or without an ordinal's ending ("113th" /
    "113", "93rd" / "93th") or the direction before it ("S Avenue H" / "Avenue H")."""
    left, right = street.name_key, other.name_key
    if not left or not right:
        return False
    if left == right:
        return True
    if (
        min(len(left), len(right)) >= 6
        and left[0] == right[0]
        and _NON_DIGITS.sub("", left) == _NON_DIGITS.sub("", right)
        and OSA.distance(left, right, score_cutoff=1) <= 1
    ):
        return True
    left_words, right_words = _street_core(street.name_words), _street_core(other.name_words)
    if left_words[0] in STREET_DIRECTIONS and right_words[0] not in STREET_DIRECTIONS:
        left_words = left_words[1:]
    elif right_words[0] in STREET_DIRECTIONS and left_words[0] not in STREET_DIRECTIONS:
        right_words = right_words[1:]
    if not left_words or not right_words:
        return False
    if left_words == right_words:
        return True
    # A street named for a person, with or without the given names (and "Jr"), at one house number:
    # "4910 S Dr Martin Luther King Jr Dr" / "4910 S King Dr", "1 John F Kennedy Blvd" / "1 Kennedy Blvd".
    if street.number is None or street.number != other.number:
        return False
    shorter, longer = sorted((left_words, right_words), key=len)
    if shorter[0] in STREET_DIRECTIONS:  # both give one ("S King Dr"), or the names differ already
        if longer[0] != shorter[0]:
            return False
        shorter, longer = shorter[1:], longer[1:]
    longer = tuple(w for w in longer if w not in _NAME_SUFFIXES)
    # Given names are two words at least ("Martin Luther", "John F"): "Park Rd" and "Regents Park Rd",
    # one word more, may be two streets of one town.
    return (
        bool(shorter)
        and len(shorter[-1]) >= 4
        and len(longer) >= len(shorter) + 2
        and longer[-len(shorter) :] == shorter
    )


_NAME_SUFFIXES = frozenset({"jr", "sr"})
_NON_DIGITS = re.compile(r"\D")
_ORDINAL_ENDING = re.compile(r"(?<=\d)(?:st|nd|rd|th)$")


def _street_core(words: tuple[str, ...]) -> tuple[str, ...]:
    """A street's name words with each ordinal as its number ("e 93rd" -> "e 93")."""
    return tuple(_ORDINAL_ENDING.sub("", word) if word[0].isdigit() else word for word in words)


def _near_city(left: str, right: str) -> bool:
    """The same town typed with a slip or two ("Sunderland" / "Sudderlnn", "Bolton" / "Botlon")."""
    if max(len(left), len(right)) < 5:
        return False
    if OSA.distance(left, right, score_cutoff=1) <= 1:
        return True
    return left[0] == right[0] and letters_alike(left, right)


def _birth_facts(facts: _Facts, left: str | None, right: str | None) -> None:
    """A shared date of birth says much about a person; one slip in it (a digit, day and month swapped)
    still says something; a different one counts against, but mildly, since dates are mistyped often."""
    if not left or not right:
        return
    if left == right:
        facts.add(5.0, f"same date of birth {left}")
        return
    left_parts, right_parts = left.split("-"), right.split("-")
    same_parts = sum(a == b for a, b in zip(left_parts, right_parts, strict=True))
    swapped = left_parts[0] == right_parts[0] and left_parts[1:] == right_parts[:0:-1]
    if same_parts == 2 or swapped:
        facts.add(1.5, f"nearly the same date of birth: {left} / {right}")
    else:
        facts.add(-1.5, f"different dates of birth: {left} / {right}")


def _street_shown(street: StreetAddress) -> str:
    return " ".join(filter(None, [street.number, _show(street.words)]))


def _other_towns(left: RecordFeatures, right: RecordFeatures) -> bool:
    """The two records name different towns and no postcode says they are one place (a district may
    stand for the town: "Chelsea" / "London" with one postcode is one address)."""
    if not left.city or not right.city or left.city == right.city or _near_city(left.city, right.city):
        return False
    return not (left.postcode and left.postcode == right.postcode)


def _address_facts(facts: _Facts, left: RecordFeatures, right: RecordFeatures, person: bool) -> None:
    """Postcode, street and town, and whether the two records give the same premises."""
    if left.postcode and right.postcode:
        if left.postcode == right.postcode:
            facts.add(1.0 if person else 1.5, f"same postcode {postcode_shown(left.postcode)}")
        else:
            shown = f"{postcode_shown(left.postcode)} / {postcode_shown(right.postcode)}"
            facts.add(-1.0, f"different postcodes: {shown}")
    if left.street and right.street:
        street, other = left.street, right.street
        same_street = _same_street_name(street, other)
        if same_street and street.number == other.number and _other_towns(left, right):
            # "1 High Street" in Oxford and in Bath: every town has one.
            facts.premises = _Premises.DIFFERENT
            facts.add(-1.0, lambda: f"same street address {_street_shown(street)} in different towns")
        elif same_street and street.number == other.number:
            facts.premises = _Premises.SAME
            facts.add(3.0, lambda: f"same street address {_street_shown(street)}")
        elif same_street:
            facts.premises = _Premises.NEIGHBOURING
            facts.add(-0.5, f"same street, different numbers: {street.number} / {other.number}")
        else:
            # Both sides give an address and they are different premises: another site, or another firm.
            facts.premises = _Premises.DIFFERENT
            facts.add(-2.5, "different street addresses")
    if not person and facts.premises is _Premises.UNKNOWN and _other_towns(left, right):
        # No street on one side or both, but two towns: "Premier Cleaning" in Manchester and in Leeds are
        # two branches or two firms. (People move, and their towns are mistyped more than a firm's.)
        facts.premises = _Premises.DIFFERENT
    if left.city and right.city:
        city, other_city = left.city, right.city
        if city == other_city:
            facts.add(1.0 if person else 0.5, lambda: f"same city {_show(city.split())}")
        elif _near_city(city, other_city):
            facts.add(0.5, f"nearly the same city: {city} / {other_city}")
        else:
            facts.add(
                -1.0 if person else -0.5,
                lambda: f"different cities: {_show(city.split())} / {_show(other_city.split())}",
            )


def compare(a: PartyRecord, b: PartyRecord, *, default_region: str = DEFAULT_PHONE_REGION) -> MatchResult:
    """Score two records: a score in [0, 1], a verdict under the shipped thresholds, and the reasons.

    ``default_region`` reads phone numbers written without a country code (ISO 3166 alpha-2).
    """
    return compare_features(features_of(a, default_region), features_of(b, default_region))
