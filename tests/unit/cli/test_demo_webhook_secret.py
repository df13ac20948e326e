"""The demo's local stack takes the webhook secret the environment sets, as `sync-guard serve` does, so that
whoever runs it (the e2e test's log watch) knows the secret to look for."""

from __future__ import annotations

import pytest

from sync_guard.cli.demo import configured_webhook_secret


def test_the_demo_takes_the_webhook_secret_the_environment_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", "set-by-the-caller-0123456789")
    assert configured_webhook_secret() == "set-by-the-caller-0123456789"


def test_without_one_the_local_stack_makes_its_own() -> None:
    assert configured_webhook_secret() is None
