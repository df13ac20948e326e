"""CREATED_IN_BOOKS (added): a customer created directly in Books, not by the sync from CRM.

The seed's recommended design: "CRM owns the customer, Books owns the money ... Restrict customer creation
in Books through roles, so the finance team can edit billing details but can't create new customers."
A Books customer created by a person (or an import) is how pattern 2, both teams creating records, starts;
BOTH_SIDES_CREATED only sees it once the CRM copy exists. Books customers the sync makes carry Zoho's CRM
link from the start (the assumption BOTH_SIDES_CREATED also rests on), so a new customer without one was
made in Books. Default ``allow``: recorded in the audit trail (``sync-guard audit --rule CREATED_IN_BOOKS``
shows who creates customers where), since with two-way sync Books may rightly create them; where CRM
owns customers, ``flag`` tells finance of each one and ``quarantine`` holds it until it is reviewed.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.models.events import Operation
from sync_guard.models.records import System
from sync_guard.rules.base import Rule, describe
from sync_guard.timefmt import utc_minute


class CreatedInBooks(Rule):
    code = "CREATED_IN_BOOKS"
    severity = Severity.LOW
    title = "Customer created in Books, not from CRM"
    summary = (
        "A customer was created directly in Books, not by the sync from CRM. Where CRM owns the customer "
        "(one-way sync), each such customer is a duplicate in the making: once sales raise the account in "
        "CRM, the sync creates a second Books customer for it."
    )
    advice = (
        "If CRM owns your customers, ask whoever created it to raise the account in CRM instead, and "
        "restrict customer creation in Books through roles. Set this rule to flag to hear of each one."
    )
    default_decision = Decision.ALLOW

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        record = ctx.record
        created = ctx.is_new and ctx.event.operation is Operation.CREATE
        if not created or record.system is not System.BOOKS or record.linked_crm_id:
            return None
        explanation = (
            f"Books customer {describe(record)} was created in Books without a link to a CRM record, so the "
            "sync did not make it: someone (or an import) created it there."
        )
        evidence = [
            f"{ctx.ref} created {utc_minute(ctx.created_at())}",
            f"{ctx.ref} carries no Zoho CRM link",
        ]
        return self.finding(subject=ctx.ref, explanation=explanation, evidence=evidence)
