"""EMAIL_MISMATCH: the same person with different emails on each side (seed pattern 5).

Where the sync pairs contact persons, a different email on the Books contact person than on the CRM
contact is enough to fail the match and create a duplicate. Fires for a person (CRM contact, Books
individual) new to the guard or whose email changed, when it shares no email address with the person the
sync pairs it with (its partner in the shadow, for an edit of a paired person), or else with a person on
the other side who has the same normalised name and is at least a possible match, or else (a CRM contact,
also one moved under another account) with the contact person of the same normalised name of the Books
business customer its account is paired with: with "Accounts & their Contacts" the sync makes the contact
that customer's contact person, matched by email. The other way round, fires on an edit of a linked Books
business customer that changes the address of the contact person a CRM contact of the account was synced
with, leaving none in common, and when a Books business customer is linked to a CRM account (created
linked, or linked later) one of whose contacts, made before the pairing, has a contact person's name but no
address in common with the customer.
"""

from __future__ import annotations

from sync_guard.guard.context import RuleContext
from sync_guard.guard.model import Decision, Finding, RecordState, Severity
from sync_guard.models.records import ContactPerson, PartyRecord, RecordKind, System
from sync_guard.rules.base import Rule, describe, hold_choice


def emails_of(record: PartyRecord) -> set[str]:
    """Every address the record gives (Books' contact persons, CRM's secondary email), as the sync compares
    them: trimmed and lower-case, nothing more. (The matcher also drops a ``+tag`` and Gmail's dots, since
    they reach the same mailbox; to the sync they are another address, and the evidence shows each as
    written.)"""
    return {e.strip().lower() for e in (record.email, *record.other_emails) if e and e.strip()}


def listed(emails: set[str]) -> str:
    """Addresses as the evidence names them; a finding masks them (``j***@acme.co.uk#1a2b3c``, told apart by
    the hash), as it masks any rule's (``redact.MaskedLines``)."""
    return ", ".join(sorted(emails)) or "none"


def _none_in_common(other: PartyRecord, mine: set[str]) -> set[str] | None:
    """``other``'s addresses, when it is a person who has some and none of them is in ``mine``."""
    theirs = emails_of(other)
    if other.kind is not RecordKind.PERSON or not theirs or theirs & mine:
        return None
    return theirs


