"""What a finance notification is made from, and what it becomes.

``FinanceNotice`` is the renderer's own input model: the outbox action that asks for a notification carries
one, so this package does not depend on the rules engine's internal types. ``RenderedMessage`` is the finished
subject, body and SNS attributes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sync_guard.config import Mode
from sync_guard.models.records import Module, System
from sync_guard.redact import MaskedLines


class Severity(StrEnum):
    """How urgently finance should look. Ordered: info < warning < critical."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """A number that orders severities, so the highest one of a digest can be picked."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Decision(StrEnum):
    """What the guard decided about the event (mirrors the rules engine's outcomes)."""

    ALLOW = "allow"
    FLAG = "flag"
    QUARANTINE = "quarantine"


class Role:
    """Usual roles of a record in a notice. Free text is allowed; these keep the wording consistent."""

    NEW_COPY = "new copy"
    EXISTING = "existing customer"
    PARTNER = "linked partner"
    ORPHAN = "orphaned copy"
    DELETED = "deleted record"
    # The event's record when the rule does not mean it is new (it may be a long-standing customer).
    NEWLY_PAIRED = "newly paired customer"
    FORMER_PARTNER = "former partner"
    REPAIRED_CRM = "re-paired CRM record"
    NEWLY_LINKED = "newly linked record"
    CREATED_IN_BOOKS = "created in Books"
    NEW_OR_RENAMED = "new or renamed record"
    NEW_OR_EDITED = "new or edited record"
    # EMAIL_MISMATCH on an edit of a person the sync already pairs: the side that changed.
    EMAIL_CHANGED = "record whose email was just changed"
    # EMAIL_MISMATCH between a CRM contact and a contact person of a Books business customer.
    ACCOUNT_CUSTOMER = "Books customer of the contact's account"
    CONTACT_OF_PERSON = "CRM contact synced with its contact person"
    SURVIVING_PARTNER = "surviving partner"
    PAIRED_WITH = "CRM record the guard paired it with"
    LINK_POINTS_AT = "CRM record its link points at"
    # SAME_SIDE_DUPLICATE: the Books customer the existing CRM record (the one duplicated) is synced to.
    SYNCED_TO_EXISTING = "Books customer of the existing CRM record"


class NoticeRecord(BaseModel):
    """One record involved in a notice, with what a bookkeeper needs to judge it."""

    model_config = ConfigDict(frozen=True)

    system: System
    record_id: str = Field(min_length=1)
    display_name: str = ""
    # CRM: Accounts or Contacts (decides the link); Books: Customers. None means the system's default.
    module: Module | None = None
    role: str = ""
    email: str | None = None
    # None means "not known": the renderer says so instead of guessing.
    has_transactions: bool | None = None
    outstanding: Decimal | None = None
    currency: str | None = None
    # Active/inactive in its own system (Books: status), when known.
    active: bool | None = None
    # The guard holds (enforce) or would hold (observe) this record back from the sync.
    held: bool = False
    # The guard tried to hold it and Zoho refused (or kept failing): it is not held; someone must act.
    hold_failed: bool = False
    # The failed hold gave up after every retry (Zoho down, out of credits) and waits in the outbox
    # dead-letter queue, so replaying it retries it. False for a refusal, which no retry will change.
    hold_retryable: bool = False
    # Already deleted in its own system (partner deleted, recreated after delete): known from the shadow.
    deleted: bool = False

    @property
    def ref(self) -> str:
        """``crm:<id>`` or ``books:<id>``, as the audit trail names records."""
        return f"{self.system.value}:{self.record_id}"

    @property
    def effective_module(self) -> Module:
        """The module used for links and wording when none was given."""
        if self.module is not None:
            return self.module
        return Module.CRM_ACCOUNTS if self.system is System.CRM else Module.BOOKS_CUSTOMERS


