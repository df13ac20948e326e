"""Added rule: a sole trader synced to Books from the CRM account and again from its contact."""

from __future__ import annotations

from sync_guard.guard.model import AuditEntry, Decision
from sync_guard.redact import mask_email
from tests.unit.rules.replay import Replay, assert_decided

EMAIL = "jane@smithdesign.co.uk"


def sole_trader_in_crm(replay: Replay) -> None:
    """Account 5725930 "Jane Smith Design" and its contact 5725931 Jane Smith, who has its email."""
    replay.crm("create", "5725930", name="Jane Smith Design")
    replay.crm(
        "create",
        "5725931",
        module="Contacts",
        first_name="Jane",
        last_name="Smith",
        email=EMAIL,
        account_id="5725930",
    )


def account_with_its_customer(replay: Replay, *, invoiced: bool) -> None:
    sole_trader_in_crm(replay)
    replay.books(
        "create",
        "460930",
        contact_name="Jane Smith Design",
        email=EMAIL,
        zcrm_account_id="5725930",
        has_transaction=invoiced,
    )


def contacts_customer(replay: Replay, *, invoiced: bool) -> AuditEntry:
    """The sync makes Books customer 460931 "Jane Smith" from contact 5725931."""
    return replay.books(
        "create",
        "460931",
        contact_name="Jane Smith",
        customer_sub_type="individual",
        email=EMAIL,
        zcrm_contact_id="5725931",
        has_transaction=invoiced,
    )


def assert_mixed_and_held(replay: Replay, entry: AuditEntry, held: str, *evidence: str) -> None:
    """MIXED_MAPPING (not NAME_DRIFT) held ``held``, with the contact's account and ``evidence`` named."""
    assert_decided(
        entry, "MIXED_MAPPING", Decision.QUARANTINE, "crm:5725931 belongs to account crm:5725930", *evidence
    )
    assert "NAME_DRIFT" not in entry.rules
    assert replay.shadow.states[held].held_by == entry.entry_id


def test_a_customer_made_from_the_accounts_contact_is_held_not_called_name_drift() -> None:
    replay = Replay()
    account_with_its_customer(replay, invoiced=True)

    entry = contacts_customer(replay, invoiced=False)

    assert_mixed_and_held(
        replay,
        entry,
        "books:460931",
        "books:460931 carries Zoho's link to CRM contact crm:5725931",
        "books:460930 is the Books customer of crm:5725930",
    )


def test_a_contact_of_an_account_without_a_books_customer_is_no_mix() -> None:
    replay = Replay()
    replay.crm("create", "5725940", name="Oakfield Studio")
    replay.crm(
        "create",
        "5725941",
        module="Contacts",
        first_name="Ola",
        last_name="Berg",
        email="ola@oakfield.example",
        account_id="5725940",
    )

    entry = replay.books(
        "create",
        "460941",
        contact_name="Ola Berg",
        customer_sub_type="individual",
        email="ola@oakfield.example",
        zcrm_contact_id="5725941",
    )

    assert "MIXED_MAPPING" not in entry.rules


def test_the_accounts_customer_made_after_its_contacts_is_the_same_mix() -> None:
    # given the sync made the customer finance invoices from the contact (the integration mapped contacts)
    replay = Replay()
    sole_trader_in_crm(replay)
    contacts_customer(replay, invoiced=True)

    # when the integration is switched to accounts and the sync makes a customer of the account too
    entry = replay.books(
        "create", "460930", contact_name="Jane Smith Design", email=EMAIL, zcrm_account_id="5725930"
    )

    # then it is the same mix, seen from the other end: the new copy is held, not called name drift
    assert_mixed_and_held(
        replay,
        entry,
        "books:460930",
        "books:460930 carries Zoho's link to CRM account crm:5725930",
        "books:460931 is the Books customer of contact crm:5725931",
    )
    assert replay.shadow.states["books:460931"].held_by is None


def test_the_evidence_names_the_shared_address_masked() -> None:
    replay = Replay()
    account_with_its_customer(replay, invoiced=True)

    entry = contacts_customer(replay, invoiced=False)

    # the matcher's "same email" is told as EMAIL_MISMATCH tells addresses: masked, the hash telling two
    # apart (before: in clear, in the audit trail and in finance's notice)
    assert_decided(entry, "MIXED_MAPPING", Decision.QUARANTINE, f"same email {mask_email(EMAIL)}")
    finding = next(f for f in entry.findings if f.code == "MIXED_MAPPING")
    assert EMAIL not in " ".join((*finding.evidence, *entry.evidence))
