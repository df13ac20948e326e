"""Holds a customer turned vendor made moot: released by the processor, through the admin release, and
made again when the vendor is a customer again.

A Books customer edited into a vendor is retired from matching (``guard.engine._plan_retire``): a
supplier is no duplicate. A hold the guard made because of it is then about nothing: the customer it held
(marked inactive in Books, so a supplier nobody can raise a bill against), or the record it held as a
duplicate of that customer (a CRM account tagged out of the sync, a second Books customer inactive) now
that there is no customer left for it to duplicate. Left alone, such a hold stays listed, and the daily
``HOLDS_WAITING`` reminder asks finance to decide about a supplier.

So once the processor has handled a Books event whose record the shadow holds as retired (the edit into a
vendor, a later edit of the vendor, or any redelivery of them), it reads the ``HOLD`` partition (one
``Query``), the decisions naming the vendor (the audit trail's record view: ``MootHolds._raised``) and
the states of the records those holds name, and takes the holds still waiting for a decision (status
``held``) that the guard made (their entry is a decision of the engine's, not an admin operation) and that
this vendor made moot:

- the held record is the vendor; or
- the vendor is among the records the decision held it against (the related records of its findings about
  it, its own partner aside), and every one of those is retired.

Each is released through the admin release (``AdminService.release_moot``), as an admin would release it,
with the guard as its actor: the hold's actions not run yet are cancelled, the tag or the inactive mark the
guard wrote is undone through the outbox (in ``observe`` mode, recorded only), the ``HOLD`` item goes and
the release is audited, as operation ``release_moot`` naming the vendor among its records (and in its
note). The release judges nothing: the records are not remembered as "not duplicates" of one another,
since nobody looked at them.

An admin's own hold (``quarantines hold``, ``preflight --apply``) stays, as does a hold an admin confirmed:
both are a person's decision, and a person releases them. A release that conflicts (the hold's action is
being written to Zoho right now, or an event moved the record on) fails the event, which SQS delivers
again: the engine knows it already (``already_processed``), and the release is tried again.

Edited back into a customer, the record is decided afresh as a new customer: a Books customer held as its
duplicate is held again by that decision, and so is the record itself if it still is a duplicate (the
guard's own hold of it is not restored as it was: the rules judge it as it is now; an admin's own hold of
it was never released, and is the admin's still). A CRM account held as its duplicate is decided by no
Books event, so the processor then holds again what this vendor's retirement made moot, where it still
stands (``MootHolds.restore_for``: the guard's hold, operation ``hold_again``; an admin's judgement since
stands).

A vendor retired before the processor released such holds (or whose event never came again) keeps them
until its next Books event. ``sync-guard quarantines release-moot`` finds them for every retired record at
once (``moot()`` with no vendor: each hold's decision, in batches) and releases them as
above, at most ``--limit`` a run, with the admin running it as the actor; a second run finds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sync_guard.admin.model import Hold, HoldStatus, OperationResult
from sync_guard.config import Settings
from sync_guard.guard.engine import returned_customer
from sync_guard.guard.model import AuditEntry, EntryKind, Finding, RecordState
from sync_guard.models.records import Module, PartyRecord
from sync_guard.store.audit import AuditQuery

if TYPE_CHECKING:
    from sync_guard.admin.service import AdminService

logger = logging.getLogger(__name__)

#: The actor of the releases: the guard itself (as on its decisions' entries).
GUARD_ACTOR = "guard"
#: The operation of a hold the guard makes again (``MootHolds.restore_for``).
HOLD_AGAIN = "hold_again"
#: The operation of a hold's release as moot (``AdminService.release_moot``).
RELEASE_MOOT = "release_moot"


class HeldRecords(Protocol):
    """The holds and the records' states (``DynamoAdminRepository`` has both)."""

    def holds(self) -> list[Hold]: ...

    def states(self, refs: Iterable[str]) -> dict[str, RecordState]: ...


#: Entries of the audit trail naming a record (its record view), from a time on: ``(ref, since)``.
Naming = Callable[[str, datetime], Iterable[AuditEntry]]
#: The entries of several ids that exist, by id, read in batches (``AuditLog.get_many``).
Entries = Callable[[Iterable[str]], Mapping[str, AuditEntry]]

