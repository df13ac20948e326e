"""The checks for a hold tag a CRM merge passed on are not conditions of the delete's commit, on the real
DynamoDB-API server over HTTP with the Zoho simulator.

When a held CRM record is deleted (a merge deletes the record merged away), the guard queues a check of
each live CRM record it matched (``possible_merge_masters``, up to 10) and a sweep of the records CRM
changed at that moment. Those records are not in the decision's basis (``decision_basis``): a change of one
between the delete's read and its commit does not cancel the commit. This shows why no wrong outcome comes
of it: a check is a place to look, and what it does is decided when it runs, on the record as CRM holds it
and on the ``HOLD`` item as it is then, not on the shadow's view at the decision. A target held meanwhile
keeps its tag (its own hold's), and a target merged away meanwhile is found gone and left alone: what a
decision taken after the change would have led to.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync_guard.admin.service import AdminService
from sync_guard.config import get_settings
from sync_guard.executor.dynamo import DynamoActionStore
from sync_guard.executor.queue import SqsActionQueue
from sync_guard.guard.engine import Guard, GuardConfig
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import ActionKind
from sync_guard.local.zoho_simulator import Source, ZohoSimulator
from sync_guard.models.events import GuardEvent
from sync_guard.zoho.convert import crm_record_to_party
from sync_guard.zoho.payloads import parse_crm_workflow
from tests.integration.test_decision_basis_race import CommitsAfter
from tests.support.aws import AwsResources
from tests.support.outbox import (
    HOLD_TAG,
    OutboxQueues,
    build_pipeline,
    create_companies,
    create_outbox_queues,
    event_for,
    point_at_simulator,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def sim() -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=11) as simulator:
        yield simulator


@pytest.fixture
def queues(aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch) -> OutboxQueues:
    return create_outbox_queues(aws_server, monkeypatch)


def _tags(sim: ZohoSimulator, record_id: str) -> set[str]:
    return {t["name"] for t in sim.state.crm_get("Accounts", record_id).get("Tag") or ()}


def _delete_of(sim: ZohoSimulator, record_id: str) -> GuardEvent:
    body = {"event": "delete", "module": "Accounts", "id": record_id, "modified": sim.state.now().isoformat()}
    return parse_crm_workflow(body, received_at=sim.state.now())


def test_a_tag_check_target_held_or_merged_away_meanwhile_gets_what_a_fresh_decision_gives(
    aws_server: AwsResources, queues: OutboxQueues, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a company's Books customer (with invoices), two CRM accounts of its name ("master" and "other"),
    # and a drifted CRM copy the guard holds (tagged in the simulator)
    point_at_simulator(sim, monkeypatch)
    [company] = create_companies(sim, 1)
    pipeline = build_pipeline(aws_server, queues)
    name = company.customer.name
    master, other = (
        crm_record_to_party(
            "Accounts", sim.state.crm_create("Accounts", {"Account_Name": name}, source=Source.ADMIN)
        )
        for _ in range(2)
    )
    pipeline.decide([event_for(record) for record in (company.customer, master, other, company.duplicate)])
    pipeline.drain()
    copy = company.duplicate.record_id
    assert HOLD_TAG in _tags(sim, copy)
    assert HOLD_TAG not in _tags(sim, master.record_id)
    # when sales merge the held copy into "master" (a CRM that passes tags on), and while the guard decides
    # on the copy's delete, an admin holds "master" and sales merge "other" away (into "master" too)
    sim.state.crm_merge("Accounts", master.record_id, [copy], source=Source.ADMIN)
    assert HOLD_TAG in _tags(sim, master.record_id)

    def meanwhile() -> None:
        AdminService.from_settings(get_settings()).hold(
            master.ref, actor="alice@example.com", reason="review"
        )
        sim.state.crm_merge("Accounts", master.record_id, [other.record_id], source=Source.ADMIN)
        pipeline.decide([_delete_of(sim, other.record_id)])

    settings = get_settings()
    guard = Guard(
        CommitsAfter(meanwhile),
        LibraryMatcher(),
        GuardConfig(mode=settings.mode, crm_hold_tag=settings.crm_hold_tag),
    )
    result = guard.process(_delete_of(sim, copy))
    assert result.entry is not None
    SqsActionQueue.from_settings(settings).send([a.action_id for a in result.entry.actions])
    pipeline.drain()

    # then the delete was not decided again: the records it checks are no conditions of its commit
    assert result.attempts == 1
    checks = {a.target: a for a in result.entry.actions if a.kind is ActionKind.CLEAR_CARRIED_HOLD_TAG}
    assert set(checks) == {master.ref, other.ref}
    # and each check did what it would have done decided after the change: "master" keeps the tag, now its
    # own hold's, and "other", gone from CRM, is left alone
    assert HOLD_TAG in _tags(sim, master.record_id)
    assert sim.requests.count("crm.remove_tags", record_id=master.record_id) == 0
    store = DynamoActionStore.from_settings(settings)
    outcomes = {ref: store.get(action.action_id) for ref, action in checks.items()}
    assert all(item is not None and item["status"] == "done" for item in outcomes.values())
    assert "carries the hold tag of its own hold" in str(outcomes[master.ref]["outcome"])  # type: ignore[index]
    assert "no longer exists in CRM" in str(outcomes[other.ref]["outcome"])  # type: ignore[index]
