"""Zoho's native CRM <-> Books sync (Zoho Finance Suite), as the seed field report describes it.

The engine works on a :class:`~sync_guard.local.zoho_simulator.state.SimulatorState` through its write
methods (``source=Source.SYNC``), so every change it makes is a ``ChangeEvent`` like any other and fires
the Books workflow webhooks (and CRM workflows, for records it pushes to CRM) just as Zoho's sync does.

What it does, in the seed's words:

- **First run** (and every reconnect): pair existing CRM records with existing Books customers by *exact*
  name. "Acme Ltd" does not pair with "Acme Limited", a trailing space defeats it. Every CRM record that
  does not pair is cloned: a new Books customer. A clone whose display name another customer already uses
  gets Books error 3062 and that record silently stops syncing: the sync history only counts it.
- **After the first run** names stop mattering: an internal ID map (CRM id -> Books id) links the pairs.
  CRM edits flow to the mapped customer; a new CRM record becomes a new customer (no name pairing).
- **Deletes and merges are not propagated.** A Books customer deleted while its CRM partner lives is
  recreated, without history, by the next edit of that CRM record. A CRM merge keeps the master's mapping;
  the merged-away record's Books customer is orphaned.
- **Disconnect** wipes the map; **reconnect** re-runs exact-name pairing over data that may already hold
  duplicates, cloning whatever fails to pair.
- The **scope** is a CRM custom view: records failing its criteria (the guard's hold tag) are skipped.
- One-way ("Fetch from CRM") or two-way: two-way also pushes Books customers and their edits to CRM.

The real sync runs on an interval after edits; here a cycle runs when :meth:`NativeSync.run_cycle` is called
(see :class:`SyncAssumptions`), which keeps every scenario deterministic. Whatever Zoho does not document is
a named field of :class:`SyncAssumptions` (docs/simulator.md lists them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sync_guard.local.zoho_simulator.state import (
    BOOKS_DISPLAY_NAME_TAKEN,
    ChangeEvent,
    ChangeKind,
    SimulatorError,
    SimulatorState,
    Source,
)

logger = logging.getLogger(__name__)

#: The view every scenario uses as the sync scope: records carrying the guard's hold tag are out.
DEFAULT_HOLD_TAG = "sync-guard-hold"


class SyncModules(StrEnum):
    """Which CRM records become Books customers (Books: Settings > Zoho Apps > Zoho CRM)."""

    ACCOUNTS = "accounts"  # accounts -> customers (B2B)
    CONTACTS = "contacts"  # contacts -> customers (B2C)
    ACCOUNTS_AND_CONTACTS = "accounts_and_contacts"  # accounts -> customers, their contacts -> persons


class SyncDirection(StrEnum):
    """ "Fetch from CRM" (one way) or "Sync both ways"."""

    ONE_WAY = "one_way"
    TWO_WAY = "two_way"


class PartnerChoice(StrEnum):
    """What exact-name pairing does when a CRM record has several possible Books partners."""

    OLDEST = "oldest"  # the customer created first wins; the others stay unpaired
    NEWEST = "newest"
    NONE = "none"  # pair with none of them: clone (which then collides on the display name)


class ContactPairing(StrEnum):
    """What pairs a CRM contact with a Books customer on a first run (Contacts module)."""

    EMAIL = "email"  # the seed's pattern 5: a different email is enough to fail the match
    NAME = "name"
    NAME_AND_EMAIL = "name_and_email"


@dataclass(frozen=True)
class SyncAssumptions:
    """Behaviour of the native sync that Zoho does not document, each one named and configurable."""

    # The real sync runs on an interval after edits. None: cycles run only when run_cycle() is called
    # (scenarios, tests); a number: start() also runs one every that many seconds in a thread.
    cycle_interval_seconds: float | None = None
    # "Exact" name: compared as stored, so a trailing space or a case difference defeats pairing (the seed
    # lists "a trailing space" among the drifts that fail).
    exact_name_ignores_case: bool = False
    exact_name_trims_spaces: bool = False
    # Books' company name counts as a name beside the display name when pairing (a customer whose display
    # name the bookkeeper changed still offers its company name): gives "two possible partners".
    pair_on_company_name: bool = True
    multiple_partners: PartnerChoice = PartnerChoice.OLDEST
    contact_pairing: ContactPairing = ContactPairing.EMAIL
    # Inactive Books customers: offered for first-run pairing? Still updated when mapped?
    pair_inactive_customers: bool = False
    update_inactive_customers: bool = True
    # A record that failed (3062) is not retried until it is edited again ("silently stops syncing").
    retry_failed_on_edit: bool = True
    # Disconnecting leaves zcrm_account_id/zcrm_contact_id on the Books customers (not cleared).
    disconnect_clears_links: bool = False
    # Two-way: Books customers already carrying a CRM link that the map does not know are not pushed to CRM.
    push_linked_orphans: bool = False
    # Two-way: inactive Books customers are not pushed to CRM.
    push_inactive_customers: bool = False


@dataclass
class SyncFailure:
    """One record the sync could not write, as counted on Zoho's sync history screen."""

    crm_id: str
    code: int | str
    message: str


