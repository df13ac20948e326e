"""Small in-memory stand-ins shared by the unit tests of the scheduled checks."""

from __future__ import annotations

from dataclasses import dataclass, field

from sync_guard.guard.model import AuditEntry
from sync_guard.notify import NotificationFailed, RenderedMessage


@dataclass
class MemoryAudit:
    """The audit trail: every entry appended, in order."""

    entries: list[AuditEntry] = field(default_factory=list)

    def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class DownNotifier:
    """Finance's topic refusing every message (SNS down)."""

    def publish(self, message: RenderedMessage) -> str:
        raise NotificationFailed("SNS is down")
