"""Zoho's outgoing webhooks, from the simulator to the guard, over HTTP.

:class:`WebhookEmitter` subscribes to a :class:`SimulatorState` and, for every applied change, posts what
Zoho would post:

- **CRM workflow webhooks** (raw JSON, the README's template, header ``X-Sync-Guard-Token``) for creates,
  edits and deletes of Accounts and Contacts, whoever made them: a person (UI), an API client or the
  native sync, as Zoho runs workflow rules for all of them. Writes that run no workflow rules
  (``fires_workflows`` false: ``trigger: []``, tag changes, seeding) send nothing. A merge sends an edit
  for the master and a delete for each merged-away record (manual merges fire those triggers).
- **Notification API callbacks** to every live channel registered for the module and operation
  (``state.crm_watch_targets``), with the channel's echoed ``token``; ids only.
- **Books workflow webhooks** on customers (default payload ``{"contact": {...}}``, ``?event=`` naming the
  trigger) for creates, edits (status changes included) and deletes, the sync's own included.

Delivery is at most once, as Zoho CRM's is: no retries; a failed CRM workflow delivery is listed by the
simulated ``webhook_failures`` API. Posting happens on a few worker threads (a record's webhooks always on
the same worker, so they arrive in order); :meth:`WebhookEmitter.flush` waits until everything queued has
been posted, which keeps tests and the demo deterministic without sleeping.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from sync_guard.local.zoho_simulator.state import ChangeEvent, ChangeKind, SimulatorState, Source

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Sync-Guard-Token"  # noqa: S105 - a header name, not a secret
CRM_MODULES = ("Accounts", "Contacts")


@dataclass(frozen=True)
class GuardEndpoints:
    """Where the guard listens, and the shared secret Zoho is configured with."""

    crm_workflow_url: str
    crm_notification_url: str
    books_url: str
    secret: str

    @classmethod
    def from_api_url(cls, api_url: str, secret: str) -> GuardEndpoints:
        """The three webhook routes of the template under one base URL (the local stack's)."""
        base = api_url.rstrip("/")
        return cls(
            f"{base}/webhooks/crm", f"{base}/webhooks/crm/notifications", f"{base}/webhooks/books", secret
        )


@dataclass(frozen=True)
class Delivery:
    """One webhook to post."""

    kind: str  # "crm_workflow" | "crm_notification" | "books"
    url: str
    body: dict[str, Any]
    headers: dict[str, str]
    module: str
    record_id: str


@dataclass
class DeliveryResult:
    delivery: Delivery
    status: int  # 0: no answer (connection refused, timeout)
    event_ids: list[str] = field(default_factory=list)
    #: How long the guard took to answer (or the post to fail).
    seconds: float = 0.0


def crm_workflow_body(event: str, module: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The README's raw JSON template with its merge fields filled from ``record`` (an unset field is "")."""

    def text(name: str) -> str:
        value = record.get(name)
        if isinstance(value, Mapping):
            value = value.get("name")
        return "" if value is None else str(value)

    if module == "Accounts":
        return {
            "event": event,
            "module": module,
            "id": str(record["id"]),
            "name": text("Account_Name"),
            "modified": text("Modified_Time"),
            "phone": text("Phone"),
            "website": text("Website"),
            "postcode": text("Billing_Code"),
            "city": text("Billing_City"),
            "country": text("Billing_Country"),
        }
    lookup = record.get("Account_Name")
    account_id = str(lookup.get("id") or "") if isinstance(lookup, Mapping) else ""
    return {
        "event": event,
        "module": module,
        "id": str(record["id"]),
        "first_name": text("First_Name"),
        "last_name": text("Last_Name"),
        "email": text("Email"),
        "phone": text("Phone"),
        "account_id": account_id,
        "modified": text("Modified_Time"),
    }


def notification_body(
    module: str, operation: str, record_ids: list[str], channel: Mapping[str, Any], server_time: datetime
) -> dict[str, Any]:
    """A Notification API callback body for one channel (ids only, as without affected values)."""
    return {
        "server_time": int(server_time.timestamp() * 1000),
        "module": module,
        "resource_uri": f"/crm/v8/{module}",
        "ids": record_ids,
        "operation": operation,
        "channel_id": str(channel["channel_id"]),
        "token": channel.get("token"),
        "query_params": {},
    }


_WORKFLOW_EVENT = {
    ChangeKind.CREATE: "create",
    ChangeKind.UPDATE: "edit",
    ChangeKind.MERGE: "edit",
    ChangeKind.DELETE: "delete",
}
_NOTIFICATION_OPERATION = {ChangeKind.CREATE: "insert", ChangeKind.DELETE: "delete"}
_BOOKS_EVENT = {
    ChangeKind.CREATE: "create",
    ChangeKind.UPDATE: "edit",
    ChangeKind.STATUS: "edit",
    ChangeKind.DELETE: "delete",
}


class WebhookEmitter:
    """Posts the webhooks Zoho would send for every change of ``state`` to the guard's ``endpoints``."""

    def __init__(
        self,
        state: SimulatorState,
        endpoints: GuardEndpoints,
        *,
        workers: int = 4,
        timeout_seconds: float = 10.0,
        crm_workflows: bool = True,
        books_workflows: bool = True,
        client: httpx.Client | None = None,
    ) -> None:
        self.state = state
        self.endpoints = endpoints
        self.crm_workflows = crm_workflows
        self.books_workflows = books_workflows
        self._client = client or httpx.Client(
            timeout=timeout_seconds, limits=httpx.Limits(max_connections=max(workers, 1) * 2)
        )
        self._owns_client = client is None
        self._queues: list[queue.Queue[Delivery | None]] = [queue.Queue() for _ in range(max(workers, 1))]
        self._pending = 0
        #: What each worker is posting now (by worker), for a wait that says which webhook it waits on.
        self._posting: dict[int, Delivery] = {}
        self._idle = threading.Condition()
        self._results_lock = threading.Lock()
        self.results: list[DeliveryResult] = []
        self._threads = [
            threading.Thread(target=self._work, args=(i, q), name=f"zoho-webhooks-{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]
        for thread in self._threads:
            thread.start()
        self._unsubscribe: Callable[[], None] | None = state.subscribe(self._on_change)

    # ---------------------------------------------------------------------------------- public

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every webhook queued so far has been posted (answered or failed); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    wait_idle = flush

    @property
    def pending(self) -> int:
        """Webhooks queued and not answered yet (those being posted included)."""
        with self._idle:
            return self._pending

    def posting(self) -> list[Delivery]:
        """The webhooks being posted right now (one a worker at most)."""
        with self._idle:
            return list(self._posting.values())

    @property
    def event_ids(self) -> list[str]:
        """Event ids the guard acknowledged (its 202 bodies), in delivery order."""
        with self._results_lock:
            return [event_id for result in self.results for event_id in result.event_ids]

    def redeliver(self, delivery: Delivery) -> None:
        """Post a webhook again, as Zoho does when it retries one it thinks failed: the guard must give a
        duplicate delivery the effect of one."""
        self._queue(delivery)

    def failures(self) -> list[DeliveryResult]:
        """Deliveries the guard did not accept (status 0 or not 2xx)."""
        with self._results_lock:
            return [r for r in self.results if not 200 <= r.status < 300]

    def close(self, timeout: float = 30.0) -> None:
        """Stop listening, post what is queued (for up to ``timeout`` seconds; what is still queued then is
        dropped, so that no worker posts on after its emitter closed), stop the workers."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if not self.flush(timeout=timeout):
            dropped = self._drop_queued()
            logger.warning("webhook emitter closed with webhooks unposted", extra={"dropped": dropped})
        for q in self._queues:
            q.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> WebhookEmitter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -------------------------------------------------------------------------------- building

    def deliveries_for(self, event: ChangeEvent) -> list[Delivery]:
        """The webhooks Zoho sends for one change (possibly none)."""
        if event.source is Source.ADMIN:
            return []
        if event.system == "crm" and event.module in CRM_MODULES:
            return self._crm_workflow(event) + self._crm_notifications(event)
        if event.system == "books" and event.module == "Customers":
            return self._books(event)
        return []

    def _headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", TOKEN_HEADER: self.endpoints.secret, "User-Agent": "Zoho"}

    def _crm_workflow(self, event: ChangeEvent) -> list[Delivery]:
        name = _WORKFLOW_EVENT.get(event.kind)
        if not self.crm_workflows or name is None or not event.fires_workflows:
            return []
        record = event.after if event.kind is not ChangeKind.DELETE else event.before
        if record is None:
            return []
        body = crm_workflow_body(name, event.module, record)
        if event.kind is ChangeKind.DELETE:
            # The delete rule's merge fields are the record as it was; the modified time is the delete's.
            body["modified"] = event.at.isoformat(timespec="seconds")
        return [
            Delivery(
                "crm_workflow",
                self.endpoints.crm_workflow_url,
                body,
                self._headers(),
                event.module,
                event.record_id,
            )
        ]

    def _crm_notifications(self, event: ChangeEvent) -> list[Delivery]:
        if event.kind is ChangeKind.STATUS:
            return []
        channels = self.state.crm_watch_targets(event.module, event.kind)
        operation = _NOTIFICATION_OPERATION.get(event.kind, "update")
        return [
            Delivery(
                "crm_notification",
                str(channel["notify_url"]),
                notification_body(event.module, operation, [event.record_id], channel, event.at),
                {"Content-Type": "application/json", "User-Agent": "Zoho"},
                event.module,
                event.record_id,
            )
            for channel in channels
        ]

    def _books(self, event: ChangeEvent) -> list[Delivery]:
        name = _BOOKS_EVENT.get(event.kind)
        if not self.books_workflows or name is None or not event.fires_workflows:
            return []
        contact = event.after if event.kind is not ChangeKind.DELETE else event.before
        if contact is None:
            return []
        url = f"{self.endpoints.books_url}?{urlencode({'event': name})}"
        return [Delivery("books", url, {"contact": contact}, self._headers(), "Customers", event.record_id)]

    # -------------------------------------------------------------------------------- delivery

    def _on_change(self, event: ChangeEvent) -> None:
        for delivery in self.deliveries_for(event):
            self._queue(delivery)

    def _queue(self, delivery: Delivery) -> None:
        with self._idle:
            self._pending += 1
        # One worker per record: a record's webhooks leave in the order its changes happened.
        worker = zlib.crc32(f"{delivery.module}:{delivery.record_id}".encode()) % len(self._queues)
        self._queues[worker].put(delivery)

    def _drop_queued(self) -> int:
        """Take every webhook not being posted yet off the queues; how many."""
        dropped = 0
        for q in self._queues:
            while True:
                try:
                    q.get_nowait()
                except queue.Empty:
                    break
                dropped += 1
        with self._idle:
            self._pending -= dropped
            self._idle.notify_all()
        return dropped

    def _work(self, worker: int, q: queue.Queue[Delivery | None]) -> None:
        while True:
            delivery = q.get()
            if delivery is None:
                return
            with self._idle:
                self._posting[worker] = delivery
            try:
                self._post(delivery)
            finally:
                with self._idle:
                    del self._posting[worker]
                    self._pending -= 1
                    self._idle.notify_all()

    def _post(self, delivery: Delivery) -> None:
        status = 0
        event_ids: list[str] = []
        started = time.monotonic()
        try:
            response = self._client.post(
                delivery.url, content=json.dumps(delivery.body).encode(), headers=delivery.headers
            )
            status = response.status_code
            if 200 <= status < 300:
                with_ids = response.json() if response.content else {}
                event_ids = [str(i) for i in (with_ids or {}).get("event_ids", [])]
        except (httpx.HTTPError, ValueError) as error:
            logger.warning(
                "webhook delivery failed", extra={"kind": delivery.kind, "error": type(error).__name__}
            )
        with self._results_lock:
            self.results.append(DeliveryResult(delivery, status, event_ids, time.monotonic() - started))
        if not 200 <= status < 300 and delivery.kind == "crm_workflow":
            # Zoho CRM never retries; it lists the failure for 30 days (the guard's reconcile reads it).
            self.state.add_webhook_failure(
                module=delivery.module, record_id=delivery.record_id, status_code=status or 500
            )
