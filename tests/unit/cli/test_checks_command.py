"""``sync-guard checks`` finds the checks function of the guard it is pointed at, and reads its answer."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from sync_guard.cli import build_app
from sync_guard.cli._context import _STACK_OUTPUTS
from sync_guard.cli.checks import ChecksFailed, ChecksTarget, find_target, run_checks
from sync_guard.local.stack import LocalStackState
from sync_guard.local.template import load_template


def deploy(outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name="eu-west-2").create_stack(
        StackName="sync-guard", TemplateBody=json.dumps(template)
    )


def test_every_stack_output_the_commands_read_is_one_the_template_declares() -> None:
    assert set(_STACK_OUTPUTS) <= set(load_template()["Outputs"])
    assert load_template()["Outputs"]["ZohoChecksFunctionName"]["Value"] == {"Ref": "ZohoChecksFunction"}


def test_a_deployed_stack_names_its_checks_function(tmp_path: Path) -> None:
    with mock_aws():
        deploy({"ZohoChecksFunctionName": "sync-guard-ZohoChecksFunction-AbC123"})
        target = find_target("sync-guard", "eu-west-2", tmp_path)

    assert target == ChecksTarget("sync-guard-ZohoChecksFunction-AbC123", None, "eu-west-2", local=False)


def test_a_stack_deployed_before_the_output_existed_says_to_redeploy(tmp_path: Path) -> None:
    with mock_aws():
        deploy({"AuditTableName": "prod-AuditTable"})
        with pytest.raises(ChecksFailed, match="no ZohoChecksFunctionName output"):
            find_target("sync-guard", "eu-west-2", tmp_path)


def test_without_a_stack_the_running_local_stack_is_used(tmp_path: Path) -> None:
    _local_guard(tmp_path)

    target = find_target(None, None, tmp_path)

    assert (target.function, target.endpoint_url, target.local) == (
        "ZohoChecksFunction",
        "http://127.0.0.1:3123",
        True,
    )


def test_with_no_guard_at_all_the_error_says_how_to_name_one(tmp_path: Path) -> None:
    with pytest.raises(ChecksFailed, match=r"--stack-name.*sync-guard serve"):
        find_target(None, None, tmp_path / "nothing")


def test_with_no_guard_at_all_the_command_exits_2_not_1_which_says_a_check_failed(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sync_guard.cli import app

    result = CliRunner().invoke(app, ["checks", "--state-dir", str(tmp_path / "nothing")])

    assert result.exit_code == 2
    assert "error: no guard to run the checks in" in result.output


class FakeLambda:
    def __init__(self, payload: Any, *, error: bool = False) -> None:
        self.payload, self.error = payload, error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        response: dict[str, Any] = {"Payload": io.BytesIO(json.dumps(self.payload).encode())}
        if self.error:
            response["FunctionError"] = "Unhandled"
        return response


@pytest.mark.parametrize(
    ("payload", "error", "said"),
    [
        ({"skipped": "zoho not configured"}, False, "did not run the checks: zoho not configured"),
        ({"errorMessage": "scheduled Zoho checks failed: modified:Books: 503"}, True, "modified:Books: 503"),
        (None, False, "not the checks' outcomes"),
    ],
)
def test_checks_that_did_not_run_are_an_error(
    monkeypatch: pytest.MonkeyPatch, payload: Any, error: bool, said: str
) -> None:
    fake = FakeLambda(payload, error=error)
    monkeypatch.setattr(ChecksTarget, "client", lambda self: fake)

    with pytest.raises(ChecksFailed, match=said):
        run_checks(ChecksTarget("fn", None, "eu-west-2", local=False), actor="user:ann")


def test_the_invocation_waits_for_the_answer_and_says_who_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeLambda({"notification_channel": {"status": "ok"}})
    monkeypatch.setattr(ChecksTarget, "client", lambda self: fake)

    outcomes = run_checks(ChecksTarget("fn", None, "eu-west-2", local=False), actor="user:ann")

    assert outcomes == {"notification_channel": {"status": "ok"}}
    [call] = fake.calls
    assert call["InvocationType"] == "RequestResponse"
    assert json.loads(call["Payload"])["detail"] == {"requested_by": "user:ann"}


def test_the_client_never_retries_an_invocation_and_outwaits_the_functions_timeout() -> None:
    client = ChecksTarget("fn", None, "eu-west-2", local=False).client()
    timeout = load_template()["Resources"]["ZohoChecksFunction"]["Properties"]["Timeout"]

    assert client.meta.config.read_timeout > timeout
    assert client.meta.config.retries["total_max_attempts"] == 1


def _local_guard(state_dir: Path) -> None:
    LocalStackState(
        api_url="http://127.0.0.1:3123",
        aws_endpoint_url="http://127.0.0.1:5001",
        dynamodb_endpoint_url="http://127.0.0.1:8001",
        environment={},
        pid=os.getpid(),
    ).write(state_dir)


def test_the_command_shows_each_check_and_says_when_an_alert_is_open(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _local_guard(tmp_path)
    outcomes = {
        "notification_channel": {"status": "renewed", "note": "expired in 2 h"},
        "sync_stall": {"status": "stalled", "alert": True, "found": 3},
    }
    monkeypatch.setattr(ChecksTarget, "client", lambda self: FakeLambda(outcomes))

    shown = CliRunner().invoke(build_app(), ["checks", "--state-dir", str(tmp_path)], terminal_width=200)
    as_json = CliRunner().invoke(build_app(), ["checks", "--state-dir", str(tmp_path), "--json"])

    assert shown.exit_code == 0, shown.output
    assert "stalled (alert)" in shown.output
    assert "expired in 2 h" in shown.output
    assert "An alert is open: finance has been told" in shown.output
    # with --json, stdout is the JSON alone (a script parses it), the alert said on stderr
    assert json.loads(as_json.stdout) == outcomes
    assert "An alert is open" in as_json.stderr


def test_the_command_exits_1_with_the_reason_when_the_checks_did_not_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _local_guard(tmp_path)
    monkeypatch.setattr(ChecksTarget, "client", lambda self: FakeLambda({"skipped": "zoho not configured"}))

    result = CliRunner().invoke(build_app(), ["checks", "--state-dir", str(tmp_path)])

    assert result.exit_code == 1
    assert "error: ZohoChecksFunction did not run the checks: zoho not configured" in result.output
    assert "Traceback" not in result.output
