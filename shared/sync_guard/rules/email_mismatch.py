"""EMAIL_MISMATCH: the same person with different emails on each side (seed pattern 5).

Where the sync pairs contact persons, a different email on the Books contact person than on the CRM
contact is enough to fail the match and create a duplicate. Fires for a person (CRM contact, Books
individual) new to the guard or whose email changed, when a person on the other side has the same
normalised name, is at least a possible match, and shares no email address with it.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.records import PartyRecord, RecordKind, System
from sync_guard.rules.base import Rule, describe, hold_choice


def emails_of(record: PartyRecord) -> set[str]:
    return {e.strip().lower() for e in (record.email, *record.other_emails) if e and e.strip()}


class EmailMismatch(Rule):
    code = "EMAIL_MISMATCH"
    severity = Severity.MEDIUM
    title = "Same person, different email"
    summary = (
        "A contact exists on both sides with the same name but a different email address. The sync pairs "
        "contact persons by email, so the mismatch makes it create a duplicate."
    )
    advice = (
        "Correct the email on whichever side is wrong, then check the sync did not create a second contact."
    )
    default_decision = Decision.FLAG
    judges_duplicates = True

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        if ctx.is_delete or ctx.record.kind is not RecordKind.PERSON:
            return None
        mine = emails_of(ctx.record)
        email_changed = ctx.previous is not None and emails_of(ctx.previous.record) != mine
        if not mine or not (ctx.is_new or email_changed):
            return None
        other_side = System.BOOKS if ctx.record.system is System.CRM else System.CRM
        for candidate in ctx.duplicates(system=other_side, possible_too=True):
            theirs = emails_of(candidate.record)
            if candidate.record.kind is not RecordKind.PERSON or not theirs or theirs & mine:
                continue
            if ctx.name_key(candidate.record) != ctx.name_key(ctx.record):
                continue
            explanation = (
                f"{describe(ctx.record)} and {describe(candidate.record)} are the same person but have no "
                "email address in common, so the sync will not pair them."
            )
            evidence = [
                f"{ctx.ref} email: {', '.join(sorted(mine))}",
                f"{candidate.ref} email: {', '.join(sorted(theirs))}",
                *candidate.match.evidence,
            ]
            # Held, the Books copy is the one to keep if it holds transactions (met through an edit).
            subject, why = hold_choice(ctx.record, candidate.record)
            return self.finding(
                subject=subject,
                explanation=explanation,
                evidence=evidence + why,
                related=[ctx.ref, candidate.ref],
            )
        return None
