"""CROSSED_MAPPING (added): a Books customer's Zoho link now names a different CRM record than its pair.

Not in the original list; the seed implies it twice: "for orphaned or crossed mappings [support] is the
only route" and "mixing [accounts and contacts] is how crossed mappings start". Fires when an existing
Books customer's ``zcrm_account_id``/``zcrm_contact_id`` changes to a CRM record other than the one the
shadow pairs it with.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, describe, link_change


class CrossedMapping(Rule):
    code = "CROSSED_MAPPING"
    severity = Severity.HIGH
    title = "Mapping crossed to another CRM record"
    summary = (
        "A Books customer is now linked to a different CRM record than the one it was paired with, for "
        "example an account's customer re-linked to a contact. Updates from the old partner stop reaching "
        "it, and the old partner may get a new customer."
    )
    advice = "Check which CRM record the customer belongs to and ask Zoho support to correct the mapping."
    default_decision = Decision.FLAG

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        previous = ctx.previous
        crm_id = ctx.record.linked_crm_id
        if ctx.is_delete or ctx.is_new or ctx.record.system is not System.BOOKS or previous is None:
            return None
        old_partner = previous.partner
        if not crm_id or not old_partner or old_partner == f"crm:{crm_id}":
            return None
        if previous.record.linked_crm_id == crm_id:
            return None
        explanation = (
            f"Books customer {describe(ctx.record)} was paired with {old_partner} but its Zoho link now "
            "names "
            f"crm:{crm_id}."
        )
        evidence = [
            f"{ctx.ref} was paired with {old_partner} in the guard's mapping"
            + (f" {previous.pair_source.how}" if previous.pair_source else ""),
            link_change(ctx.ref, previous.record.linked_crm_id, crm_id),
        ]
        return self.finding(
            subject=ctx.ref,
            explanation=explanation,
            evidence=evidence,
            related=[old_partner, f"crm:{crm_id}"],
        )
