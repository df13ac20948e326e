"""Run the template's Lambda handlers on one machine, the way AWS would invoke them.

- :class:`HttpApiServer` answers HTTP requests by building the API Gateway HTTP API (v2) event that
  AWS would send, calling the handler, and writing back its ``statusCode``/``headers``/``body``.
- :class:`ScheduleEventSource` invokes a handler with the EventBridge "Scheduled Event" a ``Schedule``
  event would deliver, every interval. The same server answers Lambda's Invoke API for these functions
  (``POST /2015-03-31/functions/<name>/invocations``), so ``sync-guard checks`` runs them on demand
  locally as it does on AWS.
- :class:`SqsEventSource` is the local equivalent of an SQS event-source mapping: it long-polls a queue,
  hands batches to the handler as an SQS event, deletes the messages the handler did not report in
  ``batchItemFailures``, and leaves the rest to become visible again. SQS's redrive policy then moves a
  message that keeps failing to the dead-letter queue, exactly as on AWS.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from sync_guard.local.http_server import ClosingHTTPServer
from sync_guard.local.powertools import LambdaHandler, invoke

# The runtime's own lines (a handler that raised) go with the guard's loggers, the demo's log holds them.
# As a Powertools child logger it had no parent when imported before the stack set the service name.
logger = logging.getLogger(__name__)

_TEXT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/")


@dataclass
class LocalLambdaContext:
    """The attributes of the Lambda context object that Powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass(frozen=True)
class Route:
    """A template route: ``ANY /webhooks/crm`` is ``Route("ANY", "/webhooks/crm", ...)``."""

    method: str
    path: str
    function_name: str
    handler: LambdaHandler

    def matches(self, method: str, path: str) -> bool:
        return self.path == path and self.method in ("ANY", method)


def http_api_event(
    method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes, route_key: str
) -> dict[str, Any]:
    """The API Gateway HTTP API payload-format 2.0 event for one request.

    ``queryStringParameters`` are percent-decoded, a repeated parameter's values joined with commas (AWS's
    payload-format documentation says so); ``rawQueryString`` is the query as sent. A ``+`` is left a
    ``+``, not read as a space: AWS's documentation of payload format 2.0 does not say what HTTP APIs do
    with it, and no statement for HTTP APIs was found (reports of REST APIs, payload 1.0, show ``+``
    arriving as a space: aws/aws-cdk#19827), so this is unconfirmed, and kept as it was rather than
    guessed. The guard does not depend on it: a webhook token is letters and digits, an organisation id
    digits, and the ingest reads ``organization_id`` (and counts ``token``) from ``rawQueryString``.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    content_type = lowered.get("content-type", "")
    is_text = not body or content_type.startswith(_TEXT_TYPES)
    now = datetime.now(UTC)
    query: dict[str, str] = {}
    for pair in raw_query.split("&") if raw_query else []:
        # API Gateway decodes the parameters it passes (rawQueryString stays as sent) and joins a
        # repeated one's values with commas.
        name, _, value = pair.partition("=")
        name, value = unquote(name), unquote(value)
        query[name] = f"{query[name]},{value}" if name in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": not is_text,
        "body": body.decode("utf-8", errors="replace") if is_text else base64.b64encode(body).decode(),
    }
    if query:
        event["queryStringParameters"] = query
    return event


class HttpApiServer:
    """A local HTTP API: the template's routes in front of the real handlers.

    ``invocable`` are the functions Lambda's Invoke API may run by name, as ``aws lambda invoke`` runs a
    deployed one. Only scheduled functions are put there: the routes' functions are reached through
    their routes, and the admin function's operations must not be open to anyone who can reach the port.
    """

    def __init__(
        self,
        routes: list[Route],
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        invocable: Mapping[str, ScheduleEventSource] | None = None,
    ) -> None:
        self.routes = routes
        self.invocable: dict[str, ScheduleEventSource] = dict(invocable or {})
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                server._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the handlers log
                return

        self._httpd = ClosingHTTPServer((host, port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        """The port bound (the one picked, when asked for 0), from construction on."""
        return int(self._httpd.server_address[1])

    def start(self) -> HttpApiServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="http-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever, which never ran otherwise
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _dispatch(self, request: BaseHTTPRequestHandler) -> None:
        split = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        invocation = _INVOKE_PATH.fullmatch(split.path)
        if invocation is not None and request.command == "POST":
            self._invoke(request, invocation.group(1), body)
            return
        route = next((r for r in self.routes if r.matches(request.command, split.path)), None)
        if route is None:
            self._write(
                request,
                HTTPStatus.NOT_FOUND,
                {"content-type": "application/json"},
                json.dumps({"error": "not_found", "message": f"no route for {split.path}"}).encode(),
            )
            return
        event = http_api_event(
            request.command,
            split.path,
            split.query,
            dict(request.headers.items()),
            body,
            f"{route.method} {route.path}",
        )
        try:
            response = invoke(route.handler, event, LocalLambdaContext(route.function_name))
        except Exception:  # the Lambda service would answer 500 for an unhandled error
            logger.exception("%s: handler raised", route.function_name)
            self._write(
                request,
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"content-type": "application/json"},
                b'{"message":"Internal Server Error"}',
            )
            return
        status, headers, payload = _unpack_response(response)
        self._write(request, status, headers, payload)

    def _invoke(self, request: BaseHTTPRequestHandler, name: str, body: bytes) -> None:
        """Lambda's Invoke API, request-response: the handler's result, or its error as Lambda reports it."""
        source = self.invocable.get(name)
        if source is None:
            self._write(
                request,
                HTTPStatus.NOT_FOUND,
                {"content-type": "application/json", "x-amzn-ErrorType": "ResourceNotFoundException"},
                json.dumps({"Type": "User", "message": f"Function not found: {name}"}).encode(),
            )
            return
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            self._write(
                request,
                HTTPStatus.BAD_REQUEST,
                {"content-type": "application/json", "x-amzn-ErrorType": "InvalidRequestContentException"},
                b'{"Type":"User","message":"Could not parse request body into json"}',
            )
            return
        headers = {"content-type": "application/json", "x-amz-executed-version": "$LATEST"}
        try:
            result = source.invoke(event)
        except Exception as error:  # Lambda answers 200 and names the error in a header and the payload
            logger.exception("%s: invoked function raised", name)
            headers["x-amz-function-error"] = "Unhandled"
            result = {"errorMessage": str(error), "errorType": type(error).__name__}
        self._write(request, HTTPStatus.OK, headers, json.dumps(result, default=str).encode())

    @staticmethod
    def _write(request: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], body: bytes) -> None:
        request.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)


_INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")


def _unpack_response(response: Any) -> tuple[int, dict[str, str], bytes]:
    """Interpret a handler's return value as API Gateway does for payload format 2.0."""
    if not isinstance(response, dict) or "statusCode" not in response:
        return 200, {"content-type": "application/json"}, json.dumps(response).encode()
    body = response.get("body") or ""
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ",".join(str(v) for v in values)
    return int(response["statusCode"]), headers, payload


