"""The audit trail's IAM, enforced where the tests run.

The template grants the functions only a few actions on the audit table (its ``AuditAppendPolicy`` and
``AuditReadPolicy``), so that no function can update or delete an entry. DynamoDB Local and moto check no
IAM, so without this a code change that updated an entry would pass every test and fail with
AccessDenied on AWS. :func:`enforced` makes every DynamoDB call the guard's own code makes on an audit
table check its action against the template's grant; the tests' own inspection calls are left alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from sync_guard.local.template import load_template

AUDIT_TABLE_ARN = {"Fn::GetAtt": ["AuditTable", "Arn"]}
_GUARD_CODE = Path(__file__).resolve().parents[2] / "shared" / "sync_guard"
# The local stack's own tooling (creating tables, the demo's figures) stands in for CloudFormation and the
# AWS console, not for a function: its calls are not the functions' to make.
_LOCAL_TOOLING = str(_GUARD_CODE / "local")
# Item operations: the table's control plane (CreateTable, DescribeTable, ...) is the stack's, not the code's.
_ITEM_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem"}
    | {"TransactWriteItems", "TransactGetItems"}
)
_SDK_CODE = ("botocore", "boto3")
# A TransactWriteItems/TransactGetItems action is authorised as the item operation it makes.
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def granted_audit_actions(template: dict[str, Any] | None = None) -> frozenset[str]:
    """Every DynamoDB action the template's managed policies allow on the audit table."""
    template = template or load_template()
    actions: set[str] = set()
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow" and statement["Resource"] == AUDIT_TABLE_ARN:
                listed = statement["Action"]
                actions.update([listed] if isinstance(listed, str) else listed)
    return frozenset(action.removeprefix("dynamodb:") for action in actions)


def actions_on_tables(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(table, IAM action) for each table one DynamoDB call touches."""
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [
            (body["TableName"], _TRANSACT_ACTIONS[kind])
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [(table, operation) for table in params.get("RequestItems", {})]
    table = params.get("TableName")
    return [(table, operation)] if isinstance(table, str) else []


def _is_audit_table(table: str) -> bool:
    return table.endswith("-AuditTable") or table == os.environ.get("SYNC_GUARD_AUDIT_TABLE")


def _called_from_guard_code() -> bool:
    """True when the nearest caller outside the AWS SDK is the guard's own code (not a test's)."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not any(f"{os.sep}{package}{os.sep}" in filename for package in _SDK_CODE):
            return filename.startswith(str(_GUARD_CODE)) and not filename.startswith(_LOCAL_TOOLING)
        frame = frame.f_back  # type: ignore[assignment]
    return False


@contextmanager
def enforced() -> Iterator[frozenset[str]]:
    """Refuse, as AWS would, a call of the guard's code on an audit table that its IAM does not allow."""
    granted = granted_audit_actions()
    original = BaseClient._make_api_call

    def checked(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if (
            client.meta.service_model.service_name == "dynamodb"
            and operation in _ITEM_OPERATIONS
            and _called_from_guard_code()
        ):
            for table, action in actions_on_tables(operation, params):
                if _is_audit_table(table) and action not in granted:
                    raise AssertionError(
                        f"dynamodb:{action} on the audit table {table!r} would be AccessDenied on AWS: "
                        f"the template grants only {sorted(granted)} (AuditAppendPolicy, AuditReadPolicy)"
                    )
        return original(client, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", checked)
        yield granted
