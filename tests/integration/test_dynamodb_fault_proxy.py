"""The proxy that fails DynamoDB calls for the random sequences: botocore reads its answers as DynamoDB's,
and retries those it retries against AWS (and only those)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from sync_guard.local.dynamodb import RunningServer
from tests.support.aws import provisioned
from tests.support.dynamodb_proxy import DynamoFaultConfig, DynamoFaultKind, DynamoFaultProxy
from tests.support.handlers import TEST_SECRET, FakeLambdaContext, fresh_module, sample_event

pytestmark = pytest.mark.integration

TABLE = "fault-proxy-items"


@pytest.fixture
def proxy(dynamodb_endpoint: RunningServer) -> Iterator[DynamoFaultProxy]:
    with DynamoFaultProxy() as proxy:
        proxy.front(dynamodb_endpoint.endpoint_url)
        yield proxy


def _client(url: str, *, attempts: int = 3, read_timeout: float = 5) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="eu-west-2",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(
            read_timeout=read_timeout,
            retries={"total_max_attempts": attempts, "mode": "standard"},
        ),
    )


@pytest.fixture
def table(dynamodb_endpoint: RunningServer) -> Iterator[str]:
    direct = _client(dynamodb_endpoint.endpoint_url)
    direct.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield TABLE
    direct.delete_table(TableName=TABLE)


def _put(pk: str) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {"pk": {"S": pk}}}}


def test_without_faults_every_call_is_passed_on(proxy: DynamoFaultProxy, table: str) -> None:
    client = _client(proxy.url)
    client.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    client.transact_write_items(TransactItems=[_put("b"), _put("c")])
    assert client.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}
    assert [(r.operation, r.fault) for r in proxy.requests] == [
        ("PutItem", None),
        ("TransactWriteItems", None),
        ("GetItem", None),
    ]


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        (DynamoFaultKind.THROUGHPUT_EXCEEDED, "ProvisionedThroughputExceededException", 400),
        (DynamoFaultKind.THROTTLING, "ThrottlingException", 400),
        (DynamoFaultKind.INTERNAL_ERROR, "InternalServerError", 500),
    ],
)
def test_throttling_and_server_errors_are_dynamodbs_and_botocore_retries_them(
    proxy: DynamoFaultProxy, table: str, kind: DynamoFaultKind, code: str, status: int
) -> None:
    # given every GetItem failing so
    proxy.configure(DynamoFaultConfig(rate=1.0, weights={kind: 1.0}, operations=frozenset({"GetItem"})))
    client = _client(proxy.url, attempts=2)
    # when a get is made: then botocore reads DynamoDB's error, after trying twice
    with pytest.raises(ClientError) as raised:
        client.get_item(TableName=table, Key={"pk": {"S": "a"}})
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert [r.fault for r in proxy.requests] == [kind, kind]
    # and another operation is passed on
    client.put_item(TableName=table, Item={"pk": {"S": "a"}})
    assert proxy.requests[-1].fault is None


def test_a_cancelled_transaction_names_a_reason_per_item_and_is_not_retried(
    proxy: DynamoFaultProxy, table: str
) -> None:
    proxy.configure(rate=1.0, weights={DynamoFaultKind.TRANSACTION_CANCELED: 1.0})
    client = _client(proxy.url, attempts=3)
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=[_put("a"), _put("b"), _put("c")])
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    codes = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert len(codes) == 3
    assert sorted(codes)[:2] == ["None", "None"]
    assert {c for c in codes if c != "None"} <= {"TransactionConflict", "ThrottlingError"}
    assert len(proxy.requests) == 1  # botocore does not retry it: the caller must
    # and nothing was written
    assert "Item" not in client.get_item(TableName=table, Key={"pk": {"S": "a"}})
    # a transaction is the only operation it is drawn for
    client.put_item(TableName=table, Item={"pk": {"S": "a"}})
    assert proxy.requests[-1].fault is None


@pytest.mark.parametrize("applied", [True, False])
def test_a_timed_out_request_is_retried_and_may_have_landed(
    proxy: DynamoFaultProxy, dynamodb_endpoint: RunningServer, table: str, applied: bool
) -> None:
    # given one request that gets no answer, passed on to the server first or not
    proxy.configure(
        rate=1.0,
        weights={DynamoFaultKind.TIMEOUT: 1.0},
        max_timeouts=1,
        timeout_applies_effect=applied,
        operations=frozenset({"UpdateItem"}),
    )
    client = _client(proxy.url, attempts=1, read_timeout=1)
    # when a counter is incremented, the client giving up after its read timeout
    increment = {
        "TableName": table,
        "Key": {"pk": {"S": "counter"}},
        "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    with pytest.raises(ReadTimeoutError):
        client.update_item(**increment)
    # then the write landed or not, and the next one is answered (the timeouts' budget is spent)
    client.update_item(**increment)
    item = _client(dynamodb_endpoint.endpoint_url).get_item(TableName=table, Key={"pk": {"S": "counter"}})
    assert item["Item"]["n"] == {"N": "2" if applied else "1"}
    assert [r.fault for r in proxy.requests] == [DynamoFaultKind.TIMEOUT, None]


def test_the_ingest_refuses_a_webhook_dynamodb_would_not_store_and_takes_it_when_sent_again(
    monkeypatch: pytest.MonkeyPatch,
    proxy: DynamoFaultProxy,
    dynamodb_endpoint: RunningServer,
    moto_endpoint: RunningServer,
) -> None:
    """What "acknowledged" means when the ingest's own write fails: a 5xx (Zoho's retry, or its list of
    failed webhooks, brings it again), never a 202 for an event the table does not hold."""
    with provisioned(
        monkeypatch, aws_endpoint_url=moto_endpoint.endpoint_url, dynamodb_endpoint_url=proxy.url
    ) as resources:
        monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
        app = fresh_module("functions.ingest.app")
        # given every write to DynamoDB failing, whatever botocore's retries
        writes = frozenset({"PutItem", "TransactWriteItems", "UpdateItem"})
        proxy.configure(rate=1.0, weights={DynamoFaultKind.INTERNAL_ERROR: 1.0}, operations=writes)
        # when Books posts a webhook: then it is refused with a 5xx, and nothing is stored or queued
        refused = app.lambda_handler(sample_event("books-edit"), FakeLambdaContext())
        assert refused["statusCode"] == 503
        table = resources.environment["SYNC_GUARD_EVENTS_TABLE"]
        direct = _client(dynamodb_endpoint.endpoint_url)
        assert direct.scan(TableName=table)["Items"] == []
        assert resources.queued_messages() == []
        # and when DynamoDB answers again and Books sends it again, it is stored, queued and acknowledged
        proxy.disable()
        taken = app.lambda_handler(sample_event("books-edit"), FakeLambdaContext())
        assert taken["statusCode"] == 202
        [event_id] = json.loads(taken["body"])["event_ids"]
        assert (
            direct.get_item(TableName=table, Key={"pk": {"S": event_id}})["Item"]["status"]["S"] == "queued"
        )
        assert [json.loads(m["Body"])["event_id"] for m in resources.queued_messages()] == [event_id]
