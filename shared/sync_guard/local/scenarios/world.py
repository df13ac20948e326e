"""A scenario's world: one simulated Zoho organisation, its native sync, and the ground truth.

The ground truth is what no Zoho screen shows and every count needs: which real-world customer (the
*entity*) each record stands for. Scenarios label the records they create; records the native sync creates
inherit the label of the record they were made from (``NativeSync.created_for`` / its ID map), and a CRM
merge relabels the merged-away entity as the master's.

Hooks connect a world to the guard without the scenario knowing whether one is there:
``checkpoint`` (the guard has had its chance: events processed, outbox drained) runs before and after
every sync run, since the real sync runs on an interval after edits; ``before_connect`` runs before a first
sync or a reconnect (the guard's preflight); ``scheduled_checks`` runs the guard's scheduled Zoho checks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_guard.local.zoho_simulator.native_sync import (
    NativeSync,
    SyncAssumptions,
    SyncDirection,
    SyncModules,
    SyncRun,
)
from sync_guard.local.zoho_simulator.state import SimulatorError, SimulatorState, Source

HOLD_TAG = "sync-guard-hold"
#: How long before the act a scenario's history happened (records the bookkeeper "has invoiced for years"
#: must not look freshly created to the guard's both-sides window).
HISTORY_AGE = timedelta(days=30)
#: How far behind the real clock (the guard's) a scenario's act happens: "yesterday", so that what Zoho
#: stamps during the act is in the guard's past. The simulated clock never falls further behind than this.
ACT_LAG = timedelta(days=1)


class TickingClock:
    """A deterministic clock: every reading is one second after the previous one, never slower than real time.

    Zoho stamps records to the second and the guard's event ids hash those stamps, so two changes in one
    real second must still differ; ticking per reading also makes every run stamp the same times. The guard
    the scenarios run against keeps real time, though, so a run slower than one reading a second (a loaded
    machine, Zoho's retries waiting) would otherwise fall ever further behind it: the simulated Zoho would
    then judge what the guard asks by a clock more than ``ACT_LAG`` behind the guard's (a notification
    channel's expiry "more than a week ahead", say) and fail a run for the machine's speed. A reading is
    therefore at least the real time less the lag the clock started with (or was moved to by ``advance``).
    """

    def __init__(
        self,
        start: datetime | None = None,
        step: timedelta = timedelta(seconds=1),
        *,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        # History starts a month back; the act happens "a month later" (see ``advance``), yesterday.
        base = start or (wall() - HISTORY_AGE - ACT_LAG)
        self._now = base.replace(microsecond=0)
        self._step = step
        self._wall = wall
        self._behind = wall() - self._now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            floor = (self._wall() - self._behind).replace(microsecond=0)
            self._now = max(self._now + self._step, floor)
            return self._now

    def advance(self, delta: timedelta) -> None:
        """Jump forward (time passing between a scenario's history and its act)."""
        with self._lock:
            self._now += delta
            self._behind -= delta


@dataclass(frozen=True)
class BookkeeperAssumptions:
    """How the scenarios model the bookkeeper raising an invoice (named, since it drives a count)."""

    # She searches Books' customer list by the first word of the name on the sales order; Books' list shows
    # active customers only by default, so inactive (held) ones do not appear.
    sees_inactive_customers: bool = False
    # Among the results she takes the one whose display name is exactly the sales order's name, else the
    # first listed (the oldest).
    prefers_exact_name: bool = True


@dataclass
class Invoice:
    company: str  # the name on the sales order
    customer_id: str | None  # None: she found no customer (or Books refused the invoice)


def _no_op(*_: Any) -> None:
    return None


def _no_checks() -> frozenset[str]:
    return frozenset()


@dataclass
class World:
    """Everything one scenario run touches."""

    state: SimulatorState
    checkpoint: Callable[[], None] = _no_op
    before_connect: Callable[[World], None] = _no_op
    #: The guard's scheduled Zoho checks, run now; the rules of the finance notices they sent.
    scheduled_checks: Callable[[], frozenset[str]] = _no_checks
    bookkeeper: BookkeeperAssumptions = field(default_factory=BookkeeperAssumptions)
    sync: NativeSync | None = None
    labels: dict[str, str] = field(default_factory=dict)  # "crm:<id>" / "books:<id>" -> entity
    invoices: list[Invoice] = field(default_factory=list)
    merged: dict[str, str] = field(default_factory=dict)  # merged-away CRM id -> master id (during the act)
    #: A record's entity before a merge of two customers' records relabelled it (see :meth:`origin_of`).
    relabelled: dict[str, str] = field(default_factory=dict)
    clock: TickingClock | None = None

    def time_passes(self, delta: timedelta = HISTORY_AGE) -> None:
        """Move the simulated clock on (between the history and the act)."""
        if self.clock is not None:
            self.clock.advance(delta)

    # ----------------------------------------------------------------------------- the integration

    def native_sync(
        self,
        *,
        modules: SyncModules = SyncModules.ACCOUNTS,
        direction: SyncDirection = SyncDirection.ONE_WAY,
        assumptions: SyncAssumptions | None = None,
    ) -> NativeSync:
        """Set up (not yet connect) the Zoho Finance Suite integration, scoped by the hold-tag view."""
        self.sync = NativeSync(
            self.state, modules=modules, direction=direction, hold_tag=HOLD_TAG, assumptions=assumptions
        )
        return self.sync

    def _sync(self) -> NativeSync:
        if self.sync is None:
            raise RuntimeError("the scenario set up no native sync")
        return self.sync

    def connect(self, *, guarded: bool = True) -> SyncRun:
        """Connect the integration (its first run), after the guard's preflight when there is a guard.

        ``guarded=False`` is for history built before the guard was installed.
        """
        if guarded:
            self.before_connect(self)
            self.checkpoint()
        run = self._sync().connect()
        if guarded:
            self.checkpoint()
        return run

    def disconnect(self) -> None:
        self._sync().disconnect()

    def reconnect(self) -> SyncRun:
        """Connect again after a disconnect (the seed's "don't": exact-name pairing over today's data)."""
        self.before_connect(self)
        self.checkpoint()
        run = self._sync().reconnect()
        self.checkpoint()
        return run

    def sync_cycle(self) -> SyncRun:
        """The sync's next interval: it runs after the guard has had its chance, and the guard after it."""
        self.checkpoint()
        run = self._sync().run_cycle()
        self.checkpoint()
        return run

    def run_scheduled_checks(self) -> frozenset[str]:
        """The guard's scheduled checks come round (nothing without a guard); the notices' rules."""
        self.checkpoint()
        return self.scheduled_checks()

    # ---------------------------------------------------------------------------------- records

    def account(self, entity: str, name: str, *, source: Source = Source.ADMIN, **fields: Any) -> str:
        """A CRM account standing for ``entity``."""
        record = self.state.crm_create("Accounts", {"Account_Name": name, **fields}, source=source)
        self.labels[f"crm:{record['id']}"] = entity
        return str(record["id"])

    def contact(
        self, entity: str, first: str, last: str, email: str, *, source: Source = Source.ADMIN, **fields: Any
    ) -> str:
        """A CRM contact standing for ``entity``."""
        values = {"First_Name": first, "Last_Name": last, "Email": email, **fields}
        record = self.state.crm_create("Contacts", values, source=source)
        self.labels[f"crm:{record['id']}"] = entity
        return str(record["id"])

    def customer(self, entity: str, name: str, *, source: Source = Source.ADMIN, **fields: Any) -> str:
        """A Books customer standing for ``entity`` (created by a person, not by the sync)."""
        contact = self.state.books_create_contact({"contact_name": name, **fields}, source=source)
        self.labels[f"books:{contact['contact_id']}"] = entity
        return str(contact["contact_id"])

    def past_invoice(self, customer_id: str, amount: float = 1200.0) -> None:
        """History: an invoice raised long before the scenario (it makes that copy the one to keep)."""
        self.state.books_create_invoice(
            {"customer_id": customer_id, "line_items": [{"rate": amount, "quantity": 1}]}, source=Source.ADMIN
        )

    def merge(self, master_id: str, merged_ids: list[str], *, module: str = "Accounts") -> None:
        """Sales merges CRM records (manually, in the UI); from now on they are one customer."""
        self.state.crm_merge(module, master_id, merged_ids, source=Source.UI)
        master_entity = self.entity_of(f"crm:{master_id}")
        for merged_id in merged_ids:
            self.merged[merged_id] = master_id
            old = self.entity_of(f"crm:{merged_id}")
            if old is not None and master_entity is not None and old != master_entity:
                for ref, entity in list(self.labels.items()):
                    if entity == old:
                        self.relabelled.setdefault(ref, entity)
                        self.labels[ref] = master_entity

    def origin_of(self, ref: str) -> str | None:
        """The customer a record was made for, even after a merge of two customers' records made it one
        with the other (which :meth:`entity_of` then says)."""
        return self.relabelled.get(ref) or self.entity_of(ref)

    def entity_of(self, ref: str) -> str | None:
        """Which real customer a record stands for (its own label, else the record the sync made it from)."""
        if ref in self.labels:
            return self.labels[ref]
        if self.sync is None:
            return None
        system, _, record_id = ref.partition(":")
        if system == "books" and record_id in self.sync.created_for:
            origin = self.entity_of(f"crm:{self.sync.created_for[record_id]}")
            if origin is not None:
                self.labels[ref] = origin
            return origin
        if system == "crm":
            books_id = self.sync.id_map.get(record_id)
            if books_id is not None and f"books:{books_id}" in self.labels:
                self.labels[ref] = self.labels[f"books:{books_id}"]
                return self.labels[ref]
        return None

    # ------------------------------------------------------------------------------- bookkeeping

    def raise_invoice(self, company: str, amount: float = 480.0) -> Invoice:
        """The bookkeeper invoices ``company`` (the name on the sales order), finding it by name search."""
        first_word = company.split()[0]
        status = "Status.All" if self.bookkeeper.sees_inactive_customers else "Status.Active"
        found = self.state.books_list_contacts(contact_name_startswith=first_word, filter_by=status)
        chosen = None
        if self.bookkeeper.prefers_exact_name:
            chosen = next(
                (c for c in found if c["contact_name"].casefold() == company.strip().casefold()), None
            )
        if chosen is None and found:
            chosen = found[0]
        invoice = Invoice(company, None)
        if chosen is not None:
            try:
                self.state.books_create_invoice(
                    {"customer_id": chosen["contact_id"], "line_items": [{"rate": amount, "quantity": 1}]},
                    source=Source.UI,
                )
                invoice.customer_id = str(chosen["contact_id"])
            except SimulatorError:
                pass  # Books refused (an inactive customer): no invoice on the wrong copy
        self.invoices.append(invoice)
        return invoice
