"""Notifiers other than SNS, the channel choice, and publishing a batch without sending twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from notify_builders import pair

from sync_guard.config import Settings
from sync_guard.notify import (
    FanOutNotifier,
    FileNotifier,
    InMemoryNotifier,
    NotificationFailed,
    Notifier,
    RenderedMessage,
    SnsNotifier,
    ZohoLinks,
    finance_notifier,
    notify_finance,
    render_notice,
)


def test_the_in_memory_notifier_keeps_messages_in_order(links: ZohoLinks) -> None:
    notifier = InMemoryNotifier()
    first, second = render_notice(pair(1), links), render_notice(pair(2), links)
    assert notifier.publish(first) == "memory-1"
    assert notifier.publish(second) == "memory-2"
    assert notifier.messages == [first, second]
    assert isinstance(notifier, Notifier)


def test_the_file_notifier_appends_readable_messages(tmp_path: Path, links: ZohoLinks) -> None:
    path = tmp_path / "out" / "finance.txt"
    notifier = FileNotifier(path)
    first, second = render_notice(pair(1), links), render_notice(pair(2, "DOUBLE_LINK"), links)
    assert notifier.publish(first) == first.key
    notifier.publish(second)
    text = path.read_text(encoding="utf-8")
    assert text.count(FileNotifier.SEPARATOR) == 2
    assert f"Subject: {first.subject}" in text
    assert "Attribute rule (String): DOUBLE_LINK" in text
    assert text.index(first.subject) < text.index(second.subject)


def test_the_file_notifier_reports_an_unwritable_path(tmp_path: Path, links: ZohoLinks) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NotificationFailed, match="could not write"):
        FileNotifier(blocker / "finance.txt").publish(render_notice(pair(1), links))


def test_fan_out_publishes_everywhere(links: ZohoLinks) -> None:
    a, b = InMemoryNotifier(), InMemoryNotifier()
    message = render_notice(pair(1), links)
    assert FanOutNotifier(a, b).publish(message) == "memory-1"
    assert a.messages == b.messages == [message]


def test_a_failing_secondary_does_not_fail_the_publish(tmp_path: Path, links: ZohoLinks) -> None:
    primary = InMemoryNotifier()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    message = render_notice(pair(1), links)
    assert FanOutNotifier(primary, FileNotifier(blocker / "n.txt")).publish(message) == "memory-1"
    assert primary.messages == [message]


def test_a_failing_primary_fails_the_publish(links: ZohoLinks) -> None:
    failing, copy = FailsOnSecond(), InMemoryNotifier()
    fan_out = FanOutNotifier(failing, copy)
    fan_out.publish(render_notice(pair(1), links))
    with pytest.raises(NotificationFailed):
        fan_out.publish(render_notice(pair(2), links))
    assert len(copy.messages) == 1


def test_sns_needs_a_topic() -> None:
    with pytest.raises(NotificationFailed, match="SYNC_GUARD_FINANCE_TOPIC_ARN"):
        SnsNotifier(Settings())


def test_the_channel_follows_the_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NotificationFailed):
        finance_notifier(Settings())
    monkeypatch.setenv("SYNC_GUARD_NOTIFY_FILE", str(tmp_path / "n.txt"))
    assert isinstance(finance_notifier(Settings()), FileNotifier)
    monkeypatch.setenv("SYNC_GUARD_FINANCE_TOPIC_ARN", "arn:aws:sns:eu-west-2:123456789012:finance")
    both = finance_notifier(Settings())
    assert isinstance(both, FanOutNotifier)
    assert [type(n) for n in both.notifiers] == [SnsNotifier, FileNotifier]


def test_notify_finance_skips_keys_already_sent(links: ZohoLinks) -> None:
    batch = [pair(1), pair(2, "DOUBLE_LINK"), pair(3, "EMAIL_MISMATCH")]
    notifier = InMemoryNotifier()
    sent = notify_finance(batch, notifier, max_individual=5, links=links)
    assert len(sent) == 3
    keys = {key for delivery in sent for key in delivery.message.dedup_keys}
    # The retry of the same batch sends nothing more.
    assert notify_finance(batch, notifier, sent_keys=keys, max_individual=5, links=links) == []
    assert len(notifier.messages) == 3


class FailsOnSecond:
    def __init__(self) -> None:
        self.calls = 0

    def publish(self, message: RenderedMessage) -> str:
        self.calls += 1
        if self.calls == 2:
            raise NotificationFailed("boom")
        return f"id-{self.calls}"


def test_a_failure_reports_what_was_already_delivered(links: ZohoLinks) -> None:
    batch = [pair(1, "DOUBLE_LINK"), pair(2, "EMAIL_MISMATCH"), pair(3)]
    with pytest.raises(NotificationFailed) as raised:
        notify_finance(batch, FailsOnSecond(), max_individual=5, links=links)
    (delivered,) = raised.value.delivered
    assert delivered.message_id == "id-1"
    assert delivered.message.rule == "DOUBLE_LINK"
