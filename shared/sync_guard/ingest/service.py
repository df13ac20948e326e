"""Storage-first ingestion: authenticate, decode, validate, store, then queue.

The order is the guarantee. An event is acknowledged (202) only once the events table holds it; it is
queued only after that write, so the queue never carries an event the table lacks. If queueing fails the
stored item stays ``received`` (with ``enqueue_error``) and the request still succeeds: the event is safe,
and ``received`` is what reconciliation looks for. Two paths re-queue such an event:

* a re-delivery of the same event (same content-derived id) finds it still ``received`` and queues it;
* ``requeue_unqueued`` (below), a sweep over ``status = received`` items older than a few minutes, re-sends
  them; the processor is idempotent, so a late double send is harmless.

A duplicate delivery of an event already queued or processed is acknowledged with the same id and is not
queued again. Only a failure to store answers 5xx: nothing else the guard does can lose an event.

An event's id hashes its content, the record's modification time among it. A body the admin chose without
that time (a Books raw body or form fields with no ``last_modified_time``, a CRM template with no
``modified``) cannot tell an edit back to earlier values (A -> B -> A) from a redelivery of the first
(Books re-posting a webhook after a failure): no header Zoho documents says either. Such an event
(:func:`identified`) takes the id of the record's last undated event when that one had the same content,
and a new id otherwise: a redelivery is recognised while it is the record's latest news, and an edit back
is an event of its own. Such events are ordered by their arrival (the engine versions them by it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sync_guard.config import Settings
from sync_guard.errors import ClientError, Conflict, SyncGuardError, UnsupportedMediaType
from sync_guard.ingest.auth import (
    TOKEN_QUERY_PARAMETER,
    SignatureVerifier,
    books_signature_verifier,
    presented_token,
    refuse_repeated_url_token,
    require_token,
    token_field,
)
from sync_guard.ingest.body import decode_body
from sync_guard.ingest.ports import EventNotStored, EventQueue, EventStore, PutOutcome, StoredEvent
from sync_guard.ingest.request import Route, WebhookRequest, body_bytes
from sync_guard.models.events import GuardEvent, Operation, event_key
from sync_guard.redact import redact_secret
from sync_guard.zoho.payloads import parse_books_webhook, parse_crm_notification, parse_crm_workflow

logger = logging.getLogger(__name__)

REDACTED = b"[redacted]"
#: Optional on the Books webhook's URL: the organisation the webhook belongs to (checked when given).
ORGANIZATION_QUERY_PARAMETER = "organization_id"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IngestResult:
    """What one request produced: every event id it carried, new or repeated."""

    event_ids: list[str]
    duplicates: int = 0
    unqueued: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.event_ids)

    def to_body(self) -> dict[str, Any]:
        """The 202 response document."""
        return {"accepted": self.accepted, "event_ids": self.event_ids, "duplicates": self.duplicates}


class IngestService:
    """Turns one authenticated webhook request into stored, queued ``GuardEvent`` s."""

    def __init__(
        self,
        store: EventStore,
        queue: EventQueue,
        *,
        secret: Callable[[], str],
        verifier_for: Callable[[str], SignatureVerifier],
        max_body_bytes: int,
        retention: timedelta,
        clock: Callable[[], datetime] = utc_now,
        books_organization_id: str = "",
    ) -> None:
        self._store = store
        self._queue = queue
        self._secret = secret
        self._verifier_for = verifier_for
        self._max_body_bytes = max_body_bytes
        self._retention = retention
        self._clock = clock
        self._books_organization_id = books_organization_id.strip()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        store: EventStore,
        queue: EventQueue,
        secret: Callable[[], str],
        clock: Callable[[], datetime] = utc_now,
    ) -> IngestService:
        """The service as configured: body limit, retention and Books signature scheme from ``settings``."""
        return cls(
            store,
            queue,
            secret=secret,
            verifier_for=lambda webhook_secret: books_signature_verifier(settings, webhook_secret),
            max_body_bytes=settings.max_body_bytes,
            retention=timedelta(days=settings.event_retention_days),
            clock=clock,
            books_organization_id=settings.zoho_books_organization_id,
        )

    def ingest(self, request: WebhookRequest) -> IngestResult:
        """Authenticate, validate, store and queue; raises a ``ClientError`` for the caller's mistakes."""
        body = body_bytes(request, self._max_body_bytes)
        secret = self._secret()
        refuse_repeated_url_token(request.headers, request.query_values(TOKEN_QUERY_PARAMETER))
        presented = presented_token(request.headers, request.query)
        # Notification API callbacks cannot carry headers: their token is echoed inside the body.
        if request.route is not Route.CRM_NOTIFICATIONS or presented is not None:
            require_token(presented, secret, field=token_field(request.headers, request.query))
        if request.route is Route.BOOKS:
            self._verifier_for(secret).verify(request.headers, body)
        try:
            if request.route is Route.BOOKS:
                refuse_another_books_organization(
                    request.query_values(ORGANIZATION_QUERY_PARAMETER), self._books_organization_id
                )
            encoding = request.headers.get("content-encoding", "").strip().lower()
            if encoding not in ("", "identity"):
                # A compressed body would otherwise read as text that is not UTF-8: the wrong complaint.
                raise UnsupportedMediaType(
                    f"unsupported Content-Encoding {encoding!r}: send the body uncompressed (identity)",
                    field="Content-Encoding",
                )
            decoded = decode_body(body, request.content_type)
            if request.route is Route.CRM_NOTIFICATIONS and presented is None:
                require_token(decoded.fields.get("token"), secret, field="token")  # the body's field
            received_at = self._clock()
            events = self._parse(request, decoded.fields, received_at)
        except ClientError as error:
            raise _without_secret(error, secret) from None
        # However the body wrote it: a form percent-encodes, JSON escapes, a JSONString field does both.
        raw = redact_secret(body, secret, REDACTED, charset=decoded.charset)
        expires_at = received_at + self._retention
        stored = [
            StoredEvent(
                event=identified(self._store, event, expires_at=expires_at),
                raw_body=raw,
                content_type=decoded.media_type,
                route=request.route.value,
                received_at=received_at,
                expires_at=expires_at,
            )
            for event in events
        ]
        return store_and_queue(self._store, self._queue, stored, clock=self._clock)

    @staticmethod
    def _parse(request: WebhookRequest, fields: Mapping[str, Any], received_at: datetime) -> list[GuardEvent]:
        if request.route is Route.CRM_WORKFLOW:
            return [parse_crm_workflow(fields, received_at=received_at)]
        if request.route is Route.CRM_NOTIFICATIONS:
            return parse_crm_notification(fields, received_at=received_at)
        hint = request.query.get("event") or request.query.get("operation")
        return [parse_books_webhook(fields, received_at=received_at, operation=hint)]


