"""align() pairs exact words as multiset arithmetic would, whether or not a word repeats."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_guard.matching.names import NameRelation, align, compare_words, same_words_possible, spelt

# Single letters and digits never pair as typos, so only the exact pairing decides the outcome.
_WORDS = st.lists(st.sampled_from(["a", "b", "c", "d", "1", "2"]), max_size=6)


@given(_WORDS, _WORDS)
def test_exact_pairing_is_the_multiset_intersection_in_first_seen_order(
    left: list[str], right: list[str]
) -> None:
    left_counts, right_counts = Counter(left), Counter(right)
    common = left_counts & right_counts
    alignment = align(left, right)
    assert alignment.exact == list(common.elements())
    # The words left over are the multiset difference, in the order the name has them.
    assert Counter(alignment.left_only) == left_counts - common
    assert Counter(alignment.right_only) == right_counts - common
    assert _in_order(alignment.left_only, left)
    assert _in_order(alignment.right_only, right)
    assert alignment.fuzzy == []


def _in_order(part: list[str], whole: list[str]) -> bool:
    rest = iter(whole)
    return all(word in rest for word in part)


def test_words_left_over_read_in_the_names_order() -> None:
    # "Hull House Association - Uptown West / Hull House": the reasons show the name as written.
    alignment = align(
        ["hull", "house", "association", "uptown", "west", "hull", "house"], ["uptown", "family"]
    )
    assert alignment.left_only == ["hull", "house", "association", "west", "hull", "house"]


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ("philips", "filips", True),  # a digraph read as one letter
        ("frederick", "frederik", True),
        ("ehlektroniks", "electronics", True),  # a vowel's silent "h", then "k" read as "c"
        ("novel", "nobel", True),
        ("organisation", "organization", True),
        ("gordon", "garden", False),  # vowels are kept
        ("paints", "prints", False),
    ],
)
def test_spelt_reads_one_sound_one_way(left: str, right: str, same: bool) -> None:
    assert (spelt(left) == spelt(right)) is same


# Words that pair exactly, as typos ("brightwater"/"brihgtwater"), as a split ("day care"/"daycare"), or
# not at all; connectors, numbers and a roman numeral, which the relation treats apart.
_NAME_WORDS = st.sampled_from(
    ["acme", "brightwater", "brihgtwater", "day", "care", "daycare", "of", "the", "and", "2", "ii", "lumen"]
)
_NAME = st.lists(_NAME_WORDS, max_size=4).map(tuple)
_TAIL = st.lists(_NAME_WORDS, max_size=2).map(tuple)


@given(_NAME, _NAME, _TAIL, _TAIL)
def test_the_cheap_look_never_rules_out_a_same_or_reordered_name(
    left: tuple[str, ...], right: tuple[str, ...], left_tail: tuple[str, ...], right_tail: tuple[str, ...]
) -> None:
    relation = compare_words(left, right, left_tail=left_tail, right_tail=right_tail).relation
    if relation in (NameRelation.SAME, NameRelation.REORDERED):
        assert same_words_possible(left, right, left_tail, right_tail)


@pytest.mark.parametrize(
    ("left", "right", "left_tail", "right_tail", "possible"),
    [
        (("acme", "widgets"), ("widgets", "acme"), (), (), True),  # reordered
        (("bank", "of", "the", "west"), ("bank", "west"), (), (), True),  # connectors only
        (("unilever",), ("unilever",), ("rotterdam",), (), True),  # a place after the form, set aside
        (("home", "of", "life"), ("home", "of", "life"), ("2",), (), False),  # a number is another branch
        (("shouldeang",), ("shougaing",), (), (), False),  # another word: a typo at best
        (("day", "care"), ("daycare",), (), (), False),  # a split word is a typo, not the same words
        (("acme", "acme"), ("acme",), (), (), False),  # a word repeated is a word more
    ],
)
def test_the_cheap_look_at_two_names(
    left: tuple[str, ...],
    right: tuple[str, ...],
    left_tail: tuple[str, ...],
    right_tail: tuple[str, ...],
    possible: bool,
) -> None:
    assert same_words_possible(left, right, left_tail, right_tail) is possible
