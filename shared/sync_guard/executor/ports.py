"""What the executor talks to, as small interfaces: tests hand it fakes, Lambda hands it DynamoDB and Zoho."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sync_guard.executor.model import ActionStatus, Claim, NoticeClaim, Refusal
from sync_guard.guard.model import AuditEntry, RecordState
from sync_guard.models.records import Module, PartyRecord


class ActionStore(Protocol):
    """The outbox table, with the conditional writes that make every action run at most once at a time."""

    def claim(self, action_id: str, *, now: datetime, lease_seconds: int) -> Claim | Refusal:
        """``pending``/``retrying``/``dead_lettered`` (or ``running`` past its lease) -> ``running``."""
        ...

    def finish(
        self, claim: Claim, status: ActionStatus, *, detail: str, entry: AuditEntry, now: datetime
    ) -> bool:
        """Record a final (or dead-lettered) outcome and its audit entry in one transaction.

        False when the claim was lost meanwhile (another executor took over after the lease ran out). True
        when this claim's outcome is recorded, by this call or by an earlier send of its transaction whose
        answer was lost.
        """
        ...

    def retry_later(self, claim: Claim, *, error: str, detail: str, now: datetime) -> bool:
        """``running`` -> ``retrying``: SQS will deliver the message again."""
        ...

    def due(self, *, queued_before: datetime, stale_before: datetime, now: datetime, limit: int) -> list[str]:
        """Ids the sweep re-queues: ``pending`` queued before ``queued_before``, ``retrying`` untouched since
        ``stale_before``, ``running`` whose lease has run out."""
        ...

    def status(self, action_id: str) -> ActionStatus | None:
        """The action's status now (``None`` if there is no such action)."""
        ...

    def cancel(self, action_id: str, *, reason: str, now: datetime) -> ActionStatus | None:
        """``pending``/``retrying``/``dead_lettered`` -> ``cancelled``; returns the status it found."""
        ...


class SentNotices(Protocol):
    """De-duplication keys of finance notices delivered, or being delivered: a retried batch, or two
    executors with decisions on the same pair, must not notify twice."""

    def claim(self, keys: Iterable[str], *, now: datetime, lease_seconds: int) -> NoticeClaim:
        """Take the keys nobody has sent and nobody is sending (a claim left by an executor that died
        lapses after ``lease_seconds``); the others are someone else's."""
        ...

    def remember(self, keys: Iterable[str], *, now: datetime) -> None:
        """The keys were delivered: never send them again (within the memory's lifetime)."""
        ...

    def release(self, claim: NoticeClaim, keys: Iterable[str]) -> None:
        """Give back claimed keys that were not delivered, so that a retry can send them."""
        ...


class DecisionContext(Protocol):
    """What a notice is written from: the decision's audit entry and the shadow's view of each record."""

    def entry(self, entry_id: str) -> AuditEntry | None: ...

    def states(self, refs: Sequence[str]) -> Mapping[str, RecordState]: ...

    def hold_of(self, ref: str) -> str | None:
        """The entry of the hold of the guard's that holds ``ref`` in Zoho (so that a release undoes it): its
        ``HOLD`` item, unless that is an observe-mode hold never written to Zoho, or the mark on its state;
        None when no such hold lists it."""
        ...


class CrmWriter(Protocol):
    def get_record_data(self, module: Module | str, record_id: str) -> dict[str, Any] | None:
        """The raw record (with ``Tag``), or None when it does not exist (any more)."""
        ...

    def iter_recently_modified(
        self, module: Module | str, *, since: datetime, fields: Sequence[str]
    ) -> Iterator[dict[str, Any]]:
        """Records modified at or after ``since``, newest first, raw (``id``, ``Modified_Time`` and
        ``fields``), page by page as the caller reads on."""
        ...

    def add_tags(self, module: Module | str, record_id: str, tags: Sequence[str]) -> None: ...

    def remove_tags(self, module: Module | str, record_id: str, tags: Sequence[str]) -> None: ...

    def update_record(
        self,
        module: Module | str,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        trigger: Sequence[str] | None = None,
    ) -> None: ...


class BooksWriter(Protocol):
    def get_contact(self, contact_id: str) -> PartyRecord | None:
        """The customer as Books has it now (None: it does not exist)."""
        ...

    def mark_inactive(self, contact_id: str) -> None: ...

    def mark_active(self, contact_id: str) -> None: ...


class ZohoWriters(Protocol):
    """The two clients the executor writes through (``sync_guard.zoho.factory.ZohoClients`` fits)."""

    @property
    def crm(self) -> CrmWriter: ...

    @property
    def books(self) -> BooksWriter: ...

    def finish_calls_by(self, deadline: float | None) -> None:
        """End every call, retries and token refreshes included, by ``deadline`` (``time.monotonic()``)."""
        ...


class ActionQueue(Protocol):
    def send(self, action_ids: Sequence[str]) -> None:
        """Queue action ids for the executor; raises if the queue did not take them all."""
        ...
