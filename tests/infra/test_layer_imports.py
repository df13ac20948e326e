"""Every function imports with only what the layer ships.

The tests run in a virtualenv that also holds the CLI's and the tests' packages (typer, rich, calamine,
moto...). A Lambda function has only the runtime's standard library, the layer (``shared/requirements.txt``
and what those packages need) and its own folder: a module the functions reach that imports anything else
deploys cleanly and then fails on its first event with ``ImportModuleError``. Two checks: one reads every
import the functions can reach, those inside functions included (a lazy import fails as late as possible);
the other imports each handler in a fresh interpreter that refuses every other package.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.support.lambda_imports import (
    PACKAGE_ROOT,
    REMOVED_BY_3_12,
    ROOT,
    handlers,
    import_as_lambda,
    layer_modules,
)


def allowed(module: str) -> bool:
    top = module.partition(".")[0]
    if top in REMOVED_BY_3_12:
        return False
    return top in sys.stdlib_module_names or top == "sync_guard" or top in layer_modules()


# --------------------------------------------------------------------------- reading the imports
def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _catches_import_error(node: ast.Try) -> bool:
    names = {"ImportError", "ModuleNotFoundError"}
    caught = [handler.type for handler in node.handlers]
    return any(
        (isinstance(kind, ast.Name) and kind.id in names)
        or (isinstance(kind, ast.Tuple) and any(isinstance(e, ast.Name) and e.id in names for e in kind.elts))
        for kind in caught
    )


def _imports(nodes: Iterable[ast.AST]) -> Iterator[tuple[ast.stmt, str, list[str]]]:
    """(statement, module, names) for each import that runs at some point: not under ``if TYPE_CHECKING``
    and not one whose absence the code expects (``except ImportError``)."""
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.orelse)
        elif isinstance(node, ast.Try) and _catches_import_error(node):
            continue
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node, node.module, [alias.name for alias in node.names]
        else:
            yield from _imports(ast.iter_child_nodes(node))


def _package_file(module: str) -> Path | None:
    """The file of a ``sync_guard`` module (a package's ``__init__.py``), or None."""
    path = PACKAGE_ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def reachable_imports(start: Path) -> dict[str, str]:
    """Every non-``sync_guard`` module imported from ``start`` or any ``sync_guard`` module it reaches,
    with where (``file:line``) it is first imported."""
    outside: dict[str, str] = {}
    seen: set[Path] = set()
    pending = [start]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, module, names in _imports(tree.body):
            if module.partition(".")[0] != "sync_guard":
                outside.setdefault(module, f"{path.relative_to(ROOT)}:{node.lineno}")
                continue
            # Importing a.b.c runs a, a.b and a.b.c; ``from a.b import c`` may name the submodule c.
            for name in [*_with_parents(module), *(f"{module}.{n}" for n in names)]:
                found = _package_file(name)
                if found is not None:
                    pending.append(found)
    return outside


@pytest.mark.parametrize(("function", "handler"), handlers(), ids=[name for name, _ in handlers()])
def test_every_import_a_function_can_reach_is_in_the_layer(function: str, handler: Path) -> None:
    missing = {module: where for module, where in reachable_imports(handler).items() if not allowed(module)}
    assert not missing, (
        f"{function} reaches imports the layer does not ship (add them to shared/requirements.txt, or keep "
        f"them out of the functions' path): {missing}"
    )


# --------------------------------------------------------------------------- importing for real
_import_once = cache(import_as_lambda)  # one fresh interpreter per handler serves both checks below


@pytest.mark.parametrize(("function", "handler"), handlers(), ids=[name for name, _ in handlers()])
def test_each_handler_imports_with_only_the_layer(function: str, handler: Path) -> None:
    result = _import_once(function, handler)
    assert result.returncode == 0, f"{function} does not import with only the layer:\n{result.stderr[-3000:]}"


#: What a function's cold start must not load, because its path never uses it (benchmarks/cold_start.py
#: times the imports). Only the processor decides, so only it needs the matcher and its libraries; neither
#: the ingest function (it stores and queues) nor the admin API (it queues actions for the outbox) calls
#: Zoho, so neither needs its HTTP client: httpx and tenacity, which a type hint or Powertools' Tracer
#: (patching every library it can) would otherwise import. The functions that carry out what was decided
#: (the outbox, its sweep, the Zoho checks) need neither the engine nor its rules.
MATCHER = ("sync_guard.matching", "rapidfuzz", "phonenumbers", "msgspec")
ENGINE = ("sync_guard.guard.engine", "sync_guard.guard.handler", "sync_guard.rules.catalogue")
ZOHO_CLIENT = ("sync_guard.zoho.http", "sync_guard.zoho.crm", "sync_guard.zoho.books", "httpx", "tenacity")
NOT_ON_THE_PATH = {
    "IngestFunction": (
        *MATCHER,
        *ZOHO_CLIENT,
        "sync_guard.guard",
        "sync_guard.rules",
        "sync_guard.notify",
        "sync_guard.executor",
    ),
    "AdminFunction": (*MATCHER, *ZOHO_CLIENT),
    **dict.fromkeys(("OutboxFunction", "SweepFunction", "ZohoChecksFunction"), (*MATCHER, *ENGINE)),
}


@pytest.mark.parametrize(
    ("function", "handler"),
    [(name, handler) for name, handler in handlers() if name in NOT_ON_THE_PATH],
    ids=[name for name, _ in handlers() if name in NOT_ON_THE_PATH],
)
def test_a_cold_start_loads_nothing_its_function_does_not_use(function: str, handler: Path) -> None:
    result = _import_once(function, handler)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1])["modules"])

    assert set(NOT_ON_THE_PATH[function]) & loaded == set(), f"{function} loads them at cold start"


def test_the_cold_start_check_names_only_functions_of_the_template() -> None:
    assert set(NOT_ON_THE_PATH) <= {name for name, _ in handlers()}


def test_the_checks_refuse_a_package_the_layer_does_not_ship() -> None:
    # The checks above pass only if they can fail: the CLI's packages are installed here, but not shipped.
    assert not allowed("typer")
    assert not allowed("rich.console")
    assert not allowed("python_calamine")
    assert not allowed("imp")  # in the tests' Python, not in the functions' runtime
    for shipped in ("json", "email.utils", "pydantic", "aws_xray_sdk", "wrapt"):
        assert allowed(shipped), shipped
