"""The template's tables exist, with the template's keys, on a real DynamoDB-API server over HTTP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sync_guard.local.dynamodb import dynamodb_local
from sync_guard.local.template import table_definitions
from tests.support.aws import AwsResources

pytestmark = pytest.mark.integration


def test_tables_built_from_template_on_real_server(aws_server: AwsResources) -> None:
    # given the tables the fixture created from template.yaml
    for table in table_definitions():
        name = aws_server.environment[table.env_var]
        # when the server describes them
        described = aws_server.dynamodb.describe_table(TableName=name)["Table"]
        # then their key schemas are the template's
        assert described["KeySchema"] == table.key_schema


def test_conditional_put_is_enforced_by_the_server(aws_server: AwsResources) -> None:
    table = aws_server.environment["SYNC_GUARD_EVENTS_TABLE"]
    item = {"pk": {"S": "evt_1"}}
    aws_server.dynamodb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(aws_server.dynamodb.exceptions.ConditionalCheckFailedException):
        aws_server.dynamodb.put_item(
            TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)"
        )


@pytest.mark.skipif(shutil.which("java") is None, reason="DynamoDB Local runs on Java")
def test_what_dynamodb_local_prints_goes_to_its_log_file(tmp_path: Path) -> None:
    # given a DynamoDB Local whose jar is broken (a truncated download)
    home = tmp_path / "cache" / "aws_dynamodb_local"
    home.mkdir(parents=True)
    (home / "DynamoDBLocal.jar").write_bytes(b"not a jar")
    log_file = tmp_path / "logs" / "dynamodb.log"
    # when it is started with a log file
    with pytest.raises(RuntimeError) as refused, dynamodb_local(tmp_path / "cache", log_file=log_file):
        pass
    # then Java's complaint is in the file (where the log watch reads it), and the error says where
    assert "jarfile" in log_file.read_text()
    assert str(log_file) in str(refused.value)
