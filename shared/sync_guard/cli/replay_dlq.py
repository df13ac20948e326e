"""``sync-guard replay-dlq``: move dead-lettered messages back to their queue, after the cause is fixed.

``--queue processing`` (events the processor gave up on), ``outbox`` (actions Zoho kept refusing with
429/5xx/timeouts), or ``all``. ``--dry-run`` lists what would move. ``sync-guard requeue-awaiting`` sends
events that arrived before Zoho was configured (``awaiting_enrichment``) back to the processor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

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
from sync_guard.config import Mode, Settings
from sync_guard.guard.admin import admin_entry, admin_entry_id
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog


@dataclass
class AuditedMove:
    """The audit entries of one move of messages (a queue's replay, a requeue of awaiting events), with its
    actor: before each batch moves, an entry (``started_operation``) naming what is about to move; at the
    end, the move's own entry (``operation``, its id known from the start) naming what moved.

    Written before the move, the first entries cannot miss one, whatever fails after it (the move's own
    entry, the network, the process). Each names the entry the move ends with, and says how to tell what
    moved when that one never came: what is still waiting is what did not move.
    """

    log: AuditLog
    mode: Mode
    operation: str
    started_operation: str
    actor: str
    #: How to list what is still waiting, for an admin reading a move that stopped part-way.
    still_waiting: str
    #: The id of the move's own entry, known before anything moves (the ``_started`` entries name it).
    entry_id: str
    announced: int = 0

    @classmethod
    def of(
        cls,
        settings: Settings,
        *,
        operation: str,
        started_operation: str,
        actor: str,
        scope: str,
        still_waiting: str,
    ) -> AuditedMove:
        """``scope`` tells one move of ``operation`` from another begun at once (the queue replayed)."""
        entry_id = admin_entry_id(f"{operation}|{scope}", actor, datetime.now(UTC))
        log = AuditLog.from_settings(settings)
        return cls(log, settings.mode, operation, started_operation, actor, still_waiting, entry_id)

    def about_to_move(self, subjects: Sequence[str], what: str) -> None:
        """Audit ``subjects`` (``what`` they are, and from where to where) before they move."""
        self.announced += 1
        at = datetime.now(UTC)
        self.log.append(
            admin_entry(
                self.started_operation,
                actor=self.actor,
                at=at,
                mode=self.mode,
                entry_id=admin_entry_id(f"{self.entry_id}|{self.announced}", self.actor, at),
                note=(
                    f"about to {what} (batch {self.announced}); entry {self.entry_id} says what moved. "
                    f"Without that entry the move stopped part-way: each one listed here and no longer "
                    f"waiting moved ({self.still_waiting} lists what waits; one still waiting may have been "
                    "sent too, a duplicate the guard takes once)"
                ),
                evidence=tuple(subjects),
            )
        )

    def moved(self, subjects: Sequence[str], note: str) -> None:
        """The move's own entry: what moved (``subjects``) and how it went (``note``); written when anything
        was about to move, so that each ``_started`` entry has its end."""
        if not self.announced:
            return
        self.log.append(
            admin_entry(
                self.operation,
                actor=self.actor,
                at=datetime.now(UTC),
                mode=self.mode,
                entry_id=self.entry_id,
                note=note,
                evidence=tuple(subjects),
            )
        )


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

    Each queue goes on whatever the one before it came to, and says how it went; any message SQS refused
    (it stays in its dead-letter queue) makes the command fail once all are done. A queue's move is
    audited with ``actor`` (``AuditedMove``: operations ``replay_dlq_started``, then ``replay_dlq``).
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
    refused_in: list[str] = []
    for name, dlq_url, queue_url in pairs:
        if not dlq_url or not queue_url:
            typer.echo(f"{name}: not configured (no queue URL), skipped", err=True)
            continue
        refused = _replay_queue(
            settings, sqs, name, dlq_url, queue_url, dry_run=dry_run, actor=actor, counts=counts
        )
        if refused is not None:
            typer.echo(f"error: {name}: {refused}; run replay-dlq --queue {name} again", err=True)
            refused_in.append(name)
    if refused_in:
        typer.echo(f"error: not every message moved: {', '.join(refused_in)} (see above)", err=True)
        raise typer.Exit(code=1)
    return counts


def _replay_queue(
    settings: Settings,
    sqs: Any,
    name: str,
    dlq_url: str,
    queue_url: str,
    *,
    dry_run: bool,
    actor: str,
    counts: dict[str, int],
) -> ReplayIncomplete | None:
    """Replay one queue, print and audit what moved; what SQS refused, if it refused anything."""
    where = f"the {name} dead-letter queue back to its queue"
    move = AuditedMove.of(
        settings,
        operation="replay_dlq",
        started_operation="replay_dlq_started",
        actor=actor or default_actor(),
        scope=name,
        still_waiting=f"'sync-guard replay-dlq --queue {name} --dry-run'",
    )
    refused: ReplayIncomplete | None = None
    try:
        moved = replay_dlq(
            sqs,
            dlq_url=dlq_url,
            queue_url=queue_url,
            dry_run=dry_run,
            before_move=lambda batch: move.about_to_move(
                [m.subject for m in batch], f"move {len(batch)} message(s) from {where}"
            ),
        )
    except ReplayIncomplete as error:
        moved, refused = error.moved, error
    verb = "would move" if dry_run else "moved"
    for message in moved:
        typer.echo(f"{name}: {verb} {message.message_id} ({message.subject})")
    typer.echo(f"{name}: {verb} {len(moved)} message(s) from the dead-letter queue back to the queue")
    counts[name] = len(moved)
    outcome = f"moved {len(moved)} message(s) from {where}"
    if refused is not None:
        outcome += f"; {refused}"
    move.moved([message.subject for message in moved], outcome)
    return refused


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
        move = AuditedMove.of(
            settings,
            operation="requeue_awaiting",
            started_operation="requeue_awaiting_started",
            actor=actor or default_actor(),
            scope="awaiting",
            still_waiting="'sync-guard requeue-awaiting --dry-run'",
        )
        ids = requeue_from_settings(
            settings,
            now=datetime.now(UTC),
            dry_run=dry_run,
            before_move=lambda listed: move.about_to_move(
                listed, f"re-queue {len(listed)} event(s) awaiting enrichment for the processor"
            ),
        )
        move.moved(ids, f"re-queued {len(ids)} event(s) awaiting enrichment for the processor")
        for event_id in ids:
            typer.echo(("would re-queue " if dry_run else "re-queued ") + event_id)
        typer.echo(f"{len(ids)} event(s) {'would be ' if dry_run else ''}re-queued for enrichment")
