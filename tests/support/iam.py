"""The functions' IAM, enforced where the tests run.

DynamoDB Local, moto and the local stack check no IAM, so a code change that made a call its function's
role does not allow would pass every test and fail with AccessDenied on AWS; one that updated an audit
entry would go unseen. :func:`enforced` wraps botocore's API call for the whole test session. For each
call that the guard's own code makes on a resource of the template (a DynamoDB item operation, any SQS
call, an SNS publish, a Secrets Manager or SSM Parameter Store read):

- when a Lambda handler (``functions/<dir>/<module>.py``) is on the stack, the action must be one the
  template grants that function on that resource (SAM's policy templates expanded as SAM expands them,
  and the managed policies' statements);
- when the operator's command line (``shared/sync_guard/cli``, and the guard's code it calls) makes it, the
  action must be one of the people's policy in force: ``GuardOperatorPolicy`` unless a test holds the
  commands to another (``enforced(people_policy="GuardAuditorPolicy")``). Its calls on the stack itself
  (CloudFormation's ``DescribeStacks``) and on the checks function (Lambda's ``Invoke``) are checked too;
- always, an action on the audit table must be one of the audit trail's grants (append and read).

A resource is known by its template logical id (the tests and the local stack name theirs
``<prefix>-<LogicalId>``) or by the environment variable the template points at it (``SYNC_GUARD_QUEUE_URL:
!Ref ProcessingQueue``; a secret's name variable at the parameter its policy's ARN is built from). The
tests' own calls (setting up, inspecting) and the local stack's tooling (creating tables, the demo's
figures, ``serve`` and ``demo``) are not the functions' nor the operators' to make and are left alone.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import samtranslator
from botocore.client import BaseClient

from sync_guard.cli._context import _STACK_OUTPUTS
from sync_guard.local.stack import function_specs
from sync_guard.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
AUDIT_TABLE = "AuditTable"
# The managed policies the stack offers for people (its outputs say which ARN to attach).
OPERATOR_POLICY = "GuardOperatorPolicy"
AUDITOR_POLICY = "GuardAuditorPolicy"
# What a CloudFormation call acts on: the command line only ever reads the stack it is pointed at.
STACK = "AWS::StackId"
_GUARD_CODE = str(ROOT / "shared" / "sync_guard")
_LOCAL_TOOLING = str(ROOT / "shared" / "sync_guard" / "local")
_FUNCTIONS = str(ROOT / "functions")
_CLI = str(ROOT / "shared" / "sync_guard" / "cli")
# The commands that run the local stack, not a deployed one: nobody needs IAM for them.
_LOCAL_COMMANDS = tuple(os.path.join(_CLI, name) for name in ("serve.py", "demo.py"))
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
# The parameter naming the resource a call acts on, by service (DynamoDB's are read per operation).
_RESOURCE_PARAMETERS = {
    "sqs": ("QueueUrl",),
    "sns": ("TopicArn",),
    "secretsmanager": ("SecretId",),
    "ssm": ("Name", "Names"),
    "lambda": ("FunctionName",),
    "cloudformation": ("StackName",),
}
# The IAM action of an API operation, where the two are named differently (SQS authorises a batch as the
# operation it repeats).
_IAM_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "lambda:Invoke": "lambda:InvokeFunction",
}
_SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}")

# (IAM action as the policy writes it, e.g. "dynamodb:PutItem" or "sqs:SendMessage*"; the template
# resource or parameter it is granted on)
Grant = tuple[str, str]


@cache
def _sam_policy_templates() -> dict[str, Any]:
    path = Path(samtranslator.__file__).parent / "policy_templates_data" / "policy_templates.json"
    return dict(json.loads(path.read_text())["Templates"])


def referenced(value: Any) -> set[str]:
    """The template resources and parameters an intrinsic names (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``)."""
    if isinstance(value, list):
        return set().union(*(referenced(v) for v in value))
    if not isinstance(value, dict):
        return set()
    if "Ref" in value:
        return {value["Ref"]}
    if "Fn::GetAtt" in value:
        return {value["Fn::GetAtt"][0]}
    if "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return {name for name in _SUB_REFERENCE.findall(text) if "::" not in name}
    if "Fn::If" in value:  # either branch may be deployed
        return referenced(value["Fn::If"][1:])
    return set().union(*(referenced(v) for v in value.values()))


def _actions(statement: dict[str, Any]) -> list[str]:
    listed = statement["Action"]
    return [listed] if isinstance(listed, str) else list(listed)


def _policy_grants(template: dict[str, Any], policy: Any) -> set[Grant]:
    """The grants of one entry of a function's ``Policies``."""
    if not isinstance(policy, dict):
        return set()
    if "Fn::If" in policy:  # either branch may be deployed
        _, when_true, when_false = policy["Fn::If"]
        return _policy_grants(template, when_true) | _policy_grants(template, when_false)
    if "Ref" in policy:  # a managed policy of the template
        return managed_policy_grants(template, policy["Ref"])
    grants: set[Grant] = set()
    for name, arguments in policy.items():
        if name not in _sam_policy_templates() or not isinstance(arguments, dict):
            continue
        targets = referenced(arguments)
        for statement in _sam_policy_templates()[name]["Definition"]["Statement"]:
            grants |= {(action, target) for action in _actions(statement) for target in targets}
    return grants


