"""Fixed example notices, one per rule plus a storm and a backfill, rendered into ``events/notifications/``.

``scripts/render_notification_examples.py`` writes the files and a test re-renders them, so the checked-in
examples always show what the code really sends. Names, ids, amounts and addresses are invented. Each rule's
evidence is the rule's own: the rule evaluated on the example's records as the guard would know them
(``_finding``), its matcher lines written by the real matcher. Only the stall notices' and the unknown
rule's are written here;
the stall check's come from its own evidence and notice code (``sync_guard.reconcile.stall``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sync_guard.admin.model import Hold
from sync_guard.config import DataCentre, Mode, Settings
from sync_guard.guard.admin import admin_entry_id
from sync_guard.guard.context import Candidate, RuleContext, StormStatus
from sync_guard.guard.engine import NOT_HELD_INVOICED
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import Finding, PairSource, RecordState
from sync_guard.models.events import GuardEvent, Operation
from sync_guard.models.records import Module, PartyRecord, System
from sync_guard.notify.aggregate import aggregate
from sync_guard.notify.links import ZohoLinks
from sync_guard.notify.model import Decision, FinanceNotice, NoticeRecord, RenderedMessage, Role, Severity
from sync_guard.notify.render import render_notice
from sync_guard.reconcile.ports import ACTOR as STALL_ACTOR
from sync_guard.reconcile.reminder import Waiting, waiting_evidence, waiting_notice
from sync_guard.reconcile.stall import (
    RESUMED_RULE,
    STALLED_RULE,
    Edit,
    StallEpisode,
    StallVerdict,
    carried_differences,
    resumed_evidence,
    stall_notice,
    stalled_evidence,
)
from sync_guard.rules.catalogue import BY_CODE

EXAMPLE_LINKS = ZohoLinks(
    data_centre=DataCentre.EU, crm_org_id="20071234567", books_organization_id="20081234567"
)
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
# The real matcher, reading phone numbers without a country code as the guard does by default.
_MATCHER = LibraryMatcher(default_region=Settings.model_fields["default_phone_region"].default)


def _crm(record_id: str, name: str, role: str, **kwargs: object) -> NoticeRecord:
    return NoticeRecord.model_validate(
        {"system": System.CRM, "record_id": record_id, "display_name": name, "role": role} | kwargs
    )


def _books(record_id: str, name: str, role: str, **kwargs: object) -> NoticeRecord:
    return NoticeRecord.model_validate(
        {
            "system": System.BOOKS,
            "record_id": record_id,
            "display_name": name,
            "role": role,
            "currency": "GBP",
        }
        | kwargs
    )


def _invoiced(record_id: str, name: str, role: str, outstanding: str, **kwargs: object) -> NoticeRecord:
    """An active Books customer with invoices against it and ``outstanding`` GBP owed."""
    return _books(
        record_id,
        name,
        role,
        has_transactions=True,
        outstanding=Decimal(outstanding),
        active=True,
        **kwargs,
    )


def _held_new_copy(record_id: str, name: str, role: str = Role.NEW_COPY, **kwargs: object) -> NoticeRecord:
    """A duplicate the guard has just held: uninvoiced, marked inactive."""
    return _books(
        record_id,
        name,
        role,
        has_transactions=False,
        outstanding=Decimal("0"),
        active=False,
        held=True,
        **kwargs,
    )


def _notice(
    rule: str, severity: Severity, decision: Decision, mode: Mode, n: int, **kwargs: object
) -> FinanceNotice:
    return FinanceNotice.model_validate(
        {
            "rule": rule,
            "severity": severity,
            "decision": decision,
            "mode": mode,
            "event_id": f"evt_example{n:04d}",
            "audit_ref": f"audit#2026-03-02#evt_example{n:04d}",
            "occurred_at": _at(n),
        }
        | kwargs
    )


def _notice_of(
    finding: Finding,
    severity: Severity,
    decision: Decision,
    n: int,
    *,
    records: tuple[NoticeRecord, ...],
    mode: Mode = Mode.ENFORCE,
    **kwargs: object,
) -> FinanceNotice:
    """Example ``n``'s notice of what a rule found: its code and its own evidence lines."""
    return _notice(
        finding.code, severity, decision, mode, n, records=records, evidence=finding.evidence, **kwargs
    )


