"""The storage-first ingest service, with in-memory fakes for the table and the queue."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync_guard.config import BooksSignatureScheme, Settings
from sync_guard.errors import (
    InvalidPayload,
    PayloadTooLarge,
    SyncGuardError,
    Unauthorised,
    UnsupportedMediaType,
)
from sync_guard.ingest import (
    EventNotStored,
    EventStatus,
    IngestService,
    Route,
    WebhookRequest,
    requeue_unqueued,
)
from sync_guard.ingest.auth import HmacSha256Signature
from sync_guard.models.events import GuardEvent
from sync_guard.zoho.payloads import parse_crm_workflow
from tests.support.events import MemoryQueue, MemoryStore

PAYLOADS = Path(__file__).resolve().parents[3] / "events" / "payloads"
SECRET = "sync-guard-test-secret"
NOW = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)


def make_service(
    store: MemoryStore, queue: MemoryQueue, settings: Settings | None = None, max_body_bytes: int = 4096
) -> IngestService:
    settings = settings or Settings(max_body_bytes=max_body_bytes)
    return IngestService.from_settings(settings, store, queue, secret=lambda: SECRET, clock=lambda: NOW)


def payload_text(name: str) -> str:
    return (PAYLOADS / name).read_text()


def request(
    route: Route,
    body: str,
    *,
    token: str | None = SECRET,
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> WebhookRequest:
    all_headers = {"content-type": content_type, **(headers or {})}
    if token is not None:
        all_headers["X-Sync-Guard-Token"] = token
    return WebhookRequest.build(route, all_headers, query, body)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def queue() -> MemoryQueue:
    return MemoryQueue()


def test_new_event_is_stored_then_queued(store: MemoryStore, queue: MemoryQueue) -> None:
    # given a CRM workflow webhook
    body = payload_text("crm-workflow-account-create.json")
    # when it is ingested
    result = make_service(store, queue).ingest(request(Route.CRM_WORKFLOW, body))
    # then it is stored with its raw body and TTL, queued once, and reported
    assert result.accepted == 1
    assert result.duplicates == 0
    [event_id] = result.event_ids
    stored = store.items[event_id]
    assert stored.raw_body == body.encode()
    assert stored.route == "/webhooks/crm"
    assert stored.expires_at == NOW + timedelta(days=30)
    assert store.statuses[event_id] is EventStatus.QUEUED
    assert [event.event_id for event in queue.sent] == [event_id]
    assert result.to_body() == {"accepted": 1, "event_ids": [event_id], "duplicates": 0}


def test_duplicate_delivery_is_acknowledged_with_the_same_id_but_not_queued_again(
    store: MemoryStore, queue: MemoryQueue
) -> None:
    service = make_service(store, queue)
    body = payload_text("crm-workflow-account-create.json")
    first = service.ingest(request(Route.CRM_WORKFLOW, body))
    second = service.ingest(request(Route.CRM_WORKFLOW, body))
    assert second.event_ids == first.event_ids
    assert second.duplicates == 1
    assert len(queue.sent) == 1
    assert len(store.items) == 1


def test_an_undated_edit_back_to_earlier_values_is_a_new_event_and_its_redelivery_a_repeat(
    store: MemoryStore, queue: MemoryQueue
) -> None:
    # given a CRM template without "modified": nothing in the body dates the edit
    ticks = iter(NOW + timedelta(seconds=n) for n in range(10))
    service = IngestService.from_settings(
        Settings(), store, queue, secret=lambda: SECRET, clock=lambda: next(ticks)
    )

    def edit(name: str) -> list[str]:
        body = json.dumps({"event": "edit", "module": "Accounts", "id": "5725767000003000064", "name": name})
        return service.ingest(request(Route.CRM_WORKFLOW, body)).event_ids

    # when the account is renamed A -> B -> A, B's webhook delivered twice in a row, and A's last one too
    first, second, second_again, back, back_again = (
        edit(name) for name in ("Acme Ltd", "Acme Group Ltd", "Acme Group Ltd", "Acme Ltd", "Acme Ltd")
    )

    # then each edit is one event, the edit back to A one of its own, and the redeliveries repeats
    assert second_again == second
    assert back_again == back
    assert len({*first, *second, *back}) == 3
    assert [event.event_id for event in queue.sent] == [*first, *second, *back]
    assert [event.record.name for event in queue.sent if event.record] == [
        "Acme Ltd",
        "Acme Group Ltd",
        "Acme Ltd",
    ]


def test_a_dated_edit_keeps_its_content_derived_id(store: MemoryStore, queue: MemoryQueue) -> None:
    body = payload_text("crm-workflow-account-edit.json")
    [event_id] = make_service(store, queue).ingest(request(Route.CRM_WORKFLOW, body)).event_ids
    assert event_id == parse_crm_workflow(json.loads(body), received_at=NOW).event_id
    assert store.undated == {}


def test_enqueue_failure_keeps_the_event_received_and_still_acknowledges(
    store: MemoryStore, queue: MemoryQueue
) -> None:
    # given a queue that is down
    queue.failing = True
    service = make_service(store, queue)
    body = payload_text("books-edit.json")
    # when a webhook arrives, it is still accepted: the event is stored
    result = service.ingest(request(Route.BOOKS, body))
    [event_id] = result.event_ids
    assert result.unqueued == [event_id]
    assert store.statuses[event_id] is EventStatus.RECEIVED
    assert store.errors[event_id] == "TimeoutError"
    # and when Zoho (or an admin replay) delivers it again with the queue back, it is queued then
    queue.failing = False
    again = service.ingest(request(Route.BOOKS, body))
    assert again.event_ids == [event_id]
    assert again.duplicates == 1
    assert [event.event_id for event in queue.sent] == [event_id]
    assert store.statuses[event_id] is EventStatus.QUEUED


def test_store_failure_is_the_only_5xx_and_nothing_is_queued(store: MemoryStore, queue: MemoryQueue) -> None:
    store.fail_puts = True
    with pytest.raises(EventNotStored) as raised:
        make_service(store, queue).ingest(
            request(Route.CRM_WORKFLOW, payload_text("crm-workflow-account-edit.json"))
        )
    assert raised.value.status == 503
    assert queue.sent == []


def test_notification_with_three_ids_stores_and_queues_three_events_authenticated_by_body_token(
    store: MemoryStore, queue: MemoryQueue
) -> None:
    body = payload_text("crm-notification-insert.json")
    result = make_service(store, queue).ingest(request(Route.CRM_NOTIFICATIONS, body, token=None))
    assert result.accepted == 3
    assert len(queue.sent) == 3
    assert {event.record_id for event in queue.sent} == {
        "5725767000003000301",
        "5725767000003000302",
        "5725767000003000303",
    }
    # the echoed secret never reaches the table
    for stored in store.items.values():
        assert SECRET.encode() not in stored.raw_body
        assert b"[redacted]" in stored.raw_body


def test_a_secret_in_a_latin_1_body_is_redacted_in_the_latin_1_bytes(
    store: MemoryStore, queue: MemoryQueue
) -> None:
    secret = "caf\u00e9-" + SECRET
    body = json.loads(payload_text("crm-notification-insert.json")) | {"token": secret}
    raw = base64.b64encode(json.dumps(body, ensure_ascii=False).encode("latin-1")).decode()
    service = IngestService.from_settings(
        Settings(max_body_bytes=4096), store, queue, secret=lambda: secret, clock=lambda: NOW
    )
    headers = {"content-type": "application/json; charset=ISO-8859-1"}
    service.ingest(WebhookRequest.build(Route.CRM_NOTIFICATIONS, headers, None, raw, is_base64_encoded=True))

    assert store.items
    for stored in store.items.values():
        assert b"caf\xe9-" not in stored.raw_body
        assert b"[redacted]" in stored.raw_body


def test_notification_with_a_wrong_body_token_is_unauthorised(store: MemoryStore, queue: MemoryQueue) -> None:
    body = json.loads(payload_text("crm-notification-insert.json"))
    body["token"] = "guess"
    with pytest.raises(Unauthorised):
        make_service(store, queue).ingest(request(Route.CRM_NOTIFICATIONS, json.dumps(body), token=None))
    assert store.items == {}


def test_notification_header_token_is_checked_when_present(store: MemoryStore, queue: MemoryQueue) -> None:
    body = payload_text("crm-notification-insert.json")  # body token is right, header is wrong
    with pytest.raises(Unauthorised):
        make_service(store, queue).ingest(request(Route.CRM_NOTIFICATIONS, body, token="wrong"))


@pytest.mark.parametrize("token", [None, "", "wrong", SECRET.upper()])
def test_wrong_or_missing_token_is_unauthorised_before_the_body_is_read(
    store: MemoryStore, queue: MemoryQueue, token: str | None
) -> None:
    with pytest.raises(Unauthorised):
        make_service(store, queue).ingest(request(Route.CRM_WORKFLOW, "{not even json", token=token))


ROUTE_PAYLOADS = {
    Route.CRM_WORKFLOW: "crm-workflow-account-create.json",
    Route.CRM_NOTIFICATIONS: "crm-notification-insert.json",
    Route.BOOKS: "books-create.json",
}


def url_tokens(route: Route, values: list[str], headers: dict[str, str] | None = None) -> WebhookRequest:
    """A webhook whose URL gives ``token`` once per value, as an HTTP API hands it on: the values joined by
    commas in queryStringParameters, apart in rawQueryString."""
    raw_query = "&".join(f"token={value}" for value in values)
    return WebhookRequest.build(
        route,
        {"content-type": "application/json", **(headers or {})},
        {"token": ",".join(values)},
        payload_text(ROUTE_PAYLOADS[route]),
        False,
        raw_query,
    )


@pytest.mark.parametrize("route", list(Route))
@pytest.mark.parametrize(
    "values",
    [
        [SECRET, SECRET],  # the URL pieced together twice
        [SECRET, "guess"],
        ["guess", SECRET],
        ["guess", "other"],
        ["", ""],
        [SECRET, SECRET, SECRET],
        ["a+b", "c"],  # a '+' read as a space or not, still two values
    ],
)
def test_a_url_giving_token_more_than_once_is_a_400_naming_it_whatever_the_values(
    store: MemoryStore, queue: MemoryQueue, route: Route, values: list[str]
) -> None:
    service = make_service(store, queue)

    # when a webhook's URL (no header) gives token more than once
    with pytest.raises(SyncGuardError) as raised:
        service.ingest(url_tokens(route, values))

    # then it is malformed input, not a wrong secret
    assert (raised.value.status, raised.value.field) == (400, "token")
    assert "token more than once" in raised.value.message
    assert SECRET not in raised.value.message
    # and the answer is the same whether one value, all or none is the secret: it tells nothing of it
    with pytest.raises(SyncGuardError) as wrong:
        service.ingest(url_tokens(route, ["guess"] * len(values)))
    assert raised.value.to_body() == wrong.value.to_body()
    assert store.items == {}
    assert queue.sent == []


def test_a_repeated_url_token_is_not_read_where_the_header_carries_the_token(
    store: MemoryStore, queue: MemoryQueue
) -> None:
    # the header's token is the one read: the URL's, once or twice, right or wrong, is not looked at
    service = make_service(store, queue)
    accepted = service.ingest(url_tokens(Route.BOOKS, ["guess", "other"], {"X-Sync-Guard-Token": SECRET}))
    assert accepted.accepted == 1
    with pytest.raises(Unauthorised):
        service.ingest(url_tokens(Route.BOOKS, [SECRET, SECRET], {"X-Sync-Guard-Token": "guess"}))


def test_query_token_authenticates(store: MemoryStore, queue: MemoryQueue) -> None:
    body = payload_text("books-delete-id-only.json")
    result = make_service(store, queue).ingest(
        request(Route.BOOKS, body, token=None, query={"token": SECRET})
    )
    assert result.accepted == 1


def test_size_limit_comes_before_authentication(store: MemoryStore, queue: MemoryQueue) -> None:
    with pytest.raises(PayloadTooLarge):
        make_service(store, queue, max_body_bytes=10).ingest(
            request(Route.CRM_WORKFLOW, "x" * 11, token=None)
        )


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_a_compressed_body_is_415_naming_the_encoding(
    store: MemoryStore, queue: MemoryQueue, encoding: str
) -> None:
    body = payload_text("crm-workflow-account-create.json")
    with pytest.raises(UnsupportedMediaType, match=encoding) as raised:
        make_service(store, queue).ingest(
            request(Route.CRM_WORKFLOW, body, headers={"Content-Encoding": encoding.upper()})
        )
    assert raised.value.field == "Content-Encoding"
    assert store.items == {}


def test_an_identity_encoding_is_no_encoding(store: MemoryStore, queue: MemoryQueue) -> None:
    body = payload_text("crm-workflow-account-create.json")
    result = make_service(store, queue).ingest(
        request(Route.CRM_WORKFLOW, body, headers={"Content-Encoding": "identity"})
    )
    assert result.accepted == 1


def test_content_type_and_validation_errors(store: MemoryStore, queue: MemoryQueue) -> None:
    service = make_service(store, queue)
    with pytest.raises(UnsupportedMediaType):
        service.ingest(request(Route.CRM_WORKFLOW, "<xml/>", content_type="application/xml"))
    with pytest.raises(InvalidPayload) as raised:
        service.ingest(request(Route.BOOKS, '{"contact": {"contact_name": "Acme"}}'))
    assert raised.value.field == "contact.contact_id"
    assert store.items == {}


@pytest.mark.parametrize(
    ("route", "body", "query", "field"),
    [
        (Route.CRM_WORKFLOW, f'{{"event": "{SECRET}", "module": "Accounts", "id": "1"}}', None, "event"),
        (Route.CRM_WORKFLOW, f'{{"event": "edit", "module": "{SECRET}", "id": "1"}}', None, "module"),
        # a webhook URL written "?event=edit?token=..." carries the secret in the event parameter
        (Route.BOOKS, '{"contact": {"contact_id": "1"}}', {"event": f"edit?token={SECRET}"}, "event"),
        (
            Route.CRM_WORKFLOW,
            f'{{"event": "edit", "module": "Accounts", "id": "1", "{SECRET}": {"[" * 40}{"]" * 40}}}',
            None,
            "[redacted]",
        ),
    ],
)
def test_a_refusal_never_repeats_the_secret(
    store: MemoryStore,
    queue: MemoryQueue,
    route: Route,
    body: str,
    query: dict[str, str] | None,
    field: str,
) -> None:
    # given an authenticated request that carries the secret where a value is refused
    with pytest.raises(InvalidPayload) as raised:
        make_service(store, queue).ingest(request(route, body, query=query))
    # then the refusal, which is logged and answered, says where but not the secret
    assert raised.value.field == field
    assert SECRET not in json.dumps(raised.value.to_body())
    assert SECRET not in str(raised.value)


def test_books_event_query_parameter_names_the_operation(store: MemoryStore, queue: MemoryQueue) -> None:
    body = payload_text("books-delete.json")
    make_service(store, queue).ingest(request(Route.BOOKS, body, query={"event": "delete"}))
    assert queue.sent[0].operation.value == "delete"


def test_books_hmac_scheme_requires_a_valid_signature(store: MemoryStore, queue: MemoryQueue) -> None:
    settings = Settings(books_signature_scheme=BooksSignatureScheme.HMAC_SHA256)
    service = make_service(store, queue, settings)
    body = payload_text("books-create.json")
    with pytest.raises(Unauthorised):
        service.ingest(request(Route.BOOKS, body))
    signature = HmacSha256Signature(SECRET).sign("1772359200", body.encode())
    result = service.ingest(request(Route.BOOKS, body, headers={"X-Zoho-Webhook-Signature": signature}))
    assert result.accepted == 1


def test_every_client_mistake_is_a_4xx_domain_error(store: MemoryStore, queue: MemoryQueue) -> None:
    service = make_service(store, queue)
    cases: list[dict[str, Any]] = [
        {"route": Route.CRM_WORKFLOW, "body": '{"event": "create"}'},
        {"route": Route.CRM_NOTIFICATIONS, "body": '{"token": "sync-guard-test-secret", "ids": "x"}'},
        {"route": Route.BOOKS, "body": "contact_id=", "content_type": "application/x-www-form-urlencoded"},
    ]
    for case in cases:
        with pytest.raises(SyncGuardError) as raised:
            service.ingest(request(**case))
        assert 400 <= raised.value.status < 500


def test_events_the_queue_refuses_among_a_batch_stay_received_with_the_reason(store: MemoryStore) -> None:
    from sync_guard.store.queue import SqsEventQueue

    class RefusingSqs:
        """SQS that refuses the second entry of every batch, and records the batch sizes."""

        def __init__(self) -> None:
            self.batches: list[int] = []

        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.batches.append(len(Entries))
            return {"Failed": [{"Id": Entries[1]["Id"], "Code": "InternalError", "SenderFault": False}]}

    sqs = RefusingSqs()
    queue = SqsEventQueue(sqs, "url")
    service = IngestService.from_settings(
        Settings(max_body_bytes=65536), store, queue, secret=lambda: SECRET, clock=lambda: NOW
    )
    body = json.loads(payload_text("crm-notification-update.json"))
    body["ids"] = [str(5725767000004000000 + n) for n in range(25)]

    result = service.ingest(request(Route.CRM_NOTIFICATIONS, json.dumps(body), token=None))

    assert sqs.batches == [10, 10, 5]
    assert result.unqueued == [result.event_ids[n] for n in (1, 11, 21)]
    assert {store.statuses[event_id] for event_id in result.unqueued} == {EventStatus.RECEIVED}
    assert {store.errors[event_id] for event_id in result.unqueued} == {"InternalError"}
    queued = [e for e in result.event_ids if e not in result.unqueued]
    assert {store.statuses[event_id] for event_id in queued} == {EventStatus.QUEUED}


class _StatusWritesFail(MemoryStore):
    """The table takes the puts, then refuses every status update."""

    def mark_queued_many(self, event_ids: Sequence[str], at: datetime) -> None:
        raise ConnectionError("table unreachable")

    def mark_enqueue_failed(self, event_id: str, at: datetime, reason: str) -> None:
        raise ConnectionError("table unreachable")


@pytest.mark.parametrize("queue_down", [False, True], ids=["queued", "queue-down"])
def test_an_event_stored_is_acknowledged_even_if_its_status_cannot_be_updated(queue_down: bool) -> None:
    # given a table that stores events but then refuses the status update (queued, or the enqueue error)
    store, queue = _StatusWritesFail(), MemoryQueue(failing=queue_down)
    body = payload_text("books-edit.json")

    # when a webhook arrives
    result = make_service(store, queue).ingest(request(Route.BOOKS, body))

    # then it is acknowledged (it is stored): queued, or left 'received' for the sweep
    [event_id] = result.event_ids
    assert event_id in store.items
    assert result.unqueued == ([event_id] if queue_down else [])
    assert [event.event_id for event in queue.sent] == ([] if queue_down else [event_id])


class _SweepableStore(MemoryStore):
    def unqueued(self, received_before: datetime, limit: int = 100) -> list[GuardEvent]:
        waiting = [e for e, status in self.statuses.items() if status is EventStatus.RECEIVED]
        return [self.items[e].event for e in waiting if self.items[e].received_at < received_before][:limit]


def test_the_sweep_queues_the_other_events_when_one_send_fails() -> None:
    # given two events stored while the queue was down
    store, queue = _SweepableStore(), MemoryQueue(failing=True)
    service = make_service(store, queue)
    first = service.ingest(request(Route.BOOKS, payload_text("books-edit.json"))).event_ids[0]
    second = service.ingest(request(Route.CRM_WORKFLOW, payload_text("crm-workflow-account-create.json")))
    [second_id] = second.event_ids

    # when the sweep runs and the queue refuses the first send only
    class RefusingFirst(MemoryQueue):
        def send(self, event: GuardEvent) -> None:
            if event.event_id == first:
                raise TimeoutError("queue unreachable")
            super().send(event)

    requeued = requeue_unqueued(store, RefusingFirst(), now=NOW + timedelta(minutes=10))

    # then the second is queued, and the first stays 'received' for the next sweep
    assert requeued == [second_id]
    assert store.statuses[second_id] is EventStatus.QUEUED
    assert store.statuses[first] is EventStatus.RECEIVED


def _json_escaped_token_callback() -> str:
    """The Notification API's echoed token with its first letter JSON-escaped: still the secret, parsed."""
    escaped = f"\\u{ord(SECRET[0]):04x}{SECRET[1:]}"
    return payload_text("crm-notification-insert.json").replace(f'"{SECRET}"', f'"{escaped}"')