#: The start of the record view read for a vendor when a hold has no time (none the guard writes).
_EVER = datetime(1970, 1, 1, tzinfo=UTC)


class ReleaseMoot(Protocol):
    """``AdminService.release_moot``."""

    def __call__(self, hold_id: str, *, actor: str, vendors: Iterable[str]) -> OperationResult: ...


class HoldAgain(Protocol):
    """``AdminService.hold``, as the guard holds a record again (``MootHolds.restore_for``)."""

    def __call__(
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
        operation: str = "hold",
    ) -> OperationResult: ...


def guard_made(entry: AuditEntry) -> bool:
    """Whether ``entry`` made a hold of the guard's: a decision of the engine's, or the guard holding a
    record again (``HOLD_AGAIN``); not an admin's own hold, which is a person's to release."""
    return entry.kind is EntryKind.DECISION or (entry.operation == HOLD_AGAIN and entry.actor == GUARD_ACTOR)


def held_against(decision: AuditEntry, held: str, partner: str | None) -> frozenset[str]:
    """The records ``decision`` held ``held`` against: the related records of its findings about it, the
    held record's own partner aside (an edit of a pair names it, and the pair is one customer)."""
    return frozenset(
        ref
        for finding in decision.findings
        if finding.subject == held
        for ref in finding.related
        if ref and ref not in (held, partner)
    )


def _oldest_first(hold: Hold) -> tuple[datetime, str]:
    return hold.at or datetime.min.replace(tzinfo=UTC), hold.hold_id


def moot_reason(vendors: Iterable[str]) -> str:
    """The release's note: which records are vendors now, so the hold is about nothing."""
    return _moot_note(vendors)


def _moot_note(vendors: Iterable[str]) -> str:
    """The note of a release as moot written before operation ``release_moot`` existed (an ordinary
    ``release``): these words, frozen, are how such an entry is still known (``made_moot_by``)."""
    named = sorted(vendors)
    verb = "is a Books vendor" if len(named) == 1 else "are Books vendors"
    return f"{', '.join(named)} {verb} now (a customer no longer, retired from matching), so the hold is moot"


def made_moot_by(release: AuditEntry, vendors: frozenset[str]) -> bool:
    """Whether ``release`` (an admin entry releasing a hold) released it as made moot by exactly
    ``vendors``: operation ``release_moot`` naming them (its records after the held one, or the held record
    itself when it names none), whatever its note says. A release written before that operation existed
    is an ordinary ``release`` whose note begins with the words it then had (``_moot_note``: the trail
    is permanent); a person's own release never names vendors so."""
    if release.operation == RELEASE_MOOT:
        return frozenset(release.records[1:] or release.records[:1]) == vendors
    return release.operation == "release" and release.note.startswith(_moot_note(vendors))


