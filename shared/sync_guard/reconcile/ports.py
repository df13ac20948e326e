"""The small interfaces the scheduled Zoho checks talk to (the store and the Zoho clients implement them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sync_guard.guard.model import AuditEntry, RecordState
from sync_guard.models.records import Module, PartyRecord
from sync_guard.zoho.crm import DeletedRecord, WebhookFailure


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


class ShadowStates(Protocol):
    """The shadow's last known state of a record (``DynamoShadowRepository`` has it)."""

    def get_state(self, ref: str) -> RecordState | None: ...


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


class AuditAppender(Protocol):
    """The audit trail, for the checks' own entries (renewals, replays)."""

    def append(self, entry: AuditEntry) -> None: ...
