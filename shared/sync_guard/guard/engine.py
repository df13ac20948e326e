"""The decision engine: one event in, one atomic commit of state, pairs, audit entry and outbox actions out.

``Guard.process(event)``:

1. Enrich: a Notification API event carries ids only; with a ``RecordFetcher`` the record is fetched,
   without one the event is audited as ``awaiting_enrichment`` (decision ``pending``) and nothing is guessed.
2. Read a ``Snapshot`` (``ShadowRepository.read_snapshot``): the event's audit marker, the record's previous
   state, its key items with their revisions, the candidates found through them, partner and breaker.
3. ``plan_event`` (pure): version guard (stale events change nothing), self-echo detection, pairing, key
   changes, breaker accounting, the rules, the policy's decision, outbox actions and the audit entry.
4. Commit it in one transaction. ``EventAlreadyProcessed``: a redelivery, nothing more to do. (An event
   whose record is fetched has its marker read before the fetch: a redelivery never asks Zoho.)
   ``ConcurrentUpdate``: someone wrote a key or state this plan depends on; read again and re-decide (the
   loser of two racing creates is re-evaluated against the winner and flagged), after a short wait with
   jitter; ``Throttled``: the same after a longer wait. Bounded in attempts and in time
   (``CommitBackoff``); past them the error propagates and the queue redelivers the event later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sync_guard.config import Mode, Settings
from sync_guard.errors import ConcurrentUpdate, Throttled
from sync_guard.guard.context import Candidate, RuleContext, StormStatus, invoiced_customer
from sync_guard.guard.loops import echoed_actions, expected_state
from sync_guard.guard.model import (
    ActionKind,
    AuditEntry,
    BreakerState,
    Decision,
    EntryKind,
    Finding,
    OutboxAction,
    PairSource,
    RecordState,
    action_id_for,
    epoch_ms,
    utc_now,
)
from sync_guard.guard.policy import Policy
from sync_guard.guard.ports import (
    BreakerChange,
    CommitPlan,
    EventAlreadyProcessed,
    KeyChange,
    Matcher,
    RecordFetcher,
    ShadowRepository,
    Snapshot,
    SnapshotRequest,
    StateWrite,
)
from sync_guard.guard.retry import CommitBackoff
from sync_guard.models.events import Channel, GuardEvent, Operation
from sync_guard.models.records import SYNCED_FIELDS, Module, PartyRecord, RecordKind, System
from sync_guard.rules.base import Rule
from sync_guard.rules.both_sides_created import both_sides_basis
from sync_guard.rules.catalogue import RULES
from sync_guard.rules.crm_merge_orphan import merge_masters, merge_survivor
from sync_guard.rules.email_mismatch import as_person
from sync_guard.rules.mixed_mapping import mix_basis
from sync_guard.store.shadow import MAX_KEY_MEMBERS, link_key
from sync_guard.timefmt import utc_minute


@dataclass(frozen=True)
class GuardConfig:
    """The decision settings, validated once (``GuardConfig.from_settings`` at cold start)."""

    mode: Mode = Mode.OBSERVE
    policy: Policy = field(default_factory=Policy.build)
    crm_hold_tag: str = "sync-guard-hold"
    storm_threshold: int = 10
    storm_window_seconds: int = 600
    both_sides_window: timedelta = timedelta(hours=72)
    max_candidates: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> GuardConfig:
        return cls(
            mode=settings.mode,
            policy=Policy.build(settings.rule_policy),
            crm_hold_tag=settings.crm_hold_tag,
            storm_threshold=settings.storm_threshold,
            storm_window_seconds=settings.storm_window_seconds,
            both_sides_window=timedelta(hours=settings.both_sides_window_hours),
        )


#: How a decision's note begins when its event brought a Books customer turned vendor back as a customer.
RETURNED_NOTE = "a Books vendor edited back into a customer"


@dataclass(frozen=True)
class GuardResult:
    event_id: str
    entry: AuditEntry | None
    already_processed: bool = False
    attempts: int = 1
    #: The event brought a Books customer turned vendor (retired) back as a customer, and was decided.
    returned: bool = False

    @property
    def decision(self) -> Decision | None:
        return self.entry.decision if self.entry else None


def shadow_keys(record: PartyRecord, matcher: Matcher) -> frozenset[str]:
    """The keys a record is indexed under: the matcher's blocking keys plus its Zoho link, if any. A Books
    vendor has none: the guard matches customers only (a customer turned vendor is kept out of the index,
    by ``sync-guard rekey`` too)."""
    if record.module is Module.BOOKS_VENDORS:
        return frozenset()
    keys = set(matcher.blocking_keys(record))
    if record.system is System.BOOKS and record.linked_crm_id:
        keys.add(link_key(record.linked_crm_id))
    return frozenset(keys)


# The prefix of the matcher's exact-name keys (``sync_guard.matching.blocking``; its fakes use it too).
NAME_KEY = "n:"


def person_name_keys(matcher: Matcher, customer: PartyRecord) -> frozenset[str]:
    """The exact-name keys (``n:``) a CRM contact of the name of one of ``customer``'s contact persons (one
    with an address) is indexed under."""
    return frozenset(
        key
        for person in customer.contact_persons
        if person.email
        for key in matcher.blocking_keys(as_person(customer, person))
        if key.startswith(NAME_KEY)
    )


def storm_bucket(event: GuardEvent, window_seconds: int) -> int:
    # Event time, not processing time: a redelivery or a retry counts in the same window.
    return int(event.received_at.timestamp()) // window_seconds


def _version(event: GuardEvent, record: PartyRecord | None) -> int:
    moment = (record.modified_at if record else None) or event.modified_at or event.received_at
    return epoch_ms(moment)


# What a change to a record is compared on: not the times, which is what it is ordered by.
_TIMES = {"created_at", "modified_at"}


def completed(
    record: PartyRecord, previous: RecordState | None, carries: tuple[str, ...] | None
) -> PartyRecord:
    """``record`` with what the shadow knows of the fields its payload did not carry.

    A CRM workflow webhook sends the fields its template names (no VAT number, no street with the
    recommended one): an edit must not erase what a seed or a fetch stored, nor drop the record from
    the keys those fields give. Its modification time is always the payload's own. Whatever the payload,
    what Books last said of the record's transactions is kept when it says nothing of them
    (``with_known_transactions``).
    """
    record = with_known_transactions(record, previous)
    if carries is None or previous is None or previous.deleted:
        return record
    update = {name: getattr(record, name) for name in (*carries, "modified_at")}
    return previous.record.model_copy(update=update)


def with_known_transactions(record: PartyRecord, previous: RecordState | None) -> PartyRecord:
    """``record`` with the shadow's ``has_transactions`` and ``outstanding`` where its payload left them out.

    A Books webhook whose body the admin chose (form fields, a raw template) may not send
    ``has_transaction`` or ``outstanding_receivable_amount``: that says nothing, and the rules choosing the
    copy to hold (``rules.base.copy_to_hold``) must not take an invoiced customer for one without invoices.
    What the payload does send is taken as sent: an explicit ``has_transaction`` false (a customer whose
    invoices were all deleted) counts, and no balance the shadow knew is kept against it (no transactions,
    nothing owed); a balance of 0 alone says only that nothing is owed, so the shadow's ``has_transactions``
    stays. Kept from a deleted state too: an edit of a customer the guard took for deleted (an id-only body
    is read as a delete) is the same customer, with the same invoices.
    """
    if previous is None:
        return record
    known = previous.record
    update: dict[str, Any] = {}
    if record.has_transactions is None and known.has_transactions is not None:
        update["has_transactions"] = known.has_transactions
    if record.outstanding is None and record.has_transactions is not False and known.outstanding is not None:
        update["outstanding"] = known.outstanding
    return record.model_copy(update=update) if update else record


#: Where a second's edits start among its versions (epoch ms). Zoho's times have whole seconds and a record
#: is created before it is edited: an edit whose time is a whole second is versioned from that second's
#: ``.500``, after the record's create (``.000``, and the rare same-second changes ordered after it by
#: arrival, ``.001`` on), so that a create delivered after an edit of its second is told apart as older.
EDIT_OFFSET_MS = 500


def edit_version(version: int) -> int:
    """The version an edit at ``version`` is recorded with: past its second's create (``EDIT_OFFSET_MS``)."""
    return version + EDIT_OFFSET_MS if version % 1000 == 0 else version


