"""The functions' IAM: the audit trail append-only, each function's queues, topic and secrets its own, and
all of it enforced on the servers the tests use."""

from __future__ import annotations

import copy
import os
from typing import Any

import boto3
import pytest

from sync_guard.local.template import load_template
from tests.support.aws import AwsResources
from tests.support.handlers import TEST_SECRET, FakeLambdaContext, fresh_module, sample_event
from tests.support.iam import (
    actions_on_resources,
    actions_on_tables,
    allows,
    enforced,
    function_grants,
    granted_audit_actions,
    referenced,
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_the_audit_table_grants_only_appending_and_reading(template: dict[str, Any]) -> None:
    assert granted_audit_actions(template) == {"PutItem", "GetItem", "BatchGetItem", "Query"}


def test_no_function_reaches_the_audit_table_by_a_broader_policy(template: dict[str, Any]) -> None:
    # SAM's DynamoDB policy templates all include UpdateItem or BatchWriteItem (or Scan): only the two
    # managed policies may name the audit table.
    users = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies", []):
            assert {"TableName": {"Ref": "AuditTable"}} not in policy.values(), (name, policy)
            if policy.get("Ref") in ("AuditAppendPolicy", "AuditReadPolicy"):
                users.setdefault(policy["Ref"], set()).add(name)
    assert users == {
        "AuditAppendPolicy": {"ProcessorFunction", "OutboxFunction", "AdminFunction", "ZohoChecksFunction"},
        # the checks only append (a stalled sync's entry): they never read the trail
        "AuditReadPolicy": {"ProcessorFunction", "OutboxFunction", "AdminFunction"},
    }


def test_a_transaction_is_authorised_as_each_item_operation_it_makes() -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "a-AuditTable", "Item": {}}},
            {"Update": {"TableName": "a-ShadowTable", "Key": {}}},
            {"ConditionCheck": {"TableName": "a-ShadowTable", "Key": {}}},
        ]
    }
    assert actions_on_tables("TransactWriteItems", params) == [
        ("a-AuditTable", "PutItem"),
        ("a-ShadowTable", "UpdateItem"),
        ("a-ShadowTable", "ConditionCheckItem"),
    ]
    batch = {"RequestItems": {"a-AuditTable": [{"DeleteRequest": {"Key": {}}}]}}
    assert actions_on_tables("BatchWriteItem", batch) == [("a-AuditTable", "BatchWriteItem")]
    assert actions_on_tables("Query", {"TableName": "a-AuditTable"}) == [("a-AuditTable", "Query")]


