"""In-memory stand-ins for the engine's ports: the same conditional semantics as DynamoDB, no I/O."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sync_guard.config import Mode
from sync_guard.errors import ConcurrentUpdate
from sync_guard.guard.model import AuditEntry, BreakerState, OutboxAction, RecordState
from sync_guard.guard.ports import (
    CommitPlan,
    EventAlreadyProcessed,
    HeldRecord,
    KeyItem,
    MatchView,
    Snapshot,
    SnapshotRequest,
)
from sync_guard.guard.retry import CommitBackoff
from sync_guard.models.records import PartyRecord


class ExactMatcher:
    """A deliberately dumb matcher for engine mechanics: same lower-cased name or same email = duplicate."""

    def blocking_keys(self, record: PartyRecord) -> frozenset[str]:
        keys = {f"n:{record.name.strip().lower()}"} if record.name else set()
        if record.email:
            keys.add(f"e:{record.email.lower()}")
        return frozenset(keys)

    def compare(self, a: PartyRecord, b: PartyRecord) -> MatchView:
        if a.name and a.name.strip().lower() == b.name.strip().lower():
            return MatchView(1.0, "duplicate", ("same name",))
        if a.email and b.email and a.email.lower() == b.email.lower():
            return MatchView(0.95, "duplicate", ("same email",))
        return MatchView(0.0, "distinct", ())

    def name_key(self, record: PartyRecord) -> str:
        return record.name.strip().lower()

    def email_keys(self, addresses: Iterable[str]) -> frozenset[str]:
        return frozenset(f"e:{address.lower()}" for address in addresses)


@dataclass
class InMemoryShadow:
    """A ``ShadowRepository`` in dictionaries, with revision checks like the DynamoDB one."""

    states: dict[str, RecordState] = field(default_factory=dict)
    keys: dict[str, KeyItem] = field(default_factory=dict)
    entries: dict[str, AuditEntry] = field(default_factory=dict)
    outbox: dict[str, OutboxAction] = field(default_factory=dict)
    holds: dict[str, HeldRecord] = field(default_factory=dict)
    breaker: BreakerState = field(default_factory=BreakerState)
    windows: Counter[tuple[int, int]] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    #: Called between a snapshot and its commit, to simulate a racing writer.
    interleave: list[object] = field(default_factory=list)

    def recorded(self, entry_id: str) -> bool:
        self.calls["recorded"] += 1
        return entry_id in self.entries

    def read_snapshot(self, request: SnapshotRequest) -> Snapshot:
        self.calls["read"] += 1
        if request.entry_id in self.entries:
            return Snapshot(True, None, {}, {}, BreakerState())
        own = self.states.get(request.ref)
        wanted_keys = set(request.keys | request.lookup_keys)
        if not request.keys and own is not None:
            wanted_keys |= own.keys
        keys = {key: self.keys.get(key, KeyItem(key=key)) for key in wanted_keys}
        refs: set[str] = set(request.extra_refs)
        for item in keys.values():
            refs |= item.members
        if own is not None:
            refs |= {r for r in (own.partner, own.former_partner) if r}
        for ref in request.extra_refs:
            if (extra := self.states.get(ref)) is not None:
                refs |= {r for r in (extra.partner, extra.former_partner) if r}
        refs.discard(request.ref)
        others = {ref: self.states[ref] for ref in refs if ref in self.states}
        hits = (
            self.windows[(self.breaker.epoch, request.storm_bucket)],
            self.windows[(self.breaker.epoch, request.storm_bucket - 1)],
        )
        breaker = self.breaker.model_copy(update={"window_hits": hits})
        held = {ref: self.holds[ref] for ref in request.hold_refs | {request.ref} if ref in self.holds}
        return Snapshot(False, own, keys, others, breaker, held)

    def commit(self, plan: CommitPlan) -> None:
        self.calls["commit"] += 1
        if self.interleave:
            racer = self.interleave.pop(0)
            racer()  # type: ignore[operator]
        if plan.entry.entry_id in self.entries:
            raise EventAlreadyProcessed("already recorded")
        for write in plan.state_writes:
            current = self.states.get(write.state.ref)
            if (current.rev if current else None) != write.expected_rev:
                raise ConcurrentUpdate(f"state {write.state.ref}")
        for change in plan.key_changes:
            current_key = self.keys.get(change.key)
            if change.checked and (current_key.rev if current_key else None) != change.expected_rev:
                raise ConcurrentUpdate(f"key {change.key}")
        for key, rev in plan.key_checks:
            if (current_key.rev if (current_key := self.keys.get(key)) else None) != rev:
                raise ConcurrentUpdate(f"key {key}")
        for ref, rev in plan.state_checks:
            if (current.rev if (current := self.states.get(ref)) else None) != rev:
                raise ConcurrentUpdate(f"state {ref}")
        if (
            plan.breaker
            and plan.breaker.trip
            and (self.breaker.open or self.breaker.epoch != plan.breaker.epoch)
        ):
            raise ConcurrentUpdate("breaker")
        if plan.breaker and plan.breaker.require_open and not self.breaker.open:
            raise ConcurrentUpdate("breaker closed")
        if plan.breaker and plan.breaker.count_hit:
            change = plan.breaker
            if change.hits_read is None:
                raise ValueError("a counted storm hit must say which window hits it was decided on")
            now_hits = (
                self.windows[(change.epoch, change.bucket)],
                self.windows[(change.epoch, change.bucket - 1)],
            )
            if now_hits != change.hits_read:
                raise ConcurrentUpdate("breaker window")
            if self.breaker.open or self.breaker.epoch != change.epoch:
                raise ConcurrentUpdate("breaker no longer closed")
        for ref in (*plan.holds, *plan.hold_checks):
            if (hold := self.holds.get(ref)) is not None and not hold.replaceable:
                raise ConcurrentUpdate(f"hold {ref}")
        # all conditions hold: apply
        self.entries[plan.entry.entry_id] = plan.entry
        for write in plan.state_writes:
            self.states[write.state.ref] = write.state
        for change in plan.key_changes:
            old = self.keys.get(change.key, KeyItem(key=change.key))
            members = (old.members | change.add) - change.remove
            owner = old.owner or (sorted(change.add)[0] if change.add else None)
            gone = (
                old.gone | change.add
                if change.gone
                else old.gone - change.add
                if change.gone is False
                else old.gone
            )
            self.keys[change.key] = KeyItem(
                change.key, frozenset(members), owner, (old.rev or 0) + 1, frozenset(gone)
            )
        for action in plan.actions:
            self.outbox.setdefault(action.action_id, action)
        if plan.breaker:
            if plan.breaker.count_hit:
                self.windows[(plan.breaker.epoch, plan.breaker.bucket)] += 1
            if plan.breaker.trip:
                self.breaker = BreakerState(
                    open=True,
                    epoch=plan.breaker.epoch,
                    opened_at=plan.entry.at,
                    opened_by_event=plan.breaker.event_id,
                    exists=True,
                )
        for ref in plan.holds:
            self.holds[ref] = HeldRecord(plan.entry.entry_id, applied=plan.entry.mode is Mode.ENFORCE)

    def reset_breaker(self, entry: AuditEntry | None = None) -> None:
        if entry is not None:
            if not self.breaker.open:
                raise ConcurrentUpdate("breaker is not open")
            self.entries[entry.entry_id] = entry
        self.breaker = BreakerState(open=False, epoch=self.breaker.epoch + 1, exists=True)


@dataclass
class FakeTime:
    """A clock that moves only when slept on: retry waits are recorded, never slept through."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def backoff(self, **settings: Any) -> CommitBackoff:
        return CommitBackoff(timer=self, rng=random.Random(7), **settings)
