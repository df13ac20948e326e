"""Zoho checks function: on a schedule, keeps the Notification API channel alive, feeds what webhooks missed.

The work is ``sync_guard.reconcile.checks.ZohoChecks.run`` (renew the channel, replay CRM webhook failures,
feed CRM deleted records and Books customers modified or deleted without a webhook, watch for a stalled
sync). A check that fails after Zoho's retries fails the invocation once the others have run, so the error
alarm fires and the check's watermark stays where it was for the next run.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from sync_guard.config import get_settings
from sync_guard.executor.wiring import LazyZohoClients, zoho_configured
from sync_guard.reconcile.wiring import build_zoho_checks

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Cold start: configuration and clients, reused by warm invocations.
settings = get_settings()
zoho = LazyZohoClients(settings)
checks = build_zoho_checks(settings, zoho=zoho)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """EventBridge schedule entry point."""
    if not zoho_configured(settings):
        # Nothing to check without credentials and the Books organisation; webhooks still work.
        logger.warning("Zoho is not configured: the scheduled Zoho checks are skipped")
        metrics.add_metric(name="ZohoChecksSkipped", unit=MetricUnit.Count, value=1)
        return {"skipped": "zoho not configured"}
    report = checks.run(remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000)
    credits = zoho.take_crm_credits_remaining()
    if credits is not None:  # a gauge for an alarm before CRM answers 429 for the rest of the day
        metrics.add_metric(name="ZohoCrmCreditsRemaining", unit=MetricUnit.Count, value=credits)
    for outcome in report.outcomes:
        metrics.add_metric(name="MissedEventsFed", unit=MetricUnit.Count, value=outcome.new_events)
    metrics.add_metric(name="ZohoChecksFailed", unit=MetricUnit.Count, value=len(report.failed))
    # A stalled sync: the SyncStalledAlarm watches this.
    alerts = sum(1 for outcome in report.outcomes if outcome.alert)
    metrics.add_metric(name="ZohoCheckAlerts", unit=MetricUnit.Count, value=alerts)
    summary = report.summary()
    logger.info("zoho checks done", extra={"checks": summary})
    report.raise_for_failures()
    return summary
