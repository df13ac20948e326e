"""``summary.md``: what was found, in counts per pattern and a table of the clusters."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

from sync_guard.exports.report.clusters import Cluster, holds_transactions
from sync_guard.exports.report.model import MatchReport
from sync_guard.exports.report.wording import (
    SYSTEM_NAMES,
    are,
    counted,
    ids_in_words,
    md_cell,
    record_in_words,
    were,
)
from sync_guard.matching import DUPLICATE_THRESHOLD, POSSIBLE_THRESHOLD, Verdict


def _source(report: MatchReport, system: str) -> str:
    """Where a system's records came from: the export's file name and, for a workbook, its sheet read."""
    sheet = report.sheets.get(system)
    return f"{SYSTEM_NAMES[system]} export `{report.sources[system]}`" + (
        "" if sheet is None else f", sheet {sheet!r}"
    )


def summary_md(report: MatchReport, *, max_clusters: int = 200) -> str:
    """``summary.md``: counts per pattern, clusters, which copy holds transactions, suggested survivors."""
    lines = [
        "# Match report",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from "
        + " and ".join(_source(report, system) for system in report.sources)
        + f": {counted(report.crm_count, 'CRM record')}, {counted(report.books_count, 'Books customer')}, "
        f"{counted(report.comparisons, 'comparison')}.",
        "",
        f"Verdicts use the shipped thresholds: **duplicate** at a score of {DUPLICATE_THRESHOLD} or more "
        f"(confident), **possible** from {POSSIBLE_THRESHOLD} (worth a person's look). Each pair in "
        "`pairs.csv` lists the evidence behind its score.",
        "",
        *_pairs_section(report),
        *_clusters_section(report, max_clusters),
    ]
    if report.orphans:
        lines += _orphans_section(report, max_clusters)
    if report.saturated_keys:
        shown = ", ".join(f"`{k}`" for k in sorted(report.saturated_keys)[:10])
        lines += [
            "",
            f"Note: {counted(len(report.saturated_keys), 'blocking key')} {were(report.saturated_keys)} "
            "shared by too many records to search in full "
            f"(e.g. {shown}); records sharing only those keys were compared with the first ones listed.",
        ]
    if report.warnings:
        lines += ["", "## Warnings", "", *[f"- {md_cell(w)}" for w in report.warnings]]
    return "\n".join(lines) + "\n"


def _pairs_section(report: MatchReport) -> list[str]:
    """The pairs counted by pattern and verdict, and which patterns are no copies to clean up."""
    patterns: dict[str, Counter[Verdict]] = defaultdict(Counter)
    for pair, pattern in zip(report.pairs, report.patterns, strict=True):
        patterns[pattern][pair.result.verdict] += 1
    lines = [
        "## Pairs",
        "",
        "| pattern | duplicate | possible |",
        "| --- | ---: | ---: |",
    ]
    verdicts: Counter[Verdict] = Counter()  # all the pairs: the sum of the patterns' counts
    for pattern in sorted(patterns):
        counts = patterns[pattern]
        verdicts.update(counts)
        lines.append(f"| {md_cell(pattern)} | {counts[Verdict.DUPLICATE]} | {counts[Verdict.POSSIBLE]} |")
    lines.append(f"| **all** | **{verdicts[Verdict.DUPLICATE]}** | **{verdicts[Verdict.POSSIBLE]}** |")
    lines += [
        "",
        "Pairs *already linked by the sync* are a CRM record and the Books customer that carries its id: the",
        "expected pairing, listed to confirm it, and so are pairs with *a customer in another currency*:",
        "Books keeps one currency per customer. Every other duplicate pair is a copy to clean up.",
        "",
    ]
    if not report.links_known:
        lines += [
            "**The Books export gives no CRM Account ID**, so the sync's own pairs (a CRM record and the",
            "Books customer linked to it) cannot be told from copies here: a CRM ↔ Books pair may be the",
            "expected pairing. Export the Books customers with their CRM Account ID to tell them apart.",
            "",
        ]
    return lines


def _clusters_section(report: MatchReport, max_clusters: int) -> list[str]:
    """The clusters counted by pattern, the clean-up rule, and a row for each of the first ones."""
    lines = [
        "## Clusters of duplicates",
        "",
        f"{counted(len(report.clusters), 'cluster')} of records joined by duplicate pairs that need "
        "cleaning up (a CRM record and its one linked Books copy is not listed). Patterns:",
        "",
    ]
    for pattern, count in report.cluster_patterns.most_common():
        lines.append(f"- {pattern}: {count}")
    if not report.cluster_patterns:
        lines.append("- none")
    lines += [
        "",
        "Suggested survivors follow the usual clean-up rule: in Books, the copy with transactions (invoices)",
        "against it; in CRM, the copy with the longer history. Check them before acting: merge in CRM only",
        "after Zoho support has repaired the mappings. Books keeps one currency per customer, so a",
        "company's customers in other currencies are intended: they are not counted as duplicates.",
        "Nothing outstanding only means nothing is owed: unless the export says whether a customer has",
        "transactions, they are unknown, so check them in Books before deactivating a copy.",
        "",
        "| cluster | records | holds transactions | keep in Books | keep in CRM | sync link to repair "
        "| patterns |",
        "| ---: | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [_cluster_row(cluster) for cluster in report.clusters[:max_clusters]]
    if len(report.clusters) > max_clusters:
        lines.append(f"\n{len(report.clusters) - max_clusters} more clusters in `clusters.csv`.")
    return lines


def _cluster_row(cluster: Cluster) -> str:
    """A cluster's row: its records, which Books copies hold transactions, what to keep and repair."""
    members = "<br>".join(record_in_words(r) for r in cluster.members)
    holders = [r for r in cluster.duplicate_books if holds_transactions(r)]
    unknown = [r for r in cluster.duplicate_books if holds_transactions(r) is None]
    holds = ", ".join(r.record_id for r in holders) or ("none known" if unknown else "none")
    if unknown:
        holds += f" (unknown: {ids_in_words(unknown)})"
    books_keep = (
        f"{cluster.books_survivor.record_id} ({cluster.books_reason})" if cluster.books_survivor else ""
    )
    crm_keep = f"{cluster.crm_survivor.record_id} ({cluster.crm_reason})" if cluster.crm_survivor else ""
    if cluster.repoint:
        crm_keep += f"; first {cluster.repoint_note()}"
    return (
        f"| {cluster.number} | {members} | {holds} | {md_cell(books_keep)} | {md_cell(crm_keep)} | "
        f"{md_cell(cluster.relink_note())} | {md_cell('; '.join(cluster.patterns))} |"
    )


def _orphans_section(report: MatchReport, max_rows: int) -> list[str]:
    """The Books customers linked to a CRM record the CRM export does not have, the first ones in rows."""
    lines = [
        "",
        "## Books customers whose CRM record is gone",
        "",
        f"{counted(len(report.orphans), 'Books customer')} {are(report.orphans)} linked to a CRM record "
        "that is not in the CRM export: merged or deleted in CRM (or a record of a module that was not "
        "exported). The sync has lost the partner, and an edit of the surviving CRM record may create "
        "yet another Books customer. Ask Zoho support to re-point each to the CRM record that survived, "
        "before merging anything else.",
        "",
        "| Books customer | linked CRM id | holds transactions |",
        "| --- | --- | --- |",
    ]
    for record in report.orphans[:max_rows]:
        holds = {True: "yes", False: "no", None: "unknown"}[holds_transactions(record)]
        lines.append(
            f"| {md_cell(record_in_words(record))} | {md_cell(record.linked_crm_id or '')} | {holds} |"
        )
    if len(report.orphans) > max_rows:
        lines.append(f"\n{len(report.orphans) - max_rows} more not listed.")
    return lines
