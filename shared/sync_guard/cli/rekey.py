"""``sync-guard rekey``: after an upgrade that cuts blocking keys differently, re-index the shadow mapping.

Records keep the keys they were stored under until their next event; until then a new record cannot find
them through a key this version cuts differently. ``rekey`` moves every stored record to this version's
keys at once (:class:`~sync_guard.store.bulk.ShadowRekeyer`), records the pass in the audit trail, and
prints counts by key kind (never the keys themselves: they hold names and emails).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated

import typer

from sync_guard.cli._context import (
    DEFAULT_STATE_DIR,
    ActorOption,
    AuditTableOption,
    RegionOption,
    ShadowTableOption,
    StackOption,
    StateDirOption,
    default_actor,
    resolve_settings,
)
from sync_guard.guard.admin import admin_entry
from sync_guard.guard.engine import shadow_keys
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import RecordState
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog
from sync_guard.store.bulk import RekeyResult, ShadowRekeyer
from sync_guard.store.shadow import MAX_KEY_MEMBERS


def _by_kind(counts: Counter[str]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items())) or "none"


def report_lines(result: RekeyResult, *, dry_run: bool) -> list[str]:
    """What the pass found and did, for a person."""
    lines = [f"read {result.records} record states: {result.rekeyed} keyed differently by this version"]
    if result.rekeyed:
        verb = "would move (dry run: nothing written)" if dry_run else "moved"
        lines.append(
            f"{verb}: key memberships added {_by_kind(result.added)}; removed {_by_kind(result.removed)}"
        )
    if result.full:
        lines.append(
            f"not joined, already shared by {MAX_KEY_MEMBERS:,} records (a key that identifies nobody): "
            f"{_by_kind(result.full)}"
        )
    if result.marked:
        verb = "would mark" if dry_run else "marked"
        lines.append(f"{verb} deleted records as deleted in {result.marked} key items that did not say so")
    if result.changed_meanwhile:
        lines.append(f"{result.changed_meanwhile} rewritten by an event meanwhile, which keyed them itself")
    return lines


def rekey(
    actor: ActorOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would move, write nothing.")] = False,
    stack_name: StackOption = None,
    region: RegionOption = None,
    state_dir: StateDirOption = DEFAULT_STATE_DIR,
    shadow_table: ShadowTableOption = None,
    audit_table: AuditTableOption = None,
) -> None:
    """Move every record in the shadow mapping to the blocking keys this version cuts."""
    settings = resolve_settings(
        stack_name=stack_name,
        region=region,
        state_dir=state_dir,
        shadow_table=shadow_table,
        audit_table=audit_table,
    )
    matcher = LibraryMatcher(settings.default_phone_region)

    def keys_of(state: RecordState) -> frozenset[str]:
        return shadow_keys(state.record, matcher)

    client = aws.client("dynamodb", settings)
    now = datetime.now(UTC)
    result = ShadowRekeyer(client, settings.shadow_table).run(keys_of, dry_run=dry_run)
    if not dry_run and (result.rekeyed or result.marked):
        note = (
            f"re-keyed {result.rekeyed} of {result.records} records; memberships added "
            f"{_by_kind(result.added)}, removed {_by_kind(result.removed)}; deleted records marked in "
            f"{result.marked} key items"
        )
        who = actor or default_actor()
        entry = admin_entry("rekey", actor=who, at=now, mode=settings.mode, note=note)
        AuditLog(client, settings.audit_table).append(entry)
    for line in report_lines(result, dry_run=dry_run):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add ``rekey`` to the ``sync-guard`` command line."""
    app.command(name="rekey")(rekey)
