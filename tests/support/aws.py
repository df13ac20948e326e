"""Test wiring for AWS: tables, queues and topics built from template.yaml, on moto or real servers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from sync_guard.config import get_settings
from sync_guard.local.template import create_tables
from sync_guard.store.aws import reset_clients

REGION = "eu-west-2"
MAX_VISIBILITY_SECONDS = 12 * 60 * 60


@dataclass
class AwsResources:
    """What a test gets: clients and the names/urls the guard's Settings point at."""

    environment: dict[str, str]
    dynamodb: Any
    sqs: Any
    sns: Any
    queue_url: str
    dlq_url: str
    topic_arn: str

    def queued_messages(self) -> list[dict[str, Any]]:
        """Every message waiting on the processing queue, each once.

        What is received stays out of sight for SQS's longest visibility timeout (12 hours), so a slow
        machine draining hundreds of messages never sees the first ones come back.
        """
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=MAX_VISIBILITY_SECONDS
        ).get("Messages"):
            messages.extend(batch)
        return messages


def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)


@contextmanager
def provisioned(
    monkeypatch: pytest.MonkeyPatch,
    *,
    aws_endpoint_url: str | None = None,
    dynamodb_endpoint_url: str | None = None,
    prefix: str | None = None,
) -> Iterator[AwsResources]:
    """Create the template's tables, the processing queue (with its DLQ) and the finance topic.

    Without endpoints the caller is inside moto's ``mock_aws``; with them, everything is created over HTTP
    (DynamoDB on ``dynamodb_endpoint_url`` when given, the rest on ``aws_endpoint_url``). The environment is
    set so that ``get_settings()`` and ``sync_guard.store.aws.client`` see exactly these resources.
    """
    prefix = prefix or f"t{uuid.uuid4().hex[:8]}"
    dynamodb_endpoint_url = dynamodb_endpoint_url or aws_endpoint_url
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=dynamodb_endpoint_url)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=aws_endpoint_url)
    sns = boto3.client("sns", region_name=REGION, endpoint_url=aws_endpoint_url)
    environment = create_tables(dynamodb, prefix)
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    queue_url = sqs.create_queue(QueueName=f"{prefix}-queue", Attributes={"RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    topic_arn = sns.create_topic(Name=f"{prefix}-finance")["TopicArn"]
    environment |= {
        "SYNC_GUARD_QUEUE_URL": queue_url,
        "SYNC_GUARD_DLQ_URL": dlq_url,
        "SYNC_GUARD_FINANCE_TOPIC_ARN": topic_arn,
    }
    if aws_endpoint_url:
        environment["SYNC_GUARD_AWS_ENDPOINT_URL"] = aws_endpoint_url
    if dynamodb_endpoint_url:
        environment["SYNC_GUARD_DYNAMODB_ENDPOINT_URL"] = dynamodb_endpoint_url
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    reset_clients()
    try:
        yield AwsResources(environment, dynamodb, sqs, sns, queue_url, dlq_url, topic_arn)
    finally:
        get_settings.cache_clear()
        reset_clients()
