"""The audit trail is append-only in IAM: no function may update, delete or batch-write its entries."""

from __future__ import annotations

from typing import Any

import pytest

from sync_guard.local.template import load_template
from tests.support.audit_iam import actions_on_tables, granted_audit_actions


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
