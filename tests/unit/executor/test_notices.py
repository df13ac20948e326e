"""One finance notice per decision, however many rules recognised the event."""

from __future__ import annotations

import re

import pytest

from sync_guard.config import Mode
from sync_guard.executor.notices import notices_for
from sync_guard.guard.engine import Guard, GuardConfig
from sync_guard.guard.model import (
    ActionKind,
    AuditEntry,
    Decision,
    EntryKind,
    Finding,
    RecordState,
    Severity,
)
from sync_guard.models.events import Operation
from sync_guard.notify import Role, render_notice
from sync_guard.notify.catalogue import text_for
from tests.unit.executor.fakes_executor import T0, action
from tests.unit.guard.builders import books_customer, crm_account, crm_contact, event_for, state
from tests.unit.guard.fakes import ExactMatcher, InMemoryShadow
from tests.unit.notify.notify_builders import eu_links


def entry_with(findings: tuple[Finding, ...]) -> AuditEntry:
    return AuditEntry(
        entry_id="evt_1",
        at=T0,
        kind=EntryKind.DECISION,
        decision=Decision.QUARANTINE,
        mode=Mode.ENFORCE,
        event_id="evt_1",
        records=("books:9", "crm:1"),
        rules=tuple(f.code for f in findings),
        findings=findings,
        actions=(action(ActionKind.MARK_BOOKS_INACTIVE, "books:9"),),
        names={"books:9": "Acme Limited", "crm:1": "Acme Ltd", "books:7": "ACME LTD"},
    )


def finding(
    code: str, severity: Severity, related: tuple[str, ...], evidence: tuple[str, ...] = ()
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        explanation=f"{code} explained",
        evidence=evidence,
        subject="books:9",
        related=related,
    )


def test_several_findings_make_one_notice_headed_by_the_most_severe() -> None:
    # given a decision on a customer created on both sides, which is also name drift and a display-name clash
    findings = (
        finding("NAME_DRIFT", Severity.MEDIUM, ("crm:1",), ("same name once 'Limited' is folded to 'Ltd'",)),
        finding("BOTH_SIDES_CREATED", Severity.HIGH, ("crm:1",), ("created in Books 2 hours after CRM",)),
        finding("DISPLAY_NAME_COLLISION", Severity.HIGH, ("books:7",)),
    )
    notify = action(ActionKind.NOTIFY_FINANCE, "books:9")
    # when the executor turns the notify action into notices
    [notice] = notices_for(notify, entry_with(findings), {})
    # then finance gets one notice, headed by the first of the most severe findings
    assert notice.rule == "BOTH_SIDES_CREATED"
    assert notice.evidence[0] == "created in Books 2 hours after CRM"
    assert "also NAME_DRIFT: same name once 'Limited' is folded to 'Ltd'" in notice.evidence
    assert "also DISPLAY_NAME_COLLISION: DISPLAY_NAME_COLLISION explained" in notice.evidence
    # listing every record involved once, the held one marked held
    assert [r.record_id for r in notice.records] == ["9", "1", "7"]
    assert [r.record_id for r in notice.records if r.held] == ["9"]


def test_a_decision_without_findings_notifies_nobody() -> None:
    notify = action(ActionKind.NOTIFY_FINANCE, "books:9")
    assert notices_for(notify, entry_with(()), {}) == []


def _records_section(
    code: str, subject: str, related: tuple[str, ...], states: dict[str, RecordState], own: str = "books:9"
) -> str:
    """The THE RECORDS lines of the notice finance reads for one finding on ``own``'s event."""
    found = Finding(code=code, severity=Severity.HIGH, explanation="", subject=subject, related=related)
    entry = entry_with((found,)).model_copy(update={"records": (own, *related)})
    [notice] = notices_for(action(ActionKind.NOTIFY_FINANCE, own), entry, states)
    body = render_notice(notice, eu_links()).body
    start = body.index("THE RECORDS")
    return body[start : body.index("\n\n", start)]


def _labels(section: str) -> dict[str, str]:
    """Each listed record's id and the label the notice gives it."""
    return {record_id: label for label, record_id in re.findall(r"\[\d\] ([^:]*): .*\n\s+Id: (\d+)", section)}


