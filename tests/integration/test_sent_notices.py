"""Notice keys on the real DynamoDB-API server: claimed before publishing, so that no two executors,
and no retried batch, notify finance twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sync_guard.config import get_settings
from sync_guard.executor.dynamo import DynamoSentNotices
from tests.support.aws import AwsResources

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def notices(aws: AwsResources) -> DynamoSentNotices:
    return DynamoSentNotices(aws.dynamodb, get_settings().shadow_table)


def test_a_key_is_claimed_once_remembered_and_released(aws_server: AwsResources) -> None:
    store = notices(aws_server)
    first = store.claim({"ntf_a", "ntf_b"}, now=NOW, lease_seconds=120)
    assert first.keys == {"ntf_a", "ntf_b"}
    # another executor, meanwhile: both keys are being sent
    assert store.claim({"ntf_a", "ntf_b"}, now=NOW, lease_seconds=120).keys == set()
    # ntf_a went out, ntf_b did not: ntf_b is given back, ntf_a never goes again
    store.remember({"ntf_a"}, now=NOW)
    store.release(first, {"ntf_b"})
    assert store.claim({"ntf_a", "ntf_b"}, now=NOW + timedelta(days=1), lease_seconds=120).keys == {"ntf_b"}


def test_a_claim_left_by_an_executor_that_died_lapses(aws_server: AwsResources) -> None:
    store = notices(aws_server)
    dead = store.claim({"ntf_c"}, now=NOW, lease_seconds=120)
    assert store.claim({"ntf_c"}, now=NOW + timedelta(seconds=60), lease_seconds=120).keys == set()
    later = store.claim({"ntf_c"}, now=NOW + timedelta(seconds=121), lease_seconds=120)
    assert later.keys == {"ntf_c"}
    # the first executor's late release does not undo the claim that took over
    store.release(dead, {"ntf_c"})
    assert store.claim({"ntf_c"}, now=NOW + timedelta(seconds=122), lease_seconds=120).keys == set()


def test_keys_stored_before_claims_existed_count_as_sent(aws_server: AwsResources) -> None:
    aws_server.dynamodb.put_item(
        TableName=get_settings().shadow_table,
        Item={"pk": {"S": "NOTICE#ntf_old"}, "sk": {"S": "N"}, "sent_at": {"S": "2026-02-01T00:00:00Z"}},
    )
    assert notices(aws_server).claim({"ntf_old"}, now=NOW, lease_seconds=120).keys == set()


def test_executors_racing_for_one_key_claim_it_once(aws_server: AwsResources) -> None:
    winners: list[frozenset[str]] = []
    start = threading.Barrier(4)

    def race() -> None:
        store = notices(aws_server)
        start.wait()
        winners.append(store.claim({"ntf_race"}, now=NOW, lease_seconds=120).keys)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(keys) for keys in winners) == [0, 0, 0, 1]
