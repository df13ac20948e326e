"""``sync-guard``: the operator's command line.

Each subcommand lives in its own module in this package and exposes ``register(app)``; modules are
discovered at start-up so that adding a command never means editing a central list.

Importing every module costs more than half a second (boto3, the local stack, the scenarios), which
``match-report`` on a small export or ``version`` would wait through for nothing. So the console script
loads only the module named like the command it runs (``match-report`` -> ``match_report.py``) when
there is one (none for ``version``), and all of them otherwise (``--help``, or a module registering
other names, such as ``quarantine.py`` with ``quarantines`` and ``breaker``). ``app`` is the whole
command line, built when first asked for.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from sync_guard import __version__
from sync_guard.cli import _teardown
from sync_guard.errors import validation_detail

if TYPE_CHECKING:
    from pydantic import ValidationError

_HELP = "Zoho Sync Guard: find, hold back and report the duplicates the Zoho CRM <-> Books sync creates."


#: pydantic's refusals of a number typed for an option, in our words: ``{value}`` is what was typed,
#: ``{option}`` the option, ``{bound}`` the option's ``min`` or ``max``.
_NUMBER_REFUSALS = {
    "int_parsing": "{value!r} is not a whole number",
    "int_from_float": "{value!r} is not a whole number",
    "float_parsing": "{value!r} is not a number",
    "greater_than_equal": "{value} is less than {bound}, the least {option} takes",
    "less_than_equal": "{value} is more than {bound}, the most {option} takes",
}


def refused_value(error: ValidationError, option: str) -> str:
    """What is wrong with a value typed for ``option`` that typer's pydantic check refused: a number in our
    words ("0 is less than 1, the least --limit takes", not "Input should be greater than or equal to 1"),
    any other refusal in its check's own words (``validation_detail``)."""
    errors = error.errors()
    words = _NUMBER_REFUSALS.get(errors[0]["type"]) if errors else None
    if words is None:
        return validation_detail(error)
    context = errors[0].get("ctx") or {}
    bound = context.get("ge", context.get("le", ""))
    return words.format(value=errors[0]["input"], option=option, bound=bound)


class _CommandLine(TyperGroup):
    """The root command: a value typer refuses is told in our words or the refusal's own.

    typer checks a value with pydantic, which puts "Value error, " before what the check said (``--mode
    bad``: "Value error, 'bad' is not one of 'observe', 'enforce'."), and refuses a number in its own
    terms ("Input should be a valid integer"). Every subcommand is parsed inside the root's ``invoke``, so
    the refusal is reworded here, once, before typer shows it."""

    def invoke(self, ctx: Any) -> Any:
        refuse_blank_values(self)
        try:
            return super().invoke(ctx)
        except typer.BadParameter as error:
            from pydantic import ValidationError

            if isinstance(error.__cause__, ValidationError):
                error.message = refused_value(error.__cause__, _option_name(error))
            raise


def refuse_blank_values(command: Any) -> None:
    """Make every option and argument of ``command`` and of its subcommands refuse a blank value typed for
    it (``--record ""``, ``--state-dir " "``), naming it. Leaving an option out has a meaning (no filter,
    the default guard); an empty value would quietly mean the same, or "." for a path, where the admin
    asked for something. Values not typed (defaults) are not looked at, nor those of a parameter with a
    callback of its own, which says why a blank one will not do (``--actor``)."""
    for subcommand in getattr(command, "commands", {}).values():
        refuse_blank_values(subcommand)
    for param in command.params:
        if param.callback is None and not getattr(param, "refuses_blank", False):
            param.process_value = _refusing_blank(param, param.process_value)
            param.refuses_blank = True


def _refusing_blank(param: Any, process_value: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def checked(ctx: Any, value: Any) -> Any:
        typed = getattr(ctx.get_parameter_source(param.name), "name", "") == "COMMANDLINE"
        values = value if isinstance(value, list | tuple) else [value]
        if typed and any(isinstance(text, str) and not text.strip() for text in values):
            option = next((opt for opt in param.opts if opt.startswith("--")), None)
            leave_out = f", or leave {option} out" if option and not param.required else ""
            raise typer.BadParameter(f"empty: give a value{leave_out}", ctx=ctx, param=param)
        return process_value(ctx, value)

    return checked


def _option_name(error: typer.BadParameter) -> str:
    """The option a refusal is about, as typed (``--limit``, not ``-l``); the parameter's name otherwise."""
    param = error.param
    if param is None:
        return "it"
    return next((opt for opt in param.opts if opt.startswith("--")), param.name or "it")


def _root() -> None:
    """Zoho Sync Guard operator CLI."""


def version() -> None:
    """Print the guard's version."""
    typer.echo(__version__)


def _subcommand_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def build_app(modules: Sequence[str] | None = None) -> typer.Typer:
    """The command line with the subcommands of ``modules`` (``None``: every module in this package)."""
    app = typer.Typer(
        name="sync-guard", help=_HELP, no_args_is_help=True, add_completion=False, cls=_CommandLine
    )
    app.callback()(_root)
    app.command()(version)
    for name in _subcommand_modules() if modules is None else modules:
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)
    return app


