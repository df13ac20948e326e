"""Enrichment: Notification API events carry ids only; the full record comes from Zoho's API.

- ``ZohoRecordFetcher`` is the decision engine's ``RecordFetcher`` over the CRM and Books clients: the
  processor hands it to the engine, which fetches the record of an id-only event before deciding (None when
  the record no longer exists: the engine then treats the event as the delete it implies). Zoho errors
  propagate; a retryable one makes SQS redeliver the event.
- ``requeue_awaiting_enrichment`` re-queues events stored as ``awaiting_enrichment`` (they arrived while no
  fetcher was configured): each is taken back to ``received`` with the time of the claim (conditionally, so
  two sweeps cannot both take it), sent to the processing queue, where the engine now fetches and decides,
  and marked ``queued``. A run that dies between the claim and the send leaves the event ``received``: the
  scheduled sweep's ``requeue_unqueued`` sends it once the claim is older than its wait, as it does any
  event stored and not queued. Their earlier audit entry (``<event>#awaiting``) stays; the decision gets
  the event's own entry id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from sync_guard.config import Settings
from sync_guard.ingest.ports import EventStatus
from sync_guard.models.events import GuardEvent
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.reconcile.organization import refuse_books_under_another_organization
from sync_guard.reconcile.ports import BooksOrganization
from sync_guard.store import aws
from sync_guard.store.aws import is_conditional_check_failure
from sync_guard.store.queue import SqsEventQueue
from sync_guard.zoho.factory import ZohoClients

logger = logging.getLogger(__name__)


class ZohoRecordFetcher:
    """``RecordFetcher`` over the Zoho clients (built lazily by ``clients``).

    A Books customer is not fetched while ``books_organization_id`` (``ZohoBooksOrganizationId``) is not
    the organisation ``recorded_books_organization`` reads as the shadow's: there, every customer the
    guard holds "does not exist", which the engine would take for a delete. ``AnotherOrganization`` is
    raised instead (retryable: SQS delivers the event again, then dead-letters it for replay-dlq).

    ``crm_credits`` reads CRM's API credits left, as the clients last saw them (the processor publishes
    them as the outbox function does).

    ``finish_by`` (a ``time.monotonic()`` reading, set by the processor before each event; None: no bound)
    is when every Zoho call of a fetch, retries and a token refresh included, must be over: a fetch that
    would wait past it raises instead, and SQS delivers the event again.
    """

    def __init__(
        self,
        clients: Callable[[], ZohoClients],
        *,
        books_organization_id: str = "",
        recorded_books_organization: Callable[[], BooksOrganization | None] | None = None,
        crm_credits: Callable[[], int | None] | None = None,
    ) -> None:
        self._clients = clients
        self._books_organization_id = books_organization_id
        self._recorded_books_organization = recorded_books_organization
        self._crm_credits = crm_credits
        self.fetched = 0
        self.finish_by: float | None = None

    def take_crm_credits_remaining(self) -> int | None:
        """CRM's API credits left after the last CRM fetch since the last time asked (None: not known)."""
        return self._crm_credits() if self._crm_credits is not None else None

    def fetch(self, system: System, module: str, record_id: str) -> PartyRecord | None:
        """The record as Zoho has it now, or None when Zoho says it does not exist."""
        if system is System.BOOKS:
            refuse_books_under_another_organization(
                self._books_organization_id,
                self._recorded_books_organization,
                outcome="The Books customer was not fetched: the event is retried, then dead-lettered.",
            )
        clients = self._clients()
        clients.finish_calls_by(self.finish_by)
        self.fetched += 1
        if system is System.CRM:
            return clients.crm.get_record(Module(module), record_id)
        return clients.books.get_contact(record_id)


class EventRequeue(Protocol):
    def send(self, event: GuardEvent) -> None: ...


