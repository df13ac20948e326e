"""Processor function: consumes the processing queue, one ``GuardEvent`` per message.

Powertools batch processing reports each failed message in ``batchItemFailures``, so SQS retries only
those; after the queue's ``maxReceiveCount`` (5) a message moves to the dead-letter queue. The domain work
is ``sync_guard.processing.process_event``; plugging in the decision engine means passing its handler to
``ProcessingDeps`` below.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sync_guard.config import get_settings
from sync_guard.executor.enrichment import ZohoRecordFetcher
from sync_guard.executor.queue import outbox_queue
from sync_guard.guard.wiring import processor_handler
from sync_guard.ingest.messages import decode_message
from sync_guard.processing import ProcessingDeps, TimeReserve, process_event
from sync_guard.redact import error_detail
from sync_guard.store.events import DynamoEventStore, EventRecordMissing
from sync_guard.zoho.factory import zoho_retry_policy

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Report every failure item by item, even when the whole batch fails: SQS then retries exactly those
# messages and dead-letters them after maxReceiveCount, the same path as a partial failure.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# Cold start: configuration and clients, reused by warm invocations.
settings = get_settings()
event_store = DynamoEventStore.from_settings(settings)
# Id-only Notification API events are enriched through Zoho when it is configured (else: awaiting).
handler = processor_handler(settings)
fetcher = handler.guard.fetcher
zoho_fetcher = fetcher if isinstance(fetcher, ZohoRecordFetcher) else None
deps = ProcessingDeps(events=event_store, handler=handler, actions=outbox_queue(settings))
# An event is started only with this much of the invocation left: its Zoho fetch, retries included, its
# commit's retries, and its first attempt as long as the longest this container has seen (2 s at least,
# 10 s at most: see TimeReserve). A Lambda timeout would fail the whole batch without a word, the events
# it had finished included; a record handed back in time is delivered again like any failed one.
reserve = TimeReserve(
    settings.commit_retry_budget_seconds
    + (zoho_retry_policy(settings).longest_call_seconds() if fetcher is not None else 0.0)
)


class OutOfTime(Exception):
    """Too little of the invocation is left to start another event."""


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> dict[str, Any]:
    """Process one message; raising marks it failed so that SQS redelivers it (then dead-letters it)."""
    if lambda_context is not None and not reserve.allows(lambda_context):
        logger.info(
            "too little time left to start the event; SQS delivers it again",
            extra={"message_id": record.message_id, "reserve_seconds": reserve.seconds},
        )
        metrics.add_metric(name="EventsDeferred", unit=MetricUnit.Count, value=1)
        raise OutOfTime(record.message_id)
    if zoho_fetcher is not None and lambda_context is not None:
        # Its Zoho calls end in time for the commit's retries: a Retry-After or a token refresh that would
        # outlast the invocation fails the event (SQS delivers it again) instead of the whole batch.
        left = lambda_context.get_remaining_time_in_millis() / 1000
        zoho_fetcher.finish_by = time.monotonic() + left - settings.commit_retry_budget_seconds
    outcome = _traced_process(record)
    if isinstance(outcome, Exception):
        logger.warning(
            "event processing failed; SQS will retry it, then dead-letter it",
            extra={
                "message_id": record.message_id,
                "receive_count": record.attributes.approximate_receive_count,
                "error": type(outcome).__name__,
                "detail": error_detail(outcome)[:500],
            },
        )
        metrics.add_metric(name="EventsFailed", unit=MetricUnit.Count, value=1)
        raise outcome
    return outcome


# Errors and responses stay out of the trace: a malformed message's error text can quote customer data.
@tracer.capture_method(capture_response=False, capture_error=False)
def _traced_process(record: SQSRecord) -> dict[str, Any] | Exception:
    """``_process`` in a trace subsegment. A failure is returned, not raised: the tracer would log any
    exception leaving it with its whole traceback, whose text can quote customer data unmasked."""
    try:
        return _process(record)
    except Exception as error:
        return error


def _process(record: SQSRecord) -> dict[str, Any]:
    started = reserve.clock()
    message = decode_message(record.body)
    event = message.event or event_store.load_event(message.event_id)
    if event is None:
        raise EventRecordMissing(f"event {message.event_id} is not stored")
    outcome = process_event(event, deps)
    reserve.took(started, outcome)
    metrics.add_metric(
        name="EventsAlreadyProcessed" if outcome.already_done else "EventsProcessed",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info(
        "event processed",
        extra={"event_id": outcome.event_id, "status": outcome.status.value, "repeat": outcome.already_done},
    )
    return {"event_id": outcome.event_id, "status": outcome.status.value}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """SQS event source entry point (``ReportBatchItemFailures``)."""
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    credits = zoho_fetcher.take_crm_credits_remaining() if zoho_fetcher is not None else None
    if credits is not None:  # the enrichment's CRM reads spend the day's credits too (see the outbox's)
        metrics.add_metric(name="ZohoCrmCreditsRemaining", unit=MetricUnit.Count, value=credits)
    return response
