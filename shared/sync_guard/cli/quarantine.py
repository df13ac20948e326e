"""Admin commands: ``sync-guard quarantines list|hold|release|release-moot|apply|forget-release|confirm``,
``link``, ``show``, ``breaker reset``.

Every operation is audited with its actor: ``--actor`` (default: the OS user running the command). The
target guard is resolved like every admin command (``--stack-name``, ``SYNC_GUARD_*``, or the running local
stack).

Exit status: 0 done; 1 the guard refused the operation (``SyncGuardError``, its message naming the argument
or option, ``CLI_NAMES``); 2 the command line was refused before anything ran (typer's usage errors,
``list --status``, ``apply`` with both or neither of records and ``--all``), or no guard could be reached
(``cli.main``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from sync_guard.admin.http import record_json
from sync_guard.admin.model import HoldStatus, OperationResult
from sync_guard.admin.moot import MootHolds, moot_reason
from sync_guard.admin.service import AdminService
from sync_guard.cli._context import (
    DEFAULT_STATE_DIR,
    ActorOption,
    RegionOption,
    StackOption,
    StateDirOption,
    default_actor,
    resolve_settings,
)
from sync_guard.cli._words import confirmation
from sync_guard.config import Mode
from sync_guard.errors import SyncGuardError
from sync_guard.timefmt import utc_minute

ReasonOption = Annotated[str, typer.Option("--reason", help="Why, for the audit trail.")]
#: How many holds one ``quarantines release-moot`` releases by default: each is a transaction and queued
#: Zoho writes, so a first run after an upgrade on a large backlog is done in a few runs, not one long one.
MOOT_LIMIT = 100


def _service(stack_name: str | None, region: str | None, state_dir: Path) -> AdminService:
    return AdminService.from_settings(
        resolve_settings(stack_name=stack_name, region=region, state_dir=state_dir)
    )


def done(result: OperationResult) -> str:
    """What an admin operation did, in words: "Released crm:1", not its audit name ``release``."""
    return confirmation(result.operation, result.entry.records)


def _report(result: OperationResult) -> None:
    entry = result.entry
    typer.echo(f"{done(result)}, by {entry.actor}")
    typer.echo(f"  {entry.note}")
    if result.queued_actions:
        typer.echo(f"  queued {len(result.queued_actions)} action(s) for the executor")
    typer.echo(f"  audit entry {entry.entry_id}")


#: The admin service names the admin API's JSON fields (``hold_id``, ``survivor``); the commands name what
#: the admin typed, as their help shows it: the record argument, or the option.
CLI_NAMES = {
    "hold_id": "record",
    "record": "record",
    "related": "--related",
    "module": "--module",
    "against": "--against",
    "survivor": "--survivor",
    "crm": "--crm",
    "books": "--books",
}


def _said(error: SyncGuardError) -> str:
    return error.naming(CLI_NAMES)


def _fail(error: SyncGuardError) -> NoReturn:
    typer.echo(f"error: {_said(error)}", err=True)
    raise typer.Exit(code=1)


def _operate(
    stack_name: str | None,
    region: str | None,
    state_dir: Path,
    operation: Callable[[AdminService], OperationResult],
) -> None:
    """Run one admin operation against the resolved stack and print its audit entry (or the error)."""
    try:
        result = operation(_service(stack_name, region, state_dir))
    except SyncGuardError as error:
        _fail(error)
    _report(result)


def register(app: typer.Typer) -> None:
    quarantines = typer.Typer(
        help=(
            "Open quarantines (held records): list, hold, release, release-moot, apply, forget-release, "
            "confirm."
        ),
        no_args_is_help=True,
    )
    breaker = typer.Typer(help="The multiplication-storm circuit breaker.", no_args_is_help=True)
    app.add_typer(quarantines, name="quarantines")
    app.add_typer(breaker, name="breaker")

    @quarantines.command("list")
    def list_command(
        status: Annotated[str, typer.Option("--status", help="held, confirmed or all.")] = "all",
        as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Records the guard holds back from the sync, newest first."""
        if status not in ("held", "confirmed", "all"):
            typer.echo("error: --status must be held, confirmed or all", err=True)
            raise typer.Exit(code=2)
        service = _service(stack_name, region, state_dir)
        holds = service.list_holds(None if status == "all" else HoldStatus(status))
        for hold in holds:
            if as_json:
                typer.echo(json.dumps(hold.model_dump(mode="json")))
                continue
            when = hold.at.strftime("%Y-%m-%d %H:%M") if hold.at else "?"
            extra = f" survivor={hold.survivor}" if hold.survivor else ""
            typer.echo(
                f"{hold.hold_id:<28} {hold.status.value:<9} {when} {hold.mode:<7} "
                f"{','.join(hold.rules):<30} {hold.name}{extra}"
            )
        if not as_json:
            typer.echo(f"{len(holds)} open quarantine(s)")

    @quarantines.command("hold")
    def hold_command(
        record: Annotated[str, typer.Argument(help="The record to hold: crm:<id> or books:<id>.")],
        reason: ReasonOption = "",
        related: Annotated[
            list[str] | None,
            typer.Option(
                "--related",
                metavar="REF",
                help="A record it is held because of (crm:/books:<id>); repeatable.",
            ),
        ] = None,
        module: Annotated[
            str | None,
            typer.Option(
                "--module",
                metavar="Accounts|Contacts",
                help="The CRM module of a record the guard does not know yet (default Accounts); "
                "refused when the guard knows it in the other one.",
            ),
        ] = None,
        actor: ActorOption = None,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Hold a record back from the sync by hand, as the guard does: tag it in CRM / mark it inactive in
        Books (through the outbox; in observe mode the hold is recorded but not written to Zoho)."""
        who = actor or default_actor()
        _operate(
            stack_name,
            region,
            state_dir,
            lambda admin: admin.hold(
                record, actor=who, reason=reason, related=tuple(related or ()), module=module
            ),
        )

    @quarantines.command("release")
    def release_command(
        record: Annotated[str, typer.Argument(help="The held record: crm:<id> or books:<id>.")],
        reason: ReasonOption = "",
        actor: ActorOption = None,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Release a hold: undo its tag / inactive status in Zoho (through the outbox)."""
        who = actor or default_actor()
        _operate(stack_name, region, state_dir, lambda admin: admin.release(record, actor=who, reason=reason))

    @quarantines.command("release-moot")
    def release_moot_command(
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Name the holds it would release; release none.")
        ] = False,
        limit: Annotated[
            int,
            typer.Option(
                "--limit", min=1, help="Release at most this many, the oldest first; run again for more."
            ),
        ] = MOOT_LIMIT,
        actor: ActorOption = None,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Release the guard's holds that Books customers turned vendors made moot (the processor releases
        them at the vendor's event; this finds those of vendors retired before it did, with no event since),
        as 'quarantines release' does, judging nothing, audited as operation release_moot naming the
        vendor. An admin's own hold stays. Exits 1 if any was refused."""
        who = actor or default_actor()
        service = _service(stack_name, region, state_dir)
        found = MootHolds.of(service).moot()
        if not found:
            typer.echo("no hold made moot by a customer turned vendor")
            return
        now, later = found[:limit], found[limit:]
        if dry_run:
            for hold, vendors in now:
                typer.echo(f"would release {hold.hold_id}: {moot_reason(vendors)}")
            typer.echo(f"{len(found)} holds made moot; none released (--dry-run)")
            return
        refused = 0
        for hold, vendors in now:
            try:
                _report(service.release_moot(hold.hold_id, actor=who, vendors=vendors))
            except SyncGuardError as error:
                refused += 1
                typer.echo(f"refused: {hold.hold_id}: {_said(error)}", err=True)
        more = f"; {len(later)} more made moot: run it again" if later else ""
        typer.echo(f"{len(now) - refused} released, {refused} refused{more}")
        if refused:
            raise typer.Exit(code=1)

    @quarantines.command("apply")
    def apply_command(
        records: Annotated[
            list[str] | None,
            typer.Argument(
                help="The held records to write to Zoho: crm:<id> or books:<id>.", show_default=False
            ),
        ] = None,
        every: Annotated[
            bool, typer.Option("--all", help="Every hold still in observe mode, confirmed or not.")
        ] = False,
        reason: ReasonOption = "",
        actor: ActorOption = None,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Write holds recorded in observe mode to Zoho, once the guard enforces: tag the CRM record / mark
        the Books customer inactive (through the outbox). Each hold keeps its rules, status and survivor.
        Exits 1 if any was refused."""
        if bool(records) == every:
            typer.echo("error: name the held records, or give --all (not both)", err=True)
            raise typer.Exit(code=2)
        who = actor or default_actor()
        service = _service(stack_name, region, state_dir)
        if service.mode is not Mode.ENFORCE:
            # every hold would be refused for the same reason: say it once
            typer.echo(
                f"refused: the guard runs in {service.mode.value} mode: switch to enforce first (the stack "
                "parameter Mode; for the local guard, sync-guard serve --mode enforce), then apply",
                err=True,
            )
            raise typer.Exit(code=1)
        targets = records or [h.hold_id for h in service.list_holds() if not h.applied_in_zoho]
        if not targets:
            typer.echo("no hold in observe mode: nothing to apply")
            return
        refused = 0
        for hold_id in targets:
            try:
                _report(service.apply(hold_id, actor=who, reason=reason))
            except SyncGuardError as error:
                refused += 1
                # Most refusals name the record already ("crm:404 is not held"); a malformed one does not.
                said = _said(error)
                said = said if hold_id.strip() in said else f"{hold_id}: {said}"
                typer.echo(f"refused: {said}", err=True)
        typer.echo(f"{len(targets) - refused} applied, {refused} refused")
        if refused:
            raise typer.Exit(code=1)

    @quarantines.command("forget-release")
    def forget_release_command(
        record: Annotated[str, typer.Argument(help="A released record: crm:<id> or books:<id>.")],
        against: Annotated[
            str, typer.Option("--against", help="The record it was judged not a duplicate of.")
        ],
        reason: ReasonOption = "",
        actor: ActorOption = None,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Undo a release's judgement that two records are not duplicates: their next event decides afresh."""
        who = actor or default_actor()
        _operate(
            stack_name,
            region,
            state_dir,
            lambda admin: admin.forget_release(record, against=against, actor=who, reason=reason),
        )

    @app.command("show")
    def show_command(
        record: Annotated[str, typer.Argument(help="crm:<id> or books:<id>.")],
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead of lines.")] = False,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """One record as the guard knows it: its partner, its hold, what releases judged it distinct from."""
        try:
            state = _service(stack_name, region, state_dir).record(record)
        except SyncGuardError as error:
            _fail(error)
        view = record_json(state)
        if as_json:
            typer.echo(json.dumps(view))
            return
        typer.echo(f"{view['ref']}  {view['module']}  {view['name'] or '(no name)'}")
        if view["status"] == "retired":
            since = utc_minute(state.retired_at) if state.retired_at else "-"
            typer.echo(f"  a Books vendor now: retired from matching since {since} (a customer no longer)")
        elif view["deleted"]:
            typer.echo("  deleted in Zoho")
        source = f" (paired {state.pair_source.how})" if state.pair_source else ""
        typer.echo(f"  partner: {view['partner'] or '-'}{source}")
        if view["former_partner"]:
            typer.echo(f"  former partner: {view['former_partner']}")
        typer.echo(f"  held by: {view['held_by'] or '-'}")
        typer.echo(f"  judged not a duplicate of: {', '.join(view['cleared']) or '-'}")

    @quarantines.command("confirm")
    def confirm_command(
        record: Annotated[str, typer.Argument(help="The held record: crm:<id> or books:<id>.")],
        survivor: Annotated[str, typer.Option("--survivor", help="The surviving copy (crm:/books:<id>).")],
        reason: ReasonOption = "",
        actor: ActorOption = None,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Confirm a held record is a duplicate: it stays held and the survivor is recorded."""
        who = actor or default_actor()
        _operate(
            stack_name,
            region,
            state_dir,
            lambda admin: admin.confirm(record, survivor=survivor, actor=who, reason=reason),
        )

    @app.command("link")
    def link_command(
        crm: Annotated[str, typer.Option("--crm", help="CRM record id (or crm:<id>).")],
        books: Annotated[str, typer.Option("--books", help="Books customer id (or books:<id>).")],
        reason: ReasonOption = "",
        actor: ActorOption = None,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Pair a CRM record and a Books customer by hand in the shadow mapping (provenance: admin)."""
        who = actor or default_actor()
        _operate(
            stack_name, region, state_dir, lambda admin: admin.link(crm, books, actor=who, reason=reason)
        )

    @breaker.command("reset")
    def reset_command(
        reason: ReasonOption = "",
        actor: ActorOption = None,
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
    ) -> None:
        """Close the storm breaker: new creates are decided normally again."""
        who = actor or default_actor()
        _operate(stack_name, region, state_dir, lambda admin: admin.reset_breaker(actor=who, reason=reason))
