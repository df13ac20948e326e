"""EMAIL_MISMATCH against a Books business customer's contact persons, through the webhook and processor
handlers on the real DynamoDB-API server: the shadow keeps the contact persons Books sends, and a CRM
contact of the paired account that has a contact person's name but not its email is held back."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from sync_guard.config import get_settings
from sync_guard.guard.model import ActionKind, AuditEntry, Decision
from sync_guard.redact import mask_email
from sync_guard.store.audit import AuditLog
from sync_guard.store.shadow import read_state
from tests.support.aws import AwsResources
from tests.support.handlers import TEST_SECRET, FakeLambdaContext, fresh_module, http_event, sqs_event

pytestmark = pytest.mark.integration

ACCOUNT, CUSTOMER, CONTACT = "5725767000003000720", "460000000026720", "5725767000003000721"
PERSON_ID = "460000000026799"


@pytest.fixture
def apps(aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", TEST_SECRET)
    monkeypatch.setenv("SYNC_GUARD_MODE", "enforce")
    monkeypatch.setenv("SYNC_GUARD_RULE_POLICY", '{"EMAIL_MISMATCH": "quarantine"}')
    return fresh_module("functions.ingest.app"), fresh_module("functions.processor.app")


def deliver(
    aws: AwsResources,
    apps: tuple[ModuleType, ModuleType],
    path: str,
    body: dict[str, Any],
    books_event: str = "create",
) -> str:
    """One webhook through the ingest handler, then its queued message through the processor."""
    ingest, processor = apps
    query = {"event": books_event} if path == "/webhooks/books" else None
    headers = {"content-type": "application/json", "x-sync-guard-token": TEST_SECRET}
    response = ingest.lambda_handler(
        http_event(path, json.dumps(body), headers=headers, query=query), FakeLambdaContext()
    )
    assert response["statusCode"] == 202, response
    [event_id] = json.loads(response["body"])["event_ids"]
    messages = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert processor.lambda_handler(sqs_event(messages), FakeLambdaContext()) == {"batchItemFailures": []}
    for message in messages:
        aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return event_id


def hale_joinery(aws: AwsResources, apps: tuple[ModuleType, ModuleType], sams_email: str) -> dict[str, Any]:
    """The CRM account and the Books business customer Zoho links to it (holding transactions), with Sam
    Okafor as a contact person at ``sams_email``; the customer's payload, for an edit to change."""
    hale_joinery_in_crm(aws, apps)
    contact = hale_joinery_in_books(sams_email)
    deliver(aws, apps, "/webhooks/books", {"contact": contact})
    return contact


def hale_joinery_in_crm(aws: AwsResources, apps: tuple[ModuleType, ModuleType]) -> None:
    account = {"event": "create", "module": "Accounts", "id": ACCOUNT, "name": "Hale Joinery Ltd"}
    deliver(aws, apps, "/webhooks/crm", account | {"modified": "2026-03-02T09:00:00+00:00"})


def hale_joinery_in_books(sams_email: str) -> dict[str, Any]:
    """The Books business customer linked to the account, with Sam Okafor at ``sams_email`` (its payload)."""
    return {
        "contact_id": CUSTOMER,
        "contact_name": "Hale Joinery Ltd",
        "contact_type": "customer",
        "customer_sub_type": "business",
        "email": "accounts@hale-joinery.co.uk",
        "zcrm_account_id": ACCOUNT,
        "has_transaction": True,
        "contact_persons": [sam(sams_email)],
        "created_time": "2024-05-02T09:00:00+0000",
        "last_modified_time": "2026-03-02T09:01:00+0000",
    }


def sam(email: str) -> dict[str, Any]:
    return {"contact_person_id": PERSON_ID, "first_name": "Sam", "last_name": "Okafor", "email": email}


def sam_in_crm(aws: AwsResources, apps: tuple[ModuleType, ModuleType], email: str) -> str:
    """Sam Okafor created in CRM under the account, with ``email``."""
    body = {
        "event": "create",
        "module": "Contacts",
        "id": CONTACT,
        "first_name": "Sam",
        "last_name": "Okafor",
    }
    body |= {"email": email, "account_id": ACCOUNT, "modified": "2026-03-02T09:05:00+00:00"}
    return deliver(aws, apps, "/webhooks/crm", body)


