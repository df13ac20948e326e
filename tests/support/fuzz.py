"""Hypothesis settings the property-based (fuzz) tests share."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

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
