"""The policies for people: what an operator or an auditor needs for the command line and the admin API,
nothing else, and the commands' AWS calls held to them (AWS would refuse what the tests let through)."""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner, Result

from sync_guard.cli import app
from sync_guard.cli.checks import ChecksTarget, run_checks
from sync_guard.config import get_settings
from sync_guard.local.template import load_template
from sync_guard.local.zoho_simulator import ZohoSimulator
from sync_guard.local.zoho_simulator.state import Source
from sync_guard.store.bulk import ShadowSeeder
from tests.support.aws import REGION, AwsResources
from tests.support.iam import (
    AUDITOR_POLICY,
    OPERATOR_POLICY,
    STACK,
    allows,
    enforced,
    granted_audit_actions,
    managed_policy_grants,
)
from tests.unit.guard.builders import crm_account, state

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
_IVY = ("--actor", "user:ivy")
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


def _actions(statement: dict[str, Any]) -> list[str]:
    listed = statement["Action"]
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


def _without(template: dict[str, Any], policy: str, sid: str, action: str) -> dict[str, Any]:
    """The template with ``action`` taken out of the statement ``sid`` of ``policy``."""
    changed = copy.deepcopy(template)
    for statement in _statements(changed, policy):
        if statement.get("Sid") == sid:
            listed = _actions(statement)
            assert action in listed, (sid, action)
            statement["Action"] = [a for a in listed if a != action]
            return changed
    raise AssertionError(f"{policy} has no statement {sid}")


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
    reads = {
        "cloudformation:DescribeStacks",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "execute-api:Invoke",
    }
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


@pytest.fixture
def held(aws: AwsResources) -> str:
    """A CRM account the guard knows, held by an operator (a hold and its audit entry)."""
    ShadowSeeder(aws.dynamodb, get_settings().shadow_table).load([state(crm_account("4242", "Acme Bakery"))])
    result = _invoke(["quarantines", "hold", "crm:4242", "--reason", "looks cloned", *_IVY])
    assert result.exit_code == 0, result.output
    return "crm:4242"


def _invoke(args: list[str]) -> Result:
    return runner.invoke(app, args, catch_exceptions=True)


def _refused(result: Result, policy: str) -> bool:
    return isinstance(result.exception, AssertionError) and policy in str(result.exception)


def test_the_read_only_commands_stay_within_the_auditor_policy(held: str) -> None:
    with enforced(people_policy=AUDITOR_POLICY):
        listed = _invoke(["quarantines", "list", "--json"])
        shown = _invoke(["show", "crm:4242", "--json"])
        trail = _invoke(["audit", "--record", "crm:4242", "--json"])
        export = _invoke(["audit", "--since", "7d", "--all", "--csv"])
        holding = _invoke(["quarantines", "hold", "crm:5151", "--actor", "user:finance"])

    assert [json.loads(line)["hold_id"] for line in listed.output.splitlines()] == ["crm:4242"]
    assert json.loads(shown.output)["name"] == "Acme Bakery", shown.output
    assert [e["actor"] for e in json.loads(trail.output)["entries"]] == ["user:ivy"]
    assert "looks cloned" in export.output
    # an auditor changes nothing: AWS would refuse the hold
    assert _refused(holding, AUDITOR_POLICY), holding.exception


@pytest.mark.parametrize(
    ("policy", "sid", "action", "args"),
    [
        (AUDITOR_POLICY, "ReadRecordsAndHolds", "dynamodb:Query", ["quarantines", "list"]),
        (AUDITOR_POLICY, "ReadRecordsAndHolds", "dynamodb:BatchGetItem", ["quarantines", "list"]),
        (AUDITOR_POLICY, "ReadRecordsAndHolds", "dynamodb:GetItem", ["show", "crm:4242"]),
        (AUDITOR_POLICY, "ReadTheAuditTrail", "dynamodb:Query", ["audit"]),
        (OPERATOR_POLICY, "Shadow", "dynamodb:Query", ["quarantines", "list"]),
        (OPERATOR_POLICY, "Shadow", "dynamodb:DeleteItem", ["quarantines", "release", "crm:4242", *_IVY]),
        (OPERATOR_POLICY, "Shadow", "dynamodb:Scan", ["rekey", *_IVY]),
        (OPERATOR_POLICY, "AuditTrail", "dynamodb:PutItem", ["quarantines", "hold", "crm:5151", *_IVY]),
        (OPERATOR_POLICY, "AuditTrail", "dynamodb:Query", ["audit"]),
    ],
)
def test_a_command_fails_as_on_aws_without_an_action_it_needs(
    held: str, template: dict[str, Any], policy: str, sid: str, action: str, args: list[str]
) -> None:
    people_policy = {"people_policy": policy}

    with enforced(_without(template, policy, sid, action), **people_policy):
        refused = _invoke(args)

    assert _refused(refused, policy), (refused.exception, refused.output)
    with enforced(template, **people_policy):  # the template's own policy lets it run
        ran = _invoke(args)
    assert ran.exit_code == 0, (ran.exception, ran.output)


def _stubbed_checks(monkeypatch: pytest.MonkeyPatch, function: str) -> tuple[ChecksTarget, Stubber]:
    client = boto3.client("lambda", region_name=REGION)
    stubber = Stubber(client)
    payload = json.dumps({"channel": {"status": "ok"}}).encode()
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(payload), len(payload))},
        {"FunctionName": function, "InvocationType": "RequestResponse", "Payload": ANY},
    )
    target = ChecksTarget(function, None, REGION, local=False)
    monkeypatch.setattr(ChecksTarget, "client", lambda _: client)
    # as --stack-name resolves it: the ZohoChecksFunctionName output
    monkeypatch.setenv("SYNC_GUARD_ZOHO_CHECKS_FUNCTION", function)
    return target, stubber


