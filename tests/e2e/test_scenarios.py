"""The seed's scenarios through the local stack: webhooks over HTTP, the processor, the executor acting on
the Zoho simulator through the real Zoho clients, and the native sync running between the guard's turns.

One guarded environment (stack + simulator) serves the module; every test gets its own simulated
organisation, so the tests do not see each other's records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_guard.local.scenarios.guarded import GuardedEnvironment
from sync_guard.local.scenarios.runner import ScenarioResult, run_scenarios, totals
from sync_guard.local.scenarios.world import HOLD_TAG
from sync_guard.local.zoho_simulator.state import Source
from sync_guard.store.audit import AuditLog
from tests.support.local import watched_guarded_environment
from tests.support.logs import LogWatch

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("guarded-environment")]

WEBHOOK_SECRET = "guarded-environment-secret-0123456789"


@pytest.fixture(scope="module")
def environment(
    tmp_path_factory: pytest.TempPathFactory, log_watch: LogWatch
) -> Iterator[GuardedEnvironment]:
    state_dir = Path(tmp_path_factory.mktemp("guarded"))
    with watched_guarded_environment(
        state_dir, log_watch, "the guarded environment", webhook_secret=WEBHOOK_SECRET
    ) as env:
        yield env


@pytest.fixture(scope="module")
def results(environment: GuardedEnvironment) -> dict[str, ScenarioResult]:
    return {result.name: result for result in run_scenarios(environment=environment)}


def test_a_simulator_webhook_reaches_the_guard_and_its_audit_trail(environment: GuardedEnvironment) -> None:
    # given a live world where the sync paired an account with an invoiced Books customer
    world, _ = environment.new_world()
    sync = world.native_sync()
    paired = world.account("acme", "Acme Limited")
    world.connect(guarded=False)
    world.past_invoice(sync.mapped_customer(paired) or "")
    emitter = environment.go_live(world, label="webhook check")
    try:
        # when sales create the same company in CRM under another name (a UI create fires the workflow)
        crm_id = world.account("acme", "Acme Ltd", source=Source.UI)
        world.checkpoint()
        # then the guard acknowledged it (sent with the secret the environment was given), decided, and
        # audited the decision with the rule that fired
        assert emitter.failures() == []
        assert environment.stack is not None
        assert environment.stack.webhook_secret == WEBHOOK_SECRET
        (event_id,) = emitter.event_ids
        entry = AuditLog.from_settings(environment.settings).get(event_id)
        assert entry is not None
        assert "NAME_DRIFT" in entry.rules
        assert f"crm:{crm_id}" in entry.records
    finally:
        environment.finish(world)


def test_a_record_the_guard_holds_is_skipped_by_the_native_sync(environment: GuardedEnvironment) -> None:
    world, _ = environment.new_world()
    sync = world.native_sync()
    paired = world.account("kestrel", "Kestrel Logistics Limited")
    world.connect(guarded=False)
    world.past_invoice(sync.mapped_customer(paired) or "")
    environment.go_live(world, label="hold check")
    try:
        crm_id = world.account("kestrel", "Kestrel Logistics Ltd", source=Source.UI)
        # the sync's interval comes after the guard had its chance (sync_cycle waits for it first)
        run = world.sync_cycle()
        record = world.state.crm_get("Accounts", crm_id)
        assert record is not None
        assert HOLD_TAG in {tag["name"] for tag in record["Tag"]}
        assert run.created == 0
        assert run.skipped_out_of_scope == 1
        assert sync.mapped_customer(crm_id) is None
        assert len(world.state.books_list_contacts()) == 1
    finally:
        environment.finish(world)


def test_targets_across_all_scenarios(results: dict[str, ScenarioResult]) -> None:
    total = totals(results.values())
    assert total.duplicates_without >= 50  # the seed's patterns really duplicate without the guard
    assert total.live_ratio <= 0.05
    assert total.invoiced_with == 0


@pytest.mark.parametrize(
    "name",
    [
        "name_drift",
        "both_sides",
        "deleted_partner",
        "crm_merge",
        "email_mismatch",
        "display_name_collision",
        "reconnect",
        "stalled_sync",
    ],
)
def test_no_scenario_is_worse_with_the_guard(results: dict[str, ScenarioResult], name: str) -> None:
    result = results[name]
    assert result.with_guard is not None
    assert result.with_guard.live_duplicates <= result.without_guard.live_duplicates
    assert result.with_guard.invoiced_duplicates == 0
    assert result.with_guard.sync_failures <= result.without_guard.sync_failures


def test_preflight_holds_what_exact_name_pairing_would_clone(results: dict[str, ScenarioResult]) -> None:
    for name in ("name_drift", "reconnect", "display_name_collision"):
        result = results[name]
        assert result.with_guard is not None
        assert (
            result.preflight_holds
            == result.without_guard.duplicates + result.without_guard.sync_failures // 2
        )
        assert result.with_guard.duplicates == 0
        assert result.with_guard.sync_failures == 0


def test_the_rules_of_each_pattern_fire(results: dict[str, ScenarioResult]) -> None:
    assert "BOTH_SIDES_CREATED" in results["both_sides"].rules_fired
    assert {"PARTNER_DELETED", "RECREATED_AFTER_DELETE"} <= set(results["deleted_partner"].rules_fired)
    assert "CRM_MERGE_ORPHAN" in results["crm_merge"].rules_fired
    assert results["email_mismatch"].rules_fired
    assert results["stalled_sync"].rules_fired == {"SYNC_STALLED": 1}
    assert results["stalled_sync"].without_guard.invoiced_duplicates == 2
    assert results["stalled_sync"].with_guard is not None
    assert results["stalled_sync"].with_guard.duplicates == 0
    guarded = [r.with_guard for r in results.values() if r.with_guard is not None]
    assert sum(c.notifications for c in guarded) > 0
