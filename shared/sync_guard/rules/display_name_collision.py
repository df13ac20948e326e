"""DISPLAY_NAME_COLLISION: Books error 3062 ahead; the record will silently stop syncing.

Books display names must be unique per organisation. When the sync creates (or renames) a customer whose
name another Books customer already uses, Books answers error 3062 and that record stops syncing with no
message to anyone. Fires for a CRM record, new or renamed, whose name equals (ignoring case) the display
name of a live Books customer that is not its partner.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, describe


class DisplayNameCollision(Rule):
    code = "DISPLAY_NAME_COLLISION"
    severity = Severity.MEDIUM
    title = "Books display name already taken (error 3062)"
    summary = (
        "A CRM record has the same name as an existing Books customer it is not linked to. Books requires "
        "unique display names, so when the sync pushes it Books rejects it (error 3062) and the record "
        "silently stops syncing."
    )
    advice = (
        "If it is the same customer, ask Zoho support to pair them; if not, make the names distinct "
        "(e.g. add the town) before the next sync."
    )
    default_decision = Decision.FLAG

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        if ctx.is_delete or ctx.record.system is not System.CRM or not (ctx.is_new or ctx.renamed):
            return None
        wanted = ctx.record.name.strip().casefold()
        partner = ctx.partner.ref if ctx.partner else None
        for candidate in ctx.candidates:
            other = candidate.state
            if other.record.system is not System.BOOKS or other.deleted or other.ref == partner:
                continue
            if other.record.name.strip().casefold() != wanted:
                continue
            explanation = (
                f"Books customer {describe(other.record)} already uses the display name of "
                f"{describe(ctx.record)}: when the sync pushes it, Books rejects it with error 3062 and "
                f"{ctx.ref} silently stops syncing."
            )
            evidence = [
                f"display name '{other.record.name}' is taken by {other.ref}",
                f"{other.ref} is paired with {other.partner}"
                if other.partner
                else f"{other.ref} is unpaired",
            ]
            return self.finding(
                subject=ctx.ref, explanation=explanation, evidence=evidence, related=[other.ref]
            )
        return None
