"""Typed errors for Zoho calls, all ``UpstreamError``s so the handlers map them to 502/503 in one place.

``retryable`` says whether trying the same call again later can succeed: rate limits, server errors and
timeouts can; a rejected payload, a missing record or revoked credentials cannot. Zoho's own codes keep
their own attribute names (``zoho_code``, ``http_status``) so they never clobber the domain's ``code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from sync_guard.errors import UpstreamError
from sync_guard.redact import mask_emails_in

# Books error code for "a customer with this display name already exists" (create and update).
BOOKS_DISPLAY_NAME_TAKEN = 3062
# Books error code for "the resource does not exist" (contact, invoice...).
BOOKS_NOT_FOUND = 1002
# Books error codes for "too many requests" (per minute, per day). Zoho documents HTTP 429 only; these codes
# are what integrators report in the body, sometimes with HTTP 400 (unconfirmed: zoho-facts), so either
# reading is a rate limit: retried, then the outbox's DLQ, never a failure for good.
BOOKS_RATE_LIMIT_CODES = frozenset({44, 45})
# CRM per-record codes inside a write's ``data[]`` (HTTP 200/207) that say CRM failed, not the record:
# worth another attempt, as a 5xx is.
CRM_TRANSIENT_RECORD_CODES = frozenset({"INTERNAL_ERROR"})


class ZohoError(UpstreamError):
    """A call to Zoho failed."""

    code = "zoho_error"
    retryable = True
    #: Set once a :class:`~sync_guard.zoho.http.RetryPolicy` gave up on it: the call was tried as hard as one
    #: call may be, and a call around it (an API call whose token had to be minted) does not try it again.
    retries_spent = False


class ZohoTimeout(ZohoError):
    """No answer in time (connect, read or pool). The call may or may not have taken effect."""

    status = HTTPStatus.GATEWAY_TIMEOUT
    code = "zoho_timeout"
    retryable = True


class ZohoUnavailable(ZohoError):
    """The connection failed before the request was sent (DNS, refused): nothing took effect."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "zoho_unavailable"
    retryable = True


class ZohoRateLimited(ZohoError):
    """HTTP 429 (or the OAuth server's equivalent); ``retry_after`` in seconds when Zoho said."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "zoho_rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ZohoTokenRateLimited(ZohoRateLimited):
    """The accounts server refused to mint another access token (10 per refresh token per 10 minutes).

    Retrying at once makes it worse, so the HTTP layer never retries it; a later attempt (the outbox, the
    queue's redelivery) can succeed once the window has moved on.
    """

    code = "zoho_token_rate_limited"


class ZohoServerError(ZohoError):
    """HTTP 5xx from Zoho."""

    code = "zoho_server_error"
    retryable = True

    def __init__(self, message: str, *, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


class ZohoAuthError(ZohoError):
    """Credentials rejected: bad client id/secret, revoked refresh token, a token Zoho will not accept."""

    status = HTTPStatus.BAD_GATEWAY
    code = "zoho_auth_error"
    retryable = False


class ZohoCredentialsRefused(ZohoAuthError):
    """The accounts server refused to mint a token for the credentials (``invalid_client``,
    ``invalid_code``...): it minted nothing, so the request does not count against its limit."""

    code = "zoho_credentials_refused"


class ZohoTokenRejected(ZohoAuthError):
    """The API refused the access token itself (expired early, revoked): a new token may help, once."""

    code = "zoho_token_rejected"


class ZohoPermissionDenied(ZohoAuthError):
    """Zoho refused a call with a token that is valid (just minted, or accepted by the other API): a scope
    the refresh token was not granted, or a permission the Zoho user lacks. A new token would not help."""

    code = "zoho_permission_denied"


class ZohoListingIncomplete(ZohoError):
    """A listing reached its page cap with records still to come: the caller must not act on part of it."""

    status = HTTPStatus.BAD_GATEWAY
    code = "zoho_listing_incomplete"
    retryable = False

    def __init__(self, what: str, *, pages: int, records: int) -> None:
        super().__init__(
            f"{what}: stopped after {pages} pages ({records} records) with more to come; "
            "narrow the query or raise max_pages"
        )
        self.pages = pages
        self.records = records


class ZohoApiError(ZohoError):
    """Zoho understood the request and refused it (4xx other than 429): retrying the same call won't help."""

    code = "zoho_api_error"
    retryable = False

    def __init__(self, message: str, *, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


class BooksApiError(ZohoApiError):
    """Books' envelope ``{"code": <int>, "message": "..."}`` with a non-zero code."""

    code = "books_api_error"

    def __init__(self, zoho_code: int, message: str, *, http_status: int = 400) -> None:
        message = mask_emails_in(message)  # error texts end up in logs and the audit trail
        super().__init__(f"Books error {zoho_code}: {message}", http_status=http_status)
        self.zoho_code = zoho_code
        self.zoho_message = message


class DisplayNameTaken(BooksApiError):
    """Books error 3062: the customer's display name is already used in the organisation."""

    code = "books_display_name_taken"


class CrmApiError(ZohoApiError):
    """CRM's envelope ``{"status":"error","code":"...","message":"...","details":{...}}``.

    Per-record failures come inside ``data[]`` with the same fields; both end here.
    """

    code = "crm_api_error"

    def __init__(
        self,
        http_status: int,
        zoho_code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        message = mask_emails_in(message)  # error texts end up in logs and the audit trail
        super().__init__(f"CRM error {zoho_code}: {message}", http_status=http_status)
        self.zoho_code = zoho_code
        self.zoho_message = message
        self.details: dict[str, Any] = dict(details or {})


def books_error(zoho_code: int, message: str, *, http_status: int) -> BooksApiError:
    """The typed error for a Books envelope; 3062 gets its own class because callers act on it."""
    if zoho_code == BOOKS_DISPLAY_NAME_TAKEN:
        return DisplayNameTaken(zoho_code, message, http_status=http_status)
    return BooksApiError(zoho_code, message, http_status=http_status)
