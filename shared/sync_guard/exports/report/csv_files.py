"""``pairs.csv`` and ``clusters.csv``: every pair and every clustered record, one row each."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime

from sync_guard.exports.cells import spreadsheet_text
from sync_guard.exports.report.model import MatchReport
from sync_guard.exports.report.wording import status_text
from sync_guard.matching import Verdict
from sync_guard.models.records import System

PAIRS_HEADER = ("left_system", "left_id", "right_system", "right_id", "score", "verdict", "evidence")
CLUSTERS_HEADER = (
    "cluster",
    "system",
    "id",
    "name",
    "status",
    "has_transactions",
    "outstanding",
    "created",
    "modified",
    "linked_crm_id",
    "suggested_survivor",
    "sync_links_to_repair",
    "pattern",
)


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


# Dict lookups: an enum's .value is a slow descriptor, asked here of every row.
_SYSTEM_TEXT = {s: s.value for s in System}
_VERDICT_TEXT = {v: v.value for v in Verdict}
_FLAG_TEXT = {None: "", True: "true", False: "false"}


def pairs_csv(report: MatchReport) -> str:
    """``pairs.csv``: one row per duplicate or possible pair, evidence joined by ``; ``."""
    system, verdict = _SYSTEM_TEXT, _VERDICT_TEXT
    scores: dict[float, str] = {}  # a score as written: a few distinct ones among all the pairs
    rows = []
    for pair in report.pairs:
        left, right, result = pair.left, pair.right, pair.result
        score = scores.get(result.score)
        if score is None:
            score = scores[result.score] = f"{result.score:.4f}"
        rows.append(
            (
                system[left.system],
                spreadsheet_text(left.record_id),
                system[right.system],
                spreadsheet_text(right.record_id),
                score,
                verdict[result.verdict],
                spreadsheet_text("; ".join(result.evidence)),
            )
        )
    return _csv_text(PAIRS_HEADER, rows)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def clusters_csv(report: MatchReport) -> str:
    """``clusters.csv``: one row per record in a cluster of duplicates, with the suggested survivors
    and the sync links to repair (the summary lists only the first clusters: this file has them all)."""
    system, flag = _SYSTEM_TEXT, _FLAG_TEXT
    rows = []
    for cluster in report.clusters:
        links = "; ".join(note for note in (cluster.repoint_note(), cluster.relink_note()) if note)
        patterns = "; ".join(cluster.patterns)
        for record in cluster.members:
            survivor = ""
            if record is cluster.books_survivor:
                survivor = f"keep in Books: {cluster.books_reason}"
            elif record is cluster.crm_survivor:
                survivor = f"keep in CRM: {cluster.crm_reason}"
            rows.append(
                (
                    cluster.number,
                    system[record.system],
                    spreadsheet_text(record.record_id),
                    spreadsheet_text(record.name),
                    status_text(record),
                    flag[record.has_transactions],
                    "" if record.outstanding is None else str(record.outstanding),
                    _iso(record.created_at),
                    _iso(record.modified_at),
                    spreadsheet_text(record.linked_crm_id or ""),
                    survivor,
                    links,
                    patterns,
                )
            )
    return _csv_text(CLUSTERS_HEADER, rows)
