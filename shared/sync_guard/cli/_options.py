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
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who does this, for the audit trail (default: your OS user).")
]
