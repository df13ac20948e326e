"""NAME_DRIFT: the same company under a slightly different name (seed pattern 1: Ltd vs Limited, "The").

Zoho's first sync pairs only exact names, so "Acme Ltd" in CRM never meets "Acme Limited" in Books and the
sync creates a second Books customer next to the one being invoiced. Fires when a record new to the guard
is a confident duplicate of a live Books customer (not its partner) whose name is not exactly the same:
either the Books duplicate the sync just made, or a CRM record the sync is about to duplicate. A new Books
customer whose trimmed name is an existing customer's counts too: Books refuses two identical display names,
so they differ by spaces at an end ("Acme Ltd " in the seed), which the webhook parsers trim.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, describe, hold_choice
from sync_guard.rules.both_sides_created import created_on_both_sides
from sync_guard.rules.mixed_mapping import mixed_with


class NameDrift(Rule):
    code = "NAME_DRIFT"
    severity = Severity.HIGH
    title = "Same company, name spelt differently"
    summary = (
        "A new record is the same company as an existing Books customer, but the names differ slightly "
        "(Ltd/Limited, '&'/'and', a leading 'The', spacing). Zoho pairs records by exact name only, so the "
        "sync treats them as different companies and creates a duplicate customer in Books."
    )
    advice = (
        "Keep the Books customer that holds the invoices. Make the names identical in both apps, then ask "
        "Zoho support to pair the CRM record with that customer. Do not disconnect the integration."
    )
    default_decision = Decision.QUARANTINE
    judges_duplicates = True

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        if not ctx.is_new:
            return None
        link_target = ctx.link_target.ref if ctx.link_target else None
        for candidate in ctx.duplicates(system=System.BOOKS):
            same_name = candidate.record.name == ctx.record.name
            if same_name and ctx.record.system is System.CRM:
                continue  # a CRM record of a Books customer's exact name: a collision or a pairing, not drift
            was_pair_of_link = link_target in {candidate.state.partner, candidate.state.former_partner}
            if (
                link_target
                and was_pair_of_link
                and ctx.name_key(candidate.record) == ctx.name_key(ctx.record)
            ):
                continue  # identical name, and it was the pair of this record's CRM record: BROKEN_MAPPING
            if mixed_with(ctx, candidate) is not None:
                continue  # the same customer synced from its CRM account and from its contact: MIXED_MAPPING
            if created_on_both_sides(ctx, candidate.state):
                continue  # two people created it at about the same time: BOTH_SIDES_CREATED's case
            explanation = (
                f"{describe(ctx.record)} is the same company as Books customer {describe(candidate.record)}, "
                "but the names are not identical, so Zoho's exact-name pairing will not (or did not) link "
                "them and the sync creates a duplicate customer in Books."
            )
            # Books refuses a second customer of one display name, so two that read the same differ in
            # what the webhook trims: a space at either end ("Acme Ltd " in the seed), or a no-break space.
            differ = (
                f"names differ only by spaces: '{ctx.record.name}' (Books refuses two identical names)"
                if same_name
                else f"names differ: '{ctx.record.name}' vs '{candidate.record.name}'"
            )
            evidence = [
                differ,
                *candidate.match.evidence,
                f"match score {candidate.match.score:.2f}",
            ]
            subject, why = hold_choice(ctx.record, candidate.record)
            return self.finding(
                subject=subject,
                explanation=explanation,
                evidence=evidence + why,
                related=[ctx.ref, candidate.ref],
            )
        return None
