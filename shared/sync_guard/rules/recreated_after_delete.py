"""RECREATED_AFTER_DELETE: a new record for a company whose record on the same side was deleted.

Seed pattern 3, second half and its FAQ: "if you delete the copy that holds the sync mapping, the next edit
in CRM recreates it as a fresh customer". Fires when a record new to the guard is a confident duplicate of
a deleted record on the same side (deleted records stay in the shadow's key index for exactly this), and
was not created while that record still lived (before its last change).
"""

from __future__ import annotations

from datetime import datetime

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, RecordState, Severity
from sync_guard.rules.base import Rule, describe
from sync_guard.timefmt import utc_minute


def existed_before(created_at: datetime | None, deleted: RecordState) -> bool:
    """Whether a record was created before the deleted one last changed, so it was there while that one
    still lived and cannot be it recreated: the copy a bookkeeper kept when deleting its duplicate, met by
    the guard through a later edit. Both times are Zoho's (the delete's arrival is the guard's clock)."""
    changed = deleted.record.modified_at
    return created_at is not None and changed is not None and created_at < changed


class RecreatedAfterDelete(Rule):
    code = "RECREATED_AFTER_DELETE"
    severity = Severity.CRITICAL
    title = "Recreated after a delete"
    summary = (
        "A customer that was deleted has come back as a brand-new record, usually because its CRM partner "
        "was edited and the sync recreated it. The new copy has none of the old one's transaction history."
    )
    advice = (
        "Do not invoice the new copy. Restore or reactivate the original if it holds transactions, then ask "
        "Zoho support to point the mapping at it."
    )
    default_decision = Decision.QUARANTINE
    judges_duplicates = True

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        if not ctx.is_new:
            return None
        for candidate in ctx.duplicates(system=ctx.record.system, live=False):
            deleted = candidate.state
            if existed_before(ctx.record.created_at, deleted):
                continue  # the survivor of a clean-up, first met through an edit: no recreation
            when = utc_minute(deleted.deleted_at) if deleted.deleted_at else "earlier"
            partner = deleted.former_partner
            explanation = (
                f"{describe(ctx.record)} is a new record for the same company as {describe(deleted.record)}, "
                f"which was deleted {when}"
                + (f" while paired with {partner}" if partner else "")
                + ". The new copy carries none of the deleted one's history."
            )
            evidence = [f"{candidate.ref} deleted {when}", *candidate.match.evidence]
            if ctx.record.linked_crm_id and partner and partner.endswith(f":{ctx.record.linked_crm_id}"):
                evidence.append(f"created for the same CRM record {partner}")
            return self.finding(
                subject=ctx.ref,
                explanation=explanation,
                evidence=evidence,
                related=[candidate.ref, *([partner] if partner else [])],
            )
        return None
