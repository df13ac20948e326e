"""The console script turns an unreachable guard into a message and exit code 2, not a traceback."""

from __future__ import annotations

import sys

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

import sync_guard.cli as cli


def failing_app(error: Exception) -> object:
    def app() -> None:
        raise error

    return lambda args: app


def test_no_credentials_says_how_to_name_a_guard(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "app_for", failing_app(NoCredentialsError()))

    with pytest.raises(SystemExit) as exit_info:
        cli.main()

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no AWS credentials" in err
    assert "--stack-name" in err
    assert "sync-guard serve" in err
    assert "Traceback" not in err


def test_an_unreachable_endpoint_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        cli, "app_for", failing_app(EndpointConnectionError(endpoint_url="http://127.0.0.1:8123/"))
    )

    with pytest.raises(SystemExit) as exit_info:
        cli.main()

    assert exit_info.value.code == 2
    assert "cannot reach http://127.0.0.1:8123/" in capsys.readouterr().err


def test_a_stack_named_without_a_region_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "app_for", failing_app(NoRegionError()))

    with pytest.raises(SystemExit) as exit_info:
        cli.main()

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no AWS region" in err
    assert "AWS_REGION" in err
    assert "Traceback" not in err


def test_other_errors_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "app_for", failing_app(ValueError("a bug")))

    with pytest.raises(ValueError, match="a bug"):
        cli.main()


@pytest.mark.parametrize(
    ("operation", "code", "message", "said"),
    [
        ("Query", "ResourceNotFoundException", "Requested resource not found", "--stack-name"),
        (
            "DescribeStacks",
            "ValidationError",
            "Stack with id x does not exist",
            "check --stack-name and --region",
        ),
        (
            "Query",
            "AccessDeniedException",
            "not authorized to perform dynamodb:Query",
            "AWS refused the request",
        ),
        ("GetSecretValue", "ResourceNotFoundException", "Secrets Manager can't find it", "ZohoSecretName"),
        ("Query", "ExpiredTokenException", "The security token included in the request is expired", "renew"),
        (
            "TransactWriteItems",
            "KMSDisabledException",
            "The key is disabled",
            "AWS TransactWriteItems failed (KMSDisabledException): The key is disabled",
        ),
    ],
)
def test_ordinary_aws_refusals_are_named_not_traced(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    operation: str,
    code: str,
    message: str,
    said: str,
) -> None:
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": code, "Message": message}}, operation)
    monkeypatch.setattr(cli, "app_for", failing_app(error))

    with pytest.raises(SystemExit) as exit_info:
        cli.main()

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert said in err
    assert "Traceback" not in err


def test_other_aws_sdk_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from botocore.exceptions import ProfileNotFound

    monkeypatch.setattr(cli, "app_for", failing_app(ProfileNotFound(profile="finance")))

    with pytest.raises(SystemExit) as exit_info:
        cli.main()

    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "AWS SDK: The config profile (finance) could not be found" in err
    assert "Traceback" not in err


def test_a_setting_the_environment_gets_wrong_is_named_by_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given SYNC_GUARD_MODE=bad, which the first command that reads the settings refuses
    monkeypatch.setenv("SYNC_GUARD_MODE", "bad")
    monkeypatch.setattr(sys, "argv", ["sync-guard", "audit", "--state-dir", "nowhere"])

    with pytest.raises(SystemExit) as exit_info:
        cli.main()

    # then the variable is named, not pydantic's "1 validation error for Settings / mode"
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "error: SYNC_GUARD_MODE: Input should be 'observe' or 'enforce'." in err
    assert "Settings" not in err
    assert "Traceback" not in err
