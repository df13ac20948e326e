"""Domain models shared by every part of the guard (wire payloads live in ``sync_guard.zoho``)."""

from sync_guard.models.events import GuardEvent, Operation
from sync_guard.models.records import Module, PartyRecord, RecordKind, System

__all__ = ["GuardEvent", "Module", "Operation", "PartyRecord", "RecordKind", "System"]