@dataclass
class SqsEventSource:
    """Long-poll ``queue_url`` and invoke ``handler`` with SQS events, honouring partial batch failures."""

    sqs: Any
    queue_url: str
    queue_arn: str
    handler: LambdaHandler
    function_name: str
    batch_size: int = 10
    wait_seconds: int = 1
    # Locally a failed message becomes visible again quickly, so retries happen in seconds, not minutes.
    retry_visibility_seconds: int = 1
    # The function's Timeout: handlers read the time left from the context, as on Lambda.
    timeout_seconds: float = 30.0
    invocations: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SqsEventSource:
        self._thread = threading.Thread(target=self._run, name=f"sqs-{self.function_name}", daemon=True)
        self._thread.start()
        return self

    def stop_soon(self) -> None:
        """Ask the poller to stop after its current poll, without waiting for it (``stop`` waits)."""
        self._stop.set()

    def stop(self) -> None:
        self.stop_soon()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_seconds + 10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # keep the event source alive, as AWS's would be
                logger.exception("%s: event source poll failed", self.function_name)
                self._stop.wait(1)

    def poll_once(self) -> int:
        """Receive one batch, invoke the handler, settle the messages; return how many were received."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        event = {"Records": [self._record(message) for message in received]}
        self.invocations += 1
        try:
            context = LocalLambdaContext(self.function_name, timeout_seconds=self.timeout_seconds)
            result = invoke(self.handler, event, context)
            failed_ids = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception:
            logger.exception("%s: batch failed as a whole", self.function_name)
            failed_ids = {message["MessageId"] for message in received}
        succeeded = [m for m in received if m["MessageId"] not in failed_ids]
        if succeeded:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(succeeded)
                ],
            )
        for message in received:
            if message["MessageId"] in failed_ids:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_visibility_seconds,
                )
        return len(received)

    def _record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "dataType": value.get("DataType", "String"),
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.queue_arn.split(":")[3] if self.queue_arn.count(":") >= 3 else "local",
        }


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float:
    """Seconds between runs of an EventBridge ``rate(...)`` expression (cron is not supported locally)."""
    match = _RATE.match(expression.strip())
    if match is None:
        raise ValueError(f"unsupported schedule expression {expression!r}: use rate(N minutes|hours|days)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


@dataclass
class ScheduleEventSource:
    """Invoke ``handler`` every ``interval_seconds`` with an EventBridge scheduled event."""

    handler: LambdaHandler
    function_name: str
    interval_seconds: float
    rule_name: str = "schedule"
    #: The function's Timeout: handlers that stop in time (the Zoho checks) read what is left of it.
    timeout_seconds: float = 30.0
    invocations: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    # On Lambda two invocations at once run in two containers; here they would share the handler's module
    # (its clients, its cold-start state), so they take turns.
    _running: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> ScheduleEventSource:
        self._thread = threading.Thread(target=self._run, name=f"schedule-{self.function_name}", daemon=True)
        self._thread.start()
        return self

    def stop_soon(self) -> None:
        """Ask the schedule to fire no more, without waiting for a run in progress (``stop`` waits)."""
        self._stop.set()

    def stop(self) -> None:
        self.stop_soon()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self.fire()

    def fire(self) -> Any:
        """One scheduled invocation, now."""
        try:
            return self.invoke(self.scheduled_event())
        except Exception:  # a failed scheduled run is logged; the next one comes at the next interval
            logger.exception("%s: scheduled invocation failed", self.function_name)
            return None

    def invoke(self, event: dict[str, Any]) -> Any:
        """One invocation with ``event``, with the function's own timeout; the handler's error propagates."""
        with self._running:
            self.invocations += 1
            context = LocalLambdaContext(self.function_name, timeout_seconds=self.timeout_seconds)
            return invoke(self.handler, event, context)

    def scheduled_event(self) -> dict[str, Any]:
        """The event EventBridge delivers for the schedule's rule."""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "000000000000",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "local",
            "resources": [f"arn:aws:events:local:000000000000:rule/{self.rule_name}"],
            "detail": {},
        }
