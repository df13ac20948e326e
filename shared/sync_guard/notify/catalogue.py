"""Plain-English texts for each rule: what happened, why it costs money, and the next step.

The next steps follow the field playbook (``shared/seed/crm-books-sync-duplicates.txt``): pause the contact
sync but never disconnect the integration; on the Books side the copy with invoices survives; Zoho support
repairs mappings (quote both organisation ids) before anything is merged; losers are deactivated in Books,
never deleted while they hold transactions or the mapping; CRM merges come last.

Texts may use ``{org_ids}``: the renderer puts the two organisation ids there when they are configured, or
where in Zoho to read them when not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sync_guard.models.records import System
from sync_guard.notify.model import Decision

# Said in every message: the one action that turns dozens of duplicates into hundreds.
DO_NOT_DISCONNECT = (
    "Do not disconnect and reconnect the CRM-Books integration to 'reset' it: disconnecting throws away the "
    "record mapping and reconnecting creates the duplicates again. To stop the sync, pause it instead "
    "(in CRM: Setup > Marketplace > Zoho > Zoho Finance Suite, switch the contact and account sync off)."
)

SUPPORT_TICKET = (
    "Raise a Zoho support ticket to repair the mapping: quote both organisation IDs ({org_ids}), "
    "name the pattern and give these records as examples. Only Zoho support can "
    "re-point a mapping; there is no screen for it."
)

KEEP_THE_INVOICED_COPY = (
    "On the Books side, keep the copy that holds invoices. Do not raise new invoices against the other copy."
)

DEACTIVATE_NOT_DELETE = (
    "Deactivate the losing copy in Books (mark it inactive) once its transactions, if any, are moved. Never "
    "delete a copy that holds transactions or the CRM link: the next CRM edit would recreate it."
)

MERGE_CRM_LAST = "Merge duplicates in CRM last, after Zoho support has confirmed the mappings."

#: Said only where the guard held a record in Zoho (the renderer leaves it out otherwise): in observe mode,
#: or when the hold failed, there is no hold to release and the record never left the sync.
RELEASE_STEP = "Then an admin can release the hold so the record syncs again."


@dataclass(frozen=True)
class RuleText:
    """The words for one rule. ``title`` is short enough for an email subject."""

    title: str
    what: str
    why: str
    steps: tuple[str, ...]
    # Extra sentence on what the guard did, by mode (e.g. the storm's circuit breaker).
    enforce_note: str = ""
    observe_note: str = ""
    # False for news about the sync itself, whose records are examples of different customers, not copies
    # of one: the notice then says nothing about which copy holds transactions.
    records_are_copies: bool = True


CATALOGUE: dict[str, RuleText] = {
    "NAME_DRIFT": RuleText(
        title="Same customer, slightly different name",
        what=(
            "A customer was created whose name differs from an existing customer only in spelling, "
            "punctuation or legal form (for example 'Ltd' and 'Limited'). The sync pairs names exactly, so "
            "it treats them as two different companies and keeps both."
        ),
        why=(
            "If both copies get invoiced, the customer's balance, statements and payment chasing are split "
            "across two records, and moving invoices from one customer to another afterwards is slow work."
        ),
        steps=(
            "Check that the records above are the same company.",
            KEEP_THE_INVOICED_COPY,
            DEACTIVATE_NOT_DELETE,
            "If the new copy is already linked to CRM, " + SUPPORT_TICKET[0].lower() + SUPPORT_TICKET[1:],
        ),
    ),
    "BOTH_SIDES_CREATED": RuleText(
        title="Customer created in both CRM and Books",
        what=(
            "The same customer was created separately in CRM (by sales) and in Books (by finance) at about "
            "the same time. With two-way sync each copy is pushed to the other side, so both systems end up "
            "with two records for one customer."
        ),
        why=(
            "Invoices, payments and the credit limit get split between the two Books customers, and sales "
            "see only part of the customer's invoices in CRM."
        ),
        steps=(
            "Check that the records above are the same customer.",
            KEEP_THE_INVOICED_COPY,
            DEACTIVATE_NOT_DELETE,
            SUPPORT_TICKET,
            "Agree who creates customers: CRM owns the customer, Books owns the money. Restricting customer "
            "creation in Books (roles) stops this from happening again.",
        ),
    ),
    "PARTNER_DELETED": RuleText(
        title="Linked record deleted, partner still live",
        what=(
            "One record of a linked CRM-Books pair was deleted while its partner lives on. The sync does not "
            "pass deletions across, so the surviving record is now unlinked. If the Books customer was the "
            "one deleted, the next edit of the CRM record creates a new Books customer without any history."
        ),
        why=(
            "A recreated Books customer starts with no invoices, payments or credit notes: statements and "
            "outstanding balances no longer match, and the customer may be chased for money already paid."
        ),
        steps=(
            "Do not edit the surviving CRM record until this is sorted out: each edit can create a new Books "
            "customer.",
            "If the deleted record was a Books customer with transactions, restore it or note its balance "
            "before anything else.",
            SUPPORT_TICKET,
            "In future, mark Books customers inactive instead of deleting them.",
        ),
    ),
    "RECREATED_AFTER_DELETE": RuleText(
        title="Deleted customer recreated without history",
        what=(
            "A Books customer was created for a CRM record whose previous Books customer had been deleted. "
            "The new copy has none of the old one's invoices, payments or notes."
        ),
        why=(
            "Invoices raised on the new copy sit apart from the customer's history: aged debt, statements "
            "and credit control for this customer are wrong until the two are reconciled."
        ),
        steps=(
            "Do not raise invoices on the new copy until this is checked.",
            "Find where the old customer's transactions are (the deleted copy, or another existing customer) "
            "and decide which Books customer survives: the one with invoices.",
            SUPPORT_TICKET,
            DEACTIVATE_NOT_DELETE,
        ),
    ),
    "CRM_MERGE_ORPHAN": RuleText(
        title="CRM merge left a Books customer orphaned",
        what=(
            "Two CRM records were merged. Each had its own Books customer, but Books knows nothing of "
            "merges: the merged-away record's Books customer is now linked to nothing and may be duplicated "
            "again later."
        ),
        why=(
            "The orphaned customer's invoices and balance drop out of sight in CRM, and a later edit can "
            "create yet another copy in Books."
        ),
        steps=(
            "Do not merge any more CRM records for now: each merge can orphan another Books customer.",
            "Keep the orphaned Books customer if it holds invoices; its transactions need moving to the "
            "surviving customer before it can be deactivated.",
            SUPPORT_TICKET,
            DEACTIVATE_NOT_DELETE,
        ),
    ),
    "EMAIL_MISMATCH": RuleText(
        title="Contact email differs between CRM and Books",
        what=(
            "A CRM contact and a Books contact person are the same person but have no email address in "
            "common. Either one was created with a different address, or the two are already synced and "
            "the email was just changed on one side: the record labelled 'Record whose email was just "
            "changed' below. The sync matches contact persons on email, so at its next run it will not "
            "match them and creates a second one."
        ),
        why=(
            "Invoices and payment reminders may go to an old address, and the customer ends up with a "
            "duplicate record that can be invoiced separately."
        ),
        steps=(
            "Find out which email address is correct, then correct the email on the side that is wrong "
            "before the next sync run: where a record's email was just changed, either change it back to "
            "its linked partner's address or give the linked partner the new one.",
            RELEASE_STEP,
            KEEP_THE_INVOICED_COPY,
        ),
    ),
    "DISPLAY_NAME_COLLISION": RuleText(
        title="Books name clash: sync will fail silently",
        what=(
            "A customer is about to be created in Books with a display name that already exists there. Books "
            "refuses duplicate display names (error 3062), so the sync will fail for this record and then "
            "stop syncing it, with no banner and no email: the sync history only shows a failure count."
        ),
        why=(
            "Changes made in CRM (address, billing contact, payment terms) stop reaching Books, so invoices "
            "go out with stale details and nobody is told."
        ),
        steps=(
            "Check whether the two are the same customer.",
            "If they are, keep the existing Books customer (it holds the history) and do not create another; "
            + SUPPORT_TICKET[0].lower()
            + SUPPORT_TICKET[1:],
            "If they are different customers, give one of them a distinguishing name in CRM (for example add "
            "the town).",
            RELEASE_STEP,
        ),
    ),
    "BROKEN_MAPPING": RuleText(
        title="Sync lost its link: identical duplicate",
        what=(
            "A new record appeared with exactly the same name as a customer that was already linked. "
            "Identical names mean the sync lost its internal link for this pair and created a fresh copy."
        ),
        why=(
            "New invoices may land on the copy with no history while the old balance stays on the other; "
            "statements and credit control are split."
        ),
        steps=(
            "Do not delete either copy: deleting the one that holds the link makes the next CRM edit "
            "recreate it.",
            SUPPORT_TICKET,
            KEEP_THE_INVOICED_COPY,
            DEACTIVATE_NOT_DELETE,
            MERGE_CRM_LAST,
        ),
    ),
    "DOUBLE_LINK": RuleText(
        title="Two Books customers linked to one CRM record",
        what="Two Books customers are linked to the same CRM record.",
        why=(
            "The customer's invoices are split across two Books records, statements are incomplete, and CRM "
            "shows only one side's invoices."
        ),
        steps=(
            KEEP_THE_INVOICED_COPY,
            SUPPORT_TICKET,
            DEACTIVATE_NOT_DELETE,
        ),
    ),
    "MULTIPLICATION_STORM": RuleText(
        title="Duplicate storm: many new customers at once",
        what=(
            "In a short time, many new customers were created that match customers who already exist. "
            "That is the pattern of the integration being disconnected and reconnected (which wipes the "
            "mapping), or of a bulk import."
        ),
        why=(
            "Each copy that gets invoiced splits a customer's balance. At this rate dozens of duplicates "
            "become hundreds within hours, and each one is manual work to unpick."
        ),
        steps=(
            "Pause the contact sync now (in CRM: Setup > Marketplace > Zoho > Zoho Finance Suite, switch the "
            "contact and account sync off). Do not disconnect the integration; if it has been disconnected, "
            "do not reconnect it yet.",
            "Find out who changed the integration or imported records, and when.",
            "Build the match list (the guard's match report) and pick survivors: the Books copy with "
            "invoices.",
            SUPPORT_TICKET,
            "Only then ask an admin to reset the guard's circuit breaker.",
        ),
        enforce_note=(
            "The guard's circuit breaker has tripped: every further new customer is held back from the sync "
            "until an admin resets it."
        ),
        observe_note=(
            "In enforce mode the guard's circuit breaker would now hold every further new customer back from "
            "the sync until an admin reset it."
        ),
    ),
    "CROSSED_MAPPING": RuleText(
        title="Books customer linked to the wrong CRM record",
        what=(
            "A Books customer's CRM link points at a different CRM record than the one it belongs with. "
            "The mapping is crossed."
        ),
        why=(
            "Edits to one CRM company can overwrite another customer's billing details in Books, and "
            "invoices can go to the wrong company."
        ),
        steps=(
            "Do not edit either CRM record until this is fixed.",
            SUPPORT_TICKET,
            MERGE_CRM_LAST,
        ),
    ),
    "MAPPING_MOVED": RuleText(
        title="CRM record re-paired with another Books customer",
        what=(
            "Zoho now links a CRM record to a different Books customer from the one it was paired with, and "
            "that customer still exists without the link. A disconnect and reconnect re-pairs records by "
            "exact name and does this; so does Zoho support when it re-points a mapping on request."
        ),
        why=(
            "CRM edits now reach the newly linked customer and not the one holding the invoices: the next "
            "invoice can land on the copy without history, and the invoiced customer stops being updated."
        ),
        steps=(
            "If Zoho support has just re-pointed this mapping on your request, there is nothing more to do.",
            KEEP_THE_INVOICED_COPY,
            SUPPORT_TICKET,
            DEACTIVATE_NOT_DELETE,
        ),
    ),
    "MIXED_MAPPING": RuleText(
        title="Customer synced from a CRM account and its contact",
        what=(
            "The same customer is in Books twice: the sync made one Books customer from the CRM account and "
            "another from one of its contacts. The integration is mapping Books customers to CRM contacts "
            "as well as to accounts."
        ),
        why=(
            "Invoices split between the two Books customers, statements and credit control are wrong, and "
            "every further contact of such an account can add another copy."
        ),
        steps=(
            "Decide once whether Books customers map to CRM accounts (businesses) or to contacts (private "
            "customers), and set the integration's module to match (in Books: Settings > Zoho Apps > Zoho "
            "CRM). Renaming either record does not help.",
            KEEP_THE_INVOICED_COPY,
            SUPPORT_TICKET,
            DEACTIVATE_NOT_DELETE,
        ),
    ),
    "SAME_SIDE_DUPLICATE": RuleText(
        title="Same customer entered twice in CRM",
        what=(
            "A new CRM record was created for a company or person that CRM already has. The sync copies "
            "every CRM record to Books on its own, so each CRM copy becomes a Books customer of its own."
        ),
        why=(
            "Sales and finance end up working on different copies: invoices, payments and statements are "
            "split across two Books customers, and the CRM history across two records."
        ),
        steps=(
            "Check that the CRM records above are the same company or person.",
            "If the new record has no Books customer yet, merge it into the existing CRM record before the "
            "sync copies it: one CRM record, one Books customer.",
            "If the sync has already copied it, do not merge in CRM yet. " + KEEP_THE_INVOICED_COPY,
            DEACTIVATE_NOT_DELETE,
            SUPPORT_TICKET,
            MERGE_CRM_LAST,
        ),
    ),
    "CREATED_IN_BOOKS": RuleText(
        title="Customer created in Books, not from CRM",
        what=(
            "A customer was created directly in Books rather than by the sync from CRM. Your policy is that "
            "CRM owns customers: sales create them in CRM, the sync brings them to Books."
        ),
        why=(
            "When sales raise the same customer in CRM, the sync creates a second Books customer beside this "
            "one, and invoices and payments get split between the two."
        ),
        steps=(
            "Check whether the customer already exists in CRM. If not, ask sales to create the account "
            "there; if it does, ask Zoho support to pair it with this customer rather than create another.",
            "Restrict customer creation in Books through roles, so that finance can edit billing details "
            "but cannot create customers.",
        ),
        # One new customer, not two copies of one: which copy holds transactions is no question yet.
        records_are_copies=False,
    ),
    "SYNC_STALLED": RuleText(
        title="CRM edits are not reaching Books",
        what=(
            "Customers edited in CRM over the last hours have not changed in Books, although they are "
            "linked, and no edit has got through. Zoho's sync has stopped carrying changes without saying "
            "so. The usual causes: the user who connected the integration was deactivated or lost their "
            "licence or Books role, or someone paused the sync and never switched it back on."
        ),
        why=(
            "Invoices go out with old names and addresses, and customers created in CRM never reach Books, "
            "so someone creates them by hand: duplicates that the sync pairs badly once it runs again."
        ),
        steps=(
            "Check that the sync is switched on and read its history (in CRM: Setup > Marketplace > Zoho > "
            "Zoho Finance Suite; in Books: Settings > Zoho Apps > Zoho CRM). It counts failed runs.",
            "Check that the user who connected the integration is still active. If not, have an active "
            "administrator re-authorise the existing integration. Do not set up a new one.",
            "Once it runs again, check that the customers above have their CRM details in Books. The guard "
            "sends a message when it sees edits get through again.",
        ),
        records_are_copies=False,
    ),
    "SYNC_RESUMED": RuleText(
        title="CRM edits reach Books again",
        what=(
            "The CRM to Books sync the guard reported as stalled is carrying edits again: a linked customer "
            "edited in CRM has changed in Books since, and shows the CRM details."
        ),
        why=(
            "Edits made while the sync was stalled should now arrive in Books. Customers created by hand in "
            "Books meanwhile may now have a second copy from CRM."
        ),
        steps=(
            "Check that the customers named in the stall message have their CRM details in Books.",
            "Look through Books customers created while the sync was stalled for copies of CRM customers: "
            "the guard's match report lists them.",
        ),
        records_are_copies=False,
    ),
    "HOLDS_WAITING": RuleText(
        title="Held records waiting for a decision",
        what=(
            "The guard held the records below back from the sync days ago, as likely duplicates, and "
            "nobody has decided about them since. Until someone does, each held CRM record stays out of the "
            "sync and each held Books customer stays inactive."
        ),
        why=(
            "A held CRM record never reaches Books and a held Books customer cannot be invoiced. Whoever "
            "needs to invoice the customer may create it again by hand, which makes one more duplicate."
        ),
        steps=(
            "For each record, read why it was held and check whether it is a copy of the record it was held "
            "for: the first message about it says why, and so does the audit trail, which an admin reads "
            "with sync-guard audit --record <record>",
            "Not a copy: ask an admin to release the hold (sync-guard quarantines release <record>). The "
            "guard takes its tag off in CRM, or marks the Books customer active again.",
            "A copy: ask an admin to confirm it, naming the copy to keep (sync-guard quarantines confirm "
            "<record> --survivor <record kept>). It stays held and leaves this reminder; then clean it up "
            "as the first message said.",
        ),
        records_are_copies=False,
    ),
}

GENERIC = RuleText(
    title="Possible duplicate customer",
    what=(
        "The guard noticed a change that may lead to a duplicate or unlinked customer between Zoho CRM and "
        "Zoho Books."
    ),
    why=(
        "A duplicate customer that gets invoiced splits the customer's balance and history across two "
        "records, which is slow to unpick."
    ),
    steps=(
        "Check the records above.",
        KEEP_THE_INVOICED_COPY,
        SUPPORT_TICKET,
        DEACTIVATE_NOT_DELETE,
    ),
)

# The next step of a digest that covers several kinds of problem (a backfill, a bulk change): the playbook.
PLAYBOOK_STEPS: tuple[str, ...] = (
    "Pause the contact sync (in CRM: Setup > Marketplace > Zoho > Zoho Finance Suite, switch the contact and "
    "account sync off); leave the integration connected.",
    "Work through the match list (the guard's match report): it shows which copy holds transactions.",
    "Pick survivors: in Books the copy with invoices, in CRM the copy with the pipeline history.",
    SUPPORT_TICKET,
    DEACTIVATE_NOT_DELETE,
    MERGE_CRM_LAST,
    "Re-enable the sync and watch its history screen for a week.",
)

# What the guard did, by decision. Observe mode is worded separately by the renderer.
DECISION_WORDS: dict[Decision, str] = {
    Decision.QUARANTINE: "held",
    Decision.FLAG: "flagged for review",
    Decision.ALLOW: "let through",
}


#: PARTNER_DELETED when the record deleted was the CRM one: the Books customer survives, unlinked, and a
#: CRM merge (which deletes the merged-away record) looks just like this when the guard cannot tell the two
#: CRM records are one customer (else it is CRM_MERGE_ORPHAN).
PARTNER_DELETED_IN_CRM = RuleText(
    title="CRM record gone, Books customer unlinked",
    what=(
        "A CRM record linked to a Books customer was deleted, or merged into another CRM record (a merge "
        "deletes the record merged away). The sync does not pass deletions or merges across: the Books "
        "customer stays in Books with its invoices, but nothing in CRM is linked to it any more."
    ),
    why=(
        "If the CRM record was merged into one that has a Books customer of its own, the customer now has "
        "two Books customers and new invoices may go to either. If it was deleted by mistake and is typed "
        "in again, the sync creates another Books customer for it, without the first one's history."
    ),
    steps=(
        "Find out why the CRM record went: merged into another record, deleted on purpose, or by mistake "
        "(CRM's recycle bin still holds a deleted record for a while).",
        "Merged: check whether the CRM record it was merged into has a Books customer of its own. If so, "
        + KEEP_THE_INVOICED_COPY[0].lower()
        + KEEP_THE_INVOICED_COPY[1:],
        "Merged: " + SUPPORT_TICKET[0].lower() + SUPPORT_TICKET[1:],
        "Deleted by mistake: restore it from CRM's recycle bin rather than typing it in again.",
        "Deleted on purpose, and you no longer trade with this customer: mark the Books customer inactive "
        "rather than deleting it, so its invoices stay on record.",
    ),
)


def text_for(rule: str) -> RuleText:
    """The texts for a rule code; an unknown code gets the generic texts (never an error)."""
    return CATALOGUE.get(rule.strip().upper(), GENERIC)


def text_for_records(rule: str, deleted_systems: Iterable[System]) -> RuleText:
    """The texts for a notice of ``rule`` whose deleted records are in ``deleted_systems``: the rule's own,
    or its variant for the side that was deleted."""
    if rule.strip().upper() == "PARTNER_DELETED" and System.CRM in set(deleted_systems):
        return PARTNER_DELETED_IN_CRM
    return text_for(rule)


def is_known(rule: str) -> bool:
    """Whether the catalogue has texts written for this rule code."""
    return rule.strip().upper() in CATALOGUE
