"""One batch of notices -> as few messages as finance can act on, in a stable order."""

from __future__ import annotations

import random
import re

import pytest
from notify_builders import books, notice, pair

from sync_guard.config import Mode
from sync_guard.notify import (
    MULTIPLE,
    Decision,
    MessageKind,
    Severity,
    ZohoLinks,
    aggregate,
    fresh,
    unique_notices,
)


def test_an_empty_batch_sends_nothing(links: ZohoLinks) -> None:
    assert aggregate([], max_individual=3, links=links) == []


def test_up_to_the_threshold_each_rule_gets_its_own_message(links: ZohoLinks) -> None:
    batch = [
        pair(1, "NAME_DRIFT"),
        pair(2, "DOUBLE_LINK", severity=Severity.CRITICAL),
        pair(3, "EMAIL_MISMATCH"),
    ]
    messages = aggregate(batch, max_individual=3, links=links)
    assert [m.kind for m in messages] == [MessageKind.NOTICE] * 3
    # Most severe first, then by rule code.
    assert [m.rule for m in messages] == ["DOUBLE_LINK", "EMAIL_MISMATCH", "NAME_DRIFT"]


def test_one_over_the_threshold_becomes_a_single_digest(links: ZohoLinks) -> None:
    batch = [pair(n, "NAME_DRIFT" if n % 2 else "BOTH_SIDES_CREATED") for n in range(4)]
    (digest,) = aggregate(batch, max_individual=3, links=links)
    assert digest.kind is MessageKind.DIGEST
    assert digest.rule == MULTIPLE
    assert digest.rules == ("BOTH_SIDES_CREATED", "NAME_DRIFT")
    assert digest.notice_count == 4
    assert set(digest.dedup_keys) == {n.dedup_key for n in batch}


def test_a_backfill_of_hundreds_is_one_digest_with_counts_examples_and_one_next_step(
    links: ZohoLinks,
) -> None:
    rules = ["NAME_DRIFT"] * 150 + ["DOUBLE_LINK"] * 30 + ["BOTH_SIDES_CREATED"] * 20
    batch = [pair(n, rule, mode=Mode.OBSERVE) for n, rule in enumerate(rules)]
    batch[7] = pair(7, "DOUBLE_LINK", severity=Severity.CRITICAL, mode=Mode.OBSERVE)
    (digest,) = aggregate(batch, max_individual=5, links=links, max_examples=3)
    body = digest.body
    assert digest.severity is Severity.CRITICAL  # the highest of the batch
    counts = re.findall(r"^  ([A-Z_]+)\s+(\d+)\s+(\w+)", body.split("COUNTS BY RULE", 1)[1], re.M)
    assert [(rule, int(count)) for rule, count, _ in counts][:3] == [
        ("DOUBLE_LINK", 31),
        ("NAME_DRIFT", 149),
        ("BOTH_SIDES_CREATED", 20),
    ]
    # Three examples per rule, with links, and a pointer to the rest.
    assert body.count("https://books.zoho.eu/app/") == 3 * 3 * 2
    assert "... and 146 more (audit trail: query by rule NAME_DRIFT and time range)." in body
    # One next step: the playbook, and it is the observe-mode wording.
    assert body.count("NEXT STEP") == 1
    assert "Pause the contact sync" in body
    assert "observe mode, so it changed nothing in Zoho" in body
    assert len(digest.subject) < 100
    assert "200 possible duplicates, 3 kinds" in digest.subject


def test_a_storm_is_one_alert_carrying_the_storm_rule_and_the_highest_severity(links: ZohoLinks) -> None:
    storm = notice("MULTIPLICATION_STORM", severity=Severity.CRITICAL, records=(books("999", "Big Co"),))
    held = [pair(n, "BROKEN_MAPPING") for n in range(3)]
    (digest,) = aggregate([*held, storm], max_individual=50, links=links)
    assert digest.rule == "MULTIPLICATION_STORM"
    assert digest.severity is Severity.CRITICAL
    assert digest.rules == ("BROKEN_MAPPING", "MULTIPLICATION_STORM")
    body = " ".join(digest.body.split())
    assert "circuit breaker has tripped" in body
    assert "Only then ask an admin to reset the guard's circuit breaker" in body
    assert "Duplicate storm" in digest.subject
    assert "4 alerts" in digest.subject


def test_a_storm_notice_alone_is_an_ordinary_message(links: ZohoLinks) -> None:
    (message,) = aggregate([notice("MULTIPLICATION_STORM")], max_individual=5, links=links)
    assert message.kind is MessageKind.NOTICE
    assert message.rule == "MULTIPLICATION_STORM"


