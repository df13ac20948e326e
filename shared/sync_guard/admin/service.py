"""Admin operations, shared by the CLI (``sync-guard quarantines|link|breaker``) and the admin HTTP API.

Each operation is one audited transaction with its actor (CLI: ``--actor``, default the OS user; HTTP: the
IAM caller's ARN):

- ``list_holds``: open quarantines, newest first, with the record's name and the rules that held it.
- ``hold``: hold a record by hand, as the engine holds one (``sync-guard preflight`` holds what the first
  sync would clone): the ``HOLD`` item, the hold action in the outbox, the echo it expects on the record.
- ``release``: undo a hold. Hold actions that never ran are cancelled; those that ran (or may have: a
  timeout) get their inverse queued through the outbox (remove the CRM tag, mark the Books customer active).
  Holds decided in ``observe`` mode never touched Zoho, so there is nothing to undo there (unless applied).
- ``release_moot``: release a hold a Books customer turned vendor made moot (``admin.moot``), judging
  nothing; audited as operation ``release_moot``, naming the vendors.
- ``apply``: write a hold decided in ``observe`` mode to Zoho once the guard enforces, as ``hold`` writes
  one; the hold keeps its decision (rules, "judged distinct" on release), status and survivor.
- ``forget_release``: undo the judgement a release left behind (two records are not duplicates), so the
  next event of either decides them afresh.
- ``confirm``: the held record is a duplicate; it stays held and the survivor is recorded.
- ``link``: pair a CRM record and a Books customer by hand (provenance ``admin``), unpairing their former
  partners; repairs the shadow mapping after a CRM merge or a wrong inference. Refused where Zoho's own link
  pairs either record elsewhere: the engine follows Zoho's link, and would undo the pair at the next event.
- ``record``: one record as the shadow holds it (partner, hold, the records it was judged distinct from).
- ``reset_breaker``: close the multiplication-storm circuit breaker.
- ``audit``: the audit queries (by record, rule, decision, time range), one page at a time.

The outbox actions these operations queue are built in ``admin.actions``, a link's new pairs and its refusal
in ``admin.links``; the reads and the one transaction of each operation are ``admin.dynamo``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sync_guard.admin.actions import MAY_HAVE_RUN, UNDO, hold_action, hold_module, undo_action
from sync_guard.admin.dynamo import DynamoAdminRepository
from sync_guard.admin.links import former_partners, relinked, zoho_link_conflict
from sync_guard.admin.model import Hold, HoldStatus, OperationResult, parse_ref
from sync_guard.admin.moot import moot_reason
from sync_guard.config import Mode, Settings
from sync_guard.errors import ConcurrentUpdate, Conflict, InvalidPayload, NotFound
from sync_guard.executor.dynamo import DynamoActionStore
from sync_guard.executor.model import ActionStatus
from sync_guard.executor.ports import ActionQueue
from sync_guard.executor.queue import outbox_queue
from sync_guard.guard.admin import admin_entry, admin_entry_id, reset_storm_breaker
from sync_guard.guard.model import (
    ActionKind,
    AuditEntry,
    Finding,
    OutboxAction,
    PairSource,
    RecordState,
)
from sync_guard.rules.catalogue import BY_CODE
from sync_guard.store.audit import AuditLog, AuditPage, AuditQuery
from sync_guard.store.shadow import link_key

logger = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _name_of(state: RecordState | None) -> dict[str, str]:
    """An audit entry's ``names`` for the record of ``state`` (none for a record the guard does not know)."""
    return {state.ref: state.record.name} if state is not None else {}


def judged_distinct(decision: AuditEntry | None, held: str, partner: str | None = None) -> frozenset[str]:
    """The records a hold was raised against, as "the same customer": releasing it judges them distinct.

    Never the held record's own ``partner``: an EMAIL_MISMATCH on an edit of a paired person names it,
    and the release says the emails were put right, not that the pair are two customers (judged distinct,
    the partner would be passed over as a duplicate should the pair's mapping break later).
    """
    if decision is None:
        return frozenset()
    return frozenset(
        ref
        for finding in decision.findings
        if finding.subject == held and (rule := BY_CODE.get(finding.code)) and rule.judges_duplicates
        for ref in finding.related
        if ref and ref not in (held, partner)
    )


