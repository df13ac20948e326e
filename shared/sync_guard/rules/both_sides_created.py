"""BOTH_SIDES_CREATED: sales created the account in CRM while finance created the customer in Books.

Seed pattern 2: with two-way sync on, each copy is then pushed to the other side. Fires when a record new
to the guard, not created by the sync (a Books customer without a Zoho CRM link), is a confident duplicate
of an unpaired live record on the other side created within ``both_sides_window_hours`` of it.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, RecordState, Severity
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, describe, hold_choice
from sync_guard.timefmt import utc_minute


def created_on_both_sides(ctx: RuleContext, other: RecordState) -> bool:
    """True when ``other`` and the event's record look like two people creating the same party."""
    return not other.partner and _created_alongside(ctx, other)


def _created_alongside(ctx: RuleContext, other: RecordState) -> bool:
    """``created_on_both_sides`` but for ``other``'s pairing."""
    if not ctx.is_new or ctx.record.linked_crm_id or other.deleted:
        return False
    if other.record.system is ctx.record.system:
        return False
    gap = abs(ctx.created_at() - ctx.created_at(other))
    return gap <= ctx.both_sides_window


def both_sides_basis(ctx: RuleContext) -> list[str]:
    """The duplicates on the other side that ``BOTH_SIDES_CREATED`` passed over for being paired: whether
    one still is, is read from its state, and the sync or an edit dropping the pair at the same moment
    writes it (and its partner) without writing anything this event writes. A rule citing it or its
    partner conditions the commit on it anyway (``SAME_SIDE_DUPLICATE``, ``NAME_DRIFT``), but not always:
    a Books customer duplicating a CRM record only, whose Books partner has another name, met through an
    edit (no storm count either). So each is a condition of the commit (``engine.decision_basis``)."""
    other_side = System.BOOKS if ctx.record.system is System.CRM else System.CRM
    return [
        candidate.ref
        for candidate in ctx.duplicates(system=other_side)
        if candidate.state.partner and _created_alongside(ctx, candidate.state)
    ]


class BothSidesCreated(Rule):
    code = "BOTH_SIDES_CREATED"
    severity = Severity.HIGH
    title = "Created in CRM and in Books"
    summary = (
        "The same customer was created independently in CRM and in Books at about the same time (sales "
        "raising the account while the bookkeeper raises the customer to get an invoice out). With two-way "
        "sync each copy is pushed to the other side, giving two of each."
    )
    advice = (
        "Decide which system owns customers (normally CRM). Keep the Books copy that has transactions, pair "
        "it with the CRM account through Zoho support, and restrict customer creation in Books."
    )
    default_decision = Decision.FLAG
    judges_duplicates = True

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        other_side = System.BOOKS if ctx.record.system is System.CRM else System.CRM
        for candidate in ctx.duplicates(system=other_side):
            if not created_on_both_sides(ctx, candidate.state):
                continue
            hours = abs(ctx.created_at() - ctx.created_at(candidate.state)).total_seconds() / 3600
            explanation = (
                f"{describe(ctx.record)} and {describe(candidate.record)} are the same customer, created "
                f"separately in {ctx.record.system.value.upper()} and {other_side.value.upper()} "
                f"{hours:.1f} hours apart and not linked to each other."
            )
            evidence = [
                f"{ctx.ref} created {utc_minute(ctx.created_at())}",
                f"{candidate.ref} created {utc_minute(ctx.created_at(candidate.state))}, not paired",
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
