"""The executor's decisions over fakes: claim once, retry, dead-letter, refuse, observe, notify once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sync_guard.config import Mode
from sync_guard.executor import ActionMessage, ActionStatus, Executor, ExecutorConfig, zoho_actions
from sync_guard.executor.model import Claim, NoticeClaim, Refusal
from sync_guard.executor.zoho_actions import HoldSettings
from sync_guard.guard.model import ActionKind, AuditEntry, Decision, EntryKind, OutboxAction
from sync_guard.notify import InMemoryNotifier, NotificationFailed, RenderedMessage, ZohoLinks
from sync_guard.reconcile.organization import OrganizationRecordUnreadable
from sync_guard.reconcile.ports import BooksOrganization
from sync_guard.zoho.errors import BooksApiError, ZohoAuthError, ZohoRateLimited, ZohoServerError, ZohoTimeout
from tests.unit.executor.fakes_executor import (
    T0,
    FakeContext,
    FakeSent,
    FakeStore,
    FakeZoho,
    action,
    books_state,
    decision_entry,
)


class FailingNotifier:
    """Publishes the first ``succeed`` messages, then fails (SNS throttled mid-batch)."""

    def __init__(self, succeed: int) -> None:
        self.succeed = succeed
        self.messages: list[RenderedMessage] = []

    def publish(self, message: RenderedMessage) -> str:
        if len(self.messages) >= self.succeed:
            raise NotificationFailed("SNS throttled")
        self.messages.append(message)
        return f"m{len(self.messages)}"


def make(
    store: FakeStore,
    *,
    zoho: FakeZoho | None = None,
    context: FakeContext | None = None,
    notifier: object | None = None,
    sent: FakeSent | None = None,
    mode: Mode = Mode.ENFORCE,
    checkbox: str = "",
    books_organization: tuple[str, str] | None = None,
    links: ZohoLinks | None = None,
) -> Executor:
    """``books_organization``: the configured and the recorded Books organisation ids."""
    zoho = zoho or FakeZoho()
    chosen = notifier or InMemoryNotifier()
    return Executor(
        store=store,
        context=context or FakeContext(),
        sent_notices=sent or FakeSent(),
        zoho=lambda: zoho,  # type: ignore[arg-type,return-value]
        notifier=lambda: chosen,  # type: ignore[arg-type,return-value]
        config=ExecutorConfig(
            mode=mode,
            hold=HoldSettings("hold-tag", checkbox),
            max_receives=5,
            books_organization_id=books_organization[0] if books_organization else "",
            links=links,
        ),
        clock=lambda: T0,
        recorded_books_organization=(
            (lambda: BooksOrganization(books_organization[1], T0 - timedelta(days=9), "seed"))
            if books_organization
            else None
        ),
    )


def msg(action_id: str, receives: int = 1, message_id: str = "m1") -> ActionMessage:
    return ActionMessage(message_id, action_id, receives)


def test_a_hold_runs_once_and_a_second_delivery_does_nothing() -> None:
    store, zoho = FakeStore(), FakeZoho()
    tag = action(ActionKind.TAG_CRM_RECORD, "crm:1", tag="hold-tag", module="Contacts")
    store.add(tag)
    executor = make(store, zoho=zoho)

    first = executor.run_batch([msg(tag.action_id)])
    second = executor.run_batch([msg(tag.action_id, message_id="m2")])

    assert zoho.crm.calls == [("add_tags", "1", ("Contacts", ("hold-tag",)))]
    assert first.results[0].status is ActionStatus.DONE
    assert second.results[0].status is ActionStatus.DONE  # refused: already done, acknowledged
    assert second.failed_message_ids == []
    [entry] = store.entries
    assert entry.kind is EntryKind.ACTION
    assert entry.actor == "executor"
    assert entry.operation == "tag_crm_record:done"


def test_a_checkbox_field_is_ticked_with_workflows_suppressed() -> None:
    store, zoho = FakeStore(), FakeZoho()
    tag = action(ActionKind.TAG_CRM_RECORD, "crm:7")
    store.add(tag)

    make(store, zoho=zoho, checkbox="Sync_Hold").run_batch([msg(tag.action_id)])

    assert zoho.crm.calls[1] == ("update_record", "7", ({"Sync_Hold": True}, []))


@pytest.mark.parametrize(
    "error",
    [ZohoRateLimited("429", retry_after=1), ZohoServerError("500", http_status=500), ZohoTimeout("t")],
)
def test_retryable_errors_are_left_for_sqs(error: Exception) -> None:
    store, zoho = FakeStore(), FakeZoho()
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:9")
    store.add(hold)
    zoho.books.errors.append(error)

    result = make(store, zoho=zoho).run_batch([msg(hold.action_id, receives=2)])

    assert result.failed_message_ids == ["m1"]
    assert store.items[hold.action_id].status is ActionStatus.RETRYING
    assert store.entries == []  # only outcomes are audited, not every attempt


def test_the_last_receive_dead_letters_and_audits_it() -> None:
    store, zoho = FakeStore(), FakeZoho()
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:9")
    store.add(hold)
    zoho.books.errors.append(ZohoServerError("500", http_status=503))

    result = make(store, zoho=zoho).run_batch([msg(hold.action_id, receives=5)])

    assert result.failed_message_ids == ["m1"]  # SQS moves it to the DLQ on its next receive
    assert store.items[hold.action_id].status is ActionStatus.DEAD_LETTERED
    assert store.entries[0].operation == "mark_books_inactive:dead_lettered"
    assert "replay-dlq" in store.entries[0].note
    # a replayed message runs it again, once
    make(store, zoho=zoho).run_batch([msg(hold.action_id, receives=1)])
    assert zoho.books.calls == [("mark_inactive", "9")]
    assert store.items[hold.action_id].status is ActionStatus.DONE


def test_a_books_hold_under_another_organisation_waits_in_the_dead_letter_queue_for_the_parameter() -> None:
    # given the guard configured for another Books organisation than the shadow's, and a hold of one of
    # the shadow's customers (the other organisation would answer "does not exist": failed for good)
    store, zoho = FakeStore(), FakeZoho()
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:9")
    tag = action(ActionKind.TAG_CRM_RECORD, "crm:1", tag="hold-tag", module="Accounts")
    store.add(hold)
    store.add(tag)
    moved = ("20099999999", "20081234567")

    first = make(store, zoho=zoho, books_organization=moved).run_batch([msg(hold.action_id, receives=4)])
    retried = store.items[hold.action_id].status
    last = make(store, zoho=zoho, books_organization=moved).run_batch([msg(hold.action_id, receives=5)])
    crm = make(store, zoho=zoho, books_organization=moved).run_batch([msg(tag.action_id)])

    # then Books is not written, the hold is retried and then dead-lettered naming both ids; CRM goes on
    assert zoho.books.calls == []
    assert (first.failed_message_ids, retried) == (["m1"], ActionStatus.RETRYING)
    assert last.results[0].status is ActionStatus.DEAD_LETTERED
    [entry] = [e for e in store.entries if e.operation == "mark_books_inactive:dead_lettered"]
    assert "ZohoBooksOrganizationId is 20099999999" in entry.note
    assert "organisation 20081234567" in entry.note
    assert crm.results[0].status is ActionStatus.DONE
    # and once the parameter is put back, the replayed hold is written
    make(store, zoho=zoho, books_organization=("20081234567",) * 2).run_batch([msg(hold.action_id)])
    assert zoho.books.calls == [("mark_inactive", "9")]


def test_a_refusal_fails_the_action_without_retry() -> None:
    store, zoho = FakeStore(), FakeZoho()
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:404")
    store.add(hold)
    zoho.books.errors.append(BooksApiError(1002, "Contact does not exist", http_status=404))

    result = make(store, zoho=zoho).run_batch([msg(hold.action_id)])

    assert result.failed_message_ids == []
    assert store.items[hold.action_id].status is ActionStatus.FAILED
    # in words an admin reads in the audit trail, not a Python class name
    assert store.entries[0].note == "Zoho refused, not retried: Books error 1002: Contact does not exist"


def test_a_books_hold_replayed_after_the_customer_was_invoiced_is_not_written() -> None:
    # given a hold decided on a new customer, dead-lettered while Zoho failed; the customer invoiced since
    store, zoho = FakeStore(), FakeZoho()
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:9")
    store.add(hold, ActionStatus.DEAD_LETTERED)
    zoho.books.customers["9"] = books_state("9", "Acme Ltd", has_transactions=True).record

    # when the dead letter is replayed
    result = make(store, zoho=zoho).run_batch([msg(hold.action_id, receives=1)])

    # then the invoiced customer is not marked inactive, and the outcome says why (no retry: it never heals)
    assert zoho.books.calls == []
    assert result.failed_message_ids == []
    assert store.items[hold.action_id].status is ActionStatus.FAILED
    assert "holds transactions" in store.entries[0].note
    # one with a balance outstanding is invoiced too; one with neither is held
    zoho.books.customers["8"] = books_state("8", "Bcme Ltd", outstanding=Decimal("12.50")).record
    zoho.books.customers["7"] = books_state("7", "Ccme Ltd").record
    for target in ("books:8", "books:7"):
        store.add(action(ActionKind.MARK_BOOKS_INACTIVE, target))
    make(store, zoho=zoho).run_batch(
        [msg(action(ActionKind.MARK_BOOKS_INACTIVE, t).action_id) for t in ("books:8", "books:7")]
    )
    assert zoho.books.calls == [("mark_inactive", "7")]
    # an admin's hold on an invoiced customer is a person's choice: written
    admin_hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:9", event="adm_1").model_copy(
        update={"decision": Decision.ADMIN}
    )
    store.add(admin_hold)
    make(store, zoho=zoho).run_batch([msg(admin_hold.action_id)])
    assert zoho.books.calls == [("mark_inactive", "7"), ("mark_inactive", "9")]


@pytest.mark.parametrize("error", [ValueError("bad record id 'x'"), KeyError("Tag")], ids=["value", "lookup"])
def test_bad_data_fails_the_action_without_retry(error: Exception) -> None:
    # an error of the guard's own data (no 'retryable' attribute to say so) never heals on a retry
    store, zoho = FakeStore(), FakeZoho()
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:9")
    store.add(hold)
    zoho.books.errors.append(error)

    result = make(store, zoho=zoho).run_batch([msg(hold.action_id, receives=2)])

    assert result.failed_message_ids == []
    assert store.items[hold.action_id].status is ActionStatus.FAILED
    # a fault of the guard's own is named by its type, which is what says what went wrong
    assert store.entries[0].note.startswith(f"Zoho refused, not retried: {type(error).__name__}: ")


def test_rejected_credentials_are_retried_then_dead_lettered_with_the_clients_rebuilt() -> None:
    store, zoho = FakeStore(), FakeZoho()
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:9")
    store.add(hold)
    zoho.books.errors += [ZohoAuthError("invalid_code"), ZohoAuthError("invalid_code")]
    rebuilt: list[str] = []

    class Clients:
        def __call__(self) -> FakeZoho:
            return zoho

        def close(self) -> None:
            rebuilt.append("closed")

    executor = make(store, zoho=zoho)
    executor.zoho = Clients()  # type: ignore[assignment]
    first = executor.run_batch([msg(hold.action_id, receives=1)])
    last = executor.run_batch([msg(hold.action_id, receives=5)])

    # an operator's fix, not a verdict: back to SQS, then the dead-letter queue for replay-dlq
    assert first.failed_message_ids == ["m1"]
    assert last.failed_message_ids == ["m1"]
    assert store.items[hold.action_id].status is ActionStatus.DEAD_LETTERED
    assert rebuilt == ["closed", "closed"]  # the next use reads the credentials again


def test_observe_mode_writes_nothing_and_says_what_it_would_have_done() -> None:
    store, zoho = FakeStore(), FakeZoho()
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:9")
    store.add(hold)

    make(store, zoho=zoho, mode=Mode.OBSERVE).run_batch([msg(hold.action_id)])

    assert zoho.books.calls == []
    assert store.items[hold.action_id].status is ActionStatus.NOT_EXECUTED
    assert "would have done: mark Books customer 9 inactive" in store.entries[0].note
    assert store.entries[0].mode is Mode.OBSERVE


RULES = ["NAME_DRIFT", "EMAIL_MISMATCH", "DOUBLE_LINK", "BROKEN_MAPPING"]


def _notify_setup(count: int, *, distinct_rules: bool = False) -> tuple[FakeStore, FakeContext, list[str]]:
    store, context = FakeStore(), FakeContext()
    ids = []
    for i in range(count):
        event = f"evt_{i}"
        hold = action(ActionKind.MARK_BOOKS_INACTIVE, f"books:new{i}", event=event)
        note = action(ActionKind.NOTIFY_FINANCE, f"books:new{i}", event=event)
        store.add(note)
        code = RULES[i % len(RULES)] if distinct_rules else "NAME_DRIFT"
        context.entries[event] = decision_entry(event, f"books:new{i}", f"books:old{i}", (hold, note), code)
        context.state_by_ref[f"books:old{i}"] = books_state(f"old{i}", "Acme Ltd", has_transactions=True)
        ids.append(note.action_id)
    return store, context, ids


def test_a_batch_of_notices_becomes_one_digest() -> None:
    store, context, ids = _notify_setup(8)
    notifier = InMemoryNotifier()

    make(store, context=context, notifier=notifier).run_batch([msg(i, message_id=i) for i in ids])

    [message] = notifier.messages
    assert message.kind.value == "digest"
    assert message.notice_count == 8
    assert {store.items[i].status for i in ids} == {ActionStatus.DONE}


def _notice_body(configured: str, recorded: str) -> str:
    """The body of one notice on Books customers new0/old0, sent under these two organisation ids."""
    store, context, ids = _notify_setup(1)
    notifier = InMemoryNotifier()
    links = ZohoLinks(crm_org_id="20071234567", books_organization_id=configured)
    executor = make(
        store, context=context, notifier=notifier, links=links, books_organization=(configured, recorded)
    )
    executor.run_batch([msg(ids[0])])
    [message] = notifier.messages
    return message.body


def test_notices_link_books_customers_into_the_organisation_recorded_for_the_shadow() -> None:
    # given ZohoBooksOrganizationId changed to another organisation than the shadow's customers are in
    body = _notice_body("20099999999", "20081234567")

    # then the customers are linked where they are, in the recorded organisation, not the configured one
    assert "https://books.zoho.eu/app/20081234567#/contacts/new0" in body
    assert "https://books.zoho.eu/app/20081234567#/contacts/old0" in body
    assert "20099999999" not in body
    # and as configured while the two agree
    agreeing = _notice_body("20099999999", "20099999999")
    assert "https://books.zoho.eu/app/20099999999#/contacts/new0" in agreeing


def test_notices_link_the_configured_organisation_when_the_recorded_one_cannot_be_read() -> None:
    store, context, ids = _notify_setup(1)
    notifier = InMemoryNotifier()
    links = ZohoLinks(crm_org_id="20071234567", books_organization_id="20099999999")
    executor = make(store, context=context, notifier=notifier, links=links)

    def edited_by_hand() -> BooksOrganization | None:
        raise OrganizationRecordUnreadable("no organization_id", field="organization_id")

    executor.recorded_books_organization = edited_by_hand

    # the Books writes wait for the record to be mended; finance is still told, linked as configured
    result = executor.run_batch([msg(ids[0])])

    assert result.failed_message_ids == []
    [message] = notifier.messages
    assert "https://books.zoho.eu/app/20099999999#/contacts/new0" in message.body


def test_a_retried_batch_never_notifies_twice() -> None:
    store, context, ids = _notify_setup(3, distinct_rules=True)  # three rules: three messages
    sent = FakeSent()
    flaky = FailingNotifier(succeed=1)
    messages = [msg(i, message_id=i) for i in ids]

    # SNS fails after the first message: that notice is remembered, the others are retried
    first = make(store, context=context, notifier=flaky, sent=sent).run_batch(messages)
    assert len(first.failed_message_ids) == 2
    assert len(sent.keys) == 1
    # SQS delivers the whole batch again (the done one is refused); SNS works now
    healthy = InMemoryNotifier()
    make(store, context=context, notifier=healthy, sent=sent).run_batch(messages)

    assert len(flaky.messages) == 1
    assert sum(m.notice_count for m in healthy.messages) == 2
    delivered = {k for m in flaky.messages + healthy.messages for k in m.dedup_keys}
    assert len(delivered) == 3
    assert {store.items[i].status for i in ids} == {ActionStatus.DONE}


def test_a_notice_whose_entry_cannot_be_read_yet_is_retried_not_failed() -> None:
    store, context, ids = _notify_setup(1)
    context.entries.clear()

    result = make(store, context=context).run_batch([msg(ids[0])])

    assert result.failed_message_ids == ["m1"]
    assert store.items[ids[0]].status is ActionStatus.RETRYING


def test_published_notices_are_done_even_if_their_keys_cannot_be_stored() -> None:
    store, context, ids = _notify_setup(2)
    notifier = InMemoryNotifier()

    class Throttled(FakeSent):
        def remember(self, keys: Iterable[str], *, now: datetime) -> None:
            raise RuntimeError("ProvisionedThroughputExceededException")

    result = make(store, context=context, notifier=notifier, sent=Throttled()).run_batch(
        [msg(i, message_id=i) for i in ids]
    )

    # the batch is not handed back to SQS, so nothing is published twice
    assert result.failed_message_ids == []
    assert len(notifier.messages) == 1
    assert {store.items[i].status for i in ids} == {ActionStatus.DONE}


class UnconfiguredNotifier:
    """No channel to publish on (an error that is not ``NotificationFailed``)."""

    def publish(self, message: RenderedMessage) -> str:
        raise RuntimeError("no SNS topic configured")


def test_notices_that_could_not_be_published_at_all_are_retried_and_sent_once_a_channel_works() -> None:
    store, context, ids = _notify_setup(2)
    sent = FakeSent()
    messages = [msg(i, message_id=i) for i in ids]

    # when nothing can be published: the actions are retried, and their claims are given up
    first = make(store, context=context, notifier=UnconfiguredNotifier(), sent=sent).run_batch(messages)
    assert sorted(first.failed_message_ids) == sorted(ids)
    assert {store.items[i].status for i in ids} == {ActionStatus.RETRYING}
    assert sent.sending == {}

    # then SQS delivers them again with the channel configured: they are sent, once
    healthy = InMemoryNotifier()
    second = make(store, context=context, notifier=healthy, sent=sent).run_batch(messages)
    assert second.failed_message_ids == []
    assert sum(m.notice_count for m in healthy.messages) == 2
    assert {store.items[i].status for i in ids} == {ActionStatus.DONE}


def test_notices_are_retried_even_if_their_claims_cannot_be_given_up() -> None:
    store, context, ids = _notify_setup(1)

    class Unreleasable(FakeSent):
        def release(self, claim: NoticeClaim, keys: Iterable[str]) -> None:
            raise RuntimeError("ProvisionedThroughputExceededException")

    result = make(store, context=context, notifier=FailingNotifier(succeed=0), sent=Unreleasable()).run_batch(
        [msg(ids[0])]
    )

    # the claim lapses after its lease; the action is retried, not lost to the error
    assert result.failed_message_ids == ["m1"]
    assert store.items[ids[0]].status is ActionStatus.RETRYING


def _hold_and_notice() -> tuple[FakeStore, FakeContext, str, str]:
    store, context = FakeStore(), FakeContext()
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:new", event="evt_h")
    note = action(ActionKind.NOTIFY_FINANCE, "books:new", event="evt_h")
    store.add(hold)
    store.add(note)
    context.entries["evt_h"] = decision_entry("evt_h", "books:new", "books:old", (hold, note))
    return store, context, hold.action_id, note.action_id


def test_finance_hears_that_a_refused_hold_did_not_happen() -> None:
    store, context, hold, note = _hold_and_notice()
    zoho, notifier = FakeZoho(), InMemoryNotifier()
    zoho.books.errors.append(BooksApiError(1002, "Contact does not exist", http_status=404))

    make(store, zoho=zoho, context=context, notifier=notifier).run_batch(
        [msg(hold, message_id="h"), msg(note, message_id="n")]
    )

    assert store.items[hold].status is ActionStatus.FAILED
    [message] = notifier.messages
    assert "NOT held, act by hand" in message.subject
    assert "The guard tried to hold" in message.body
    assert "The guard held" not in message.body
    # a refused action is in no dead-letter queue: the notice must not send anyone to replay it
    assert "replay-dlq" not in message.body
    body = " ".join(message.body.split())
    assert "hold it by hand (mark the customer inactive in Books, unless it holds transactions" in body
    # the guard itself declines a hold once the customer is invoiced: the notice must not blame Zoho only
    assert "or that the Books customer was invoiced meanwhile" in body


def test_a_hold_that_failed_every_retry_can_be_replayed() -> None:
    store, context, hold, note = _hold_and_notice()
    notifier = InMemoryNotifier()
    store.items[hold].status = ActionStatus.DEAD_LETTERED

    make(store, context=context, notifier=notifier).run_batch([msg(note, message_id="n")])

    [message] = notifier.messages
    assert "NOT held, act by hand" in message.subject
    assert "sync-guard replay-dlq --queue outbox" in " ".join(message.body.split())


def test_a_notice_waits_for_its_hold_then_says_what_became_of_it() -> None:
    store, context, hold, note = _hold_and_notice()
    zoho, notifier = FakeZoho(), InMemoryNotifier()
    zoho.books.errors.append(ZohoServerError("500", http_status=503))

    first = make(store, zoho=zoho, context=context, notifier=notifier).run_batch(
        [msg(hold, message_id="h"), msg(note, message_id="n")]
    )
    # the hold is being retried: the notice waits rather than promise a hold
    assert set(first.failed_message_ids) == {"h", "n"}
    assert notifier.messages == []
    # next delivery: the hold goes through, and finance hears it is held
    make(store, zoho=zoho, context=context, notifier=notifier).run_batch(
        [msg(hold, receives=2, message_id="h"), msg(note, receives=2, message_id="n")]
    )
    [message] = notifier.messages
    assert "held:" in message.subject
    assert "The guard held" in message.body


def test_a_notice_whose_hold_never_ends_is_sent_on_its_last_delivery() -> None:
    store, context, hold, note = _hold_and_notice()
    notifier = InMemoryNotifier()
    store.items[hold].status = ActionStatus.RETRYING

    result = make(store, context=context, notifier=notifier).run_batch(
        [msg(note, receives=5, message_id="n")]
    )

    assert result.failed_message_ids == []
    assert len(notifier.messages) == 1


def test_two_executors_with_decisions_on_one_pair_notify_once() -> None:
    # The CRM and the Books event of one duplicate, decided apart, reach two executors at once.
    store, context, sent = FakeStore(), FakeContext(), FakeSent()
    crm_side = action(ActionKind.NOTIFY_FINANCE, "crm:1", event="evt_crm")
    books_side = action(ActionKind.NOTIFY_FINANCE, "books:2", event="evt_books")
    store.add(crm_side)
    store.add(books_side)
    context.entries["evt_crm"] = decision_entry("evt_crm", "crm:1", "books:2", (crm_side,))
    context.entries["evt_books"] = decision_entry("evt_books", "books:2", "crm:1", (books_side,))
    inbox = InMemoryNotifier()
    other = make(store, context=context, notifier=inbox, sent=sent)

    class WhileThisOnePublishes:
        def publish(self, message: RenderedMessage) -> str:
            other.run_batch([msg(books_side.action_id, message_id="mb")])  # the second executor runs now
            return inbox.publish(message)

    make(store, context=context, notifier=WhileThisOnePublishes(), sent=sent).run_batch(
        [msg(crm_side.action_id, message_id="ma")]
    )

    assert len(inbox.messages) == 1
    assert store.items[books_side.action_id].status is ActionStatus.DONE
    assert "being sent" in store.items[books_side.action_id].outcome


def test_a_notice_already_sent_is_not_sent_again() -> None:
    store, context, ids = _notify_setup(1)
    sent = FakeSent()
    notifier = InMemoryNotifier()
    make(store, context=context, notifier=notifier, sent=sent).run_batch([msg(ids[0])])
    # the same pair decided again later (another event): same rule, same records -> same key
    again_store, again_context, again_ids = _notify_setup(1)

    make(again_store, context=again_context, notifier=notifier, sent=sent).run_batch([msg(again_ids[0])])

    assert len(notifier.messages) == 1
    assert "already sent" in again_store.items[again_ids[0]].outcome


def test_the_sweep_requeues_pending_actions() -> None:
    store = FakeStore()
    lost = action(ActionKind.MARK_BOOKS_INACTIVE, "books:1")
    done = action(ActionKind.MARK_BOOKS_INACTIVE, "books:2")
    store.add(lost)
    store.add(done, ActionStatus.DONE)
    sent: list[str] = []

    class Queue:
        def send(self, ids: list[str]) -> None:
            sent.extend(ids)

    assert make(store).sweep(Queue(), pending_after=timedelta(0)) == [lost.action_id]
    assert sent == [lost.action_id]


def test_actions_are_not_started_without_time_left_in_the_invocation() -> None:
    store, zoho = FakeStore(), FakeZoho()
    first = action(ActionKind.MARK_BOOKS_INACTIVE, "books:1")
    second = action(ActionKind.MARK_BOOKS_INACTIVE, "books:2")
    store.add(first)
    store.add(second)
    left = iter([30.0, 5.0])

    result = make(store, zoho=zoho).run_batch(
        [msg(first.action_id, message_id="a"), msg(second.action_id, message_id="b")],
        remaining_seconds=lambda: next(left),
    )

    assert zoho.books.calls == [("mark_inactive", "1")]
    assert result.failed_message_ids == ["b"]
    assert store.items[second.action_id].status is ActionStatus.PENDING  # never claimed


# ------------------------------------------------------------------ a hold tag a CRM merge passed on


def _tag_check(**params: str) -> OutboxAction:
    """The check the engine queues when held crm:2 is deleted: crm:1 may be the record it was merged into."""
    return action(
        ActionKind.CLEAR_CARRIED_HOLD_TAG,
        "crm:1",
        tag="hold-tag",
        module="Accounts",
        merged_from="crm:2",
        **params,
    )


def _run_tag_check(
    crm_record: dict[str, Any] | None,
    *,
    holds: dict[str, str] | None = None,
    mode: Mode = Mode.ENFORCE,
    checkbox: str = "",
) -> tuple[FakeStore, FakeZoho]:
    store, zoho = FakeStore(), FakeZoho()
    if crm_record is not None:
        zoho.crm.records["1"] = crm_record
    check = _tag_check()
    store.add(check)
    context = FakeContext(holds=holds or {})
    make(store, zoho=zoho, context=context, mode=mode, checkbox=checkbox).run_batch([msg(check.action_id)])
    return store, zoho


def _tagged(*names: str, **fields: object) -> dict[str, Any]:
    return {
        "id": "1",
        "Account_Name": "Acme Ltd",
        "Tag": [{"name": n, "id": f"t{n}"} for n in names],
    } | fields


def test_a_hold_tag_a_merge_passed_to_a_record_no_hold_lists_is_removed_and_audited() -> None:
    store, zoho = _run_tag_check(_tagged("vip", "hold-tag"))

    assert zoho.crm.calls == [("remove_tags", "1", ("Accounts", ("hold-tag",)))]
    [entry] = store.entries
    assert entry.operation == "clear_carried_hold_tag:done"
    assert entry.records == ("crm:1", "crm:2")  # found under the master and the record merged away
    assert entry.note.startswith(
        "removed the hold tag 'hold-tag' that a CRM merge passed from crm:2 (held, now"
    )
    assert "no hold of the guard's lists crm:1" in entry.note


def test_a_ticked_hold_checkbox_a_merge_passed_on_is_unticked_with_workflows_suppressed() -> None:
    _, zoho = _run_tag_check(_tagged("hold-tag", Sync_Hold=True), checkbox="Sync_Hold")

    assert zoho.crm.calls == [
        ("remove_tags", "1", ("Accounts", ("hold-tag",))),
        ("update_record", "1", ({"Sync_Hold": False}, [])),
    ]


def test_a_hold_tag_of_the_records_own_hold_is_kept() -> None:
    store, zoho = _run_tag_check(_tagged("hold-tag"), holds={"crm:1": "evt_own"})

    assert zoho.crm.reads == ["1"]
    assert zoho.crm.calls == []
    assert store.items[_tag_check().action_id].status is ActionStatus.DONE
    assert store.entries[0].note == "crm:1 carries the hold tag of its own hold (evt_own): left as it is"


class HeldMeanwhile(FakeContext):
    """A hold of crm:1 is committed (and its tag written) just after the check first asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def hold_of(self, ref: str) -> str | None:
        self.asked += 1
        return None if self.asked == 1 else "evt_new_hold"


