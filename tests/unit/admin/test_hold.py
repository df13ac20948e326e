"""Holding a record by hand (``quarantines hold``, ``POST /admin/quarantines/hold``), on fakes (the DynamoDB
and outbox side is in tests/integration/test_admin_cli.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from sync_guard.admin.http import HoldRequest, parse_body
from sync_guard.admin.model import Hold, HoldStatus
from sync_guard.admin.service import AdminService
from sync_guard.config import Mode
from sync_guard.errors import Conflict, InvalidPayload
from sync_guard.guard.model import ActionKind, AuditEntry, OutboxAction, RecordState
from tests.unit.guard.builders import T0, books_customer, crm_contact, state


@dataclass
class FakeAdminRepository:
    """The calls ``hold`` makes: read the record's hold and state, write the hold with its entry."""

    states: dict[str, RecordState]
    holds: dict[str, Hold] = field(default_factory=dict)
    written: list[tuple[AuditEntry, OutboxAction, Hold | None]] = field(default_factory=list)

    def state(self, ref: str) -> RecordState | None:
        return self.states.get(ref)

    def hold(self, ref: str) -> Hold | None:
        return self.holds.get(ref)

    def put_hold(
        self, entry: AuditEntry, action: OutboxAction, *, replaces: Hold | None, state: RecordState | None
    ) -> None:
        self.written.append((entry, action, replaces))


@dataclass
class FakeQueue:
    sent: list[str] = field(default_factory=list)

    def send(self, action_ids: Sequence[str]) -> None:
        self.sent.extend(action_ids)


CONTACT = state(crm_contact("1", "Jane", "Smith", None))
CUSTOMER = state(books_customer("9", "Jane Smith Design"))


def _service(mode: Mode = Mode.ENFORCE, **holds: Hold) -> tuple[AdminService, FakeAdminRepository, FakeQueue]:
    repository = FakeAdminRepository({s.ref: s for s in (CONTACT, CUSTOMER)}, holds=dict(holds))
    queue = FakeQueue()
    service = AdminService(
        repository=cast(Any, repository),
        audit_log=cast(Any, None),
        actions=cast(Any, None),
        queue=queue,
        mode=mode,
        clock=lambda: T0,
    )
    return service, repository, queue


def test_a_crm_record_is_tagged_through_the_outbox_and_audited_with_its_actor() -> None:
    service, repository, queue = _service()

    result = service.hold(
        " crm:1 ", actor="user:bob", reason="Books customer deleted by mistake", related=("books:9",)
    )

    [(entry, action, replaces)] = repository.written
    assert (entry.operation, entry.actor, entry.records) == ("hold", "user:bob", ("crm:1", "books:9"))
    assert entry.note == "Books customer deleted by mistake"
    assert (action.kind, action.target, action.execute) == (ActionKind.TAG_CRM_RECORD, "crm:1", True)
    assert action.params == {"tag": "sync-guard-hold", "module": "Contacts"}  # the module the guard knows
    assert replaces is None
    assert result.queued_actions == (action.action_id,)
    assert queue.sent == [action.action_id]


def test_a_hold_whose_enqueue_fails_is_still_committed_for_the_sweep_to_send() -> None:
    service, repository, _ = _service()

    class DownQueue:
        def send(self, action_ids: Sequence[str]) -> None:
            raise ConnectionError("SQS unreachable")

    service.queue = cast(Any, DownQueue())

    # the admin's hold is recorded (its action pending, for the outbox sweep), not refused as a 5xx
    result = service.hold("crm:1", actor="user:bob")

    [(entry, action, _)] = repository.written
    assert entry.operation == "hold"
    assert result.queued_actions == (action.action_id,)


def test_in_observe_mode_the_hold_is_recorded_but_not_written_to_zoho() -> None:
    service, repository, queue = _service(Mode.OBSERVE)

    result = service.hold("books:9", actor="user:bob")

    [(entry, action, _)] = repository.written
    assert action.kind is ActionKind.MARK_BOOKS_INACTIVE
    assert not action.execute
    assert "observe mode: the hold is recorded but NOT written to Zoho" in entry.note
    assert result.queued_actions == ()
    assert queue.sent == []


