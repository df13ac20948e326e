"""Read ``template.yaml`` so that tests and the local stack build exactly the tables AWS would.

Tables are created from the template's own key schemas, indexes and streams, and named through the same
``SYNC_GUARD_*`` environment variables the template's Globals bind to them: code and template cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The repository's template, when the package runs from a checkout (the local stack and the tests do).
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


@dataclass(frozen=True)
class TableDefinition:
    """One ``AWS::DynamoDB::Table`` of the template, in the shape ``CreateTable`` takes."""

    logical_id: str
    env_var: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    global_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    stream_view_type: str | None = None
    ttl_attribute: str | None = None

    def create_table_kwargs(self, table_name: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": self.key_schema,
            "AttributeDefinitions": self.attribute_definitions,
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.global_secondary_indexes:
            kwargs["GlobalSecondaryIndexes"] = self.global_secondary_indexes
        if self.stream_view_type:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream_view_type}
        return kwargs


def load_template(path: Path = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template, short-form intrinsics (``!Ref``...) included."""
    # Imported here: cfn-lint costs ~0.4 s to import, and every sync-guard command would pay it.
    from cfnlint.decode import decode_str

    template, matches = decode_str(path.read_text())
    if matches or template is None:
        raise ValueError(f"{path}: cannot parse template: {[str(m) for m in matches]}")
    return dict(template)


def _table_env_bindings(template: dict[str, Any]) -> dict[str, str]:
    """``{logical_id: env var}`` for every ``SYNC_GUARD_*: !Ref SomeTable`` in the function Globals."""
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    bindings: dict[str, str] = {}
    for name, value in variables.items():
        if isinstance(value, dict) and set(value) == {"Ref"}:
            bindings[str(value["Ref"])] = str(name)
    return bindings


def table_definitions(path: Path = DEFAULT_TEMPLATE) -> list[TableDefinition]:
    """Every DynamoDB table the template declares, with the env var that names it."""
    template = load_template(path)
    bindings = _table_env_bindings(template)
    tables: list[TableDefinition] = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        indexes = [
            {
                "IndexName": index["IndexName"],
                "KeySchema": index["KeySchema"],
                "Projection": index.get("Projection", {"ProjectionType": "ALL"}),
            }
            for index in props.get("GlobalSecondaryIndexes", [])
        ]
        ttl = props.get("TimeToLiveSpecification") or {}
        if logical_id not in bindings:
            raise ValueError(f"table {logical_id} has no SYNC_GUARD_* variable in Globals")
        tables.append(
            TableDefinition(
                logical_id=logical_id,
                env_var=bindings[logical_id],
                key_schema=props["KeySchema"],
                attribute_definitions=props["AttributeDefinitions"],
                global_secondary_indexes=indexes,
                stream_view_type=(props.get("StreamSpecification") or {}).get("StreamViewType"),
                ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
            )
        )
    return tables


def create_tables(dynamodb_client: Any, prefix: str, path: Path = DEFAULT_TEMPLATE) -> dict[str, str]:
    """Create every template table as ``<prefix>-<LogicalId>`` if missing.

    Returns ``{env var: table name}``, ready to put into the environment or ``Settings``.
    """
    existing = set(dynamodb_client.list_tables().get("TableNames", []))
    environment: dict[str, str] = {}
    for table in table_definitions(path):
        name = f"{prefix}-{table.logical_id}"
        if name not in existing:
            dynamodb_client.create_table(**table.create_table_kwargs(name))
            dynamodb_client.get_waiter("table_exists").wait(TableName=name)
            if table.ttl_attribute:
                dynamodb_client.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"AttributeName": table.ttl_attribute, "Enabled": True},
                )
        environment[table.env_var] = name
    return environment
