"""A release's judgement (what it judges distinct) and forgetting it: which states lose which refs, on
fakes (the DynamoDB side is in tests/integration/test_admin_operations.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from sync_guard.admin.http import ForgetReleaseRequest, parse_body, record_json
from sync_guard.admin.model import Hold
from sync_guard.admin.service import AdminService
from sync_guard.config import Mode
from sync_guard.errors import InvalidPayload, NotFound
from sync_guard.guard.model import AuditEntry, OutboxAction, PairSource, RecordState
from sync_guard.guard.policy import Policy
from tests.unit.guard.builders import T0, books_customer, crm_account, state
from tests.unit.rules.replay import Replay


@dataclass
class FakeAdminRepository:
    """The two calls ``forget_release`` makes: read a state, write states with the audit entry."""

    states: dict[str, RecordState]
    written: list[tuple[AuditEntry, list[tuple[RecordState, int]]]] = field(default_factory=list)

    def state(self, ref: str) -> RecordState | None:
        return self.states.get(ref)

    def write_states(self, entry: AuditEntry, changes: Sequence[tuple[RecordState, int]]) -> None:
        self.written.append((entry, list(changes)))


def _admin(repository: object, audit_log: object = None, actions: object = None) -> AdminService:
    return AdminService(
        repository=cast(Any, repository),
        audit_log=cast(Any, audit_log),
        actions=cast(Any, actions),
        queue=None,
        mode=Mode.ENFORCE,
        clock=lambda: T0,
    )


def _service(*states: RecordState) -> tuple[AdminService, FakeAdminRepository]:
    repository = FakeAdminRepository({s.ref: s for s in states})
    return _admin(repository), repository


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


# Releasing: what a hold the engine decided judges distinct.
@dataclass
class FakeReleaseSide:
    """The shadow, audit log and outbox as ``release`` reads them; what it writes is kept."""

    replay: Replay
    cleared: list[frozenset[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def hold(self, ref: str) -> Hold | None:
        state = self.replay.shadow.states.get(ref)
        return Hold(hold_id=ref, entry_id=state.held_by) if state and state.held_by else None

    def state(self, ref: str) -> RecordState | None:
        return self.replay.shadow.states.get(ref)

    def get(self, entry_id: str) -> AuditEntry | None:
        return self.replay.shadow.entries.get(entry_id)

    def actions_of_entry(self, action_ids: Sequence[str]) -> dict[str, Any]:
        return {}  # no hold action ran: nothing to undo in Zoho

    def release(
        self,
        hold: Hold,
        state: RecordState | None,
        entry: AuditEntry,
        undo: Sequence[OutboxAction],
        *,
        cleared: frozenset[str],
        listed: bool = True,
    ) -> None:
        self.cleared.append(cleared)
        self.notes.append(entry.note)


def _release(replay: Replay, ref: str) -> FakeReleaseSide:
    side = FakeReleaseSide(replay)
    _admin(side, audit_log=side, actions=side).release(ref, actor="user:alice", reason="emails put right")
    return side


def _quarantining() -> Replay:
    return Replay(policy=Policy.build({"EMAIL_MISMATCH": "quarantine"}))


def test_releasing_a_paired_persons_email_mismatch_hold_does_not_judge_the_pair_distinct() -> None:
    # given a CRM contact held because its email was changed away from its paired Books individual's
    replay = _quarantining()
    replay.crm(
        "create", "5725520", module="Contacts", first_name="Tom", last_name="Hale", email="tom@hale.co.uk"
    )
    replay.books(
        "create",
        "460520",
        contact_name="Tom Hale",
        customer_sub_type="individual",
        zcrm_contact_id="5725520",
        email="tom@hale.co.uk",
    )
    replay.crm(
        "edit", "5725520", module="Contacts", first_name="Tom", last_name="Hale", email="tom@gmail.com"
    )
    assert replay.shadow.states["crm:5725520"].held_by is not None

    # when an admin releases it
    side = _release(replay, "crm:5725520")

    # then nothing is judged: the two are one person, synced, and may be held for a duplicate again
    assert side.cleared == [frozenset()]
    assert "judged not a duplicate" not in side.notes[0]


def test_releasing_an_unpaired_look_alikes_hold_still_judges_them_distinct() -> None:
    # given a new CRM contact held as the same person as an unpaired Books individual of another email
    replay = _quarantining()
    replay.books(
        "create", "460521", contact_name="Ana Lopes", customer_sub_type="individual", email="ana@lopes.pt"
    )
    replay.crm("create", "5725521", module="Contacts", first_name="Ana", last_name="Lopes", email="a@x.pt")
    assert replay.shadow.states["crm:5725521"].held_by is not None

    # when an admin releases it, the Books individual is judged another person, as before
    side = _release(replay, "crm:5725521")
    assert side.cleared == [frozenset({"books:460521"})]
    assert "judged not a duplicate of books:460521" in side.notes[0]
