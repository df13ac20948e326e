"""The outbox executor: claim each queued action once, carry it out, record the outcome, let SQS retry.

``Executor.run_batch(messages)`` handles one SQS batch:

1. **Claim** every action (conditional update ``pending|retrying|dead_lettered -> running``, attempt + 1).
   A message for an action that is ``done`` (a duplicate delivery, a sweep that raced the queue) or that
   another executor is running is acknowledged and does nothing: nothing runs twice.
2. **Zoho holds and releases** run one by one (``zoho_actions``). Success: ``done``. A retryable Zoho error
   (429, 5xx, timeout, token budget): ``retrying`` and the message is reported failed, so SQS delivers it
   again; on the last receive the action is ``dead_lettered`` instead, SQS moves the message to the DLQ and
   ``sync-guard replay-dlq`` brings it back. A refusal (404 record gone, validation): ``failed``, no retry.
   A Books hold on a customer Books says holds transactions by the time it runs (invoiced since the
   decision, while the hold was retried or dead-lettered): ``failed``, not written, never retried.
   A Books write while ``ZohoBooksOrganizationId`` is not the organisation recorded for the shadow is not
   sent (the customer is another organisation's): retried, then dead-lettered, for when it is put back.
   In ``observe`` mode nothing is written to Zoho: the action ends ``not_executed`` and the audit entry says
   what would have been done (the engine already marks observe-mode actions so; this is the safety net for
   actions queued before a switch back to observe).
3. **Finance notifications** of the batch are aggregated (a storm becomes one digest). Each notice's key
   is claimed before anything is published (a conditional write): keys already delivered, or being
   delivered by another executor at this moment, are skipped; the keys of every delivery are stored
   before the actions are marked ``done``, and the claims of the rest are given back, so neither a
   retried batch nor two executors with decisions on the same pair notify twice.

Every outcome lands on the outbox item and, as an append-only audit entry (actor ``executor``), in the
audit trail.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sync_guard.config import Mode
from sync_guard.errors import SyncGuardError
from sync_guard.executor.model import (
    ActionMessage,
    ActionStatus,
    BatchResult,
    Claim,
    MessageResult,
    Refusal,
)
from sync_guard.executor.notices import hold_actions, notices_for, refs_of
from sync_guard.executor.ports import ActionQueue, ActionStore, DecisionContext, SentNotices, ZohoWriters
from sync_guard.executor.zoho_actions import (
    ZOHO_KINDS,
    HoldSettings,
    already_in_zoho,
    apply_zoho_action,
    clear_carried_hold_tag,
    crm_module_of,
    describe,
    merged_from,
    split_ref,
    sweep_carried_hold_tags,
)
from sync_guard.guard.context import invoiced_customer
from sync_guard.guard.model import ActionKind, AuditEntry, Decision, EntryKind, OutboxAction
from sync_guard.models.records import PartyRecord
from sync_guard.notify import FinanceNotice, NotificationFailed, Notifier, notify_finance
from sync_guard.notify.links import ZohoLinks
from sync_guard.reconcile.organization import (
    OrganizationRecordUnreadable,
    refuse_books_under_another_organization,
)
from sync_guard.reconcile.ports import BooksOrganization
from sync_guard.zoho.errors import ZohoAuthError

logger = logging.getLogger(__name__)

EXECUTOR_ACTOR = "executor"


def _utc_now() -> datetime:
    return datetime.now(UTC)


# A hold in one of these may still happen; dead-lettered is as good as failed until someone replays it.
_UNDER_WAY = frozenset({ActionStatus.PENDING, ActionStatus.RUNNING, ActionStatus.RETRYING})


class HoldNotFinished(RuntimeError):
    """A notice waits for its decision's holds to end (retried through SQS; sent as it stands on the
    last delivery)."""

    code = "hold_not_finished"

    def __init__(self, action_ids: list[str]) -> None:
        super().__init__(f"waiting for the hold(s) {', '.join(action_ids)} to finish")


#: The checks after a held CRM record's delete for the hold tag a merge passed on.
_CARRIED_TAG_CHECKS = (ActionKind.CLEAR_CARRIED_HOLD_TAG, ActionKind.SWEEP_CARRIED_HOLD_TAG)


def is_retryable(error: BaseException) -> bool:
    """Zoho's typed errors say; bad data never heals; anything else (an AWS hiccup) is retried.

    Rejected credentials (a revoked refresh token, a changed client secret) are not worth retrying
    within one call, but they are an operator's fix, not a verdict on the action: the action is retried
    by SQS and then waits in the dead-letter queue for ``sync-guard replay-dlq`` once they are mended.
    """
    if isinstance(error, ZohoAuthError):
        return True
    if isinstance(error, ValueError | LookupError):
        return False
    return bool(getattr(error, "retryable", True))


def outcome_entry(
    claim: Claim,
    status: ActionStatus,
    note: str,
    now: datetime,
    *,
    mode: Mode | None = None,
    records: tuple[str, ...] = (),
) -> AuditEntry:
    """The audit entry of one outcome; its id is per attempt, so every outcome is appended exactly once.
    ``records``: others it is about (the records a sweep took a carried hold tag off)."""
    action = claim.action
    return AuditEntry(
        entry_id=f"{action.action_id}#{claim.attempt}#{status.value}",
        at=now,
        kind=EntryKind.ACTION,
        decision=action.decision,
        mode=mode or action.mode,
        actor=EXECUTOR_ACTOR,
        event_id=action.event_id,
        operation=f"{action.kind.value}:{status.value}",
        # A check after a held record's merge is also found under the record merged away.
        records=tuple(
            dict.fromkeys(
                (action.target, merged_from(action), *records)
                if action.kind in _CARRIED_TAG_CHECKS
                else (action.target, *records)
            )
        ),
        rules=action.rules,
        actions=(action,),
        note=note,
    )


@dataclass
class ExecutorConfig:
    mode: Mode = Mode.OBSERVE
    hold: HoldSettings = field(default_factory=HoldSettings)
    #: The outbox queue's maxReceiveCount: a failure on this receive means the message goes to the DLQ.
    max_receives: int = 5
    lease_seconds: int = 120
    notify_max_individual: int | None = None
    links: ZohoLinks | None = None
    #: Do not start an action with less time than this left in the invocation (one slow Zoho call).
    reserve_seconds: float = 12.0
    #: Kept at the end of the invocation for what follows an action's last Zoho call (recording its outcome,
    #: the batch's notices): no Zoho call, retries and waits included, runs into it.
    after_zoho_seconds: float = 5.0
    #: ``ZohoBooksOrganizationId``: Books writes wait while it is not the shadow's recorded organisation.
    books_organization_id: str = ""


@dataclass
class Executor:
    """Runs outbox actions; every collaborator is a port (see ``executor.ports``)."""

    store: ActionStore
    context: DecisionContext
    sent_notices: SentNotices
    #: Built on first use: a batch of notifications, or observe mode, never needs Zoho credentials.
    zoho: Callable[[], ZohoWriters]
    notifier: Callable[[], Notifier]
    config: ExecutorConfig = field(default_factory=ExecutorConfig)
    clock: Callable[[], datetime] = _utc_now
    #: The Books organisation recorded for the shadow (None: not recorded yet; no reader: not compared).
    recorded_books_organization: Callable[[], BooksOrganization | None] | None = None

    # ------------------------------------------------------------------------------------------ batch
    def run_batch(
        self, messages: Sequence[ActionMessage], *, remaining_seconds: Callable[[], float] | None = None
    ) -> BatchResult:
        """Handle one batch; the result says which messages SQS should deliver again.

        ``remaining_seconds`` is the invocation's time left: an action is only started while at least
        ``reserve_seconds`` remain, the rest of the batch is handed back to SQS unclaimed (a Lambda timeout
        would fail the whole batch and leave claimed actions waiting for their lease to run out).
        """
        results: list[MessageResult] = []
        notify: list[tuple[ActionMessage, Claim]] = []
        for message in messages:
            left = remaining_seconds() if remaining_seconds is not None else None
            # When every Zoho call of the action must be over (the invocation's end, less what follows them).
            finish_by = time.monotonic() + left - self.config.after_zoho_seconds if left is not None else None
            if left is not None and left < self.config.reserve_seconds:
                results.append(
                    MessageResult(
                        message.message_id, message.action_id, None, retry=True, detail="out of time"
                    )
                )
                continue
            try:
                claimed = self.store.claim(
                    message.action_id, now=self.clock(), lease_seconds=self.config.lease_seconds
                )
            except Exception as error:  # the outbox unreachable (DynamoDB failing): this message comes again
                results.append(self._not_claimed(message, error))
                continue
            if isinstance(claimed, Refusal):
                logger.info(
                    "outbox action not claimed", extra={"action_id": message.action_id, "why": claimed.reason}
                )
                # Finished, unknown, or held by another executor: this copy is a duplicate (a sweep or a
                # replay sent it), so it is acknowledged. A message cannot come back while its own batch
                # still runs: the queue's visibility timeout is six times the function's timeout.
                results.append(
                    MessageResult(
                        message.message_id, message.action_id, claimed.status, detail=claimed.reason
                    )
                )
                continue
            if claimed.action.kind is ActionKind.NOTIFY_FINANCE:
                notify.append((message, claimed))
                continue
            try:
                results.append(self._run_zoho(message, claimed, finish_by))
            except Exception as error:  # its outcome not recorded (DynamoDB failing)
                results.append(self._given_back(message, claimed, error))
        if notify:
            results += self._run_notifications(notify)
        return BatchResult(tuple(results))

    # An error that escapes one message (a DynamoDB fault botocore's retries did not outlast) must not fail
    # the whole batch: every action the batch claimed would wait out its lease, and SQS would deliver the
    # batch again, its finished actions included. The message is retried on its own instead.

    def _not_claimed(self, message: ActionMessage, error: BaseException) -> MessageResult:
        logger.warning(
            "outbox action could not be claimed; SQS delivers it again",
            extra={"action_id": message.action_id, "error": type(error).__name__},
        )
        return MessageResult(
            message.message_id, message.action_id, None, retry=True, detail=type(error).__name__
        )

    def _given_back(self, message: ActionMessage, claim: Claim, error: BaseException) -> MessageResult:
        """Retry one claimed action after an unexpected error, giving its claim back when the outbox
        takes it (else the claim lapses after its lease, as a crashed executor's does)."""
        try:
            return self._failed(message, claim, error)
        except Exception as release_error:
            logger.warning(
                "outbox claim not given back; it lapses after its lease",
                extra={"action_id": claim.action_id, "error": type(release_error).__name__},
            )
            return MessageResult(
                message.message_id, claim.action_id, None, retry=True, detail=type(error).__name__
            )

    # ------------------------------------------------------------------------------------------ zoho
    def _run_zoho(self, message: ActionMessage, claim: Claim, finish_by: float | None) -> MessageResult:
        """Carry out one Zoho action; its Zoho calls end by ``finish_by`` (a ``time.monotonic()`` reading,
        None: no bound), or the action is retried: an action's calls (a read before a write, a tag and a
        checkbox, a token refresh) can outlast the reserve it was started with, and a Lambda cut short
        fails the whole batch."""
        action = claim.action
        hold = self.config.hold
        if action.kind not in ZOHO_KINDS:
            return self._finish(message, claim, ActionStatus.FAILED, f"unknown action kind {action.kind}")
        # Observe mode writes nothing the guard decided; an admin's write made in enforce mode on purpose
        # (`preflight --apply`, and the undo of such a hold) is carried out all the same, and so is the check
        # for the copy of such a hold's tag a CRM merge passed on (the engine names that hold: admin_hold).
        forced = action.mode is Mode.ENFORCE and (
            action.decision is Decision.ADMIN
            or (action.kind in _CARRIED_TAG_CHECKS and bool(action.params.get("admin_hold")))
        )
        if not action.execute or (self.config.mode is Mode.OBSERVE and not forced):
            note = f"observe mode: would have done: {describe(action, hold)}; nothing was written to Zoho"
            return self._finish(message, claim, ActionStatus.NOT_EXECUTED, note, mode=Mode.OBSERVE)
        try:
            self._bound_zoho_calls(finish_by)
            # Only a CRM write needs the record's module (Accounts/Contacts), when the action does not say.
            needs_state = action.target.startswith("crm:") and not action.params.get("module")
            state = self.context.states([action.target]).get(action.target) if needs_state else None
            if action.target.startswith("books:"):
                self._refuse_another_books_organization()
            found: tuple[str, ...] = ()
            if action.kind is ActionKind.CLEAR_CARRIED_HOLD_TAG:
                module = crm_module_of(action, state)
                done = clear_carried_hold_tag(action, self.zoho(), hold, module, self.context.hold_of)
            elif action.kind is ActionKind.SWEEP_CARRIED_HOLD_TAG:
                module = crm_module_of(action, state)
                done, found = sweep_carried_hold_tags(action, self.zoho(), hold, module, self.context.hold_of)
            else:
                # A Books customer is read at most once per attempt: the check for invoices and a retry's
                # check for an earlier attempt's write look at it at the same moment, before the write.
                books_customer = functools.cache(self.zoho().books.get_contact)
                invoiced = self._invoiced_since(action, books_customer)
                if invoiced:
                    return self._finish(message, claim, ActionStatus.FAILED, invoiced)
                if claim.attempt > 1 and already_in_zoho(
                    action, self.zoho(), hold, state, books_customer=books_customer
                ):
                    note = f"{describe(action, hold)} (Zoho showed it already: an earlier attempt wrote it)"
                    return self._finish(message, claim, ActionStatus.DONE, note)
                done = apply_zoho_action(action, self.zoho(), hold, state)
        except Exception as error:
            return self._failed(message, claim, error)
        # A sweep's outcome is found under the records it took the tag off too.
        return self._finish(message, claim, ActionStatus.DONE, done, records=found)

    def _bound_zoho_calls(self, finish_by: float | None) -> None:
        """Have the Zoho clients end every call by ``finish_by``."""
        self.zoho().finish_calls_by(finish_by)

    def _invoiced_since(
        self, action: OutboxAction, books_customer: Callable[[str], PartyRecord | None]
    ) -> str:
        """Why a Books hold must not be written now (empty: it may): the customer holds transactions.

        The engine never holds an invoiced customer, but a hold runs after its decision, by minutes when
        Zoho answered 429/5xx and it was retried, by days when it was dead-lettered and replayed: the
        bookkeeper may have invoiced the customer meanwhile. Books is asked just before the write. An
        admin's hold (``sync-guard quarantines hold``, preflight) is what a person chose: it is written."""
        if action.kind is not ActionKind.MARK_BOOKS_INACTIVE or action.decision is Decision.ADMIN:
            return ""
        _, record_id = split_ref(action.target)
        customer = books_customer(record_id)
        if customer is None or not invoiced_customer(customer):
            return ""  # gone: marking it inactive fails as it would have
        return (
            f"not marked inactive: Books customer {record_id} holds transactions now (invoiced since the "
            "hold was decided), and the guard never holds an invoiced customer"
        )

    def _refuse_another_books_organization(self) -> None:
        """Raise (retryably) when Books is configured as another organisation than the shadow's: its
        "does not exist" would fail the write for good, and a hold must wait for the parameter instead."""
        refuse_books_under_another_organization(
            self.config.books_organization_id,
            self.recorded_books_organization,
            outcome="The Books write waits: retried, then dead-lettered for replay-dlq.",
        )

    def _failed(self, message: ActionMessage, claim: Claim, error: BaseException) -> MessageResult:
        code = str(getattr(error, "code", type(error).__name__))
        # The guard's own errors are written for the person reading the audit trail ("Books error 1002:
        # Contact does not exist."); anything else is a fault whose type is what says what happened.
        reason = error.message if isinstance(error, SyncGuardError) else f"{type(error).__name__}: {error}"
        detail = reason[:300]
        logger.info(
            "outbox action failed",
            extra={"action_id": claim.action_id, "attempt": claim.attempt, "error": code},
        )
        if isinstance(error, ZohoAuthError):
            # Build the clients again next time, so that mended credentials are read without a cold start.
            close = getattr(self.zoho, "close", None)
            if callable(close):
                close()
        if not is_retryable(error):
            return self._finish(message, claim, ActionStatus.FAILED, f"Zoho refused, not retried: {detail}")
        if message.receive_count >= self.config.max_receives:
            note = (
                f"failed on delivery {message.receive_count} of {self.config.max_receives} ({detail}); "
                "the message is in the dead-letter queue: sync-guard replay-dlq --queue outbox"
            )
            result = self._finish(message, claim, ActionStatus.DEAD_LETTERED, note)
            return MessageResult(
                result.message_id, result.action_id, ActionStatus.DEAD_LETTERED, retry=True, detail=note
            )
        self.store.retry_later(claim, error=code, detail=detail, now=self.clock())
        logger.info("outbox action will be retried", extra={"action_id": claim.action_id})
        return MessageResult(
            message.message_id, claim.action_id, ActionStatus.RETRYING, retry=True, detail=code
        )

    def _finish(
        self,
        message: ActionMessage,
        claim: Claim,
        status: ActionStatus,
        note: str,
        *,
        mode: Mode | None = None,
        records: tuple[str, ...] = (),
    ) -> MessageResult:
        now = self.clock()
        entry = outcome_entry(claim, status, note, now, mode=mode, records=records)
        recorded = self.store.finish(claim, status, detail=note, entry=entry, now=now)
        if not recorded:
            logger.warning(
                "outbox claim lost before the outcome was recorded", extra={"action_id": claim.action_id}
            )
        logger.info(
            "outbox action finished",
            extra={"action_id": claim.action_id, "kind": claim.action.kind.value, "status": status.value},
        )
        return MessageResult(message.message_id, claim.action_id, status, detail=note)

    # ------------------------------------------------------------------------------------------ notify
    def _run_notifications(self, claims: list[tuple[ActionMessage, Claim]]) -> list[MessageResult]:
        results: list[MessageResult] = []
        keys_of: dict[str, set[str]] = {}
        notices: list[FinanceNotice] = []
        ready: list[tuple[ActionMessage, Claim]] = []
        for message, claim in claims:
            try:
                entry = self.context.entry(claim.action.entry_id)
                if entry is None:
                    # Written in the same transaction as the action, so it should be there: retried, and
                    # dead-lettered (not dropped) if it never turns up.
                    results.append(
                        self._failed(message, claim, RuntimeError("the decision's audit entry is missing"))
                    )
                    continue
                outcomes = {hold.action_id: self.store.status(hold.action_id) for hold in hold_actions(entry)}
                pending = [i for i, status in outcomes.items() if status in _UNDER_WAY]
                if pending and message.receive_count < self.config.max_receives:
                    # Tell finance what became of the hold, not what was planned: ask again later (holds
                    # queued with their notice usually run first, in the same batch).
                    results.append(self._failed(message, claim, HoldNotFinished(pending)))
                    continue
                states = self.context.states(refs_of(entry))
            except Exception as error:  # the audit trail or the shadow unreadable (DynamoDB failing)
                results.append(self._given_back(message, claim, error))
                continue
            action_notices = notices_for(claim.action, entry, states, outcomes)
            keys_of[claim.action_id] = {n.dedup_key for n in action_notices}
            notices += action_notices
            ready.append((message, claim))
        if not ready:
            return results
        try:
            already, delivered, failure = self._publish(
                notices, {k for keys in keys_of.values() for k in keys}
            )
        except Exception as error:  # the sent notices unreadable (DynamoDB failing): nothing was published
            return results + [self._given_back(message, claim, error) for message, claim in ready]
        sent = already | delivered
        for message, claim in ready:
            keys = keys_of[claim.action_id]
            try:
                if keys <= sent:
                    fresh = len(keys & delivered)
                    note = (
                        f"finance notified ({fresh} notice(s) sent, "
                        f"{len(keys) - fresh} already sent or being sent)"
                        if keys
                        else "nothing to notify"
                    )
                    results.append(self._finish(message, claim, ActionStatus.DONE, note))
                else:
                    results.append(self._failed(message, claim, failure or RuntimeError("notice not sent")))
            except Exception as error:  # its outcome not recorded (DynamoDB failing)
                results.append(self._given_back(message, claim, error))
        return results

    def _notice_links(self) -> ZohoLinks | None:
        """The configured links, but into the Books organisation recorded for the shadow: the customers a
        notice names are the shadow's, wherever ``ZohoBooksOrganizationId`` points now (a link into
        another organisation would open "not found"). Configured ones when none is recorded or readable."""
        links = self.config.links
        if links is None or self.recorded_books_organization is None:
            return links
        try:
            recorded = self.recorded_books_organization()
        except OrganizationRecordUnreadable:  # the Books writes wait for it; the notices need not
            logger.warning("the shadow's Books organisation is unreadable: notices link the configured one")
            return links
        if recorded is None or recorded.organization_id == links.books_organization_id:
            return links
        return replace(links, books_organization_id=recorded.organization_id)

    def _publish(
        self, notices: list[FinanceNotice], wanted: set[str]
    ) -> tuple[set[str], set[str], BaseException | None]:
        """Publish the notices whose keys this executor can claim; returns the keys sent before (or being
        sent by another executor, whose action is retried if it fails), the keys delivered now, and the
        error that stopped the rest, if any."""
        mine = self.sent_notices.claim(wanted, now=self.clock(), lease_seconds=self.config.lease_seconds)
        already = wanted - mine.keys
        delivered: set[str] = set()
        failure: BaseException | None = None
        try:
            deliveries = notify_finance(
                notices,
                self.notifier(),
                sent_keys=already,
                max_individual=self.config.notify_max_individual,
                links=self._notice_links(),
            )
            delivered = {key for d in deliveries for key in d.message.dedup_keys}
        except NotificationFailed as error:
            delivered = {key for d in error.delivered for key in d.message.dedup_keys}
            failure = error
        except Exception as error:  # e.g. no channel configured: retried, then dead-lettered
            failure = error
        if delivered:
            # Stored before anything is marked done: a crash in between re-sends nothing.
            try:
                self.sent_notices.remember(delivered, now=self.clock())
            except Exception:
                # Published all the same: the actions are still marked done below, so a retry of this
                # batch cannot publish them again (only a later decision on the same pair could).
                logger.warning("sent notices not remembered", extra={"count": len(delivered)}, exc_info=True)
        if mine.keys - delivered:
            try:
                self.sent_notices.release(mine, mine.keys - delivered)
            except Exception:
                # The claim lapses after its lease: the retry sends them then.
                logger.warning("notice claims not released", exc_info=True)
        return already, delivered, failure

    # ------------------------------------------------------------------------------------------ sweep
    def sweep(
        self,
        queue: ActionQueue,
        *,
        pending_after: timedelta = timedelta(minutes=2),
        retrying_after: timedelta = timedelta(minutes=15),
        limit: int = 500,
    ) -> list[str]:
        """Re-queue actions a lost message or a failed enqueue left behind; returns their ids.

        ``pending`` actions older than ``pending_after`` were never (or no longer) queued; ``retrying`` ones
        untouched for ``retrying_after`` lost their message; ``running`` ones past their lease lost their
        executor. A duplicate message is harmless: the claim lets only one of them run the action.
        """
        now = self.clock()
        due = self.store.due(
            queued_before=now - pending_after, stale_before=now - retrying_after, now=now, limit=limit
        )
        if due:
            queue.send(due)
            logger.info("outbox sweep re-queued actions", extra={"count": len(due)})
        return due


__all__ = ["EXECUTOR_ACTOR", "Executor", "ExecutorConfig", "OutboxAction", "outcome_entry"]
