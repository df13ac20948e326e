"""Admin operations over moto (and the Zoho simulator where a release must undo a hold in Zoho).

Each operation must land in the audit trail with its actor, in the same transaction as its change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sync_guard.admin.model import HoldStatus, OperationResult
from sync_guard.admin.service import AdminService
from sync_guard.config import Mode, get_settings
from sync_guard.errors import Conflict, InvalidPayload, NotFound
from sync_guard.executor.dynamo import DynamoActionStore
from sync_guard.guard.model import ActionKind, EntryKind, OutboxAction, PairSource
from sync_guard.local.zoho_simulator import Source, ZohoSimulator
from sync_guard.models.events import Channel, GuardEvent, Operation, event_key
from sync_guard.models.records import PartyRecord
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.shadow import STATE_SK, DynamoShadowRepository
from sync_guard.zoho.convert import books_contact_to_party, crm_record_to_party
from tests.support.aws import AwsResources
from tests.support.outbox import (
    HOLD_TAG,
    Company,
    OutboxQueues,
    Pipeline,
    build_pipeline,
    create_companies,
    create_outbox_queues,
    event_for,
    point_at_simulator,
)

WRITE_ROUTES = ("crm.add_tags", "crm.remove_tags", "books.mark_inactive", "books.mark_active")


@pytest.fixture
def sim() -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=5) as simulator:
        yield simulator


@pytest.fixture
def queues(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> OutboxQueues:
    return create_outbox_queues(aws, monkeypatch)


def _held(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch, **kw: object
) -> tuple[Pipeline, list[Company]]:
    mode = kw.pop("mode", Mode.ENFORCE)
    point_at_simulator(sim, monkeypatch, mode=mode)  # type: ignore[arg-type]
    companies = create_companies(sim, 2, books_duplicates_every=2)  # company 0: CRM dup, company 1: Books dup
    pipeline = build_pipeline(aws, queues)
    pipeline.decide([event_for(c.customer) for c in companies])
    pipeline.decide([event_for(c.duplicate) for c in companies])
    return pipeline, companies


def _service() -> AdminService:
    return AdminService.from_settings(get_settings())


def _hold_action(service: AdminService, ref: str) -> OutboxAction:
    """The outbox action that holds ``ref`` in Zoho, as its hold's decision queued it."""
    from sync_guard.admin.actions import UNDO

    hold = service.repository.hold(ref)
    assert hold is not None
    decision = service.audit_log.get(hold.entry_id)
    assert decision is not None
    [action] = [a for a in decision.actions if a.target == ref and a.kind in UNDO]
    return action


