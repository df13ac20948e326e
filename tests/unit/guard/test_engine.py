"""The decision engine's mechanics over in-memory fakes: idempotency, versions, echoes, retries, modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sync_guard.config import Mode, Settings
from sync_guard.errors import ConfigurationError
from sync_guard.exports.conventions import parse_time
from sync_guard.guard.context import Candidate, RuleContext
from sync_guard.guard.engine import (
    MAX_TAG_CHECKS,
    NOT_HELD_INVOICED,
    Guard,
    GuardConfig,
    awaiting_entry_id,
    possible_merge_masters,
    shadow_keys,
)
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import (
    ActionKind,
    AuditEntry,
    Decision,
    EntryKind,
    Finding,
    PairSource,
    RecordState,
    Severity,
    epoch_ms,
)
from sync_guard.guard.policy import Policy
from sync_guard.guard.ports import HeldRecord, KeyItem, MatchView
from sync_guard.guard.seeding import plan_seed
from sync_guard.models.events import Channel, GuardEvent, Operation
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.rules.base import Rule
from sync_guard.zoho.payloads import parse_crm_workflow
from tests.unit.guard.builders import T0, at, books_customer, crm_account, crm_contact, event_for
from tests.unit.guard.fakes import ExactMatcher, FakeTime, InMemoryShadow


def make_guard(shadow: InMemoryShadow, **config: object) -> Guard:
    settings = {"mode": Mode.ENFORCE} | config
    return Guard(
        shadow,
        ExactMatcher(),
        GuardConfig(**settings),  # type: ignore[arg-type]
        clock=lambda: T0,
        backoff=FakeTime().backoff(),
    )


@pytest.fixture
def shadow() -> InMemoryShadow:
    return InMemoryShadow()


def test_a_new_company_is_allowed_indexed_and_audited_once(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    event = event_for(crm_account("1", "Acme Ltd"))

    first = guard.process(event)
    again = guard.process(event)

    assert first.decision is Decision.ALLOW
    assert first.entry is not None
    assert first.entry.records == ("crm:1",)
    assert again.already_processed
    assert list(shadow.entries) == [event.event_id]
    assert shadow.keys["n:acme ltd"].members == {"crm:1"}
    assert shadow.keys["n:acme ltd"].owner == "crm:1"


def test_an_older_update_never_regresses_the_state(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    newer = crm_account("1", "Acme Trading Ltd", minutes=10)
    older = crm_account("1", "Acme Ltd", minutes=5)
    guard.process(event_for(newer, Operation.UPDATE))

    result = guard.process(event_for(older, Operation.UPDATE))

    assert result.entry is not None
    assert result.entry.kind is EntryKind.STALE
    assert shadow.states["crm:1"].record.name == "Acme Trading Ltd"
    assert "n:acme ltd" not in shadow.keys


def test_a_second_change_within_the_same_second_is_applied_not_dropped(shadow: InMemoryShadow) -> None:
    # Zoho's modified times have whole seconds: a save and a rename at 10:00:00 carry the same time.
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd")))

    renamed = guard.process(event_for(crm_account("1", "Apex Ltd"), Operation.UPDATE))
    again = guard.process(event_for(crm_account("1", "Apex Trading Ltd"), Operation.UPDATE))

    assert renamed.entry is not None
    assert renamed.entry.kind is not EntryKind.STALE
    assert again.entry is not None
    assert again.entry.kind is not EntryKind.STALE
    assert shadow.states["crm:1"].record.name == "Apex Trading Ltd"
    assert shadow.keys["n:acme ltd"].members == frozenset()
    assert shadow.keys["n:apex trading ltd"].members == {"crm:1"}
    # ... and a change from the next second still follows them.
    later = guard.process(event_for(crm_account("1", "Apex Ltd", minutes=1 / 60), Operation.UPDATE))
    assert later.entry is not None
    assert later.entry.kind is not EntryKind.STALE
    assert shadow.states["crm:1"].record.name == "Apex Ltd"


def test_a_create_delivered_after_an_edit_of_its_second_is_stale(shadow: InMemoryShadow) -> None:
    # Webhooks arrive out of order, and no fetcher can ask Zoho which came last: a record is created before
    # it is edited, so the edit of the same second is the later change whichever arrives first.
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Apex Ltd"), Operation.UPDATE))

    late_create = guard.process(event_for(crm_account("1", "Acme Ltd"), Operation.CREATE))

    assert late_create.entry is not None
    assert late_create.entry.kind is EntryKind.STALE
    assert shadow.states["crm:1"].record.name == "Apex Ltd"
    assert shadow.keys["n:apex ltd"].members == {"crm:1"}
    assert "n:acme ltd" not in shadow.keys
    # ... and a later edit of that second still follows the first.
    again = guard.process(event_for(crm_account("1", "Apex Trading Ltd"), Operation.UPDATE))
    assert again.entry is not None
    assert again.entry.kind is not EntryKind.STALE
    assert shadow.states["crm:1"].record.name == "Apex Trading Ltd"


def test_an_edit_delivered_after_the_create_of_its_second_is_applied(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd"), Operation.CREATE))

    edit = guard.process(event_for(crm_account("1", "Apex Ltd"), Operation.UPDATE))

    assert edit.entry is not None
    assert edit.entry.kind is not EntryKind.STALE
    assert shadow.states["crm:1"].record.name == "Apex Ltd"
    # ... and another copy of the create, with other values, delivered late does not undo it either.
    late = guard.process(event_for(crm_account("1", "Acme Holdings Ltd"), Operation.CREATE))
    assert late.entry is not None
    assert late.entry.kind is EntryKind.STALE
    assert shadow.states["crm:1"].record.name == "Apex Ltd"


def test_the_same_values_again_within_the_second_are_stale(shadow: InMemoryShadow) -> None:
    # Another channel's copy of one change (a workflow webhook sending fewer fields): nothing new.
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd", phone="+44 20 7946 0000")))

    echo = guard.process(event_for(crm_account("1", "Acme Ltd"), Operation.UPDATE))

    assert echo.entry is not None
    assert echo.entry.kind is EntryKind.STALE
    assert shadow.states["crm:1"].record.phone == "+44 20 7946 0000"


def test_a_change_within_the_same_second_is_decided_on_what_zoho_holds_now(shadow: InMemoryShadow) -> None:
    class Fetcher:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def fetch(self, system: System, module: str, record_id: str) -> PartyRecord | None:
            self.asked.append(record_id)
            return crm_account(record_id, "Apex Trading Ltd")

    fetcher = Fetcher()
    guard = Guard(shadow, ExactMatcher(), GuardConfig(), fetcher=fetcher, clock=lambda: T0)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    assert fetcher.asked == []

    # Which of two same-second edits came last only Zoho knows: this copy may be the older one.
    result = guard.process(event_for(crm_account("1", "Apex Ltd"), Operation.UPDATE))

    assert fetcher.asked == ["1"]
    assert result.entry is not None
    assert result.entry.kind is not EntryKind.STALE
    assert shadow.states["crm:1"].record.name == "Apex Trading Ltd"


def _workflow_edit(record_id: str, minutes: float, **fields: str) -> GuardEvent:
    """A CRM Accounts workflow webhook with the recommended template: no VAT number, no street."""
    body = {"event": "edit", "module": "Accounts", "id": record_id, "modified": at(minutes).isoformat()}
    return parse_crm_workflow(body | fields, received_at=at(minutes))


def test_a_workflow_edit_keeps_what_its_template_does_not_send(shadow: InMemoryShadow) -> None:
    guard = Guard(shadow, LibraryMatcher(), GuardConfig(mode=Mode.ENFORCE), clock=lambda: T0)
    seeded = crm_account(
        "1", "Quartz Analytics Ltd", vat="GB123456789", street="12 Harbour Road", email="ap@quartz.example"
    )
    guard.process(event_for(seeded))

    # Someone fixes the city; the email merge field is blank: that value was cleared.
    guard.process(_workflow_edit("1", 10, name="Quartz Analytics Ltd", city="Bristol", email=""))

    stored = shadow.states["crm:1"].record
    assert (stored.vat, stored.street, stored.city, stored.email) == (
        "GB123456789",
        "12 Harbour Road",
        "Bristol",
        None,
    )
    assert stored.modified_at == at(10)
    # Still found by its VAT number and its address (a Books copy under another name shares those).
    keys = shadow.states["crm:1"].keys
    assert "v:123456789" in keys
    assert any(key.startswith("a:12|harbour") for key in keys)


def test_a_rename_moves_the_record_between_keys(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    guard.process(event_for(crm_account("1", "Apex Ltd", minutes=1), Operation.UPDATE))
    assert shadow.keys["n:acme ltd"].members == frozenset()
    assert shadow.keys["n:apex ltd"].members == {"crm:1"}
    assert shadow.states["crm:1"].keys == {"n:apex ltd"}


def test_a_delete_before_its_create_leaves_a_tombstone(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    record = crm_account("1", "Acme Ltd")
    delete = event_for(record, Operation.DELETE, received=at(30))
    assert guard.process(delete).entry.kind is EntryKind.UNKNOWN_RECORD  # type: ignore[union-attr]

    late_create = guard.process(event_for(record))

    assert late_create.entry is not None
    assert late_create.entry.kind is EntryKind.STALE
    assert shadow.states["crm:1"].deleted


def test_a_deleted_customer_the_guard_never_saw_is_still_found_when_it_is_recreated(
    shadow: InMemoryShadow,
) -> None:
    # Deleted records stay in the index: so must one whose delete was the first the guard heard of it.
    guard = make_guard(shadow)
    customer = books_customer("1", "Zeta Foods Ltd")
    # Books sends the deleted contact whole.
    delete = event_for(customer, Operation.DELETE, received=at(1)).model_copy(update={"record": customer})
    guard.process(delete)
    assert shadow.keys["n:zeta foods ltd"].members == {"books:1"}

    recreated = guard.process(event_for(books_customer("2", "Zeta Foods Ltd", minutes=2), received=at(2)))

    assert recreated.entry is not None
    assert "RECREATED_AFTER_DELETE" in recreated.entry.rules


def test_a_delete_found_late_by_the_scheduled_checks_keeps_its_deletion_time(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    # CRM's deleted records, read by the next scheduled run: deleted at 10:05, heard of at 10:20
    late = event_for(crm_account("1", "Acme Ltd", minutes=5), Operation.DELETE, received=at(20))
    guard.process(late.model_copy(update={"channel": Channel.RECONCILE}))

    assert shadow.states["crm:1"].deleted_at == at(5)


def test_books_link_pairs_both_sides_in_either_order(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=1)))
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    assert shadow.states["books:9"].partner == "crm:1"
    assert shadow.states["crm:1"].partner == "books:9"

    other = InMemoryShadow()
    guard = make_guard(other)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    result = guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=1)))
    assert result.decision is Decision.ALLOW  # the sync creating the partner is normal
    assert other.states["crm:1"].partner == "books:9"
    assert other.states["books:9"].partner == "crm:1"


def _linked_by_an_admin(shadow: InMemoryShadow, crm: str, books: str) -> None:
    """The pair ``sync-guard link`` leaves (provenance ``admin``), where Zoho's link contradicts nothing."""
    for ref, partner in ((crm, books), (books, crm)):
        shadow.states[ref] = shadow.states[ref].model_copy(
            update={"partner": partner, "pair_source": PairSource.ADMIN}
        )


