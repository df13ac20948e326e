"""The webhook secret: environment, Secrets Manager, SSM (moto), cached once per container."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from pydantic import SecretStr

from sync_guard.config import Settings
from sync_guard.errors import ConfigurationError
from sync_guard.secrets import SecretUnavailable, reset_secret_cache, webhook_secret

REGION = "eu-west-2"


@pytest.fixture(autouse=True)
def _mocked() -> Iterator[None]:
    reset_secret_cache()
    with mock_aws():
        yield
    reset_secret_cache()


def test_environment_secret_wins() -> None:
    settings = Settings(webhook_secret=SecretStr(" local-secret "), webhook_secret_name="unused")
    assert webhook_secret(settings) == "local-secret"


def test_secrets_manager_plain_string_is_fetched_once_per_container() -> None:
    manager = boto3.client("secretsmanager", region_name=REGION)
    manager.create_secret(Name="sync-guard/webhook-secret", SecretString="first")
    settings = Settings(webhook_secret_name="sync-guard/webhook-secret")
    assert webhook_secret(settings) == "first"
    # a rotation is not seen by a warm container (cached), only by a new one
    manager.put_secret_value(SecretId="sync-guard/webhook-secret", SecretString="second")
    assert webhook_secret(settings) == "first"
    reset_secret_cache()
    assert webhook_secret(settings) == "second"


def test_secrets_manager_json_document() -> None:
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="json-secret", SecretString='{"token": "from-json"}'
    )
    assert webhook_secret(Settings(webhook_secret_name="json-secret")) == "from-json"


def test_ssm_secure_string_parameter() -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/sync-guard/webhook-secret", Value="from-ssm", Type="SecureString"
    )
    assert webhook_secret(Settings(webhook_secret_parameter="/sync-guard/webhook-secret")) == "from-ssm"


def test_missing_secret_is_an_upstream_fault_naming_no_value() -> None:
    with pytest.raises(SecretUnavailable) as raised:
        webhook_secret(Settings(webhook_secret_name="does-not-exist"))
    assert raised.value.status == 502


def test_nothing_configured_or_empty_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        webhook_secret(Settings())
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/empty", Value=" ", Type="String")
    with pytest.raises(ConfigurationError):
        webhook_secret(Settings(webhook_secret_parameter="/empty"))
