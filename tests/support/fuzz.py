"""Hypothesis settings the property-based (fuzz) tests share."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Each suite sets its own max_examples on top of these.
SHARED_FUZZ_SETTINGS = settings(
    deadline=None,
    derandomize=True,  # the same inputs every run: a failure here is a regression, not bad luck
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def json_leaves(words: Sequence[str], *, text_size: int) -> st.SearchStrategy[object]:
    """A JSON document's scalars: null, booleans, integers past 64 bits, floats, text, and ``words``."""
    return (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False)
        | st.text(max_size=text_size)
        | st.sampled_from(list(words))
    )
