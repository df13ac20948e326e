"""What admins see and ask for: holds (open quarantines) and the results of their operations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from sync_guard.errors import InvalidPayload
from sync_guard.guard.model import AuditEntry, Decision
from sync_guard.models.records import RECORD_ID_RULE, is_record_id


class HoldStatus(StrEnum):
    HELD = "held"  # quarantined, waiting for someone to decide
    CONFIRMED = "confirmed"  # a duplicate, confirmed by an admin: stays held, the survivor is recorded


class Hold(BaseModel):
    """One record the guard holds back from the sync (the shadow's ``HOLD`` item, with the record's name)."""

    model_config = ConfigDict(frozen=True)

    hold_id: str  # the held record's ref: crm:<id> / books:<id>
    entry_id: str  # the decision that held it
    rules: tuple[str, ...] = ()
    at: datetime | None = None
    mode: str = ""
    status: HoldStatus = HoldStatus.HELD
    name: str = ""
    survivor: str | None = None
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None
    # The ``apply`` entry that wrote an observe-mode hold to Zoho (its hold action); None if never applied.
    applied_by: str | None = None

    @property
    def applied_in_zoho(self) -> bool:
        """Held in enforce mode, or applied since: the hold was (meant to be) written to Zoho."""
        return self.mode == "enforce"


class OperationResult(BaseModel):
    """What an admin operation did: its audit entry, and any actions it queued for the executor."""

    model_config = ConfigDict(frozen=True)

    operation: str
    entry: AuditEntry
    queued_actions: tuple[str, ...] = ()
    detail: dict[str, Any] = {}


#: The systems a ref names, as people write them.
_SYSTEMS = {"crm": "CRM", "books": "Books"}

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def end_of_day(text: str) -> datetime | None:
    """The last moment (UTC) of a date written alone, ``2026-03-01``; None for anything else.

    An audit query "until 1 March" includes 1 March, as a person means it, in the CLI and the API alike."""
    text = text.strip()
    if not _DATE_ONLY.fullmatch(text):
        return None
    try:
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None  # 2026-02-30: left to the caller's own parsing, which names the field
    # one day less a microsecond, added at once: 9999-12-31 then ends at the last moment there is
    return day + (timedelta(days=1) - timedelta(microseconds=1))


def parse_ref(value: str, *, default_system: str | None = None, field: str = "record") -> str:
    """``crm:123`` / ``books:456`` (or a bare id with ``default_system``) -> a checked ref.

    The id is a record id as the webhooks take it (``is_record_id``: ASCII letters, digits, ``_`` or ``-``, at
    most 64), so every record the guard stored can be named here; an id no Zoho record has (``crm:١٢٣``, or
    3,000 digits, past a DynamoDB key's size) would otherwise be held, queued and stored, or fail the read."""
    text = value.strip()
    system, sep, record_id = text.partition(":")
    if not sep and default_system:
        system, record_id = default_system, text
    if system not in ("crm", "books") or not is_record_id(record_id):
        # Where a bare id is what the caller gives (link's --crm 123), that is what the message asks for.
        shape = f"<id> or {default_system}:<id>" if default_system else "crm:<id> or books:<id>"
        raise InvalidPayload(f"{field} must look like {shape}, the id {RECORD_ID_RULE}", field=field)
    if default_system and system != default_system:
        raise InvalidPayload(f"{field} must be a {_SYSTEMS[default_system]} record", field=field)
    return f"{system}:{record_id}"


def parse_rule(value: str, *, field: str = "rule") -> str:
    """A rule code as the audit trail records it (``name_drift`` -> ``NAME_DRIFT``); unknown ones are refused.

    A query with a code the trail never holds would answer "nothing" where the caller mistyped.
    """
    from sync_guard.rules.catalogue import BY_CODE

    code = value.strip().upper()
    if code not in BY_CODE:
        raise InvalidPayload(f"unknown rule; codes: {', '.join(sorted(BY_CODE))}", field=field)
    return code


def parse_decision(value: str, *, field: str = "decision") -> str:
    """A decision as the audit trail records it (``Quarantine`` -> ``quarantine``); others are refused."""
    text = value.strip().lower()
    if text not in {d.value for d in Decision}:
        raise InvalidPayload(f"expected one of {', '.join(d.value for d in Decision)}", field=field)
    return text
