"""DOUBLE_LINK: two Books customers linked to one CRM record.

Books exposes the sync's link on each customer (``zcrm_account_id``/``zcrm_contact_id``). Two live
customers naming the same CRM record means the sync duplicated it (typically after a reconnect) and only
one of them receives updates. Fires when a Books customer gains a link to a CRM record that another live
Books customer already links to.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, copy_to_hold, describe, transactions_fact


class DoubleLink(Rule):
    code = "DOUBLE_LINK"
    severity = Severity.HIGH
    title = "Two Books customers linked to one CRM record"
    summary = (
        "Two Books customers are linked to the same CRM account or contact. Only one of them can be the real "
        "partner; the other is a duplicate that will drift and may be invoiced by mistake."
    )
    advice = (
        "Keep the customer with transactions, mark the other inactive, and ask Zoho support which one the "
        "mapping should keep."
    )
    default_decision = Decision.QUARANTINE

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        crm_id = ctx.record.linked_crm_id
        if ctx.is_delete or ctx.record.system is not System.BOOKS or not crm_id:
            return None
        if not ctx.link_changed:
            return None
        others = [
            s for s in ctx.linked_books if s.live and s.record.linked_crm_id == crm_id and s.ref != ctx.ref
        ]
        if not others:
            return None
        other = others[0]
        # Hold back the copy without transactions; if both have them, the newcomer.
        subject = copy_to_hold(ctx.record, other.record)
        explanation = (
            f"{describe(ctx.record)} and {describe(other.record)} are both linked to CRM record "
            f"crm:{crm_id}; the sync duplicated it and only one of them can be its real partner."
        )
        evidence = [
            f"{ctx.ref} carries Zoho's link to crm:{crm_id}",
            *(f"{s.ref} carries Zoho's link to crm:{crm_id}" for s in others),
            transactions_fact(ctx.record),
            transactions_fact(other.record),
        ]
        return self.finding(
            subject=subject,
            explanation=explanation,
            evidence=evidence,
            related=[ctx.ref, *(s.ref for s in others), f"crm:{crm_id}"],
        )
