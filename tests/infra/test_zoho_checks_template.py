"""The template's scheduled Zoho checks: a schedule, least privilege, its own log group and error alarm."""

from __future__ import annotations

from typing import Any

import pytest

from sync_guard.config import Settings
from sync_guard.local.template import load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"]["ZohoChecksFunction"]["Properties"])


def test_the_checks_run_every_fifteen_minutes_and_failed_deliveries_are_kept(
    function: dict[str, Any],
) -> None:
    [event] = function["Events"].values()
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == "rate(15 minutes)"
    assert event["Properties"]["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}
    }


def test_the_channel_points_at_the_stacks_notification_route(function: dict[str, Any]) -> None:
    variables = function["Environment"]["Variables"]
    assert variables["SYNC_GUARD_CRM_NOTIFICATION_CHANNEL_ID"] == {"Ref": "NotificationChannelId"}
    url = variables["SYNC_GUARD_CRM_NOTIFY_URL"]["Fn::Sub"]
    assert url.startswith("https://${WebhookApi}.execute-api.")
    assert url.endswith("/webhooks/crm/notifications")


def test_the_checks_have_least_privilege(template: dict[str, Any], function: dict[str, Any]) -> None:
    policies = [(kind, value) for policy in function["Policies"] for kind, value in policy.items()]
    # never the outbox: the checks feed events, they do not act on Zoho records; finance's topic only, for a
    # stalled sync
    assert [value for kind, value in policies if kind == "SNSPublishMessagePolicy"] == [
        {"TopicName": {"Fn::GetAtt": ["FinanceTopic", "TopicName"]}}
    ]
    assert all(value != {"TableName": {"Ref": "OutboxTable"}} for _, value in policies)
    assert ("DynamoDBWritePolicy", {"TableName": {"Ref": "EventsTable"}}) in policies
    # the Books sweep reads the shadow's record states (watermarks and the token live there too)
    assert ("DynamoDBCrudPolicy", {"TableName": {"Ref": "ShadowTable"}}) in policies
    assert ("DynamoDBCrudPolicy", {"TableName": {"Ref": "EventsTable"}}) not in policies
    assert (
        "SQSSendMessagePolicy",
        {"QueueName": {"Fn::GetAtt": ["ProcessingQueue", "QueueName"]}},
    ) in policies
    secrets = [
        value["SecretArn"]["Fn::Sub"] for kind, value in policies if kind.startswith("AWSSecretsManager")
    ]
    assert len(secrets) == 2
    assert all(arn.endswith(("${ZohoSecretName}-*", "${WebhookSecretName}-*")) for arn in secrets)


def test_the_checks_have_a_log_group_and_an_error_alarm(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    groups = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Logs::LogGroup"
        and r["Properties"].get("LogGroupName") == {"Fn::Sub": "/aws/lambda/${ZohoChecksFunction}"}
    ]
    assert len(groups) == 1
    alarms = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and {"Name": "FunctionName", "Value": {"Ref": "ZohoChecksFunction"}} in r["Properties"]["Dimensions"]
    ]
    assert len(alarms) == 1
    assert alarms[0]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_channel_id_parameter_is_a_number_or_empty(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["NotificationChannelId"]
    assert parameter["Default"].isdigit()
    assert parameter["AllowedPattern"] == "^[0-9]{0,19}$"


def test_a_stalled_sync_is_tunable_and_alarms(template: dict[str, Any], function: dict[str, Any]) -> None:
    variables = function["Environment"]["Variables"]
    assert variables["SYNC_GUARD_SYNC_STALL_MIN_EDITS"] == {"Ref": "SyncStallMinEdits"}
    assert variables["SYNC_GUARD_SYNC_STALL_GRACE_MINUTES"] == {"Ref": "SyncStallGraceMinutes"}
    alarm = template["Resources"]["SyncStalledAlarm"]["Properties"]
    # the metric the function emits, in the namespace and service dimension Powertools gives it
    globals_env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert alarm["Namespace"] == globals_env["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": globals_env["POWERTOOLS_SERVICE_NAME"]}]
    assert alarm["MetricName"] == "ZohoCheckAlerts"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_holds_reminder_is_tunable_and_its_default_is_the_settings(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    variables = function["Environment"]["Variables"]
    assert variables["SYNC_GUARD_HOLD_REMINDER_AFTER_DAYS"] == {"Ref": "HoldReminderAfterDays"}
    parameter = template["Parameters"]["HoldReminderAfterDays"]
    assert int(parameter["Default"]) == Settings.model_fields["hold_reminder_after_days"].default
    assert parameter["MinValue"] == 0
