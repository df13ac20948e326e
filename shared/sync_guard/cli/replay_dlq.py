"""``sync-guard replay-dlq``: move dead-lettered messages back to their queue, after the cause is fixed.

``--queue processing`` (events the processor gave up on), ``outbox`` (actions Zoho kept refusing with
429/5xx/timeouts), or ``all``. ``--dry-run`` lists what would move. ``sync-guard requeue-awaiting`` sends
events that arrived before Zoho was configured (``awaiting_enrichment``) back to the processor.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from sync_guard.admin.dlq import ReplayIncomplete, replay_dlq
from sync_guard.cli._context import (
    DEFAULT_STATE_DIR,
    ActorOption,
    RegionOption,
    StackOption,
    StateDirOption,
    default_actor,
    resolve_settings,
)
from sync_guard.config import Settings
from sync_guard.guard.admin import admin_entry
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog


def audit_operation(settings: Settings, operation: str, actor: str, note: str, moved: list[str]) -> None:
    """Append the admin entry of a replay: what it sent back, and who did (what it sets off is audited)."""
    entry = admin_entry(
        operation,
        actor=actor,
        at=datetime.now(UTC),
        mode=settings.mode,
        note=note,
        evidence=tuple(moved),
    )
    AuditLog.from_settings(settings).append(entry)


class QueueChoice(StrEnum):
    PROCESSING = "processing"
    OUTBOX = "outbox"
    ALL = "all"


def _pairs(settings: Settings, choice: QueueChoice) -> list[tuple[str, str, str]]:
    pairs = []
    if choice in (QueueChoice.PROCESSING, QueueChoice.ALL):
        pairs.append(("processing", settings.dlq_url, settings.queue_url))
    if choice in (QueueChoice.OUTBOX, QueueChoice.ALL):
        pairs.append(("outbox", settings.outbox_dlq_url, settings.outbox_queue_url))
    return pairs


def replay(settings: Settings, choice: QueueChoice, *, dry_run: bool, actor: str = "") -> dict[str, int]:
    """Replay the chosen dead-letter queues; prints each message moved; returns counts per queue.

    Each queue that moved messages leaves an audit entry (operation ``replay_dlq``) with ``actor``.
    """
    pairs = _pairs(settings, choice)
    if not any(dlq_url and queue_url for _, dlq_url, queue_url in pairs):
        # Not "skipped" and exit 0: with no guard named, nothing was looked at, and something may wait.
        typer.echo(
            "error: no dead-letter queue to replay: give --stack-name (and --region) for a deployed "
            "guard, or start 'sync-guard serve' in another shell.",
            err=True,
        )
        raise typer.Exit(code=2)
    sqs = aws.client("sqs", settings)
    counts: dict[str, int] = {}
    for name, dlq_url, queue_url in pairs:
        if not dlq_url or not queue_url:
            typer.echo(f"{name}: not configured (no queue URL), skipped", err=True)
            continue
        refused: ReplayIncomplete | None = None
        try:
            moved = replay_dlq(sqs, dlq_url=dlq_url, queue_url=queue_url, dry_run=dry_run)
        except ReplayIncomplete as error:
            moved, refused = error.moved, error
        verb = "would move" if dry_run else "moved"
        for message in moved:
            typer.echo(f"{name}: {verb} {message.message_id} ({message.subject})")
        typer.echo(f"{name}: {verb} {len(moved)} message(s) from the dead-letter queue back to the queue")
        counts[name] = len(moved)
        if moved and not dry_run:
            audit_operation(
                settings,
                "replay_dlq",
                actor or default_actor(),
                f"moved {len(moved)} message(s) from the {name} dead-letter queue back to its queue",
                [message.subject for message in moved],
            )
        if refused is not None:
            typer.echo(f"error: {name}: {refused}; run replay-dlq again", err=True)
            raise typer.Exit(code=1)
    return counts


def register(app: typer.Typer) -> None:
    @app.command("replay-dlq")
    def replay_dlq_command(
        queue: Annotated[
            QueueChoice, typer.Option("--queue", help="Which dead-letter queue.")
        ] = QueueChoice.ALL,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="List, do not move.")] = False,
        actor: ActorOption = None,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Move dead-lettered messages back to their source queue (processing, outbox or all)."""
        settings = resolve_settings(stack_name=stack_name, region=region, state_dir=state_dir)
        replay(settings, queue, dry_run=dry_run, actor=actor or default_actor())

    @app.command("requeue-awaiting")
    def requeue_awaiting_command(
        dry_run: Annotated[bool, typer.Option("--dry-run", help="List, do not re-queue.")] = False,
        actor: ActorOption = None,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Send events stored as awaiting_enrichment back to the processor (once Zoho is configured)."""
        from sync_guard.executor.enrichment import requeue_from_settings

        settings = resolve_settings(stack_name=stack_name, region=region, state_dir=state_dir)
        ids = requeue_from_settings(settings, now=datetime.now(UTC), dry_run=dry_run)
        if ids and not dry_run:
            note = f"re-queued {len(ids)} event(s) awaiting enrichment for the processor"
            audit_operation(settings, "requeue_awaiting", actor or default_actor(), note, ids)
        for event_id in ids:
            typer.echo(("would re-queue " if dry_run else "re-queued ") + event_id)
        typer.echo(f"{len(ids)} event(s) {'would be ' if dry_run else ''}re-queued for enrichment")
