"""The executor's ports on DynamoDB: outbox claims and outcomes, sent-notice keys, decision context.

Claims are conditional updates on the outbox item (``pk`` = action id):

- claim: ``status IN (pending, retrying, dead_lettered) OR (status = running AND lease_until < now)``
  sets ``running``, a fresh ``claim`` token, ``lease_until`` and ``attempts + 1``.
- finish / retry: conditional on ``status = running AND claim = <token>``: an executor whose lease ran out
  and whose action was taken over cannot overwrite the newer outcome. ``finish`` appends the audit entry in
  the same transaction, so an outcome is on the item and in the trail, or in neither. A ``finish`` cancelled
  while the item still carries its claim met a conflict with another transaction, not a lost claim: it is
  tried again, a few times with growing waits. The item names the claim whose outcome it holds
  (``finished_claim``): a transaction that committed, sent again after its answer was lost, fails its
  conditions against its own writes, and that is no lost claim either.

Sent-notice keys live in the shadow table (``NOTICE#<key>`` / ``N``) with a TTL, beside the shadow states the
notices are written from.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sync_guard.config import Settings
from sync_guard.errors import ConcurrentUpdate
from sync_guard.executor.model import ActionStatus, Claim, NoticeClaim, Refusal
from sync_guard.guard.model import AuditEntry, OutboxAction, RecordState
from sync_guard.guard.ports import EventAlreadyProcessed
from sync_guard.guard.retry import Waits
from sync_guard.store import aws
from sync_guard.store.audit import AuditLog, audit_transact_items
from sync_guard.store.aws import is_conditional_check_failure
from sync_guard.store.items import from_item, iso, to_value
from sync_guard.store.outbox import STATUS_INDEX
from sync_guard.store.shadow import (
    AWS_TRANSACTION_ITEMS,
    batch_get,
    batch_until_processed,
    held_record,
    hold_key,
    read_state,
    state_from_item,
    state_key,
    transact_with_entry,
)

#: Tries of one outcome whose transaction a conflict cancelled while the claim was still the executor's, with
#: waits doubling from 50 ms (jittered, so that two writers that collided once do not collide again in step);
#: past them the error propagates and the executor gives the action back for a retry
#: (``Executor._given_back``).
FINISH_ATTEMPTS = 5
FINISH_WAITS = Waits(first=0.05)
_JITTER = random.Random()  # noqa: S311 - jitter, not security


def _wait_before_finishing_again(seconds: float) -> None:
    time.sleep(seconds)


#: Delivered notices are remembered this long; the same pair reported again later is news again.
NOTICE_MEMORY = timedelta(days=30)
_NOTICE_SK = "N"


class DynamoActionStore:
    """``ActionStore`` on the outbox table (and the audit table for outcomes)."""

    def __init__(self, client: Any, *, outbox_table: str, audit_table: str) -> None:
        self._client = client
        self.outbox_table = outbox_table
        self.audit_table = audit_table
        #: Items the server takes in one transaction (AWS's 100 until a smaller server refuses more).
        self.max_transaction_items = AWS_TRANSACTION_ITEMS

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoActionStore:
        return cls(
            aws.client("dynamodb", settings),
            outbox_table=settings.outbox_table,
            audit_table=settings.audit_table,
        )

    def status(self, action_id: str) -> ActionStatus | None:
        item = self._client.get_item(
            TableName=self.outbox_table,
            Key={"pk": {"S": action_id}},
            ProjectionExpression="#status",
            ExpressionAttributeNames={"#status": "status"},
            ConsistentRead=True,
        ).get("Item")
        return ActionStatus(item["status"]["S"]) if item else None

    def get(self, action_id: str) -> dict[str, Any] | None:
        """The whole outbox item as Python values (tests, admin)."""
        item = self._client.get_item(
            TableName=self.outbox_table, Key={"pk": {"S": action_id}}, ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None

    def claim(self, action_id: str, *, now: datetime, lease_seconds: int) -> Claim | Refusal:
        token = uuid.uuid4().hex
        try:
            response = self._client.update_item(
                TableName=self.outbox_table,
                Key={"pk": {"S": action_id}},
                UpdateExpression=(
                    "SET #status = :running, claim = :token, lease_until = :lease, claimed_at = :now, "
                    "updated_at = :now, attempts = if_not_exists(attempts, :zero) + :one"
                ),
                ConditionExpression=(
                    "attribute_exists(pk) AND (#status IN (:pending, :retrying, :dead) "
                    "OR (#status = :running AND lease_until < :now))"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":running": to_value(ActionStatus.RUNNING.value),
                    ":pending": to_value(ActionStatus.PENDING.value),
                    ":retrying": to_value(ActionStatus.RETRYING.value),
                    ":dead": to_value(ActionStatus.DEAD_LETTERED.value),
                    ":token": to_value(token),
                    ":lease": to_value(iso(now + timedelta(seconds=lease_seconds))),
                    ":now": to_value(iso(now)),
                    ":zero": to_value(0),
                    ":one": to_value(1),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not is_conditional_check_failure(error):
                raise
            return Refusal(action_id, self.status(action_id))
        values = from_item(response["Attributes"])
        # Items drop None values: an action without an event id comes back without the key.
        action = OutboxAction.model_validate({"event_id": None, **values["action"]})
        return Claim(action, int(values["attempts"]), token)

    def _owned(self, claim: Claim) -> dict[str, Any]:
        return {
            "ConditionExpression": "#status = :running AND claim = :token",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":running": to_value(ActionStatus.RUNNING.value),
                ":token": to_value(claim.token),
            },
        }

    def finish(
        self, claim: Claim, status: ActionStatus, *, detail: str, entry: AuditEntry, now: datetime
    ) -> bool:
        owned = self._owned(claim)
        update = {
            "TableName": self.outbox_table,
            "Key": {"pk": {"S": claim.action_id}},
            "UpdateExpression": (
                "SET #status = :status, outcome = :detail, finished_at = :now, updated_at = :now, "
                "outcome_entry = :entry, finished_claim = :token REMOVE claim, lease_until"
            ),
            **owned,
        }
        update["ExpressionAttributeValues"] = owned["ExpressionAttributeValues"] | {
            ":status": to_value(status.value),
            ":detail": to_value(detail[:1000]),
            ":now": to_value(iso(now)),
            ":entry": to_value(entry.entry_id),
        }
        # The audit entry first: run_transaction reads a failure of the first condition as "recorded". An
        # outcome naming many records has more view items than DynamoDB Local takes in one transaction (10):
        # those that do not fit follow it.
        for attempt in range(1, FINISH_ATTEMPTS + 1):
            try:
                late, self.max_transaction_items = transact_with_entry(
                    self._client,
                    self.audit_table,
                    entry,
                    [{"Update": update}],
                    limit=self.max_transaction_items,
                )
            except EventAlreadyProcessed:
                # The entry exists. Written by this very outcome when the item shows this claim's outcome: a
                # transaction that committed but whose answer was lost, sent again (botocore's retry after a
                # timeout or a dropped connection), fails its conditions against its own writes. Anything
                # else is an outcome recorded under another claim.
                if not self._finished_by(claim):
                    return False
                self._write_views(entry)
                return True
            except ConcurrentUpdate:
                # The claim lost (another executor took the action over once the lease ran out), or only a
                # conflict: another transaction on the outbox item or on the audit items at that moment,
                # which cancels this one without a verdict on it. The item tells them apart.
                if not self._still_claimed(claim):
                    return False
                if attempt == FINISH_ATTEMPTS:
                    raise
                _wait_before_finishing_again(FINISH_WAITS.delay(attempt, _JITTER))
                continue
            for view in late:
                self._client.put_item(**view["Put"])
            return True
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _finished_by(self, claim: Claim) -> bool:
        """Whether the outbox item holds the outcome ``claim`` recorded (read strongly consistent)."""
        return (self.get(claim.action_id) or {}).get("finished_claim") == claim.token

    def _write_views(self, entry: AuditEntry) -> None:
        """``entry``'s view items, put again: those a split transaction left for after it were lost with its
        answer (the others are rewritten as they are: their keys hold the entry id)."""
        for view in audit_transact_items(self.audit_table, entry)[1:]:
            self._client.put_item(**view["Put"])

    def _still_claimed(self, claim: Claim) -> bool:
        """Whether the outbox item is still running under ``claim`` (read strongly consistent)."""
        values = self.get(claim.action_id) or {}
        return values.get("status") == ActionStatus.RUNNING.value and values.get("claim") == claim.token

    def retry_later(self, claim: Claim, *, error: str, detail: str, now: datetime) -> bool:
        owned = self._owned(claim)
        try:
            self._client.update_item(
                TableName=self.outbox_table,
                Key={"pk": {"S": claim.action_id}},
                UpdateExpression=(
                    "SET #status = :retrying, last_error = :error, last_error_detail = :detail, "
                    "updated_at = :now REMOVE claim, lease_until"
                ),
                ConditionExpression=owned["ConditionExpression"],
                ExpressionAttributeNames=owned["ExpressionAttributeNames"],
                ExpressionAttributeValues=owned["ExpressionAttributeValues"]
                | {
                    ":retrying": to_value(ActionStatus.RETRYING.value),
                    ":error": to_value(error[:100]),
                    ":detail": to_value(detail[:500]),
                    ":now": to_value(iso(now)),
                },
            )
        except ClientError as failure:
            if is_conditional_check_failure(failure):
                return False
            raise
        return True

    def _query_status(
        self,
        status: ActionStatus,
        *,
        limit: int,
        filter_expression: str | None = None,
        key_range: str | None = None,
        **values: Any,
    ) -> list[str]:
        ids: list[str] = []
        # The index's sort key may only be used in the key condition, never in a filter.
        key_condition = "#status = :status" + (f" AND {key_range}" if key_range else "")
        kwargs: dict[str, Any] = {
            "TableName": self.outbox_table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": to_value(status.value)}
            | {f":{name}": to_value(value) for name, value in values.items()},
            "ProjectionExpression": "pk",
        }
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        while len(ids) < limit:
            response = self._client.query(**kwargs)
            ids += [item["pk"]["S"] for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return ids[:limit]

    def due(self, *, queued_before: datetime, stale_before: datetime, now: datetime, limit: int) -> list[str]:
        pending = self._query_status(
            ActionStatus.PENDING,
            limit=limit,
            key_range="queued_sk < :before",
            before=iso(queued_before),
        )
        retrying = self._query_status(
            ActionStatus.RETRYING,
            limit=limit,
            filter_expression="updated_at < :before",
            before=iso(stale_before),
        )
        running = self._query_status(
            ActionStatus.RUNNING, limit=limit, filter_expression="lease_until < :now", now=iso(now)
        )
        return list(dict.fromkeys(pending + retrying + running))[:limit]

    def cancel(self, action_id: str, *, reason: str, now: datetime) -> ActionStatus | None:
        try:
            response = self._client.update_item(
                TableName=self.outbox_table,
                Key={"pk": {"S": action_id}},
                UpdateExpression="SET #status = :cancelled, outcome = :reason, updated_at = :now",
                ConditionExpression="#status IN (:pending, :retrying, :dead)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":cancelled": to_value(ActionStatus.CANCELLED.value),
                    ":pending": to_value(ActionStatus.PENDING.value),
                    ":retrying": to_value(ActionStatus.RETRYING.value),
                    ":dead": to_value(ActionStatus.DEAD_LETTERED.value),
                    ":reason": to_value(reason[:500]),
                    ":now": to_value(iso(now)),
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return self.status(action_id)
            raise
        return ActionStatus(response["Attributes"]["status"]["S"])

    def actions_of_entry(self, action_ids: Sequence[str]) -> dict[str, tuple[ActionStatus, int]]:
        """Status and attempts of each action (admin release decides what to undo)."""
        found: dict[str, tuple[ActionStatus, int]] = {}
        for action_id in action_ids:
            values = self.get(action_id)
            if values is not None:
                found[action_id] = (ActionStatus(values["status"]), int(values.get("attempts", 0)))
        return found


class DynamoSentNotices:
    """``SentNotices`` in the shadow table, expiring after ``NOTICE_MEMORY``."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self.table = table

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoSentNotices:
        return cls(aws.client("dynamodb", settings), settings.shadow_table)

    def claim(self, keys: Iterable[str], *, now: datetime, lease_seconds: int) -> NoticeClaim:
        # One conditional put per key: a key is taken when there is no item for it (never sent), or
        # when it is an earlier claim whose lease has run out. An item without a status is a key stored
        # as sent by a release before claims existed.
        token = uuid.uuid4().hex
        taken: set[str] = set()
        for key in sorted(set(keys)):
            try:
                self._client.put_item(
                    TableName=self.table,
                    Item={
                        "pk": {"S": f"NOTICE#{key}"},
                        "sk": {"S": _NOTICE_SK},
                        "status": {"S": "sending"},
                        "token": {"S": token},
                        "lease_until": {"N": str(int(now.timestamp()) + lease_seconds)},
                        "expires_at": {"N": str(int((now + NOTICE_MEMORY).timestamp()))},
                    },
                    ConditionExpression="attribute_not_exists(pk) OR (#s = :sending AND lease_until < :now)",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={
                        ":sending": {"S": "sending"},
                        ":now": {"N": str(int(now.timestamp()))},
                    },
                )
            except ClientError as error:
                if not is_conditional_check_failure(error):
                    raise
                continue
            taken.add(key)
        return NoticeClaim(frozenset(taken), token)

    def release(self, claim: NoticeClaim, keys: Iterable[str]) -> None:
        for key in sorted(set(keys) & claim.keys):
            try:
                self._client.delete_item(
                    TableName=self.table,
                    Key={"pk": {"S": f"NOTICE#{key}"}, "sk": {"S": _NOTICE_SK}},
                    ConditionExpression="#s = :sending AND #t = :token",
                    ExpressionAttributeNames={"#s": "status", "#t": "token"},
                    ExpressionAttributeValues={":sending": {"S": "sending"}, ":token": {"S": claim.token}},
                )
            except ClientError as error:
                if not is_conditional_check_failure(error):
                    raise

    def remember(self, keys: Iterable[str], *, now: datetime) -> None:
        expires = int((now + NOTICE_MEMORY).timestamp())
        items = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": f"NOTICE#{key}"},
                        "sk": {"S": _NOTICE_SK},
                        "status": {"S": "sent"},
                        "sent_at": {"S": iso(now)},
                        "expires_at": {"N": str(expires)},
                    }
                }
            }
            for key in sorted(set(keys))
        ]
        for start in range(0, len(items), 25):
            batch_until_processed(self._client, "batch_write_item", {self.table: items[start : start + 25]})


