"""Fault injection and request accounting for the Zoho simulator.

:class:`FaultInjector` decides, per request and deterministically from a seed, whether to answer with a
429 (with ``Retry-After``), a 500, or a delay longer than the client's timeout. The decision is drawn in
arrival order, so a single-threaded client sees the same faults on every run with the same seed. Faults
can also be scripted exactly (``script([...])``) for tests that need "the next call fails, then succeeds".

:class:`RequestLog` counts every request served, per route and status, so tests can assert that nothing
ran twice (see also ``SimulatorState.changes`` for changes actually applied).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum


class FaultKind(StrEnum):
    RATE_LIMIT = "rate_limit"  # 429 + Retry-After
    SERVER_ERROR = "server_error"  # 500 in the API's envelope
    TIMEOUT = "timeout"  # wait ``delay`` seconds, longer than the client's timeout
    # Zoho's documented shapes aside (never drawn at random: script them, or give them a weight):
    # Books' "too many requests" code 45 in an HTTP 400 body (elsewhere: as RATE_LIMIT)
    RATE_LIMIT_IN_BODY = "rate_limit_in_body"
    # CRM writes: HTTP 207 whose record says INTERNAL_ERROR (elsewhere: as SERVER_ERROR)
    RECORD_INTERNAL_ERROR = "record_internal_error"


#: The kinds drawn at random by default (HTTP 429, 500, a hold past the client's timeout); the others are
#: scripted, or given a weight, by tests about them.
DEFAULT_KINDS = (FaultKind.RATE_LIMIT, FaultKind.SERVER_ERROR, FaultKind.TIMEOUT)


@dataclass(frozen=True)
class FaultConfig:
    """What to inject. ``rate`` is the fraction of eligible requests that fail (0 disables injection)."""

    rate: float = 0.0
    weights: Mapping[FaultKind, float] = field(default_factory=lambda: dict.fromkeys(DEFAULT_KINDS, 1.0))
    retry_after: float = 1.0  # seconds, sent in Retry-After
    delay: float = 2.0  # seconds a TIMEOUT fault holds the request
    # After a TIMEOUT delay, apply the request anyway (Zoho did it, the client gave up) or drop it.
    timeout_applies_effect: bool = False
    seed: int = 0
    # Faults on the OAuth token endpoint too (off by default: most tests are about the APIs).
    include_token_endpoint: bool = False
    # Only routes whose name matches this regex are eligible (e.g. r"^books\.").
    route_pattern: str = ""


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    retry_after: float
    delay: float
    applies_effect: bool


class FaultInjector:
    """Thread-safe, seeded fault decisions; reconfigurable while the simulator runs."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or FaultConfig()
        self._rng = random.Random(self._config.seed)  # noqa: S311 - simulation, not security
        self._script: deque[FaultKind | None] = deque()
        self.injected: Counter[FaultKind] = Counter()

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig | None = None, **changes: object) -> FaultConfig:
        """Replace the config (or change some fields); reseeds the generator so runs stay reproducible."""
        with self._lock:
            base = config or self._config
            self._config = replace(base, **changes) if changes else base  # type: ignore[arg-type]
            self._rng = random.Random(self._config.seed)  # noqa: S311
            return self._config

    def disable(self) -> None:
        """No more random faults (a script already queued still plays)."""
        self.configure(rate=0.0)

    def script(self, kinds: Iterable[FaultKind | None]) -> None:
        """The next eligible requests get exactly these faults (None: no fault), before any random ones."""
        with self._lock:
            self._script.extend(kinds)

    def decide(self, route: str) -> Fault | None:
        """The fault for one request on ``route``, or None."""
        with self._lock:
            cfg = self._config
            if route.startswith("sim.") or (route.startswith("oauth.") and not cfg.include_token_endpoint):
                return None
            if cfg.route_pattern and not re.search(cfg.route_pattern, route):
                return None
            if self._script:
                kind = self._script.popleft()
            elif cfg.rate > 0 and self._rng.random() < cfg.rate:
                kinds = [k for k, w in cfg.weights.items() if w > 0]
                kind = self._rng.choices(kinds, weights=[cfg.weights[k] for k in kinds])[0]
            else:
                kind = None
            if kind is None:
                return None
            self.injected[kind] += 1
            return Fault(kind, cfg.retry_after, cfg.delay, cfg.timeout_applies_effect)


@dataclass(frozen=True)
class RequestRecord:
    seq: int
    method: str
    route: str  # e.g. "crm.get_record", "books.mark_inactive", "oauth.token"
    path: str  # without the query string (it can carry names and emails)
    status: int  # HTTP status sent; 0 when a TIMEOUT fault dropped the request without answering
    fault: FaultKind | None
    record_id: str | None


class RequestLog:
    """Every request the simulator served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(
        self, method: str, route: str, path: str, status: int, fault: FaultKind | None, record_id: str | None
    ) -> None:
        with self._lock:
            self._records.append(
                RequestRecord(len(self._records) + 1, method, route, path, status, fault, record_id)
            )

    @property
    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def count(
        self,
        route: str | None = None,
        *,
        status: int | None = None,
        record_id: str | None = None,
        faulted: bool | None = None,
    ) -> int:
        """How many requests matched every given filter."""
        return sum(
            1
            for r in self.records
            if (route is None or r.route == route)
            and (status is None or r.status == status)
            and (record_id is None or r.record_id == record_id)
            and (faulted is None or (r.fault is not None) == faulted)
        )

    def by_route_and_status(self) -> Counter[tuple[str, int]]:
        """``{(route, status): n}`` over everything served."""
        return Counter((r.route, r.status) for r in self.records)

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
