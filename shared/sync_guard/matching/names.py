"""Comparing two names word by word, with the reasons a person can check.

Words are paired exactly first, then allowing a typo (the longer the word, the more edits; never in a
short word, so "West"/"East" and "Ramesh"/"Ganesh" stay different), an abbreviation ("Koninkl" for
"Koninklijke") or a split word ("Day Care" for "Daycare"). Whatever is left unpaired decides the
relation: nothing left (same name), extra words on one side only (subset), or different words on both
sides (the names differ).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from rapidfuzz.distance import OSA, Indel, JaroWinkler

from sync_guard.matching.normalise import CompanyName
from sync_guard.matching.tables import tables


class NameRelation(StrEnum):
    """How two names relate once their words are paired."""

    SAME = "same"  # same words, same order, after folding
    REORDERED = "reordered"  # same words in another order
    TYPO = "typo"  # every word paired, some with a typo, an abbreviation or a split
    SUBSET = "subset"  # one name is the other plus extra words ("Acme" / "Acme Logistics")
    OVERLAP = "overlap"  # some words shared, others different on both sides
    DIFFERENT = "different"  # nothing distinguishing shared
    MISSING = "missing"  # one side has no name


@dataclass(slots=True)
class Alignment:
    """The outcome of pairing the words of two names."""

    exact: list[str] = field(default_factory=list)
    fuzzy: list[tuple[str, str, str]] = field(default_factory=list)  # (left, right, how)
    left_only: list[str] = field(default_factory=list)
    right_only: list[str] = field(default_factory=list)


def typo_budget(length: int) -> int:
    """How many edits a company-name word of this length may carry and still be the same word.

    None up to 6 letters (so "West"/"East", "Paint"/"Print" and "Rajesh"/"Ramesh" stay different words),
    1 up to 10 letters, 2 beyond.
    """
    return 0 if length < 7 else 1 if length < 11 else 2


def _benign_edit(left: str, right: str) -> bool:
    """Two letters swapped ("Nobel"/"Noble") or a letter doubled ("Philips"/"Phillips").

    These are typing slips rather than different words, so they are accepted in shorter words too.
    """
    if len(left) == len(right):
        diff = [i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b]
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and left[diff[0]] == right[diff[1]]
            and left[diff[1]] == right[diff[0]]
        )
    short, long_ = (left, right) if len(left) < len(right) else (right, left)
    if len(long_) != len(short) + 1:
        return False
    return any(long_[i] == long_[i - 1] and long_[:i] + long_[i + 1 :] == short for i in range(1, len(long_)))


def _dropped_inside(left: str, right: str) -> bool:
    """One letter dropped inside a word of six letters or more ("Pailer" / "Paier", "Pulron" / "Puron").

    The first and last letters must agree: a letter lost or added at either end makes another word
    more often than a slip does ("Neala" / "Nealad").
    """
    short, long_ = (left, right) if len(left) < len(right) else (right, left)
    if len(long_) < 6 or len(long_) != len(short) + 1 or short[0] != long_[0] or short[-1] != long_[-1]:
        return False
    return any(long_[:i] + long_[i + 1 :] == short for i in range(1, len(long_) - 1))


_SILENT_H = re.compile(r"(?<=[aeiou])h(?=[^aeiou])")


def spelt(word: str) -> str:
    """The word as it sounds, for spellings of one sound ("Philips" / "Filips" -> "filips").

    Digraphs of the ``spelling`` table read as one letter, a vowel's "h" before a consonant is dropped
    ("Ehlektroniks"), then letters of the table's pairs read as the first of their pair ("Novel" ->
    "nobel", "Elektroniks" -> "electronics"). Vowels are kept: "Gordon" and "Garden" stay apart.
    """
    table = tables()
    for digraph, letter in table.spelling_digraphs:
        word = word.replace(digraph, letter)
    return _SILENT_H.sub("", word).translate(table.spelling_letters)


def _spelt_alike(left: str, right: str) -> bool:
    """Two words of five letters or more that sound the same once spelt alike ("Nobel" / "Novel").

    The letters must begin alike (a digraph aside): "Zenith" / "Senith" may be two names. Letters
    outside the table's pairs keep words apart: "Paints" / "Prints", "Rajesh" / "Ramesh".
    """
    if min(len(left), len(right)) < 5:
        return False
    sound = spelt(left)
    return sound == spelt(right) and _first_sound(left) == _first_sound(right)


def _first_sound(word: str) -> str:
    for digraph, letter in tables().spelling_digraphs:
        if word.startswith(digraph):
            return letter
    return word[0]


def letters_alike(left: str, right: str) -> bool:
    """Mostly the same letters, in whatever order: a garbled spelling ("Sunderland" / "Rndesland")."""
    return Indel.normalized_similarity(sorted(left), sorted(right)) >= 0.85


def undoubled(word: str) -> str:
    """The word with every run of one letter written once ("wollbrrur" -> "wolbrur")."""
    letters = [word[0]] if word else []
    for letter in word[1:]:
        if letter != letters[-1]:
            letters.append(letter)
    return "".join(letters)


def singular(word: str) -> str:
    """The word without a plural ending ("industries" -> "industry", "electronics" -> "electronic")."""
    if len(word) > 5 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _fuzzy_pair(left: str, right: str, *, person: bool) -> tuple[int, str] | None:
    """(cost, how) if two different words may be the same word, else ``None``."""
    if left.isdigit() or right.isdigit():
        return None
    if person:
        # "Bob" for "Robert", "Liz" for "Elizabeth": the name a person goes by.
        if ((left, right) if left < right else (right, left)) in tables().nicknames:
            return 1, "nickname"
        # "J." for "Jane": an initial, less sure (it may be Mark's "M." for Mary's family email).
        if min(len(left), len(right)) == 1 and left[0] == right[0]:
            return 2, "initial"
        # People's names are short and misspelt often; other evidence (email, city) has to back a
        # person's name up anyway. Jaro-Winkler suits short names; scrambled letters count too.
        if min(len(left), len(right)) < 3:
            return None
        # Short given names one letter apart are often two names ("Mary" / "Mark"): they need more.
        if JaroWinkler.similarity(left, right) >= (0.9 if max(len(left), len(right)) <= 4 else 0.85):
            return 1, "typo"
        if len(left) >= 4 and sorted(left) == sorted(right):
            return 1, "scrambled"
        if max(len(left), len(right)) >= 4 and letters_alike(left, right):
            # Scrambled and a letter lost or gained ("Jackson" / "Nacsoj"): less sure, so it costs more.
            return 2, "scrambled"
        return None
    if (left, right) in tables().paired_abbreviations:
        return 1, "abbreviation"  # "St" / "Saint"
    if min(len(left), len(right)) == 1 and left[0] == right[0] and max(len(left), len(right)) > 2:
        return 2, "initial"  # a sole trader's given name: "J Smith Plumbing" / "John Smith Plumbing"
    if min(len(left), len(right)) >= 4 and _benign_edit(left, right):
        return 1, "typo"
    if _spelt_alike(left, right):
        return 1, "spelling"
    if singular(left) == singular(right):
        return 1, "plural"
    if _dropped_inside(left, right):
        return 1, "typo"
    budget = typo_budget(max(len(left), len(right)))
    # Typos keep the first letter: first letters are rarely mistyped, and a different first letter is
    # how "Ramesh"/"Ganesh" and "Mainstream"/"Rainstream" differ.
    if budget and left[0] == right[0]:
        distance = OSA.distance(left, right, score_cutoff=budget)
        if distance <= budget:
            return distance, "typo"
        # A doubled or undoubled letter is the commonest slip of all, and two copies of a name often
        # carry one each besides another slip ("Wollrbur" / "Wollbrrur"): compare with runs collapsed.
        left_single, right_single = undoubled(left), undoubled(right)
        collapsed = OSA.distance(left_single, right_single, score_cutoff=budget)
        if collapsed <= budget and (left != left_single or right != right_single):
            return collapsed + 1, "typo"
    short, long_ = (left, right) if len(left) < len(right) else (right, left)
    # An abbreviation by truncation ("koninkl" for "koninklijke"); short stems are too ambiguous, but
    # for the words that names are known to carry cut short ("Dist" for "Distribution").
    cut_short = len(long_) >= len(short) + 2 and long_.startswith(short)
    if cut_short and (len(short) >= 5 or (len(short) >= 3 and long_ in tables().cut_short)):
        return 1, "abbreviation"
    return None


_MAX_SPLIT = 4  # words a run-together word may stand for ("hunterdouglasindustries")


def _pair_split_words(alignment: Alignment, left: list[str], right: list[str]) -> None:
    """Pair a word on one side with adjacent words on the other ("daycare" / "day care")."""
    for one, two, swap in ((alignment.left_only, right, False), (alignment.right_only, left, True)):
        other = alignment.left_only if swap else alignment.right_only
        for word in list(one):
            run = _split_run(word, two, other)
            if run:
                one.remove(word)
                for part in run:
                    other.remove(part)
                joined = " ".join(run)
                alignment.fuzzy.append((joined, word, "split") if swap else (word, joined, "split"))


def _split_run(word: str, words: list[str], unpaired: list[str]) -> list[str] | None:
    """Two to four adjacent unpaired ``words`` that, run together, spell ``word``."""
    for start in range(len(words) - 1):
        spelled = words[start]
        for stop in range(start + 1, min(start + _MAX_SPLIT, len(words))):
            spelled += words[stop]
            if not word.startswith(spelled):
                break
            run = words[start : stop + 1]
            if spelled == word and all(run.count(w) <= unpaired.count(w) for w in run):
                return run
    return None


def align(left: list[str], right: list[str], *, person: bool = False) -> Alignment:
    """Pair the words of two names: exactly, then as typos/abbreviations, then split words."""
    alignment = Alignment()
    left_set, right_set = set(left), set(right)
    if len(left_set) == len(left) and len(right_set) == len(right):
        # No word repeated on either side (nearly always): what the multiset arithmetic below gives,
        # in the same order, without building four Counters per pair of names.
        alignment.exact = [w for w in left if w in right_set]
        alignment.left_only = [w for w in left if w not in right_set]
        alignment.right_only = [w for w in right if w not in left_set]
    else:
        left_counts = Counter(left)
        right_counts = Counter(right)
        common = left_counts & right_counts
        alignment.exact = list(common.elements())
        # In the names' own order, so that the reasons read as the names do ("Hull House Association
        # West", not "Hull Hull House House ...").
        alignment.left_only = _unpaired(left, common)
        alignment.right_only = _unpaired(right, common)
    if alignment.left_only and alignment.right_only:
        _pair_split_words(alignment, left, right)
    if alignment.left_only and alignment.right_only:
        options = []
        for a in alignment.left_only:
            for b in alignment.right_only:
                found = _fuzzy_pair(a, b, person=person)
                if found is not None:
                    options.append((found[0], a, b, found[1]))
        options.sort()
        for _, a, b, how in options:
            if a in alignment.left_only and b in alignment.right_only:
                alignment.left_only.remove(a)
                alignment.right_only.remove(b)
                alignment.fuzzy.append((a, b, how))
    if not person and alignment.left_only and alignment.right_only:
        _pair_slips_in_context(alignment)
    return alignment


def _unpaired(words: list[str], paired: Counter[str]) -> list[str]:
    """The words left once each paired word is taken off as often as it was paired (first ones first)."""
    left_to_take = paired.copy()
    unpaired = []
    for word in words:
        if left_to_take[word] > 0:
            left_to_take[word] -= 1
        else:
            unpaired.append(word)
    return unpaired


def _pair_slips_in_context(alignment: Alignment) -> None:
    """One slip in a 5-6 letter word, accepted only when two other words of substance agree exactly.

    "Stamford Fithoull Wetu" / "Stamford Fithoull Wertu" is one company mistyped; "Acme Paints" /
    "Acme Prints" (one word in common) and "Rajesh Traders" / "Ramesh Traders" (a descriptor in common)
    stay two. The first letter must agree, as for every typo.
    """
    anchors = sum(1 for w in alignment.exact if len(w) >= 3 and word_weight(w) >= 1.0)
    if anchors < 2:
        return
    for a in list(alignment.left_only):
        for b in alignment.right_only:
            if (
                min(len(a), len(b)) >= 4
                and max(len(a), len(b)) >= 5
                and a[0] == b[0]
                and not a.isdigit()
                and not b.isdigit()
                and OSA.distance(a, b, score_cutoff=1) <= 1
            ):
                alignment.left_only.remove(a)
                alignment.right_only.remove(b)
                alignment.fuzzy.append((a, b, "typo"))
                break


def word_weight(word: str) -> float:
    """How much a word says about identity: connectors little, business descriptors some, others full."""
    table = tables()
    if word in table.connectors:
        return 0.1
    if word in table.generic:
        return 0.3
    return 1.0


def distinguishing(words: list[str]) -> list[str]:
    """The words that would make two names different companies (not connectors)."""
    connectors = tables().connectors
    return [w for w in words if w not in connectors]


@dataclass(frozen=True, slots=True)
class NameComparison:
    """Relation between two names, the words behind it, and the share of weight the names have in common."""

    relation: NameRelation
    alignment: Alignment
    shared_share: float  # matched weight / weight of the shorter name, in [0, 1]
    typos: int
    # Unpaired words that only stood after a legal form ("..., Rotterdam"): shown, barely counted.
    ignored_tail: tuple[str, ...] = ()


def compare_words(
    left: tuple[str, ...],
    right: tuple[str, ...],
    *,
    person: bool = False,
    left_tail: tuple[str, ...] = (),
    right_tail: tuple[str, ...] = (),
) -> NameComparison:
    """Relate two names given as folded words (core words, plus optional tails that count only weakly)."""
    if (not left and not left_tail) or (not right and not right_tail):
        return NameComparison(NameRelation.MISSING, Alignment(), 0.0, 0)
    left_all = [*left, *left_tail]
    right_all = [*right, *right_tail]
    if left_all == right_all:
        # The common case in bulk runs (the sync's own copies): nothing to pair word by word.
        return NameComparison(NameRelation.SAME, Alignment(exact=left_all), 1.0, 0)
    alignment = align(left_all, right_all, person=person)
    # Tail words left unpaired are set aside: a place appended after the legal form is not a new name
    # (nor is a place repeated there: "SCA Hygiene Zeist B.V., Zeist"); a number marks another branch.
    tail_words = Counter(left_tail) + Counter(right_tail)
    ignored: list[str] = []
    for side in (alignment.left_only, alignment.right_only):
        for word in list(side):
            if _set_aside(word, tail_words):
                side.remove(word)
                ignored.append(word)
    left_extra = distinguishing(alignment.left_only)
    right_extra = distinguishing(alignment.right_only)
    generic = tables().generic
    left_own = [w for w in left_extra if w not in generic]
    right_own = [w for w in right_extra if w not in generic]
    typos = len(alignment.fuzzy)
    matched_words = alignment.exact + [a for a, _, _ in alignment.fuzzy]
    matched = sum(word_weight(w) for w in matched_words)
    total_left = sum(word_weight(w) for w in left_all if w not in ignored) or 1.0
    total_right = sum(word_weight(w) for w in right_all if w not in ignored) or 1.0
    share = min(1.0, matched / min(total_left, total_right))
    if not left_extra and not right_extra:
        if typos:
            relation = NameRelation.TYPO
        elif _same_order(left, right):
            relation = NameRelation.SAME
        else:
            relation = NameRelation.REORDERED
    elif _numbered(left_own) or _numbered(right_own):
        # "Home of Life" / "Home of Life II", "Acme" / "Acme 2": a number marks another branch or entity.
        relation = NameRelation.OVERLAP if _has_substance(matched_words) else NameRelation.DIFFERENT
    elif not left_own or not right_own:
        # Extra words of its own on one side only (the other side may add a descriptor such as "Centre"):
        # one name contains the other. The shared part must still say something of its own.
        relation = NameRelation.SUBSET if _has_substance(matched_words) else NameRelation.DIFFERENT
    else:
        relation = NameRelation.OVERLAP if _has_substance(matched_words) else NameRelation.DIFFERENT
    return NameComparison(relation, alignment, share, typos, tuple(ignored))


# Two names' words as compared: (left core, right core, left tail, right tail).
ComparedWords = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def same_words_possible(
    left: tuple[str, ...],
    right: tuple[str, ...],
    left_tail: tuple[str, ...] = (),
    right_tail: tuple[str, ...] = (),
) -> bool:
    """False only when :func:`compare_words` cannot find the same name or the same words reordered.

    Both need every word left over once the words met on both sides are paired to be a connector or
    a word after a legal form (which is set aside unless it is a number): a typo, a split word or any
    other word makes the relation another. A cheap look, without pairing words by their letters.
    """
    left_all = (*left, *left_tail)
    right_all = (*right, *right_tail)
    if left_all == right_all:
        return True
    left_set, right_set = set(left_all), set(right_all)
    if len(left_set) == len(left_all) and len(right_set) == len(right_all):
        left_over: Iterable[str] = left_set ^ right_set  # no word repeated: what the counts below give
    else:
        counts = Counter(left_all)
        counts.subtract(right_all)
        left_over = [word for word, count in counts.items() if count]
    connectors = tables().connectors
    tails = (*left_tail, *right_tail)
    return all(word in connectors or _set_aside(word, tails) for word in left_over)


def _set_aside(word: str, tail_words: Container[str]) -> bool:
    """An unpaired word that stood after a legal form is a place, set aside; a number there is a branch."""
    return word in tail_words and not _numbered([word])


ROMAN_NUMERALS = frozenset({"ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"})


def number_words(words: Iterable[str]) -> list[str]:
    """The words that are numbers, in figures or Roman ("2", "II"): in a name, another branch or entity."""
    return [w for w in words if w.isdigit() or w in ROMAN_NUMERALS]


def _numbered(words: list[str]) -> bool:
    return bool(number_words(words))


def _same_order(left: tuple[str, ...], right: tuple[str, ...]) -> bool:
    connectors = tables().connectors
    return [w for w in left if w not in connectors] == [w for w in right if w not in connectors]


def _has_substance(words: list[str]) -> bool:
    """True if the shared words include one that is not a connector or a business descriptor."""
    return any(word_weight(w) >= 1.0 for w in words)


def company_words(name: CompanyName) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(core words, tail words) of a company name, as compared."""
    return name.core, name.tail
