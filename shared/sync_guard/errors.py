"""One exception hierarchy for the domain, mapped to HTTP status codes in one place."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class SyncGuardError(Exception):
    """Base class for every error the guard raises on purpose."""

    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def naming(self, names: Mapping[str, str]) -> str:
        """The message with its field called what ``names`` calls it (the CLI's ``--survivor`` for the admin
        API's ``survivor``). A message about a field begins with the field's name: only that word changes."""
        said = names.get(self.field or "")
        if said and self.message.startswith(f"{self.field} "):
            return said + self.message[len(self.field or "") :]
        return self.message

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


#: What pydantic puts before the words of a validator that raised ``ValueError``.
_VALUE_ERROR_PREFIX = "Value error, "


def validation_detail(error: ValidationError) -> str:
    """The first error of a pydantic validation in its validator's own words, without pydantic's "Value
    error, " before them: ours (a webhook's blank id), and typer's (which checks a CLI value with pydantic:
    "'x' is not one of 'observe', 'enforce'.")."""
    errors = error.errors()
    message = str(errors[0]["msg"]) if errors else str(error)
    return message.removeprefix(_VALUE_ERROR_PREFIX)


def invalid_payload(error: ValidationError, prefix: str = "") -> InvalidPayload:
    """A 400 naming the first failing field by its dotted path (``contact.contact_id``, ``ids.2``; under
    ``prefix``, else ``body``) and saying what is wrong with it in ``validation_detail``'s words."""
    errors = error.errors()
    path = ".".join(str(part) for part in errors[0]["loc"]) if errors else ""
    field = ".".join(part for part in (prefix, path) if part) or prefix or "body"
    return InvalidPayload(f"{field}: {validation_detail(error)}", field=field)


def http_status_for(error: BaseException) -> int:
    """The one place where exceptions become HTTP status codes."""
    if isinstance(error, SyncGuardError):
        return int(error.status)
    return int(HTTPStatus.INTERNAL_SERVER_ERROR)
