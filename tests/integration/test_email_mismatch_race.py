"""EMAIL_MISMATCH between a CRM contact and its account's Books customer, decided at the same moment, on the
real DynamoDB-API server.

A CRM contact is created under an account while the account's Books business customer is edited, changing
the address of the contact person of the contact's name (seed pattern 5). Each decision is made on reads
taken before the other commits: the contact's reads the customer's contact persons as they were (its
address still among them: no mismatch), the edit's looks for the CRM contacts under the address it drops
and finds none (the contact is not there yet). Each interleaving is one race: one event's snapshot is read,
the other event is decided and committed, then the first event's plan is committed. One of the two must see
the other: the later commit is cancelled and its event decided again on fresh reads, and the mismatch is
found whichever commits first. On a server that splits the plan, the check that does not fit is made by a
read just before the transaction. The same holds of a contact created while its account's Books customer is
created linked to the account: the contact's commit is cancelled by its account's pairing, the link's by the
contact joining the key item of its name, which the link reads for the contact person of that name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sync_guard.config import Mode, get_settings
from sync_guard.guard.engine import Guard, GuardConfig, GuardResult
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import Decision
from sync_guard.guard.ports import Matcher, ShadowRepository
from sync_guard.models.events import GuardEvent, Operation
from sync_guard.store.shadow import DynamoShadowRepository
from sync_guard.zoho.convert import books_contact_to_party
from tests.integration.test_decision_basis_race import CommitsAfter, _split_repository
from tests.support.aws import AwsResources
from tests.unit.guard.builders import T0, at, crm_account, crm_contact, event_for
from tests.unit.guard.fakes import ExactMatcher, FakeTime

pytestmark = pytest.mark.integration

ACCOUNT, CUSTOMER, CONTACT = "5725767000003000720", "460000000026720", "5725767000003000721"
PRIVATE, WORK, ACCOUNTS = "sam.okafor@gmail.com", "sam@hale-joinery.co.uk", "accounts@hale-joinery.co.uk"
#: The customer's own address, or none: then its contact person's is its address, and one of its keys,
#: which the edit takes the customer off (else the edit only reads the key item of the address it drops).
OWN_EMAILS = {"own-address": ACCOUNTS, "persons-address": None}
MATCHERS = {"library": LibraryMatcher, "exact": ExactMatcher}


def _guard(matcher: Matcher, repository: ShadowRepository | None = None) -> Guard:
    return Guard(
        repository or DynamoShadowRepository.from_settings(get_settings()),
        matcher,
        GuardConfig(mode=Mode.ENFORCE),
        clock=lambda: T0,
        backoff=FakeTime().backoff(),
    )


def _hale_joinery(sams_email: str, *, minutes: float, own_email: str | None) -> GuardEvent:
    """The Books business customer Zoho links to the account, Sam Okafor its contact person at
    ``sams_email``, as Books sends it (created, or edited ``minutes`` after T0); ``own_email``, the
    customer's own address (None: Sam's is the customer's, and one of its keys)."""
    record = books_contact_to_party(
        {
            "contact_id": CUSTOMER,
            "contact_name": "Hale Joinery Ltd",
            "contact_type": "customer",
            "customer_sub_type": "business",
            "email": own_email,
            "zcrm_account_id": ACCOUNT,
            "contact_persons": [
                {"contact_person_id": "460000000026799", "first_name": "Sam", "last_name": "Okafor"}
                | {"email": sams_email}
            ],
        }
    ).model_copy(update={"created_at": at(1), "modified_at": at(minutes)})
    return event_for(record, Operation.CREATE if minutes == 1 else Operation.UPDATE)


def _paired(matcher: Matcher, own_email: str | None) -> tuple[GuardEvent, GuardEvent]:
    """The account and its Books customer, paired by Zoho's link, Sam Okafor a contact person at his
    private address. Returns Sam Okafor's create in CRM under the account at that address, and the
    bookkeeper's edit of the customer giving the contact person his work address, a minute apart."""
    _guard(matcher).process(event_for(crm_account(ACCOUNT, "Hale Joinery Ltd")))
    created = _guard(matcher).process(_hale_joinery(PRIVATE, minutes=1, own_email=own_email))
    assert created.entry is not None
    assert "EMAIL_MISMATCH" not in created.entry.rules
    shadow = DynamoShadowRepository.from_settings(get_settings())
    customer = shadow.get_state(f"books:{CUSTOMER}")
    assert customer is not None
    assert customer.partner == f"crm:{ACCOUNT}"
    contact = event_for(crm_contact(CONTACT, "Sam", "Okafor", PRIVATE, minutes=5, account=ACCOUNT))
    return contact, _hale_joinery(WORK, minutes=6, own_email=own_email)


