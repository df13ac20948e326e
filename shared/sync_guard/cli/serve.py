"""``sync-guard serve``: the whole guard on this machine, with no AWS account and no Zoho account."""

from __future__ import annotations

import shutil
import signal
import threading
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sync_guard.cli._context import DEFAULT_STATE_DIR
from sync_guard.config import Mode, Settings

if TYPE_CHECKING:
    from sync_guard.local.stack import LocalStack
    from sync_guard.local.zoho_simulator import ZohoSimulator
    from sync_guard.local.zoho_simulator.saved import SavedZoho
    from sync_guard.local.zoho_simulator.state import SimulatorState


class ZohoTarget(StrEnum):
    SIMULATOR = "simulator"
    LIVE = "live"


def register(app: typer.Typer) -> None:
    app.command()(serve)


def require_local_stack_packages(command: str) -> None:
    """Stop, naming what to install, where the local stack's packages (the ``dev`` extra) are missing.

    ``pip install -e '.[cli]'`` is enough for the admin commands and the match report; without this, a
    ``serve`` or ``demo`` there would end in a traceback about a module the operator never heard of.
    """
    from sync_guard.local import missing_local_stack_packages

    missing = missing_local_stack_packages()
    if missing:
        typer.echo(
            f"error: sync-guard {command} runs the local stack, which needs {' and '.join(missing)} from "
            "the dev extra: pip install -e '.[dev]' (or make install)",
            err=True,
        )
        raise typer.Exit(2)


