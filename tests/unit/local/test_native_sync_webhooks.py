"""The simulator's webhook emitter posts what Zoho would post, to a local HTTP receiver (no AWS)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sync_guard.local.zoho_simulator.native_sync import NativeSync
from sync_guard.local.zoho_simulator.state import ChangeKind, SimulatorState, Source
from sync_guard.local.zoho_simulator.webhooks import GuardEndpoints, WebhookEmitter
from sync_guard.models.events import Operation
from sync_guard.zoho.payloads import parse_books_webhook, parse_crm_notification, parse_crm_workflow


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 202
    #: Set: each post is answered only once it is set (a guard slow to answer).
    gate: threading.Event | None = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver("")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            if box.gate is not None:
                box.gate.wait(timeout=10)
            with lock:
                box.received.append(Received(self.path, dict(self.headers.items()), body))
                number = len(box.received)
            payload = json.dumps({"accepted": 1, "event_ids": [f"evt_{number}"]}).encode()
            self.send_response(box.status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield box
    server.shutdown()
    server.server_close()


def emitter_for(state: SimulatorState, receiver: Receiver) -> WebhookEmitter:
    return WebhookEmitter(state, GuardEndpoints.from_api_url(receiver.url, "s3cret"), workers=2)


def test_crm_ui_create_and_edit_post_workflow_webhooks_the_guard_parses(receiver: Receiver) -> None:
    state = SimulatorState()
    with emitter_for(state, receiver) as emitter:
        account = state.crm_create("Accounts", {"Account_Name": "Acme Ltd", "Phone": "1"}, source=Source.UI)
        state.crm_update("Accounts", account["id"], {"Phone": "2"}, source=Source.UI)
        assert emitter.flush(timeout=10)
    # in order (one worker per record), with the secret header, parseable by the guard's own parser
    assert [r.body["event"] for r in receiver.received] == ["create", "edit"]
    assert all(r.path == "/webhooks/crm" for r in receiver.received)
    assert all(r.headers["X-Sync-Guard-Token"] == "s3cret" for r in receiver.received)
    event = parse_crm_workflow(receiver.received[0].body, received_at=state.now())
    assert event.operation is Operation.CREATE
    assert event.record is not None
    assert event.record.name == "Acme Ltd"
    assert emitter.event_ids == ["evt_1", "evt_2"]


def test_writes_that_run_no_workflow_send_no_crm_webhook(receiver: Receiver) -> None:
    state = SimulatorState()
    seeded = state.crm_create("Accounts", {"Account_Name": "Seeded Ltd"}, source=Source.ADMIN)
    with emitter_for(state, receiver) as emitter:
        state.crm_update("Accounts", seeded["id"], {"Phone": "1"}, source=Source.API, trigger=[])
        state.crm_set_tags("Accounts", seeded["id"], add=["sync-guard-hold"], source=Source.API)
        assert emitter.flush(timeout=10)
    assert receiver.received == []


def test_sync_writes_fire_books_webhooks_with_the_default_payload(receiver: Receiver) -> None:
    state = SimulatorState()
    state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)
    sync = NativeSync(state)
    with emitter_for(state, receiver) as emitter:
        sync.connect()
        assert emitter.flush(timeout=10)
    (books,) = receiver.received
    assert books.path == "/webhooks/books?event=create"
    assert books.body["contact"]["zcrm_account_id"] == state.crm_list("Accounts")[0]["id"]
    event = parse_books_webhook(books.body, received_at=state.now(), operation="create")
    assert event.record is not None
    assert event.record.linked_crm_id == books.body["contact"]["zcrm_account_id"]


def test_merge_sends_an_edit_for_the_master_and_a_delete_for_the_merged_away(receiver: Receiver) -> None:
    state = SimulatorState()
    master = state.crm_create("Accounts", {"Account_Name": "Harbour Ltd"}, source=Source.ADMIN)["id"]
    other = state.crm_create("Accounts", {"Account_Name": "Harbour Trading"}, source=Source.ADMIN)["id"]
    with emitter_for(state, receiver) as emitter:
        state.crm_merge("Accounts", master, [other], source=Source.UI)
        assert emitter.flush(timeout=10)
    assert sorted((r.body["event"], r.body["id"]) for r in receiver.received) == sorted(
        [("edit", master), ("delete", other)]
    )


def test_notification_channels_get_ids_only_callbacks_with_their_token(receiver: Receiver) -> None:
    state = SimulatorState()
    state.crm_watch_enable(
        [
            {
                "channel_id": "1000000068001",
                "events": ["Accounts.all"],
                "notify_url": f"{receiver.url}/webhooks/crm/notifications",
                "token": "channel-token",
            }
        ]
    )
    with emitter_for(state, receiver) as emitter:
        record = state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.API)
        assert emitter.flush(timeout=10)
    callbacks = [r for r in receiver.received if r.path.endswith("/notifications")]
    assert len(callbacks) == 1
    (event,) = parse_crm_notification(callbacks[0].body, received_at=state.now())
    assert (event.record_id, event.operation) == (record["id"], Operation.CREATE)
    assert callbacks[0].body["token"] == "channel-token"


def test_failed_delivery_is_not_retried_and_is_listed_as_a_webhook_failure(receiver: Receiver) -> None:
    receiver.status = 500
    state = SimulatorState()
    with emitter_for(state, receiver) as emitter:
        state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.UI)
        assert emitter.flush(timeout=10)
    assert len(receiver.received) == 1  # at most once
    assert len(state.crm_webhook_failures) == 1
    assert len(emitter.failures()) == 1


def test_books_status_change_is_an_edit_and_delete_carries_the_contact(receiver: Receiver) -> None:
    state = SimulatorState()
    contact = state.books_create_contact({"contact_name": "Acme Ltd"}, source=Source.ADMIN)
    with emitter_for(state, receiver) as emitter:
        state.books_set_status(contact["contact_id"], False, source=Source.API)
        state.books_delete_contact(contact["contact_id"], source=Source.UI)
        assert emitter.flush(timeout=10)
    assert [r.path for r in receiver.received] == [
        "/webhooks/books?event=edit",
        "/webhooks/books?event=delete",
    ]
    assert receiver.received[0].body["contact"]["status"] == "inactive"
    assert state.changes_for(contact["contact_id"], ChangeKind.DELETE)


def test_an_emitter_says_what_it_is_posting_and_closing_drops_what_it_could_not_post(
    receiver: Receiver,
) -> None:
    # given a guard that does not answer yet, and three webhooks for it (one worker: one at a time)
    receiver.gate = threading.Event()
    state = SimulatorState()
    emitter = WebhookEmitter(state, GuardEndpoints.from_api_url(receiver.url, "s3cret"), workers=1)
    ids = [state.crm_create("Accounts", {"Account_Name": f"Acme {n}"}, source=Source.UI)["id"] for n in "123"]
    assert not emitter.flush(timeout=0.2)
    # then the emitter tells what it waits on
    assert emitter.pending == 3
    assert [d.record_id for d in emitter.posting()] == [str(ids[0])]
    # when it is closed before the guard answers (the guard answering a little later)
    answer = threading.Timer(0.5, receiver.gate.set)
    answer.start()
    emitter.close(timeout=0.1)
    answer.join()
    # then the webhook being posted got its answer, the two queued were dropped, no worker posts on
    assert [r.body["id"] for r in receiver.received] == [str(ids[0])]
    assert emitter.pending == 0
    assert emitter.posting() == []
    assert [r.status for r in emitter.results] == [202]
    assert not [t for t in threading.enumerate() if t.name.startswith("zoho-webhooks-") and t.is_alive()]
