"""The scheduled Zoho checks function inside the local stack (``sync-guard serve --zoho simulator``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync_guard.cli.checks import ChecksTarget
from sync_guard.cli.serve import ZohoTarget, serve_stack, stack_parameters
from sync_guard.config import Mode
from sync_guard.local.runtime import ScheduleEventSource
from sync_guard.local.stack import DYNAMODB_LOG, LocalStack
from sync_guard.local.zoho_simulator import FaultKind, Source, ZohoSimulator
from sync_guard.reconcile.checks import BOOKS_MODIFIED_CHECK
from tests.support.local import watched_stack
from tests.support.logs import LogWatch

pytestmark = pytest.mark.slow


@pytest.fixture
def sim() -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=3) as simulator:
        yield simulator


@pytest.fixture
def stack(tmp_path: Path, sim: ZohoSimulator, log_watch: LogWatch) -> Iterator[LocalStack]:
    environment = sim.settings_env() | {"SYNC_GUARD_NOTIFY_FILE": str(tmp_path / "notifications.txt")}
    with watched_stack(
        log_watch, tmp_path / "stack", port=0, persist=False, extra_environment=environment
    ) as started:
        yield started


def zoho_checks(stack: LocalStack) -> ScheduleEventSource:
    [checks] = [s for s in stack.schedules if s.function_name == "ZohoChecksFunction"]
    return checks


def test_a_scheduled_run_has_the_functions_timeout_and_feeds_what_webhooks_missed(
    stack: LocalStack, sim: ZohoSimulator
) -> None:
    # given a Books customer created without a webhook reaching the guard
    customer = sim.state.books_create_contact(
        {"contact_name": "Granite Willow Trading Ltd"}, source=Source.ADMIN
    )

    # when the schedule fires
    result: dict[str, Any] = zoho_checks(stack).fire()

    # then the run had the function's five minutes, not a default that left no room for one record
    assert result[BOOKS_MODIFIED_CHECK]["status"] == "ok", result[BOOKS_MODIFIED_CHECK]
    assert result[BOOKS_MODIFIED_CHECK]["new_events"] == 1
    assert sim.requests.count("books.get_contact", record_id=customer["contact_id"]) == 1


def test_the_checks_function_reads_its_own_variables_and_registers_the_notification_channel(
    stack: LocalStack, sim: ZohoSimulator
) -> None:
    # when the schedule fires
    result: dict[str, Any] = zoho_checks(stack).fire()

    # then the channel of the template's NotificationChannelId is registered with the simulated CRM
    assert result["notification_channel"]["status"] == "ok", result["notification_channel"]
    [channel] = sim.state.crm_watch_list()
    assert channel["channel_id"] == stack.template["Parameters"]["NotificationChannelId"]["Default"]
    assert channel["token"] == stack.webhook_secret


def test_the_channel_calls_back_the_port_the_stack_listens_on_when_it_picked_a_free_one(
    stack: LocalStack, sim: ZohoSimulator
) -> None:
    # given a stack started with port 0 (serve --port 0: a free port)
    zoho_checks(stack).fire()

    # then Zoho is told the URL the stack serves, not port 0
    [channel] = sim.state.crm_watch_list()
    assert channel["notify_url"] == f"{stack.api_url}/webhooks/crm/notifications"


def test_serve_against_live_zoho_leaves_the_deployed_guards_channel_alone(
    tmp_path: Path, sim: ZohoSimulator, log_watch: LogWatch
) -> None:
    # given serve's stack against a live Zoho (the simulator stands in for it): the channel id is the
    # deployed guard's, and Zoho could not call this machine back anyway
    environment = sim.settings_env() | {"SYNC_GUARD_NOTIFY_FILE": str(tmp_path / "notifications.txt")}
    parameters = stack_parameters(ZohoTarget.LIVE, Mode.OBSERVE)
    with watched_stack(
        log_watch,
        tmp_path / "live",
        port=0,
        persist=False,
        parameters=parameters,
        extra_environment=environment,
    ) as live:
        # when the schedule fires
        result: dict[str, Any] = zoho_checks(live).fire()

    # then no channel is registered: the deployed guard's keeps calling the deployed guard
    assert result["notification_channel"]["status"] == "skipped"
    assert sim.state.crm_watch_list() == []
    # while against the simulator the channel is the local one
    assert stack_parameters(ZohoTarget.SIMULATOR, Mode.ENFORCE) == {"Mode": "enforce"}


def test_serve_started_again_on_its_kept_tables_calls_its_new_simulator_with_a_token_it_issued(
    tmp_path: Path, log_watch: LogWatch
) -> None:
    # given serve's stack run once (as `make demo` leaves it, or serve stopped), its Zoho calls having
    # stored an access token in the tables, which serve keeps; its simulator, and the token, gone with it
    state_dir = tmp_path / "stack"
    results: list[dict[str, Any]] = []
    for _run in ("first", "again"):
        with ZohoSimulator(seed=0) as simulator:  # serve's simulator: the same seed, a fresh state
            environment = simulator.settings_env() | {"SYNC_GUARD_NOTIFY_FILE": str(tmp_path / "notices.txt")}
            stack = serve_stack(
                state_dir, port=0, zoho=ZohoTarget.SIMULATOR, mode=Mode.ENFORCE, environment=environment
            )
            with log_watch.following("serve's DynamoDB Local", state_dir / DYNAMODB_LOG), stack:
                # when the checks run, minutes after the first run's token was minted (a check that
                # fails fails the invocation, naming its error)
                checks = zoho_checks(stack)
                results.append(checks.invoke(checks.scheduled_event()))

    # then the second run's calls reach Zoho too: not refused for a token this simulator never issued
    # (which, minutes old, read as a scope the refresh token lacks: every check failed for ten minutes)
    for result in results:
        assert result["notification_channel"]["status"] == "ok", result["notification_channel"]
        assert result[BOOKS_MODIFIED_CHECK]["status"] == "ok", result[BOOKS_MODIFIED_CHECK]


def run_checks_command(
    stack: LocalStack, tmp_path: Path, log_watch: LogWatch, *args: str
) -> subprocess.CompletedProcess[str]:
    """``sync-guard checks`` with no flags but the state dir that ``serve`` would have written, in a process
    of its own as an admin runs it.

    Not through CliRunner: the stack's functions run in this process, and what they print goes to this
    process's stdout, which CliRunner swaps for the command's while it runs. (Powertools' ColdStart metric,
    which it prints even with POWERTOOLS_METRICS_DISABLED, once landed in the command's JSON that way; the
    local runtime now keeps it from being printed, but any line a function prints would do the same.)"""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    stack.state().write(state_dir)
    command = [sys.executable, "-m", "sync_guard.cli", "checks", "--state-dir", str(state_dir), *args]
    return log_watch.run("sync-guard checks", command)


def test_sync_guard_checks_runs_them_now_through_lambdas_invoke_api(
    tmp_path: Path, stack: LocalStack, sim: ZohoSimulator, log_watch: LogWatch
) -> None:
    # given serve's state file, and a Books customer created without a webhook reaching the guard
    sim.state.books_create_contact({"contact_name": "Quarry Lantern Supplies Ltd"}, source=Source.ADMIN)

    # when an admin runs the checks instead of waiting for the schedule
    result = run_checks_command(stack, tmp_path, log_watch, "--json")

    # then the local stack's checks function ran once, with its own configuration, and said what it found
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)
    assert outcomes[BOOKS_MODIFIED_CHECK]["new_events"] == 1
    assert outcomes["notification_channel"]["status"] == "ok"
    assert zoho_checks(stack).invocations == 1
    [channel] = sim.state.crm_watch_list()
    assert channel["notify_url"] == f"{stack.api_url}/webhooks/crm/notifications"


def test_sync_guard_checks_says_when_the_checks_failed(
    tmp_path: Path, stack: LocalStack, sim: ZohoSimulator, log_watch: LogWatch
) -> None:
    # given a Zoho that answers every call with a server error
    sim.faults.configure(rate=1.0, weights={FaultKind.SERVER_ERROR: 1.0})

    # when an admin runs the checks
    result = run_checks_command(stack, tmp_path, log_watch)

    # then the command fails and names the checks that failed, as the function's error says
    assert result.returncode == 1
    said = result.stdout + result.stderr
    assert "ZohoChecksFunction failed: scheduled Zoho checks failed:" in said
    assert "notification_channel" in said


def test_only_scheduled_functions_answer_the_invoke_api(stack: LocalStack) -> None:
    # the admin function's operations are reached through its IAM-authorised routes, not by name
    client = ChecksTarget("AdminFunction", stack.api_url, "eu-west-2", local=True).client()

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="AdminFunction", Payload=b"{}")