class EmailMismatch(Rule):
    code = "EMAIL_MISMATCH"
    severity = Severity.MEDIUM
    title = "Same person, different email"
    summary = (
        "A contact exists on both sides, already synced or with the same name, but with no email address in "
        "common: either one was created with another address, or the email of one of a synced pair was just "
        "changed. The sync pairs contact persons by email, so the mismatch makes it create a duplicate."
    )
    advice = (
        "Find out which address is right and correct the email on the side that is wrong before the next "
        "sync run (the evidence names the record whose email changed), then check the sync did not create "
        "a second contact."
    )
    default_decision = Decision.FLAG
    judges_duplicates = True

    def evaluate(self, ctx: RuleContext) -> Finding | None:
        if ctx.is_delete:
            return None
        if ctx.record.kind is RecordKind.COMPANY:
            return self._contact_person_edited_away(ctx) or self._linked_apart_from_contact(ctx)
        mine = emails_of(ctx.record)
        email_changed = ctx.previous is not None and emails_of(ctx.previous.record) != mine
        # An email removed leaves no address to disagree on: the next one typed in is checked.
        if not mine:
            return None
        if not (ctx.is_new or email_changed):
            # A contact moved under another account becomes a contact person of that account's customer.
            return self._apart_from_contact_person(ctx, mine) if _moved(ctx) else None
        return (
            self._drifted_from_partner(ctx, mine)
            or self._twin_on_other_side(ctx, mine)
            or self._apart_from_contact_person(ctx, mine)
        )

    def _drifted_from_partner(self, ctx: RuleContext, mine: set[str]) -> Finding | None:
        """An edit that leaves a paired person with no address in common with its partner, as the shadow
        holds it: the sync, which matches the contact person by email, is about to make a second one."""
        previous, partner = ctx.previous, ctx.partner
        if ctx.is_new or previous is None or partner is None or previous.partner != partner.ref:
            return None
        theirs = _none_in_common(partner.record, mine) if partner.live else None
        if theirs is None:
            return None
        return self._against(
            ctx,
            partner.record,
            f"The email of {describe(ctx.record)} was changed, and it now has no email address in common "
            f"with {describe(partner.record)}, the record the sync pairs it with: at its next run the sync "
            "will not match the contact person and creates a second one.",
            [
                f"{ctx.ref} email changed from {listed(emails_of(previous.record))} to {listed(mine)}",
                f"its partner {partner.ref} has {listed(theirs)}",
            ],
        )

    def _twin_on_other_side(self, ctx: RuleContext, mine: set[str]) -> Finding | None:
        """A person on the other side with the same normalised name, at least a possible match."""
        other_side = System.BOOKS if ctx.record.system is System.CRM else System.CRM
        for candidate in ctx.duplicates(system=other_side, possible_too=True):
            theirs = _none_in_common(candidate.record, mine)
            if theirs is None or ctx.name_key(candidate.record) != ctx.name_key(ctx.record):
                continue
            explanation = (
                f"{describe(ctx.record)} and {describe(candidate.record)} are the same person but have no "
                "email address in common, so the sync will not pair them."
            )
            own_lines = [f"{ctx.ref} email: {listed(mine)}", f"{candidate.ref} email: {listed(theirs)}"]
            return self._against(ctx, candidate.record, explanation, [*own_lines, *candidate.match.evidence])
        return None

    def _contact_person_edited_away(self, ctx: RuleContext) -> Finding | None:
        """An edit of a Books business customer that leaves a CRM contact of its linked account with no
        address in common with the contact persons of its name, one of which had its address before: the
        sync, which pairs them by email, is about to add the contact as a second contact person."""
        previous = ctx.previous
        if ctx.is_new or previous is None or ctx.record.system is not System.BOOKS:
            return None
        for contact in ctx.link_contacts:
            theirs = emails_of(contact.record)
            name = ctx.name_key(contact.record)
            if not theirs or not name or _judged_distinct(ctx.ref, previous.cleared, contact):
                continue
            after = _namesakes(ctx, ctx.record, name)
            paired = next((p for p in _namesakes(ctx, previous.record, name) if _addresses(p) & theirs), None)
            if paired is None:
                continue
            person = _now_of(paired, after)
            if person is None or not _addresses(person) or _shares_an_address(ctx.record, theirs):
                continue
            return self._contact_person_finding(ctx, contact, paired, person)
        return None

    def _linked_apart_from_contact(self, ctx: RuleContext) -> Finding | None:
        """A Books business customer newly linked to a CRM account (created linked, or linked now), one of
        whose CRM contacts, there before the pairing, has the name of a contact person of the customer but
        no address in common with the customer: the sync, which makes the account's contacts the customer's
        contact persons and pairs them by email, is about to add the contact as a second one. (A contact
        made after the pairing is compared by its own event: ``_apart_from_contact_person``.)"""
        if ctx.record.system is not System.BOOKS or not ctx.link_changed:
            return None
        cleared = ctx.previous.cleared if ctx.previous is not None else frozenset()
        for contact in ctx.link_contacts:
            theirs = emails_of(contact.record)
            name = ctx.name_key(contact.record)
            if not theirs or not name or _judged_distinct(ctx.ref, cleared, contact):
                continue
            if _shares_an_address(ctx.record, theirs):
                continue  # the sync pairs the contact with that contact person, whatever its name
            person = next((p for p in _namesakes(ctx, ctx.record, name) if _addresses(p)), None)
            if person is not None:
                return self._linked_finding(ctx, contact, person)
        return None

    def _linked_finding(self, ctx: RuleContext, contact: RecordState, person: ContactPerson) -> Finding:
        theirs = emails_of(contact.record)
        who = _who(person)
        account = f"crm:{ctx.record.linked_crm_id}"
        explanation = (
            f"{describe(ctx.record)} is now linked to the CRM account {account}, whose contact "
            f"{describe(contact.record)} has the name of its {who} but no email address in common with "
            "it: the sync pairs contact persons by email, so at its next run it adds the contact to this "
            "customer as a second contact person."
        )
        evidence = [
            f"{ctx.ref} is linked to {account}; its {who} has {listed(_addresses(person))}",
            f"the CRM contact {contact.ref} of {account} has {listed(theirs)}",
        ]
        # Held, the CRM contact is taken back from the sync, as for a contact person edited away.
        return self.finding(
            subject=contact.ref, explanation=explanation, evidence=evidence, related=[ctx.ref, contact.ref]
        )

    def _contact_person_finding(
        self, ctx: RuleContext, contact: RecordState, paired: ContactPerson, person: ContactPerson
    ) -> Finding:
        theirs = emails_of(contact.record)
        who = _who(person)
        explanation = (
            f"The email of {who} of {describe(ctx.record)} was changed, and it now has no email address "
            f"in common with {describe(contact.record)}, the CRM contact of the linked account it was "
            "synced with: the sync pairs contact persons by email, so at its next run it adds the contact "
            "to this customer as a second contact person."
        )
        evidence = [
            f"{ctx.ref} {who} email changed from {listed(_addresses(paired))} to "
            f"{listed(_addresses(person))}",
            f"the CRM contact {contact.ref} has {listed(theirs)}",
        ]
        # Held, the CRM contact is taken back from the sync: never the business customer, whose other
        # people and invoices this one address does not concern.
        return self.finding(
            subject=contact.ref, explanation=explanation, evidence=evidence, related=[ctx.ref, contact.ref]
        )

    def _apart_from_contact_person(self, ctx: RuleContext, mine: set[str]) -> Finding | None:
        """A CRM contact under an account paired with a Books business customer, one of whose contact
        persons has its normalised name but no email address in common: the sync, which makes the contact
        a contact person of that customer and pairs contact persons by email, is about to add a second."""
        customer = ctx.account_customer
        if customer is None or customer.record.kind is not RecordKind.COMPANY:
            return None
        cleared = ctx.previous.cleared if ctx.previous is not None else frozenset()
        if _judged_distinct(ctx.ref, cleared, customer):
            return None
        if _shares_an_address(customer.record, mine):
            return None  # the sync pairs the contact with that contact person, whatever its name
        namesakes = _namesakes(ctx, customer.record, ctx.name_key(ctx.record))
        person = next((p for p in namesakes if _addresses(p)), None)
        if person is None:
            return None
        return self._against_contact_person(ctx, mine, customer, person)

    def _against_contact_person(
        self, ctx: RuleContext, mine: set[str], customer: RecordState, person: ContactPerson
    ) -> Finding:
        who = _who(person)
        previous = None if ctx.is_new else ctx.previous
        subject = describe(ctx.record)
        if previous is None:
            opening, first_line = f"{subject} has", f"{ctx.ref} email: {listed(mine)}"
        elif emails_of(previous.record) == mine:
            account = f"crm:{ctx.record.account_id}"
            opening = f"{subject} was moved to the account {account}, and has"
            first_line = f"{ctx.ref} moved to the account {account}; its email: {listed(mine)}"
        else:
            opening = f"The email of {subject} was changed, and it now has"
            first_line = (
                f"{ctx.ref} email changed from {listed(emails_of(previous.record))} to {listed(mine)}"
            )
        explanation = (
            f"{opening} the name of {who} of {describe(customer.record)}, the Books customer its account is "
            "paired with, but no email address in common with it: the sync pairs contact persons by email, "
            "so at its next run it adds the contact to that customer as a second contact person."
        )
        evidence = [
            first_line,
            f"its account crm:{ctx.record.account_id} is paired with {customer.ref}, whose {who} has "
            f"{listed(_addresses(person))}",
        ]
        return self._against(ctx, customer.record, explanation, evidence)

    def _against(
        self, ctx: RuleContext, other: PartyRecord, explanation: str, evidence: list[str]
    ) -> Finding:
        """The finding about the event's record and ``other``. Held, the event's record (new, or just
        edited) is taken back, unless it is a Books customer holding transactions: then ``other``."""
        subject, why = hold_choice(ctx.record, other)
        return self.finding(
            subject=subject, explanation=explanation, evidence=evidence + why, related=[ctx.ref, other.ref]
        )


