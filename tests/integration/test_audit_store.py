"""The audit trail: append-only entries queried by record, time, rule and decision, newest first, paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_guard.config import Mode, get_settings
from sync_guard.errors import InvalidPayload
from sync_guard.guard.model import AuditEntry, Decision, EntryKind, Finding, Severity
from sync_guard.guard.ports import EventAlreadyProcessed
from sync_guard.store.audit import AuditLog, AuditQuery
from tests.support.aws import AwsResources

START = datetime(2026, 1, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def log(aws: AwsResources) -> AuditLog:
    return AuditLog(aws.dynamodb, get_settings().audit_table, now=lambda: START + timedelta(days=60))


def make_entry(
    number: int, *, days: float, records: tuple[str, ...], rules: tuple[str, ...] = ()
) -> AuditEntry:
    decision = Decision.QUARANTINE if "NAME_DRIFT" in rules else Decision.FLAG if rules else Decision.ALLOW
    findings = tuple(
        Finding(
            code=code, severity=Severity.HIGH, explanation="x", evidence=(f"ev {number}",), subject=records[0]
        )
        for code in rules
    )
    return AuditEntry(
        entry_id=f"evt_{number:03d}",
        at=START + timedelta(days=days),
        kind=EntryKind.DECISION,
        decision=decision,
        mode=Mode.ENFORCE,
        event_id=f"evt_{number:03d}",
        records=records,
        rules=rules,
        findings=findings,
        evidence=tuple(f"{code}: ev {number}" for code in rules),
    )


@pytest.fixture
def populated(log: AuditLog) -> list[AuditEntry]:
    # 30 entries over ~45 days, spanning January, February and March partitions
    entries = []
    for number in range(30):
        records = (f"crm:{number % 3}", f"books:{number % 5}")
        rules = (
            ("NAME_DRIFT",)
            if number % 4 == 0
            else ("EMAIL_MISMATCH", "BOTH_SIDES_CREATED")
            if number % 4 == 1
            else ()
        )
        entry = make_entry(number, days=number * 1.5, records=records, rules=rules)
        log.append(entry)
        entries.append(entry)
    return entries


def newest_first(entries: list[AuditEntry]) -> list[str]:
    return [e.entry_id for e in sorted(entries, key=lambda e: e.at, reverse=True)]


def collect(log: AuditLog, query: AuditQuery, limit: int) -> tuple[list[str], int]:
    ids: list[str] = []
    pages = 0
    cursor = None
    while True:
        page = log.query(query, limit=limit, cursor=cursor)
        pages += 1
        assert len(page.entries) <= limit
        ids += [entry.entry_id for entry in page.entries]
        if page.cursor is None:
            return ids, pages
        cursor = page.cursor


def test_appending_twice_is_refused(log: AuditLog) -> None:
    entry = make_entry(1, days=0, records=("crm:1",))
    log.append(entry)
    with pytest.raises(EventAlreadyProcessed):
        log.append(entry)
    assert log.get("evt_001") == entry


def test_time_range_newest_first_across_month_partitions(log: AuditLog, populated: list[AuditEntry]) -> None:
    ids, pages = collect(log, AuditQuery(since=START, until=START + timedelta(days=60)), limit=7)
    assert ids == newest_first(populated)
    assert pages >= 5


def test_time_range_bounds(log: AuditLog, populated: list[AuditEntry]) -> None:
    since, until = START + timedelta(days=3), START + timedelta(days=9)
    ids, _ = collect(log, AuditQuery(since=since, until=until), limit=50)
    assert ids == newest_first([e for e in populated if since <= e.at <= until])


def test_by_record(log: AuditLog, populated: list[AuditEntry]) -> None:
    ids, _ = collect(log, AuditQuery(record="books:2"), limit=2)
    assert ids == newest_first([e for e in populated if "books:2" in e.records])


def test_by_rule_and_decision(log: AuditLog, populated: list[AuditEntry]) -> None:
    by_rule, _ = collect(log, AuditQuery(rule="EMAIL_MISMATCH"), limit=3)
    assert by_rule == newest_first([e for e in populated if "EMAIL_MISMATCH" in e.rules])
    by_decision, _ = collect(log, AuditQuery(decision="quarantine"), limit=3)
    assert by_decision == newest_first([e for e in populated if e.decision is Decision.QUARANTINE])


def test_criteria_combine(log: AuditLog, populated: list[AuditEntry]) -> None:
    query = AuditQuery(record="crm:1", rule="BOTH_SIDES_CREATED", until=START + timedelta(days=30))
    ids, _ = collect(log, query, limit=2)
    expected = [
        e
        for e in populated
        if "crm:1" in e.records and "BOTH_SIDES_CREATED" in e.rules and e.at <= START + timedelta(days=30)
    ]
    assert expected
    assert ids == newest_first(expected)


def test_a_forged_cursor_is_a_client_error(log: AuditLog) -> None:
    with pytest.raises(InvalidPayload):
        log.query(AuditQuery(), cursor="not-a-cursor")