def _percent_encoded_secret_form() -> str:
    """A workflow form whose template put the secret in a field as well, every character percent-encoded."""
    escaped = "".join(f"%{byte:02X}" for byte in SECRET.encode())
    return f"event=edit&module=Accounts&id=5725767000003000064&name=Acme+Ltd&note={escaped}"


@pytest.mark.parametrize(
    ("route", "body", "content_type", "token"),
    [
        (Route.CRM_NOTIFICATIONS, _json_escaped_token_callback(), "application/json", None),
        (Route.CRM_WORKFLOW, _percent_encoded_secret_form(), "application/x-www-form-urlencoded", SECRET),
    ],
)
def test_the_secret_is_redacted_in_the_stored_body_however_it_was_escaped(
    store: MemoryStore, queue: MemoryQueue, route: Route, body: str, content_type: str, token: str | None
) -> None:
    make_service(store, queue).ingest(request(route, body, content_type=content_type, token=token))

    assert store.items
    for stored in store.items.values():
        assert SECRET[1:].encode() not in stored.raw_body
        assert b"%73%79" not in stored.raw_body
        assert b"[redacted]" in stored.raw_body


@pytest.mark.parametrize(
    ("transfer_encoding", "written"),
    [
        ("base64", base64.b64encode(SECRET.encode()).decode()),
        ("quoted-printable", f"={ord(SECRET[0]):02X}{SECRET[1:]}"),
    ],
)
def test_a_multipart_part_in_a_transfer_encoding_is_refused_and_its_secret_never_stored(
    store: MemoryStore, queue: MemoryQueue, transfer_encoding: str, written: str
) -> None:
    # a workflow form whose "note" part carries the secret in a transfer encoding the redaction cannot read
    fields = {"event": "edit", "module": "Accounts", "id": "5725767000003000064", "name": "Acme Ltd"}
    parts = [f'--XyZ\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    parts.append(
        f'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n'
        f"Content-Transfer-Encoding: {transfer_encoding}\r\n\r\n{written}\r\n"
    )
    body = "".join(parts) + "--XyZ--\r\n"

    with pytest.raises(UnsupportedMediaType, match=transfer_encoding) as raised:
        make_service(store, queue).ingest(
            request(Route.CRM_WORKFLOW, body, content_type="multipart/form-data; boundary=XyZ")
        )
    assert raised.value.field == "body"  # a part's header, inside the body
    assert store.items == {}


