"""The template's tables exist, with the template's keys, on a real DynamoDB-API server over HTTP."""

from __future__ import annotations

import pytest

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