# The event: Zoho linked crm:1 to books:9 (a customer of long standing), which was paired with books:7.
MOVED_STATES = {
    s.ref: s
    for s in (
        state(books_customer("9", "Kestrel Logistics Ltd", linked="1", minutes=-600_000)),
        state(books_customer("7", "Kestrel Group Holdings"), has_transactions=True),
        state(crm_account("1", "Kestrel Logistics Ltd"), partner="books:9", former_partner="books:7"),
    )
}


@pytest.mark.parametrize("subject", ["books:9", "books:7"])  # whichever of the two the rule holds
def test_mapping_moved_names_the_newly_paired_customer_and_the_former_partner(subject: str) -> None:
    section = _records_section("MAPPING_MOVED", subject, ("books:9", "books:7", "crm:1"), MOVED_STATES)

    assert _labels(section) == {
        "9": "Newly paired customer",
        "7": "Former partner",
        "1": "Re-paired CRM record",
    }
    assert "new copy" not in section.casefold()


def test_created_in_books_names_the_customer_created_there_not_a_new_copy() -> None:
    states = {s.ref: s for s in (state(books_customer("9", "Marlow Bakery Limited")),)}

    section = _records_section("CREATED_IN_BOOKS", "books:9", (), states)

    assert _labels(section) == {"9": "Created in Books"}


def test_same_side_duplicate_names_the_books_customer_the_existing_crm_record_is_synced_to() -> None:
    # given a new CRM account (crm:2) duplicating crm:1, which the sync pairs with books:9
    states = {
        s.ref: s
        for s in (
            state(crm_account("2", "Kestrel Joinery Ltd")),
            state(crm_account("1", "Kestrel Joinery Limited"), partner="books:9"),
            state(books_customer("9", "Kestrel Joinery Limited", linked="1"), partner="crm:1"),
        )
    }

    section = _records_section("SAME_SIDE_DUPLICATE", "crm:2", ("crm:1", "books:9"), states, own="crm:2")

    # then the notice says which Books customer that is: the one to invoice
    assert _labels(section) == {
        "2": "New copy",
        "1": "Existing customer",
        "9": "Books customer of the existing CRM record",
    }


@pytest.mark.parametrize(
    ("code", "subject", "labels"),
    [
        # a new copy met by name drift is held, or its invoiced twin is (hold_choice): either way the
        # event's record is the new copy and the other the existing customer
        ("NAME_DRIFT", "books:9", {"9": "New copy", "7": "Existing customer"}),
        ("NAME_DRIFT", "books:7", {"9": "New copy", "7": "Existing customer"}),
        # these fire on an edit of a long-standing record too
        ("DOUBLE_LINK", "books:7", {"9": "Newly linked record", "7": "Existing customer"}),
        ("EMAIL_MISMATCH", "books:9", {"9": "New or edited record", "7": "Existing customer"}),
        ("DISPLAY_NAME_COLLISION", "books:9", {"9": "New or renamed record", "7": "Existing customer"}),
        (
            "CROSSED_MAPPING",
            "books:9",
            {"9": "Newly linked record", "1": "CRM record the guard paired it with"},
        ),
    ],
)
def test_the_events_record_is_a_new_copy_only_for_rules_about_new_records(
    code: str, subject: str, labels: dict[str, str]
) -> None:
    # given the rule's finding as it lists its records: the event's own first, then the other
    states = {
        s.ref: s for s in (state(books_customer("9", "Acme Limited")), state(books_customer("7", "ACME LTD")))
    }
    related = ("crm:1",) if code == "CROSSED_MAPPING" else ("books:9", "books:7")

    section = _records_section(code, subject, related, states)

    assert _labels(section) == labels


@pytest.mark.parametrize("subject", ["books:9", "crm:1"])  # the edited record held, or its CRM partner
def test_email_mismatch_on_a_paired_person_names_the_record_whose_email_changed_and_its_partner(
    subject: str,
) -> None:
    # given a Books individual paired with a CRM contact, whose email was just changed in Books
    states = {
        s.ref: s
        for s in (
            state(books_customer("9", "Tom Hale", linked="1", email="accounts@hale.co.uk"), partner="crm:1"),
            state(crm_contact("1", "Tom", "Hale", "tom@hale.co.uk"), partner="books:9"),
        )
    }

    section = _records_section("EMAIL_MISMATCH", subject, ("books:9", "crm:1"), states)

    # then the bookkeeper reads which side changed, and that the other is the record it is synced with
    assert _labels(section) == {"9": "Record whose email was just changed", "1": "Linked partner"}


