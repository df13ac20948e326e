"""`sync-guard replay-dlq` pointed at no guard says so and fails, as the other admin commands do: a deployer
with AWS credentials who leaves out --stack-name must not read "skipped" and exit 0 as if nothing waited."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_guard.cli import build_app


@pytest.mark.parametrize("queue", ["all", "processing", "outbox"])
def test_replay_dlq_without_a_guard_to_replay_in_fails_naming_the_ways_to_give_one(
    tmp_path: Path, queue: str
) -> None:
    # given: no --stack-name, no SYNC_GUARD_* queues (conftest clears them), no local stack running
    args = ["replay-dlq", "--queue", queue, "--dry-run", "--state-dir", str(tmp_path)]

    # when
    result = CliRunner().invoke(build_app(), args)

    # then
    assert result.exit_code == 2, result.output
    assert "no dead-letter queue to replay" in result.output
    assert "--stack-name" in result.output
    assert "sync-guard serve" in result.output


def test_one_queue_configured_replays_it_and_says_the_other_was_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-2")
        monkeypatch.setenv("SYNC_GUARD_DLQ_URL", sqs.create_queue(QueueName="dlq")["QueueUrl"])
        monkeypatch.setenv("SYNC_GUARD_QUEUE_URL", sqs.create_queue(QueueName="queue")["QueueUrl"])

        result = CliRunner().invoke(build_app(), ["replay-dlq", "--dry-run", "--state-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "processing: would move 0 message(s)" in result.output
    assert "outbox: not configured (no queue URL), skipped" in result.output
