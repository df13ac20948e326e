"""Nothing the Zoho clients log carries a token, a client secret or a customer's email in clear."""

from __future__ import annotations

import logging

import pytest

from sync_guard.local.zoho_simulator import FaultKind, Source, ZohoSimulator
from sync_guard.zoho.factory import ZohoClients


def test_logs_hold_no_secrets_or_emails(
    sim: ZohoSimulator, zoho: ZohoClients, caplog: pytest.LogCaptureFixture
) -> None:
    email = "jane.doe@acme.example"
    sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd", "Email": email}, source=Source.ADMIN)
    sim.state.books_create_contact({"contact_name": "Acme Ltd", "email": email}, source=Source.ADMIN)
    sim.faults.script([FaultKind.SERVER_ERROR, FaultKind.RATE_LIMIT])

    with caplog.at_level(logging.DEBUG):
        zoho.crm.search("Accounts", email=email)
        zoho.books.find_contacts(email=email)

    token = zoho.auth.token().access_token
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "zoho retry" in logged  # the retries were logged...
    # ...without what must stay private (the email's local part catches URL-encoded forms too).
    for secret in (token, sim.client_secret, sim.refresh_token, "jane.doe"):
        assert secret not in logged
