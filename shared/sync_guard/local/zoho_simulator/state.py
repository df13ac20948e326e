"""The simulator's in-memory Zoho: CRM accounts/contacts, Books contacts and invoices, and change hooks.

Everything that changes a record goes through a method of :class:`SimulatorState` (the HTTP routes, the
test/admin surface, and later the native-sync engine and the webhook emitter all use the same methods;
never mutate the dicts directly, indexes depend on it), and every applied change is published as a
:class:`ChangeEvent` to the subscribers, *after* the state lock is released so a subscriber may call back
into the state (the sync engine will). Subscribers run synchronously in the writer's thread (an HTTP
request's, for API writes): hand slow work such as posting webhooks to a thread of your own. ``changes``
keeps every event so tests can assert how many times something really happened.

Ids are deterministic: counters from fixed bases, so the same sequence of operations gives the same ids.

Behaviour Zoho does not document is a named attribute of :class:`Assumptions`, not a hidden constant.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sync_guard.local.zoho_simulator.criteria import Criteria, parse_criteria

CRM_MODULES = ("Accounts", "Contacts")
# The field that names a record, per CRM module (its mandatory field on create).
CRM_NAME_FIELD = {"Accounts": "Account_Name", "Contacts": "Last_Name"}
CRM_EMAIL_FIELDS = ("Email", "Secondary_Email")
CRM_PHONE_FIELDS = ("Phone", "Mobile", "Fax", "Other_Phone")

BOOKS_DISPLAY_NAME_TAKEN = 3062
BOOKS_NOT_FOUND = 1002


class SimulatorError(Exception):
    """A Zoho-level refusal, rendered by the HTTP layer in the API's own envelope."""

    def __init__(
        self, http_status: int, code: str | int, message: str, details: Mapping[str, Any] | None = None
    ):
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = dict(details or {})


class ChangeKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    MERGE = "merge"  # the master of a CRM merge; the merged-away records get a DELETE each
    TAGS = "tags"  # CRM tags added or removed
    STATUS = "status"  # Books contact marked active/inactive


class Source(StrEnum):
    """Who made a change: matters for loops (the guard's writes) and for the native sync's echo."""

    API = "api"  # through the HTTP API (the guard, a test client)
    UI = "ui"  # a person in Zoho's web UI (scenarios)
    SYNC = "sync"  # the native CRM <-> Books sync
    ADMIN = "admin"  # seeding through the simulator's control surface: never fires workflows


@dataclass(frozen=True)
class ChangeEvent:
    """One applied change. ``before``/``after`` are deep copies of the record as the API would return it."""

    seq: int
    system: str  # "crm" | "books"
    module: str  # "Accounts" | "Contacts" | "Customers" | "Invoices"
    kind: ChangeKind
    record_id: str
    source: Source
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_fields: tuple[str, ...] = ()
    # CRM: whether this write runs workflow rules (and so their webhooks); see Assumptions.
    fires_workflows: bool = True
    # CRM merge: the ids merged into ``record_id``.
    merged_ids: tuple[str, ...] = ()
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Assumptions:
    """Behaviour Zoho does not document, made explicit and configurable."""

    # An update with ``"trigger": []`` runs no workflow rules (Zoho documents the list, not the empty case).
    empty_trigger_suppresses_workflows: bool = True
    # Display-name uniqueness (3062) ignores case and surrounding spaces.
    display_name_case_insensitive: bool = True
    # GET /crm/v8/{Module}/{id} for an unknown or deleted numeric id answers 204 No Content.
    crm_missing_record_status: int = 204
    # Records merged away in CRM appear in /deleted as "recycle" entries.
    merged_records_listed_as_deleted: bool = True
    # A CRM merge gives the master the merged-away records' tags as well as its own (unconfirmed: Zoho's
    # merge screen picks field values, and its docs say nothing of tags). With it, a held record merged into
    # an unheld one passes the hold tag on.
    merge_carries_tags: bool = True
    # Books refuses invoices for inactive customers, and deleting customers that have transactions.
    books_inactive_blocks_invoices: bool = True
    books_refuse_delete_with_transactions: bool = True
    # Error codes the simulator uses where Zoho's are not public (documented here, not invented elsewhere).
    books_inactive_invoice_code: int = 3008
    books_delete_with_transactions_code: int = 3016
    books_missing_org_code: int = 6042
    books_unknown_org_code: int = 6041


class _Ids:
    """Deterministic id sequences shaped like Zoho's (long numeric strings)."""

    # Each block shifts every sequence by this much, so that several simulated organisations (one per demo
    # scenario) never hand out the same id: the guard's shadow can hold all of them at once.
    BLOCK = 20_000

    def __init__(self, block: int = 0) -> None:
        self._next = {
            "crm": 5725767000003000001,
            "tag": 5725767000004000001,
            "books": 460000000010001,
            "invoice": 460000000500001,
            "person": 460000000900001,
            "webhook_failure": 5725767000005000001,
            "view": 5725767000007000001,
        }
        self._next = {kind: value + block * self.BLOCK for kind, value in self._next.items()}

    def take(self, kind: str) -> str:
        value = self._next[kind]
        self._next[kind] = value + 1
        return str(value)

    def saved(self) -> dict[str, int]:
        """The next id of every sequence (JSON-ready)."""
        return dict(self._next)

    def continue_after(self, saved: Mapping[str, Any]) -> None:
        """Move every sequence past a saved one's next id, so that no id is handed out twice."""
        for kind, value in saved.items():
            if kind in self._next:
                self._next[kind] = max(self._next[kind], int(value))