class DynamoDecisionContext:
    """``DecisionContext``: audit entries by id, shadow states by ref (one BatchGetItem), the hold listing a
    record (its ``HOLD`` item, else its state's mark)."""

    def __init__(self, client: Any, *, audit: AuditLog, shadow_table: str) -> None:
        self._client = client
        self._audit = audit
        self.shadow_table = shadow_table

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoDecisionContext:
        return cls(
            aws.client("dynamodb", settings),
            audit=AuditLog.from_settings(settings),
            shadow_table=settings.shadow_table,
        )

    def entry(self, entry_id: str) -> AuditEntry | None:
        return self._audit.get(entry_id)

    def hold_of(self, ref: str) -> str | None:
        item = self._client.get_item(TableName=self.shadow_table, Key=hold_key(ref), ConsistentRead=True)
        if "Item" in item and not (held := held_record(item["Item"])).replaceable:
            return held.entry_id
        state = read_state(self._client, self.shadow_table, ref)
        return state.held_by if state is not None else None

    def states(self, refs: Sequence[str]) -> Mapping[str, RecordState]:
        """The shadow states of ``refs`` it has, by ref, read strongly consistent: an action is taken
        moments after the transaction that wrote its record's state, and an eventually consistent read
        could still miss that state (a new CRM contact's module then taken for Accounts)."""
        keys = [state_key(ref) for ref in sorted(set(refs))]
        found = batch_get(self._client, {self.shadow_table: keys})[self.shadow_table]
        return {state.ref: state for state in map(state_from_item, found)}