def held_back(entry: AuditEntry) -> list[str]:
    kinds = {ActionKind.TAG_CRM_RECORD, ActionKind.MARK_BOOKS_INACTIVE}
    return [action.target for action in entry.actions if action.kind in kinds]


def test_a_crm_contact_apart_from_its_namesake_contact_person_is_held(
    aws_server: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    # given a CRM account and its Books business customer, with Sam Okafor as a contact person at his
    # work address: the shadow on the server keeps the contact person
    hale_joinery(aws_server, apps, "sam@hale-joinery.co.uk")
    settings = get_settings()
    stored = read_state(aws_server.dynamodb, settings.shadow_table, f"books:{CUSTOMER}")
    assert stored is not None
    assert [(p.person_id, p.name) for p in stored.record.contact_persons] == [(PERSON_ID, "Sam Okafor")]

    # when Sam Okafor is created in CRM under the account with a private address
    event_id = sam_in_crm(aws_server, apps, "sam.okafor@gmail.com")

    # then the audit trail on the server has the mismatch, naming the contact person and both addresses
    # masked, and the CRM contact alone is held back from the sync (the invoiced customer is not)
    entry = AuditLog.from_settings(settings).get(event_id)
    assert entry is not None
    assert entry.rules == ("EMAIL_MISMATCH",)
    assert entry.decision is Decision.QUARANTINE
    [finding] = entry.findings
    assert finding.subject == f"crm:{CONTACT}"
    assert (
        f"its account crm:{ACCOUNT} is paired with books:{CUSTOMER}, whose contact person 'Sam Okafor' "
        f"({PERSON_ID}) has {mask_email('sam@hale-joinery.co.uk')}"
    ) in finding.evidence
    assert f"crm:{CONTACT} email: {mask_email('sam.okafor@gmail.com')}" in finding.evidence
    assert held_back(entry) == [f"crm:{CONTACT}"]
    held = read_state(aws_server.dynamodb, settings.shadow_table, f"crm:{CONTACT}")
    assert held is not None
    assert held.held_by == event_id


def test_a_contact_person_edited_away_from_its_crm_contact_holds_the_crm_contact(
    aws_server: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    # given the account, its Books business customer and Sam Okafor on both sides at one private address
    contact = hale_joinery(aws_server, apps, "sam.okafor@gmail.com")
    sam_in_crm(aws_server, apps, "sam.okafor@gmail.com")

    # when the bookkeeper changes the contact person's email to his work address
    contact |= {
        "contact_persons": [sam("sam@hale-joinery.co.uk")],
        "last_modified_time": "2026-03-02T09:10:00+0000",
    }
    event_id = deliver(aws_server, apps, "/webhooks/books", {"contact": contact}, books_event="edit")

    # then the CRM contact, found on the server under the address dropped, is held back from the sync
    entry = AuditLog.from_settings(get_settings()).get(event_id)
    assert entry is not None
    assert entry.rules == ("EMAIL_MISMATCH",)
    assert (
        f"the CRM contact crm:{CONTACT} has {mask_email('sam.okafor@gmail.com')}"
        in entry.findings[0].evidence
    )
    assert held_back(entry) == [f"crm:{CONTACT}"]


def test_a_customer_linked_to_an_account_whose_contact_came_first_with_another_address_holds_the_contact(
    aws_server: AwsResources, apps: tuple[ModuleType, ModuleType]
) -> None:
    # given the CRM account, not in Books yet, and Sam Okafor created under it with a private address
    hale_joinery_in_crm(aws_server, apps)
    settings = get_settings()
    first = AuditLog.from_settings(settings).get(sam_in_crm(aws_server, apps, "sam.okafor@gmail.com"))
    assert first is not None
    assert first.rules == ()

    # when the account's Books customer arrives linked to it, Sam its contact person at his work address
    body = {"contact": hale_joinery_in_books("sam@hale-joinery.co.uk")}
    entry = AuditLog.from_settings(settings).get(deliver(aws_server, apps, "/webhooks/books", body))

    # then the CRM contact, found on the server under the contact person's name, is held back from the sync
    assert entry is not None
    assert entry.rules == ("EMAIL_MISMATCH",)
    assert (
        f"the CRM contact crm:{CONTACT} of crm:{ACCOUNT} has {mask_email('sam.okafor@gmail.com')}"
        in entry.findings[0].evidence
    )
    assert held_back(entry) == [f"crm:{CONTACT}"]
