"""boto3 clients built from Settings, cached per process so warm invocations reuse connections.

All of them come from one boto3 session: a session loads botocore's endpoint and partition data, its
retry and default-configuration files and its list of services once and serves every client it builds
from them, so a second session per client repeated that work (about 70 ms of each function's cold start
per extra client). A session is not safe to build clients from in two threads at once (the local stack
runs handlers in threads), hence the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from typing import Any

import boto3
from botocore.config import Config

from sync_guard.config import Settings

_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    # botocore's ``max_attempts`` counts retries; ``total_max_attempts`` counts the first try too.
    retries={"total_max_attempts": 5, "mode": "standard"},
)


def endpoint_for(service: str, settings: Settings) -> str | None:
    """The endpoint override for a service, or None on AWS."""
    if service == "dynamodb" and settings.dynamodb_endpoint_url:
        return settings.dynamodb_endpoint_url
    return settings.aws_endpoint_url or None


_session_lock = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@lru_cache(maxsize=32)
def _cached_client(service: str, region: str, endpoint_url: str | None, attempts: int | None = None) -> Any:
    with _session_lock:
        session = _session()
        credentials: dict[str, str] = {}
        if endpoint_url and session.get_credentials() is None:
            # Local servers accept any credentials; an operator's shell may have none configured.
            credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        return session.client(
            service,  # type: ignore[call-overload]
            region_name=region,
            endpoint_url=endpoint_url,
            config=_CLIENT_CONFIG.merge(Config(retries={"total_max_attempts": attempts, "mode": "standard"}))
            if attempts
            else _CLIENT_CONFIG,
            **credentials,
        )


def client(service: str, settings: Settings, *, attempts: int | None = None) -> Any:
    """A boto3 client for ``service`` pointed at AWS or at the configured local endpoint; ``attempts``
    bounds the tries of each call, the first included (else five), for a read that had better give up soon."""
    return _cached_client(service, settings.aws_region, endpoint_for(service, settings), attempts)


def is_conditional_check_failure(error: BaseException) -> bool:
    """True when DynamoDB refused a write because its condition did not hold (not a fault: a fact)."""
    response = getattr(error, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") == (
        "ConditionalCheckFailedException"
    )


def every_item(read: Callable[..., dict[str, Any]], **request: Any) -> Iterator[dict[str, Any]]:
    """Every item a DynamoDB ``query`` or ``scan`` (``read``) returns for ``request``, page after page."""
    while True:
        page = read(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reset_clients() -> None:
    """Forget cached clients and their session (tests switch endpoints, mocks and credentials between
    cases; a session keeps the credentials it first found and the event handlers of its creation, moto's
    among them or not)."""
    _cached_client.cache_clear()
    _session.cache_clear()
