"""The shadow mapping in DynamoDB: last known state of every record, key index items, pairs, the breaker.

Items of the shadow table (``pk``/``sk``):

- record state, ``REC#crm:123`` / ``S``: the record (JSON), ``version`` (Zoho's modified time, epoch ms),
  ``deleted``, ``partner``/``pair_source``/``former_partner``, the ``keys`` it is indexed under, ``rev``,
  ``echo_expected`` (changes the guard's own queued actions will cause), ``held_by``, ``synced_change``
  (the version at which the values Zoho's sync carries last changed: the stall check reads it).
- key index, ``KEY#n:acme`` / ``K``: ``members`` (string set of refs), ``owner`` (first writer), ``rev``,
  ``gone`` (string set: the members that are deleted records; absent in items written before it was kept).
  Blocking keys from the matcher, plus ``link:crm:<id>``, whose members are the Books customers whose Zoho
  link (``zcrm_account_id``/``zcrm_contact_id``) names that CRM record.
- breaker state, ``BREAKER`` / ``S``: ``open``, ``epoch`` (bumped by every reset), ``opened_at``.
- breaker window, ``BREAKER`` / ``W#<epoch>#<bucket>``: ``hits``, creates that matched existing records.
  A hit is counted on condition that this window and the previous one hold what the event read and the
  breaker is still closed: of two creates counted at once, one is re-decided with the other's hit.
- hold, ``HOLD`` / ``<ref>``: a record the guard quarantined (the open quarantines list is one Query).
  The guard's own hold replaces only an item ``HeldRecord.replaceable`` allows (none, or an observe-mode
  hold nobody confirmed): an admin's hold of a record the shadow had no mark on (not known yet) stays, the
  commit is cancelled and the engine decides again, reading that item.

Why this shape:

- **No scans, constant work.** Every key is one item, so the candidates of an event come from one
  ``BatchGetItem`` (the record and its ``HOLD`` item, its key items, the breaker, the event's audit
  marker) and a second one (the candidates' states, capped at ``max_candidates``, live records first:
  see ``_candidate_refs``, which reads a newly linked Books customer's contact persons' names whole; the
  partner, the pairs
  of the CRM record a Books customer links to or of a CRM contact's account, the breaker windows). A
  commit is one ``TransactWriteItems``: three requests per event whatever the size of the mapping (deletes
  read one more round, for the keys of the record's last known state; an edit of a linked Books customer
  that drops a contact person's address reads the snapshot again, looking under that address too, and so
  does a CRM workflow edit whose record, completed with what the shadow knows, has keys its payload lacks).
- **Optimistic concurrency, no locks.** Every state and key item carries ``rev``; every write is conditional
  on the revision read (``attribute_not_exists(pk)`` when the item was absent). Two creates of the same
  company both write the same name key item: exactly one transaction commits and becomes the key's
  ``owner``; the other is cancelled, the engine re-reads and re-decides against the state that now holds
  the winner.
- **One transaction per event.** Record state, pair changes on both sides, key items, the audit entry (whose
  primary item is the event's idempotency marker), outbox actions, breaker counters and holds are written
  together, or nothing is.
- Deleted records stay in their key items (with ``deleted`` on their state, and listed in the item's
  ``gone``), so a re-created customer still finds the deleted one it replaces; ``gone`` lets the capped
  candidate read prefer live members without reading a state more.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from sync_guard.config import Mode, Settings
from sync_guard.errors import ConcurrentUpdate, SyncGuardError, Throttled, UpstreamError
from sync_guard.guard.model import AuditEntry, BreakerState, PairSource, RecordState
from sync_guard.guard.ports import (
    BreakerChange,
    CommitPlan,
    EventAlreadyProcessed,
    HeldRecord,
    KeyChange,
    KeyItem,
    Snapshot,
    SnapshotRequest,
    StateWrite,
)
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.store import aws
from sync_guard.store.audit import audit_transact_items, primary_key
from sync_guard.store.aws import is_conditional_check_failure
from sync_guard.store.items import from_item, iso, parse_iso, to_item, to_value
from sync_guard.store.outbox import outbox_put

STATE_SK = "S"
KEY_SK = "K"
BREAKER_PK = "BREAKER"
HOLD_PK = "HOLD"
_BATCH_GET_LIMIT = 100
_BATCH_WRITE_LIMIT = 25
#: Items AWS takes in one ``TransactWriteItems``; a development server may take fewer (learnt from it).
AWS_TRANSACTION_ITEMS = 100
#: A key shared by this many records identifies nobody (a shared switchboard number, a typo'd placeholder):
#: it stops growing. That keeps its item far below DynamoDB's 400 KB (refs are ~20 bytes) and the read of
#: it that every event under that key makes cheap. The engine, the seeder and the re-keyer all keep to it.
MAX_KEY_MEMBERS = 5_000
#: Breaker window items expire after a day: they only matter for the current and the previous window.
_WINDOW_TTL_SECONDS = 86_400

logger = logging.getLogger(__name__)


def state_key(ref: str) -> dict[str, Any]:
    return {"pk": {"S": f"REC#{ref}"}, "sk": {"S": STATE_SK}}


def key_item_key(key: str) -> dict[str, Any]:
    return {"pk": {"S": f"KEY#{key}"}, "sk": {"S": KEY_SK}}


#: Rounds of one ``BatchGetItem`` or ``BatchWriteItem`` whose keys or items DynamoDB leaves unprocessed (a
#: throttled partition) that a caller waits out, each wait twice the one before; then it gives up
#: (``Throttled``: the event is delivered again, the command can be run again).
_UNPROCESSED_ROUNDS = 6

#: What each batch operation leaves unprocessed, and its name in DynamoDB's API.
_UNPROCESSED = {
    "batch_get_item": ("UnprocessedKeys", "BatchGetItem"),
    "batch_write_item": ("UnprocessedItems", "BatchWriteItem"),
}


def _wait_before_unprocessed(seconds: float) -> None:
    time.sleep(seconds)


def batch_until_processed(client: Any, operation: str, request_items: dict[str, Any]) -> list[dict[str, Any]]:
    """The responses of ``operation`` (``batch_get_item`` or ``batch_write_item``) on ``request_items``,
    then on what each left unprocessed, after a wait doubling from 50 ms (DynamoDB leaves keys or items
    unprocessed when it throttles: asking again at once only adds to the load); ``Throttled`` when some
    are still left after :data:`_UNPROCESSED_ROUNDS` waits."""
    unprocessed, name = _UNPROCESSED[operation]
    send = getattr(client, operation)
    responses: list[dict[str, Any]] = []
    rounds = 0
    while request_items:
        response = send(RequestItems=request_items)
        responses.append(response)
        request_items = response.get(unprocessed) or {}
        if request_items:
            if rounds == _UNPROCESSED_ROUNDS:
                raise Throttled(f"DynamoDB left {unprocessed} in {rounds + 1} {name} rounds")
            _wait_before_unprocessed(0.05 * 2**rounds)
            rounds += 1
    return responses


def batch_get(client: Any, requests: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """BatchGetItem over several tables, following ``UnprocessedKeys`` (:func:`batch_until_processed`);
    strongly consistent reads."""
    results: dict[str, list[dict[str, Any]]] = {table: [] for table in requests}
    pending = [(table, key) for table, keys in requests.items() for key in keys]
    while pending:
        chunk, pending = pending[:_BATCH_GET_LIMIT], pending[_BATCH_GET_LIMIT:]
        request_items: dict[str, Any] = {}
        for table, key in chunk:
            request_items.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        for response in batch_until_processed(client, "batch_get_item", request_items):
            for table, items in response.get("Responses", {}).items():
                results[table].extend(items)
    return results


def get_key_items(client: Any, table: str, keys: Iterable[str]) -> dict[str, KeyItem]:
    """The key items of ``keys`` that exist, by key."""
    items: dict[str, KeyItem] = {}
    for item in batch_get(client, {table: [key_item_key(key) for key in sorted(keys)]})[table]:
        key = item["pk"]["S"].removeprefix("KEY#")
        items[key] = key_from_item(key, item)
    return items


def breaker_state_key() -> dict[str, Any]:
    return {"pk": {"S": BREAKER_PK}, "sk": {"S": "S"}}


def window_key(epoch: int, bucket: int) -> dict[str, Any]:
    return {"pk": {"S": BREAKER_PK}, "sk": {"S": f"W#{epoch}#{bucket}"}}


def key_kind(key: str) -> str:
    """A key's kind, its prefix (``n:``, ``e:``, ``link:``): what a log line or a count may name of it."""
    return key.split(":", 1)[0] + ":"