def serve(
    port: Annotated[
        int,
        typer.Option(min=0, max=65535, help="Port of the webhook and admin endpoints (0 picks a free one)."),
    ] = 3000,
    zoho: Annotated[
        ZohoTarget, typer.Option(help="simulator: a local Zoho; live: the Zoho data centre configured.")
    ] = ZohoTarget.SIMULATOR,
    mode: Annotated[
        Mode | None,
        typer.Option(help="Guard mode. Default: enforce with the simulator, observe with live Zoho."),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where the local data and stack.json live.")
    ] = DEFAULT_STATE_DIR,
    fresh: Annotated[
        bool,
        typer.Option(help="Start from empty tables and an empty simulator instead of the persisted ones."),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the Zoho simulator (ids, injected faults).")] = 0,
    sync_interval: Annotated[
        float,
        typer.Option(help="Seconds between the simulated native sync's runs (0: no native sync)."),
    ] = 15.0,
) -> None:
    """Run the guard locally: the template's handlers, DynamoDB Local, SQS/SNS and a Zoho simulator.

    Stops cleanly on Ctrl-C or SIGTERM. While it runs, `sync-guard audit`, the quarantine commands and
    `replay-dlq` reach it with no extra flags.
    """
    require_local_stack_packages("serve")

    console = Console()
    # Absolute: DynamoDB Local runs in its own directory and would misread a relative data path.
    state_dir = state_dir.resolve()
    from sync_guard.local.zoho_simulator.saved import ZOHO_STATE_FILE

    # The simulator's records beside the tables that name them (the demo's, or the last serve's).
    zoho_file = state_dir / ZOHO_STATE_FILE
    if fresh:
        shutil.rmtree(state_dir / "data", ignore_errors=True)
        zoho_file.unlink(missing_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    notifications_file = (state_dir / "notifications.txt").resolve()
    environment = {"SYNC_GUARD_NOTIFY_FILE": str(notifications_file)}
    configured = Settings()
    if configured.webhook_secret is not None:
        environment["SYNC_GUARD_WEBHOOK_SECRET"] = configured.webhook_secret.get_secret_value()
    mode = mode or (Mode.ENFORCE if zoho is ZohoTarget.SIMULATOR else Mode.OBSERVE)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    simulator = None
    saved = None
    zoho_url = "live Zoho (" + configured.zoho_data_centre.value + ")"
    if zoho is ZohoTarget.SIMULATOR:
        simulator, saved = serve_simulator(console, state_dir, seed=seed)
        simulator.start()
        environment |= simulator.settings_env()
        zoho_url = simulator.url
    stack = serve_stack(state_dir, port=port, zoho=zoho, mode=mode, environment=environment)
    emitter = None
    native_sync = None
    started = False
    try:
        with console.status("Starting DynamoDB Local, moto and the functions..."):
            stack.start()
        started = True
        if simulator is not None:
            # The simulator's Zoho sends its webhooks to this guard, and its native sync runs on an interval.
            from sync_guard.local.zoho_simulator.native_sync import NativeSync, SyncAssumptions
            from sync_guard.local.zoho_simulator.webhooks import GuardEndpoints, WebhookEmitter

            endpoints = GuardEndpoints.from_api_url(stack.api_url, stack.webhook_secret)
            emitter = WebhookEmitter(simulator.state, endpoints)
            if sync_interval > 0:
                native_sync = NativeSync(
                    simulator.state,
                    hold_tag=configured.crm_hold_tag,
                    assumptions=SyncAssumptions(cycle_interval_seconds=sync_interval),
                )
                # Reopened, the sync carries on with its ID map; a first run would pair by name again.
                if saved is None or not native_sync.resume(saved.syncs):
                    native_sync.connect()
                native_sync.start()
        stack.state(zoho_url=zoho_url, notifications_file=str(notifications_file)).write(state_dir)
        console.print(_summary(stack, mode, zoho_url, notifications_file, state_dir))
        if native_sync is not None:
            console.print(f"Simulated native sync: one run every {sync_interval:g} s (docs/simulator.md)")
        console.print(f"Webhook secret (header X-Sync-Guard-Token): [bold]{stack.webhook_secret}[/bold]")
        console.print("Press Ctrl-C to stop.", style="dim")
        stop.wait()
    finally:
        console.print("Stopping...", style="dim")
        if native_sync is not None:
            native_sync.close()
        if emitter is not None:
            emitter.close()
        stack.stop()
        if simulator is not None:
            simulator.stop()
            if started:
                # The tables stay, so does the Zoho they name: the next serve reopens both.
                syncs = [native_sync.save()] if native_sync is not None else None
                keep_zoho(zoho_file, simulator.state, syncs, saved)
                console.print(f"Zoho simulator's records kept in {zoho_file}", style="dim")
    console.print("Stopped.")


def serve_simulator(
    console: Console, state_dir: Path, *, seed: int
) -> tuple[ZohoSimulator, SavedZoho | None]:
    """Serve's Zoho simulator (not started), with the Zoho saved beside the kept tables of ``state_dir``
    if there is one (see :func:`reopen_zoho`), and that saved Zoho (its native syncs' maps) or None.

    Called before the stack starts: DynamoDB Local writes its files as it does."""
    from sync_guard.local.zoho_simulator import ZohoSimulator
    from sync_guard.local.zoho_simulator.saved import ZOHO_STATE_FILE

    kept_tables = any((state_dir / "data").glob("*"))
    saved = reopen_zoho(console, state_dir / ZOHO_STATE_FILE, kept_tables=kept_tables)
    simulator = ZohoSimulator(seed=seed, port=0)
    if saved is not None:
        simulator.state.load(saved.state)
    return simulator, saved


def reopen_zoho(console: Console, path: Path, *, kept_tables: bool) -> SavedZoho | None:
    """The Zoho saved beside kept tables (by the demo, or the last serve), or None: start empty.

    A file that cannot be read stops serve, naming it: starting empty beside tables that name its records
    would fail every release's untagging and the ``deleted:Books`` check, and the empty Zoho would then be
    saved over it at the end.
    """
    from sync_guard.local.zoho_simulator.saved import SavedZohoError, read_saved_zoho

    if not path.exists():
        console.print(f"Zoho simulator: starts empty (no saved Zoho at {path})")
        return None
    if not kept_tables:
        console.print(f"Zoho simulator: starts empty, as the tables do ({path} is replaced when serve stops)")
        return None
    try:
        saved = read_saved_zoho(path)
    except SavedZohoError as error:
        typer.echo(
            f"error: cannot reopen the simulator's Zoho: {error}. Remove {path} to start the simulator "
            "empty beside the kept tables, or run serve --fresh to start both empty.",
            err=True,
        )
        raise typer.Exit(1) from error
    console.print(f"Zoho simulator: reopened {path} ({saved.summary()})")
    return saved


def keep_zoho(
    path: Path, state: SimulatorState, syncs: list[dict[str, Any]] | None, reopened: SavedZoho | None
) -> None:
    """Save the simulator's Zoho for the next serve; ``syncs`` None (no native sync ran): the reopened
    file's are kept as they were."""
    from sync_guard.local.zoho_simulator.saved import write_saved_zoho_data

    if syncs is None:
        syncs = reopened.syncs if reopened is not None else []
    write_saved_zoho_data(path, state.save(), syncs)


def serve_stack(
    state_dir: Path, *, port: int, zoho: ZohoTarget, mode: Mode, environment: dict[str, str]
) -> LocalStack:
    """The local stack ``serve`` runs (not started), ``environment`` pointing its functions at ``zoho``."""
    from sync_guard.local.stack import LocalStack

    return LocalStack(
        state_dir,
        port=port,
        parameters=stack_parameters(zoho, mode),
        extra_environment=environment,
        # The simulator starts empty with each serve, the tables do not: it issued none of their tokens.
        zoho_starts_afresh=zoho is ZohoTarget.SIMULATOR,
    )


def stack_parameters(zoho: ZohoTarget, mode: Mode) -> dict[str, str]:
    """The template parameters of the local stack."""
    parameters = {"Mode": mode.value}
    if zoho is ZohoTarget.LIVE:
        # The channel id is the deployed guard's: renewing it from here would point the deployed guard's
        # Notification API channel at this machine, which Zoho cannot reach anyway.
        parameters["NotificationChannelId"] = ""
    return parameters


def _summary(
    stack: LocalStack, mode: Mode, zoho_url: str, notifications_file: Path, state_dir: Path
) -> Table:
    state = stack.state()
    table = Table(title=f"Zoho Sync Guard, local ({mode.value} mode)", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("CRM workflow webhooks", f"POST {stack.api_url}/webhooks/crm")
    table.add_row("CRM notifications", f"POST {stack.api_url}/webhooks/crm/notifications")
    table.add_row("Books webhooks", f"POST {stack.api_url}/webhooks/books")
    if stack.http is not None and any(route.path.startswith("/admin") for route in stack.http.routes):
        table.add_row("Admin API", f"{stack.api_url}/admin/...")
    table.add_row("Zoho", zoho_url)
    table.add_row("DynamoDB", state.dynamodb_endpoint_url)
    table.add_row("SQS / SNS (moto)", state.aws_endpoint_url)
    table.add_row("Finance notifications", str(notifications_file))
    table.add_row("State", str(state_dir.resolve()))
    return table
