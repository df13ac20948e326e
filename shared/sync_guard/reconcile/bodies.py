"""The bodies the scheduled checks feed: each the webhook Zoho would have sent for what a check found."""

from __future__ import annotations

from typing import Any

from sync_guard.models.records import Module
from sync_guard.reconcile.ports import BooksChecksClient, CrmChecksClient
from sync_guard.zoho.crm import DeletedRecord
from sync_guard.zoho.payloads import crm_workflow_body


def crm_module(name: str | None) -> Module | None:
    """The guard's CRM module a webhook failure names (Accounts or Contacts), else None."""
    if name and name.strip().lower() == "accounts":
        return Module.CRM_ACCOUNTS
    if name and name.strip().lower() == "contacts":
        return Module.CRM_CONTACTS
    return None


def replayed_operation(data: dict[str, Any]) -> str:
    """``create`` while the record is as it was created, else ``edit`` (which the engine also checks as a
    possibly new record)."""
    created, modified = data.get("Created_Time"), data.get("Modified_Time")
    return "create" if created and created == modified else "edit"


def webhook_failure_body(
    crm: CrmChecksClient, module: Module, record_id: str, failure_id: str
) -> dict[str, Any] | None:
    """The workflow webhook's body for the record as it is now, marked as the replay of ``failure_id``;
    None when the record is gone."""
    data = crm.get_record_data(module, record_id)
    if data is None:
        return None  # deleted since: the deleted-records check feeds that
    body = crm_workflow_body(module, data, event=replayed_operation(data))
    body["replayed"] = "webhook_failure"
    body["webhook_failure_id"] = failure_id
    return body


def crm_delete_body(module: Module, record: DeletedRecord) -> dict[str, Any]:
    """The workflow webhook's delete body; ``modified`` is the deletion time (after every edit)."""
    body: dict[str, Any] = {"event": "delete", "module": module.value, "id": record.record_id}
    if record.display_name:
        body["name"] = record.display_name
    if record.deleted_at is not None:
        body["modified"] = record.deleted_at.isoformat()
    body["deleted_kind"] = record.kind
    return body


def books_delete_body(books: BooksChecksClient, contact_id: str) -> dict[str, Any] | None:
    """A Books delete webhook carrying only the id, once Books says the contact does not exist; None
    while Books still has it (only missing from the listing: a page shifted as it was read)."""
    if not books.contact_deleted(contact_id):
        return None
    return {"event": "delete", "contact": {"contact_id": contact_id}}


def books_contact_body(books: BooksChecksClient, contact_id: str) -> dict[str, Any] | None:
    """The Books webhook's Default Payload for the contact as it is now; None when it is gone."""
    data = books.get_contact_data(contact_id)
    return {"contact": data} if data is not None else None
