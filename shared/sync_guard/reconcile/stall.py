"""Is Zoho's sync still carrying CRM edits to Books? (The scheduled check ``sync_stall``.)

The native CRM -> Books sync stops without an error anyone sees when the user who connected it is
deactivated or loses their licence or Books role: CRM edits go on, linked Books customers stop changing,
and new CRM customers never arrive, so finance invoices on stale details or creates the customer by hand
(a duplicate in waiting). Whoever notices weeks later is tempted to disconnect and reconnect, the one move
that multiplies duplicates (the seed's fifth pattern). This check notices within hours.

Each run samples the CRM records edited between ``lookback`` and ``grace`` ago whose Books partner the
shadow knows, newest first, at most ``sample`` of them per module. Records the guard holds back are left
out (they are out of the sync on purpose), and so are records CRM shows with the hold tag or field
(whatever the shadow says: an untag not carried out yet, a hold made by hand) and partners that are
deleted. An edit the guard saw through its webhooks change none of the values the sync carries (an owner
or a rating changed, the guard's own tag) is judged as the edit that last changed them
(``RecordState.synced_change``), and left out when that one is older than ``lookback``. Each partner is
read in Books:

- **followed**: the Books customer changed at or after the CRM edit (less a minute for clocks), and shows
  what CRM has in every field the sync carries;
- **not followed**: it did not, and it still differs from the CRM record in a field the sync carries (name,
  email, phone, billing street, city, postcode);
- **unknown**: it did not change, and nothing the sync carries differs (an edit outside the sync's fields);
  it changed after the CRM edit but still differs (someone else changed it: finance, the guard's hold);
  or it changed less than ``grace`` before the CRM edit, which a two-way sync carrying that Books change
  to CRM makes (Books is then the newer side, and may hold what the sync does not carry back).

A look stops at the first edit followed (a healthy sync costs about one Books read), and the check looks
once every ``every`` (an hour) although the schedule runs more often: Books caps API calls per day.

The sync is **stalled** when at least ``min_unfollowed`` edits were not followed and none was. A stall is
one episode, kept in the check state: the run that first sees it notifies finance (``SYNC_STALLED``) and
audits ``sync_stalled``; later runs stay quiet, but each reports an alert (the function's
``ZohoCheckAlerts`` metric, which alarms). The first run that sees a followed edit again ends the episode,
notifies ``SYNC_RESUMED`` and audits ``sync_resumed``. A run that samples no linked edit at all changes
nothing: no news is not a recovery.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol

from sync_guard.config import Mode, Settings
from sync_guard.guard.admin import admin_entry
from sync_guard.guard.model import RecordState, epoch_ms
from sync_guard.models.records import SYNCED_FIELDS, Module, PartyRecord, System
from sync_guard.notify import Decision, FinanceNotice, NoticeRecord, Notifier, Severity, notify_finance
from sync_guard.notify.links import ZohoLinks
from sync_guard.reconcile.ports import ACTOR, AuditAppender
from sync_guard.timefmt import utc_minute
from sync_guard.zoho.convert import books_contact_to_party, crm_record_to_party, parse_zoho_time
from sync_guard.zoho.errors import ZohoListingIncomplete

logger = logging.getLogger(__name__)

STALL_CHECK = "sync_stall"
STALLED_RULE = "SYNC_STALLED"
RESUMED_RULE = "SYNC_RESUMED"
#: How far the two products' clocks may disagree: a Books change this long before the CRM edit still counts.
CLOCK_SKEW = timedelta(minutes=1)
#: The CRM fields the check reads: what the sync carries to Books, per module.
CRM_FIELDS: Mapping[Module, tuple[str, ...]] = {
    # Accounts have no standard Email field, and asking for a field a module lacks risks a refusal.
    Module.CRM_ACCOUNTS: (
        "Account_Name",
        "Phone",
        "Billing_Street",
        "Billing_City",
        "Billing_Code",
    ),
    Module.CRM_CONTACTS: (
        "First_Name",
        "Last_Name",
        "Full_Name",
        "Email",
        "Phone",
        "Mailing_Street",
        "Mailing_City",
        "Mailing_Zip",
    ),
}
#: How many example pairs a notice names.
EXAMPLES = 3
_SKEW_MS = int(CLOCK_SKEW.total_seconds() * 1000)
#: How much earlier than ``every`` after the last look a run may look: each run reaches this check after
#: the others, which take from seconds to the function's five minutes, so the run an hour later often
#: comes a little short of the hour and would otherwise leave the look to the run after it.
LOOK_SLACK = timedelta(minutes=5)
#: How many CRM records, per ``sample`` edits, a run looks at in the shadow before it stops looking for
#: linked ones (an organisation editing many records no one synced).
EXAMINED_PER_SAMPLE = 10


class CrmEditsReader(Protocol):
    def iter_recently_modified(
        self, module: Module | str, *, since: datetime, fields: Sequence[str]
    ) -> Iterator[dict[str, Any]]: ...


class BooksContactReader(Protocol):
    def get_contact_data(self, contact_id: str) -> dict[str, Any] | None: ...


class PairReader(Protocol):
    """The shadow mapping: a record's last known state, with its partner and hold."""

    def get_state(self, ref: str) -> RecordState | None: ...