def _at(n: int) -> datetime:
    """When example ``n``'s event happened (and its notice is dated)."""
    return T0 + timedelta(minutes=n)


def _party(record: NoticeRecord, **facts: object) -> PartyRecord:
    """The record as the guard knows it: what the notice shows of it, and ``facts`` the notice does not show
    (a phone, a postcode, its Zoho link) that the rule or the matcher reads."""
    default_module = Module.CRM_ACCOUNTS if record.system is System.CRM else Module.BOOKS_CUSTOMERS
    return PartyRecord.model_validate(
        {
            "system": record.system,
            "module": record.module or default_module,
            "record_id": record.record_id,
            "name": record.display_name,
            "email": record.email,
            "has_transactions": record.has_transactions,
            "outstanding": record.outstanding,
            "currency": record.currency,
        }
        | facts
    )


def _state(record: PartyRecord, **facts: object) -> RecordState:
    """The shadow's state of ``record`` (its pair, whether it was deleted)."""
    return RecordState.model_validate({"record": record, "version": 0} | facts)


def _finding(
    rule: str,
    record: PartyRecord,
    *,
    at: datetime,
    operation: Operation = Operation.CREATE,
    previous: RecordState | None = None,
    partner: RecordState | None = None,
    link_target: RecordState | None = None,
    linked_books: Sequence[RecordState] = (),
    former_link_partner: RecordState | None = None,
    candidates: Sequence[RecordState] = (),
    storm: StormStatus | None = None,
) -> Finding:
    """What ``rule`` finds when the event's ``record`` is created, edited or deleted (``operation``) at
    ``at`` in this context, each candidate scored against it by the real matcher. Raises if the rule does
    not fire: records the rule would not report make no example of it."""
    event = GuardEvent.workflow(record, operation, event_id=f"evt_{record.record_id}", received_at=at)
    ctx = RuleContext(
        event=event,
        record=record,
        previous=previous,
        partner=partner,
        link_target=link_target,
        linked_books=tuple(linked_books),
        former_link_partner=former_link_partner,
        candidates=tuple(Candidate(state, _MATCHER.compare(record, state.record)) for state in candidates),
        storm=storm or StormStatus(),
        name_key=_MATCHER.name_key,
        now=at,
    )
    finding = BY_CODE[rule].evaluate(ctx)
    if finding is None or finding.code != rule:
        raise ValueError(f"{rule} does not fire on its example's records")
    return finding


def _name_drift() -> FinanceNotice:
    new = _held_new_copy("460000000026101", "Acme Limited", email="finance@acme.co.uk")
    existing = _invoiced(
        "460000000011002", "Acme Ltd", Role.EXISTING, "12500.00", email="accounts@acme.co.uk"
    )
    crm = _crm("5725767000003000064", "Acme Limited", Role.PARTNER)
    # The sync made the new copy from the CRM account: Zoho pairs by exact name, and 'Acme Ltd' is not it.
    finding = _finding(
        "NAME_DRIFT",
        _party(new, postcode="SW1A 1AA", linked_crm_id=crm.record_id),
        at=_at(1),
        link_target=_state(_party(crm), partner=f"books:{new.record_id}"),
        candidates=[_state(_party(existing, postcode="SW1A 1AA"))],
    )
    return _notice_of(finding, Severity.WARNING, Decision.QUARANTINE, 1, records=(new, existing, crm))


def _both_sides_created() -> FinanceNotice:
    crm = _crm("5725767000003000201", "Bramble & Hart LLP", Role.NEW_COPY)
    books = _invoiced(
        "460000000026202", "Bramble and Hart LLP", Role.EXISTING, "840.00", email="finance@bramblehart.co.uk"
    )
    # The bookkeeper raised the customer (and its first invoice) 14 minutes before sales raised the account.
    finding = _finding(
        "BOTH_SIDES_CREATED",
        _party(crm, vat="GB123456789", created_at=_at(2)),
        at=_at(2),
        candidates=[_state(_party(books, vat="GB123456789", created_at=_at(2 - 14)))],
    )
    return _notice_of(finding, Severity.WARNING, Decision.FLAG, 2, records=(crm, books))


