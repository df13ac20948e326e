"""DynamoDB answers moto never gives: a transaction cancelled because another transaction held one of its
items (cancellation reason ``TransactionConflict``), DynamoDB Local's refusal of a transaction of more
than 10 items (moto takes AWS's 100), and a throttled batch read's keys or batch write's items returned
unprocessed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

Items = list[dict[str, Any]]

#: Items DynamoDB Local takes in one ``TransactWriteItems`` (AWS takes 100).
DYNAMODB_LOCAL_TRANSACTION_ITEMS = 10


def transaction_too_large(limit: int) -> ClientError:
    """The error DynamoDB Local raises for a transaction of more than ``limit`` items; nothing is written."""
    message = (
        "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "
        f"Member must have length less than or equal to {limit}"
    )
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, "TransactWriteItems")


def refuse_transactions_over(client: Any, limit: int = DYNAMODB_LOCAL_TRANSACTION_ITEMS) -> Any:
    """``client`` (a boto3 DynamoDB client), refusing from now on every transaction of more than ``limit``
    items before it is sent, as DynamoDB Local refuses it."""

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if len(params.get("TransactItems", [])) > limit:
            raise transaction_too_large(limit)

    client.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", refuse, unique_id=f"refuse-over-{limit}"
    )
    return client


def transaction_conflict(items: Items) -> ClientError:
    """The error DynamoDB raises for a transaction cancelled by a conflict on its last item: one
    cancellation reason per item, in order, ``None`` for the items that were not the cause."""
    reasons = [{"Code": "None"} for _ in items[:-1]] + [{"Code": "TransactionConflict"}]
    message = (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        f"[{', '.join(reason['Code'] for reason in reasons)}]"
    )
    error = {"Code": "TransactionCanceledException", "Message": message}
    return ClientError({"Error": error, "CancellationReasons": reasons}, "TransactWriteItems")


class TransactionConflicts:
    """A DynamoDB client whose transactions that ``when`` picks are cancelled by a conflict, ``times`` of
    them (None: every one), after ``meanwhile`` ran (what the other writer committed, if anything).
    ``picked`` counts the transactions ``when`` picked, cancelled or not."""

    def __init__(
        self,
        client: Any,
        *,
        times: int | None = 1,
        when: Callable[[Items], bool] = lambda items: True,
        meanwhile: Callable[[], object] | None = None,
    ) -> None:
        self._client = client
        self._left = times
        self._when = when
        self._meanwhile = meanwhile
        self.conflicts = 0
        self.picked = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, TransactItems: Items) -> Any:
        if not self._when(TransactItems):
            return self._client.transact_write_items(TransactItems=TransactItems)
        self.picked += 1
        if self._left != 0:
            self._left = None if self._left is None else self._left - 1
            self.conflicts += 1
            if self._meanwhile is not None:
                self._meanwhile()
            raise transaction_conflict(TransactItems)
        return self._client.transact_write_items(TransactItems=TransactItems)


class CommittedThenRetried:
    """A DynamoDB client whose first transaction that ``when`` picks commits, and whose answer is then lost:
    the transaction is sent again, as botocore sends a request again after a connection error or a timeout,
    and the caller gets the second attempt's answer (its conditions fail against what the first wrote).
    DynamoDB itself answers such a retry as a success when it carries the first's ``ClientRequestToken``
    within ten minutes; a retry without it (an emulator, a late retry) is what this client sends."""

    def __init__(self, client: Any, *, when: Callable[[Items], bool] = lambda items: True) -> None:
        self._client = client
        self._when = when
        self.retried = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, TransactItems: Items) -> Any:
        answer = self._client.transact_write_items(TransactItems=TransactItems)
        if self.retried or not self._when(TransactItems):
            return answer
        self.retried += 1
        return self._client.transact_write_items(TransactItems=TransactItems)


class _LeftUnprocessed:
    """A DynamoDB client whose batch operation ``operation`` does nothing and returns its whole request as
    left unprocessed (DynamoDB's answer when it throttles), ``times`` rounds (None: every one). ``rounds``
    counts the calls; past ``give_up_after`` it raises, so that a caller that never stops asking fails
    instead of spinning for ever."""

    operation = ""
    unprocessed = ""

    def __init__(self, client: Any, *, times: int | None = None, give_up_after: int = 100) -> None:
        self._client = client
        self._left = times
        self._give_up_after = give_up_after
        self.rounds = 0

    def __getattr__(self, name: str) -> Any:
        if name == self.operation:
            return self._leave_unprocessed
        return getattr(self._client, name)

    def _leave_unprocessed(self, RequestItems: dict[str, Any]) -> Any:
        self.rounds += 1
        if self.rounds > self._give_up_after:
            raise AssertionError(f"{self.operation} asked {self.rounds} times for what it is never given")
        if self._left != 0:
            self._left = None if self._left is None else self._left - 1
            return {"Responses": {}, self.unprocessed: RequestItems}
        return getattr(self._client, self.operation)(RequestItems=RequestItems)


class UnprocessedKeys(_LeftUnprocessed):
    """``BatchGetItem`` reads nothing and returns every key as ``UnprocessedKeys`` (see the base class)."""

    operation = "batch_get_item"
    unprocessed = "UnprocessedKeys"


class UnprocessedItems(_LeftUnprocessed):
    """``BatchWriteItem`` writes nothing and returns every item as ``UnprocessedItems`` (see the base
    class)."""

    operation = "batch_write_item"
    unprocessed = "UnprocessedItems"
