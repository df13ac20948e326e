"""Admin operations (quarantines, manual links, storm breaker, audit), for the CLI and the admin API."""

from sync_guard.admin.model import Hold, HoldStatus, OperationResult, parse_ref
from sync_guard.admin.service import AdminService

__all__ = ["AdminService", "Hold", "HoldStatus", "OperationResult", "parse_ref"]