def not_live(state: RecordState) -> str:
    """Why a record the guard takes for deleted is no longer live, in words: deleted in Zoho, or retired
    (a Books customer edited into a vendor, which Zoho still holds)."""
    if state.retired:
        return "is a Books vendor now (a customer no longer: retired from matching)"
    return "is deleted in Zoho"


#: What a 409 of the breaker reset names: the breaker's state conflicts, not a field of the body.
BREAKER_FIELD = "breaker"
#: What a 409 of ``apply`` names while the guard observes: its mode conflicts, not a field of the body.
MODE_FIELD = "mode"


def _being_written(hold_id: str) -> Conflict:
    """The release's refusal while the hold's own action runs against Zoho (undoing it now would race it)."""
    return Conflict(
        f"the hold of {hold_id} is being written to Zoho right now; release it again in a minute",
        field="hold_id",
    )


@dataclass
class AdminService:
    """The admin operations over the repository, the audit log, the outbox and its queue."""

    repository: DynamoAdminRepository
    audit_log: AuditLog
    actions: DynamoActionStore
    queue: ActionQueue | None
    mode: Mode
    hold_tag: str = "sync-guard-hold"
    hold_field: str = ""
    clock: Callable[[], datetime] = _utc_now

    @classmethod
    def from_settings(cls, settings: Settings) -> AdminService:
        return cls(
            repository=DynamoAdminRepository.from_settings(settings),
            audit_log=AuditLog.from_settings(settings),
            actions=DynamoActionStore.from_settings(settings),
            queue=outbox_queue(settings),
            mode=settings.mode,
            hold_tag=settings.crm_hold_tag,
            hold_field=settings.crm_hold_field,
        )

    # ------------------------------------------------------------------------------------ helpers
    def _took_no_effect(self, action: OutboxAction) -> bool:
        """Whether a hold Zoho refused left nothing behind: it is one write (mark inactive, or add the tag
        when no checkbox is configured). With a checkbox, the tag may be on even though ticking it failed."""
        return action.kind is ActionKind.MARK_BOOKS_INACTIVE or not self.hold_field

    @staticmethod
    def _actor(actor: str) -> str:
        """The operation's actor as the audit entry records it: stripped, at most 200 characters."""
        if not actor or not actor.strip():
            raise InvalidPayload("every admin operation needs an actor", field="actor")
        return actor.strip()[:200]

    def _stamp(self, operation: str, ref: str, actor: str) -> tuple[str, datetime]:
        """The audit entry id and time of ``actor``'s ``operation`` on ``ref`` (refs joined by ``|``), known
        before the entry is built: the outbox actions an operation queues are keyed by its entry's id."""
        now = self.clock()
        return admin_entry_id(f"{operation}|{ref}", actor, now), now

    def _entry(
        self,
        operation: str,
        actor: str,
        records: tuple[str, ...],
        note: str,
        *,
        stamp: tuple[str, datetime] | None = None,
        mode: Mode | None = None,
        **fields: Any,
    ) -> AuditEntry:
        """The operation's audit entry (``stamp``: its id and time, when its actions needed the id first;
        ``mode``: the guard's unless the operation overrides it); ``fields``: rules, names, actions, ..."""
        entry_id, now = stamp or self._stamp(operation, "|".join(records), actor)
        return admin_entry(
            operation,
            actor=actor,
            at=now,
            mode=mode or self.mode,
            note=note,
            entry_id=entry_id,
            records=records,
            **fields,
        )

    def _hold_actions(self, hold: Hold, decision: AuditEntry | None) -> list[OutboxAction]:
        """The hold actions written for ``hold``: those of its ``decision`` (the entry that made it, read by
        the caller), and those of the ``apply`` that wrote an observe-mode hold to Zoho since
        (``Hold.applied_by``, on the item)."""
        applied = self.audit_log.get(hold.applied_by) if hold.applied_by else None
        return [
            action
            for entry in (decision, applied)
            if entry is not None
            for action in entry.actions
            if action.target == hold.hold_id and action.kind in UNDO
        ]

    def _enqueue(self, action_ids: list[str]) -> None:
        if not action_ids or self.queue is None:
            return
        try:
            self.queue.send(action_ids)
        except Exception as error:  # committed as pending: the sweep re-queues them
            logger.warning("admin: outbox enqueue failed", extra={"error": type(error).__name__})

    # ------------------------------------------------------------------------------------ holds
    def list_holds(self, status: HoldStatus | None = None) -> list[Hold]:
        """Open quarantines (held and confirmed, or one of them), newest first, with the record's name."""
        holds = [h for h in self.repository.holds() if status is None or h.status is status]
        states = self.repository.states(h.hold_id for h in holds)
        named = [
            hold.model_copy(update={"name": state.record.name if (state := states.get(hold.hold_id)) else ""})
            for hold in holds
        ]
        return sorted(
            named, key=lambda h: (h.at or datetime.min.replace(tzinfo=UTC), h.hold_id), reverse=True
        )

    def hold(
        self,
        hold_id: str,
        *,
        actor: str,
        reason: str = "",
        rules: tuple[str, ...] = (),
        related: tuple[str, ...] = (),
        evidence: tuple[str, ...] = (),
        findings: tuple[Finding, ...] = (),
        names: dict[str, str] | None = None,
        module: str | None = None,
        operation: str = "hold",
        enqueue: bool = True,
        mode: Mode | None = None,
    ) -> OperationResult:
        """Hold a record back from the sync, as the engine does: ``release`` and ``confirm`` then apply.

        A CRM record gets the hold tag, a Books customer is marked inactive, through the outbox (in
        ``observe`` mode the action is recorded, never run). ``mode`` overrides the guard's for this hold
        (``preflight --apply`` writes its holds while the guard observes). ``enqueue=False`` leaves the
        queued action to the caller (``preflight`` runs it at once). A record already held in ``enforce``
        mode, or confirmed, is a ``Conflict``, as is one whose state names a hold not listed (yet); an
        ``observe``-mode hold, which never reached Zoho, is replaced. ``findings``: the rules' findings the
        hold stands on (the guard holding a record again, ``admin.moot``), so that a release judges as a
        release of the engine's hold does.
        """
        actor = self._actor(actor)
        mode = mode or self.mode
        ref = parse_ref(hold_id, field="record")
        related = tuple(dict.fromkeys(parse_ref(other, field="related") for other in related))
        if ref in related:
            raise InvalidPayload("a record is not related to itself", field="related")
        existing = self.repository.hold(ref)
        if existing is not None and (existing.applied_in_zoho or existing.status is HoldStatus.CONFIRMED):
            raise Conflict(
                f"{ref} is already held ({existing.status.value}, {existing.entry_id})",
                field="record",
            )
        state = self.repository.state(ref)
        if state is not None and state.held_by not in (None, existing.entry_id if existing else None):
            # The guard's hold committed without its HOLD item yet (a transaction split on a development
            # server writes the item right after): holding on top would run both holds' actions.
            raise Conflict(
                f"{ref} is already held ({HoldStatus.HELD.value}, {state.held_by}); its quarantine is being "
                "listed: look again in a moment (still not listed: release it, then hold it)",
                field="record",
            )
        entry_id, now = stamp = self._stamp(operation, ref, actor)
        action = hold_action(
            entry_id,
            ref,
            tag=self.hold_tag,
            module=hold_module(ref, module, state),
            rules=rules,
            mode=mode,
            now=now,
        )
        note = reason or "held by an admin"
        if mode is Mode.OBSERVE:
            note += "; observe mode: the hold is recorded but NOT written to Zoho"
        elif self.mode is Mode.OBSERVE:
            note += "; written to Zoho although the guard observes (asked for)"
        entry = self._entry(
            operation,
            actor,
            (ref, *related),
            note,
            stamp=stamp,
            mode=mode,
            rules=rules,
            evidence=evidence,
            findings=findings,
            actions=(action,),
            names=(names or {}) | _name_of(state),
        )
        try:
            self.repository.put_hold(entry, action, replaces=existing, state=state)
        except ConcurrentUpdate as error:
            raise Conflict(
                f"{ref} changed meanwhile (held, or an event was processed); run it again", field="record"
            ) from error
        queued = [action.action_id] if action.execute else []
        if enqueue:
            self._enqueue(queued)
        return OperationResult(operation=operation, entry=entry, queued_actions=tuple(queued))

    def _listed_hold(self, hold_id: str) -> Hold:
        """The ``HOLD`` item of ``hold_id`` (``NotFound`` naming ``hold_id`` when it has none)."""
        ref = parse_ref(hold_id, field="hold_id")
        hold = self.repository.hold(ref)
        if hold is None:
            raise NotFound(f"{ref} is not held", field="hold_id")
        return hold

    def apply(self, hold_id: str, *, actor: str, reason: str = "") -> OperationResult:
        """Write a hold decided in ``observe`` mode to Zoho, now that the guard runs in ``enforce``.

        Its hold action is queued through the outbox as ``hold`` queues one (the CRM tag through the record's
        module, or mark the Books customer inactive; the record's state expects the echo). The ``HOLD`` item
        keeps its decision, rules, status and survivor, becomes an ``enforce`` hold and records this entry as
        ``applied_by``: ``release`` undoes this entry's action and still judges as the decision says.

        Refused: a record not held (``NotFound``); a hold already written to Zoho, the guard observing, a
        record deleted in Zoho, or a hold or state that changed meanwhile (``Conflict``).
        """
        actor = self._actor(actor)
        hold = self._listed_hold(hold_id)
        ref = hold.hold_id
        if hold.applied_in_zoho:
            raise Conflict(
                f"{ref} is already held in Zoho ({hold.mode} mode, {hold.entry_id})", field="hold_id"
            )
        if self.mode is not Mode.ENFORCE:
            raise Conflict(
                f"the guard runs in {self.mode.value} mode: switch to enforce first, then apply {ref}",
                field=MODE_FIELD,
            )
        state = self.repository.state(ref)
        if state is not None and state.deleted:
            raise Conflict(f"{ref} {not_live(state)}; release the hold instead", field="hold_id")
        # A CRM record the guard does not know is tagged through the module its hold named (``--module``).
        written = self._hold_actions(hold, self.audit_log.get(hold.entry_id))
        known = state.record.module.value if state is not None else None
        module = known or next((a.params["module"] for a in written if a.params.get("module")), None)
        entry_id, now = stamp = self._stamp("apply", ref, actor)
        action = hold_action(
            entry_id, ref, tag=self.hold_tag, module=module, rules=hold.rules, mode=self.mode, now=now
        )
        entry = self._entry(
            "apply",
            actor,
            (ref,),
            (reason or "observe-mode hold applied by an admin")
            + f"; the hold of {hold.entry_id} is written to Zoho now",
            stamp=stamp,
            rules=hold.rules,
            actions=(action,),
            names=_name_of(state),
        )
        changed = Conflict(
            f"{ref} changed meanwhile (released, held again, or an event was processed); run it again",
            field="hold_id",
        )
        if state is not None and state.held_by not in (None, hold.entry_id):
            raise changed  # another hold marks the record: its own HOLD item replaces this one
        try:
            self.repository.apply(hold, state, entry, action)
        except ConcurrentUpdate as error:
            raise changed from error
        self._enqueue([action.action_id])
        return OperationResult(
            operation="apply",
            entry=entry,
            queued_actions=(action.action_id,),
            detail={"decision": hold.entry_id},
        )

    def _hold_to_release(self, hold_id: str) -> tuple[Hold, bool, RecordState | None, AuditEntry | None]:
        """The hold of ``hold_id``, whether it is listed (has its ``HOLD`` item), the record's state and the
        decision that made the hold, each read once.

        A hold the guard committed in a transaction split on a development server marks the record's state
        before its ``HOLD`` item is written; a crash in between leaves the mark without the item. The
        record is then held (its actions run) but listed nowhere, and ``hold`` refuses it as already held:
        it is released from the mark, as the decision the mark names recorded it.
        """
        ref = parse_ref(hold_id, field="hold_id")
        hold = self.repository.hold(ref)
        state = self.repository.state(ref)
        if hold is not None:
            return hold, True, state, self.audit_log.get(hold.entry_id)
        decision = self.audit_log.get(state.held_by) if state is not None and state.held_by else None
        if decision is None:
            raise NotFound(f"{ref} is not held", field="hold_id")
        unlisted = Hold(
            hold_id=ref,
            entry_id=decision.entry_id,
            rules=decision.rules,
            at=decision.at,
            mode=decision.mode.value,
        )
        return unlisted, False, state, decision

    def release(self, hold_id: str, *, actor: str, reason: str = "") -> OperationResult:
        """Undo a hold (see the module docstring); the record syncs again once the undo actions ran. A hold
        that marks the record's state but was never listed is released too (``_hold_to_release``)."""
        return self._release(hold_id, actor=actor, reason=reason)

    def release_moot(self, hold_id: str, *, actor: str, vendors: Iterable[str]) -> OperationResult:
        """Release a hold the Books customers turned vendors ``vendors`` made moot (``admin.moot``), as
        ``release`` does, judging nothing: nobody looked at the records, so those it was raised against are
        not remembered as judged distinct.

        Audited as operation ``release_moot``, its records the held one, then the vendors other than it
        (none when the held record is the vendor), its note ``moot_reason``'s: what the release was is read
        from the operation and the records (``admin.moot.made_moot_by``), never from the note's words."""
        ref = parse_ref(hold_id, field="hold_id")
        named = sorted({parse_ref(vendor, field="vendors") for vendor in vendors})
        if not named:
            raise InvalidPayload("a hold is made moot by a vendor: name one", field="vendors")
        return self._release(
            ref,
            actor=actor,
            reason=moot_reason(named),
            operation="release_moot",
            related=tuple(vendor for vendor in named if vendor != ref),
            judge=False,
        )

    def _release(
        self,
        hold_id: str,
        *,
        actor: str,
        reason: str,
        operation: str = "release",
        related: tuple[str, ...] = (),
        judge: bool = True,
    ) -> OperationResult:
        """``release`` (``judge``: remember the records it was raised against as not duplicates) and
        ``release_moot`` (``related``: the vendors it names after the held record)."""
        actor = self._actor(actor)
        hold, listed, state, decision = self._hold_to_release(hold_id)
        # An applied observe-mode hold is undone by its apply's action (its decision's never ran), and is
        # still judged as its decision says.
        hold_actions = self._hold_actions(hold, decision)
        to_undo: list[OutboxAction] = []
        cancelled: list[str] = []
        refused = False
        for action in hold_actions:
            found = self.actions.actions_of_entry([action.action_id]).get(action.action_id)
            if found is None:
                continue
            status, attempts = found
            if status is ActionStatus.RUNNING:
                raise _being_written(hold.hold_id)
            if status.claimable:
                before = self.actions.cancel(
                    action.action_id, reason=f"released by {actor}", now=self.clock()
                )
                if before is not None and before.claimable:
                    cancelled.append(action.action_id)
                    if attempts == 0:
                        continue  # never sent to Zoho: nothing to undo
                elif before is ActionStatus.RUNNING:
                    raise _being_written(hold.hold_id)
            elif status is ActionStatus.CANCELLED and attempts > 0:
                pass  # cancelled by a release that then failed: it was tried, so Zoho may hold the record
            elif status is ActionStatus.FAILED and self._took_no_effect(action):
                refused = True
                continue  # Zoho refused the one write the hold is: undoing it would fail the same way
            elif status not in MAY_HAVE_RUN:
                continue  # not_executed (observe) or cancelled before it ran: Zoho never held it
            to_undo.append(action)
        known_module = state.record.module.value if state else None
        entry_id, now = stamp = self._stamp(operation, hold.hold_id, actor)
        undo_actions = tuple(
            undo_action(
                entry_id,
                action,
                rules=hold.rules,
                known_module=known_module,
                guard_mode=self.mode,
                hold_tag=self.hold_tag,
                now=now,
            )
            for action in to_undo
        )
        judged = (
            judged_distinct(decision, hold.hold_id, state.partner)
            if state is not None and judge
            else frozenset()
        )
        note = reason or "released by an admin"
        if judged:
            note += (
                f"; judged not a duplicate of {', '.join(sorted(judged))}: the guard will not hold it, its "
                "copy on the other side, or them for that again"
            )
        if cancelled:
            note += f"; {len(cancelled)} hold action(s) that had not completed were cancelled"
        if not undo_actions:
            note += "; nothing had been written to Zoho, nothing to undo"
        if refused:
            # Finance was told to hold it by hand when Zoho refused: only a person can undo that.
            note += "; if the record was held by hand after Zoho refused the hold, undo that in Zoho too"
        elif not all(action.execute for action in undo_actions):
            # Observe mode writes nothing to Zoho, not even an undo: say so where the admin will look.
            note += "; observe mode: the undo is recorded but NOT written to Zoho (undo it there by hand)"
        entry = self._entry(
            operation,
            actor,
            (hold.hold_id, *related),
            note,
            stamp=stamp,
            rules=hold.rules,
            actions=undo_actions,
            names=_name_of(state),
        )
        try:
            self.repository.release(hold, state, entry, undo_actions, cleared=judged, listed=listed)
        except ConcurrentUpdate as error:
            # the hold was released or replaced, or an event moved the record on, since it was read
            raise Conflict(
                f"{hold.hold_id} changed meanwhile (released, held again, or an event was processed); "
                "look again, and release it again if it is still held",
                field="hold_id",
            ) from error
        queued = [a.action_id for a in undo_actions if a.execute]
        self._enqueue(queued)
        return OperationResult(
            operation=operation,
            entry=entry,
            queued_actions=tuple(queued),
            detail={"cancelled": cancelled, "undo": [a.kind.value for a in undo_actions]},
        )

    def forget_release(self, record: str, *, against: str, actor: str, reason: str = "") -> OperationResult:
        """Forget that a release judged ``record`` and ``against`` not duplicates of one another.

        The judgement reaches each record's partner on the other side (the engine passes over either record
        of either pair), so it is taken off all four states; the next event of any of them is decided
        afresh, and may be held again. Nothing is written to Zoho. A pair never judged is ``NotFound``.
        """
        actor = self._actor(actor)
        ref = parse_ref(record, field="record")
        other = parse_ref(against, field="against")
        if other == ref:
            raise InvalidPayload("a record is never judged against itself", field="against")
        ours, theirs = self._pair_states(ref, "record"), self._pair_states(other, "against")
        if {s.ref for s in ours} & {s.ref for s in theirs}:
            raise InvalidPayload(f"{ref} and {other} are one customer's pair, not judged", field="against")
        changes: list[tuple[RecordState, int]] = []
        forgotten: dict[str, list[str]] = {}
        for states, counterparts in ((ours, theirs), (theirs, ours)):
            for state in states:
                dropped = state.cleared & {s.ref for s in counterparts}
                if dropped:
                    changes.append((state.model_copy(update={"cleared": state.cleared - dropped}), state.rev))
                    forgotten[state.ref] = sorted(dropped)
        if not changes:
            raise NotFound(f"{ref} was never released as not a duplicate of {other}", field="against")
        entry = self._entry(
            "forget_release",
            actor,
            tuple(dict.fromkeys((ref, other, *forgotten))),
            (reason or "release judgement forgotten by an admin")
            + f"; {ref} and {other} may be held as duplicates again at their next event",
            names={s.ref: s.record.name for s in (*ours, *theirs)},
        )
        try:
            self.repository.write_states(entry, changes)
        except ConcurrentUpdate as error:
            raise Conflict(
                f"{ref}, {other} or a partner of theirs changed meanwhile (an event was processed); "
                "run it again",
                field="record",
            ) from error
        return OperationResult(operation="forget_release", entry=entry, detail={"forgotten": forgotten})

    def _pair_states(self, ref: str, field: str) -> list[RecordState]:
        """The record's state and its partner's (when the guard knows it); ``NotFound`` naming ``field``."""
        state = self._known(ref, field)
        partner = self.repository.state(state.partner) if state.partner else None
        return [state] + ([partner] if partner is not None else [])

    def _known(self, ref: str, field: str) -> RecordState:
        """The record's state; ``NotFound`` naming ``field`` when the guard does not know it."""
        found = self.repository.state(ref)
        if found is None:
            raise NotFound(f"the guard does not know {ref}", field=field)
        return found

    def record(self, ref: str) -> RecordState:
        """One record as the shadow holds it: partner, hold, and what releases judged it distinct from."""
        return self._known(parse_ref(ref, field="record"), "record")

    def confirm(self, hold_id: str, *, survivor: str, actor: str, reason: str = "") -> OperationResult:
        """Confirm the held record as a duplicate of ``survivor``: it stays held; the survivor is recorded."""
        actor = self._actor(actor)
        hold = self._listed_hold(hold_id)
        survivor_ref = parse_ref(survivor, field="survivor")
        if survivor_ref == hold.hold_id:
            raise InvalidPayload("the survivor must be another record than the held one", field="survivor")
        if hold.status is HoldStatus.CONFIRMED:
            raise Conflict(f"{hold.hold_id} is already confirmed (survivor {hold.survivor})", field="hold_id")
        states = self.repository.states((survivor_ref, hold.hold_id))
        survivor_state = states.get(survivor_ref)
        if survivor_state is None:
            raise NotFound(f"the guard does not know {survivor_ref}", field="survivor")
        held_state = states.get(hold.hold_id)
        names = _name_of(survivor_state) | _name_of(held_state)
        entry = self._entry(
            "confirm",
            actor,
            (hold.hold_id, survivor_ref),
            reason or f"confirmed as a duplicate of {survivor_ref}; stays held",
            rules=hold.rules,
            names=names,
        )
        try:
            self.repository.confirm(hold, survivor_ref, entry)
        except ConcurrentUpdate as error:
            raise Conflict(
                f"{hold.hold_id} changed meanwhile (released or confirmed); look again", field="hold_id"
            ) from error
        return OperationResult(operation="confirm", entry=entry, detail={"survivor": survivor_ref})

    # ------------------------------------------------------------------------------------ links
    def link(self, crm: str, books: str, *, actor: str, reason: str = "") -> OperationResult:
        """Pair a CRM record with a Books customer by hand; their former partners are unpaired."""
        actor = self._actor(actor)
        crm_ref = parse_ref(crm, default_system="crm", field="crm")
        books_ref = parse_ref(books, default_system="books", field="books")
        known = self.repository.states((crm_ref, books_ref))
        crm_state, books_state = known.get(crm_ref), known.get(books_ref)
        if crm_state is None or books_state is None:
            missing = crm_ref if crm_state is None else books_ref
            raise NotFound(
                f"the guard does not know {missing}; seed or sync it first",
                field="crm" if crm_state is None else "books",
            )
        for state, field in ((crm_state, "crm"), (books_state, "books")):
            if state.deleted:
                raise Conflict(f"{state.ref} {not_live(state)}; link a live customer", field=field)
        already = crm_state.partner == books_ref and books_state.partner == crm_ref
        if (
            already
            and crm_state.pair_source is PairSource.ADMIN
            and books_state.pair_source is PairSource.ADMIN
        ):
            raise Conflict(f"{crm_ref} is already linked to {books_ref} by an admin", field="books")
        self._refuse_against_zoho_link(crm_state, books_state)
        formers = self.repository.states(former_partners(crm_state, books_state))
        changes, unpaired = relinked(crm_state, books_state, formers)
        names = {crm_ref: crm_state.record.name, books_ref: books_state.record.name}
        entry = self._entry(
            "link",
            actor,
            (crm_ref, books_ref, *unpaired),
            reason
            or f"linked {crm_ref} and {books_ref} by hand"
            + (f"; unpaired {', '.join(unpaired)}" if unpaired else ""),
            names=names,
        )
        try:
            self.repository.write_states(entry, changes)
        except ConcurrentUpdate as error:
            raise Conflict(
                f"{crm_ref}, {books_ref} or a former partner of theirs changed while linking (an event was "
                "processed); run it again",
                field="crm",
            ) from error
        return OperationResult(operation="link", entry=entry, detail={"unpaired": unpaired})

    def _refuse_against_zoho_link(self, crm_state: RecordState, books_state: RecordState) -> None:
        """Refuse a link Zoho's own link contradicts, as the guard last saw it: the Books customer linked to
        another CRM record (``books``), or, the customer not linked to this one, another live Books customer
        linked to the CRM record (``crm``). The engine pairs as Zoho links (``guard.engine._pair``)."""
        crm_id = crm_state.record.record_id
        linked = books_state.record.linked_crm_id
        if linked:
            if linked != crm_id:
                raise zoho_link_conflict(books_state, crm_state.ref, books_state.ref, field="books")
            return  # Zoho's link agrees: the engine keeps the pair
        members = self.repository.states(self.repository.key(link_key(crm_id)).members - {books_state.ref})
        for _, other in sorted(members.items()):
            if other.live and other.record.linked_crm_id == crm_id:
                raise zoho_link_conflict(other, crm_state.ref, books_state.ref, field="crm")

    # ------------------------------------------------------------------------------------ breaker
    def reset_breaker(self, *, actor: str, reason: str = "") -> OperationResult:
        """Close the storm breaker: new creates are decided normally again."""
        actor = self._actor(actor)
        try:
            entry = reset_storm_breaker(
                self.repository,
                actor=actor,
                reason=reason or "storm breaker reset by an admin",
                mode=self.mode,
                now=self.clock(),
            )
        except ConcurrentUpdate as error:
            raise Conflict("the storm breaker is not open: nothing to reset", field=BREAKER_FIELD) from error
        return OperationResult(operation="reset_storm_breaker", entry=entry)

    # ------------------------------------------------------------------------------------ audit
    def audit(self, query: AuditQuery, *, limit: int = 50, cursor: str | None = None) -> AuditPage:
        """One page of the audit trail, newest first (the audit store's query)."""
        return self.audit_log.query(query, limit=limit, cursor=cursor)
