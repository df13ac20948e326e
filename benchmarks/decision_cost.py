"""What one decision costs, with 1,000 and with 100,000 records in the shadow mapping, in one run.

Against DynamoDB Local over HTTP (moto copies every table on each transaction, so its time grows with the
table and says nothing about DynamoDB). Two sets of the template's tables are seeded with synthetic CRM
accounts and Books customers (half of them paired through Books' CRM link): 1,000 records in one, 100,000 in
the other, the first 1,000 being the same. Keys come from the real matcher; items are written directly with
``BatchWriteItem`` from several threads (``ShadowSeeder``'s item codecs), which is what makes 100k fast.

The same events then run against both sets, alternately (one event on the small set, the same event on the
large one), so that JVM warm-up and machine noise hit both equally: creates of new companies, creates that
duplicate one of the shared first 1,000 records (flagged or held), Books customers the sync creates for
existing CRM accounts, and renames. DynamoDB requests are counted with a botocore ``before-send`` hook.

Targets: the same number of requests per event at both sizes, at most 8, and a time ratio <= 1.3.
Run: ``.venv/bin/python benchmarks/decision_cost.py [--large 100000] [--events 300]``.

Measured on the 2-core development machine (2026-11-25): 4.47 requests per event at both sizes (max 6; 3 on
AWS, where the whole plan is one transaction: DynamoDB Local's 10-item transaction limit makes the repository
write the rest right after), 45.3 ms vs 45.9 ms per event (ratio 1.01, median 1.04), the same decision for
every event. On 2026-12-06, ``--large 10000 --events 200``: 12.06 per event at both sizes (max 23), each
late key membership a transaction of its own and each late audit view a PutItem; with them sharing
transactions (``DynamoShadowRepository._write_memberships`` and ``_write_together``), 5.12 (max 6), 32.6 ms
vs 34.2 ms per event (ratio 1.05); at the default sizes (100,000 records, 300 events), beside a test suite
on the same machine, 5.11 (max 6), time ratio 1.09 (median 0.98). Most of the run is seeding: DynamoDB
Local takes ~1,000-3,600 items/s, and 100,000 records are ~600,000 items (record states plus one item per
blocking key), about 8 minutes; ``--large 10000`` for a quick look.
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))

from sync_guard.config import Mode  # noqa: E402
from sync_guard.guard.engine import Guard, GuardConfig, shadow_keys  # noqa: E402
from sync_guard.guard.matcher import LibraryMatcher  # noqa: E402
from sync_guard.guard.model import PairSource, RecordState  # noqa: E402
from sync_guard.local.dynamodb import dynamodb_server  # noqa: E402
from sync_guard.local.template import create_tables  # noqa: E402
from sync_guard.models.events import GuardEvent, Operation, event_key  # noqa: E402
from sync_guard.models.records import Module, PartyRecord, System  # noqa: E402
from sync_guard.store.items import to_item  # noqa: E402
from sync_guard.store.shadow import KEY_SK, DynamoShadowRepository, batch_put, state_item  # noqa: E402

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SMALL = 1_000


def word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(9)).capitalize()


def company(rng: random.Random, number: int) -> tuple[PartyRecord, PartyRecord]:
    """A CRM account and its Books customer (linked for even numbers, like a synced pair)."""
    name = f"{word(rng)} {word(rng)} Ltd"
    phone = f"+44 20 7{rng.randrange(10**6):06d}"
    created = T0 - timedelta(days=rng.randrange(1, 2000))
    crm = PartyRecord(
        system=System.CRM,
        module=Module.CRM_ACCOUNTS,
        record_id=f"5{number:08d}",
        name=name,
        phone=phone,
        created_at=created,
        modified_at=created,
    )
    books = PartyRecord(
        system=System.BOOKS,
        module=Module.BOOKS_CUSTOMERS,
        record_id=f"4{number:08d}",
        name=name,
        phone=phone,
        linked_crm_id=crm.record_id if number % 2 == 0 else None,
        has_transactions=True,
        created_at=created,
        modified_at=created,
    )
    return crm, books


def _states_for(numbers: range) -> list[RecordState]:
    """Run in worker processes: the matcher's keys cost ~0.4 ms a record."""
    matcher = LibraryMatcher()
    states: list[RecordState] = []
    for number in numbers:
        crm, books = company(random.Random(number), number)
        linked = books.linked_crm_id is not None
        states.append(
            RecordState(
                record=crm,
                version=int(crm.modified_at.timestamp() * 1000),  # type: ignore[union-attr]
                keys=shadow_keys(crm, matcher),
                partner=books.ref if linked else None,
                pair_source=PairSource.ZOHO_LINK if linked else None,
                rev=1,
            )
        )
        states.append(
            RecordState(
                record=books,
                version=int(books.modified_at.timestamp() * 1000),  # type: ignore[union-attr]
                keys=shadow_keys(books, matcher),
                partner=crm.ref if linked else None,
                pair_source=PairSource.ZOHO_LINK if linked else None,
                rev=1,
            )
        )
    return states


