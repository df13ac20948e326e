"""The small interfaces the scheduled Zoho checks talk to (the store and the Zoho clients implement them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sync_guard.guard.model import AuditEntry, RecordState
from sync_guard.models.records import Module, PartyRecord

if TYPE_CHECKING:
    # Names for the signatures only: importing the Zoho clients at run time would load httpx and tenacity
    # into every function that reaches these ports (the admin function, which never calls Zoho, did).
    from sync_guard.zoho.books import Page
    from sync_guard.zoho.crm import DeletedRecord, WebhookFailure

#: Who the scheduled checks' audit entries (renewals, feeds, stall reports) name as actor.
ACTOR = "scheduler:zoho-checks"


class CrmChecksClient(Protocol):
    """The CRM calls the checks make (``sync_guard.zoho.crm.CrmClient`` has them all)."""

    def enable_notifications(
        self, channel: str, events: Sequence[str], url: str, token: str, /, *, expiry: datetime | None
    ) -> datetime | None:
        """Enable or renew the channel (same id: replaced); returns the expiry Zoho granted."""
        ...

    def notification_channels(self) -> list[dict[str, Any]]: ...

    def webhook_failures(self) -> list[WebhookFailure]: ...

    def list_deleted(
        self, module: Module | str, *, since: datetime | None = None, kind: str = "all"
    ) -> list[DeletedRecord]: ...

    def get_record_data(self, module: Module | str, record_id: str) -> dict[str, Any] | None: ...


class BooksChecksClient(Protocol):
    """The Books calls the checks make (``sync_guard.zoho.books.BooksClient`` has them)."""

    def iter_contacts_modified_since(self, since: datetime) -> Iterator[PartyRecord]:
        """Contacts (customers and vendors) modified at or after ``since``, newest first."""
        ...

    def get_contact_data(self, contact_id: str) -> dict[str, Any] | None: ...

    def list_contacts(
        self,
        *,
        filter_by: str | None = None,
        sort_column: str | None = None,
        sort_order: str | None = None,
        page: int = 1,
    ) -> Page[PartyRecord]:
        """One page of contacts (200), in the order asked for (``sort_order`` ``A`` or ``D``)."""
        ...

    def contact_deleted(self, contact_id: str) -> bool:
        """True only when Books says the contact does not exist; raises on any answer but the two."""
        ...


class ShadowStates(Protocol):
    """The shadow's last known state of a record, and the Books customers it holds as live
    (``DynamoShadowRepository`` has both)."""

    def get_state(self, ref: str) -> RecordState | None: ...

    def live_books_customer_ids(self) -> Iterator[str]:
        """The contact id of every Books customer the shadow holds and has not seen deleted."""
        ...


@dataclass(frozen=True)
class BooksDeletePass:
    """A pass of the Books missed-delete sweep, kept between runs until it ends."""

    #: When the pass began: it names the pass (its listed pages carry it) and becomes the watermark.
    started: datetime
    #: The next page of ``GET /contacts`` to read.
    next_page: int = 1
    #: Whether the last page has been read (then candidates are being confirmed).
    listed: bool = False
    #: Candidates are confirmed in contact id order: every one up to this id is done.
    confirmed_through: str = ""
    #: The candidates Books refused to answer about, in any run of the pass: the pass's end fails on them.
    refused: tuple[str, ...] = ()


@dataclass(frozen=True)
class BooksOrganization:
    """The Books organisation the shadow's Books customers come from, as first recorded."""

    organization_id: str
    #: None when the item was edited by hand and lost (or garbled) its time.
    recorded_at: datetime | None
    #: Who recorded it: the scheduled checks, ``sync-guard seed``, or an admin's ``--adopt``.
    recorded_by: str

    @property
    def provenance(self) -> str:
        """``recorded 2026-09-01 10:15 UTC by seed``, saying so where the item does not tell."""
        when = f"{self.recorded_at:%Y-%m-%d %H:%M} UTC" if self.recorded_at else "at a time not kept"
        return f"recorded {when} by {self.recorded_by or 'an unknown writer'}"


@dataclass(frozen=True)
class ChannelState:
    """The Notification API channel as the guard last renewed it."""

    channel_id: str
    expires_at: datetime
    notify_url: str
    events: tuple[str, ...]
    #: A short hash of the token the channel echoes (the webhook secret), to notice a rotated secret.
    token_fingerprint: str
    renewed_at: datetime


class CheckState(Protocol):
    """Watermarks and the channel's last renewal, kept between runs."""

    def watermark(self, check: str) -> datetime | None:
        """Up to when ``check`` has fed everything; None before its first successful run."""
        ...

    def advance(self, check: str, to: datetime, *, at: datetime) -> bool:
        """Move the watermark forward (never back); False if it was already at or past ``to``."""
        ...

    def channel(self) -> ChannelState | None: ...

    def save_channel(self, state: ChannelState) -> None: ...

    def books_delete_pass(self) -> BooksDeletePass | None:
        """The missed-delete sweep's pass in progress, if any."""
        ...

    def save_books_delete_pass(self, sweep: BooksDeletePass, *, new: bool = False) -> None:
        """Start the pass (``new``) or save its progress; ``ConcurrentUpdate`` when another run started
        a pass meanwhile, or ended this one."""
        ...

    def save_listed_page(self, sweep: BooksDeletePass, page: int, contact_ids: Sequence[str]) -> None:
        """Remember the contact ids one page of the pass's listing held."""
        ...

    def listed_contact_ids(self, sweep: BooksDeletePass) -> set[str]:
        """Every contact id the pages of ``sweep`` (and no other pass) held."""
        ...

    def end_books_delete_pass(self, sweep: BooksDeletePass) -> None:
        """Forget the pass and its pages."""
        ...

    def record_books_organization(self, organization_id: str, *, at: datetime, by: str) -> BooksOrganization:
        """Record the shadow's Books organisation unless one is recorded; returns the one recorded (the
        first writer's, whoever it was)."""
        ...


class AuditAppender(Protocol):
    """The audit trail, for the checks' own entries (renewals, replays)."""

    def append(self, entry: AuditEntry) -> None: ...