def test_a_hold_made_while_a_carried_tag_is_removed_gets_its_tag_and_box_back() -> None:
    store, zoho = FakeStore(), FakeZoho()
    zoho.crm.records["1"] = _tagged("hold-tag", Sync_Hold=True)
    check = _tag_check()
    store.add(check)

    make(store, zoho=zoho, context=HeldMeanwhile(), checkbox="Sync_Hold").run_batch([msg(check.action_id)])

    assert zoho.crm.calls[-2:] == [
        ("add_tags", "1", ("Accounts", ("hold-tag",))),
        ("update_record", "1", ({"Sync_Hold": True}, [])),
    ]
    assert store.items[check.action_id].status is ActionStatus.DONE
    assert "was held by evt_new_hold while" in store.entries[0].note


def test_a_record_gone_from_crm_needs_nothing() -> None:
    store, zoho = _run_tag_check(None)

    assert zoho.crm.calls == []
    assert store.items[_tag_check().action_id].status is ActionStatus.DONE
    assert store.entries[0].note == "crm:1 no longer exists in CRM: nothing to do"


@pytest.mark.parametrize(
    ("record", "checkbox"),
    [(_tagged("vip"), ""), (_tagged(), "Sync_Hold"), (_tagged(Sync_Hold=False), "Sync_Hold")],
    ids=["other tags", "no tag, no box", "box unticked"],
)
def test_a_record_without_the_hold_is_not_written_to(record: dict[str, Any], checkbox: str) -> None:
    store, zoho = _run_tag_check(record, checkbox=checkbox)

    assert zoho.crm.reads == ["1"]
    assert zoho.crm.calls == []
    assert store.entries[0].note == "crm:1 does not carry the hold tag 'hold-tag': nothing to do"