def _partner_deleted() -> FinanceNotice:
    books = _books(
        "460000000011303",
        "Copperfield Studios Ltd",
        Role.DELETED,
        has_transactions=True,
        outstanding=Decimal("2310.50"),
        deleted=True,
    )
    crm = _crm("5725767000003000303", "Copperfield Studios Ltd", Role.SURVIVING_PARTNER)
    deleted = _party(books, linked_crm_id=crm.record_id)
    finding = _finding(
        "PARTNER_DELETED",
        deleted,
        at=_at(3),
        operation=Operation.DELETE,
        previous=_state(deleted, partner=f"crm:{crm.record_id}"),
        partner=_state(_party(crm), partner=deleted.ref),
    )
    return _notice_of(finding, Severity.WARNING, Decision.FLAG, 3, records=(books, crm))


def _recreated_after_delete() -> FinanceNotice:
    new = _books(
        "460000000026404", "Delta Freight Ltd", Role.NEW_COPY, has_transactions=False, active=False, held=True
    )
    old = _books(
        "460000000011404",
        "Delta Freight Ltd",
        Role.DELETED,
        has_transactions=True,
        outstanding=Decimal("5120.00"),
        deleted=True,
    )
    crm = _crm("5725767000003000404", "Delta Freight Ltd", Role.PARTNER)
    deleted_at = datetime(2026, 2, 27, 16, 5, tzinfo=UTC)
    # An edit of the CRM account today made the sync create the customer deleted last week again.
    finding = _finding(
        "RECREATED_AFTER_DELETE",
        _party(new, linked_crm_id=crm.record_id, created_at=_at(4)),
        at=_at(4),
        link_target=_state(_party(crm), partner=f"books:{new.record_id}"),
        candidates=[
            _state(
                _party(old, modified_at=deleted_at - timedelta(days=30)),
                deleted=True,
                deleted_at=deleted_at,
                former_partner=f"crm:{crm.record_id}",
            )
        ],
    )
    return _notice_of(finding, Severity.CRITICAL, Decision.QUARANTINE, 4, records=(new, old, crm))


def _crm_merge_orphan() -> FinanceNotice:
    orphan = _invoiced("460000000011505", "Evergreen Dental (Leeds)", Role.ORPHAN, "430.00")
    merged = _crm("5725767000003000507", "Evergreen Dental Leeds", Role.DELETED, deleted=True)
    survivor = _crm("5725767000003000505", "Evergreen Dental", Role.EXISTING)
    survivor_customer = _invoiced("460000000011506", "Evergreen Dental", Role.EXISTING, "1975.00")
    # One practice: the two CRM accounts share its phone and postcode, and sales merged them.
    practice = {"phone": "0113 496 0505", "postcode": "LS1 4AP"}
    merged_party = _party(merged, **practice)
    finding = _finding(
        "CRM_MERGE_ORPHAN",
        merged_party,
        at=_at(5),
        operation=Operation.DELETE,
        previous=_state(merged_party, partner=f"books:{orphan.record_id}"),
        partner=_state(_party(orphan, linked_crm_id=merged.record_id), partner=merged_party.ref),
        candidates=[_state(_party(survivor, **practice), partner=f"books:{survivor_customer.record_id}")],
    )
    return _notice_of(
        finding, Severity.WARNING, Decision.FLAG, 5, records=(orphan, merged, survivor, survivor_customer)
    )


def _email_mismatch() -> FinanceNotice:
    crm = _crm(
        "5725767000003000606",
        "Fiona Grant",
        Role.NEW_OR_EDITED,
        module=Module.CRM_CONTACTS,
        email="fiona.grant@grant-design.co.uk",
        held=True,
    )
    books = _invoiced("460000000011606", "Fiona Grant", Role.EXISTING, "0.00", email="fiona@grantdesign.com")
    person = {"kind": "person", "first_name": "Fiona", "last_name": "Grant", "phone": "+44 20 7946 0018"}
    finding = _finding(
        "EMAIL_MISMATCH", _party(crm, **person), at=_at(6), candidates=[_state(_party(books, **person))]
    )
    return _notice_of(
        finding, Severity.WARNING, Decision.QUARANTINE, 6, records=(crm, books), mode=Mode.OBSERVE
    )


