"""Seed pattern 2: both teams creating the same customer, with two-way sync on."""

from __future__ import annotations

from sync_guard.local.scenarios.base import Scenario, company_names
from sync_guard.local.scenarios.world import World
from sync_guard.local.zoho_simulator.native_sync import SyncDirection
from sync_guard.local.zoho_simulator.state import Source


class BothTeamsCreating(Scenario):
    name = "both_sides"
    title = "Both teams creating"
    pattern = "Sales raise the account in CRM while the bookkeeper raises the customer in Books."

    def __init__(self, companies: int = 4, existing: int = 6) -> None:
        self.companies = companies
        self.existing = existing
        self.sales_names: list[str] = []

    def build(self, world: World) -> None:
        world.native_sync(direction=SyncDirection.TWO_WAY)
        for i, base in enumerate(company_names(self.existing, seed=202)):
            world.account(f"existing-{i}", f"{base} Ltd")
        world.connect(guarded=False)

    def act(self, world: World) -> None:
        names = company_names(self.existing + self.companies, seed=202)[self.existing :]
        for i, base in enumerate(names):
            entity = f"both-{i}"
            sales_name = f"{base} Ltd"
            self.sales_names.append(sales_name)
            # Sales create the account in the morning...
            world.account(entity, sales_name, source=Source.UI, Phone=f"0161 496 {i:04d}")
            world.checkpoint()
            # ...and the bookkeeper the customer in the afternoon, to get an invoice out the same day.
            world.customer(entity, f"{base} Limited", source=Source.UI, phone=f"0161 496 {i:04d}")
            world.checkpoint()
        # The sync's next interval pushes each copy to the other side.
        world.sync_cycle()
        for name in self.sales_names:
            world.raise_invoice(name)
