"""Turn a ``notify_finance`` outbox action into the notices finance reads (``sync_guard.notify``).

The action names the decision (its audit entry) and the rules; the entry has the findings (which record
each rule is about, which others are involved) and the shadow has what is known of each record (name,
transactions, active, deleted). One notice per decision: a bookkeeper gets one message about one event,
headed by its most severe finding (whose wording, next step and de-duplication key it takes), listing every
record involved and what the other rules recognised. One decision often carries several findings (a
customer created on both sides is usually name drift too), and a message per finding told finance the same
story three times.
"""

from __future__ import annotations

from collections.abc import Mapping

from sync_guard.executor.model import ActionStatus
from sync_guard.guard.model import (
    ActionKind,
    AuditEntry,
    Finding,
    OutboxAction,
    RecordState,
)
from sync_guard.guard.model import Severity as GuardSeverity
from sync_guard.models.records import RecordKind, System
from sync_guard.notify import FinanceNotice, NoticeRecord, Role, Severity

#: The rules' four levels onto finance's three (what would a bookkeeper do with it today?).
SEVERITY_FOR_FINANCE = {
    GuardSeverity.LOW: Severity.INFO,
    GuardSeverity.MEDIUM: Severity.WARNING,
    GuardSeverity.HIGH: Severity.WARNING,
    GuardSeverity.CRITICAL: Severity.CRITICAL,
}
_HOLD_KINDS = (ActionKind.TAG_CRM_RECORD, ActionKind.MARK_BOOKS_INACTIVE)


def refs_of(entry: AuditEntry) -> list[str]:
    """Every record a notice for ``entry`` may mention (read from the shadow in one go)."""
    refs = list(entry.records)
    for finding in entry.findings:
        refs += [finding.subject, *finding.related]
    return list(dict.fromkeys(refs))


#: Rules that only fire on a record just created: there the event's own record is a new copy.
_NEW_RECORD_RULES = frozenset(
    {
        "BOTH_SIDES_CREATED",
        "BROKEN_MAPPING",
        "MULTIPLICATION_STORM",
        "NAME_DRIFT",
        "RECREATED_AFTER_DELETE",
        "SAME_SIDE_DUPLICATE",
    }
)
#: The event's own record for the other rules, which also fire on an edit of a long-standing record.
_OWN_ROLE = {
    "CREATED_IN_BOOKS": Role.CREATED_IN_BOOKS,
    "MAPPING_MOVED": Role.NEWLY_PAIRED,
    "CROSSED_MAPPING": Role.NEWLY_LINKED,
    "DOUBLE_LINK": Role.NEWLY_LINKED,
    "MIXED_MAPPING": Role.NEWLY_LINKED,
    "DISPLAY_NAME_COLLISION": Role.NEW_OR_RENAMED,
    "EMAIL_MISMATCH": Role.NEW_OR_EDITED,
}


def _rule_role(ref: str, finding: Finding) -> str | None:
    """Roles only the rule's own shape tells (which of its related records is which)."""
    if finding.code == "MAPPING_MOVED":
        # related: the newly paired customer (the event's), the former partner, the CRM record
        return Role.REPAIRED_CRM if ref.startswith("crm:") else Role.FORMER_PARTNER
    if finding.code == "CROSSED_MAPPING":
        # related: the CRM record it was paired with, then the one its link now points at
        return dict(zip(finding.related, (Role.PAIRED_WITH, Role.LINK_POINTS_AT), strict=False)).get(ref)
    if finding.code == "PARTNER_DELETED" and ref == finding.subject:
        return Role.SURVIVING_PARTNER
    if finding.code == "SAME_SIDE_DUPLICATE" and ref.startswith("books:"):
        # related: the existing CRM record, then the Books customer it is synced to
        return Role.SYNCED_TO_EXISTING
    return None


def _contact_person_role(ref: str, own: str | None, states: Mapping[str, RecordState]) -> str | None:
    """EMAIL_MISMATCH between a CRM contact and a contact person of a Books business customer: a person
    and a company, where the other shapes of the rule compare two people."""
    mine, theirs = states.get(own or ""), states.get(ref)
    if mine is None or theirs is None:
        return None
    kinds = (mine.record.kind, theirs.record.kind)
    if kinds == (RecordKind.PERSON, RecordKind.COMPANY):
        return Role.ACCOUNT_CUSTOMER
    if kinds == (RecordKind.COMPANY, RecordKind.PERSON):
        return Role.CONTACT_OF_PERSON
    return None