def test_observe_mode_neither_reads_nor_writes_the_record_and_says_what_it_would_have_done() -> None:
    store, zoho = _run_tag_check(_tagged("hold-tag"), mode=Mode.OBSERVE)

    assert zoho.crm.reads == []
    assert zoho.crm.calls == []
    assert store.items[_tag_check().action_id].status is ActionStatus.NOT_EXECUTED
    assert "would have done: remove tag 'hold-tag' from CRM record 1 if a merge passed it on from crm:2" in (
        store.entries[0].note
    )


def test_observe_mode_carries_out_the_check_after_an_admins_hold_written_to_zoho() -> None:
    # given the check the engine queues after the delete of a record an admin held in Zoho on purpose
    store, zoho = FakeStore(), FakeZoho()
    zoho.crm.records["1"] = _tagged("hold-tag")
    check = _tag_check(admin_hold="adm_hold").model_copy(update={"mode": Mode.ENFORCE, "execute": True})
    store.add(check)

    make(store, zoho=zoho, context=FakeContext(), mode=Mode.OBSERVE).run_batch([msg(check.action_id)])

    # then the carried tag is removed although the guard observes: the admin's tag was real, so is its copy
    assert zoho.crm.calls == [("remove_tags", "1", ("Accounts", ("hold-tag",)))]
    assert store.items[check.action_id].status is ActionStatus.DONE


