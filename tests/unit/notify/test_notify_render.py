"""What a bookkeeper reads: subject and body of each rule's message."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from notify_builders import BOOKS_ORG, CRM_ORG, books, crm, notice, pair

from sync_guard.config import DataCentre, Mode
from sync_guard.models.records import Module
from sync_guard.notify import (
    CATALOGUE,
    GENERIC,
    Decision,
    MessageKind,
    NoticeRecord,
    Role,
    Severity,
    ZohoLinks,
    aggregate,
    render_notice,
    text_for,
)
from sync_guard.notify.catalogue import DO_NOT_DISCONNECT, PARTNER_DELETED_IN_CRM, RuleText
from sync_guard.notify.examples import example_files
from sync_guard.notify.render import render_digest, subject_safe, wrap

ALL_RULES = sorted(CATALOGUE)
EMAIL = re.compile(r"\S+@\S+\.\w+")


def one_line(text: str) -> str:
    """The body with its wrapping undone, so phrases can be searched whole."""
    return " ".join(text.split())


def test_the_catalogue_covers_every_rule_of_the_engine() -> None:
    expected = {
        "NAME_DRIFT",
        "BOTH_SIDES_CREATED",
        "PARTNER_DELETED",
        "RECREATED_AFTER_DELETE",
        "CRM_MERGE_ORPHAN",
        "EMAIL_MISMATCH",
        "DISPLAY_NAME_COLLISION",
        "BROKEN_MAPPING",
        "DOUBLE_LINK",
        "MULTIPLICATION_STORM",
        "CROSSED_MAPPING",
    }
    assert expected <= set(CATALOGUE)


@pytest.mark.parametrize("rule", ALL_RULES)
def test_each_rule_renders_what_why_links_and_the_next_step(rule: str, links: ZohoLinks) -> None:
    records = (
        books("460000000000002", "Acme Limited", role=Role.NEW_COPY, has_transactions=False, held=True),
        crm("5725767000000000009", "Acme Ltd", role=Role.PARTNER, module=Module.CRM_CONTACTS),
    )
    message = render_notice(notice(rule, records=records), links)
    body = one_line(message.body)
    text = text_for(rule)
    assert one_line(text.what) in body
    assert one_line(text.why) in body
    # Both records, with links for the configured data centre.
    assert f"https://books.zoho.eu/app/{BOOKS_ORG}#/contacts/460000000000002" in body
    assert f"https://crm.zoho.eu/crm/org{CRM_ORG}/tab/Contacts/5725767000000000009" in body
    # Every step of the rule is there, numbered, and the last one always warns against disconnecting.
    for step in text.steps:
        filled = step.format(org_ids=f"CRM {CRM_ORG}, Books {BOOKS_ORG}")
        # as the notice lays it out (a command it quotes on a line of its own)
        assert one_line("\n".join(wrap(filled))) in body
    assert one_line(DO_NOT_DISCONNECT) in body
    assert "{" not in message.body  # no placeholder left unfilled
    assert message.rule == rule
    assert message.rules == (rule,)
    assert len(message.subject) < 100
    assert text.title in message.subject


@pytest.mark.parametrize(
    "text",
    [*CATALOGUE.values(), PARTNER_DELETED_IN_CRM, GENERIC],
    ids=[*CATALOGUE, "PARTNER_DELETED_IN_CRM", "GENERIC"],
)
def test_the_next_steps_point_up_to_the_records_they_follow(text: RuleText) -> None:
    # THE RECORDS (a digest's EXAMPLES) come before NEXT STEP; after it, only EVIDENCE and REFERENCE
    # (before: "Check that the records below are the same company", with nothing below but the evidence)
    for step in text.steps:
        assert "below" not in step


def test_a_step_names_the_records_where_the_message_shows_them(links: ZohoLinks) -> None:
    body = render_notice(notice("NAME_DRIFT"), links).body

    assert body.index("THE RECORDS") < body.index("1. Check that the records above are the same company.")


@pytest.mark.parametrize("rule", ALL_RULES)
def test_each_rule_points_to_the_playbook(rule: str, links: ZohoLinks) -> None:
    body = one_line(render_notice(notice(rule), links).body).lower()
    # The seed's playbook in a few non-negotiable phrases.
    assert "do not disconnect" in body
    assert "pause" in body
    if "support ticket" in body:
        assert f"crm {CRM_ORG}, books {BOOKS_ORG}" in body, "a ticket must quote both organisation ids"


def test_the_support_ticket_step_quotes_both_organisation_ids(links: ZohoLinks) -> None:
    body = one_line(render_notice(notice("BROKEN_MAPPING"), links).body)
    assert f"quote both organisation IDs (CRM {CRM_ORG}, Books {BOOKS_ORG})" in body
    assert "Merge duplicates in CRM last" in body
    assert "Never delete a copy that holds transactions or the CRM link" in body


def test_missing_org_ids_are_said_instead_of_broken_links() -> None:
    body = one_line(render_notice(notice("BROKEN_MAPPING"), ZohoLinks(data_centre=DataCentre.EU)).body)
    assert "Open in Zoho: no link until an admin sets the stack parameter ZohoBooksOrganizationId" in body
    # the ticket step tells finance where Zoho shows each id, in a sentence that still reads
    assert (
        "quote both organisation IDs (CRM's under Setup > Company Details, "
        "Books' under Settings > Organisation Profile), name the pattern"
    ) in body
    assert "not configured" not in body
    assert "))" not in body  # no aside nested in an aside
    assert "https://" not in body


def test_one_org_id_configured_is_quoted_and_the_other_is_pointed_to() -> None:
    crm_only = ZohoLinks(data_centre=DataCentre.EU, crm_org_id=CRM_ORG)
    books_only = ZohoLinks(data_centre=DataCentre.EU, books_organization_id=BOOKS_ORG)

    crm_body = one_line(render_notice(notice("BROKEN_MAPPING"), crm_only).body)
    books_body = one_line(render_notice(notice("BROKEN_MAPPING"), books_only).body)

    assert f"(CRM {CRM_ORG}, Books' under Settings > Organisation Profile)" in crm_body
    assert f"(CRM's under Setup > Company Details, Books {BOOKS_ORG})" in books_body
    assert f"https://books.zoho.eu/app/{BOOKS_ORG}#/contacts/" in books_body


def test_a_digest_without_org_ids_says_what_to_set_in_place_of_each_link() -> None:
    batch = [pair(n, "NAME_DRIFT") for n in range(4)]
    [message] = aggregate(batch, max_individual=3, links=ZohoLinks(data_centre=DataCentre.EU))
    assert message.kind is MessageKind.DIGEST
    assert "no link until an admin sets the stack parameter ZohoBooksOrganizationId" in message.body
    assert "(set " not in message.body


def test_the_copy_holding_transactions_is_named_as_the_one_to_keep(links: ZohoLinks) -> None:
    body = one_line(render_notice(notice("NAME_DRIFT"), links).body)
    assert 'Only the Books customer "Acme Ltd" (id 460000000000001) holds transactions' in body
    assert "(GBP 1,250.50 outstanding)" in body
    assert "It is the copy to keep." in body
    assert "Transactions: none recorded" in body


def test_two_copies_with_transactions_say_they_need_re_pointing(links: ZohoLinks) -> None:
    records = (
        books("1", "Acme Limited", has_transactions=True, outstanding=Decimal("10")),
        books("2", "Acme Ltd", has_transactions=True),
    )
    body = one_line(render_notice(notice("DOUBLE_LINK", records=records), links).body)
    assert "More than one copy holds transactions" in body
    assert "must be moved before it is deactivated" in body


def test_unknown_transactions_are_not_guessed(links: ZohoLinks) -> None:
    records = (books("1", "Acme Limited"), books("2", "Acme Ltd"))
    body = one_line(render_notice(notice(records=records), links).body)
    assert "Not known whether the Books copies hold transactions" in body
    assert "holds transactions (" not in body


def test_no_transactions_anywhere_is_the_cheap_moment(links: ZohoLinks) -> None:
    records = (books("1", "A", has_transactions=False), books("2", "B", has_transactions=False))
    body = one_line(render_notice(notice(records=records), links).body)
    assert "None of the live Books copies holds transactions yet" in body


def test_a_single_books_customer_with_transactions_is_kept_not_compared(links: ZohoLinks) -> None:
    records = (
        books("1", "Kestrel Ltd", has_transactions=True),
        crm("2", "Kestrel Ltd"),
        crm("3", "Kestrel Co"),
    )
    body = one_line(render_notice(notice("CROSSED_MAPPING", records=records), links).body)
    assert 'The Books customer "Kestrel Ltd" (id 1) holds transactions: keep it, and never delete it.' in body
    assert "copy to keep" not in body


def test_a_deleted_customer_with_transactions_is_called_out(links: ZohoLinks) -> None:
    records = (
        books("1", "Delta Ltd", has_transactions=False, held=True),
        books("2", "Delta Ltd", has_transactions=True, outstanding=Decimal("5120"), deleted=True),
    )
    body = one_line(render_notice(notice("RECREATED_AFTER_DELETE", records=records), links).body)
    assert (
        'The deleted Books customer "Delta Ltd" (id 2) held transactions (GBP 5,120.00 outstanding)' in body
    )
    assert "restore it or record its balance" in body
    assert "Status: deleted in Books" in body
    assert "Open in Zoho (deleted, the page may no longer open): https://books.zoho.eu/" in body
    assert "It is the copy to keep" not in body


def test_enforce_says_what_was_held_and_how(links: ZohoLinks) -> None:
    records = (
        books("1", "Acme Limited", held=True),
        crm("2", "Acme Limited", held=True),
        books("3", "Acme Ltd", has_transactions=True),
    )
    message = render_notice(notice(records=records, mode=Mode.ENFORCE), links)
    body = one_line(message.body)
    assert 'The guard held "Acme Limited" (Books), "Acme Limited" (CRM) back from the sync' in body
    assert "in CRM the record is tagged" in body
    assert "in Books the customer is marked inactive" in body
    assert "Nothing was deleted or merged" in body
    assert "would have" not in body
    assert "held by the guard" in body
    assert message.subject.endswith("held: Acme Limited")
    # into whichever record it is merged: the guard looks after a record it did not match too
    assert (
        "If you merge the held CRM record into another record, the guard removes the hold tag the merge may "
        "pass on to the record you keep, unless a hold of its own lists that record"
    ) in body


@pytest.mark.parametrize("rule", ["EMAIL_MISMATCH", "DISPLAY_NAME_COLLISION"])
@pytest.mark.parametrize(
    ("mode", "record", "released"),
    [
        (Mode.ENFORCE, crm("2", "Fiona Grant", held=True), True),
        (Mode.OBSERVE, crm("2", "Fiona Grant", held=True), False),
        (Mode.ENFORCE, crm("2", "Fiona Grant", hold_failed=True), False),
    ],
    ids=["held", "observe", "hold-failed"],
)
def test_a_release_is_advised_only_where_the_guard_held_the_record(
    rule: str, mode: Mode, record: NoticeRecord, released: bool, links: ZohoLinks
) -> None:
    records = (record, books("1", "Fiona Grant", has_transactions=True))

    body = one_line(render_notice(notice(rule, mode=mode, records=records), links).body)

    # observe mode wrote nothing to Zoho, and a failed hold left the record in the sync: there is no hold
    # to release, and waiting for one would leave the record as it is (before: advised all the same)
    next_step = body[body.index("NEXT STEP") :]
    assert ("an admin can release the hold" in next_step) is released


def test_a_hold_says_how_an_admin_undoes_it_for_each_record_held(links: ZohoLinks) -> None:
    records = (books("1", "Acme Limited", held=True), crm("2", "Acme Limited", held=True), books("3", "Acme"))

    body = render_notice(notice(records=records, mode=Mode.ENFORCE), links).body

    # each command whole, on a line of its own under the sentence it completes
    assert (
        "an admin can release the hold once you have decided:\n"
        "    sync-guard quarantines release books:1\n"
        "    sync-guard quarantines release crm:2\n"
    ) in body
    assert "release books:3" not in body


def test_a_digest_of_holds_says_how_an_admin_finds_them_to_undo(links: ZohoLinks) -> None:
    body = render_digest([notice(minute=m) for m in range(6)], links).body

    assert (
        "an admin can release each hold once you have decided, and lists the holds with: sync-guard "
        "quarantines list"
    ) in one_line(body)
    assert "\n    sync-guard quarantines list\n" in body


#: A command of the guard's command line as a notice shows it, alone on its line, nothing else there.
COMMAND_LINE = re.compile(r" +sync-guard( (<[^<>]+>|[^\s;()`<>]+))+")


def test_commands_stay_whole_on_lines_of_their_own_however_long_the_ids() -> None:
    # given every example notice, whose record ids are long enough for a command to cross column 100
    for name, text in example_files().items():
        for line in text.splitlines():
            # then a line that shows a command shows only it, and all of it (a copy-paste runs it)
            if "sync-guard " in line:
                assert COMMAND_LINE.fullmatch(line), f"{name}: {line!r}"


def test_a_hold_in_books_alone_says_nothing_of_crm_merges(links: ZohoLinks) -> None:
    records = (books("1", "Acme Limited", held=True), books("3", "Acme Ltd", has_transactions=True))
    body = one_line(render_notice(notice(records=records, mode=Mode.ENFORCE), links).body)
    assert "The guard held" in body
    assert "hold tag" not in body


def test_observe_says_what_would_have_been_done_and_that_nothing_changed(links: ZohoLinks) -> None:
    message = render_notice(notice(mode=Mode.OBSERVE), links)
    body = one_line(message.body)
    assert "observe mode, so it changed nothing in Zoho" in body
    assert 'In enforce mode it would have held "Acme Limited" (Books)' in body
    assert "held by the guard" not in body
    assert "would be held (observe mode)" in body
    assert "would hold (observe)" in message.subject


@pytest.mark.parametrize(
    ("decision", "words", "subject_words"),
    [
        (Decision.FLAG, "flagged this for your review and changed nothing", "to review"),
        (Decision.ALLOW, "let this change through", "for information"),
    ],
)
def test_flag_and_allow_change_nothing(
    decision: Decision, words: str, subject_words: str, links: ZohoLinks
) -> None:
    message = render_notice(notice(decision=decision), links)
    assert words in one_line(message.body)
    assert "The guard held" not in message.body
    assert subject_words in message.subject


def test_storm_mentions_the_circuit_breaker_per_mode(links: ZohoLinks) -> None:
    enforce = one_line(render_notice(notice("MULTIPLICATION_STORM", severity=Severity.CRITICAL), links).body)
    observe = one_line(render_notice(notice("MULTIPLICATION_STORM", mode=Mode.OBSERVE), links).body)
    assert "circuit breaker has tripped" in enforce
    assert "until an admin resets it" in enforce
    assert "would now hold every further new customer" in observe
    assert "has tripped" not in observe
    assert "if it has been disconnected, do not reconnect it yet" in enforce


def test_display_name_collision_explains_the_silent_failure(links: ZohoLinks) -> None:
    body = one_line(render_notice(notice("DISPLAY_NAME_COLLISION"), links).body)
    assert "error 3062" in body
    assert "stop syncing it" in body


def test_an_unknown_rule_gets_the_generic_texts(links: ZohoLinks) -> None:
    message = render_notice(notice("BRAND_NEW_RULE", decision=Decision.FLAG), links)
    body = one_line(message.body)
    assert one_line(GENERIC.what) in body
    assert "Rule: BRAND_NEW_RULE" in body
    assert message.rule == "BRAND_NEW_RULE"
    assert "BRAND_NEW_RULE" in message.subject


def test_customer_emails_are_in_the_body_but_never_in_the_subject(links: ZohoLinks) -> None:
    records = (
        books("1", "jane.doe@acme.co.uk", email="jane.doe@acme.co.uk", held=True),
        crm("2", "Jane Doe", email="jane@acme.example"),
    )
    message = render_notice(notice(records=records), links)
    assert "Email: jane.doe@acme.co.uk" in message.body
    assert "Email: jane@acme.example" in message.body
    assert not EMAIL.search(message.subject)
    assert "(email hidden)" in message.subject


def test_subjects_are_short_ascii_single_lines_and_keep_the_action() -> None:
    long_name = (
        "Société Générale des Très Longues Raisons Sociales et Associés\nInternational Holdings Limited"
    )
    message = render_notice(notice(records=(books("1", long_name, held=True),)), ZohoLinks())
    assert len(message.subject) < 100
    assert message.subject.isascii()
    assert "\n" not in message.subject
    assert "held: Societe Generale" in message.subject
    assert message.subject.endswith("...")
    # The body keeps the exact name.
    assert "Société Générale" in message.body


@pytest.mark.parametrize("rule", ALL_RULES)
def test_a_hold_that_failed_keeps_the_action_and_the_name_in_the_subject_whatever_the_title(
    rule: str, links: ZohoLinks
) -> None:
    records = (books("1", "Jane Smith Design Ltd", hold_failed=True), books("2", "Jane Smith Design"))

    subject = render_notice(notice(rule, records=records), links).subject

    # the record to hold by hand is named (before: under the longest titles, "NOT held, act by hand: J...")
    assert len(subject) < 100
    assert subject.startswith("Sync Guard WARNING: ")
    assert subject.endswith(" - NOT held, act by hand: Jane Smith Design Ltd")


def test_subject_safe_strips_control_characters_and_emails() -> None:
    assert subject_safe("A\tB\r\nC  d@e.co.uk") == "A B C (email hidden)"
    # as the logs and the evidence find them: an address of one label too, not a name with an "@"
    assert subject_safe("ops@localhost for Coffee@Work") == "(email hidden) for Coffee@Work"


def test_evidence_and_references_are_listed(links: ZohoLinks) -> None:
    item = notice(evidence=("same name after removing 'Limited'", "same email domain acme.co.uk"))
    body = render_notice(item, links).body
    assert "  - same name after removing 'Limited'" in body
    assert "  - same email domain acme.co.uk" in body
    assert f"Audit: {item.audit_ref}" in body
    assert f"Notification key: {item.dedup_key}" in body


def test_rendering_is_deterministic(links: ZohoLinks) -> None:
    assert render_notice(notice(), links) == render_notice(notice(), links)


def test_the_time_is_shown_in_utc(links: ZohoLinks) -> None:
    body = render_notice(notice(minute=5), links).body
    assert "When: 2026-05-01 12:05 UTC" in body


def test_a_partner_deleted_in_crm_tells_what_to_do_with_the_books_customer_left_behind(
    links: ZohoLinks,
) -> None:
    # The rule's own steps are for a deleted Books customer ("do not edit the surviving CRM record"); here
    # the CRM record went, perhaps merged into another, and the Books customer with the invoices stays.
    message = render_notice(
        notice(
            "PARTNER_DELETED",
            decision=Decision.FLAG,
            records=(
                crm("5725767000003000303", "Copperfield Studios Ltd", role=Role.DELETED),
                books("460000000011303", "Copperfield Studios Ltd", role=Role.SURVIVING_PARTNER),
            ),
        ),
        links,
    )
    body = one_line(message.body)
    assert "CRM record gone, Books customer unlinked" in message.subject
    assert "Rule: PARTNER_DELETED (CRM record gone, Books customer unlinked)" in body  # as the subject says
    assert "merged into another CRM record" in body
    assert "restore it from CRM's recycle bin" in body
    assert "Do not edit the surviving CRM record" not in body


def test_a_partner_deleted_in_books_keeps_the_rules_own_steps(links: ZohoLinks) -> None:
    message = render_notice(
        notice(
            "PARTNER_DELETED",
            decision=Decision.FLAG,
            records=(
                books("460000000011303", "Copperfield Studios Ltd", role=Role.DELETED, deleted=True),
                crm("5725767000003000303", "Copperfield Studios Ltd", role=Role.SURVIVING_PARTNER),
            ),
        ),
        links,
    )
    assert "Linked record deleted, partner still live" in message.subject
    assert "Do not edit the surviving CRM record" in one_line(message.body)
