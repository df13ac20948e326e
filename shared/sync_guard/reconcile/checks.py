"""Scheduled checks against Zoho: keep the Notification API channel alive, replay what webhooks missed.

Zoho CRM delivers workflow webhooks at most once, Books' are hardly better in practice, and Notification
API channels expire (a week at most, an hour by default), so an event that is lost is a duplicate nobody
sees. Every scheduled run does eight checks, each on its own (one failing does not stop the others; the run
then ends in an error, which alarms):

``notification_channel``
    Renews the channel (``POST /actions/watch`` with the configured id: Zoho replaces the channel, so a
    renewal is idempotent) when the guard has no record of renewing it, when its id, notify URL, events or
    token (the webhook secret) changed, when Zoho no longer lists it, or when less than the renewal margin
    is left. Each renewal is an audit entry (``operation: renew_notification_channel``).
``webhook_failures``
    Reads CRM's failed workflow-webhook deliveries since the watermark, fetches each record once and feeds
    the body the README's template would have sent through ``parse_crm_workflow``: the same event a
    delivered webhook makes, with the same id while the record is unchanged. A record that no longer exists
    is left to the deleted-records check.
``deleted:Accounts`` / ``deleted:Contacts``
    Reads CRM's deleted records (recycle bin and permanent, merged-away records included) since the
    watermark and feeds each as the workflow webhook's delete event.
``modified:Books``
    Lists Books contacts newest modified first, down to the watermark, and passes over vendors (not the
    guard's, except one the shadow still holds as a live customer: fed, so that a customer turned vendor
    whose webhook was missed is retired from matching) and every customer the shadow already holds at
    that modification time or later (a webhook, or an earlier run, brought it: not fetched again). Each
    other customer is fetched (a listing carries fewer fields than a webhook's Default Payload) and fed as
    ``{"contact": ...}`` through ``parse_books_webhook``, its operation inferred as for a webhook without
    ``?event=``. Two edits within
    one second look alike in a listing (Books' times have whole seconds): the second is caught only by its
    webhook, or by a later edit.
``deleted:Books``
    Books lists no deleted contacts, so a pass (every ``books_deleted_every``) reads the whole
    ``GET /contacts?filter_by=Status.All`` (oldest created first) page by page, keeping each page's ids in the
    check state, then takes the shadow's live Books customers the listing lacked and asks Books about each
    (``GET /contacts/{id}``). Only Books' "does not exist" answer feeds a delete (the Books webhook's
    id-only delete, so a delete webhook that did arrive is the same event); a customer Books returns was
    merely missed by a page shifting under the listing, and any error raises before anything is fed for
    it (a 4xx refusal is passed over and fails the check once the pass ends, so one customer Books keeps
    refusing cannot hold the pass back for good). A run spends at most ``books_deleted_max_calls`` Books
    calls and stops in time; the pass (next page, last confirmed id) is saved after every step and the
    next run goes on from there. When every candidate is confirmed the pass ends and its start becomes
    the watermark.

``sync_stall``
    Samples recent CRM edits of linked records and reads their partners in Books: when edits stopped
    reaching Books, finance hears once per stall, and every run while it lasts is an alert
    (``sync_guard.reconcile.stall``).
``holds_waiting``
    Once a day, reminds finance of the holds written in Zoho that nobody has decided about for days
    (``sync_guard.reconcile.reminder``). It reads the shadow's holds, not Zoho.

The checks that read Books (``modified:Books``, ``deleted:Books``, ``sync_stall``) first compare the
configured Books organisation with the one recorded for the shadow (the first run records it): under
another organisation every customer the guard holds "does not exist" and the other organisation's
customers look new, so they read and feed nothing and fail, naming both ids; ``deleted:Books`` also ends
its pass and audits the note, as its breaker does.

Events go through :func:`~sync_guard.ingest.service.store_and_queue`, the webhooks' own path: the events
table's conditional put recognises a repeat (an overlap between runs, a webhook that did arrive), and an
event the queue refused stays ``received`` for the sweep. Their channel is ``reconcile`` and their route
names the check. A check that fed new events leaves one audit entry with the counts.

Watermarks: a check reads from its watermark (the first run from ``first_lookback`` ago) minus ``overlap``,
and only a run that fed everything moves the watermark, to the moment it started. A run that raises
(Zoho failing after its retries, DynamoDB refusing) leaves it where it was, so the next run starts from the
same point. A run about to outlast its Lambda stops between records, and moves the watermark to the last
record it fed (records are fed oldest first).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sync_guard.config import Mode, Settings
from sync_guard.errors import ConcurrentUpdate, ConfigurationError, InvalidPayload
from sync_guard.guard.admin import admin_entry
from sync_guard.guard.model import epoch_ms
from sync_guard.ingest.ports import EventQueue, EventStore, StoredEvent
from sync_guard.ingest.service import store_and_queue
from sync_guard.models.events import Channel, GuardEvent
from sync_guard.models.records import Module, PartyRecord
from sync_guard.reconcile.bodies import (
    books_contact_body,
    books_delete_body,
    crm_delete_body,
    crm_module,
    webhook_failure_body,
)
from sync_guard.reconcile.organization import RecordedOncePerEvent, organization_mismatch
from sync_guard.reconcile.outcome import CheckOutcome, ChecksReport, CheckStatus, ZohoChecksFailed, join_notes
from sync_guard.reconcile.ports import (
    ACTOR,
    AuditAppender,
    BooksChecksClient,
    BooksDeletePass,
    BooksOrganization,
    ChannelState,
    CheckState,
    CrmChecksClient,
    ShadowStates,
)
from sync_guard.reconcile.reminder import HOLDS_CHECK, HoldsReminder
from sync_guard.reconcile.stall import STALL_CHECK, SyncStallCheck
from sync_guard.redact import mask_emails_in
from sync_guard.timefmt import utc_minute
from sync_guard.zoho.books import FILTER_ALL
from sync_guard.zoho.convert import parse_zoho_time
from sync_guard.zoho.crm import WebhookFailure
from sync_guard.zoho.errors import ZohoApiError
from sync_guard.zoho.payloads import parse_books_webhook, parse_crm_workflow

logger = logging.getLogger(__name__)

CHANNEL_CHECK = "notification_channel"
FAILURES_CHECK = "webhook_failures"
DELETED_MODULES = (Module.CRM_ACCOUNTS, Module.CRM_CONTACTS)
BOOKS_MODIFIED_CHECK = "modified:Books"
BOOKS_DELETED_CHECK = "deleted:Books"
#: A pass that finds more live Books customers missing than this many, and than this share of them, feeds
#: nothing: see :meth:`ZohoChecks.feed_missed_books_deletes`.
BOOKS_DELETED_BREAKER_FLOOR = 25
BOOKS_DELETED_BREAKER_SHARE = 0.2
#: Zoho's limit on a channel's echoed token.
MAX_CHANNEL_TOKEN = 50


def deleted_check(module: Module) -> str:
    return f"deleted:{module.value}"


def token_fingerprint(token: str) -> str:
    """A short hash that tells a rotated secret apart without revealing it."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ChecksConfig:
    mode: Mode
    channel_id: str
    notify_url: str
    events: tuple[str, ...]
    channel_lifetime: timedelta
    renew_before: timedelta
    first_lookback: timedelta
    overlap: timedelta
    event_retention: timedelta
    #: How often a pass of the Books missed-delete sweep starts (zero: never) and its calls per run.
    books_deleted_every: timedelta = timedelta(hours=3)
    books_deleted_max_calls: int = 25
    #: ``ZohoBooksOrganizationId``: compared with the organisation recorded for the shadow (empty: no
    #: Books calls are made at all).
    books_organization_id: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> ChecksConfig:
        if settings.crm_notification_renew_hours >= settings.crm_notification_channel_hours:
            raise ConfigurationError(
                "SYNC_GUARD_CRM_NOTIFICATION_RENEW_HOURS must be below "
                "SYNC_GUARD_CRM_NOTIFICATION_CHANNEL_HOURS"
            )
        return cls(
            mode=settings.mode,
            channel_id=settings.crm_notification_channel_id,
            notify_url=settings.crm_notify_url,
            events=tuple(e.strip() for e in settings.crm_notification_events.split(",") if e.strip()),
            channel_lifetime=timedelta(hours=settings.crm_notification_channel_hours),
            renew_before=timedelta(hours=settings.crm_notification_renew_hours),
            first_lookback=timedelta(hours=settings.zoho_checks_first_lookback_hours),
            overlap=timedelta(seconds=settings.zoho_checks_overlap_seconds),
            event_retention=timedelta(days=settings.event_retention_days),
            books_deleted_every=timedelta(minutes=settings.books_deleted_every_minutes),
            books_deleted_max_calls=settings.books_deleted_max_calls,
            books_organization_id=settings.zoho_books_organization_id.strip(),
        )


