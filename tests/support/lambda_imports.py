"""A handler imported as Lambda imports it: a fresh interpreter, the function's folder and the layer on the
path, the template's environment, and nothing else importable.

The tests run in a virtualenv that also holds the CLI's and the tests' packages (typer, rich, calamine,
moto...). A Lambda function has only the runtime's standard library, the layer (``shared/requirements.txt``
and what those packages need) and its own folder. ``tests/infra/test_layer_imports.py`` checks that every
handler imports so; ``benchmarks/cold_start.py`` times those imports: a package only the virtualenv holds
(httpx pulls in rich and click when they are installed) would otherwise be timed as if Lambda loaded it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path
from typing import Any

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
#: Standard modules the tests' Python (3.11) has and the functions' runtime (3.12) no longer does.
REMOVED_BY_3_12 = frozenset({"imp", "distutils", "asynchat", "asyncore", "smtpd"})


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
        except PackageNotFoundError as error:
            raise RuntimeError(f"{requirement.name} (layer requirement) is not installed here") from error
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


_IMPORT_AS_LAMBDA = """
import importlib.abc, importlib.machinery, json, os, sys, sysconfig, time
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
wall, cpu = time.perf_counter(), time.process_time()
__import__(module)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({
    "wall": wall,
    "cpu": cpu,
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's peak.
    "max_rss_kib": next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")),
    "modules": sorted(sys.modules),
}))
"""


def lambda_environment(function: str, handler: Path) -> dict[str, str]:
    """What the function's container has: the template's variables and the ones Lambda itself sets (with
    ``LAMBDA_TASK_ROOT`` the X-Ray SDK and Powertools' Tracer behave as deployed, tracing on)."""
    return {
        **function_environment(function),
        "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_REGION": "eu-west-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "LAMBDA_TASK_ROOT": str(handler.parent),
        "PATH": "/usr/bin:/bin",
    }


def import_as_lambda(function: str, handler: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Import ``handler`` in a fresh interpreter as Lambda would; on success its stdout is one JSON line:
    ``wall`` and ``cpu`` seconds of the import, ``max_rss_kib``, and ``modules`` (``sys.modules`` after)."""
    # The function's own folder is on the path as the runtime puts it there: its sibling modules count.
    own = {p.stem for p in handler.parent.glob("*.py")}
    return subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _IMPORT_AS_LAMBDA,
            ",".join(sorted(layer_modules() | own)),
            str(PACKAGE_ROOT),
            str(handler.parent),
            handler.stem,
            ",".join(sorted(REMOVED_BY_3_12)),
        ],
        env=lambda_environment(function, handler),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def imported_as_lambda(function: str, handler: Path) -> dict[str, Any]:
    """``import_as_lambda``'s figures; a failed import raises, with the child's error."""
    result = import_as_lambda(function, handler)
    if result.returncode != 0:
        raise RuntimeError(f"{function} does not import with only the layer:\n{result.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures
