"""Forgetting a release's judgement: which states lose which refs, on fakes (the DynamoDB side is in
tests/integration/test_admin_operations.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from sync_guard.admin.http import ForgetReleaseRequest, parse_body, record_json
from sync_guard.admin.service import AdminService
from sync_guard.config import Mode
from sync_guard.errors import InvalidPayload, NotFound
from sync_guard.guard.model import AuditEntry, PairSource, RecordState
from tests.unit.guard.builders import T0, books_customer, crm_account, state


@dataclass
class FakeAdminRepository:
    """The two calls ``forget_release`` makes: read a state, write states with the audit entry."""

    states: dict[str, RecordState]
    written: list[tuple[AuditEntry, list[tuple[RecordState, int]]]] = field(default_factory=list)

    def state(self, ref: str) -> RecordState | None:
        return self.states.get(ref)

    def write_states(self, entry: AuditEntry, changes: Sequence[tuple[RecordState, int]]) -> None:
        self.written.append((entry, list(changes)))


def _service(*states: RecordState) -> tuple[AdminService, FakeAdminRepository]:
    repository = FakeAdminRepository({s.ref: s for s in states})
    service = AdminService(
        repository=cast(Any, repository),
        audit_log=cast(Any, None),
        actions=cast(Any, None),
        queue=None,
        mode=Mode.ENFORCE,
        clock=lambda: T0,
    )
    return service, repository


# An account released as not a duplicate of a Books customer, since paired with its own Books copy.
ACCOUNT = state(
    crm_account("1", "Acme Ltd"),
    partner="books:2",
    pair_source=PairSource.ZOHO_LINK,
    cleared=frozenset({"books:9"}),
)
COPY = state(books_customer("2", "Acme Ltd", linked="1"), partner="crm:1", pair_source=PairSource.ZOHO_LINK)
CUSTOMER = state(books_customer("9", "Acme Limited"), cleared=frozenset({"crm:1", "crm:7"}), rev=4)


def test_the_judgement_is_taken_off_both_records_and_nothing_else() -> None:
    service, repository = _service(ACCOUNT, COPY, CUSTOMER)

    result = service.forget_release("crm:1", against="books:9", actor="user:bob", reason="mistake")

    [(entry, changes)] = repository.written
    after = {new.ref: (new.cleared, rev) for new, rev in changes}
    # the customer keeps its judgement against another record (crm:7); the copy had nothing to forget
    assert after == {"crm:1": (frozenset(), 0), "books:9": (frozenset({"crm:7"}), 4)}
    assert result.detail["forgotten"] == {"crm:1": ["books:9"], "books:9": ["crm:1"]}
    assert (entry.operation, entry.actor) == ("forget_release", "user:bob")
    assert entry.records == ("crm:1", "books:9")
    assert entry.note.startswith("mistake; crm:1 and books:9 may be held")
    assert entry.names == {"crm:1": "Acme Ltd", "books:2": "Acme Ltd", "books:9": "Acme Limited"}


def test_naming_the_partner_forgets_what_the_engine_judged_through_it() -> None:
    service, repository = _service(ACCOUNT, COPY, CUSTOMER)

    service.forget_release("books:2", against="books:9", actor="user:bob")

    [(_, changes)] = repository.written
    assert {new.ref for new, _ in changes} == {"crm:1", "books:9"}


def test_a_pair_never_judged_is_not_found_and_nothing_is_written() -> None:
    other = state(books_customer("5", "Other plc"))
    service, repository = _service(ACCOUNT, COPY, CUSTOMER, other)

    with pytest.raises(NotFound) as never:
        service.forget_release("crm:1", against="books:5", actor="user:bob")

    assert never.value.field == "against"
    assert repository.written == []


@pytest.mark.parametrize(
    ("record", "against", "error", "field_name"),
    [
        ("crm:404", "books:9", NotFound, "record"),
        ("crm:1", "books:404", NotFound, "against"),
        ("crm:1", "crm:1", InvalidPayload, "against"),
        ("crm:1", "books:2", InvalidPayload, "against"),  # its own partner: a pair, not a judgement
        ("acme", "books:9", InvalidPayload, "record"),
        ("crm:1", "9", InvalidPayload, "against"),
    ],
)
def test_bad_references_name_their_field(
    record: str, against: str, error: type[Exception], field_name: str
) -> None:
    service, repository = _service(ACCOUNT, COPY, CUSTOMER)

    with pytest.raises(error) as raised:
        service.forget_release(record, against=against, actor="user:bob")

    assert getattr(raised.value, "field", None) == field_name
    assert repository.written == []


def test_the_record_view_lists_what_it_was_judged_against() -> None:
    service, _ = _service(ACCOUNT, COPY, CUSTOMER)

    view = record_json(service.record(" books:9 "))

    assert view["cleared"] == ["crm:1", "crm:7"]
    assert view["partner"] is None
    with pytest.raises(NotFound):
        service.record("crm:404")


def test_the_api_body_names_a_missing_field() -> None:
    with pytest.raises(InvalidPayload) as missing:
        parse_body(ForgetReleaseRequest, {"record": "crm:1", "reason": "x"})
    assert missing.value.field == "against"
