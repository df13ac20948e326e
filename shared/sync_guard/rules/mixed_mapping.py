"""MIXED_MAPPING (added): one customer synced to Books twice, from a CRM account and from its contact.

The seed's design advice: "Decide accounts versus contacts once. B2B businesses should map Books customers
to CRM accounts; B2C to contacts. Mixing the two is how crossed mappings start." When the sync makes a
Books customer from a CRM contact whose account already has a Books customer of its own, or from an account
one of whose contacts already has one, and the two are the same customer (a sole trader, whose contact has
the account's name and email), Books has the customer twice. The names differ ("Jane Smith" / "Jane Smith
Design"), but renaming, NAME_DRIFT's advice, fixes nothing: the integration's module choice does. Fires for
a Books customer gaining a link to a CRM contact (or account) when a confident duplicate among the live
Books customers is the partner of (or linked to) the contact's account (or one of the account's contacts),
in either order. The copy without transactions is held.
"""

from __future__ import annotations

from sync_guard.guard.context import Candidate, RuleContext
from sync_guard.guard.model import Decision, Finding, RecordState, Severity
from sync_guard.models.records import Module, System
from sync_guard.rules.base import Rule, copy_to_hold, describe, transactions_fact


def is_customer_of(candidate: Candidate, crm_id: str) -> bool:
    """Whether ``candidate`` is the Books customer of CRM record ``crm_id`` (paired or linked)."""
    state = candidate.state
    return state.partner == f"crm:{crm_id}" or state.record.linked_crm_id == crm_id


def mixed_with(ctx: RuleContext, candidate: Candidate) -> tuple[RecordState, str] | None:
    """The CRM contact and account id through which this event's Books customer and Books customer
    ``candidate`` are one customer synced from both (either may be the contact's), else None."""
    target = ctx.link_target
    if ctx.record.system is not System.BOOKS or target is None or candidate.record.system is not System.BOOKS:
        return None
    if target.record.module is Module.CRM_CONTACTS:
        account_id = target.record.account_id
        return (target, account_id) if account_id and is_customer_of(candidate, account_id) else None
    if target.record.module is Module.CRM_ACCOUNTS:
        for contact in ctx.link_contacts:
            if is_customer_of(candidate, contact.record.record_id):
                return contact, target.record.record_id
    return None


def mix_basis(ctx: RuleContext) -> list[str]:
    """What ``MIXED_MAPPING``'s verdict on a Books customer whose link changed rests on, besides its link
    target: the Books duplicates it compares (``mixed_with``) and, for a link to an account, the account's
    contacts read. Whether one of those customers is the other side's is read from their states, and the
    sync linking the other copy at the same moment writes them (the copy, or the contact it pairs) without
    writing anything this event writes, so each is a condition of the commit (``engine.decision_basis``)."""
    target = ctx.link_target
    if ctx.is_delete or not ctx.link_changed or ctx.record.system is not System.BOOKS or target is None:
        return []
    refs = [candidate.ref for candidate in ctx.duplicates(system=System.BOOKS)]
    if target.record.module is Module.CRM_ACCOUNTS:
        refs += [contact.ref for contact in ctx.link_contacts]
    return refs


class MixedMapping(Rule):
    code = "MIXED_MAPPING"
    severity = Severity.HIGH
    title = "Customer synced from both a CRM account and its contact"
    summary = (
        "The same customer is in Books twice: once from the CRM account and once from one of its contacts. "
        "The integration maps Books customers to CRM contacts as well as to accounts, which the sync was "
        "never meant to mix."
    )
    advice = (
        "Decide once whether Books customers map to CRM accounts (B2B) or to contacts (B2C) and set the "
        "integration's module to match. Keep the Books customer with the invoices and mark the other "
        "inactive; ask Zoho support to remove the other mapping."
    )
    default_decision = Decision.QUARANTINE
    judges_duplicates = True

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        if ctx.is_delete or not ctx.link_changed:
            return None
        for candidate in ctx.duplicates(system=System.BOOKS):
            mix = mixed_with(ctx, candidate)
            if mix is None:
                continue
            contact, account_id = mix
            account = f"crm:{account_id}"
            if ctx.link_target is contact:
                made_from = f"CRM contact {describe(contact.record)}, whose account {account}"
                links = [
                    f"{ctx.ref} carries Zoho's link to CRM contact {contact.ref}",
                    f"{candidate.ref} is the Books customer of {account}",
                ]
            else:
                made_from = f"CRM account {account}, whose contact {describe(contact.record)}"
                links = [
                    f"{ctx.ref} carries Zoho's link to CRM account {account}",
                    f"{candidate.ref} is the Books customer of contact {contact.ref}",
                ]
            explanation = (
                f"The sync made Books customer {describe(ctx.record)} from {made_from} already has Books "
                f"customer {describe(candidate.record)}: the same customer, in Books twice."
            )
            evidence = [
                links[0],
                f"{contact.ref} belongs to account {account}",
                links[1],
                transactions_fact(ctx.record),
                transactions_fact(candidate.record),
                *candidate.match.evidence,
            ]
            return self.finding(
                subject=copy_to_hold(ctx.record, candidate.record),
                explanation=explanation,
                evidence=evidence,
                related=[ctx.ref, candidate.ref, contact.ref, account],
            )
        return None
