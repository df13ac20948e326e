"""The SAM template: what the guard's safety depends on is declared, not left to defaults."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sync_guard.config import Settings
from sync_guard.local.template import load_template, table_definitions
from sync_guard.processing import FIRST_ATTEMPT_CEILING_SECONDS
from sync_guard.zoho.factory import zoho_retry_policy


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_functions_run_python312_on_arm64(template: dict[str, Any]) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] in {"python3.12", "python3.13"}
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["LoggingConfig"]["LogFormat"] == "JSON"


def test_the_layer_is_built_for_the_functions_runtime_and_architecture(template: dict[str, Any]) -> None:
    # sam build compiles the layer's extension modules (cpython-312-aarch64) for BuildMethod and
    # BuildArchitecture alone: a runtime or architecture the layer claims beyond those fails at import.
    function_globals = template["Globals"]["Function"]
    layer = template["Resources"]["SyncGuardLayer"]
    assert layer["Metadata"]["BuildMethod"] == function_globals["Runtime"]
    assert layer["Properties"]["CompatibleRuntimes"] == [function_globals["Runtime"]]
    assert [layer["Metadata"]["BuildArchitecture"]] == function_globals["Architectures"]
    assert layer["Properties"]["CompatibleArchitectures"] == function_globals["Architectures"]
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        assert "Runtime" not in function["Properties"], f"{name} must run on the layer's runtime"
        assert "Architectures" not in function["Properties"], name


def test_every_table_has_pitr_and_encryption(template: dict[str, Any]) -> None:
    tables = resources_of(template, "AWS::DynamoDB::Table")
    assert tables
    for name, table in tables.items():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert table.get("DeletionPolicy") == "Retain", name


def test_no_table_keeps_a_stream_that_nothing_reads(template: dict[str, Any]) -> None:
    # A stream keeps a copy of every item change for a day, for whoever may read streams: only a function
    # that reads it (a DynamoDB event source) justifies one. The executor reads the outbox queue instead.
    read = {
        event["Properties"]["Stream"]["Fn::GetAtt"][0]
        for function in resources_of(template, "AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "DynamoDB"
    }
    for name, table in resources_of(template, "AWS::DynamoDB::Table").items():
        assert "StreamSpecification" not in table["Properties"] or name in read, name


def test_every_queue_is_encrypted_and_every_work_queue_has_a_dlq(template: dict[str, Any]) -> None:
    queues = resources_of(template, "AWS::SQS::Queue")
    dead_letter_targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert dead_letter_targets
    for name, queue in queues.items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, name
        assert name in dead_letter_targets | schedule_dead_letter_queues(template) or (
            "RedrivePolicy" in queue["Properties"]
        ), name


def schedule_dead_letter_queues(template: dict[str, Any]) -> set[str]:
    """The queues where EventBridge keeps the scheduled runs it could not deliver."""
    return {
        event["Properties"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        for function in resources_of(template, "AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "Schedule"
    }


def test_every_dead_letter_queue_has_an_alarm(template: dict[str, Any]) -> None:
    # A scheduled run EventBridge could not deliver never starts, so no Errors alarm sees it.
    queues = resources_of(template, "AWS::SQS::Queue")
    dead_letter_queues = schedule_dead_letter_queues(template) | {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    watched = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in resources_of(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/SQS"
        for dimension in alarm["Properties"]["Dimensions"]
        if dimension["Name"] == "QueueName"
    }
    assert "ScheduleDeadLetterQueue" in dead_letter_queues
    assert dead_letter_queues <= watched


def test_eventbridge_may_send_undelivered_runs_to_the_schedules_dead_letter_queue(
    template: dict[str, Any],
) -> None:
    [policy] = resources_of(template, "AWS::SQS::QueuePolicy").values()
    assert policy["Properties"]["Queues"] == [{"Ref": "ScheduleDeadLetterQueue"}]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_every_function_has_a_log_group_with_retention(template: dict[str, Any]) -> None:
    functions = resources_of(template, "AWS::Serverless::Function")
    log_groups = resources_of(template, "AWS::Logs::LogGroup")
    covered = {
        str(group["Properties"].get("LogGroupName", {}).get("Fn::Sub", "")).rsplit("${", 1)[-1].rstrip("}")
        for group in log_groups.values()
    }
    for name in functions:
        assert name in covered, f"{name} has no explicit log group"
    for group in log_groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_template_table_is_named_for_the_code_through_settings(template: dict[str, Any]) -> None:
    settings_fields = {f"SYNC_GUARD_{name.upper()}" for name in Settings.model_fields}
    for table in table_definitions():
        assert table.env_var in settings_fields, table.env_var


def test_every_globals_variable_is_a_setting(template: dict[str, Any]) -> None:
    settings_fields = {f"SYNC_GUARD_{name.upper()}" for name in Settings.model_fields}
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    unknown = {n for n in variables if n.startswith("SYNC_GUARD_") and n not in settings_fields}
    assert not unknown


def test_mode_parameter_offers_observe_and_enforce(template: dict[str, Any]) -> None:
    assert set(template["Parameters"]["Mode"]["AllowedValues"]) == {"observe", "enforce"}
    assert template["Parameters"]["Mode"]["Default"] == "observe"


def test_alarms_notify_the_alarm_topic(template: dict[str, Any]) -> None:
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 3
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name


def test_alarms_can_publish_to_their_encrypted_topic(template: dict[str, Any]) -> None:
    # The AWS-managed SNS key does not let CloudWatch encrypt: alarms would fire and reach no one.
    topic = template["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    statements = template["Resources"]["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])


def test_queue_visibility_is_six_times_its_consumers_timeout(template: dict[str, Any]) -> None:
    # A message must not come back while the batch that received it still runs: the executor and the
    # processor treat a second copy of a message as a duplicate.
    default_timeout = template["Globals"]["Function"]["Timeout"]
    queues = resources_of(template, "AWS::SQS::Queue")
    consumers = 0
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        timeout = function["Properties"].get("Timeout", default_timeout)
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            consumers += 1
            queue = queues[event["Properties"]["Queue"]["Fn::GetAtt"][0]]
            assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout, name
    assert consumers >= 2


def test_a_batch_of_events_retrying_commits_ends_well_inside_the_processor_timeout(
    template: dict[str, Any],
) -> None:
    # Each event may retry its commit for up to the budget; the events of a batch are processed in turn.
    processor = template["Resources"]["ProcessorFunction"]["Properties"]
    timeout = processor.get("Timeout", template["Globals"]["Function"]["Timeout"])
    batch = processor["Events"]["Queue"]["Properties"]["BatchSize"]
    assert batch * Settings().commit_retry_budget_seconds <= timeout / 2


def test_the_processor_reserve_at_its_ceiling_still_leaves_room_to_start_an_event(
    template: dict[str, Any],
) -> None:
    # The processor starts an event only with its reserve left (commit budget, longest Zoho call, and
    # the longest first attempt seen, capped): at the cap, a fresh invocation must still start one, or
    # every event of every batch would be handed back and dead-lettered.
    processor = template["Resources"]["ProcessorFunction"]["Properties"]
    timeout = processor.get("Timeout", template["Globals"]["Function"]["Timeout"])
    settings = Settings()
    reserve = (
        settings.commit_retry_budget_seconds
        + zoho_retry_policy(settings).longest_call_seconds()
        + FIRST_ATTEMPT_CEILING_SECONDS
    )
    assert reserve <= timeout * 0.75, (reserve, timeout)


def test_an_ssm_parameter_for_the_webhook_token_replaces_the_secret(template: dict[str, Any]) -> None:
    # The code reads the secret first when both are set: with a parameter named, the secret's name
    # must be empty, or every webhook fails on a secret the user never created.
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["SYNC_GUARD_WEBHOOK_SECRET_NAME"] == {
        "Fn::If": ["HasWebhookSecretParameter", "", {"Ref": "WebhookSecretName"}]
    }
    assert variables["SYNC_GUARD_WEBHOOK_SECRET_PARAMETER"]["Fn::If"][0] == "HasWebhookSecretParameter"


def test_the_webhook_token_parameter_is_named_without_its_leading_slash(template: dict[str, Any]) -> None:
    # The functions read "/<name>" and SSMParameterReadPolicy grants "parameter/<name>": a name typed with
    # its slash would have them read "//<name>", and be granted nothing, so every webhook would fail.
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["SYNC_GUARD_WEBHOOK_SECRET_PARAMETER"]["Fn::If"][1] == {
        "Fn::Sub": "/${WebhookSecretParameterName}"
    }
    pattern = template["Parameters"]["WebhookSecretParameterName"]["AllowedPattern"]
    for accepted in ("", "sync-guard/webhook-token", "webhook_token.v2"):
        assert re.fullmatch(pattern, accepted), accepted
    for refused in ("/sync-guard/webhook-token", "/", "sync guard"):
        assert not re.fullmatch(pattern, refused), refused


def test_the_layer_brings_what_the_handlers_import() -> None:
    # Every handler builds a powertools Tracer at import; it needs aws-xray-sdk, which only powertools'
    # tracer extra brings (the dev tools bring it too, which is how a missing one hides in tests).
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    layer = (root / "shared" / "requirements.txt").read_text(encoding="utf-8").split()
    assert "aws-lambda-powertools[tracer]>=3.0" in layer
    handlers = [p for p in (root / "functions").rglob("*.py") if "Tracer()" in p.read_text(encoding="utf-8")]
    assert handlers


def test_the_layer_pins_boto3_with_the_botocore_it_is_tested_with() -> None:
    # The layer carries botocore (aws-xray-sdk needs it) and loads ahead of the runtime: unpinned, the
    # runtime's boto3 would run on whichever botocore pip chose. Both are pinned, to the tested pair.
    from importlib.metadata import requires, version
    from pathlib import Path

    from packaging.requirements import Requirement

    root = Path(__file__).resolve().parents[2]
    lines = (root / "shared" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pins = {
        requirement.name: str(requirement.specifier)
        for requirement in (Requirement(line) for line in lines if line.strip() and not line.startswith("#"))
    }
    for package in ("boto3", "botocore"):
        assert pins.get(package) == f"=={version(package)}", f"pin {package} to the tested version"
    boto3_needs = [Requirement(r) for r in requires("boto3") or []]
    wanted = next(r for r in boto3_needs if r.name == "botocore" and r.marker is None)
    assert wanted.specifier.contains(version("botocore")), f"boto3 wants botocore {wanted.specifier}"


def test_the_console_groups_every_parameter_once(template: dict[str, Any]) -> None:
    # The CloudFormation console shows parameters by these groups, and the rest under "Other parameters",
    # apart from their kin: a parameter added without a group lands there.
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])