def app_for(args: Sequence[str]) -> typer.Typer:
    """The command line that ``args`` needs: only the module named like the command, when there is one."""
    if args and args[0] == "version":
        return build_app([])
    if args and not args[0].startswith("-"):
        module = args[0].replace("-", "_")
        if module in _subcommand_modules():
            return build_app([module])
    return build_app()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        app = build_app()
        globals()["app"] = app  # built once
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point: a guard that cannot be reached is an error message, not a traceback."""
    _teardown.console_started()
    try:
        app_for(sys.argv[1:])()
    except SystemExit as done:
        _teardown.exit_now_if_skipped(done.code)
        raise
    except Exception as error:
        message = _unreachable_guard(error) or _invalid_setting(error)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        raise SystemExit(2) from error
    finally:
        _teardown.console_ended()  # reached only when this process goes on (main called by a test)


def _invalid_setting(error: Exception) -> str | None:
    """What to tell the operator when a setting of the guard (``SYNC_GUARD_MODE=bad``) is refused: the
    variable that sets it, not pydantic's report on the ``Settings`` class."""
    from pydantic import ValidationError

    from sync_guard.config import Settings, setting_variable

    if not isinstance(error, ValidationError) or error.title != Settings.__name__ or not error.errors():
        return None
    field = str(error.errors()[0]["loc"][0]) if error.errors()[0]["loc"] else ""
    return (
        f"{setting_variable(field)}: {validation_detail(error)}. Check that variable (with --stack-name, "
        "also the stack's parameters), or unset it for the default."
    )


def _unreachable_guard(error: Exception) -> str | None:
    """What to tell the operator when ``error`` means the guard's AWS side cannot be reached."""
    # botocore costs a fifth of a second to import: a command that never loaded it cannot raise its errors.
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None:
        return None
    if isinstance(error, exceptions.NoCredentialsError):
        return (
            "no AWS credentials, and no running 'sync-guard serve' to talk to. Configure AWS "
            "credentials and give --stack-name/--region (or SYNC_GUARD_* table names), or start "
            "'sync-guard serve' in another shell."
        )
    if isinstance(error, exceptions.NoRegionError):
        return (
            "no AWS region for the stack: give --region (match-report reads AWS_REGION) or set "
            "AWS_REGION, or start 'sync-guard serve' for the local guard."
        )
    if isinstance(error, exceptions.EndpointConnectionError):
        return (
            f"cannot reach {error.kwargs.get('endpoint_url', 'the endpoint')}. If that is a "
            "local stack, is 'sync-guard serve' still running?"
        )
    if isinstance(error, exceptions.ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        text = error.response.get("Error", {}).get("Message", "")
        if code == "ResourceNotFoundException" and error.operation_name == "GetSecretValue":
            return (
                f"{text or 'a secret the guard reads does not exist'}. Create the Zoho secret "
                "(ZohoSecretName) or the webhook secret (WebhookSecretName) as the README says, in the "
                "stack's region."
            )
        if code == "ResourceNotFoundException":
            return (
                f"{text or 'a table or queue the guard uses does not exist'}. Give the stack that holds "
                "them (--stack-name/--region), or start 'sync-guard serve' for the local one."
            )
        if code == "ValidationError" and "does not exist" in text:
            return f"{text}: check --stack-name and --region."  # CloudFormation: no such stack
        if code in {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"}:
            return f"AWS refused the request ({code}): {text}"
        if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
            return (
                f"the AWS credentials have expired ({code}): renew them (e.g. 'aws sso login') and run again."
            )
        # Any other refusal (throttling, a KMS key disabled, ...) is AWS's own words, not a traceback.
        return f"AWS {error.operation_name} failed ({code or 'no error code'}): {text or error}"
    if isinstance(error, exceptions.BotoCoreError):
        return f"AWS SDK: {error}"  # e.g. a named profile that does not exist, partial credentials
    return None
