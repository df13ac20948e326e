"""Settings read from the environment as the template sets it."""

from __future__ import annotations

import pytest

from sync_guard.config import Settings


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # The template passes stack parameters left empty as empty variables: each must mean the code's default,
    # not an invalid number or invalid JSON that stops every function at cold start.
    for name in (
        "RULE_POLICY",
        "STORM_THRESHOLD",
        "CRM_HOLD_TAG",
        "BOOKS_SIGNATURE_SCHEME",
        "DEFAULT_PHONE_REGION",
    ):
        monkeypatch.setenv(f"SYNC_GUARD_{name}", "")
    settings = Settings()
    assert settings.rule_policy == {}
    assert settings.storm_threshold == 10
    assert settings.crm_hold_tag == "sync-guard-hold"
    assert settings.books_signature_scheme.value == "none"
    assert settings.default_phone_region == "GB"


def test_a_set_variable_still_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_GUARD_RULE_POLICY", '{"NAME_DRIFT": "flag"}')
    monkeypatch.setenv("SYNC_GUARD_STORM_THRESHOLD", "25")
    settings = Settings()
    assert settings.rule_policy == {"NAME_DRIFT": "flag"}
    assert settings.storm_threshold == 25


def test_a_settings_variable_is_named_as_the_environment_spells_it() -> None:
    from sync_guard.config import setting_variable

    assert setting_variable("mode") == "SYNC_GUARD_MODE"
    assert setting_variable("aws_region") == "AWS_REGION"
    assert setting_variable("AWS_REGION") == "AWS_REGION"  # how pydantic names a refused alias
