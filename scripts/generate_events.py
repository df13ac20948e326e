"""Build the API Gateway HTTP API (v2) sample events under ``events/`` from the plain payloads.

Each sample wraps one file of ``events/payloads/`` the way ``sam local generate-event apigateway
http-api-proxy`` shapes an event (the base below is its output, with the sample's cookies, JWT claims and
client certificate left out because API Gateway only sends them when configured), then sets the path,
route key, headers, query string and body. Form bodies are base64-encoded, as HTTP APIs deliver them.

    python scripts/generate_events.py           # rewrite events/*.json
    python scripts/generate_events.py --check   # exit 1 if a committed event differs (tests run this)

Every event carries ``X-Sync-Guard-Token: sync-guard-test-secret``, the documented test secret
(``SYNC_GUARD_WEBHOOK_SECRET=sync-guard-test-secret``); Notification API callbacks carry it in the body.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
PAYLOADS = EVENTS / "payloads"
TEST_SECRET = "sync-guard-test-secret"  # noqa: S105 - the documented secret of the samples

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

# From `sam local generate-event apigateway http-api-proxy` (SAM CLI 1.170), see the module docstring.
BASE_EVENT: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/path/to/resource",
    "rawQueryString": "",
    "headers": {},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api-id",
        "domainName": "id.execute-api.eu-west-2.amazonaws.com",
        "domainPrefix": "id",
        "http": {
            "method": "POST",
            "path": "/path/to/resource",
            "protocol": "HTTP/1.1",
            "sourceIp": "192.168.0.1/32",
            "userAgent": "agent",
        },
        "requestId": "id",
        "routeKey": "$default",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    },
    "body": "",
    "isBase64Encoded": False,
}


@dataclass(frozen=True)
class Sample:
    name: str
    payload: str
    path: str
    content_type: str = JSON
    query: dict[str, str] = field(default_factory=dict)
    token_header: bool = True


SAMPLES = [
    Sample("crm-workflow-create", "crm-workflow-account-create.json", "/webhooks/crm"),
    Sample("crm-workflow-edit", "crm-workflow-account-edit.json", "/webhooks/crm"),
    Sample("crm-workflow-delete", "crm-workflow-contact-delete.json", "/webhooks/crm"),
    Sample("crm-workflow-edit-form", "crm-workflow-contact-edit.form", "/webhooks/crm", FORM),
    Sample(
        "crm-notification-insert",
        "crm-notification-insert.json",
        "/webhooks/crm/notifications",
        token_header=False,
    ),
    Sample(
        "crm-notification-update",
        "crm-notification-update.json",
        "/webhooks/crm/notifications",
        token_header=False,
    ),
    Sample(
        "crm-notification-delete",
        "crm-notification-delete.json",
        "/webhooks/crm/notifications",
        token_header=False,
    ),
    Sample("books-create", "books-create.json", "/webhooks/books", query={"event": "create"}),
    Sample("books-edit", "books-edit.json", "/webhooks/books", query={"event": "edit"}),
    Sample("books-delete", "books-delete.json", "/webhooks/books", query={"event": "delete"}),
    Sample("books-delete-id-only", "books-delete-id-only.json", "/webhooks/books"),
    Sample("books-create-form", "books-create-jsonstring.form", "/webhooks/books", FORM, {"event": "create"}),
    Sample("books-edit-form-fields", "books-edit-fields.form", "/webhooks/books", FORM),
]


def api_event(sample: Sample) -> dict[str, Any]:
    """The HTTP API v2 event for one sample."""
    body = (PAYLOADS / sample.payload).read_text().strip()
    event = copy.deepcopy(BASE_EVENT)
    route_key = f"ANY {sample.path}"
    event["routeKey"] = route_key
    event["rawPath"] = sample.path
    event["rawQueryString"] = urlencode(sample.query)
    headers = {"content-type": sample.content_type, "user-agent": "ZohoWebhook"}
    if sample.token_header:
        headers["x-sync-guard-token"] = TEST_SECRET
    event["headers"] = headers
    if sample.query:
        event["queryStringParameters"] = dict(sample.query)
    context = event["requestContext"]
    context["routeKey"] = route_key
    context["http"]["path"] = sample.path
    if sample.content_type == FORM:
        event["body"] = base64.b64encode(body.encode()).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = body
    return event


def sqs_event() -> dict[str, Any]:
    """An SQS event for the processor with two messages, as the ingest function queues them."""
    sys.path.insert(0, str(ROOT / "shared"))
    from datetime import UTC, datetime

    from sync_guard.ingest.messages import encode_message
    from sync_guard.zoho.payloads import parse_books_webhook, parse_crm_workflow

    received = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)
    crm = json.loads((PAYLOADS / "crm-workflow-account-create.json").read_text())
    books = json.loads((PAYLOADS / "books-create.json").read_text())
    events = [
        parse_crm_workflow(crm, received_at=received),
        parse_books_webhook(books, received_at=received, operation="create"),
    ]
    records = []
    for number, event in enumerate(events, start=1):
        records.append(
            {
                "messageId": f"0000000{number}-1111-2222-3333-444444444444",
                "receiptHandle": f"receipt-handle-{number}",
                "body": encode_message(event),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1772359205000",
                    "SenderId": "AROAEXAMPLE:ingest",
                    "ApproximateFirstReceiveTimestamp": "1772359205100",
                },
                "messageAttributes": {
                    "source": {"stringValue": event.source.value, "dataType": "String"},
                    "operation": {"stringValue": event.operation.value, "dataType": "String"},
                },
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:sync-guard-processing",
                "awsRegion": "eu-west-2",
            }
        )
    return {"Records": records}


def rendered() -> dict[Path, str]:
    """Every sample file's path and its content."""
    files = {EVENTS / f"{sample.name}.json": api_event(sample) for sample in SAMPLES}
    files[EVENTS / "sqs-processing-batch.json"] = sqs_event()
    return {path: json.dumps(document, indent=2) + "\n" for path, document in files.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed events differ")
    args = parser.parse_args()
    stale = []
    for path, content in rendered().items():
        if args.check:
            if not path.exists() or path.read_text() != content:
                stale.append(path.name)
        else:
            path.write_text(content)
    if stale:
        print(f"stale samples (run scripts/generate_events.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