def edited_within_second(state: RecordState) -> bool:
    """Whether ``state`` is of an edit made within its (whole) second, rather than of the create."""
    return state.version % 1000 >= EDIT_OFFSET_MS


def same_second_change(previous: RecordState | None, record: PartyRecord, version: int) -> bool:
    """Whether ``record`` is another change within the second the shadow's state was written at.

    Zoho's modified times have whole seconds, so two edits within one second carry the same time. Such a
    change is not stale: it has a value the shadow's record of that moment does not. (Values the record
    does not carry, such as fields a workflow webhook was not set up to send, are not a change.)
    """
    if previous is None or previous.deleted or version % 1000:
        return False
    if not version <= previous.version < version + 1000:
        return False
    before = previous.record.model_dump(exclude=_TIMES)
    after = record.model_dump(exclude=_TIMES)
    return any(value is not None and before.get(name) != value for name, value in after.items())


class _Builder:
    """Accumulates the states a plan rewrites, each conditional on the revision it was read at."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.read: dict[str, RecordState] = dict(snapshot.others)
        if snapshot.own is not None:
            self.read[snapshot.own.ref] = snapshot.own
        self.changed: dict[str, RecordState] = {}

    def current(self, ref: str | None) -> RecordState | None:
        if ref is None:
            return None
        return self.changed.get(ref) or self.read.get(ref)

    def put(self, state: RecordState) -> None:
        self.changed[state.ref] = state

    def holder(self, ref: str, *, as_read: bool = False) -> str | None:
        """The hold ``ref`` is under: the one its state names (as this plan leaves it, or ``as_read``), else a
        ``HOLD`` item read that the guard may not replace."""
        state = self.read.get(ref) if as_read else self.current(ref)
        return (state.held_by if state is not None else None) or standing_hold(self.snapshot, ref)

    def update(self, ref: str, **changes: Any) -> None:
        state = self.current(ref)
        if state is not None:
            self.put(state.model_copy(update=changes))

    def writes(self) -> tuple[StateWrite, ...]:
        writes = []
        for ref, state in sorted(self.changed.items()):
            before = self.read.get(ref)
            expected = before.rev if before is not None else None
            writes.append(StateWrite(state.model_copy(update={"rev": (expected or 0) + 1}), expected))
        return tuple(writes)


def standing_hold(snapshot: Snapshot, ref: str) -> str | None:
    """The entry of ``ref``'s ``HOLD`` item as read, if the guard may not replace it (``HeldRecord``): an
    admin's hold of a record the shadow had no state for, or one written to Zoho while the guard observes.
    Its state may carry no mark (``held_by``): the engine then treats the record as held all the same, and
    the record's own next state takes the mark (one hold per record, whoever made it)."""
    item = snapshot.holds.get(ref)
    return item.entry_id if item is not None and not item.replaceable else None


def _entry(
    event: GuardEvent,
    config: GuardConfig,
    now: datetime,
    kind: EntryKind,
    decision: Decision,
    *,
    entry_id: str | None = None,
    records: Iterable[str] = (),
    names: dict[str, str] | None = None,
    findings: tuple[Finding, ...] = (),
    actions: tuple[OutboxAction, ...] = (),
    note: str = "",
) -> AuditEntry:
    refs = tuple(dict.fromkeys([event.record_ref, *[r for r in records if r]]))
    return AuditEntry(
        entry_id=entry_id or event.event_id,
        at=now,
        kind=kind,
        decision=decision,
        mode=config.mode,
        event_id=event.event_id,
        operation=event.operation.value,
        records=refs,
        rules=tuple(dict.fromkeys(f.code for f in findings)),
        findings=findings,
        evidence=tuple(f"{f.code}: {line}" for f in findings for line in f.evidence),
        actions=actions,
        note=note,
        names={ref: name for ref, name in (names or {}).items() if ref in refs},
    )


def awaiting_enrichment_plan(event: GuardEvent, config: GuardConfig, now: datetime) -> CommitPlan:
    """Ids only and no way to fetch the record: recorded honestly, decided later (entry ``<id>#awaiting``)."""
    entry = _entry(
        event,
        config,
        now,
        EntryKind.AWAITING_ENRICHMENT,
        Decision.PENDING,
        entry_id=awaiting_entry_id(event.event_id),
        note="the event carries ids only and no record fetcher is configured; not decided yet",
    )
    return CommitPlan(entry=entry)


def not_guarded_plan(
    event: GuardEvent, record: PartyRecord, config: GuardConfig, now: datetime
) -> CommitPlan:
    """A Books vendor: suppliers are not what the sync creates, so the event is recorded and allowed,
    and the record is neither kept in the shadow nor matched (a customer of the same name is normal). A
    customer the shadow holds, edited into a vendor, is retired instead (``_plan_retire``)."""
    entry = _entry(
        event,
        config,
        now,
        EntryKind.NOT_GUARDED,
        Decision.ALLOW,
        names={record.ref: record.name},
        note="a Books vendor: the guard watches customers only",
    )
    return CommitPlan(entry=entry)


def _plan_retire(
    event: GuardEvent,
    record: PartyRecord,
    snapshot: Snapshot,
    builder: _Builder,
    version: int,
    config: GuardConfig,
    now: datetime,
) -> CommitPlan:
    """A Books customer edited into a vendor: no longer a customer, so retired from matching as a delete
    retires a record, but without a tombstone's effects. Its state is kept as the vendor, taken for
    deleted (no longer live: a later edit back into a customer is decided like a create) and out of
    every key (no candidate of anything, so no RECREATED_AFTER_DELETE for a new customer of its name).
    Its pair ends as a deleted customer's does; finance is not told: a supplier is no duplicate, and
    nothing is to be done about the pair (the audit entry names the partner)."""
    previous = snapshot.own
    assert previous is not None
    partner_ref = previous.partner
    partner = _put_deleted(builder, previous, record=record, version=version, keys=frozenset())
    note = "a Books customer turned vendor: retired from matching (the guard watches customers only)"
    names = {record.ref: record.name}
    if partner is not None:
        note += f"; its pair with {partner.ref} ended"
        names[partner.ref] = partner.record.name
    entry = _entry(
        event,
        config,
        now,
        EntryKind.NOT_GUARDED,
        Decision.ALLOW,
        records=[partner_ref] if partner_ref else [],
        names=names,
        note=note,
    )
    removals = tuple(
        KeyChange(key, remove=frozenset({previous.ref}), checked=False) for key in sorted(previous.keys)
    )
    return CommitPlan(entry=entry, state_writes=builder.writes(), key_changes=removals)


def awaiting_entry_id(event_id: str) -> str:
    return f"{event_id}#awaiting"


