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
from sync_guard.models.records import System
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


def _role(ref: str, finding: Finding, entry: AuditEntry, states: Mapping[str, RecordState]) -> str:
    own = entry.records[0] if entry.records else None
    if ref == finding.subject:
        return Role.NEW_COPY if ref == own else Role.ORPHAN
    state = states.get(ref)
    if state is not None and state.deleted:
        return Role.DELETED
    subject_state = states.get(finding.subject)
    if subject_state is not None and ref in (subject_state.partner, subject_state.former_partner):
        return Role.PARTNER
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