# The held crm:2 was deleted at 10:00:05 (a merge into another company's record, crm:7, at 10:00:00).
DELETED_AT = "2026-03-02T10:00:05+00:00"


def _sweep(**params: object) -> OutboxAction:
    """The sweep the engine queues when held crm:2 is deleted, crm:1 (which it matched) checked apart."""
    return action(
        ActionKind.SWEEP_CARRIED_HOLD_TAG,
        "crm:2",
        tag="hold-tag",
        module="Accounts",
        merged_from="crm:2",
        deleted_at=DELETED_AT,
        checked=["crm:1"],
        **params,
    )


def _listed(record_id: str, modified: str, *tags: str, **fields: object) -> dict[str, Any]:
    return {
        "id": record_id,
        "Account_Name": f"Company {record_id}",
        "Modified_Time": f"2026-03-02T{modified}+00:00",
        "Tag": [{"name": n, "id": f"t{n}"} for n in tags],
    } | fields


def _run_sweep(
    *records: dict[str, Any], holds: dict[str, str] | None = None, mode: Mode = Mode.ENFORCE, **params: object
) -> tuple[FakeStore, FakeZoho]:
    store, zoho = FakeStore(), FakeZoho()
    zoho.crm.records = {record["id"]: record for record in records}
    sweep = _sweep(**params)
    store.add(sweep)
    make(store, zoho=zoho, context=FakeContext(holds=holds or {}), mode=mode).run_batch(
        [msg(sweep.action_id)]
    )
    return store, zoho