def _role(ref: str, finding: Finding, entry: AuditEntry, states: Mapping[str, RecordState]) -> str:
    """How the notice labels ``ref`` for ``finding``: true to the rule, never "new" for an old record."""
    own = entry.records[0] if entry.records else None
    if ref == own and finding.code in _NEW_RECORD_RULES:
        return Role.NEW_COPY
    own_partner = own_state.partner if own and (own_state := states.get(own)) else None
    paired = own_partner is not None and own_partner in (finding.subject, *finding.related)
    if finding.code == "EMAIL_MISMATCH" and paired and ref in (own, own_partner):
        # An edit of a paired person: which side changed, and the record the sync pairs it with.
        return Role.EMAIL_CHANGED if ref == own else Role.PARTNER
    if finding.code == "EMAIL_MISMATCH" and ref != own and (role := _contact_person_role(ref, own, states)):
        return role
    if ref == own and finding.code in _OWN_ROLE:
        return _OWN_ROLE[finding.code]
    specific = _rule_role(ref, finding)
    if specific:
        return specific
    state = states.get(ref)
    if state is not None and state.deleted:
        return Role.DELETED
    if ref == finding.subject and finding.code == "CRM_MERGE_ORPHAN":
        return Role.ORPHAN
    subject_state = states.get(finding.subject)
    if subject_state is not None and ref == subject_state.partner:
        return Role.PARTNER
    if subject_state is not None and ref == subject_state.former_partner:
        return Role.FORMER_PARTNER
    return Role.EXISTING


def _record(
    ref: str,
    role: str,
    entry: AuditEntry,
    states: Mapping[str, RecordState],
    *,
    held: bool,
    hold_failed: bool,
    hold_retryable: bool = False,
) -> NoticeRecord:
    system_name, _, record_id = ref.partition(":")
    state = states.get(ref)
    record = state.record if state is not None else None
    return NoticeRecord(
        system=System(system_name),
        record_id=record_id,
        display_name=(record.name if record else entry.names.get(ref, "")),
        module=record.module if record else None,
        role=role,
        email=record.email if record else None,
        has_transactions=record.has_transactions if record else None,
        outstanding=record.outstanding if record else None,
        active=record.active if record else None,
        held=held,
        hold_failed=hold_failed,
        hold_retryable=hold_retryable,
        deleted=bool(state.deleted) if state else False,
    )


_SEVERITY_ORDER = (GuardSeverity.LOW, GuardSeverity.MEDIUM, GuardSeverity.HIGH, GuardSeverity.CRITICAL)


def hold_actions(entry: AuditEntry) -> list[OutboxAction]:
    """The holds a decision asked for that write to Zoho (not observe mode's)."""
    return [a for a in entry.actions if a.kind in _HOLD_KINDS and a.execute]


# What became of a hold, as finance is told: still being tried counts as held; refused, or given up
# after every retry, is a hold that did not happen.
_HOLD_FAILED = frozenset({ActionStatus.FAILED, ActionStatus.DEAD_LETTERED})
_NOT_HELD = _HOLD_FAILED | {ActionStatus.CANCELLED, ActionStatus.NOT_EXECUTED}


def notices_for(
    action: OutboxAction,
    entry: AuditEntry,
    states: Mapping[str, RecordState],
    hold_outcomes: Mapping[str, ActionStatus | None] | None = None,
) -> list[FinanceNotice]:
    """The one notice a ``notify_finance`` action stands for (none when its decision found nothing).

    ``hold_outcomes`` (hold action id -> status) says what became of the decision's holds: a record is
    said to be held only if its hold is done or still being tried, and one whose hold failed is named
    as not held, so that finance does not rely on a hold that never happened.
    """
    if not entry.findings:
        return []
    outcomes = {a.target: (hold_outcomes or {}).get(a.action_id) for a in hold_actions(entry)}
    failed = {target for target, status in outcomes.items() if status in _HOLD_FAILED}
    retryable = {target for target, status in outcomes.items() if status is ActionStatus.DEAD_LETTERED}
    held = {a.target for a in entry.actions if a.kind in _HOLD_KINDS} - {
        target for target, status in outcomes.items() if status in _NOT_HELD
    }
    # The most severe finding heads the notice; on a tie, the first the engine reported.
    primary = max(entry.findings, key=lambda finding: _SEVERITY_ORDER.index(finding.severity))
    ordered = [primary, *(finding for finding in entry.findings if finding is not primary)]
    roles: dict[str, str] = {}
    for finding in ordered:
        for ref in (finding.subject, *finding.related):
            roles.setdefault(ref, _role(ref, finding, entry, states))
    records = tuple(
        _record(
            ref,
            role,
            entry,
            states,
            held=ref in held,
            hold_failed=ref in failed,
            hold_retryable=ref in retryable,
        )
        for ref, role in roles.items()
    )
    evidence = list(primary.evidence or (primary.explanation,))
    for finding in ordered[1:]:
        detail = "; ".join(finding.evidence) if finding.evidence else finding.explanation
        evidence.append(f"also {finding.code}: {detail}")
    return [
        FinanceNotice(
            rule=primary.code,
            severity=SEVERITY_FOR_FINANCE[primary.severity],
            decision=action.decision.value,
            mode=action.mode,
            records=records,
            evidence=tuple(dict.fromkeys(evidence)),
            event_id=action.event_id or "",
            audit_ref=entry.entry_id,
            occurred_at=entry.at,
        )
    ]
