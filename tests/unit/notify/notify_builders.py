"""Builders shared by the notification tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sync_guard.config import DataCentre, Mode
from sync_guard.models.records import System
from sync_guard.notify import Decision, FinanceNotice, NoticeRecord, Role, Severity, ZohoLinks

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CRM_ORG = "20071234567"
BOOKS_ORG = "20081234567"


def eu_links() -> ZohoLinks:
    return ZohoLinks(data_centre=DataCentre.EU, crm_org_id=CRM_ORG, books_organization_id=BOOKS_ORG)


def books(record_id: str = "460000000000001", name: str = "Acme Ltd", **kwargs: Any) -> NoticeRecord:
    return NoticeRecord.model_validate(
        {"system": System.BOOKS, "record_id": record_id, "display_name": name, "currency": "GBP"} | kwargs
    )


def crm(record_id: str = "5725767000000000001", name: str = "Acme Ltd", **kwargs: Any) -> NoticeRecord:
    return NoticeRecord.model_validate(
        {"system": System.CRM, "record_id": record_id, "display_name": name} | kwargs
    )


def notice(
    rule: str = "NAME_DRIFT",
    *,
    severity: Severity = Severity.WARNING,
    decision: Decision = Decision.QUARANTINE,
    mode: Mode = Mode.ENFORCE,
    records: tuple[NoticeRecord, ...] | None = None,
    minute: int = 0,
    **kwargs: Any,
) -> FinanceNotice:
    if records is None:
        records = (
            books("460000000000002", "Acme Limited", role=Role.NEW_COPY, has_transactions=False, held=True),
            books(
                "460000000000001",
                "Acme Ltd",
                role=Role.EXISTING,
                has_transactions=True,
                outstanding=Decimal("1250.5"),
            ),
        )
    return FinanceNotice.model_validate(
        {
            "rule": rule,
            "severity": severity,
            "decision": decision,
            "mode": mode,
            "records": records,
            "event_id": f"evt_{rule.lower()}_{minute}",
            "audit_ref": f"audit#{rule}#{minute}",
            "occurred_at": T0 + timedelta(minutes=minute),
        }
        | kwargs
    )


def pair(n: int, rule: str = "NAME_DRIFT", **kwargs: Any) -> FinanceNotice:
    """The n-th distinct notice of a batch (distinct records, so distinct keys)."""
    records = (
        books(
            f"4600000000{n:05d}",
            f"Customer {n} Limited",
            role=Role.NEW_COPY,
            has_transactions=False,
            held=True,
        ),
        books(f"4610000000{n:05d}", f"Customer {n} Ltd", role=Role.EXISTING, has_transactions=True),
    )
    return notice(rule, records=records, minute=n, **kwargs)