def _display_name_collision() -> FinanceNotice:
    crm = _crm("5725767000003000707", "Greenway Services", Role.NEW_OR_RENAMED, held=True)
    books = _invoiced("460000000011707", "Greenway Services", Role.EXISTING, "660.00")
    # Another firm of the same name, created in Books by the bookkeeper.
    finding = _finding("DISPLAY_NAME_COLLISION", _party(crm), at=_at(7), candidates=[_state(_party(books))])
    return _notice_of(finding, Severity.WARNING, Decision.QUARANTINE, 7, records=(crm, books))


def _broken_mapping() -> FinanceNotice:
    new = _books(
        "460000000026808",
        "Harbour Lights Ltd",
        Role.NEW_COPY,
        has_transactions=False,
        active=False,
        held=True,
    )
    existing = _invoiced("460000000011808", "Harbour Lights Ltd", Role.EXISTING, "3400.00")
    crm = _crm("5725767000003000808", "Harbour Lights Ltd", Role.PARTNER)
    # The existing customer lost Zoho's link to the CRM account this morning; the sync made a new one.
    finding = _finding(
        "BROKEN_MAPPING",
        _party(new, linked_crm_id=crm.record_id),
        at=_at(8),
        link_target=_state(_party(crm), partner=f"books:{new.record_id}"),
        candidates=[_state(_party(existing), former_partner=f"crm:{crm.record_id}")],
    )
    return _notice_of(finding, Severity.WARNING, Decision.QUARANTINE, 8, records=(new, existing, crm))


def _double_link() -> FinanceNotice:
    linked = _invoiced("460000000026909", "Ivy Lane Bakery Ltd", Role.NEWLY_LINKED, "215.00")
    existing = _invoiced("460000000011909", "Ivy Lane Bakery", Role.EXISTING, "98.40")
    crm = _crm("5725767000003000909", "Ivy Lane Bakery", Role.PARTNER)
    finding = _finding(
        "DOUBLE_LINK",
        _party(linked, linked_crm_id=crm.record_id),
        at=_at(9),
        operation=Operation.UPDATE,
        previous=_state(_party(linked)),
        linked_books=[_state(_party(existing, linked_crm_id=crm.record_id), partner=f"crm:{crm.record_id}")],
    )
    # Both hold transactions: the engine flags the rule's quarantine instead, and says so.
    return _notice(
        "DOUBLE_LINK",
        Severity.WARNING,
        Decision.FLAG,
        Mode.ENFORCE,
        9,
        records=(linked, existing, crm),
        evidence=(*finding.evidence, f"{finding.subject} {NOT_HELD_INVOICED}"),
    )


def _multiplication_storm() -> FinanceNotice:
    new = _books(
        "460000000027010", "Juniper Legal LLP", Role.NEW_COPY, has_transactions=False, active=False, held=True
    )
    existing = _invoiced("460000000011010", "Juniper Legal LLP", Role.EXISTING, "7200.00")
    # The tenth create matching an existing customer within the window trips the breaker.
    finding = _finding(
        "MULTIPLICATION_STORM",
        _party(new),
        at=_at(10),
        candidates=[_state(_party(existing))],
        storm=StormStatus(tripped_now=True, hits=10, threshold=10, window_seconds=600),
    )
    return _notice_of(finding, Severity.CRITICAL, Decision.QUARANTINE, 10, records=(new, existing))


def _crossed_mapping() -> FinanceNotice:
    books = _invoiced("460000000011111", "Kestrel Engineering Ltd", Role.NEWLY_LINKED, "15300.00")
    paired = _crm("5725767000003001111", "Kestrel Engineering Ltd", Role.PAIRED_WITH)
    points_at = _crm("5725767000003001112", "Kestrel Electrical Ltd", Role.LINK_POINTS_AT)
    finding = _finding(
        "CROSSED_MAPPING",
        _party(books, linked_crm_id=points_at.record_id),
        at=_at(11),
        operation=Operation.UPDATE,
        previous=_state(
            _party(books, linked_crm_id=paired.record_id),
            partner=f"crm:{paired.record_id}",
            pair_source=PairSource.ZOHO_LINK,
        ),
    )
    return _notice_of(finding, Severity.WARNING, Decision.FLAG, 11, records=(books, paired, points_at))