def plan_event(
    event: GuardEvent,
    record: PartyRecord | None,
    snapshot: Snapshot,
    *,
    matcher: Matcher,
    config: GuardConfig,
    now: datetime,
    rules: Iterable[Rule] = RULES,
    fetched: bool = False,
) -> CommitPlan:
    """Everything ``event`` changes, given what the shadow held when it was read. Pure: no I/O.

    ``fetched``: ``record`` is what Zoho holds now (``Guard.process`` fetched it), not the event's copy.
    """
    builder = _Builder(snapshot)
    previous = snapshot.own
    if record is not None:
        record = completed(record, previous, event.carries)
    version = _version(event, record)
    zoho_time = version  # before the version orders it within its second

    if event.operation is Operation.DELETE:
        if previous is None and record is not None and record.module is Module.BOOKS_VENDORS:
            # Not kept while it lived: nor as a tombstone, which a customer of its name would take for itself.
            return not_guarded_plan(event, record, config, now)
        return _plan_delete(event, snapshot, builder, version, matcher, config, now, rules)
    if record is None:
        # Not reached from Guard.process, which records such an event as awaiting before reading, or takes
        # a record Zoho no longer has for its delete; a caller of this pure function might not.
        return awaiting_enrichment_plan(event, config, now)
    version, stale = _ordered(event, previous, record, zoho_time, fetched=fetched)
    if record.module is Module.BOOKS_VENDORS:
        # A customer edited into a vendor, ordered as any edit of it is (within the second of the
        # customer's state too); an older copy, or the vendor the guard never held as a customer, is not.
        if previous is not None and previous.live and stale is None:
            return _plan_retire(event, record, snapshot, builder, version, config, now)
        return not_guarded_plan(event, record, config, now)
    if stale is not None:
        return CommitPlan(
            entry=_entry(
                event,
                config,
                now,
                EntryKind.STALE,
                Decision.ALLOW,
                names={record.ref: record.name},
                note=f"{stale}; ignored",
            )
        )

    keys = shadow_keys(record, matcher)
    echoes = echoed_actions(previous, record)
    if previous is not None and echoes:
        remaining = {k: v for k, v in previous.echo_expected.items() if k not in echoes}
        # Not re-decided, but the state is the record's as sent (an echo may carry an edit that keeps the
        # record's identity, a new street): indexed and dated as any change of it.
        builder.put(
            previous.model_copy(
                update={
                    "record": record,
                    "version": version,
                    "echo_expected": remaining,
                    "keys": keys,
                    "synced_change": _synced_change(previous, record, zoho_time, event.carries),
                }
            )
        )
        return CommitPlan(
            entry=_entry(
                event,
                config,
                now,
                EntryKind.SELF_ECHO,
                Decision.ALLOW,
                names={record.ref: record.name},
                note="the guard's own change coming back: " + ", ".join(echoes),
            ),
            state_writes=builder.writes(),
            key_changes=tuple(_key_changes(event, snapshot, record.ref, keys, previous.keys)),
        )

    alive_before = previous is not None and not previous.deleted
    own = RecordState(
        record=record,
        version=version,
        partner=previous.partner if (previous and alive_before) else None,
        pair_source=previous.pair_source if (previous and alive_before) else None,
        former_partner=previous.former_partner if previous else None,
        keys=keys,
        first_seen=(previous.first_seen if previous else None) or now,
        echo_expected=previous.echo_expected if previous else {},
        held_by=(previous.held_by if previous else None) or standing_hold(snapshot, record.ref),
        synced_change=_synced_change(previous, record, zoho_time, event.carries),
        cleared=previous.cleared if previous else frozenset(),
    )
    builder.put(own)
    replaced = _pair(builder, own.ref, snapshot)
    own = builder.current(own.ref) or own
    account = _moved_under(builder, previous, record)
    if account is not None:
        # A contact moved under an account changes the account's contacts, and none of its keys (its
        # name and address are as they were): its new account's state is written (its revision), which
        # a Books customer linked to the account at the same moment rests on (``decision_basis``, the
        # link target), so that one of the two commits is cancelled and decided again seeing the other.
        builder.put(account)

    link_target = builder.current(f"crm:{record.linked_crm_id}") if record.linked_crm_id else None
    linked_books = _linked_books(snapshot, builder, record)
    candidates = _candidates(
        record,
        snapshot,
        builder,
        matcher,
        exclude={own.partner, own.ref} | ({link_target.ref} if link_target else set()),
        partner=own.partner,
    )
    breaker = snapshot.breaker
    is_new = previous is None or previous.deleted
    bucket = storm_bucket(event, config.storm_window_seconds)
    matched = tuple(
        c.ref
        for c in candidates
        if c.match.is_duplicate
        and not c.cleared
        and c.state.live
        and _could_be_copies(record, c.state.record)
    )
    counts = is_new and not breaker.open and not invoiced_customer(record) and bool(matched)
    hits = breaker.recent_hits + (1 if counts else 0)
    tripped = counts and hits >= config.storm_threshold
    storm = StormStatus(
        open_before=breaker.open,
        tripped_now=tripped,
        hits=hits,
        threshold=config.storm_threshold,
        window_seconds=config.storm_window_seconds,
        opened_at=breaker.opened_at,
        opened_by_event=breaker.opened_by_event,
        matched=matched if counts else (),
    )
    ctx = RuleContext(
        event=event,
        record=record,
        previous=previous,
        partner=builder.current(own.partner),
        link_target=link_target,
        linked_books=linked_books,
        former_link_partner=_former_link_partner(builder, link_target, own.ref),
        candidates=candidates,
        storm=storm,
        name_key=matcher.name_key,
        now=now,
        both_sides_window=config.both_sides_window,
        link_contacts=_link_contacts(snapshot, builder, record),
        account_customer=_account_customer(builder, record),
    )
    breaker_change = None
    if counts or (breaker.open and is_new):
        breaker_change = BreakerChange(
            epoch=breaker.epoch,
            bucket=bucket,
            count_hit=counts,
            trip=tripped,
            require_open=breaker.open and is_new,
            event_id=event.event_id,
        )
    plan = _decide(
        event,
        ctx,
        builder,
        snapshot,
        config,
        now,
        rules,
        keys=keys,
        breaker_change=breaker_change,
        replaced=replaced,
    )
    if previous is not None and previous.retired:
        # Said in the entry, where the audit reader looks, and where a redelivery of the event finds it
        # (``admin.moot``: the holds its retirement made moot are made again).
        since = previous.retired_at
        note = f"{RETURNED_NOTE} (a vendor since {utc_minute(since) if since else '-'}): decided as a new one"
        entry = plan.entry
        plan = replace(
            plan, entry=entry.model_copy(update={"note": "; ".join(filter(None, [note, entry.note]))})
        )
    return plan


def returned_customer(entry: AuditEntry) -> bool:
    """Whether ``entry`` decided a Books customer turned vendor brought back as a customer."""
    return entry.kind is EntryKind.DECISION and entry.note.startswith(RETURNED_NOTE)


def _ordered(
    event: GuardEvent, previous: RecordState | None, record: PartyRecord, version: int, *, fetched: bool
) -> tuple[int, str | None]:
    """The version ``record`` (at Zoho's time ``version``) is recorded with, and why it is stale, if it is:
    older than the shadow's state, or a create older than the edit of its second that the shadow holds."""
    stale: str | None = None
    zoho_time = version
    if same_second_change(previous, record, version):
        # Ordered after the state it follows: the second is all Zoho tells, so the later arrival (or,
        # with a fetcher, what Zoho holds now: see Guard.process) is taken as the later change. But a
        # record is created before it is edited: its create's copy is older than an edit of that second.
        assert previous is not None
        if event.operation is Operation.CREATE and not fetched and edited_within_second(previous):
            stale = "a create older than the edit of its second that the shadow holds"
        version = previous.version + 1
        if event.operation is not Operation.CREATE:
            version = max(version, edit_version(zoho_time))
    elif event.operation is Operation.UPDATE and (previous is None or previous.version < version):
        version = edit_version(version)
    if stale is None and previous is not None and previous.version >= version:
        stale = f"older than the shadow's state (version {version} <= {previous.version})"
    return version, stale


def _deleted_at(event: GuardEvent) -> datetime:
    """When the record was deleted: a delete webhook arrives at once; one the scheduled checks found in
    CRM's deleted records arrives late and carries the deletion time as its ``modified``."""
    if event.channel is Channel.RECONCILE and event.modified_at is not None:
        return event.modified_at
    return event.received_at


