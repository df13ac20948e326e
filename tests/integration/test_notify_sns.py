"""Publishing finance notifications to SNS (moto): attributes reach subscribers and filter policies work."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sync_guard.config import get_settings
from sync_guard.notify import (
    FileNotifier,
    NotificationFailed,
    RenderedMessage,
    SnsNotifier,
    finance_notifier,
    notify_finance,
)
from sync_guard.notify.examples import EXAMPLE_LINKS, example_notices, rendered_examples, storm_batch
from tests.support.aws import AwsResources
from tests.support.sns import received, subscribe_queue


def test_a_notice_reaches_the_topic_with_subject_body_and_attributes(aws: AwsResources) -> None:
    queue = subscribe_queue(aws, "finance-all")
    message = rendered_examples()["NAME_DRIFT"]
    message_id = SnsNotifier(get_settings()).publish(message)
    (envelope,) = received(aws, queue)
    assert envelope["MessageId"] == message_id
    assert envelope["TopicArn"] == aws.topic_arn
    assert envelope["Subject"] == message.subject
    assert envelope["Message"] == message.body
    attributes = envelope["MessageAttributes"]
    assert attributes["severity"] == {"Type": "String", "Value": "warning"}
    assert attributes["rule"] == {"Type": "String", "Value": "NAME_DRIFT"}
    assert attributes["kind"] == {"Type": "String", "Value": "notice"}
    assert json.loads(attributes["rules"]["Value"]) == ["NAME_DRIFT"]


def test_filter_policies_on_severity_and_rule_pick_their_messages(aws: AwsResources) -> None:
    critical_only = subscribe_queue(aws, "finance-critical", {"severity": ["critical"]})
    storms_only = subscribe_queue(aws, "finance-storms", {"rule": ["MULTIPLICATION_STORM"]})
    not_info = subscribe_queue(aws, "finance-not-info", {"severity": [{"anything-but": ["info"]}]})
    # ``rules`` lists every rule of a digest: a policy on it also catches a rule that arrives inside one.
    name_drift_anywhere = subscribe_queue(aws, "finance-name-drift", {"rules": ["NAME_DRIFT"]})
    examples = rendered_examples()
    notifier = SnsNotifier(get_settings())
    for stem in ("NAME_DRIFT", "RECREATED_AFTER_DELETE", "CREATED_IN_BOOKS", "DIGEST_STORM"):
        notifier.publish(examples[stem])

    def rules(queue: str) -> list[str]:
        return sorted(envelope["MessageAttributes"]["rule"]["Value"] for envelope in received(aws, queue))

    # RECREATED_AFTER_DELETE and the storm digest are critical, NAME_DRIFT a warning, CREATED_IN_BOOKS info.
    assert rules(critical_only) == ["MULTIPLICATION_STORM", "RECREATED_AFTER_DELETE"]
    assert rules(storms_only) == ["MULTIPLICATION_STORM"]
    assert rules(not_info) == ["MULTIPLICATION_STORM", "NAME_DRIFT", "RECREATED_AFTER_DELETE"]
    assert rules(name_drift_anywhere) == ["MULTIPLICATION_STORM", "NAME_DRIFT"]


def test_a_storm_batch_is_published_as_one_message(aws: AwsResources) -> None:
    queue = subscribe_queue(aws, "finance-storm")
    notifier = SnsNotifier(get_settings())
    batch = storm_batch()
    deliveries = notify_finance(batch, notifier, max_individual=5, links=EXAMPLE_LINKS)
    (envelope,) = received(aws, queue)
    assert len(deliveries) == 1
    assert envelope["MessageAttributes"]["rule"]["Value"] == "MULTIPLICATION_STORM"
    assert envelope["MessageAttributes"]["severity"]["Value"] == "critical"
    assert f"Digest of {len(batch)} alerts" in envelope["Message"]
    # A retry of the batch, with the delivered keys stored, publishes nothing.
    sent = {key for delivery in deliveries for key in delivery.message.dedup_keys}
    assert notify_finance(batch, notifier, sent_keys=sent, max_individual=5, links=EXAMPLE_LINKS) == []
    assert received(aws, queue) == []


def test_customer_emails_never_reach_the_logs(aws: AwsResources, caplog: pytest.LogCaptureFixture) -> None:
    message = rendered_examples()["EMAIL_MISMATCH"]
    assert "fiona@grantdesign.com" in message.body  # finance needs it in the body...
    caplog.set_level(logging.DEBUG, logger="sync_guard")
    SnsNotifier(get_settings()).publish(message)
    logged = [record for record in caplog.records if record.name.startswith("sync_guard")]
    assert logged, "publishing should leave a log line"
    for record in logged:
        text = record.getMessage() + json.dumps({k: str(v) for k, v in vars(record).items()})
        assert "@" not in text  # ...but no address, masked or not, in the log line
        assert message.subject not in text


def test_publishing_to_a_missing_topic_is_a_notification_failure(aws: AwsResources) -> None:
    notifier = SnsNotifier(get_settings(), topic_arn=aws.topic_arn.rsplit(":", 1)[0] + ":no-such-topic")
    with pytest.raises(NotificationFailed, match="SNS publish failed") as raised:
        notifier.publish(rendered_examples()["NAME_DRIFT"])
    assert isinstance(raised.value.__cause__, ClientError)


def test_the_configured_channel_is_sns_and_the_file_beside_it(
    aws: AwsResources, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    queue = subscribe_queue(aws, "finance-fanout")
    monkeypatch.setenv("SYNC_GUARD_NOTIFY_FILE", str(tmp_path / "finance.txt"))
    get_settings.cache_clear()
    notifier = finance_notifier(get_settings())
    message: RenderedMessage = rendered_examples()["DOUBLE_LINK"]
    notifier.publish(message)
    assert [e["Subject"] for e in received(aws, queue)] == [message.subject]
    assert message.body.strip() in (tmp_path / "finance.txt").read_text(encoding="utf-8")
    assert FileNotifier.SEPARATOR in (tmp_path / "finance.txt").read_text(encoding="utf-8")


def test_every_example_is_accepted_by_sns(aws: AwsResources) -> None:
    queue = subscribe_queue(aws, "finance-examples")
    notifier = SnsNotifier(get_settings())
    examples = rendered_examples()
    for message in examples.values():
        notifier.publish(message)
    subjects = sorted(envelope["Subject"] for envelope in received(aws, queue))
    assert subjects == sorted(message.subject for message in examples.values())
    assert len(example_notices()) + 3 == len(examples)  # a refused hold and the two digests