def test_a_handler_call_its_role_does_not_allow_fails_as_on_aws(
    aws: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the servers the tests use check no IAM: the session's enforcement refuses the call as AWS would
    template = copy.deepcopy(load_template())
    ingest = template["Resources"]["IngestFunction"]["Properties"]
    ingest["Policies"] = [p for p in ingest["Policies"] if "DynamoDBWritePolicy" not in p]
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    app = fresh_module("functions.ingest.app")
    event = sample_event("books-create")

    with enforced(template):  # the role without its write policy: AccessDenied, as on AWS
        assert app.lambda_handler(event, FakeLambdaContext())["statusCode"] == 503
    assert app.lambda_handler(event, FakeLambdaContext())["statusCode"] == 202  # the template's own role


def test_a_call_is_authorised_as_the_iam_action_it_needs() -> None:
    # SQS authorises a batch as the operation it repeats; Lambda's Invoke is lambda:InvokeFunction
    for operation, action in [
        ("SendMessageBatch", "sqs:SendMessage"),
        ("DeleteMessageBatch", "sqs:DeleteMessage"),
        ("ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility"),
        ("ReceiveMessage", "sqs:ReceiveMessage"),
    ]:
        assert actions_on_resources("sqs", operation, {"QueueUrl": "u"}) == [("u", action)]
    invoke = actions_on_resources("lambda", "Invoke", {"FunctionName": "f"})
    assert invoke == [("f", "lambda:InvokeFunction")]
    assert actions_on_resources("cloudformation", "DescribeStacks", {"StackName": "sync-guard"}) == [
        ("sync-guard", "cloudformation:DescribeStacks")
    ]


def _without(template: dict[str, Any], function: str, policy: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    properties = changed["Resources"][function]["Properties"]
    properties["Policies"] = [p for p in properties["Policies"] if policy not in p]
    return changed


def test_a_policy_is_granted_on_what_its_arguments_name() -> None:
    assert referenced({"Fn::GetAtt": ["OutboxQueue", "QueueName"]}) == {"OutboxQueue"}
    # a secret's ARN is built from the parameter holding its name; AWS's pseudo parameters name nothing
    arn = {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:secret:${ZohoSecretName}-*"}
    assert referenced(arn) == {"ZohoSecretName"}
    assert referenced({"Fn::If": ["Cond", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]}) == {"A", "AWS::NoValue"}


def test_each_function_sends_publishes_and_reads_secrets_only_where_its_work_is(
    template: dict[str, Any],
) -> None:
    def reach(action: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for function, grants in function_grants(template).items():
            for target in {target for _, target in grants}:
                if allows(grants, action, target):
                    found.setdefault(target, set()).add(function)
        return found

    assert reach("sqs:SendMessageBatch") == {
        "ProcessingQueue": {"IngestFunction", "SweepFunction", "ZohoChecksFunction"},
        "OutboxQueue": {"ProcessorFunction", "SweepFunction", "AdminFunction"},
    }
    assert reach("sqs:ReceiveMessage") == {}  # the event sources' polling is the Lambda service's
    assert reach("sns:Publish") == {"FinanceTopic": {"OutboxFunction", "ZohoChecksFunction"}}
    assert reach("secretsmanager:GetSecretValue") == {
        "WebhookSecretName": {"IngestFunction", "ZohoChecksFunction"},
        "ZohoSecretName": {"ProcessorFunction", "OutboxFunction", "ZohoChecksFunction"},
    }


def test_a_send_to_a_queue_the_role_does_not_allow_is_refused(
    aws: AwsResources, monkeypatch: pytest.MonkeyPatch, template: dict[str, Any]
) -> None:
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    app = fresh_module("functions.ingest.app")

    def queued() -> int:
        answer = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)
        return len(answer.get("Messages", []))

    with enforced(_without(template, "IngestFunction", "SQSSendMessagePolicy")):
        # stored and acknowledged (the sweep queues what SQS did not take), but nothing reached the queue
        assert app.lambda_handler(sample_event("books-create"), FakeLambdaContext())["statusCode"] == 202
    assert queued() == 0
    assert app.lambda_handler(sample_event("books-edit"), FakeLambdaContext())["statusCode"] == 202
    assert queued() == 1


def test_a_secret_the_role_may_not_read_fails_the_request_as_on_aws(
    aws: AwsResources, monkeypatch: pytest.MonkeyPatch, template: dict[str, Any]
) -> None:
    secrets = boto3.client("secretsmanager", region_name=os.environ["AWS_DEFAULT_REGION"])
    secrets.create_secret(Name="sync-guard-webhook", SecretString=TEST_SECRET)
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET_NAME", "sync-guard-webhook")
    app = fresh_module("functions.ingest.app")
    event = sample_event("books-create")

    with enforced(_without(template, "IngestFunction", "AWSSecretsManagerGetSecretValuePolicy")):
        assert app.lambda_handler(event, FakeLambdaContext())["statusCode"] == 500
    assert app.lambda_handler(event, FakeLambdaContext())["statusCode"] == 202


def test_the_functions_that_read_secrets_may_decrypt_them_with_a_customer_managed_key(
    template: dict[str, Any],
) -> None:
    grants = function_grants(template)
    readers = {
        function
        for function, granted in grants.items()
        if any(action in ("secretsmanager:GetSecretValue", "ssm:GetParameter") for action, _ in granted)
    }
    decrypting = {
        function for function, granted in grants.items() if ("kms:Decrypt", "SecretsKmsKeyId") in granted
    }
    assert (
        readers
        == decrypting
        == {"IngestFunction", "ProcessorFunction", "OutboxFunction", "ZohoChecksFunction"}
    )
    # only when a key is given: AWS's own keys need no grant, and an empty key id would grant "key/"
    for function in decrypting:
        policies = template["Resources"][function]["Properties"]["Policies"]
        assert {
            "Fn::If": [
                "HasSecretsKmsKey",
                {"KMSDecryptPolicy": {"KeyId": {"Ref": "SecretsKmsKeyId"}}},
                {"Ref": "AWS::NoValue"},
            ]
        } in policies