def _statements(statement: Any) -> list[dict[str, Any]]:
    """A policy's statement, or both branches of a conditional one (either may be deployed)."""
    if isinstance(statement, dict) and "Fn::If" in statement:
        return [s for branch in statement["Fn::If"][1:] for s in _statements(branch)]
    return [statement] if isinstance(statement, dict) and "Effect" in statement else []


def managed_policy_grants(template: dict[str, Any], logical_id: str) -> frozenset[Grant]:
    """The grants of the template's managed policy ``logical_id`` (none if it is not one)."""
    resource = template["Resources"].get(logical_id, {})
    if resource.get("Type") != "AWS::IAM::ManagedPolicy":
        return frozenset()
    return frozenset(
        (action, target)
        for listed in resource["Properties"]["PolicyDocument"]["Statement"]
        for statement in _statements(listed)
        if statement["Effect"] == "Allow"
        for action in _actions(statement)
        for target in referenced(statement["Resource"])
    )


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def function_grants(template: dict[str, Any] | None = None) -> dict[str, frozenset[Grant]]:
    """Every function's grants, by its logical id."""
    template = template or load_template()
    return {
        name: frozenset().union(*(_policy_grants(template, p) for p in properties["Policies"]))
        for name, properties in _functions(template).items()
    }


def allows(grants: frozenset[Grant], action: str, target: str) -> bool:
    """Whether the grants allow ``action`` (``service:Operation``) on the resource ``target``."""
    return any(on == target and fnmatchcase(action, granted) for granted, on in grants)


def granted_audit_actions(template: dict[str, Any] | None = None) -> frozenset[str]:
    """Every DynamoDB action any function may make on the audit table (without the ``dynamodb:``)."""
    grants = function_grants(template).values()
    return frozenset(
        action.removeprefix("dynamodb:")
        for granted in grants
        for action, target in granted
        if target == AUDIT_TABLE and action.startswith("dynamodb:")
    )


def environment_bindings(template: dict[str, Any] | None = None) -> dict[str, frozenset[str]]:
    """``{environment variable: the template resources or parameters it is set from}``."""
    template = template or load_template()
    variables = [template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})]
    variables += [p.get("Environment", {}).get("Variables", {}) for p in _functions(template).values()]
    # The command line's settings come from the stack's outputs (``--stack-name``): each output's variable
    # names what the output is.
    outputs = template.get("Outputs", {})
    variables.append(
        {
            f"SYNC_GUARD_{field.upper()}": outputs[output]["Value"]
            for output, field in _STACK_OUTPUTS.items()
            if output in outputs
        }
    )
    bindings: dict[str, set[str]] = {}
    for values in variables:
        for variable, value in values.items():
            bindings.setdefault(variable, set()).update(referenced(value))
    return {variable: frozenset(targets) for variable, targets in bindings.items() if targets}


def handler_files(template: dict[str, Any] | None = None) -> dict[str, str]:
    """``{handler module's file: function logical id}``, as the local stack loads them."""
    specs = function_specs(template or load_template(), ROOT)
    return {str(spec.handler_path): spec.logical_id for spec in specs}


