"""The catalogue: stable, unique codes, words for admins, and docs/rules.md in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from sync_guard.executor.notices import SEVERITY_FOR_FINANCE
from sync_guard.guard.model import Decision
from sync_guard.guard.policy import Policy
from sync_guard.rules.catalogue import BY_CODE, RULES

DOC = Path(__file__).resolve().parents[3] / "docs" / "rules.md"
REQUIRED = {
    "NAME_DRIFT",
    "BOTH_SIDES_CREATED",
    "PARTNER_DELETED",
    "RECREATED_AFTER_DELETE",
    "CRM_MERGE_ORPHAN",
    "EMAIL_MISMATCH",
    "DISPLAY_NAME_COLLISION",
    "BROKEN_MAPPING",
    "DOUBLE_LINK",
    "MULTIPLICATION_STORM",
}


def test_codes_are_unique_stable_identifiers() -> None:
    codes = [rule.code for rule in RULES]
    assert len(codes) == len(set(codes)) == len(BY_CODE)
    assert set(codes) >= REQUIRED
    assert all(re.fullmatch(r"[A-Z][A-Z_]+", code) for code in codes)


def test_every_rule_explains_itself() -> None:
    for rule in RULES:
        assert len(rule.summary) > 80, rule.code
        assert len(rule.advice) > 30, rule.code
        assert rule.default_decision in (Decision.ALLOW, Decision.FLAG, Decision.QUARANTINE)


def test_default_policy_is_each_rules_default() -> None:
    policy = Policy.build()
    assert {code: policy.outcome(code) for code in BY_CODE} == {r.code: r.default_decision for r in RULES}


def test_docs_describe_every_rule_as_the_code_does() -> None:
    text = DOC.read_text()
    for rule in RULES:
        section = text.split(f"### `{rule.code}`", 1)
        assert len(section) == 2, f"{rule.code} missing from docs/rules.md"
        body = section[1].split("### ", 1)[0]
        assert body.startswith(f": {rule.title}\n"), f"{rule.code}: the heading is not the rule's title"
        assert f"**Severity:** {rule.severity.value}" in body, rule.code
        # what a subscription filter policy must name: the SNS attribute's value, not the rule's scale
        sns_value = SEVERITY_FOR_FINANCE[rule.severity].value
        assert f"**Severity:** {rule.severity.value} (SNS `severity`: `{sns_value}`)" in body, rule.code
        assert f"**Default decision:** {rule.default_decision.value}" in body, rule.code
        assert rule.summary in body, rule.code