class WebhookFromAnotherOrganization(Conflict):
    """A Books webhook whose URL names another organisation than ``ZohoBooksOrganizationId``: not
    acknowledged, so that Books' retry policy keeps it while the parameter is put right."""

    code = "another_books_organization"


def refuse_another_books_organization(sent_values: Sequence[str], configured: str) -> None:
    """Raise ``WebhookFromAnotherOrganization`` (409) when the URL's optional ``organization_id`` (every
    value it is given, ``WebhookRequest.query_values``) is not the configured organisation; nothing to
    compare when either is absent. A parameter given empty (or blank), or given more than once with
    different values, is a 400 naming it, configured or not: a merge field that did not resolve, a typo or
    a URL pieced together twice is not "no organisation said" nor "another organisation", and Books' retry
    policy keeps the webhook while the URL is put right. The same value repeated says one organisation,
    and is taken as it."""
    if not sent_values:
        return
    distinct = sorted({value.strip() for value in sent_values})
    if len(distinct) > 1:
        raise ClientError(
            f"the webhook's organization_id is given more than once ({len(sent_values)} times, with "
            "different values): not accepted. Keep one organization_id in the URL, the Books "
            "organisation's id (the one in ZohoBooksOrganizationId)",
            field=ORGANIZATION_QUERY_PARAMETER,
        )
    sent = distinct[0]
    if not sent:
        raise ClientError(
            "the webhook's organization_id is empty: not accepted. Put the Books organisation's id in the "
            "URL (the one in ZohoBooksOrganizationId), or take the parameter out of it",
            field=ORGANIZATION_QUERY_PARAMETER,
        )
    if not configured or sent == configured:
        return
    shown = sent if sent.isdigit() and len(sent) <= 30 else "another value"
    raise WebhookFromAnotherOrganization(
        f"the webhook's organization_id is {shown}, but the guard is configured for Books organisation "
        f"{configured} (ZohoBooksOrganizationId): not accepted. Point this organisation's webhooks at its "
        "own guard, or correct the parameter or the URL",
        field=ORGANIZATION_QUERY_PARAMETER,
    )


def identified(store: EventStore, event: GuardEvent, *, expires_at: datetime) -> GuardEvent:
    """``event`` with its id, which for an undated one (no modification time; not a delete, which ends
    the record) the store picks (``EventStore.undated_identity``; see the module docstring). Raises
    ``EventNotStored`` when the store cannot say."""
    if event.modified_at is not None or event.operation is Operation.DELETE:
        return event
    new_id = event_key(event.event_id, event.received_at)
    try:
        event_id = store.undated_identity(
            event.record_ref, event.event_id, new_id=new_id, expires_at=expires_at
        )
    except SyncGuardError:
        raise
    except Exception as error:
        raise EventNotStored("the event could not be stored; please retry") from error
    return event if event_id == event.event_id else event.model_copy(update={"event_id": event_id})


