"""The README documents what a stranger needs: the two quick-start commands and every setting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sync_guard.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def env_name(field_name: str) -> str:
    alias = Settings.model_fields[field_name].validation_alias
    return str(alias) if isinstance(alias, str) else f"SYNC_GUARD_{field_name.upper()}"


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