def test_zoho_linking_the_customer_elsewhere_replaces_an_admins_pair_and_says_so(
    shadow: InMemoryShadow,
) -> None:
    # given books:9 (no Zoho link) paired with crm:2 by an admin, and crm:1 another account
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Zeta Ltd")))
    guard.process(event_for(crm_account("2", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", minutes=1)))
    _linked_by_an_admin(shadow, "crm:2", "books:9")

    # when Zoho's link of books:9 now names crm:1
    result = guard.process(
        event_for(books_customer("9", "Acme Ltd", linked="1", minutes=2), Operation.UPDATE)
    )

    # then the shadow follows Zoho's link, and the audit entry says the admin's pair is gone, under crm:2 too
    assert (shadow.states["books:9"].partner, shadow.states["books:9"].pair_source) == (
        "crm:1",
        PairSource.ZOHO_LINK,
    )
    assert (shadow.states["crm:2"].partner, shadow.states["crm:2"].former_partner) == (None, "books:9")
    assert result.entry is not None
    assert "Zoho's link now pairs books:9 with crm:1; the pair with crm:2 an admin made is replaced" in (
        result.entry.note
    )
    assert "crm:2" in result.entry.records


def test_an_admins_pair_that_contradicted_zohos_link_already_is_not_said_to_be_replaced_by_a_new_link(
    shadow: InMemoryShadow,
) -> None:
    # given books:9, which Zoho links to crm:1, paired with crm:2 by an admin before `link` refused a pair
    # that Zoho's link contradicts
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Zeta Ltd")))
    guard.process(event_for(crm_account("2", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=1)))
    _linked_by_an_admin(shadow, "crm:2", "books:9")
    shadow.states["crm:1"] = shadow.states["crm:1"].model_copy(
        update={"partner": None, "pair_source": None, "former_partner": "books:9"}
    )

    # when books:9 changes, Zoho's link as it was
    result = guard.process(
        event_for(books_customer("9", "Acme Ltd.", linked="1", minutes=2), Operation.UPDATE)
    )

    # then the guard follows Zoho's link, and the note does not say the link is new
    assert shadow.states["books:9"].partner == "crm:1"
    assert shadow.states["crm:2"].partner is None
    assert result.entry is not None
    assert (
        "Zoho's link pairs books:9 with crm:1, as it did before this change; "
        "the pair with crm:2 an admin made is replaced"
    ) in result.entry.note


def test_zoho_linking_another_customer_to_the_crm_record_replaces_an_admins_pair_and_says_so(
    shadow: InMemoryShadow,
) -> None:
    # given crm:1 paired by an admin with books:9, which Zoho links to nothing, and a policy that lets the
    # rule noticing the move (MAPPING_MOVED) allow it: nothing but the replaced pair to audit
    guard = make_guard(shadow, policy=Policy.build({"MAPPING_MOVED": "allow"}))
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", minutes=1)))
    _linked_by_an_admin(shadow, "crm:1", "books:9")

    # when another Books customer arrives that Zoho links to crm:1
    result = guard.process(event_for(books_customer("10", "Zeta Holdings", linked="1", minutes=2)))

    # then crm:1 follows Zoho's link, and the allowed event's entry says so, under books:9 too
    assert result.decision is Decision.ALLOW
    assert (shadow.states["crm:1"].partner, shadow.states["crm:1"].pair_source) == (
        "books:10",
        PairSource.ZOHO_LINK,
    )
    assert (shadow.states["books:9"].partner, shadow.states["books:9"].former_partner) == (None, "crm:1")
    assert result.entry is not None
    assert result.entry.note == (
        "Zoho's link now pairs crm:1 with books:10; the pair with books:9 an admin made is replaced"
    )
    assert "books:9" in result.entry.records


def test_an_admins_pair_outlives_zoho_linking_the_customer_to_nothing(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", minutes=1)))
    _linked_by_an_admin(shadow, "crm:1", "books:9")

    result = guard.process(event_for(books_customer("9", "Acme Ltd.", minutes=2), Operation.UPDATE))

    assert (shadow.states["books:9"].partner, shadow.states["books:9"].pair_source) == (
        "crm:1",
        PairSource.ADMIN,
    )
    assert result.entry is not None
    assert "an admin made is replaced" not in result.entry.note


def test_a_lost_race_is_re_decided_against_the_winner(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    winner = event_for(crm_account("1", "Acme Ltd"))
    loser = event_for(crm_account("2", "Acme Ltd"))
    # the winner commits between the loser's read and its commit
    shadow.interleave.append(lambda: make_guard(shadow).process(winner))

    result = guard.process(loser)

    assert result.attempts == 2
    assert result.decision is Decision.FLAG
    assert result.entry is not None
    assert result.entry.rules == ("SAME_SIDE_DUPLICATE",)
    assert shadow.entries[winner.event_id].decision is Decision.ALLOW
    assert shadow.keys["n:acme ltd"].owner == "crm:1"


def test_quarantine_queues_actions_once_and_the_echo_is_not_re_decided(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    guard.process(event_for(books_customer("9", "Acme Ltd", has_transactions=True)))
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    # the sync links a second Books customer to crm:1 and so does the first: a double link
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=2), Operation.UPDATE))
    dup = books_customer("10", "Acme Ltd.", linked="1", minutes=3)
    decided = guard.process(event_for(dup))

    assert decided.decision is Decision.QUARANTINE
    assert decided.entry is not None
    assert "DOUBLE_LINK" in decided.entry.rules
    kinds = sorted(a.kind for a in decided.entry.actions)
    assert kinds == [ActionKind.MARK_BOOKS_INACTIVE, ActionKind.NOTIFY_FINANCE]
    inactive = next(a for a in decided.entry.actions if a.kind is ActionKind.MARK_BOOKS_INACTIVE)
    assert inactive.target == "books:10"
    assert inactive.execute
    assert shadow.states["books:10"].echo_expected == {inactive.action_id: {"active": False}}
    assert {ref: hold.entry_id for ref, hold in shadow.holds.items()} == {"books:10": decided.event_id}

    # when Books sends the guard's own change back
    queued = len(shadow.outbox)
    echo = dup.model_copy(update={"active": False, "modified_at": at(4)})
    result = guard.process(event_for(echo, Operation.UPDATE))

    # then it is audited as a self echo, allowed, and queues nothing
    assert result.entry is not None
    assert result.entry.kind is EntryKind.SELF_ECHO
    assert result.decision is Decision.ALLOW
    assert result.entry.actions == ()
    assert shadow.states["books:10"].echo_expected == {}
    assert len(shadow.outbox) == queued


def test_a_books_vendor_is_audited_as_not_guarded_and_never_matched(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    guard.process(event_for(books_customer("9", "Acme Ltd", has_transactions=True)))
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    # the customer's supplier side: Books keeps it as a vendor of the same name
    vendor = books_customer("20", "Acme Ltd").model_copy(update={"module": Module.BOOKS_VENDORS})

    result = guard.process(event_for(vendor))

    assert result.decision is Decision.ALLOW
    assert result.entry is not None
    assert result.entry.kind is EntryKind.NOT_GUARDED
    assert "vendor" in result.entry.note
    assert result.entry.actions == ()
    assert "books:20" not in shadow.states
    assert shadow.keys["n:acme ltd"].members == {"crm:1", "books:9"}


def test_a_held_record_is_never_acted_on_twice(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1")))
    first = guard.process(event_for(books_customer("10", "Acme Ltd.", linked="1", minutes=1)))
    assert first.decision is Decision.QUARANTINE
    guard.process(event_for(books_customer("11", "Zeta Ltd", linked="2", minutes=2)))
    # the held record is re-linked onto another CRM record that is linked already: the rules fire again
    moved = books_customer("10", "Acme Ltd.", linked="2", minutes=5)
    result = guard.process(event_for(moved, Operation.UPDATE))
    assert result.entry is not None
    assert {"DOUBLE_LINK", "CROSSED_MAPPING"} <= set(result.entry.rules)
    assert result.entry.note.startswith("books:10 already held by")
    assert result.entry.actions == ()  # no second hold, and finance heard about it the first time


def test_a_record_held_by_a_hold_its_state_does_not_name_is_not_held_again(shadow: InMemoryShadow) -> None:
    # given a Books customer linked to crm:1, held by an admin before the shadow knew it: its state, written
    # since, names no hold (the guard's HOLD put is what stops at the admin's item)
    guard = make_guard(shadow)
    guard.process(event_for(books_customer("10", "Acme Ltd.", linked="1")))
    shadow.holds["books:10"] = HeldRecord("adm_hold", applied=True)
    assert shadow.states["books:10"].held_by is None

    # when the customer with the invoices links to crm:1 too: the double link would hold books:10
    result = guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", has_transactions=True)))

    # then the cancelled commit is decided again with the admin's hold read: the finding is recorded, the
    # record is not held a second time (before: the commit conflicted until the retry budget ran out)
    assert result.attempts == 2
    assert result.entry is not None
    assert "DOUBLE_LINK" in result.entry.rules
    assert result.entry.note == "books:10 already held by adm_hold"
    assert result.entry.actions == ()  # as for a hold its state names: no second hold, no second notice
    assert shadow.holds == {"books:10": HeldRecord("adm_hold", applied=True)}


@pytest.mark.parametrize(
    ("hold", "held_by"),
    [
        (HeldRecord("adm_hold", applied=True), "adm_hold"),
        (HeldRecord("adm_hold", confirmed=True), "adm_hold"),
        (HeldRecord("adm_hold"), None),  # observe mode: held nowhere but in the list, and replaceable
    ],
    ids=["applied", "confirmed", "observe"],
)
def test_a_record_first_seen_under_a_standing_hold_takes_its_mark(
    shadow: InMemoryShadow, hold: HeldRecord, held_by: str | None
) -> None:
    # given a record the shadow does not know, held by an admin
    shadow.holds["crm:1"] = hold

    # when its first event is decided (nothing to match: allowed)
    result = make_guard(shadow).process(event_for(crm_account("1", "Acme Ltd")))

    # then its new state names the hold the guard may not replace, as if the admin had held a known
    # record (before: no mark, so any later finding on it tried to hold it again)
    assert result.decision is Decision.ALLOW
    assert result.attempts == 1
    assert shadow.states["crm:1"].held_by == held_by


def test_observe_mode_records_zoho_actions_as_not_to_be_executed(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow, mode=Mode.OBSERVE)
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1")))
    result = guard.process(event_for(books_customer("10", "Acme Ltd.", linked="1", minutes=1)))
    assert result.entry is not None
    assert result.entry.mode is Mode.OBSERVE
    executes = {a.kind: a.execute for a in result.entry.actions}
    assert executes == {ActionKind.MARK_BOOKS_INACTIVE: False, ActionKind.NOTIFY_FINANCE: True}
    assert shadow.states["books:10"].echo_expected == {}  # nothing will come back
    assert shadow.states["books:10"].held_by is None  # nothing is held in Zoho
    # but admins see the would-be hold
    assert {ref: hold.entry_id for ref, hold in shadow.holds.items()} == {"books:10": result.entry.entry_id}


def test_policy_overrides_change_the_outcome_but_not_the_finding(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow, policy=Policy.build({"DOUBLE_LINK": "allow"}))
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1")))
    result = guard.process(event_for(books_customer("10", "Other name", linked="1", minutes=1)))
    assert result.entry is not None
    assert result.entry.rules == ("DOUBLE_LINK",)
    assert result.decision is Decision.ALLOW
    assert result.entry.actions == ()


@pytest.mark.parametrize(
    "policy", [{"NO_SUCH_RULE": "flag"}, {"NAME_DRIFT": "delete"}, {"NAME_DRIFT": "admin"}]
)
def test_bad_policy_is_a_configuration_error(policy: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        Policy.build(policy)


def test_policy_comes_from_settings_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_GUARD_RULE_POLICY", '{"NAME_DRIFT": "flag"}')
    config = GuardConfig.from_settings(Settings())
    assert config.policy.outcome("NAME_DRIFT") is Decision.FLAG
    assert config.policy.outcome("DOUBLE_LINK") is Decision.QUARANTINE


def test_notification_events_wait_for_enrichment_without_a_fetcher(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    event = event_for(crm_account("1", "Acme Ltd"), Operation.UPDATE, with_record=False)
    result = guard.process(event)
    assert result.decision is Decision.PENDING
    assert result.entry is not None
    assert result.entry.entry_id == awaiting_entry_id(event.event_id)
    assert shadow.states == {}  # nothing guessed


def test_a_redelivered_event_still_awaiting_its_record_stays_awaiting(shadow: InMemoryShadow) -> None:
    # The first delivery recorded it as awaiting, but marking the stored event failed, so SQS delivers it
    # again: it must stay where requeue-awaiting finds it, not be marked processed.
    from sync_guard.guard.handler import GuardEventHandler
    from sync_guard.ingest.ports import EventStatus

    handler = GuardEventHandler(make_guard(shadow))
    event = event_for(crm_account("1", "Acme Ltd"), Operation.UPDATE, with_record=False)

    first, again = handler(event), handler(event)

    assert first.status is EventStatus.AWAITING_ENRICHMENT
    assert again.status is EventStatus.AWAITING_ENRICHMENT
    assert again.detail["repeat"] == "true"


def test_notification_events_are_enriched_through_the_fetcher(shadow: InMemoryShadow) -> None:
    class Fetcher:
        def fetch(self, system: System, module: str, record_id: str) -> PartyRecord | None:
            return crm_account(record_id, "Fetched Ltd")

    guard = Guard(shadow, ExactMatcher(), GuardConfig(), fetcher=Fetcher(), clock=lambda: T0)
    result = guard.process(event_for(crm_account("1", "x"), Operation.UPDATE, with_record=False))
    assert result.decision is Decision.ALLOW
    assert shadow.states["crm:1"].record.name == "Fetched Ltd"


class _GoneFromZoho:
    """A fetcher for which Zoho no longer has the record."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def fetch(self, system: System, module: str, record_id: str) -> PartyRecord | None:
        self.asked.append(record_id)
        return None


def test_a_notification_of_a_record_zoho_no_longer_has_is_decided_as_its_delete(
    shadow: InMemoryShadow,
) -> None:
    fetcher = _GoneFromZoho()
    guard = Guard(shadow, ExactMatcher(), GuardConfig(), fetcher=fetcher, clock=lambda: T0)
    guard.process(event_for(crm_account("1", "Acme Ltd")))

    result = guard.process(
        event_for(crm_account("1", "Acme Ltd", minutes=5), Operation.UPDATE, with_record=False)
    )

    assert fetcher.asked == ["1"]
    assert result.entry is not None
    assert result.entry.kind is EntryKind.DECISION
    assert shadow.states["crm:1"].deleted


def test_a_same_second_change_zoho_no_longer_has_is_decided_as_its_delete(shadow: InMemoryShadow) -> None:
    fetcher = _GoneFromZoho()
    guard = Guard(shadow, ExactMatcher(), GuardConfig(), fetcher=fetcher, clock=lambda: T0)
    guard.process(event_for(crm_account("1", "Acme Ltd")))

    # a second edit within the same second, and the record deleted in Zoho since
    guard.process(event_for(crm_account("1", "Apex Ltd"), Operation.UPDATE))

    assert fetcher.asked == ["1"]
    assert shadow.states["crm:1"].deleted


def test_storm_trips_once_holds_creates_until_reset(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow, storm_threshold=3, storm_window_seconds=600)
    for number in range(3):
        guard.process(event_for(books_customer(f"{number}", f"Company {number}")))
    # a reconnect: CRM records matching the existing customers pour in
    results = [
        guard.process(
            event_for(crm_account(f"c{n}", f"Company {n}", minutes=1 + n / 10), received=at(1 + n / 10))
        )
        for n in range(3)
    ]
    assert [r.decision for r in results] == [Decision.FLAG, Decision.FLAG, Decision.QUARANTINE]
    assert results[2].entry is not None
    assert "MULTIPLICATION_STORM" in results[2].entry.rules
    assert shadow.breaker.open

    # while open, any create is held, without one notification each
    unrelated = guard.process(event_for(crm_account("z", "Zeta Ltd", minutes=2), received=at(2)))
    assert unrelated.decision is Decision.QUARANTINE
    assert unrelated.entry is not None
    assert [a.kind for a in unrelated.entry.actions] == [ActionKind.TAG_CRM_RECORD]

    shadow.reset_breaker()
    after = guard.process(event_for(crm_account("y", "Ypsilon Ltd", minutes=3), received=at(3)))
    assert after.decision is Decision.ALLOW


def _storm_of_two(shadow: InMemoryShadow) -> Guard:
    """Two Books customers, and a guard whose breaker trips on the second matching create."""
    guard = make_guard(shadow, storm_threshold=2, storm_window_seconds=600)
    for number in range(2):
        guard.process(event_for(books_customer(f"{number}", f"Company {number}")))
    return guard


def _matching_create(n: int) -> GuardEvent:
    return event_for(crm_account(f"c{n}", f"Company {n}", minutes=1), received=at(1))


def test_two_storm_hits_counted_at_once_still_trip_the_breaker(shadow: InMemoryShadow) -> None:
    guard = _storm_of_two(shadow)
    # the other create is counted between this one's read (no hits yet) and its commit
    shadow.interleave.append(lambda: make_guard(shadow, storm_threshold=2).process(_matching_create(1)))

    result = guard.process(_matching_create(0))

    assert result.attempts == 2  # re-decided with the other's hit
    assert result.entry is not None
    assert "MULTIPLICATION_STORM" in result.entry.rules
    assert shadow.breaker.open
    assert sum(shadow.windows.values()) == 2


def test_a_create_counted_while_another_trips_the_breaker_is_held(shadow: InMemoryShadow) -> None:
    guard = _storm_of_two(shadow)
    guard.process(_matching_create(0))  # one hit: below the threshold

    def trip() -> None:
        make_guard(shadow, storm_threshold=2).process(_matching_create(1))

    # the trip lands between this create's read (breaker closed) and its commit
    shadow.interleave.append(trip)
    result = guard.process(event_for(crm_account("c9", "Company 0", minutes=2), received=at(2)))

    assert shadow.breaker.opened_by_event == _matching_create(1).event_id
    assert result.attempts == 2
    assert result.decision is Decision.QUARANTINE  # held by the open breaker, not committed unheld
    assert result.entry is not None
    assert "MULTIPLICATION_STORM" in result.entry.rules


def test_onboarding_sole_traders_with_their_contacts_is_no_storm(shadow: InMemoryShadow) -> None:
    # "Accounts & their Contacts": each client is an account, its contact (the same person, the same
    # email) and the Books customer the sync makes for the account. Alike, but nothing is a copy.
    config = GuardConfig(mode=Mode.ENFORCE, storm_threshold=3, storm_window_seconds=600)
    guard = Guard(shadow, LibraryMatcher(), config, clock=lambda: T0)
    people = [("Jane", "Smith"), ("Omar", "Haddad"), ("Priya", "Shah"), ("Tom", "Baker"), ("Lena", "Novak")]
    decisions = []
    for n, (first, last) in enumerate(people):
        email = f"{first.lower()}@{last.lower()}design.co.uk"
        company = f"{first} {last} Design"
        at_minute = n + 0.1
        for record in (
            crm_account(f"a{n}", company, email=email, minutes=at_minute),
            crm_contact(f"c{n}", first, last, email, minutes=at_minute),
            books_customer(f"b{n}", company, linked=f"a{n}", email=email, minutes=at_minute),
        ):
            decisions.append(guard.process(event_for(record, received=at(at_minute))).decision)
    assert not shadow.breaker.open
    assert Decision.QUARANTINE not in decisions


def test_a_contact_is_not_a_duplicate_of_its_own_account_or_its_books_customer(
    shadow: InMemoryShadow,
) -> None:
    # A sole trader: account "Jane Smith Design", the Books customer the sync made for it, and then the
    # contact Jane Smith, with the account's email, added to that account.
    guard = Guard(shadow, LibraryMatcher(), GuardConfig(mode=Mode.ENFORCE), clock=lambda: T0)
    email = "jane@smithdesign.co.uk"
    guard.process(event_for(crm_account("a1", "Jane Smith Design", email=email)))
    guard.process(event_for(books_customer("b1", "Jane Smith Design", linked="a1", email=email, minutes=1)))

    own = crm_contact("c1", "Jane", "Smith", email, minutes=2).model_copy(update={"account_id": "a1"})
    decided = guard.process(event_for(own, received=at(2)))

    assert decided.decision is Decision.ALLOW
    assert decided.entry is not None
    assert decided.entry.rules == ()
    # the same person filed under no account is still compared with the company's records
    stray = crm_contact("c2", "Jane", "Smith", email, minutes=3)
    assert guard.process(event_for(stray, received=at(3))).decision is not Decision.ALLOW


def test_storm_hits_outside_the_window_do_not_add_up(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow, storm_threshold=3, storm_window_seconds=60)
    for number in range(3):
        guard.process(event_for(books_customer(f"{number}", f"Company {number}")))
    for n in range(3):
        later = T0 + timedelta(hours=n)
        guard.process(event_for(crm_account(f"c{n}", f"Company {n}", modified_at=later), received=later))
    assert not shadow.breaker.open


def test_an_over_common_key_stops_growing(shadow: InMemoryShadow, monkeypatch: pytest.MonkeyPatch) -> None:
    from sync_guard.guard import engine

    monkeypatch.setattr(engine, "MAX_KEY_MEMBERS", 2)
    guard = make_guard(shadow)
    for number in range(4):
        guard.process(event_for(crm_account(str(number), "Same Name Ltd", minutes=number)))
    assert shadow.keys["n:same name ltd"].members == {"crm:0", "crm:1"}
    assert shadow.states["crm:3"].keys == {"n:same name ltd"}  # the state still says what it would be under


def test_the_state_remembers_when_the_values_the_sync_carries_last_changed(shadow: InMemoryShadow) -> None:
    # The stall check tells an edit the sync would carry from one it ignores (an owner, a website).
    guard = make_guard(shadow)
    created = crm_account("1", "Acme Ltd", phone="020 7946 0001")
    guard.process(event_for(created))
    guard.process(
        event_for(
            crm_account("1", "Acme Ltd", minutes=5, phone="020 7946 0001", website="acme.example"),
            Operation.UPDATE,
        )
    )
    website_only = shadow.states["crm:1"]
    guard.process(event_for(crm_account("1", "Acme Ltd", minutes=9, phone="020 7946 0002"), Operation.UPDATE))
    new_phone = shadow.states["crm:1"]

    assert website_only.synced_change == epoch_ms(at(0))
    assert new_phone.synced_change == epoch_ms(at(9))


def test_a_workflow_edit_that_does_not_send_every_carried_field_may_have_changed_one(
    shadow: InMemoryShadow,
) -> None:
    # The recommended Accounts template sends no street: an edit of the billing street arrives with the
    # street the shadow held, and the stall check must not read it as an edit the sync ignores.
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd", phone="020 7946 0001", street="1 Old Road")))

    guard.process(_workflow_edit("1", 9, name="Acme Ltd", phone="020 7946 0001"))

    state = shadow.states["crm:1"]
    assert state.record.street == "1 Old Road"  # what the webhook did not send is kept
    assert state.synced_change == epoch_ms(at(9))


class HoldsEveryBooksCustomer(Rule):
    """A rule that would hold every Books customer it sees: what the net under the rules must stop."""

    code = "HOLDS_EVERY_BOOKS_CUSTOMER"
    severity = Severity.HIGH
    title = "Test rule"
    summary = advice = "test"
    default_decision = Decision.QUARANTINE

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        if ctx.record.system is not System.BOOKS:
            return None
        return self.finding(subject=ctx.ref, explanation="held by a test rule", evidence=["test"])


class HoldsThePartner(HoldsEveryBooksCustomer):
    """Holds the event's partner: a second finding, about a record without transactions."""

    code = "HOLDS_THE_PARTNER"

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        if ctx.partner is None:
            return None
        return self.finding(subject=ctx.partner.ref, explanation="held by a test rule", evidence=["test"])


def guard_with_rules(shadow: InMemoryShadow, *rules: Rule) -> Guard:
    config = GuardConfig(mode=Mode.ENFORCE, policy=Policy.build(rules=rules))
    return Guard(shadow, ExactMatcher(), config, rules=rules, clock=lambda: T0, backoff=FakeTime().backoff())


def marked_inactive(entry: AuditEntry | None) -> list[str]:
    assert entry is not None
    return [a.target for a in entry.actions if a.kind is ActionKind.MARK_BOOKS_INACTIVE]


@pytest.mark.parametrize(
    "fields",
    [{"has_transactions": True}, {"outstanding": Decimal("120.00")}],
    ids=["has_transactions", "outstanding"],
)
def test_no_rule_marks_inactive_a_books_customer_holding_transactions(
    shadow: InMemoryShadow, fields: dict[str, object]
) -> None:
    guard = guard_with_rules(shadow, HoldsEveryBooksCustomer())

    result = guard.process(event_for(books_customer("9", "Acme Ltd", **fields)))

    assert result.decision is Decision.FLAG
    assert marked_inactive(result.entry) == []
    assert result.entry is not None
    assert [a.kind for a in result.entry.actions] == [ActionKind.NOTIFY_FINANCE]
    assert f"HOLDS_EVERY_BOOKS_CUSTOMER: books:9 {NOT_HELD_INVOICED}" in result.entry.evidence
    assert result.entry.note == f"books:9 {NOT_HELD_INVOICED}"
    assert shadow.states["books:9"].held_by is None


def test_the_shadow_keeps_a_customer_s_transactions_until_books_says_otherwise(
    shadow: InMemoryShadow,
) -> None:
    guard = guard_with_rules(shadow, HoldsEveryBooksCustomer())
    owed = Decimal("120.00")
    guard.process(event_for(books_customer("9", "Acme Ltd", has_transactions=True, outstanding=owed)))

    # an edit whose payload carries neither field: the customer is still known to hold transactions, in
    # the state the edit leaves (which is what the rules read of it)
    result = guard.process(event_for(books_customer("9", "Acme Trading Ltd", minutes=5), Operation.UPDATE))
    assert result.decision is Decision.FLAG
    assert marked_inactive(result.entry) == []
    assert shadow.states["books:9"].record.has_transactions is True
    assert shadow.states["books:9"].record.outstanding == owed

    # nothing owed says nothing of the invoices: the customer still holds them
    paid = books_customer("9", "Acme Trading Ltd", minutes=10, outstanding=Decimal(0))
    assert marked_inactive(guard.process(event_for(paid, Operation.UPDATE)).entry) == []
    assert shadow.states["books:9"].record.has_transactions is True

    # an explicit "no transactions" counts, and is not contradicted by the balance the shadow last knew
    none = books_customer("9", "Acme Trading Ltd", minutes=15, has_transactions=False)
    result = guard.process(event_for(none, Operation.UPDATE))
    assert result.decision is Decision.QUARANTINE
    assert marked_inactive(result.entry) == ["books:9"]
    assert shadow.states["books:9"].record.outstanding is None


def test_a_spared_customer_does_not_spare_another_finding_s_hold(shadow: InMemoryShadow) -> None:
    guard = guard_with_rules(shadow, HoldsEveryBooksCustomer(), HoldsThePartner())
    guard.process(event_for(crm_account("1", "Acme Ltd")))

    # an invoiced customer linked to the account: one finding would hold it, the other its CRM partner
    result = guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", has_transactions=True)))

    assert result.decision is Decision.QUARANTINE
    assert result.entry is not None
    assert marked_inactive(result.entry) == []
    assert [a.target for a in result.entry.actions if a.kind is ActionKind.TAG_CRM_RECORD] == ["crm:1"]
    assert result.entry.note == f"books:9 {NOT_HELD_INVOICED}"


@pytest.mark.parametrize(
    "hold",
    [HeldRecord("adm_hold", applied=True), HeldRecord("adm_hold", confirmed=True)],
    ids=["applied", "confirmed"],
)
def test_an_invoiced_customer_under_a_standing_hold_its_state_does_not_name_is_audited_as_held(
    shadow: InMemoryShadow, hold: HeldRecord
) -> None:
    # given an invoiced Books customer paired with crm:1, held by an admin after its state was written (a
    # hold made in Zoho, or an observe-mode one confirmed): its state names no hold
    guard = guard_with_rules(shadow, HoldsThePartner())
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", has_transactions=True)))
    shadow.holds["books:9"] = hold
    assert shadow.states["books:9"].held_by is None

    # when an edit of the account meets a rule that would hold its partner
    result = guard.process(event_for(crm_account("1", "Acme Trading Ltd", minutes=5), Operation.UPDATE))

    # then the audit says the customer is held already, by the admin, as for a customer without
    # transactions (before: "not held: it holds transactions ... flagged for review instead", and finance
    # was told of a hold that stood since the admin's)
    assert result.entry is not None
    assert result.entry.note == "books:9 already held by adm_hold"
    assert NOT_HELD_INVOICED not in " ".join(result.entry.evidence)
    assert result.entry.actions == ()
    assert result.attempts == 2
    assert shadow.holds["books:9"] == hold


def test_a_record_seeded_from_an_export_is_compared_with_a_webhooks_times(shadow: InMemoryShadow) -> None:
    # given a CRM account seeded from an export, whose times are the organisation's clock without an
    # offset (as Zoho's exports write them), and never paired
    seeded = crm_account(
        "1",
        "Acme Ltd",
        created_at=parse_time("2026-03-01 09:00:00"),
        modified_at=parse_time("2026-03-01 09:00:00"),
    )
    [loaded] = plan_seed([seeded], [], ExactMatcher(), now=T0).states
    shadow.states[loaded.ref] = loaded
    shadow.keys["n:acme ltd"] = KeyItem("n:acme ltd", frozenset({"crm:1"}), "crm:1", rev=1)

    # when Books creates the same customer, its webhook's times carrying their offset
    result = make_guard(shadow).process(event_for(books_customer("9", "Acme Ltd", minutes=30)))

    # then the two are compared (the export's time read as UTC), not dead-lettered on a TypeError
    assert result.entry is not None
    assert "BOTH_SIDES_CREATED" in result.entry.rules
    assert shadow.states["crm:1"].record.created_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_an_edit_soon_after_a_seeded_uk_summer_export_change_is_decided_not_stale(
    shadow: InMemoryShadow,
) -> None:
    # given a CRM account last changed at 09:00 UTC, seeded from an export of a UK organisation in summer,
    # which writes that change as 10:00 (British Summer Time, UTC+1) without an offset
    exported = crm_account("1", "Acme Ltd", modified_at=parse_time("2026-07-01 10:00:00"))
    [loaded] = plan_seed([exported], [], ExactMatcher(), now=T0).states
    shadow.states[loaded.ref] = loaded

    # when the account is edited 30 minutes after that change, after the seed, its webhook's time exact
    edited = crm_account("1", "Acme Trading Ltd", modified_at=datetime(2026, 7, 1, 9, 30, tzinfo=UTC))
    result = make_guard(shadow).process(event_for(edited, Operation.UPDATE))

    # then the edit is decided and the shadow holds it (before: STALE, "older than the shadow's state")
    assert result.entry is not None
    assert result.entry.kind is not EntryKind.STALE
    assert shadow.states["crm:1"].record.name == "Acme Trading Ltd"


def test_a_record_seeded_from_the_apis_loads_at_its_exact_time() -> None:
    # given a Books customer read from Books' API, whose time carries its offset (BST)
    from_api = books_customer(
        "9", "Acme Ltd", modified_at=datetime.fromisoformat("2026-07-01T10:00:00+01:00")
    )

    [loaded] = plan_seed([], [from_api], ExactMatcher(), now=T0).states

    # then its version is that instant, no earlier: an event older than it is still told apart as stale
    assert loaded.version == int(datetime(2026, 7, 1, 9, 0, tzinfo=UTC).timestamp() * 1000)


# ------------------------------------------------------------------------ a held record merged away


def _held_copy_of_a_synced_account(shadow: InMemoryShadow, **config: object) -> Guard:
    """crm:1 synced to books:9, a contact of the same name, and crm:2 a copy of crm:1 the guard holds."""
    guard = make_guard(shadow, policy=Policy.build({"SAME_SIDE_DUPLICATE": "quarantine"}), **config)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=1)))
    guard.process(event_for(crm_contact("5", "Acme", "Ltd", None, minutes=1.5)))
    held = guard.process(event_for(crm_account("2", "Acme Ltd", minutes=2)))
    assert held.decision is Decision.QUARANTINE
    return guard


def _checks(
    result: object, kind: ActionKind = ActionKind.CLEAR_CARRIED_HOLD_TAG
) -> list[tuple[str, dict[str, object], bool]]:
    """The ``kind`` checks for a carried hold tag a decision queued: target, parameters, whether run."""
    entry = getattr(result, "entry", None)
    assert isinstance(entry, AuditEntry)
    return [(a.target, a.params, a.execute) for a in entry.actions if a.kind is kind]


def test_a_held_crm_record_deleted_has_the_records_it_matched_checked_for_a_carried_hold_tag(
    shadow: InMemoryShadow,
) -> None:
    # given a copy the guard holds, of an account synced to Books
    guard = _held_copy_of_a_synced_account(shadow)
    assert shadow.states["crm:2"].held_by is not None

    # when it is deleted (a manual merge into crm:1 deletes the record merged away)
    result = guard.process(event_for(crm_account("2", "Acme Ltd", minutes=3), Operation.DELETE))

    # then the account it duplicates is checked for the hold tag the merge may have passed on: only CRM
    # records of its module (neither the Books customer nor the contact could have been its master)
    assert _checks(result) == [
        ("crm:1", {"tag": "sync-guard-hold", "module": "Accounts", "merged_from": "crm:2"}, True)
    ]
    assert result.entry is not None
    assert "crm:1" in result.entry.records  # the master's audit trail shows the check
    assert "checking crm:1 for the hold tag a CRM merge may have passed on" in result.entry.note
    assert shadow.states["crm:1"].echo_expected == {}  # the check may write nothing: no echo is expected


def _sweeps(result: object) -> list[tuple[str, dict[str, object], bool]]:
    return _checks(result, ActionKind.SWEEP_CARRIED_HOLD_TAG)


def test_a_held_crm_record_deleted_has_the_records_crm_changed_then_checked_for_a_carried_hold_tag(
    shadow: InMemoryShadow,
) -> None:
    # given a copy the guard holds
    guard = _held_copy_of_a_synced_account(shadow)
    deleted = event_for(crm_account("2", "Acme Ltd", minutes=3), Operation.DELETE)

    # when it is deleted: a merge into a record it did not match (another company's) deletes it too
    result = guard.process(deleted)

    # then the records CRM changed at that moment (the record a merge kept among them) are checked too,
    # leaving out the record the other check reads (before: nothing looked beyond the records it matched)
    assert _sweeps(result) == [
        (
            "crm:2",
            {
                "tag": "sync-guard-hold",
                "module": "Accounts",
                "merged_from": "crm:2",
                "deleted_at": deleted.received_at.isoformat(),
                "checked": ["crm:1"],
            },
            True,
        )
    ]
    assert result.entry is not None
    assert result.entry.note.endswith(
        "checking crm:1 for the hold tag a CRM merge may have passed on, and the CRM records changed when it "
        "was deleted (a merge into a record it did not match)"
    )


def test_a_held_crm_record_that_matched_no_live_record_is_still_looked_after_when_deleted(
    shadow: InMemoryShadow,
) -> None:
    # given the copy held, and the account it duplicated deleted since: no live record it matched is left
    guard = _held_copy_of_a_synced_account(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd", minutes=2.5), Operation.DELETE))

    result = guard.process(event_for(crm_account("2", "Acme Ltd", minutes=3), Operation.DELETE))

    # then only the records CRM changed when it was deleted can have been its master
    assert _checks(result) == []
    assert [target for target, _, _ in _sweeps(result)] == ["crm:2"]
    assert result.entry is not None
    assert "crm:2 was held: checking the CRM records changed when it was deleted" in result.entry.note


def test_deleting_a_record_the_guard_does_not_hold_checks_nothing(shadow: InMemoryShadow) -> None:
    guard = _held_copy_of_a_synced_account(shadow)
    guard.process(event_for(crm_account("3", "Zeta Ltd", minutes=2.5)))
    guard.process(event_for(crm_account("4", "Zeta Ltd", minutes=2.6)))  # held too
    shadow.states["crm:4"] = shadow.states["crm:4"].model_copy(update={"held_by": None})
    shadow.holds.pop("crm:4")

    result = guard.process(event_for(crm_account("4", "Zeta Ltd", minutes=3), Operation.DELETE))

    assert _checks(result) == []
    assert _sweeps(result) == []


def test_a_held_copy_deleted_in_observe_mode_checks_nothing(shadow: InMemoryShadow) -> None:
    # given the copy held in observe mode: listed, never tagged in Zoho
    guard = _held_copy_of_a_synced_account(shadow, mode=Mode.OBSERVE)
    assert "crm:2" in shadow.holds
    assert shadow.states["crm:2"].held_by is None

    result = guard.process(event_for(crm_account("2", "Acme Ltd", minutes=3), Operation.DELETE))

    # then there is no tag a merge could have passed on
    assert _checks(result) == []
    assert _sweeps(result) == []


def test_a_record_under_an_admins_hold_written_in_observe_mode_is_checked_when_deleted(
    shadow: InMemoryShadow,
) -> None:
    # given the guard observing, and crm:2 held by an admin in Zoho on purpose (`preflight --apply`)
    guard = _held_copy_of_a_synced_account(shadow, mode=Mode.OBSERVE)
    shadow.holds["crm:2"] = HeldRecord("adm_hold", applied=True)

    result = guard.process(event_for(crm_account("2", "Acme Ltd", minutes=3), Operation.DELETE))

    # then the account it duplicates is checked, and the check is carried out although the guard observes:
    # the admin's tag is in Zoho, so the copy a merge passed on is just as real (as the hold's own undo is
    # carried out in observe mode: see AdminService.release)
    assert result.entry is not None
    [check] = [a for a in result.entry.actions if a.kind is ActionKind.CLEAR_CARRIED_HOLD_TAG]
    assert (check.target, check.execute, check.mode) == ("crm:1", True, Mode.ENFORCE)
    assert check.params["admin_hold"] == "adm_hold"


def test_a_guard_hold_applied_by_an_admin_counts_as_the_admins_when_deleted_in_observe_mode(
    shadow: InMemoryShadow,
) -> None:
    # given the guard's own observe-mode hold of crm:2, written to Zoho since by an admin (`quarantines
    # apply`, in enforce mode), and the guard observing again
    guard = _held_copy_of_a_synced_account(shadow, mode=Mode.OBSERVE)
    held = shadow.holds["crm:2"]
    shadow.holds["crm:2"] = HeldRecord(held.entry_id, applied=True, applied_by_admin=True)
    shadow.states["crm:2"] = shadow.states["crm:2"].model_copy(update={"held_by": held.entry_id})

    result = guard.process(event_for(crm_account("2", "Acme Ltd", minutes=3), Operation.DELETE))

    assert [(target, execute) for target, _, execute in _checks(result)] == [("crm:1", True)]


def test_the_guards_own_hold_deleted_after_a_switch_to_observe_follows_the_guards_mode(
    shadow: InMemoryShadow,
) -> None:
    # given the guard's own hold written in enforce mode, and the guard observing since: the guard writes
    # nothing it decides in observe mode, as a release of that hold writes no undo either
    _held_copy_of_a_synced_account(shadow)
    assert shadow.holds["crm:2"].applied
    policy = Policy.build({"SAME_SIDE_DUPLICATE": "quarantine"})
    observing = make_guard(shadow, policy=policy, mode=Mode.OBSERVE)

    result = observing.process(event_for(crm_account("2", "Acme Ltd", minutes=3), Operation.DELETE))

    assert [(target, execute) for target, _, execute in _checks(result)] == [("crm:1", False)]


def test_the_records_a_deleted_held_record_may_have_been_merged_into_are_the_known_ones_first() -> None:
    def candidate(record: PartyRecord, score: float, **fields: object) -> Candidate:
        return Candidate(RecordState(record=record, version=1, **fields), MatchView(score, "duplicate"))  # type: ignore[arg-type]

    deleted = RecordState(record=crm_account("2", "Acme Ltd"), version=1, deleted=True)
    candidates = [
        candidate(crm_account("3", "Acme Ltd"), 0.99),
        candidate(crm_account("4", "Acme Limited"), 0.8, partner="books:9"),  # the one the sync knows
        candidate(crm_account("5", "Acme Ltd"), 0.9),
        candidate(crm_account("6", "Acme Ltd"), 1.0, deleted=True),
        candidate(crm_contact("7", "Acme", "Ltd", None), 1.0),
        candidate(books_customer("8", "Acme Ltd"), 1.0),
    ]

    assert possible_merge_masters(deleted, candidates) == ("crm:4", "crm:3", "crm:5")
    many = [candidate(crm_account(str(n), "Acme Ltd"), 0.9) for n in range(10, 30)]
    assert len(possible_merge_masters(deleted, many)) == MAX_TAG_CHECKS
    books = RecordState(record=books_customer("2", "Acme Ltd"), version=1, deleted=True)
    assert possible_merge_masters(books, candidates) == ()  # Books has no merge that passes tags on


def test_a_delete_in_the_second_of_two_changes_is_not_taken_for_older_than_them(
    shadow: InMemoryShadow,
) -> None:
    # Two saves at 10:00:00 (the second ordered just after the first), then Books deletes the customer and
    # sends it whole, its last modified time 10:00:00 still: nothing changes a record after its delete.
    guard = make_guard(shadow)
    guard.process(event_for(books_customer("1", "Zeta Foods Ltd")))
    guard.process(
        event_for(books_customer("1", "Zeta Foods Ltd", phone="+44 20 7946 0000"), Operation.UPDATE)
    )
    customer = shadow.states["books:1"].record
    delete = event_for(customer, Operation.DELETE, received=at(1)).model_copy(update={"record": customer})

    result = guard.process(delete)

    assert result.entry is not None
    assert result.entry.kind is not EntryKind.STALE
    assert shadow.states["books:1"].deleted


def test_an_echo_that_also_moves_the_customer_keys_it_at_its_new_address(shadow: InMemoryShadow) -> None:
    # The first edit after the guard's own mark that keeps the customer's identity is taken as its echo,
    # even when it also moves the customer: the state it writes must be indexed as that record is.
    matcher = LibraryMatcher()
    guard = Guard(shadow, matcher, GuardConfig(mode=Mode.ENFORCE), clock=lambda: T0)
    guard.process(event_for(books_customer("9", "Acme Ltd", has_transactions=True)))
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=2), Operation.UPDATE))
    dup = books_customer("10", "Acme Ltd.", linked="1", minutes=3, street="1 Old Road")
    assert guard.process(event_for(dup)).decision is Decision.QUARANTINE

    moved = dup.model_copy(update={"active": False, "street": "12 High Street", "modified_at": at(4)})
    result = guard.process(event_for(moved, Operation.UPDATE))

    assert result.entry is not None
    assert result.entry.kind is EntryKind.SELF_ECHO
    state = shadow.states["books:10"]
    assert state.keys == shadow_keys(moved, matcher)
    assert {key for key, item in shadow.keys.items() if "books:10" in item.members} == state.keys
    # the street is a value the sync carries: the stall check must see it changed
    assert state.synced_change == epoch_ms(at(4))


def test_a_workflow_edit_indexes_the_record_under_every_key_its_state_lists(shadow: InMemoryShadow) -> None:
    # A template that sends the email and the phone only: the keys its payload alone gives are not those of
    # the record it edits, the name's among them (a key the email made room for, here).
    guard = Guard(shadow, LibraryMatcher(), GuardConfig(mode=Mode.ENFORCE), clock=lambda: T0)
    seeded = crm_account(
        "1",
        "Quartz Analytics Ltd",
        vat="GB123456789",
        street="12 Harbour Road",
        email="ap@quartz.example",
        phone="020 7946 0001",
        website="quartz.example",
    )
    guard.process(event_for(seeded))

    guard.process(_workflow_edit("1", 10, phone="020 7946 0001", email=""))

    state = shadow.states["crm:1"]
    assert state.record.email is None
    assert "q:q*|analytics" in state.keys
    assert {key for key, item in shadow.keys.items() if "crm:1" in item.members} == state.keys


def test_a_link_to_a_crm_record_created_at_that_moment_pairs_both_sides(shadow: InMemoryShadow) -> None:
    # Books -> CRM sync: the customer exists, the sync creates its CRM account and links the two; the two
    # webhooks are decided at once and share no key either of them writes.
    guard = make_guard(shadow)
    guard.process(event_for(books_customer("9", "Acme Ltd")))
    crm_create = event_for(crm_account("1", "Acme Ltd", minutes=1))
    link = event_for(books_customer("9", "Acme Ltd", linked="1", minutes=1), Operation.UPDATE)
    # the CRM account's create commits between the link's read (no account yet) and its commit
    shadow.interleave.append(lambda: make_guard(shadow).process(crm_create))

    guard.process(link)

    assert shadow.states["books:9"].partner == "crm:1"
    assert shadow.states["crm:1"].partner == "books:9"


def test_a_books_vendor_deleted_is_never_taken_for_a_deleted_customer(shadow: InMemoryShadow) -> None:
    # given a supplier the guard never kept, deleted in Books, which sends the deleted contact whole
    guard = make_guard(shadow)
    vendor = books_customer("20", "Acme Ltd").model_copy(update={"module": Module.BOOKS_VENDORS})
    delete = event_for(vendor, Operation.DELETE, received=at(1)).model_copy(update={"record": vendor})

    gone = guard.process(delete)

    # then it is audited as not guarded, and neither kept nor indexed ...
    assert gone.entry is not None
    assert gone.entry.kind is EntryKind.NOT_GUARDED
    assert "books:20" not in shadow.states
    assert "n:acme ltd" not in shadow.keys
    # ... so a customer of that name created later is no recreation of it
    customer = guard.process(event_for(books_customer("21", "Acme Ltd", minutes=2), received=at(2)))
    assert customer.entry is not None
    assert "RECREATED_AFTER_DELETE" not in customer.entry.rules


def _paired_then_crm_deleted(shadow: InMemoryShadow) -> tuple[Guard, AuditEntry]:
    """Acme's CRM account and its Books customer, paired by Zoho's link; then the account deleted in CRM."""
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=1)))
    deleted = guard.process(event_for(crm_account("1", "Acme Ltd", minutes=2), Operation.DELETE))
    assert deleted.entry is not None
    return guard, deleted.entry


