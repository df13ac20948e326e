"""The functions' DynamoDB IAM: the audit trail append-only, and enforced on the servers the tests use."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sync_guard.local.template import load_template
from tests.support.aws import AwsResources
from tests.support.handlers import TEST_SECRET, FakeLambdaContext, fresh_module, sample_event
from tests.support.iam import actions_on_tables, enforced, granted_audit_actions


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