def _plan_delete(
    event: GuardEvent,
    snapshot: Snapshot,
    builder: _Builder,
    version: int,
    matcher: Matcher,
    config: GuardConfig,
    now: datetime,
    rules: Iterable[Rule],
) -> CommitPlan:
    previous = snapshot.own
    if previous is None:
        # A tombstone, so that a create delivered after its delete cannot bring the record back to life.
        # What the delete carried of the record is kept and indexed, as every deleted record stays in
        # the index (and as `rekey` keys it): a customer re-created later still finds it.
        tombstone = event.record or PartyRecord(
            system=event.source, module=event.module, record_id=event.record_id
        )
        keys = shadow_keys(tombstone, matcher) if event.record is not None else frozenset()
        linked = _paired_through_link(snapshot, builder, event.record_ref)
        if linked is not None:
            # A Books customer's link paired it with this record before the guard met it: the delete
            # leaves that customer an orphan, decided as the delete of a known pair is.
            previous = RecordState(
                record=tombstone,
                version=version,
                keys=keys,
                partner=linked,
                pair_source=PairSource.ZOHO_LINK,
                first_seen=now,
            )
    if previous is None:
        builder.put(
            RecordState(
                record=tombstone,
                version=version,
                keys=keys,
                deleted=True,
                deleted_at=_deleted_at(event),
                first_seen=now,
            )
        )
        entry = _entry(
            event,
            config,
            now,
            EntryKind.UNKNOWN_RECORD,
            Decision.ALLOW,
            note="delete of a record the shadow never saw",
        )
        key_changes = tuple(
            KeyChange(key, add=frozenset({tombstone.ref}), expected_rev=snapshot.keys[key].rev, gone=True)
            for key in sorted(keys)
            if key in snapshot.keys and len(snapshot.keys[key].members) < MAX_KEY_MEMBERS
        )
        return CommitPlan(entry=entry, state_writes=builder.writes(), key_changes=key_changes)
    if previous.deleted or _modified_after(previous, version):
        return CommitPlan(
            entry=_entry(
                event,
                config,
                now,
                EntryKind.STALE,
                Decision.ALLOW,
                names={previous.ref: previous.record.name},
                note="already deleted, or modified after this delete; ignored",
            )
        )
    partner_ref = previous.partner
    partner_before = _put_deleted(
        builder, previous, deleted_at=_deleted_at(event), version=max(version, previous.version)
    )
    candidates = _candidates(
        previous.record, snapshot, builder, matcher, exclude={previous.ref, partner_ref}, partner=partner_ref
    )
    ctx = RuleContext(
        event=event,
        record=previous.record,
        previous=previous,
        partner=partner_before,
        link_target=None,
        linked_books=(),
        former_link_partner=None,
        candidates=candidates,
        storm=StormStatus(threshold=config.storm_threshold, window_seconds=config.storm_window_seconds),
        name_key=matcher.name_key,
        now=now,
        both_sides_window=config.both_sides_window,
    )
    held = builder.holder(previous.ref, as_read=True) is not None
    hold = snapshot.holds.get(previous.ref)
    return _decide(
        event,
        ctx,
        builder,
        snapshot,
        config,
        now,
        rules,
        keys=previous.keys,
        breaker_change=None,
        tag_checks=possible_merge_masters(previous, candidates) if held else (),
        sweep_from=_deleted_at(event) if held and previous.system is System.CRM else None,
        admin_hold=hold.entry_id if hold is not None and hold.written_by_admin else None,
    )


def _put_deleted(builder: _Builder, previous: RecordState, **update: Any) -> RecordState | None:
    """Put ``previous`` as deleted (with ``update``), its pair ended on both sides (the partner remembers
    it as its former partner); returns the partner as it was."""
    partner = builder.current(previous.partner)
    ended = {
        "partner": None,
        "pair_source": None,
        "former_partner": previous.partner or previous.former_partner,
    }
    builder.put(previous.model_copy(update={"deleted": True, **ended, **update}))
    if partner is not None and partner.partner == previous.ref:
        builder.update(partner.ref, partner=None, pair_source=None, former_partner=previous.ref)
    return partner


def _paired_through_link(snapshot: Snapshot, builder: _Builder, crm_ref: str) -> str | None:
    """The live Books customer paired through Zoho's link (``_pair``) with a CRM record the shadow holds no
    state for: the customers linking to it are read with its delete (``Guard._request``)."""
    if not crm_ref.startswith("crm:"):
        return None
    item = snapshot.keys.get(link_key(crm_ref.removeprefix("crm:")))
    for member in sorted(item.members if item else ()):
        state = builder.current(member)
        if state is not None and state.live and state.partner == crm_ref:
            return state.ref
    return None


def _modified_after(previous: RecordState, version: int) -> bool:
    """Whether the shadow's state is of a change made after a delete at ``version``. Zoho's times have whole
    seconds: a delete within the second of the state (which ``same_second_change`` may have ordered past
    that second's first change) is taken as the later, since nothing changes a record once it is deleted."""
    if version % 1000 == 0:
        return previous.version >= version + 1000
    return previous.version > version


#: The most records one delete of a held record has checked for a hold tag a merge passed on: each check is
#: a Zoho read.
MAX_TAG_CHECKS = 10


def possible_merge_masters(deleted: RecordState, candidates: Iterable[Candidate]) -> tuple[str, ...]:
    """The records a held CRM record, now deleted, may have been merged into: the live CRM records of its
    module that it matched, those the sync knows (paired) first, then the closest (the record its hold
    named as the one it duplicates among them).

    A manual CRM merge deletes the record merged away, and may pass its tags, the hold tag among them, to the
    record kept (Zoho does not say; ``docs/rules.md``). No hold of the guard's lists that record, so a
    release could not undo it: each is checked (``ActionKind.CLEAR_CARRIED_HOLD_TAG``)."""
    if deleted.system is not System.CRM:
        return ()
    masters = [
        c
        for c in candidates
        if c.state.live and c.state.system is System.CRM and c.state.record.module is deleted.record.module
    ]
    masters.sort(key=lambda c: (c.state.partner is None, -c.match.score, c.ref))
    return tuple(c.ref for c in masters[:MAX_TAG_CHECKS])


def admin_pair_replaced(ref: str, linked: str, admin_partner: str, *, link_is_new: bool) -> str:
    """The audit note of a pair an admin made that Zoho's link replaced: the guard follows Zoho's link.

    ``link_is_new``: the event brought the link (it changed, or the guard had not seen the customer).
    Otherwise the guard already knew it, and the admin's pair contradicted it before this event."""
    if link_is_new:
        return (
            f"Zoho's link now pairs {ref} with {linked}; "
            f"the pair with {admin_partner} an admin made is replaced"
        )
    return (
        f"Zoho's link pairs {ref} with {linked}, as it did before this change; "
        f"the pair with {admin_partner} an admin made is replaced"
    )


def _pair(builder: _Builder, ref: str, snapshot: Snapshot) -> dict[str, str]:
    """Follow Zoho's own link (Books ``zcrm_*_id``): the shadow's pairs mirror what the sync uses.

    Returns a note for each pair an admin made that Zoho's link replaces, by the admin's partner (the
    event's audit entry says it and names that record): Zoho's link changed since (``link`` refuses a pair
    it contradicts), or the pair predates that check and contradicted the link already, which the note
    tells apart by the link the guard last saw. A pair an admin made outlives Zoho's link going.

    A link naming a CRM record the shadow holds as deleted pairs nothing (``_orphan``): the customer stays the
    orphan the delete made it, and the note, by that record, says so.
    """
    replaced: dict[str, str] = {}
    own = builder.current(ref)
    if own is None:
        return replaced
    record = own.record
    if record.system is System.BOOKS:
        dead_link = _deleted_link_target(builder, record)
        if dead_link is not None:
            _orphan(builder, own, dead_link)
            replaced[dead_link] = (
                f"{ref} still carries Zoho's link to {dead_link}, which is deleted: left unpaired"
            )
        elif record.linked_crm_id:
            target_ref = f"crm:{record.linked_crm_id}"
            seen = builder.read.get(ref)
            link_is_new = seen is None or seen.record.linked_crm_id != record.linked_crm_id
            if own.partner and own.partner != target_ref:
                old = builder.current(own.partner)
                if old is not None and old.partner == ref:
                    builder.update(old.ref, partner=None, pair_source=None, former_partner=ref)
                if own.pair_source is PairSource.ADMIN:
                    replaced[own.partner] = admin_pair_replaced(
                        ref, target_ref, own.partner, link_is_new=link_is_new
                    )
            builder.update(ref, partner=target_ref, pair_source=PairSource.ZOHO_LINK)
            target = builder.current(target_ref)
            if target is not None and target.live and target.partner != ref:
                holder = builder.current(target.partner)
                holder_still_linked = (
                    holder is not None and holder.live and holder.record.linked_crm_id == record.linked_crm_id
                )
                if not holder_still_linked:
                    if holder is not None and holder.partner == target_ref:
                        # Unpaired as the Books side above unpairs its old partner: no pair left half made.
                        builder.update(holder.ref, partner=None, pair_source=None, former_partner=target_ref)
                    if target.partner and target.pair_source is PairSource.ADMIN:
                        replaced[target.partner] = admin_pair_replaced(
                            target_ref, ref, target.partner, link_is_new=link_is_new
                        )
                    builder.update(
                        target_ref,
                        partner=ref,
                        pair_source=PairSource.ZOHO_LINK,
                        former_partner=target.partner or target.former_partner,
                    )
        elif own.partner and own.pair_source is PairSource.ZOHO_LINK:
            # Zoho's link is gone: so is the pair (what BROKEN_MAPPING later recognises).
            old = builder.current(own.partner)
            builder.update(ref, partner=None, pair_source=None, former_partner=own.partner)
            if old is not None and old.partner == ref:
                builder.update(old.ref, partner=None, pair_source=None, former_partner=ref)
        return replaced
    if own.partner is None:
        item = snapshot.keys.get(link_key(record.record_id))
        linked = [
            state
            for member in sorted(item.members if item else ())
            if (state := builder.current(member)) is not None
            and state.live
            and state.record.linked_crm_id == record.record_id
        ]
        if linked:
            chosen = next((s for s in linked if item and s.ref == item.owner), linked[0])
            builder.update(ref, partner=chosen.ref, pair_source=PairSource.ZOHO_LINK)
            if chosen.partner != ref:
                builder.update(chosen.ref, partner=ref, pair_source=PairSource.ZOHO_LINK)
    return replaced


