"""One finance notice per decision, however many rules recognised the event."""

from __future__ import annotations

from sync_guard.config import Mode
from sync_guard.executor.notices import notices_for
from sync_guard.guard.model import (
    ActionKind,
    AuditEntry,
    Decision,
    EntryKind,
    Finding,
    Severity,
)
from tests.unit.executor.fakes_executor import T0, action


def entry_with(findings: tuple[Finding, ...]) -> AuditEntry:
    return AuditEntry(
        entry_id="evt_1",
        at=T0,
        kind=EntryKind.DECISION,
        decision=Decision.QUARANTINE,
        mode=Mode.ENFORCE,
        event_id="evt_1",
        records=("books:9", "crm:1"),
        rules=tuple(f.code for f in findings),
        findings=findings,
        actions=(action(ActionKind.MARK_BOOKS_INACTIVE, "books:9"),),
        names={"books:9": "Acme Limited", "crm:1": "Acme Ltd", "books:7": "ACME LTD"},
    )


def finding(
    code: str, severity: Severity, related: tuple[str, ...], evidence: tuple[str, ...] = ()
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        explanation=f"{code} explained",
        evidence=evidence,
        subject="books:9",
        related=related,
    )


def test_several_findings_make_one_notice_headed_by_the_most_severe() -> None:
    # given a decision on a customer created on both sides, which is also name drift and a display-name clash
    findings = (
        finding("NAME_DRIFT", Severity.MEDIUM, ("crm:1",), ("same name once 'Limited' is folded to 'Ltd'",)),
        finding("BOTH_SIDES_CREATED", Severity.HIGH, ("crm:1",), ("created in Books 2 hours after CRM",)),
        finding("DISPLAY_NAME_COLLISION", Severity.HIGH, ("books:7",)),
    )
    notify = action(ActionKind.NOTIFY_FINANCE, "books:9")
    # when the executor turns the notify action into notices
    [notice] = notices_for(notify, entry_with(findings), {})
    # then finance gets one notice, headed by the first of the most severe findings
    assert notice.rule == "BOTH_SIDES_CREATED"
    assert notice.evidence[0] == "created in Books 2 hours after CRM"
    assert "also NAME_DRIFT: same name once 'Limited' is folded to 'Ltd'" in notice.evidence
    assert "also DISPLAY_NAME_COLLISION: DISPLAY_NAME_COLLISION explained" in notice.evidence
    # listing every record involved once, the held one marked held
    assert [r.record_id for r in notice.records] == ["9", "1", "7"]
    assert [r.record_id for r in notice.records if r.held] == ["9"]


def test_a_decision_without_findings_notifies_nobody() -> None:
    notify = action(ActionKind.NOTIFY_FINANCE, "books:9")
    assert notices_for(notify, entry_with(()), {}) == []
