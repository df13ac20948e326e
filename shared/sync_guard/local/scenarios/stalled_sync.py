"""The seed's "why has the sync silently stopped?": the user who connected the integration is gone.

The sync halts "with no banner, no email, nothing". Sales go on editing accounts and winning customers;
none of it reaches Books. The bookkeeper, asked to invoice a new customer Books does not have, creates it
by hand, spelt her way. Weeks later someone re-authorises the integration, and the sync creates CRM's copy
next to hers: the next invoice, raised on the name on the sales order, lands on the duplicate.

With the guard, its scheduled checks see linked CRM edits stop reaching Books and tell finance
(``SYNC_STALLED``), whose steps say to have an administrator re-authorise the existing integration. The
scenario takes that step when the notice arrives, so the new customers come from CRM before anyone
creates them by hand.
"""

from __future__ import annotations

from sync_guard.local.scenarios.base import Scenario, company_names
from sync_guard.local.scenarios.world import World
from sync_guard.local.zoho_simulator.state import Source


class StalledSync(Scenario):
    name = "stalled_sync"
    title = "Sync stalled (user gone)"
    pattern = "Deactivate the connecting user and the sync halts with no banner, no email, nothing."

    def __init__(self, linked: int = 4, new: int = 2) -> None:
        self.linked = linked
        self.new = new
        self.accounts: list[str] = []  # CRM ids of the linked accounts
        self.bases: list[str] = []  # the new customers' names, without legal form

    def build(self, world: World) -> None:
        names = company_names(self.linked + self.new, seed=909)
        sync = world.native_sync()
        for i, base in enumerate(names[: self.linked]):
            self.accounts.append(world.account(f"stalled-{i}", f"{base} Ltd"))
        world.connect(guarded=False)
        for crm_id in self.accounts:
            books_id = sync.mapped_customer(crm_id)
            if books_id is not None:
                world.past_invoice(books_id)
        self.bases = names[self.linked :]

    def act(self, world: World) -> None:
        sync = world.sync
        assert sync is not None
        sync.stall("the admin who connected the integration left; their user was deactivated")
        # Sales go on: addresses and phones change, two new customers are won.
        for i, crm_id in enumerate(self.accounts):
            world.state.crm_update("Accounts", crm_id, {"Phone": f"0161 496 {i:04d}"}, source=Source.UI)
        for i, base in enumerate(self.bases):
            world.account(f"new-{i}", f"{base} Ltd", source=Source.UI)
        world.sync_cycle()  # fails for every record: nothing reaches Books
        if "SYNC_STALLED" in world.run_scheduled_checks():
            # The notice's step: an active administrator re-authorises the existing integration.
            sync.unstall()
            world.sync_cycle()
        for i, base in enumerate(self.bases):
            if world.raise_invoice(f"{base} Ltd").customer_id is None:
                # Not in Books: the bookkeeper creates the customer by hand, as she spells it.
                world.customer(f"new-{i}", f"{base} Limited", source=Source.UI)
                world.raise_invoice(f"{base} Limited")
        # Weeks later someone notices the sync history and re-authorises the integration.
        sync.unstall()
        world.sync_cycle()
        for base in self.bases:
            world.raise_invoice(f"{base} Ltd")  # the next sales order, in CRM's spelling