def _deleted_link_target(builder: _Builder, record: PartyRecord) -> str | None:
    """The CRM record a Books customer's Zoho link names, if the shadow knows it is deleted: Zoho does not
    sync deletes, so the customer keeps the link to a record that is gone (seed pattern 3)."""
    if not record.linked_crm_id:
        return None
    target = builder.current(f"crm:{record.linked_crm_id}")
    return target.ref if target is not None and target.deleted else None


def _orphan(builder: _Builder, own: RecordState, dead_link: str) -> None:
    """Leave the Books customer ``own``, whose link names the deleted ``dead_link``, unpaired: the orphan the
    CRM delete made it (``PARTNER_DELETED``). A pair Zoho's link made goes, as when the link goes; a pair an
    admin made with another record outlives it. The deleted record is remembered as its former partner."""
    if own.partner is None:
        builder.update(own.ref, former_partner=dead_link)
        return
    if own.partner != dead_link and own.pair_source is PairSource.ADMIN:
        return
    old = builder.current(own.partner)
    builder.update(own.ref, partner=None, pair_source=None, former_partner=own.partner)
    if old is not None and old.partner == own.ref:
        builder.update(old.ref, partner=None, pair_source=None, former_partner=own.ref)


def _linked_books(snapshot: Snapshot, builder: _Builder, record: PartyRecord) -> tuple[RecordState, ...]:
    crm_id = record.linked_crm_id if record.system is System.BOOKS else record.record_id
    if not crm_id:
        return ()
    item = snapshot.keys.get(link_key(crm_id))
    states = [builder.current(member) for member in sorted(item.members if item else ())]
    return tuple(s for s in states if s is not None and s.ref != record.ref)


def _former_link_partner(builder: _Builder, link_target: RecordState | None, ref: str) -> RecordState | None:
    """The record the CRM record a Books customer links to was paired with before (read with it: see
    ``DynamoShadowRepository._candidate_refs``), unless that is the customer itself."""
    if link_target is None or link_target.former_partner in (None, ref):
        return None
    return builder.current(link_target.former_partner)


def _could_be_copies(record: PartyRecord, other: PartyRecord) -> bool:
    """Whether the sync could have made one of the two records from the other, or a duplicate of it.

    A CRM contact is a person at an account, not a copy of it ("Jane Smith" at "Jane Smith Design",
    with one email), and a business's Books customer is made from an account, whose contact person the
    contact becomes: neither pair is a copy, however alike, so neither counts towards a storm.
    """
    modules = {record.module, other.module}
    if modules == {Module.CRM_ACCOUNTS, Module.CRM_CONTACTS}:
        return False
    if Module.CRM_CONTACTS in modules and Module.BOOKS_CUSTOMERS in modules:
        books = record if record.module is Module.BOOKS_CUSTOMERS else other
        return books.kind is RecordKind.PERSON
    return True


def _own_organisation(record: PartyRecord, builder: _Builder) -> set[str]:
    """A CRM contact's account and that account's Books customer: the contact belongs to them, so they
    are not duplicates of it however alike (a sole trader's contact has the account's name and email)."""
    if record.module is not Module.CRM_CONTACTS or not record.account_id:
        return set()
    account = builder.current(f"crm:{record.account_id}")
    return {f"crm:{record.account_id}", *([account.partner] if account and account.partner else [])}


def _account_customer(builder: _Builder, record: PartyRecord) -> RecordState | None:
    """The live Books customer a CRM contact's account is paired with (read with the account: see
    ``Guard._request``), if any."""
    if record.module is not Module.CRM_CONTACTS or not record.account_id:
        return None
    account = builder.current(f"crm:{record.account_id}")
    if account is None or not account.live or account.partner is None:
        return None
    customer = builder.current(account.partner)
    return customer if customer is not None and customer.live else None


def _moved_under(builder: _Builder, previous: RecordState | None, record: PartyRecord) -> RecordState | None:
    """The state (as read) of the account a CRM contact's event moves it under (its ``Account_Name``
    changed), if the shadow holds it."""
    if record.module is not Module.CRM_CONTACTS or not record.account_id:
        return None
    if previous is None or previous.deleted or previous.record.account_id == record.account_id:
        return None
    return builder.current(f"crm:{record.account_id}")


def _link_contacts(snapshot: Snapshot, builder: _Builder, record: PartyRecord) -> tuple[RecordState, ...]:
    """The live CRM contacts, among the records read, of the account a Books customer is linked to."""
    if record.system is not System.BOOKS or not record.linked_crm_id:
        return ()
    states = (builder.current(ref) for ref in sorted(snapshot.others))
    return tuple(s for s in states if s is not None and s.live and _contact_of(s.record, record))


def _contact_of(other: PartyRecord, record: PartyRecord) -> bool:
    """``other`` is a contact of ``record``'s organisation: of the account itself, or of the account a
    Books customer is linked to."""
    if other.module is not Module.CRM_CONTACTS or not other.account_id:
        return False
    if record.module is Module.CRM_ACCOUNTS:
        return other.account_id == record.record_id
    return record.system is System.BOOKS and other.account_id == record.linked_crm_id


def _judged_distinct(ours: set[str], cleared: frozenset[str], other: RecordState) -> bool:
    """An admin released a hold on one side of this pair, raised against the other (either record of
    either pair): ``ours`` is the record and its partner, ``cleared`` what they were released against."""
    return bool(
        other.ref in cleared
        or (other.partner is not None and other.partner in cleared)
        or other.cleared & ours
    )


def _candidates(
    record: PartyRecord,
    snapshot: Snapshot,
    builder: _Builder,
    matcher: Matcher,
    *,
    exclude: set[str | None],
    partner: str | None,
) -> tuple[Candidate, ...]:
    found = []
    organisation = _own_organisation(record, builder)
    ours = {record.ref} | ({partner} if partner else set())
    cleared = frozenset().union(*(s.cleared for ref in ours if (s := builder.current(ref)) is not None))
    for ref in sorted(snapshot.others):
        if ref in exclude or ref in organisation:
            continue
        state = builder.current(ref)
        if state is None or _contact_of(state.record, record):
            continue
        if state.record.module is Module.BOOKS_VENDORS:
            continue  # a customer turned vendor (``_plan_retire``), read as a partner's former partner
        match = matcher.compare(record, state.record)
        if match.verdict != "distinct":
            found.append(Candidate(state, match, cleared=_judged_distinct(ours, cleared, state)))
    found.sort(key=lambda c: (-c.match.score, c.ref))
    return tuple(found)


