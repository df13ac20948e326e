"""The admin API's request and response shapes (pydantic), and who is calling.

The API is IAM-authorised (``AWS_IAM`` on the HTTP API): API Gateway only lets SigV4-signed requests of
principals allowed ``execute-api:Invoke`` through, and puts the caller's ARN in the request context. That ARN
is the actor of the audit entry. Locally (no API Gateway) the caller names itself in ``X-Sync-Guard-Actor``
and is recorded as ``local:<name>``; on AWS that header is ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import PydanticCustomError

from sync_guard.admin.model import (
    Hold,
    OperationResult,
    end_of_day,
    parse_decision,
    parse_ref,
    parse_rule,
)
from sync_guard.errors import Forbidden, UnsupportedMediaType, invalid_payload
from sync_guard.guard.model import RecordState
from sync_guard.ingest.body import is_json_media_type, parse_content_type
from sync_guard.store.audit import AuditPage, AuditQuery

LOCAL_ACTOR_HEADER = "x-sync-guard-actor"
T = TypeVar("T", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HoldRequest(_Body):
    record: str = Field(min_length=3, max_length=80)
    reason: str = Field(default="", max_length=500)
    related: list[str] = Field(default_factory=list, max_length=20)
    # Accounts or Contacts, for a CRM record the guard has no state for (checked by the service).
    module: str = Field(default="", max_length=20)


class ReleaseRequest(_Body):
    hold_id: str = Field(min_length=3, max_length=80)
    reason: str = Field(default="", max_length=500)


class ApplyRequest(ReleaseRequest):
    """Write an observe-mode hold to Zoho: the hold and why, as for a release."""


class ForgetReleaseRequest(_Body):
    record: str = Field(min_length=3, max_length=80)
    against: str = Field(min_length=3, max_length=80)
    reason: str = Field(default="", max_length=500)


class ConfirmRequest(_Body):
    hold_id: str = Field(min_length=3, max_length=80)
    survivor: str = Field(min_length=3, max_length=80)
    reason: str = Field(default="", max_length=500)


class LinkRequest(_Body):
    crm: str = Field(min_length=1, max_length=80)
    books: str = Field(min_length=1, max_length=80)
    reason: str = Field(default="", max_length=500)


class BreakerResetRequest(_Body):
    reason: str = Field(default="", max_length=500)


class AuditParams(_Body):
    record: str | None = None
    rule: str | None = None
    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None

    @field_validator("record", "rule", "decision", "cursor")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        """An empty (or blank) term is refused: leaving the parameter out is what means no filter."""
        if value is not None and not value:
            raise ValueError("empty: give a value, or leave the parameter out")
        return value

    @field_validator("since", "until", mode="wrap")
    @classmethod
    def _a_date_or_time(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """What a caller gets wrong here (``7d``, which the CLI takes, or ``yesterday``) is told in words
        that say what to send, not pydantic's "input is too short"."""
        try:
            return handler(value)
        except ValidationError as error:
            raise PydanticCustomError(
                "date_or_time",
                "an ISO date or time, such as 2026-11-01 or 2026-11-01T10:00:00Z (not a duration like 7d)",
            ) from error

    @field_validator("until", mode="before")
    @classmethod
    def _whole_day(cls, value: Any) -> Any:
        """``until=2026-03-01`` includes that day, as the CLI's ``--until`` does."""
        return (isinstance(value, str) and end_of_day(value)) or value

    def query(self) -> AuditQuery:
        """The query, its terms spelt as the trail stores them (a mistyped one is a 400, not no entries)."""
        return AuditQuery(
            record=parse_ref(self.record) if self.record else None,
            rule=parse_rule(self.rule) if self.rule else None,
            decision=parse_decision(self.decision) if self.decision else None,
            since=self.since,
            until=self.until,
        )


def parse_body(model: type[T], body: Any) -> T:
    """Validate a JSON body; the first error becomes a 400 naming its field."""
    try:
        return model.model_validate(body if body is not None else {})
    except ValidationError as error:
        raise invalid_payload(error) from error


