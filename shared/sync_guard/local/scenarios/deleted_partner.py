"""Seed pattern 3: deleted partners ("Someone tidied up Books and deleted a stale customer")."""

from __future__ import annotations

from sync_guard.local.scenarios.base import Scenario, company_names
from sync_guard.local.scenarios.world import World
from sync_guard.local.zoho_simulator.state import Source


class DeletedPartner(Scenario):
    name = "deleted_partner"
    title = "Deleted partner"
    pattern = "The next edit to the CRM account recreates the deleted customer, minus its history."

    def __init__(self, companies: int = 4, others: int = 4) -> None:
        self.companies = companies
        self.others = others
        self.accounts: list[tuple[str, str]] = []  # (CRM id, name)

    def build(self, world: World) -> None:
        names = company_names(self.companies + self.others, seed=303)
        world.native_sync()
        for i, base in enumerate(names):
            if i < self.companies:
                # The first sync cloned "X Ltd" next to the "X Limited" the bookkeeper invoices.
                crm_id = world.account(f"deleted-{i}", f"{base} Ltd")
                world.past_invoice(world.customer(f"deleted-{i}", f"{base} Limited"))
                self.accounts.append((crm_id, f"{base} Ltd"))
            else:
                world.account(f"other-{i}", f"{base} Ltd")
        world.connect(guarded=False)

    def act(self, world: World) -> None:
        assert world.sync is not None
        for crm_id, _ in self.accounts:
            # Tidying up: the clone has no invoices, so the bookkeeper deletes it. It held the mapping.
            clone = world.sync.mapped_customer(crm_id)
            if clone is not None:
                world.state.books_delete_contact(clone, source=Source.UI)
        world.checkpoint()
        for i, (crm_id, _) in enumerate(self.accounts):
            world.state.crm_update("Accounts", crm_id, {"Phone": f"0117 496 {i:04d}"}, source=Source.UI)
        world.sync_cycle()
        for _, name in self.accounts:
            world.raise_invoice(name)
