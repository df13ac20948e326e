"""Helpers for handler tests: fresh handler modules, a Lambda context, the sample events under events/."""

from __future__ import annotations

import copy
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sync_guard.config import get_settings
from sync_guard.executor.wiring import close_zoho_clients
from sync_guard.secrets import reset_secret_cache
from sync_guard.store.aws import reset_clients

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
TEST_SECRET = "sync-guard-test-secret"


@dataclass
class FakeLambdaContext:
    function_name: str = "sync-guard-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-2:123456789012:function:sync-guard-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000  # a fresh invocation of the longest function (the outbox's Timeout in template.yaml)


def fresh_module(name: str) -> ModuleType:
    """Import (or re-import) a handler module so its cold-start code sees the current environment.

    The module's previous Zoho clients are closed first: a new container does not inherit connections."""
    get_settings.cache_clear()
    reset_clients()
    close_zoho_clients()
    reset_secret_cache()
    if name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


def sample_event(name: str) -> dict[str, Any]:
    """A copy of ``events/<name>.json``."""
    return copy.deepcopy(json.loads((EVENTS_DIR / f"{name}.json").read_text()))


def http_event(
    path: str,
    body: str | None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """An HTTP API v2 event shaped like the samples, for requests no sample covers."""
    event = sample_event("crm-workflow-create")
    event["rawPath"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"ANY {path}"
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"] = {name.lower(): value for name, value in (headers or {}).items()}
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{key}={value}" for key, value in query.items())
    else:
        event.pop("queryStringParameters", None)
        event["rawQueryString"] = ""
    if body is None:
        event.pop("body", None)
    else:
        event["body"] = body
    event["isBase64Encoded"] = base64_encoded
    return event


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda's SQS event source builds from received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:processing",
                "awsRegion": "eu-west-2",
            }
            for message in messages
        ]
    }


def published_metric(stdout: str, name: str) -> list[Any]:
    """The values a handler published for metric ``name``: one per EMF line (Powertools prints them)."""
    return [
        line[name] for raw in stdout.splitlines() if raw.startswith("{") and name in (line := json.loads(raw))
    ]
