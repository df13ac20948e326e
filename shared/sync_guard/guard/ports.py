"""The small interfaces the decision engine depends on, so tests hand it fakes and Lambda hands it DynamoDB.

- ``Matcher``: blocking keys, pairwise comparison and the exact normalised name (``sync_guard.matching``).
- ``ShadowRepository``: read a consistent snapshot around one event, commit one plan atomically.
- ``RecordFetcher``: fetch a full record by id (Notification API events carry ids only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sync_guard.errors import SyncGuardError
from sync_guard.guard.admin import ADMIN_ENTRY_PREFIX
from sync_guard.guard.model import AuditEntry, BreakerState, OutboxAction, RecordState
from sync_guard.models.records import PartyRecord, System


class EventAlreadyProcessed(SyncGuardError):
    """The event's (or admin operation's) audit entry already exists: this delivery has no further effect."""

    code = "already_processed"


DUPLICATE = "duplicate"
POSSIBLE = "possible"
DISTINCT = "distinct"


@dataclass(frozen=True)
class MatchView:
    """The matcher's verdict on one pair, in the engine's terms (verdict is one of the strings above)."""

    score: float
    verdict: str
    evidence: tuple[str, ...] = ()

    @property
    def is_duplicate(self) -> bool:
        return self.verdict == DUPLICATE


class Matcher(Protocol):
    def blocking_keys(self, record: PartyRecord) -> frozenset[str]:
        """A handful of short keys; records sharing one are candidates for each other."""
        ...

    def compare(self, a: PartyRecord, b: PartyRecord) -> MatchView:
        """Score a pair with readable evidence."""
        ...

    def name_key(self, record: PartyRecord) -> str:
        """The exact normalised name ("Acme Limited" and "ACME Ltd." give the same key)."""
        ...

    def email_keys(self, addresses: Iterable[str]) -> frozenset[str]:
        """The keys under which records carrying these addresses are indexed (to find them by address)."""
        ...


class RecordFetcher(Protocol):
    """Fetches a CRM or Books record by id; None when it does not exist (any more)."""

    def fetch(self, system: System, module: str, record_id: str) -> PartyRecord | None: ...


@dataclass(frozen=True)
class SnapshotRequest:
    """What the engine needs read around one event."""

    event_id: str
    entry_id: str
    ref: str
    #: Keys the record will be indexed under; their items are read (with their revisions) and written.
    keys: frozenset[str] = frozenset()
    #: Keys read only to find records (``link:crm:<id>``: the Books customers linking to a CRM record).
    lookup_keys: frozenset[str] = frozenset()
    #: Further records to read whatever the keys say (the CRM record a Books customer links to).
    extra_refs: frozenset[str] = frozenset()
    #: Candidates read per event at most, whatever the size of the mapping (constant work).
    max_candidates: int = 50
    #: Keys (among ``keys`` and ``lookup_keys``) whose every live member is read, past ``max_candidates``:
    #: the names of a newly linked Books business customer's contact persons, where its account's CRM
    #: contacts are found among all the namesakes a common name has (``Guard._with_linked_persons``).
    whole_keys: frozenset[str] = frozenset()
    storm_bucket: int = 0
    #: Records whose ``HOLD`` item to read besides the event's own: those an earlier attempt at this event
    #: held, its commit cancelled (a hold the guard may not replace may be why, ``HeldRecord``).
    hold_refs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class KeyItem:
    """One key index item: who is indexed under a key, who owns it (first writer), its revision."""

    key: str
    members: frozenset[str] = frozenset()
    owner: str | None = None
    #: None when the item does not exist yet (a write must then create it, conditionally).
    rev: int | None = None
    #: The members known to be deleted records (tombstones), so that a capped read can prefer live ones
    #: without reading their states. An item written before this was kept lists none: all count as live.
    gone: frozenset[str] = frozenset()


@dataclass(frozen=True)
class HeldRecord:
    """A record's ``HOLD`` item, as far as a decision needs it: which entry holds the record, and how."""

    entry_id: str
    #: Held in enforce mode: the hold was (meant to be) written to Zoho.
    applied: bool = False
    #: An admin confirmed the record a duplicate (it stays held, its survivor recorded).
    confirmed: bool = False
    #: The guard's observe-mode hold, written to Zoho since by an admin (``quarantines apply``).
    applied_by_admin: bool = False

    @property
    def written_by_admin(self) -> bool:
        """Whether an admin wrote this hold to Zoho on purpose: held by hand (or by ``preflight``) in
        ``enforce`` mode, or applied since. Its tag is there whatever mode the guard decides in."""
        return self.applied and (self.applied_by_admin or self.entry_id.startswith(ADMIN_ENTRY_PREFIX))

    @property
    def replaceable(self) -> bool:
        """Whether a hold the guard decides may take this one's place: only one that never reached Zoho and
        that nobody confirmed (an observe-mode hold, the guard's or an admin's), as ``AdminService.hold``
        replaces one. Any other hold stays, and the record counts as held by ``entry_id``."""
        return not (self.applied or self.confirmed)


