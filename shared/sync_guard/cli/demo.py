"""``sync-guard demo``: the seed's duplicate patterns, replayed without and with the guard, in a minute.

Starts the whole guard locally (the template's handlers, DynamoDB Local, moto's SQS/SNS) in enforce mode
with a Zoho simulator whose native sync behaves as the seed field report describes, runs every scenario
twice (the simulator and its sync alone, then with the guard receiving Zoho's webhooks and acting through
the Zoho API) and prints what happened, counted from the simulator's ground truth.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.table import Table

from sync_guard.cli._context import DEFAULT_STATE_DIR
from sync_guard.cli.serve import require_local_stack_packages
from sync_guard.local.scenarios import SCENARIOS
from sync_guard.local.zoho_simulator.saved import ZOHO_STATE_FILE

#: The directory `sync-guard serve` uses, so that after the demo `sync-guard serve` reopens its data and the
#: admin commands (`sync-guard audit`...) find it with no flags.
DEFAULT_DEMO_DIR = DEFAULT_STATE_DIR
#: What the demo sets out to show (issue: the guard on one machine).
TARGET_LIVE_RATIO = 0.05


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    scenario: Annotated[
        list[str] | None, typer.Option(help=f"Run only these scenarios ({', '.join(SCENARIOS)}).")
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its data, logs and the notifications file.")
    ] = DEFAULT_DEMO_DIR,
    without_guard_only: Annotated[
        bool, typer.Option("--without-guard-only", help="Only the simulator and its sync: no local stack.")
    ] = False,
) -> None:
    """Replay the seed's duplicate patterns without and with the guard, and show what it caught."""
    from sync_guard.local.scenarios.guarded import GuardedEnvironment
    from sync_guard.local.scenarios.runner import all_rules, run_scenarios, totals

    names = scenario or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise typer.BadParameter(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    if not without_guard_only:
        require_local_stack_packages("demo")
    # Piped output (CI logs, `| tee`) gets a width that fits the table instead of rich's 80 columns.
    console = Console(file=sys.stdout, stderr=False, width=None if sys.stdout.isatty() else 160)
    err = Console(file=sys.stderr)
    from sync_guard.local.stack import LocalStackState

    if LocalStackState.read(state_dir) is not None:
        err.print(
            f"sync-guard serve is running on {state_dir}: stop it first (the demo starts from empty tables)."
        )
        raise typer.Exit(1)
    # Every demo starts from empty tables and an empty Zoho; both then stay for `sync-guard serve` to reopen.
    shutil.rmtree(state_dir / "data", ignore_errors=True)
    (state_dir / ZOHO_STATE_FILE).unlink(missing_ok=True)
    (state_dir / "notifications.txt").unlink(missing_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "demo.log"
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log, contextlib.ExitStack() as stack:
        # The handlers log JSON lines (as on Lambda): to the log file, not over the table; so do the guard's
        # own loggers, which would otherwise print their warnings over the progress line.
        stack.enter_context(contextlib.redirect_stdout(log))
        stack.enter_context(_logging_to(log))
        environment = None
        if not without_guard_only:
            with err.status(
                "Starting the local stack (DynamoDB Local, moto, the functions, Zoho simulator)..."
            ):
                environment = stack.enter_context(
                    GuardedEnvironment(state_dir, persist=True, webhook_secret=configured_webhook_secret())
                )
        status = stack.enter_context(err.status("Running scenarios..."))

        def progress(result: Any) -> None:
            status.update(f"Ran {result.title}; running the next scenario...")

        results = run_scenarios(names, environment=environment, on_result=progress)
        if environment is not None:
            # The tables name the simulated records: serve reopens them with this Zoho, not an empty one.
            environment.save_zoho(state_dir / ZOHO_STATE_FILE)
        notifications_file = environment.notifications_file if environment else None
    seconds = time.monotonic() - started
    total = totals(results)
    guarded = not without_guard_only
    targets = {
        "live_ratio_max": TARGET_LIVE_RATIO,
        "live_ratio_met": guarded and total.live_ratio <= TARGET_LIVE_RATIO,
        "no_invoiced_duplicates_met": guarded and total.invoiced_with == 0,
    }
    if as_json:
        payload = {
            "scenarios": [result.to_json() for result in results],
            "totals": total.to_json(),
            "targets": targets,
            "rules_fired": all_rules(results),
            "notifications_file": str(notifications_file) if notifications_file else None,
            "log_file": str(log_path),
            "seconds": round(seconds, 1),
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    console.print(_table(results, guarded))
    console.print(_bottom_line(total, targets, guarded, seconds))
    console.print(_next_steps(state_dir, notifications_file, log_path, results))


def configured_webhook_secret() -> str | None:
    """The webhook secret ``SYNC_GUARD_WEBHOOK_SECRET`` sets, as ``sync-guard serve`` takes it; unset, the
    local stack makes one up. The demo never shows it: its own webhooks are the only ones it takes."""
    from sync_guard.config import Settings

    secret = Settings().webhook_secret
    return secret.get_secret_value() if secret is not None else None


@contextlib.contextmanager
def _logging_to(stream: TextIO) -> Iterator[None]:
    """The ``sync_guard`` loggers' records go to ``stream`` for the duration, and only there."""
    guard = logging.getLogger("sync_guard")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    guard.addHandler(handler)
    propagate, guard.propagate = guard.propagate, False
    try:
        yield
    finally:
        guard.removeHandler(handler)
        guard.propagate = propagate


def _table(results: list[Any], guarded: bool) -> Table:
    table = Table(title="Zoho CRM <-> Books duplicates, replayed without and with Zoho Sync Guard")
    table.add_column("Scenario (seed pattern)")
    table.add_column("Without guard", justify="right")
    if guarded:
        table.add_column("With guard", justify="right")
        table.add_column("Held", justify="right")
        table.add_column("Notices", justify="right")
        table.add_column("What caught it")
    for result in results:
        without = result.without_guard
        row = [result.title, _cell(without.duplicates, without.invoiced_duplicates, without.sync_failures)]
        if guarded and result.with_guard is not None:
            with_guard = result.with_guard
            live = with_guard.live_duplicates
            row.append(
                _cell(
                    with_guard.duplicates, with_guard.invoiced_duplicates, with_guard.sync_failures, live=live
                )
            )
            row.append(str(with_guard.held))
            row.append(str(with_guard.notifications))
            caught = [f"{code} x{count}" for code, count in result.rules_fired.items()]
            if result.preflight_holds:
                caught.insert(0, f"preflight held {result.preflight_holds}")
            row.append(", ".join(caught) or "-")
        table.add_row(*row)
    return table


def _cell(duplicates: int, invoiced: int, failures: int, *, live: int | None = None) -> str:
    text = f"{duplicates} dup"
    if live is not None:
        text += f" ({live} live)"
    if invoiced:
        text += f", [red]{invoiced} invoiced[/red]"
    if failures:
        text += f", {failures} sync errors"
    return text


def _bottom_line(total: Any, targets: dict[str, Any], guarded: bool, seconds: float) -> str:
    if not guarded:
        return (
            f"{total.duplicates_without} duplicate customers, {total.invoiced_without} invoiced. "
            f"({seconds:.0f} s)"
        )
    ok = "[green]met[/green]"
    missed = "[red]missed[/red]"
    return (
        f"Without the guard: {total.duplicates_without} duplicate Books customers, "
        f"{total.invoiced_without} of them invoiced.\n"
        f"With the guard: {total.live_with} still live "
        f"(ratio {total.live_ratio:.3f}, target <= {TARGET_LIVE_RATIO}: "
        f"{ok if targets['live_ratio_met'] else missed}), {total.invoiced_with} invoiced "
        f"(target 0: {ok if targets['no_invoiced_duplicates_met'] else missed}). ({seconds:.0f} s)"
    )


def _command() -> str:
    """How the person who ran the demo can run ``sync-guard`` (after ``make demo`` it is not on PATH)."""
    installed = Path(sys.executable).parent / "sync-guard"
    if shutil.which("sync-guard") == str(installed) or not installed.exists():
        return "sync-guard"
    with contextlib.suppress(ValueError):
        return str(installed.relative_to(Path.cwd()))
    return str(installed)


def _next_steps(state_dir: Path, notifications: Path | None, log_path: Path, results: list[Any]) -> str:
    lines = ["", "[bold]Where to look next[/bold]"]
    cli = _command()
    if notifications is not None:
        lines.append(f"  Finance notifications:  {notifications}")
        # Every command finds serve's stack through its state directory: the default, or the demo's.
        where = "" if state_dir == DEFAULT_STATE_DIR else f" --state-dir {state_dir}"
        lines.append(
            f"  Audit trail:            {cli} serve{where}   (reopens the demo's data); in another shell:"
        )
        lines.append(f"                          {cli} audit{where} --rule NAME_DRIFT   (or --record crm:ID)")
    renames = [rename for result in results for rename in result.renames][:2]
    if renames:
        lines.append("  Preflight's renames:    " + renames[0])
        lines += [f"                          {rename}" for rename in renames[1:]]
        lines.append(
            f"  On your own data:       {cli} preflight --dry-run   (or --crm-export/--books-export)"
        )
    lines.append(f"  Handler logs:           {log_path}")
    lines.append("  Simulator assumptions:  docs/simulator.md")
    return "\n".join(lines)
