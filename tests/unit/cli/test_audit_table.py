"""``sync-guard audit`` for people: on an 80-column terminal (``COLUMNS=80``) nothing an admin copies or
reads at a glance is cut, the time, a record's id, a rule code; a wide terminal keeps the six columns."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from sync_guard.cli.audit import _print_table
from sync_guard.guard.model import AuditEntry, Decision, EntryKind, Mode

CRM = "crm:5725767000000123001"
BOOKS = "books:460000000026101"
AT = datetime(2026, 11, 25, 9, 14, 3, tzinfo=UTC)

ENTRIES = [
    AuditEntry(
        entry_id="e1",
        at=AT,
        kind=EntryKind.ADMIN,
        decision=Decision.ADMIN,
        mode=Mode.ENFORCE,
        operation="forget_release",
        records=(CRM, BOOKS),
        actor="user:ivy",
        note="not a duplicate after all",
        names={CRM: "Acme Ltd", BOOKS: "Acme Limited"},
    ),
    AuditEntry(
        entry_id="e2",
        at=AT,
        kind=EntryKind.DECISION,
        decision=Decision.QUARANTINE,
        mode=Mode.ENFORCE,
        operation="create",
        records=(CRM,),
        rules=("DISPLAY_NAME_COLLISION", "RECREATED_AFTER_DELETE"),
        evidence=(f"name 'Acme Ltd' matches {BOOKS} 'Acme Limited'",),
    ),
]


def _shown(width: int) -> list[str]:
    out = io.StringIO()
    _print_table(ENTRIES, Console(file=out, width=width, color_system=None))
    return out.getvalue().splitlines()


def test_on_80_columns_the_time_ids_and_rule_codes_stay_whole() -> None:
    lines = _shown(80)

    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    # One time per entry, on one line, with its zone.
    assert sum("2026-11-25 09:14:03 UTC" in line for line in lines) == len(ENTRIES)
    for whole in (CRM, BOOKS, "DISPLAY_NAME_COLLISION", "RECREATED_AFTER_DELETE", "by user:ivy"):
        assert whole in text
    # and what the table's columns said is all there, in words
    assert "admin: forgot the release of" in text
    assert "records: crm:5725767000000123001 'Acme Ltd'," in text
    assert "not a duplicate after all" in text
    assert "rules: DISPLAY_NAME_COLLISION RECREATED_AFTER_DELETE" in text


def test_a_wide_terminal_or_a_pipe_keeps_the_table_with_the_time_on_one_line() -> None:
    lines = _shown(200)  # what a pipe gets

    header = next(line for line in lines if "time (UTC)" in line)
    for column in ("decision", "rules", "records", "actor", "evidence"):
        assert column in header
    assert sum("2026-11-25 09:14:03" in line for line in lines) == len(ENTRIES)
