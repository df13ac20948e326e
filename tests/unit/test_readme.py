"""The README and docs/ document what a stranger needs, as the code has it: the two quick-start commands,
every setting, every command of the CLI, and command lines that the CLI accepts as written."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel

from sync_guard.admin import http as admin_api
from sync_guard.cli import build_app
from sync_guard.cli._words import what_happened
from sync_guard.config import Settings, setting_variable
from sync_guard.executor.model import ActionStatus
from sync_guard.guard.model import Decision, EntryKind
from sync_guard.local.template import load_template
from sync_guard.local.zoho_simulator.native_sync import SyncAssumptions
from sync_guard.notify import FinanceNotice, NoticeRecord
from sync_guard.zoho.auth import ZohoCredentials
from sync_guard.zoho.payloads import crm_workflow_body
from tests.unit.guard.builders import audit_entry

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


env_name = setting_variable  # the variable that sets a field, as the CLI names it when it is wrong


def test_quick_start_is_exactly_make_demo_and_make_test() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick_start, re.S)
    assert block is not None
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_every_setting_is_in_the_configuration_reference() -> None:
    reference = README.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    missing = [env_name(name) for name in Settings.model_fields if f"`{env_name(name)}`" not in reference]
    assert not missing, f"undocumented settings: {missing}"


def documented_default_matches(cell: str, default: Any) -> bool:
    """Whether a default cell of the configuration reference (`` `10` ``, ``empty``, ``unset``, ``derived``)
    says what the setting's default is."""
    if cell in ("empty", "derived"):  # derived: empty, and the code works the value out (notice links)
        return default == ""
    if cell == "unset":
        return default is None
    shown = re.fullmatch(r"`([^`]*)`", cell)
    if shown is None:
        return False
    if isinstance(default, int | float | dict):  # `10` for 10.0, `{}` for {}
        return bool(json.loads(shown.group(1)) == default)
    return shown.group(1) == str(getattr(default, "value", default))


def test_the_configuration_reference_gives_each_settings_default() -> None:
    # A deployer leaves a variable unset because the table says its default is what they want.
    reference = README.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    cells = dict(re.findall(r"^\| `(\w+)` \| ([^|]*?) \|", reference, re.M))
    wrong = [
        f"{env_name(name)}: README says {cells[env_name(name)]}, the code {default!r}"
        for name, field in Settings.model_fields.items()
        if env_name(name) in cells
        and not documented_default_matches(
            cells[env_name(name)], default := field.get_default(call_default_factory=True)
        )
    ]
    assert not wrong, wrong


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "make test" in ci