@dataclass
class AwaitingEnrichment:
    """The events table's ``awaiting_enrichment`` events, and the move back to the processing queue."""

    client: Any
    table: str

    @classmethod
    def from_settings(cls, settings: Settings) -> AwaitingEnrichment:
        return cls(aws.client("dynamodb", settings), settings.events_table)

    def events(self, limit: int = 100) -> Iterator[GuardEvent]:
        """A scan with a filter: the sweep's occasional job over a table TTL keeps small."""
        from sync_guard.store.events import _event_of  # the one decoder of stored events

        paginator = self.client.get_paginator("scan")
        found = 0
        for page in paginator.paginate(
            TableName=self.table,
            FilterExpression="#status = :awaiting",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":awaiting": {"S": EventStatus.AWAITING_ENRICHMENT.value}},
        ):
            for item in page.get("Items", []):
                yield _event_of(item)
                found += 1
                if found >= limit:
                    return

    def take(self, event_id: str, now: datetime) -> bool:
        """``awaiting_enrichment`` -> ``received``, claimed at ``now`` (``requeued_at``); False if someone
        else took it first.

        ``received`` and not ``queued``: should the process die before the send, the event is where the
        scheduled sweep looks for events stored but not queued, and ``requeued_at`` keeps that sweep off
        it while the claim is fresh (``DynamoEventStore.unqueued``).
        """
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": event_id}},
                UpdateExpression="SET #status = :received, requeued_at = :at",
                ConditionExpression="#status = :awaiting",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":received": {"S": EventStatus.RECEIVED.value},
                    ":awaiting": {"S": EventStatus.AWAITING_ENRICHMENT.value},
                    ":at": {"S": now.isoformat()},
                },
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def sent(self, event_id: str, now: datetime) -> None:
        """The queue took the event: ``received`` -> ``queued`` (a no-op once the processor moved it on)."""
        self._move(event_id, EventStatus.RECEIVED, EventStatus.QUEUED, now)

    def give_back(self, event_id: str) -> None:
        """The queue refused the event: leave it awaiting, for the next sweep."""
        self._move(event_id, EventStatus.RECEIVED, EventStatus.AWAITING_ENRICHMENT)

    def _move(
        self, event_id: str, expected: EventStatus, to: EventStatus, at: datetime | None = None
    ) -> None:
        update = "SET #status = :to" + (", queued_at = :at" if at is not None else "")
        values = {":to": {"S": to.value}, ":expected": {"S": expected.value}}
        if at is not None:
            values[":at"] = {"S": at.isoformat()}
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": event_id}},
                UpdateExpression=update,
                ConditionExpression="#status = :expected",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if not is_conditional_check_failure(error):
                raise


def requeue_awaiting_enrichment(
    store: AwaitingEnrichment,
    queue: EventRequeue,
    *,
    now: datetime,
    limit: int = 100,
    dry_run: bool = False,
    before_move: Callable[[list[str]], None] | None = None,
) -> list[str]:
    """Send events awaiting enrichment back to the processor; returns their ids.

    Only worth calling when the processor has a record fetcher (Zoho configured): without one the engine
    would record them as awaiting again. ``before_move`` gets the ids of the events listed before any of
    them moves (``sync-guard requeue-awaiting`` audits them there); should it fail, none moves.
    """
    listed = list(store.events(limit=limit))
    if dry_run:
        return [event.event_id for event in listed]
    if listed and before_move is not None:
        before_move([event.event_id for event in listed])
    moved: list[str] = []
    for event in listed:
        if not store.take(event.event_id, now):
            continue
        try:
            queue.send(event)
        except Exception:
            store.give_back(event.event_id)
            raise
        moved.append(event.event_id)
        store.sent(event.event_id, now)
    if moved:
        logger.info("events awaiting enrichment re-queued", extra={"count": len(moved)})
    return moved


def requeue_from_settings(
    settings: Settings,
    *,
    now: datetime,
    dry_run: bool = False,
    before_move: Callable[[list[str]], None] | None = None,
) -> list[str]:
    return requeue_awaiting_enrichment(
        AwaitingEnrichment.from_settings(settings),
        SqsEventQueue.from_settings(settings),
        now=now,
        dry_run=dry_run,
        before_move=before_move,
    )
