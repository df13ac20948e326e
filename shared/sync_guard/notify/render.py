"""Turn notices into messages a bookkeeper can act on: a short subject and a plain-text body.

The body says what happened, shows every record with a link to it in Zoho, says which copy holds
transactions, what the guard did (or, in observe mode, would have done) and the next step. Customers' emails
may appear in the body, because finance needs them, but never in the subject (it travels into mail-client
previews and logs).
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sync_guard.config import Mode
from sync_guard.models.records import Module, System
from sync_guard.notify.catalogue import (
    DO_NOT_DISCONNECT,
    PLAYBOOK_STEPS,
    RELEASE_STEP,
    RuleText,
    is_known,
    text_for,
    text_for_records,
)
from sync_guard.notify.links import ZohoLinks
from sync_guard.notify.model import (
    Decision,
    FinanceNotice,
    MessageKind,
    NoticeRecord,
    RenderedMessage,
    Role,
    Severity,
)
from sync_guard.redact import hide_emails
from sync_guard.timefmt import utc_minute

SUBJECT_MAX = 99  # SNS: "less than 100 characters"
SUBJECT_PREFIX = "Sync Guard"
#: How much of the record's name a notice's subject keeps at least, cutting the end of a long title instead.
SUBJECT_NAME_KEPT = 24
MULTIPLE = "MULTIPLE"
# SNS refuses messages over 256 KB; digests are bounded by design, this is the backstop.
BODY_MAX_BYTES = 240_000
WIDTH = 100

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

INTRO = (
    "This message comes from Zoho Sync Guard, which watches the customer sync between Zoho CRM and "
    "Zoho Books for duplicates."
)


# --------------------------------------------------------------------------------------------- small words
def subject_safe(text: str) -> str:
    """Text fit for an SNS subject: no emails, no control characters, plain ASCII, single spaces.

    Accents are folded ("Müller" -> "Muller") because some mail paths mangle non-ASCII subjects; the body
    keeps the exact names.
    """
    text = hide_emails(text, "(email hidden)")
    text = _CONTROL.sub(" ", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(text.split())


def fit_subject(head: str, tail: str = "", separator: str = " - ", *, keep_tail: int = 0) -> str:
    """``head``, ``separator``, ``tail`` cut to the SNS limit; the head (severity, title) wins over a tail,
    but for its first ``keep_tail`` characters (the action and the start of the record's name): the end of
    a long title gives way to them."""
    head, tail = subject_safe(head), subject_safe(tail)
    if not tail:
        return head if len(head) <= SUBJECT_MAX else head[: SUBJECT_MAX - 3].rstrip() + "..."
    if len(head) + len(separator) + len(tail) <= SUBJECT_MAX:
        return head + separator + tail
    head_room = SUBJECT_MAX - len(separator) - min(len(tail), keep_tail)
    if len(head) > head_room:
        cut = head[: head_room - 3]
        head = (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip(" ,:;-") + "..."  # at a word
    head += separator
    subject = head + tail
    if len(subject) <= SUBJECT_MAX:
        return subject
    room = SUBJECT_MAX - len(head)
    if room >= 8:
        return head + tail[: room - 3].rstrip() + "..."
    return head.rstrip(" -")[: SUBJECT_MAX - 3].rstrip() + "..."


def money(amount: Decimal, currency: str | None) -> str:
    """``GBP 1,250.00``; the currency code first, as Books shows it in lists."""
    figure = f"{amount:,.2f}"
    return f"{currency} {figure}" if currency else figure


def describe_kind(record: NoticeRecord) -> str:
    """``Zoho Books customer``, ``Zoho CRM account``, ``Zoho CRM contact``."""
    if record.system is System.BOOKS:
        return "Zoho Books customer"
    return "Zoho CRM contact" if record.effective_module is Module.CRM_CONTACTS else "Zoho CRM account"


def short_system(record: NoticeRecord) -> str:
    return "Books" if record.system is System.BOOKS else "CRM"


def quoted_name(record: NoticeRecord) -> str:
    return f'"{record.display_name}"' if record.display_name else f"(no name, id {record.record_id})"


#: A command of the guard's command line quoted in a text: ``sync-guard`` and its words, up to a ``;``, a
#: bracket, a backtick or the full stop of its sentence (a placeholder such as ``<record kept>`` is one
#: word; no word ends in a full stop or a comma).
_COMMAND = r"\bsync-guard(?: (?:<[^<>]*>|[^\s;()`<>]*[^\s;()`<>.,]))+"
#: Commands one after another ("; "), with the brackets or backticks around them if any.
_COMMANDS = re.compile(rf"\((?:{_COMMAND})(?:; {_COMMAND})*\)|`{_COMMAND}`|{_COMMAND}(?:; {_COMMAND})*")


def wrap(text: str, indent: str = "  ", first: str | None = None) -> list[str]:
    """Wrap a paragraph for plain-text email; ``first`` replaces the indent of the first line.

    A command the text quotes (``sync-guard ...``) is never split across lines, where a copy-paste would
    break it: each goes whole on a line of its own, indented under the words before it (which end in a
    colon), without the brackets or backticks around it; the text goes on, on the line after.
    """
    lead = indent if first is None else first
    lines: list[str] = []
    rest = text
    while (found := _COMMANDS.search(rest)) is not None:
        before = rest[: found.start()].strip()
        if before:
            lines += _wrapped(before if before.endswith(":") else f"{before}:", lead, indent)
            lead = indent
        for command in re.findall(_COMMAND, found.group()):
            lines.append(f"{lead if not lines else indent + '  '}{command}")
        # a command that ended a sentence leaves its full stop behind
        rest = rest[found.end() :].lstrip(" .,;:")
        lead = indent
    if rest.strip() or not lines:
        lines += _wrapped(rest, lead, indent)
    return lines


def _wrapped(text: str, lead: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=lead,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def fill(step: str, links: ZohoLinks) -> str:
    """Put the organisation ids into a catalogue text: the configured ids, or where Zoho shows each."""
    crm = f"CRM {links.crm_org_id}" if links.crm_org_id else "CRM's under Setup > Company Details"
    books = (
        f"Books {links.books_organization_id}"
        if links.books_organization_id
        else "Books' under Settings > Organisation Profile"
    )
    return step.format(org_ids=f"{crm}, {books}")


def no_link(record: NoticeRecord, links: ZohoLinks) -> str:
    """Said in place of a link that needs an organisation id nobody configured."""
    return f"no link until an admin sets {links.missing_setting(record.system)}"


def rule_label(rule: str) -> str:
    """``NAME_DRIFT (Same customer, slightly different name)``; unknown codes just show the code."""
    if is_known(rule):
        return f"{rule} ({text_for(rule).title})"
    return rule


# ----------------------------------------------------------------------------------------- record blocks
def transactions_line(record: NoticeRecord) -> str:
    """What is known about the record's transactions and balance."""
    if record.has_transactions is None:
        if record.system is System.CRM:
            return "Transactions: kept in Books, not in CRM"
        words = "Transactions: not known, check the customer's Transactions tab in Books"
    elif record.has_transactions:
        words = "Transactions: YES, invoices or payments are recorded against this customer"
    else:
        words = "Transactions: none recorded"
    if record.outstanding is not None:
        words += f"; outstanding {money(record.outstanding, record.currency)}"
    return words


def status_line(record: NoticeRecord, mode: Mode) -> str | None:
    """Deleted, active/inactive in Zoho, and the guard's hold; None when nothing is known."""
    parts = []
    if record.deleted:
        parts.append(f"deleted in {short_system(record)}")
    elif record.active is not None:
        parts.append(f"{'active' if record.active else 'inactive'} in {short_system(record)}")
    if record.held:
        parts.append("held by the guard" if mode is Mode.ENFORCE else "would be held (observe mode)")
    elif record.hold_failed:
        parts.append("NOT held: the guard's hold failed")
    return "Status: " + ", ".join(parts) if parts else None


def record_block(index: int, record: NoticeRecord, mode: Mode, links: ZohoLinks) -> list[str]:
    """One record, several short lines, with its link."""
    role = f"{record.role[:1].upper()}{record.role[1:]}: " if record.role else ""
    lines = [f"  [{index}] {role}{describe_kind(record)} {quoted_name(record)}"]
    lines.append(f"      Id: {record.record_id}")
    if record.system is System.BOOKS or record.has_transactions is not None:
        lines.append(f"      {transactions_line(record)}")
    status = status_line(record, mode)
    if status:
        lines.append(f"      {status}")
    if record.email:
        lines.append(f"      Email: {record.email}")
    url = links.link(record)
    if url:
        note = " (deleted, the page may no longer open)" if record.deleted else ""
        lines.append(f"      Open in Zoho{note}: {url}")
    else:
        lines.append(f"      Open in Zoho: {no_link(record, links)}")
    return lines


def _balance(record: NoticeRecord) -> str:
    if record.outstanding is None:
        return ""
    return f" ({money(record.outstanding, record.currency)} outstanding)"


def _named(record: NoticeRecord) -> str:
    return f"{quoted_name(record)} (id {record.record_id})"


def transactions_summary(records: Sequence[NoticeRecord]) -> str:
    """Which copy holds transactions, and what that means for the choice of survivor."""
    books = [record for record in records if record.system is System.BOOKS]
    live = [record for record in books if not record.deleted]
    with_money = [record for record in live if record.has_transactions]
    unknown = [record for record in live if record.has_transactions is None]
    sentences: list[str] = []
    for record in books:
        if record.deleted and record.has_transactions:
            sentences.append(
                f"The deleted Books customer {_named(record)} held transactions{_balance(record)}: that "
                "history is not on any live copy, so restore it or record its balance before anything else."
            )
    if len(with_money) == 1:
        keeper = with_money[0]
        if len(live) > 1:
            sentences.append(
                f"Only the Books customer {_named(keeper)} holds transactions{_balance(keeper)}. "
                "It is the copy to keep."
            )
        else:
            sentences.append(
                f"The Books customer {_named(keeper)} holds transactions{_balance(keeper)}: "
                "keep it, and never delete it."
            )
        if unknown:
            sentences.append(
                "For " + ", ".join(quoted_name(r) for r in unknown) + " it is not known: check in Books."
            )
    elif len(with_money) > 1:
        names = " and ".join(_named(record) for record in with_money)
        sentences.append(
            f"More than one copy holds transactions: {names}. Books cannot cleanly merge two customers that "
            "both carry transactions: the transactions of one must be moved before it is deactivated. This "
            "is fiddly work; consider handing it to someone who has done it before."
        )
    elif unknown:
        sentences.append(
            "Not known whether the Books copies hold transactions: open each one and check its Transactions "
            "tab before deciding which to keep."
        )
    elif live:
        sentences.append(
            "None of the live Books copies holds transactions yet, so nothing has been invoiced against the "
            "duplicate: this is the cheapest moment to fix it."
        )
    if not sentences:
        sentences += [_deleted_without_money(record) for record in books if record.deleted]
    if not sentences:
        sentences.append(
            "No Books customer is involved yet; nothing has been invoiced against these records."
        )
    return " ".join(sentences)


def _deleted_without_money(record: NoticeRecord) -> str:
    """A deleted Books customer not known to hold transactions: named, not passed over as "no customer"."""
    if record.has_transactions is None:
        return (
            f"Not known whether the deleted Books customer {_named(record)} held transactions: check Books' "
            "deleted records, or your last export, for its balance. No live Books customer is involved yet."
        )
    return (
        f"The deleted Books customer {_named(record)} held no transactions. No live Books customer is "
        "involved yet."
    )


# ------------------------------------------------------------------------------------- what the guard did
#: Whether a CRM merge passes the merged-away record's tags to the record kept is not documented by Zoho
#: (docs/simulator.md, ``merge_carries_tags``). When a held CRM record is deleted, the guard removes the hold
#: tag where no hold lists it from the records it matched (``ActionKind.CLEAR_CARRIED_HOLD_TAG``) and from
#: the records CRM changed at that moment, the record kept by a merge into any other among them
#: (``ActionKind.SWEEP_CARRIED_HOLD_TAG``). The record kept's audit trail says what was done.
MERGE_CARRIES_TAG = (
    "If you merge the held CRM record into another record, the guard removes the hold tag the merge may "
    "pass on to the record you keep, unless a hold of its own lists that record; that record's audit trail "
    "says so."
)


def _held_words(held: Sequence[NoticeRecord]) -> str:
    sides = []
    if any(record.system is System.CRM for record in held):
        sides.append("in CRM the record is tagged so it leaves the view the sync uses")
    if any(record.system is System.BOOKS for record in held):
        sides.append("in Books the customer is marked inactive")
    names = ", ".join(f"{quoted_name(r)} ({short_system(r)})" for r in held) if held else "the new copy"
    return names + " back from the sync" + (": " + "; ".join(sides) if sides else "")


def _release_commands(held: Sequence[NoticeRecord]) -> str:
    """The admin's command that undoes each hold, for the record it names."""
    return "; ".join(f"sync-guard quarantines release {record.ref}" for record in held)


def _failed_hold_words(record: NoticeRecord) -> str:
    """A hold that did not happen, and the step that can still make it happen."""
    by_hand = (
        "add the guard's hold tag in CRM, which takes it out of the view the sync uses"
        if record.system is System.CRM
        else "mark the customer inactive in Books, unless it holds transactions by then: an invoiced "
        "customer is the copy to keep and is never held"
    )
    name = f"{quoted_name(record)} ({short_system(record)})"
    if record.hold_retryable:
        return (
            f"The guard tried to hold {name} back from the sync, but Zoho kept failing (an outage or the "
            f"API limit), so nothing holds it back yet: {by_hand}, or ask an admin to retry the hold once "
            "Zoho answers again (sync-guard replay-dlq --queue outbox)."
        )
    return (
        f"The guard tried to hold {name} back from the sync and the hold was refused (the audit trail "
        f"says why, for example that the record no longer exists, or that the Books customer was invoiced "
        f"meanwhile), so nothing holds it back and retrying will not help: check the record in Zoho and, if "
        f"it is still there, hold it by hand ({by_hand})."
    )


def guard_action(notice: FinanceNotice, text: RuleText) -> str:
    """What the guard did, or in observe mode what it would have done. Never deletes, never merges."""
    held, failed = notice.held_records, notice.failed_holds
    if notice.decision is Decision.QUARANTINE:
        if notice.mode is Mode.ENFORCE and failed:
            words = " ".join(_failed_hold_words(record) for record in failed)
            if held:
                words += f" The guard did hold {_held_words(held)}."
        elif notice.mode is Mode.ENFORCE:
            words = (
                f"The guard held {_held_words(held)}. Nothing was deleted or merged, and an admin can "
                f"release the hold once you have decided ({_release_commands(held)})."
            )
            if any(record.system is System.CRM for record in held):
                words += " " + MERGE_CARRIES_TAG
        else:
            words = (
                "The guard is in observe mode, so it changed nothing in Zoho. In enforce mode it would have "
                f"held {_held_words(held)}."
            )
    elif notice.decision is Decision.FLAG:
        words = "The guard flagged this for your review and changed nothing in Zoho."
    else:
        words = (
            "The guard let this change through and changed nothing in Zoho; this message is for information."
        )
    note = text.enforce_note if notice.mode is Mode.ENFORCE else text.observe_note
    return f"{words} {note}".strip()


# ----------------------------------------------------------------------------------------- single notice
def _section(title: str, lines: Iterable[str]) -> list[str]:
    return [title, *lines, ""]


def _steps(steps: Sequence[str], links: ZohoLinks, *, held: bool) -> list[str]:
    """The numbered next steps, the warning against disconnecting last; the step that has an admin release
    the hold only where the guard ``held`` a record in Zoho."""
    kept = [step for step in steps if held or step != RELEASE_STEP]
    lines: list[str] = []
    for number, step in enumerate([*kept, DO_NOT_DISCONNECT], start=1):
        lines.extend(wrap(fill(step, links), indent="     ", first=f"  {number}. "))
    return lines


def _cap(body: str) -> str:
    encoded = body.encode()
    if len(encoded) <= BODY_MAX_BYTES:
        return body
    cut = encoded[:BODY_MAX_BYTES].decode(errors="ignore")
    return cut + "\n\n(Message shortened; the audit trail has everything.)\n"


def notice_subject(notice: FinanceNotice, text: RuleText) -> str:
    """``Sync Guard WARNING: Same customer, slightly different name - "Acme Limited" held``."""
    title = text.title if is_known(notice.rule) else notice.rule
    head = f"{SUBJECT_PREFIX} {notice.severity.value.upper()}: {title}"
    primary = notice.failed_holds[:1] or notice.held_records[:1] or notice.records[:1]
    name = (primary[0].display_name or primary[0].ref) if primary else ""
    if notice.decision is Decision.QUARANTINE and notice.mode is Mode.ENFORCE and notice.failed_holds:
        action = "NOT held, act by hand"
    elif notice.decision is Decision.QUARANTINE:
        action = "held" if notice.mode is Mode.ENFORCE else "would hold (observe)"
    elif notice.decision is Decision.FLAG:
        action = "to review"
    else:
        action = "for information"
    # The action goes before the name so that a long name, not the action, is what gets cut; and of the
    # name, enough to find the record by is kept, a long title giving way.
    tail = f"{action}: {name}" if name else action
    return fit_subject(head, tail, keep_tail=len(action) + 2 + SUBJECT_NAME_KEPT)


def render_notice(notice: FinanceNotice, links: ZohoLinks) -> RenderedMessage:
    """One notice as one message."""
    text = text_for_records(notice.rule, (r.system for r in notice.records if r.role == Role.DELETED))
    body: list[str] = [*wrap(INTRO, indent=""), ""]
    body += [
        # The title the subject gives (a rule's variant for the records has its own: PARTNER_DELETED's
        # CRM-side one), not the rule's general one.
        f"Rule: {notice.rule} ({text.title})" if is_known(notice.rule) else f"Rule: {notice.rule}",
        f"Severity: {notice.severity.value}    Decision: {notice.decision.value}    "
        f"Mode: {notice.mode.value}",
        f"When: {utc_minute(notice.occurred_at)}",
        "",
    ]
    body += _section("WHAT HAPPENED", wrap(text.what))
    body += _section("WHY IT MATTERS", wrap(text.why))
    records: list[str] = []
    for index, record in enumerate(notice.records, start=1):
        records += record_block(index, record, notice.mode, links)
    body += _section("THE RECORDS", records or ["  (no records were named)"])
    if text.records_are_copies:
        body += _section("WHICH COPY HOLDS TRANSACTIONS", wrap(transactions_summary(notice.records)))
    body += _section("WHAT THE GUARD DID", wrap(guard_action(notice, text)))
    held = (
        notice.decision is Decision.QUARANTINE and notice.mode is Mode.ENFORCE and bool(notice.held_records)
    )
    body += _section("NEXT STEP", _steps(text.steps, links, held=held))
    if notice.evidence:
        body += _section(
            "EVIDENCE", [line for item in notice.evidence for line in wrap(item, "    ", "  - ")]
        )
    body += _section("REFERENCE", _reference_lines(notice))
    return RenderedMessage(
        kind=MessageKind.NOTICE,
        subject=notice_subject(notice, text),
        body=_cap("\n".join(body).rstrip() + "\n"),
        severity=notice.severity,
        rule=notice.rule,
        rules=(notice.rule,),
        dedup_keys=(notice.dedup_key,),
    )


def _reference_lines(notice: FinanceNotice) -> list[str]:
    lines = []
    if notice.event_id:
        lines.append(f"  Event: {notice.event_id}")
    if notice.audit_ref:
        lines.append(f"  Audit: {notice.audit_ref}")
    lines.append(f"  Notification key: {notice.dedup_key}")
    return lines


# ----------------------------------------------------------------------------------------------- digests
def highest_severity(notices: Iterable[FinanceNotice]) -> Severity:
    """The most urgent severity among the notices (info when there are none)."""
    return max(
        (notice.severity for notice in notices), key=lambda severity: severity.rank, default=Severity.INFO
    )


def digest_rule(notices: Sequence[FinanceNotice], storm_rules: frozenset[str]) -> str:
    """The ``rule`` attribute of a digest: the storm's rule, else the single rule, else ``MULTIPLE``."""
    rules = {notice.rule for notice in notices}
    storms = sorted(rules & storm_rules)
    if storms:
        return storms[0]
    return rules.pop() if len(rules) == 1 else MULTIPLE


def _example_line(number: int, notice: FinanceNotice, links: ZohoLinks) -> list[str]:
    lines = [f"    {number}. {utc_minute(notice.occurred_at)}, {notice.decision.value}"]
    for record in notice.records:
        facts = [short_system(record)]
        if record.role:
            facts.append(record.role)
        if record.deleted:
            facts.append("deleted")
        if record.held:
            facts.append("held" if notice.mode is Mode.ENFORCE else "would be held")
        elif record.hold_failed:
            facts.append("NOT held: hold failed")
        if record.has_transactions:
            facts.append("HOLDS TRANSACTIONS")
        elif record.has_transactions is False:
            facts.append("no transactions")
        url = links.link(record) or no_link(record, links)
        lines.append(f"       {quoted_name(record)} [{', '.join(facts)}]")
        lines.append(f"         {url}")
    return lines


def _held_count(notices: Sequence[FinanceNotice], mode: Mode) -> int:
    return sum(
        len(notice.held_records)
        for notice in notices
        if notice.decision is Decision.QUARANTINE and notice.mode is mode
    )


def _digest_action(notices: Sequence[FinanceNotice], storm_text: RuleText | None) -> str:
    decisions = Counter(notice.decision for notice in notices)
    held, would_hold = _held_count(notices, Mode.ENFORCE), _held_count(notices, Mode.OBSERVE)
    observe_only = all(notice.mode is Mode.OBSERVE for notice in notices)
    sentences: list[str] = []
    if held:
        sentences.append(
            f"The guard held {held} record(s) back from the sync (CRM: tagged out of the synced view; Books: "
            "marked inactive). Nothing was deleted or merged, and an admin can release each hold once you "
            "have decided, and lists the holds with sync-guard quarantines list."
        )
    if observe_only:
        sentences.append("The guard is in observe mode, so it changed nothing in Zoho.")
    if would_hold:
        sentences.append(f"In enforce mode it would have held {would_hold} record(s) back from the sync.")
    if decisions[Decision.FLAG]:
        sentences.append(
            f"{decisions[Decision.FLAG]} alert(s) were flagged for review without changing anything in Zoho."
        )
    if decisions[Decision.ALLOW]:
        sentences.append(
            f"{decisions[Decision.ALLOW]} change(s) were let through and are listed for information."
        )
    if storm_text is not None:
        sentences.append(storm_text.observe_note if observe_only else storm_text.enforce_note)
    return " ".join(sentence for sentence in sentences if sentence)


def render_digest(
    notices: Sequence[FinanceNotice],
    links: ZohoLinks,
    *,
    storm_rules: frozenset[str] = frozenset({"MULTIPLICATION_STORM"}),
    max_examples: int = 3,
) -> RenderedMessage:
    """Several notices as one message: counts per rule, the first few examples with links, one next step.

    ``notices`` are expected in the order they should be listed (``aggregate`` sorts them).
    """
    if not notices:
        raise ValueError("a digest needs at least one notice")
    rule = digest_rule(notices, storm_rules)
    severity = highest_severity(notices)
    by_rule: dict[str, list[FinanceNotice]] = {}
    for notice in notices:
        by_rule.setdefault(notice.rule, []).append(notice)
    # Most urgent kind first, then the biggest, then by code: stable for the same input.
    order = sorted(
        by_rule, key=lambda code: (-highest_severity(by_rule[code]).rank, -len(by_rule[code]), code)
    )
    storm_text = text_for(rule) if rule in storm_rules else None
    single = len(by_rule) == 1
    lead = storm_text or (text_for(rule) if single else None)

    body: list[str] = [*wrap(INTRO, indent=""), ""]
    modes = sorted({notice.mode.value for notice in notices})
    first, last = min(n.occurred_at for n in notices), max(n.occurred_at for n in notices)
    body += [
        f"Digest of {len(notices)} alerts: {rule_label(order[0])}"
        if single
        else f"Digest of {len(notices)} alerts of {len(order)} kinds",
        f"Highest severity: {severity.value}    Mode: {'/'.join(modes)}",
        f"Between: {utc_minute(first)} and {utc_minute(last)}",
        "",
    ]
    if lead is not None:
        happened = lead.what
        if not single:
            happened += (
                " The alerts raised while it was going on are collected here rather than sent one by one."
            )
        body += _section("WHAT HAPPENED", wrap(happened))
        body += _section("WHY IT MATTERS", wrap(lead.why))
    else:
        body += _section(
            "WHAT HAPPENED",
            wrap(
                f"The guard raised {len(notices)} alerts in one go, which usually means a backfill or a bulk "
                "change in CRM or Books. They are collected in this one message instead of being sent one "
                "by one."
            ),
        )
        body += _section(
            "WHY IT MATTERS",
            wrap(
                "Every duplicate that gets invoiced splits a customer's balance and history across two "
                "records. Sorting them out in the right order, before more invoices are raised, keeps the "
                "work small."
            ),
        )
    counts = [
        f"  {code:<24} {len(by_rule[code]):>5}  {highest_severity(by_rule[code]).value:<8}  "
        f"{text_for(code).title if is_known(code) else 'unknown rule'}"
        for code in order
    ]
    body += _section("COUNTS BY RULE", counts)
    examples: list[str] = []
    for code in order:
        group = by_rule[code]
        examples.append(f"  {rule_label(code)}: {len(group)}")
        for number, notice in enumerate(group[:max_examples], start=1):
            examples += _example_line(number, notice, links)
        if len(group) > max_examples:
            examples.append(
                f"    ... and {len(group) - max_examples} more "
                f"(audit trail: query by rule {code} and time range)."
            )
    body += _section(f"EXAMPLES (the first {max_examples} of each kind)", examples)
    body += _section("WHAT THE GUARD DID", wrap(_digest_action(notices, storm_text)))
    steps = lead.steps if lead is not None else PLAYBOOK_STEPS
    body += _section("NEXT STEP", _steps(steps, links, held=_held_count(notices, Mode.ENFORCE) > 0))
    refs = [
        f"  {notice.audit_ref or notice.event_id or notice.dedup_key}" for notice in notices[:max_examples]
    ]
    body += _section("REFERENCE (first alerts)", refs)

    return RenderedMessage(
        kind=MessageKind.DIGEST,
        subject=digest_subject(notices, rule, severity, storm_text, lead),
        body=_cap("\n".join(body).rstrip() + "\n"),
        severity=severity,
        rule=rule,
        rules=tuple(sorted(by_rule)),
        dedup_keys=tuple(notice.dedup_key for notice in notices),
    )


def digest_subject(
    notices: Sequence[FinanceNotice],
    rule: str,
    severity: Severity,
    storm_text: RuleText | None,
    lead: RuleText | None,
) -> str:
    """``Sync Guard CRITICAL: Duplicate storm... (240 alerts)`` or ``... 57 possible duplicates, 4 kinds``."""
    head = f"{SUBJECT_PREFIX} {severity.value.upper()}: "
    kinds = len({notice.rule for notice in notices})
    if storm_text is not None:
        return fit_subject(head + storm_text.title, f"{len(notices)} alerts in one digest")
    if lead is not None:
        return fit_subject(head + f"{len(notices)} x {lead.title}")
    if rule != MULTIPLE:
        return fit_subject(head + f"{len(notices)} x {rule}")
    return fit_subject(head + f"{len(notices)} possible duplicates, {kinds} kinds, in one digest")
