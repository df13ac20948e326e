"""The shadow's Books organisation: refusing to mix two, and adopting the configured one only where the
shadow's customers are."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from sync_guard.errors import ConcurrentUpdate
from sync_guard.reconcile.organization import (
    ADOPTION_SAMPLE,
    Adoption,
    AnotherOrganization,
    OrganizationRecordUnreadable,
    RecordedOncePerEvent,
    adopt_configured_organization,
    refuse_another_organization,
)
from sync_guard.reconcile.ports import BooksOrganization

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RECORDED, CONFIGURED = "20081234567", "20099999999"


@dataclass
class MemoryRecord:
    organization: BooksOrganization | None = None

    def books_organization(self) -> BooksOrganization | None:
        return self.organization

    def record_books_organization(self, organization_id: str, *, at: datetime, by: str) -> BooksOrganization:
        if self.organization is None:
            self.organization = BooksOrganization(organization_id, at, by)
        return self.organization

    def adopt_books_organization(
        self, organization_id: str, *, replacing: str, at: datetime, by: str
    ) -> BooksOrganization:
        if self.organization is None or self.organization.organization_id != replacing:
            raise ConcurrentUpdate("changed meanwhile")
        self.organization = BooksOrganization(organization_id, at, by)
        return self.organization


@dataclass
class FakeBooks:
    contacts: set[str] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)

    def contact_deleted(self, contact_id: str) -> bool:
        self.asked.append(contact_id)
        return contact_id not in self.contacts


def recorded_as(organization_id: str = RECORDED) -> MemoryRecord:
    return MemoryRecord(BooksOrganization(organization_id, NOW - timedelta(days=30), "seed"))


def adopt(record: MemoryRecord, books: FakeBooks, live: list[str]) -> Adoption:
    return adopt_configured_organization(record, CONFIGURED, iter(live), lambda: books, at=NOW, by="alice")


def test_a_seed_into_another_organisations_shadow_is_refused_naming_both() -> None:
    with pytest.raises(AnotherOrganization) as refused:
        refuse_another_organization(recorded_as(), CONFIGURED, doing="seeding it")

    assert f"configured for Books organisation {CONFIGURED}" in refused.value.message
    assert f"Books customers of organisation {RECORDED}: seeding it would mix" in refused.value.message


@pytest.mark.parametrize("record", [MemoryRecord(), recorded_as(CONFIGURED)])
def test_nothing_recorded_or_the_same_organisation_is_no_reason_to_refuse(record: MemoryRecord) -> None:
    refuse_another_organization(record, CONFIGURED, doing="seeding it")


def test_adopting_where_the_shadows_customers_are_records_the_configured_organisation() -> None:
    record, books = recorded_as(), FakeBooks({f"46{n}" for n in range(10)})

    adoption = adopt(record, books, [f"46{n}" for n in range(10)])

    assert record.organization == BooksOrganization(CONFIGURED, NOW, "alice")
    assert (adoption.changed, adoption.asked, len(books.asked)) == (True, ADOPTION_SAMPLE, ADOPTION_SAMPLE)


def test_another_organisations_customers_are_not_adopted() -> None:
    # given a shadow whose customers, but for two of the five asked about, the configured one lacks
    record, books = recorded_as(), FakeBooks({"461", "462"})

    with pytest.raises(AnotherOrganization, match="3 of 5 Books customers the shadow holds do not exist"):
        adopt(record, books, ["461", "462", "463", "464", "465", "466"])

    assert record.organization is not None
    assert record.organization.organization_id == RECORDED


def test_a_few_customers_deleted_since_do_not_stop_an_adoption() -> None:
    record, books = recorded_as(), FakeBooks({"461", "462", "463"})

    adopt(record, books, ["461", "462", "463", "464", "465"])

    assert record.organization is not None
    assert record.organization.organization_id == CONFIGURED


def test_adopting_what_is_recorded_already_changes_nothing_and_asks_books_nothing() -> None:
    record, books = recorded_as(CONFIGURED), FakeBooks()

    adoption = adopt(record, books, ["461"])

    assert (adoption.changed, books.asked) == (False, [])


@dataclass
class RecordedMeanwhile(MemoryRecord):
    """Nothing recorded when read; a scheduled run records ``meanwhile`` before this writer's put."""

    meanwhile: str = RECORDED

    def record_books_organization(self, organization_id: str, *, at: datetime, by: str) -> BooksOrganization:
        if self.organization is None:
            self.organization = BooksOrganization(self.meanwhile, at, "scheduler:zoho-checks")
        return super().record_books_organization(organization_id, at=at, by=by)


def test_an_organisation_recorded_while_adopting_is_judged_as_any_recorded_one() -> None:
    # given nothing recorded when read, and another organisation recorded before the adoption's own put
    books = FakeBooks()  # the shadow's customers are not in the configured organisation

    # when adopting, then the one recorded meanwhile is kept, as if it had been read
    with pytest.raises(AnotherOrganization, match=f"organisation {RECORDED}'s, so it was not adopted"):
        adopt(RecordedMeanwhile(), books, ["4601", "4602"])
    assert books.asked == ["4601", "4602"]

    # and where the customers are in the configured organisation, that one replaces it
    record, found = RecordedMeanwhile(), FakeBooks({"4601", "4602"})
    adoption = adopt(record, found, ["4601", "4602"])
    assert adoption.before is not None
    assert (adoption.before.organization_id, adoption.after.organization_id) == (RECORDED, CONFIGURED)
    assert record.organization is not None
    assert record.organization.organization_id == CONFIGURED


@dataclass
class CountedReads:
    """A recorded organisation that counts its reads and can be made to fail."""

    answers: list[BooksOrganization | None]
    reads: int = 0
    failing: bool = False

    def __call__(self) -> BooksOrganization | None:
        self.reads += 1
        if self.failing:
            raise OrganizationRecordUnreadable("no organization_id", field="organization_id")
        return self.answers[min(self.reads, len(self.answers)) - 1]


def test_the_recorded_organisation_is_read_once_per_event_and_read_again_for_the_next() -> None:
    first, adopted = BooksOrganization(RECORDED, NOW, "seed"), BooksOrganization(CONFIGURED, NOW, "admin")
    source = CountedReads([first, adopted])
    recorded = RecordedOncePerEvent(source)

    with recorded.event():
        assert [recorded(), recorded(), recorded()] == [first, first, first]
    assert source.reads == 1
    # the next event sees what is recorded now (an adoption meanwhile), not the last event's answer
    with recorded.event():
        assert recorded() == adopted
    assert source.reads == 2
    # outside an event nothing is kept
    recorded()
    recorded()
    assert source.reads == 4


def test_a_failed_read_is_not_kept_for_the_next_asker() -> None:
    source = CountedReads([None], failing=True)
    recorded = RecordedOncePerEvent(source)

    with recorded.event():
        for _ in range(2):
            with pytest.raises(OrganizationRecordUnreadable):
                recorded()
        source.failing = False
        assert recorded() is None
        assert recorded() is None
    assert source.reads == 3
