"""EMAIL_MISMATCH for a Books business customer newly linked to a CRM account whose contact has a very common
name, on the real DynamoDB-API server, whose reads are capped (``max_candidates``).

The account's CRM contacts share no key with the customer: the link finds them under its contact persons'
names. A name such as "John Smith" keys hundreds of CRM contacts, more than the capped read takes, and the
account's own contact must not be the one left out.
"""

from __future__ import annotations

import pytest

from sync_guard.config import Mode, get_settings
from sync_guard.guard.engine import Guard, GuardConfig, person_name_keys
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import Decision
from sync_guard.models.records import ContactPerson, RecordKind
from sync_guard.store.shadow import DynamoShadowRepository
from tests.support.aws import AwsResources
from tests.unit.guard.builders import T0, at, books_customer, crm_account, crm_contact, event_for

pytestmark = pytest.mark.integration

ACCOUNT, CUSTOMER, CONTACT = "5725767000003000720", "460000000026720", "5725767000003000721"
#: More namesakes elsewhere than an event reads (50), each sorting before the account's own contact.
ELSEWHERE = 60


def test_a_newly_linked_customer_finds_its_accounts_contact_among_more_namesakes_than_it_reads(
    aws_server: AwsResources,
) -> None:
    repository = DynamoShadowRepository.from_settings(get_settings())
    matcher = LibraryMatcher()
    guard = Guard(repository, matcher, GuardConfig(mode=Mode.ENFORCE), clock=lambda: T0)
    # given the account, and its own contact John Smith at his private address, made before its Books
    # customer
    guard.process(event_for(crm_account(ACCOUNT, "Hale Joinery Ltd")))
    own = crm_contact(CONTACT, "John", "Smith", "john.smith@gmail.com", minutes=1, account=ACCOUNT)
    guard.process(event_for(own))
    # ... and 60 other John Smiths in CRM, under no account (one per storm window: none is a storm)
    for n in range(ELSEWHERE):
        other = crm_contact(f"57257670000020001{n:02d}", "John", "Smith", f"john@smith-{n}.co.uk", minutes=2)
        guard.process(event_for(other, received=at(11 * n)))
    [name_key] = [key for key in matcher.blocking_keys(own) if key.startswith("n:")]
    assert len(repository.get_key(name_key).members) == ELSEWHERE + 1

    # when the account's Books business customer is created linked to it, John Smith its contact person
    # at his work address
    customer = books_customer(
        CUSTOMER,
        "Hale Joinery Ltd",
        linked=ACCOUNT,
        minutes=3,
        kind=RecordKind.COMPANY,
        email="accounts@hale-joinery.co.uk",
        contact_persons=[
            ContactPerson(first_name="John", last_name="Smith", email="john@hale-joinery.co.uk")
        ],
    )
    assert person_name_keys(matcher, customer) == {name_key}
    result = guard.process(event_for(customer, received=at(11 * ELSEWHERE)))

    # then the account's contact is compared with the contact person of its name, and flagged
    assert result.entry is not None
    assert "EMAIL_MISMATCH" in result.entry.rules
    [finding] = [f for f in result.entry.findings if f.code == "EMAIL_MISMATCH"]
    assert finding.subject == f"crm:{CONTACT}"
    assert result.decision is Decision.FLAG
