"""The scheduled sweep: nothing acknowledged or decided is ever lost.

Re-queues webhook events that were stored but whose enqueue failed (Zoho got its 202, so they must be
processed), outbox actions whose message never reached (or fell out of) the outbox queue, and, when Zoho
is configured, events stored as ``awaiting_enrichment`` so the processor can now fetch their record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from sync_guard.config import get_settings
from sync_guard.executor.enrichment import requeue_from_settings
from sync_guard.executor.queue import SqsActionQueue
from sync_guard.executor.wiring import build_executor, zoho_configured
from sync_guard.ingest.service import requeue_unqueued
from sync_guard.store.events import DynamoEventStore
from sync_guard.store.queue import SqsEventQueue

logger = Logger()
tracer = Tracer()
metrics = Metrics()

settings = get_settings()
executor = build_executor(settings)
queue = SqsActionQueue.from_settings(settings)
events = DynamoEventStore.from_settings(settings)
processing_queue = SqsEventQueue.from_settings(settings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """EventBridge schedule entry point."""
    unqueued = requeue_unqueued(events, processing_queue, now=datetime.now(UTC))
    requeued = executor.sweep(queue, pending_after=timedelta(seconds=settings.outbox_sweep_after_seconds))
    enriched: list[str] = []
    if zoho_configured(settings):
        enriched = requeue_from_settings(settings, now=datetime.now(UTC))
    metrics.add_metric(name="StoredEventsRequeued", unit=MetricUnit.Count, value=len(unqueued))
    metrics.add_metric(name="OutboxActionsRequeued", unit=MetricUnit.Count, value=len(requeued))
    metrics.add_metric(name="EventsRequeuedForEnrichment", unit=MetricUnit.Count, value=len(enriched))
    logger.info(
        "sweep done",
        extra={
            "unqueued_events": len(unqueued),
            "actions": len(requeued),
            "awaiting_enrichment": len(enriched),
        },
    )
    return {
        "unqueued_events_requeued": len(unqueued),
        "actions_requeued": len(requeued),
        "events_requeued": len(enriched),
    }