@pytest.mark.parametrize("configured", ["20081234567", ""])
@pytest.mark.parametrize("sent", ["", "   ", "\t"])
def test_a_books_webhook_with_an_empty_organization_id_is_a_400_naming_it_and_stores_nothing(
    store: MemoryStore, queue: MemoryQueue, configured: str, sent: str
) -> None:
    # given a Books webhook URL whose organization_id did not resolve (a merge field, a typo)
    service = make_service(store, queue, Settings(zoho_books_organization_id=configured))
    body = payload_text("books-create.json")

    # when it is delivered, then it is refused, whether the guard has an organisation configured or not
    with pytest.raises(SyncGuardError) as raised:
        service.ingest(request(Route.BOOKS, body, query={"event": "create", "organization_id": sent}))

    assert (raised.value.status, raised.value.field) == (400, "organization_id")
    assert "organization_id is empty" in raised.value.message
    assert store.items == {}
    assert queue.sent == []


@pytest.mark.parametrize("configured", ["20081234567", ""])
@pytest.mark.parametrize(
    "raw_query",
    [
        "event=create&organization_id=20081234567&organization_id=20099999999",
        "organization_id=20099999999&event=create&organization_id=20081234567",
        "event=create&organization_id=20081234567&organization_id=",
    ],
)
def test_a_books_webhook_giving_organization_id_more_than_once_is_a_400_naming_it_and_stores_nothing(
    store: MemoryStore, queue: MemoryQueue, configured: str, raw_query: str
) -> None:
    # given a Books webhook URL with organization_id twice, as an HTTP API hands it on: the values joined
    # by a comma in queryStringParameters, apart in rawQueryString
    service = make_service(store, queue, Settings(zoho_books_organization_id=configured))
    values = [value for name, _, value in (p.partition("=") for p in raw_query.split("&")) if name != "event"]
    query = {"event": "create", "organization_id": ",".join(values)}
    headers = {"content-type": "application/json", "X-Sync-Guard-Token": SECRET}
    webhook = WebhookRequest.build(
        Route.BOOKS, headers, query, payload_text("books-create.json"), False, raw_query
    )

    # when it is delivered, then it is refused as the caller's mistake, not as another organisation's
    with pytest.raises(SyncGuardError) as raised:
        service.ingest(webhook)

    assert (raised.value.status, raised.value.field) == (400, "organization_id")
    assert "organization_id is given more than once" in raised.value.message
    assert store.items == {}
    assert queue.sent == []