def _moved(ctx: RuleContext) -> bool:
    """Whether the event's CRM contact was moved under another account (its ``Account_Name`` changed)."""
    previous = ctx.previous
    return (
        previous is not None
        and bool(ctx.record.account_id)
        and previous.record.account_id != ctx.record.account_id
    )


def _judged_distinct(ref: str, cleared: frozenset[str], other: RecordState) -> bool:
    """Whether an admin's release judged ``ref`` (whose list of records judged distinct is ``cleared``) and
    ``other`` not the same customer: on either record's list, whichever of the two was held (the engine's
    ``_judged_distinct`` reads both too)."""
    return other.ref in cleared or ref in other.cleared


def _shares_an_address(customer: PartyRecord, addresses: set[str]) -> bool:
    """Whether a contact person of ``customer``, of any name, has one of ``addresses``: the sync pairs
    contact persons by email, so the contact is matched to that one and no second is added."""
    return any(_addresses(person) & addresses for person in customer.contact_persons)


def _addresses(person: ContactPerson) -> set[str]:
    """A contact person's address as the sync compares it (see ``emails_of``)."""
    return {person.email.strip().lower()} if person.email and person.email.strip() else set()


def _now_of(person: ContactPerson, namesakes: list[ContactPerson]) -> ContactPerson | None:
    """``person`` among the edited customer's ``namesakes``, by its ``contact_person_id`` (None when it was
    removed, or renamed): a namesake beside it is another contact person, whose address did not change.
    Without an id to tell them apart, the first namesake with an address."""
    if person.person_id:
        return next((p for p in namesakes if p.person_id == person.person_id), None)
    return next((p for p in namesakes if _addresses(p)), None)


def _who(person: ContactPerson) -> str:
    return f"contact person '{person.name}'" + (f" ({person.person_id})" if person.person_id else "")


def _namesakes(ctx: RuleContext, customer: PartyRecord, name: str) -> list[ContactPerson]:
    """The customer's contact persons whose normalised person name (the matcher's) is ``name``."""
    if not name:
        return []
    return [
        person for person in customer.contact_persons if ctx.name_key(as_person(customer, person)) == name
    ]


def as_person(customer: PartyRecord, person: ContactPerson) -> PartyRecord:
    """A contact person as a person record, for the matcher's person-name normalisation."""
    return PartyRecord(
        system=System.BOOKS,
        module=customer.module,
        record_id=customer.record_id,
        name=person.name,
        kind=RecordKind.PERSON,
        first_name=person.first_name,
        last_name=person.last_name,
        email=person.email,
    )
