"""The policies for people: what an operator or an auditor needs for the command line and the admin API,
nothing else."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sync_guard.local.template import load_template
from tests.support.iam import (
    AUDITOR_POLICY,
    OPERATOR_POLICY,
    STACK,
    granted_audit_actions,
    managed_policy_grants,
)

PEOPLE_POLICIES = (OPERATOR_POLICY, AUDITOR_POLICY)
_ROUTE = re.compile(r"\$\{AdminApi\}/\$default/([A-Z]+)(/\S+)$")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _statements(template: dict[str, Any], policy: str) -> list[dict[str, Any]]:
    listed = template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]
    # a conditional statement: the branch that grants (the other is AWS::NoValue)
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in listed]


def _resources(statement: dict[str, Any]) -> list[Any]:
    listed = statement["Resource"]
    return listed if isinstance(listed, list) else [listed]


def _routes(template: dict[str, Any], policy: str) -> set[tuple[str, str]]:
    """(method, path) of each admin API route the policy lets a person call."""
    routes = set()
    for statement in _statements(template, policy):
        if statement["Action"] != "execute-api:Invoke":
            continue
        for resource in _resources(statement):
            route = _ROUTE.search(resource["Fn::Sub"])
            assert route, resource
            routes.add((route.group(1), route.group(2)))
    return routes


def test_each_people_policy_is_a_stack_output(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["GuardOperatorPolicyArn"]["Value"] == {"Ref": OPERATOR_POLICY}
    assert outputs["GuardAuditorPolicyArn"]["Value"] == {"Ref": AUDITOR_POLICY}


def test_the_people_policies_name_this_stacks_resources_without_wildcards(template: dict[str, Any]) -> None:
    for policy in PEOPLE_POLICIES:
        for statement in _statements(template, policy):
            for resource in _resources(statement):
                text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else resource
                assert isinstance(resource, dict), (policy, resource)  # never a literal ARN, never "*"
                # the one wildcard: a Secrets Manager ARN ends with six random characters
                assert "*" not in text.replace(":secret:${ZohoSecretName}-*", ""), (policy, text)
    assert ("cloudformation:DescribeStacks", STACK) in managed_policy_grants(template, AUDITOR_POLICY)


def test_no_function_role_uses_a_people_policy(template: dict[str, Any]) -> None:
    for resource in template["Resources"].values():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            assert not (isinstance(policy, dict) and policy.get("Ref") in PEOPLE_POLICIES)


def test_the_auditor_only_reads_and_the_operator_may_do_all_it_does(template: dict[str, Any]) -> None:
    auditor = managed_policy_grants(template, AUDITOR_POLICY)
    reads = {"cloudformation:DescribeStacks", "dynamodb:GetItem", "dynamodb:Query", "execute-api:Invoke"}
    assert {action for action, _ in auditor} <= reads
    assert auditor <= managed_policy_grants(template, OPERATOR_POLICY)
    # the auditor reads records, holds and the trail: not the events, the outbox, the queues or Zoho
    assert {target for _, target in auditor} == {STACK, "ShadowTable", "AuditTable", "AdminApi"}


def test_the_people_keep_the_audit_trail_append_only(template: dict[str, Any]) -> None:
    for policy in PEOPLE_POLICIES:
        on_audit = {a for a, target in managed_policy_grants(template, policy) if target == "AuditTable"}
        assert on_audit <= {f"dynamodb:{a}" for a in granted_audit_actions(template)}, policy


def test_the_auditor_may_call_the_admin_apis_get_routes_and_the_operator_every_route(
    template: dict[str, Any],
) -> None:
    events = template["Resources"]["AdminFunction"]["Properties"]["Events"].values()
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events if e["Type"] == "HttpApi"}
    assert _routes(template, OPERATOR_POLICY) == routes
    assert _routes(template, AUDITOR_POLICY) == {(method, path) for method, path in routes if method == "GET"}
