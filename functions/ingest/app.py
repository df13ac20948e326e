"""Ingest function: Zoho CRM and Books webhooks in, stored and queued events out.

Thin on purpose: Powertools routing and observability, then ``sync_guard.ingest.IngestService`` does the
work, and every exception becomes a JSON response in ``_error_response`` (statuses from
``sync_guard.errors.http_status_for``). Routes are declared ``ANY`` in the template so that a wrong method
reaches this code and gets a JSON 405 instead of API Gateway's bare 404.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from sync_guard.config import get_settings
from sync_guard.errors import MethodNotAllowed, NotFound, SyncGuardError, http_status_for
from sync_guard.ingest import IngestService, Route, WebhookRequest
from sync_guard.redact import error_detail
from sync_guard.secrets import webhook_secret
from sync_guard.store.events import DynamoEventStore
from sync_guard.store.queue import SqsEventQueue

logger = Logger()
# Only botocore: its calls (DynamoDB, SQS, the secret) are all this function makes. Left to patch everything,
# the X-Ray SDK imports httpx (and sqlite3) at cold start to patch libraries this function never calls.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
app = APIGatewayHttpResolver()

# Cold start: validate configuration once and build clients that warm invocations reuse.
settings = get_settings()
service = IngestService.from_settings(
    settings,
    DynamoEventStore.from_settings(settings),
    SqsEventQueue.from_settings(settings),
    secret=lambda: webhook_secret(settings),
)
ROUTE_PATHS = frozenset(route.value for route in Route)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers,
    )


def _accept(route: Route) -> Response:
    event = app.current_event
    request = WebhookRequest.build(
        route,
        event.headers,
        event.query_string_parameters,
        event.body,
        bool(event.is_base64_encoded),
        raw_query=event.raw_query_string,
    )
    result = service.ingest(request)
    metrics.add_metric(
        name="EventsAccepted", unit=MetricUnit.Count, value=result.accepted - result.duplicates
    )
    metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=result.duplicates)
    if result.unqueued:
        metrics.add_metric(name="EventsStoredNotQueued", unit=MetricUnit.Count, value=len(result.unqueued))
    logger.info(
        "webhook accepted",
        extra={"route": route.value, "event_ids": result.event_ids, "duplicates": result.duplicates},
    )
    return _json(202, result.to_body())


@app.post(Route.CRM_WORKFLOW.value)
def crm_workflow() -> Response:
    return _accept(Route.CRM_WORKFLOW)


@app.post(Route.CRM_NOTIFICATIONS.value)
def crm_notifications() -> Response:
    return _accept(Route.CRM_NOTIFICATIONS)


@app.post(Route.BOOKS.value)
def books() -> Response:
    return _accept(Route.BOOKS)


@app.not_found
def no_route(_: NotFoundError) -> Response:
    """A known path with another method is a 405 naming ``method`` (``Allow: POST``); anything else a 404
    naming ``path``."""
    path = app.current_event.path
    if path in ROUTE_PATHS:  # a POST here would have matched a route: the method is wrong
        refusal = MethodNotAllowed("only POST is accepted", field="method")
        return _error_response(refusal, {"Allow": "POST"})
    return _error_response(NotFound("no such endpoint", field="path"))


@app.exception_handler(Exception)
def any_error(error: Exception) -> Response:
    """The one place where exceptions become responses: never a stack trace, never a secret."""
    return _error_response(error)


def _error_response(error: Exception, headers: dict[str, str] | None = None) -> Response:
    status = http_status_for(error)
    if isinstance(error, SyncGuardError):
        body = error.to_body()
    else:
        body = {"error": "internal_error", "message": "unexpected error; the event was not accepted"}
    log_fields = {"status": status, "error": type(error).__name__, "detail": error_detail(error)}
    if status >= 500:
        # A real fault: with no stored event Zoho's webhook is lost unless someone replays it.
        logger.error("webhook failed", extra=log_fields)
        metrics.add_metric(name="IngestFaults", unit=MetricUnit.Count, value=1)
    else:
        logger.info("webhook rejected", extra=log_fields)
        metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
    return _json(status, body, headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)  # error bodies may quote the caller's data
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway HTTP API (payload v2) entry point."""
    return app.resolve(event, context)
