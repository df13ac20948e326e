"""The audit table's decision column in words (``sync-guard audit``), from the table that words the admin
commands' confirmations: every operation the guard records has words, an action's outcome is said as what
became of the action, and a name without words is never shown as code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sync_guard.cli._words import OPERATIONS, confirmation, what_happened
from sync_guard.guard.model import AuditEntry, Decision, EntryKind
from tests.unit.guard.builders import audit_entry as entry

SHARED = Path(__file__).resolve().parents[3] / "shared" / "sync_guard"


@pytest.mark.parametrize(
    ("audited", "said"),
    [
        (entry(EntryKind.DECISION, Decision.QUARANTINE, "create", "crm:1"), "quarantine"),
        (
            entry(EntryKind.ADMIN, Decision.ADMIN, "forget_release", "crm:1", "books:9", "books:2"),
            "admin: forgot the release of crm:1 as not a duplicate of books:9",
        ),
        (
            entry(EntryKind.ADMIN, Decision.ADMIN, "link", "crm:1", "books:9"),
            "admin: linked crm:1 and books:9",
        ),
        (
            entry(EntryKind.ADMIN, Decision.ADMIN, "preflight_hold", "crm:1", "books:9"),
            "admin: preflight held crm:1, related to books:9",
        ),
        (entry(EntryKind.ADMIN, Decision.ADMIN, "reset_storm_breaker"), "admin: reset the storm breaker"),
        (
            entry(EntryKind.ADMIN, Decision.ADMIN, "replay_dlq"),
            "admin: sent dead-lettered messages back to their queue",
        ),
        (
            entry(EntryKind.ACTION, Decision.ADMIN, "tag_crm_record:failed", "crm:1"),
            "admin: hold tag on the CRM record failed (Zoho refused it)",
        ),
        (
            entry(EntryKind.ACTION, Decision.QUARANTINE, "mark_books_inactive:dead_lettered", "books:9"),
            "quarantine: marking the Books customer inactive failed every try",
        ),
        (
            entry(EntryKind.ACTION, Decision.FLAG, "notify_finance:done", "crm:1"),
            "flag: notice to finance done",
        ),
        (
            entry(EntryKind.SELF_ECHO, Decision.ALLOW, "update", "crm:1"),
            "allow: the guard's own change coming back",
        ),
        (
            entry(EntryKind.NOT_DECIDED, Decision.PENDING, "update", "books:9"),
            "pending: not decided (another Books organisation)",
        ),
    ],
)
def test_the_decision_column_says_what_an_entry_is_in_words(audited: AuditEntry, said: str) -> None:
    assert what_happened(audited) == said


@pytest.mark.parametrize(
    "audited",
    [
        entry(EntryKind.ADMIN, Decision.ADMIN, "new_thing", "crm:1"),
        entry(EntryKind.ACTION, Decision.QUARANTINE, "new_kind:done", "crm:1"),
        entry(EntryKind.ACTION, Decision.QUARANTINE, "tag_crm_record:new_status", "crm:1"),
    ],
)
def test_a_name_without_words_is_shown_as_recorded_but_not_as_code(audited: AuditEntry) -> None:
    said = what_happened(audited)
    assert said.startswith(f"{audited.decision.value}: ")
    assert "_" not in said


def test_a_confirmation_and_the_decision_column_say_an_operation_alike() -> None:
    records = ("books:9", "books:1")
    assert confirmation("confirm", records) == "Confirmed books:9 as a duplicate of books:1"
    assert what_happened(entry(EntryKind.ADMIN, Decision.ADMIN, "confirm", *records)) == (
        "admin: confirmed books:9 as a duplicate of books:1"
    )


def _recorded_operations() -> set[str]:
    """Every operation name the guard's code writes into an audit entry as a literal: the first argument of
    ``admin_entry`` (and the admin service's ``_entry``), an ``operation=`` keyword (or another keyword
    naming one, ``started_operation=``), and an ``operation`` parameter's default."""
    found: set[str] = set()

    def literal(node: ast.AST | None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)

    for path in SHARED.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                position = {"admin_entry": 0, "_entry": 0}.get(name or "")
                if position is not None and len(node.args) > position:
                    literal(node.args[position])
                for keyword in node.keywords:
                    if (keyword.arg or "").endswith("operation"):
                        literal(keyword.value)
            elif isinstance(node, ast.FunctionDef):
                arguments = [*node.args.posonlyargs, *node.args.args]
                defaults = dict(zip(reversed(arguments), reversed(node.args.defaults), strict=False))
                defaults |= dict(zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True))
                for argument, default in defaults.items():
                    if argument.arg == "operation":
                        literal(default)
    return found


def test_every_operation_the_guard_records_has_words() -> None:
    # and has words for no operation it no longer records
    assert _recorded_operations() == OPERATIONS.keys()
