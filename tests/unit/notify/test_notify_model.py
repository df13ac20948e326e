"""FinanceNotice validation, de-duplication keys and SNS attributes."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from notify_builders import books, crm, notice
from pydantic import ValidationError

from sync_guard.config import Mode
from sync_guard.notify import Decision, FinanceNotice, MessageKind, RenderedMessage, Severity


def test_rule_codes_are_normalised_to_one_spelling() -> None:
    assert notice(" name_drift ").rule == "NAME_DRIFT"


def test_a_time_without_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        FinanceNotice(
            rule="NAME_DRIFT",
            severity=Severity.INFO,
            decision=Decision.FLAG,
            mode=Mode.OBSERVE,
            occurred_at=datetime(2026, 1, 1, 12, 0),
        )


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(ValidationError):
        notice(severity="urgent")


def test_notices_are_frozen() -> None:
    with pytest.raises(ValidationError):
        notice().rule = "OTHER"


def test_same_rule_and_records_give_the_same_key_whatever_else_differs() -> None:
    a, b = books("1", "A"), crm("2", "B")
    first = notice(records=(a, b), minute=0, decision=Decision.QUARANTINE, evidence=("x",))
    retried = notice(records=(b, a), minute=30, decision=Decision.FLAG, mode=Mode.OBSERVE, event_id="other")
    assert first.dedup_key == retried.dedup_key
    assert first.dedup_key.startswith("ntf_")


def test_a_real_hold_is_news_even_after_the_pair_was_reported() -> None:
    flagged = (books("1", "A"), crm("2", "B"))
    held = (books("1", "A", held=True), crm("2", "B"))
    reported = notice(records=flagged, decision=Decision.FLAG)
    would_hold = notice(records=held, mode=Mode.OBSERVE)
    holds = notice(records=held, mode=Mode.ENFORCE)
    # observe mode's "would hold" is the same news as the flag; enforce mode's hold is not
    assert would_hold.dedup_key == reported.dedup_key
    assert holds.dedup_key != reported.dedup_key
    # and holding the same record again, on a later event, is not news either
    assert notice(records=(crm("2", "B"), books("1", "A", held=True)), minute=9).dedup_key == holds.dedup_key


def test_a_different_rule_or_record_gives_a_different_key() -> None:
    a, b = books("1", "A"), crm("2", "B")
    base = notice(records=(a, b))
    assert notice("BROKEN_MAPPING", records=(a, b)).dedup_key != base.dedup_key
    assert notice(records=(a, crm("3", "B"))).dedup_key != base.dedup_key
    # The same id on the other system is a different record.
    assert notice(records=(a, books("2", "B"))).dedup_key != base.dedup_key


def test_severities_order_info_warning_critical() -> None:
    ranks = [severity.rank for severity in (Severity.INFO, Severity.WARNING, Severity.CRITICAL)]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == 3


def test_message_attributes_are_sns_strings_for_filter_policies() -> None:
    message = RenderedMessage(
        kind=MessageKind.DIGEST,
        subject="s",
        body="b",
        severity=Severity.CRITICAL,
        rule="MULTIPLE",
        rules=("DOUBLE_LINK", "NAME_DRIFT"),
        dedup_keys=("ntf_a", "ntf_b"),
    )
    attributes = message.message_attributes()
    assert attributes["severity"] == {"DataType": "String", "StringValue": "critical"}
    assert attributes["rule"] == {"DataType": "String", "StringValue": "MULTIPLE"}
    assert attributes["kind"] == {"DataType": "String", "StringValue": "digest"}
    assert attributes["rules"]["DataType"] == "String.Array"
    assert json.loads(attributes["rules"]["StringValue"]) == ["DOUBLE_LINK", "NAME_DRIFT"]
    assert message.notice_count == 2
    # The message key depends on the set of notices, not their order.
    assert message.key == message.model_copy(update={"dedup_keys": ("ntf_b", "ntf_a")}).key


def test_a_subject_over_the_sns_limit_cannot_be_built() -> None:
    with pytest.raises(ValidationError):
        RenderedMessage(
            kind=MessageKind.NOTICE,
            subject="x" * 100,
            body="b",
            severity=Severity.INFO,
            rule="R",
            rules=("R",),
            dedup_keys=("k",),
        )


def test_a_notice_survives_the_json_round_trip_the_outbox_makes() -> None:
    original = notice(evidence=("same VAT number",))
    copy = FinanceNotice.model_validate_json(original.model_dump_json())
    assert copy == original
    assert copy.dedup_key == original.dedup_key
    assert copy.records[1].outstanding == original.records[1].outstanding


def test_outcomes_spelt_in_capitals_are_accepted() -> None:
    shouted = notice(severity="CRITICAL", decision="QUARANTINE", mode="Enforce")
    assert (shouted.severity, shouted.decision, shouted.mode) == (
        Severity.CRITICAL,
        Decision.QUARANTINE,
        Mode.ENFORCE,
    )
