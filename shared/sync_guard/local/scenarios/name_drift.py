"""Seed pattern 1: name drift at the initial sync ("Acme Ltd" in CRM never pairs with "Acme Limited")."""

from __future__ import annotations

from sync_guard.local.scenarios.base import Scenario, company_names
from sync_guard.local.scenarios.world import World

# CRM spelling -> the spelling the bookkeeper has been invoicing for years.
_DRIFTS = (
    ("{} Ltd", "{} Limited"),
    ("{} & Co", "{} and Co"),
    ("The {} Company", "{} Company"),
    ("{} Ltd.", "{} Limited"),
)


class NameDriftAtFirstSync(Scenario):
    name = "name_drift"
    title = "Name drift at first sync"
    pattern = "Strict matching treats Ltd/Limited, &/and, a leading 'The' as different companies."
    uses_preflight = True

    def __init__(self, drifted: int = 8, exact: int = 8) -> None:
        self.drifted = drifted
        self.exact = exact
        self.invoice_names: list[str] = []

    def build(self, world: World) -> None:
        names = company_names(self.drifted + self.exact, seed=101)
        world.native_sync()
        for i, base in enumerate(names):
            entity = f"drift-{i}"
            if i < self.drifted:
                crm_form, books_form = _DRIFTS[i % len(_DRIFTS)]
                world.account(entity, crm_form.format(base), Phone=f"020 7946 {i:04d}")
                books_id = world.customer(entity, books_form.format(base), phone=f"020 7946 {i:04d}")
                world.past_invoice(books_id)
                self.invoice_names.append(crm_form.format(base))
            else:
                world.account(entity, f"{base} Ltd")
                world.customer(entity, f"{base} Ltd")

    def act(self, world: World) -> None:
        # The admin connects the integration: Zoho's first run.
        world.connect()
        # A month later the bookkeeper invoices what sales sold, by the name on the sales order.
        world.checkpoint()
        for name in self.invoice_names:
            world.raise_invoice(name)