def _without_secret(error: ClientError, secret: str) -> ClientError:
    """The refusal with the secret taken out of its words, which are logged and answered.

    They may quote a value the caller sent ("unsupported operation '...'"), and an authenticated caller may
    have put the secret itself there (a webhook template's fields mixed up, a token in the wrong parameter).
    """
    if not secret or secret not in f"{error.message} {error.field or ''}":
        return error
    redacted = REDACTED.decode()
    field = error.field.replace(secret, redacted) if error.field else None
    return type(error)(error.message.replace(secret, redacted), field=field)


def store_and_queue(
    store: EventStore,
    queue: EventQueue,
    stored: Sequence[StoredEvent],
    *,
    clock: Callable[[], datetime] = utc_now,
) -> IngestResult:
    """Put each event with the conditional put, then queue the new ones (and repeats never queued).

    The one path every event enters by, whether a webhook delivered it or a scheduled check against Zoho
    found it: a repeat is recognised by its content-derived id, and an event whose enqueue fails stays
    ``received`` for :func:`requeue_unqueued`. Raises ``EventNotStored`` when the table refuses an event.

    Puts, sends and status updates go in batches: a Notification API callback carries hundreds of ids, and
    three calls per id outlast the ingest function's timeout, after which Zoho, which does not retry, never
    sends the rest. Each event keeps its own conditional put, so exactly-once holds as for one.
    """
    outcomes = _put_all(store, stored)
    to_queue = [item.event for item, outcome in zip(stored, outcomes, strict=True) if outcome.needs_enqueue]
    return IngestResult(
        event_ids=[item.event.event_id for item in stored],
        duplicates=sum(1 for outcome in outcomes if not outcome.created),
        unqueued=_enqueue_all(store, queue, to_queue, clock),
    )


def _put_all(store: EventStore, stored: Sequence[StoredEvent]) -> list[PutOutcome]:
    try:
        return store.put_new_many(stored)
    except SyncGuardError:
        raise
    except Exception as error:
        raise EventNotStored("the event could not be stored; please retry") from error


def _enqueue_all(
    store: EventStore, queue: EventQueue, events: Sequence[GuardEvent], clock: Callable[[], datetime]
) -> list[str]:
    """Queue stored events; those not taken stay ``received`` for reconciliation, and are returned."""
    if not events:
        return []
    try:
        refused = queue.send_many(events)
    except Exception as error:
        refused = {event.event_id: type(error).__name__ for event in events}
    for event_id, reason in refused.items():
        logger.warning(
            "event stored but not queued; it stays 'received' for reconciliation",
            extra={"event_id": event_id, "error": reason},
        )
        try:
            store.mark_enqueue_failed(event_id, clock(), reason)
        except Exception as mark_error:
            logger.warning(
                "could not note the enqueue failure on the stored event",
                extra={"event_id": event_id, "error": type(mark_error).__name__},
            )
    sent = [event.event_id for event in events if event.event_id not in refused]
    try:
        store.mark_queued_many(sent, clock())
    except Exception as error:
        # Queued but still marked 'received': a sweep may queue them again, which the processor absorbs.
        logger.warning(
            "events queued but their status could not be updated",
            extra={"events": len(sent), "error": type(error).__name__},
        )
    return [event.event_id for event in events if event.event_id in refused]


class SweepableEventStore(EventStore, Protocol):
    """An event store that can list events stored but never queued."""

    def unqueued(self, received_before: datetime, limit: int = 100) -> Iterable[GuardEvent]:
        """Events still ``received`` that arrived before ``received_before``."""
        ...


def requeue_unqueued(
    store: SweepableEventStore,
    queue: EventQueue,
    *,
    now: datetime,
    min_age: timedelta = timedelta(minutes=5),
    limit: int = 100,
) -> list[str]:
    """The reconciliation sweep: queue stored events whose enqueue failed; returns the ids queued.

    ``min_age`` leaves alone events an ingest function may be queueing right now. A schedule (or an
    operator) calls this; the processor's idempotency absorbs the rare event that is sent twice.
    """
    requeued: list[str] = []
    for event in store.unqueued(received_before=now - min_age, limit=limit):
        try:
            queue.send(event)
        except Exception as error:
            logger.warning(
                "sweep could not queue a stored event",
                extra={"event_id": event.event_id, "error": type(error).__name__},
            )
            continue
        store.mark_queued(event.event_id, now)
        requeued.append(event.event_id)
    return requeued
