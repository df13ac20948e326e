"""Who may post webhooks: the shared token, the Notification API's echoed token, an optional Books HMAC.

Every comparison is constant-time (``hmac.compare_digest`` over bytes) so that response timing does not
leak how much of a guess was right. Failures say what was wrong in general terms only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Protocol

from sync_guard.config import BooksSignatureScheme, Settings
from sync_guard.errors import ClientError, Unauthorised

TOKEN_HEADER = "x-sync-guard-token"  # noqa: S105 - a header name, not a secret
TOKEN_QUERY_PARAMETER = "token"  # noqa: S105 - a parameter name
#: The header as a refusal names it (the field of the error document).
TOKEN_FIELD = "X-Sync-Guard-Token"  # noqa: S105 - a header name


def tokens_match(presented: object, secret: str) -> bool:
    """Constant-time comparison of a presented token with the secret (non-text never matches)."""
    if not isinstance(presented, str) or not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "replace"), secret.encode("utf-8"))


def presented_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token from the ``X-Sync-Guard-Token`` header, else the ``token`` query parameter."""
    return headers.get(TOKEN_HEADER) or query.get(TOKEN_QUERY_PARAMETER) or None


def token_field(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """Where ``presented_token`` found the token, for a refusal to name: the header, or the URL's ``token``
    when only the URL has one; the header when neither has (the way the README asks for first)."""
    if not headers.get(TOKEN_HEADER) and query.get(TOKEN_QUERY_PARAMETER):
        return TOKEN_QUERY_PARAMETER
    return TOKEN_FIELD


def refuse_repeated_url_token(headers: Mapping[str, str], url_tokens: Sequence[str]) -> None:
    """Raise a 400 naming ``token`` when the URL gives ``token`` more than once (``url_tokens``: every value,
    ``WebhookRequest.query_values``) and the URL's token is the one read (no ``X-Sync-Guard-Token`` header).

    A URL pieced together twice is malformed input, not a wrong credential: a 401 would send its owner
    looking for a wrong secret. The answer turns on the request's shape alone, never on the secret: it comes
    before any comparison, is the same whether one of the values, both or neither is the token, and quotes
    none of them; so it tells a caller nothing a 401 would not (only that their URL repeats ``token``, which
    they wrote)."""
    if headers.get(TOKEN_HEADER) or len(url_tokens) < 2:
        return
    raise ClientError(
        f"the webhook URL gives token more than once ({len(url_tokens)} times): not accepted. Keep one "
        "token in the URL, or send it in the X-Sync-Guard-Token header",
        field=TOKEN_QUERY_PARAMETER,
    )


def require_token(presented: object, secret: str, *, field: str = TOKEN_FIELD) -> None:
    """Raise ``Unauthorised``, naming ``field``, unless ``presented`` is the secret."""
    if not tokens_match(presented, secret):
        raise Unauthorised("missing or wrong webhook token", field=field)


class SignatureVerifier(Protocol):
    """Checks a Books webhook's signature over the exact bytes received."""

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Return if the signature is valid, else raise ``Unauthorised``."""
        ...


class NoSignature:
    """The default: Books requests are authenticated by the shared token alone."""

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Accept every request (the token was already checked)."""
        return


class HmacSha256Signature:
    """``<header>: t=<timestamp>,v=<hex HMAC-SHA256(secret, "<t>." + body)>`` (the Zoho Payments style).

    Zoho does not document the Books webhook signature; this is the scheme Zoho uses for Payments webhooks,
    which is the best public evidence. The header name is configurable; several ``v=`` values (secret
    rotation) are accepted if any one matches.
    """

    def __init__(self, secret: str, header: str = "X-Zoho-Webhook-Signature") -> None:
        if not secret:
            raise ValueError("an HMAC signature scheme needs a secret")
        self._secret = secret.encode("utf-8")
        self._field = header  # as configured, for a refusal to name
        self._header = header.lower()

    def sign(self, timestamp: str, body: bytes) -> str:
        """The header value a sender would compute (tests and the local simulator use it)."""
        digest = hmac.new(self._secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return f"t={timestamp},v={digest}"

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise ``Unauthorised`` unless one ``v=`` is the HMAC of ``t.body``."""
        header = headers.get(self._header)
        if not header:
            raise Unauthorised("missing webhook signature", field=self._field)
        timestamp: str | None = None
        candidates: list[str] = []
        for part in header.split(","):
            name, _, value = part.strip().partition("=")
            if name == "t":
                timestamp = value
            elif name == "v":
                candidates.append(value)
        if timestamp is None or not candidates:
            raise Unauthorised("malformed webhook signature", field=self._field)
        expected = self.sign(timestamp, body).rpartition("v=")[2].encode()
        # Check every candidate so that timing does not depend on which one matched.
        matched = False
        for candidate in candidates:
            matched |= hmac.compare_digest(candidate.encode("utf-8", "replace"), expected)
        if not matched:
            raise Unauthorised("wrong webhook signature", field=self._field)


def books_signature_verifier(settings: Settings, webhook_secret: str) -> SignatureVerifier:
    """The verifier ``books_signature_scheme`` selects; the HMAC key defaults to the webhook secret."""
    if settings.books_signature_scheme is BooksSignatureScheme.HMAC_SHA256:
        configured = settings.books_signature_secret
        secret = configured.get_secret_value() if configured is not None else webhook_secret
        return HmacSha256Signature(secret, settings.books_signature_header)
    return NoSignature()