def _an_event_moves(aws: AwsResources, ref: str) -> None:
    """An event for ``ref`` commits: its state's revision moves on (an admin operation that read it loses)."""
    aws.dynamodb.update_item(
        TableName=get_settings().shadow_table,
        Key={"pk": {"S": f"REC#{ref}"}, "sk": {"S": STATE_SK}},
        UpdateExpression="SET rev = rev + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


def _an_event_commits_before(
    repository: object, write: str, aws: AwsResources, ref: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each time the repository's ``write`` runs, an event for ``ref`` commits just before (it loses)."""
    original = getattr(repository, write)

    def an_event_commits_first(*args: object, **kwargs: object) -> object:
        _an_event_moves(aws, ref)
        return original(*args, **kwargs)

    monkeypatch.setattr(repository, write, an_event_commits_first)


def _admin_entries(ref: str) -> list[object]:
    audit = AuditLog.from_settings(get_settings())
    return [e for e in audit.iterate(AuditQuery(record=ref)) if e.kind is EntryKind.ADMIN]


def test_list_shows_every_hold_with_its_name_and_rules(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, companies = _held(aws, queues, sim, monkeypatch)

    holds = _service().list_holds()

    assert {h.hold_id for h in holds} == {c.duplicate.ref for c in companies}
    assert all(h.status is HoldStatus.HELD for h in holds)
    # a Books duplicate made by hand (no CRM link) is recorded as created in Books too (policy: allow)
    for hold in holds:
        also = ("CREATED_IN_BOOKS",) if hold.hold_id.startswith("books:") else ()
        assert hold.rules == ("NAME_DRIFT", *also)
    assert {h.name for h in holds} == {c.duplicate.name for c in companies}
    assert _service().list_holds(HoldStatus.CONFIRMED) == []


def test_release_of_an_applied_hold_undoes_it_in_zoho_once(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given both holds applied in Zoho by the executor
    pipeline, companies = _held(aws, queues, sim, monkeypatch)
    pipeline.drain()
    crm_dup, books_dup = companies[0].duplicate, companies[1].duplicate
    assert sim.state.books_get(books_dup.record_id)["status"] == "inactive"

    # when an admin releases both
    service = _service()
    crm_result = service.release(crm_dup.ref, actor="user:alice", reason="not a duplicate")
    books_result = service.release(books_dup.ref, actor="user:alice")
    pipeline.drain()

    # then Zoho is back as it was: the tag is gone, the customer is active, each undo written once
    assert sim.state.crm_get("Accounts", crm_dup.record_id)["Tag"] == []
    assert sim.state.books_get(books_dup.record_id)["status"] == "active"
    assert sim.requests.count("crm.remove_tags", status=200) == 1
    assert sim.requests.count("books.mark_active", status=200) == 1
    assert len(crm_result.queued_actions) == len(books_result.queued_actions) == 1
    store = DynamoActionStore.from_settings(get_settings())
    for action_id in crm_result.queued_actions + books_result.queued_actions:
        assert (store.get(action_id) or {})["status"] == "done"
    # and the holds are gone, the shadow no longer marks the records held, and it expects their echo
    assert service.list_holds() == []
    shadow = DynamoShadowRepository.from_settings(get_settings())
    state = shadow.get_state(books_dup.ref)
    assert state is not None
    assert state.held_by is None
    assert {"active": True} in state.echo_expected.values()
    # and the audit trail says who released what, and why
    [entry] = _admin_entries(crm_dup.ref)
    assert entry.actor == "user:alice"  # type: ignore[attr-defined]
    assert entry.operation == "release"  # type: ignore[attr-defined]
    assert "not a duplicate" in entry.note  # type: ignore[attr-defined]
    assert [a.kind for a in entry.actions] == [ActionKind.UNTAG_CRM_RECORD]  # type: ignore[attr-defined]


def test_release_before_the_hold_ran_cancels_it_and_writes_nothing(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, companies = _held(aws, queues, sim, monkeypatch)

    result = _service().release(companies[1].duplicate.ref, actor="user:bob")
    pipeline.drain()

    assert result.queued_actions == ()
    assert len(result.detail["cancelled"]) == 1
    assert sim.requests.count("books.mark_inactive") == 0
    assert sim.requests.count("books.mark_active") == 0
    assert sim.state.books_get(companies[1].duplicate.record_id)["status"] == "active"
    # the other hold was not touched and ran
    assert HOLD_TAG in {
        t["name"] for t in sim.state.crm_get("Accounts", companies[0].duplicate.record_id)["Tag"]
    }


def test_release_in_observe_mode_has_nothing_to_undo(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, companies = _held(aws, queues, sim, monkeypatch, mode=Mode.OBSERVE)
    pipeline.drain()

    result = _service().release(companies[0].duplicate.ref, actor="user:carol")
    pipeline.drain()

    assert result.queued_actions == ()
    assert "nothing to undo" in result.entry.note
    assert sum(sim.requests.count(route) for route in WRITE_ROUTES) == 0


def test_release_of_a_record_that_is_not_held_is_not_found(aws: AwsResources, queues: OutboxQueues) -> None:
    with pytest.raises(NotFound):
        _service().release("crm:999", actor="user:alice")
    with pytest.raises(InvalidPayload):
        _service().release("nonsense", actor="user:alice")
    with pytest.raises(InvalidPayload):
        _service().release("crm:1", actor="  ")


def test_a_release_as_moot_names_its_vendors_or_is_refused_naming_the_field(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, companies = _held(aws, queues, sim, monkeypatch)
    held, vendor = companies[0].duplicate.ref, companies[0].customer.ref

    # a release as moot naming no vendor, or not a record, is refused before anything is written
    for vendors in ([], ["nonsense"]):
        with pytest.raises(InvalidPayload) as refused:
            _service().release_moot(held, actor="user:carol", vendors=vendors)
        assert refused.value.field == "vendors"
    assert held in {h.hold_id for h in _service().list_holds()}

    # one naming its vendor is audited as release_moot, the held record then the vendor, judging nothing
    result = _service().release_moot(held, actor="user:carol", vendors=[vendor, vendor])
    pipeline.drain()

    assert (result.operation, result.entry.records) == ("release_moot", (held, vendor))
    assert result.entry.note.startswith(f"{vendor} is a Books vendor now")
    assert _service().record(held).cleared == frozenset()


def test_confirm_keeps_the_hold_and_records_the_survivor(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, companies = _held(aws, queues, sim, monkeypatch)
    held, survivor = companies[1].duplicate, companies[1].customer
    service = _service()

    result = service.confirm(held.ref, survivor=survivor.ref, actor="arn:aws:iam::123456789012:user/dora")

    [hold] = service.list_holds(HoldStatus.CONFIRMED)
    assert hold.hold_id == held.ref
    assert hold.survivor == survivor.ref
    assert hold.confirmed_by == "arn:aws:iam::123456789012:user/dora"
    assert result.entry.records == (held.ref, survivor.ref)
    [entry] = _admin_entries(survivor.ref)
    assert entry.operation == "confirm"  # type: ignore[attr-defined]
    assert entry.actor == "arn:aws:iam::123456789012:user/dora"  # type: ignore[attr-defined]
    with pytest.raises(Conflict) as again:
        service.confirm(held.ref, survivor=survivor.ref, actor="user:alice")
    assert again.value.field == "hold_id"
    with pytest.raises(NotFound):
        service.confirm(companies[0].duplicate.ref, survivor="books:424242", actor="user:alice")
    with pytest.raises(InvalidPayload):
        service.confirm(companies[0].duplicate.ref, survivor=companies[0].duplicate.ref, actor="user:alice")


def test_link_pairs_by_hand_and_unpairs_former_partners(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, companies = _held(aws, queues, sim, monkeypatch)
    crm = companies[0].duplicate
    first, second = companies[0].customer, companies[1].customer
    service = _service()
    shadow = DynamoShadowRepository.from_settings(get_settings())

    service.link(crm.record_id, first.record_id, actor="user:erin")
    # relinking the CRM record to another customer unpairs the first one
    result = service.link(crm.ref, second.ref, actor="user:erin", reason="CRM merge moved the account")

    crm_state, first_state, second_state = (shadow.get_state(r) for r in (crm.ref, first.ref, second.ref))
    assert crm_state is not None
    assert first_state is not None
    assert second_state is not None
    assert crm_state.partner == second.ref
    assert crm_state.pair_source is PairSource.ADMIN
    assert second_state.partner == crm.ref
    assert second_state.pair_source is PairSource.ADMIN
    assert first_state.partner is None
    assert first_state.former_partner == crm.ref
    assert result.detail["unpaired"] == [first.ref]
    entries = _admin_entries(first.ref)
    assert [e.operation for e in entries] == ["link", "link"]  # type: ignore[attr-defined]
    assert {e.actor for e in entries} == {"user:erin"}  # type: ignore[attr-defined]
    with pytest.raises(Conflict) as again:
        service.link(crm.ref, second.ref, actor="user:erin")
    assert again.value.field == "books"
    with pytest.raises(NotFound) as missing:
        service.link("crm:404", second.ref, actor="user:erin")
    assert missing.value.field == "crm"
    with pytest.raises(NotFound) as missing:
        service.link(crm.ref, "books:404", actor="user:erin")
    assert missing.value.field == "books"  # the request's field, not "book"
    with pytest.raises(InvalidPayload):
        service.link(second.ref, crm.ref, actor="user:erin")


def test_breaker_reset_is_audited_with_its_actor(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at_simulator(sim, monkeypatch)
    companies = create_companies(sim, 4, books_duplicates_every=1)
    pipeline = build_pipeline(aws, queues, storm_threshold=2)
    pipeline.decide([event_for(c.customer) for c in companies])
    pipeline.decide([event_for(c.duplicate) for c in companies])
    shadow = DynamoShadowRepository.from_settings(get_settings())
    assert shadow.breaker().open

    result = _service().reset_breaker(actor="user:frank", reason="reconnect finished")

    assert not shadow.breaker().open
    assert result.entry.actor == "user:frank"
    assert AuditLog.from_settings(get_settings()).get(result.entry.entry_id) == result.entry
    with pytest.raises(Conflict) as closed:
        _service().reset_breaker(actor="user:frank")
    assert closed.value.field == "breaker"


def test_audit_queries_find_admin_operations_by_record(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, companies = _held(aws, queues, sim, monkeypatch)
    service = _service()
    service.release(companies[0].duplicate.ref, actor="user:gina")

    page = service.audit(AuditQuery(record=companies[0].duplicate.ref), limit=10)
    kinds = [e.kind for e in page.entries]
    assert kinds[0] is EntryKind.ADMIN  # newest first: the release, then the decision
    assert EntryKind.DECISION in kinds
    by_decision = service.audit(AuditQuery(decision="admin"), limit=10)
    assert [e.actor for e in by_decision.entries] == ["user:gina"]


def test_a_release_retried_after_losing_a_race_still_undoes_a_hold_that_was_tried(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_guard.admin.actions import UNDO

    _, companies = _held(aws, queues, sim, monkeypatch)
    settings = get_settings()
    held = companies[1].duplicate
    service = _service()
    action = _hold_action(service, held.ref)
    # The hold timed out five times against Zoho, which may have applied it, and was dead-lettered.
    aws.dynamodb.update_item(
        TableName=settings.outbox_table,
        Key={"pk": {"S": action.action_id}},
        UpdateExpression="SET #s = :d, attempts = :a",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":d": {"S": "dead_lettered"}, ":a": {"N": "5"}},
    )
    release = service.repository.release

    def lose_a_race_once(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(service.repository, "release", release)
        # an event for the record is committed meanwhile: its revision moves on
        _an_event_moves(aws, held.ref)
        return release(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service.repository, "release", lose_a_race_once)
    with pytest.raises(Conflict) as lost:
        service.release(held.ref, actor="user:alice")
    # a 409 naming the hold, in words, not the transaction's cancellation reasons
    assert lost.value.field == "hold_id"
    assert held.ref in lost.value.message
    assert "ConditionalCheckFailed" not in lost.value.message

    # the first attempt cancelled the dead-lettered hold; the admin's retry must still undo it in Zoho
    result = service.release(held.ref, actor="user:alice")
    assert [a.kind for a in result.entry.actions] == [UNDO[action.kind]]


def test_a_release_while_the_hold_is_written_to_zoho_is_a_conflict_naming_the_hold(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, companies = _held(aws, queues, sim, monkeypatch)
    held = companies[1].duplicate
    service = _service()
    action = _hold_action(service, held.ref)
    # given the executor writing the hold to Zoho right now
    aws.dynamodb.update_item(
        TableName=get_settings().outbox_table,
        Key={"pk": {"S": action.action_id}},
        UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": "running"}},
    )

    with pytest.raises(Conflict) as running:
        service.release(held.ref, actor="user:alice")

    assert running.value.field == "hold_id"
    assert held.ref in running.value.message
    assert service.repository.hold(held.ref) is not None  # still held


def test_release_of_a_hold_zoho_refused_queues_no_undo(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the Books duplicate deleted in Zoho before its hold ran: Zoho refuses the hold (error 1002)
    pipeline, companies = _held(aws, queues, sim, monkeypatch)
    books_dup = companies[1].duplicate
    sim.state.books_delete_contact(books_dup.record_id)
    pipeline.drain()
    assert sim.requests.count("books.mark_inactive", status=200) == 0

    # when an admin releases it
    result = _service().release(books_dup.ref, actor="user:carol")
    pipeline.drain()

    # then nothing is queued to undo a hold that never took effect
    assert result.queued_actions == ()
    assert result.detail["undo"] == []
    assert sim.requests.count("books.mark_active") == 0
    [entry] = _admin_entries(books_dup.ref)
    assert "nothing to undo" in entry.note  # type: ignore[attr-defined]
    # finance was told to hold it by hand: the release says that is for a person to undo
    assert "held by hand" in entry.note  # type: ignore[attr-defined]


def test_a_release_is_remembered_when_the_sync_brings_the_released_records_copy(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a CRM account held as a drifted duplicate of a Books customer, released as not a duplicate
    pipeline, companies = _held(aws, queues, sim, monkeypatch)
    held, customer = companies[0].duplicate, companies[0].customer
    service = _service()
    result = service.release(held.ref, actor="user:alice", reason="a different branch")
    pipeline.drain()
    assert f"judged not a duplicate of {customer.ref}" in result.entry.note

    # when the sync creates the account's Books copy, linked to it, and another look-alike appears unlinked
    copy = sim.state.books_create_contact(
        {"contact_name": held.name, "zcrm_account_id": held.record_id}, source=Source.SYNC
    )
    stranger = sim.state.books_create_contact({"contact_name": f"{customer.name}."}, source=Source.ADMIN)
    pipeline.decide([event_for(books_contact_to_party(copy)), event_for(books_contact_to_party(stranger))])

    # then the copy pairs with the account and is not held for the customer the admin judged distinct
    holds = {h.hold_id for h in service.list_holds()}
    assert f"books:{copy['contact_id']}" not in holds
    shadow = DynamoShadowRepository.from_settings(get_settings())
    assert (shadow.get_state(held.ref) or pytest.fail("no state")).partner == f"books:{copy['contact_id']}"
    assert customer.ref in (shadow.get_state(held.ref) or pytest.fail("no state")).cleared
    # while a look-alike nobody judged is held as before
    assert f"books:{stranger['contact_id']}" in holds


def _released(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[Pipeline, Company, AdminService]:
    """Company 0's CRM account held as a drifted duplicate of its Books customer, then released."""
    pipeline, companies = _held(aws, queues, sim, monkeypatch)
    service = _service()
    service.release(companies[0].duplicate.ref, actor="user:alice")
    return pipeline, companies[0], service


def test_a_forgotten_release_lets_the_next_event_hold_the_pair_again(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a CRM account released as not a duplicate of a Books customer, by mistake
    pipeline, company, service = _released(aws, queues, sim, monkeypatch)
    held, customer = company.duplicate, company.customer
    pipeline.drain()

    # when an admin forgets that judgement
    result = service.forget_release(
        held.ref, against=customer.ref, actor="user:bob", reason="released the wrong one"
    )

    # then neither record remembers it, and the trail says who undid it and why
    shadow = DynamoShadowRepository.from_settings(get_settings())
    assert (shadow.get_state(held.ref) or pytest.fail("no state")).cleared == frozenset()
    assert result.detail["forgotten"] == {held.ref: [customer.ref]}
    [_, forget] = sorted(_admin_entries(held.ref), key=lambda e: e.at)  # type: ignore[attr-defined]
    assert (forget.operation, forget.actor) == ("forget_release", "user:bob")  # type: ignore[attr-defined]
    assert forget.note.startswith("released the wrong one")  # type: ignore[attr-defined]
    assert customer.ref in forget.records  # type: ignore[attr-defined]
    # and the sync's Books copy of the account is held for the customer again at its first event
    copy = sim.state.books_create_contact(
        {"contact_name": held.name, "zcrm_account_id": held.record_id}, source=Source.SYNC
    )
    pipeline.decide([event_for(books_contact_to_party(copy))])
    assert f"books:{copy['contact_id']}" in {h.hold_id for h in service.list_holds()}
    # a judgement that is no longer there cannot be forgotten twice
    with pytest.raises(NotFound) as twice:
        service.forget_release(held.ref, against=customer.ref, actor="user:bob")
    assert twice.value.field == "against"


def test_forgetting_a_release_reaches_the_partner_it_pairs_with_since(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the released account paired since with its Books copy (the copy not held, thanks to the release)
    pipeline, company, service = _released(aws, queues, sim, monkeypatch)
    held, customer = company.duplicate, company.customer
    copy = sim.state.books_create_contact(
        {"contact_name": held.name, "zcrm_account_id": held.record_id}, source=Source.SYNC
    )
    pipeline.decide([event_for(books_contact_to_party(copy))])
    copy_ref = f"books:{copy['contact_id']}"
    assert service.record(held.ref).partner == copy_ref

    # when the admin names the copy, which the engine judged through its partner
    result = service.forget_release(copy_ref, against=customer.ref, actor="user:bob")

    # then the judgement is gone from the account it was stored on
    assert service.record(held.ref).cleared == frozenset()
    assert result.detail["forgotten"] == {held.ref: [customer.ref]}
    assert set(result.entry.records) == {copy_ref, customer.ref, held.ref}


def test_forget_release_refuses_what_it_cannot_forget(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, companies = _held(aws, queues, sim, monkeypatch)
    held, customer = companies[0].duplicate, companies[0].customer
    service = _service()

    with pytest.raises(NotFound) as never:  # held, never released
        service.forget_release(held.ref, against=customer.ref, actor="user:bob")
    assert never.value.field == "against"
    with pytest.raises(NotFound) as unknown:
        service.forget_release("crm:404", against=customer.ref, actor="user:bob")
    assert unknown.value.field == "record"
    with pytest.raises(InvalidPayload) as itself:
        service.forget_release(held.ref, against=held.ref, actor="user:bob")
    assert itself.value.field == "against"
    with pytest.raises(InvalidPayload):
        service.forget_release(held.ref, against=customer.ref, actor=" ")


def test_forget_release_that_races_an_event_asks_to_run_again(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, company, service = _released(aws, queues, sim, monkeypatch)
    held, customer = company.duplicate, company.customer
    _an_event_commits_before(service.repository, "write_states", aws, held.ref, monkeypatch)
    with pytest.raises(Conflict) as raced:
        service.forget_release(held.ref, against=customer.ref, actor="user:bob")
    assert raced.value.field == "record"

    # nothing was forgotten, nor audited
    assert customer.ref in service.record(held.ref).cleared
    assert [e.operation for e in _admin_entries(held.ref)] == ["release"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("guard_mode", [Mode.ENFORCE, Mode.OBSERVE])
def test_the_guards_hold_does_not_replace_an_admins_hold_of_a_record_it_does_not_know_yet(
    aws: AwsResources,
    queues: OutboxQueues,
    sim: ZohoSimulator,
    monkeypatch: pytest.MonkeyPatch,
    guard_mode: Mode,
) -> None:
    # given a Books customer the guard knows, and a drifted CRM copy of it the guard has not seen yet,
    # which an admin holds by hand (written to Zoho, whatever the guard's mode)
    point_at_simulator(sim, monkeypatch, mode=guard_mode)
    [company] = create_companies(sim, 1)
    pipeline = build_pipeline(aws, queues)
    pipeline.decide([event_for(company.customer)])
    copy = company.duplicate
    service = _service()
    held = service.hold(copy.ref, actor="user:alice", module="Accounts", mode=Mode.ENFORCE)
    assert service.repository.state(copy.ref) is None

    # when the copy's create webhook arrives and the guard would quarantine it
    pipeline.decide([event_for(copy)])

    # then the admin's hold is still the one listed, the record's state names it, and the only hold action
    # queued for the record is the admin's (before: the guard's HOLD item replaced the admin's, both tag
    # actions were queued, and releasing the listed hold left the admin's tag in Zoho)
    [hold] = service.list_holds()
    assert (hold.hold_id, hold.entry_id) == (copy.ref, held.entry.entry_id)
    state = service.repository.state(copy.ref)
    assert state is not None
    assert state.held_by == held.entry.entry_id
    decision = AuditLog.from_settings(get_settings()).get(event_for(copy).event_id)
    assert decision is not None
    assert decision.findings  # the guard still records what it found
    assert f"{copy.ref} already held by {held.entry.entry_id}" in decision.note
    assert decision.actions == ()  # no second hold; finance is not told again, as for any held record
    pipeline.drain()
    assert sim.requests.count("crm.add_tags", status=200) == 1

    # and releasing the hold takes the record out of Zoho's hold and frees it in the guard
    service.release(copy.ref, actor="user:alice")
    pipeline.drain()
    assert sim.state.crm_get("Accounts", copy.record_id)["Tag"] == []
    assert service.list_holds() == []
    released = service.repository.state(copy.ref)
    assert released is not None
    assert released.held_by is None


# ---------------------------------------------------------------------------- apply (observe -> enforce)


def _echo_of(record: PartyRecord) -> GuardEvent:
    """The update webhook Zoho sends for ``record`` as it is now (after the guard's own write)."""
    return GuardEvent.workflow(
        record,
        Operation.UPDATE,
        event_id=event_key("echo", record.ref, record.active),
        received_at=datetime.now(UTC),
    )


def _enforcing(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> Pipeline:
    """The guard redeployed with ``Mode=enforce``: its settings, engine and outbox function."""
    point_at_simulator(sim, monkeypatch, mode=Mode.ENFORCE)
    return build_pipeline(aws, queues)


def test_apply_writes_observe_mode_holds_to_zoho_and_release_undoes_them(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given both duplicates held in observe mode (nothing written to Zoho), the Books one confirmed
    pipeline, companies = _held(aws, queues, sim, monkeypatch, mode=Mode.OBSERVE)
    pipeline.drain()
    crm_dup, books_dup = companies[0].duplicate, companies[1].duplicate
    _service().confirm(books_dup.ref, survivor=companies[1].customer.ref, actor="user:alice")
    decided = {h.hold_id: h.entry_id for h in _service().list_holds()}
    assert sum(sim.requests.count(route) for route in WRITE_ROUTES) == 0

    # when the guard enforces and an admin applies both holds, and the executor runs
    pipeline = _enforcing(aws, queues, sim, monkeypatch)
    service = _service()
    results = [
        service.apply(ref, actor="user:alice", reason="reviewed") for ref in (crm_dup.ref, books_dup.ref)
    ]
    pipeline.drain()

    # then Zoho holds both records: the CRM account carries the tag, the Books customer is inactive
    assert HOLD_TAG in {t["name"] for t in sim.state.crm_get("Accounts", crm_dup.record_id)["Tag"]}
    books_now = sim.state.books_get(books_dup.record_id)
    assert books_now is not None
    assert books_now["status"] == "inactive"
    # and each hold keeps its decision and its confirmation, now written to Zoho by the apply's entry
    holds = {h.hold_id: h for h in service.list_holds()}
    for result in results:
        [ref] = result.entry.records
        assert (holds[ref].entry_id, holds[ref].mode, holds[ref].applied_by) == (
            decided[ref],
            "enforce",
            result.entry.entry_id,
        )
        assert (result.entry.operation, result.entry.actor) == ("apply", "user:alice")
        assert (service.record(ref).held_by, len(result.queued_actions)) == (decided[ref], 1)
    assert (holds[books_dup.ref].status, holds[books_dup.ref].survivor) == (
        HoldStatus.CONFIRMED,
        companies[1].customer.ref,
    )

    # when the guard's own writes come back as webhooks
    echoes = [_echo_of(books_contact_to_party(books_now))]
    echoes.append(_echo_of(crm_record_to_party("Accounts", sim.state.crm_get("Accounts", crm_dup.record_id))))
    pipeline.decide(echoes)

    # then they are recognised as the guard's own: no new decision, no new hold
    audit = AuditLog.from_settings(get_settings())
    assert [(audit.get(e.event_id) or pytest.fail("not audited")).kind for e in echoes] == [
        EntryKind.SELF_ECHO
    ] * 2
    assert {h.hold_id: h.entry_id for h in service.list_holds()} == decided

    # and a release undoes the applied hold in Zoho, and still judges as the decision did
    released = service.release(crm_dup.ref, actor="user:alice")
    service.release(books_dup.ref, actor="user:alice")
    pipeline.drain()
    assert sim.state.crm_get("Accounts", crm_dup.record_id)["Tag"] == []
    assert (sim.state.books_get(books_dup.record_id) or {})["status"] == "active"
    assert released.detail["undo"] == [ActionKind.UNTAG_CRM_RECORD.value]
    assert f"judged not a duplicate of {companies[0].customer.ref}" in released.entry.note
    assert service.record(crm_dup.ref).held_by is None


def test_apply_before_the_executor_ran_is_cancelled_by_a_release(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, companies = _held(aws, queues, sim, monkeypatch, mode=Mode.OBSERVE)
    pipeline.drain()
    pipeline = _enforcing(aws, queues, sim, monkeypatch)
    held = companies[1].duplicate
    applied = _service().apply(held.ref, actor="user:bob")

    result = _service().release(held.ref, actor="user:bob")
    pipeline.drain()

    assert result.detail == {"cancelled": list(applied.queued_actions), "undo": []}
    assert sim.requests.count("books.mark_inactive") == sim.requests.count("books.mark_active") == 0


def test_apply_refuses_what_it_cannot_apply(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, companies = _held(aws, queues, sim, monkeypatch, mode=Mode.OBSERVE)
    observed = companies[0].duplicate.ref

    # while the guard observes, nothing is applied: switch to enforce first
    with pytest.raises(Conflict) as observing:
        _service().apply(observed, actor="user:carol")
    assert observing.value.field == "mode"
    assert "switch to enforce first" in observing.value.message

    _enforcing(aws, queues, sim, monkeypatch)
    service = _service()
    with pytest.raises(NotFound) as unknown:
        service.apply("crm:404", actor="user:carol")
    assert unknown.value.field == "hold_id"
    with pytest.raises(InvalidPayload) as malformed:
        service.apply("acme", actor="user:carol")
    assert malformed.value.field == "hold_id"
    # a hold written to Zoho (by the apply, or held in enforce mode) is not written twice
    service.apply(observed, actor="user:carol")
    with pytest.raises(Conflict) as twice:
        service.apply(observed, actor="user:carol")
    assert twice.value.field == "hold_id"
    assert "already held in Zoho" in twice.value.message
    enforced = service.hold(companies[0].customer.ref, actor="user:carol")
    with pytest.raises(Conflict):
        service.apply(enforced.entry.records[0], actor="user:carol")
    assert [e.operation for e in _admin_entries(observed)] == ["apply"]  # type: ignore[attr-defined]


def test_apply_that_races_an_event_asks_to_run_again_and_applies_nothing(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, companies = _held(aws, queues, sim, monkeypatch, mode=Mode.OBSERVE)
    _enforcing(aws, queues, sim, monkeypatch)
    held = companies[1].duplicate
    service = _service()
    _an_event_commits_before(service.repository, "apply", aws, held.ref, monkeypatch)
    with pytest.raises(Conflict) as raced:
        service.apply(held.ref, actor="user:dan")

    assert raced.value.field == "hold_id"
    assert "run it again" in raced.value.message
    hold = service.repository.hold(held.ref)
    assert hold is not None
    assert (hold.mode, hold.applied_by) == ("observe", None)
    assert _admin_entries(held.ref) == []


def _held_by_hand_while_observing(sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch) -> AdminService:
    """crm:777, a contact the guard does not know, held by hand while the guard observed; the admin
    service of the guard enforcing since."""
    point_at_simulator(sim, monkeypatch, mode=Mode.OBSERVE)
    _service().hold("crm:777", actor="user:erin", module="Contacts")
    point_at_simulator(sim, monkeypatch, mode=Mode.ENFORCE)
    return _service()


def _applied_before_the_next(
    service: AdminService, write: str, monkeypatch: pytest.MonkeyPatch
) -> list[OperationResult]:
    """The next time the repository's ``write`` runs, another admin's apply of crm:777 lands just before;
    its result is appended to the list returned."""
    original = getattr(service.repository, write)
    applied: list[OperationResult] = []

    def applied_meanwhile(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(service.repository, write, original)
        applied.append(service.apply("crm:777", actor="user:frank"))
        return original(*args, **kwargs)

    monkeypatch.setattr(service.repository, write, applied_meanwhile)
    return applied


def test_a_hold_by_hand_does_not_replace_an_observe_mode_hold_applied_meanwhile(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a record the guard does not know, held by hand while the guard observed
    service = _held_by_hand_while_observing(sim, monkeypatch)
    applied = _applied_before_the_next(service, "put_hold", monkeypatch)

    # when another admin's hold, which read the observe-mode hold, lands after the apply
    with pytest.raises(Conflict):
        service.hold("crm:777", actor="user:erin", module="Contacts")

    # then the applied hold stays, the one whose tag is written (through the module the hold named)
    [result] = applied
    hold = service.repository.hold("crm:777")
    assert hold is not None
    assert hold.applied_by == result.entry.entry_id
    [action] = result.entry.actions
    assert action.params == {"tag": HOLD_TAG, "module": "Contacts"}


def test_a_release_does_not_remove_an_observe_mode_hold_applied_meanwhile(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a record the guard does not know (no state to check a revision of), held by hand while the
    # guard observed, and the guard now enforcing
    service = _held_by_hand_while_observing(sim, monkeypatch)
    applied = _applied_before_the_next(service, "release", monkeypatch)

    # when a release, which read the hold before it was applied (nothing written to Zoho, nothing to
    # undo), lands after another admin's apply queued the hold tag
    with pytest.raises(Conflict) as raced:
        service.release("crm:777", actor="user:erin")

    # then the applied hold stays listed, with the tag it writes to undo at its release (before: the item
    # was deleted and the tag written all the same, a hold in Zoho that no list showed and no release undid)
    assert raced.value.field == "hold_id"
    [result] = applied
    hold = service.repository.hold("crm:777")
    assert hold is not None
    assert hold.applied_by == result.entry.entry_id
    released = service.release("crm:777", actor="user:erin")
    assert released.detail["cancelled"] == list(result.queued_actions)


def test_a_hold_by_hand_does_not_replace_an_observe_mode_hold_confirmed_meanwhile(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a duplicate the guard held in observe mode, nobody having confirmed it yet
    pipeline, companies = _held(aws, queues, sim, monkeypatch, mode=Mode.OBSERVE)
    pipeline.drain()
    held, survivor = companies[0].duplicate.ref, companies[0].customer.ref
    service = _service()
    put_hold = service.repository.put_hold

    def confirmed_meanwhile(*args: object, **kwargs: object) -> None:
        _service().confirm(held, survivor=survivor, actor="user:frank")
        put_hold(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service.repository, "put_hold", confirmed_meanwhile)

    # when an admin's hold, which read the unconfirmed hold, lands after another admin confirmed it
    with pytest.raises(Conflict):
        service.hold(held, actor="user:erin")

    # then the confirmed hold stays, with its survivor (hold refuses a confirmed hold, read or not)
    hold = service.repository.hold(held)
    assert hold is not None
    assert (hold.status, hold.survivor, hold.confirmed_by) == (HoldStatus.CONFIRMED, survivor, "user:frank")


def _deleted_in_zoho(pipeline: Pipeline, record: PartyRecord) -> None:
    """Zoho's delete of ``record`` reaches the guard (a workflow webhook carries its id only)."""
    channel = Channel.BOOKS_WORKFLOW if record.system.value == "books" else Channel.CRM_WORKFLOW
    pipeline.decide(
        [
            GuardEvent(
                event_id=event_key(record.system, record.module, Operation.DELETE, record.record_id),
                source=record.system,
                channel=channel,
                module=record.module,
                operation=Operation.DELETE,
                record_id=record.record_id,
                received_at=datetime.now(UTC),
            )
        ]
    )


def test_a_record_deleted_in_zoho_is_neither_linked_nor_applied_naming_the_field(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given both duplicates held in observe mode, then the CRM one deleted in Zoho
    pipeline, companies = _held(aws, queues, sim, monkeypatch, mode=Mode.OBSERVE)
    deleted, customer = companies[0].duplicate, companies[1].customer
    _deleted_in_zoho(pipeline, deleted)
    _enforcing(aws, queues, sim, monkeypatch)
    service = _service()

    with pytest.raises(Conflict) as linking:
        service.link(deleted.ref, customer.ref, actor="user:erin")
    assert linking.value.field == "crm"
    assert "deleted in Zoho" in linking.value.message
    with pytest.raises(Conflict) as applying:
        service.apply(deleted.ref, actor="user:erin")
    assert applying.value.field == "hold_id"
    assert "release the hold instead" in applying.value.message

    # nothing was written to Zoho, nor audited as done
    assert _admin_entries(deleted.ref) == []
    assert sum(sim.requests.count(route) for route in WRITE_ROUTES) == 0


def test_link_that_races_an_event_asks_to_run_again_and_pairs_nothing(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, companies = _held(aws, queues, sim, monkeypatch)
    crm, customer = companies[0].duplicate, companies[1].customer
    service = _service()
    _an_event_commits_before(service.repository, "write_states", aws, customer.ref, monkeypatch)

    with pytest.raises(Conflict) as raced:
        service.link(crm.ref, customer.ref, actor="user:erin")

    assert raced.value.field == "crm"
    assert "run it again" in raced.value.message
    shadow = DynamoShadowRepository.from_settings(get_settings())
    crm_state = shadow.get_state(crm.ref)
    assert crm_state is not None
    assert crm_state.partner != customer.ref
    assert _admin_entries(customer.ref) == []


def test_confirm_that_races_a_release_is_a_conflict_naming_the_hold(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, companies = _held(aws, queues, sim, monkeypatch)
    held, survivor = companies[1].duplicate, companies[1].customer
    service = _service()
    read = service.repository.hold(held.ref)
    assert read is not None
    # another admin releases the hold between this one's read and its write
    service.release(held.ref, actor="user:bob")
    monkeypatch.setattr(service.repository, "hold", lambda ref: read)

    with pytest.raises(Conflict) as raced:
        service.confirm(held.ref, survivor=survivor.ref, actor="user:alice")

    assert raced.value.field == "hold_id"
    assert [e.operation for e in _admin_entries(held.ref)] == ["release"]  # type: ignore[attr-defined]


def test_release_of_a_contact_the_guard_does_not_know_untags_it_through_contacts(
    aws: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a CRM contact the guard has never seen, held by hand through its module and tagged in Zoho
    point_at_simulator(sim, monkeypatch, mode=Mode.ENFORCE)
    contact = sim.state.crm_create("Contacts", {"First_Name": "Jane", "Last_Name": "Unseen"})
    pipeline = build_pipeline(aws, queues)
    service = _service()
    service.hold(f"crm:{contact['id']}", actor="user:alice", module="Contacts")
    pipeline.drain()
    assert [t["name"] for t in sim.state.crm_get("Contacts", contact["id"])["Tag"]] == [HOLD_TAG]

    # when an admin releases it, the guard still not knowing the record
    result = service.release(f"crm:{contact['id']}", actor="user:alice")
    pipeline.drain()

    # then the tag comes off the contact, through Contacts (before: the undo named no module, the outbox
    # wrote to Accounts, where no such record is, and the contact stayed tagged in Zoho)
    [undo] = result.entry.actions
    assert undo.params == {"tag": HOLD_TAG, "module": "Contacts"}
    assert sim.state.crm_get("Contacts", contact["id"])["Tag"] == []
    assert sim.requests.count("crm.remove_tags", status=200) == 1