def _mapping_moved() -> FinanceNotice:
    paired = _books(
        "460000000011121",
        "Kestrel Logistics Ltd",
        Role.NEWLY_PAIRED,
        has_transactions=False,
        outstanding=Decimal("0"),
        active=True,
    )
    former = _invoiced("460000000011120", "Kestrel Group Holdings", Role.FORMER_PARTNER, "4200.00")
    crm = _crm("5725767000003001120", "Kestrel Logistics Ltd", Role.REPAIRED_CRM)
    # A reconnect re-paired the CRM account by exact name with a customer that had no link yet.
    finding = _finding(
        "MAPPING_MOVED",
        _party(paired, linked_crm_id=crm.record_id),
        at=_at(15),
        operation=Operation.UPDATE,
        previous=_state(_party(paired)),
        link_target=_state(_party(crm), partner=f"books:{paired.record_id}"),
        former_link_partner=_state(_party(former), former_partner=f"crm:{crm.record_id}"),
    )
    return _notice_of(finding, Severity.WARNING, Decision.FLAG, 15, records=(paired, former, crm))


def _mixed_mapping() -> FinanceNotice:
    # The sole trader's contact and account share her mailbox and phone.
    mailbox, phone = "jane@janesmithdesign.co.uk", "07700 900131"
    new = _held_new_copy("460000000011131", "Jane Smith", Role.NEWLY_LINKED, email=mailbox)
    account_customer = _invoiced(
        "460000000011130", "Jane Smith Design", Role.EXISTING, "860.00", email=mailbox
    )
    contact = _crm(
        "5725767000003001131", "Jane Smith", Role.PARTNER, module=Module.CRM_CONTACTS, email=mailbox
    )
    account = _crm("5725767000003001130", "Jane Smith Design", Role.EXISTING)
    person = {"kind": "person", "first_name": "Jane", "last_name": "Smith", "phone": phone}
    finding = _finding(
        "MIXED_MAPPING",
        _party(new, linked_crm_id=contact.record_id, **person),
        at=_at(16),
        link_target=_state(
            _party(contact, account_id=account.record_id, **person), partner=f"books:{new.record_id}"
        ),
        candidates=[_state(_party(account_customer, phone=phone), partner=f"crm:{account.record_id}")],
    )
    return _notice_of(
        finding, Severity.WARNING, Decision.QUARANTINE, 16, records=(new, account_customer, contact, account)
    )


def _same_side_duplicate() -> FinanceNotice:
    new = _crm("5725767000003001181", "Kestrel Joinery Ltd", Role.NEW_COPY)
    existing = _crm("5725767000003001180", "Kestrel Joinery Limited", Role.EXISTING)
    # The existing record is synced: its Books customer is the one finance invoices.
    invoiced = _invoiced("460000000011180", "Kestrel Joinery Limited", Role.SYNCED_TO_EXISTING, "1250.00")
    phone = "+44 161 496 0181"
    books = _party(invoiced, phone=phone, linked_crm_id=existing.record_id)
    finding = _finding(
        "SAME_SIDE_DUPLICATE",
        _party(new, phone=phone),
        at=_at(18),
        candidates=[
            _state(_party(existing, phone=phone), partner=books.ref),
            _state(books, partner=f"crm:{existing.record_id}"),
        ],
    )
    return _notice_of(finding, Severity.WARNING, Decision.FLAG, 18, records=(new, existing, invoiced))


def _created_in_books() -> FinanceNotice:
    books = _books(
        "460000000011141",
        "Marlow Bakery Limited",
        Role.CREATED_IN_BOOKS,
        has_transactions=False,
        outstanding=Decimal("0"),
        active=True,
    )
    finding = _finding("CREATED_IN_BOOKS", _party(books, created_at=_at(17)), at=_at(17))
    return _notice_of(finding, Severity.INFO, Decision.FLAG, 17, records=(books,))


def _partner_deleted_in_crm() -> FinanceNotice:
    """PARTNER_DELETED where the CRM record went (a delete, or a merge the guard could not see as one): the
    variant texts for the Books customer left unlinked."""
    crm = _crm("5725767000003001313", "Harrow & Lyle Interiors", Role.DELETED, deleted=True)
    books = _books(
        "460000000011313",
        "Harrow and Lyle Interiors Ltd",
        Role.SURVIVING_PARTNER,
        has_transactions=True,
        outstanding=Decimal("845.00"),
    )
    deleted = _party(crm)
    finding = _finding(
        "PARTNER_DELETED",
        deleted,
        at=_at(13),
        operation=Operation.DELETE,
        previous=_state(deleted, partner=f"books:{books.record_id}"),
        partner=_state(_party(books, linked_crm_id=crm.record_id), partner=deleted.ref),
    )
    return _notice_of(finding, Severity.WARNING, Decision.FLAG, 13, records=(crm, books))


