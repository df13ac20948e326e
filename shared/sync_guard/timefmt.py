"""How people are shown a moment: in UTC, to the minute, with the zone named.

Finance notices, rule evidence (which the audit trail stores as written) and the stall reports all say
times this way, so a bookkeeper in any time zone reads the same words and never an ISO timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_minute(moment: datetime) -> str:
    """``2026-11-25 09:14 UTC``: one time zone for everyone reading it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