def test_a_digest_of_one_rule_carries_that_rule(links: ZohoLinks) -> None:
    (digest,) = aggregate([pair(n) for n in range(10)], max_individual=5, links=links)
    assert digest.rule == "NAME_DRIFT"
    assert digest.kind is MessageKind.DIGEST
    assert "10 x Same customer, slightly different name" in digest.subject


def test_several_notices_of_one_rule_below_the_threshold_are_grouped_and_listed_in_full(
    links: ZohoLinks,
) -> None:
    batch = [pair(1), pair(2), pair(3), pair(4, "DOUBLE_LINK")]
    messages = aggregate(batch, max_individual=5, links=links, max_examples=1)
    assert [(m.rule, m.kind, m.notice_count) for m in messages] == [
        ("DOUBLE_LINK", MessageKind.NOTICE, 1),
        ("NAME_DRIFT", MessageKind.DIGEST, 3),
    ]
    grouped = messages[1].body
    assert all(f'"Customer {n} Limited"' in grouped for n in (1, 2, 3))
    assert "more (audit trail" not in grouped


def test_grouping_can_be_switched_off(links: ZohoLinks) -> None:
    messages = aggregate([pair(1), pair(2)], max_individual=5, links=links, group_by_rule=False)
    assert [m.kind for m in messages] == [MessageKind.NOTICE, MessageKind.NOTICE]


def test_repeats_in_a_batch_collapse_to_the_most_severe(links: ZohoLinks) -> None:
    first = pair(1, severity=Severity.INFO)
    again = pair(1, severity=Severity.CRITICAL, decision=Decision.FLAG)
    assert first.dedup_key == again.dedup_key
    assert unique_notices([first, again, first]) == [again]
    (message,) = aggregate([first, again], max_individual=1, links=links)
    assert message.kind is MessageKind.NOTICE
    assert message.severity is Severity.CRITICAL


def test_already_sent_notices_are_dropped() -> None:
    batch = [pair(1), pair(2), pair(3)]
    assert fresh(batch, {batch[1].dedup_key}) == [batch[0], batch[2]]


def test_the_same_batch_in_any_order_gives_identical_messages(links: ZohoLinks) -> None:
    batch = [pair(n, rule) for n, rule in enumerate(["NAME_DRIFT", "DOUBLE_LINK", "EMAIL_MISMATCH"] * 4)]
    small = batch[:3]
    shuffled, shuffled_small = batch[:], small[:]
    rng = random.Random(7)
    rng.shuffle(shuffled)
    rng.shuffle(shuffled_small)
    assert aggregate(batch, max_individual=5, links=links) == aggregate(
        shuffled, max_individual=5, links=links
    )
    assert aggregate(small, max_individual=5, links=links) == aggregate(
        shuffled_small, max_individual=5, links=links
    )


def test_the_threshold_defaults_to_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_GUARD_NOTIFY_MAX_INDIVIDUAL", "2")
    monkeypatch.setenv("SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID", "555")
    (digest,) = aggregate([pair(1), pair(2, "DOUBLE_LINK"), pair(3, "EMAIL_MISMATCH")])
    assert digest.kind is MessageKind.DIGEST
    assert "https://books.zoho.eu/app/555#/contacts/" in digest.body


def test_a_threshold_below_one_is_refused(links: ZohoLinks) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        aggregate([pair(1)], max_individual=0, links=links)


def test_a_digest_of_flags_does_not_claim_holds(links: ZohoLinks) -> None:
    batch = [pair(n, decision=Decision.FLAG) for n in range(6)]
    (digest,) = aggregate(batch, max_individual=5, links=links)
    body = " ".join(digest.body.split())
    assert "6 alert(s) were flagged for review without changing anything in Zoho." in body
    assert "held" not in body.split("WHAT THE GUARD DID", 1)[1].split("NEXT STEP", 1)[0]


def test_a_digest_separates_what_was_held_from_what_would_have_been(links: ZohoLinks) -> None:
    batch = [pair(n, mode=Mode.ENFORCE if n < 4 else Mode.OBSERVE) for n in range(6)]
    (digest,) = aggregate(batch, max_individual=5, links=links)
    body = " ".join(digest.body.split())
    assert "The guard held 4 record(s) back from the sync" in body
    assert "In enforce mode it would have held 2 record(s)" in body
    assert "Mode: enforce/observe" in body
