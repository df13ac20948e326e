"""The checked-in examples under events/notifications/ are exactly what the code renders today."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sync_guard import matching
from sync_guard.executor.notices import _NEW_RECORD_RULES, _OWN_ROLE, SEVERITY_FOR_FINANCE
from sync_guard.guard.engine import NOT_HELD_INVOICED
from sync_guard.matching import MatchResult
from sync_guard.models.records import PartyRecord, System
from sync_guard.notify import CATALOGUE, Role
from sync_guard.notify.examples import example_files, example_notices, refused_hold_notice, storm_batch
from sync_guard.reconcile.stall import EXAMPLES as STALL_EXAMPLES
from sync_guard.reconcile.stall import Edit, FollowUp, StallVerdict
from sync_guard.rules.base import Rule
from sync_guard.rules.catalogue import BY_CODE, RULES

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "events" / "notifications"
SCRIPT = ROOT / "scripts" / "render_notification_examples.py"


def test_there_is_one_example_per_rule_plus_the_digests() -> None:
    names = set(example_files())
    assert {f"{rule}.txt" for rule in CATALOGUE} <= names
    assert {"DIGEST_STORM.txt", "DIGEST_BACKFILL.txt", "UNKNOWN_RULE.txt"} <= names
    # Each rule's example really is about that rule.
    for rule in CATALOGUE:
        assert example_notices()[rule].rule == rule


def test_every_rule_of_the_guard_has_its_own_texts() -> None:
    # notifications.md: the texts for each rule live in CATALOGUE, and events/notifications/ has one example
    # per rule. A rule left out still notifies finance, but in the generic words of UNKNOWN_RULE.txt.
    missing = sorted({rule.code for rule in RULES} - set(CATALOGUE))
    assert not missing, f"rules finance would hear of in generic words: {missing}"


def test_each_example_carries_the_severity_the_executor_gives_its_rule() -> None:
    # A rule's finance severity is fixed by its code (docs/rules.md shows each one): an example with
    # another one shows a subject and a `severity` attribute that no filter policy will ever meet.
    notices = [*example_notices().values(), *storm_batch()]
    wrong = {
        f"{notice.rule}: {notice.severity.value}"
        for notice in notices
        if notice.rule in BY_CODE and notice.severity != SEVERITY_FOR_FINANCE[BY_CODE[notice.rule].severity]
    }
    assert not wrong, f"examples whose severity their rule never has: {sorted(wrong)}"


def test_each_example_labels_its_records_as_the_executor_does() -> None:
    # docs/notifications.md: the executor labels each record by what it is to the rule, in the words of
    # Role, and the event's own record as the rule sees it ("new copy" only where the rule fires on a
    # record just created). An example in words of its own shows finance a notice the guard never sends.
    labels = {value for name, value in vars(Role).items() if name.isupper()}
    for stem, notice in example_notices().items():
        if notice.rule not in BY_CODE:
            continue  # the stall notices and the unknown rule's come from elsewhere
        roles = [record.role for record in notice.records]
        assert set(roles) <= labels, f"{stem}: {sorted(set(roles) - labels)} is no label the executor gives"
        own = Role.NEW_COPY if notice.rule in _NEW_RECORD_RULES else _OWN_ROLE.get(notice.rule)
        assert own is None or own in roles, f"{stem}: the event's own record is labelled {own!r}"


def test_each_rule_example_carries_the_evidence_its_rule_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    # docs/notifications.md: the examples are what finance will receive, so their EVIDENCE must be the
    # rule's own lines, not a paraphrase. Mark every line a rule writes: each rule example shows only
    # marked lines (and the engine's own line where it flags a quarantine to spare an invoiced customer).
    finding = Rule.finding

    def marked(self: Rule, *, evidence: list[str] | tuple[str, ...], **kwargs: object) -> object:
        return finding(self, evidence=[f"<{self.code}> {line}" for line in evidence], **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Rule, "finding", marked)
    for stem, notice in example_notices().items():
        if notice.rule not in BY_CODE:
            continue  # the stall notices and the unknown rule's are written by hand
        own = [line for line in notice.evidence if not line.endswith(NOT_HELD_INVOICED)]
        assert own, f"{stem}: no evidence from {notice.rule}"
        assert all(line.startswith(f"<{notice.rule}> ") for line in own), f"{stem}: {own}"


#: The rules whose evidence cites the matcher's reasons for calling two records one customer.
_CITES_THE_MATCHER = (
    "NAME_DRIFT",
    "BOTH_SIDES_CREATED",
    "RECREATED_AFTER_DELETE",
    "CRM_MERGE_ORPHAN",
    "EMAIL_MISMATCH",
    "BROKEN_MAPPING",
    "MIXED_MAPPING",
    "SAME_SIDE_DUPLICATE",
)


def test_the_examples_cite_the_matcher_in_its_own_words(monkeypatch: pytest.MonkeyPatch) -> None:
    # A change to the matcher's wording must change the examples (and so fail the re-render test): the
    # examples' records are scored by the real matcher, not described by hand.
    compare = matching.compare

    def reworded(a: PartyRecord, b: PartyRecord, **kwargs: str) -> MatchResult:
        result = compare(a, b, **kwargs)
        return MatchResult(result.score, result.verdict, ("reworded by the matcher", *result.evidence))

    monkeypatch.setattr(matching, "compare", reworded)
    notices = example_notices()
    for stem in _CITES_THE_MATCHER:
        assert "reworded by the matcher" in notices[stem].evidence, f"{stem}: {notices[stem].evidence}"


def test_the_stall_examples_carry_the_stall_checks_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sync stall check's notices are no rule's, and their evidence is its own: its note with the
    # sample's summary, then one line per edit the notice shows.
    monkeypatch.setattr(StallVerdict, "summary", lambda self: "the sample's summary")
    monkeypatch.setattr(Edit, "describe", lambda self: f"the edit of {self.crm.ref}")
    for stem in ("SYNC_STALLED", "SYNC_RESUMED"):
        note, *edits = example_notices()[stem].evidence
        assert "the sample's summary" in note, f"{stem}: {note}"
        shown = [record for record in example_notices()[stem].records if record.system is System.CRM]
        assert edits == [f"the edit of crm:{record.record_id}" for record in shown], f"{stem}: {edits}"


def test_the_stall_examples_are_samples_the_stall_check_can_take(monkeypatch: pytest.MonkeyPatch) -> None:
    # The check reads a module's edits newest first and stops at the first one Books followed (before: the
    # resumed example had two followed, the first one first, and the stall named the wrong three edits).
    from sync_guard.notify import examples

    verdicts: list[StallVerdict] = []

    class Recorded(StallVerdict):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            verdicts.append(self)

    monkeypatch.setattr(examples, "StallVerdict", Recorded)
    notices = example_notices()

    assert len(verdicts) == 2
    for verdict in verdicts:
        assert [e.edited_at for e in verdict.edits] == sorted(
            (e.edited_at for e in verdict.edits), reverse=True
        )
        followed = [i for i, e in enumerate(verdict.edits) if e.follow_up is FollowUp.FOLLOWED]
        assert followed in ([], [len(verdict.edits) - 1])
    # the stall report names the newest edits not followed
    stalled = [r.record_id for r in notices["SYNC_STALLED"].records if r.system is System.CRM]
    [stall] = [v for v in verdicts if v.stalled]
    newest = [e.crm.record_id for e in stall.edits if e.follow_up is FollowUp.NOT_FOLLOWED][:STALL_EXAMPLES]
    assert stalled == newest


#: What evidence a bookkeeper cannot read: a Python truth value, or a machine timestamp (ISO 8601).
_UNREADABLE = re.compile(r"\b(True|False|None)\b|\d{4}-\d\d-\d\dT\d\d:\d\d")


def test_the_examples_evidence_reads_as_words_not_python() -> None:
    # Finance reads each evidence line as the rule wrote it (and the audit trail keeps it): "holds
    # transactions", "created 2026-03-02 09:47 UTC", not "has transactions: True" or an ISO timestamp.
    notices = {**example_notices(), "HOLD_REFUSED": refused_hold_notice()}
    unreadable = {
        stem: line for stem, notice in notices.items() for line in notice.evidence if _UNREADABLE.search(line)
    }
    assert not unreadable, f"evidence in Python's words, not a bookkeeper's: {unreadable}"


#: An address in clear: a masked one has only asterisks before its "@" (``j***@acme.co.uk#1a2b3c``).
_CLEAR_ADDRESS = re.compile(r"[\w.%+-]@")


def test_the_examples_evidence_names_no_address_in_clear() -> None:
    # Every rule's evidence masks customers' addresses, as the audit trail keeps it: the matcher's "same
    # email ..." too, not only EMAIL_MISMATCH's own lines (the records' emails are shown in full).
    notices = {**example_notices(), "HOLD_REFUSED": refused_hold_notice()}
    clear = {
        stem: line
        for stem, notice in notices.items()
        for line in notice.evidence
        if _CLEAR_ADDRESS.search(line)
    }
    assert not clear, f"addresses in clear: {clear}"
    assert any("***@" in line for line in notices["NAME_DRIFT"].evidence)


def test_checked_in_examples_match_the_renderer() -> None:
    expected = example_files()
    present = {path.name for path in EXAMPLES.glob("*.txt")}
    assert present == set(expected), "run scripts/render_notification_examples.py"
    for name, text in expected.items():
        assert (EXAMPLES / name).read_text(encoding="utf-8") == text, f"{name} is stale: re-run the script"


def test_the_digest_examples_carry_the_right_attributes() -> None:
    files = example_files()
    assert "Attribute rule (String): MULTIPLICATION_STORM" in files["DIGEST_STORM.txt"]
    assert "Attribute kind (String): digest" in files["DIGEST_STORM.txt"]
    assert "Attribute rule (String): MULTIPLE" in files["DIGEST_BACKFILL.txt"]
    assert "Attribute severity (String): warning" in files["DIGEST_BACKFILL.txt"]


def test_the_script_detects_and_repairs_a_stale_example(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--out", str(tmp_path), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    assert run().returncode == 0
    (tmp_path / "NAME_DRIFT.txt").write_text("edited by hand\n")
    (tmp_path / "OLD_RULE.txt").write_text("left over\n")
    check = run("--check")
    assert check.returncode == 1
    assert "NAME_DRIFT.txt" in check.stderr
    assert "OLD_RULE.txt" in check.stderr
    assert run().returncode == 0
    assert run("--check").returncode == 0
    assert not (tmp_path / "OLD_RULE.txt").exists()
