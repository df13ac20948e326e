"""The Books organisation the shadow belongs to: the rule the checks, the executor and the admin use.

The scheduled checks record the configured organisation on first use and refuse to read Books under
another one, the outbox executor holds back Books writes and the processor Books fetches (all say why
with :func:`organization_mismatch`). Two admin steps meet the same record: a seed must not load one
organisation's customers into a shadow recorded as another's, and an admin may adopt the configured
organisation in place of the recorded one, but only where the shadow's Books customers are found in it
(the id was recorded wrongly), never for another organisation's customers, which would then all look
deleted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Protocol

from sync_guard.errors import Conflict, SyncGuardError
from sync_guard.reconcile.ports import BooksOrganization

#: How many of the shadow's live Books customers an adoption asks Books about.
ADOPTION_SAMPLE = 5


class OrganizationRecord(Protocol):
    """The recorded organisation (``DynamoCheckState`` keeps it)."""

    def books_organization(self) -> BooksOrganization | None: ...

    def record_books_organization(
        self, organization_id: str, *, at: datetime, by: str
    ) -> BooksOrganization: ...

    def adopt_books_organization(
        self, organization_id: str, *, replacing: str, at: datetime, by: str
    ) -> BooksOrganization: ...


class ContactLookup(Protocol):
    def contact_deleted(self, contact_id: str) -> bool:
        """True only when Books says the contact does not exist."""
        ...


class AnotherOrganization(Conflict):
    """The shadow holds another Books organisation's customers than the one asked for. Retryable: the
    parameter put back, the same step succeeds (an outbox action waits for that in the dead-letter queue)."""

    code = "another_books_organization"
    retryable = True


class OrganizationRecordUnreadable(SyncGuardError):
    """The recorded organisation's item lacks its id (edited by hand): an operator's fix, so retryable
    (an outbox action or an event waits in its dead-letter queue for it, instead of failing for good)."""

    code = "books_organization_unreadable"
    retryable = True


def organization_mismatch(configured: str, recorded: BooksOrganization, *, outcome: str) -> str | None:
    """What an operator is told when ``ZohoBooksOrganizationId`` is not the organisation the shadow's Books
    customers were recorded from (organisation ids are no secret), ``outcome`` saying what the guard did
    instead; None when it is."""
    if configured == recorded.organization_id:
        return None
    return (
        f"ZohoBooksOrganizationId is {configured}, but the guard's shadow holds the Books customers of "
        f"organisation {recorded.organization_id} ({recorded.provenance}). {outcome} Deploy with "
        f"ZohoBooksOrganizationId={recorded.organization_id} again, or, if the guard moved to {configured} "
        "for good, see 'Another Books organisation' in docs/operations.md"
    )


def refuse_books_under_another_organization(
    configured: str, recorded: Callable[[], BooksOrganization | None] | None, *, outcome: str
) -> None:
    """Raise ``AnotherOrganization`` (retryable), saying ``outcome``, when Books is configured as another
    organisation than the one recorded for the shadow: a customer the guard holds "does not exist" there.
    Nothing is compared (nor read) when no organisation is configured or no ``recorded`` reader is given."""
    organization = recorded() if configured and recorded is not None else None
    mismatch = organization_mismatch(configured, organization, outcome=outcome) if organization else None
    if mismatch is not None:
        raise AnotherOrganization(mismatch)


class RecordedOncePerEvent:
    """The recorded organisation read once per event (or scheduled run), however many ask.

    The processor's ``BooksOrganizationGate`` and its record fetcher both check a Books event against the
    recorded organisation, as the scheduled checks that read Books do in one run. Within ``event()`` the
    first answer is kept for the others, and forgotten when the event is done: the next event reads again,
    so an organisation adopted meanwhile is seen. Outside ``event()`` every call reads. A read that fails
    is not kept: the next asker reads (and fails) again.
    """

    def __init__(self, read: Callable[[], BooksOrganization | None]) -> None:
        self._read = read
        self._held = threading.local()  # an event's answer belongs to the thread handling it

    def __call__(self) -> BooksOrganization | None:
        kept: list[BooksOrganization | None] | None = getattr(self._held, "answer", None)
        if kept is None:
            return self._read()
        if not kept:
            kept.append(self._read())
        return kept[0]

    @contextmanager
    def event(self) -> Iterator[None]:
        """The lifetime of one answer: the handling of one event."""
        self._held.answer = []
        try:
            yield
        finally:
            self._held.answer = None


def refuse_another_organization(record: OrganizationRecord, configured: str, *, doing: str) -> None:
    """Raise ``AnotherOrganization`` when the shadow is recorded as another organisation's than
    ``configured`` (nothing to compare when either is unknown)."""
    recorded = record.books_organization() if configured else None
    if recorded is not None and recorded.organization_id != configured:
        raise AnotherOrganization(
            f"the guard is configured for Books organisation {configured} (ZohoBooksOrganizationId), but its "
            f"shadow holds the Books customers of organisation {recorded.organization_id}: {doing} would mix "
            "the two. See 'Another Books organisation' in docs/operations.md"
        )


@dataclass(frozen=True)
class Adoption:
    """What ``adopt_configured_organization`` found and did."""

    before: BooksOrganization | None
    after: BooksOrganization
    asked: int = 0

    @property
    def changed(self) -> bool:
        return self.before is None or self.before.organization_id != self.after.organization_id


def adopt_configured_organization(
    record: OrganizationRecord,
    configured: str,
    live_books_customer_ids: Iterable[str],
    books: Callable[[], ContactLookup],
    *,
    at: datetime,
    by: str,
) -> Adoption:
    """Record ``configured`` as the shadow's organisation in place of the recorded one, once Books shows
    that most of a sample of the shadow's live customers exist in it; ``AnotherOrganization`` otherwise
    (their organisation really is another: the guard must start over, see docs/operations.md)."""
    before = record.books_organization()
    if before is None:
        recorded = record.record_books_organization(configured, at=at, by=by)
        if recorded.organization_id == configured:
            return Adoption(None, recorded)
        before = recorded  # another, recorded since it was read (a scheduled run): judged as if read
    if before.organization_id == configured:
        return Adoption(before, before)
    sample = list(islice(live_books_customer_ids, ADOPTION_SAMPLE))
    lookup = books() if sample else None
    missing = [
        contact_id for contact_id in sample if lookup is not None and lookup.contact_deleted(contact_id)
    ]
    if len(missing) * 2 > len(sample):
        raise AnotherOrganization(
            f"{len(missing)} of {len(sample)} Books customers the shadow holds do not exist in organisation "
            f"{configured}: the shadow is organisation {before.organization_id}'s, so it was not adopted. "
            "To move the guard to another organisation, start it over: see 'Another Books organisation' in "
            "docs/operations.md"
        )
    after = record.adopt_books_organization(configured, replacing=before.organization_id, at=at, by=by)
    return Adoption(before, after, asked=len(sample))
