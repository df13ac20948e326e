"""The guard's vocabulary: what the shadow knows of a record, findings, decisions, actions, audit entries.

These are domain models. The DynamoDB item shapes live in ``sync_guard.store`` and are converted explicitly
(``store.shadow``, ``store.audit``, ``store.outbox``), so a change of storage layout never leaks into rules.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sync_guard.config import Mode
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.redact import MaskedLines


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Decision(StrEnum):
    """What the guard concluded. ``pending`` and ``admin`` only label audit entries that are not decisions."""

    ALLOW = "allow"
    FLAG = "flag"
    QUARANTINE = "quarantine"
    PENDING = "pending"
    ADMIN = "admin"

    @property
    def weight(self) -> int:
        """Strictness order used to combine findings: the strictest outcome wins."""
        return {Decision.ALLOW: 0, Decision.FLAG: 1, Decision.QUARANTINE: 2}.get(self, 0)


class EntryKind(StrEnum):
    """Why an audit entry exists."""

    DECISION = "decision"  # the rules ran on an event
    SELF_ECHO = "self_echo"  # the event is the guard's own write to Zoho coming back; allowed, not re-decided
    STALE = "stale"  # older than what the shadow already holds (out-of-order delivery); no state change
    AWAITING_ENRICHMENT = "awaiting_enrichment"  # ids only (Notification API) and no fetcher configured
    UNKNOWN_RECORD = "unknown_record"  # delete of a record the shadow never saw
    NOT_GUARDED = "not_guarded"  # a record outside the guard's scope (a Books vendor); allowed, not kept
    # Not decided now: a Books event while ZohoBooksOrganizationId is not the shadow's organisation; the
    # event waits in the processing dead-letter queue (decision ``pending``)
    NOT_DECIDED = "not_decided"
    ADMIN = "admin"  # an admin operation (breaker reset, manual link, ...), with its actor
    ACTION = "action"  # the executor's outcome of one outbox action (done, failed, dead-lettered...)


class PairSource(StrEnum):
    """Where a CRM <-> Books pair in the shadow came from."""

    ZOHO_LINK = "zoho_link"  # Books' own zcrm_account_id / zcrm_contact_id
    INFERRED = "inferred"  # the matcher, at seeding time
    ADMIN = "admin"  # confirmed or made by hand

    @property
    def how(self) -> str:
        """How the guard's mapping came to pair the two records, in words ("through Zoho's link")."""
        return _PAIRED_HOW[self]


_PAIRED_HOW = {
    PairSource.ZOHO_LINK: "through Zoho's link",
    PairSource.INFERRED: "by the guard's own matching when it was set up",
    PairSource.ADMIN: "by an admin",
}


class ActionKind(StrEnum):
    TAG_CRM_RECORD = "tag_crm_record"
    MARK_BOOKS_INACTIVE = "mark_books_inactive"
    NOTIFY_FINANCE = "notify_finance"
    # Releases (admin operation): the inverse of the two holds.
    UNTAG_CRM_RECORD = "untag_crm_record"
    MARK_BOOKS_ACTIVE = "mark_books_active"
    # A held CRM record was deleted (a merge deletes the record merged away): remove the hold tag a merge
    # may have passed on to a record that could have been its master, where no hold of the guard's lists it.
    CLEAR_CARRIED_HOLD_TAG = "clear_carried_hold_tag"
    # The same, on the CRM records changed when the held record was deleted (a merge changes the record kept
    # at that moment): a merge into a record the held one did not match passes the tag on too.
    SWEEP_CARRIED_HOLD_TAG = "sweep_carried_hold_tag"

    @property
    def writes_to_zoho(self) -> bool:
        return self is not ActionKind.NOTIFY_FINANCE


