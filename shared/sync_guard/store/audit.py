"""The audit trail in DynamoDB: append-only, one entry per decision and per admin operation.

Layout (table ``pk``/``sk``, no index needed). Each entry is written as one *primary* item and a few *view*
items, all in the same transaction, each holding the whole entry:

==========================  ==============================  =============================================
item                        pk                              sk
==========================  ==============================  =============================================
primary (idempotency mark)  ``E#<entry_id>``                ``E``
by time (month partition)   ``M#2026-11``                   ``<at ISO, fixed width>#<entry_id>``
by record (one per record)  ``R#crm:123`` / ``R#books:9``   same
by rule (one per code)      ``U#NAME_DRIFT``                same
by decision                 ``D#quarantine``                same
==========================  ==============================  =============================================

The primary item is put with ``attribute_not_exists(pk)``: a decision's entry id is its event id, so a
redelivered event cannot leave a second entry (the whole transaction is cancelled). Entries are never
updated or deleted by the guard; view items are copies, not pointers, so a query is one ``Query`` per page.

Queries pick the most selective partition (record, then rule, then decision, then months from ``until``
back to ``since``), read newest first within the time range (the sort key), and apply the other criteria as
filters. Pages carry an opaque cursor (base64 JSON of the partition position and DynamoDB's last key).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_guard.config import Settings
from sync_guard.errors import InvalidPayload
from sync_guard.guard.model import AuditEntry
from sync_guard.store import aws
from sync_guard.store.items import from_item, iso, to_item, to_value

#: Without ``--since`` a time-range query looks back this far (month partitions are read one by one).
DEFAULT_LOOKBACK = timedelta(days=366)
#: The widest range read month by month: each month is a Query, and a page must come back within the
#: admin function's timeout (``since=0001-01-01`` would be some 24,000 of them).
MAX_RANGE_MONTHS = 120
_PRIMARY_SK = "E"


def primary_key(entry_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"E#{entry_id}"}, "sk": {"S": _PRIMARY_SK}}


def _sort_key(entry: AuditEntry) -> str:
    return f"{iso(entry.at)}#{entry.entry_id}"


def _month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def view_partitions(entry: AuditEntry) -> list[str]:
    """Every partition an entry appears in besides its primary item."""
    partitions = [f"M#{_month(entry.at)}", f"D#{entry.decision.value}"]
    partitions += [f"R#{ref}" for ref in dict.fromkeys(entry.records)]
    partitions += [f"U#{code}" for code in dict.fromkeys(entry.rules)]
    return partitions


def _attributes(entry: AuditEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "at": iso(entry.at),
        "kind": entry.kind.value,
        "decision": entry.decision.value,
        "mode": entry.mode.value,
        "actor": entry.actor,
        "event_id": entry.event_id,
        # Lists (not sets) so that an entry with no rules still has the attribute, and filters use contains().
        "records": list(entry.records),
        "rules": list(entry.rules),
        "doc": entry.model_dump_json(),
    }


def audit_items(entry: AuditEntry) -> list[dict[str, Any]]:
    """The primary item first, then the view items, as low-level DynamoDB items."""
    attributes = _attributes(entry)
    items = [to_item({"pk": f"E#{entry.entry_id}", "sk": _PRIMARY_SK, **attributes})]
    sort_key = _sort_key(entry)
    items += [
        to_item({"pk": partition, "sk": sort_key, **attributes}) for partition in view_partitions(entry)
    ]
    return items


def audit_transact_items(table: str, entry: AuditEntry) -> list[dict[str, Any]]:
    """``TransactWriteItems`` operations appending ``entry``; the first one fails if it already exists."""
    items = audit_items(entry)
    operations: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table,
                "Item": items[0],
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]
    operations += [{"Put": {"TableName": table, "Item": item}} for item in items[1:]]
    return operations


def entry_from_item(item: dict[str, Any]) -> AuditEntry:
    return AuditEntry.model_validate_json(from_item(item)["doc"])


@dataclass(frozen=True)
class AuditQuery:
    """Criteria of an audit query; all optional, combined with AND."""

    record: str | None = None
    rule: str | None = None
    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    #: Pass back to get the next page; None when there is nothing more.
    cursor: str | None


def _months_between(since: datetime, until: datetime) -> list[str]:
    """Month partitions from ``until`` back to ``since``, newest first."""
    months: list[str] = []
    year, month = until.year, until.month
    while (year, month) >= (since.year, since.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def _encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError) as error:
        raise InvalidPayload("cursor is not one this command produced", field="cursor") from error
    if not isinstance(position, dict) or not isinstance(position.get("i"), int):
        raise InvalidPayload("cursor is not one this command produced", field="cursor")
    pinned, start_key = position.get("u"), position.get("k")
    if pinned is not None and not (isinstance(pinned, str) and _is_time(pinned)):
        raise InvalidPayload("cursor is not one this command produced", field="cursor")
    if start_key is not None and not (
        isinstance(start_key, dict)
        and set(start_key) <= {"pk", "sk"}
        and all(
            isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in start_key.values()
        )
    ):
        raise InvalidPayload("cursor is not one this command produced", field="cursor")
    return position


def _is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _utc(moment: datetime, *, field: str) -> datetime:
    """A query's time in UTC, the partitions' and sort keys' time (no offset given: UTC).

    A time whose offset takes it past year 1 or 9999 (``0001-01-01T00:00+05:00``) is no date at all in
    UTC: a 400 naming the term, not an overflow."""
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as error:
        raise InvalidPayload(f"{field} is out of the range of dates", field=field) from error


def _look_back(until: datetime) -> datetime:
    """The default start of a range: ``DEFAULT_LOOKBACK`` before ``until``, or the first moment there is."""
    earliest = datetime.min.replace(tzinfo=UTC)
    return until - DEFAULT_LOOKBACK if until - earliest > DEFAULT_LOOKBACK else earliest


class AuditLog:
    """Reads and appends audit entries (decisions are appended by the shadow repository's transaction)."""

    def __init__(self, client: Any, table: str, *, now: Any = None) -> None:
        self._client = client
        self.table = table
        self._now = now or (lambda: datetime.now(UTC))

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog:
        return cls(aws.client("dynamodb", settings), settings.audit_table)

    def append(self, entry: AuditEntry) -> None:
        """Append one entry (an admin operation) atomically; raises ``EventAlreadyProcessed`` if present."""
        from sync_guard.store.shadow import run_transaction  # the one place that maps cancellations

        run_transaction(self._client, audit_transact_items(self.table, entry))

    def get(self, entry_id: str) -> AuditEntry | None:
        # Strongly consistent: the outbox reads an entry moments after the processor's transaction wrote it.
        item = self._client.get_item(
            TableName=self.table, Key=primary_key(entry_id), ConsistentRead=True
        ).get("Item")
        return entry_from_item(item) if item else None

    def get_many(self, entry_ids: Iterable[str]) -> dict[str, AuditEntry]:
        """The entries of ``entry_ids`` that exist, by id: one strongly consistent ``BatchGetItem`` per
        hundred (``get`` for each would be a request apiece: ``quarantines release-moot`` reads every
        hold's decision)."""
        from sync_guard.store.shadow import batch_get  # shadow builds on this module

        keys = [primary_key(entry_id) for entry_id in dict.fromkeys(entry_ids)]
        if not keys:
            return {}
        found = batch_get(self._client, {self.table: keys})[self.table]
        return {entry.entry_id: entry for entry in map(entry_from_item, found)}

    def _partitions(self, query: AuditQuery, since: datetime, until: datetime) -> list[str]:
        if query.record:
            return [f"R#{query.record}"]
        if query.rule:
            return [f"U#{query.rule}"]
        if query.decision:
            return [f"D#{query.decision}"]
        if (until.year - since.year) * 12 + until.month - since.month >= MAX_RANGE_MONTHS:
            raise InvalidPayload(
                f"a range longer than {MAX_RANGE_MONTHS // 12} years needs a record, rule or decision; "
                "narrow since..until or name one",
                field="since",
            )
        return [f"M#{month}" for month in _months_between(since, until)]

    def _filters(self, query: AuditQuery) -> tuple[str | None, dict[str, str], dict[str, Any]]:
        # Placeholders throughout: several attribute names are DynamoDB reserved words.
        clauses: list[str] = []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if query.record:
            clauses.append("contains(#records, :record)")
            names["#records"] = "records"
            values[":record"] = to_value(query.record)
        if query.rule:
            clauses.append("contains(#rules, :rule)")
            names["#rules"] = "rules"
            values[":rule"] = to_value(query.rule)
        if query.decision:
            clauses.append("#decision = :decision")
            names["#decision"] = "decision"
            values[":decision"] = to_value(query.decision)
        return (" AND ".join(clauses) or None), names, values

    def query(self, query: AuditQuery, *, limit: int = 50, cursor: str | None = None) -> AuditPage:
        """One page of entries matching ``query``, newest first."""
        if limit < 1:
            raise InvalidPayload("limit must be at least 1", field="limit")
        position = _decode_cursor(cursor) if cursor else {"i": 0, "k": None}
        # A cursor pins the time range of its first page, so "now" moving on cannot shift the partitions.
        pinned = position.get("u")
        until = _utc(
            query.until or (datetime.fromisoformat(str(pinned)) if pinned else self._now()), field="until"
        )
        since = _utc(query.since, field="since") if query.since else _look_back(until)
        if since > until:
            raise InvalidPayload("since is after until", field="since")
        partitions = self._partitions(query, since, until)
        index, start_key = int(str(position["i"])), position.get("k")
        filter_expression, filter_names, filter_values = self._filters(query)
        entries: list[AuditEntry] = []
        while index < len(partitions) and len(entries) < limit:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": {
                    ":pk": to_value(partitions[index]),
                    ":lo": to_value(iso(since)),
                    ":hi": to_value(iso(until) + "~"),  # '~' sorts after '#<entry id>'
                    **filter_values,
                },
                "ScanIndexForward": False,
                # Never read past the page: the cursor must resume exactly where this page stopped.
                "Limit": limit - len(entries),
            }
            if filter_expression:
                kwargs["FilterExpression"] = filter_expression
                kwargs["ExpressionAttributeNames"] = filter_names
            if start_key:
                kwargs["ExclusiveStartKey"] = start_key
            response = self._client.query(**kwargs)
            entries += [entry_from_item(item) for item in response.get("Items", [])]
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                index += 1
        more = index < len(partitions)
        next_position = {"i": index, "k": start_key, "u": until.isoformat()}
        return AuditPage(entries, _encode_cursor(next_position) if more else None)

    def iterate(self, query: AuditQuery, *, page_size: int = 100) -> Iterator[AuditEntry]:
        """Every matching entry, newest first, page by page."""
        cursor: str | None = None
        while True:
            page = self.query(query, limit=page_size, cursor=cursor)
            yield from page.entries
            if page.cursor is None:
                return
            cursor = page.cursor
