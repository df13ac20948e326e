"""The outbox: actions the guard decided on, written in the same transaction as their audit entry.

One item per action (table ``OutboxTable``, key ``pk`` = the action id). The id is derived from the event,
the action kind and the target (``guard.model.action_id_for``) and the item is put with
``attribute_not_exists(pk)``, so an action is queued at most once however often its event is delivered; and
because it is in the decision's transaction, it is never lost either.

The executor takes each action's id from the outbox queue; the sweep finds the actions whose message was lost
by querying the ``ByStatus`` index (``status``, ``queued_sk``, oldest first). Statuses: ``pending`` (to
execute), ``not_executed`` (observe mode: recorded for the audit, never sent to Zoho), and whatever the
executor sets afterwards (``done``, ``failed``...). ``expected_state`` says what the target looks like once
the action ran; the decision engine keeps a copy on the target's shadow state to recognise the webhook that
the guard's own write triggers (loop prevention).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync_guard.config import Settings
from sync_guard.guard.model import OutboxAction
from sync_guard.store import aws
from sync_guard.store.items import from_item, iso, to_item, to_value

PENDING = "pending"
NOT_EXECUTED = "not_executed"
STATUS_INDEX = "ByStatus"


def initial_status(action: OutboxAction) -> str:
    return PENDING if action.execute else NOT_EXECUTED


def outbox_item(action: OutboxAction) -> dict[str, Any]:
    """The DynamoDB item for a newly queued action."""
    return to_item(
        {
            "pk": action.action_id,
            "status": initial_status(action),
            "queued_sk": f"{iso(action.queued_at)}#{action.action_id}",
            "attempts": 0,
            "action": action.model_dump(mode="json"),
            "kind": action.kind.value,
            "target": action.target,
            "event_id": action.event_id,
            "entry_id": action.entry_id,
        }
    )


def outbox_put(table: str, action: OutboxAction) -> dict[str, Any]:
    """A ``TransactWriteItems`` operation queueing ``action`` once."""
    return {
        "Put": {
            "TableName": table,
            "Item": outbox_item(action),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


@dataclass(frozen=True)
class QueuedAction:
    action: OutboxAction
    status: str
    attempts: int


def queued_from_item(item: dict[str, Any]) -> QueuedAction:
    values = from_item(item)
    return QueuedAction(
        action=OutboxAction.model_validate(values["action"]),
        status=str(values["status"]),
        attempts=int(values.get("attempts", 0)),
    )


class Outbox:
    """Reads the outbox; the executor updates statuses with conditional writes of its own."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self.table = table

    @classmethod
    def from_settings(cls, settings: Settings) -> Outbox:
        return cls(aws.client("dynamodb", settings), settings.outbox_table)

    def get(self, action_id: str) -> QueuedAction | None:
        item = self._client.get_item(TableName=self.table, Key={"pk": {"S": action_id}}).get("Item")
        return queued_from_item(item) if item else None

    def by_status(self, status: str = PENDING, *, limit: int = 100) -> list[QueuedAction]:
        """Actions with ``status``, oldest first."""
        actions: list[QueuedAction] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": to_value(status)},
            "ScanIndexForward": True,
        }
        while len(actions) < limit:
            response = self._client.query(**kwargs, Limit=limit - len(actions))
            actions += [queued_from_item(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return actions
