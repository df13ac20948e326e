"""One export file as the reading modules share it: :class:`ExportFile` (what was read from it, and what a
person should know about it), :class:`ExportError` naming its file and line, and its header row mapped to
the fields its columns give (:func:`map_columns`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sync_guard.errors import ClientError
from sync_guard.models.records import PartyRecord, System


class ExportError(ClientError):
    """An export file that cannot be read as it stands; the message names the file and the line."""

    code = "invalid_export"

    def __init__(self, path: Path, line: int | None, message: str, *, sheet: str | None = None) -> None:
        super().__init__(f"{_where(path, line, sheet)}: {message}")
        self.path = path
        self.line = line
        self.sheet = sheet


def _where(path: Path, line: int | None, sheet: str | None) -> str:
    """A place in an export as its user finds it: a CSV file's line, or a workbook sheet's row (the
    header is row 1, as the spreadsheet numbers it)."""
    if sheet is None:
        return f"{path}" if line is None else f"{path}, line {line}"
    return f"{path}, sheet {sheet!r}" + ("" if line is None else f", row {line}")


# The match report's option that passes each system's export, as messages name it.
SYSTEM_OPTIONS = {System.CRM: "--crm", System.BOOKS: "--books"}


# The canonical header set (documented in docs/match-report.md) and what each field means.
CANONICAL_FIELDS: dict[str, str] = {
    "id": "the record's id in its system (required)",
    "name": "account, customer or display name (required unless first_name/last_name)",
    "company_name": "Books: the company name, matched as another name when the display name differs",
    "first_name": "a person's given name (CRM Contacts, Books individuals)",
    "last_name": "a person's family name",
    "email": "primary email",
    "other_emails": "further emails, separated by ';' or ','",
    "phone": "phone number (a mobile is used when there is no phone)",
    "mobile": "mobile number",
    "street": "billing street",
    "street2": "second line of the billing street (Books 'Billing Street2'); joined to the street",
    "city": "billing city",
    "postcode": "billing postcode / ZIP",
    "country": "billing country (ISO code or name)",
    "date_of_birth": "a person's date of birth (YYYY-MM-DD, or DD/MM/YYYY)",
    "website": "website",
    "vat": "VAT or company registration number",
    "has_transactions": "Books: true/false, whether the customer has transactions",
    "outstanding": "Books: outstanding receivable amount",
    "currency": "Books: the customer's currency code (USD, GBP); one customer per currency is intended",
    "modified": "last modified time",
    "created": "created time",
    "linked_crm_id": "Books: the CRM account/contact id the customer is linked to",
    "kind": "company/business or person/individual (Books 'Customer Sub Type')",
    "status": "active/inactive",
    "contact_type": "Books: customer or vendor; vendors (suppliers) are left out",
}

# Zoho's usual export headers (CRM Accounts, CRM Contacts, Books Customers), by normalised header.
_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "record id", "account id", "contact id", "customer id", "zcrm id", "recordid"),
    # Books exports carry both "Display Name" and "Company Name": the company name is the other name.
    "name": ("name", "display name", "account name", "customer name", "contact name", "full name"),
    "company_name": ("company name",),
    "first_name": ("first name", "firstname", "given name"),
    "last_name": ("last name", "lastname", "surname", "family name"),
    "email": ("email", "email id", "emailid", "email address", "primary email", "e-mail"),
    "other_emails": ("secondary email", "other emails", "additional emails"),
    "phone": ("phone", "phone number", "work phone", "primary phone", "telephone"),
    "mobile": ("mobile", "mobile phone", "mobilephone", "mobile number"),
    "street": (
        "street", "billing street", "billing address", "mailing street", "address", "billing address1",
    ),
    "street2": (
        "street2", "street 2", "billing street2", "billing street 2", "billing address2", "billing address 2",
        "address line 2", "billing address line 2",
    ),
    "city": ("city", "billing city", "mailing city", "town"),
    "postcode": (
        "postcode", "post code", "zip", "zip code", "billing code", "billing zip", "mailing zip",
        "billing postal code", "postal code", "mailing code",
    ),
    "country": ("country", "billing country", "mailing country"),
    "date_of_birth": ("date of birth", "dob", "birth date", "birthdate", "date of birth dob"),
    "website": ("website", "web site", "url"),
    "vat": (
        "vat", "vat number", "vat reg no", "vat registration number", "tax registration number", "tax id",
        "company number", "company registration number", "trn",
    ),
    "has_transactions": ("has transactions", "has transaction"),
    "outstanding": (
        "outstanding", "outstanding receivable amount", "outstanding receivable amount bcy",
        "outstanding receivables", "receivables", "balance",
    ),
    "modified": ("modified", "modified time", "last modified time", "last modified", "updated time"),
    "created": ("created", "created time", "created date"),
    "linked_crm_id": (
        "linked crm id", "crm account id", "zcrm account id", "crm contact id", "zcrm contact id",
        "crm reference id",
    ),
    "currency": ("currency", "currency code", "customer currency"),
    "kind": ("kind", "customer sub type", "customer type", "contact sub type"),
    "status": ("status", "contact status", "customer status"),
    "contact_type": ("contact type",),
}  # fmt: skip


def normalise_header(header: str) -> str:
    """Case, spacing and punctuation folded: ``Billing_Code`` -> ``billing code``."""
    return " ".join(re.split(r"[^0-9a-z]+", header.strip().lstrip("\ufeff").lower())).strip()


# normalised header -> (field, preference: lower wins when several headers name one field)
_BY_HEADER: dict[str, tuple[str, int]] = {
    normalise_header(alias): (f, rank)
    for f, aliases in _ALIASES.items()
    for rank, alias in enumerate(aliases)
}


@dataclass
class ExportFile:
    """What was read from one export: the records and anything a person should know about."""

    path: Path
    system: System
    records: list[PartyRecord] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field -> header used
    warnings: list[str] = field(default_factory=list)
    # Read a date such as 12/01/2018 month first (the US way) rather than day first: the default for a
    # column whose dates can all be read either way.
    month_first: bool = False
    # Per time field ("modified", "created"): whether its column's dates are month first, as the dates
    # that can be read only one way show.
    month_first_in: dict[str, bool] = field(default_factory=dict)
    # Field -> the further columns headed as the one it is read from (a second "Phone").
    repeated: dict[str, list[int]] = field(default_factory=dict)
    # Whether the file's amounts are written with a decimal comma, so that "12.500" is twelve thousand
    # five hundred.
    decimal_comma: bool = False
    # The codec the file is read with (see text.encoding_of).
    encoding: str = "utf-8-sig"
    # The sheet read, when the file is a workbook: places in it are its rows, not a file's lines.
    sheet: str | None = None
    # The sheet to read, when the file is a workbook (None: its first visible sheet); a CSV file has none.
    wanted_sheet: str | None = None
    # The country of numbers written without one (the --region): where it is the US, a postcode of 3 or
    # 4 digits is a ZIP code whose leading zeros a spreadsheet dropped. None: only a row's country says.
    default_region: str | None = None
    # The time fields ("modified", "created") whose column holds a spreadsheet's day numbers as text
    # ("45292") and nothing else, read as the dates they stand for (known once the rows are read).
    serial_dates: set[str] = field(default_factory=set)
    # How many postcodes and phone numbers had those zeros put back (one warning says so).
    restored_zeros: Counter[str] = field(default_factory=Counter)

    def where(self, line: int | None) -> str:
        """The file and the line (a workbook's sheet and row), as messages name a place."""
        return _where(self.path, line, self.sheet)

    def error(self, line: int | None, message: str) -> ExportError:
        """An ExportError at a line (a workbook's row) of this export."""
        return ExportError(self.path, line, message, sheet=self.sheet)


def map_columns(
    path: Path, headers: list[str], overrides: Mapping[str, str], *, sheet: str | None = None
) -> dict[str, int]:
    """Field -> column index for a header row, overrides first; ExportError when id or name is missing
    (naming the workbook ``sheet`` the header row is in, if any)."""
    unknown = sorted(set(overrides.values()) - set(CANONICAL_FIELDS))
    if unknown:
        raise ExportError(path, None, f"--map names unknown field(s) {', '.join(unknown)}", sheet=sheet)
    by_normalised_override = {normalise_header(k): v for k, v in overrides.items()}
    present = {normalise_header(h) for h in headers}
    missing = [f"'{k}'" for k in overrides if normalise_header(k) not in present]
    if missing:
        raise ExportError(
            path, 1, f"--map names column(s) not in the header: {', '.join(missing)}", sheet=sheet
        )
    chosen: dict[str, tuple[int, int]] = {}  # field -> (preference, column index); overrides rank -1
    for index, header in enumerate(headers):
        key = normalise_header(header)
        if key in by_normalised_override:
            target, rank = by_normalised_override[key], -1
        elif key in _BY_HEADER:
            target, rank = _BY_HEADER[key]
        else:
            continue
        if target not in chosen or rank < chosen[target][0]:
            chosen[target] = (rank, index)
    columns = {target: index for target, (_, index) in chosen.items()}
    # A CRM Contacts export names the contact's account in "Account Name": that is not the person's name.
    if (
        {"first_name", "last_name"} & set(columns)
        and "name" in columns
        and normalise_header(headers[columns["name"]]) == "account name"
        and chosen["name"][0] >= 0
    ):
        del columns["name"]
    if "name" not in columns and "company_name" in columns:
        columns["name"] = columns.pop("company_name")  # the only name the file gives
    if "id" not in columns:
        raise ExportError(
            path,
            1,
            f"no id column (looked for e.g. 'Record Id', 'Contact ID', 'id'); headers: {headers[:12]}",
            sheet=sheet,
        )
    if "name" not in columns and not {"first_name", "last_name"} & set(columns):
        raise ExportError(
            path,
            1,
            "no name column (e.g. 'Account Name', 'Display Name', 'name', 'First Name')",
            sheet=sheet,
        )
    return columns


def repeated_headers(export: ExportFile, headers: list[str], columns: dict[str, int]) -> dict[str, list[int]]:
    """Field -> the further columns with the header of the one it is read from ("Phone" twice); a row's
    first of them that is filled in is read. Each such header is a warning: which one Zoho meant is a
    guess."""
    repeated: dict[str, list[int]] = {}
    for name, index in columns.items():
        key = normalise_header(headers[index])
        others = [i for i, header in enumerate(headers) if i != index and normalise_header(header) == key]
        if others:
            repeated[name] = others
            numbers = ", ".join(str(i + 1) for i in sorted([index, *others]))
            export.warnings.append(
                f"{export.where(None)}: {len(others) + 1} columns are headed {headers[index].strip()!r} "
                f"(columns {numbers}): {name} is read from the first of them that a row fills in"
            )
    return repeated


def not_understood(export: ExportFile, line: int, what: str, text: str) -> None:
    """A warning that a cell was ignored, up to 20 of them: a whole column written another way would
    otherwise bury the other warnings."""
    if len(export.warnings) < 20:
        export.warnings.append(f"{export.where(line)}: {what} {text!r} not understood, ignored")


def overrides_for(headers: list[str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The ``--map`` entries whose column this header row has (one --map serves two exports)."""
    present = {normalise_header(h) for h in headers}
    return {column: field for column, field in overrides.items() if normalise_header(column) in present}