def _linked_edit(
    ids: tuple[str, str],
    name: str,
    edited_at: datetime,
    books_changed_at: datetime,
    *,
    books_name: str | None = None,
    invoiced: bool | None = None,
    **crm_values: str,
) -> Edit:
    """A CRM edit of a linked customer (CRM and Books ``ids``) and the Books customer as Books shows it:
    named ``books_name`` if the sync did not carry a rename, and without the CRM record's ``crm_values``."""
    crm = PartyRecord.model_validate(
        {"system": System.CRM, "module": Module.CRM_ACCOUNTS, "record_id": ids[0], "name": name} | crm_values
    )
    books = PartyRecord(
        system=System.BOOKS,
        module=Module.BOOKS_CUSTOMERS,
        record_id=ids[1],
        name=books_name or name,
        has_transactions=invoiced,
        currency="GBP",
        modified_at=books_changed_at,
    )
    differs = carried_differences(crm, books)
    return Edit(crm=crm, edited_at=edited_at, books=books, books_changed_at=books_changed_at, differs=differs)


def _march_2(hour: int, minute: int) -> datetime:
    return datetime(2026, 3, 2, hour, minute, tzinfo=UTC)


_HARBOUR = ("5725767000003001301", "460000000011301")
_ORCHARD = ("5725767000003001302", "460000000011302")
_TARN = ("5725767000003001305", "460000000011309")
# The stall check's threshold as shipped (edits not carried to Books before it reports).
_MIN_UNFOLLOWED: int = Settings.model_fields["sync_stall_min_edits"].default
_STALL_REPORTED = _at(13)


def _sync_stalled() -> FinanceNotice:
    """The sync stall check's report (``sync_guard.reconcile.stall``): of six edits of linked customers
    sampled, newest first as the check reads them, four did not reach Books and two changed nothing the
    sync carries; the report names the newest three, since the oldest."""
    verdict = StallVerdict(
        edits=(
            _linked_edit(
                ("5725767000003001304", "460000000011308"),
                "Wren & Co Builders",
                _march_2(8, 45),
                datetime(2026, 1, 5, 14, 30, tzinfo=UTC),
                phone="0117 496 0304",
            ),
            _linked_edit(
                ("5725767000003001303", "460000000011307"),
                "Quayside Print Ltd",
                _march_2(8, 20),
                datetime(2026, 2, 2, 9, 15, tzinfo=UTC),
                city="Bristol",
            ),
            # Edits of what the sync does not carry (an owner, a rating).
            _linked_edit(
                ("5725767000003001306", "460000000011310"),
                "Saltmarsh Farm Shop",
                _march_2(8, 5),
                datetime(2026, 2, 23, 16, 20, tzinfo=UTC),
            ),
            _linked_edit(
                _HARBOUR,
                "Harbour Lights Ltd",
                _march_2(7, 55),
                datetime(2026, 2, 11, 15, 2, tzinfo=UTC),
                books_name="Harbour Light Ltd",
                invoiced=True,
            ),
            _linked_edit(
                _TARN, "Tarn Cottage Lets", _march_2(7, 5), datetime(2026, 2, 20, 11, 0, tzinfo=UTC)
            ),
            _linked_edit(
                _ORCHARD,
                "Orchard Dental Practice",
                _march_2(6, 10),
                datetime(2026, 1, 20, 10, 41, tzinfo=UTC),
                phone="0113 496 0302",
                street="14 Park Row",
            ),
        ),
        min_unfollowed=_MIN_UNFOLLOWED,
    )
    return stall_notice(
        STALLED_RULE,
        verdict.examples,
        stalled_evidence(verdict),
        mode=Mode.ENFORCE,
        audit_ref=admin_entry_id("sync_stalled", STALL_ACTOR, _STALL_REPORTED),
        at=_STALL_REPORTED,
    )