def _decide(
    event: GuardEvent,
    ctx: RuleContext,
    builder: _Builder,
    snapshot: Snapshot,
    config: GuardConfig,
    now: datetime,
    rules: Iterable[Rule],
    *,
    keys: frozenset[str],
    breaker_change: BreakerChange | None,
    replaced: dict[str, str] | None = None,
    tag_checks: tuple[str, ...] = (),
    sweep_from: datetime | None = None,
    admin_hold: str | None = None,
) -> CommitPlan:
    """The decision on ``ctx``: its findings, holds, notice and audit entry, which also says (``replaced``,
    from ``_pair``) each pair an admin made that Zoho's link replaced, naming the admin's partner, and
    queues the checks for a hold tag a merge passed on (``tag_checks``, see ``possible_merge_masters``),
    and (``sweep_from``: when the held CRM record was deleted) one check of the records CRM changed at that
    moment, among which is the record kept by a merge into a record the held one did not match
    (``ActionKind.SWEEP_CARRIED_HOLD_TAG``).

    ``admin_hold``: the deleted record's hold is an admin's written to Zoho (``HeldRecord.written_by_admin``).
    Its checks are carried out whatever the guard's mode, as that hold's own undo is (``undo_action``): the
    admin's tag is in Zoho, so the copy a merge passed on is just as real."""
    replaced = replaced or {}
    entry_id = event.event_id
    found = tuple(f for rule in rules if (f := rule.evaluate(ctx)) is not None)
    findings, outcomes, spared = _spare_invoiced(found, config.policy, builder, entry_id)
    decision = max(outcomes, key=lambda outcome: outcome.weight, default=Decision.ALLOW)
    actions: list[OutboxAction] = []
    holds: list[str] = []
    notes = [*replaced.values(), *(f"{ref} {NOT_HELD_INVOICED}" for ref in spared)]
    for finding, outcome in zip(findings, outcomes, strict=True):
        if outcome is not Decision.QUARANTINE:
            continue
        target = builder.current(finding.subject)
        if finding.subject in holds:
            continue
        if target is not None and target.deleted:
            continue
        holder = builder.holder(finding.subject)
        if holder and holder != entry_id:
            # Already held: never act twice on one record (this also bounds any unrecognised echo).
            notes.append(f"{finding.subject} already held by {holder}")
            continue
        kind = (
            ActionKind.TAG_CRM_RECORD
            if finding.subject.startswith("crm:")
            else ActionKind.MARK_BOOKS_INACTIVE
        )
        action = _action(event, kind, finding.subject, findings, decision, config, now)
        actions.append(action)
        holds.append(finding.subject)
        if target is not None and action.execute:
            # Only a hold that will really happen marks the record (observe mode holds nothing in Zoho, so
            # switching to enforce later still acts on it); the HOLD item lists it either way, with its mode.
            echo = {**target.echo_expected, action.action_id: action.expected_state}
            builder.update(finding.subject, held_by=entry_id, echo_expected=echo)
    storm_held = ctx.storm.open_before and any(f.code == "MULTIPLICATION_STORM" for f in findings)
    # Findings only about records the guard already holds were announced when the hold was made (an edit of
    # a held record, or an echo that was not recognised, does not tell finance the same thing again).
    already_announced = bool(findings) and all(
        builder.holder(f.subject, as_read=True) not in (None, entry_id) for f in findings
    )
    if decision in (Decision.FLAG, Decision.QUARANTINE) and not storm_held and not already_announced:
        # While the breaker is open, held creates are not announced one by one: the trip was the alert.
        subject = findings[0].subject if findings else ctx.ref
        actions.append(_action(event, ActionKind.NOTIFY_FINANCE, subject, findings, decision, config, now))
    checks = [(ActionKind.CLEAR_CARRIED_HOLD_TAG, ref, builder.current(ref)) for ref in tag_checks]
    if sweep_from is not None:
        checks.append((ActionKind.SWEEP_CARRIED_HOLD_TAG, ctx.ref, builder.current(ctx.ref)))
    for kind, ref, state in checks:
        check = _action(event, kind, ref, (), decision, config, now)
        params = {**check.params, "merged_from": ctx.ref}
        if state is not None:
            params["module"] = state.record.module.value
        if kind is ActionKind.SWEEP_CARRIED_HOLD_TAG and sweep_from is not None:
            # the moment the merge changed the record kept; those the other checks read are not read twice
            params |= {"deleted_at": sweep_from.isoformat(), "checked": list(tag_checks)}
        update: dict[str, Any] = {}
        if admin_hold is not None:
            params["admin_hold"] = admin_hold
            update = {"mode": Mode.ENFORCE, "execute": True}
        actions.append(check.model_copy(update={**update, "params": params}))
    if checks:
        changed = "the CRM records changed when it was deleted"
        looked = ", ".join(tag_checks) or changed
        also = (
            f", and {changed} (a merge into a record it did not match)" if tag_checks and sweep_from else ""
        )
        notes.append(
            f"{ctx.ref} was held: checking {looked} for the hold tag a CRM merge may have passed on{also}"
        )

    related = [ctx.ref] + ([ctx.partner.ref] if ctx.partner else []) + list(replaced) + list(tag_checks)
    for finding in findings:
        related += [finding.subject, *finding.related]
    names = {ctx.ref: ctx.record.name}
    for ref in related:
        state = builder.current(ref)
        if state is not None:
            names.setdefault(ref, state.record.name)
    entry = _entry(
        event,
        config,
        now,
        EntryKind.DECISION,
        decision,
        records=related,
        names=names,
        findings=findings,
        actions=tuple(actions),
        note="; ".join(notes),
    )
    previous_keys = (
        snapshot.own.keys if (snapshot.own is not None and event.operation is not Operation.DELETE) else keys
    )
    key_changes = _key_changes(event, snapshot, ctx.ref, keys, previous_keys)
    # A CRM record's pairing depends on the Books customers linking to it: if one is being created right
    # now, one of the two transactions must see the other (no write skew between disjoint writes). So do
    # the CRM contacts an edit of a linked Books customer looked for under the addresses it drops (key
    # items read that are none of the record's, ``Guard._with_dropped_addresses``): a contact created at
    # such an address right now joins that item (``_key_changes`` conditions the removal from one that is
    # the record's).
    written = {change.key for change in key_changes}
    key_checks = tuple(
        (key, item.rev)
        for key, item in sorted(snapshot.keys.items())
        if (key.startswith("link:") or key not in keys | previous_keys)
        and key not in written
        and event.operation is not Operation.DELETE
    )
    return CommitPlan(
        entry=entry,
        state_writes=builder.writes(),
        key_changes=tuple(key_changes),
        actions=tuple(actions),
        breaker=breaker_change,
        holds=tuple(holds),
        hold_checks=tuple(ref for ref in spared if ref not in holds),
        key_checks=key_checks,
        state_checks=decision_basis(ctx, findings, builder),
    )


def decision_basis(
    ctx: RuleContext, findings: Iterable[Finding], builder: _Builder
) -> tuple[tuple[str, int | None], ...]:
    """The record states a decision rests on that its plan does not write, each with the revision read
    (``CommitPlan.state_checks``): the commit is cancelled if one has changed since, and the event decided
    again on fresh reads.

    - The records its findings cite (subject and related): a duplicate it holds or flags the event's record
      against, a survivor, an unpaired copy. Another event can change such a record without writing any
      key or state this plan writes (delete it, pair it elsewhere, hold it): the decision would otherwise
      stand on a view that is no longer true (a customer held as a copy of one deleted meanwhile).
    - Its partner (after pairing), which rules compare the record with.
    - A CRM contact's account and the Books customer it is paired with (``RuleContext.account_customer``),
      whose contact persons ``EMAIL_MISMATCH`` compares the contact with, finding or not: an edit of that
      customer (an address changed) or a new pairing of the account writes neither this plan's keys nor
      its states. (The edit, for its part, is conditioned on the key items of the addresses it drops,
      where the contact is: see ``_decide``.)
    - A CRM delete that had a partner: the CRM records it may have been merged into (``merge_masters``),
      or the one of them paired with another Books customer (``merge_survivor``) if there is one. Which
      tells ``CRM_MERGE_ORPHAN`` from ``PARTNER_DELETED``, and the sync pairing one right now writes
      nothing the delete writes: the state at commit decides which of the two is raised.
    - A Books customer whose link changed: the Books duplicates and (linked to an account) the account's
      contacts ``MIXED_MAPPING`` compares it with (``mix_basis``), finding or not: the sync linking another
      copy of the customer to the account or to its contact at that moment writes one of them, and
      nothing this plan writes.
    - A record new to the guard, not created by the sync: its duplicates on the other side, created within
      the window, that ``BOTH_SIDES_CREATED`` passed over for being paired (``both_sides_basis``), finding
      or not: the pair dropped at that moment writes one of them, and nothing this plan writes.
    - A Books customer's link target, read or not (absent: it must still be): the CRM record created (or
      paired elsewhere) right now writes no key the customer's transaction writes. A CRM contact moved
      under that account right now writes it too (``_moved_under``): the move changes none of the
      contact's keys, and ``EMAIL_MISMATCH`` compares the account's contacts with the customer's contact
      persons.
    - A create counted towards a storm (``StormStatus.matched``): one live record it matched, the first
      unless the checks above or the plan's writes condition one already. The count says "matches an
      existing live record": one such record still as read at the commit keeps it true, and a delete (a
      merge) of that record cancels it. A key item the create joins moves with such a delete too, but a
      key at its cap (``MAX_KEY_MEMBERS``, a storm's aftermath) is joined by nobody.

    Only records read are checked (a ref a finding names without the shadow holding it rests on nothing
    read), and not the other candidates: a check each of what the verdict cites, nothing read again. Nor
    the records a held record's delete checks for a passed-on hold tag (``possible_merge_masters``): each
    check decides when it runs, on CRM's record and its ``HOLD`` item then, not on the states read here.
    """
    refs = [ref for finding in findings for ref in (finding.subject, *finding.related)]
    if ctx.partner is not None:
        refs.append(ctx.partner.ref)
    if ctx.record.module is Module.CRM_CONTACTS and ctx.record.account_id and not ctx.is_delete:
        refs.append(f"crm:{ctx.record.account_id}")
        if ctx.account_customer is not None:
            refs.append(ctx.account_customer.ref)
    survivor = merge_survivor(ctx)
    refs += [survivor.ref] if survivor is not None else [candidate.ref for candidate in merge_masters(ctx)]
    refs += mix_basis(ctx)
    refs += both_sides_basis(ctx)
    checks: dict[str, int | None] = {
        ref: state.rev for ref in refs if (state := builder.read.get(ref)) is not None
    }
    matched = ctx.storm.matched
    if matched and not any(ref in checks or ref in builder.changed for ref in matched):
        witness = builder.read.get(matched[0])
        if witness is not None:
            checks[witness.ref] = witness.rev
    link_ref = f"crm:{ctx.record.linked_crm_id}" if ctx.record.system is System.BOOKS else ""
    if ctx.record.linked_crm_id and not ctx.is_delete:
        read = builder.read.get(link_ref)
        checks[link_ref] = read.rev if read is not None else None
    return tuple(
        (ref, rev) for ref, rev in sorted(checks.items()) if ref != ctx.ref and ref not in builder.changed
    )


