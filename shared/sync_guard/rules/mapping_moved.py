"""MAPPING_MOVED (added): Zoho now maps a CRM record to another Books customer than its live partner.

The seed's reconnect: "'Acme Ltd' in CRM now has two possible partners in Books and the matcher was never
built for that situation." Once a CRM record is paired, only a disconnect/reconnect (Zoho's exact-name
matching run again) or Zoho support re-points its mapping. When the old partner lost Zoho's link first (a
disconnect that clears the links), the new link is no DOUBLE_LINK, and when the two names are not alike
enough for NAME_DRIFT or identical for BROKEN_MAPPING, nothing else notices that the CRM record's edits now
reach a different customer from the one holding its invoices. Fires when a Books customer gains a link to
CRM record C whose pair in the shadow was another Books customer that lives on without the link.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, describe, hold_choice, link_change, transactions_fact


class MappingMoved(Rule):
    code = "MAPPING_MOVED"
    severity = Severity.HIGH
    title = "CRM record re-paired with another Books customer"
    summary = (
        "Zoho now links a CRM record to a different Books customer from the one it was paired with, which "
        "still exists without the link. A reconnect re-pairing by exact name does this; so does a repair by "
        "Zoho support. CRM edits now reach the new partner, not the customer that holds the history."
    )
    advice = (
        "If Zoho support did not just re-point this mapping on your request, keep the customer with the "
        "invoices, stop invoicing the other, and ask Zoho support to point the mapping back."
    )
    # A repair by Zoho support looks the same, and holding the customer it chose would undo the fix.
    default_decision = Decision.FLAG

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        crm_id = ctx.record.linked_crm_id
        target = ctx.link_target
        if ctx.is_delete or ctx.record.system is not System.BOOKS or not crm_id or target is None:
            return None
        if not ctx.link_changed:
            return None
        previous = ctx.previous
        old = ctx.former_link_partner
        if target.partner != ctx.ref or old is None or old.ref == ctx.ref or not old.live:
            return None
        if old.record.linked_crm_id == crm_id:
            return None  # both still carry the link: DOUBLE_LINK's case
        if ctx.is_new and any(c.ref == old.ref for c in ctx.duplicates(system=System.BOOKS)):
            return None  # a new copy of the old partner: NAME_DRIFT's or BROKEN_MAPPING's case
        explanation = (
            f"Zoho now links CRM record {describe(target.record)} to Books customer {describe(ctx.record)}, "
            f"but it was paired with {describe(old.record)}, which still exists without the link. Edits of "
            f"the CRM record now reach {ctx.ref} instead."
        )
        evidence = [
            f"{target.ref} was paired with {old.ref}",
            f"{old.ref} no longer carries Zoho's link to {target.ref}",
            link_change(ctx.ref, previous.record.linked_crm_id if previous else None, crm_id),
            transactions_fact(ctx.record),
            transactions_fact(old.record),
        ]
        # Set to quarantine, the hold keeps the customer with the invoices (advice: stop invoicing the other).
        subject, why = hold_choice(ctx.record, old.record)
        return self.finding(
            subject=subject,
            explanation=explanation,
            evidence=evidence + why,
            related=[ctx.ref, old.ref, target.ref],
        )
