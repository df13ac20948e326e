"""The webhook secret: from Settings locally, else Secrets Manager or SSM, fetched once per container.

A Lambda container serves many requests; fetching the secret on each would add a network round trip to
every webhook and cost money, so the first successful fetch is cached for the container's life. Rotating
the secret therefore takes effect as containers recycle (or immediately after a redeploy).
"""

from __future__ import annotations

import json
import threading

from botocore.exceptions import BotoCoreError, ClientError

from sync_guard.config import Settings
from sync_guard.errors import ConfigurationError, UpstreamError
from sync_guard.store.aws import client


class SecretUnavailable(UpstreamError):
    """The secret store could not be read: a fault on our side, never the caller's."""

    code = "secret_unavailable"


_cache: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def _secret_value(raw: str, source: str) -> str:
    """A plain string; a JSON object with a ``token`` or ``webhook_secret`` key is accepted too."""
    value = raw.strip()
    if value.startswith("{"):
        try:
            document = json.loads(value)
        except ValueError:
            document = None
        if isinstance(document, dict):
            value = str(document.get("webhook_secret") or document.get("token") or "").strip()
    if not value:
        raise ConfigurationError(f"the webhook secret in {source} is empty")
    return value


def _fetch(source: str, name: str, settings: Settings) -> str:
    try:
        if source == "secretsmanager":
            response = client("secretsmanager", settings).get_secret_value(SecretId=name)
            return _secret_value(str(response.get("SecretString") or ""), f"secret {name}")
        response = client("ssm", settings).get_parameter(Name=name, WithDecryption=True)
        return _secret_value(str(response["Parameter"]["Value"]), f"parameter {name}")
    except (ClientError, BotoCoreError) as error:
        # The error names the secret but never its value.
        raise SecretUnavailable(
            f"cannot read the webhook secret from {source} ({type(error).__name__})"
        ) from error


def webhook_secret(settings: Settings) -> str:
    """The shared webhook token Zoho sends, resolved in this order and cached per container.

    1. ``SYNC_GUARD_WEBHOOK_SECRET`` (local runs and tests);
    2. the Secrets Manager secret ``SYNC_GUARD_WEBHOOK_SECRET_NAME`` (what the SAM template configures);
    3. the SSM SecureString parameter ``SYNC_GUARD_WEBHOOK_SECRET_PARAMETER``.
    """
    if settings.webhook_secret is not None:
        return _secret_value(settings.webhook_secret.get_secret_value(), "SYNC_GUARD_WEBHOOK_SECRET")
    if settings.webhook_secret_name:
        key = ("secretsmanager", settings.webhook_secret_name)
    elif settings.webhook_secret_parameter:
        key = ("ssm", settings.webhook_secret_parameter)
    else:
        raise ConfigurationError("no webhook secret configured (SYNC_GUARD_WEBHOOK_SECRET[_NAME|_PARAMETER])")
    cached = _cache.get(key)
    if cached is not None:
        return cached
    with _lock:
        if key not in _cache:
            _cache[key] = _fetch(key[0], key[1], settings)
        return _cache[key]


def reset_secret_cache() -> None:
    """Forget fetched secrets (tests switch secrets between cases)."""
    with _lock:
        _cache.clear()
