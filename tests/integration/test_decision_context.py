"""The executor's decision context on the real DynamoDB-API server: which hold of the guard's lists a record
(what the check after a held record's merge reads before it removes a hold tag)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync_guard.config import Mode, get_settings
from sync_guard.executor.dynamo import DynamoDecisionContext
from sync_guard.guard.model import AuditEntry, Decision, EntryKind, RecordState
from sync_guard.guard.ports import CommitPlan
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.store.shadow import DynamoShadowRepository, state_item
from tests.support.aws import AwsResources

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _held(ref: str, entry_id: str, mode: Mode) -> None:
    """``ref`` held by the decision ``entry_id`` as the engine commits a hold in ``mode``."""
    entry = AuditEntry(
        entry_id=entry_id, at=NOW, kind=EntryKind.DECISION, decision=Decision.QUARANTINE, mode=mode
    )
    DynamoShadowRepository.from_settings(get_settings()).commit(CommitPlan(entry=entry, holds=(ref,)))


@pytest.mark.parametrize(("mode", "listed"), [(Mode.ENFORCE, "evt_enforce"), (Mode.OBSERVE, None)])
def test_a_hold_written_to_zoho_lists_its_record_and_an_observe_mode_one_does_not(
    aws_server: AwsResources, mode: Mode, listed: str | None
) -> None:
    _held("crm:1", f"evt_{mode.value}", mode)

    assert DynamoDecisionContext.from_settings(get_settings()).hold_of("crm:1") == listed


def test_the_mark_on_a_records_state_lists_it_and_a_record_without_either_is_listed_by_none(
    aws_server: AwsResources,
) -> None:
    settings = get_settings()
    record = PartyRecord(system=System.CRM, module=Module.CRM_ACCOUNTS, record_id="2", name="Acme Ltd")
    state = RecordState(record=record, version=1, held_by="evt_marked")
    aws_server.dynamodb.put_item(TableName=settings.shadow_table, Item=state_item(state))
    context = DynamoDecisionContext.from_settings(settings)

    assert context.hold_of("crm:2") == "evt_marked"
    assert context.hold_of("crm:3") is None
