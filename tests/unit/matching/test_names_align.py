"""align() pairs exact words as multiset arithmetic would, whether or not a word repeats."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_guard.matching.names import align, spelt

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
    assert alignment.left_only == list((left_counts - common).elements())
    assert alignment.right_only == list((right_counts - common).elements())
    assert alignment.fuzzy == []


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
