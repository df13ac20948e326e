"""SAME_SIDE_DUPLICATE (added): a new CRM record duplicates a live CRM record of the same module.

The seed's checklist asks "are duplicates appearing in Books, in CRM or both? The direction tells you which
side is creating them." Books-side duplicates have their own codes (NAME_DRIFT, BROKEN_MAPPING, DOUBLE_LINK,
RECREATED_AFTER_DELETE); this one names the CRM side, where each duplicate becomes one more Books customer
once synced. It is also what the loser of two racing creates of one company is flagged with.

When the existing CRM record is synced (the shadow pairs it with a Books customer), the finding names that
customer too (in ``related`` and in its evidence): it is the one finance goes on invoicing, and the one the
new record's Books copy, once the sync makes it, duplicates.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, describe


class SameSideDuplicate(Rule):
    code = "SAME_SIDE_DUPLICATE"
    severity = Severity.MEDIUM
    title = "Duplicate created in CRM"
    summary = (
        "A new CRM record is the same company or person as an existing CRM record. Once synced, each CRM "
        "duplicate becomes another Books customer."
    )
    advice = (
        "Merge the CRM duplicates (after checking which one is mapped to the Books customer with invoices)."
    )
    default_decision = Decision.FLAG
    judges_duplicates = True

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        if not ctx.is_new or ctx.record.system is not System.CRM:
            return None
        for candidate in ctx.duplicates(system=System.CRM):
            if candidate.record.module is not ctx.record.module:
                continue
            explanation = (
                f"{describe(ctx.record)} duplicates the existing CRM record {describe(candidate.record)}; "
                "once synced it becomes a second Books customer."
            )
            evidence = [*candidate.match.evidence, f"match score {candidate.match.score:.2f}"]
            related = [candidate.ref]
            partner = candidate.state.partner
            if partner and partner.startswith(f"{System.BOOKS.value}:"):
                evidence.append(synced_to(candidate.ref, partner, ctx))
                related.append(partner)
            return self.finding(subject=ctx.ref, explanation=explanation, evidence=evidence, related=related)
        return None


def synced_to(crm_ref: str, books_ref: str, ctx: RuleContext) -> str:
    """The evidence line naming the Books customer the existing CRM record is synced to (with its name
    when it was read with the event, as a candidate of the new record usually is)."""
    name = next((c.record.name for c in ctx.candidates if c.ref == books_ref and c.record.name), "")
    named = f' "{name}"' if name else ""
    return f"{crm_ref} is synced to Books customer {books_ref}{named}: the customer to invoice"