def _sync_resumed() -> FinanceNotice:
    """The stall check, three hours after its report, seeing edits reach Books again: newest first, an edit
    of what the sync does not carry, then one Books followed, where the check stops looking."""
    followed = _linked_edit(_HARBOUR, "Harbour Lights Ltd", _march_2(12, 5), _march_2(12, 6), invoiced=True)
    verdict = StallVerdict(
        edits=(
            _linked_edit(
                _TARN, "Tarn Cottage Lets", _march_2(12, 10), datetime(2026, 2, 20, 11, 0, tzinfo=UTC)
            ),
            followed,
        ),
        min_unfollowed=_MIN_UNFOLLOWED,
    )
    episode = StallEpisode(since=_march_2(6, 10), reported_at=_STALL_REPORTED, examples=())
    at = _march_2(12, 30)
    return stall_notice(
        RESUMED_RULE,
        [followed],
        resumed_evidence(verdict, episode, followed),
        mode=Mode.ENFORCE,
        audit_ref=admin_entry_id("sync_resumed", STALL_ACTOR, at),
        at=at,
    )


def _holds_waiting() -> FinanceNotice:
    """The daily reminder of holds nobody decided about: a CRM account and a Books customer held for days."""
    at = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)

    def waiting(
        ref: str,
        name: str,
        rules: tuple[str, ...],
        held_at: datetime,
        *,
        deleted: bool = False,
        vendor_since: datetime | None = None,
    ) -> Waiting:
        system, _, record_id = ref.partition(":")
        module = Module.CRM_ACCOUNTS if system == System.CRM.value else Module.BOOKS_CUSTOMERS
        if vendor_since is not None:
            module, deleted = Module.BOOKS_VENDORS, True  # a customer turned vendor: retired, kept as deleted
        record = PartyRecord(
            system=System(system),
            module=module,
            record_id=record_id,
            name=name,
            has_transactions=False if module is Module.BOOKS_CUSTOMERS else None,
            modified_at=vendor_since,
        )
        hold = Hold(hold_id=ref, entry_id="evt_example", rules=rules, at=held_at, mode=Mode.ENFORCE.value)
        state = RecordState(record=record, version=0, held_by="evt_example", deleted=deleted)
        return Waiting(hold, held_at, state)

    holds = [
        waiting("crm:5725767000003001420", "Northgate Joinery Limited", ("NAME_DRIFT",), T0),
        waiting(
            "books:460000000011433",
            "Brightwater Vets",
            ("BOTH_SIDES_CREATED",),
            datetime(2026, 3, 4, 15, 12, tzinfo=UTC),
        ),
    ]
    # A hold on a record deleted since is left out (nothing to decide about it), and counted; so is an
    # admin's own hold on a Books customer edited into a vendor since (a supplier is no duplicate).
    gone = [
        waiting("crm:5725767000003001455", "Fernhill Dental", ("NAME_DRIFT",), T0, deleted=True),
        waiting(
            "books:460000000011470",
            "Ashby Print Supplies",
            (),
            T0,
            vendor_since=datetime(2026, 3, 5, 14, 40, 12, tzinfo=UTC),
        ),
    ]
    evidence = waiting_evidence(holds, at, after=timedelta(days=3), examples=10, gone=gone)
    return waiting_notice(holds, evidence, audit_ref=admin_entry_id("holds_reminder", STALL_ACTOR, at), at=at)