class _Parser(Protocol):
    """How a body is read as an event: the parser of the webhook the check stands in for."""

    def __call__(self, data: Mapping[str, Any], *, received_at: datetime) -> GuardEvent: ...


@dataclass(frozen=True)
class _Item:
    """One entry Zoho listed, to be fed as an event: when it happened, and how to build its body."""

    at: datetime | None
    body: Callable[[], dict[str, Any] | None]  # None: nothing to feed (the record is gone)
    #: Whether the guard already knows the entry, asked just before its body is built (a repeat, no fetch).
    known: Callable[[], bool] | None = None


@dataclass
class _Tally:
    found: int = 0
    new_events: int = 0
    repeats: int = 0
    unqueued: int = 0
    skipped: int = 0
    last_fed_at: datetime | None = None
    complete: bool = True


@dataclass
class _CallBudget:
    """The Books calls one run of the missed-delete pass may still make (listing and asking share them)."""

    left: int

    def take(self) -> bool:
        """Spend one call; False (nothing spent) when none is left."""
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def _order(at: datetime | None) -> datetime:
    return at if at is not None else datetime.min.replace(tzinfo=UTC)


class ZohoChecks:
    """The scheduled checks over the Zoho clients, the check state, the shadow, the events table and queue,
    and the audit."""

    def __init__(
        self,
        crm: Callable[[], CrmChecksClient],
        state: CheckState,
        events: EventStore,
        queue: EventQueue,
        audit: AuditAppender,
        *,
        books: Callable[[], BooksChecksClient],
        shadow: ShadowStates,
        token: Callable[[], str],
        config: ChecksConfig,
        clock: Callable[[], datetime] = utc_now,
        reserve_seconds: float = 30.0,
        stall: SyncStallCheck | None = None,
        reminder: HoldsReminder | None = None,
    ) -> None:
        self._crm = crm
        self._books = books
        self._shadow = shadow
        self._state = state
        self._events = events
        self._queue = queue
        self._audit = audit
        self._token = token
        self._config = config
        self._clock = clock
        self._reserve_seconds = reserve_seconds
        self._remaining: Callable[[], float] | None = None
        self._stall = stall
        self._reminder = reminder
        # Three checks compare Books' organisation with the recorded one: one read (or first record) per run.
        self._recorded_organization = RecordedOncePerEvent(self._record_books_organization)

    # ------------------------------------------------------------------------------------ the run
    def run(self, *, remaining_seconds: Callable[[], float] | None = None) -> ChecksReport:
        """Every check once; ``remaining_seconds`` (the Lambda's) makes a long check stop in time."""
        self._remaining = remaining_seconds
        checks: list[tuple[str, Callable[[], CheckOutcome]]] = [
            (CHANNEL_CHECK, self.renew_notification_channel),
            (FAILURES_CHECK, self.replay_webhook_failures),
        ]
        checks += [(deleted_check(m), partial(self.feed_deleted_records, m)) for m in DELETED_MODULES]
        checks.append((BOOKS_MODIFIED_CHECK, self.feed_modified_books_customers))
        checks.append((BOOKS_DELETED_CHECK, self.feed_missed_books_deletes))
        if self._stall is not None:
            stall = partial(watch_for_stall, self._stall)
            checks.append((STALL_CHECK, partial(self._in_recorded_organization, STALL_CHECK, stall)))
        if self._reminder is not None:
            checks.append((HOLDS_CHECK, self._reminder.run))  # reads no Zoho: the shadow's holds only
        with self._recorded_organization.event():
            return ChecksReport(tuple(self._guarded(name, check) for name, check in checks))

    @staticmethod
    def _guarded(name: str, check: Callable[[], CheckOutcome]) -> CheckOutcome:
        try:
            return check()
        except Exception as error:
            # Zoho's messages can quote what they refused: masked, and cut short.
            note = f"{type(error).__name__}: {mask_emails_in(str(error))[:300]}"
            logger.error("scheduled Zoho check failed", extra={"check": name, "error": note})
            return CheckOutcome(name, CheckStatus.FAILED, note=note)

    def _books_organization_mismatch(self) -> str | None:
        """Why Books must not be read (``ZohoBooksOrganizationId`` is not the shadow's organisation), or
        None; the first run that asks records the configured organisation, unless a seed did."""
        configured = self._config.books_organization_id
        recorded = self._recorded_organization() if configured else None
        if recorded is None:
            return None
        return organization_mismatch(configured, recorded, outcome="Nothing was read from Books or fed.")

    def _record_books_organization(self) -> BooksOrganization:
        """The organisation recorded for the shadow, the configured one recorded if none is yet."""
        configured = self._config.books_organization_id
        return self._state.record_books_organization(configured, at=self._clock(), by=ACTOR)

    def _in_recorded_organization(self, check: str, run: Callable[[], CheckOutcome]) -> CheckOutcome:
        """Run a check that reads Books only while Books is the shadow's organisation."""
        mismatch = self._books_organization_mismatch()
        if mismatch is not None:
            return CheckOutcome(check, CheckStatus.FAILED, note=mismatch)
        return run()

    def _out_of_time(self) -> bool:
        return self._remaining is not None and self._remaining() < self._reserve_seconds

    # ------------------------------------------------------------------- the Notification API channel
    def renew_notification_channel(self) -> CheckOutcome:
        """Renew the channel if it needs it (see the module docstring); audited when it is renewed."""
        config = self._config
        if not config.channel_id:
            return CheckOutcome(CHANNEL_CHECK, CheckStatus.SKIPPED, note="no channel id configured")
        if not config.notify_url:
            raise ConfigurationError("SYNC_GUARD_CRM_NOTIFY_URL is not set: Zoho would have nowhere to call")
        if not config.events:
            raise ConfigurationError("SYNC_GUARD_CRM_NOTIFICATION_EVENTS names no event")
        token = self._token()
        if len(token) > MAX_CHANNEL_TOKEN:
            raise ConfigurationError(
                f"the webhook secret is longer than the {MAX_CHANNEL_TOKEN} characters Zoho allows for a "
                "channel token: use a shorter secret"
            )
        now = self._clock()
        fingerprint = token_fingerprint(token)
        crm = self._crm()
        stored = self._state.channel()
        reason = self._renewal_reason(crm, stored, now, fingerprint)
        if reason is None:
            until = utc_minute(stored.expires_at) if stored else "?"
            return CheckOutcome(CHANNEL_CHECK, CheckStatus.OK, note=f"valid until {until}")
        asked = now + config.channel_lifetime
        granted = crm.enable_notifications(
            config.channel_id, config.events, config.notify_url, token, expiry=asked
        )
        expires_at = granted or asked
        note = (
            f"Notification API channel {config.channel_id} ({', '.join(config.events)} to "
            f"{config.notify_url}) renewed until {utc_minute(expires_at)}: {reason}"
        )
        # Audited before it is remembered: if the audit fails, the next run renews (harmlessly) and audits.
        self._audit.append(
            admin_entry("renew_notification_channel", actor=ACTOR, at=now, mode=config.mode, note=note)
        )
        self._state.save_channel(
            ChannelState(
                channel_id=config.channel_id,
                expires_at=expires_at,
                notify_url=config.notify_url,
                events=config.events,
                token_fingerprint=fingerprint,
                renewed_at=now,
            )
        )
        logger.info(
            "notification channel renewed",
            extra={"channel_id": config.channel_id, "expires_at": expires_at.isoformat(), "reason": reason},
        )
        return CheckOutcome(CHANNEL_CHECK, CheckStatus.OK, note=f"renewed until {utc_minute(expires_at)}")

    def _renewal_reason(
        self, crm: CrmChecksClient, stored: ChannelState | None, now: datetime, fingerprint: str
    ) -> str | None:
        """Why the channel, ``stored`` as last renewed, must be renewed now, or None while it is fine."""
        config = self._config
        if stored is None:
            return "no renewal recorded yet"
        changed = [
            what
            for what, differs in (
                ("channel id", stored.channel_id != config.channel_id),
                ("notify URL", stored.notify_url != config.notify_url),
                ("events", stored.events != config.events),
                ("token (the webhook secret)", stored.token_fingerprint != fingerprint),
            )
            if differs
        ]
        if changed:
            return "the " + ", ".join(changed) + " changed"
        # Zoho lists a channel once per module it watches.
        listed = [c for c in crm.notification_channels() if str(c.get("channel_id")) == config.channel_id]
        if not listed:
            return "Zoho does not list the channel (expired, disabled or purged)"
        expiries = [e for e in (parse_zoho_time(c.get("channel_expiry")) for c in listed) if e is not None]
        expires_at = min(expiries) if expiries else stored.expires_at
        if expires_at - now < config.renew_before:
            return f"it expires at {expires_at.isoformat()}"
        return None

    # --------------------------------------------------------------------------- missed webhooks
    def replay_webhook_failures(self) -> CheckOutcome:
        """Feed the current state of every Accounts/Contacts record whose workflow webhook Zoho failed."""
        started = self._clock()
        since = self._since(FAILURES_CHECK, started)
        crm = self._crm()
        failures = [f for f in crm.webhook_failures() if f.failed_at is None or f.failed_at >= since]
        # One fetch per record, placed at its latest failure: its state now covers every earlier one.
        latest: dict[tuple[Module, str], WebhookFailure] = {}
        ignored = 0
        for failure in sorted(failures, key=lambda f: _order(f.failed_at)):
            module = crm_module(failure.module)
            if module is None or not failure.record_id:
                ignored += 1  # another module's webhook: not the guard's business
                continue
            latest.pop((module, failure.record_id), None)
            latest[(module, failure.record_id)] = failure
        items = [
            _Item(
                failure.failed_at, partial(webhook_failure_body, crm, module, record_id, failure.failure_id)
            )
            for (module, record_id), failure in latest.items()
        ]
        tally = self._feed(items, route="schedule:crm-webhook-failures", parse=parse_crm_workflow)
        tally.found, tally.skipped = len(failures), tally.skipped + ignored
        return self._finish(
            FAILURES_CHECK,
            started,
            tally,
            operation="replay_crm_webhook_failures",
            what="CRM records whose workflow webhook Zoho failed to deliver",
        )

    # --------------------------------------------------------------------------- missed deletes
    def feed_deleted_records(self, module: Module) -> CheckOutcome:
        """Feed every record of ``module`` deleted in CRM since the watermark as a delete event."""
        check = deleted_check(module)
        started = self._clock()
        since = self._since(check, started)
        deleted = self._crm().list_deleted(module, since=since)
        items = [
            _Item(record.deleted_at, partial(crm_delete_body, module, record))
            for record in sorted(deleted, key=lambda r: _order(r.deleted_at))
        ]
        tally = self._feed(items, route="schedule:crm-deleted", parse=parse_crm_workflow)
        tally.found = len(deleted)
        return self._finish(
            check, started, tally, operation="feed_crm_deleted_records", what=f"{module.value} deleted in CRM"
        )

    # --------------------------------------------------------------------------- missed Books events
    def feed_modified_books_customers(self) -> CheckOutcome:
        """Feed every Books customer modified since the watermark that the shadow does not hold at that
        modification time (see the module docstring)."""
        return self._in_recorded_organization(BOOKS_MODIFIED_CHECK, self._feed_modified_books_customers)

    def _feed_modified_books_customers(self) -> CheckOutcome:
        started = self._clock()
        since = self._since(BOOKS_MODIFIED_CHECK, started)
        books = self._books()
        # A contact edited while the pages were read can be listed twice: its latest listing counts.
        latest: dict[str, PartyRecord] = {}
        for contact in books.iter_contacts_modified_since(since):
            seen = latest.get(contact.record_id)
            if seen is None or _order(contact.modified_at) > _order(seen.modified_at):
                latest[contact.record_id] = contact
        # Vendors are the guard's business only as "not guarded", which their own webhooks record; but a
        # customer the shadow holds that was turned into a vendor is fed, so that it is retired from matching.
        contacts = [
            c
            for c in latest.values()
            if c.module is Module.BOOKS_CUSTOMERS or self._shadow_holds_as_customer(c)
        ]
        items = [
            _Item(
                contact.modified_at,
                partial(books_contact_body, books, contact.record_id),
                known=partial(self._shadow_holds, contact),
            )
            for contact in sorted(contacts, key=lambda c: _order(c.modified_at))
        ]
        tally = self._feed(items, route="schedule:books-modified", parse=parse_books_webhook)
        tally.found, tally.skipped = len(latest), tally.skipped + len(latest) - len(contacts)
        return self._finish(
            BOOKS_MODIFIED_CHECK,
            started,
            tally,
            operation="feed_books_modified_customers",
            what="Books customers modified without a webhook the guard received",
        )

    def _shadow_holds_as_customer(self, contact: PartyRecord) -> bool:
        """Whether the shadow holds ``contact`` (listed as a vendor) as a live Books customer."""
        state = self._shadow.get_state(contact.ref)
        return state is not None and state.live and state.record.module is Module.BOOKS_CUSTOMERS

    def _shadow_holds(self, contact: PartyRecord) -> bool:
        """Whether the shadow holds ``contact`` as modified at its listed time or later."""
        if contact.modified_at is None:
            return False
        state = self._shadow.get_state(contact.ref)
        return state is not None and state.version >= epoch_ms(contact.modified_at)

    # --------------------------------------------------------------------------- missed Books deletes
    def feed_missed_books_deletes(self) -> CheckOutcome:
        """Feed a delete event for every live Books customer of the shadow's that Books says no longer
        exists (see the module docstring): list every contact, then confirm each one missing."""
        try:
            return self._go_on_with_books_delete_pass()
        except ConcurrentUpdate:
            # Another run at the same time (a schedule delivered twice, a run by hand) started a pass or
            # ended this one: that run has it; whatever this one fed is in the events table already.
            note = "another run has the pass; this run left it to that one"
            return CheckOutcome(BOOKS_DELETED_CHECK, CheckStatus.SKIPPED, note=note)

    def _go_on_with_books_delete_pass(self) -> CheckOutcome:
        config = self._config
        if not config.books_deleted_every:
            return CheckOutcome(BOOKS_DELETED_CHECK, CheckStatus.SKIPPED, note="off")
        sweep = self._state.books_delete_pass()
        if sweep is None:
            now, last = self._clock(), self._state.watermark(BOOKS_DELETED_CHECK)
            if last is not None and now < last + config.books_deleted_every:
                due = utc_minute(last + config.books_deleted_every)
                return CheckOutcome(BOOKS_DELETED_CHECK, CheckStatus.SKIPPED, note=f"next pass from {due}")
            sweep = BooksDeletePass(started=now)
            self._state.save_books_delete_pass(sweep, new=True)
        mismatch = self._books_organization_mismatch()
        if mismatch is not None:
            # Every customer the shadow holds is missing from another organisation's listing: a delete
            # would be fed for each (under the breaker's floor, a small organisation's every customer).
            logger.error("Books missed-delete pass stopped: another Books organisation")
            return self._stop_books_delete_pass(sweep, mismatch)
        books, calls = self._books(), _CallBudget(config.books_deleted_max_calls)
        sweep = self._list_books_contacts(books, sweep, calls)
        if not sweep.listed:
            note = f"listing paused before page {sweep.next_page}; the next run goes on from there"
            return CheckOutcome(BOOKS_DELETED_CHECK, CheckStatus.INCOMPLETE, note=note)
        listed = self._state.listed_contact_ids(sweep)
        live = list(self._shadow.live_books_customer_ids())
        missing = [contact_id for contact_id in live if contact_id not in listed]
        if len(missing) > max(BOOKS_DELETED_BREAKER_FLOOR, len(live) * BOOKS_DELETED_BREAKER_SHARE):
            # Deletes nobody sent a webhook for are a few at a time. This many customers missing is another
            # Books organisation (its id changed under kept tables) or a listing Books cut short: a delete
            # fed for each would flood finance with notices about customers that exist. Nothing is asked or
            # fed; the pass ends (its pages forgotten) and the next one, an interval later, looks again.
            note = (
                f"{len(missing)} of the {len(live)} Books customers the guard holds are not in Books' "
                "listing: too many to be deletes whose webhooks were lost. Nothing was fed. Check that "
                "ZohoBooksOrganizationId is the organisation the guard was seeded from"
            )
            logger.error(
                "Books missed-delete pass stopped", extra={"missing": len(missing), "live": len(live)}
            )
            return self._stop_books_delete_pass(sweep, note, found=len(missing))
        return self._confirm_missing_books_customers(books, sweep, missing, calls)

    def _list_books_contacts(
        self, books: BooksChecksClient, sweep: BooksDeletePass, calls: _CallBudget
    ) -> BooksDeletePass:
        """Read the pass's listing on from its next page, each page's ids kept, while calls and time last;
        the pass as far as it got (``listed`` once the last page is read)."""
        while not sweep.listed:
            if not calls.take() or self._out_of_time():
                return sweep
            # Every status: a held customer is inactive, not gone. A failure raises: the pass stays here.
            # Oldest created first, asked for rather than left to Books' default: a customer created or
            # renamed during the pass then never shifts the pages already read (new ones come last).
            page = books.list_contacts(
                filter_by=FILTER_ALL, sort_column="created_time", sort_order="A", page=sweep.next_page
            )
            self._state.save_listed_page(sweep, sweep.next_page, [c.record_id for c in page.items])
            sweep = replace(sweep, next_page=sweep.next_page + 1, listed=not page.has_more)
            self._state.save_books_delete_pass(sweep)
        return sweep

    def _confirm_missing_books_customers(
        self, books: BooksChecksClient, sweep: BooksDeletePass, missing: Sequence[str], calls: _CallBudget
    ) -> CheckOutcome:
        """Ask Books about each customer the listing lacked, in id order from where the pass got to, and
        feed a delete for each one Books says does not exist; the pass ends once every one is asked."""
        config = self._config
        candidates = sorted(contact_id for contact_id in missing if contact_id > sweep.confirmed_through)
        tally = _Tally(found=len(candidates))
        try:
            for contact_id in candidates:
                if not calls.take() or self._out_of_time():
                    tally.complete = False
                    break
                item = _Item(None, partial(books_delete_body, books, contact_id))
                try:
                    self._store(item, tally, route="schedule:books-deleted", parse=parse_books_webhook)
                except ZohoApiError as error:
                    # Books refused the question itself (a 4xx that is not "does not exist"): asking again
                    # gets the same answer, so passing over it (not deleted) keeps it from holding every
                    # later customer and the pass back for good. The check fails below; the next pass asks.
                    logger.warning(
                        "Books refused to say whether a customer exists",
                        extra={"contact_id": contact_id, "error": mask_emails_in(str(error))[:300]},
                    )
                    sweep = replace(sweep, refused=(*sweep.refused, contact_id))
                sweep = replace(sweep, confirmed_through=contact_id)
        finally:
            self._state.save_books_delete_pass(sweep)
        outcome = self._finish(
            BOOKS_DELETED_CHECK,
            sweep.started,
            tally,
            operation="feed_books_deleted_customers",
            what="Books customers deleted without a webhook the guard received",
            skipped_as="in Books after all",
            audit_at=self._clock(),
            paused=f"paused after contact {sweep.confirmed_through or '(none yet)'}; the next run goes on "
            "from there",
        )
        if not tally.complete:
            return outcome
        self._state.end_books_delete_pass(sweep)
        if sweep.refused:
            note = (
                f"Books refused to answer about contacts {', '.join(sweep.refused)} (not deleted); "
                "the next pass asks again"
            )
            return replace(outcome, status=CheckStatus.FAILED, note=join_notes(outcome.note, note))
        due = utc_minute(sweep.started + config.books_deleted_every)
        return replace(outcome, note=join_notes(outcome.note, f"pass complete; the next from {due}"))

    def _stop_books_delete_pass(self, sweep: BooksDeletePass, note: str, *, found: int = 0) -> CheckOutcome:
        """End the pass having fed nothing, audited with ``note``; the check fails (the run alarms) and
        the next pass, an interval later, looks again."""
        self._state.end_books_delete_pass(sweep)
        self._state.advance(BOOKS_DELETED_CHECK, sweep.started, at=self._clock())
        self._audit.append(
            admin_entry(
                "feed_books_deleted_customers",
                actor=ACTOR,
                at=self._clock(),
                mode=self._config.mode,
                note=note,
            )
        )
        return CheckOutcome(BOOKS_DELETED_CHECK, CheckStatus.FAILED, found=found, note=note)

    # --------------------------------------------------------------------------- shared steps
    def _since(self, check: str, now: datetime) -> datetime:
        watermark = self._state.watermark(check)
        return (watermark or now - self._config.first_lookback) - self._config.overlap

    def _feed(self, items: Sequence[_Item], *, route: str, parse: _Parser) -> _Tally:
        """Build each item's body, read it with ``parse``, store and queue the event, in order; stop between
        items when time runs out."""
        tally = _Tally()
        for item in items:
            if self._out_of_time():
                tally.complete = False
                break
            if item.known is not None and item.known():
                tally.repeats += 1
            else:
                self._store(item, tally, route=route, parse=parse)
            if item.at is not None:
                tally.last_fed_at = item.at
        return tally

    def _store(self, item: _Item, tally: _Tally, *, route: str, parse: _Parser) -> None:
        """Build one item's body and event, store and queue it, and count what happened."""
        body = item.body()
        received_at = self._clock()
        try:
            event = parse(body, received_at=received_at) if body is not None else None
        except InvalidPayload as error:
            # An entry Zoho listed oddly must not hold every later one back: logged and passed over.
            logger.warning("a listed entry could not be read as an event", extra={"error": str(error)})
            event = None
        if body is None or event is None:
            tally.skipped += 1
            return
        event = event.model_copy(update={"channel": Channel.RECONCILE})
        stored = StoredEvent(
            event=event,
            raw_body=json.dumps(body, separators=(",", ":")).encode(),
            content_type="application/json",
            route=route,
            received_at=received_at,
            expires_at=received_at + self._config.event_retention,
        )
        result = store_and_queue(self._events, self._queue, [stored], clock=self._clock)
        tally.new_events += result.accepted - result.duplicates
        tally.repeats += result.duplicates
        tally.unqueued += len(result.unqueued)

    def _finish(
        self,
        check: str,
        started: datetime,
        tally: _Tally,
        *,
        operation: str,
        what: str,
        skipped_as: str = "not for the guard or gone",
        audit_at: datetime | None = None,
        paused: str = "stopped for time; the next run goes on from here",
    ) -> CheckOutcome:
        """Audit what the run fed (when it fed anything), move the watermark, and say the same in the
        outcome's note, with ``paused`` after it when the run stopped before the end."""
        # What a run that fed something did, in the checks' table as in its audit entry.
        note = ""
        if tally.new_events:
            note = (
                f"{tally.new_events} new events from {what} (listed {tally.found}, already known "
                f"{tally.repeats}, {skipped_as} {tally.skipped})"
            )
            self._audit.append(
                admin_entry(
                    operation,
                    actor=ACTOR,
                    at=audit_at or started,
                    mode=self._config.mode,
                    note=note,
                )
            )
        if tally.complete:
            self._state.advance(check, started, at=self._clock())
        elif tally.last_fed_at is not None:
            self._state.advance(check, tally.last_fed_at, at=self._clock())
        status = CheckStatus.OK if tally.complete else CheckStatus.INCOMPLETE
        return CheckOutcome(
            check,
            status,
            found=tally.found,
            new_events=tally.new_events,
            repeats=tally.repeats,
            unqueued=tally.unqueued,
            skipped=tally.skipped,
            note=note if tally.complete else join_notes(note, paused),
        )


def watch_for_stall(stall: SyncStallCheck) -> CheckOutcome:
    """Whether Zoho's sync still carries CRM edits to Books (``sync_guard.reconcile.stall``)."""
    outcome = stall.run()
    if outcome.verdict is None:
        return CheckOutcome(STALL_CHECK, CheckStatus.SKIPPED, note=outcome.skipped, alert=outcome.alert)
    note = outcome.verdict.summary()
    if outcome.notified:
        note += f"; finance notified ({outcome.notified})"
    elif outcome.episode is not None:
        note += f"; stalled since about {utc_minute(outcome.episode.since)}, already reported"
    return CheckOutcome(
        STALL_CHECK, CheckStatus.OK, found=len(outcome.verdict.edits), note=note, alert=outcome.alert
    )


__all__: Sequence[str] = (
    "ACTOR",
    "BOOKS_DELETED_CHECK",
    "BOOKS_MODIFIED_CHECK",
    "CheckOutcome",
    "CheckStatus",
    "ChecksConfig",
    "ChecksReport",
    "ZohoChecks",
    "ZohoChecksFailed",
    "deleted_check",
)