@pytest.mark.parametrize(
    ("existing", "named"),
    [
        (Hold(hold_id="crm:1", entry_id="adm_held", rules=("PARTNER_DELETED",), mode="enforce"), "adm_held"),
        (
            Hold(hold_id="crm:1", entry_id="dec_7", mode="observe", status=HoldStatus.CONFIRMED),
            "dec_7",
        ),
    ],
)
def test_a_record_held_in_zoho_or_confirmed_is_a_conflict_naming_its_hold(existing: Hold, named: str) -> None:
    service, repository, queue = _service(**{"crm:1": existing})

    with pytest.raises(Conflict) as raised:
        service.hold("crm:1", actor="user:bob")

    assert named in raised.value.message
    assert existing.status.value in raised.value.message
    assert raised.value.field == "record"  # the request's field the conflict is about
    assert repository.written == []
    assert queue.sent == []


def test_a_hold_recorded_in_observe_mode_is_replaced() -> None:
    observed = Hold(hold_id="crm:1", entry_id="dec_3", mode="observe")
    service, repository, _ = _service(**{"crm:1": observed})

    service.hold("crm:1", actor="user:bob")

    [(_, _, replaces)] = repository.written
    assert replaces == observed


@pytest.mark.parametrize(
    ("record", "related", "field_name"),
    [
        ("acme", (), "record"),
        ("1", (), "record"),
        ("crm:1", ("9",), "related"),
        ("crm:1", ("books:9", "zoho:3"), "related"),
        ("crm:1", ("crm:1",), "related"),  # a record is not held because of itself
    ],
)
def test_bad_references_name_their_field(record: str, related: tuple[str, ...], field_name: str) -> None:
    service, repository, _ = _service()

    with pytest.raises(InvalidPayload) as raised:
        service.hold(record, actor="user:bob", related=related)

    assert raised.value.field == field_name
    assert repository.written == []


def test_a_hold_needs_an_actor() -> None:
    service, repository, _ = _service()

    with pytest.raises(InvalidPayload) as raised:
        service.hold("crm:1", actor=" ")

    assert raised.value.field == "actor"
    assert repository.written == []


@pytest.mark.parametrize(
    ("body", "field_name"),
    [
        ({"reason": "no record"}, "record"),
        ({"record": "crm:1", "related": "books:9"}, "related"),
        ({"record": "crm:1", "hold_id": "crm:1"}, "hold_id"),
    ],
)
def test_the_api_body_names_a_bad_field(body: dict[str, Any], field_name: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        parse_body(HoldRequest, body)

    assert raised.value.field == field_name


def test_the_api_body_takes_the_record_its_reason_and_related_records() -> None:
    request = parse_body(HoldRequest, {"record": " crm:1 ", "reason": "why", "related": ["books:9"]})

    assert (request.record, request.reason, request.related) == ("crm:1", "why", ["books:9"])


@pytest.mark.parametrize("module", ["Contacts", "Accounts"])
def test_an_unknown_crm_record_is_tagged_in_the_module_given(module: str) -> None:
    # given a CRM record the guard has no state for
    service, repository, _ = _service()

    service.hold("crm:77", actor="user:bob", module=module)

    [(_, action, _)] = repository.written
    assert action.params == {"tag": "sync-guard-hold", "module": module}


def test_a_known_crm_record_is_tagged_in_its_module_when_the_same_one_is_given() -> None:
    service, repository, _ = _service()

    service.hold("crm:1", actor="user:bob", module="Contacts")

    [(_, action, _)] = repository.written
    assert action.params["module"] == "Contacts"


@pytest.mark.parametrize(
    ("record", "module", "said"),
    [
        ("crm:77", "Leads", "Accounts, Contacts"),
        ("crm:77", "contacts", "Accounts, Contacts"),
        ("crm:77", "Customers", "Accounts, Contacts"),
        ("books:9", "Contacts", "CRM record only"),
        ("books:99", "Accounts", "CRM record only"),
        # the guard knows crm:1 as a contact: tagging it as an account would miss it in Zoho
        ("crm:1", "Accounts", "in Contacts as the guard knows it"),
    ],
)
def test_a_bad_or_contradicting_module_is_refused_naming_module(record: str, module: str, said: str) -> None:
    service, repository, queue = _service()

    with pytest.raises(InvalidPayload) as raised:
        service.hold(record, actor="user:bob", module=module)

    assert raised.value.field == "module"
    assert said in raised.value.message
    assert repository.written == []
    assert queue.sent == []


def test_the_api_body_takes_a_module() -> None:
    request = parse_body(HoldRequest, {"record": "crm:77", "module": "Contacts"})

    assert request.module == "Contacts"
