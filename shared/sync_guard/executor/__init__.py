"""The outbox executor: carries out the guard's decided actions against Zoho and SNS, exactly once each.

See ``service`` for the flow, ``model`` for an action's statuses, ``dynamo`` for the conditional writes
that make it safe, ``queue`` for the SQS side, ``enrichment`` for fetching id-only events' records.
"""

from sync_guard.executor.model import ActionMessage, ActionStatus, BatchResult, Claim, MessageResult, Refusal
from sync_guard.executor.queue import SqsActionQueue, enqueue_actions, outbox_queue
from sync_guard.executor.service import Executor, ExecutorConfig

__all__ = [
    "ActionMessage",
    "ActionStatus",
    "BatchResult",
    "Claim",
    "Executor",
    "ExecutorConfig",
    "MessageResult",
    "Refusal",
    "SqsActionQueue",
    "enqueue_actions",
    "outbox_queue",
]
