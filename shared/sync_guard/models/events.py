"""The one internal event every webhook kind is normalised into."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sync_guard.models.records import Module, PartyRecord, System


class Operation(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Channel(StrEnum):
    """How the event reached the guard."""

    CRM_WORKFLOW = "crm_workflow"
    CRM_NOTIFICATION = "crm_notification"
    BOOKS_WORKFLOW = "books_workflow"
    RECONCILE = "reconcile"


class GuardEvent(BaseModel):
    """A single change to a single record, whatever webhook carried it.

    ``event_id`` is derived from the content (see :func:`event_key`) so that Zoho delivering the same change
    twice yields the same id, and the store's conditional put recognises the repeat.
    """

    model_config = ConfigDict(frozen=True)

    event_id: str
    source: System
    channel: Channel
    module: Module
    operation: Operation
    record_id: str
    # The fields the payload carried, as sent (Notification API: the affected values only).
    fields: dict[str, Any] = Field(default_factory=dict)
    # The record built from the payload, when it carried enough to build one; None means "fetch it".
    record: PartyRecord | None = None
    # The record's fields the payload carried, when it carries only some (a CRM workflow webhook sends
    # the fields its template names): the others are not known to have changed. None: the whole record.
    carries: tuple[str, ...] | None = None
    modified_at: datetime | None = None
    received_at: datetime

    @classmethod
    def workflow(
        cls,
        record: PartyRecord,
        operation: Operation,
        *,
        event_id: str,
        received_at: datetime,
        modified_at: datetime | None = None,
    ) -> GuardEvent:
        """The event a workflow webhook of ``record``'s own system gives for this whole record."""
        channel = Channel.CRM_WORKFLOW if record.system is System.CRM else Channel.BOOKS_WORKFLOW
        return cls(
            event_id=event_id,
            source=record.system,
            channel=channel,
            module=record.module,
            operation=operation,
            record_id=record.record_id,
            record=record,
            modified_at=modified_at,
            received_at=received_at,
        )

    @property
    def needs_enrichment(self) -> bool:
        """Notification API callbacks carry ids only; the full record must come from the CRM API."""
        return self.record is None and self.operation is not Operation.DELETE

    @property
    def record_ref(self) -> str:
        return f"{self.source.value}:{self.record_id}"


def event_key(*parts: object) -> str:
    """A stable, content-derived event id: the same parts always give the same id."""
    canonical = json.dumps([_canonical(part) for part in parts], sort_keys=True, separators=(",", ":"))
    return "evt_" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _canonical(part: object) -> object:
    if isinstance(part, datetime):
        return part.isoformat()
    if isinstance(part, StrEnum):
        return part.value
    return part