def _notices(entry: AuditEntry | None) -> list[str]:
    assert entry is not None
    return [a.target for a in entry.actions if a.kind is ActionKind.NOTIFY_FINANCE]


def test_a_books_edit_still_linked_to_a_deleted_crm_record_leaves_it_an_orphan(
    shadow: InMemoryShadow,
) -> None:
    # given the CRM delete processed first: finance told of the orphan once, by the delete
    guard, deleted = _paired_then_crm_deleted(shadow)
    assert deleted.rules == ("PARTNER_DELETED",)
    assert _notices(deleted) == ["books:9"]

    # when the customer's next edit still carries Zoho's link to the deleted account (the sync keeps it)
    edit = guard.process(
        event_for(books_customer("9", "Acme Ltd", linked="1", minutes=3, phone="+44 1"), Operation.UPDATE)
    )

    # then it is not paired again with the deleted record, and finance is not told the same thing again
    assert shadow.states["books:9"].partner is None
    assert shadow.states["books:9"].former_partner == "crm:1"
    assert shadow.states["crm:1"].partner is None
    assert edit.entry is not None
    assert edit.decision is Decision.ALLOW
    assert _notices(edit.entry) == []
    assert "books:9 still carries Zoho's link to crm:1, which is deleted: left unpaired" in edit.entry.note


