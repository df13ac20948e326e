"""What a rule sees: the event, the record, its previous state, its partner, scored candidates, the breaker.

Built by the engine from one ``Snapshot`` (see ``sync_guard.store.shadow``); rules are pure functions of it,
which is what lets a cancelled transaction be re-decided against fresh state without side effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync_guard.guard.model import RecordState
from sync_guard.guard.ports import MatchView
from sync_guard.models.events import GuardEvent, Operation
from sync_guard.models.records import PartyRecord, RecordKind, System


def invoiced_customer(record: PartyRecord) -> bool:
    """A Books customer holding transactions (Books says so, or it has a balance outstanding): whatever the
    guard has seen of it, no copy the sync has just made (one the guard first meets through an edit is an
    existing customer the shadow was not seeded with).
    """
    return record.system is System.BOOKS and bool(record.has_transactions or record.outstanding)


@dataclass(frozen=True)
class Candidate:
    """Another record found through a shared key, with the matcher's verdict against the event's record."""

    state: RecordState
    match: MatchView
    #: An admin judged the two not duplicates (released a hold raised against one of them): the rules
    #: that hold duplicates pass it over; facts such as a display name Books will refuse still count.
    cleared: bool = False

    @property
    def ref(self) -> str:
        return self.state.ref

    @property
    def record(self) -> PartyRecord:
        return self.state.record


@dataclass(frozen=True)
class StormStatus:
    """The multiplication-storm breaker as this event found (and maybe changed) it."""

    open_before: bool = False
    tripped_now: bool = False
    hits: int = 0
    threshold: int = 10
    window_seconds: int = 600
    opened_at: datetime | None = None
    opened_by_event: str | None = None
    #: The live records this create matched that make it count as a hit (best match first): what the count
    #: rests on (``engine.decision_basis`` checks one of them at commit).
    matched: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleContext:
    event: GuardEvent
    #: The record as it now is (for a delete: as the shadow last knew it), with what the shadow knows of
    #: fields its payload did not send (``engine.completed``): a Books customer's transactions among them.
    record: PartyRecord
    previous: RecordState | None
    #: The partner after pairing (for a delete: the partner the record had before it was deleted).
    partner: RecordState | None
    #: Books: the CRM record its Zoho link (zcrm_account_id/zcrm_contact_id) names, if the shadow knows it.
    link_target: RecordState | None
    #: Other Books customers whose Zoho link names the same CRM record (Books event) or this one (CRM event).
    linked_books: tuple[RecordState, ...]
    #: Books: the record ``link_target`` was paired with before this customer took the pair (it may have
    #: lost Zoho's link first, or been deleted), if any and if not this one.
    former_link_partner: RecordState | None
    #: Everything found through shared keys, best match first; the partner and link target excluded.
    candidates: tuple[Candidate, ...]
    storm: StormStatus
    name_key: Callable[[PartyRecord], str]
    now: datetime
    both_sides_window: timedelta = timedelta(hours=72)
    #: Books: the live CRM contacts of the account its Zoho link names, among the records read with it (they
    #: share its keys: a sole trader's contact has the account's email). Not candidates: they belong to it.
    link_contacts: tuple[RecordState, ...] = ()
    #: CRM contacts: the Books customer the contact's account is paired with in the shadow (the account's
    #: partner), whose contact person the sync makes the contact with "Accounts & their Contacts".
    account_customer: RecordState | None = None

    @property
    def ref(self) -> str:
        return self.record.ref

    @property
    def is_delete(self) -> bool:
        return self.event.operation is Operation.DELETE

    @property
    def is_new(self) -> bool:
        """First time the shadow sees this record alive (a create, or an update of an unknown record)."""
        return not self.is_delete and (self.previous is None or self.previous.deleted)

    @property
    def link_changed(self) -> bool:
        """The record's Zoho CRM link is not the one the shadow held (a record new to it, or a re-link)."""
        previous = self.previous
        return (
            previous is None or previous.deleted or previous.record.linked_crm_id != self.record.linked_crm_id
        )

    @property
    def renamed(self) -> bool:
        return self.previous is not None and self.previous.record.name != self.record.name

    def duplicates(
        self, *, system: System | None = None, live: bool | None = True, possible_too: bool = False
    ) -> list[Candidate]:
        """Candidates the matcher calls duplicates (or possible duplicates), filtered by side and liveness."""
        verdicts = {"duplicate", "possible"} if possible_too else {"duplicate"}
        return [
            candidate
            for candidate in self.candidates
            if candidate.match.verdict in verdicts
            and not candidate.cleared
            and (system is None or candidate.record.system is system)
            and (live is None or candidate.state.live is live)
        ]

    def created_at(self, state: RecordState | None = None) -> datetime:
        """When a record came to be: Zoho's created time, else when the guard first saw it."""
        if state is None:
            return self.record.created_at or self.event.received_at
        return state.record.created_at or state.first_seen or self.event.received_at

    def is_person(self) -> bool:
        return self.record.kind is RecordKind.PERSON
