"""Admin operations owned by the decision engine; each one is audited with its actor.

Only the storm breaker's reset lives here; the quarantine operations (release, confirm, link by hand) are
the next issue's and follow the same shape: one transaction that changes state and appends the entry.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Protocol

from sync_guard.config import Mode
from sync_guard.guard.model import AuditEntry, Decision, EntryKind


class BreakerAdmin(Protocol):
    def reset_breaker(self, entry: AuditEntry) -> None:
        """Close the open breaker and append ``entry`` in one transaction (``ConcurrentUpdate`` if closed)."""
        ...


#: How the id of every admin operation's audit entry begins (``admin_entry_id``): a hold made by hand, or by
#: ``preflight``, is listed under such an entry.
ADMIN_ENTRY_PREFIX = "adm_"


def admin_entry_id(operation: str, actor: str, at: datetime) -> str:
    digest = hashlib.sha256(f"{operation}|{actor}|{at.isoformat()}".encode()).hexdigest()[:24]
    return f"{ADMIN_ENTRY_PREFIX}{digest}"


def admin_entry(
    operation: str,
    *,
    actor: str,
    at: datetime,
    mode: Mode,
    note: str,
    entry_id: str | None = None,
    **fields: Any,
) -> AuditEntry:
    """The audit entry of an admin operation (by default, keyed by operation, actor and time).

    ``fields`` are the entry's other fields where the operation has them (``records``, ``rules``,
    ``actions``, ``names``).
    """
    return AuditEntry(
        entry_id=entry_id or admin_entry_id(operation, actor, at),
        at=at,
        kind=EntryKind.ADMIN,
        decision=Decision.ADMIN,
        mode=mode,
        actor=actor,
        operation=operation,
        note=note,
        **fields,
    )


def reset_storm_breaker(
    repository: BreakerAdmin, *, actor: str, reason: str, mode: Mode, now: datetime
) -> AuditEntry:
    """Close the multiplication-storm breaker; new creates are decided normally again."""
    if not actor.strip():
        raise ValueError("an admin operation needs an actor")
    entry = admin_entry(
        "reset_storm_breaker", actor=actor, at=now, mode=mode, note=reason, rules=("MULTIPLICATION_STORM",)
    )
    repository.reset_breaker(entry)
    return entry
