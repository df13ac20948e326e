"""Holds a customer turned vendor made moot: released by the processor through the admin release, undone in
Zoho (the simulator) by the outbox, on the real DynamoDB-API server; an admin's own hold stays."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from sync_guard.admin.moot import GUARD_ACTOR, MootHolds
from sync_guard.admin.service import AdminService
from sync_guard.cli import app
from sync_guard.config import Mode, get_settings
from sync_guard.guard.model import ActionKind, AuditEntry, Decision, EntryKind, Finding, Severity
from sync_guard.local.zoho_simulator import ZohoSimulator
from sync_guard.models.events import GuardEvent, Operation, event_key
from sync_guard.models.records import Module, PartyRecord
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.aws import client
from sync_guard.store.bulk import ShadowSeeder
from sync_guard.store.items import iso, to_item
from sync_guard.store.shadow import HOLD_PK
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
from tests.unit.guard.builders import books_customer, crm_account, state

runner = CliRunner()


def _held(
    aws: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Pipeline, ZohoSimulator, list[Company]]]:
    """Company 0: a Books customer and a CRM account held as its duplicate; company 1: a Books customer and a
    second Books customer held as its duplicate; both holds written to Zoho (enforce mode)."""
    queues: OutboxQueues = create_outbox_queues(aws, monkeypatch)
    with ZohoSimulator(seed=11) as sim:
        point_at_simulator(sim, monkeypatch)
        companies = create_companies(sim, 2, books_duplicates_every=2)
        pipeline = build_pipeline(aws, queues)
        pipeline.decide([event_for(c.customer) for c in companies])
        pipeline.decide([event_for(c.duplicate) for c in companies])
        pipeline.drain()
        yield pipeline, sim, companies


@pytest.fixture
def held(
    aws: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Pipeline, ZohoSimulator, list[Company]]]:
    """The holds (see ``_held``), on moto in-process."""
    yield from _held(aws, monkeypatch)


@pytest.fixture
def held_on_server(
    aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Pipeline, ZohoSimulator, list[Company]]]:
    """The holds (see ``_held``), on the real DynamoDB-API server (queues on moto's server)."""
    yield from _held(aws_server, monkeypatch)


def _turned_vendor(customer: PartyRecord) -> PartyRecord:
    """``customer`` edited into a supplier in Books (``contact_type: vendor``), after the guard saw it."""
    assert customer.modified_at is not None
    later = customer.modified_at + timedelta(days=1)
    return customer.model_copy(update={"module": Module.BOOKS_VENDORS, "modified_at": later})


def _tagged(sim: ZohoSimulator, account: PartyRecord) -> bool:
    return HOLD_TAG in {t["name"] for t in sim.state.crm_get("Accounts", account.record_id)["Tag"]}


def _releases(ref: str) -> list[AuditEntry]:
    """The releases of ``ref``'s holds as moot (``release_moot``; none is an ordinary ``release``)."""
    entries = list(AuditLog.from_settings(get_settings()).iterate(AuditQuery(record=ref)))
    assert not [e for e in entries if e.operation == "release" and e.records[:1] == (ref,)]
    return [e for e in entries if e.kind is EntryKind.ADMIN and e.operation == "release_moot"]


def test_holds_a_customer_turned_vendor_made_moot_are_released_and_undone_in_zoho(
    held: tuple[Pipeline, ZohoSimulator, list[Company]],
) -> None:
    # given the Books customer a CRM account is held against, and a held Books duplicate, both turned vendors
    pipeline, sim, companies = held
    crm_dup, books_dup = companies[0].duplicate, companies[1].duplicate
    assert _tagged(sim, crm_dup)
    assert sim.state.books_get(books_dup.record_id)["status"] == "inactive"
    service = AdminService.from_settings(get_settings())
    # ... and an admin's own hold on a customer who also turns vendor
    service.hold(companies[1].customer.ref, actor="user:ivy", reason="checking with the customer")
    admins = companies[1].customer.ref
    assert {h.hold_id for h in service.list_holds()} == {crm_dup.ref, books_dup.ref, admins}

    # when Books edits the three into vendors (each webhook delivered twice)
    turned = [event_for(_turned_vendor(r)) for r in (companies[0].customer, books_dup, companies[1].customer)]
    pipeline.decide(turned + turned)
    pipeline.drain()

    # then the guard's two holds are released as an admin releases them, by the guard, naming the vendor
    assert {h.hold_id for h in service.list_holds()} == {admins}  # the admin's own hold stays
    [crm_release] = _releases(crm_dup.ref)
    [books_release] = _releases(books_dup.ref)
    assert crm_release.actor == books_release.actor == GUARD_ACTOR
    # ... recorded as releases as moot: the held record, then the vendor that made it moot (none besides
    # the held record when it is the vendor), and said in the note
    assert crm_release.records == (crm_dup.ref, companies[0].customer.ref)
    assert books_release.records == (books_dup.ref,)
    assert f"{companies[0].customer.ref} is a Books vendor now" in crm_release.note
    assert f"{books_dup.ref} is a Books vendor now" in books_release.note
    assert [a.kind for a in crm_release.actions] == [ActionKind.UNTAG_CRM_RECORD]
    assert [a.kind for a in books_release.actions] == [ActionKind.MARK_BOOKS_ACTIVE]
    # ... undone in Zoho through the outbox: the tag is off the account, the supplier active again
    assert not _tagged(sim, crm_dup)
    assert sim.state.books_get(books_dup.record_id)["status"] == "active"
    # ... and judging nothing: nobody looked at the records
    assert service.record(crm_dup.ref).cleared == frozenset()
    assert service.record(crm_dup.ref).held_by is None


def test_release_moot_releases_the_holds_of_vendors_retired_before_the_processor_released_them(
    held_on_server: tuple[Pipeline, ZohoSimulator, list[Company]],
) -> None:
    # given the same holds (on the real DynamoDB-API server), and an admin's own hold on a customer
    pipeline, sim, companies = held_on_server
    crm_dup, books_dup = companies[0].duplicate, companies[1].duplicate
    service = AdminService.from_settings(get_settings())
    admins = companies[1].customer.ref
    service.hold(admins, actor="user:ivy", reason="checking with the customer")
    # ... and the three records turned vendors while the processor released no moot hold (an older release)
    pipeline.deps.handler.moot_holds = None  # type: ignore[attr-defined]
    turned = [event_for(_turned_vendor(r)) for r in (companies[0].customer, books_dup, companies[1].customer)]
    pipeline.decide(turned)
    pipeline.drain()
    assert {h.hold_id for h in service.list_holds()} == {crm_dup.ref, books_dup.ref, admins}

    # when an admin looks first (--dry-run): it names both of the guard's holds and releases none
    looked = runner.invoke(app, ["quarantines", "release-moot", "--dry-run"])
    assert looked.exit_code == 0, looked.output
    assert f"would release {crm_dup.ref}: {companies[0].customer.ref} is a Books vendor now" in looked.output
    assert f"would release {books_dup.ref}: {books_dup.ref} is a Books vendor now" in looked.output
    assert admins not in looked.output
    assert "2 holds made moot; none released (--dry-run)" in looked.output
    assert {h.hold_id for h in service.list_holds()} == {crm_dup.ref, books_dup.ref, admins}

    # ... then releases them one run at a time (--limit 1), and runs it once more
    first = runner.invoke(app, ["quarantines", "release-moot", "--limit", "1", "--actor", "user:ivy"])
    second = runner.invoke(app, ["quarantines", "release-moot", "--actor", "user:ivy"])
    again = runner.invoke(app, ["quarantines", "release-moot", "--actor", "user:ivy"])
    pipeline.drain()

    # then each run released what it said, the first leaving one for the next, and a third finds nothing
    assert first.exit_code == 0, first.output
    assert "1 released, 0 refused; 1 more made moot: run it again" in first.output
    assert second.exit_code == 0, second.output
    assert "1 released, 0 refused" in second.output
    assert again.exit_code == 0, again.output
    assert "no hold made moot by a customer turned vendor" in again.output
    # ... the admin's own hold stays; the guard's two are gone, audited as released by the admin, naming
    # the vendor, judging nothing, and undone in Zoho through the outbox
    assert {h.hold_id for h in service.list_holds()} == {admins}
    [crm_release] = _releases(crm_dup.ref)
    [books_release] = _releases(books_dup.ref)
    assert crm_release.actor == books_release.actor == "user:ivy"
    assert crm_release.records == (crm_dup.ref, companies[0].customer.ref)
    assert f"{companies[0].customer.ref} is a Books vendor now" in crm_release.note
    assert service.record(crm_dup.ref).cleared == frozenset()
    assert not _tagged(sim, crm_dup)
    assert sim.state.books_get(books_dup.record_id)["status"] == "active"


def _guard_holds(count: int, against_vendor: tuple[int, ...]) -> tuple[PartyRecord, Counter[str]]:
    """``count`` of the guard's holds on CRM accounts, those numbered ``against_vendor`` raised against a
    Books customer since turned vendor (``books:9000``), the others against live customers; and the
    DynamoDB requests made from then on, by operation."""
    settings = get_settings()
    dynamodb = client("dynamodb", settings)
    vendor = books_customer("9000", "Ashby Supplies Ltd").model_copy(update={"module": Module.BOOKS_VENDORS})
    states = [state(vendor, deleted=True)]
    states += [state(books_customer(str(5000 + i), f"Customer {i} Ltd")) for i in range(count)]
    states += [state(crm_account(str(1000 + i), f"Customer {i} Limited")) for i in range(count)]
    ShadowSeeder(dynamodb, settings.shadow_table).load(states)
    audit = AuditLog.from_settings(settings)
    since = datetime.now(UTC) - timedelta(days=2)
    for i in range(count):
        held, against = f"crm:{1000 + i}", "books:9000" if i in against_vendor else f"books:{5000 + i}"
        finding = Finding(
            code="NAME_DRIFT", severity=Severity.HIGH, explanation="-", subject=held, related=(held, against)
        )
        entry = AuditEntry(
            entry_id=f"evt_{i:04d}",
            at=since + timedelta(minutes=i),
            kind=EntryKind.DECISION,
            decision=Decision.QUARANTINE,
            mode=Mode.ENFORCE,
            records=(held, against),
            rules=("NAME_DRIFT",),
            findings=(finding,),
        )
        audit.append(entry)
        values = {"entry_id": entry.entry_id, "rules": ["NAME_DRIFT"], "at": iso(entry.at), "mode": "enforce"}
        dynamodb.put_item(
            TableName=settings.shadow_table, Item=to_item({"pk": HOLD_PK, "sk": held, **values})
        )
    calls: Counter[str] = Counter()
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    return vendor, calls


def test_a_vendors_event_reads_no_decision_per_hold_on_the_list(aws_server: AwsResources) -> None:
    # given 150 of the guard's holds, 2 of them raised against a customer since turned vendor
    vendor, calls = _guard_holds(150, against_vendor=(7, 140))

    # when the vendor's event looks for the holds it made moot
    found = MootHolds.from_settings(get_settings()).moot(vendor.ref)

    # then it finds the two, from the holds' list and the decisions naming the vendor (the audit trail's
    # record view), not by reading each hold's decision: a handful of requests, not one per hold
    assert sorted(hold.hold_id for hold, _ in found) == ["crm:1007", "crm:1140"]
    assert calls["GetItem"] <= 1, calls
    assert sum(calls.values()) <= 6, calls


def test_release_moot_reads_the_holds_decisions_a_hundred_a_request(aws_server: AwsResources) -> None:
    # given 150 of the guard's holds, 2 of them raised against a customer since turned vendor
    _, calls = _guard_holds(150, against_vendor=(7, 140))

    # when release-moot looks for the holds every retired record made moot (no vendor named)
    found = MootHolds.of(AdminService.from_settings(get_settings())).moot()

    # then it finds the two, reading the holds' decisions in batches (BatchGetItem, a hundred keys a
    # request), not one GetItem per hold: the HOLD Query, then 2 batches each of the decisions, of the
    # held records' states and of the states of the records they were held against
    assert sorted(hold.hold_id for hold, _ in found) == ["crm:1007", "crm:1140"]
    assert calls["GetItem"] == 0, calls
    assert sum(calls.values()) <= 7, calls


def _customer_again(vendor: PartyRecord) -> GuardEvent:
    """``vendor`` edited back into a customer in Books (``contact_type: customer``), a day later."""
    assert vendor.modified_at is not None
    later = vendor.modified_at + timedelta(days=1)
    customer = vendor.model_copy(update={"module": Module.BOOKS_CUSTOMERS, "modified_at": later})
    event = event_for(customer)
    key = event_key(customer.system, customer.module, Operation.UPDATE, customer.record_id, later)
    return event.model_copy(update={"operation": Operation.UPDATE, "event_id": key})


def test_a_vendor_edited_back_into_a_customer_has_its_duplicates_held_again_unless_judged_distinct(
    held_on_server: tuple[Pipeline, ZohoSimulator, list[Company]],
) -> None:
    # given the guard's two holds made moot by their customers turning vendors, and released
    pipeline, sim, companies = held_on_server
    crm_dup, books_dup = companies[0].duplicate, companies[1].duplicate
    vendors = [_turned_vendor(c.customer) for c in companies]
    pipeline.decide([event_for(v) for v in vendors])
    pipeline.drain()
    service = AdminService.from_settings(get_settings())
    assert service.list_holds() == []
    assert not _tagged(sim, crm_dup)

    # when Books edits both back into customers (each webhook delivered twice)
    again = [_customer_again(v) for v in vendors]
    pipeline.decide(again + again)
    pipeline.drain()

    # then both duplicates are held again, as the guard held them before: the Books one by the customer's
    # own event, decided afresh; the CRM account (which no Books event decides) by the guard, naming why
    holds = {h.hold_id: h for h in service.list_holds()}
    assert set(holds) == {crm_dup.ref, books_dup.ref}
    assert holds[crm_dup.ref].rules == ("NAME_DRIFT",)
    assert _tagged(sim, crm_dup)
    assert sim.state.books_get(books_dup.record_id)["status"] == "inactive"
    entries = AuditLog.from_settings(get_settings()).iterate(AuditQuery(record=crm_dup.ref))
    [rehold] = [e for e in entries if e.kind is EntryKind.ADMIN and e.operation == "hold_again"]
    assert rehold.actor == GUARD_ACTOR
    assert rehold.note.startswith(f"{companies[0].customer.ref} is a Books customer again")

    # when an admin releases the CRM account's hold (not a duplicate), and the customer turns vendor and
    # back once more
    service.release(crm_dup.ref, actor="user:ivy", reason="different company")
    pipeline.drain()
    twice = _turned_vendor(_customer_again(vendors[0]).record)  # type: ignore[arg-type]
    pipeline.decide([event_for(twice)])
    pipeline.decide([_customer_again(twice)])
    pipeline.drain()

    # then the admin's judgement stands: the account is not held again
    assert companies[0].customer.ref in service.record(crm_dup.ref).cleared
    assert crm_dup.ref not in {h.hold_id for h in service.list_holds()}
    assert not _tagged(sim, crm_dup)


class _Failing:
    """The processor's ``MootHolds``, failing before it holds anything again (a timeout, a crash)."""

    def __init__(self, moot_holds: MootHolds) -> None:
        self.moot_holds = moot_holds

    def release_for(self, ref: str) -> list[str]:
        return self.moot_holds.release_for(ref)

    def returned(self, entry_id: str) -> bool:
        return self.moot_holds.returned(entry_id)

    def restore_for(self, ref: str, same: object) -> list[str]:
        raise RuntimeError("the function timed out")


def test_a_redelivery_holds_again_what_the_first_delivery_did_not(
    held_on_server: tuple[Pipeline, ZohoSimulator, list[Company]],
) -> None:
    # given the CRM account's hold released as moot, its customer having turned vendor
    pipeline, sim, companies = held_on_server
    crm_dup = companies[0].duplicate
    vendor = _turned_vendor(companies[0].customer)
    pipeline.decide([event_for(vendor)])
    pipeline.drain()
    # ... and the customer's edit back decided, but the processor failed before holding anything again
    handler = pipeline.deps.handler
    moot_holds = handler.moot_holds  # type: ignore[attr-defined]
    handler.moot_holds = _Failing(moot_holds)  # type: ignore[attr-defined]
    back = _customer_again(vendor)
    with pytest.raises(RuntimeError, match="the function timed out"):
        pipeline.decide([back])
    service = AdminService.from_settings(get_settings())
    assert crm_dup.ref not in {h.hold_id for h in service.list_holds()}

    # when SQS delivers the event again: a repeat to the engine
    handler.moot_holds = moot_holds  # type: ignore[attr-defined]
    pipeline.decide([back])
    pipeline.drain()

    # then the account is held again, found from the decision's entry
    assert crm_dup.ref in {h.hold_id for h in service.list_holds()}
    assert _tagged(sim, crm_dup)


def test_a_vendor_edited_back_keeps_an_admins_hold_as_it_was_and_has_the_guards_own_decided_afresh(
    held_on_server: tuple[Pipeline, ZohoSimulator, list[Company]],
) -> None:
    # given an admin's own hold on company 0's customer (the guard holds a CRM account as its duplicate),
    # and the guard's hold on company 1's second Books customer, held as a duplicate of company 1's
    pipeline, sim, companies = held_on_server
    customer, crm_dup, books_dup = companies[0].customer, companies[0].duplicate, companies[1].duplicate
    service = AdminService.from_settings(get_settings())
    admins = service.hold(customer.ref, actor="user:ivy", reason="checking with the customer").entry
    pipeline.drain()
    # ... both records turned vendors: the guard's holds they made moot are released (the duplicate's own,
    # and the CRM account's), the admin's stays
    vendors = [_turned_vendor(customer), _turned_vendor(books_dup)]
    pipeline.decide([event_for(v) for v in vendors])
    pipeline.drain()
    assert {h.hold_id for h in service.list_holds()} == {customer.ref}

    # when Books edits both back into customers
    back = [_customer_again(v) for v in vendors]
    pipeline.decide(back)
    pipeline.drain()

    # then the admin's hold is the admin's still, as it was: its entry, actor and note, never released nor
    # made over by the guard (a person decided it, and a person releases it)
    holds = {h.hold_id: h for h in service.list_holds()}
    assert set(holds) == {customer.ref, crm_dup.ref, books_dup.ref}
    assert holds[customer.ref].entry_id == service.record(customer.ref).held_by == admins.entry_id
    trail = AuditLog.from_settings(get_settings())
    made = trail.get(holds[customer.ref].entry_id)
    assert made is not None
    assert (made.actor, made.note) == ("user:ivy", "checking with the customer")
    entries = trail.iterate(AuditQuery(record=customer.ref))
    assert not [e for e in entries if "release" in (e.operation or "") and e.records[0] == customer.ref]
    # ... the guard's own hold on the record that was a vendor is decided afresh, by its own event: held
    # again as a duplicate of company 1's customer, by the rules' decision (not made again by hand)
    decided = trail.get(holds[books_dup.ref].entry_id)
    assert decided is not None
    assert decided.kind is EntryKind.DECISION
    assert decided.event_id == back[1].event_id
    assert sim.state.books_get(books_dup.record_id)["status"] == "inactive"
    # ... and the CRM account held against the customer is held again by the guard (hold_again)
    again = trail.get(holds[crm_dup.ref].entry_id)
    assert again is not None
    assert (again.operation, again.actor) == ("hold_again", GUARD_ACTOR)