def _mismatch(result: GuardResult, *, attempts: int) -> None:
    """The event decided again after the other committed (``attempts``: its reads, the one cancelled commit
    included): the contact, at the address its contact person no longer has, is flagged."""
    assert result.entry is not None
    assert result.entry.rules == ("EMAIL_MISMATCH",)
    assert result.decision is Decision.FLAG
    [finding] = result.entry.findings
    assert finding.subject == f"crm:{CONTACT}"
    assert result.attempts == attempts


def _race(
    matcher: Matcher,
    shadow: Callable[[], DynamoShadowRepository],
    first: str,
    own_email: str | None = ACCOUNTS,
) -> tuple[GuardResult, GuardResult]:
    """``first`` ("contact" or "edit") is read, the other event is decided and committed, then ``first``'s
    plan committed (through ``shadow``). Returns the first event's result and the other's."""
    contact, edit = _paired(matcher, own_email)
    event, other = (contact, edit) if first == "contact" else (edit, contact)
    results: list[GuardResult] = []
    repository = CommitsAfter(lambda: results.append(_guard(matcher).process(other)), shadow())
    result = _guard(matcher, repository).process(event)
    [meanwhile] = results
    # the other event, decided on reads taken before the first committed, saw nothing to flag
    assert meanwhile.entry is not None
    assert "EMAIL_MISMATCH" not in meanwhile.entry.rules
    return result, meanwhile


def _whole() -> DynamoShadowRepository:
    return DynamoShadowRepository.from_settings(get_settings())


def _split() -> DynamoShadowRepository:
    # two items per transaction: the audit marker and the record's state; every check is left out
    return _split_repository(2)


SHADOWS: dict[str, Any] = {"whole": _whole, "split": _split}


@pytest.mark.parametrize("shadow", SHADOWS)
@pytest.mark.parametrize("matcher", MATCHERS)
def test_a_contact_created_while_its_customer_is_edited_is_flagged_when_the_edit_commits_first(
    aws_server: AwsResources, matcher: str, shadow: str
) -> None:
    # given the contact's create read before the edit of the customer commits (its contact person still at
    # the contact's address), when the edit commits first, then the contact's commit is cancelled (the
    # customer it compared with changed) and decided again against the contact person's new address
    result, _ = _race(MATCHERS[matcher](), SHADOWS[shadow], first="contact")
    _mismatch(result, attempts=2)
    evidence = " ".join(result.entry.findings[0].evidence) if result.entry else ""
    assert f"is paired with books:{CUSTOMER}, whose contact person 'Sam Okafor'" in evidence


@pytest.mark.parametrize("own_email", OWN_EMAILS)
@pytest.mark.parametrize("shadow", SHADOWS)
@pytest.mark.parametrize("matcher", MATCHERS)
def test_a_customer_edited_while_its_contact_is_created_is_flagged_when_the_create_commits_first(
    aws_server: AwsResources, matcher: str, shadow: str, own_email: str
) -> None:
    # given the edit read before the contact's create commits (no contact under the address it drops),
    # when the create commits first, then the edit's commit is cancelled (the key item of that address
    # changed) and decided again, finding the contact it edited away from
    result, _ = _race(MATCHERS[matcher](), SHADOWS[shadow], first="edit", own_email=OWN_EMAILS[own_email])
    # (read again under the address it drops, then once more after its cancelled commit)
    _mismatch(result, attempts=3)
    evidence = " ".join(result.entry.findings[0].evidence) if result.entry else ""
    assert f"the CRM contact crm:{CONTACT} has" in evidence


