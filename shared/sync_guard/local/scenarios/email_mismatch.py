"""Seed pattern 5: email mismatches on contacts (B2C: CRM contacts synced to Books customers)."""

from __future__ import annotations

from sync_guard.local.scenarios.base import Scenario
from sync_guard.local.scenarios.world import World
from sync_guard.local.zoho_simulator.native_sync import SyncModules
from sync_guard.local.zoho_simulator.state import Source

# (first, last, CRM email, Books display name, Books email): the Books copy was set up by the bookkeeper
# from an old invoice, with the person's private address.
_PEOPLE = (
    ("Jane", "Smith", "jane@smithplumbing.example", "Jane Smith (Smith Plumbing)", "jane.smith@mail.example"),
    ("Tom", "Okafor", "tom@okafor-design.example", "Tom Okafor - Design", "tokafor@mail.example"),
    ("Priya", "Nair", "priya@nairdental.example", "Priya Nair (Dental)", "priya.nair@inbox.example"),
)
# A customer the bookkeeper already invoices, whom sales add to CRM later with their work address.
_LATER = ("Kim", "Wu", "kim@wucatering.example", "Kim Wu (Wu Catering)", "kim.wu@mail.example")
_MATCHING = (
    ("Alan", "Reeve", "alan@reeve.example"),
    ("Mona", "Hale", "mona@hale.example"),
    ("Ola", "Berg", "ola@berg.example"),
)


class EmailMismatch(Scenario):
    name = "email_mismatch"
    title = "Email mismatch on contacts"
    pattern = "A different email on the Books contact versus the CRM contact is enough to fail the match."

    def build(self, world: World) -> None:
        world.native_sync(modules=SyncModules.CONTACTS)
        for i, (first, last, crm_email, books_name, books_email) in enumerate((*_PEOPLE, _LATER)):
            entity = f"person-{i}"
            if (first, last) != _LATER[:2]:
                world.contact(entity, first, last, crm_email, Phone=f"07700 900{i:03d}")
            books_id = world.customer(
                entity,
                books_name,
                customer_sub_type="individual",
                email=books_email,
                phone=f"07700 900{i:03d}",
                contact_persons=[
                    {"first_name": first, "last_name": last, "email": books_email, "is_primary_contact": True}
                ],
            )
            world.past_invoice(books_id, 95.0)
        for i, (first, last, email) in enumerate(_MATCHING):
            entity = f"match-{i}"
            world.contact(entity, first, last, email)
            world.customer(
                entity,
                f"{first} {last}",
                customer_sub_type="individual",
                email=email,
                contact_persons=[
                    {"first_name": first, "last_name": last, "email": email, "is_primary_contact": True}
                ],
            )

    def act(self, world: World) -> None:
        world.connect()
        first, last, email, *_ = _LATER
        # Same person, same mobile: only the email differs, which is the whole of pattern 5.
        phone = f"07700 900{len(_PEOPLE):03d}"
        world.contact(f"person-{len(_PEOPLE)}", first, last, email, source=Source.UI, Phone=phone)
        world.sync_cycle()
        for first, last, *_ in (*_PEOPLE, _LATER):
            world.raise_invoice(f"{first} {last}", 95.0)