@dataclass
class SyncRun:
    """One line of the sync history screen (plus what the screen does not show, for tests)."""

    number: int
    kind: str  # "initial" | "incremental" | "reconnect"
    started_at: datetime
    paired: int = 0
    created: int = 0
    updated: int = 0
    pushed_to_crm: int = 0
    skipped_out_of_scope: int = 0
    failures: list[SyncFailure] = field(default_factory=list)

    @property
    def failure_count(self) -> int:
        """What Zoho shows: a number, not which records or why."""
        return len(self.failures)


_SYNCED_ACCOUNT_FIELDS = frozenset(
    {"Account_Name", "Phone", "Website", "Email", "Billing_Street", "Billing_City", "Billing_Code"}
    | {"Billing_Country", "Tag"}
)
_SYNCED_CONTACT_FIELDS = frozenset(
    {"First_Name", "Last_Name", "Email", "Phone", "Mobile", "Account_Name", "Mailing_Street", "Mailing_City"}
    | {"Mailing_Zip", "Mailing_Country", "Tag"}
)
_SYNCED_BOOKS_FIELDS = frozenset({"contact_name", "company_name", "email", "phone", "billing_address"})


class NativeSync:
    """The Zoho Finance Suite sync between the CRM and Books of one :class:`SimulatorState`."""

    def __init__(
        self,
        state: SimulatorState,
        *,
        modules: SyncModules = SyncModules.ACCOUNTS,
        direction: SyncDirection = SyncDirection.ONE_WAY,
        view_id: str | None = None,
        hold_tag: str = DEFAULT_HOLD_TAG,
        assumptions: SyncAssumptions | None = None,
    ) -> None:
        """``view_id``: the CRM custom view used as the scope; None defines one excluding ``hold_tag``."""
        self.state = state
        self.modules = modules
        self.direction = direction
        self.assumptions = assumptions or SyncAssumptions()
        self.crm_module = "Contacts" if modules is SyncModules.CONTACTS else "Accounts"
        self.view_id = view_id or state.crm_define_view(
            self.crm_module, "Synced with Zoho Books", f"(Tag:not_equal:{hold_tag})"
        )
        self.connected = False
        self.first_run_done = False
        # Why the sync has stopped writing while it still looks connected (see :meth:`stall`), or None.
        self.stalled: str | None = None
        # The invisible mapping table: CRM id -> Books contact id.
        self.id_map: dict[str, str] = {}
        # Who caused each Books customer the sync created (ground truth for scenarios): Books id -> CRM id.
        self.created_for: dict[str, str] = {}
        # Records the sync gave up on (3062...): CRM id -> failure. They sync again only after an edit.
        self.failed: dict[str, SyncFailure] = {}
        self.history: list[SyncRun] = []
        self._dirty_crm: dict[str, None] = {}  # insertion-ordered set of CRM ids edited since the last cycle
        self._dirty_books: dict[str, None] = {}
        self._lock = threading.RLock()
        self._unsubscribe: Callable[[], None] | None = state.subscribe(self._on_change)
        self._timer_stop = threading.Event()
        self._timer: threading.Thread | None = None

    # ----------------------------------------------------------------------------------- lifecycle

    def connect(self) -> SyncRun:
        """Connect the integration and run the first sync (exact-name pairing, clones for the rest)."""
        with self._lock:
            self.connected = True
            self.stalled = None  # whoever connects authorises it as themselves, an active user
            run = self._first_run("reconnect" if self.history else "initial")
            self.first_run_done = True
            return run

    def disconnect(self) -> None:
        """Disconnect: the mapping table is thrown away (and, per assumption, the Books links cleared)."""
        with self._lock:
            self.connected = False
            self.first_run_done = False
            mapped = list(self.id_map.values())
            self.id_map.clear()
            self.failed.clear()
            self._dirty_crm.clear()
            self._dirty_books.clear()
        if self.assumptions.disconnect_clears_links:
            for books_id in mapped:
                if self.state.books_get(books_id) is not None:
                    self.state.books_update_contact(
                        books_id, {"zcrm_account_id": "", "zcrm_contact_id": ""}, source=Source.SYNC
                    )

    def stall(self, reason: str = "the connecting user was deactivated") -> None:
        """The sync stops writing but stays connected: what happens when the user who set the integration
        up is deactivated or loses their licence. Runs go on, and each one fails every edited record, which
        stays queued; nothing reaches the other side until :meth:`unstall` (or a reconnect)."""
        with self._lock:
            self.stalled = reason

    def unstall(self) -> None:
        """An admin re-authorised the integration: the next cycle carries the queued edits."""
        with self._lock:
            self.stalled = None

    def reconnect(self) -> SyncRun:
        """Connect again after a disconnect: exact-name pairing over today's data (the seed's warning)."""
        return self.connect()

    def start(self) -> NativeSync:
        """Run a cycle every ``cycle_interval_seconds`` in a thread (only when that assumption is set)."""
        interval = self.assumptions.cycle_interval_seconds
        if interval is None or self._timer is not None:
            return self

        def loop() -> None:
            while not self._timer_stop.wait(interval):
                if not self.connected:
                    continue
                try:
                    self.run_cycle()
                except Exception:  # a failed run is logged; the next interval tries again, as Zoho's does
                    logger.exception("native sync run failed")

        self._timer = threading.Thread(target=loop, name="native-sync", daemon=True)
        self._timer.start()
        return self

    def close(self) -> None:
        """Stop listening to the state (and the interval thread, if any)."""
        self._timer_stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
            self._timer = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # ------------------------------------------------------------------------------ what changed

    def _on_change(self, event: ChangeEvent) -> None:
        # The sync's own writes never make a record "edited" for the next cycle (no ping-pong).
        if event.source is Source.SYNC or event.kind is ChangeKind.DELETE:
            return
        with self._lock:
            if event.system == "crm":
                self._crm_changed(event)
            elif (
                event.system == "books"
                and event.module == "Customers"
                and (event.kind is ChangeKind.CREATE or set(event.changed_fields) & _SYNCED_BOOKS_FIELDS)
            ):
                self._dirty_books[event.record_id] = None

    def _crm_changed(self, event: ChangeEvent) -> None:
        synced = _SYNCED_ACCOUNT_FIELDS if event.module == "Accounts" else _SYNCED_CONTACT_FIELDS
        relevant = event.kind in (ChangeKind.CREATE, ChangeKind.MERGE) or bool(
            set(event.changed_fields) & synced
        )
        if not relevant:
            return
        if event.module == self.crm_module:
            self._dirty_crm[event.record_id] = None
        elif self.modules is SyncModules.ACCOUNTS_AND_CONTACTS and event.module == "Contacts":
            # A contact edit changes its account's customer (contact persons).
            for record in (event.after, event.before):
                account_id = _lookup_id((record or {}).get("Account_Name"))
                if account_id:
                    self._dirty_crm[account_id] = None

    # ----------------------------------------------------------------------------------- cycles

    def run_cycle(self) -> SyncRun:
        """One sync run: the first run if none happened since (re)connecting, else the edits since."""
        with self._lock:
            if not self.connected:
                raise RuntimeError("the integration is not connected")
            if not self.first_run_done:
                run = self._first_run("initial" if not self.history else "reconnect")
                self.first_run_done = True
                return run
            run = self._new_run("incremental")
            if self.stalled is not None:
                # Zoho's sync history shows failures, not why; the edits wait for a working connection.
                run.failures += [SyncFailure(i, "AUTHORIZATION", self.stalled) for i in self._dirty_crm]
                return run
            crm_ids, self._dirty_crm = list(self._dirty_crm), {}
            books_ids, self._dirty_books = list(self._dirty_books), {}
            for crm_id in crm_ids:
                self._push_crm_record(crm_id, run, edited=True)
            if self.direction is SyncDirection.TWO_WAY:
                for books_id in books_ids:
                    self._push_books_customer(books_id, run)
            return run

    def _new_run(self, kind: str) -> SyncRun:
        run = SyncRun(number=len(self.history) + 1, kind=kind, started_at=self.state.now())
        self.history.append(run)
        return run

    def _first_run(self, kind: str) -> SyncRun:
        run = self._new_run(kind)
        self._dirty_crm.clear()
        self._dirty_books.clear()
        self.failed.clear()
        in_scope = self.state.crm_view_records(self.view_id)
        run.skipped_out_of_scope = len(self.state.crm_list(self.crm_module)) - len(in_scope)
        candidates = self._pairing_index()
        taken = set(self.id_map.values())
        for record in in_scope:
            if record["id"] in self.id_map:
                continue
            partner = self._choose_partner(record, candidates, taken)
            if partner is None:
                self._create_customer(record, run)
                continue
            taken.add(partner["contact_id"])
            self.id_map[record["id"]] = partner["contact_id"]
            run.paired += 1
            self._link(partner, record)
        if self.direction is SyncDirection.TWO_WAY:
            for contact in self.state.books_list_contacts():
                if contact["contact_id"] not in taken and contact["contact_id"] not in self.created_for:
                    self._push_books_customer(contact["contact_id"], run)
        return run

    # ------------------------------------------------------------------------------ first-run pairing

    def _name_key(self, name: Any) -> str:
        text = str(name or "")
        if self.assumptions.exact_name_trims_spaces:
            text = text.strip()
        return text.casefold() if self.assumptions.exact_name_ignores_case else text

    def _pairing_index(self) -> dict[str, list[dict[str, Any]]]:
        """Name key -> Books customers offering that name (display name, then company name), oldest first."""
        index: dict[str, list[dict[str, Any]]] = {}
        for contact in self.state.books_list_contacts():
            if contact.get("contact_type", "customer") != "customer":
                continue
            if contact["status"] != "active" and not self.assumptions.pair_inactive_customers:
                continue
            names = [contact["contact_name"]]
            if self.assumptions.pair_on_company_name and contact.get("company_name"):
                names.append(contact["company_name"])
            for key in dict.fromkeys(self._name_key(n) for n in names):
                index.setdefault(key, []).append(contact)
        return index

    def _choose_partner(
        self, record: Mapping[str, Any], index: Mapping[str, list[dict[str, Any]]], taken: set[str]
    ) -> dict[str, Any] | None:
        if self.crm_module == "Contacts":
            candidates = self._contact_candidates(record, index)
        else:
            candidates = list(index.get(self._name_key(record.get("Account_Name")), []))
        candidates = [c for c in candidates if c["contact_id"] not in taken]
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        choice = self.assumptions.multiple_partners
        if choice is PartnerChoice.NONE:
            return None
        return candidates[0] if choice is PartnerChoice.OLDEST else candidates[-1]

    def _contact_candidates(
        self, record: Mapping[str, Any], index: Mapping[str, list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        pairing = self.assumptions.contact_pairing
        email = str(record.get("Email") or "").casefold()
        by_name = list(index.get(self._name_key(record.get("Full_Name")), []))
        if pairing is ContactPairing.NAME:
            return by_name
        if pairing is ContactPairing.NAME_AND_EMAIL:
            return [c for c in by_name if email and email in _books_emails(c)]
        if not email:
            return []
        seen: dict[str, dict[str, Any]] = {}
        for contacts in index.values():
            for contact in contacts:
                if email in _books_emails(contact):
                    seen.setdefault(contact["contact_id"], contact)
        return sorted(seen.values(), key=lambda c: c["contact_id"])

    def _link(self, contact: Mapping[str, Any], record: Mapping[str, Any]) -> None:
        """Write Zoho's visible link on a paired customer (``zcrm_account_id``...), if not already there."""
        link = self._link_fields(record)
        if all(contact.get(k) == v for k, v in link.items()):
            return
        self.state.books_update_contact(contact["contact_id"], link, source=Source.SYNC)

    def _link_fields(self, record: Mapping[str, Any]) -> dict[str, str]:
        if self.crm_module == "Contacts":
            return {"zcrm_contact_id": str(record["id"])}
        return {"zcrm_account_id": str(record["id"])}

    # ------------------------------------------------------------------------------- CRM -> Books

    def _push_crm_record(self, crm_id: str, run: SyncRun, *, edited: bool) -> None:
        record = self.state.crm_get(self.crm_module, crm_id)
        if record is None:
            return  # deleted or merged away: deletes are not propagated
        if not self.state.crm_in_view(self.view_id, record):
            run.skipped_out_of_scope += 1
            return
        if crm_id in self.failed and not (edited and self.assumptions.retry_failed_on_edit):
            return
        books_id = self.id_map.get(crm_id)
        contact = self.state.books_get(books_id) if books_id else None
        if contact is None:
            # Never mapped, or its customer was deleted in Books: the sync sees a new record.
            self._create_customer(record, run)
            return
        if contact["status"] != "active" and not self.assumptions.update_inactive_customers:
            return
        wanted = self._customer_fields(record)
        changes = {k: v for k, v in wanted.items() if _differs(k, contact.get(k), v)}
        if not changes:
            return
        try:
            self.state.books_update_contact(contact["contact_id"], changes, source=Source.SYNC)
        except SimulatorError as error:
            self._fail(crm_id, error, run)
            return
        self.failed.pop(crm_id, None)
        run.updated += 1

    def _create_customer(self, record: Mapping[str, Any], run: SyncRun) -> None:
        fields = {**self._customer_fields(record), **self._link_fields(record)}
        try:
            contact = self.state.books_create_contact(fields, source=Source.SYNC)
        except SimulatorError as error:
            self._fail(str(record["id"]), error, run)
            return
        self.failed.pop(str(record["id"]), None)
        self.id_map[str(record["id"])] = contact["contact_id"]
        self.created_for[contact["contact_id"]] = str(record["id"])
        run.created += 1

    def _fail(self, crm_id: str, error: SimulatorError, run: SyncRun) -> None:
        failure = SyncFailure(crm_id, error.code, error.message)
        self.failed[crm_id] = failure
        run.failures.append(failure)

    def _customer_fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The Books customer the sync makes of a CRM record (the field mapping of the integration)."""
        if self.crm_module == "Contacts":
            name = str(record.get("Full_Name") or record.get("Last_Name") or "")
            person = _person(record, primary=True)
            return {
                "contact_name": name,
                "company_name": _lookup_name(record.get("Account_Name")) or "",
                "customer_sub_type": "individual",
                "email": str(record.get("Email") or ""),
                "phone": str(record.get("Phone") or ""),
                "billing_address": _address(record, "Mailing"),
                "contact_persons": [person],
            }
        name = str(record.get("Account_Name") or "")
        fields: dict[str, Any] = {
            "contact_name": name,
            "company_name": name,
            "customer_sub_type": "business",
            "email": str(record.get("Email") or ""),
            "phone": str(record.get("Phone") or ""),
            "billing_address": _address(record, "Billing"),
        }
        if self.modules is SyncModules.ACCOUNTS_AND_CONTACTS:
            contacts = [
                c
                for c in self.state.crm_list("Contacts")
                if _lookup_id(c.get("Account_Name")) == str(record["id"])
            ]
            fields["contact_persons"] = [_person(c, primary=i == 0) for i, c in enumerate(contacts)]
        return fields

    # ------------------------------------------------------------------------------- Books -> CRM

    def _push_books_customer(self, books_id: str, run: SyncRun) -> None:
        contact = self.state.books_get(books_id)
        if contact is None:
            return
        if contact["status"] != "active" and not self.assumptions.push_inactive_customers:
            return
        crm_id = next((c for c, b in self.id_map.items() if b == books_id), None)
        if crm_id is not None:
            record = self.state.crm_get(self.crm_module, crm_id)
            if record is None or not self.state.crm_in_view(self.view_id, record):
                return
            wanted = self._crm_fields(contact)
            changes = {k: v for k, v in wanted.items() if record.get(k) != v}
            if changes:
                self.state.crm_update(self.crm_module, crm_id, changes, source=Source.SYNC)
                run.pushed_to_crm += 1
            return
        if (contact.get("zcrm_account_id") or contact.get("zcrm_contact_id")) and not (
            self.assumptions.push_linked_orphans
        ):
            return
        record = self.state.crm_create(self.crm_module, self._crm_fields(contact), source=Source.SYNC)
        self.id_map[record["id"]] = books_id
        self.state.books_update_contact(books_id, self._link_fields(record), source=Source.SYNC)
        run.pushed_to_crm += 1

    def _crm_fields(self, contact: Mapping[str, Any]) -> dict[str, Any]:
        address = contact.get("billing_address") or {}
        if self.crm_module == "Contacts":
            persons = contact.get("contact_persons") or []
            primary = next((p for p in persons if p.get("is_primary_contact")), persons[0] if persons else {})
            first = str(primary.get("first_name") or "")
            last = str(primary.get("last_name") or "") or str(contact["contact_name"])
            return {
                "First_Name": first,
                "Last_Name": last,
                "Email": str(contact.get("email") or primary.get("email") or ""),
                "Phone": str(contact.get("phone") or ""),
                "Mailing_City": str(address.get("city") or ""),
                "Mailing_Zip": str(address.get("zip") or ""),
            }
        return {
            "Account_Name": str(contact["contact_name"]),
            "Phone": str(contact.get("phone") or ""),
            "Billing_City": str(address.get("city") or ""),
            "Billing_Code": str(address.get("zip") or ""),
        }

    # ------------------------------------------------------------------------------- save / resume

    def save(self) -> dict[str, Any]:
        """What the sync knows that Zoho shows nowhere, JSON-ready: its ID map, the customers it created,
        the records it gave up on and the edits it has not carried yet (for :meth:`resume`)."""
        with self._lock:
            return {
                "crm_module": self.crm_module,
                "connected": self.connected,
                "id_map": dict(self.id_map),
                "created_for": dict(self.created_for),
                "failed": [[f.crm_id, f.code, f.message] for f in self.failed.values()],
                "dirty_crm": list(self._dirty_crm),
                "dirty_books": list(self._dirty_books),
            }

    def resume(self, saved: Iterable[Mapping[str, Any]]) -> bool:
        """Carry on where saved syncs (:meth:`save`'s data, of the same CRM module) left off: connected,
        their first run done, so no exact-name pairing runs again over data they already paired (it would
        clone whatever another organisation's customer of the same name took). False, changing nothing,
        when none of them is of this sync's module and connected: then :meth:`connect` as usual."""
        mine = [s for s in saved if s["crm_module"] == self.crm_module and s["connected"]]
        if not mine:
            return False
        with self._lock:
            for sync in mine:
                self.id_map.update(sync["id_map"])
                self.created_for.update(sync["created_for"])
                for crm_id, code, message in sync["failed"]:
                    self.failed[crm_id] = SyncFailure(crm_id, code, message)
                self._dirty_crm.update(dict.fromkeys(sync["dirty_crm"]))
                self._dirty_books.update(dict.fromkeys(sync["dirty_books"]))
            self.connected = True
            self.first_run_done = True
            self.stalled = None
        return True

    # ------------------------------------------------------------------------------- inspection

    def mapped_customer(self, crm_id: str) -> str | None:
        """The Books id the (invisible) map holds for a CRM record."""
        with self._lock:
            return self.id_map.get(crm_id)

    def failures_total(self) -> int:
        """Failures over every run, as the sync history screen would add them up."""
        return sum(run.failure_count for run in self.history)


def _lookup_id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        found = value.get("id")
        return str(found) if found else None
    return None


def _lookup_name(value: Any) -> str | None:
    if isinstance(value, Mapping):
        found = value.get("name")
        return str(found) if found else None
    return str(value) if value else None


def _person(record: Mapping[str, Any], *, primary: bool) -> dict[str, Any]:
    return {
        "first_name": str(record.get("First_Name") or ""),
        "last_name": str(record.get("Last_Name") or ""),
        "email": str(record.get("Email") or ""),
        "phone": str(record.get("Phone") or ""),
        "is_primary_contact": primary,
    }


def _address(record: Mapping[str, Any], prefix: str) -> dict[str, str]:
    zip_field = "Billing_Code" if prefix == "Billing" else "Mailing_Zip"
    address = {
        "address": str(record.get(f"{prefix}_Street") or ""),
        "city": str(record.get(f"{prefix}_City") or ""),
        "zip": str(record.get(zip_field) or ""),
        "country": str(record.get(f"{prefix}_Country") or ""),
    }
    return {k: v for k, v in address.items() if v}


def _differs(key: str, current: Any, wanted: Any) -> bool:
    """Whether a mapped field must be written (Books trims names and numbers contact persons itself)."""
    if key == "contact_name":
        return " ".join(str(current or "").split()) != " ".join(str(wanted or "").split())
    if key == "contact_persons":
        strip = [{k: v for k, v in p.items() if k != "contact_person_id"} for p in current or []]
        return bool(strip != wanted)
    return bool(current != wanted)


def _books_emails(contact: Mapping[str, Any]) -> set[str]:
    emails = {str(contact.get("email") or "").casefold()}
    emails |= {str(p.get("email") or "").casefold() for p in contact.get("contact_persons") or []}
    return {e for e in emails if e}


def failure_codes(runs: Iterable[SyncRun]) -> list[int | str]:
    """Every failure code over some runs (3062 for display-name collisions)."""
    return [f.code for run in runs for f in run.failures]


__all__ = [
    "BOOKS_DISPLAY_NAME_TAKEN",
    "ContactPairing",
    "NativeSync",
    "PartnerChoice",
    "SyncAssumptions",
    "SyncDirection",
    "SyncFailure",
    "SyncModules",
    "SyncRun",
    "failure_codes",
]
