"""CRM_MERGE_ORPHAN: a CRM merge left the merged-away account's Books customer orphaned (seed pattern 4).

A manual merge in CRM deletes the merged-away account (the workflow delete trigger fires for manual merges)
and keeps the master. Fires on a CRM delete whose Books partner lives on, when a live CRM record that is a
confident duplicate of the deleted one survives with a Books customer of its own: the deleted one's Books
customer is now orphaned and duplicates the survivor's.
"""

from __future__ import annotations

from sync_guard.guard.context import Candidate, RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, describe
from sync_guard.timefmt import utc_minute


def merge_masters(ctx: RuleContext) -> list[Candidate]:
    """The live CRM duplicates a deleted CRM record that had a partner may have been merged into: whether
    one is paired with another Books customer (``merge_survivor``) tells a merge orphan
    (``CRM_MERGE_ORPHAN``) from a customer merely left unmapped (``PARTNER_DELETED``), so the decision rests
    on each of them as read (``engine.decision_basis``)."""
    if not ctx.is_delete or ctx.record.system is not System.CRM or ctx.partner is None:
        return []
    return ctx.duplicates(system=System.CRM)


def merge_survivor(ctx: RuleContext) -> Candidate | None:
    """The live CRM duplicate, paired with another Books customer, that a deleted record was merged into."""
    partner = ctx.partner.ref if ctx.partner is not None else None
    for candidate in merge_masters(ctx):
        if candidate.state.partner and candidate.state.partner != partner:
            return candidate
    return None


class CrmMergeOrphan(Rule):
    code = "CRM_MERGE_ORPHAN"
    severity = Severity.HIGH
    title = "Orphaned by a CRM merge"
    summary = (
        "Two CRM accounts that each had a Books customer were merged in CRM. Merging in CRM does not merge "
        "the Books customers: one mapping survives at best, and the other Books customer is orphaned and may "
        "be duplicated again later."
    )
    advice = (
        "Pick the surviving Books customer (the one with invoices), move transactions off the orphan, then "
        "mark the orphan inactive. Merge in CRM only after Zoho support has confirmed the mappings."
    )
    default_decision = Decision.FLAG
    judges_duplicates = True

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        survivor = merge_survivor(ctx)
        if survivor is None or ctx.partner is None or ctx.partner.deleted:
            return None
        orphan = ctx.partner.record
        survivor_partner = survivor.state.partner or ""
        explanation = (
            f"CRM record {describe(ctx.record)} was deleted and {describe(survivor.record)}, the same "
            "company, "
            f"lives on paired with {survivor_partner}: this looks like a CRM merge. Books customer "
            f"{describe(orphan)} is now orphaned and duplicates {survivor_partner}."
        )
        evidence = [
            f"{ctx.ref} deleted {utc_minute(ctx.event.received_at)}",
            f"{ctx.ref} was paired with {orphan.ref}",
            f"{survivor.ref} is paired with {survivor_partner}",
            *survivor.match.evidence,
        ]
        return self.finding(
            subject=orphan.ref,
            explanation=explanation,
            evidence=evidence,
            related=[ctx.ref, survivor.ref, survivor_partner],
        )
