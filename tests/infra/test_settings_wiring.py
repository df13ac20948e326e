"""Every setting a deployer may set is a stack parameter that reaches every function.

A value typed into the Lambda console is lost at the next ``sam deploy``, and the functions must agree (the
hold tag the processor decides on is the one the outbox writes and the admin function releases). So each
setting the docs tell a deployer to set is passed in the template's Globals from a parameter, and the
README's parameter table documents that parameter.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sync_guard.config import Settings
from sync_guard.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# The settings that are not stack parameters, and why. Anything else must be wired in the Globals.
NOT_FOR_THE_DEPLOYER = {
    "service_name": "a name in logs and metrics; POWERTOOLS_SERVICE_NAME names the functions",
    "aws_region": "set by the Lambda runtime",
    "aws_endpoint_url": "local only (moto's server)",
    "dynamodb_endpoint_url": "local only (DynamoDB Local)",
    "webhook_secret": "local only; on AWS the secret comes from Secrets Manager or SSM",
    "books_signature_secret": "a secret, never a parameter; on AWS the HMAC key is the webhook secret",
    "zoho_client_id": "local only; on AWS the OAuth client is in the Zoho secret",
    "zoho_client_secret": "local only; on AWS the OAuth client is in the Zoho secret",
    "zoho_refresh_token": "local only; on AWS the OAuth client is in the Zoho secret",
    "zoho_accounts_url": "local only (the Zoho simulator)",
    "zoho_api_url": "local only (the Zoho simulator)",
    "notify_file": "local only (the local stack's copy of every notice)",
    "zoho_checks_function": "the admin CLI's, from the stack output ZohoChecksFunctionName",
    "outbox_max_receives": "must equal the outbox queue's maxReceiveCount: set beside it on OutboxFunction",
    "outbox_lease_seconds": "tied to OutboxFunction's Timeout; change both in template.yaml together",
    "outbox_sweep_after_seconds": "tied to the sweep's schedule; change both in template.yaml together",
    "zoho_timeout_seconds": "tied to the functions' timeouts (retry budget); change them together",
    "zoho_max_attempts": "tied to the functions' timeouts (retry budget); change them together",
    "zoho_refusal_memory_seconds": "how long refused Zoho credentials are not sent again; not a choice",
    "max_body_bytes": "the default holds every payload Zoho sends; not a deployment choice",
    "commit_retry_budget_seconds": "tied to the processor's Timeout and batch size; change them together",
    # The scheduled Zoho checks are their only reader: set on ZohoChecksFunction.
    "crm_notification_channel_id": "read by ZohoChecksFunction alone, set there from NotificationChannelId",
    "crm_notify_url": "the stack's own CrmNotificationUrl, set on ZohoChecksFunction",
    "crm_notification_events": "the guarded modules; not a deployment choice",
    "crm_notification_channel_hours": "tied to the checks' schedule; change both in template.yaml together",
    "crm_notification_renew_hours": "tied to the checks' schedule; change both in template.yaml together",
    "zoho_checks_first_lookback_hours": "how far a first run looks back; not a deployment choice",
    "zoho_checks_overlap_seconds": "tied to the checks' schedule; change both in template.yaml together",
    "sync_stall_min_edits": "read by ZohoChecksFunction alone, set there from SyncStallMinEdits",
    "sync_stall_grace_minutes": "read by ZohoChecksFunction alone, set there from SyncStallGraceMinutes",
    "sync_stall_lookback_hours": "how far back the stall check samples edits; not a deployment choice",
    "sync_stall_sample": "bounds the stall check's Zoho calls per run; not a deployment choice",
    "sync_stall_every_minutes": "bounds the stall check's Books calls per day; not a deployment choice",
    "books_deleted_every_minutes": "bounds the delete sweep's Books calls per day; not a deployment choice",
    "books_deleted_max_calls": "bounds the delete sweep's Books calls per run; not a deployment choice",
    "hold_reminder_after_days": "read by ZohoChecksFunction alone, set there from HoldReminderAfterDays",
    "hold_reminder_hour_utc": "when in the day the reminder goes out; not a deployment choice",
}


def env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return str(alias) if isinstance(alias, str) else f"SYNC_GUARD_{field.upper()}"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def global_variables(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Globals"]["Function"]["Environment"]["Variables"])


def parameter_refs(value: Any) -> set[str]:
    """The names a template value refers to (Ref, and ${...} in Fn::Sub), wherever they are nested."""
    if isinstance(value, dict):
        found = {str(value["Ref"])} if "Ref" in value else set()
        if isinstance(value.get("Fn::Sub"), str):
            found |= set(re.findall(r"\$\{([^}!.]+)\}", value["Fn::Sub"]))
        return found.union(*(parameter_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(parameter_refs(v) for v in value))
    return set()


def test_every_setting_for_the_deployer_is_passed_to_every_function(global_variables: dict[str, Any]) -> None:
    missing = [
        env_name(field)
        for field in Settings.model_fields
        if field not in NOT_FOR_THE_DEPLOYER and env_name(field) not in global_variables
    ]
    assert not missing, f"set these in the template's Globals, from a stack parameter: {missing}"


def test_the_exemptions_name_real_settings_that_the_template_leaves_alone(
    global_variables: dict[str, Any],
) -> None:
    assert set(NOT_FOR_THE_DEPLOYER) <= set(Settings.model_fields)
    assert not {env_name(field) for field in NOT_FOR_THE_DEPLOYER} & set(global_variables)


def test_every_variable_the_template_sets_is_a_setting(template: dict[str, Any]) -> None:
    # A variable no setting reads (a renamed setting, a typo) leaves the code at its default, silently.
    known = {env_name(field) for field in Settings.model_fields}
    for variables in environments(template):
        unread = {name for name in variables if name.startswith("SYNC_GUARD_")} - known
        assert not unread, f"template.yaml sets variables no setting reads: {sorted(unread)}"


def test_every_setting_the_docs_name_exists() -> None:
    # A deployer told to set a variable the code does not read would change nothing.
    known = {env_name(field) for field in Settings.model_fields}
    for path in DOCS:
        named = set(re.findall(r"\bSYNC_GUARD_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
        assert named <= known, f"{path.name} names settings that do not exist: {sorted(named - known)}"


@pytest.mark.parametrize(
    "variable",
    [
        "SYNC_GUARD_RULE_POLICY",
        "SYNC_GUARD_CRM_HOLD_TAG",
        "SYNC_GUARD_CRM_HOLD_FIELD",
        "SYNC_GUARD_BOOKS_SIGNATURE_SCHEME",
        "SYNC_GUARD_ZOHO_CRM_ORG_ID",
    ],
)
def test_the_settings_the_docs_tell_a_deployer_to_set_come_from_parameters(
    template: dict[str, Any], global_variables: dict[str, Any], variable: str
) -> None:
    refs = parameter_refs(global_variables.get(variable))
    assert refs & set(template["Parameters"]), f"{variable} is not set from a stack parameter"


def test_every_parameter_is_used_and_in_the_readme(template: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| Parameter | Default | Meaning |", 1)[1].split("\n\n", 1)[0]
    documented = {
        name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split("|")[1])
    }
    used = parameter_refs({k: v for k, v in template.items() if k != "Parameters"})
    for name in template["Parameters"]:
        assert name in documented, f"parameter {name} is missing from the README's parameter table"
        assert name in used, f"parameter {name} is declared but nothing uses it"


# Values a deployer may type where a parameter is constrained: what the template lets through, each function
# must start with. A free-form parameter (RulePolicy's JSON) is checked only at its default.
PROBES = ("", "0", "1", "2", "5", "10", "GB", "org123")


def allowed_by_template(parameter: dict[str, Any], value: str) -> bool:
    """Whether CloudFormation would accept ``value`` for ``parameter`` (the constraints the guard uses)."""
    if "AllowedValues" in parameter:
        return value in [str(v) for v in parameter["AllowedValues"]]
    if "AllowedPattern" in parameter and not re.fullmatch(parameter["AllowedPattern"], value):
        return False
    if parameter["Type"] == "Number":
        return value.isdigit() and int(value) >= int(parameter.get("MinValue", 0))
    return True


def environments(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The functions' environment variables: the Globals', then each function's own."""
    return [template["Globals"]["Function"]["Environment"]["Variables"]] + [
        resource["Properties"].get("Environment", {}).get("Variables", {})
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    ]


