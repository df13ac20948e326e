"""Admin commands find the right guard: flags, then environment, then a running local stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync_guard.cli._context import resolve_settings
from sync_guard.local.stack import LocalStackState


def write_local_state(state_dir: Path, *, pid: int) -> None:
    state_dir.mkdir(parents=True)
    LocalStackState(
        api_url="http://127.0.0.1:3000",
        aws_endpoint_url="http://127.0.0.1:5001",
        dynamodb_endpoint_url="http://127.0.0.1:8001",
        environment={"SYNC_GUARD_AUDIT_TABLE": "local-AuditTable", "SYNC_GUARD_MODE": "enforce"},
        pid=pid,
    ).write(state_dir)


def test_running_local_stack_is_found_without_flags(tmp_path: Path) -> None:
    write_local_state(tmp_path / "stack", pid=os.getpid())
    settings = resolve_settings(state_dir=tmp_path / "stack")
    assert settings.audit_table == "local-AuditTable"
    assert settings.dynamodb_endpoint_url == "http://127.0.0.1:8001"
    assert settings.mode == "enforce"


def test_a_stale_stack_file_is_ignored(tmp_path: Path) -> None:
    write_local_state(tmp_path / "stack", pid=2**22 + 12345)  # no such process
    settings = resolve_settings(state_dir=tmp_path / "stack")
    assert settings.audit_table == "sync-guard-audit"
    assert settings.dynamodb_endpoint_url == ""


def test_environment_wins_over_the_local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_local_state(tmp_path / "stack", pid=os.getpid())
    monkeypatch.setenv("SYNC_GUARD_AUDIT_TABLE", "prod-audit")
    assert resolve_settings(state_dir=tmp_path / "stack").audit_table == "prod-audit"


def test_explicit_flags_win_over_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_local_state(tmp_path / "stack", pid=os.getpid())
    monkeypatch.setenv("SYNC_GUARD_AUDIT_TABLE", "prod-audit")
    settings = resolve_settings(state_dir=tmp_path / "stack", audit_table="flag-audit", shadow_table=None)
    assert settings.audit_table == "flag-audit"


def test_a_deployed_stack_gives_its_tables_and_the_mode_it_runs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    # An admin command acts as the functions do: a release in an enforce-mode stack must undo in Zoho.
    import json

    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    template = {
        "Parameters": {
            "Mode": {"Type": "String", "Default": "observe"},
            "ZohoBooksOrganizationId": {"Type": "String", "Default": ""},
        },
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"AuditTableName": {"Value": "prod-AuditTable"}},
    }
    with mock_aws():
        boto3.client("cloudformation", region_name="eu-west-2").create_stack(
            StackName="sync-guard",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": "Mode", "ParameterValue": "enforce"}],
        )
        settings = resolve_settings(stack_name="sync-guard", region="eu-west-2")
    assert settings.audit_table == "prod-AuditTable"
    assert settings.mode == "enforce"
    assert settings.zoho_books_organization_id in ("", None)


def write_simulator_stack(state_dir: Path, *, zoho_url: str, api_url: str, client_id: str) -> None:
    state_dir.mkdir(parents=True)
    LocalStackState(
        api_url="http://127.0.0.1:3000",
        aws_endpoint_url="http://127.0.0.1:5001",
        dynamodb_endpoint_url="http://127.0.0.1:8001",
        # what serve publishes: the Zoho URLs, client id and organisation, never the secrets
        environment={
            "SYNC_GUARD_ZOHO_API_URL": api_url,
            "SYNC_GUARD_ZOHO_ACCOUNTS_URL": api_url,
            "SYNC_GUARD_ZOHO_CLIENT_ID": client_id,
            "SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID": "20000000001",
        },
        pid=os.getpid(),
        zoho_url=zoho_url,
    ).write(state_dir)


def test_a_local_stack_on_its_simulator_lends_the_simulators_fake_credentials(tmp_path: Path) -> None:
    # preflight calls Zoho itself: with serve on the simulator it must be able to
    from sync_guard.local.zoho_simulator.server import DEFAULT_CLIENT_ID, DEFAULT_REFRESH_TOKEN

    url = "http://127.0.0.1:4567"
    write_simulator_stack(tmp_path / "stack", zoho_url=url, api_url=url, client_id=DEFAULT_CLIENT_ID)
    settings = resolve_settings(state_dir=tmp_path / "stack")
    assert settings.zoho_books_organization_id == "20000000001"
    assert settings.zoho_client_secret is not None
    assert settings.zoho_refresh_token is not None
    assert settings.zoho_refresh_token.get_secret_value() == DEFAULT_REFRESH_TOKEN


@pytest.mark.parametrize(
    ("zoho_url", "client_id"),
    [("live Zoho (eu)", "1000.SIMULATORCLIENT"), ("http://127.0.0.1:4567", "1000.REALCLIENT")],
)
def test_a_local_stack_on_live_zoho_or_other_credentials_lends_none(
    tmp_path: Path, zoho_url: str, client_id: str
) -> None:
    write_simulator_stack(
        tmp_path / "stack", zoho_url=zoho_url, api_url="http://127.0.0.1:4567", client_id=client_id
    )
    settings = resolve_settings(state_dir=tmp_path / "stack")
    assert settings.zoho_client_secret is None
    assert settings.zoho_refresh_token is None


def deploy_fake_stack(parameters: dict[str, str]) -> None:
    """A stack named sync-guard in moto, declaring the template's parameters, with these values."""
    import json

    import boto3

    from sync_guard.local.template import load_template

    template = {
        "Parameters": {name: {"Type": "String", "Default": ""} for name in load_template()["Parameters"]},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"AuditTableName": {"Value": "prod-AuditTable"}},
    }
    boto3.client("cloudformation", region_name="eu-west-2").create_stack(
        StackName="sync-guard",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )


