"""The webhook request as ingestion sees it, independent of API Gateway's event shape."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl

from sync_guard.errors import InvalidPayload, PayloadTooLarge


class Route(StrEnum):
    """The three webhook endpoints (every one answers POST only)."""

    CRM_WORKFLOW = "/webhooks/crm"
    CRM_NOTIFICATIONS = "/webhooks/crm/notifications"
    BOOKS = "/webhooks/books"


@dataclass(frozen=True)
class WebhookRequest:
    """One POST to a webhook route: header names lower-cased, the body as API Gateway delivered it.

    ``query`` is the HTTP API's ``queryStringParameters``, where a parameter given more than once has its
    values joined by commas (``a&x=b`` arrives as ``"a,b"``); ``raw_query`` is its ``rawQueryString``,
    which keeps them apart (see :meth:`query_values`).
    """

    route: Route
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    is_base64_encoded: bool = False
    raw_query: str = ""

    @classmethod
    def build(
        cls,
        route: Route,
        headers: Mapping[str, str] | None,
        query: Mapping[str, str] | None,
        body: str | None,
        is_base64_encoded: bool = False,
        raw_query: str | None = None,
    ) -> WebhookRequest:
        """Normalise header names to lower case (HTTP APIs already do; other callers may not)."""
        return cls(
            route=route,
            headers={str(name).lower(): str(value) for name, value in (headers or {}).items()},
            query={str(name): str(value) for name, value in (query or {}).items()},
            body=body,
            is_base64_encoded=is_base64_encoded,
            raw_query=raw_query or "",
        )

    def query_values(self, name: str) -> list[str]:
        """Every value the URL gives ``name``, in order: read from the raw query string, where a repeated
        parameter is still two (``queryStringParameters`` joins them with a comma, and a value may hold a
        comma of its own); from ``query`` when the raw string does not have it (a hand-made event).

        Decoded as a form is (``+`` is a space), which ``queryStringParameters`` may not do (the local
        runtime leaves ``+`` as sent; what API Gateway does is undocumented). It does not matter for what is
        read here: an ``organization_id`` is digits (a ``+`` around them reads as a space, stripped), and
        of ``token`` only the number of values is taken, which ``+`` does not change."""
        values = [value for key, value in parse_qsl(self.raw_query, keep_blank_values=True) if key == name]
        if not values and name in self.query:
            return [self.query[name]]
        return values

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def body_bytes(request: WebhookRequest, max_bytes: int) -> bytes:
    """The body's bytes, refusing anything over ``max_bytes`` before decoding or parsing it (413)."""
    if not request.body:
        return b""
    too_large = PayloadTooLarge(f"body exceeds {max_bytes} bytes", field="body")
    text = request.body
    if request.is_base64_encoded:
        # Base64 grows data by 4/3: refuse an oversized body before spending time decoding it.
        if len(text) > (max_bytes + 2) // 3 * 4 + 4:
            raise too_large
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidPayload("body is not valid base64", field="body") from None
    else:
        if len(text) > max_bytes:  # a character is at least one byte
            raise too_large
        data = text.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise too_large
    return data
