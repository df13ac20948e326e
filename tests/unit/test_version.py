"""The version the CLI prints is the package's: one number, written in two places."""

from __future__ import annotations

import tomllib
from pathlib import Path

import sync_guard

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_version_is_the_one_pyproject_releases() -> None:
    # sync_guard.__version__ is written out because the Lambda layer carries the code without pip's
    # metadata; this keeps it from drifting from pyproject.toml.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert sync_guard.__version__ == project["version"]
