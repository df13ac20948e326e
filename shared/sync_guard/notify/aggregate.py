"""Turn one executor batch of notices into as few messages as finance can act on.

- Repeats within the batch (same rule, same records) collapse to one, the most severe.
- A storm, or more notices than ``max_individual`` (a backfill, a bulk change), becomes one digest.
- Otherwise notices are grouped by rule: one message per rule, a digest of that rule when it has several.
- Ordering is deterministic: the same batch always gives the same messages in the same order.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence

from sync_guard.config import get_settings
from sync_guard.notify.links import ZohoLinks
from sync_guard.notify.model import FinanceNotice, RenderedMessage
from sync_guard.notify.render import render_digest, render_notice

STORM_RULES = frozenset({"MULTIPLICATION_STORM"})


def listing_order(notice: FinanceNotice) -> tuple[object, ...]:
    """Earliest first, then by rule and key: the order examples are listed in."""
    return (notice.occurred_at, notice.rule, notice.dedup_key)


def unique_notices(notices: Iterable[FinanceNotice]) -> list[FinanceNotice]:
    """One notice per de-duplication key (the most severe, then the earliest), in listing order."""
    best: dict[str, FinanceNotice] = {}
    for notice in notices:
        kept = best.get(notice.dedup_key)
        if kept is None or (-notice.severity.rank, *listing_order(notice)) < (
            -kept.severity.rank,
            *listing_order(kept),
        ):
            best[notice.dedup_key] = notice
    return sorted(best.values(), key=listing_order)


def fresh(notices: Iterable[FinanceNotice], sent_keys: Container[str]) -> list[FinanceNotice]:
    """Drop notices whose key the caller has already sent (a retried batch must not notify twice)."""
    return [notice for notice in notices if notice.dedup_key not in sent_keys]


def _message_order(message: RenderedMessage) -> tuple[object, ...]:
    return (-message.severity.rank, message.rule, message.dedup_keys)


def aggregate(
    notices: Sequence[FinanceNotice],
    *,
    max_individual: int | None = None,
    links: ZohoLinks | None = None,
    max_examples: int = 3,
    storm_rules: frozenset[str] = STORM_RULES,
    group_by_rule: bool = True,
) -> list[RenderedMessage]:
    """The messages for one batch of notices, most severe first.

    ``max_individual`` defaults to ``SYNC_GUARD_NOTIFY_MAX_INDIVIDUAL`` and ``links`` to the configured data
    centre and organisations. With ``group_by_rule`` off, each notice below the threshold is its own message.
    """
    if max_individual is None:
        max_individual = get_settings().notify_max_individual
    if max_individual < 1:
        raise ValueError("max_individual must be at least 1")
    links = links or ZohoLinks.from_settings(get_settings())
    unique = unique_notices(notices)
    if not unique:
        return []
    has_storm = any(notice.rule in storm_rules for notice in unique)
    # A storm explains everything else in its batch: one alert, led by the storm's next step.
    if (has_storm and len(unique) > 1) or len(unique) > max_individual:
        return [render_digest(unique, links, storm_rules=storm_rules, max_examples=max_examples)]
    messages: list[RenderedMessage] = []
    if not group_by_rule:
        messages = [render_notice(notice, links) for notice in unique]
    else:
        by_rule: dict[str, list[FinanceNotice]] = {}
        for notice in unique:
            by_rule.setdefault(notice.rule, []).append(notice)
        for group in by_rule.values():
            if len(group) == 1:
                messages.append(render_notice(group[0], links))
            else:
                # Below the threshold every notice of the group is listed in full.
                messages.append(render_digest(group, links, storm_rules=storm_rules, max_examples=len(group)))
    return sorted(messages, key=_message_order)
