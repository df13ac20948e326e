"""store.aws: the small helpers every DynamoDB adapter shares."""

from __future__ import annotations

from botocore.exceptions import ClientError

from sync_guard.store.aws import is_conditional_check_failure


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "PutItem")


def test_conditional_check_failures_are_recognised_and_nothing_else() -> None:
    assert is_conditional_check_failure(error("ConditionalCheckFailedException"))
    assert not is_conditional_check_failure(error("ProvisionedThroughputExceededException"))
    assert not is_conditional_check_failure(RuntimeError("no response"))