def _key_changes(
    event: GuardEvent, snapshot: Snapshot, ref: str, keys: frozenset[str], previous_keys: frozenset[str]
) -> list[KeyChange]:
    """The key memberships that move ``ref`` from ``previous_keys`` to ``keys``: each claim conditional on the
    revision of the key item read (a key at ``MAX_KEY_MEMBERS`` stops growing), each removal unconditional
    unless its item was read: an edit of a linked Books customer reads the items of the addresses it drops
    to find the CRM contacts there (``EMAIL_MISMATCH``), and rests on them as read (see ``_decide``).

    A delete keeps the record in its keys and marks it deleted there (``KeyItem.gone``), unconditionally as
    a removal is; any other event takes such a mark off (the record is back: a restore, a later create)."""
    if event.operation is Operation.DELETE:
        return [
            # (a member marked unconditionally; a record joining, one the shadow never saw, on condition)
            KeyChange(key, add=frozenset({ref}), checked=False, gone=True)
            if ref in item.members
            else KeyChange(key, add=frozenset({ref}), expected_rev=item.rev, gone=True)
            for key in sorted(keys)
            if (item := snapshot.keys.get(key)) is not None
            and ref not in item.gone
            and (ref in item.members or len(item.members) < MAX_KEY_MEMBERS)
        ]
    claims: dict[str, KeyChange] = {}
    for key in sorted(keys):
        item = snapshot.keys.get(key)
        if item is None:
            continue
        if ref in item.gone:
            # Back after a delete: live again in the keys it stayed in (full or not).
            claims[key] = KeyChange(key, add=frozenset({ref}), expected_rev=item.rev, gone=False)
        elif (key not in previous_keys or ref not in item.members) and len(item.members) < MAX_KEY_MEMBERS:
            # A new key; or one whose item does not list the record: a first write after a tombstone, or a
            # membership a development server's split transaction lost (see DynamoShadowRepository.commit).
            claims[key] = KeyChange(key, add=frozenset({ref}), expected_rev=item.rev)
    changes = list(claims.values())
    changes += [
        KeyChange(key, remove=frozenset({ref}), checked=False)
        if (item := snapshot.keys.get(key)) is None
        else KeyChange(key, remove=frozenset({ref}), expected_rev=item.rev)
        for key in sorted(previous_keys - keys)
    ]
    return changes


#: Why a finding the policy would quarantine is only flagged (said in its evidence and the entry's note).
NOT_HELD_INVOICED = (
    "not held: it holds transactions, and marking it inactive would stop Books invoicing it; "
    "flagged for review instead"
)


def _spare_invoiced(
    found: tuple[Finding, ...], policy: Policy, builder: _Builder, entry_id: str
) -> tuple[tuple[Finding, ...], list[Decision], list[str]]:
    """Each finding with its outcome, where no rule's quarantine holds a Books customer known to hold
    transactions: Books refuses invoices for an inactive customer, so finance would be stopped invoicing
    the real customer. Such a finding is flagged instead, its evidence saying why; the rules hold the
    other copy where there is one (``rules.base.copy_to_hold``), this is the net under every rule.
    Records already deleted or held by another entry are left as they are (no hold is made for them), as
    are those under a hold their state does not name (``_Builder.holder``): an admin's, read once a commit
    checking that the record is held by nobody was cancelled (``CommitPlan.hold_checks``).
    Also returns the records spared.
    """
    findings: list[Finding] = []
    outcomes: list[Decision] = []
    spared: list[str] = []
    for finding in found:
        outcome = policy.outcome(finding.code)
        target = builder.current(finding.subject)
        if (
            outcome is Decision.QUARANTINE
            and target is not None
            and target.live
            and builder.holder(finding.subject) in (None, entry_id)
            and invoiced_customer(target.record)
        ):
            outcome = Decision.FLAG
            line = f"{finding.subject} {NOT_HELD_INVOICED}"
            finding = finding.model_copy(update={"evidence": (*finding.evidence, line)})
            spared.append(finding.subject)
        findings.append(finding)
        outcomes.append(outcome)
    return tuple(findings), outcomes, list(dict.fromkeys(spared))


def _action(
    event: GuardEvent,
    kind: ActionKind,
    target: str,
    findings: tuple[Finding, ...],
    decision: Decision,
    config: GuardConfig,
    now: datetime,
) -> OutboxAction:
    tagging = kind in (
        ActionKind.TAG_CRM_RECORD,
        ActionKind.CLEAR_CARRIED_HOLD_TAG,
        ActionKind.SWEEP_CARRIED_HOLD_TAG,
    )
    params: dict[str, Any] = {"tag": config.crm_hold_tag} if tagging else {}
    if kind is ActionKind.NOTIFY_FINANCE:
        params = {
            "severity": max((f.severity for f in findings), key=_severity_rank).value if findings else "low",
            "rules": [f.code for f in findings],
            "explanations": [f.explanation for f in findings],
        }
    return OutboxAction(
        action_id=action_id_for(event.event_id, kind, target),
        kind=kind,
        target=target,
        event_id=event.event_id,
        entry_id=event.event_id,
        rules=tuple(f.code for f in findings),
        decision=decision,
        mode=config.mode,
        execute=not (config.mode is Mode.OBSERVE and kind.writes_to_zoho),
        params=params,
        expected_state=expected_state(kind, config.crm_hold_tag),
        queued_at=now,
    )


def _severity_rank(severity: Any) -> int:
    return ["low", "medium", "high", "critical"].index(str(severity.value))


def counted_as_read(plan: CommitPlan, breaker: BreakerState) -> CommitPlan:
    """``plan`` with its storm hit (if it counts one) conditional on the window hits it was decided on."""
    if plan.breaker is None or not plan.breaker.count_hit:
        return plan
    return replace(plan, breaker=replace(plan.breaker, hits_read=breaker.window_hits))


