"""Seed pattern 1: "Acme Ltd" in CRM never pairs with "Acme Limited" in Books."""

from __future__ import annotations

from sync_guard.config import Mode
from sync_guard.guard.model import ActionKind, Decision
from sync_guard.redact import mask_email
from tests.unit.rules.replay import LONG_AGO, Replay, assert_decided


def test_name_drift_at_initial_sync() -> None:
    replay = Replay(mode=Mode.OBSERVE)
    # given the customer the bookkeeper has invoiced for years
    replay.books("create", "460001", contact_name="Acme Limited", created=LONG_AGO, has_transaction=True)

    # when the CRM account, spelt differently, arrives
    crm = replay.crm("create", "5725001", name="Acme Ltd")

    # then the guard predicts the duplicate before the sync makes it, and would hold the account back
    assert_decided(
        crm, "NAME_DRIFT", Decision.QUARANTINE, "names differ: 'Acme Ltd' vs 'Acme Limited'", "'Limited'"
    )
    assert crm.records[:2] == ("crm:5725001", "books:460001")
    assert {(a.kind, a.execute) for a in crm.actions} == {
        (ActionKind.TAG_CRM_RECORD, False),  # observe: recorded, never sent to Zoho
        (ActionKind.NOTIFY_FINANCE, True),
    }

    # and when the sync (unguarded, in observe mode) creates "Acme Ltd" in Books linked to the account
    dup = replay.books("create", "460002", contact_name="Acme Ltd", zcrm_account_id="5725001")
    assert_decided(dup, "NAME_DRIFT", Decision.QUARANTINE, "names differ: 'Acme Ltd' vs 'Acme Limited'")
    assert next(f for f in dup.findings if f.code == "NAME_DRIFT").subject == "books:460002"
    assert "books:460001" in dup.records
    assert replay.shadow.states["books:460002"].partner == "crm:5725001"


def test_a_customer_in_another_currency_is_intended() -> None:
    # Books keeps one currency per customer: a company billed in dollars too has a second customer.
    replay = Replay()
    replay.crm("create", "5725001", name="Acme Ltd")
    replay.books(
        "create", "460001", contact_name="Acme Ltd", zcrm_account_id="5725001", currency_code="GBP",
        created=LONG_AGO, has_transaction=True,
    )  # fmt: skip
    dollars = replay.books("create", "460002", contact_name="Acme Ltd (USD)", currency_code="USD")
    assert dollars.decision is Decision.ALLOW, dollars.evidence
    # A second customer in the same currency is still drift.
    again = replay.books("create", "460003", contact_name="Acme Limited", currency_code="GBP")
    assert_decided(again, "NAME_DRIFT", Decision.QUARANTINE, "names differ: 'Acme Limited' vs 'Acme Ltd'")


def test_a_trailing_space_is_drift_too() -> None:
    # The seed's "a trailing space": Books holds "Acme Ltd " (years of invoices), CRM "Acme Ltd". The
    # first sync's exact match fails and it creates a second customer, "Acme Ltd", linked to the account.
    replay = Replay()
    replay.books("create", "460010", contact_name="Acme Ltd ", created=LONG_AGO, has_transaction=True)
    # the CRM account reads the same once trimmed: that is an exact pairing as far as the guard can see
    assert replay.crm("create", "5725010", name="Acme Ltd").decision is not Decision.QUARANTINE

    dup = replay.books("create", "460011", contact_name="Acme Ltd", zcrm_account_id="5725010")

    # Books refuses two identical display names, so the two must differ by what the webhook trims
    assert_decided(dup, "NAME_DRIFT", Decision.QUARANTINE, "names differ only by spaces: 'Acme Ltd'")
    assert "books:460010" in dup.records


def test_the_evidence_names_the_addresses_the_matcher_compared_masked() -> None:
    # given the invoiced customer, with its finance address
    replay = Replay()
    replay.books(
        "create",
        "460001",
        contact_name="Acme Limited",
        email="finance@acme.co.uk",
        created=LONG_AGO,
        has_transaction=True,
    )

    # when the CRM account arrives spelt differently, with another address at the same domain
    crm = replay.crm("create", "5725001", name="Acme Ltd", email="accounts@acme.co.uk")

    # then the matcher's lines name both addresses masked, told apart by their hash (before: in clear)
    assert_decided(
        crm,
        "NAME_DRIFT",
        Decision.QUARANTINE,
        "same email domain acme.co.uk",
        f"different emails: {mask_email('accounts@acme.co.uk')} / {mask_email('finance@acme.co.uk')}",
    )
    said = " ".join((*crm.evidence, *(line for f in crm.findings for line in f.evidence)))
    assert "accounts@" not in said
    assert "finance@" not in said
