"""Books display-name collisions: the sync errors (3062) instead of duplicating; the record stops syncing."""

from __future__ import annotations

from sync_guard.local.scenarios.base import Scenario, company_names
from sync_guard.local.scenarios.world import World
from sync_guard.local.zoho_simulator.state import Source


class DisplayNameCollision(Scenario):
    name = "display_name_collision"
    title = "Display-name collision (3062)"
    pattern = "When the sync tries to create a duplicate that collides with an existing name, it can error."
    uses_preflight = True

    def __init__(self, collisions: int = 4) -> None:
        self.collisions = collisions
        self.accounts: list[str] = []

    def build(self, world: World) -> None:
        world.native_sync()
        for i, base in enumerate(company_names(self.collisions, seed=606)):
            entity = f"collide-{i}"
            # A trailing space from a web form, or different capitals: not the exact name, same display name.
            crm_name = f"{base} Ltd " if i % 2 == 0 else f"{base.upper()} LTD"
            self.accounts.append(world.account(entity, crm_name))
            world.past_invoice(world.customer(entity, f"{base} Ltd"))

    def act(self, world: World) -> None:
        world.connect()
        # Sales keep editing the accounts; each edit makes the sync try (and fail) again.
        for i, crm_id in enumerate(self.accounts):
            world.state.crm_update("Accounts", crm_id, {"Phone": f"029 2018 {i:04d}"}, source=Source.UI)
        world.sync_cycle()
