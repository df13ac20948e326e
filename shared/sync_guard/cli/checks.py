"""``sync-guard checks``: run the scheduled Zoho checks now, instead of waiting up to 15 minutes.

The checks (renew the Notification API channel, feed what webhooks missed, watch for a stalled sync) run
on a schedule in ``ZohoChecksFunction``. After wiring Zoho, after re-authorising a stalled sync, or after
an outage, an admin wants to see them run at once. The command invokes the function itself through
Lambda's Invoke API, so the checks run with the function's own configuration and permissions: the
deployed one with ``--stack-name`` (it needs ``lambda:InvokeFunction`` on the stack's
``ZohoChecksFunctionName`` output), the local one under ``sync-guard serve`` without flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sync_guard.cli._context import (
    DEFAULT_STATE_DIR,
    RegionOption,
    StackOption,
    StateDirOption,
    default_actor,
    resolve_settings,
)

LOCAL_FUNCTION = "ZohoChecksFunction"  # the template's logical id, the local stack's function name
# The function's Timeout (template.yaml) and a margin: an invocation that outlives the client's read
# timeout would be retried by boto3 and run twice, so the client waits it out and never retries.
_READ_TIMEOUT_SECONDS = 300 + 30


@dataclass(frozen=True)
class ChecksTarget:
    """Where the checks function is: a deployed stack's function, or the local stack's."""

    function: str
    endpoint_url: str | None
    region: str
    local: bool

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(read_timeout=_READ_TIMEOUT_SECONDS, retries={"total_max_attempts": 1})
        if self.local:  # the local stack checks no signature, but boto3 signs every request
            return boto3.client(
                "lambda",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id="local",
                aws_secret_access_key="local",  # noqa: S106 - not a secret: the local stack ignores it
                config=config,
            )
        return boto3.client("lambda", region_name=self.region, config=config)


class ChecksFailed(Exception):
    """The function ran and failed, or did not run the checks."""


class NoChecksTarget(ChecksFailed):
    """No checks function to invoke: nothing ran, so it exits 2 as every command that finds no guard does,
    not 1, which says a check failed."""


def find_target(stack_name: str | None, region: str | None, state_dir: Path) -> ChecksTarget:
    """The deployed function (``--stack-name``, or configured), else the running local stack's."""
    from sync_guard.local.stack import LocalStackState

    settings = resolve_settings(stack_name=stack_name, region=region, state_dir=state_dir)
    if settings.zoho_checks_function:
        return ChecksTarget(settings.zoho_checks_function, None, settings.aws_region, local=False)
    if stack_name:
        raise NoChecksTarget(
            f"stack {stack_name} has no ZohoChecksFunctionName output: deploy this version of the "
            "guard (sam deploy), or run the function from the Lambda console."
        )
    local = LocalStackState.read(state_dir)
    if local is None:
        raise NoChecksTarget(
            "no guard to run the checks in: give --stack-name (and --region) for a deployed guard, or "
            "start 'sync-guard serve' in another shell."
        )
    return ChecksTarget(LOCAL_FUNCTION, local.api_url, settings.aws_region, local=True)


def run_checks(target: ChecksTarget, *, actor: str) -> dict[str, dict[str, Any]]:
    """Invoke the checks once and wait for them; their outcome per check, as the function returns it."""
    event = {
        "source": "sync-guard.cli",
        "detail-type": "Scheduled Event",  # the handler treats it as one more scheduled run
        "detail": {"requested_by": actor},
    }
    response = target.client().invoke(
        FunctionName=target.function,
        InvocationType="RequestResponse",
        Payload=json.dumps(event).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        message = payload.get("errorMessage") if isinstance(payload, dict) else payload
        raise ChecksFailed(f"{target.function} failed: {message}")
    if isinstance(payload, dict) and "skipped" in payload:
        raise ChecksFailed(f"{target.function} did not run the checks: {payload['skipped']}")
    if not isinstance(payload, dict):
        raise ChecksFailed(f"{target.function} returned {payload!r}, not the checks' outcomes")
    return payload


def outcome_table(outcomes: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="Zoho checks")
    for column in ("check", "status", "found", "new events", "note"):
        table.add_column(column, overflow="fold")
    for check, outcome in outcomes.items():
        status = str(outcome.get("status", ""))
        if outcome.get("alert"):
            status += " (alert)"
        table.add_row(
            check,
            status,
            str(outcome.get("found", "")),
            str(outcome.get("new_events", "")),
            str(outcome.get("note") or ""),
        )
    return table


def register(app: typer.Typer) -> None:
    @app.command("checks")
    def checks_command(
        stack_name: StackOption = None,
        region: RegionOption = None,
        state_dir: StateDirOption = DEFAULT_STATE_DIR,
        as_json: Annotated[bool, typer.Option("--json", help="Print the outcomes as JSON.")] = False,
    ) -> None:
        """Run the scheduled Zoho checks now and show what each found (channel, missed events, stall)."""
        console = Console()
        try:
            target = find_target(stack_name, region, state_dir)
            outcomes = run_checks(target, actor=default_actor())
        except ChecksFailed as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=2 if isinstance(error, NoChecksTarget) else 1) from error
        if as_json:
            typer.echo(json.dumps(outcomes, indent=2, sort_keys=True))
        else:
            console.print(outcome_table(outcomes))
        if any(o.get("alert") for o in outcomes.values()):
            # With --json, stdout is for the JSON a script reads: the sentence goes to stderr.
            said = Console(stderr=True) if as_json else console
            said.print("An alert is open: finance has been told (see docs/operations.md).", style="bold")
