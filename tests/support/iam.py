"""The functions' IAM on DynamoDB, enforced where the tests run.

DynamoDB Local and moto check no IAM, so a code change that made a call its function's role does not allow
would pass every test and fail with AccessDenied on AWS; one that updated an audit entry would go unseen.
:func:`enforced` wraps botocore's API call for the whole test session. For each DynamoDB item operation
that the guard's own code makes:

- when a Lambda handler (``functions/<dir>/<module>.py``) is on the stack, the action must be one the
  template grants that function on that table (SAM's policy templates expanded as SAM expands them, and
  the managed policies' statements);
- always, an action on the audit table must be one of the audit trail's grants (append and read).

Tables are known by their template logical id (the tests and the local stack name them
``<prefix>-<LogicalId>``) or by the ``SYNC_GUARD_*_TABLE`` variable that points at them. The tests' own
calls (setting up, inspecting) and the local stack's tooling (creating tables, the demo's figures) are
not the functions' to make and are left alone.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import samtranslator
from botocore.client import BaseClient

from sync_guard.local.stack import function_specs
from sync_guard.local.template import load_template, table_definitions

ROOT = Path(__file__).resolve().parents[2]
AUDIT_TABLE = "AuditTable"
_GUARD_CODE = str(ROOT / "shared" / "sync_guard")
_LOCAL_TOOLING = str(ROOT / "shared" / "sync_guard" / "local")
_FUNCTIONS = str(ROOT / "functions")
_SDK_CODE = tuple(f"{os.sep}{package}{os.sep}" for package in ("botocore", "boto3"))
# Item operations: the tables' control plane (CreateTable, DescribeTable, ...) is the stack's business.
_ITEM_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem"}
    | {"TransactWriteItems", "TransactGetItems"}
)
# A TransactWriteItems/TransactGetItems action is authorised as the item operation it makes.
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}

Grant = tuple[str, str]  # (DynamoDB action without its prefix, table logical id)


@cache
def _sam_policy_templates() -> dict[str, Any]:
    path = Path(samtranslator.__file__).parent / "policy_templates_data" / "policy_templates.json"
    return dict(json.loads(path.read_text())["Templates"])


def _dynamodb_actions(statement: dict[str, Any]) -> list[str]:
    listed = statement["Action"]
    actions = [listed] if isinstance(listed, str) else listed
    return [a.removeprefix("dynamodb:") for a in actions if a.startswith("dynamodb:")]


def _policy_grants(template: dict[str, Any], policy: Any) -> set[Grant]:
    """The DynamoDB grants of one entry of a function's ``Policies``."""
    if not isinstance(policy, dict):
        return set()
    if "Fn::If" in policy:  # either branch may be deployed
        _, when_true, when_false = policy["Fn::If"]
        return _policy_grants(template, when_true) | _policy_grants(template, when_false)
    if "Ref" in policy:  # a managed policy of the template
        resource = template["Resources"].get(policy["Ref"], {})
        if resource.get("Type") != "AWS::IAM::ManagedPolicy":
            return set()
        return {
            (action, statement["Resource"]["Fn::GetAtt"][0])
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Allow" and "Fn::GetAtt" in statement["Resource"]
            for action in _dynamodb_actions(statement)
        }
    grants: set[Grant] = set()
    for name, arguments in policy.items():
        table = (arguments or {}).get("TableName", {}).get("Ref") if isinstance(arguments, dict) else None
        if name in _sam_policy_templates() and table:
            for statement in _sam_policy_templates()[name]["Definition"]["Statement"]:
                grants |= {(action, table) for action in _dynamodb_actions(statement)}
    return grants


def function_grants(template: dict[str, Any] | None = None) -> dict[str, frozenset[Grant]]:
    """Every function's DynamoDB grants, by its logical id."""
    template = template or load_template()
    return {
        name: frozenset().union(*(_policy_grants(template, p) for p in resource["Properties"]["Policies"]))
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def granted_audit_actions(template: dict[str, Any] | None = None) -> frozenset[str]:
    """Every action any function may make on the audit table."""
    grants = function_grants(template).values()
    return frozenset(action for granted in grants for action, table in granted if table == AUDIT_TABLE)


def handler_files(template: dict[str, Any] | None = None) -> dict[str, str]:
    """``{handler module's file: function logical id}``, as the local stack loads them."""
    specs = function_specs(template or load_template(), ROOT)
    return {str(spec.handler_path): spec.logical_id for spec in specs}


def actions_on_tables(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(table name, IAM action) for each table one DynamoDB call touches."""
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


@cache
def _tables() -> tuple[tuple[str, str], ...]:
    return tuple((table.logical_id, table.env_var) for table in table_definitions())


def logical_table(name: str) -> str | None:
    """The template table a table name stands for, if it is one of them."""
    for logical_id, env_var in _tables():
        if name.endswith(f"-{logical_id}") or name == os.environ.get(env_var):
            return logical_id
    return None


def _caller(frame: FrameType | None, handlers: dict[str, str]) -> tuple[bool, str | None]:
    """Whether the nearest caller outside the AWS SDK is the guard's code, and which function runs it."""
    guard_code, function = False, None
    while frame is not None and any(sdk in frame.f_code.co_filename for sdk in _SDK_CODE):
        frame = frame.f_back
    if frame is not None:
        filename = frame.f_code.co_filename
        guard_code = filename.startswith(_GUARD_CODE) and not filename.startswith(_LOCAL_TOOLING)
    while guard_code and frame is not None:
        if frame.f_code.co_filename.startswith(_FUNCTIONS):
            function = handlers.get(frame.f_code.co_filename, function)
        frame = frame.f_back
    return guard_code, function


@contextmanager
def enforced(template: dict[str, Any] | None = None) -> Iterator[None]:
    """Refuse, as AWS would, a call of the guard's code that its function's IAM does not allow."""
    template = template or load_template()
    grants = function_grants(template)
    audit_actions = granted_audit_actions(template)
    handlers = handler_files(template)
    original = BaseClient._make_api_call

    def checked(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb" and operation in _ITEM_OPERATIONS:
            guard_code, function = _caller(sys._getframe(1), handlers)
            for name, action in actions_on_tables(operation, params) if guard_code else []:
                table = logical_table(name)
                if function is not None and table is not None and (action, table) not in grants[function]:
                    raise AssertionError(
                        f"{function} may not dynamodb:{action} on {table} ({name!r}): it would be "
                        "AccessDenied on AWS; grant it in template.yaml or make another call"
                    )
                if table == AUDIT_TABLE and action not in audit_actions:
                    raise AssertionError(
                        f"dynamodb:{action} on the audit table ({name!r}): the audit trail is append-only; "
                        f"its functions may only {sorted(audit_actions)}"
                    )
        return original(client, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", checked)
        yield
