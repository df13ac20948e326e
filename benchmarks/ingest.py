"""Ingest handler cost: warm time per request against a bare baseline, and cold import time against boto3.

    .venv/bin/python benchmarks/ingest.py [--requests 150] [--rounds 2] [--imports 5]

Warm: the ingest Lambda handler (routing, auth, decoding, validation, conditional put, send, status update)
against a baseline doing the least any storage-first handler must do (``json.loads`` + one DynamoDB put + one
SQS send) with the very same boto3 clients. Both run in this process against moto's in-process AWS mock, so
the absolute numbers are moto's and much slower than real AWS per call; the ratio is the point. Handler and
baseline requests alternate so drift hits both alike; medians of per-request times are reported.

Cold: the import time of each handler module in a fresh interpreter (``import`` timed inside the child, so
interpreter start-up is excluded) against ``import boto3`` alone, median of several fresh processes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

SECRET = "benchmark-secret"  # noqa: S105 - a throwaway value for the mock
BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-2",
    "AWS_REGION": "eu-west-2",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "ZohoSyncGuardBenchmark",
    "POWERTOOLS_LOG_LEVEL": "INFO",  # as deployed: one INFO line per request (written to /dev/null here)
    "SYNC_GUARD_WEBHOOK_SECRET": SECRET,
}


class Context:
    function_name = "benchmark"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:benchmark"
    aws_request_id = "benchmark"


def _events(count: int, start: int = 0) -> list[dict[str, Any]]:
    """Distinct CRM workflow webhooks (a new ``modified`` each), so every request stores a new event."""
    template = json.loads((ROOT / "events" / "crm-workflow-create.json").read_text())
    template["headers"]["x-sync-guard-token"] = SECRET
    payload = json.loads(template["body"])
    events = []
    for number in range(start, start + count):
        event = json.loads(json.dumps(template))
        event["body"] = json.dumps({**payload, "modified": f"2026-03-01T10:00:00.{number:06d}+00:00"})
        events.append(event)
    return events


def _per_request(run: Any, items: list[Any]) -> list[float]:
    times = []
    for item in items:
        start = time.perf_counter()
        run(item)
        times.append(time.perf_counter() - start)
    return times


class _NullStore:
    def put_new(self, stored: Any) -> Any:
        from sync_guard.ingest import PutOutcome

        return PutOutcome(created=True)

    def mark_queued(self, event_id: str, at: Any) -> None:
        return None

    def mark_enqueue_failed(self, event_id: str, at: Any, reason: str) -> None:
        return None

    def put_new_many(self, stored: Any) -> list[Any]:
        return [self.put_new(item) for item in stored]

    def undated_identity(self, record_ref: str, content_id: str, *, new_id: str, expires_at: Any) -> str:
        return content_id

    def mark_queued_many(self, event_ids: Any, at: Any) -> None:
        return None


class _NullQueue:
    def send(self, event: Any) -> None:
        return None

    def send_many(self, events: Any) -> dict[str, str]:
        return {}


def warm(requests: int, rounds: int) -> tuple[float, float, float, float]:
    """Median seconds per request: handler, baseline, and both again without any AWS call."""
    import boto3
    from moto import mock_aws

    os.environ.update(BASE_ENV)
    with mock_aws():
        from sync_guard.local.template import create_tables

        dynamodb = boto3.client("dynamodb", region_name="eu-west-2")
        sqs = boto3.client("sqs", region_name="eu-west-2")
        os.environ.update(create_tables(dynamodb, f"bench{uuid.uuid4().hex[:6]}"))
        os.environ["SYNC_GUARD_QUEUE_URL"] = sqs.create_queue(QueueName="bench-queue")["QueueUrl"]

        from functions.ingest import app  # cold start happens here, inside the mock
        from sync_guard.config import get_settings
        from sync_guard.store.aws import client

        devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the benchmark
        app.logger.registered_handler.setStream(devnull)  # type: ignore[attr-defined]
        settings = get_settings()
        table_client, queue_client = client("dynamodb", settings), client("sqs", settings)

        def handler(event: dict[str, Any]) -> None:
            response = app.lambda_handler(event, Context())
            assert response["statusCode"] == 202, response

        def baseline(event: dict[str, Any]) -> None:
            body = json.loads(event["body"])
            event_id = f"{body['id']}:{body['modified']}"
            table_client.put_item(
                TableName=settings.events_table,
                Item={"pk": {"S": event_id}, "raw_body": {"S": event["body"]}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            queue_client.send_message(QueueUrl=settings.queue_url, MessageBody=event["body"])

        # Warm both paths (first calls build connection pools and caches), then measure them interleaved
        # request by request, so that the mock's growing tables and queue weigh on both alike.
        with contextlib.redirect_stdout(io.StringIO()):  # Powertools prints its EMF metrics to stdout
            _per_request(handler, _events(20, start=10**6))
            _per_request(baseline, _events(20, start=2 * 10**6))
            handler_times: list[float] = []
            baseline_times: list[float] = []
            for round_number in range(rounds):
                fresh = _events(requests, start=round_number * requests)  # new ids: no duplicate shortcut
                for event in fresh:
                    handler_times += _per_request(handler, [event])
                    baseline_times += _per_request(baseline, [event])
        # The guard's own code: the same handler with storage and queue that do nothing, against json.loads.
        from sync_guard.ingest import IngestService

        app.service = IngestService.from_settings(settings, _NullStore(), _NullQueue(), secret=lambda: SECRET)
        logic_times: list[float] = []
        parse_times: list[float] = []
        with contextlib.redirect_stdout(io.StringIO()):
            for event in _events(requests * rounds, start=10**7):
                logic_times += _per_request(handler, [event])
                parse_times += _per_request(lambda e: json.loads(e["body"]), [event])
        return (
            statistics.median(handler_times),
            statistics.median(baseline_times),
            statistics.median(logic_times),
            statistics.median(parse_times),
        )


def cold_import(module: str, repeats: int) -> float:
    """Median seconds to import ``module`` in a fresh interpreter."""
    code = f"import time; start = time.perf_counter(); import {module}; print(time.perf_counter() - start)"
    env = {**os.environ, **BASE_ENV, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "shared")])}
    samples = []
    for _ in range(repeats):
        output = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env
        ).stdout
        samples.append(float(output.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description="ingest handler benchmark")
    parser.add_argument("--requests", type=int, default=150, help="requests per round and path")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--imports", type=int, default=5, help="fresh processes per import measurement")
    args = parser.parse_args()

    started = time.perf_counter()
    handler_s, baseline_s, logic_s, parse_s = warm(args.requests, args.rounds)
    print("Warm time per request (AWS = moto, in-process mock; absolute numbers are moto's, not AWS's)")
    print(f"  requests measured         {args.requests * args.rounds} per path, {args.rounds} rounds")
    print(f"  ingest handler            {handler_s * 1000:8.3f} ms  (put + send + status update)")
    print(f"  baseline parse+put+send   {baseline_s * 1000:8.3f} ms")
    print(f"  ratio handler/baseline    {handler_s / baseline_s:8.2f} x  (3 AWS calls vs 2)")
    print("Warm time per request without AWS (store and queue replaced by no-ops)")
    print(
        f"  ingest handler            {logic_s * 1000:8.3f} ms  (routing, auth, decoding, validation, logs)"
    )
    print(f"  json.loads only           {parse_s * 1000:8.3f} ms")

    boto3_s = cold_import("boto3", args.imports)
    print(f"Cold import time (median of {args.imports} fresh processes, interpreter start excluded)")
    print(f"  import {'boto3':<25} {boto3_s * 1000:8.1f} ms")
    for module in ("functions.ingest.app", "functions.processor.app"):
        seconds = cold_import(module, args.imports)
        print(f"  import {module:<25} {seconds * 1000:8.1f} ms  ratio to boto3 {seconds / boto3_s:5.2f} x")
    print(f"(benchmark took {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