def test_a_books_customer_first_met_linked_to_a_deleted_crm_record_is_reported_as_its_orphan(
    shadow: InMemoryShadow,
) -> None:
    # given a CRM account deleted before the guard met its Books customer: nobody was told of the orphan
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    gone = guard.process(event_for(crm_account("1", "Acme Ltd", minutes=1), Operation.DELETE))
    assert _notices(gone.entry) == []

    edit = guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=2), Operation.UPDATE))

    # then it is an orphan, reported as the CRM delete reports one (its subject the surviving customer)
    assert shadow.states["books:9"].partner is None
    assert shadow.states["books:9"].former_partner == "crm:1"
    assert edit.entry is not None
    assert edit.entry.rules == ("PARTNER_DELETED",)
    assert edit.decision is Decision.FLAG
    finding = edit.entry.findings[0]
    assert finding.subject == "books:9"
    assert finding.related == ("crm:1",)
    assert _notices(edit.entry) == ["books:9"]
    # ... once: its next edit is quiet
    again = guard.process(
        event_for(books_customer("9", "Acme Ltd", linked="1", minutes=3, phone="+44 1"), Operation.UPDATE)
    )
    assert again.decision is Decision.ALLOW
    assert shadow.states["books:9"].partner is None


def test_a_books_customer_first_met_linked_to_a_crm_record_deleted_unseen_is_its_orphan(
    shadow: InMemoryShadow,
) -> None:
    # given the delete of a CRM account the guard never saw (a tombstone without a name)
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd"), Operation.DELETE))

    edit = guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=2), Operation.UPDATE))

    assert shadow.states["books:9"].partner is None
    assert edit.entry is not None
    assert edit.entry.rules == ("PARTNER_DELETED",)


