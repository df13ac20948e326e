"""Admin API function (IAM-authorised HTTP API): quarantines, manual links, storm breaker, records, audit.

Thin: route, parse the body into a pydantic model, call ``AdminService``, map its result or its error. The
actor of every operation is the IAM caller's ARN from the request context. Every refusal is the same JSON
document naming what was wrong: a 404 naming ``path`` for a route there is not, a 405 naming ``method`` for
a route's path asked with another method, a 415 naming ``Content-Type`` for a body sent as anything but JSON.

The checks come in API Gateway's order, so that a direct invocation is answered as the deployed API would
answer it: the route first (404/405 whoever calls: API Gateway matches a request to a route before it runs
that route's ``AWS_IAM`` authorisation, and answers one with no route itself), then the caller's identity
(403), then the query or the body (400/415).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from sync_guard.admin.http import (
    ApplyRequest,
    AuditParams,
    BreakerResetRequest,
    ConfirmRequest,
    ForgetReleaseRequest,
    HoldRequest,
    LinkRequest,
    ReleaseRequest,
    audit_json,
    caller_actor,
    check_json_content_type,
    hold_json,
    parse_body,
    record_json,
    result_json,
)
from sync_guard.admin.model import HoldStatus, OperationResult
from sync_guard.admin.service import AdminService
from sync_guard.config import get_settings
from sync_guard.errors import InvalidPayload, MethodNotAllowed, NotFound, SyncGuardError, http_status_for

logger = Logger()
# Only botocore: this function calls DynamoDB and SQS, never Zoho; patching every library the X-Ray SDK knows
# would import httpx (and sqlite3) at cold start for nothing.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
app = APIGatewayHttpResolver()
Request = TypeVar("Request", bound=BaseModel)
RouteFunction = TypeVar("RouteFunction", bound=Callable[..., Any])
#: Each path served and its methods, to tell a method a path does not take (405) from no such path (404).
METHODS_BY_PATH: dict[str, set[str]] = {}

settings = get_settings()
service = AdminService.from_settings(settings)
LOCAL = bool(settings.aws_endpoint_url or settings.dynamodb_endpoint_url)


def _actor() -> str:
    return caller_actor(app.current_event.raw_event, local=LOCAL)


def _route(method: str, path: str) -> Callable[[RouteFunction], RouteFunction]:
    """``app.route(path, method)``, the pair remembered in ``METHODS_BY_PATH``."""
    METHODS_BY_PATH.setdefault(path, set()).add(method)
    return app.route(path, method)


def _body() -> Any:
    if app.current_event.body:  # no body is no fields, whatever its type would have been
        check_json_content_type(app.current_event.headers.get("content-type"))
    try:
        return app.current_event.json_body
    except ValueError as error:
        raise InvalidPayload("the body is not JSON", field="body") from error
    except RecursionError as error:  # arrays in arrays deeper than the parser goes
        raise InvalidPayload("the body is nested too deeply", field="body") from error


def _done(result: Any) -> dict[str, Any]:
    metrics.add_metric(name=f"Admin_{result.operation}", unit=MetricUnit.Count, value=1)
    logger.info("admin operation", extra={"operation": result.operation, "entry_id": result.entry.entry_id})
    return result_json(result)


def _run(model: type[Request], operation: Callable[[Request, str], OperationResult]) -> dict[str, Any]:
    """Who is calling (a 403 without an IAM identity), then the body as ``model`` (a 415 naming
    ``Content-Type``, a 400 naming the field), then the operation as the caller: a caller API Gateway would
    not have let through learns nothing about what a body should hold."""
    actor = _actor()
    request = parse_body(model, _body())
    return _done(operation(request, actor))


@_route("GET", "/admin/quarantines")
def list_quarantines() -> dict[str, Any]:
    _actor()
    status = app.current_event.get_query_string_value("status", "") or ""
    if status and status not in ("held", "confirmed"):
        raise InvalidPayload("status must be held or confirmed", field="status")
    holds = service.list_holds(HoldStatus(status) if status else None)
    return {"quarantines": [hold_json(h) for h in holds], "count": len(holds)}


@_route("POST", "/admin/quarantines/hold")
def hold() -> dict[str, Any]:
    return _run(
        HoldRequest,
        lambda r, actor: service.hold(
            r.record, actor=actor, reason=r.reason, related=tuple(r.related), module=r.module or None
        ),
    )


@_route("POST", "/admin/quarantines/release")
def release() -> dict[str, Any]:
    return _run(ReleaseRequest, lambda r, actor: service.release(r.hold_id, actor=actor, reason=r.reason))


@_route("POST", "/admin/quarantines/apply")
def apply() -> dict[str, Any]:
    return _run(ApplyRequest, lambda r, actor: service.apply(r.hold_id, actor=actor, reason=r.reason))


@_route("POST", "/admin/quarantines/forget-release")
def forget_release() -> dict[str, Any]:
    return _run(
        ForgetReleaseRequest,
        lambda r, actor: service.forget_release(r.record, against=r.against, actor=actor, reason=r.reason),
    )


@_route("GET", "/admin/records")
def record() -> dict[str, Any]:
    _actor()
    return record_json(service.record(app.current_event.get_query_string_value("record", "") or ""))


@_route("POST", "/admin/quarantines/confirm")
def confirm() -> dict[str, Any]:
    return _run(
        ConfirmRequest,
        lambda r, actor: service.confirm(r.hold_id, survivor=r.survivor, actor=actor, reason=r.reason),
    )


@_route("POST", "/admin/links")
def link() -> dict[str, Any]:
    return _run(LinkRequest, lambda r, actor: service.link(r.crm, r.books, actor=actor, reason=r.reason))


@_route("POST", "/admin/breaker/reset")
def reset_breaker() -> dict[str, Any]:
    return _run(BreakerResetRequest, lambda r, actor: service.reset_breaker(actor=actor, reason=r.reason))


@_route("GET", "/admin/audit")
def audit() -> dict[str, Any]:
    _actor()
    params = parse_body(AuditParams, app.current_event.query_string_parameters or {})
    return audit_json(service.audit(params.query(), limit=params.limit, cursor=params.cursor))


def _error_response(error: SyncGuardError, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=http_status_for(error),
        content_type="application/json",
        body=json.dumps(error.to_body()),
        headers=headers,
    )


@app.exception_handler(SyncGuardError)
def domain_error(error: SyncGuardError) -> Response[str]:
    if http_status_for(error) >= 500:
        logger.warning("admin operation failed", extra={"error": error.code})
    return _error_response(error)


@app.not_found
def unknown_route(_: NotFoundError) -> Response[str]:
    """No route answers this method and path: a 405 naming ``method`` if the path has routes, else a 404
    naming ``path``, in the API's error document (not the resolver's own). API Gateway and ``sync-guard
    serve`` answer a route the template does not declare themselves; this answers a direct invocation."""
    methods = sorted(METHODS_BY_PATH.get(app.current_event.path, ()))
    if not methods:
        return _error_response(NotFound("no admin API route has this path", field="path"))
    refusal = MethodNotAllowed(f"this route takes {' or '.join(methods)} only", field="method")
    return _error_response(refusal, {"Allow": ", ".join(methods)})


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # audit pages carry customers' names and emails
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """HTTP API (payload 2.0) entry point."""
    metrics.add_metric(name="AdminRequests", unit=MetricUnit.Count, value=1)
    return app.resolve(event, context)
