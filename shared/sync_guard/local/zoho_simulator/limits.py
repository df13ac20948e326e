"""Zoho's own request limits, optional in the simulator: requests per minute per API, CRM API credits.

Books allows 100 requests per minute per organisation and answers 429 beyond it; CRM counts API credits
over a rolling day and reports what is left in ``X-API-CREDITS-REMAINING``. Both are off unless configured,
because most tests make bursts of calls that a real organisation would spread out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

BOOKS_REQUESTS_PER_MINUTE = 100


class ApiLimiter:
    """Sliding one-minute windows per API name, and a CRM credit counter."""

    def __init__(
        self,
        per_minute: Mapping[str, int] | None = None,
        crm_credits: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_minute = dict(per_minute or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self.crm_credits_remaining = crm_credits

    def configure(self, per_minute: Mapping[str, int] | None = None, crm_credits: int | None = None) -> None:
        """Change the limits while running (None leaves a setting as it is)."""
        with self._lock:
            if per_minute is not None:
                self._per_minute = dict(per_minute)
                self._windows.clear()
            if crm_credits is not None:
                self.crm_credits_remaining = crm_credits

    def admit(self, api: str) -> float | None:
        """Count one request to ``api``; None if allowed, else the seconds until it would be."""
        with self._lock:
            limit = self._per_minute.get(api)
            if limit is None:
                return None
            now = self._clock()
            window = self._windows.setdefault(api, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= limit:
                return max(1.0, window[0] + 60.0 - now)
            window.append(now)
            return None

    def spend_crm_credit(self) -> int | None:
        """One CRM credit used; the credits left (None when not counted)."""
        with self._lock:
            if self.crm_credits_remaining is None:
                return None
            self.crm_credits_remaining = max(0, self.crm_credits_remaining - 1)
            return self.crm_credits_remaining
