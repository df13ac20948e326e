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
import subprocess
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from sync_guard.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOT = ROOT / "shared"
#: The Lambda runtime the layer is built for: requirement markers are read as it would read them.
LAMBDA_ENVIRONMENT = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**LAMBDA_ENVIRONMENT, "extra": extra}) for extra in (extras or {""})
    )


@cache
def layer_distributions() -> frozenset[str]:
    """The distributions pip puts in the layer: its requirements and, recursively, what they require."""
    lines = (PACKAGE_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pending = [Requirement(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]
    found: set[str] = set()
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found.add(name)
        try:
            needs = requires(requirement.name) or []
        except PackageNotFoundError:
            pytest.fail(f"{requirement.name} (layer requirement) is not installed in the test environment")
        pending.extend(r for r in map(Requirement, needs) if _applies(r, set(requirement.extras)))
    return frozenset(found)


@cache
def layer_modules() -> frozenset[str]:
    """Top-level module names the layer provides."""
    shipped = layer_distributions()
    return frozenset(
        module
        for module, distributions in packages_distributions().items()
        if any(canonicalize_name(d) in shipped for d in distributions)
    )


#: Standard modules the tests' Python (3.11) has and the functions' runtime (3.12) no longer does.
REMOVED_BY_3_12 = frozenset({"imp", "distutils", "asynchat", "asyncore", "smtpd"})


def allowed(module: str) -> bool:
    top = module.partition(".")[0]
    if top in REMOVED_BY_3_12:
        return False
    return top in sys.stdlib_module_names or top == "sync_guard" or top in layer_modules()


def _placeholder(value: Any, parameters: dict[str, Any]) -> str:
    """A template value as the deployed function would see it: a parameter's default, or a stand-in for a
    resource's name or address (the import must not need AWS, only the variable to be set)."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return str(parameters[value["Ref"]].get("Default", ""))
    if isinstance(value, dict):
        return "https://sqs.eu-west-2.amazonaws.com/123456789012/sync-guard-placeholder"
    return str(value)


def function_environment(function: str) -> dict[str, str]:
    """The environment variables the template gives ``function``."""
    template = load_template()
    parameters = template.get("Parameters", {})
    variables = {
        **template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}),
        **template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    return {name: _placeholder(value, parameters) for name, value in variables.items()}


def handlers() -> list[tuple[str, Path]]:
    """(function name, handler file) for every function in the template."""
    found = []
    for name, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        module = properties["Handler"].rpartition(".")[0]
        found.append((name, ROOT / properties["CodeUri"] / f"{module.replace('.', '/')}.py"))
    return sorted(found)


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
_REFUSE_OUTSIDE_THE_LAYER = """
import importlib.abc, importlib.machinery, os, sys, sysconfig
allowed, package_root, folder, module = set(sys.argv[1].split(",")), *sys.argv[2:5]
removed = set(sys.argv[5].split(","))  # gone from the functions' runtime, still in this Python
# The standard library's private modules (_sysconfigdata_*, ...) are not in stdlib_module_names.
stdlib = [sysconfig.get_paths()["stdlib"], os.path.join(sysconfig.get_paths()["platstdlib"], "lib-dynload")]

class OnlyTheLayer(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in removed:
            raise ModuleNotFoundError(f"No module named {name!r} (not in Python 3.12)", name=name)
        if top in sys.stdlib_module_names or top in allowed or top == "sync_guard":
            return None
        if path is None and importlib.machinery.PathFinder.find_spec(top, stdlib) is not None:
            return None
        raise ModuleNotFoundError(f"No module named {name!r} (not in the layer)", name=name)

sys.meta_path.insert(0, OnlyTheLayer())
sys.path[:0] = [folder, package_root]
__import__(module)
"""


@pytest.mark.parametrize(("function", "handler"), handlers(), ids=[name for name, _ in handlers()])
def test_each_handler_imports_with_only_the_layer(function: str, handler: Path) -> None:
    # The function's own folder is on the path as the runtime puts it there: its sibling modules count.
    own = {p.stem for p in handler.parent.glob("*.py")}
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _REFUSE_OUTSIDE_THE_LAYER,
            ",".join(sorted(layer_modules() | own)),
            str(PACKAGE_ROOT),
            str(handler.parent),
            handler.stem,
            ",".join(sorted(REMOVED_BY_3_12)),
        ],
        env={**function_environment(function), "AWS_DEFAULT_REGION": "eu-west-2", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{function} does not import with only the layer:\n{result.stderr[-3000:]}"


def test_the_checks_refuse_a_package_the_layer_does_not_ship() -> None:
    # The checks above pass only if they can fail: the CLI's packages are installed here, but not shipped.
    assert not allowed("typer")
    assert not allowed("rich.console")
    assert not allowed("python_calamine")
    assert not allowed("imp")  # in the tests' Python, not in the functions' runtime
    for shipped in ("json", "email.utils", "pydantic", "aws_xray_sdk", "wrapt"):
        assert allowed(shipped), shipped
