"""Fixed example notices, one per rule plus a storm and a backfill, rendered into ``events/notifications/``.

``scripts/render_notification_examples.py`` writes the files and a test re-renders them, so the checked-in
examples always show what the code really sends. Names, ids, amounts and addresses are invented.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sync_guard.config import DataCentre, Mode
from sync_guard.models.records import Module, System
from sync_guard.notify.aggregate import aggregate
from sync_guard.notify.links import ZohoLinks
from sync_guard.notify.model import Decision, FinanceNotice, NoticeRecord, RenderedMessage, Role, Severity
from sync_guard.notify.render import render_notice

EXAMPLE_LINKS = ZohoLinks(
    data_centre=DataCentre.EU, crm_org_id="20071234567", books_organization_id="20081234567"
)
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


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


def _held_new_copy(record_id: str, name: str, role: str = Role.NEW_COPY) -> NoticeRecord:
    """A duplicate the guard has just held: uninvoiced, marked inactive."""
    return _books(
        record_id,
        name,
        role,
        has_transactions=False,
        outstanding=Decimal("0"),
        active=False,
        held=True,
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
            "occurred_at": T0 + timedelta(minutes=n),
        }
        | kwargs
    )


def example_notices() -> dict[str, FinanceNotice]:
    """One realistic notice per rule of the catalogue, ``PARTNER_DELETED_IN_CRM`` for that rule's texts when
    the CRM record went, and ``UNKNOWN_RULE`` for the generic texts."""
    return {
        "NAME_DRIFT": _notice(
            "NAME_DRIFT",
            Severity.WARNING,
            Decision.QUARANTINE,
            Mode.ENFORCE,
            1,
            records=(
                _held_new_copy("460000000026101", "Acme Limited"),
                _books(
                    "460000000011002",
                    "Acme Ltd",
                    Role.EXISTING,
                    has_transactions=True,
                    outstanding=Decimal("12500.00"),
                    active=True,
                    email="accounts@acme.co.uk",
                ),
                _crm("5725767000003000064", "Acme Limited", Role.PARTNER),
            ),
            evidence=(
                "same name after removing 'Limited'/'Ltd'",
                "same email domain acme.co.uk",
                "same postcode SW1A 1AA",
            ),
        ),
        "BOTH_SIDES_CREATED": _notice(
            "BOTH_SIDES_CREATED",
            Severity.WARNING,
            Decision.FLAG,
            Mode.ENFORCE,
            2,
            records=(
                _crm("5725767000003000201", "Bramble & Hart LLP", Role.NEW_COPY),
                _books(
                    "460000000026202",
                    "Bramble and Hart LLP",
                    Role.EXISTING,
                    has_transactions=True,
                    outstanding=Decimal("840.00"),
                    active=True,
                    email="finance@bramblehart.co.uk",
                ),
            ),
            evidence=(
                "same name after treating '&' as 'and'",
                "created 14 minutes apart",
                "same VAT number GB123456789",
            ),
        ),
        "PARTNER_DELETED": _notice(
            "PARTNER_DELETED",
            Severity.WARNING,
            Decision.FLAG,
            Mode.ENFORCE,
            3,
            records=(
                _books(
                    "460000000011303",
                    "Copperfield Studios Ltd",
                    Role.DELETED,
                    has_transactions=True,
                    outstanding=Decimal("2310.50"),
                    deleted=True,
                ),
                _crm("5725767000003000303", "Copperfield Studios Ltd", Role.SURVIVING_PARTNER),
            ),
            evidence=("Books customer deleted at 2026-03-02 09:31 UTC", "CRM account still linked to it"),
        ),
        "RECREATED_AFTER_DELETE": _notice(
            "RECREATED_AFTER_DELETE",
            Severity.CRITICAL,
            Decision.QUARANTINE,
            Mode.ENFORCE,
            4,
            records=(
                _books(
                    "460000000026404",
                    "Delta Freight Ltd",
                    Role.NEW_COPY,
                    has_transactions=False,
                    active=False,
                    held=True,
                ),
                _books(
                    "460000000011404",
                    "Delta Freight Ltd",
                    Role.DELETED,
                    has_transactions=True,
                    outstanding=Decimal("5120.00"),
                    deleted=True,
                ),
                _crm("5725767000003000404", "Delta Freight Ltd", Role.PARTNER),
            ),
            evidence=(
                "the CRM account's previous Books customer was deleted on 2026-02-27",
                "new Books customer created by the sync for the same CRM account",
            ),
        ),
        "CRM_MERGE_ORPHAN": _notice(
            "CRM_MERGE_ORPHAN",
            Severity.WARNING,
            Decision.FLAG,
            Mode.ENFORCE,
            5,
            records=(
                _books(
                    "460000000011505",
                    "Evergreen Dental (Leeds)",
                    Role.ORPHAN,
                    has_transactions=True,
                    outstanding=Decimal("430.00"),
                    active=True,
                ),
                _crm("5725767000003000507", "Evergreen Dental Leeds", Role.DELETED, deleted=True),
                _crm("5725767000003000505", "Evergreen Dental", Role.EXISTING),
                _books(
                    "460000000011506",
                    "Evergreen Dental",
                    Role.EXISTING,
                    has_transactions=True,
                    outstanding=Decimal("1975.00"),
                    active=True,
                ),
            ),
            evidence=(
                "CRM account 5725767000003000507 was merged into 5725767000003000505",
                "its Books customer 460000000011505 is now linked to a deleted CRM record",
            ),
        ),
        "EMAIL_MISMATCH": _notice(
            "EMAIL_MISMATCH",
            Severity.WARNING,
            Decision.QUARANTINE,
            Mode.OBSERVE,
            6,
            records=(
                _crm(
                    "5725767000003000606",
                    "Fiona Grant",
                    Role.NEW_OR_EDITED,
                    module=Module.CRM_CONTACTS,
                    email="fiona.grant@grant-design.co.uk",
                    held=True,
                ),
                _books(
                    "460000000011606",
                    "Fiona Grant",
                    Role.EXISTING,
                    has_transactions=True,
                    outstanding=Decimal("0.00"),
                    active=True,
                    email="fiona@grantdesign.com",
                ),
            ),
            evidence=("same person name", "same phone +44 20 7946 0018", "different email addresses"),
        ),
        "DISPLAY_NAME_COLLISION": _notice(
            "DISPLAY_NAME_COLLISION",
            Severity.WARNING,
            Decision.QUARANTINE,
            Mode.ENFORCE,
            7,
            records=(
                _crm("5725767000003000707", "Greenway Services", Role.NEW_OR_RENAMED, held=True),
                _books(
                    "460000000011707",
                    "Greenway Services",
                    Role.EXISTING,
                    has_transactions=True,
                    outstanding=Decimal("660.00"),
                    active=True,
                ),
            ),
            evidence=(
                "Books already has a customer named 'Greenway Services' (error 3062 on create)",
                "different postcode: LS1 4AP vs M1 2AB",
            ),
        ),
        "BROKEN_MAPPING": _notice(
            "BROKEN_MAPPING",
            Severity.WARNING,
            Decision.QUARANTINE,
            Mode.ENFORCE,
            8,
            records=(
                _books(
                    "460000000026808",
                    "Harbour Lights Ltd",
                    Role.NEW_COPY,
                    has_transactions=False,
                    active=False,
                    held=True,
                ),
                _books(
                    "460000000011808",
                    "Harbour Lights Ltd",
                    Role.EXISTING,
                    has_transactions=True,
                    outstanding=Decimal("3400.00"),
                    active=True,
                ),
                _crm("5725767000003000808", "Harbour Lights Ltd", Role.PARTNER),
            ),
            evidence=(
                "identical name",
                "the existing customer was linked to the same CRM account until today",
            ),
        ),
        "DOUBLE_LINK": _notice(
            "DOUBLE_LINK",
            Severity.WARNING,
            Decision.FLAG,
            Mode.ENFORCE,
            9,
            records=(
                _books(
                    "460000000026909",
                    "Ivy Lane Bakery Ltd",
                    Role.NEWLY_LINKED,
                    has_transactions=True,
                    outstanding=Decimal("215.00"),
                    active=True,
                ),
                _books(
                    "460000000011909",
                    "Ivy Lane Bakery",
                    Role.EXISTING,
                    has_transactions=True,
                    outstanding=Decimal("98.40"),
                    active=True,
                ),
                _crm("5725767000003000909", "Ivy Lane Bakery", Role.PARTNER),
            ),
            evidence=("both Books customers carry zcrm_account_id 5725767000003000909",),
        ),
        "MULTIPLICATION_STORM": _notice(
            "MULTIPLICATION_STORM",
            Severity.CRITICAL,
            Decision.QUARANTINE,
            Mode.ENFORCE,
            10,
            records=(
                _books(
                    "460000000027010",
                    "Juniper Legal LLP",
                    Role.NEW_COPY,
                    has_transactions=False,
                    active=False,
                    held=True,
                ),
                _books(
                    "460000000011010",
                    "Juniper Legal LLP",
                    Role.EXISTING,
                    has_transactions=True,
                    outstanding=Decimal("7200.00"),
                    active=True,
                ),
            ),
            evidence=(
                "42 new Books customers in 6 minutes matched existing customers (threshold 10 in 10 minutes)",
                "circuit breaker tripped at 2026-03-02 09:40 UTC",
            ),
        ),
        "CROSSED_MAPPING": _notice(
            "CROSSED_MAPPING",
            Severity.WARNING,
            Decision.FLAG,
            Mode.ENFORCE,
            11,
            records=(
                _books(
                    "460000000011111",
                    "Kestrel Engineering Ltd",
                    Role.NEWLY_LINKED,
                    has_transactions=True,
                    outstanding=Decimal("15300.00"),
                    active=True,
                ),
                _crm("5725767000003001111", "Kestrel Engineering Ltd", "CRM record the guard paired it with"),
                _crm("5725767000003001112", "Kestrel Electrical Ltd", "CRM record its link points at"),
            ),
            evidence=("zcrm_account_id is 5725767000003001112, the guard's pairing is 5725767000003001111",),
        ),
        "MAPPING_MOVED": _notice(
            "MAPPING_MOVED",
            Severity.WARNING,
            Decision.FLAG,
            Mode.ENFORCE,
            15,
            records=(
                _books(
                    "460000000011121",
                    "Kestrel Logistics Ltd",
                    Role.NEWLY_PAIRED,
                    has_transactions=False,
                    outstanding=Decimal("0"),
                    active=True,
                ),
                _books(
                    "460000000011120",
                    "Kestrel Group Holdings",
                    Role.FORMER_PARTNER,
                    has_transactions=True,
                    outstanding=Decimal("4200.00"),
                    active=True,
                ),
                _crm("5725767000003001120", "Kestrel Logistics Ltd", Role.REPAIRED_CRM),
            ),
            evidence=(
                "crm:5725767000003001120 was paired with books:460000000011120",
                "books:460000000011120 no longer carries Zoho's link to crm:5725767000003001120",
            ),
        ),
        "MIXED_MAPPING": _notice(
            "MIXED_MAPPING",
            Severity.WARNING,
            Decision.QUARANTINE,
            Mode.ENFORCE,
            16,
            records=(
                _held_new_copy("460000000011131", "Jane Smith", Role.NEWLY_LINKED),
                _books(
                    "460000000011130",
                    "Jane Smith Design",
                    Role.EXISTING,
                    has_transactions=True,
                    outstanding=Decimal("860.00"),
                    active=True,
                ),
                _crm("5725767000003001131", "Jane Smith", Role.PARTNER, module=Module.CRM_CONTACTS),
                _crm("5725767000003001130", "Jane Smith Design", Role.EXISTING),
            ),
            evidence=(
                "books:460000000011131 zcrm link: contact crm:5725767000003001131",
                "crm:5725767000003001131 belongs to account crm:5725767000003001130",
                "books:460000000011130 is the Books customer of crm:5725767000003001130",
            ),
        ),
        "SAME_SIDE_DUPLICATE": _notice(
            "SAME_SIDE_DUPLICATE",
            Severity.WARNING,
            Decision.FLAG,
            Mode.ENFORCE,
            18,
            records=(
                _crm("5725767000003001181", "Kestrel Joinery Ltd", Role.NEW_COPY),
                _crm("5725767000003001180", "Kestrel Joinery Limited", Role.EXISTING),
            ),
            evidence=(
                "same name once 'Limited' is folded to 'Ltd'",
                "same phone +44 161 496 0181",
                "match score 0.97",
            ),
        ),
        "CREATED_IN_BOOKS": _notice(
            "CREATED_IN_BOOKS",
            Severity.INFO,
            Decision.FLAG,
            Mode.ENFORCE,
            17,
            records=(
                _books(
                    "460000000011141",
                    "Marlow Bakery Limited",
                    Role.CREATED_IN_BOOKS,
                    has_transactions=False,
                    outstanding=Decimal("0"),
                    active=True,
                ),
            ),
            evidence=(
                "books:460000000011141 created 2026-03-02T09:47:00+00:00",
                "books:460000000011141 carries no Zoho CRM link",
            ),
        ),
        "SYNC_STALLED": _notice(
            "SYNC_STALLED",
            Severity.CRITICAL,
            Decision.FLAG,
            Mode.ENFORCE,
            13,
            records=(
                _crm("5725767000003001301", "Harbour Lights Ltd", "edited in CRM"),
                _books("460000000011301", "Harbour Light Ltd", "not updated in Books", has_transactions=True),
                _crm("5725767000003001302", "Orchard Dental Practice", "edited in CRM"),
                _books("460000000011302", "Orchard Dental Practice", "not updated in Books"),
            ),
            evidence=(
                "Zoho's CRM -> Books sync looks stalled: 4 CRM edits to linked customers since "
                "2026-03-02 06:10 UTC have not reached Books, and none has (6 linked CRM edits sampled: "
                "0 reached Books, 4 did not, 2 changed nothing the sync carries).",
                "crm:5725767000003001301 'Harbour Lights Ltd' edited in CRM at 2026-03-02 07:55 UTC; its "
                "Books customer books:460000000011301 'Harbour Light Ltd' last changed 2026-02-11 15:02 UTC "
                "and still differs in name",
                "crm:5725767000003001302 'Orchard Dental Practice' edited in CRM at 2026-03-02 06:10 UTC; "
                "its Books customer books:460000000011302 'Orchard Dental Practice' last changed 2026-01-20 "
                "10:41 UTC and still differs in phone, street",
            ),
        ),
        "SYNC_RESUMED": _notice(
            "SYNC_RESUMED",
            Severity.INFO,
            Decision.ALLOW,
            Mode.ENFORCE,
            14,
            records=(
                _crm("5725767000003001301", "Harbour Lights Ltd", "edited in CRM"),
                _books("460000000011301", "Harbour Lights Ltd", "updated in Books", has_transactions=True),
            ),
            evidence=(
                "Zoho's CRM -> Books sync carries edits again (stalled since about 2026-03-02 06:10 UTC, "
                "reported 2026-03-02 09:40 UTC; 3 linked CRM edits sampled: 2 reached Books, 0 did not, "
                "1 changed nothing the sync carries).",
            ),
        ),
        # PARTNER_DELETED where the CRM record went (a delete, or a merge the guard could not see as one):
        # the variant texts for the Books customer left unlinked.
        "PARTNER_DELETED_IN_CRM": _notice(
            "PARTNER_DELETED",
            Severity.WARNING,
            Decision.FLAG,
            Mode.ENFORCE,
            13,
            records=(
                _crm("5725767000003001313", "Harrow & Lyle Interiors", Role.DELETED, deleted=True),
                _books(
                    "460000000011313",
                    "Harrow and Lyle Interiors Ltd",
                    Role.SURVIVING_PARTNER,
                    has_transactions=True,
                    outstanding=Decimal("845.00"),
                ),
            ),
            evidence=(
                "crm:5725767000003001313 deleted at 2026-03-02 09:43 UTC",
                "was paired with books:460000000011313",
            ),
        ),
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
