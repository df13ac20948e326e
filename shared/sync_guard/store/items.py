"""Typed conversion between Python values and DynamoDB's attribute-value JSON (low-level client shapes)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a": 1}`` -> ``{"a": {"N": "1"}}``; None values are dropped (DynamoDB has no use for them)."""
    return {name: _SERIALIZER.serialize(_plain(value)) for name, value in values.items() if value is not None}


def to_value(value: Any) -> dict[str, Any]:
    return dict(_SERIALIZER.serialize(_plain(value)))


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`to_item`; numbers come back as ``int`` when they are whole."""
    return {name: _python(_DESERIALIZER.deserialize(value)) for name, value in item.items()}


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO timestamp, so that string order is time order (sort keys rely on it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset):
        return set(value)
    return value


def _python(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_python(v) for v in value]
    if isinstance(value, set):
        return {_python(v) for v in value}
    return value