def actions_on_tables(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(table name, IAM action without ``dynamodb:``) for each table one DynamoDB call touches."""
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


def actions_on_resources(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(resource as the call names it, IAM action) for each resource one call acts on; [] if not checked."""
    if service == "dynamodb":
        if operation not in _ITEM_OPERATIONS:
            return []
        return [(name, f"dynamodb:{action}") for name, action in actions_on_tables(operation, params)]
    named: list[str] = []
    for parameter in _RESOURCE_PARAMETERS.get(service, ()):
        value = params.get(parameter)
        named.extend([value] if isinstance(value, str) else value if isinstance(value, list) else [])
    action = f"{service}:{operation}"
    return [(name, _IAM_ACTIONS.get(action, action)) for name in named]


def resource_targets(name: str, resources: frozenset[str], bindings: dict[str, frozenset[str]]) -> set[str]:
    """Which of ``resources`` (logical ids, and parameters grants are built from) a table name, queue URL,
    topic ARN, secret id or parameter name stands for."""
    last = re.split(r"[/:]", name)[-1]
    # ``<prefix>-<LogicalId>``, or the logical id itself (the local stack's functions)
    targets = {
        logical_id for logical_id in resources if last == logical_id or last.endswith(f"-{logical_id}")
    }
    for variable, bound in bindings.items():
        if os.environ.get(variable) == name:
            targets |= bound & resources
    return targets


def _caller(frame: FrameType | None, handlers: dict[str, str]) -> tuple[bool, str | None, bool]:
    """Whether the nearest caller outside the AWS SDK is the guard's code, which function runs it, and
    whether a command of the operator's command line does (a function's handler, if any, runs it)."""
    guard_code, function, command, local_command = False, None, False, False
    while frame is not None and any(sdk in frame.f_code.co_filename for sdk in _SDK_CODE):
        frame = frame.f_back
    if frame is not None:
        filename = frame.f_code.co_filename
        guard_code = filename.startswith(_GUARD_CODE) and not filename.startswith(_LOCAL_TOOLING)
    while guard_code and frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_FUNCTIONS):
            function = handlers.get(filename, function)
        command = command or filename.startswith(_CLI)
        local_command = local_command or filename.startswith(_LOCAL_COMMANDS)
        frame = frame.f_back
    return guard_code, function, command and not local_command and function is None


@contextmanager
def enforced(
    template: dict[str, Any] | None = None, *, people_policy: str = OPERATOR_POLICY
) -> Iterator[list[str]]:
    """Refuse, as AWS would, a call of the guard's code that its function's IAM does not allow, or, made by
    a command of the command line, that the people's managed policy ``people_policy`` does not.

    Yields the refusals made so far: code that catches every error (an enqueue that logs and goes on)
    would otherwise hide one from the test that caused it, as it would hide AccessDenied on AWS."""
    template = template or load_template()
    grants = function_grants(template)
    command_grants = managed_policy_grants(template, people_policy)
    audit_actions = {f"dynamodb:{action}" for action in granted_audit_actions(template)}
    bindings = environment_bindings(template)
    # What a call can be checked against: the template's resources, and the parameters that name a
    # secret or an SSM parameter in a grant (not, say, the mode's, however its value reads).
    resources = (
        frozenset(template["Resources"])
        | {t for granted in grants.values() for _, t in granted}
        | {t for _, t in command_grants}
    )
    handlers = handler_files(template)
    original = BaseClient._make_api_call
    refused: list[str] = []

    def refuse(message: str) -> None:
        refused.append(message)
        raise AssertionError(message)

    def targets(service: str, name: str) -> set[str]:
        return {STACK} if service == "cloudformation" else resource_targets(name, resources, bindings)

    def checked(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        acted_on = actions_on_resources(service, operation, params)
        guard_code, function, command = (
            _caller(sys._getframe(1), handlers) if acted_on else (False, None, False)
        )
        for name, action in acted_on if guard_code else []:
            for target in targets(service, name):
                if function is not None and not allows(grants[function], action, target):
                    refuse(
                        f"{function} may not {action} on {target} ({name!r}): it would be "
                        "AccessDenied on AWS; grant it in template.yaml or make another call"
                    )
                if command and not allows(command_grants, action, target):
                    refuse(
                        f"{people_policy} does not allow {action} on {target} ({name!r}): a person with "
                        "it would get AccessDenied on AWS; grant it in template.yaml or make another call"
                    )
                if target == AUDIT_TABLE and action not in audit_actions:
                    refuse(
                        f"{action} on the audit table ({name!r}): the audit trail is append-only; "
                        f"its functions may only {sorted(audit_actions)}"
                    )
        return original(client, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", checked)
        yield refused