def test_a_hold_tag_a_merge_passed_to_a_record_the_held_one_did_not_match_is_removed() -> None:
    # given crm:7, another company's account the held crm:2 was merged into: changed by the merge, and
    # carrying the hold tag the merge passed on; crm:1 (checked apart) and records changed long before
    store, zoho = _run_sweep(
        _listed("7", "10:00:00", "vip", "hold-tag"),
        _listed("1", "10:00:00", "hold-tag"),
        _listed("8", "10:00:03", "vip"),
        _listed("9", "09:30:00", "hold-tag"),
    )

    # then the listing is read from just before the delete, and the tag taken off crm:7 only, as a release
    # takes it off (before: nothing looked beyond the records crm:2 matched, and crm:7 left the sync)
    assert zoho.crm.listings == [(datetime(2026, 3, 2, 9, 50, 5, tzinfo=UTC), ("Tag",))]
    assert zoho.crm.calls == [("remove_tags", "7", ("Accounts", ("hold-tag",)))]
    [entry] = store.entries
    assert entry.operation == "sweep_carried_hold_tag:done"
    assert entry.records == ("crm:2", "crm:7")  # found under the record kept as well
    assert entry.note.startswith(
        "records changed from 10 minutes before to 2 minutes after the delete of crm:2 "
        "(2026-03-02 10:00 UTC) with the hold tag: "
        "removed the hold tag 'hold-tag' that a CRM merge passed from crm:2 (held, now deleted) to crm:7"
    )


