"""``sync-guard preflight``: before a first sync or a reconnect, hold back what Zoho would duplicate.

Zoho's first run (and every reconnect) pairs CRM records with Books customers by *exact* name and clones
the rest. The seed's advice is to clean first and connect with a tight scope; preflight does the checking
part of that: for every CRM record in the sync's scope it works out whether the sync would pair it, and
when it would not but the matcher finds its Books customer anyway ("Acme Ltd" vs "Acme Limited"), it

- lists the rename that would make the pair line up (the CRM record takes the Books name, since the Books
  copy holds the invoices), and
- in enforce mode, holds the CRM record back: adds the guard's hold tag, which takes it out of the CRM
  view the sync uses, so the sync skips it instead of cloning it. Each hold is the admin service's
  ``hold`` (audited with its actor, listed by ``quarantines list``, undone by ``quarantines release``),
  and its tag is written at once by the outbox executor, so the sync can be connected when this returns.

CRM records with no Books customer at all are left alone (the sync should create those), as are records
that would pair exactly. A CRM record that duplicates another CRM record which already pairs is held too:
its clone would be a duplicate (or a 3062 failure). Input: the live (or simulated) APIs, or Zoho exports.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sync_guard.cli._context import (
    DEFAULT_STATE_DIR,
    ActorOption,
    RegionOption,
    StackOption,
    StateDirOption,
    default_actor,
    resolve_settings,
)
from sync_guard.cli._options import BooksSheetOption, CrmSheetOption, check_sheet_options
from sync_guard.cli._zoho_source import crm_modules, every_books_contact, exit_under_another_organization
from sync_guard.config import Mode, Settings
from sync_guard.errors import ClientError, ConfigurationError, SyncGuardError
from sync_guard.executor.model import ActionMessage, ActionStatus
from sync_guard.matching import Verdict, blocking_keys, compare
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.zoho.convert import books_contact_to_party, crm_record_to_party

if TYPE_CHECKING:  # the AWS side is imported only by the commands that use it
    from sync_guard.admin.service import AdminService
    from sync_guard.executor.ports import ActionQueue
    from sync_guard.executor.service import Executor

CRM_FIELDS = {
    "Accounts": (
        "Account_Name",
        "Phone",
        "Website",
        "Billing_Code",
        "Billing_City",
        "Billing_Country",
        "Tag",
    ),
    "Contacts": (
        "First_Name",
        "Last_Name",
        "Full_Name",
        "Email",
        "Phone",
        "Mailing_Zip",
        "Account_Name",
        "Tag",
    ),
}


@dataclass(frozen=True)
class SideRecord:
    """A record as preflight needs it: the domain record plus the names exactly as Zoho stores them."""

    party: PartyRecord
    #: Exact names the sync compares: CRM's record name; Books' display name and company name.
    names: tuple[str, ...]
    held: bool = False


@dataclass(frozen=True)
class PreflightHold:
    """A CRM record the sync would not pair with the Books customer it belongs to."""

    crm: PartyRecord
    partner: PartyRecord | None
    reason: str
    rename: str
    evidence: tuple[str, ...] = ()
    #: The rule of the catalogue the clone would trigger (what the hold is listed and audited under).
    rule: str = "NAME_DRIFT"


@dataclass
class PreflightPlan:
    """What preflight found: the holds (with renames) and how the rest would fare."""

    holds: list[PreflightHold] = field(default_factory=list)
    pairs_exactly: int = 0
    new_customers: int = 0
    already_held: int = 0
    #: Holds recorded (audit entry, hold item, outbox action), and of those, tags written to Zoho.
    recorded: int = 0
    applied: int = 0
    #: Planned holds not made or not (yet) written to Zoho, with the reason: "crm:1: already held ...".
    not_applied: list[str] = field(default_factory=list)
    #: Whether the holds were made (False: a dry run).
    holding: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "holds": [
                {
                    "crm": hold.crm.ref,
                    "crm_name": hold.crm.name,
                    "books": hold.partner.ref if hold.partner else None,
                    "books_name": hold.partner.name if hold.partner else None,
                    "reason": hold.reason,
                    "rename": hold.rename,
                    "evidence": list(hold.evidence),
                    "rule": hold.rule,
                }
                for hold in self.holds
            ],
            "pairs_exactly": self.pairs_exactly,
            "new_customers": self.new_customers,
            "already_held": self.already_held,
            "recorded": self.recorded,
            "applied": self.applied,
            "not_applied": self.not_applied,
        }


def _email_of(record: PartyRecord) -> set[str]:
    emails = {record.email or "", *record.other_emails}
    return {e.casefold() for e in emails if e}


def plan_preflight(
    crm: Sequence[SideRecord], books: Sequence[SideRecord], *, pair_contacts_by_email: bool = True
) -> PreflightPlan:
    """Which in-scope CRM records the sync would fail to pair with their Books customer, and the renames.

    Mirrors the native sync's first run: exact names (as stored: case and spaces count) for accounts,
    email for contacts; a Books customer pairs once; CRM records are taken oldest first.
    """
    plan = PreflightPlan()
    by_name: dict[str, list[SideRecord]] = {}
    by_email: dict[str, list[SideRecord]] = {}
    by_key: dict[str, list[SideRecord]] = {}
    for record in books:
        if not record.party.active:
            continue  # the sync does not offer inactive customers for pairing
        if record.party.module is Module.BOOKS_VENDORS:
            continue  # accounts and contacts pair with customers; a supplier is another record
        for name in dict.fromkeys(record.names):
            by_name.setdefault(name, []).append(record)
        for email in _email_of(record.party):
            by_email.setdefault(email, []).append(record)
        for key in blocking_keys(record.party):
            by_key.setdefault(key, []).append(record)
    taken: dict[str, PartyRecord] = {}  # Books ref -> the CRM record that pairs with it exactly
    pending: list[SideRecord] = []
    for record in crm:
        if record.held:
            plan.already_held += 1
            continue
        if record.party.module is Module.CRM_CONTACTS and pair_contacts_by_email:
            exact = [b for e in _email_of(record.party) for b in by_email.get(e, [])]
        else:
            exact = [b for n in record.names[:1] for b in by_name.get(n, [])]
        exact = [b for b in exact if b.party.ref not in taken]
        if exact:
            taken[exact[0].party.ref] = record.party
            plan.pairs_exactly += 1
        else:
            pending.append(record)
    for record in pending:
        candidates: dict[str, SideRecord] = {}
        for key in blocking_keys(record.party):
            for books_record in by_key.get(key, []):
                candidates.setdefault(books_record.party.ref, books_record)
        best: tuple[float, SideRecord, Any] | None = None
        for books_record in candidates.values():
            result = compare(record.party, books_record.party)
            if result.verdict is Verdict.DUPLICATE and (best is None or result.score > best[0]):
                best = (result.score, books_record, result)
        if best is None:
            plan.new_customers += 1
            continue
        _, partner, result = best
        owner = taken.get(partner.party.ref)
        if owner is not None:
            plan.holds.append(
                PreflightHold(
                    crm=record.party,
                    partner=partner.party,
                    reason=f"duplicates CRM record {owner.ref} '{owner.name}', which pairs with "
                    f"{partner.party.ref}: the sync would clone it",
                    rename=f"merge {record.party.ref} into {owner.ref} in CRM (after the sync is paired)",
                    evidence=tuple(result.evidence),
                    rule="SAME_SIDE_DUPLICATE",
                )
            )
            continue
        taken[partner.party.ref] = record.party
        plan.holds.append(
            PreflightHold(
                crm=record.party,
                partner=partner.party,
                reason=f"same customer as Books {partner.party.ref} '{partner.party.name}' but the names "
                "differ, so Zoho's exact-name pairing would clone it",
                rename=f"rename CRM {record.party.ref} {record.names[0]!r} to {partner.names[0]!r}",
                evidence=tuple(result.evidence),
            )
        )
    return plan


# ------------------------------------------------------------------------------------------- sources


def _has_tag(data: Mapping[str, Any], tag: str) -> bool:
    return any(isinstance(t, Mapping) and t.get("name") == tag for t in data.get("Tag") or [])


def crm_side(module: Module, data: Mapping[str, Any], hold_tag: str) -> SideRecord:
    """A raw CRM record (API shape) as preflight input; its stored name is kept exactly."""
    party = crm_record_to_party(module, data)
    raw = data.get("Account_Name") if module is Module.CRM_ACCOUNTS else data.get("Full_Name")
    name = str(raw) if raw is not None and not isinstance(raw, Mapping) else party.name
    return SideRecord(party, (name,), held=_has_tag(data, hold_tag))


def books_side(data: Mapping[str, Any]) -> SideRecord:
    """A raw Books contact (API shape) as preflight input: display name, then company name."""
    names = tuple(str(n) for n in (data.get("contact_name"), data.get("company_name")) if n)
    return SideRecord(books_contact_to_party(data), names)


def load_from_zoho(
    zoho: Any, module: Module, *, hold_tag: str, view_id: str | None = None
) -> tuple[list[SideRecord], list[SideRecord]]:
    """CRM records (of the sync's view when given) and Books customers, through the Zoho clients."""
    crm_data = zoho.crm.list_records_data(module, fields=CRM_FIELDS[module.value], cvid=view_id)
    crm = [crm_side(module, data, hold_tag) for data in crm_data]
    books = [SideRecord(party, (party.name,)) for party in every_books_contact(zoho.books)]
    return crm, books


def load_from_exports(
    crm_export: Path, books_export: Path, *, crm_sheet: str | None = None, books_sheet: str | None = None
) -> tuple[list[SideRecord], list[SideRecord]]:
    """The same from Zoho's exports (names as exported), CSV files or workbooks (read from the sheets
    named, or their first visible ones)."""
    from sync_guard.exports.reader import read_export

    crm = [SideRecord(r, (r.name,)) for r in read_export(crm_export, System.CRM, sheet=crm_sheet).records]
    books = [
        SideRecord(r, (r.name,)) for r in read_export(books_export, System.BOOKS, sheet=books_sheet).records
    ]
    return crm, books


def apply_holds(
    plan: PreflightPlan,
    admin: AdminService,
    run_now: Callable[[list[str]], Mapping[str, ActionStatus]],
    module: Module,
    *,
    actor: str,
) -> int:
    """Hold every CRM record the plan holds, as the guard holds its own; returns how many were tagged.

    Each is the admin service's ``hold`` (audit entry with ``actor``, hold item, outbox action, expected
    echo), made in ``enforce`` mode whatever the guard's: asking preflight to hold means writing the tags,
    which ``run_now`` then does (the executor, see :func:`executor_run_now`).
    """
    plan.holding = True
    queued: dict[str, str] = {}
    for hold in plan.holds:
        names = {hold.crm.ref: hold.crm.name} | (
            {hold.partner.ref: hold.partner.name} if hold.partner else {}
        )
        try:
            result = admin.hold(
                hold.crm.ref,
                actor=actor,
                reason=f"preflight: {hold.reason}; {hold.rename}",
                rules=(hold.rule,),
                related=(hold.partner.ref,) if hold.partner else (),
                evidence=hold.evidence,
                names=names,
                module=module.value,
                operation="preflight_hold",
                enqueue=False,
                mode=Mode.ENFORCE,
            )
        except SyncGuardError as error:
            plan.not_applied.append(f"{hold.crm.ref}: {error.message}")
            continue
        plan.recorded += 1
        queued |= dict.fromkeys(result.queued_actions, hold.crm.ref)
    for action_id, status in run_now(list(queued)).items():
        if status is ActionStatus.DONE:
            plan.applied += 1
        else:
            plan.not_applied.append(_not_tagged(queued[action_id], status))
    return plan.applied


#: Why a hold tag preflight wrote at once is not on the record, by how its outbox action ended.
_NOT_TAGGED = {
    ActionStatus.RETRYING: "Zoho asked to try again later; the outbox retries it",
    ActionStatus.FAILED: "Zoho refused it",
    ActionStatus.DEAD_LETTERED: "it failed every try",
}


def _not_tagged(ref: str, status: ActionStatus) -> str:
    """Why ``ref``'s hold tag is not on it, in words (the outbox's name of a status without words yet)."""
    said = _NOT_TAGGED.get(status) or status.value.replace("_", " ")
    if status in (ActionStatus.FAILED, ActionStatus.DEAD_LETTERED):
        said += f"; 'sync-guard audit --record {ref}' says why"
    return f"{ref}: hold tag not added: {said}"


def executor_run_now(
    executor: Executor, queue: ActionQueue | None
) -> Callable[[list[str]], dict[str, ActionStatus]]:
    """Run outbox actions at once with ``executor``; those Zoho asks to retry go to the outbox queue."""

    def run(action_ids: list[str]) -> dict[str, ActionStatus]:
        messages = [ActionMessage(message_id=f"preflight-{i}", action_id=a) for i, a in enumerate(action_ids)]
        results = executor.run_batch(messages).results if messages else ()
        retry = [r.action_id for r in results if r.retry]
        if retry and queue is not None:
            queue.send(retry)  # else the scheduled sweep re-queues them
        return {r.action_id: r.status or ActionStatus.RETRYING for r in results}

    return run


def hold_with_guard(plan: PreflightPlan, settings: Settings, zoho: Any, module: Module, *, actor: str) -> int:
    """:func:`apply_holds` against the guard ``settings`` name, tags written with ``zoho``'s clients."""
    from sync_guard.admin.service import AdminService
    from sync_guard.executor.queue import outbox_queue
    from sync_guard.executor.wiring import build_executor

    executor = dataclasses.replace(build_executor(settings), zoho=lambda: zoho)
    # Preflight's holds are written whatever the guard's mode (see apply_holds).
    executor.config = dataclasses.replace(executor.config, mode=Mode.ENFORCE)
    run_now = executor_run_now(executor, outbox_queue(settings))
    return apply_holds(plan, AdminService.from_settings(settings), run_now, module, actor=actor)


# ----------------------------------------------------------------------------------------------- CLI


def register(app: typer.Typer) -> None:
    app.command()(preflight)


def preflight(
    module: Annotated[str, typer.Option(help="CRM module the sync maps to customers.")] = "Accounts",
    view: Annotated[str | None, typer.Option(help="Id of the CRM view used as the sync scope.")] = None,
    crm_export: Annotated[Path | None, typer.Option(help="CRM export file instead of the API.")] = None,
    books_export: Annotated[Path | None, typer.Option(help="Books export file instead of the API.")] = None,
    crm_sheet: CrmSheetOption = None,
    books_sheet: BooksSheetOption = None,
    apply: Annotated[
        bool | None,
        typer.Option(
            "--apply/--dry-run",
            help="Hold the records: tag them and record the holds (default: only in enforce mode).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    actor: ActorOption = None,
    stack_name: StackOption = None,
    region: RegionOption = None,
    state_dir: StateDirOption = DEFAULT_STATE_DIR,
) -> None:
    """Before a first sync or a reconnect: hold back CRM records Zoho would clone, list the renames."""
    crm_module_ = crm_modules([module])[0]
    if (crm_export is None) != (books_export is None):
        # One export alone would quietly read the other side from Zoho, or fail asking for Zoho.
        missing = "--books-export" if books_export is None else "--crm-export"
        raise typer.BadParameter(
            "give --crm-export and --books-export together (or neither)", param_hint=missing
        )
    check_sheet_options(
        crm_export, crm_sheet, books_export, books_sheet, file_options=("--crm-export", "--books-export")
    )
    if crm_export is not None and apply:
        raise typer.BadParameter(
            "from exports preflight only lists what to hold: holding writes the tags through Zoho's "
            "APIs, so leave out the exports",
            param_hint="--apply",
        )
    console = Console()
    if crm_export is not None and books_export is not None:
        try:
            crm, books = load_from_exports(
                crm_export, books_export, crm_sheet=crm_sheet, books_sheet=books_sheet
            )
        except ClientError as error:  # an export that cannot be read, named with its line (or sheet and row)
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(2) from error
        plan = plan_preflight(crm, books)
    else:
        from sync_guard.store import aws
        from sync_guard.store.checks import DynamoCheckState
        from sync_guard.zoho.auth import InMemoryTokenCache
        from sync_guard.zoho.factory import build_zoho_clients

        # The guard's own Zoho configuration, found like every admin command's (stack, environment, serve).
        settings = resolve_settings(stack_name=stack_name, region=region, state_dir=state_dir)
        # Another organisation's customers than the shadow's: neither read as the Books side nor held for.
        organization = settings.zoho_books_organization_id.strip()
        shadow_organization = DynamoCheckState(aws.client("dynamodb", settings), settings.shadow_table)
        doing = f"a preflight against organisation {organization}'s Books customers"
        exit_under_another_organization(shadow_organization, organization, doing=doing)
        try:
            with build_zoho_clients(settings, InMemoryTokenCache()) as zoho_clients:
                crm, books = load_from_zoho(
                    zoho_clients, crm_module_, hold_tag=settings.crm_hold_tag, view_id=view
                )
                plan = plan_preflight(crm, books)
                wants_apply = apply if apply is not None else settings.mode is Mode.ENFORCE
                if wants_apply:
                    # Again before holding: a scheduled run of a stack deployed meanwhile with another
                    # ZohoBooksOrganizationId may have recorded that one while Zoho was read.
                    exit_under_another_organization(shadow_organization, organization, doing=doing)
                    hold_with_guard(plan, settings, zoho_clients, crm_module_, actor=actor or default_actor())
        except ConfigurationError as error:
            typer.echo(
                f"error: {error.message}. preflight reads Zoho through the guard's configuration: give "
                "--stack-name/--region, set SYNC_GUARD_ZOHO_*, start 'sync-guard serve', or use "
                "--crm-export/--books-export.",
                err=True,
            )
            raise typer.Exit(2) from error
        except SyncGuardError as error:
            typer.echo(f"error: {error.message}", err=True)
            raise typer.Exit(1) from error
    if as_json:
        typer.echo(json.dumps(plan.to_json(), indent=2))
        return
    if plan.holds:
        table = Table(title="Preflight: records Zoho's exact-name pairing would clone")
        for column in ("CRM record", "Books customer", "Rename to pair them"):
            table.add_column(column)
        for hold in plan.holds:
            partner = f"{hold.partner.ref} {hold.partner.name}" if hold.partner else "-"
            table.add_row(f"{hold.crm.ref} {hold.crm.name}", partner, hold.rename)
        console.print(table)
    # With nothing the sync would clone there is nothing to clean first: no empty table, no advice to.
    advice = "Clean first, then connect with a tight scope." if plan.holds else "Nothing to hold back."
    console.print(
        f"{_held_line(plan)}; {plan.pairs_exactly} pair exactly; {plan.new_customers} new customers; "
        f"{plan.already_held} already held. {advice}"
    )
    for line in plan.not_applied:
        console.print(f"  not held in Zoho: {line}")
    if plan.recorded:
        console.print("Review with 'sync-guard quarantines list'; 'quarantines release' undoes a hold.")


def _held_line(plan: PreflightPlan) -> str:
    if not plan.holding:
        return f"{len(plan.holds)} to hold (dry run)"
    line = f"{plan.applied} held (tag added)"
    if plan.recorded > plan.applied:
        line += f", {plan.recorded - plan.applied} recorded but not yet tagged (see below)"
    return line