def test_a_books_edit_before_the_crm_delete_is_processed_is_paired_and_the_delete_orphans_it(
    shadow: InMemoryShadow,
) -> None:
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=1)))
    edit = guard.process(
        event_for(books_customer("9", "Acme Ltd", linked="1", minutes=2, phone="+44 1"), Operation.UPDATE)
    )
    assert edit.decision is Decision.ALLOW
    assert shadow.states["books:9"].partner == "crm:1"

    deleted = guard.process(event_for(crm_account("1", "Acme Ltd", minutes=3), Operation.DELETE))

    assert deleted.entry is not None
    assert deleted.entry.rules == ("PARTNER_DELETED",)
    assert shadow.states["books:9"].partner is None
    assert shadow.states["books:9"].former_partner == "crm:1"


def test_a_crm_record_restored_after_its_delete_is_paired_again_with_its_books_customer(
    shadow: InMemoryShadow,
) -> None:
    # given the orphan's edit processed after the delete
    guard, _ = _paired_then_crm_deleted(shadow)
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1", minutes=3), Operation.UPDATE))
    assert shadow.states["books:9"].partner is None

    # when the account comes back from CRM's recycle bin, same id, and is edited
    restored = guard.process(event_for(crm_account("1", "Acme Ltd", minutes=4), Operation.UPDATE))

    # then Zoho's link, which the customer kept, pairs them again
    assert restored.entry is not None
    assert not shadow.states["crm:1"].deleted
    assert shadow.states["crm:1"].partner == "books:9"
    assert shadow.states["books:9"].partner == "crm:1"
    later = guard.process(
        event_for(books_customer("9", "Acme Ltd", linked="1", minutes=5, phone="+44 1"), Operation.UPDATE)
    )
    assert later.decision is Decision.ALLOW
    assert shadow.states["books:9"].partner == "crm:1"