def test_a_sweep_leaves_the_tag_of_a_records_own_hold_and_a_record_changed_well_after() -> None:
    store, zoho = _run_sweep(
        _listed("7", "10:00:00", "hold-tag"),  # held by the guard: its tag is its hold's
        _listed("6", "10:30:00", "hold-tag"),  # changed half an hour later: not by the merge
        holds={"crm:7": "evt_own"},
    )

    assert zoho.crm.calls == []
    assert store.items[_sweep().action_id].status is ActionStatus.DONE
    assert "crm:7 carries the hold tag of its own hold (evt_own): left as it is" in store.entries[0].note
    assert store.entries[0].records == ("crm:2",)


def test_a_sweep_that_finds_no_hold_tag_writes_nothing_and_says_so() -> None:
    store, zoho = _run_sweep(_listed("8", "10:00:00", "vip"))

    assert zoho.crm.calls == []
    assert store.entries[0].note == (
        "no other CRM record changed from 10 minutes before to 2 minutes after the delete of crm:2 "
        "(2026-03-02 10:00 UTC) carries the hold tag 'hold-tag'"
    )


def test_a_sweep_in_observe_mode_reads_nothing_unless_an_admin_wrote_the_hold() -> None:
    _, zoho = _run_sweep(_listed("7", "10:00:00", "hold-tag"), mode=Mode.OBSERVE)
    assert zoho.crm.listings == []
    assert zoho.crm.calls == []

    store, zoho = FakeStore(), FakeZoho()
    zoho.crm.records["7"] = _listed("7", "10:00:00", "hold-tag")
    sweep = _sweep(admin_hold="adm_hold").model_copy(update={"mode": Mode.ENFORCE, "execute": True})
    store.add(sweep)
    make(store, zoho=zoho, context=FakeContext(), mode=Mode.OBSERVE).run_batch([msg(sweep.action_id)])
    assert zoho.crm.calls == [("remove_tags", "7", ("Accounts", ("hold-tag",)))]