def test_email_mismatch_against_a_contact_person_names_the_contact_and_its_accounts_customer() -> None:
    # given a Books business customer and a CRM contact of the account it is synced with
    states = {
        s.ref: s
        for s in (
            state(books_customer("9", "Hale Joinery Ltd", linked="2"), partner="crm:2"),
            state(crm_contact("1", "Tom", "Hale", "tom@hale.co.uk")),
        )
    }
    # when a contact person's email was edited in Books away from the contact's (the contact is held)
    edited = _records_section("EMAIL_MISMATCH", "crm:1", ("books:9", "crm:1"), states)
    # or the contact was created in CRM with another address than its namesake contact person's
    created = _records_section("EMAIL_MISMATCH", "crm:1", ("crm:1", "books:9"), states, own="crm:1")

    # then neither is labelled as one more existing customer
    assert _labels(edited) == {"9": "New or edited record", "1": "CRM contact synced with its contact person"}
    assert _labels(created) == {"1": "New or edited record", "9": "Books customer of the contact's account"}


def test_email_mismatchs_words_point_at_the_label_of_the_record_whose_email_changed() -> None:
    # the text a bookkeeper reads for every EMAIL_MISMATCH tells the paired case apart by that label
    words = text_for("EMAIL_MISMATCH")
    assert f"'{Role.EMAIL_CHANGED.capitalize()}'" in words.what
    assert "linked partner" in words.steps[0]


def test_partner_deleted_for_a_crm_delete_reads_as_the_crm_side_variant() -> None:
    # The event: crm:1 was deleted (or merged away); books:9, its partner, lives on.
    states = {
        s.ref: s
        for s in (
            state(crm_account("1", "Harrow & Lyle Interiors"), deleted=True, partner="books:9"),
            state(books_customer("9", "Harrow and Lyle Interiors Ltd", linked="1"), partner="crm:1"),
        )
    }
    found = Finding(
        code="PARTNER_DELETED", severity=Severity.HIGH, explanation="", subject="books:9", related=("crm:1",)
    )
    entry = entry_with((found,)).model_copy(update={"records": ("crm:1", "books:9"), "actions": ()})
    [notice] = notices_for(action(ActionKind.NOTIFY_FINANCE, "crm:1"), entry, states)
    message = render_notice(notice, eu_links())

    assert "CRM record gone, Books customer unlinked" in message.subject
    records = message.body[message.body.index("THE RECORDS") :]
    assert _labels(records[: records.index("\n\n")]) == {"1": "Deleted record", "9": "Surviving partner"}


def test_an_orphan_first_met_after_its_crm_record_was_deleted_reads_as_the_crm_side_variant() -> None:
    # The engine's own entry: Books customer 9 met after CRM account 1, its link's target, was deleted.
    shadow = InMemoryShadow()
    guard = Guard(shadow, ExactMatcher(), GuardConfig(mode=Mode.ENFORCE), clock=lambda: T0)
    guard.process(event_for(crm_account("1", "Harrow & Lyle Interiors")))
    guard.process(event_for(crm_account("1", "Harrow & Lyle Interiors", minutes=1), Operation.DELETE))
    edit = event_for(books_customer("9", "Harrow & Lyle Interiors", linked="1", minutes=2), Operation.UPDATE)
    entry = guard.process(edit).entry
    assert entry is not None
    [notify] = [a for a in entry.actions if a.kind is ActionKind.NOTIFY_FINANCE]

    [notice] = notices_for(notify, entry, shadow.states)
    message = render_notice(notice, eu_links())

    assert "CRM record gone, Books customer unlinked" in message.subject
    records = message.body[message.body.index("THE RECORDS") :]
    assert _labels(records[: records.index("\n\n")]) == {"9": "Surviving partner", "1": "Deleted record"}