def crm_time(moment: datetime) -> str:
    """CRM's format: ``2026-03-01T10:00:00+00:00``."""
    return moment.isoformat(timespec="seconds")


def books_time(moment: datetime) -> str:
    """Books' format: ``2025-01-01T10:00:00+0000``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")


def _name_key(name: str, case_insensitive: bool) -> str:
    key = " ".join(name.split())
    return key.casefold() if case_insensitive else key


Subscriber = Callable[[ChangeEvent], None]


class SimulatorState:
    """The records of one CRM org and one Books organisation, and everything that may happen to them."""

    def __init__(
        self,
        *,
        books_organization_id: str = "20000000001",
        clock: Callable[[], datetime] | None = None,
        assumptions: Assumptions | None = None,
        id_block: int = 0,
    ) -> None:
        """``id_block`` (0-20) shifts every id sequence, so that two states never share an id."""
        self.books_organization_id = books_organization_id
        self.assumptions = assumptions or Assumptions()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._ids = _Ids(id_block)
        self._seq = 0
        self.crm: dict[str, dict[str, dict[str, Any]]] = {module: {} for module in CRM_MODULES}
        self.crm_deleted: dict[str, list[dict[str, Any]]] = {module: [] for module in CRM_MODULES}
        # merged-away id -> master id, per module
        self.crm_merged_into: dict[str, dict[str, str]] = {module: {} for module in CRM_MODULES}
        self.crm_tags: dict[str, str] = {}  # tag name -> tag id (org-wide, like Zoho)
        self.crm_webhook_failures: list[dict[str, Any]] = []
        self.crm_watch_channels: dict[str, dict[str, Any]] = {}  # Notification API, by channel id
        self.crm_views: dict[str, dict[str, Any]] = {}  # custom views (the sync scope), by id
        self.books_contacts: dict[str, dict[str, Any]] = {}
        self._books_names: dict[str, str] = {}  # display-name key -> contact id (3062)
        self.books_deleted: list[dict[str, Any]] = []
        self.books_invoices: dict[str, dict[str, Any]] = {}
        self.changes: list[ChangeEvent] = []
        self._changes_by_record: dict[str, list[ChangeEvent]] = {}
        self._subscribers: list[Subscriber] = []
        self._pending: list[ChangeEvent] = []

    # ----------------------------------------------------------------------------------------- plumbing

    def now(self) -> datetime:
        return self._clock()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every applied change (after the change); returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _record_change(self, **kwargs: Any) -> ChangeEvent:
        # Called with the lock held; subscribers run in _flush() once it is released.
        self._seq += 1
        event = ChangeEvent(seq=self._seq, at=self.now(), **kwargs)
        self.changes.append(event)
        self._changes_by_record.setdefault(event.record_id, []).append(event)
        self._pending.append(event)
        return event

    def _flush(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
            subscribers = list(self._subscribers)
        for event in events:
            for callback in subscribers:
                callback(event)

    def _fires_workflows(self, source: Source, trigger: Iterable[str] | None) -> bool:
        if source is Source.ADMIN:
            return False
        if trigger is None:
            return True  # CRM API writes run workflows unless told otherwise
        triggers = list(trigger)
        if not triggers:
            return not self.assumptions.empty_trigger_suppresses_workflows
        return "workflow" in triggers

    def changes_for(self, record_id: str, kind: ChangeKind | None = None) -> list[ChangeEvent]:
        """Applied changes to one record (optionally of one kind): how tests prove 'exactly once'."""
        with self._lock:
            changes = self._changes_by_record.get(record_id, [])
            return [c for c in changes if kind is None or c.kind is kind]

    # ----------------------------------------------------------------------------------------------- CRM

    def _crm_module(self, module: str) -> dict[str, dict[str, Any]]:
        if module not in self.crm:
            raise SimulatorError(
                400, "INVALID_MODULE", "the module name given seems to be invalid", {"resource_path_index": 0}
            )
        return self.crm[module]

    def _crm_record(self, module: str, record_id: str) -> dict[str, Any]:
        records = self._crm_module(module)
        if record_id not in records:
            raise SimulatorError(
                400, "INVALID_DATA", "the related id given seems to be invalid", {"id": record_id}
            )
        return records[record_id]

    def crm_get(self, module: str, record_id: str) -> dict[str, Any] | None:
        """A deep copy of a live CRM record, or None."""
        with self._lock:
            record = self._crm_module(module).get(record_id)
            return copy.deepcopy(record) if record is not None else None

    def crm_list(self, module: str) -> list[dict[str, Any]]:
        """Every live record of a module, oldest first."""
        with self._lock:
            return [copy.deepcopy(r) for r in self._crm_module(module).values()]

    def crm_create(
        self,
        module: str,
        fields: Mapping[str, Any],
        *,
        source: Source = Source.API,
        trigger: Iterable[str] | None = None,
        record_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a CRM record; mandatory name field as in Zoho (``Account_Name`` / ``Last_Name``)."""
        with self._lock:
            records = self._crm_module(module)
            name_field = CRM_NAME_FIELD[module]
            if not str(fields.get(name_field) or "").strip():
                raise SimulatorError(
                    400,
                    "MANDATORY_NOT_FOUND",
                    "required field not found",
                    {"api_name": name_field, "json_path": f"$.data[0].{name_field}"},
                )
            new_id = record_id or self._ids.take("crm")
            now = crm_time(self.now())
            record: dict[str, Any] = {"id": new_id, **copy.deepcopy(dict(fields))}
            record.pop("Tag", None)
            record["Tag"] = []
            record["Created_Time"] = now
            record["Modified_Time"] = now
            if module == "Contacts":
                record["Full_Name"] = " ".join(
                    str(p) for p in (record.get("First_Name"), record.get("Last_Name")) if p
                )
            records[new_id] = record
            self._record_change(
                system="crm",
                module=module,
                kind=ChangeKind.CREATE,
                record_id=new_id,
                source=source,
                before=None,
                after=copy.deepcopy(record),
                changed_fields=tuple(sorted(fields)),
                fires_workflows=self._fires_workflows(source, trigger),
            )
            result = copy.deepcopy(record)
        self._flush()
        return result

    def crm_update(
        self,
        module: str,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        source: Source = Source.API,
        trigger: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Update fields of a live CRM record (``id`` and system fields are ignored)."""
        with self._lock:
            record = self._crm_record(module, record_id)
            before = copy.deepcopy(record)
            changed = []
            for key, value in fields.items():
                if key in {"id", "Created_Time", "Modified_Time", "Tag", "Full_Name"}:
                    continue
                if record.get(key) != value:
                    changed.append(key)
                record[key] = copy.deepcopy(value)
            if module == "Contacts":
                record["Full_Name"] = " ".join(
                    str(p) for p in (record.get("First_Name"), record.get("Last_Name")) if p
                )
            record["Modified_Time"] = crm_time(self.now())
            self._record_change(
                system="crm",
                module=module,
                kind=ChangeKind.UPDATE,
                record_id=record_id,
                source=source,
                before=before,
                after=copy.deepcopy(record),
                changed_fields=tuple(sorted(changed)),
                fires_workflows=self._fires_workflows(source, trigger),
            )
            result = copy.deepcopy(record)
        self._flush()
        return result

    def crm_delete(self, module: str, record_id: str, *, source: Source = Source.API) -> None:
        """Move a CRM record to the recycle bin (listed by /deleted)."""
        with self._lock:
            self._delete_crm_locked(module, record_id, source, fires=source is not Source.ADMIN)
        self._flush()

    def _delete_crm_locked(self, module: str, record_id: str, source: Source, *, fires: bool) -> None:
        record = self._crm_record(module, record_id)
        del self.crm[module][record_id]
        name_field = "Account_Name" if module == "Accounts" else "Full_Name"
        self.crm_deleted[module].append(
            {
                "id": record_id,
                "display_name": record.get(name_field),
                "type": "recycle",
                "deleted_time": crm_time(self.now()),
                "deleted_by": {"name": "Simulator", "id": "5725767000000411001"},
                "created_by": {"name": "Simulator", "id": "5725767000000411001"},
            }
        )
        self._record_change(
            system="crm",
            module=module,
            kind=ChangeKind.DELETE,
            record_id=record_id,
            source=source,
            before=copy.deepcopy(record),
            after=None,
            fires_workflows=fires,
        )

    def crm_merge(
        self,
        module: str,
        master_id: str,
        merged_ids: Iterable[str],
        *,
        fields: Mapping[str, Any] | None = None,
        source: Source = Source.API,
    ) -> dict[str, Any]:
        """Merge records into ``master_id`` (which keeps its id); contacts of merged accounts move over.

        Manual merges (API/UI) fire workflow edit/delete triggers; Zoho's auto-merges would not.
        """
        with self._lock:
            master = self._crm_record(module, master_id)
            others = [i for i in merged_ids if i != master_id]
            for other in others:
                self._crm_record(module, other)
            before = copy.deepcopy(master)
            fires = source is not Source.ADMIN
            for key, value in (fields or {}).items():
                if key not in {"id", "Created_Time", "Modified_Time", "Tag"}:
                    master[key] = copy.deepcopy(value)
            master_tags = {t["name"] for t in master["Tag"]}
            carries_tags = self.assumptions.merge_carries_tags
            for other in others:
                for tag in self.crm[module][other].get("Tag", []) if carries_tags else []:
                    if tag["name"] not in master_tags:
                        master["Tag"].append(dict(tag))
                        master_tags.add(tag["name"])
                if module == "Accounts":
                    for contact in self.crm["Contacts"].values():
                        lookup = contact.get("Account_Name")
                        if isinstance(lookup, Mapping) and lookup.get("id") == other:
                            contact["Account_Name"] = {"name": master.get("Account_Name"), "id": master_id}
                self.crm_merged_into[module][other] = master_id
                if self.assumptions.merged_records_listed_as_deleted:
                    self._delete_crm_locked(module, other, source, fires=fires)
                else:
                    del self.crm[module][other]
            master["Modified_Time"] = crm_time(self.now())
            self._record_change(
                system="crm",
                module=module,
                kind=ChangeKind.MERGE,
                record_id=master_id,
                source=source,
                before=before,
                after=copy.deepcopy(master),
                merged_ids=tuple(others),
                fires_workflows=fires,
            )
            result = copy.deepcopy(master)
        self._flush()
        return result

    def crm_set_tags(
        self,
        module: str,
        record_id: str,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        source: Source = Source.API,
    ) -> list[dict[str, str]]:
        """Add and/or remove tags by name; returns the record's tags. Tag edits change Modified_Time."""
        with self._lock:
            record = self._crm_record(module, record_id)
            before = copy.deepcopy(record)
            tags: list[dict[str, str]] = record["Tag"]
            names = {t["name"] for t in tags}
            for name in add:
                if name not in names:
                    tag_id = self.crm_tags.setdefault(name, self._ids.take("tag"))
                    tags.append({"name": name, "id": tag_id})
                    names.add(name)
            removing = set(remove)
            record["Tag"] = [t for t in tags if t["name"] not in removing]
            if record["Tag"] != before["Tag"]:
                record["Modified_Time"] = crm_time(self.now())
                self._record_change(
                    system="crm",
                    module=module,
                    kind=ChangeKind.TAGS,
                    record_id=record_id,
                    source=source,
                    before=before,
                    after=copy.deepcopy(record),
                    changed_fields=("Tag",),
                    fires_workflows=False,
                )
            result = copy.deepcopy(record["Tag"])
        self._flush()
        return result

    def crm_search(
        self,
        module: str,
        *,
        criteria: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        word: str | None = None,
    ) -> list[dict[str, Any]]:
        """Live records matching exactly one of the four search kinds, as /search does."""
        parsed: Criteria | None = parse_criteria(criteria) if criteria is not None else None
        with self._lock:
            records = list(self._crm_module(module).values())
            found = []
            for record in records:
                if parsed is not None:
                    ok = parsed.matches(record)
                elif email is not None:
                    ok = any(
                        str(record.get(f) or "").casefold() == email.casefold() for f in CRM_EMAIL_FIELDS
                    )
                elif phone is not None:
                    digits = "".join(ch for ch in phone if ch.isdigit())
                    ok = any(
                        digits and "".join(ch for ch in str(record.get(f) or "") if ch.isdigit()) == digits
                        for f in CRM_PHONE_FIELDS
                    )
                elif word is not None:
                    needle = word.casefold()
                    ok = any(isinstance(v, str) and needle in v.casefold() for v in record.values())
                else:
                    ok = False
                if ok:
                    found.append(copy.deepcopy(record))
            return found

    def crm_deleted_list(
        self, module: str, *, kind: str = "all", since: datetime | None = None
    ) -> list[dict]:
        """Recycle-bin entries, newest first, optionally only those deleted at/after ``since``."""
        with self._lock:
            entries = [copy.deepcopy(e) for e in self.crm_deleted[self.require_crm_module(module)]]
        if kind != "all":
            entries = [e for e in entries if e["type"] == kind]
        if since is not None:
            entries = [e for e in entries if datetime.fromisoformat(e["deleted_time"]) >= since]
        return list(reversed(entries))

    def require_crm_module(self, module: str) -> str:
        """``module`` if the CRM has it, else the INVALID_MODULE error."""
        with self._lock:
            self._crm_module(module)
        return module

    # ------------------------------------------------------------------------------ CRM custom views

    def crm_define_view(self, module: str, name: str, criteria: str) -> str:
        """A custom view (saved filter) over a module; the native sync's scope is one. Returns its id.

        ``criteria`` uses the search syntax, e.g. ``(Tag:not_equal:sync-guard-hold)``: a tag or a checkbox
        that takes a record out of the view takes it out of the sync.
        """
        parse_criteria(criteria)  # refuse a view that could never be evaluated
        with self._lock:
            self.require_crm_module(module)
            view_id = self._ids.take("view")
            self.crm_views[view_id] = {"id": view_id, "module": module, "name": name, "criteria": criteria}
            return view_id

    def crm_in_view(self, view_id: str, record: Mapping[str, Any]) -> bool:
        """Whether a record (as returned by ``crm_get``) satisfies a view's criteria."""
        with self._lock:
            view = self.crm_views.get(view_id)
        if view is None:
            raise SimulatorError(
                400, "INVALID_DATA", "the given cvid seems to be invalid", {"param_name": "cvid"}
            )
        return parse_criteria(view["criteria"]).matches(record)

    def crm_view_records(self, view_id: str) -> list[dict[str, Any]]:
        """The live records in a view, oldest first."""
        with self._lock:
            view = self.crm_views.get(view_id)
        if view is None:
            raise SimulatorError(
                400, "INVALID_DATA", "the given cvid seems to be invalid", {"param_name": "cvid"}
            )
        criteria = parse_criteria(view["criteria"])
        return [r for r in self.crm_list(view["module"]) if criteria.matches(r)]

    # ------------------------------------------------------------------------- CRM Notification API

    def crm_watch_enable(self, entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Enable (or renew: same ``channel_id``) Notification API channels; returns one detail per event.

        ``channel_expiry`` defaults to one hour from now and may be at most one week ahead; ``token`` is at
        most 50 characters; events are ``<Module>.<create|edit|delete|all>``.
        """
        now = self.now()
        prepared: list[dict[str, Any]] = []
        for entry in entries:
            channel_id = str(entry.get("channel_id") or "")
            events = [str(e) for e in entry.get("events") or []]
            notify_url = str(entry.get("notify_url") or "")
            token = entry.get("token")
            if not channel_id.isdigit() or not events or not notify_url:
                missing = (
                    "channel_id" if not channel_id.isdigit() else ("events" if not events else "notify_url")
                )
                raise SimulatorError(
                    400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": missing}
                )
            if token is not None and len(str(token)) > 50:
                raise SimulatorError(
                    400, "INVALID_DATA", "invalid data", {"api_name": "token", "maximum_length": 50}
                )
            for event in events:
                module, _, operation = event.partition(".")
                if module not in CRM_MODULES or operation not in {"create", "edit", "delete", "all"}:
                    raise SimulatorError(400, "INVALID_DATA", "invalid data", {"api_name": "events"})
            expiry = now + timedelta(hours=1)
            if entry.get("channel_expiry"):
                expiry = datetime.fromisoformat(str(entry["channel_expiry"]))
                if expiry.tzinfo is None or expiry > now + timedelta(days=7) or expiry <= now:
                    raise SimulatorError(400, "INVALID_DATA", "invalid data", {"api_name": "channel_expiry"})
            prepared.append(
                {
                    "channel_id": channel_id,
                    "events": events,
                    "notify_url": notify_url,
                    "token": None if token is None else str(token),
                    "channel_expiry": crm_time(expiry),
                    "return_affected_field_values": bool(entry.get("return_affected_field_values", False)),
                    "notify_on_related_action": bool(entry.get("notify_on_related_action", False)),
                }
            )
        details = []
        with self._lock:
            for channel in prepared:
                self.crm_watch_channels[channel["channel_id"]] = channel
                for event in channel["events"]:
                    module = event.partition(".")[0]
                    details.append(
                        {
                            "channel_expiry": channel["channel_expiry"],
                            "resource_uri": f"/crm/v8/{module}",
                            "resource_id": "5725767000000002175"
                            if module == "Accounts"
                            else "5725767000000002179",
                            "resource_name": module,
                            "channel_id": channel["channel_id"],
                        }
                    )
        return details

    def crm_watch_disable(self, channel_ids: Iterable[str]) -> list[str]:
        """Disable channels; returns the ids that existed."""
        with self._lock:
            return [cid for cid in channel_ids if self.crm_watch_channels.pop(str(cid), None) is not None]

    def crm_watch_list(self) -> list[dict[str, Any]]:
        """Every channel, including expired ones (Zoho lists a channel until it is disabled or purged)."""
        with self._lock:
            return [copy.deepcopy(c) for c in self.crm_watch_channels.values()]

    def crm_watch_targets(self, module: str, kind: ChangeKind) -> list[dict[str, Any]]:
        """The live channels that should be called back for a change (for the notification emitter).

        CREATE maps to ``create``, UPDATE/TAGS/MERGE to ``edit``, DELETE to ``delete``; ``all`` matches every
        operation. Expired channels are skipped.
        """
        operation = {ChangeKind.CREATE: "create", ChangeKind.DELETE: "delete"}.get(kind, "edit")
        wanted = {f"{module}.{operation}", f"{module}.all"}
        now = self.now()
        with self._lock:
            return [
                copy.deepcopy(c)
                for c in self.crm_watch_channels.values()
                if wanted & set(c["events"]) and datetime.fromisoformat(c["channel_expiry"]) > now
            ]

    def add_webhook_failure(
        self,
        *,
        module: str,
        record_id: str,
        webhook_name: str = "sync-guard",
        status_code: int = 500,
        message: str = "Failed to reach the URL",
    ) -> dict[str, Any]:
        """Record a failed workflow webhook delivery (the webhook emitter calls it when the guard is down)."""
        with self._lock:
            entry = {
                "id": self._ids.take("webhook_failure"),
                "webhook": {"name": webhook_name, "id": "5725767000006000001"},
                "module": {"api_name": module},
                "record": {"id": record_id},
                "failure_time": crm_time(self.now()),
                "response_code": status_code,
                "failure_reason": message,
            }
            self.crm_webhook_failures.append(entry)
            return copy.deepcopy(entry)

    # --------------------------------------------------------------------------------------------- Books

    def _name_key(self, name: str) -> str:
        return _name_key(name, self.assumptions.display_name_case_insensitive)

    def _display_name_owner(self, name: str, *, except_id: str | None = None) -> str | None:
        # An index keeps create/update O(1) on big organisations (backfills, reconnect scenarios).
        owner = self._books_names.get(self._name_key(name))
        return owner if owner is not None and owner != except_id else None

    def _name_taken(self, name: str) -> SimulatorError:
        return SimulatorError(
            400,
            BOOKS_DISPLAY_NAME_TAKEN,
            f'The customer "{name}" already exists. Please specify a different name.',
        )

    def _books_contact(self, contact_id: str) -> dict[str, Any]:
        if contact_id not in self.books_contacts:
            raise SimulatorError(404, BOOKS_NOT_FOUND, "Contact does not exist.")
        return self.books_contacts[contact_id]

    def books_get(self, contact_id: str) -> dict[str, Any] | None:
        with self._lock:
            contact = self.books_contacts.get(contact_id)
            return copy.deepcopy(contact) if contact is not None else None

    def books_create_contact(
        self, fields: Mapping[str, Any], *, source: Source = Source.API
    ) -> dict[str, Any]:
        """Create a Books contact; ``contact_name`` is mandatory and unique (error 3062)."""
        with self._lock:
            name = str(fields.get("contact_name") or "").strip()
            if not name:
                raise SimulatorError(400, 4, "Please enter the contact name.")
            if self._display_name_owner(name) is not None:
                raise self._name_taken(name)
            contact_id = self._ids.take("books")
            now = books_time(self.now())
            persons = []
            for person in fields.get("contact_persons") or []:
                persons.append({"contact_person_id": self._ids.take("person"), **copy.deepcopy(dict(person))})
            zcrm_account_id = str(fields.get("zcrm_account_id") or "")
            zcrm_contact_id = str(fields.get("zcrm_contact_id") or "")
            contact: dict[str, Any] = {
                "contact_id": contact_id,
                "contact_name": name,
                "company_name": fields.get("company_name", name),
                "contact_type": fields.get("contact_type", "customer"),
                "customer_sub_type": fields.get("customer_sub_type", "business"),
                "status": "active",
                "email": fields.get("email", ""),
                "phone": fields.get("phone", ""),
                "currency_code": fields.get("currency_code", "GBP"),
                "vat_reg_no": fields.get("vat_reg_no", ""),
                "billing_address": copy.deepcopy(fields.get("billing_address") or {}),
                "contact_persons": persons,
                "custom_fields": copy.deepcopy(fields.get("custom_fields") or []),
                "zcrm_account_id": zcrm_account_id,
                "zcrm_contact_id": zcrm_contact_id,
                "is_crm_customer": bool(zcrm_account_id or zcrm_contact_id),
                "is_linked_with_zohocrm": bool(zcrm_account_id or zcrm_contact_id),
                "has_transaction": False,
                "outstanding_receivable_amount": 0.0,
                "created_time": now,
                "last_modified_time": now,
            }
            self.books_contacts[contact_id] = contact
            self._books_names[self._name_key(name)] = contact_id
            self._record_change(
                system="books",
                module="Customers",
                kind=ChangeKind.CREATE,
                record_id=contact_id,
                source=source,
                before=None,
                after=copy.deepcopy(contact),
                changed_fields=tuple(sorted(fields)),
                fires_workflows=source is not Source.ADMIN,
            )
            result = copy.deepcopy(contact)
        self._flush()
        return result

    _BOOKS_READ_ONLY = frozenset(
        {
            "contact_id",
            "created_time",
            "last_modified_time",
            "has_transaction",
            "outstanding_receivable_amount",
            "status",
        }
    )

    def books_update_contact(
        self, contact_id: str, fields: Mapping[str, Any], *, source: Source = Source.API
    ) -> dict[str, Any]:
        """Update a Books contact; renaming onto another contact's display name is error 3062."""
        with self._lock:
            contact = self._books_contact(contact_id)
            if "contact_name" in fields:
                name = str(fields["contact_name"] or "").strip()
                if not name:
                    raise SimulatorError(400, 4, "Please enter the contact name.")
                if self._display_name_owner(name, except_id=contact_id) is not None:
                    raise self._name_taken(name)
            before = copy.deepcopy(contact)
            if "contact_name" in fields:
                self._books_names.pop(self._name_key(contact["contact_name"]), None)
                self._books_names[self._name_key(str(fields["contact_name"]))] = contact_id
            changed = []
            for key, value in fields.items():
                if key in self._BOOKS_READ_ONLY:
                    continue
                new_value = value.strip() if key == "contact_name" and isinstance(value, str) else value
                if contact.get(key) != new_value:
                    changed.append(key)
                contact[key] = copy.deepcopy(new_value)
            contact["is_linked_with_zohocrm"] = bool(
                contact.get("zcrm_account_id") or contact.get("zcrm_contact_id")
            )
            contact["is_crm_customer"] = contact["is_linked_with_zohocrm"]
            contact["last_modified_time"] = books_time(self.now())
            self._record_change(
                system="books",
                module="Customers",
                kind=ChangeKind.UPDATE,
                record_id=contact_id,
                source=source,
                before=before,
                after=copy.deepcopy(contact),
                changed_fields=tuple(sorted(changed)),
                fires_workflows=source is not Source.ADMIN,
            )
            result = copy.deepcopy(contact)
        self._flush()
        return result

    def books_set_status(
        self, contact_id: str, active: bool, *, source: Source = Source.API
    ) -> dict[str, Any]:
        """Mark a contact active or inactive (idempotent: no change event when already so)."""
        with self._lock:
            contact = self._books_contact(contact_id)
            wanted = "active" if active else "inactive"
            if contact["status"] != wanted:
                before = copy.deepcopy(contact)
                contact["status"] = wanted
                contact["last_modified_time"] = books_time(self.now())
                self._record_change(
                    system="books",
                    module="Customers",
                    kind=ChangeKind.STATUS,
                    record_id=contact_id,
                    source=source,
                    before=before,
                    after=copy.deepcopy(contact),
                    changed_fields=("status",),
                    fires_workflows=source is not Source.ADMIN,
                )
            result = copy.deepcopy(contact)
        self._flush()
        return result

    def books_delete_contact(self, contact_id: str, *, source: Source = Source.API) -> None:
        """Delete a Books contact (refused when it has transactions, see Assumptions)."""
        with self._lock:
            contact = self._books_contact(contact_id)
            if contact["has_transaction"] and self.assumptions.books_refuse_delete_with_transactions:
                raise SimulatorError(
                    400,
                    self.assumptions.books_delete_with_transactions_code,
                    "The contact cannot be deleted as it has transactions associated with it.",
                )
            del self.books_contacts[contact_id]
            self._books_names.pop(self._name_key(contact["contact_name"]), None)
            self.books_deleted.append({**copy.deepcopy(contact), "deleted_time": books_time(self.now())})
            self._record_change(
                system="books",
                module="Customers",
                kind=ChangeKind.DELETE,
                record_id=contact_id,
                source=source,
                before=copy.deepcopy(contact),
                after=None,
                fires_workflows=source is not Source.ADMIN,
            )
        self._flush()

    def books_list_contacts(
        self,
        *,
        contact_name: str | None = None,
        contact_name_startswith: str | None = None,
        contact_name_contains: str | None = None,
        email: str | None = None,
        zcrm_account_id: str | None = None,
        zcrm_contact_id: str | None = None,
        filter_by: str = "Status.All",
    ) -> list[dict[str, Any]]:
        """Contacts matching every given filter (names and emails case-insensitive), oldest first."""

        def folded(value: Any) -> str:
            return str(value or "").casefold()

        with self._lock:
            contacts = [copy.deepcopy(c) for c in self.books_contacts.values()]
        out = []
        for c in contacts:
            emails = {folded(c.get("email"))} | {folded(p.get("email")) for p in c["contact_persons"]}
            checks = [
                contact_name is None or folded(c["contact_name"]) == folded(contact_name),
                contact_name_startswith is None
                or folded(c["contact_name"]).startswith(folded(contact_name_startswith)),
                contact_name_contains is None or folded(contact_name_contains) in folded(c["contact_name"]),
                email is None or folded(email) in emails,
                zcrm_account_id is None or c.get("zcrm_account_id") == zcrm_account_id,
                zcrm_contact_id is None or c.get("zcrm_contact_id") == zcrm_contact_id,
                _status_filter(c, filter_by),
            ]
            if all(checks):
                out.append(c)
        return out

    def books_create_invoice(
        self, fields: Mapping[str, Any], *, source: Source = Source.API
    ) -> dict[str, Any]:
        """Create an invoice for ``customer_id``; the customer then has a transaction and a balance."""
        with self._lock:
            customer_id = str(fields.get("customer_id") or "")
            if customer_id not in self.books_contacts:
                raise SimulatorError(400, BOOKS_NOT_FOUND, "Customer does not exist.")
            customer = self.books_contacts[customer_id]
            if customer["status"] == "inactive" and self.assumptions.books_inactive_blocks_invoices:
                raise SimulatorError(
                    400,
                    self.assumptions.books_inactive_invoice_code,
                    "Transactions cannot be created for an inactive contact.",
                )
            total = Decimal("0")
            for item in fields.get("line_items") or []:
                total += Decimal(str(item.get("rate", 0))) * Decimal(str(item.get("quantity", 1)))
            invoice_id = self._ids.take("invoice")
            number = f"INV-{len(self.books_invoices) + 1:06d}"
            invoice = {
                "invoice_id": invoice_id,
                "invoice_number": number,
                "customer_id": customer_id,
                "customer_name": customer["contact_name"],
                "status": "sent",
                "date": self.now().date().isoformat(),
                "total": float(total),
                "balance": float(total),
                "currency_code": customer["currency_code"],
                "created_time": books_time(self.now()),
            }
            self.books_invoices[invoice_id] = invoice
            before = copy.deepcopy(customer)
            customer["has_transaction"] = True
            customer["outstanding_receivable_amount"] = float(
                Decimal(str(customer["outstanding_receivable_amount"])) + total
            )
            self._record_change(
                system="books",
                module="Invoices",
                kind=ChangeKind.CREATE,
                record_id=invoice_id,
                source=source,
                before=None,
                after=copy.deepcopy(invoice),
                fires_workflows=source is not Source.ADMIN,
            )
            self._record_change(
                system="books",
                module="Customers",
                kind=ChangeKind.UPDATE,
                record_id=customer_id,
                source=source,
                before=before,
                after=copy.deepcopy(customer),
                changed_fields=("has_transaction", "outstanding_receivable_amount"),
                fires_workflows=False,
            )
            result = copy.deepcopy(invoice)
        self._flush()
        return result

    def books_list_invoices(self, *, customer_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(i)
                for i in self.books_invoices.values()
                if customer_id is None or i["customer_id"] == customer_id
            ]

    # ----------------------------------------------------------------------------------- save / load

    def save(self) -> dict[str, Any]:
        """The organisation as JSON-ready data that :meth:`load` takes back: every record, deleted and
        merged record, tag, view, watch channel, Books contact and invoice, and the id sequences.

        Not the change history (``changes``): it is for a test's assertions, and nothing replays it.
        """
        with self._lock:
            return copy.deepcopy(
                {
                    "books_organization_id": self.books_organization_id,
                    "ids": self._ids.saved(),
                    "seq": self._seq,
                    "crm": self.crm,
                    "crm_deleted": self.crm_deleted,
                    "crm_merged_into": self.crm_merged_into,
                    "crm_tags": self.crm_tags,
                    "crm_webhook_failures": self.crm_webhook_failures,
                    "crm_watch_channels": self.crm_watch_channels,
                    "crm_views": self.crm_views,
                    "books_contacts": self.books_contacts,
                    "books_deleted": self.books_deleted,
                    "books_invoices": self.books_invoices,
                }
            )

    def load(self, saved: Mapping[str, Any]) -> None:
        """Add a saved organisation (:meth:`save`'s data) to this one; nothing is published to subscribers.

        Into an empty state it is a restore. Several saved organisations whose ids are apart (``id_block``)
        load side by side into one: the demo's scenarios, each its own organisation, become the one Zoho
        ``sync-guard serve`` reopens. A tag or display name two of them use keeps its first owner. Raises
        ``KeyError``/``TypeError``/``ValueError`` for data that is not :meth:`save`'s.
        """
        loaded = copy.deepcopy(dict(saved))
        with self._lock:
            for module in CRM_MODULES:
                self.crm[module].update(loaded["crm"][module])
                self.crm_deleted[module].extend(loaded["crm_deleted"][module])
                self.crm_merged_into[module].update(loaded["crm_merged_into"][module])
            for name, tag_id in loaded["crm_tags"].items():
                self.crm_tags.setdefault(name, tag_id)
            self.crm_webhook_failures.extend(loaded["crm_webhook_failures"])
            self.crm_watch_channels.update(loaded["crm_watch_channels"])
            self.crm_views.update(loaded["crm_views"])
            self.books_contacts.update(loaded["books_contacts"])
            for contact_id, contact in loaded["books_contacts"].items():
                self._books_names.setdefault(self._name_key(contact["contact_name"]), contact_id)
            self.books_deleted.extend(loaded["books_deleted"])
            self.books_invoices.update(loaded["books_invoices"])
            self._ids.continue_after(loaded["ids"])
            self._seq = max(self._seq, int(loaded["seq"]))

    # ------------------------------------------------------------------------------------------ snapshot

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-ready: for ``/_sim/state`` and for debugging a failing test."""
        with self._lock:
            return copy.deepcopy(
                {
                    "crm": self.crm,
                    "crm_deleted": self.crm_deleted,
                    "crm_merged_into": self.crm_merged_into,
                    "books_contacts": self.books_contacts,
                    "books_invoices": self.books_invoices,
                    "changes": len(self.changes),
                }
            )


def _status_filter(contact: Mapping[str, Any], filter_by: str) -> bool:
    if filter_by in ("", "Status.All"):
        return True
    if filter_by == "Status.Active":
        return bool(contact["status"] == "active")
    if filter_by == "Status.Inactive":
        return bool(contact["status"] == "inactive")
    if filter_by == "Status.Crm":
        return bool(contact.get("is_linked_with_zohocrm"))
    raise SimulatorError(400, 2, f"Invalid value passed for filter_by: {filter_by}")