@dataclass(frozen=True)
class StallEpisode:
    """A stall the guard has reported and not yet seen end."""

    #: The oldest CRM edit not followed, when the stall was reported: about when the sync stopped.
    since: datetime
    reported_at: datetime
    #: The CRM records the report named.
    examples: tuple[str, ...]


class StallState(Protocol):
    def watermark(self, check: str) -> datetime | None:
        """When the check last looked (None before its first look)."""
        ...

    def advance(self, check: str, to: datetime, *, at: datetime) -> bool: ...

    def stall_episode(self) -> StallEpisode | None: ...

    def open_stall(self, episode: StallEpisode) -> bool:
        """Remember ``episode`` unless a stall is open already (False: another run opened one first)."""
        ...

    def close_stall(self, episode: StallEpisode) -> bool:
        """Forget ``episode`` (the stall reported at its ``reported_at``); False when it is gone already."""
        ...


class FollowUp(StrEnum):
    FOLLOWED = "followed"
    NOT_FOLLOWED = "not followed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Edit:
    """One CRM edit of a linked record, and what Books shows of it."""

    crm: PartyRecord
    edited_at: datetime
    books: PartyRecord
    books_changed_at: datetime | None
    #: The fields the sync carries in which Books still differs from CRM.
    differs: tuple[str, ...]
    #: How long the sync may take to carry an edit (the grace), either way.
    sync_delay: timedelta = timedelta(0)

    @property
    def follow_up(self) -> FollowUp:
        changed = self.books_changed_at
        if changed is not None and changed >= self.edited_at - CLOCK_SKEW:
            # Books customers change for other reasons too (finance's edits, the guard's own holds): the
            # sync carried the edit only if Books now shows what CRM has.
            return FollowUp.UNKNOWN if self.differs else FollowUp.FOLLOWED
        if changed is not None and changed >= self.edited_at - self.sync_delay:
            # A two-way sync writing this Books change to CRM is itself a CRM edit, a little later: Books
            # is the newer side, and what it does not carry back (a street) differs without a stall.
            return FollowUp.UNKNOWN
        return FollowUp.NOT_FOLLOWED if self.differs else FollowUp.UNKNOWN

    def describe(self) -> str:
        """One line of evidence (names and ids, never emails)."""
        changed = utc_minute(self.books_changed_at) if self.books_changed_at else "at an unknown time"
        line = (
            f"{self.crm.ref} '{self.crm.name}' edited in CRM at {utc_minute(self.edited_at)}; its Books "
            f"customer {self.books.ref} '{self.books.name}' last changed {changed}"
        )
        if self.follow_up is FollowUp.NOT_FOLLOWED:
            line += " and still differs in " + ", ".join(self.differs)
        return line


