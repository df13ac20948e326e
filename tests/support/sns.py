"""Reading back what reached the finance topic: an SQS queue subscribed to it (moto's or a real SNS)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.aws import AwsResources


def subscribe_queue(aws: AwsResources, name: str, filter_policy: dict[str, Any] | None = None) -> str:
    """An SQS queue subscribed to the finance topic (envelope delivery, so attributes can be read back)."""
    queue_url = aws.sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    aws.sns.subscribe(TopicArn=aws.topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    return queue_url


def received(aws: AwsResources, queue_url: str) -> list[dict[str, Any]]:
    """Every SNS envelope waiting in the queue."""
    envelopes: list[dict[str, Any]] = []
    while True:
        batch = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return envelopes
        for item in batch:
            envelopes.append(json.loads(item["Body"]))
            aws.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=item["ReceiptHandle"])
