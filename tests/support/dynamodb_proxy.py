"""A proxy in front of the local DynamoDB-API server that fails some requests the way DynamoDB does.

Why a proxy rather than a botocore event hook on the guard's clients: the functions build their clients
inside the handlers from the process's settings (``sync_guard.store.aws``, cached per endpoint), and the
test's own reads share those clients when they share the endpoint. A proxy needs no seam in the guard's
code at all: the local stack gives the functions its URL as their DynamoDB endpoint (``dynamodb_front``)
while the scenario and the administrator's commands keep the server's own URL. And what the functions get
back is what they would get from AWS, on the wire: a status, an ``x-amzn-ErrorType`` header and a JSON
body with ``__type`` and the message, which botocore parses and, for the kinds it deems transient
(throttling, a 500, a read timeout), retries itself with its own backoff and retry quota, exactly as it
does against AWS. A hook raising ``ClientError`` would skip that retry logic, or have to imitate it.

The faults (:class:`DynamoFaultKind`), at a seeded rate for the operations chosen (``X-Amz-Target``):

- ``ProvisionedThroughputExceededException`` and ``ThrottlingException`` (400): botocore retries them;
- ``InternalServerError`` (500): botocore retries it;
- ``TransactionCanceledException`` (400) on ``TransactWriteItems``, one item's cancellation reason a
  ``TransactionConflict`` or a ``ThrottlingError``: botocore does not retry it, the guard must;
- a request that times out: no answer until the client gives up (its read timeout), the request passed
  on to the server first or not (a write that landed although its caller never heard so).

Draws come from one generator in arrival order; the functions call from several threads, so a seed's
faults are the same only as far as that order is.
"""

from __future__ import annotations

import contextlib
import json
import random
import select
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx

from sync_guard.local.http_server import ClosingHTTPServer

_PROTOCOL = "com.amazonaws.dynamodb.v20120810"
_CONTENT_TYPE = "application/x-amz-json-1.0"
#: Longer than the guard's clients wait for an answer (``store.aws``: a read timeout of 5 s).
HOLD_SECONDS = 8.0
#: Headers not passed on either way: the hop's own.
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive"})


class DynamoFaultKind(StrEnum):
    THROUGHPUT_EXCEEDED = "throughput_exceeded"  # ProvisionedThroughputExceededException, 400
    THROTTLING = "throttling"  # ThrottlingException, 400
    INTERNAL_ERROR = "internal_error"  # InternalServerError, 500
    TRANSACTION_CANCELED = "transaction_canceled"  # TransactWriteItems only
    TIMEOUT = "timeout"  # no answer before the client's read timeout


#: What each kind answers: status, the error's type (``__type`` after the ``#``) and its message.
_ERRORS: dict[DynamoFaultKind, tuple[int, str, str]] = {
    DynamoFaultKind.THROUGHPUT_EXCEEDED: (
        400,
        f"{_PROTOCOL}#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing "
        "your provisioning level with the UpdateTable API.",
    ),
    DynamoFaultKind.THROTTLING: (
        400,
        "com.amazon.coral.availability#ThrottlingException",
        "Rate of requests exceeds the allowed throughput.",
    ),
    DynamoFaultKind.INTERNAL_ERROR: (500, f"{_PROTOCOL}#InternalServerError", "Internal server error"),
}
_CANCELLATION_MESSAGES = {
    "TransactionConflict": "Transaction is ongoing for the item",
    "ThrottlingError": "Throughput exceeds the current capacity of your table or index. DynamoDB is "
    "automatically scaling your table or index so please try again shortly.",
}


@dataclass(frozen=True)
class DynamoFaultConfig:
    """What to inject: ``rate`` of the requests for ``operations`` (empty: every operation) fail, their
    kind drawn by ``weights``; at most ``max_timeouts`` of them time out (each costs the caller its read
    timeout), the request passed on first when ``timeout_applies_effect``."""

    rate: float = 0.0
    weights: Mapping[DynamoFaultKind, float] = field(
        default_factory=lambda: dict.fromkeys(DynamoFaultKind, 1.0)
    )
    operations: frozenset[str] = frozenset()
    timeout_applies_effect: bool = False
    max_timeouts: int = 3
    seed: int = 0


@dataclass(frozen=True)
class ProxiedRequest:
    """One request the proxy saw: its operation and the fault it got (None: passed on and answered)."""

    operation: str
    fault: DynamoFaultKind | None


