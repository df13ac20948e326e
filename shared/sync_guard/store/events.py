"""The events table: every accepted webhook event, written before it is acknowledged.

Item layout (``pk`` is the content-derived event id, so a repeated delivery meets the conditional put)::

    pk            evt_...                        status        received|queued|processed|awaiting_enrichment
    source        crm|books                      channel       crm_workflow|crm_notification|books_workflow
    module        Accounts|Contacts|Customers    operation     create|update|delete
    record_ref    crm:<id> / books:<id>          route         /webhooks/...
    event         the GuardEvent as JSON         raw_body      the request body (secret redacted, escaped too)
    content_type  how the body was read          received_at   ISO-8601 UTC
    expires_at    epoch seconds (table TTL)      queued_at / enqueue_error / processed_at   as they happen

Large bodies are stored zlib-compressed (``raw_body_z``, ``event_z``) to stay under DynamoDB's 400 KB items.

Beside the events, one item per record whose webhooks carry no modification time (``undated_identity``)::

    pk            undated#crm:<id> / undated#books:<id>
    content_id    the content-derived id of the record's last undated event
    event_id      the id that event was stored under     expires_at    as the event's
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sync_guard.config import Settings
from sync_guard.errors import PayloadTooLarge, SyncGuardError
from sync_guard.ingest.ports import EventNotStored, EventStatus, PutOutcome, StoredEvent
from sync_guard.models.events import GuardEvent
from sync_guard.store.aws import client, is_conditional_check_failure

# Compress once an item would pass this; DynamoDB's hard limit is 400 KB including attribute names.
_COMPRESS_ABOVE_BYTES = 300 * 1024
_MAX_ITEM_BYTES = 390 * 1024
# One TransactWriteItems holds at most 100 items and 4 MB: stay under both, with room for the names.
_TRANSACTION_ITEMS = 100
_TRANSACTION_BYTES = 3 * 1024 * 1024
_ITEM_LIMIT = re.compile(r"length less than or equal to (\d+)")
CONDITION_FAILED = "ConditionalCheckFailed"
_WRITTEN: dict[str, Any] = {}  # marks a write that went through in ``_write_each``'s answer


class EventRecordMissing(SyncGuardError):
    """A queued event has no stored item (expired or never written): processing cannot record it."""

    code = "event_record_missing"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class DynamoEventStore:
    """``EventStore`` (ingest side) and the status updates the processor makes, on the events table."""

    def __init__(self, dynamodb: Any, table_name: str, *, retention: timedelta = timedelta(days=30)) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._retention = retention
        self._transaction_items = _TRANSACTION_ITEMS

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoEventStore:
        retention = timedelta(days=settings.event_retention_days)
        return cls(client("dynamodb", settings), settings.events_table, retention=retention)

    # ------------------------------------------------------------------------------------ ingest side
    def item_for(self, stored: StoredEvent) -> dict[str, Any]:
        """The DynamoDB item for ``stored`` (compressed if large); ``PayloadTooLarge`` if it cannot fit."""
        event = stored.event
        event_json = event.model_dump_json().encode()
        item: dict[str, Any] = {
            "pk": {"S": event.event_id},
            "status": {"S": stored.status.value},
            "source": {"S": event.source.value},
            "channel": {"S": event.channel.value},
            "module": {"S": event.module.value},
            "operation": {"S": event.operation.value},
            "record_ref": {"S": event.record_ref},
            "route": {"S": stored.route},
            "content_type": {"S": stored.content_type},
            "received_at": {"S": _iso(stored.received_at)},
            "expires_at": {"N": str(int(stored.expires_at.timestamp()))},
        }
        if len(event_json) + len(stored.raw_body) <= _COMPRESS_ABOVE_BYTES:
            item["event"] = {"S": event_json.decode()}
            try:
                item["raw_body"] = {"S": stored.raw_body.decode("utf-8")}
            except UnicodeDecodeError:
                item["raw_body_z"] = {"B": zlib.compress(stored.raw_body)}
            return item
        compressed_event = zlib.compress(event_json)
        compressed_raw = zlib.compress(stored.raw_body)
        if len(compressed_event) + len(compressed_raw) > _MAX_ITEM_BYTES:
            raise PayloadTooLarge("the event is too large to store")
        item["event_z"] = {"B": compressed_event}
        item["raw_body_z"] = {"B": compressed_raw}
        return item

    def put_new(self, stored: StoredEvent) -> PutOutcome:
        """Conditional put on ``pk``; a repeat reports the status the stored event already has."""
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=self.item_for(stored),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return PutOutcome(created=True)
        except ClientError as error:
            if not is_conditional_check_failure(error):
                raise EventNotStored("the events table refused the event") from error
            existing: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
        except BotoCoreError as error:
            raise EventNotStored("the events table is unreachable") from error
        if existing and "status" in existing:
            return PutOutcome(created=False, existing_status=EventStatus(existing["status"]["S"]))
        # Servers that do not return the old item (older DynamoDB Local): ask with a write, since the
        # ingest function may only write. The probe succeeds only while the event is still 'received'.
        return PutOutcome(created=False, existing_status=self._probe_received(stored))

    def put_new_many(self, stored: Sequence[StoredEvent]) -> list[PutOutcome]:
        """``put_new`` of each event, up to 100 in one ``TransactWriteItems`` (a callback's hundreds of ids
        in a few calls); each put keeps its own ``attribute_not_exists`` condition."""
        if len({item.event.event_id for item in stored}) != len(stored):
            return [self.put_new(item) for item in stored]  # a transaction writes each item once at most
        puts = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self.item_for(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for item in stored
        ]
        outcomes = []
        for item, answer in zip(stored, self._write_each(puts), strict=True):
            if answer is _WRITTEN:
                outcomes.append(PutOutcome(created=True))
            elif answer is None:
                outcomes.append(self.put_new(item))
            elif "status" in answer:
                outcomes.append(PutOutcome(created=False, existing_status=EventStatus(answer["status"]["S"])))
            else:
                outcomes.append(PutOutcome(created=False, existing_status=self._probe_received(item)))
        return outcomes

    def mark_queued_many(self, event_ids: Sequence[str], at: datetime) -> None:
        """``mark_queued`` of each event, up to 100 in one ``TransactWriteItems``."""
        updates = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": event_id}},
                    "UpdateExpression": "SET #status = :queued, queued_at = :at REMOVE enqueue_error",
                    "ConditionExpression": "#status = :expected",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":queued": {"S": EventStatus.QUEUED.value},
                        ":expected": {"S": EventStatus.RECEIVED.value},
                        ":at": {"S": _iso(at)},
                    },
                }
            }
            for event_id in event_ids
        ]
        for event_id, answer in zip(event_ids, self._write_each(updates), strict=True):
            if answer is None:
                self.mark_queued(event_id, at)

    def _write_each(self, operations: Sequence[dict[str, Any]]) -> list[dict[str, Any] | None]:
        """Run conditional writes on distinct items in as few transactions as the limits allow.

        Per operation: ``_WRITTEN``; the item as it stood when its condition failed (``{}`` when the server
        does not say); or None when it was not decided here (a transaction that conflicted with another
        writer, was throttled or failed otherwise): the caller writes those one at a time. A transaction is
        all or nothing, so one repeat among a hundred puts cancels it: the repeats are noted from the
        cancellation reasons, and the others are sent again without them. A server that takes fewer items
        per transaction (DynamoDB Local's old limit of 10) says how many, and gets that many from then on.
        """
        answers: list[dict[str, Any] | None] = [None] * len(operations)
        work = deque(_chunks(range(len(operations)), operations, self._transaction_items))
        while work:
            pending = work.popleft()
            try:
                self._dynamodb.transact_write_items(TransactItems=[operations[i] for i in pending])
            except ClientError as error:
                limit = _item_limit(error)
                if limit is not None and 0 < limit < len(pending):
                    self._transaction_items = limit
                    work.extendleft(reversed(list(_chunks(pending, operations, limit))))
                    continue
                reasons = _cancellation_reasons(error, len(pending))
                if reasons is None:
                    continue  # left undecided: written one at a time by the caller
                for index, (code, old) in zip(pending, reasons, strict=True):
                    if code == CONDITION_FAILED:
                        answers[index] = old
                rest = [i for i, (code, _) in zip(pending, reasons, strict=True) if code == "None"]
                if rest:
                    work.appendleft(rest)
                continue
            except BotoCoreError:
                continue
            for index in pending:
                answers[index] = _WRITTEN
        return answers

    def undated_identity(self, record_ref: str, content_id: str, *, new_id: str, expires_at: datetime) -> str:
        """See ``EventStore.undated_identity``. Writes only (the ingest function may not read), each
        conditional on what the record's item held, so that two deliveries at once agree."""
        key = {"pk": {"S": f"undated#{record_ref}"}}
        values = {":content": {"S": content_id}, ":expires": {"N": str(int(expires_at.timestamp()))}}
        for _ in range(3):
            # The record's last undated event had this content: its id (a redelivery).
            repeat = self._update_undated(
                key,
                "SET expires_at = :expires",
                "content_id = :content",
                values,
            )
            if repeat is not None:
                return repeat
            # The record's first: the content's own id, as every dated event has.
            for event_id, condition in (
                (content_id, "attribute_not_exists(pk)"),
                (new_id, "attribute_exists(pk) AND content_id <> :content"),
            ):
                noted = self._update_undated(
                    key,
                    "SET content_id = :content, event_id = :event_id, expires_at = :expires",
                    condition,
                    {**values, ":event_id": {"S": event_id}},
                )
                if noted is not None:
                    return noted
        raise EventNotStored("the events table kept changing the record's last event; please retry")

    def _update_undated(
        self, key: dict[str, Any], update: str, condition: str, values: dict[str, Any]
    ) -> str | None:
        """The item's ``event_id`` after the update, or None when the condition failed."""
        try:
            answer = self._dynamodb.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return None
            raise EventNotStored("the events table refused the event") from error
        except BotoCoreError as error:
            raise EventNotStored("the events table is unreachable") from error
        return str(answer["Attributes"]["event_id"]["S"])

    def _probe_received(self, stored: StoredEvent) -> EventStatus | None:
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"pk": {"S": stored.event.event_id}},
                UpdateExpression="SET redelivered_at = :at",
                ConditionExpression="#status = :received",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":at": {"S": _iso(stored.received_at)},
                    ":received": {"S": EventStatus.RECEIVED.value},
                },
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return None  # queued or further along: nothing to re-queue
            raise EventNotStored("the events table refused the event") from error
        except BotoCoreError as error:
            raise EventNotStored("the events table is unreachable") from error
        return EventStatus.RECEIVED

    def _update_if_status(
        self, event_id: str, expected: EventStatus, update: str, values: dict[str, Any]
    ) -> bool:
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"pk": {"S": event_id}},
                UpdateExpression=update,
                ConditionExpression="#status = :expected",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":expected": {"S": expected.value}, **values},
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def mark_queued(self, event_id: str, at: datetime) -> None:
        """``received`` -> ``queued``; a no-op if the processor already moved the event further."""
        self._update_if_status(
            event_id,
            EventStatus.RECEIVED,
            "SET #status = :queued, queued_at = :at REMOVE enqueue_error",
            {":queued": {"S": EventStatus.QUEUED.value}, ":at": {"S": _iso(at)}},
        )

    def mark_enqueue_failed(self, event_id: str, at: datetime, reason: str) -> None:
        """Keep the event ``received`` and note the failure for the sweep and for people."""
        self._update_if_status(
            event_id,
            EventStatus.RECEIVED,
            "SET enqueue_error = :reason, enqueue_failed_at = :at",
            {":reason": {"S": reason[:200]}, ":at": {"S": _iso(at)}},
        )

    def unqueued(self, received_before: datetime, limit: int = 100) -> Iterator[GuardEvent]:
        """Events still ``received`` (stored, never queued) that arrived before ``received_before``.

        An event ``requeue-awaiting`` took back to ``received`` is listed once its claim (``requeued_at``)
        is as old too: the run that took it may be sending it now; past that, it died before sending.

        A scan with a filter: fine for a sweep every few minutes over a table that TTL keeps small. A
        sparse index on ``status`` would make it cheaper if the table grows large.
        """
        paginator = self._dynamodb.get_paginator("scan")
        found = 0
        for page in paginator.paginate(
            TableName=self._table,
            FilterExpression=(
                "#status = :received AND received_at < :before"
                " AND (attribute_not_exists(requeued_at) OR requeued_at < :before)"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":received": {"S": EventStatus.RECEIVED.value},
                ":before": {"S": _iso(received_before)},
            },
        ):
            for item in page.get("Items", []):
                yield _event_of(item)
                found += 1
                if found >= limit:
                    return

    # ------------------------------------------------------------------------------------ processor side
    def load_event(self, event_id: str) -> GuardEvent | None:
        """The stored event (for queue messages that carried only its id)."""
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"pk": {"S": event_id}}, ConsistentRead=True
        )
        found = item.get("Item")
        return _event_of(found) if found else None

    def status_of(self, event_id: str) -> EventStatus | None:
        """The event's current status, or None if no such event is stored."""
        item = self._dynamodb.get_item(
            TableName=self._table,
            Key={"pk": {"S": event_id}},
            ProjectionExpression="#status",
            ExpressionAttributeNames={"#status": "status"},
            ConsistentRead=True,
        ).get("Item")
        return EventStatus(item["status"]["S"]) if item and "status" in item else None

    def mark_processed(self, event_id: str, status: EventStatus, at: datetime) -> None:
        """Record the processor's outcome; ``EventRecordMissing`` if the event is not stored.

        An event left awaiting enrichment loses its expiry: it waits for ``requeue-awaiting`` however long
        that takes, since an acknowledged event is never dropped undecided. Once decided, it expires the
        retention period after that (an expiry it still has is kept).
        """
        values: dict[str, Any] = {":status": {"S": status.value}, ":at": {"S": _iso(at)}}
        if status is EventStatus.AWAITING_ENRICHMENT:
            update = "SET #status = :status, processed_at = :at REMOVE expires_at"
        else:
            update = (
                "SET #status = :status, processed_at = :at, expires_at = if_not_exists(expires_at, :expires)"
            )
            values[":expires"] = {"N": str(int((at + self._retention).timestamp()))}
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"pk": {"S": event_id}},
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                raise EventRecordMissing(f"event {event_id} is not stored") from error
            raise


