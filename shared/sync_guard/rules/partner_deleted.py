"""PARTNER_DELETED: one side of a pair was deleted while its partner lives on (seed pattern 3).

A Books customer deleted while its CRM account lives: the next edit of the account recreates the customer,
minus its transaction history. A CRM account deleted: the sync does not propagate deletes, so the Books
customer stays, unmapped. (A CRM delete that looks like a merge is CRM_MERGE_ORPHAN instead.)

Also seen on a Books customer's event whose Zoho link names a CRM record the shadow holds as deleted, when
the guard has not said so already: met only after the delete (the customer unknown then, or the CRM record
deleted before the guard saw it), the customer is the orphan that delete left, and nobody was told.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, describe
from sync_guard.rules.crm_merge_orphan import merge_survivor
from sync_guard.timefmt import utc_minute


class PartnerDeleted(Rule):
    code = "PARTNER_DELETED"
    severity = Severity.HIGH
    title = "Partner record deleted"
    summary = (
        "A record was deleted while its partner on the other side still exists. If a Books customer was "
        "deleted, the next edit of its CRM account silently recreates it without its invoices; if a CRM "
        "account was deleted, its Books customer stays behind, no longer synced."
    )
    advice = (
        "If the Books customer was deleted by mistake, hold the CRM account back from the sync (the guard's "
        "tag) and ask Zoho support to restore the mapping before anyone edits the account. If the CRM record "
        "went, find out how: merged into another record with a Books customer of its own, keep the Books "
        "copy with the invoices and ask Zoho support to re-point the mapping; deleted by mistake, restore it "
        "from CRM's recycle bin rather than typing it in again."
    )
    default_decision = Decision.FLAG

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        if not ctx.is_delete:
            return self._still_linked_to_deleted(ctx)
        if ctx.partner is None or ctx.partner.deleted:
            return None
        if ctx.partner.partner != ctx.ref:
            # The partner is paired with another record: this one was a second copy linked to it (the
            # duplicate a bookkeeper deletes while cleaning up), and the pair that matters lives on.
            return None
        if ctx.record.system is System.CRM and merge_survivor(ctx) is not None:
            return None
        partner = ctx.partner.record
        if ctx.record.system is System.BOOKS:
            explanation = (
                f"Books customer {describe(ctx.record)} was deleted but its CRM partner {describe(partner)} "
                "still exists: the next edit of that account makes the sync create a new customer without "
                "the old one's transaction history."
            )
        else:
            explanation = (
                f"CRM record {describe(ctx.record)} was deleted; its Books customer {describe(partner)} "
                "stays in Books, no longer mapped (Zoho does not sync deletions)."
            )
        evidence = [
            f"{ctx.ref} deleted {utc_minute(ctx.event.received_at)}",
            f"was paired with {partner.ref}",
        ]
        return self.finding(
            subject=partner.ref, explanation=explanation, evidence=evidence, related=[ctx.ref]
        )

    def _still_linked_to_deleted(self, ctx: RuleContext) -> Finding | None:
        """A Books customer whose link names a deleted CRM record, unless its previous state already was that
        record's orphan (the delete, or an earlier event of the customer, said so)."""
        target = ctx.link_target
        if ctx.record.system is not System.BOOKS or target is None or not target.deleted:
            return None
        previous = ctx.previous
        if (
            previous is not None
            and previous.live
            and previous.partner is None
            and previous.former_partner == target.ref
            and previous.record.linked_crm_id == ctx.record.linked_crm_id
        ):
            return None
        when = utc_minute(target.deleted_at) if target.deleted_at else "earlier"
        deleted = describe(target.record) if target.record.name else target.ref
        explanation = (
            f"Books customer {describe(ctx.record)} still carries Zoho's link to CRM record {deleted}, "
            f"which was deleted {when}: it stays in Books, no longer mapped (Zoho does not sync deletions)."
        )
        evidence = [f"{target.ref} deleted {when}", f"{ctx.ref} still carries Zoho's link to {target.ref}"]
        return self.finding(subject=ctx.ref, explanation=explanation, evidence=evidence, related=[target.ref])
