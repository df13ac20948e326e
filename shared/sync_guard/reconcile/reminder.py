"""Holds nobody has decided about: a daily reminder to finance. (The scheduled check ``holds_waiting``.)

A hold is meant to be short: finance looks at the pair, an admin releases the hold or confirms the
duplicate. Until then the held CRM record stays out of the sync (it never reaches Books) and the held Books
customer stays inactive (it cannot be invoiced). A hold forgotten for weeks is a customer that nobody can
invoice, and whoever needs to invoice it is tempted to type it in again by hand: one more duplicate. The
first notice said what to do; this check says it again when nothing happened.

Once a day, in the first run between ``hour_utc`` o'clock (UTC) and midnight, the check reads the ``HOLD``
partition (one ``Query``) and takes the holds still waiting for a decision (status ``held``, not
``confirmed``) that are written in Zoho (held in enforce mode, or applied since) and older than
``after``. If there are any, finance gets one ``HOLDS_WAITING`` notice naming the oldest ``examples``,
and the audit trail one ``holds_reminder`` entry naming every one. A confirmed hold is a decision, and an
observe-mode hold never applied keeps nothing out of the sync: neither is a reminder's business.

Nor is a hold on a record the shadow has since seen deleted: there is nothing to decide about it. Such
holds are left out and counted (the notice, its audit entry and the check's note say how many, and the
notice names them, with what to do: an admin releases them to clear them from the list). They are not
released by themselves: a CRM record deleted can be restored from the recycle bin with its hold tag, and a
Books customer the guard took for deleted (a delete webhook carrying only the id) may still exist, so the
hold stays where a release finds it and removes its tag.

Nor is a hold on a Books customer edited into a vendor since (retired from matching: a supplier is no
duplicate). The guard releases its own holds such a vendor made moot (``sync_guard.admin.moot``), but an
admin's own hold stays by design, and so does a hold on a vendor retired before that release existed. Those
are left out and counted too, named for what they are (a Books vendor now, retired from matching since the
edit), not as records deleted in Zoho.

A hold a customer turned vendor made moot is released once the processor has handled the vendor's event
(``sync_guard.admin.moot``): the reminder is not left to ask finance about a supplier.

The day's reminder is claimed before anyone is told, by moving the check's watermark to the day's
reminder time (a conditional write): of two runs at once (a schedule delivered twice, ``sync-guard
checks`` by hand) one sends it. A notice that fails puts the watermark back, so the next run (a quarter of
an hour later) tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from sync_guard.admin.model import Hold, HoldStatus
from sync_guard.config import Mode, Settings
from sync_guard.guard.admin import admin_entry
from sync_guard.guard.model import RecordState
from sync_guard.models.records import System
from sync_guard.notify import Decision, FinanceNotice, NoticeRecord, Notifier, Severity, notify_finance
from sync_guard.notify.links import ZohoLinks
from sync_guard.reconcile.outcome import CheckOutcome, CheckStatus
from sync_guard.reconcile.ports import ACTOR, AuditAppender
from sync_guard.timefmt import utc_minute

logger = logging.getLogger(__name__)

HOLDS_CHECK = "holds_waiting"
WAITING_RULE = "HOLDS_WAITING"
#: How many holds a reminder names (the oldest); the audit entry names up to ``AUDITED`` of them.
EXAMPLES = 10
AUDITED = 200
DAY = timedelta(days=1)


class WaitingHolds(Protocol):
    """The holds and the records' states (``DynamoAdminRepository`` has both)."""

    def holds(self) -> list[Hold]: ...

    def states(self, refs: Iterable[str]) -> dict[str, RecordState]: ...


class ReminderState(Protocol):
    """The check's watermark: the last reminder time claimed."""

    def watermark(self, check: str) -> datetime | None: ...

    def advance(self, check: str, to: datetime, *, at: datetime) -> bool:
        """Move the watermark forward; False if it already is at or past ``to``."""
        ...

    def rewind(self, check: str, claimed: datetime, to: datetime | None, *, at: datetime) -> bool:
        """Put the watermark back from ``claimed`` to ``to`` (None: never run), if it still is ``claimed``."""
        ...


@dataclass(frozen=True)
class ReminderConfig:
    mode: Mode
    #: A hold waiting longer than this is worth a reminder; zero turns the check off.
    after: timedelta
    #: The reminder goes out in the first run at or after this hour (UTC) each day.
    hour_utc: int = 8
    examples: int = EXAMPLES

    @classmethod
    def from_settings(cls, settings: Settings) -> ReminderConfig:
        return cls(
            mode=settings.mode,
            after=timedelta(days=settings.hold_reminder_after_days),
            hour_utc=settings.hold_reminder_hour_utc,
        )


def reminder_time(now: datetime, hour_utc: int) -> datetime:
    """The day's reminder time: ``now``'s day (UTC) at ``hour_utc`` o'clock."""
    moment = now.astimezone(UTC)
    return datetime.combine(moment.date(), time(hour_utc), tzinfo=UTC)