class RecordState(BaseModel):
    """The shadow's last known state of one record, with its pair and bookkeeping."""

    model_config = ConfigDict(frozen=True)

    record: PartyRecord
    #: Zoho's modified time in epoch milliseconds (received time when Zoho sent none): the regress guard.
    version: int
    deleted: bool = False
    deleted_at: datetime | None = None
    partner: str | None = None
    pair_source: PairSource | None = None
    #: The partner this record had before a delete or merge broke the pair.
    former_partner: str | None = None
    keys: frozenset[str] = frozenset()
    #: Optimistic concurrency: every write increments it and is conditional on the value read.
    rev: int = 0
    first_seen: datetime | None = None
    #: Changes the guard's own queued actions will cause in Zoho: ``{action_id: {"field": value}}``.
    echo_expected: dict[str, dict[str, Any]] = Field(default_factory=dict)
    held_by: str | None = None
    #: The version (Zoho's modified time, epoch ms) at which the values the sync carries last changed, as
    #: far as the guard saw; None when it has not seen them change (seeded, or from before it kept this).
    synced_change: int | None = None
    #: Records an admin judged not to be duplicates of this one: they released its hold, raised against
    #: them. The guard does not hold it, its partner, or them for one another again.
    cleared: frozenset[str] = frozenset()

    @field_validator("record")
    @classmethod
    def _times_in_utc(cls, record: PartyRecord) -> PartyRecord:
        """A record's times as UTC where they carry no offset: an export writes the organisation's clock
        without one (``epoch_ms`` reads its version so), while webhooks and Zoho's API carry one, and the
        rules compare the two."""
        naive = {
            name: moment.replace(tzinfo=UTC)
            for name in ("created_at", "modified_at")
            if (moment := getattr(record, name)) is not None and moment.tzinfo is None
        }
        return record.model_copy(update=naive) if naive else record

    @property
    def ref(self) -> str:
        return self.record.ref

    @property
    def live(self) -> bool:
        return not self.deleted

    @property
    def retired(self) -> bool:
        """A Books customer edited into a vendor (``engine._plan_retire``): kept as the vendor, out of
        matching, and taken for deleted (not ``live``), though Zoho still holds it. Only a retirement leaves
        a vendor's state deleted: a vendor the guard never held as a customer has none."""
        return self.deleted and self.record.module is Module.BOOKS_VENDORS

    @property
    def retired_at(self) -> datetime | None:
        """When a retired record became a vendor: Zoho's time of that edit (None for any other state)."""
        if not self.retired:
            return None
        return self.record.modified_at or datetime.fromtimestamp(self.version / 1000, UTC)

    @property
    def system(self) -> System:
        return self.record.system


class BreakerState(BaseModel):
    """The multiplication-storm circuit breaker, as read from the shadow table."""

    model_config = ConfigDict(frozen=True)

    open: bool = False
    epoch: int = 0
    opened_at: datetime | None = None
    opened_by_event: str | None = None
    #: Creates matching existing records counted in the current window and in the previous one. A counted
    #: create commits only while both still hold what was read (see ``BreakerChange.hits_read``).
    window_hits: tuple[int, int] = (0, 0)
    exists: bool = False

    @property
    def recent_hits(self) -> int:
        """Creates matching existing records counted in the current and the previous window."""
        return sum(self.window_hits)


class Finding(BaseModel):
    """One rule's verdict on one event: a stable code, how bad it is, why, and what it saw."""

    model_config = ConfigDict(frozen=True)

    code: str
    severity: Severity
    explanation: str
    #: What the rule saw, customers' addresses masked (``redact.MaskedLines``).
    evidence: MaskedLines = ()
    #: The record an action would hold back (tag in CRM, mark inactive in Books).
    subject: str
    related: tuple[str, ...] = ()


class OutboxAction(BaseModel):
    """One action for the executor, written with the audit entry; its id is derived, so it is queued once."""

    model_config = ConfigDict(frozen=True)

    action_id: str
    kind: ActionKind
    target: str
    event_id: str | None
    entry_id: str
    rules: tuple[str, ...]
    decision: Decision
    mode: Mode
    #: False in observe mode for actions that would write to Zoho: recorded, never executed.
    execute: bool
    params: dict[str, Any] = Field(default_factory=dict)
    #: What the target looks like once the action ran, so its webhook echo is recognised (loop prevention).
    expected_state: dict[str, Any] = Field(default_factory=dict)
    queued_at: datetime


class AuditEntry(BaseModel):
    """One append-only audit record: a decision on an event, or an admin operation."""

    model_config = ConfigDict(frozen=True)

    entry_id: str
    at: datetime
    kind: EntryKind
    decision: Decision
    mode: Mode
    actor: str = "guard"
    event_id: str | None = None
    operation: str | None = None
    #: Every record involved, the event's own first (``crm:ID`` / ``books:ID``).
    records: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    #: The findings' evidence, or an admin's (a preflight hold's, the matcher's lines), addresses masked.
    evidence: MaskedLines = ()
    actions: tuple[OutboxAction, ...] = ()
    note: str = ""
    #: Names of the records involved, as the guard last saw them: what an admin reads first.
    names: dict[str, str] = Field(default_factory=dict)


def action_id_for(event_id: str, kind: ActionKind, target: str) -> str:
    """Deterministic action id: the same event can never queue the same action twice."""
    digest = hashlib.sha256(f"{event_id}|{kind.value}|{target}".encode()).hexdigest()[:32]
    return f"act_{digest}"


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def utc_now() -> datetime:
    return datetime.now(UTC)