def settings_set_from(template: dict[str, Any], parameter: str) -> set[str]:
    """The SYNC_GUARD_* variables that take the parameter's value as it is, in the Globals or a function."""
    return {
        name
        for variables in environments(template)
        for name, value in variables.items()
        if name.startswith("SYNC_GUARD_") and value == {"Ref": parameter}
    }


def test_every_value_a_parameter_allows_is_a_setting_the_functions_start_with(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every function validates every setting at cold start: a value the stack accepts and the code
    # refuses (a storm threshold of 1, a retention of 0 days) stops the ingest function too, and Zoho
    # CRM does not redeliver the webhooks it then loses. The stack must refuse such a value at deploy time.
    checked = 0
    for parameter_name, parameter in template["Parameters"].items():
        variables = settings_set_from(template, parameter_name)
        constrained = {"AllowedValues", "AllowedPattern", "MinValue"} & set(parameter)
        candidates = {str(parameter.get("Default", "")), *(PROBES if constrained else ())}
        for value in sorted(v for v in candidates if allowed_by_template(parameter, v)):
            for variable in variables:
                monkeypatch.setenv(variable, value)
                try:
                    Settings()
                except ValueError as error:
                    pytest.fail(f"{parameter_name}={value!r} deploys, but {variable} is refused: {error}")
                monkeypatch.delenv(variable)
                checked += 1
    assert checked > 50


def _readme_parameter_rows() -> list[tuple[list[str], str]]:
    """(parameter names, default cell) of each row of the README's parameter table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| Parameter | Default | Meaning |", 1)[1].split("\n\n", 1)[0]
    rows = [[cell.strip() for cell in row.strip("|").split("|")] for row in table.splitlines()[2:]]
    return [(re.findall(r"`(\w+)`", cells[0]), cells[1]) for cells in rows]


def test_the_readme_gives_each_parameters_default_as_the_template_and_the_code_have_it(
    template: dict[str, Any],
) -> None:
    # "empty (`10`)": the stack passes nothing and the code's default applies, which is what the brackets say.
    checked = 0
    for names, cell in _readme_parameter_rows():
        stated = cell.split(" (", 1)[0]
        code_defaults = re.findall(r"`([^`]*)`", cell.split(" (", 1)[1]) if " (" in cell else []
        for position, name in enumerate(names):
            default = str(template["Parameters"][name].get("Default", ""))
            assert stated == (f"`{default}`" if default else "empty"), f"{name}: README says {cell}"
            variables = settings_set_from(template, name)
            if code_defaults:
                [variable] = variables
                field = next(f for f in Settings.model_fields if env_name(f) == variable)
                value = Settings.model_fields[field].default
                assert code_defaults[position] == str(getattr(value, "value", value)), (
                    f"{name}: README says {cell}"
                )
            elif not default:
                # A bare "empty" says nothing applies: the code's default must be nothing too.
                for field in (f for f in Settings.model_fields if env_name(f) in variables):
                    value = Settings.model_fields[field].get_default(call_default_factory=True)
                    assert not value, f"{name}: left empty it means {value!r}, which the README must give"
            checked += 1
    assert checked == len(template["Parameters"])


def test_the_configuration_reference_names_the_parameter_each_variable_is_set_from(
    template: dict[str, Any],
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reference = readme.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    scopes = environments(template)
    for variable, meaning in re.findall(r"^\| `(\w+)` \| [^|]* \| (.*) \|$", reference, re.M):
        named = set(re.findall(r"[Pp]arameter `(\w+)`", meaning))
        wired = {ref for scope in scopes if variable in scope for ref in parameter_refs(scope[variable])}
        assert named == wired & set(template["Parameters"]), (
            f"{variable}: the reference names {sorted(named)}"
        )


def test_every_parameter_the_docs_name_exists(template: dict[str, Any]) -> None:
    for path in DOCS:
        named = set(re.findall(r"[Pp]arameters? `(\w+)`", path.read_text(encoding="utf-8")))
        assert named <= set(template["Parameters"]), (
            f"{path.name}: {sorted(named - set(template['Parameters']))}"
        )