class FinanceNotice(BaseModel):
    """One decision worth telling finance about, as the outbox action carries it."""

    model_config = ConfigDict(frozen=True)

    rule: str = Field(min_length=1, max_length=64)
    severity: Severity
    decision: Decision
    mode: Mode
    records: tuple[NoticeRecord, ...] = ()
    #: The findings' evidence, customers' addresses masked as in the audit trail (the records' own emails
    #: are shown in full: finance needs them).
    evidence: MaskedLines = ()
    event_id: str = ""
    audit_ref: str = ""
    occurred_at: datetime

    @field_validator("severity", "decision", "mode", mode="before")
    @classmethod
    def _lower_case_words(cls, value: object) -> object:
        # The rules engine may spell outcomes in capitals ("QUARANTINE"); the meaning is the same.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("rule")
    @classmethod
    def _normalise_rule(cls, value: str) -> str:
        # Rule codes are compared and used as SNS attribute values: one spelling only.
        return value.strip().upper()

    @field_validator("occurred_at")
    @classmethod
    def _require_timezone(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a timezone")
        return value

    @property
    def dedup_key(self) -> str:
        """Same rule and same records give the same key, so a retried batch does not notify twice."""
        return dedup_key(self)

    @property
    def held_records(self) -> tuple[NoticeRecord, ...]:
        """The records the guard holds (or would hold) back from the sync."""
        return tuple(record for record in self.records if record.held)

    @property
    def failed_holds(self) -> tuple[NoticeRecord, ...]:
        """The records the guard tried to hold and could not: nothing keeps them from the sync."""
        return tuple(record for record in self.records if record.hold_failed)


def dedup_key(notice: FinanceNotice) -> str:
    """The de-duplication key of a notice: a hash of its rule, the set of its record refs, and the
    records the guard really holds back (enforce mode).

    Evidence, time and the wording of the decision are left out on purpose: a retry of the same batch, or
    the same pair seen again by a redelivered webhook, is the same news for finance. A real hold is news
    of its own, though: after a switch from observe to enforce, or a flag that became a quarantine, finance
    hears that the guard now holds a record, even though the pair was reported before. The caller stores
    the keys it has sent.
    """
    refs = sorted({record.ref for record in notice.records})
    held = sorted(r.ref for r in notice.held_records) if notice.mode is Mode.ENFORCE else []
    parts: list[object] = [notice.rule, refs, held] if held else [notice.rule, refs]
    canonical = json.dumps(parts, separators=(",", ":"))
    return "ntf_" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


class MessageKind(StrEnum):
    """One notice per message, or a digest of several."""

    NOTICE = "notice"
    DIGEST = "digest"


class RenderedMessage(BaseModel):
    """A finished notification: what goes to SNS (subject, body, attributes) and the keys it covers."""

    model_config = ConfigDict(frozen=True)

    kind: MessageKind
    subject: str = Field(max_length=99)
    body: str
    severity: Severity
    # The ``rule`` attribute: a rule code, or ``MULTIPLE`` for a digest of several rules.
    rule: str
    # Every rule code the message covers (a digest may cover several), sorted.
    rules: tuple[str, ...]
    # The de-duplication keys of the notices the message covers, in the order they appear.
    dedup_keys: tuple[str, ...]

    @property
    def notice_count(self) -> int:
        """How many notices the message covers."""
        return len(self.dedup_keys)

    @property
    def key(self) -> str:
        """A key for the message itself (e.g. a log line or a FIFO deduplication id)."""
        digest = hashlib.sha256("|".join(sorted(self.dedup_keys)).encode()).hexdigest()[:32]
        return f"msg_{digest}"

    def message_attributes(self) -> dict[str, dict[str, Any]]:
        """SNS message attributes; subscription filter policies match on ``severity`` and ``rule``."""
        return {
            "severity": {"DataType": "String", "StringValue": self.severity.value},
            "rule": {"DataType": "String", "StringValue": self.rule},
            "kind": {"DataType": "String", "StringValue": self.kind.value},
            # Every rule of a digest, for policies that want a rule even when it arrives inside a digest.
            "rules": {"DataType": "String.Array", "StringValue": json.dumps(list(self.rules))},
        }

    def as_text(self) -> str:
        """Subject, attributes and body as one readable block (file notifier, checked-in examples)."""
        lines = [f"Subject: {self.subject}"]
        for name, attribute in self.message_attributes().items():
            lines.append(f"Attribute {name} ({attribute['DataType']}): {attribute['StringValue']}")
        return "\n".join(lines) + "\n\n" + self.body
