"""What every rule is: a stable code, a severity, words for admins, a default outcome, and ``evaluate``.

A rule is a pure function of a ``RuleContext``; it returns a ``Finding`` (the code, severity, a plain-English
explanation specific to the records involved, the evidence it saw, and the *subject*: the record an action
would hold back) or None. Outcomes (allow/flag/quarantine) are not the rule's business: ``guard.policy``
maps codes to outcomes from configuration, with each rule's ``default_decision`` as the default.
"""

from __future__ import annotations

from typing import ClassVar

from sync_guard.guard.context import RuleContext, invoiced_customer
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import PartyRecord


def describe(record: PartyRecord) -> str:
    """``crm:123 'Acme Ltd'``: how evidence names a record."""
    return f"{record.ref} '{record.name}'"


def transactions_fact(record: PartyRecord) -> str:
    """``books:123 holds transactions``: what Books said of the record's transactions, as evidence."""
    if record.has_transactions is None:
        return f"{record.ref}: not known whether it holds transactions"
    return f"{record.ref} holds {'transactions' if record.has_transactions else 'no transactions'}"


def link_change(ref: str, before: str | None, now: str) -> str:
    """``Zoho linked books:1 to crm:5 before, now to crm:6``: a Books customer's CRM link, then and now."""
    return f"Zoho linked {ref} to {f'crm:{before}' if before else 'no CRM record'} before, now to crm:{now}"


def copy_to_hold(record: PartyRecord, other: PartyRecord) -> str:
    """Which of two copies of a customer a hold takes back: the seed's "the copy with invoices against it
    wins", so ``other`` when only ``record`` is known to hold transactions (Books says so, or it has a
    balance outstanding: ``invoiced_customer``, the engine's own test), else ``record``. Both come from the
    ``RuleContext``: what Books last said of their transactions, where the event's payload did not say."""
    return other.ref if (invoiced_customer(record) and not invoiced_customer(other)) else record.ref


def hold_choice(record: PartyRecord, other: PartyRecord) -> tuple[str, list[str]]:
    """``copy_to_hold`` with the evidence for it when the hold passes the event's own ``record`` over: a
    customer the guard first meets through an edit (not seeded) may be the one with the invoices, and
    holding it (inactive in Books) would stop finance invoicing the real customer."""
    subject = copy_to_hold(record, other)
    if subject == record.ref:
        return subject, []
    return subject, [f"{record.ref} holds transactions and {other.ref} does not: the hold is on {subject}"]


class Rule:
    """Base class: subclasses set the class attributes and implement ``evaluate``."""

    code: ClassVar[str]
    severity: ClassVar[Severity]
    title: ClassVar[str]
    #: What the pattern is, in words a bookkeeper understands (docs/rules.md is built from the same text).
    summary: ClassVar[str]
    #: What to do about it.
    advice: ClassVar[str]
    default_decision: ClassVar[Decision]
    #: The finding says "these records are the same customer" (it reads ``ctx.duplicates``): an admin who
    #: releases its hold judges them distinct, and the guard remembers (``RecordState.cleared``).
    judges_duplicates: ClassVar[bool] = False

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        raise NotImplementedError

    def finding(
        self,
        *,
        subject: str,
        explanation: str,
        evidence: list[str] | tuple[str, ...],
        related: list[str] | tuple[str, ...] = (),
    ) -> Finding:
        return Finding(
            code=self.code,
            severity=self.severity,
            explanation=explanation,
            evidence=tuple(dict.fromkeys(evidence)),
            subject=subject,
            related=tuple(dict.fromkeys(ref for ref in related if ref != subject)),
        )