def check_json_content_type(header: str | None) -> None:
    """A body sent as anything but JSON (``text/plain``, a form) is a 415 naming ``Content-Type``.

    A body without a Content-Type is read as JSON, not refused: a SigV4 client given its own headers
    (``awscurl -H ...``) or a hand-made request may leave it out, and what the body holds is checked anyway
    (a 400 naming ``body`` if it is not JSON). ``application/json`` may carry parameters (``charset``), and
    ``application/<something>+json`` is JSON too.
    """
    try:
        content_type = parse_content_type(header)
        is_json = content_type is None or is_json_media_type(content_type.media_type)
    except UnsupportedMediaType:  # control characters in the header
        is_json = False
    if not is_json:
        raise UnsupportedMediaType("Content-Type must be application/json", field="Content-Type")


#: What a 403 names: the caller's identity (the request context's IAM identity, or its absence).
CALLER_FIELD = "caller"


def _iam_identity(event: dict[str, Any]) -> str | None:
    """The caller's ARN (else its caller id) from ``requestContext.authorizer.iam``; None when the request
    carries none, or one of another shape (text where a mapping belongs, an empty or non-text ARN)."""
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, dict) else None
    iam = authorizer.get("iam") if isinstance(authorizer, dict) else None
    if not isinstance(iam, dict):
        return None
    for key in ("userArn", "callerId"):
        value = iam.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def caller_actor(event: dict[str, Any], *, local: bool) -> str:
    """The IAM caller's ARN from the request context; locally, the name the caller gives.

    Without one, a 403 naming ``caller``: it says what was missing, never what the request did carry (an
    access key id is in the same context)."""
    arn = _iam_identity(event)
    if arn:
        return arn
    if local:
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        return f"local:{headers.get(LOCAL_ACTOR_HEADER) or 'admin'}"[:200]
    # API Gateway with AWS_IAM never forwards an unsigned request; no identity means a misconfiguration.
    raise Forbidden(
        "no IAM identity on the request (requestContext.authorizer.iam has no caller ARN): the admin API "
        "takes SigV4-signed requests of a principal allowed execute-api:Invoke only",
        field=CALLER_FIELD,
    )


def hold_json(hold: Hold) -> dict[str, Any]:
    return hold.model_dump(mode="json")


def record_status(state: RecordState) -> str:
    """What the guard takes the record for: ``live``, ``deleted`` (in Zoho), or ``retired`` (a Books
    customer edited into a vendor: out of matching, still in Zoho; ``deleted`` is true for it too, as it
    was before this field, since neither is matched nor linked)."""
    if state.retired:
        return "retired"
    return "deleted" if state.deleted else "live"


def record_json(state: RecordState) -> dict[str, Any]:
    """One record as an admin looks at it (not its stored shape): pair, hold, what it was judged against."""
    retired_at = state.retired_at
    return {
        "ref": state.ref,
        "name": state.record.name,
        "module": state.record.module.value,
        "deleted": state.deleted,
        "status": record_status(state),
        "retired_at": retired_at.isoformat() if retired_at else None,
        "partner": state.partner,
        "pair_source": state.pair_source.value if state.pair_source else None,
        "former_partner": state.former_partner,
        "held_by": state.held_by,
        "cleared": sorted(state.cleared),
    }


def result_json(result: OperationResult) -> dict[str, Any]:
    entry = result.entry
    return {
        "operation": result.operation,
        "entry_id": entry.entry_id,
        "actor": entry.actor,
        "at": entry.at.isoformat(),
        "records": list(entry.records),
        "note": entry.note,
        "queued_actions": list(result.queued_actions),
        "detail": result.detail,
    }


def audit_json(page: AuditPage) -> dict[str, Any]:
    return {
        "entries": [entry.model_dump(mode="json") for entry in page.entries],
        "cursor": page.cursor,
    }