def _chunks(indexes: Iterable[int], operations: Sequence[dict[str, Any]], most: int) -> Iterator[list[int]]:
    """``indexes`` in runs that fit one transaction: ``most`` operations, and under its size limit."""
    chunk: list[int] = []
    size = 0
    for index in indexes:
        weight = len(repr(operations[index]))  # never under the wire size (binary values repr longer)
        if chunk and (len(chunk) >= most or size + weight > _TRANSACTION_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(index)
        size += weight
    if chunk:
        yield chunk


def _item_limit(error: ClientError) -> int | None:
    """The number of items per transaction a server says it takes, when it refused more."""
    if error.response.get("Error", {}).get("Code") != "ValidationException":
        return None
    found = _ITEM_LIMIT.search(str(error.response.get("Error", {}).get("Message", "")))
    return int(found.group(1)) if found else None


def _cancellation_reasons(error: ClientError, count: int) -> list[tuple[str, dict[str, Any]]] | None:
    """Each operation's reason (``ConditionalCheckFailed`` with the old item, or ``None``) when conditions
    alone cancelled the transaction; None for anything else (a conflict, throttling, a refusal)."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    given = error.response.get("CancellationReasons") or []
    if given:
        reasons = [(str(r.get("Code") or "None"), dict(r.get("Item") or {})) for r in given]
    else:  # some emulators only name the reasons in the message, in order
        message = str(error.response.get("Error", {}).get("Message", ""))
        named = message.rpartition("[")[2].rstrip("]").split(",")
        reasons = [(code.strip(), {}) for code in named]
    codes = {code for code, _ in reasons}
    if (
        len(reasons) != count
        or "ConditionalCheckFailed" not in codes
        or codes - {"ConditionalCheckFailed", "None"}
    ):
        return None
    return reasons


def _event_of(item: dict[str, Any]) -> GuardEvent:
    if "event" in item:
        return GuardEvent.model_validate_json(item["event"]["S"])
    return GuardEvent.model_validate_json(zlib.decompress(bytes(item["event_z"]["B"])))
