"""One exception hierarchy for the domain, mapped to HTTP status codes in one place."""

from __future__ import annotations

from http import HTTPStatus


class SyncGuardError(Exception):
    """Base class for every error the guard raises on purpose."""

    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_body(self) -> dict[str, str]:
        """The JSON document a client sees: never a stack trace, never a secret."""
        body = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class ClientError(SyncGuardError):
    """The caller's mistake: always a 4xx."""

    status = HTTPStatus.BAD_REQUEST
    code = "bad_request"


class InvalidPayload(ClientError):
    status = HTTPStatus.BAD_REQUEST
    code = "invalid_payload"


class Unauthorised(ClientError):
    status = HTTPStatus.UNAUTHORIZED
    code = "unauthorised"


class Forbidden(ClientError):
    status = HTTPStatus.FORBIDDEN
    code = "forbidden"


class NotFound(ClientError):
    status = HTTPStatus.NOT_FOUND
    code = "not_found"


class MethodNotAllowed(ClientError):
    status = HTTPStatus.METHOD_NOT_ALLOWED
    code = "method_not_allowed"


class Conflict(ClientError):
    status = HTTPStatus.CONFLICT
    code = "conflict"


class PayloadTooLarge(ClientError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


class UnsupportedMediaType(ClientError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_media_type"


class ConcurrentUpdate(SyncGuardError):
    """A conditional write lost a race or met a newer version; callers decide what that means."""

    status = HTTPStatus.CONFLICT
    code = "concurrent_update"


class ConfigurationError(SyncGuardError):
    code = "configuration_error"


class UpstreamError(SyncGuardError):
    """A dependency (Zoho, AWS) failed; retryable unless a subclass says otherwise."""

    status = HTTPStatus.BAD_GATEWAY
    code = "upstream_error"
    retryable: bool = True


class Throttled(UpstreamError):
    """A dependency asked for fewer requests (DynamoDB throughput on a hot item or partition): try again
    later, after a wait; never at once."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "throttled"


def http_status_for(error: BaseException) -> int:
    """The one place where exceptions become HTTP status codes."""
    if isinstance(error, SyncGuardError):
        return int(error.status)
    return int(HTTPStatus.INTERNAL_SERVER_ERROR)