def test_a_delete_marks_its_record_deleted_in_its_keys_and_its_return_marks_it_live(
    shadow: InMemoryShadow,
) -> None:
    guard, _ = _paired_then_crm_deleted(shadow)
    # the delete keeps the record in its key (a recreation still finds it), marked deleted there
    assert shadow.keys["n:acme ltd"].members == {"crm:1", "books:9"}
    assert shadow.keys["n:acme ltd"].gone == {"crm:1"}

    guard.process(event_for(crm_account("1", "Acme Ltd", minutes=4), Operation.UPDATE))

    assert shadow.keys["n:acme ltd"].members == {"crm:1", "books:9"}
    assert shadow.keys["n:acme ltd"].gone == frozenset()


def test_a_tombstone_of_a_record_the_guard_never_saw_is_marked_deleted_in_its_keys(
    shadow: InMemoryShadow,
) -> None:
    guard = make_guard(shadow)
    customer = books_customer("1", "Zeta Foods Ltd")
    guard.process(event_for(customer, Operation.DELETE).model_copy(update={"record": customer}))

    assert shadow.keys["n:zeta foods ltd"].gone == {"books:1"}


def _vendor(customer: PartyRecord, minutes: float) -> PartyRecord:
    """``customer`` edited into a supplier in Books (``contact_type: vendor``)."""
    return customer.model_copy(update={"module": Module.BOOKS_VENDORS, "modified_at": at(minutes)})


