"""BROKEN_MAPPING: identical name, new record: the pair was lost and the sync made another customer.

The seed's checklist: "Identical names point at a broken mapping." Fires for a new Books customer that the
sync linked to CRM record C when a live Books customer with the same normalised name was C's partner in
the shadow but no longer carries Zoho's link to C (deleted mapping, disconnect/reconnect). The copy without
transactions is held: the "new" customer may be the invoiced one, met by the guard through an edit.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, describe, hold_choice


class BrokenMapping(Rule):
    code = "BROKEN_MAPPING"
    severity = Severity.HIGH
    title = "Mapping lost: identical new customer"
    summary = (
        "The sync created a new Books customer with the same name as the one it was already paired with. "
        "Zoho's hidden mapping for that pair broke (a delete, a merge or a disconnect) and the sync now "
        "treats the CRM record as new."
    )
    advice = (
        "Keep the original customer (it holds the invoices), mark the new one inactive, and ask Zoho support "
        "to repair the mapping. Never disconnect and reconnect: that breaks every mapping at once."
    )
    default_decision = Decision.QUARANTINE
    judges_duplicates = True

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        crm_id = ctx.record.linked_crm_id
        if not ctx.is_new or ctx.record.system is not System.BOOKS or not crm_id:
            return None
        crm_ref = ctx.link_target.ref if ctx.link_target else None
        mine = ctx.name_key(ctx.record)
        for candidate in ctx.duplicates(system=System.BOOKS):
            other = candidate.state
            was_paired = crm_ref is not None and crm_ref in {other.partner, other.former_partner}
            if not was_paired or other.record.linked_crm_id == crm_id or ctx.name_key(other.record) != mine:
                continue
            explanation = (
                f"The sync created {describe(ctx.record)} for CRM record {crm_ref}, which was paired with "
                f"{describe(other.record)}: same name, new record, so the mapping between them was lost."
            )
            evidence = [
                f"{other.ref} was paired with {crm_ref}",
                f"{other.ref} no longer carries Zoho's link to {crm_ref}",
                f"identical normalised name '{mine}'",
                *candidate.match.evidence,
            ]
            subject, why = hold_choice(ctx.record, other.record)
            return self.finding(
                subject=subject,
                explanation=explanation,
                evidence=evidence + why,
                related=[ctx.ref, other.ref, crm_ref or ""],
            )
        return None