def test_a_deployed_stack_gives_the_hold_tag_field_and_phone_region_its_functions_use() -> None:
    # A release from the command line writes the undo with the stack's tag; rekey keys phones as the stack.
    from moto import mock_aws

    with mock_aws():
        deploy_fake_stack(
            {"CrmHoldTag": "held-by-guard", "CrmHoldField": "Sync_Hold", "DefaultPhoneRegion": "US"}
        )
        settings = resolve_settings(stack_name="sync-guard", region="eu-west-2")
    assert settings.crm_hold_tag == "held-by-guard"
    assert settings.crm_hold_field == "Sync_Hold"
    assert settings.default_phone_region == "US"


def test_a_deployed_stack_gives_both_organisation_ids() -> None:
    # match-report --from-zoho --stack-name puts them in the support ticket.
    from moto import mock_aws

    with mock_aws():
        deploy_fake_stack({"ZohoCrmOrgId": "20012345", "ZohoBooksOrganizationId": "700123456"})
        settings = resolve_settings(stack_name="sync-guard", region="eu-west-2")
    assert settings.zoho_crm_org_id == "20012345"
    assert settings.zoho_books_organization_id == "700123456"


def test_an_empty_stack_parameter_leaves_the_default() -> None:
    from moto import mock_aws

    with mock_aws():
        deploy_fake_stack({"CrmHoldTag": "", "DefaultPhoneRegion": ""})
        settings = resolve_settings(stack_name="sync-guard", region="eu-west-2")
    assert settings.crm_hold_tag == "sync-guard-hold"
    assert settings.default_phone_region == "GB"


def test_the_stack_parameters_the_cli_reads_are_the_ones_the_template_passes_to_those_settings() -> None:
    from sync_guard.cli._context import _STACK_PARAMETERS
    from sync_guard.local.template import load_template

    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    for parameter, field in _STACK_PARAMETERS.items():
        assert variables[f"SYNC_GUARD_{field.upper()}"] == {"Ref": parameter}


def test_seed_matches_with_the_stack_phone_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Seeded records must key phones as the stack's processor does, not as this shell's default would.
    from moto import mock_aws

    import sync_guard.cli.seed as seed_command

    regions: list[str] = []
    real_matcher = seed_command.LibraryMatcher

    def spy(region: str) -> object:
        regions.append(region)
        return real_matcher(region)

    monkeypatch.setattr(seed_command, "LibraryMatcher", spy)
    exports = Path(__file__).resolve().parents[2] / "fixtures" / "exports"
    with mock_aws():
        deploy_fake_stack({"DefaultPhoneRegion": "US"})
        seed_command.seed(
            crm=exports / "crm_accounts.csv",
            books=exports / "books_customers.csv",
            dry_run=True,
            stack_name="sync-guard",
            region="eu-west-2",
        )
    assert regions == ["US"]


def test_a_local_stack_with_parameters_left_empty_gives_the_codes_defaults(tmp_path: Path) -> None:
    # serve publishes the template's variables as resolved: a parameter left empty is "" in stack.json
    (tmp_path / "stack").mkdir()
    LocalStackState(
        api_url="http://127.0.0.1:3000",
        aws_endpoint_url="http://127.0.0.1:5001",
        dynamodb_endpoint_url="http://127.0.0.1:8001",
        environment={
            "SYNC_GUARD_AUDIT_TABLE": "local-AuditTable",
            "SYNC_GUARD_STORM_THRESHOLD": "",
            "SYNC_GUARD_RULE_POLICY": "",
            "SYNC_GUARD_BOOKS_SIGNATURE_SCHEME": "",
        },
        pid=os.getpid(),
    ).write(tmp_path / "stack")
    settings = resolve_settings(state_dir=tmp_path / "stack")
    assert settings.audit_table == "local-AuditTable"
    assert settings.storm_threshold == 10
    assert settings.rule_policy == {}


def test_a_stack_found_through_the_profiles_region_is_used_in_that_region(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # An operator whose AWS profile says us-east-1 names the stack only: its tables are in us-east-1 too,
    # not in the settings' default region.
    from moto import mock_aws

    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    import json

    import boto3

    with mock_aws():
        template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {}}
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="sync-guard", TemplateBody=json.dumps(template)
        )
        settings = resolve_settings(stack_name="sync-guard")
    assert settings.aws_region == "us-east-1"
