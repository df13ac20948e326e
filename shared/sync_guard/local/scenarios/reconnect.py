"""The seed's "don't": disconnect and reconnect over 200 customers with some name drift already in Books."""

from __future__ import annotations

from sync_guard.local.scenarios.base import Scenario, company_names
from sync_guard.local.scenarios.world import World
from sync_guard.local.zoho_simulator.state import Source

# How the bookkeeper "corrected" names in Books over the years (one-way sync: it never flowed back).
_CORRECTIONS = (
    ("Ltd", "Limited"),
    ("&", "and"),
    ("Ltd", "Ltd."),
    ("Ltd", "LIMITED"),
)


class DisconnectReconnect(Scenario):
    name = "reconnect"
    title = "Disconnect + reconnect (200)"
    pattern = "Reconnecting re-runs strict matching over data that already contains duplicates."
    uses_preflight = True

    def __init__(self, customers: int = 200, drifted: int = 40, invoiced: int = 10) -> None:
        self.customers = customers
        self.drifted = drifted
        self.invoiced = invoiced
        self.invoice_names: list[str] = []

    def build(self, world: World) -> None:
        world.native_sync()
        names = company_names(self.customers, seed=707)
        ids = []
        for i, base in enumerate(names):
            crm_name = f"{base} & Co Ltd" if i % 7 == 1 else f"{base} Ltd"
            ids.append(world.account(f"customer-{i}", crm_name, Phone=f"0113 496 {i:04d}"))
        world.connect(guarded=False)
        assert world.sync is not None
        for i, crm_id in enumerate(ids[: self.drifted]):
            customer = world.sync.mapped_customer(crm_id)
            if customer is None:
                continue
            contact = world.state.books_get(customer) or {}
            old, new = _CORRECTIONS[i % len(_CORRECTIONS)]
            if old not in contact.get("contact_name", ""):
                old, new = "Ltd", "Limited"
            renamed = str(contact["contact_name"]).replace(old, new)
            world.state.books_update_contact(
                customer, {"contact_name": renamed, "company_name": renamed}, source=Source.ADMIN
            )
            world.past_invoice(customer)
            if len(self.invoice_names) < self.invoiced:
                crm = world.state.crm_get("Accounts", crm_id) or {}
                self.invoice_names.append(str(crm.get("Account_Name")))

    def act(self, world: World) -> None:
        # Someone "resets" the sync to fix a problem...
        world.disconnect()
        world.reconnect()
        world.checkpoint()
        for name in self.invoice_names:
            world.raise_invoice(name)