def test_a_customer_turned_vendor_is_retired_from_matching_and_its_pair_ends_quietly(
    shadow: InMemoryShadow,
) -> None:
    # given a Books customer paired with its CRM account
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    customer = books_customer("9", "Acme Ltd", linked="1", minutes=1)
    guard.process(event_for(customer))

    # when Books edits it into a vendor
    turned = guard.process(event_for(_vendor(customer, 2), Operation.UPDATE))

    # then it is audited, allowed and no longer a customer: out of every key, unpaired, finance not told
    assert turned.entry is not None
    assert turned.entry.kind is EntryKind.NOT_GUARDED
    assert turned.decision is Decision.ALLOW
    assert turned.entry.actions == ()
    assert "vendor" in turned.entry.note
    assert turned.entry.records == ("books:9", "crm:1")
    assert "books:9" not in shadow.keys["n:acme ltd"].members
    assert "books:9" not in shadow.keys["link:crm:1"].members
    assert shadow.states["books:9"].partner is None
    assert shadow.states["crm:1"].partner is None
    assert shadow.states["crm:1"].former_partner == "books:9"
    # ... so a new customer of that name is neither its duplicate nor its recreation
    new = guard.process(event_for(books_customer("10", "Acme Ltd", minutes=3), received=at(3)))
    assert new.entry is not None
    assert "RECREATED_AFTER_DELETE" not in new.entry.rules
    assert "books:9" not in new.entry.records
    # ... nor of the one the sync makes for its CRM account (read with the account's former partner)
    synced = guard.process(event_for(books_customer("11", "Acme Ltd", linked="1", minutes=4), received=at(4)))
    assert synced.entry is not None
    assert "RECREATED_AFTER_DELETE" not in synced.entry.rules
    assert "books:9" not in synced.entry.records
    assert shadow.states["crm:1"].partner == "books:11"


