"""Exactly-once effect: every event delivered three times, shuffled, ends where one ordered delivery ends.

1,000 webhook events (250 companies: CRM create, CRM rename, Books create linked by Zoho, Books rename) go
once, in order, into one set of tables, and three times each in a random order, by four concurrent
consumers, into another (on DynamoDB Local over HTTP: moto copies every table on each transaction, which
makes 4,000 of them take minutes). The shadow
state must be the same and each event must have exactly one audit entry in both.

What is compared is the mapping itself: record states (record, version, deleted, pairs, keys, holds) and key
memberships. Left out are bookkeeping values that record *arrival order* by design: ``rev`` (a write
counter), a key item's ``owner`` (its first writer) and key items with no members left (a rename delivered
before its create never writes the old name's key). Deletes are left out too: a delete delivered before its
record's create cannot know the record, so the shuffled run would hold a tombstone where the ordered run
holds the last known state (that case is covered by ``test_engine``).
"""

from __future__ import annotations

import random
import string
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_guard.config import Mode, get_settings
from sync_guard.guard.engine import Guard, GuardConfig
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.local.template import create_tables
from sync_guard.models.events import GuardEvent
from sync_guard.store.items import from_item
from sync_guard.store.shadow import DynamoShadowRepository
from sync_guard.zoho.payloads import parse_books_webhook, parse_crm_workflow
from tests.support.aws import AwsResources

COMPANIES = 250
CONSUMERS = 4
START = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(8)).capitalize()


def webhook_events(rng: random.Random) -> list[GuardEvent]:
    events: list[GuardEvent] = []
    for n in range(COMPANIES):
        name = f"{_word(rng)} {_word(rng)} Ltd"
        renamed = name.replace(" Ltd", " Group Ltd")
        base = START + timedelta(minutes=4 * n)
        crm_id, books_id = f"57{n:06d}", f"46{n:06d}"

        def at(minutes: int, base: datetime = base) -> datetime:
            return base + timedelta(minutes=minutes)

        events.append(
            parse_crm_workflow(
                {
                    "event": "create",
                    "module": "Accounts",
                    "id": crm_id,
                    "name": name,
                    "modified": at(0).isoformat(),
                },
                received_at=at(0),
            )
        )
        events.append(
            parse_crm_workflow(
                {
                    "event": "edit",
                    "module": "Accounts",
                    "id": crm_id,
                    "name": renamed,
                    "modified": at(2).isoformat(),
                },
                received_at=at(2),
            )
        )
        for minutes, contact_name, operation in ((1, name, "create"), (3, renamed, "edit")):
            contact = {
                "contact_id": books_id,
                "contact_name": contact_name,
                "contact_type": "customer",
                "status": "active",
                "zcrm_account_id": crm_id,
                "created_time": at(1).strftime("%Y-%m-%dT%H:%M:%S%z"),
                "last_modified_time": at(minutes).strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            events.append(
                parse_books_webhook({"contact": contact}, received_at=at(minutes), operation=operation)
            )
    return events


def shadow_state(client: Any, table: str) -> dict[str, Any]:
    """The mapping as data, without arrival-order bookkeeping (see the module docstring)."""
    state: dict[str, Any] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            values = from_item(item)
            key = f"{values.pop('pk')}|{values.pop('sk')}"
            values.pop("rev", None)
            values.pop("owner", None)
            if key.startswith("KEY#") and not values.get("members"):
                continue
            state[key] = values
    return state


def audit_entries(client: Any, table: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if item["sk"]["S"] == "E":
                event_id = item["event_id"]["S"]
                counts[event_id] = counts.get(event_id, 0) + 1
    return counts


def guard_for(client: Any, tables: dict[str, str]) -> Guard:
    repository = DynamoShadowRepository(
        client,
        shadow_table=tables["SYNC_GUARD_SHADOW_TABLE"],
        audit_table=tables["SYNC_GUARD_AUDIT_TABLE"],
        outbox_table=tables["SYNC_GUARD_OUTBOX_TABLE"],
    )
    fixed_clock = datetime(2026, 4, 2, tzinfo=UTC)  # first_seen and entry times must not depend on the run
    return Guard(repository, LibraryMatcher(), GuardConfig(mode=Mode.ENFORCE), clock=lambda: fixed_clock)


@pytest.mark.integration
@pytest.mark.slow
def test_three_shuffled_deliveries_have_the_effect_of_one_ordered_delivery(aws_server: AwsResources) -> None:
    rng = random.Random(20260401)
    events = webhook_events(rng)
    assert len(events) == 4 * COMPANIES == 1000
    assert len({e.event_id for e in events}) == 1000
    settings = get_settings()
    ordered_tables = {
        "SYNC_GUARD_SHADOW_TABLE": settings.shadow_table,
        "SYNC_GUARD_AUDIT_TABLE": settings.audit_table,
        "SYNC_GUARD_OUTBOX_TABLE": settings.outbox_table,
    }
    shuffled_tables = create_tables(aws_server.dynamodb, f"shuffled{rng.randrange(10**6)}")

    # given one ordered delivery (run beside the other one: they use different tables)
    ordered = guard_for(aws_server.dynamodb, ordered_tables)
    with ThreadPoolExecutor(max_workers=1) as single:
        ordered_run = single.submit(lambda: [ordered.process(event).already_processed for event in events])

        # when each event is delivered three times, in a random order, by concurrent consumers (as SQS
        # and Lambda do: copies of one event may well be processed at the same moment)
        deliveries = events * 3
        rng.shuffle(deliveries)
        shuffled = guard_for(aws_server.dynamodb, shuffled_tables)
        with ThreadPoolExecutor(max_workers=CONSUMERS) as pool:
            repeats = sum(r.already_processed for r in pool.map(shuffled.process, deliveries))
        assert not any(ordered_run.result())

    # then the repeats had no effect and the mapping is the same
    assert repeats == 2000
    expected = shadow_state(aws_server.dynamodb, ordered_tables["SYNC_GUARD_SHADOW_TABLE"])
    actual = shadow_state(aws_server.dynamodb, shuffled_tables["SYNC_GUARD_SHADOW_TABLE"])
    assert len(expected) > 2 * COMPANIES
    assert actual == expected
    # pairs really were built (the comparison is not of two empty mappings)
    assert expected[f"REC#crm:57{7:06d}|S"]["partner"] == f"books:46{7:06d}"
    assert expected[f"REC#books:46{7:06d}|S"]["partner"] == f"crm:57{7:06d}"

    # and every event has exactly one audit entry in both runs
    every_event = {event.event_id: 1 for event in events}
    assert audit_entries(aws_server.dynamodb, ordered_tables["SYNC_GUARD_AUDIT_TABLE"]) == every_event
    assert audit_entries(aws_server.dynamodb, shuffled_tables["SYNC_GUARD_AUDIT_TABLE"]) == every_event