def _interleaved(
    matcher: Matcher, shadow: Callable[[], DynamoShadowRepository], event: GuardEvent, other: GuardEvent
) -> GuardResult:
    """``event`` read, ``other`` decided and committed (seeing nothing to flag: ``event`` not committed
    yet), then ``event``'s plan committed through ``shadow``. Returns ``event``'s result."""
    results: list[GuardResult] = []
    repository = CommitsAfter(lambda: results.append(_guard(matcher).process(other)), shadow())
    result = _guard(matcher, repository).process(event)
    [meanwhile] = results
    assert meanwhile.entry is not None
    assert "EMAIL_MISMATCH" not in meanwhile.entry.rules
    return result


def _before_the_pairing(matcher: Matcher) -> tuple[GuardEvent, GuardEvent]:
    """The account, not in Books yet. Returns Sam Okafor's create in CRM under it at his private address,
    and the create of the account's Books customer, linked to it, Sam its contact person at his work
    address: neither sees the other until one commits (the contact shares no key with the customer)."""
    _guard(matcher).process(event_for(crm_account(ACCOUNT, "Hale Joinery Ltd")))
    contact = event_for(crm_contact(CONTACT, "Sam", "Okafor", PRIVATE, minutes=5, account=ACCOUNT))
    return contact, _hale_joinery(WORK, minutes=1, own_email=ACCOUNTS)


@pytest.mark.parametrize("first", ["contact", "link"])
@pytest.mark.parametrize("shadow", SHADOWS)
@pytest.mark.parametrize("matcher", MATCHERS)
def test_a_contact_created_while_its_account_is_linked_in_books_is_flagged_whichever_commits_first(
    aws_server: AwsResources, matcher: str, shadow: str, first: str
) -> None:
    # given Sam Okafor's create in CRM and the linked create of his account's Books customer, one read
    # before the other commits: the contact's account not paired yet, the customer finding no contact
    # under the contact person's name
    chosen = MATCHERS[matcher]()
    contact, link = _before_the_pairing(chosen)
    event, other = (contact, link) if first == "contact" else (link, contact)
    result = _interleaved(chosen, SHADOWS[shadow], event, other)

    # then the later commit is cancelled (the contact's account was paired; the key item of the contact
    # person's name was claimed) and its event, decided again, flags the contact
    # (the link is read again under the contact person's name before its first commit)
    _mismatch(result, attempts=2 if first == "contact" else 3)


OTHER_ACCOUNT = "5725767000003000730"


def _moved_while_linked(matcher: Matcher) -> tuple[GuardEvent, GuardEvent]:
    """The account, not in Books yet, and Sam Okafor in CRM under another account, at his private address.
    Returns his move under the account (its address and name unchanged: no key of his changes) and the
    create of the account's Books customer, linked to it, Sam its contact person at his work address."""
    _guard(matcher).process(event_for(crm_account(ACCOUNT, "Hale Joinery Ltd")))
    _guard(matcher).process(event_for(crm_account(OTHER_ACCOUNT, "Okafor Carpentry")))
    sam = crm_contact(CONTACT, "Sam", "Okafor", PRIVATE, minutes=0.5, account=OTHER_ACCOUNT)
    assert _guard(matcher).process(event_for(sam)).entry is not None
    moved = sam.model_copy(update={"account_id": ACCOUNT, "modified_at": at(5)})
    return event_for(moved, Operation.UPDATE), _hale_joinery(WORK, minutes=1, own_email=ACCOUNTS)


@pytest.mark.parametrize("first", ["move", "link"])
@pytest.mark.parametrize("shadow", SHADOWS)
@pytest.mark.parametrize("matcher", MATCHERS)
def test_a_contact_moved_while_its_new_account_is_linked_in_books_is_flagged_whichever_commits_first(
    aws_server: AwsResources, matcher: str, shadow: str, first: str
) -> None:
    # given Sam Okafor's move in CRM under the account and the linked create of the account's Books
    # customer, one read before the other commits: the contact's new account not paired yet, the customer
    # finding Sam under its contact person's name but under another account
    chosen = MATCHERS[matcher]()
    move, link = _moved_while_linked(chosen)
    event, other = (move, link) if first == "move" else (link, move)
    result = _interleaved(chosen, SHADOWS[shadow], event, other)

    # then the later commit is cancelled (the move's by its account's pairing; the link's by the move,
    # which writes the account it moves the contact under) and its event, decided again, flags the contact
    # (the link is read again under the contact person's name before its first commit)
    _mismatch(result, attempts=2 if first == "move" else 3)
