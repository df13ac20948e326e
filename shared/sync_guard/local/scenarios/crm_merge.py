"""Seed pattern 4: CRM merges ("Merging duplicate accounts in CRM doesn't merge their Books customers")."""

from __future__ import annotations

from sync_guard.local.scenarios.base import Scenario, company_names
from sync_guard.local.scenarios.world import World
from sync_guard.local.zoho_simulator.state import Source


class CrmMerge(Scenario):
    name = "crm_merge"
    title = "CRM merge"
    pattern = "One mapping survives at best; the orphaned Books customer hangs around."

    def __init__(self, merges: int = 3, others: int = 4) -> None:
        self.merges = merges
        self.others = others
        self.pairs: list[tuple[str, str, str]] = []  # (master id, merged-away id, master name)

    def build(self, world: World) -> None:
        names = company_names(self.merges + self.others, seed=404)
        world.native_sync()
        for i, base in enumerate(names):
            if i < self.merges:
                # Two accounts for one customer (head office and a trading name), each synced to Books.
                master = world.account(f"merge-{i}", f"{base} Ltd", Phone=f"0131 496 {i:04d}")
                other = world.account(f"merge-{i}-trading", f"{base} Trading", Phone=f"0131 496 {i:04d}")
                self.pairs.append((master, other, f"{base} Ltd"))
            else:
                world.account(f"other-{i}", f"{base} Ltd")
        world.connect(guarded=False)
        assert world.sync is not None
        for master, _, _ in self.pairs:
            customer = world.sync.mapped_customer(master)
            if customer is not None:
                world.past_invoice(customer)

    def act(self, world: World) -> None:
        for master, other, _ in self.pairs:
            # Sales spot the two accounts and merge them in CRM, before Zoho support fixed the mappings.
            world.merge(master, [other])
            world.checkpoint()
        for i, (master, _, _) in enumerate(self.pairs):
            world.state.crm_update("Accounts", master, {"Website": f"https://m{i}.example"}, source=Source.UI)
        world.sync_cycle()
        for _, _, name in self.pairs:
            world.raise_invoice(name)