def test_running_the_checks_needs_the_operators_invoke(
    monkeypatch: pytest.MonkeyPatch, template: dict[str, Any]
) -> None:
    function = "prod-ZohoChecksFunction-Ab12Cd34"
    target, stubber = _stubbed_checks(monkeypatch, function)
    operator = managed_policy_grants(template, OPERATOR_POLICY)
    assert allows(operator, "lambda:InvokeFunction", "ZohoChecksFunction")

    without_invoke = _without(template, OPERATOR_POLICY, "RunTheChecks", "lambda:InvokeFunction")
    refused = f"{OPERATOR_POLICY} does not allow lambda:InvokeFunction"
    with stubber, enforced(without_invoke), pytest.raises(AssertionError, match=refused):
        run_checks(target, actor="user:ivy")
    with (
        stubber,
        enforced(template, people_policy=AUDITOR_POLICY),
        pytest.raises(AssertionError, match=AUDITOR_POLICY),
    ):
        run_checks(target, actor="user:finance")  # an auditor does not run the checks
    with stubber, enforced(template):
        assert run_checks(target, actor="user:ivy") == {"channel": {"status": "ok"}}


def test_reading_zoho_as_the_guard_needs_the_operators_grant_on_the_zoho_secret(
    aws: AwsResources, monkeypatch: pytest.MonkeyPatch, template: dict[str, Any]
) -> None:
    # preflight (and seed or match-report --from-zoho) reads Zoho with the stack's own credentials
    with ZohoSimulator(seed=7) as sim:
        sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)
        sim.state.books_create_contact({"contact_name": "Acme Limited"}, source=Source.ADMIN)
        credentials = {"client_id": sim.client_id, "client_secret": sim.client_secret}
        secret = json.dumps(credentials | {"refresh_token": sim.refresh_token})
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="sync-guard/zoho", SecretString=secret
        )
        for name, value in sim.settings_env().items():
            if name not in ("SYNC_GUARD_ZOHO_CLIENT_SECRET", "SYNC_GUARD_ZOHO_REFRESH_TOKEN"):
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("SYNC_GUARD_ZOHO_SECRET_NAME", "sync-guard/zoho")
        get_settings.cache_clear()
        args = ["preflight", "--dry-run", "--json"]

        without_secret = _without(
            template, OPERATOR_POLICY, "ZohoCredentials", "secretsmanager:GetSecretValue"
        )
        with enforced(without_secret):
            assert _refused(_invoke(args), OPERATOR_POLICY)
        with enforced(template, people_policy=AUDITOR_POLICY):
            assert _refused(_invoke(args), AUDITOR_POLICY)  # an auditor never holds Zoho's credentials
        with enforced(template):
            ran = _invoke(args)

    assert ran.exit_code == 0, (ran.exception, ran.output)
    assert len(json.loads(ran.output)["holds"]) == 1


# What docs/operations.md's table of the operator's grants calls each resource it names in its "On" column.
_DOCUMENTED_RESOURCES = {
    "the stack": STACK,
    "shadow table": "ShadowTable",
    "audit table": "AuditTable",
    "outbox table": "OutboxTable",
    "events table": "EventsTable",
    "outbox and processing queues": ("OutboxQueue", "ProcessingQueue"),
    "both dead-letter queues": ("ProcessingDeadLetterQueue", "OutboxDeadLetterQueue"),
    "the Zoho secret": "ZohoSecretName",
    "the checks function": "ZohoChecksFunction",
    "each admin API route": "AdminApi",
}


def _resource_name(resource: Any) -> str:
    """The logical id (or parameter) a statement's resource is built from."""
    if "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    if "Ref" in resource:
        return str(resource["Ref"])
    [name] = {n for n in re.findall(r"\$\{(\w+)\}", resource["Fn::Sub"]) if not n.startswith("AWS")}
    return name


def test_the_operator_grants_docs_operations_md_lists_are_the_policys(template: dict[str, Any]) -> None:
    # The table a deployer reads to know what attaching the operator policy hands out, and an IAM admin
    # checks before approving it: a grant added to (or taken from) the template alone would make it lie.
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    table = operations.split("What the operator policy grants", 1)[1].split("\n\n", 2)[1]
    documented: set[tuple[str, str]] = set()
    for row in table.splitlines()[2:]:
        grants, on = (cell.strip() for cell in row.strip("|").split("|")[:2])
        service = ""
        actions = []
        for action in re.findall(r"`([\w:-]+)`", grants.split("(and")[0]):  # "(and `kms:Decrypt` ...)"
            service, _, name = action.rpartition(":") if ":" in action else (service, ":", action)
            actions.append(f"{service}:{name}")
        named = _DOCUMENTED_RESOURCES[on]
        for resource in named if isinstance(named, tuple) else (named,):
            documented |= {(resource, action) for action in actions}
    granted = {
        (_resource_name(resource), action)
        for statement in _statements(template, OPERATOR_POLICY)
        if not str(statement["Action"]).startswith("kms:")  # on the key SecretsKmsKeyId names, if any
        for action in _actions(statement)
        for resource in _resources(statement)
    }
    assert documented == granted, (
        f"docs only: {sorted(documented - granted)}; template only: {sorted(granted - documented)}"
    )