@dataclass(frozen=True)
class Snapshot:
    """A consistent-enough read: every write of the plan is conditional on the revisions seen here."""

    already_processed: bool
    own: RecordState | None
    keys: dict[str, KeyItem]
    others: dict[str, RecordState]
    breaker: BreakerState
    #: The ``HOLD`` items read (the event's record's, and those of ``SnapshotRequest.hold_refs``), by ref.
    holds: dict[str, HeldRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class StateWrite:
    """Replace one record state; ``expected_rev`` None means the item must not exist yet."""

    state: RecordState
    expected_rev: int | None


@dataclass(frozen=True)
class KeyChange:
    key: str
    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()
    #: The revision read, or None if absent; ``checked`` False for removals from keys that were not read.
    expected_rev: int | None = None
    checked: bool = True
    #: With ``add``: True, the records added are deleted ones (listed in the item's ``gone`` too, a delete
    #: marking its record there); False, they are live again (taken off ``gone``); None, as they are.
    gone: bool | None = None


@dataclass(frozen=True)
class BreakerChange:
    epoch: int
    bucket: int
    count_hit: bool = False
    trip: bool = False
    require_open: bool = False
    event_id: str | None = None
    #: With ``count_hit``, the window hits the decision was made on (``BreakerState.window_hits``): the hit
    #: is counted only if both windows still hold them and the breaker is still closed, so that two creates
    #: counted at once cannot both decide "below the threshold".
    hits_read: tuple[int, int] | None = None


@dataclass(frozen=True)
class CommitPlan:
    """Everything one event changes, written in one transaction (or not at all)."""

    entry: AuditEntry
    state_writes: tuple[StateWrite, ...] = ()
    key_changes: tuple[KeyChange, ...] = ()
    actions: tuple[OutboxAction, ...] = ()
    breaker: BreakerChange | None = None
    holds: tuple[str, ...] = ()
    #: Records the decision took for held by nobody without holding them (Books customers spared for their
    #: transactions): their ``HOLD`` item must still be one the guard may replace, as for a hold's put. One
    #: read for no other record's (an admin's hold its state does not name) cancels the commit, and the
    #: engine decides again with it read.
    hold_checks: tuple[str, ...] = ()
    #: Keys read but not written whose revision the decision depends on: ``(key, rev read or None)``.
    key_checks: tuple[tuple[str, int | None], ...] = ()
    #: Record states read but not written whose revision the decision depends on: ``(ref, rev read or None)``
    #: (the records its findings cite, its partner, a Books customer's link target: ``decision_basis``).
    state_checks: tuple[tuple[str, int | None], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class ShadowRepository(Protocol):
    def recorded(self, entry_id: str) -> bool:
        """Whether the audit entry ``entry_id`` (an event's marker) exists: one strongly consistent read."""
        ...

    def read_snapshot(self, request: SnapshotRequest) -> Snapshot:
        """Read the event's marker, the record, its key items, candidates, partner and breaker."""
        ...

    def commit(self, plan: CommitPlan) -> None:
        """Write the plan atomically. Raises ``EventAlreadyProcessed`` or ``ConcurrentUpdate``."""
        ...
