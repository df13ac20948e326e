"""What a scenario run did, counted from the simulator's ground truth (never from the guard's own view).

- ``duplicates``: Books customers that appeared during the act next to another existing customer of the
  same real company (entity): created by the sync or a person, or orphaned by a CRM merge in the act. In
  each entity the oldest customer is the original; the others are the duplicates.
- ``live_duplicates``: of those, how many are still usable after the guard acted (active in Books: an
  inactive customer is held and cannot be invoiced), counted as active customers beyond one per entity.
- ``invoiced_duplicates``: invoices the bookkeeper raised during the act on a duplicate.
- ``held``: records the guard held (CRM hold tag added, Books customer marked inactive, through the API).
- ``sync_failures``: failures on the sync history screen during the act (3062 collisions).
- ``notifications`` and ``rules_fired`` are filled in by the guarded runner (notifications file, audit).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sync_guard.local.scenarios.world import HOLD_TAG, World
from sync_guard.local.zoho_simulator.state import ChangeKind, Source


@dataclass(frozen=True)
class Baseline:
    """The world when the act starts."""

    customers: frozenset[str]
    changes: int
    sync_runs: int
    invoices: int

    @classmethod
    def of(cls, world: World) -> Baseline:
        return cls(
            customers=frozenset(c["contact_id"] for c in world.state.books_list_contacts()),
            changes=len(world.state.changes),
            sync_runs=len(world.sync.history) if world.sync else 0,
            invoices=len(world.invoices),
        )


@dataclass
class Counts:
    duplicates: int = 0
    live_duplicates: int = 0
    invoiced_duplicates: int = 0
    held: int = 0
    notifications: int = 0
    sync_failures: int = 0
    rules_fired: dict[str, int] = field(default_factory=dict)
    duplicate_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "duplicates": self.duplicates,
            "live_duplicates": self.live_duplicates,
            "invoiced_duplicates": self.invoiced_duplicates,
            "held": self.held,
            "notifications": self.notifications,
            "sync_failures": self.sync_failures,
            "rules_fired": dict(self.rules_fired),
        }


def _linked_crm_id(contact: dict[str, Any]) -> str:
    return str(contact.get("zcrm_account_id") or contact.get("zcrm_contact_id") or "")


def count_outcome(world: World, baseline: Baseline) -> Counts:
    """Count a finished act (see the module docstring for each figure)."""
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for contact in world.state.books_list_contacts():
        ref = f"books:{contact['contact_id']}"
        entity = world.entity_of(ref) or ref  # an unlabelled customer is its own entity
        by_entity.setdefault(entity, []).append(contact)
    counts = Counts()
    duplicate_ids: set[str] = set()
    for contacts in by_entity.values():
        if len(contacts) < 2:
            continue
        contacts.sort(key=lambda c: int(c["contact_id"]))
        new = [
            c
            for c in contacts[1:]
            if c["contact_id"] not in baseline.customers or _linked_crm_id(c) in world.merged
        ]
        if not new:
            continue
        active = sum(1 for c in contacts if c["status"] == "active")
        counts.duplicates += len(new)
        counts.live_duplicates += min(len(new), max(0, active - 1))
        duplicate_ids |= {c["contact_id"] for c in new}
    counts.duplicate_ids = sorted(duplicate_ids)
    counts.invoiced_duplicates = sum(
        1 for invoice in world.invoices[baseline.invoices :] if invoice.customer_id in duplicate_ids
    )
    held: set[str] = set()
    for change in world.state.changes[baseline.changes :]:
        if change.source is not Source.API:
            continue
        if change.kind is ChangeKind.TAGS and change.after is not None:
            before = {t["name"] for t in (change.before or {}).get("Tag", [])}
            after = {t["name"] for t in change.after.get("Tag", [])}
            if HOLD_TAG in after - before:
                held.add(f"crm:{change.record_id}")
        elif change.kind is ChangeKind.STATUS and (change.after or {}).get("status") == "inactive":
            held.add(f"books:{change.record_id}")
    counts.held = len(held)
    if world.sync is not None:
        counts.sync_failures = sum(run.failure_count for run in world.sync.history[baseline.sync_runs :])
    return counts


def merge_rules(counters: list[Counter[str]]) -> dict[str, int]:
    """Add up rule counts, sorted by code."""
    total: Counter[str] = Counter()
    for counter in counters:
        total.update(counter)
    return dict(sorted(total.items()))
