"""The drain's SQS client: concurrent deletes on moto's queues must not put messages back."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from tests.support.outbox import SerialSqs


@contextmanager
def busy_threads() -> Iterator[None]:
    """Threads switch as often as CPython allows, so that a race shows on every run."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def test_concurrent_deletes_leave_no_message_in_flight() -> None:
    with mock_aws():
        raw = boto3.client("sqs", region_name="eu-west-2")
        url = raw.create_queue(QueueName="outbox", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        for start in range(0, 200, 10):
            raw.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(start + i)} for i in range(10)]
            )
        batches: list[list[dict[str, Any]]] = []
        while received := raw.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            batches.append(received)
        assert sum(map(len, batches)) == 200
        sqs = SerialSqs.around(raw)

        def delete(mine: list[list[dict[str, Any]]]) -> None:
            for batch in mine:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)

        threads = [threading.Thread(target=delete, args=(batches[k::8],)) for k in range(8)]
        with busy_threads():
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        attributes = raw.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