class MootHolds:
    """Releases the guard's holds a retired vendor made moot (see the module docstring)."""

    def __init__(
        self,
        holds: HeldRecords,
        decisions: Callable[[str], AuditEntry | None],
        release: ReleaseMoot,
        naming: Naming | None = None,
        hold: HoldAgain | None = None,
        decisions_of: Entries | None = None,
    ) -> None:
        self._holds = holds
        self._decisions = decisions
        self._release = release
        self._naming = naming
        self._hold = hold
        self._decisions_of = decisions_of

    @classmethod
    def from_settings(cls, settings: Settings) -> MootHolds:
        from sync_guard.admin.service import AdminService  # the processor's: built at cold start

        return cls.of(AdminService.from_settings(settings))

    @classmethod
    def of(cls, admin: AdminService) -> MootHolds:
        """Over the admin service's holds, audit trail and release (``quarantines release-moot``'s)."""
        audit = admin.audit_log

        def naming(ref: str, since: datetime) -> Iterable[AuditEntry]:
            return audit.iterate(AuditQuery(record=ref, since=since))

        return cls(admin.repository, audit.get, admin.release_moot, naming, admin.hold, audit.get_many)

    def release_for(self, ref: str) -> list[str]:
        """Release the holds the record ``ref`` made moot, if the shadow holds it as retired (a vendor now);
        returns the held records released. A release that conflicts raises (``Conflict``)."""
        state = self._holds.states([ref]).get(ref)
        if state is None or not state.retired:
            return []
        released = []
        for hold, vendors in self.moot(ref):
            self._release(hold.hold_id, actor=GUARD_ACTOR, vendors=vendors)
            released.append(hold.hold_id)
        if released:
            logger.info(
                "holds made moot by a customer turned vendor released", extra={"count": len(released)}
            )
        return released

    def _raised(self, holds: list[Hold], vendor: str | None) -> list[tuple[Hold, AuditEntry]]:
        """The guard's own holds among ``holds``, each with the decision that made it (an admin's own hold
        is a person's to release).

        For one ``vendor``, only the holds it can have made moot are looked at: its own, and those whose
        decision names it. Those decisions come from the audit trail's record view of the vendor (one
        ``Query`` a page, from the oldest hold's time on), not from a read of each hold's decision by its
        id: at 1,000 holds that was 1,000 ``GetItem`` per vendor event (some 12 s on DynamoDB Local, 1,000
        strongly consistent reads), now a few requests. A decision whose view items a crash left unwritten
        (a transaction split on a development server: ``commit_audited``) is not found so;
        ``quarantines release-moot`` (every hold's decision by its id, a hundred a ``BatchGetItem``:
        ``_read``) still finds its hold."""
        if vendor is None or self._naming is None:
            found = list(zip(holds, self._read([hold.entry_id for hold in holds]), strict=True))
        else:
            since = min((hold.at or _EVER for hold in holds), default=_EVER)
            wanted = {hold.entry_id for hold in holds}
            naming = {
                entry.entry_id: entry for entry in self._naming(vendor, since) if entry.entry_id in wanted
            }
            found = [(hold, naming[hold.entry_id]) for hold in holds if hold.entry_id in naming]
            own = next((hold for hold in holds if hold.hold_id == vendor), None)
            if own is not None and own.entry_id not in naming:
                found.append((own, self._decisions(own.entry_id)))
        return [(hold, entry) for hold, entry in found if entry is not None and guard_made(entry)]

    def _read(self, entry_ids: list[str]) -> list[AuditEntry | None]:
        """The decisions of ``entry_ids``, in their order (None for one not found): in batches when the
        trail reads so (at 1,000 holds, 10 requests rather than 1,000)."""
        if self._decisions_of is None:
            return [self._decisions(entry_id) for entry_id in entry_ids]
        read = self._decisions_of(entry_ids)
        return [read.get(entry_id) for entry_id in entry_ids]

    def returned(self, entry_id: str) -> bool:
        """Whether the decision ``entry_id`` brought a Books customer turned vendor back as a customer (a
        redelivery of its event looks it up: the engine does not decide it again)."""
        entry = self._decisions(entry_id)
        return entry is not None and returned_customer(entry)

    def restore_for(self, ref: str, same: Callable[[PartyRecord, PartyRecord], bool]) -> list[str]:
        """Hold again the records whose holds the record ``ref`` made moot, now that it is a Books customer
        again (edited back from a vendor); returns the records held again. A hold that conflicts raises.

        No Books event of ``ref`` decides them: a CRM account held as its duplicate was held by the CRM
        account's own create, and a Books customer edited back is decided as a new customer against the
        Books customers only (one held as its duplicate is held again by that decision). So, for each
        record a hold of the guard's held against ``ref`` (the decisions naming it: the audit trail's
        record view), the guard holds it again (``AdminService.hold``, actor ``guard``, operation
        ``HOLD_AGAIN``, with that decision's rules and findings, so that an admin's release of it judges
        as a release of the first hold does) when, judged afresh:

        - its newest release is the one that found the hold moot (a person released or held it since:
          that person's decision stands), it is not held now, and it lives;
        - an admin has not judged it not a duplicate of ``ref`` (``RecordState.cleared``);
        - and it still is a duplicate of the customer as it is now (``same``: the matcher's verdict).
        """
        if self._naming is None or self._hold is None:
            return []
        customer = self._holds.states([ref]).get(ref)
        if customer is None or not customer.live or customer.record.module is not Module.BOOKS_CUSTOMERS:
            return []
        raised: dict[str, AuditEntry] = {}  # the newest hold of the guard's on each record against ``ref``
        for entry in self._naming(ref, _EVER):
            if guard_made(entry):
                for finding in entry.findings:
                    if finding.subject != ref and ref in finding.related:
                        raised.setdefault(finding.subject, entry)
        states = self._holds.states(raised) if raised else {}
        again = []
        for held, decision in raised.items():
            state = states.get(held)
            if state is None or not state.live or state.held_by is not None or ref in state.cleared:
                continue
            against = held_against(decision, held, state.partner)
            if ref not in against or not self._released_as_moot(held, against, decision.at):
                continue
            if not same(state.record, customer.record):
                continue
            findings = tuple(f for f in decision.findings if f.subject == held)
            self._hold(
                held,
                actor=GUARD_ACTOR,
                reason=(
                    f"{ref} is a Books customer again (a vendor no longer), and {held} still is its "
                    f"duplicate: held again, as {decision.entry_id} held it before the hold was released as "
                    "moot"
                ),
                rules=tuple(dict.fromkeys(f.code for f in findings)),
                related=tuple(sorted(against)),
                evidence=tuple(f"{f.code}: {line}" for f in findings for line in f.evidence),
                findings=findings,
                names={held: state.record.name, ref: customer.record.name},
                operation="hold_again",  # HOLD_AGAIN, spelt out: cli._words' check finds operations so
            )
            again.append(held)
        if again:
            logger.info(
                "holds made moot held again: a vendor is a customer again", extra={"count": len(again)}
            )
        return again

    def _released_as_moot(self, held: str, against: frozenset[str], since: datetime) -> bool:
        """Whether the newest release of ``held`` since ``since`` is the release of a hold ``against`` made
        moot (``made_moot_by``), not a person's."""
        assert self._naming is not None
        for entry in self._naming(held, since):  # newest first
            if (
                entry.kind is EntryKind.ADMIN
                and entry.operation in ("release", RELEASE_MOOT)
                and entry.records[:1] == (held,)
            ):
                return made_moot_by(entry, against)
        return False

    def moot(self, vendor: str | None = None) -> list[tuple[Hold, frozenset[str]]]:
        """The guard's holds waiting for a decision that a retired record made moot (``vendor``: only those
        the retired ``vendor`` did), each with the retired records that did: the held record itself, a
        vendor now, or every record the hold was raised against. Oldest hold first.

        One ``Query`` of the ``HOLD`` partition, the decisions of the holds (``_raised``: for a vendor, its
        record view; else each hold's, ``BatchGetItem``), and the states of the held records and of those
        they were held against (``BatchGetItem``, a hundred a request)."""
        holds = [hold for hold in self._holds.holds() if hold.status is HoldStatus.HELD]
        raised = self._raised(holds, vendor)
        if not raised:
            return []
        states = self._holds.states(hold.hold_id for hold, _ in raised)
        against = {
            hold.hold_id: held_against(
                decision, hold.hold_id, state.partner if (state := states.get(hold.hold_id)) else None
            )
            for hold, decision in raised
        }
        others = {ref for refs in against.values() for ref in refs} - states.keys()
        states |= self._holds.states(sorted(others)) if others else {}

        def retired(ref: str) -> bool:
            return (state := states.get(ref)) is not None and state.retired

        found: list[tuple[Hold, frozenset[str]]] = []
        for hold, _ in raised:
            ref, refs = hold.hold_id, against[hold.hold_id]
            if retired(ref) and vendor in (None, ref):
                found.append((hold, frozenset({ref})))
            elif refs and (vendor is None or vendor in refs) and all(map(retired, refs)):
                found.append((hold, refs))
        return sorted(found, key=lambda pair: _oldest_first(pair[0]))


__all__ = (
    "GUARD_ACTOR",
    "HOLD_AGAIN",
    "RELEASE_MOOT",
    "Entries",
    "HeldRecords",
    "HoldAgain",
    "MootHolds",
    "Naming",
    "ReleaseMoot",
    "guard_made",
    "held_against",
    "made_moot_by",
    "moot_reason",
)
