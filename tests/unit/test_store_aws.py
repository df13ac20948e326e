"""store.aws: the small helpers every DynamoDB adapter shares."""

from __future__ import annotations

from botocore.exceptions import ClientError

from sync_guard.config import Settings
from sync_guard.store.aws import client, is_conditional_check_failure, reset_clients


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "PutItem")


def test_conditional_check_failures_are_recognised_and_nothing_else() -> None:
    assert is_conditional_check_failure(error("ConditionalCheckFailedException"))
    assert not is_conditional_check_failure(error("ProvisionedThroughputExceededException"))
    assert not is_conditional_check_failure(RuntimeError("no response"))


def test_a_client_for_a_read_that_should_give_up_soon_tries_fewer_times() -> None:
    settings = Settings(aws_region="eu-west-2", dynamodb_endpoint_url="http://127.0.0.1:9")
    reset_clients()

    quick = client("dynamodb", settings, attempts=2)
    usual = client("dynamodb", settings)

    assert quick.meta.config.retries["total_max_attempts"] == 2
    assert usual.meta.config.retries["total_max_attempts"] == 5
    assert client("dynamodb", settings) is usual  # each kind still made once per process
    assert quick.meta.config.connect_timeout == usual.meta.config.connect_timeout == 2


def test_clients_of_every_service_come_from_one_session() -> None:
    # A session per client parsed botocore's endpoint data and service list again for each (cold start).
    settings = Settings(aws_region="eu-west-2", aws_endpoint_url="http://127.0.0.1:9")
    reset_clients()

    table, queue = client("dynamodb", settings), client("sqs", settings)

    assert table._loader is queue._loader  # botocore's data, loaded and cached by the one session
    assert table._endpoint.host == queue._endpoint.host == "http://127.0.0.1:9"


def test_forgetting_the_clients_forgets_their_session() -> None:
    # Tests change credentials and start moto between cases: the next client must see them.
    settings = Settings(aws_region="eu-west-2", aws_endpoint_url="http://127.0.0.1:9")
    reset_clients()
    before = client("dynamodb", settings)

    reset_clients()

    assert client("sqs", settings)._loader is not before._loader