def test_a_sweep_that_cannot_read_back_to_the_delete_says_to_check_by_hand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(zoho_actions, "MAX_SWEPT", 2)
    store, zoho = _run_sweep(
        _listed("7", "10:00:00", "hold-tag"), _listed("3", "10:01:00"), _listed("4", "10:01:30")
    )

    assert zoho.crm.calls == []
    assert store.entries[0].note.endswith(
        "; stopped after the 2 records changed last, before the end of that time: check the record a merge "
        "kept by hand"
    )


def test_a_tag_check_zoho_keeps_failing_is_retried_then_dead_lettered() -> None:
    store, zoho = FakeStore(), FakeZoho()
    check = _tag_check()
    store.add(check)
    zoho.crm.records["1"] = _tagged("hold-tag")
    executor = make(store, zoho=zoho)

    zoho.crm.errors.append(ZohoServerError("500", http_status=500))
    retried = executor.run_batch([msg(check.action_id, receives=1)])
    zoho.crm.errors.append(ZohoTimeout("t"))
    last = executor.run_batch([msg(check.action_id, receives=5)])

    assert retried.failed_message_ids == ["m1"]
    assert last.failed_message_ids == ["m1"]
    assert store.items[check.action_id].status is ActionStatus.DEAD_LETTERED
    assert zoho.crm.calls == []


# ------------------------------------------------------------------- DynamoDB failing under one message


def _dynamodb_fault(operation: str) -> ClientError:
    """What botocore raises once its retries of a DynamoDB 500 are spent."""
    error = {"Code": "InternalServerError", "Message": "Internal server error"}
    return ClientError({"Error": error}, operation)


class UnreadableEntries(FakeContext):
    """The audit trail unreadable for the entries in ``failing``."""

    def __init__(self, context: FakeContext, failing: set[str]) -> None:
        super().__init__(context.entries, context.state_by_ref, context.holds)
        self.failing = failing

    def entry(self, entry_id: str) -> AuditEntry | None:
        if entry_id in self.failing:
            raise _dynamodb_fault("GetItem")
        return super().entry(entry_id)


class FlakyStore(FakeStore):
    """An outbox whose ``operation`` fails for the actions in ``failing``."""

    def __init__(self, operation: str, failing: set[str]) -> None:
        super().__init__()
        self.operation = operation
        self.failing = failing

    def claim(self, action_id: str, *, now: datetime, lease_seconds: int) -> Claim | Refusal:
        if self.operation == "claim" and action_id in self.failing:
            raise _dynamodb_fault("UpdateItem")
        return super().claim(action_id, now=now, lease_seconds=lease_seconds)

    def finish(
        self, claim: Claim, status: ActionStatus, *, detail: str, entry: AuditEntry, now: datetime
    ) -> bool:
        if self.operation == "finish" and claim.action_id in self.failing:
            raise _dynamodb_fault("UpdateItem")
        return super().finish(claim, status, detail=detail, entry=entry, now=now)