def build_states(records: int) -> list[RecordState]:
    companies = records // 2
    chunks = [range(start, min(start + 2_500, companies)) for start in range(0, companies, 2_500)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        return [state for part in pool.map(_states_for, chunks) for state in part]


def seed(client: Any, table: str, states: list[RecordState]) -> float:
    """Write states and key items straight with BatchWriteItem from eight threads; returns seconds."""
    started = time.perf_counter()
    members: dict[str, set[str]] = {}
    for state in states:
        for key in state.keys:
            members.setdefault(key, set()).add(state.ref)
    items = [state_item(state) for state in states]
    items += [
        to_item({"pk": f"KEY#{key}", "sk": KEY_SK, "members": refs, "owner": min(refs), "rev": 1})
        for key, refs in members.items()
    ]
    chunk = 2_000
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda s: batch_put(client, table, items[s : s + chunk]), range(0, len(items), chunk)))
    return time.perf_counter() - started


def workload(count: int, rng: random.Random) -> list[GuardEvent]:
    """Events touching only records both table sets hold (the first 1,000) or brand-new ones."""
    events: list[GuardEvent] = []
    for n in range(count):
        received = T0 + timedelta(minutes=n)
        kind = n % 5
        shared = rng.randrange(SMALL // 2)
        crm, books = company(random.Random(shared), shared)
        if kind in (0, 1):  # a new company
            record, _ = company(rng, 10_000_000 + n)
            record = record.model_copy(update={"modified_at": received, "created_at": received})
        elif kind == 2:  # a duplicate of an existing customer, created in CRM
            record = crm.model_copy(
                update={
                    "record_id": f"6{n:08d}",
                    "name": crm.name.replace("Ltd", "Limited"),
                    "modified_at": received,
                }
            )
        elif kind == 3:  # the sync creating a Books customer for an existing CRM account
            record = books.model_copy(
                update={"record_id": f"7{n:08d}", "linked_crm_id": crm.record_id, "modified_at": received}
            )
        else:  # a rename of an existing CRM account
            record = crm.model_copy(update={"name": f"{word(rng)} Trading Ltd", "modified_at": received})
        operation = Operation.UPDATE if kind == 4 else Operation.CREATE
        events.append(
            GuardEvent.workflow(
                record,
                operation,
                event_id=event_key("bench", n, record.ref),
                received_at=received,
                modified_at=received,
            )
        )
    return events


class RequestCounter:
    def __init__(self, client: Any) -> None:
        self.count = 0
        client.meta.events.register("before-send.dynamodb", self._count)

    def _count(self, **_: Any) -> None:
        self.count += 1


def guard_for(client: Any, tables: dict[str, str]) -> Guard:
    repository = DynamoShadowRepository(
        client,
        shadow_table=tables["SYNC_GUARD_SHADOW_TABLE"],
        audit_table=tables["SYNC_GUARD_AUDIT_TABLE"],
        outbox_table=tables["SYNC_GUARD_OUTBOX_TABLE"],
    )
    # Enforce mode, the storm breaker out of the way: this measures ordinary decisions.
    return Guard(repository, LibraryMatcher(), GuardConfig(mode=Mode.ENFORCE, storm_threshold=10**6))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()

    print(f"building {args.large:,} synthetic records (matcher keys, two processes)...", flush=True)
    started = time.perf_counter()
    states = build_states(args.large)
    print(f"  {len(states):,} states in {time.perf_counter() - started:.1f} s", flush=True)

    with dynamodb_server(ROOT / ".local" / "dynamodb") as server:
        client = boto3.client(
            "dynamodb",
            endpoint_url=server.endpoint_url,
            region_name="eu-west-2",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - local server
            config=Config(max_pool_connections=16, retries={"max_attempts": 4, "mode": "standard"}),
        )
        small = create_tables(client, "small")
        large = create_tables(client, "large")
        seconds_small = seed(client, small["SYNC_GUARD_SHADOW_TABLE"], states[:SMALL])
        seconds_large = seed(client, large["SYNC_GUARD_SHADOW_TABLE"], states)
        print(
            f"seeded {SMALL:,} records in {seconds_small:.1f} s and {len(states):,} in {seconds_large:.1f} s"
        )
        print(f"server: {server.kind} at {server.endpoint_url}")

        counter = RequestCounter(client)
        guards = {"small": guard_for(client, small), "large": guard_for(client, large)}
        rng = random.Random(7)
        warmup = workload(40, random.Random(99))
        for event in warmup:  # JIT, connections; not measured
            for guard in guards.values():
                guard.process(event.model_copy(update={"event_id": event.event_id + "w"}))
        requests: dict[str, list[int]] = {"small": [], "large": []}
        millis: dict[str, list[float]] = {"small": [], "large": []}
        decisions: dict[str, list[str]] = {"small": [], "large": []}
        for event in workload(args.events, rng):
            for size, guard in guards.items():
                counter.count = 0
                started = time.perf_counter()
                result = guard.process(event)
                millis[size].append((time.perf_counter() - started) * 1000)
                requests[size].append(counter.count)
                decisions[size].append(result.decision.value if result.decision else "none")

    print()
    print(
        f"{'records':>10} {'requests/event':>15} {'max':>4} {'ms/event (mean)':>16} {'median':>7} {'p95':>7}"
    )
    for size, records in (("small", SMALL), ("large", len(states))):
        p95 = statistics.quantiles(millis[size], n=20)[-1]
        print(
            f"{records:>10,} {statistics.mean(requests[size]):>15.2f} {max(requests[size]):>4} "
            f"{statistics.mean(millis[size]):>16.2f} {statistics.median(millis[size]):>7.2f} {p95:>7.2f}"
        )
    same_requests = requests["small"] == requests["large"]
    request_ratio = statistics.mean(requests["large"]) / statistics.mean(requests["small"])
    time_ratio = statistics.mean(millis["large"]) / statistics.mean(millis["small"])
    median_ratio = statistics.median(millis["large"]) / statistics.median(millis["small"])
    print()
    tally = {d: decisions["small"].count(d) for d in sorted(set(decisions["small"]))}
    print(f"decisions: {tally}")
    print(f"same decision for every event at both sizes: {decisions['small'] == decisions['large']}")
    print(f"same request count for every event: {same_requests} (ratio {request_ratio:.2f})")
    print(f"max requests per event: {max(requests['large'])} (target <= 8)")
    print(f"time ratio large/small: mean {time_ratio:.2f}, median {median_ratio:.2f} (target <= 1.3)")
    ok = same_requests and max(requests["large"]) <= 8 and time_ratio <= 1.3
    print("targets met" if ok else "TARGETS MISSED")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
