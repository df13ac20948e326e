"""Fixtures of the notification tests."""

from __future__ import annotations

import pytest
from notify_builders import eu_links

from sync_guard.notify import ZohoLinks


@pytest.fixture
def links() -> ZohoLinks:
    """Links for the EU data centre with both organisation ids configured."""
    return eu_links()
