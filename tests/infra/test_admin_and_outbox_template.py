"""The template's admin API and outbox executor: IAM-only admin access, least privilege, DLQ, alarms, logs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sync_guard.local.template import load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _function_events(template: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(template["Resources"][name]["Properties"]["Events"])


def test_the_admin_api_requires_iam_signed_requests(template: dict[str, Any]) -> None:
    auth = template["Resources"]["AdminApi"]["Properties"]["Auth"]
    assert auth["EnableIamAuthorizer"] is True
    assert auth["DefaultAuthorizer"] == "AWS_IAM"
    # every admin route is on the admin API (none on the public webhook API), and none opts out of IAM
    for event in _function_events(template, "AdminFunction").values():
        assert event["Type"] == "HttpApi"
        assert event["Properties"]["ApiId"] == {"Ref": "AdminApi"}
        assert "Auth" not in event["Properties"]
        assert event["Properties"]["Path"].startswith("/admin/")


def test_every_route_of_the_admin_handler_is_on_the_admin_api_and_no_other(template: dict[str, Any]) -> None:
    # A route the handler serves but the template does not declare is never reached on AWS.
    source = (Path(__file__).resolve().parents[2] / "functions" / "admin" / "app.py").read_text()
    served = set(re.findall(r'@_route\("([A-Z]+)", "([^"]+)"\)', source))
    # every route is declared through _route, which also tells the handler's 405s from its 404s
    assert not re.search(r"@app\.(get|post|put|patch|delete|route)\(", source)
    declared = {
        (event["Properties"]["Method"], event["Properties"]["Path"])
        for event in _function_events(template, "AdminFunction").values()
    }
    assert ("POST", "/admin/quarantines/hold") in served
    assert declared == served


def test_the_webhook_api_has_no_admin_route(template: dict[str, Any]) -> None:
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function" or name == "AdminFunction":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "HttpApi":
                assert not event["Properties"]["Path"].startswith("/admin")


def _policy_targets(template: dict[str, Any], function: str) -> list[tuple[str, Any]]:
    return [
        (kind, value)
        for policy in template["Resources"][function]["Properties"]["Policies"]
        for kind, value in policy.items()
    ]


def test_admin_and_outbox_functions_have_least_privilege(template: dict[str, Any]) -> None:
    admin = _policy_targets(template, "AdminFunction")
    assert {k for k, _ in admin} == {"DynamoDBCrudPolicy", "SQSSendMessagePolicy", "Ref"}
    assert {v for k, v in admin if k == "Ref"} == {"AuditAppendPolicy", "AuditReadPolicy"}
    # the admin function never reads secrets, never talks to Zoho, never touches the raw events
    assert {"TableName": {"Ref": "EventsTable"}} not in [v for _, v in admin]
    outbox = _policy_targets(template, "OutboxFunction")
    assert ("SNSPublishMessagePolicy", {"TopicName": {"Fn::GetAtt": ["FinanceTopic", "TopicName"]}}) in outbox
    assert {"TableName": {"Ref": "EventsTable"}} not in [v for _, v in outbox]
    sweep = _policy_targets(template, "SweepFunction")
    assert ("DynamoDBReadPolicy", {"TableName": {"Ref": "OutboxTable"}}) in sweep
    assert "SNSPublishMessagePolicy" not in {k for k, _ in sweep}


def test_the_outbox_queue_dead_letters_after_five_receives_and_matches_the_setting(
    template: dict[str, Any],
) -> None:
    queue = template["Resources"]["OutboxQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["OutboxDeadLetterQueue", "Arn"]}
    assert queue["SqsManagedSseEnabled"] is True
    function = template["Resources"]["OutboxFunction"]["Properties"]
    assert function["Environment"]["Variables"]["SYNC_GUARD_OUTBOX_MAX_RECEIVES"] == "5"
    # visibility at least six times the function timeout, so a slow batch is not delivered twice
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    [source] = function["Events"].values()
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_sweep_runs_on_a_schedule(template: dict[str, Any]) -> None:
    [event] = _function_events(template, "SweepFunction").values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"].startswith("rate(")


def test_new_functions_have_log_groups_and_error_alarms(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    for function in ("OutboxFunction", "SweepFunction", "AdminFunction"):
        groups = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::Logs::LogGroup"
            and r["Properties"].get("LogGroupName") == {"Fn::Sub": f"/aws/lambda/${{{function}}}"}
        ]
        assert len(groups) == 1, function
        assert groups[0]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        alarms = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
            and {"Name": "FunctionName", "Value": {"Ref": function}} in r["Properties"].get("Dimensions", [])
        ]
        assert alarms, function
    dlq_alarms = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"]["Dimensions"][0]["Value"]
        == {"Fn::GetAtt": ["OutboxDeadLetterQueue", "QueueName"]}
    ]
    assert len(dlq_alarms) == 1


def test_outbox_queues_are_bound_to_settings(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["SYNC_GUARD_OUTBOX_QUEUE_URL"] == {"Ref": "OutboxQueue"}
    assert variables["SYNC_GUARD_OUTBOX_DLQ_URL"] == {"Ref": "OutboxDeadLetterQueue"}