def test_a_vendor_turned_customer_again_is_a_customer_like_a_create(shadow: InMemoryShadow) -> None:
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    customer = books_customer("9", "Acme Ltd", linked="1", minutes=1)
    guard.process(event_for(customer))
    guard.process(event_for(_vendor(customer, 2), Operation.UPDATE))

    back = guard.process(event_for(customer.model_copy(update={"modified_at": at(3)}), Operation.UPDATE))

    assert back.entry is not None
    assert back.entry.kind is EntryKind.DECISION
    assert back.decision is Decision.ALLOW
    assert not shadow.states["books:9"].deleted
    assert "books:9" in shadow.keys["n:acme ltd"].members
    assert shadow.states["books:9"].partner == "crm:1"
    assert shadow.states["crm:1"].partner == "books:9"


@pytest.mark.parametrize("edited", [False, True], ids=["after-its-create", "after-an-edit"])
def test_a_customer_turned_vendor_within_the_second_of_its_state_is_retired(
    shadow: InMemoryShadow, edited: bool
) -> None:
    # given a Books customer paired with its CRM account, created (and maybe edited) at minute 1
    guard = make_guard(shadow)
    guard.process(event_for(crm_account("1", "Acme Ltd")))
    customer = books_customer("9", "Acme Ltd", linked="1", minutes=1)
    guard.process(event_for(customer))
    if edited:
        guard.process(event_for(customer.model_copy(update={"phone": "0161 496 0000"}), Operation.UPDATE))

    # when Books edits it into a vendor within that same second (Zoho's times have whole seconds)
    turned = guard.process(event_for(_vendor(customer, 1), Operation.UPDATE))

    # then it is retired all the same: the later change of its second
    assert turned.entry is not None
    assert turned.entry.kind is EntryKind.NOT_GUARDED
    assert "retired from matching" in turned.entry.note
    assert shadow.states["books:9"].deleted
    assert shadow.states["books:9"].record.module is Module.BOOKS_VENDORS
    assert "books:9" not in shadow.keys["n:acme ltd"].members
    assert shadow.states["crm:1"].partner is None
    # ... and its redelivery changes nothing more
    again = guard.process(event_for(_vendor(customer, 1), Operation.UPDATE))
    assert again.already_processed


def test_a_vendor_edit_older_than_the_customers_state_does_not_retire_it(shadow: InMemoryShadow) -> None:
    # given a Books customer edited at minute 2
    guard = make_guard(shadow)
    customer = books_customer("9", "Acme Ltd", minutes=1)
    guard.process(event_for(customer))
    guard.process(event_for(customer.model_copy(update={"modified_at": at(2)}), Operation.UPDATE))

    # when an edit into a vendor from minute 1 (since undone) arrives late, the same second's create too
    late = guard.process(event_for(_vendor(customer, 1), Operation.UPDATE))
    created = guard.process(event_for(_vendor(customer, 2), Operation.CREATE))

    # then the customer stays a customer, matched as before
    assert late.entry is not None
    assert created.entry is not None
    assert "retired" not in late.entry.note
    assert "retired" not in created.entry.note
    assert shadow.states["books:9"].live
    assert shadow.states["books:9"].record.module is Module.BOOKS_CUSTOMERS
    assert "books:9" in shadow.keys["n:acme ltd"].members


def test_a_crm_record_the_guard_never_saw_deleted_after_its_books_customer_leaves_an_orphan(
    shadow: InMemoryShadow,
) -> None:
    # given a Books customer paired through Zoho's link with a CRM account the guard has not met
    guard = make_guard(shadow)
    guard.process(event_for(books_customer("9", "Acme Ltd", linked="1")))
    assert shadow.states["books:9"].partner == "crm:1"

    # when that account's delete is processed
    deleted = guard.process(event_for(crm_account("1", "Acme Ltd", minutes=1), Operation.DELETE))

    # then the customer is its orphan, reported as a CRM delete reports one, and a tombstone stays
    assert deleted.entry is not None
    assert deleted.entry.rules == ("PARTNER_DELETED",)
    assert deleted.entry.findings[0].subject == "books:9"
    assert _notices(deleted.entry) == ["books:9"]
    assert shadow.states["crm:1"].deleted
    assert shadow.states["crm:1"].partner is None
    assert shadow.states["books:9"].partner is None
    assert shadow.states["books:9"].former_partner == "crm:1"
    # ... and its next edit, still linked, is quiet
    edit = guard.process(
        event_for(books_customer("9", "Acme Ltd", linked="1", minutes=2, phone="+44 1"), Operation.UPDATE)
    )
    assert edit.decision is Decision.ALLOW
    assert shadow.states["books:9"].partner is None
