"""``support-ticket.md``: a draft ticket asking Zoho support to repair the sync's mappings."""

from __future__ import annotations

from collections import Counter

from sync_guard.exports.report.clusters import Cluster, holds_transactions
from sync_guard.exports.report.model import CRM_CUSTOMER_IN_OTHER_CURRENCY, MatchReport, ReportPair
from sync_guard.exports.report.wording import counted, ids_in_words, record_in_words
from sync_guard.redact import mask_emails_in


def _ticket_examples(
    report: MatchReport, duplicates: list[tuple[ReportPair, str]], main_pattern: str, count: int = 3
) -> list[Cluster]:
    """Readable examples for the ticket: clusters that show the main pattern with transactions
    involved first, each kind smallest first (the largest clusters list hundreds of records)."""
    # By identity: a cluster's members are the very records of its pairs (and a ref is a new string).
    showing = {id(r) for p, pattern in duplicates if pattern == main_pattern for r in (p.left, p.right)}

    def rank(cluster: Cluster) -> tuple[bool, bool, int, int]:
        shows_main = not showing.isdisjoint(map(id, cluster.members))
        with_money = any(map(holds_transactions, cluster.books))
        return (not shows_main, not with_money, len(cluster.members), cluster.number)

    return sorted(report.clusters, key=rank)[:count]


# An example in the ticket lists this many records at most; clusters.csv has them all.
MAX_EXAMPLE_RECORDS = 6


def _example_records(cluster: Cluster) -> str:
    """The records of a ticket example, the ones to keep first, a few at most."""
    keep = [r for r in (cluster.crm_survivor, cluster.books_survivor, *cluster.repoint) if r is not None]
    records = list(dict.fromkeys([*keep, *cluster.members]))  # duplicates dropped, order kept
    listed = "; ".join(record_in_words(r) for r in records[:MAX_EXAMPLE_RECORDS])
    more = len(records) - MAX_EXAMPLE_RECORDS
    return listed + (
        f"; and {more} more records (cluster {cluster.number} in our report)" if more > 0 else ""
    )


def support_ticket_md(report: MatchReport, *, crm_org: str | None, books_org: str | None) -> str:
    """``support-ticket.md``: a draft ticket asking Zoho to repair the mappings, with three examples."""
    duplicates = report.duplicates_with_patterns()
    pair_patterns = Counter(pattern for p, pattern in duplicates if not p.linked)
    pair_patterns.pop(CRM_CUSTOMER_IN_OTHER_CURRENCY, None)  # intended: no duplicate pattern
    main_pattern = pair_patterns.most_common(1)[0][0] if pair_patterns else "no duplicate pattern found"
    examples = _ticket_examples(report, duplicates, main_pattern)
    if not examples and not report.orphans:
        return (
            "# Draft Zoho support ticket\n\nNo duplicates were found in these exports: there is nothing to "
            "ask Zoho support to repair.\n"
        )
    lines = [
        "# Draft Zoho support ticket",
        "",
        # The ticket says the sync is paused: the seed's first step, which only the reader can take.
        "> Before you send it: pause the contact and account sync in CRM (Setup > Marketplace > Zoho > "
        "Zoho Finance Suite), without disconnecting the integration. The ticket says you have.",
        "",
        "**Subject:** Zoho Finance (CRM ↔ Books) customer sync: duplicate customers and broken mappings",
        "",
        "Hello Zoho support,",
        "",
        f"- Zoho CRM organisation ID: {crm_org or '<CRM org id: Setup > Company Details>'}",
        f"- Zoho Books organisation ID: {books_org or '<Books org id: Settings > Organisation Profile>'}",
        "",
        ("The CRM ↔ Books customer sync has created duplicate customers." if examples else "The CRM ↔ Books "
         "customer sync has lost the CRM partners of some Books customers.")
        + " We have paused the contact sync (without disconnecting) and will not merge or delete anything "
        "until the mappings are repaired.",
    ]  # fmt: skip
    if examples:
        lines += _ticket_duplicates(report, examples, main_pattern)
    if report.orphans:
        shown = "; ".join(
            f"Books customer {r.record_id} linked to CRM id {r.linked_crm_id}" for r in report.orphans[:3]
        )
        one = len(report.orphans) == 1
        lines += [
            "",
            f"{'Also, ' if examples else ''}{counted(len(report.orphans), 'Books customer')} "
            + (
                f"is linked to a CRM record that no longer exists (merged or deleted in CRM): {shown}. "
                "Please re-point it to the surviving CRM record."
                if one
                else f"are linked to CRM records that no longer exist (merged or deleted in CRM), e.g. "
                f"{shown}. Please re-point them to the surviving CRM records."
            ),
        ]
    if report.sources and "books" not in report.sources:
        # The CRM copies' Books partners are not known here: merging CRM first would orphan them.
        lines += [
            "",
            "We compared our CRM records only: please tell us which Books customer each CRM record in "
            "these examples is linked to, before we merge any of them.",
        ]
    lines += [
        "",
        "Please re-point the mappings so that each CRM record is linked to the surviving Books customer, "
        "and confirm, so that we can deactivate the duplicates in Books and merge in CRM afterwards.",
        "",
        "Thank you.",
    ]
    # A name may be an address ("jane.doe@acme.co.uk" as a display name): a ticket carries no emails.
    return mask_emails_in("\n".join(lines) + "\n")


def _ticket_duplicates(report: MatchReport, examples: list[Cluster], main_pattern: str) -> list[str]:
    """The ticket's account of the duplicates: the pattern, the counts and the examples."""
    lines = [
        "",
        f"Pattern: {main_pattern}. In our exports: {counted(report.crm_count, 'CRM record')} and "
        f"{counted(report.books_count, 'Books customer')}; "
        f"{counted(len(report.clusters), 'group')} of duplicates"
        + (
            " (" + ", ".join(f"{p}: {n}" for p, n in report.cluster_patterns.most_common()) + ")"
            if report.cluster_patterns
            else ""
        )
        + ".",
        "",
        "Examples:",
        "",
    ]
    for number, cluster in enumerate(examples, start=1):
        lines.append(f"{number}. {_example_records(cluster)}.")
        wanted = []
        if cluster.books_survivor:
            wanted.append(f"Books customer {cluster.books_survivor.record_id} should be the one kept")
        if cluster.crm_survivor:
            wanted.append(f"CRM record {cluster.crm_survivor.record_id} should be the one kept")
        if cluster.repoint:
            wanted.append(f"please {cluster.repoint_note()}")
        if cluster.relink_crm_id:
            wanted.append(f"please {cluster.relink_note()}")
        if wanted:
            lines.append(f"   Request: {'; '.join(wanted)}.")
        survivor = cluster.books_survivor
        retired = cluster.books_to_deactivate()  # none without a survivor
        unknown = [r for r in retired if holds_transactions(r) is None]
        if unknown:
            lines.append(f"   We will check the transactions of {ids_in_words(unknown)} before deactivating.")
        invoiced = [r for r in retired if holds_transactions(r)]
        if survivor and invoiced:
            also, it = ("also holds", "it") if len(invoiced) == 1 else ("also hold", "them")
            lines.append(
                f"   Books {ids_in_words(invoiced)} {also} transactions: we will move them to "
                f"{survivor.record_id} before deactivating {it}, and delete nothing."
            )
    return lines