def example_notices() -> dict[str, FinanceNotice]:
    """One realistic notice per rule of the catalogue, ``PARTNER_DELETED_IN_CRM`` for that rule's texts when
    the CRM record went, and ``UNKNOWN_RULE`` for the generic texts."""
    return {
        "NAME_DRIFT": _name_drift(),
        "BOTH_SIDES_CREATED": _both_sides_created(),
        "PARTNER_DELETED": _partner_deleted(),
        "RECREATED_AFTER_DELETE": _recreated_after_delete(),
        "CRM_MERGE_ORPHAN": _crm_merge_orphan(),
        "EMAIL_MISMATCH": _email_mismatch(),
        "DISPLAY_NAME_COLLISION": _display_name_collision(),
        "BROKEN_MAPPING": _broken_mapping(),
        "DOUBLE_LINK": _double_link(),
        "MULTIPLICATION_STORM": _multiplication_storm(),
        "CROSSED_MAPPING": _crossed_mapping(),
        "MAPPING_MOVED": _mapping_moved(),
        "MIXED_MAPPING": _mixed_mapping(),
        "SAME_SIDE_DUPLICATE": _same_side_duplicate(),
        "CREATED_IN_BOOKS": _created_in_books(),
        "SYNC_STALLED": _sync_stalled(),
        "SYNC_RESUMED": _sync_resumed(),
        "HOLDS_WAITING": _holds_waiting(),
        "PARTNER_DELETED_IN_CRM": _partner_deleted_in_crm(),
        "UNKNOWN_RULE": _notice(
            "SOME_FUTURE_RULE",
            Severity.INFO,
            Decision.FLAG,
            Mode.OBSERVE,
            12,
            records=(
                _books("460000000011212", "Lumen Opticians", Role.EXISTING),
                _crm("5725767000003001212", "Lumen Opticians", Role.PARTNER),
            ),
            evidence=("a rule the notifier has no texts for yet",),
        ),
    }


def storm_batch() -> list[FinanceNotice]:
    """A storm notice and the creates the breaker held while it lasted (40 of them)."""
    notices = [example_notices()["MULTIPLICATION_STORM"]]
    for n in range(40):
        name = f"Customer {n + 1:02d} Ltd"
        notices.append(
            _notice(
                "BROKEN_MAPPING" if n % 4 else "NAME_DRIFT",
                Severity.WARNING,
                Decision.QUARANTINE,
                Mode.ENFORCE,
                20 + n,
                records=(
                    _books(f"4600000000280{n:02d}", name, Role.NEW_COPY, has_transactions=False, held=True),
                    _books(f"4600000000120{n:02d}", name, Role.EXISTING, has_transactions=True),
                ),
            )
        )
    return notices


def backfill_batch() -> list[FinanceNotice]:
    """What a backfill over an old, messy organisation finds: several kinds, in observe mode."""
    examples = example_notices()
    notices: list[FinanceNotice] = []
    kinds = (("NAME_DRIFT", 9), ("BOTH_SIDES_CREATED", 4), ("DOUBLE_LINK", 2), ("EMAIL_MISMATCH", 3))
    for kind, (rule, count) in enumerate(kinds, start=1):
        base = examples[rule]
        for n in range(count):
            serial = 100 * kind + n
            records = tuple(
                record.model_copy(update={"record_id": f"{record.record_id[:-4]}{serial:04d}"})
                for record in base.records
            )
            notices.append(
                FinanceNotice.model_validate(
                    base.model_dump()
                    | {
                        "records": records,
                        "mode": Mode.OBSERVE,
                        "event_id": f"evt_backfill{serial:04d}",
                        "audit_ref": f"audit#2026-03-02#evt_backfill{serial:04d}",
                        "occurred_at": T0 + timedelta(hours=1, seconds=serial),
                    }
                )
            )
    return notices


def refused_hold_notice() -> FinanceNotice:
    """The name-drift example when Zoho refused the hold (the customer was deleted meanwhile)."""
    notice = example_notices()["NAME_DRIFT"]
    records = tuple(
        record.model_copy(update={"held": False, "hold_failed": True, "active": None})
        if record.held
        else record
        for record in notice.records
    )
    return notice.model_copy(update={"records": records})


def rendered_examples() -> dict[str, RenderedMessage]:
    """File stem -> message: every example notice, a refused hold, the storm and the backfill digests."""
    rendered = {stem: render_notice(notice, EXAMPLE_LINKS) for stem, notice in example_notices().items()}
    rendered["HOLD_REFUSED"] = render_notice(refused_hold_notice(), EXAMPLE_LINKS)
    (storm,) = aggregate(storm_batch(), max_individual=5, links=EXAMPLE_LINKS)
    (backfill,) = aggregate(backfill_batch(), max_individual=5, links=EXAMPLE_LINKS)
    rendered["DIGEST_STORM"] = storm
    rendered["DIGEST_BACKFILL"] = backfill
    return rendered


def example_files() -> dict[str, str]:
    """File name -> exact content of every checked-in example under ``events/notifications/``."""
    return {f"{stem}.txt": message.as_text().rstrip() + "\n" for stem, message in rendered_examples().items()}
