"""Which guard an admin command talks to: a deployed stack, explicit tables, or the running local stack.

Order of precedence: explicit flags (``--stack-name``/``--region`` resolve names from the CloudFormation
outputs), then ``SYNC_GUARD_*`` variables in the environment, then a running ``sync-guard serve`` (found
through its ``stack.json``), then the defaults.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import boto3

from sync_guard.cli._options import (
    DEFAULT_STATE_DIR,
    ActorOption,
    AuditTableOption,
    RegionOption,
    ShadowTableOption,
    StackOption,
    StateDirOption,
)
from sync_guard.config import Settings
from sync_guard.local.stack import LocalStackState, settings_overrides


def default_actor() -> str:
    """The OS user, as ``user:<name>`` (the audit trail says who, not which machine)."""
    try:
        return f"user:{getpass.getuser()}"
    except (KeyError, OSError):
        return "user:unknown"


# CloudFormation output -> Settings field.
_STACK_OUTPUTS = {
    "EventsTableName": "events_table",
    "ShadowTableName": "shadow_table",
    "AuditTableName": "audit_table",
    "OutboxTableName": "outbox_table",
    "ProcessingQueueUrl": "queue_url",
    "ProcessingDeadLetterQueueUrl": "dlq_url",
    "OutboxQueueUrl": "outbox_queue_url",
    "OutboxDeadLetterQueueUrl": "outbox_dlq_url",
    "FinanceTopicArn": "finance_topic_arn",
    "ZohoChecksFunctionName": "zoho_checks_function",
}


# The stack's parameters the functions read as settings: an admin command acts as the functions do
# (a release in an enforce-mode stack undoes the hold in Zoho, with the stack's Zoho credentials and hold
# tag; seed and rekey cut phone keys for the stack's country; match-report --from-zoho puts both
# organisation ids in its ticket). A parameter left empty means the default.
_STACK_PARAMETERS = {
    "Mode": "mode",
    "ZohoSecretName": "zoho_secret_name",
    "ZohoDataCentre": "zoho_data_centre",
    "ZohoBooksOrganizationId": "zoho_books_organization_id",
    "ZohoCrmOrgId": "zoho_crm_org_id",
    "CrmHoldTag": "crm_hold_tag",
    "CrmHoldField": "crm_hold_field",
    "DefaultPhoneRegion": "default_phone_region",
}


def stack_output_overrides(stack_name: str, region: str | None) -> dict[str, Any]:
    """Settings values read from a deployed stack's outputs and parameters."""
    cloudformation = boto3.client("cloudformation", region_name=region)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    overrides: dict[str, Any] = {}
    for parameter in stack.get("Parameters", []):
        field = _STACK_PARAMETERS.get(parameter["ParameterKey"])
        if field and field in Settings.model_fields and parameter.get("ParameterValue"):
            overrides[field] = parameter["ParameterValue"]
    for output in stack.get("Outputs", []):
        field = _STACK_OUTPUTS.get(output["OutputKey"])
        if field and field in Settings.model_fields:
            overrides[field] = output["OutputValue"]
    # The stack's region, also when boto3 found it in the operator's profile: the tables, queues and
    # functions are where the stack is, not in the settings' default region.
    overrides["aws_region"] = region or cloudformation.meta.region_name
    return overrides


def _environment_configures_tables(settings: Settings) -> bool:
    return bool(settings.model_fields_set & {"events_table", "shadow_table", "audit_table"})


def resolve_settings(
    *,
    stack_name: str | None = None,
    region: str | None = None,
    state_dir: Path = DEFAULT_STATE_DIR,
    **overrides: Any,
) -> Settings:
    """The Settings an admin command should use (see the module docstring for the precedence)."""
    explicit: dict[str, Any] = {name: value for name, value in overrides.items() if value not in (None, "")}
    if stack_name:
        return Settings(**(stack_output_overrides(stack_name, region) | explicit))
    from_environment = Settings()
    if explicit or _environment_configures_tables(from_environment):
        return Settings(**explicit) if explicit else from_environment
    local = LocalStackState.read(state_dir)
    if local is not None:
        local_values: dict[str, Any] = dict(settings_overrides(local)) | _simulator_credentials(local)
        return Settings(**local_values)
    return from_environment


def _simulator_credentials(local: LocalStackState) -> dict[str, Any]:
    """The Zoho simulator's credentials, when the local stack talks to its simulator.

    ``stack.json`` leaves secrets out; the simulator's are fixed fakes, not secrets, and a command that
    calls Zoho itself (``preflight`` reads the records) needs them. A stack on live Zoho gets nothing here:
    its credentials come from the environment, as they did for ``serve``.
    """
    from sync_guard.local.zoho_simulator.server import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_REFRESH_TOKEN,
    )

    talks_to_simulator = (
        bool(local.zoho_url) and local.environment.get("SYNC_GUARD_ZOHO_API_URL") == local.zoho_url
    )
    if not talks_to_simulator or local.environment.get("SYNC_GUARD_ZOHO_CLIENT_ID") != DEFAULT_CLIENT_ID:
        return {}
    return {"zoho_client_secret": DEFAULT_CLIENT_SECRET, "zoho_refresh_token": DEFAULT_REFRESH_TOKEN}


# The options are re-exported: the commands take them from here, beside resolve_settings.
__all__ = [
    "DEFAULT_STATE_DIR",
    "ActorOption",
    "AuditTableOption",
    "RegionOption",
    "ShadowTableOption",
    "StackOption",
    "StateDirOption",
    "default_actor",
    "resolve_settings",
]
