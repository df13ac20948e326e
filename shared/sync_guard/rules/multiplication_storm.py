"""MULTIPLICATION_STORM: a burst of creates matching existing customers trips a circuit breaker.

The seed's worst case: disconnect and reconnect re-run exact-name matching over data that already has
duplicates, and "dozens of duplicates turn into hundreds". The breaker lives in DynamoDB (see
``store.shadow``): creates that match an existing live record are counted per time window (the current and
the previous one); reaching ``storm_threshold`` trips it. While it is open every create is held until an
admin resets it (an audited operation, with its actor). Finance gets one alert: the trip.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext, invoiced_customer
from sync_guard.guard.model import Decision, Finding, Severity
from sync_guard.rules.base import Rule, describe
from sync_guard.timefmt import utc_minute


class MultiplicationStorm(Rule):
    code = "MULTIPLICATION_STORM"
    severity = Severity.CRITICAL
    title = "Duplicate storm: circuit breaker open"
    summary = (
        "Many new records matching existing customers arrived in a short time, the signature of a "
        "disconnect/reconnect re-running Zoho's name matching. The guard holds every new record until an "
        "admin has looked and reset the breaker."
    )
    advice = (
        "Pause the contact sync in CRM (Setup > Marketplace > Zoho > Zoho Finance Suite), do not reconnect "
        "again, review the held records, then reset the breaker with the admin command."
    )
    default_decision = Decision.QUARANTINE

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        storm = ctx.storm
        if not ctx.is_new or not (storm.open_before or storm.tripped_now):
            return None
        if invoiced_customer(ctx.record):
            return None  # an existing customer met through an edit: holding it would stop its invoicing
        if storm.tripped_now:
            # the count covers the current window and the one before it
            within = f"within {storm.window_seconds // 60} to {2 * storm.window_seconds // 60} minutes"
            explanation = (
                f"{describe(ctx.record)} is create number {storm.hits} matching an existing record "
                f"{within} (threshold {storm.threshold}): the circuit breaker is now open and every new "
                "record is held."
            )
            evidence = [
                f"{storm.hits} new records matching existing customers {within}",
                "the breaker opened with this record: new records are held until an admin resets it",
            ]
        else:
            since = utc_minute(storm.opened_at) if storm.opened_at else "earlier"
            explanation = (
                f"{describe(ctx.record)} was created while the duplicate-storm breaker is open (since "
                f"{since}); it is held until an admin resets the breaker."
            )
            evidence = [f"breaker open since {since}, opened by event {storm.opened_by_event}"]
        return self.finding(subject=ctx.ref, explanation=explanation, evidence=evidence)