def link_key(crm_record_id: str) -> str:
    """The key under which Books customers linked (by Zoho) to a CRM record are indexed."""
    return f"link:crm:{crm_record_id}"


#: Of an event's capped candidates, the places kept for deleted records whatever the number of live ones.
TOMBSTONE_CANDIDATES = 10


def live_first(ranked: Sequence[str], gone: set[str] | frozenset[str], cap: int) -> list[str]:
    """At most ``cap`` of ``ranked`` (best first): the live ones first, keeping room for up to
    :data:`TOMBSTONE_CANDIDATES` of those in ``gone`` (the best ranked), then the rest in rank order."""
    dead = [ref for ref in ranked if ref in gone]
    kept_dead = dead[: min(TOMBSTONE_CANDIDATES, cap)]
    live = [ref for ref in ranked if ref not in gone][: cap - len(kept_dead)]
    chosen = set(live) | set(kept_dead)
    chosen |= set([ref for ref in ranked if ref not in chosen][: cap - len(chosen)])
    return [ref for ref in ranked if ref in chosen]


# ---------------------------------------------------------------------------------------------- codecs
def state_item(state: RecordState) -> dict[str, Any]:
    record = state.record
    return to_item(
        {
            "pk": f"REC#{record.ref}",
            "sk": STATE_SK,
            "ref": record.ref,
            "system": record.system.value,
            "module": record.module.value,
            "name": record.name or None,  # DynamoDB Local refuses an empty string (a nameless tombstone)
            "record": record.model_dump_json(),
            "version": state.version,
            "deleted": state.deleted,
            "deleted_at": iso(state.deleted_at) if state.deleted_at else None,
            "partner": state.partner,
            "pair_source": state.pair_source.value if state.pair_source else None,
            "former_partner": state.former_partner,
            "keys": sorted(state.keys),
            "rev": state.rev,
            "first_seen": iso(state.first_seen) if state.first_seen else None,
            "echo_expected": json.dumps(state.echo_expected, sort_keys=True) if state.echo_expected else None,
            "held_by": state.held_by,
            "synced_change": state.synced_change,
            "cleared": sorted(state.cleared) or None,
        }
    )


def state_from_item(item: dict[str, Any]) -> RecordState:
    values = from_item(item)
    return RecordState(
        record=PartyRecord.model_validate_json(values["record"]),
        version=int(values["version"]),
        deleted=bool(values.get("deleted", False)),
        deleted_at=parse_iso(values["deleted_at"]) if values.get("deleted_at") else None,
        partner=values.get("partner"),
        pair_source=PairSource(values["pair_source"]) if values.get("pair_source") else None,
        former_partner=values.get("former_partner"),
        keys=frozenset(values.get("keys", [])),
        rev=int(values.get("rev", 0)),
        first_seen=parse_iso(values["first_seen"]) if values.get("first_seen") else None,
        echo_expected=json.loads(values["echo_expected"]) if values.get("echo_expected") else {},
        held_by=values.get("held_by"),
        synced_change=int(values["synced_change"]) if values.get("synced_change") is not None else None,
        cleared=frozenset(values.get("cleared") or ()),
    )


def read_state(client: Any, shadow_table: str, ref: str) -> RecordState | None:
    """One record's state, strongly consistent; None if the shadow has never seen the record."""
    item = client.get_item(TableName=shadow_table, Key=state_key(ref), ConsistentRead=True)
    return state_from_item(item["Item"]) if "Item" in item else None


def key_from_item(key: str, item: dict[str, Any] | None) -> KeyItem:
    if item is None:
        return KeyItem(key=key)
    values = from_item(item)
    return KeyItem(
        key=key,
        members=frozenset(values.get("members", set())),
        owner=values.get("owner"),
        rev=int(values.get("rev", 0)),
        gone=frozenset(values.get("gone", set())),
    )


def _hits(window: dict[str, Any] | None) -> int:
    return int(from_item(window).get("hits", 0)) if window else 0


def breaker_from_items(
    state: dict[str, Any] | None,
    current: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
) -> BreakerState:
    """The breaker from its state item and its current and previous window items (any may be absent)."""
    window_hits = (_hits(current), _hits(previous))
    if state is None:
        return BreakerState(window_hits=window_hits)
    values = from_item(state)
    return BreakerState(
        open=bool(values.get("open", False)),
        epoch=int(values.get("epoch", 0)),
        opened_at=parse_iso(values["opened_at"]) if values.get("opened_at") else None,
        opened_by_event=values.get("opened_by_event"),
        window_hits=window_hits,
        exists=True,
    )


# ---------------------------------------------------------------------------------------------- transactions
def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code") or "None") for reason in reasons]