@dataclass(frozen=True)
class StallConfig:
    mode: Mode
    grace: timedelta
    lookback: timedelta
    min_unfollowed: int  # 0: the check is off
    sample: int
    #: How often the check looks (the schedule runs more often: Books' daily API cap is small).
    every: timedelta = timedelta(hours=1)
    #: The CRM tag (and optional checkbox) that takes a record out of the sync's view.
    hold_tag: str = "sync-guard-hold"
    hold_field: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> StallConfig:
        return cls(
            mode=settings.mode,
            grace=timedelta(minutes=settings.sync_stall_grace_minutes),
            lookback=timedelta(hours=settings.sync_stall_lookback_hours),
            min_unfollowed=settings.sync_stall_min_edits,
            sample=settings.sync_stall_sample,
            every=timedelta(minutes=settings.sync_stall_every_minutes),
            hold_tag=settings.crm_hold_tag,
            hold_field=settings.crm_hold_field,
        )

    def out_of_sync_view(self, data: Mapping[str, Any]) -> bool:
        """Whether a CRM record carries the hold tag or ticked hold field, which keep it out of the sync."""
        tags = data.get("Tag") or []
        tagged = any(isinstance(t, Mapping) and t.get("name") == self.hold_tag for t in tags)
        return tagged or (bool(self.hold_field) and data.get(self.hold_field) is True)


@dataclass(frozen=True)
class StallVerdict:
    """What one run saw: the edits it sampled, and whether they add up to a stall."""

    edits: tuple[Edit, ...]
    min_unfollowed: int

    @cached_property
    def _by_follow_up(self) -> dict[FollowUp, list[Edit]]:
        """The sampled edits by how Books followed them, in sample order: judged once per verdict."""
        grouped: dict[FollowUp, list[Edit]] = {follow_up: [] for follow_up in FollowUp}
        for edit in self.edits:
            grouped[edit.follow_up].append(edit)
        return grouped

    def of(self, follow_up: FollowUp) -> list[Edit]:
        return list(self._by_follow_up[follow_up])

    @property
    def stalled(self) -> bool:
        return not self.of(FollowUp.FOLLOWED) and len(self.of(FollowUp.NOT_FOLLOWED)) >= self.min_unfollowed

    @property
    def stalled_since(self) -> datetime:
        """The oldest edit Books did not follow: about when the sync stopped (a verdict with one)."""
        return min(edit.edited_at for edit in self._by_follow_up[FollowUp.NOT_FOLLOWED])

    @property
    def examples(self) -> list[Edit]:
        """The edits not followed that a stall report names (the first sampled: the newest of a module)."""
        return self.of(FollowUp.NOT_FOLLOWED)[:EXAMPLES]

    def summary(self) -> str:
        followed, unfollowed = self.of(FollowUp.FOLLOWED), self.of(FollowUp.NOT_FOLLOWED)
        return (
            f"{len(self.edits)} linked CRM edits sampled: {len(followed)} reached Books, {len(unfollowed)} "
            f"did not, {len(self.of(FollowUp.UNKNOWN))} changed nothing the sync carries"
        )


@dataclass(frozen=True)
class StallOutcome:
    """The run's result: the verdict, and what it told whom."""

    verdict: StallVerdict | None  # None: the check did not look this run (see ``skipped``)
    notified: str | None = None  # the rule of the notice sent this run
    episode: StallEpisode | None = None  # open after this run
    skipped: str = ""  # why it did not look: turned off, or not due yet

    @property
    def alert(self) -> bool:
        """A stall is open: someone must act (the function's alarm)."""
        return self.episode is not None