@dataclass(frozen=True)
class Waiting:
    """One hold waiting for a decision, with its record as the shadow last saw it (None: never seen)."""

    hold: Hold
    held_at: datetime
    state: RecordState | None

    @property
    def deleted(self) -> bool:
        """The record was deleted in Zoho since, or is a Books vendor now (``retired``): nothing is left to
        decide about its hold."""
        return self.state is not None and self.state.deleted

    @property
    def retired(self) -> bool:
        """The record is a Books customer edited into a vendor since: retired from matching, not deleted."""
        return self.state is not None and self.state.retired


@dataclass(frozen=True)
class Look:
    """What one look at the holds found: those waiting for a decision, oldest first, and those old enough
    to be but left out, their record deleted since or a Books vendor now (``gone``)."""

    waiting: list[Waiting]
    gone: list[Waiting]


class HoldsReminder:
    """The ``holds_waiting`` check over the holds, the check state, the audit trail and finance's notifier
    (see the module docstring)."""

    def __init__(
        self,
        holds: WaitingHolds,
        state: ReminderState,
        audit: AuditAppender,
        notifier: Callable[[], Notifier],
        *,
        links: ZohoLinks,
        config: ReminderConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self._holds = holds
        self._state = state
        self._audit = audit
        self._notifier = notifier
        self._links = links
        self._config = config
        self._clock = clock

    def run(self) -> CheckOutcome:
        config = self._config
        if config.after <= timedelta(0):
            return _skipped("turned off (SYNC_GUARD_HOLD_REMINDER_AFTER_DAYS is 0)")
        now = self._clock()
        due = reminder_time(now, config.hour_utc)
        if now < due:
            return _skipped(f"next look after {utc_minute(due)}")
        last = self._state.watermark(HOLDS_CHECK)
        if last is not None and last >= due:
            return _skipped(f"next look after {utc_minute(due + DAY)}")
        look = self.look(now)
        waiting, gone = look.waiting, look.gone
        if not self._state.advance(HOLDS_CHECK, due, at=now):
            return _skipped("another run looked at the holds for this day")
        left_out = _left_out_note(gone)
        if not waiting:
            note = f"no hold has waited over {config.after.days} days" + (f" ({left_out})" if gone else "")
            return CheckOutcome(HOLDS_CHECK, CheckStatus.OK, note=note)
        try:
            entry_id = self._remind(look, now)
        except Exception:
            self._state.rewind(HOLDS_CHECK, due, last, at=self._clock())
            raise
        logger.info("holds reminder sent", extra={"holds": len(waiting), "left_out": len(gone)})
        note = f"{len(waiting)} holds waiting; finance reminded ({WAITING_RULE}, audit {entry_id})"
        note += f"; {left_out}" if gone else ""
        return CheckOutcome(HOLDS_CHECK, CheckStatus.OK, found=len(waiting), note=note)

    def look(self, now: datetime) -> Look:
        """The holds written in Zoho that have waited longer than ``after`` for a decision, oldest first,
        apart from those on records deleted since (``Look.gone``)."""
        found = self.waiting(now)
        return Look([item for item in found if not item.deleted], [item for item in found if item.deleted])

    def waiting(self, now: datetime) -> list[Waiting]:
        """The holds written in Zoho that have waited longer than ``after``, oldest first, whether their
        record lives or not."""
        cutoff = now - self._config.after
        held = [
            (hold.at, hold)
            for hold in self._holds.holds()
            if hold.status is HoldStatus.HELD
            and (hold.applied_in_zoho or hold.applied_by)
            and hold.at is not None
            and hold.at <= cutoff
        ]
        held.sort(key=lambda pair: (pair[0], pair[1].hold_id))
        states = self._holds.states(hold.hold_id for _, hold in held) if held else {}
        return [Waiting(hold, at, states.get(hold.hold_id)) for at, hold in held]

    def _remind(self, look: Look, now: datetime) -> str:
        waiting = look.waiting
        evidence = waiting_evidence(
            waiting, now, after=self._config.after, examples=self._config.examples, gone=look.gone
        )
        entry = admin_entry("holds_reminder", actor=ACTOR, at=now, mode=self._config.mode, note=evidence[0])
        notice = waiting_notice(waiting[: self._config.examples], evidence, audit_ref=entry.entry_id, at=now)
        notify_finance([notice], self._notifier(), links=self._links)
        refs = tuple(item.hold.hold_id for item in waiting[:AUDITED])
        self._audit.append(entry.model_copy(update={"records": refs, "evidence": tuple(evidence)}))
        return entry.entry_id


def _skipped(note: str) -> CheckOutcome:
    return CheckOutcome(HOLDS_CHECK, CheckStatus.SKIPPED, note=note)


def _days(span: timedelta) -> str:
    days = span.days
    return "1 day" if days == 1 else f"{days} days"


def waiting_evidence(
    waiting: Sequence[Waiting],
    now: datetime,
    *,
    after: timedelta,
    examples: int,
    gone: Sequence[Waiting] = (),
) -> list[str]:
    """What a reminder says (its audit note first): how many holds wait since when, how to list them, and
    how many on records deleted since it left out (``gone``, up to ``examples`` of them named)."""
    oldest = waiting[0].held_at
    count = f"{len(waiting)} held records have" if len(waiting) > 1 else "1 held record has"
    lines = [
        f"{count} waited more than {_days(after)} for a decision; the oldest was held on "
        f"{utc_minute(oldest)} ({_days(now - oldest)} ago)."
    ]
    if len(waiting) > examples:
        lines.append(
            f"This message names the {examples} oldest; an admin lists every one with "
            "`sync-guard quarantines list --status held`."
        )
    by_rule: dict[str, int] = {}
    for item in waiting:
        for rule in item.hold.rules or ("held by hand",):
            by_rule[rule] = by_rule.get(rule, 0) + 1
    counts = sorted(by_rule.items(), key=lambda pair: (-pair[1], pair[0]))
    lines.append("Held for: " + ", ".join(f"{rule} {n}" for rule, n in counts) + ".")
    deleted = [item for item in gone if not item.retired]
    vendors = [item for item in gone if item.retired]
    if deleted:
        lines.append(_left_out(deleted, examples))
    if vendors:
        lines.append(_left_out_vendors(vendors, examples))
    return lines


def _left_out_note(gone: Sequence[Waiting]) -> str:
    """The check's note on the holds a look left out: how many on records deleted since, how many on
    records turned Books vendors ("" for none)."""
    vendors = sum(1 for item in gone if item.retired)
    deleted = len(gone) - vendors
    parts = [f"{deleted} on records deleted since"] if deleted else []
    parts += [f"{vendors} on records turned Books vendors"] if vendors else []
    return f"{' and '.join(parts)} left out" if parts else ""


def _left_out_vendors(vendors: Sequence[Waiting], examples: int) -> str:
    """The line saying which holds a reminder left out, their record a Books vendor now: each named with
    the time it became one (Zoho's time of the edit)."""

    def since(item: Waiting) -> str:
        retired_at = item.state.retired_at if item.state is not None else None
        return utc_minute(retired_at) if retired_at is not None else "an unknown time"

    more = f" and {len(vendors) - examples} more" if len(vendors) > examples else ""
    if len(vendors) == 1:
        [item] = vendors
        return (
            f"Left out: 1 hold on a record that is a Books vendor now, retired from matching since "
            f"{since(item)} ({item.hold.hold_id}); a supplier is no duplicate, so nothing to decide about "
            "it, and an admin can release it to clear it from the list."
        )
    named = ", ".join(f"{item.hold.hold_id} since {since(item)}" for item in vendors[:examples])
    return (
        f"Left out: {len(vendors)} holds on records that are Books vendors now, retired from matching "
        f"({named}{more}); suppliers are no duplicates, so nothing to decide about them, and an admin can "
        "release them to clear them from the list."
    )


def _left_out(gone: Sequence[Waiting], examples: int) -> str:
    """The line saying which holds a reminder left out, their record deleted in Zoho since."""
    refs = [item.hold.hold_id for item in gone[:examples]]
    more = f" and {len(gone) - examples} more" if len(gone) > examples else ""
    named = f"({', '.join(refs)}{more})"
    if len(gone) == 1:
        return (
            f"Left out: 1 hold on a record deleted in Zoho since it was held {named}; nothing to decide "
            "about it, and an admin can release it to clear it from the list."
        )
    return (
        f"Left out: {len(gone)} holds on records deleted in Zoho since they were held {named}; nothing to "
        "decide about them, and an admin can release them to clear them from the list."
    )


def waiting_notice(
    waiting: Sequence[Waiting], evidence: Sequence[str], *, audit_ref: str, at: datetime
) -> FinanceNotice:
    """The reminder: each waiting record, held (its hold is written in Zoho), with how long it has waited."""
    return FinanceNotice(
        rule=WAITING_RULE,
        severity=Severity.WARNING,
        decision=Decision.QUARANTINE,
        # Every record named is held in Zoho, whatever mode the guard decides in today.
        mode=Mode.ENFORCE,
        records=tuple(_notice_record(item, at) for item in waiting),
        evidence=tuple(evidence),
        audit_ref=audit_ref,
        occurred_at=at,
    )


def _notice_record(item: Waiting, now: datetime) -> NoticeRecord:
    system_word, _, record_id = item.hold.hold_id.partition(":")
    rules = ", ".join(item.hold.rules) if item.hold.rules else "held by hand"
    role = f"waiting {_days(now - item.held_at)} ({rules})"
    record = item.state.record if item.state is not None else None
    return NoticeRecord(
        system=System(system_word),
        record_id=record_id,
        display_name=record.name if record is not None else "",
        module=record.module if record is not None else None,
        role=role,
        has_transactions=record.has_transactions if record is not None else None,
        outstanding=record.outstanding if record is not None else None,
        currency=record.currency if record is not None else None,
        held=True,
        deleted=item.state.deleted if item.state is not None else False,
    )


__all__: Sequence[str] = (
    "HOLDS_CHECK",
    "WAITING_RULE",
    "HoldsReminder",
    "Look",
    "ReminderConfig",
    "ReminderState",
    "Waiting",
    "WaitingHolds",
    "reminder_time",
    "waiting_evidence",
    "waiting_notice",
)