def test_the_webhook_secret_the_readme_creates_fits_every_place_it_is_used() -> None:
    # It is the channel token Zoho CRM echoes (at most 50 characters) and the key a Books webhook's
    # `secret` would hold (12 to 50 letters and digits): a URL-safe token with "-" or "_" fits neither.
    command = re.search(r"--name sync-guard/webhook-secret.*?python3 -c '([^']*)'", README, re.S)
    assert command is not None
    for _ in range(8):  # the generator is random: a wrong alphabet shows within a few draws
        secret = subprocess.run(
            [sys.executable, "-c", command.group(1)], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert 12 <= len(secret) <= 50, secret
        assert re.fullmatch(r"[A-Za-z0-9]+", secret), secret


# ------------------------------------------------------------- the sync-guard command lines in the docs

CLI = typer.main.get_group(build_app())
FENCED = re.compile(r"```[^\n]*\n(.*?)```", re.S)


def leaf_commands(group: typer.core.TyperGroup, prefix: str = "") -> dict[str, typer.core.TyperCommand]:
    """Every command that runs, by its full name (``quarantines hold``)."""
    found: dict[str, typer.core.TyperCommand] = {}
    for name, command in group.commands.items():
        if isinstance(command, typer.core.TyperGroup):
            found |= leaf_commands(command, f"{prefix}{name} ")
        else:
            found[f"{prefix}{name}"] = command
    return found


COMMANDS = leaf_commands(CLI)


def options_of(command: typer.core.TyperCommand) -> set[str]:
    return {option for param in command.params for option in (*param.opts, *param.secondary_opts)}


def documented_command_lines() -> list[tuple[str, str, bool]]:
    """(doc, command line, complete?) for every ``sync-guard ...`` the docs show.

    Lines in a code block are meant to be run as they stand; a `sync-guard ...` in the text may leave
    out what the command requires (``sync-guard show``). A table cell's ``list\\|hold`` lists commands.
    """
    lines: list[tuple[str, str, bool]] = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in FENCED.findall(text):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith("sync-guard "):
                    lines.append((path.name, line, True))
        prose = FENCED.sub("", text).replace("\n", " ")
        for span in re.findall(r"`(sync-guard [^`]*)`", prose):
            words = span.replace("\\|", "|").split()
            alternatives = next((i for i, word in enumerate(words) if "|" in word), None)
            if alternatives is None:
                lines.append((path.name, " ".join(words), False))
                continue
            for choice in words[alternatives].split("|"):
                lines.append((path.name, " ".join([*words[:alternatives], choice]), False))
    return lines


def find_command(args: list[str]) -> tuple[str, list[str]]:
    """The command ``args`` name (its full name, or as much of it as exists) and the arguments left."""
    name: list[str] = []
    group: typer.core.TyperCommand = CLI
    while args and isinstance(group, typer.core.TyperGroup) and args[0] in group.commands:
        name.append(args[0])
        group = group.commands[args.pop(0)]
    return " ".join(name), args


LINES = [(doc, line, complete) for doc, line, complete in documented_command_lines() if "COMMAND" not in line]


def test_the_docs_show_command_lines() -> None:
    # The extraction below must keep finding them: without lines, the next test checks nothing.
    assert sum(complete for _, _, complete in LINES) > 20
    assert sum(not complete for _, _, complete in LINES) > 20


@pytest.mark.parametrize(("doc", "line", "complete"), LINES, ids=[f"{d}: {line}" for d, line, _ in LINES])
def test_every_command_line_in_the_docs_is_one_the_cli_accepts(doc: str, line: str, complete: bool) -> None:
    args = shlex.split(line, comments=True)[1:]
    args = args[: args.index(">")] if ">" in args else args  # "... --csv > march.csv"
    name, rest = find_command(args)
    assert name in COMMANDS, f"{doc}: `{line}`: no such command"
    command = COMMANDS[name]
    if complete:
        # Parses as the console script would (options, their values and what is required), runs nothing.
        try:
            command.make_context(f"sync-guard {name}", rest)
        except typer.Exit:  # --help
            pass
        except Exception as error:  # click's UsageError (typer brings its own click: no import to name it)
            pytest.fail(f"{doc}: `{line}` is refused: {error}")
    else:
        named = {word.strip("[]").split("=")[0] for word in rest if word.strip("[]").startswith("--")}
        unknown = named - options_of(command)
        assert not unknown, f"{doc}: `{line}`: sync-guard {name} has no {sorted(unknown)}"


def test_every_option_the_docs_name_in_passing_exists() -> None:
    # "`--module Contacts`", "`--jobs N`": an option named on its own belongs to a command of the CLI, or
    # to one of the scripts the docs run (benchmarks/, scripts/).
    known = {option for command in COMMANDS.values() for option in options_of(command)}
    for script in [*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")]:
        known |= set(re.findall(r"[\"'](--[a-z][a-z0-9-]*)[\"']", script.read_text(encoding="utf-8")))
    for path in DOCS:
        prose = FENCED.sub("", path.read_text(encoding="utf-8")).replace("\n", " ")
        named = {
            o
            for span in re.findall(r"`(--[^`]*)`", prose)
            for o in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", span)
        }
        assert named <= known, f"{path.name} names options nothing has: {sorted(named - known)}"


def test_every_command_is_in_the_readme() -> None:
    # A command the README does not name is one nobody runs (one it names but the CLI lost fails above).
    listed = {find_command(line.split()[1:])[0] for doc, line, _ in LINES if doc == "README.md"}
    assert set(COMMANDS) <= listed, f"commands missing from the README: {sorted(set(COMMANDS) - listed)}"


# ------------------------------------------------------------- what the stack gives a deployer and an admin

TEMPLATE = load_template()


def test_every_stack_output_is_in_the_readme() -> None:
    missing = [name for name in TEMPLATE["Outputs"] if f"`{name}`" not in README]
    assert not missing, f"stack outputs the README does not name: {missing}"


ADMIN_API = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8").split("## The admin API", 1)[1]
ROUTE_ROWS = dict(re.findall(r"^\| `((?:GET|POST) /[^`]*)` \| (.*) \|$", ADMIN_API, re.M))
# The request model each route validates its body or query against (functions/admin/app.py).
ROUTE_MODELS: dict[str, type[BaseModel]] = {
    "POST /admin/quarantines/hold": admin_api.HoldRequest,
    "POST /admin/quarantines/release": admin_api.ReleaseRequest,
    "POST /admin/quarantines/apply": admin_api.ApplyRequest,
    "POST /admin/quarantines/forget-release": admin_api.ForgetReleaseRequest,
    "POST /admin/quarantines/confirm": admin_api.ConfirmRequest,
    "POST /admin/links": admin_api.LinkRequest,
    "POST /admin/breaker/reset": admin_api.BreakerResetRequest,
    "GET /admin/audit": admin_api.AuditParams,
}


def test_the_admin_api_table_lists_the_admin_functions_routes() -> None:
    events = TEMPLATE["Resources"]["AdminFunction"]["Properties"]["Events"].values()
    routes = {
        f"{e['Properties']['Method']} {e['Properties']['Path']}" for e in events if e["Type"] == "HttpApi"
    }
    assert set(ROUTE_ROWS) == routes
    assert set(ROUTE_MODELS) <= routes


@pytest.mark.parametrize("route", sorted(ROUTE_MODELS))
def test_the_admin_api_table_shows_every_field_a_route_takes(route: str) -> None:
    example = ROUTE_ROWS[route].split("`")[1]  # the cell's first code span: a JSON body or a query string
    shown = set(json.loads(example)) if example.startswith("{") else set(re.findall(r"[?&](\w+)=", example))
    assert shown == set(ROUTE_MODELS[route].model_fields), f"{route}: the table shows {sorted(shown)}"


def test_operations_md_shows_how_to_call_the_local_admin_api() -> None:
    # sync-guard serve's admin API takes unsigned requests; the docs must name the header that gives the
    # actor there, the actor recorded without it, and routes the admin function has.
    operations = (ROOT / "docs" / "operations.md").read_text()
    local = operations.split("On your machine, `sync-guard serve` serves the same routes", 1)[1][:1500]
    assert f'-H "{admin_api.LOCAL_ACTOR_HEADER}: '.lower() in local.lower()
    assert f"`{admin_api.caller_actor({'headers': {}}, local=True)}` without one" in local
    called = re.findall(r'curl [^"]*"http://127\.0\.0\.1:3000(/admin/[\w/-]+)', local)
    assert called
    assert all(any(route.endswith(f" {path}") for route in ROUTE_ROWS) for path in called), called


# ------------------------------------------------------------------------- the Zoho set-up the README gives

MERGE_FIELD = re.compile(r"\$\{!(\w+)\.(\w+)(\.id)?\}")


@pytest.mark.parametrize(
    "template", re.findall(r"```json\n(.*?)```", README, re.S), ids=["Accounts", "Contacts"]
)
def test_each_crm_webhook_template_sends_the_body_the_guard_builds_for_a_missed_webhook(
    template: str,
) -> None:
    # The scheduled checks replay a webhook Zoho failed to deliver as the body this template would have
    # sent (docs/operations.md): a key or merge field changed on one side only would make replays and
    # deliveries two different events, and a key the guard does not read would be kept but never used.
    assert len(" ".join(line.strip() for line in template.splitlines())) < 500, "Zoho's limit for a raw body"
    body = json.loads(template)
    record: dict[str, Any] = {}
    sent: dict[str, str] = {}
    for number, (key, merge_field) in enumerate(body.items()):
        if key in ("event", "module"):
            continue
        match = MERGE_FIELD.fullmatch(merge_field)
        assert match is not None, f"{key}: {merge_field} is no merge field"
        assert match.group(1) == body["module"], f"{key}: {merge_field} is not a field of {body['module']}"
        sent[key] = f"57257670000000{number:05}"
        field = match.group(2).lower() if match.group(2) == "Id" else match.group(2)
        record[field] = {"id": sent[key]} if match.group(3) else sent[key]

    built = crm_workflow_body(body["module"], record, event=body["event"])

    assert built == {"event": body["event"], "module": body["module"], **sent}


def test_the_zoho_secret_the_readme_creates_is_one_the_guard_reads() -> None:
    secret = re.search(r"--name sync-guard/zoho\s*\\?\s*--secret-string '([^']*)'", README)
    assert secret is not None
    credentials = ZohoCredentials.from_secret_json(secret.group(1))
    assert credentials.client_id == "..."


# ------------------------------------------------------------------ what else the docs say the code has


def test_notifications_md_lists_every_field_of_the_notice_models() -> None:
    section = (
        (ROOT / "docs" / "notifications.md").read_text(encoding="utf-8").split("`FinanceNotice` is", 1)[1]
    )
    for model in (FinanceNotice, NoticeRecord):
        missing = [field for field in model.model_fields if f"`{field}`" not in section]
        assert not missing, f"docs/notifications.md does not describe {model.__name__}'s {missing}"


MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def test_every_make_target_is_in_the_readme() -> None:
    phony = re.search(r"^\.PHONY:(.*)$", MAKEFILE, re.M)
    assert phony is not None
    missing = [target for target in phony.group(1).split() if f"`make {target}`" not in README]
    assert not missing, f"make targets the README does not name: {missing}"


def test_every_make_command_in_the_docs_is_a_target() -> None:
    targets = set(re.findall(r"^([\w-]+):", MAKEFILE, re.M))
    for path in DOCS:
        named = set(re.findall(r"(?:^|`|&& )make ([\w-]+)", path.read_text(encoding="utf-8"), re.M))
        assert named <= targets, (
            f"{path.name} runs make targets the Makefile lacks: {sorted(named - targets)}"
        )


def test_an_actions_life_in_operations_md_shows_every_status() -> None:
    section = (
        (ROOT / "docs" / "operations.md").read_text(encoding="utf-8").split("### An action's life", 1)[1]
    )
    diagram = FENCED.search(section)
    assert diagram is not None
    missing = [
        status.value for status in ActionStatus if not re.search(rf"\b{status.value}\b", diagram.group(1))
    ]
    assert not missing, f"statuses an outbox item can have that the diagram leaves out: {missing}"


def test_the_audit_tables_words_in_operations_md_are_the_tables() -> None:
    section = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8").split("### Audit queries", 1)[1]
    section = " ".join(section.split("\n## ", 1)[0].split())  # a quote may wrap over two lines
    admin, action = EntryKind.ADMIN, EntryKind.ACTION
    examples = [
        audit_entry(admin, Decision.ADMIN, "release", "crm:<id>"),
        audit_entry(admin, Decision.ADMIN, "forget_release", "crm:<id>", "books:<id>"),
        audit_entry(admin, Decision.ADMIN, "replay_dlq"),
        audit_entry(admin, Decision.ADMIN, "feed_crm_deleted_records"),
        audit_entry(action, Decision.QUARANTINE, "tag_crm_record:failed", "crm:<id>"),
        audit_entry(action, Decision.ADMIN, "mark_books_inactive:dead_lettered", "books:<id>"),
        audit_entry(action, Decision.FLAG, "notify_finance:done", "crm:<id>"),
        audit_entry(EntryKind.SELF_ECHO, Decision.ALLOW, "update", "crm:<id>"),
        audit_entry(EntryKind.NOT_DECIDED, Decision.PENDING, "update", "books:<id>"),
    ]
    said = {what_happened(entry) for entry in examples}
    quoted = set(re.findall(r"`((?:allow|flag|quarantine|pending|admin): [^`]+)`", section))
    assert quoted == said, f"docs only: {sorted(quoted - said)}; the table only: {sorted(said - quoted)}"


def test_the_readmes_map_of_the_code_names_every_part_of_the_domain_package() -> None:
    layout = README.split("## Developing", 1)[1].split("```", 2)[1]
    package = ROOT / "shared" / "sync_guard"
    parts = [p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    missing = [part for part in parts if not re.search(rf"(^|\s){part}/", layout, re.M)]
    assert not missing, f"packages of shared/sync_guard the README's layout leaves out: {sorted(missing)}"


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_the_docs_reaches_a_file_and_a_heading() -> None:
    checked = 0
    for path in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://")):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            assert linked.exists(), f"{path.name}: link to {target}: no such file"
            if anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.*)$", linked.read_text(encoding="utf-8"), re.M)
                assert anchor in {heading_anchor(h) for h in headings}, f"{path.name}: no heading #{anchor}"
            checked += 1
    assert checked > 10


def test_simulator_md_gives_every_native_sync_assumption_with_its_default() -> None:
    text = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    table = text.split("`SyncAssumptions` (native sync):", 1)[1].split("\n\n", 2)[1]
    documented: dict[str, str] = {}
    for row in table.splitlines()[2:]:
        names, defaults = (re.findall(r"`([^`]*)`", cell) for cell in row.strip("|").split("|")[:2])
        documented |= dict(zip(names, defaults, strict=True))
    actual = {
        f.name: str(getattr(f.default, "value", f.default)) for f in dataclasses.fields(SyncAssumptions)
    }
    assert documented == actual


# ------------------------------------------------------------- the deployment a stranger follows

DEPLOYING = README.split("## Deploying into your AWS account", 1)[1].split("\n## ", 1)[0]


def template_names() -> set[str]:
    """What the stack has by name: parameters, outputs, resources, its indexes and alarmed metrics."""
    names = set(TEMPLATE["Parameters"]) | set(TEMPLATE["Outputs"]) | set(TEMPLATE["Resources"])
    for resource in TEMPLATE["Resources"].values():
        properties = resource.get("Properties", {})
        names |= {index["IndexName"] for index in properties.get("GlobalSecondaryIndexes", [])}
        names |= {properties["MetricName"]} if "MetricName" in properties else set()
    return names


@pytest.mark.parametrize("doc", ["README.md", "docs/operations.md"])
def test_every_stack_name_the_docs_give_is_in_the_template(doc: str) -> None:
    # `SyncStalledAlarm`, `SweepFunction`, `GuardOperatorPolicyArn`: a name a deployer looks for in the
    # console or in `describe-stacks`. API actions (`PutItem`) are the other names in CamelCase.
    import botocore.session

    session = botocore.session.get_session()
    actions = {
        operation
        for service in ("dynamodb", "sqs", "sns", "lambda", "secretsmanager")
        for operation in session.get_service_model(service).operation_names
    }
    text = (ROOT / doc).read_text(encoding="utf-8")
    named = set(re.findall(r"`([A-Z][a-z]+(?:[A-Z][a-z0-9]*)+)(?:=[^`]*)?`", text))
    named |= set(re.findall(r"OutputKey=='(\w+)'", text))
    unknown = named - template_names() - actions - published_metrics()
    assert not unknown, f"{doc} names what template.yaml does not have: {sorted(unknown)}"


def published_metrics() -> set[str]:
    """The metrics the functions publish by a fixed name (found in CloudWatch, alarmed or not)."""
    return {
        name
        for path in (ROOT / "functions").rglob("*.py")
        for name in re.findall(r'add_metric\(name="(\w+)"', path.read_text(encoding="utf-8"))
    }


def shell_lines() -> list[tuple[str, str]]:
    """(doc, line) for every line of a code block, continuations joined, and every `code span`."""
    lines = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in FENCED.findall(text):
            lines += [(path.name, line) for line in block.replace("\\\n", " ").splitlines()]
        lines += [(path.name, span) for span in re.findall(r"`([^`\n]+)`", FENCED.sub("", text))]
    return lines


# Options every aws CLI command takes (`aws help`), and the ones it adds to commands that page.
AWS_GLOBAL_OPTIONS = {"--query", "--output", "--region", "--profile", "--endpoint-url", "--no-paginate"}
AWS_PAGING_OPTIONS = {"--max-items", "--starting-token", "--page-size"}
# The aws CLI renames a few members (its customizations/argrename.py): Endpoint would read as --endpoint-url.
AWS_RENAMED_OPTIONS = {("sns", "subscribe"): {"--notification-endpoint"}}


def test_every_aws_command_line_in_the_docs_is_one_the_aws_cli_has() -> None:
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    checked = 0
    for doc, line in shell_lines():
        # One segment per command: `... --policy-arn "$(aws cloudformation describe-stacks ...)"`.
        for segment in re.split(r"(?<![\w-])(?=aws [a-z])", line)[1:]:
            words = segment.split()
            if len(words) < 3 or not re.fullmatch(r"[a-z0-9-]+", words[2]):
                continue  # "aws sqs" in passing
            service, command = words[1], words[2]
            assert service in session.get_available_services(), f"{doc}: `{segment}`: no service {service}"
            model = session.get_service_model(service)
            operations = {xform_name(name, "-"): name for name in model.operation_names}
            assert command in operations, f"{doc}: `{segment}`: aws {service} has no {command}"
            members = model.operation_model(operations[command]).input_shape.members
            known = {f"--{xform_name(member, '-')}" for member in members}
            known |= (
                AWS_GLOBAL_OPTIONS | AWS_PAGING_OPTIONS | AWS_RENAMED_OPTIONS.get((service, command), set())
            )
            named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", segment))
            assert named <= known, (
                f"{doc}: `{segment}`: aws {service} {command} has no {sorted(named - known)}"
            )
            checked += 1
    assert checked >= 5


def test_every_sam_command_line_in_the_docs_takes_the_options_shown() -> None:
    import click
    from samcli.cli.context import Context
    from samcli.cli.main import cli as sam

    context = click.Context(sam, obj=Context())  # the SAM CLI loads its commands only under its context
    checked = 0
    for doc, line in shell_lines():
        for segment in re.split(r"(?<![\w-])(?=sam [a-z])", line)[1:]:
            words = segment.split()
            if len(words) < 2 or words[1] not in sam.list_commands(context):
                continue  # "sam build's output"
            command = sam.get_command(context, words[1])
            named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", segment.split("&&")[0]))
            known = {option for param in command.params for option in param.opts}
            assert named <= known, f"{doc}: `{segment}`: sam {words[1]} has no {sorted(named - known)}"
            checked += 1
    assert checked >= 5


def test_the_readme_seeds_the_shadow_mapping_before_it_wires_zoho() -> None:
    # docs/operations.md: seed, then wire the webhooks (`seed` writes without conditions, and a record
    # the shadow does not know looks new). A deployer reads the README top down: the seed must come first.
    wiring = README.index("## Wiring Zoho to the guard")
    seed = re.search(r"^sync-guard seed .*--stack-name", README, re.M)
    assert seed is not None, "the README gives no seed command for the deployed stack"
    assert seed.start() < wiring, "the README wires Zoho before it seeds the shadow mapping"


def test_every_shell_variable_a_doc_command_uses_is_introduced_in_that_doc() -> None:
    # `$TOPIC_ARN`, `$ADMIN_API_URL`: a command a stranger pastes must not lean on a value nobody said
    # how to get. A doc introduces one by setting it in a code block, or by naming it (`$TOPIC_ARN`).
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        commands = FENCED.findall(text) + re.findall(r"`([^`]+)`", FENCED.sub("", text))
        used = {name for command in commands for name in re.findall(r"\$([A-Z][A-Z0-9_]+)\b", command)}
        assigned = {
            name
            for block in FENCED.findall(text)
            for name in re.findall(r"^\s*(?:export )?([A-Z][A-Z0-9_]+)=", block, re.M)
        }
        named = set(re.findall(r"`\$([A-Z][A-Z0-9_]+)`", FENCED.sub("", text)))
        missing = used - assigned - named
        assert not missing, f"{path.name} uses {sorted(missing)} without saying where they come from"


def test_the_docs_that_redeploy_with_a_plain_sam_deploy_have_the_readme_save_its_answers() -> None:
    # A plain `sam deploy` (an upgrade, a parameter changed) takes the stack name, region and every
    # parameter from the samconfig.toml that `sam deploy --guided` saves; without it the command stops.
    plain = [(doc, line) for doc, line in shell_lines() if re.search(r"sam deploy(?!\s+--guided)\b", line)]
    assert plain, "no plain `sam deploy` left in the docs: drop this test"
    assert "samconfig.toml" in DEPLOYING, f"{plain[0][0]}: `{plain[0][1]}` needs samconfig.toml"
    assert "Save arguments to configuration file" in DEPLOYING


def test_the_readmes_prerequisites_name_the_python_sam_build_needs() -> None:
    # `sam build` builds the layer with the functions' runtime and stops without it (it does not fall back
    # on another Python): the deployer must have it before they start.
    prerequisites = DEPLOYING.split("\n\n", 2)[1]
    runtime = TEMPLATE["Globals"]["Function"]["Runtime"]  # python3.12
    assert runtime == TEMPLATE["Resources"]["SyncGuardLayer"]["Metadata"]["BuildMethod"]
    version = runtime.removeprefix("python")
    assert f"Python {version}" in prerequisites
    assert f"`python{version}`" in prerequisites


def test_the_readme_creates_the_iam_group_it_attaches_a_policy_to_and_puts_people_in_it() -> None:
    # A group created in a fresh account has no members: its policy reaches nobody until someone is added.
    for group in re.findall(r"attach-group-policy --group-name ([\w-]+)", README):
        created = README.find(f"create-group --group-name {group}")
        assert -1 < created < README.index(f"attach-group-policy --group-name {group}"), group
        assert f"add-user-to-group --group-name {group}" in README, f"nobody is put in {group}"


def test_the_readmes_webhook_answers_name_each_media_type_read_as_json_without_saying_so() -> None:
    # "415: a content type other than JSON": a media type whose name does not say JSON but is read as JSON
    # (a CRM raw "Text" body comes as text/plain) gets a 400 for a bad body, not that 415.
    from sync_guard.ingest.body import JSON_TYPES

    answers = README.split("What the endpoints answer", 1)[1].split("\n\n", 1)[0]
    unnamed = [media for media in JSON_TYPES if "json" not in media and f"`{media}`" not in answers]
    assert not unnamed, f"the README's 415 reads as if {unnamed} were refused"


def test_every_file_the_docs_name_by_its_path_is_there() -> None:
    # `tests/support/logs.py`, `shared/sync_guard/notify/catalogue.py`: a stranger opens the path as
    # written, from the project's root (or, as a link would, from the doc's folder). A path abbreviated
    # on purpose (`.../zoho_simulator/webhooks.py`) or with a placeholder (`functions/<name>/`) is no path.
    checked = 0
    for path in DOCS:
        prose = FENCED.sub("", path.read_text(encoding="utf-8"))
        for span in set(re.findall(r"`([^`\s]+/[^`\s]+\.[a-z]{2,4})`", prose)):
            if span.startswith(("...", "http")) or re.search(r"[<{*]", span):
                continue
            if span.startswith(".local/"):
                continue  # what serve and the demo write at run time (ignored by git): not in a clone
            assert (ROOT / span).exists() or (path.parent / span).exists(), f"{path.name}: no file `{span}`"
            checked += 1
    assert checked > 10