def _folded(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def _names(record: PartyRecord) -> set[str]:
    """Every name a record goes by: a person's own name too, which a Books display name may put otherwise
    ("Mr. John Smith", "Smith, John")."""
    person = " ".join(part for part in (record.first_name, record.last_name) if part)
    return {_folded(name) for name in (record.name, *record.other_names, person) if name and name.strip()}


def carried_differences(crm: PartyRecord, books: PartyRecord) -> tuple[str, ...]:
    """The fields the sync carries where CRM has a value and Books shows another (or none)."""
    differs = []
    if crm.name.strip() and not _names(crm) & _names(books):
        differs.append("name")
    for field in SYNCED_FIELDS:
        if field == "name":
            continue  # above: a name may read otherwise on either side
        fold = _digits if field == "phone" else _folded
        wanted = fold(getattr(crm, field))
        if wanted and wanted != fold(getattr(books, field)):
            differs.append(field)
    return tuple(differs)


class SyncStallCheck:
    """The ``sync_stall`` check over the CRM and Books clients, the shadow, the check state, the audit
    trail and finance's notifier (see the module docstring)."""

    def __init__(
        self,
        crm: Callable[[], CrmEditsReader],
        books: Callable[[], BooksContactReader],
        pairs: PairReader,
        state: StallState,
        audit: AuditAppender,
        notifier: Callable[[], Notifier],
        *,
        links: ZohoLinks,
        config: StallConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self._crm = crm
        self._books = books
        self._pairs = pairs
        self._state = state
        self._audit = audit
        self._notifier = notifier
        self._links = links
        self._config = config
        self._clock = clock

    def run(self) -> StallOutcome:
        config = self._config
        if config.min_unfollowed <= 0:
            return StallOutcome(None, skipped="turned off (sync_stall_min_edits is 0)")
        now = self._clock()
        episode = self._state.stall_episode()
        last = self._state.watermark(STALL_CHECK)
        if last is not None and now - last < config.every - LOOK_SLACK:
            # An open stall stays an alert between looks, so that the alarm does not flap.
            due = utc_minute(last + config.every - LOOK_SLACK)
            return StallOutcome(None, episode=episode, skipped=f"next look after {due}")
        outcome = self._judge(StallVerdict(tuple(self._sample(now)), config.min_unfollowed), episode, now)
        # Only a look that told whom it had to counts: a notice that failed is tried at the next run.
        self._state.advance(STALL_CHECK, now, at=self._clock())
        return outcome

    def _judge(self, verdict: StallVerdict, episode: StallEpisode | None, now: datetime) -> StallOutcome:
        if verdict.stalled and episode is None:
            return self._report_stall(verdict, now)
        followed = verdict.of(FollowUp.FOLLOWED)
        if episode is not None and followed:
            return self._report_resumed(verdict, episode, followed[0], now)
        return StallOutcome(verdict, episode=episode)

    # ------------------------------------------------------------------------------- sampling
    def _sample(self, now: datetime) -> list[Edit]:
        """Per module, the newest linked CRM edits old enough for the sync to have carried them (at most
        ``sample``), each read in Books, newest first. One edit carried answers the question: the sampling
        stops there, so a healthy sync costs about one Books read."""
        config = self._config
        crm = self._crm()
        # The hold tag (and field): a record carrying it is out of the sync whatever the shadow says (a
        # release whose untag has not reached CRM, or never will; a hold made by hand).
        hold = ("Tag", config.hold_field) if config.hold_field else ("Tag",)
        edits: list[Edit] = []
        for module, fields in CRM_FIELDS.items():
            found, examined = 0, 0
            listing = crm.iter_recently_modified(module, since=now - config.lookback, fields=(*fields, *hold))
            try:
                for data in listing:
                    edited_at = parse_zoho_time(data.get("Modified_Time"))
                    if edited_at is None or edited_at > now - config.grace:
                        continue  # the sync may still be on its way
                    examined += 1
                    edit = (
                        None
                        if config.out_of_sync_view(data)
                        else self._read_partner(crm_record_to_party(module, data), edited_at, now)
                    )
                    if edit is not None:
                        edits.append(edit)
                        found += 1
                        if edit.follow_up is FollowUp.FOLLOWED:
                            return edits
                    if found >= config.sample or examined >= EXAMINED_PER_SAMPLE * config.sample:
                        break
            except ZohoListingIncomplete:
                # A bulk update newer than the grace fills the pages the client reads: judge what was seen,
                # rather than fail every run until the burst ages past the lookback.
                logger.warning(
                    "stall check: CRM's recent edits were listed in part", extra={"crm_module": module.value}
                )
        return edits

    def _read_partner(self, record: PartyRecord, edited_at: datetime, now: datetime) -> Edit | None:
        """The edit with its Books partner as Books has it now; None when the edit says nothing of the sync
        (no partner known, the record held back by the guard, the partner deleted or gone)."""
        state = self._pairs.get_state(record.ref)
        if state is None or state.deleted or state.held_by or not state.partner:
            return None
        judged_at = _edit_to_judge(state, edited_at, oldest=now - self._config.lookback)
        if judged_at is None:
            return None
        system, _, books_id = state.partner.partition(":")
        if system != System.BOOKS.value:
            return None
        partner = self._pairs.get_state(state.partner)
        if partner is not None and partner.deleted:
            return None
        data = self._books().get_contact_data(books_id)
        if data is None:
            return None
        books = books_contact_to_party(data)
        return Edit(
            crm=record,
            edited_at=judged_at,
            books=books,
            books_changed_at=books.modified_at,
            differs=carried_differences(record, books),
            sync_delay=self._config.grace,
        )

    # ------------------------------------------------------------------------------- reporting
    def _report_stall(self, verdict: StallVerdict, now: datetime) -> StallOutcome:
        since, examples = verdict.stalled_since, verdict.examples
        evidence = stalled_evidence(verdict)
        entry = admin_entry("sync_stalled", actor=ACTOR, at=now, mode=self._config.mode, note=evidence[0])
        episode = StallEpisode(since=since, reported_at=now, examples=tuple(e.crm.ref for e in examples))
        # Opened before anyone is told: of two runs at once (a retried run, a schedule delivered twice),
        # one notifies. A notice that fails closes it again, so that the next run tries again.
        if not self._state.open_stall(episode):
            return StallOutcome(verdict, episode=self._state.stall_episode())
        try:
            self._notify(STALLED_RULE, examples, evidence, entry.entry_id, now)
        except Exception:
            self._state.close_stall(episode)
            raise
        self._audit.append(entry.model_copy(update={"records": _refs(examples), "evidence": tuple(evidence)}))
        unfollowed = len(verdict.of(FollowUp.NOT_FOLLOWED))
        logger.warning("sync stall reported", extra={"edits": unfollowed, "since": since.isoformat()})
        return StallOutcome(verdict, notified=STALLED_RULE, episode=episode)

    def _report_resumed(
        self, verdict: StallVerdict, episode: StallEpisode, followed: Edit, now: datetime
    ) -> StallOutcome:
        evidence = resumed_evidence(verdict, episode, followed)
        entry = admin_entry("sync_resumed", actor=ACTOR, at=now, mode=self._config.mode, note=evidence[0])
        if not self._state.close_stall(episode):
            return StallOutcome(verdict)  # another run saw the end first, and said so
        try:
            self._notify(RESUMED_RULE, [followed], evidence, entry.entry_id, now)
        except Exception:
            self._state.open_stall(episode)
            raise
        records = _refs([followed])
        self._audit.append(entry.model_copy(update={"records": records, "evidence": tuple(evidence)}))
        logger.info("sync resumed", extra={"stalled_since": episode.since.isoformat()})
        return StallOutcome(verdict, notified=RESUMED_RULE)

    def _notify(
        self, rule: str, edits: Sequence[Edit], evidence: Sequence[str], audit_ref: str, now: datetime
    ) -> None:
        notice = stall_notice(rule, edits, evidence, mode=self._config.mode, audit_ref=audit_ref, at=now)
        notify_finance([notice], self._notifier(), links=self._links)


def stalled_evidence(verdict: StallVerdict) -> list[str]:
    """What a stall report says (its audit note first): how many edits did not reach Books since when, then
    the first ``EXAMPLES`` of them."""
    note = (
        f"Zoho's CRM -> Books sync looks stalled: {len(verdict.of(FollowUp.NOT_FOLLOWED))} CRM edits to "
        f"linked customers since {utc_minute(verdict.stalled_since)} have not reached Books, and none has "
        f"({verdict.summary()})."
    )
    return [note, *(edit.describe() for edit in verdict.examples)]


def resumed_evidence(verdict: StallVerdict, episode: StallEpisode, followed: Edit) -> list[str]:
    """What the end of a reported stall says (its audit note first), then the edit that reached Books."""
    note = (
        f"Zoho's CRM -> Books sync carries edits again (stalled since about {utc_minute(episode.since)}, "
        f"reported {utc_minute(episode.reported_at)}; {verdict.summary()})."
    )
    return [note, followed.describe()]


#: Each notice's severity and decision.
_NOTICE_LEVELS = {
    STALLED_RULE: (Severity.CRITICAL, Decision.FLAG),
    RESUMED_RULE: (Severity.INFO, Decision.ALLOW),
}


def stall_notice(
    rule: str, edits: Sequence[Edit], evidence: Sequence[str], *, mode: Mode, audit_ref: str, at: datetime
) -> FinanceNotice:
    """The notice of a stall (``STALLED_RULE``) or of its end (``RESUMED_RULE``): each edit's CRM record and
    its Books customer, and the report's evidence."""
    severity, decision = _NOTICE_LEVELS[rule]
    books_role = "updated in Books" if rule == RESUMED_RULE else "not updated in Books"
    records: list[NoticeRecord] = []
    for edit in edits:
        records.append(_notice_record(edit.crm, "edited in CRM"))
        records.append(_notice_record(edit.books, books_role))
    return FinanceNotice(
        rule=rule,
        severity=severity,
        decision=decision,
        mode=mode,
        records=tuple(records),
        evidence=tuple(evidence),
        audit_ref=audit_ref,
        occurred_at=at,
    )


def _edit_to_judge(state: RecordState, edited_at: datetime, *, oldest: datetime) -> datetime | None:
    """When the edit to judge was made: ``edited_at``, unless the guard processed that edit (its state is
    at least as new) and saw it leave the values the sync carries as they were (an owner or a rating
    changed, or the guard's own tag). Then it is the earlier edit that last changed those values, or None
    when that is older than ``oldest``. Unknown (no webhook yet, a seeded record never changed since) is
    not "nothing changed"."""
    edit = epoch_ms(edited_at)
    if (
        state.synced_change is None
        or state.version < edit - _SKEW_MS
        or state.synced_change >= edit - _SKEW_MS
    ):
        return edited_at
    changed = datetime.fromtimestamp(state.synced_change / 1000, UTC)
    return changed if changed >= oldest else None


def _refs(edits: Sequence[Edit]) -> tuple[str, ...]:
    return tuple(ref for edit in edits for ref in (edit.crm.ref, edit.books.ref))


def _notice_record(record: PartyRecord, role: str) -> NoticeRecord:
    return NoticeRecord(
        system=record.system,
        record_id=record.record_id,
        display_name=record.name,
        module=record.module,
        role=role,
        email=record.email,
        has_transactions=record.has_transactions,
        outstanding=record.outstanding,
        currency=record.currency,
        active=record.active,
    )


__all__: Sequence[str] = (
    "STALL_CHECK",
    "Edit",
    "FollowUp",
    "StallConfig",
    "StallEpisode",
    "StallOutcome",
    "StallState",
    "StallVerdict",
    "SyncStallCheck",
    "carried_differences",
    "resumed_evidence",
    "stall_notice",
    "stalled_evidence",
)