class DynamoFaultProxy:
    """An HTTP server passing DynamoDB API requests on to ``upstream``, failing some (see the module)."""

    def __init__(self) -> None:
        self.upstream = ""
        self._config = DynamoFaultConfig()
        self._rng = random.Random(0)
        self._lock = threading.Lock()
        self._timeouts = 0
        self.requests: list[ProxiedRequest] = []
        self._client = httpx.Client(timeout=30.0)
        self._server = ClosingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def front(self, upstream: str) -> str:
        """Pass requests on to ``upstream`` (the server's URL); the URL to give the functions instead."""
        self.upstream = upstream.rstrip("/")
        return self.url

    def start(self) -> DynamoFaultProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="dynamodb-faults", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.disable()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._client.close()

    def __enter__(self) -> DynamoFaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------- the faults

    @property
    def config(self) -> DynamoFaultConfig:
        return self._config

    def configure(self, config: DynamoFaultConfig | None = None, **changes: Any) -> DynamoFaultConfig:
        """Replace the config (or change some fields); reseeds the draws and the timeouts' budget."""
        with self._lock:
            base = config or self._config
            self._config = replace(base, **changes) if changes else base
            self._rng = random.Random(self._config.seed)
            self._timeouts = 0
            return self._config

    def disable(self) -> None:
        self.configure(rate=0.0)

    @property
    def injected(self) -> Counter[str]:
        """The faults injected so far, by kind."""
        with self._lock:
            return Counter(str(r.fault) for r in self.requests if r.fault is not None)

    def draw(self, operation: str) -> DynamoFaultKind | None:
        """The fault for one request of ``operation``, or None; recorded either way."""
        with self._lock:
            config = self._config
            fault = None
            eligible = not config.operations or operation in config.operations
            if config.rate and eligible and self._rng.random() < config.rate:
                kinds = [
                    kind
                    for kind, weight in config.weights.items()
                    if weight > 0
                    and (
                        kind is not DynamoFaultKind.TRANSACTION_CANCELED or operation == "TransactWriteItems"
                    )
                    and (kind is not DynamoFaultKind.TIMEOUT or self._timeouts < config.max_timeouts)
                ]
                if kinds:
                    fault = self._rng.choices(kinds, [config.weights[k] for k in kinds])[0]
                    self._timeouts += fault is DynamoFaultKind.TIMEOUT
            self.requests.append(ProxiedRequest(operation, fault))
            return fault

    def cancellation(self, items: int) -> tuple[str, int]:
        """A transaction's cancellation: the reason, and the index of the item it is given to."""
        with self._lock:
            return self._rng.choice(sorted(_CANCELLATION_MESSAGES)), self._rng.randrange(max(1, items))

    def forward(self, headers: Mapping[str, str], body: bytes) -> httpx.Response:
        sent = {name: value for name, value in headers.items() if name.lower() not in _HOP_HEADERS}
        return self._client.post(f"{self.upstream}/", content=body, headers=sent)


def error_answer(kind: DynamoFaultKind) -> tuple[int, dict[str, str], bytes]:
    """DynamoDB's answer for a request-level error: status, headers, JSON body."""
    status, error_type, message = _ERRORS[kind]
    return status, _error_headers(error_type), json.dumps({"__type": error_type, "message": message}).encode()


def cancellation_answer(items: int, reason: str, index: int) -> tuple[int, dict[str, str], bytes]:
    """DynamoDB's answer for a transaction of ``items`` items cancelled by ``reason`` on item ``index``."""
    reasons: list[dict[str, str]] = [{"Code": "None"} for _ in range(items)]
    reasons[index] = {"Code": reason, "Message": _CANCELLATION_MESSAGES[reason]}
    error_type = f"{_PROTOCOL}#TransactionCanceledException"
    body = {
        "__type": error_type,
        "CancellationReasons": reasons,
        "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
        f"[{', '.join(r['Code'] for r in reasons)}]",
    }
    return 400, _error_headers(error_type), json.dumps(body).encode()


def _error_headers(error_type: str) -> dict[str, str]:
    short = error_type.rpartition("#")[2]
    return {
        "Content-Type": _CONTENT_TYPE,
        "x-amzn-RequestId": uuid.uuid4().hex.upper(),
        "x-amzn-ErrorType": f"{short}:http://internal.amazon.com/coral/{error_type.partition('#')[0]}/",
    }


def _handler_for(proxy: DynamoFaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = str(self.headers.get("X-Amz-Target", "")).rpartition(".")[2]
            fault = proxy.draw(operation)
            if fault is DynamoFaultKind.TIMEOUT:
                if proxy.config.timeout_applies_effect:
                    proxy.forward(dict(self.headers.items()), body)
                self._wait_for_the_client_to_give_up()
                return
            if fault is DynamoFaultKind.TRANSACTION_CANCELED:
                items = len(json.loads(body or b"{}").get("TransactItems", []))
                self._answer(*cancellation_answer(items, *proxy.cancellation(items)))
                return
            if fault is not None:
                self._answer(*error_answer(fault))
                return
            response = proxy.forward(dict(self.headers.items()), body)
            # httpx hands back the body decoded: its encoding is not passed on either.
            headers = {
                k: v
                for k, v in response.headers.items()
                if k.lower() not in _HOP_HEADERS and k.lower() != "content-encoding"
            }
            self._answer(response.status_code, headers, response.content)

        def _answer(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _wait_for_the_client_to_give_up(self) -> None:
            """No answer: return once the client closed the connection (its read timeout), or after
            ``HOLD_SECONDS``; the connection is closed either way."""
            readable, _, _ = select.select([self.connection], [], [], HOLD_SECONDS)
            if readable:
                with contextlib.suppress(OSError):
                    self.connection.recv(1)
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test's report says what was injected."""

    return Handler