def test_a_notice_whose_entry_dynamodb_fails_to_read_is_given_back_and_the_rest_of_the_batch_runs() -> None:
    # given two notices and a hold in one batch, the first notice's audit entry unreadable
    store, context, ids = _notify_setup(2)
    hold = action(ActionKind.MARK_BOOKS_INACTIVE, "books:9")
    store.add(hold)
    first_entry = store.items[ids[0]].action.entry_id
    notifier = InMemoryNotifier()
    executor = make(store, context=UnreadableEntries(context, {first_entry}), notifier=notifier)
    # when the batch runs: then it does not fail as a whole
    result = executor.run_batch(
        [msg(ids[0], message_id="a"), msg(ids[1], message_id="b"), msg(hold.action_id)]
    )
    # the failing notice is retried on its own, its claim given back; the others are done
    assert result.failed_message_ids == ["a"]
    assert store.items[ids[0]].status is ActionStatus.RETRYING
    assert store.items[ids[1]].status is ActionStatus.DONE
    assert store.items[hold.action_id].status is ActionStatus.DONE
    assert len(notifier.messages) == 1


def test_an_action_dynamodb_fails_to_claim_is_delivered_again_and_the_rest_of_the_batch_runs() -> None:
    first, second = (action(ActionKind.MARK_BOOKS_INACTIVE, f"books:{i}") for i in (1, 2))
    store = FlakyStore("claim", {first.action_id})
    store.add(first)
    store.add(second)

    result = make(store).run_batch(
        [msg(first.action_id, message_id="a"), msg(second.action_id, message_id="b")]
    )

    assert result.failed_message_ids == ["a"]
    assert store.items[first.action_id].status is ActionStatus.PENDING
    assert store.items[second.action_id].status is ActionStatus.DONE


def test_a_hold_whose_outcome_dynamodb_fails_to_record_is_given_back_for_a_retry() -> None:
    first, second = (action(ActionKind.MARK_BOOKS_INACTIVE, f"books:{i}") for i in (1, 2))
    store, zoho = FlakyStore("finish", {first.action_id}), FakeZoho()
    store.add(first)
    store.add(second)

    result = make(store, zoho=zoho).run_batch(
        [msg(first.action_id, message_id="a"), msg(second.action_id, message_id="b")]
    )

    # the write was made, its outcome not recorded: the action runs again (Books' inactive is idempotent)
    assert result.failed_message_ids == ["a"]
    assert store.items[first.action_id].status is ActionStatus.RETRYING
    assert store.items[second.action_id].status is ActionStatus.DONE


# ------------------------------------------------------------------ a retry after an unrecorded write


def test_a_books_write_whose_outcome_was_not_recorded_is_not_sent_again_on_the_retry() -> None:
    # given a release written to Books, its outcome lost to DynamoDB
    release = action(ActionKind.MARK_BOOKS_ACTIVE, "books:1")
    store, zoho = FlakyStore("finish", {release.action_id}), FakeZoho()
    store.add(release)
    zoho.books.customers["1"] = books_state("1", "Acme Ltd").record.model_copy(update={"active": False})
    make(store, zoho=zoho).run_batch([msg(release.action_id)])
    assert zoho.books.calls == [("mark_active", "1")]
    assert store.items[release.action_id].status is ActionStatus.RETRYING
    # when it is retried, Books showing the customer active (the first attempt's write)
    store.failing.clear()
    zoho.books.customers["1"] = zoho.books.customers["1"].model_copy(update={"active": True})
    result = make(store, zoho=zoho).run_batch([msg(release.action_id, receives=2)])
    # then it is done without writing again, and the outcome says why
    assert zoho.books.calls == [("mark_active", "1")]
    assert result.results[0].status is ActionStatus.DONE
    [outcome] = store.entries
    assert "an earlier attempt wrote it" in outcome.note


def test_a_crm_hold_already_in_zoho_is_not_written_again_on_a_retry_but_one_missing_is() -> None:
    zoho = FakeZoho()
    zoho.crm.records["1"] = {"id": "1", "Tag": [{"name": "hold-tag"}]}
    zoho.crm.records["2"] = {"id": "2", "Tag": [{"name": "vip"}]}
    store = FakeStore()
    holds = [action(ActionKind.TAG_CRM_RECORD, f"crm:{i}", tag="hold-tag", module="Accounts") for i in (1, 2)]
    for hold in holds:
        store.add(hold, ActionStatus.RETRYING)
        store.items[hold.action_id].attempts = 1  # an earlier attempt failed

    make(store, zoho=zoho).run_batch([msg(h.action_id, receives=2, message_id=h.action_id) for h in holds])

    assert zoho.crm.calls == [("add_tags", "2", ("Accounts", ("hold-tag",)))]
    assert {store.items[h.action_id].status for h in holds} == {ActionStatus.DONE}


def test_a_first_attempt_writes_without_reading_first() -> None:
    store, zoho = FakeStore(), FakeZoho()
    hold = action(ActionKind.TAG_CRM_RECORD, "crm:1", tag="hold-tag", module="Accounts")
    store.add(hold)
    zoho.crm.records["1"] = {"id": "1", "Tag": [{"name": "hold-tag"}]}

    make(store, zoho=zoho).run_batch([msg(hold.action_id)])

    assert zoho.crm.reads == []
    assert zoho.crm.calls == [("add_tags", "1", ("Accounts", ("hold-tag",)))]
