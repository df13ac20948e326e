"""``sync-guard``: the operator's command line.

Each subcommand lives in its own module in this package and exposes ``register(app)``; modules are
discovered at start-up so that adding a command never means editing a central list.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from sync_guard import __version__

app = typer.Typer(
    name="sync-guard",
    help="Zoho Sync Guard: find, hold back and report the duplicates the Zoho CRM <-> Books sync creates.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Zoho Sync Guard operator CLI."""


@app.command()
def version() -> None:
    """Print the guard's version."""
    typer.echo(__version__)


def _register_subcommands() -> None:
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)


_register_subcommands()


def main() -> None:
    """Console-script entry point: a guard that cannot be reached is an error message, not a traceback."""
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    try:
        app()
    except NoCredentialsError as error:
        typer.echo(
            "error: no AWS credentials, and no running 'sync-guard serve' to talk to. Configure AWS "
            "credentials and give --stack-name/--region (or SYNC_GUARD_* table names), or start "
            "'sync-guard serve' in another shell.",
            err=True,
        )
        raise SystemExit(2) from error
    except EndpointConnectionError as error:
        typer.echo(
            f"error: cannot reach {error.kwargs.get('endpoint_url', 'the endpoint')}. If that is a "
            "local stack, is 'sync-guard serve' still running?",
            err=True,
        )
        raise SystemExit(2) from error
