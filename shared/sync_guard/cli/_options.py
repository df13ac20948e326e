"""The options that name a guard and an actor, shared by the commands (and cheap to import: a command
that never reaches AWS, such as ``match-report`` from exports, must not load the AWS SDK)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_STATE_DIR = Path(".local") / "stack"

# The options every admin command takes to name its guard, all three of them (see resolve_settings;
# tests/unit/cli/test_target_options.py checks each command), and its actor.
StackOption = Annotated[str | None, typer.Option("--stack-name", help="Deployed stack to read outputs from.")]
RegionOption = Annotated[str | None, typer.Option("--region", help="AWS region of the stack.")]
StateDirOption = Annotated[Path, typer.Option("--state-dir", help="Local stack state directory.")]
ShadowTableOption = Annotated[
    str | None, typer.Option("--shadow-table", help="Shadow table name (overrides the stack's).")
]
AuditTableOption = Annotated[
    str | None, typer.Option("--audit-table", help="Audit table name (overrides the stack's).")
]


def named_actor(actor: str | None) -> str | None:
    """``--actor`` as given, without the blanks around it; a blank one is refused naming the option (the
    admin service's own refusal, "every admin operation needs an actor", names the admin API's field, and
    the commands that write their audit entry themselves would record a blank actor)."""
    if actor is None:
        return None
    if not actor.strip():
        raise typer.BadParameter(
            "blank, but every admin operation needs an actor (leave --actor out for your OS user)"
        )
    return actor.strip()


ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor", callback=named_actor, help="Who does this, for the audit trail (default: your OS user)."
    ),
]

# A workbook's sheet to read, one option per export (a CRM and a Books workbook name their sheets apart).
CrmSheetOption = Annotated[
    str | None,
    typer.Option(
        "--crm-sheet",
        metavar="NAME",
        help="Sheet of the CRM workbook to read (default: its first visible one).",
    ),
]
BooksSheetOption = Annotated[
    str | None,
    typer.Option(
        "--books-sheet",
        metavar="NAME",
        help="Sheet of the Books workbook to read (default: its first visible one).",
    ),
]


def check_sheet_options(
    crm: Path | None,
    crm_sheet: str | None,
    books: Path | None,
    books_sheet: str | None,
    *,
    file_options: tuple[str, str] = ("--crm", "--books"),
) -> None:
    """BadParameter, before anything is read, for a sheet named without its export or for an export
    that is a CSV file; ``file_options`` are the command's names of the CRM and the Books export."""
    from sync_guard.exports.reader import is_workbook  # cheap: the workbook library loads only to read

    exports = (
        (crm, crm_sheet, file_options[0], "--crm-sheet"),
        (books, books_sheet, file_options[1], "--books-sheet"),
    )
    for path, sheet, file_option, sheet_option in exports:
        if sheet is None:
            continue
        if path is None:
            raise typer.BadParameter(
                f"no {file_option} to read the sheet of: give {file_option} (a workbook)",
                param_hint=sheet_option,
            )
        if path.exists() and not is_workbook(path):
            raise typer.BadParameter(
                f"{path} is a CSV file, which has no sheets: {sheet_option} names a workbook's sheet",
                param_hint=sheet_option,
            )
