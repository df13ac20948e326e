"""MIXED_MAPPING (added): one customer synced to Books twice, from a CRM account and from its contact.

The seed's design advice: "Decide accounts versus contacts once. B2B businesses should map Books customers
to CRM accounts; B2C to contacts. Mixing the two is how crossed mappings start." When the sync makes a
Books customer from a CRM contact whose account already has a Books customer of its own, and the two are
the same customer (a sole trader, whose contact has the account's name and email), Books has the customer
twice. The names differ ("Jane Smith" / "Jane Smith Design"), but renaming, NAME_DRIFT's advice, fixes
nothing: the integration's module choice does. Fires for a Books customer gaining a link to a CRM contact
when a confident duplicate among the live Books customers is the partner of (or linked to) the contact's
account. The copy without transactions is held.
"""

from __future__ import annotations

from sync_guard.guard.context import Candidate, RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import Module, System
from sync_guard.rules.base import Rule, copy_to_hold, describe


def account_of_link(ctx: RuleContext) -> str | None:
    """The CRM account of the contact a Books customer links to, if it is a contact with an account."""
    target = ctx.link_target
    if ctx.record.system is not System.BOOKS or target is None:
        return None
    if target.record.module is not Module.CRM_CONTACTS or not target.record.account_id:
        return None
    return target.record.account_id


def is_account_customer(candidate: Candidate, account_id: str) -> bool:
    """Whether ``candidate`` is the Books customer of CRM account ``account_id`` (paired or linked)."""
    state = candidate.state
    return state.partner == f"crm:{account_id}" or state.record.linked_crm_id == account_id


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
        account_id = account_of_link(ctx)
        if ctx.is_delete or account_id is None or not ctx.link_changed:
            return None
        contact = ctx.link_target
        assert contact is not None
        for candidate in ctx.duplicates(system=System.BOOKS):
            if not is_account_customer(candidate, account_id):
                continue
            explanation = (
                f"The sync made Books customer {describe(ctx.record)} from CRM contact "
                f"{describe(contact.record)}, whose account crm:{account_id} already has Books customer "
                f"{describe(candidate.record)}: the same customer, in Books twice."
            )
            evidence = [
                f"{ctx.ref} zcrm link: contact {contact.ref}",
                f"{contact.ref} belongs to account crm:{account_id}",
                f"{candidate.ref} is the Books customer of crm:{account_id}",
                f"{ctx.ref} has transactions: {ctx.record.has_transactions}",
                f"{candidate.ref} has transactions: {candidate.record.has_transactions}",
                *candidate.match.evidence,
            ]
            return self.finding(
                subject=copy_to_hold(ctx.record, candidate.record),
                explanation=explanation,
                evidence=evidence,
                related=[ctx.ref, candidate.ref, contact.ref, f"crm:{account_id}"],
            )
        return None