class Guard:
    """Processes events against the shadow through the repository port, retrying on conflicts."""

    def __init__(
        self,
        repository: ShadowRepository,
        matcher: Matcher,
        config: GuardConfig,
        *,
        fetcher: RecordFetcher | None = None,
        clock: Callable[[], datetime] = utc_now,
        rules: Iterable[Rule] = RULES,
        max_attempts: int = 40,
        backoff: CommitBackoff | None = None,
    ) -> None:
        self.repository = repository
        self.matcher = matcher
        self.config = config
        self.fetcher = fetcher
        self.clock = clock
        self.rules = tuple(rules)
        self.max_attempts = max_attempts
        self.backoff = backoff or CommitBackoff()

    def _fetches(self, event: GuardEvent) -> bool:
        """Whether ``event``'s record is fetched from Zoho (an id-only event, and a fetcher to ask)."""
        return event.needs_enrichment and self.fetcher is not None

    def _record(self, event: GuardEvent) -> PartyRecord | None:
        if not self._fetches(event):
            return event.record
        assert self.fetcher is not None
        return self.fetcher.fetch(event.source, event.module.value, event.record_id)

    def _request(self, event: GuardEvent, record: PartyRecord | None) -> SnapshotRequest:
        """What to read for ``event``: its record's state, keys and candidates, its partner, the breaker,
        and (each read with its partner) the CRM record a Books customer links to or a CRM contact's
        account."""
        keys = shadow_keys(record, self.matcher) if record is not None else frozenset()
        lookup = frozenset({link_key(event.record_id)}) if event.source is System.CRM else frozenset()
        crm_ids = (record.linked_crm_id, record.account_id) if record is not None else ()
        extra = frozenset(f"crm:{crm_id}" for crm_id in crm_ids if crm_id)
        return SnapshotRequest(
            event_id=event.event_id,
            entry_id=event.event_id,
            ref=event.record_ref,
            keys=keys,
            lookup_keys=lookup,
            extra_refs=extra,
            max_candidates=self.config.max_candidates,
            storm_bucket=storm_bucket(event, self.config.storm_window_seconds),
        )

    def _with_completed_keys(
        self, request: SnapshotRequest, event: GuardEvent, record: PartyRecord | None, own: RecordState | None
    ) -> SnapshotRequest | None:
        """``request`` under the keys of the record as the shadow completes it (``completed``), when the
        payload carries some fields only and its own give other keys: the state lists every key of the
        completed record, and a key is claimed only where its item was read."""
        if record is None or event.carries is None or event.operation is Operation.DELETE:
            return None
        keys = shadow_keys(completed(record, own, event.carries), self.matcher)
        return replace(request, keys=keys) if keys != request.keys else None

    def _with_dropped_addresses(
        self, request: SnapshotRequest, record: PartyRecord | None, own: RecordState | None
    ) -> SnapshotRequest | None:
        """``request`` widened to the addresses a linked Books customer's contact persons had and this
        event drops, when it does not look under them yet: the CRM contacts still carrying them are the
        ones the sync paired with those persons (``EMAIL_MISMATCH``), and share no key with the edit."""
        if record is None or record.system is not System.BOOKS or not record.linked_crm_id:
            return None
        if own is None or own.deleted:
            return None
        kept = {p.email.strip().lower() for p in record.contact_persons if p.email}
        dropped = {
            p.email for p in own.record.contact_persons if p.email and p.email.strip().lower() not in kept
        }
        keys = self.matcher.email_keys(dropped) - request.lookup_keys
        return replace(request, lookup_keys=request.lookup_keys | keys) if keys else None

    def _with_linked_persons(
        self, request: SnapshotRequest, record: PartyRecord | None, own: RecordState | None
    ) -> SnapshotRequest | None:
        """``request`` widened to the names of a Books business customer's contact persons when its link to
        a CRM account is new (created linked, or linked now) and it does not look under them yet: the
        account's CRM contacts made before the pairing, which share no key with the customer, are found
        there, for ``EMAIL_MISMATCH`` to compare with the persons of their names. Every live record of such
        a name is read, past ``max_candidates``: nothing in a key item tells the account's contacts from the
        namesakes elsewhere, and a common name ("John Smith") has more of those than the cap."""
        if record is None or record.system is not System.BOOKS or record.kind is not RecordKind.COMPANY:
            return None
        if not record.linked_crm_id or (
            own is not None and not own.deleted and own.record.linked_crm_id == record.linked_crm_id
        ):
            return None
        names = person_name_keys(self.matcher, record)
        if names <= request.whole_keys:
            return None
        return replace(
            request,
            lookup_keys=request.lookup_keys | (names - request.keys),
            whole_keys=request.whole_keys | names,
        )

    def process(self, event: GuardEvent) -> GuardResult:
        """Decide on one event and commit the outcome once, however often the event is delivered.

        An event whose record must be fetched from Zoho is first looked up by its marker (one read of the
        audit table): a redelivery of one already decided is done without asking Zoho, so that while Zoho is
        down it is acknowledged rather than failed into the dead-letter queue."""
        if self._fetches(event) and self.repository.recorded(event.event_id):
            return GuardResult(event.event_id, None, already_processed=True)
        record = self._record(event)
        if record is None and event.operation is not Operation.DELETE and self.fetcher is None:
            plan = awaiting_enrichment_plan(event, self.config, self.clock())
            try:
                self.repository.commit(plan)
            except EventAlreadyProcessed:
                # Recorded as awaiting by an earlier delivery: it is still waiting, not decided (the
                # stored event must stay where requeue-awaiting finds it).
                return GuardResult(event.event_id, plan.entry, already_processed=True)
            return GuardResult(event.event_id, plan.entry)
        if record is None and event.operation is not Operation.DELETE:
            # The fetcher says the record no longer exists: a delete we have not heard of yet.
            event = event.model_copy(update={"operation": Operation.DELETE})
        request = self._request(event, record)
        fetched = event.record is None
        # The retry budget is counted from the first lost race or throttled commit, not from the first read:
        # a first attempt slowed by a cold start or a loaded host must still be re-decided once it loses.
        retrying_since: float | None = None
        conflicts = throttled = 0
        for attempt in range(1, self.max_attempts + 1):
            snapshot = self.repository.read_snapshot(request)
            if snapshot.already_processed:
                return GuardResult(event.event_id, None, already_processed=True, attempts=attempt)
            if (
                not fetched
                and record is not None
                and self.fetcher is not None
                and same_second_change(
                    snapshot.own, completed(record, snapshot.own, event.carries), _version(event, record)
                )
            ):
                # Two changes within one second: which came last, only Zoho knows. What it holds now
                # is decided on instead of the webhook's copy (and None is the delete it implies).
                fetched = True
                record = self.fetcher.fetch(event.source, event.module.value, event.record_id)
                event = event.model_copy(update={"carries": None})  # the whole record now
                if record is None:
                    event = event.model_copy(update={"operation": Operation.DELETE})
                request = self._request(event, record)
                continue
            wider = (
                self._with_completed_keys(request, event, record, snapshot.own)
                or self._with_dropped_addresses(request, record, snapshot.own)
                or self._with_linked_persons(request, record, snapshot.own)
            )
            if wider is not None:
                request = wider
                continue
            plan = plan_event(
                event,
                record,
                snapshot,
                matcher=self.matcher,
                config=self.config,
                now=self.clock(),
                rules=self.rules,
                fetched=fetched,
            )
            plan = counted_as_read(plan, snapshot.breaker)
            try:
                self.repository.commit(plan)
            except EventAlreadyProcessed:
                return GuardResult(event.event_id, None, already_processed=True, attempts=attempt)
            except ConcurrentUpdate:
                # A hold the guard may not replace cancels a commit too: read the items of those it held
                # or took for held by nobody.
                held = frozenset(plan.holds) | frozenset(plan.hold_checks)
                request = replace(request, hold_refs=request.hold_refs | held)
                conflicts += 1
                retrying_since = self.backoff.timer.clock() if retrying_since is None else retrying_since
                if self.backoff.pause(retrying_since, conflicts, throttled=False):
                    continue
                elapsed = self.backoff.timer.clock() - retrying_since
                raise ConcurrentUpdate(
                    f"event {event.event_id}: still conflicting after {attempt} attempts, {elapsed:.1f} s "
                    "after the first conflict (the retry budget); the queue delivers it again"
                ) from None
            except Throttled:
                # A hot item or partition: waiting helps it, hammering does not; past a few waits the
                # queue delivers the event again later.
                throttled += 1
                retrying_since = self.backoff.timer.clock() if retrying_since is None else retrying_since
                if self.backoff.pause(retrying_since, throttled, throttled=True):
                    continue
                raise
            returned = returned_customer(plan.entry)
            return GuardResult(event.event_id, plan.entry, attempts=attempt, returned=returned)
        raise ConcurrentUpdate(
            f"event {event.event_id}: still conflicting after {self.max_attempts} attempts"
        )


def _synced_change(
    previous: RecordState | None, record: PartyRecord, version: int, carries: tuple[str, ...] | None
) -> int | None:
    """When the values Zoho's sync carries last changed: now, if this event changes them (or brings the
    record back), else as the previous state had it. An event that did not send them all (a workflow
    webhook's template without the street) may have changed one it did not send: now as well."""
    if (
        previous is None
        or previous.deleted
        or (carries is not None and not set(SYNCED_FIELDS) <= set(carries))
        or previous.record.synced_values() != record.synced_values()
    ):
        return version
    return previous.synced_change
