"""Outbox function: runs the guard's actions (CRM tag, Books inactive, finance notice) from the outbox queue.

Powertools batch processing reports each failed message in ``batchItemFailures``: SQS delivers only those
again and, after the queue's maxReceiveCount (5), moves them to the dead-letter queue
(``sync-guard replay-dlq --queue outbox``). The batch is executed as a whole first, because the finance
notices of one batch are aggregated into as few messages as possible; each record then reports its own
outcome. The domain work is ``sync_guard.executor.Executor.run_batch``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from sync_guard.config import get_settings
from sync_guard.executor import ActionMessage, MessageResult
from sync_guard.executor.queue import decode_action
from sync_guard.executor.wiring import LazyZohoClients, build_executor

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# Cold start: configuration and clients, reused by warm invocations.
settings = get_settings()
zoho = LazyZohoClients(settings)
executor = build_executor(settings, zoho=zoho)


class ActionNeedsRetry(Exception):
    """Raised for a record whose action must run again: Powertools reports it as a batch item failure."""


def _messages(records: list[dict[str, Any]]) -> list[ActionMessage]:
    messages = []
    for raw in records:
        record = SQSRecord(raw)
        try:
            action_id = decode_action(record.body).action_id
        except ValidationError:
            # A malformed message can never succeed; it is dropped (and logged) rather than dead-lettered.
            logger.error("malformed outbox message dropped", extra={"message_id": record.message_id})
            continue
        receives = int(record.attributes.approximate_receive_count or 1)
        messages.append(ActionMessage(record.message_id, action_id, receives))
    return messages


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """SQS event source entry point (``ReportBatchItemFailures``)."""
    result = executor.run_batch(
        _messages(event.get("Records", [])),
        remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    outcomes: dict[str, MessageResult] = {r.message_id: r for r in result.results}
    for outcome in result.results:
        status = outcome.status.value if outcome.status else "unknown"
        metrics.add_metric(name=f"Actions_{status}", unit=MetricUnit.Count, value=1)
    credits = zoho.take_crm_credits_remaining()
    if credits is not None:  # a gauge for an alarm before CRM answers 429 for the rest of the day
        metrics.add_metric(name="ZohoCrmCreditsRemaining", unit=MetricUnit.Count, value=credits)

    def record_handler(record: SQSRecord) -> str:
        outcome = outcomes.get(record.message_id)
        if outcome is not None and outcome.retry:
            raise ActionNeedsRetry(f"{outcome.action_id}: {outcome.detail}")
        return outcome.status.value if outcome and outcome.status else "dropped"

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