class TransactionTooLarge(UpstreamError):
    """The server refused the transaction's size (DynamoDB Local's old 10-item limit); nothing was written."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the server accepts at most {limit} items per transaction")
        self.limit = limit


def transact_with_entry(
    client: Any, audit_table: str, entry: AuditEntry, operations: Sequence[dict[str, Any]], *, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """``operations`` with ``entry``'s primary item first and as many of its view items as the server takes
    in one transaction (``limit`` items, or fewer learnt from its refusal: DynamoDB Local's 10).

    Returns the view items left to write after the transaction, and the limit learnt. The primary item and
    ``operations`` are never split; raises ``TransactionTooLarge`` (nothing written) when even they are more
    than the server takes. The left-over views need no condition: their keys hold the entry id, which only
    this transaction's conditional primary item could claim.
    """
    audit = audit_transact_items(audit_table, entry)
    essential = [audit[0], *operations]
    while True:
        fit = max(limit - len(essential), 0)
        core, late = [*essential, *audit[1 : 1 + fit]], audit[1 + fit :]
        try:
            run_transaction(client, core)
        except TransactionTooLarge as error:
            if error.limit >= len(core) or error.limit < len(essential):
                raise
            limit = error.limit
            continue
        return late, limit


class InvalidTransaction(SyncGuardError):
    """DynamoDB refused a transaction as malformed: a bug in the guard, which no retry can mend."""

    code = "invalid_transaction"


_CONFLICT_CODES = {"TransactionCanceledException", "TransactionConflictException"}
#: Tries of one key membership or hold written after a split transaction, while other transactions hold its
#: items.
_FOLLOW_UP_ATTEMPTS = 10
_SIZE_LIMIT = re.compile(r"less than or equal to (\d+)")
#: Request-level codes and cancellation reasons by which DynamoDB asks for fewer requests.
_THROTTLING_CODES = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}
_THROTTLING_REASONS = {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}


def _invalid(operations: Sequence[dict[str, Any]], index: int | None, detail: str) -> InvalidTransaction:
    """The error for a refused transaction, naming the operation (kind and table, never its values)."""
    where = ""
    if index is not None and index < len(operations):
        kind, request = next(iter(operations[index].items()))
        where = f" at operation {index} ({kind} on {request.get('TableName', '?')})"
    return InvalidTransaction(f"DynamoDB refused the transaction as invalid{where}: {detail[:200]}")


def run_transaction(client: Any, operations: Sequence[dict[str, Any]]) -> None:
    """``TransactWriteItems`` with cancellations mapped to domain errors.

    The first operation of every guard transaction is the audit entry's primary item: its condition failing
    means the event (or admin operation) was already recorded -> ``EventAlreadyProcessed``. An invalid
    request is a bug -> ``InvalidTransaction``, at once. Throttling -> ``Throttled`` (wait, then try
    again). Any other condition failure or a transaction conflict means somebody wrote first ->
    ``ConcurrentUpdate``.
    """
    try:
        client.transact_write_items(TransactItems=list(operations))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = str(error.response.get("Error", {}).get("Message", ""))
        if code != "TransactionCanceledException":
            if code in {"TransactionConflictException", "ConditionalCheckFailedException"}:
                raise ConcurrentUpdate(f"transaction conflict: {code}") from error
            if code == "ValidationException" and (limit := _SIZE_LIMIT.search(message)):
                raise TransactionTooLarge(int(limit.group(1))) from error
            if code == "ValidationException":
                raise _invalid(operations, None, message) from error
            if code in _THROTTLING_CODES:
                raise Throttled(f"DynamoDB throttled the transaction: {code}") from error
            raise UpstreamError(f"DynamoDB transaction failed: {code}") from error
        reasons = _cancellation_codes(error)
        if reasons and reasons[0] == "ConditionalCheckFailed":
            raise EventAlreadyProcessed("already recorded") from error
        if not reasons and message.split("[", 1)[-1].startswith("ConditionalCheckFailed"):
            # Some emulators omit the reasons; the message still names them in order.
            raise EventAlreadyProcessed("already recorded") from error
        if "ValidationError" in reasons:
            index = reasons.index("ValidationError")
            detail = (error.response.get("CancellationReasons") or [{}])[index].get("Message") or message
            raise _invalid(operations, index, str(detail)) from error
        if _THROTTLING_REASONS.intersection(reasons):
            raise Throttled(f"DynamoDB throttled the transaction: {reasons}") from error
        raise ConcurrentUpdate(f"transaction cancelled: {reasons or code}") from error


def state_put(table: str, write: StateWrite) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table, "Item": state_item(write.state)}
    if write.expected_rev is None:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "rev = :rev"
        put["ExpressionAttributeValues"] = {":rev": to_value(write.expected_rev)}
    return {"Put": put}


def _key_check(table: str, key: str, rev: int | None) -> dict[str, Any]:
    return revision_check(table, key_item_key(key), rev)


def revision_check(table: str, item_key: dict[str, Any], rev: int | None) -> dict[str, Any]:
    """A ``ConditionCheck`` that the item is still at the revision read (``rev``), or still absent (None)."""
    check: dict[str, Any] = {"TableName": table, "Key": item_key}
    if rev is None:
        check["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        check["ConditionExpression"] = "rev = :rev"
        check["ExpressionAttributeValues"] = {":rev": to_value(rev)}
    return {"ConditionCheck": check}


def key_update(table: str, change: KeyChange) -> dict[str, Any]:
    if change.add and change.remove:
        raise ValueError(f"key {change.key}: add and remove in one change")
    values: dict[str, Any] = {":one": to_value(1)}
    if change.add:
        expression = "ADD members :members, rev :one"
        if change.gone:
            expression += ", gone :members"
        expression += " SET #owner = if_not_exists(#owner, :owner)"
        if change.gone is False:
            expression += " DELETE gone :members"
        values[":members"] = {"SS": sorted(change.add)}
        values[":owner"] = to_value(sorted(change.add)[0])
        names = {"#owner": "owner"}
    else:
        expression = "DELETE members :members ADD rev :one"
        values[":members"] = {"SS": sorted(change.remove)}
        names = {}
    update: dict[str, Any] = {
        "TableName": table,
        "Key": key_item_key(change.key),
        "UpdateExpression": expression,
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    if change.checked:
        if change.expected_rev is None:
            update["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            update["ConditionExpression"] = "rev = :rev"
            values[":rev"] = to_value(change.expected_rev)
    return {"Update": update}


class DynamoShadowRepository:
    """The engine's ``ShadowRepository`` over DynamoDB (shadow, audit and outbox tables)."""

    def __init__(
        self,
        client: Any,
        *,
        shadow_table: str,
        audit_table: str,
        outbox_table: str,
        storm_window_seconds: int = 600,
        max_transaction_items: int = AWS_TRANSACTION_ITEMS,
    ) -> None:
        self._client = client
        self.max_transaction_items = max_transaction_items
        self.shadow_table = shadow_table
        self.audit_table = audit_table
        self.outbox_table = outbox_table
        self.storm_window_seconds = storm_window_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoShadowRepository:
        return cls(
            aws.client("dynamodb", settings),
            shadow_table=settings.shadow_table,
            audit_table=settings.audit_table,
            outbox_table=settings.outbox_table,
            storm_window_seconds=settings.storm_window_seconds,
        )

    # ------------------------------------------------------------------------------------------ reads
    def _batch_get(self, requests: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        return batch_get(self._client, requests)

    def recorded(self, entry_id: str) -> bool:
        """Whether the audit entry ``entry_id`` exists (its primary item: the event's marker), read strongly
        consistent, its key only: what ``Guard.process`` asks before it fetches a record from Zoho."""
        item = self._client.get_item(
            TableName=self.audit_table,
            Key=primary_key(entry_id),
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in item

    def read_snapshot(self, request: SnapshotRequest) -> Snapshot:
        """Two (deletes: three) ``BatchGetItem`` rounds; see the module docstring."""
        first_keys = set(request.keys | request.lookup_keys)
        shadow_keys = [state_key(request.ref), breaker_state_key()]
        shadow_keys += [key_item_key(key) for key in sorted(first_keys)]
        shadow_keys += [state_key(ref) for ref in sorted(request.extra_refs - {request.ref})]
        hold_refs = sorted(request.hold_refs | {request.ref})
        shadow_keys += [hold_key(ref) for ref in hold_refs]
        first = self._batch_get(
            {self.shadow_table: shadow_keys, self.audit_table: [primary_key(request.entry_id)]}
        )
        if first[self.audit_table]:
            return Snapshot(True, None, {}, {}, BreakerState())
        items = {(i["pk"]["S"], i["sk"]["S"]): i for i in first[self.shadow_table]}
        own_item = items.get((f"REC#{request.ref}", STATE_SK))
        own = state_from_item(own_item) if own_item else None
        keys = {key: key_from_item(key, items.get((f"KEY#{key}", KEY_SK))) for key in first_keys}
        others = {
            ref: state_from_item(items[(f"REC#{ref}", STATE_SK)])
            for ref in request.extra_refs - {request.ref}
            if (f"REC#{ref}", STATE_SK) in items
        }
        breaker_item = items.get((BREAKER_PK, "S"))
        holds = {ref: held_record(items[(HOLD_PK, ref)]) for ref in hold_refs if (HOLD_PK, ref) in items}

        # A delete carries no record: the keys to look under are those of the last known state.
        missing_keys = sorted((own.keys if own else frozenset()) - set(keys)) if not request.keys else []
        if missing_keys:
            more = self._batch_get({self.shadow_table: [key_item_key(k) for k in missing_keys]})
            found = {i["pk"]["S"][len("KEY#") :]: i for i in more[self.shadow_table]}
            keys |= {key: key_from_item(key, found.get(key)) for key in missing_keys}

        wanted = self._candidate_refs(request, own, keys)
        # The pairs of the CRM record a Books customer links to (whom Zoho's link takes the pair from) and
        # of a CRM contact's account (the Books customer whose contact person the sync makes it).
        wanted |= {ref for state in others.values() for ref in (state.partner, state.former_partner) if ref}
        wanted -= set(others) | {request.ref}
        epoch = int(from_item(breaker_item).get("epoch", 0)) if breaker_item else 0
        current_window = window_key(epoch, request.storm_bucket)
        previous_window = window_key(epoch, request.storm_bucket - 1)
        candidates = [state_key(ref) for ref in sorted(wanted)]
        second = self._batch_get({self.shadow_table: [*candidates, current_window, previous_window]})
        windows: dict[str, dict[str, Any]] = {}
        for item in second[self.shadow_table]:
            if item["pk"]["S"] == BREAKER_PK:
                windows[item["sk"]["S"]] = item
            else:
                state = state_from_item(item)
                others[state.ref] = state
        breaker = breaker_from_items(
            breaker_item, windows.get(current_window["sk"]["S"]), windows.get(previous_window["sk"]["S"])
        )
        return Snapshot(False, own, keys, others, breaker, holds)

    @staticmethod
    def _candidate_refs(
        request: SnapshotRequest, own: RecordState | None, keys: dict[str, KeyItem]
    ) -> set[str]:
        """Refs worth reading: the most-shared key members (capped, live ones first), the link members (capped
        the same way), the partners.

        Deleted records stay members of their keys (``RECREATED_AFTER_DELETE`` compares a new record with
        them), so a common name's key can list more tombstones than the cap: ranked by shared keys alone,
        they would crowd out a live duplicate. The items say which members are deleted (``gone``), so the
        cap takes live members first, keeping room for the :data:`TOMBSTONE_CANDIDATES` best-ranked deleted
        ones (one confident match is all that rule needs); what the live ones leave is filled by rank.
        The live members of ``request.whole_keys`` are all read, past the cap: a read as large as the key
        (at most ``MAX_KEY_MEMBERS``), asked for only where the one record looked for may be any of them.
        """
        shared: Counter[str] = Counter()
        linked: set[str] = set()
        gone: set[str] = set()
        for key, item in keys.items():
            gone |= item.gone & item.members  # (a mark a record left behind with the key is no member's)
            if key in request.lookup_keys or key.startswith("link:"):
                linked |= item.members
            else:
                shared.update(item.members)
        shared.pop(request.ref, None)
        # Most shared keys first, then ref order: deterministic, so re-evaluation reads the same candidates.
        ranked = [ref for ref, _ in sorted(shared.items(), key=lambda pair: (-pair[1], pair[0]))]
        wanted = set(live_first(ranked, gone, request.max_candidates))
        wanted |= set(live_first(sorted(linked), gone, request.max_candidates))
        for key in request.whole_keys & set(keys):
            # (a common name's live members, all of them: the cap would leave out the one looked for)
            wanted |= keys[key].members - gone
        if own is not None:
            wanted |= {ref for ref in (own.partner, own.former_partner) if ref}
        return wanted

    # ------------------------------------------------------------------------------------------ writes
    def commit(self, plan: CommitPlan) -> None:
        """Write one plan in one ``TransactWriteItems`` (audit primary item first: the idempotency mark).

        A ``HOLD`` item is put only over none or one the guard may replace (``HeldRecord.replaceable``):
        another hold cancels the commit (``ConcurrentUpdate``), and the engine decides again with it read.

        On AWS (100 items per transaction) the whole plan is one transaction. A server with a smaller limit
        (DynamoDB Local's old 10) is learnt from its refusal: the plan's operations are then taken in order
        of importance (audit marker, record states, breaker conditions and counter, a check of each
        ``HOLD`` item left out, the checks of what the decision rests on (``hold_checks``, ``key_checks``,
        ``state_checks``, removals from key items read), the first key claim, outbox actions, further key
        claims, key removals, holds, audit views). A check that does not fit (a removal's condition too)
        is made by a strongly consistent read just before the transaction (``_check_left_out``), never
        dropped; what else does not fit is written right after the transaction, idempotently: a key
        membership or a hold only while the record's state still agrees with it (another event or an admin
        may have moved it on meanwhile; a hold that does not mark the state, only over the ``HOLD`` item
        read before the transaction), the rest unconditionally; key memberships, and the rest, share
        transactions as far as the server's limit allows. The engine
        re-adds missing key memberships on the record's next event, so the only cost of a crash in between
        is a missing audit view or hold on a development server. A key's ``owner`` is the first writer
        only for the claim inside the transaction (a Zoho link's, where the plan has one): of records
        racing to create the same keys, the first to commit owns that one, and a further key is owned by
        whichever follow-up lands first.

        The admin operations (and the breaker reset) split on such a server too, in ``commit_audited``:
        only their audit entry's view items follow the transaction; their writes are never split.
        """
        operations = self._ordered_operations(plan)
        while True:
            core, late = self._split(operations, plan)
            replaced = self._held_before(late, plan)
            self._check_left_out(late, plan)
            try:
                run_transaction(self._client, core)
            except TransactionTooLarge as error:
                if error.limit >= len(core):
                    raise
                self.max_transaction_items = error.limit
                continue
            break
        self._write_follow_ups(late, plan, replaced)

    def commit_audited(self, entry: AuditEntry, operations: Sequence[dict[str, Any]]) -> None:
        """``operations`` and ``entry`` in one ``TransactWriteItems``, the entry's primary item first (the
        admin operations' and the breaker reset's transaction).

        On AWS (100 items) that is the whole entry. A server with a smaller limit (DynamoDB Local's 10),
        learnt from its refusal as in ``commit``, takes the primary item, every one of ``operations`` and
        as many of the entry's view items as fit; the other views are written right after
        (``_write_together``). ``operations`` and the primary item are never split: every write lands
        only while every condition of the operation holds (states at the revisions read, the hold as
        read), and the entry exists, by its id, exactly when the change does. A crash right after the
        transaction leaves the views out: the entry is then found by its id, not by the audit queries.
        Raises ``TransactionTooLarge`` (nothing written) when even those items are more than the limit.
        """
        late, self.max_transaction_items = transact_with_entry(
            self._client, self.audit_table, entry, operations, limit=self.max_transaction_items
        )
        self._write_together(late)

    def _split(
        self, operations: list[dict[str, Any]], plan: CommitPlan
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The operations of the transaction and those written after it (none when the plan fits, as on AWS).

        A ``HOLD`` item left out leaves in the transaction, next to the states, a check that the item there
        is one the guard may replace (``HeldRecord.replaceable``): the hold is carried out (its state marked,
        its action queued) only if its item can follow; otherwise the commit is cancelled and the engine
        decides again, as it would have in one transaction."""
        at = 1 + len(plan.state_writes) + len(self._breaker_operations(plan))
        late_holds: list[str] = []
        while True:
            checks = [_hold_check(self.shadow_table, ref) for ref in late_holds]
            ordered = [*operations[:at], *checks, *operations[at:]]
            core, late = ordered[: self.max_transaction_items], ordered[self.max_transaction_items :]
            # (each check pushes an operation out: a hold among them needs its check too)
            now_late = [
                ref for operation in late if (ref := _hold_ref(self.shadow_table, operation)) is not None
            ]
            if now_late == late_holds:
                return core, late
            late_holds = now_late

    def _ordered_operations(self, plan: CommitPlan) -> list[dict[str, Any]]:
        audit = audit_transact_items(self.audit_table, plan.entry)
        # A Zoho link's claim first: its owner decides which Books customer a CRM record pairs with, and
        # only the first claim is sure to be in the transaction on a server that splits it.
        claimed = sorted((c for c in plan.key_changes if c.add), key=lambda c: not c.key.startswith("link:"))
        claims = [key_update(self.shadow_table, c) for c in claimed]
        # A removal from a key item read is conditioned on its revision: a check the decision rests on,
        # ordered with the checks (``_check_left_out`` reads it when it does not fit).
        removals = [key_update(self.shadow_table, c) for c in plan.key_changes if not c.add and not c.checked]
        checked = [key_update(self.shadow_table, c) for c in plan.key_changes if not c.add and c.checked]
        return [
            audit[0],
            *(state_put(self.shadow_table, write) for write in plan.state_writes),
            # All of the breaker's operations are conditions (the count too): they belong in the transaction.
            *self._breaker_operations(plan),
            *(_hold_check(self.shadow_table, ref) for ref in plan.hold_checks),
            *(_key_check(self.shadow_table, key, rev) for key, rev in plan.key_checks),
            *(revision_check(self.shadow_table, state_key(ref), rev) for ref, rev in plan.state_checks),
            *checked,
            *claims[:1],
            *(outbox_put(self.outbox_table, action) for action in plan.actions),
            *claims[1:],
            *removals,
            *(self._hold_put(ref, plan.entry) for ref in plan.holds),
            *audit[1:],
        ]

    def _check_left_out(self, late: list[dict[str, Any]], plan: CommitPlan) -> None:
        """The conditions a split transaction has no room for (``ConditionCheck``s of the states, keys and
        ``HOLD`` items the decision rests on: ``CommitPlan.state_checks``, ``key_checks``, ``hold_checks``;
        the revision read of a key item a removal left out is conditioned on, which it is written without;
        the revision read of a record state left out, such as the account a moved CRM contact's event
        writes, whose late put would otherwise fail unseen),
        checked by one strongly consistent read just before the transaction: ``ConcurrentUpdate`` if one no
        longer holds, as it would have cancelled the transaction, and the engine decides again. Never
        dropped: but a change committed between this read and the transaction goes unseen, a window of one
        round trip that only a server splitting the plan opens (AWS takes every plan of up to 100 items
        whole). Nothing to read when the checks fit, as on AWS."""
        checks = [operation["ConditionCheck"] for operation in late if "ConditionCheck" in operation]
        # A record state left out is written after, on its own condition (the revision read), which is
        # the commit's condition too: one state written on a stale read would go with a decision made on it.
        checks += [check for operation in late if (check := _state_condition(self.shadow_table, operation))]
        removals = {f"KEY#{c.key}": c for c in plan.key_changes if c.remove and c.checked}
        for operation in late:
            update = operation.get("Update") or {}
            change = removals.get(update["Key"]["pk"]["S"]) if update else None
            if change is not None and update["TableName"] == self.shadow_table:
                checks.append(
                    _key_check(self.shadow_table, change.key, change.expected_rev)["ConditionCheck"]
                )
        if not checks:
            return
        found = self._batch_get({self.shadow_table: [check["Key"] for check in checks]})[self.shadow_table]
        items = {(item["pk"]["S"], item["sk"]["S"]): item for item in found}
        unchecked = 0
        for check in checks:
            item = items.get((check["Key"]["pk"]["S"], check["Key"]["sk"]["S"]))
            holds = _still_true(check, item)
            if holds is None:
                unchecked += 1
            elif not holds:
                raise ConcurrentUpdate("a condition left out of a split transaction no longer holds")
        if unchecked:
            # (The plan's checks are all of the kinds above: only the breaker's conditions are not, and
            # they come right after the states, left out only where the server takes fewer items than that.)
            logger.warning(
                "conditions left out of a split transaction could not be checked",
                extra={"unchecked": unchecked, "limit": self.max_transaction_items},
            )

    def _held_before(self, late: list[dict[str, Any]], plan: CommitPlan) -> dict[str, str | None]:
        """The entry of the ``HOLD`` item (None: no item, or one the guard may not replace) of each record
        whose hold is left out of the transaction and does not mark the record's state, read before the
        transaction (see ``_write_hold``). Nothing to read when the whole plan fits, as on AWS."""
        refs = [
            ref
            for operation in late
            if (ref := _hold_ref(self.shadow_table, operation)) is not None and not _marks(plan, ref)
        ]
        if not refs:
            return {}
        found = self._batch_get({self.shadow_table: [hold_key(ref) for ref in refs]})[self.shadow_table]
        held = {item["sk"]["S"]: held_record(item) for item in found}
        return {ref: hold.entry_id if (hold := held.get(ref)) and hold.replaceable else None for ref in refs}

    def _write_follow_ups(
        self, operations: list[dict[str, Any]], plan: CommitPlan, replaced: dict[str, str | None]
    ) -> None:
        """Operations that did not fit in the transaction: key memberships and holds on condition that the
        record's state still agrees with them (``_write_memberships``, ``_write_hold``; ``replaced``: the
        ``HOLD`` items read before the transaction), the rest where that is safe (``_write_together``)."""
        changes = {f"KEY#{change.key}": change for change in plan.key_changes}
        others: list[dict[str, Any]] = []
        memberships: list[KeyChange] = []
        holds: list[dict[str, Any]] = []
        for operation in operations:
            if "Put" in operation:
                if _hold_ref(self.shadow_table, operation) is not None:
                    holds.append(operation["Put"])
                else:  # an outbox action (conditional: once only) or an audit view
                    others.append(operation)
            elif "ConditionCheck" in operation:
                continue  # checked before the transaction (``_check_left_out``)
            elif "Update" in operation:
                change = changes.get(operation["Update"]["Key"]["pk"]["S"])
                if change is not None:
                    memberships.append(change)
                else:
                    others.append({"Update": _unconditional(operation["Update"])})
        # Outbox actions first, as before the memberships: a crash in between loses no action.
        self._write_together(others)
        self._write_memberships(memberships)
        for put in holds:
            self._write_hold(put, plan, replaced)

    def _write_together(self, operations: list[dict[str, Any]]) -> None:
        """Late outbox actions (once only: their put is conditional), audit views and counter updates, a
        transaction at a time: fewer round trips than one request each. A cancelled transaction (an action
        already queued, a conflict with a concurrent writer) falls back to one request per operation, which
        DynamoDB serialises per item.

        The audit trail's IAM grants PutItem, not BatchWriteItem (which could delete entries); a ``Put`` in
        a transaction is authorised as a PutItem. The entry's view items (``audit[1:]``) need no condition,
        late as they are: their keys hold the entry id, which only this writer's transaction could claim
        (its primary item is conditional), so no other entry writes them; and a redelivered event stops at
        that primary item before it gets here, so they are written once, with the committed entry. Nothing
        else writes or deletes audit items (the table has no TTL).
        """
        for start in range(0, len(operations), self.max_transaction_items):
            chunk = operations[start : start + self.max_transaction_items]
            if len(chunk) > 1 and self._transact_unless_cancelled(chunk):
                continue
            for operation in chunk:
                self._write_alone(operation)

    def _transact_unless_cancelled(self, operations: list[dict[str, Any]]) -> bool:
        """Whether ``operations`` committed in one transaction (False: cancelled, or a conflict)."""
        try:
            self._client.transact_write_items(TransactItems=operations)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _CONFLICT_CODES:
                raise
            return False
        return True

    def _write_alone(self, operation: dict[str, Any]) -> None:
        if "Update" in operation:
            self._client.update_item(**operation["Update"])
            return
        try:
            self._client.put_item(**operation["Put"])
        except ClientError as error:
            if not is_conditional_check_failure(error):  # an outbox action already queued: once only
                raise

    def _write_memberships(self, changes: list[KeyChange]) -> None:
        """Key changes left out of their event's transaction, as few transactions as the server's item limit
        allows: one check of each record state they concern (all their conditions ANDed: a transaction
        takes one operation per item) and the key updates. A group cancelled (a state has moved on, or a
        conflict) is written again one membership at a time (``_write_membership``), which tells which of
        its keys still agree with the states."""
        group: list[KeyChange] = []
        refs: set[str] = set()
        for change in changes:
            joined = refs | change.add | change.remove
            if group and len(joined) + len(group) + 1 > self.max_transaction_items:
                self._write_membership_group(group)
                group, joined = [], set(change.add | change.remove)
            group.append(change)
            refs = joined
        if group:
            self._write_membership_group(group)

    def _write_membership_group(self, group: list[KeyChange]) -> None:
        if len(group) > 1:
            updates = [{"Update": _unconditional(key_update(self.shadow_table, c)["Update"])} for c in group]
            if self._transact_unless_cancelled([*_membership_checks(self.shadow_table, group), *updates]):
                return
        for change in group:
            self._write_membership(change)

    def _write_membership(self, change: KeyChange) -> None:
        """A key change left out of its event's transaction, written only while the state of each record it
        adds still lists the key (of each it removes: no longer lists it), both in one small transaction.

        Between the transaction and this write, another event may have committed the record under other
        keys (a rename delivered at the same moment): written regardless, a late claim would leave the record
        in a key its state no longer lists, and a late removal would take it out of one its state lists
        again. When the state has moved on, the event that moved it wrote the key as it should be.
        """
        checks = _membership_checks(self.shadow_table, [change])
        update = {"Update": _unconditional(key_update(self.shadow_table, change)["Update"])}
        # (The key can name a person: a warning names its kind only.)
        self._write_while(checks, update, what="a key membership", detail={"key_kind": key_kind(change.key)})

    def _write_hold(self, put: dict[str, Any], plan: CommitPlan, replaced: dict[str, str | None]) -> None:
        """A ``HOLD`` item left out of its event's transaction, written only while the held record's state
        still agrees with it, in one small transaction with a check of that state.

        A hold the guard carries out marks the record's state in the transaction (``held_by``): the item is
        written only while the state still carries that mark, the one hold of the record there is. An
        admin's hold is refused while the mark has no item (``AdminService.hold``; had one committed
        meanwhile, it would have marked the state with its own entry and written its own item, which this
        one must not replace); a release of this hold takes the mark off, and the item must not come back.
        A release of an older ``HOLD`` item of the record can commit in the gap too: it leaves this hold's
        mark (see ``DynamoAdminRepository.release``), so this hold, whose actions that release did not
        cancel, stays listed and can be released in its turn.

        A hold that does not mark the state (observe mode, a record the shadow does not know) is written
        while no hold marks it, and only over the replaceable ``HOLD`` item there was before the transaction
        (``replaced``), or none: another such hold of the record, decided alongside, may have written its
        item meanwhile, and that later item stays. Either kind replaces only a hold the guard may replace
        (``HeldRecord.replaceable``), as inside the transaction.
        """
        ref = str(put["Item"]["sk"]["S"])
        entry_id = plan.entry.entry_id
        check: dict[str, Any] = {"TableName": self.shadow_table, "Key": state_key(ref)}
        if _marks(plan, ref):
            check["ConditionExpression"] = "held_by = :entry"
            check["ExpressionAttributeValues"] = {":entry": to_value(entry_id)}
        else:
            check["ConditionExpression"] = "attribute_not_exists(held_by)"
            put = {
                "TableName": put["TableName"],
                "Item": put["Item"],
                "ConditionExpression": "attribute_not_exists(pk)",
            }
            if (before := replaced.get(ref)) is not None:
                put["ConditionExpression"] += " OR entry_id = :before"
                put["ExpressionAttributeValues"] = {":before": to_value(before)}
        self._write_while([{"ConditionCheck": check}], {"Put": put}, what="a hold", detail={})

    def _write_while(
        self, checks: list[dict[str, Any]], write: dict[str, Any], *, what: str, detail: dict[str, Any]
    ) -> None:
        """``write`` together with ``checks`` (conditions on record states) in one transaction; a failed
        check means the state has moved on, and the writer that moved it has written the item as it should
        be. Conflicts with other transactions on these items are tried again, a few times."""
        for _ in range(_FOLLOW_UP_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=[*checks, write])
                return
            except ClientError as error:
                codes = _cancellation_codes(error)
                message = str(error.response.get("Error", {}).get("Message", ""))
                # (Some emulators omit the reasons; the message still names them.)
                if "ConditionalCheckFailed" in codes or (not codes and "ConditionalCheckFailed" in message):
                    return  # the record's state has moved on
                if error.response.get("Error", {}).get("Code") not in _CONFLICT_CODES:
                    raise
        # Not raised: the event is committed, and a failure now would only make it look like a repeat whose
        # actions wait for the sweep. A claim left out is re-added on the record's next event; a removal left
        # out costs that key's readers one candidate more; a hold left out is not listed (its action runs).
        logger.warning(
            f"{what} written after a split transaction kept conflicting; left as it is",
            extra={**detail, "attempts": _FOLLOW_UP_ATTEMPTS},
        )

    def _breaker_operations(self, plan: CommitPlan) -> list[dict[str, Any]]:
        change = plan.breaker
        if change is None:
            return []
        operations: list[dict[str, Any]] = []
        if change.count_hit:
            operations += self._count_operations(plan, change)
        if change.trip:
            operations.append(
                {
                    "Update": {
                        "TableName": self.shadow_table,
                        "Key": breaker_state_key(),
                        "UpdateExpression": (
                            "SET #open = :true, epoch = :epoch, opened_at = :at, opened_by_event = :event"
                        ),
                        "ConditionExpression": _BREAKER_CLOSED,
                        "ExpressionAttributeNames": {"#open": "open"},
                        "ExpressionAttributeValues": {
                            ":true": to_value(True),
                            ":false": to_value(False),
                            ":epoch": to_value(change.epoch),
                            ":at": to_value(iso(plan.entry.at)),
                            ":event": to_value(change.event_id or ""),
                        },
                    }
                }
            )
        elif change.require_open:
            operations.append(
                {
                    "ConditionCheck": {
                        "TableName": self.shadow_table,
                        "Key": breaker_state_key(),
                        "ConditionExpression": "#open = :true AND epoch = :epoch",
                        "ExpressionAttributeNames": {"#open": "open"},
                        "ExpressionAttributeValues": {
                            ":true": to_value(True),
                            ":epoch": to_value(change.epoch),
                        },
                    }
                }
            )
        return operations

    def _count_operations(self, plan: CommitPlan, change: BreakerChange) -> list[dict[str, Any]]:
        """One more hit in the event's window, only while both windows hold the hits the decision read and
        (unless this hit trips it: the trip has the same condition) the breaker is still closed in its epoch.

        A racing create counted meanwhile, or a trip or reset, cancels the transaction: the engine re-reads
        and decides again with that hit, so no two creates can both count themselves below the threshold.
        """
        if change.hits_read is None:
            raise ValueError("a counted storm hit must say which window hits it was decided on")
        current, previous = change.hits_read
        count = _hits_condition(current)
        expires = int(plan.entry.at.timestamp()) + _WINDOW_TTL_SECONDS
        count["ExpressionAttributeValues"] |= {":one": to_value(1), ":expires": to_value(expires)}
        operations: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.shadow_table,
                    "Key": window_key(change.epoch, change.bucket),
                    "UpdateExpression": "ADD hits :one SET expires_at = :expires",
                    **count,
                }
            },
            {
                "ConditionCheck": {
                    "TableName": self.shadow_table,
                    "Key": window_key(change.epoch, change.bucket - 1),
                    **_hits_condition(previous),
                }
            },
        ]
        if not change.trip:
            operations.append(
                {
                    "ConditionCheck": {
                        "TableName": self.shadow_table,
                        "Key": breaker_state_key(),
                        "ConditionExpression": _BREAKER_CLOSED,
                        "ExpressionAttributeNames": {"#open": "open"},
                        "ExpressionAttributeValues": {
                            ":false": to_value(False),
                            ":epoch": to_value(change.epoch),
                        },
                    }
                }
            )
        return operations

    def _hold_put(self, ref: str, entry: AuditEntry) -> dict[str, Any]:
        item = to_item(
            {
                "pk": HOLD_PK,
                "sk": ref,
                "entry_id": entry.entry_id,
                "rules": list(entry.rules),
                "at": iso(entry.at),
                "mode": entry.mode.value,
            }
        )
        return {"Put": {"TableName": self.shadow_table, "Item": item, **replaceable_hold()}}

    # ------------------------------------------------------------------------------------------ admin, tools
    def get_state(self, ref: str) -> RecordState | None:
        return read_state(self._client, self.shadow_table, ref)

    def get_key(self, key: str) -> KeyItem:
        item = self._client.get_item(TableName=self.shadow_table, Key=key_item_key(key), ConsistentRead=True)
        return key_from_item(key, item.get("Item"))

    def breaker(self) -> BreakerState:
        item = self._client.get_item(
            TableName=self.shadow_table, Key=breaker_state_key(), ConsistentRead=True
        )
        return breaker_from_items(item.get("Item"))

    def holds(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Records the guard holds (quarantined), by ref: one ``Query`` on the ``HOLD`` partition per page."""
        kwargs: dict[str, Any] = {
            "TableName": self.shadow_table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": to_value(HOLD_PK)},
        }
        while True:
            response = self._client.query(**kwargs)
            for item in response.get("Items", []):
                values = from_item(item)
                yield str(values["sk"]), values
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def live_books_customer_ids(self) -> Iterator[str]:
        """The contact id of every Books customer state not marked deleted: one Scan of the table (the
        missed-delete sweep's, once in each run that confirms; events never scan), only the key projected."""
        prefix = f"REC#{System.BOOKS.value}:"
        for item in aws.every_item(
            self._client.scan,
            TableName=self.shadow_table,
            FilterExpression=(
                "begins_with(pk, :books) AND sk = :state AND #module = :customers "
                "AND (attribute_not_exists(deleted) OR deleted = :no)"
            ),
            ProjectionExpression="pk",
            ExpressionAttributeNames={"#module": "module"},
            ExpressionAttributeValues={
                ":books": to_value(prefix),
                ":state": to_value(STATE_SK),
                ":customers": to_value(Module.BOOKS_CUSTOMERS.value),
                ":no": to_value(False),
            },
            ConsistentRead=True,
        ):
            yield item["pk"]["S"].removeprefix(prefix)

    def reset_breaker(self, entry: AuditEntry) -> None:
        """Close an open storm breaker (admin operation), recorded by ``entry`` in the same transaction.

        The epoch moves on, so hits counted before the reset no longer count. Raises ``ConcurrentUpdate`` if
        the breaker is not open (nothing to reset) and ``EventAlreadyProcessed`` if the entry exists.
        """
        reset = {
            "Update": {
                "TableName": self.shadow_table,
                "Key": breaker_state_key(),
                "UpdateExpression": "SET #open = :false, reset_at = :at, reset_by = :actor ADD epoch :one",
                "ConditionExpression": "#open = :true",
                "ExpressionAttributeNames": {"#open": "open"},
                "ExpressionAttributeValues": {
                    ":false": to_value(False),
                    ":true": to_value(True),
                    ":at": to_value(iso(entry.at)),
                    ":actor": to_value(entry.actor),
                    ":one": to_value(1),
                },
            }
        }
        self.commit_audited(entry, [reset])


def hold_key(ref: str) -> dict[str, Any]:
    """The key of the ``HOLD`` item of ``ref``."""
    return {"pk": {"S": HOLD_PK}, "sk": {"S": ref}}


def held_record(item: dict[str, Any]) -> HeldRecord:
    """A ``HOLD`` item as the engine reads it."""
    values = from_item(item)
    return HeldRecord(
        entry_id=str(values.get("entry_id", "")),
        applied=values.get("mode") == Mode.ENFORCE.value,
        confirmed=values.get("status") == _CONFIRMED,
        applied_by_admin=bool(values.get("applied_by")),
    )


#: A ``HOLD`` item's status once an admin confirmed its record a duplicate (``HoldStatus.CONFIRMED``).
_CONFIRMED = "confirmed"


#: A ``HOLD`` item that ``HeldRecord.replaceable`` allows to replace: not applied in Zoho, not confirmed (an
#: item without ``mode`` or ``status`` is neither).
_REPLACEABLE = (
    "(attribute_not_exists(#mode) OR #mode <> :applied) "
    "AND (attribute_not_exists(#status) OR #status <> :confirmed)"
)


def replaceable_hold(read: str | None = None) -> dict[str, Any]:
    """The condition of a ``HOLD`` put over a hold that may be replaced (``_REPLACEABLE``): the guard's own
    put, over no item or such a one; or, given the ``entry_id`` of the hold ``read``, an admin's put over
    that very hold, still replaceable (not applied nor confirmed since it was read)."""
    values = {":applied": to_value(Mode.ENFORCE.value), ":confirmed": to_value(_CONFIRMED)}
    if read is None:
        condition = f"attribute_not_exists(pk) OR ({_REPLACEABLE})"
    else:
        condition = f"entry_id = :read AND {_REPLACEABLE}"
        values[":read"] = to_value(read)
    return {
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#mode": "mode", "#status": "status"},
        "ExpressionAttributeValues": values,
    }


def _hold_check(table: str, ref: str) -> dict[str, Any]:
    """A ``ConditionCheck`` that the ``HOLD`` item of ``ref`` may be replaced by the guard's (see above)."""
    return {"ConditionCheck": {"TableName": table, "Key": hold_key(ref), **replaceable_hold()}}


def _still_true(check: dict[str, Any], item: dict[str, Any] | None) -> bool | None:
    """Whether the condition of ``check`` (a ``ConditionCheck`` this module builds) holds for ``item`` as read
    (None: absent); None if it is not one of the conditions a read can tell: a ``HOLD`` item the guard may
    replace (``_hold_check``), an item at a revision or absent (``revision_check``)."""
    if check["Key"]["pk"]["S"] == HOLD_PK:
        return item is None or held_record(item).replaceable
    condition = check.get("ConditionExpression")
    if condition == "attribute_not_exists(pk)":
        return item is None
    if condition == "rev = :rev":
        return item is not None and item.get("rev") == check["ExpressionAttributeValues"][":rev"]
    return None


def _state_condition(table: str, operation: dict[str, Any]) -> dict[str, Any] | None:
    """The condition of ``operation`` as a ``ConditionCheck`` (``revision_check``), if it puts a record state
    in the shadow ``table`` (``state_put``)."""
    put = operation.get("Put")
    if put is None or put["TableName"] != table or not put["Item"]["pk"]["S"].startswith("REC#"):
        return None
    key = {"pk": put["Item"]["pk"], "sk": put["Item"]["sk"]}
    values = put.get("ExpressionAttributeValues")
    return {
        "TableName": table,
        "Key": key,
        "ConditionExpression": put["ConditionExpression"],
        **({"ExpressionAttributeValues": values} if values else {}),
    }


def _hold_ref(table: str, operation: dict[str, Any]) -> str | None:
    """The held record's ref if ``operation`` puts a ``HOLD`` item in the shadow ``table``."""
    put = operation.get("Put")
    if put is None or put["TableName"] != table or put["Item"]["pk"]["S"] != HOLD_PK:
        return None
    return str(put["Item"]["sk"]["S"])


def _marks(plan: CommitPlan, ref: str) -> bool:
    """Whether ``plan``'s hold of ``ref`` marks the record's state (``held_by``): a hold carried out."""
    return any(w.state.ref == ref and w.state.held_by == plan.entry.entry_id for w in plan.state_writes)


#: The breaker is closed in the epoch read (or was never written: closed, epoch 0).
_BREAKER_CLOSED = "attribute_not_exists(pk) OR (#open = :false AND epoch = :epoch)"


def _hits_condition(hits: int) -> dict[str, Any]:
    """A window item's condition: it holds ``hits`` hits (none: the item may be absent)."""
    if hits == 0:
        return {
            "ConditionExpression": "attribute_not_exists(hits) OR hits = :hits",
            "ExpressionAttributeValues": {":hits": to_value(0)},
        }
    return {"ConditionExpression": "hits = :hits", "ExpressionAttributeValues": {":hits": to_value(hits)}}


def _membership_checks(table: str, changes: Sequence[KeyChange]) -> list[dict[str, Any]]:
    """One ``ConditionCheck`` per record state the key ``changes`` concern: the state lists each key that
    adds the record and none that removes it."""
    conditions: dict[str, list[str]] = {}
    values: dict[str, dict[str, Any]] = {}
    for index, change in enumerate(changes):
        condition = f"contains(#keys, :k{index})" if change.add else f"NOT contains(#keys, :k{index})"
        for ref in change.add or change.remove:
            conditions.setdefault(ref, []).append(condition)
            values.setdefault(ref, {})[f":k{index}"] = to_value(change.key)
    return [
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": state_key(ref),
                "ConditionExpression": " AND ".join(conditions[ref]),
                "ExpressionAttributeNames": {"#keys": "keys"},
                "ExpressionAttributeValues": values[ref],
            }
        }
        for ref in sorted(conditions)
    ]


def _placeholders(expression: str, prefix: str) -> set[str]:
    return set(re.findall(re.escape(prefix) + r"[A-Za-z0-9_]+", expression))


def _unconditional(update: dict[str, Any]) -> dict[str, Any]:
    """``update`` without its condition, and without the names and values only the condition used."""
    update = {k: v for k, v in update.items() if k != "ConditionExpression"}
    expression = str(update["UpdateExpression"])
    for field_name, prefix in (("ExpressionAttributeValues", ":"), ("ExpressionAttributeNames", "#")):
        used = _placeholders(expression, prefix)
        kept = {k: v for k, v in update.get(field_name, {}).items() if k in used}
        if kept:
            update[field_name] = kept
        else:
            update.pop(field_name, None)
    return update


def batch_put(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    """BatchWriteItem of ``items``, 25 a request, following ``UnprocessedItems``
    (:func:`batch_until_processed`)."""
    for start in range(0, len(items), _BATCH_WRITE_LIMIT):
        chunk = items[start : start + _BATCH_WRITE_LIMIT]
        batch_until_processed(
            client, "batch_write_item", {table: [{"PutRequest": {"Item": item}} for item in chunk]}
        )
