"""Whole-table work on the shadow mapping: loading many records at once, and re-keying every record.

Neither runs on an event's path: ``sync-guard seed`` (and the local stack, the benchmarks) load with batch
reads and writes, and ``sync-guard rekey`` moves stored records to the keys a new matcher cuts. Both keep
to the item shapes and the key cap of :mod:`sync_guard.store.shadow`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from sync_guard.errors import ConcurrentUpdate
from sync_guard.guard.model import RecordState
from sync_guard.guard.ports import EventAlreadyProcessed, KeyChange, KeyItem, StateWrite
from sync_guard.store.aws import is_conditional_check_failure
from sync_guard.store.items import to_item, to_value
from sync_guard.store.shadow import (
    AWS_TRANSACTION_ITEMS,
    KEY_SK,
    MAX_KEY_MEMBERS,
    STATE_SK,
    TransactionTooLarge,
    batch_get,
    batch_put,
    get_key_items,
    key_kind,
    key_update,
    read_state,
    run_transaction,
    state_from_item,
    state_item,
    state_key,
    state_put,
)


# ---------------------------------------------------------------------------------------------- bulk loading
class ShadowSeeder:
    """Loads many record states at once (``sync-guard seed``, benchmarks) with batch reads and writes.

    Idempotent: a state is written only if absent or older than the one loaded (same version: untouched);
    key items are read, merged with the new members and written back, up to ``max_key_members`` members
    (a state whose key is full keeps the key in its ``keys``, as the engine leaves it). Meant for loading
    before webhooks flow (a concurrent event's key change could be overwritten by the merge); states it
    writes start at ``rev`` + 1 like any other write, so an engine transaction that read them before will
    retry.
    """

    def __init__(self, client: Any, shadow_table: str, *, max_key_members: int = MAX_KEY_MEMBERS) -> None:
        self._client = client
        self.shadow_table = shadow_table
        self.max_key_members = max_key_members

    def _get_many(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return batch_get(self._client, {self.shadow_table: keys})[self.shadow_table]

    def load(self, states: Sequence[RecordState], *, check_existing: bool = True) -> int:
        """Write ``states`` (and their key memberships); returns how many states were new or newer."""
        existing: dict[str, RecordState] = {}
        if check_existing:
            for item in self._get_many([state_key(state.ref) for state in states]):
                state = state_from_item(item)
                existing[state.ref] = state
        to_write: list[RecordState] = []
        for state in states:
            old = existing.get(state.ref)
            if old is not None and old.version >= state.version:
                continue
            rev = (old.rev + 1) if old else max(state.rev, 1)
            to_write.append(state.model_copy(update={"rev": rev}))
        members: dict[str, set[str]] = {}
        for state in to_write:
            for key in state.keys:
                members.setdefault(key, set()).add(state.ref)
        deleted = {state.ref for state in to_write if state.deleted}
        key_items = get_key_items(self._client, self.shadow_table, members) if check_existing else {}
        merged: list[dict[str, Any]] = []
        for key, refs in sorted(members.items()):
            old_key = key_items.get(key, KeyItem(key=key))
            room = max(0, self.max_key_members - len(old_key.members))
            joining = sorted(refs - old_key.members)[:room]
            all_members = sorted(old_key.members.union(joining))
            # The members known deleted (``KeyItem.gone``), as the states written now say of theirs.
            gone = (old_key.gone - refs) | (deleted & refs & set(all_members))
            if not joining and gone == old_key.gone:
                continue  # every one a member already, or the key is full
            merged.append(
                to_item(
                    {
                        "pk": f"KEY#{key}",
                        "sk": KEY_SK,
                        "members": set(all_members),
                        "owner": old_key.owner or all_members[0],
                        "rev": (old_key.rev or 0) + 1,
                        "gone": gone or None,  # DynamoDB stores no empty set
                    }
                )
            )
        batch_put(self._client, self.shadow_table, [state_item(state) for state in to_write] + merged)
        return len(to_write)


# ---------------------------------------------------------------------------------------------- re-keying
@dataclass(frozen=True)
class RekeyResult:
    """What a re-keying pass found and did."""

    records: int = 0  # record states read (deleted ones too: they stay findable by their keys)
    rekeyed: int = 0  # whose keys this version cuts differently, rewritten (or, dry run, to rewrite)
    changed_meanwhile: int = 0  # written by an event during the pass, which keyed them itself
    added: Counter[str] = field(default_factory=Counter)  # key memberships added, by key prefix
    removed: Counter[str] = field(default_factory=Counter)  # and removed
    full: Counter[str] = field(default_factory=Counter)  # new keys not joined: MAX_KEY_MEMBERS already
    marked: int = 0  # deleted records marked as such (``KeyItem.gone``) in key items that did not say so


_REKEY_ATTEMPTS = 10


class ShadowRekeyer:
    """Re-index every record state under the keys this version of the matcher cuts (``sync-guard rekey``).

    A release that changes how blocking keys are cut leaves stored records under the old keys until their
    next event, so a new record cannot find them through a changed key. This pass reads every state (one
    Scan of the shadow table, which events never do), computes its keys with ``keys_of`` and, where they
    differ, moves the record in one transaction: its state with the new ``keys`` (conditional on the
    ``rev`` read: a state an event rewrote meanwhile is left to that event, which keyed it with this
    version), the new key items joined, the old ones left. Key memberships are added unconditionally, as
    the seeder does (a key item's ``rev`` still increments, so an engine transaction that read it
    retries), to the new keys that have fewer than ``max_key_members`` members when the pass reads them
    (the state still lists a full key, as the engine leaves it; two writers racing for a key's last places
    can take it a few members past the cap, which is harmless). Safe to run while webhooks flow and to run
    again: a second pass finds nothing to do.

    On a server whose transactions are smaller than the move (DynamoDB Local's old 10), the new keys are
    joined first, then the state written conditionally, then the old keys left: stopped part way, a run
    again completes it, and the worst left behind is an old membership, which costs one comparison.
    """

    def __init__(
        self,
        client: Any,
        shadow_table: str,
        *,
        max_transaction_items: int = AWS_TRANSACTION_ITEMS,
        max_key_members: int = MAX_KEY_MEMBERS,
    ) -> None:
        self._client = client
        self.shadow_table = shadow_table
        self.max_transaction_items = max_transaction_items
        self.max_key_members = max_key_members

    def states(self) -> Iterator[RecordState]:
        """Every record state in the table, deleted ones included, a page at a time."""
        request: dict[str, Any] = {
            "TableName": self.shadow_table,
            "FilterExpression": "sk = :state AND begins_with(pk, :record)",
            "ExpressionAttributeValues": {":state": to_value(STATE_SK), ":record": to_value("REC#")},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.scan(**request)
            for item in page.get("Items", []):
                yield state_from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def run(self, keys_of: Callable[[RecordState], frozenset[str]], *, dry_run: bool = False) -> RekeyResult:
        """Re-key every state whose keys differ from ``keys_of(state)``; with ``dry_run``, only count them."""
        records = rekeyed = changed_meanwhile = 0
        added: Counter[str] = Counter()
        removed: Counter[str] = Counter()
        full: Counter[str] = Counter()
        marked = 0
        for state in self.states():
            records += 1
            keys = keys_of(state)
            if keys == state.keys:
                if state.deleted:
                    marked += self._mark_deleted(state, dry_run=dry_run)
                continue
            joining = self._with_room(keys - state.keys)
            if not dry_run and not self._rekey(state, keys, joining):
                changed_meanwhile += 1
                continue
            rekeyed += 1
            added.update(key_kind(key) for key in joining)
            full.update(key_kind(key) for key in keys - state.keys - joining)
            removed.update(key_kind(key) for key in state.keys - keys)
        return RekeyResult(records, rekeyed, changed_meanwhile, added, removed, full, marked)

    def _mark_deleted(self, state: RecordState, *, dry_run: bool) -> int:
        """Mark a deleted record as such (``gone``) in the key items that list it without saying so: items
        written before a release kept that mark (the capped candidate read prefers live members by it).
        Unconditional, as a delete's own mark is. Returns how many items it marked (dry run: would mark)."""
        items = get_key_items(self._client, self.shadow_table, state.keys)
        unmarked = sorted(
            key for key, item in items.items() if state.ref in item.members and state.ref not in item.gone
        )
        if not dry_run:
            for key in unmarked:
                change = KeyChange(key, add=frozenset({state.ref}), checked=False, gone=True)
                self._client.update_item(**key_update(self.shadow_table, change)["Update"])
        return len(unmarked)

    def _with_room(self, keys: frozenset[str]) -> frozenset[str]:
        """Those of ``keys`` whose items have room for one more member (absent items have)."""
        if not keys:
            return keys
        items = get_key_items(self._client, self.shadow_table, keys)
        return frozenset(
            key for key in keys if key not in items or len(items[key].members) < self.max_key_members
        )

    def _rekey(self, state: RecordState, keys: frozenset[str], joining: frozenset[str]) -> bool:
        """Move the state to ``keys``, joining the ``joining`` ones; False if an event rewrote it meanwhile.
        Retries conflicts."""
        for _ in range(_REKEY_ATTEMPTS):
            try:
                return self._move(state, keys, joining)
            except ConcurrentUpdate:
                # Cancelled by another transaction on one of the items: retry unless it was on the state.
                current = read_state(self._client, self.shadow_table, state.ref)
                if current is None or current.rev != state.rev:
                    return False
        raise ConcurrentUpdate(f"{state.ref}: re-keying still conflicted after {_REKEY_ATTEMPTS} attempts")

    def _move(self, state: RecordState, keys: frozenset[str], joining: frozenset[str]) -> bool:
        """Write the state under ``keys`` and move its memberships; False if its ``rev`` changed meanwhile."""
        ref = state.ref
        write = StateWrite(state.model_copy(update={"keys": keys, "rev": state.rev + 1}), state.rev)
        joins = [
            key_update(
                self.shadow_table, KeyChange(k, add=frozenset({ref}), checked=False, gone=state.deleted)
            )
            for k in sorted(joining)
        ]
        leaves = [
            key_update(self.shadow_table, KeyChange(k, remove=frozenset({ref}), checked=False))
            for k in sorted(state.keys - keys)
        ]
        operations = [state_put(self.shadow_table, write), *joins, *leaves]
        if len(operations) <= self.max_transaction_items:
            try:
                run_transaction(self._client, operations)
                return True
            except EventAlreadyProcessed:
                return False  # the state put's condition (the first operation) failed
            except TransactionTooLarge as error:
                self.max_transaction_items = error.limit
        for join in joins:
            self._client.update_item(**join["Update"])
        try:
            self._client.put_item(**state_put(self.shadow_table, write)["Put"])
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        for leave in leaves:
            self._client.update_item(**leave["Update"])
        return True
