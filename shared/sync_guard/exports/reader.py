"""Reading Zoho export CSVs (CRM Accounts/Contacts, Books Customers) into PartyRecords.

Headers are recognised whatever their case, spacing or punctuation (``Account Name``, ``account_name``
and ``ACCOUNT NAME`` are one header). A column can be pointed at a field explicitly with an override
(``{"Trading Name": "name"}``), which is what ``sync-guard match-report --map`` passes. Every error
names the file and the line, and nothing is guessed silently: a row with the wrong number of fields, a
missing or repeated id, or a file without an id or name column stops the read.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO, TextIO

from sync_guard.errors import ClientError
from sync_guard.exports.workbook import (
    WorkbookUnreadable,
    cell_text,
    column_letter,
    looks_like_workbook,
    lost_digits,
    read_sheet,
    serial_date_text,
)
from sync_guard.models.records import Module, PartyRecord, RecordKind, System


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
    # The codec the file is read with (see _encoding).
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


def _repeated_headers(
    export: ExportFile, headers: list[str], columns: dict[str, int]
) -> dict[str, list[int]]:
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


_NOT_AMOUNT = re.compile(r"[^0-9.,\-]")
# A currency abbreviated with a dot ("Rs.", "kr."): the dot is no decimal mark.
_ABBREVIATION = re.compile(r"[^\W\d_]+\.")
# An amount in brackets, as an accounting format writes a negative one.
_BRACKETED = re.compile(r"\([^()]*\d[^()]*\)")
_LIST_SEPARATORS = re.compile(r"[;,]")
# Yes and no, also as a spreadsheet saves TRUE and FALSE again in its language (WAHR, VRAI, WAAR, ...).
_TRUE = frozenset({"true", "yes", "y", "1", "t"}) | {
    "wahr", "ja", "vrai", "oui", "verdadero", "verdadeiro", "vero", "sí", "si", "waar", "sant",
}  # fmt: skip
_FALSE = frozenset({"false", "no", "n", "0", "f"}) | {
    "falsch", "nein", "faux", "non", "falso", "onwaar", "nee", "falskt",
}  # fmt: skip
_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    # A 12-hour clock is the US way of writing a time, and so is putting the month first: Zoho's
    # "03/15/2017 09:00 AM" for a US user.
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    # Day first is the reading outside the US; a date that cannot be day first (05/15/2018) is month first.
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d %b %Y %I:%M %p",
    "%d %b %Y %H:%M",
    "%d %b %Y",
    "%b %d, %Y %I:%M %p",
    "%b %d, %Y",
    "%d-%m-%Y",
    # As Zoho writes a user's other date formats, and as a spreadsheet saves dates again in its locale's
    # short format (seconds left out, a two-digit year, the year first).
    "%d/%m/%Y %I:%M %p",
    "%d/%m/%Y %I:%M:%S %p",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d-%b-%Y %I:%M %p",
    "%d-%b-%Y %H:%M:%S",
    "%d-%b-%Y %H:%M",
    "%d-%b-%Y",
    "%d %b %Y %H:%M:%S",
    "%d %B %Y %H:%M",
    "%d %B %Y",
    "%B %d, %Y %I:%M %p",
    "%B %d, %Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
    "%m/%d/%y %I:%M %p",
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
    "%d.%m.%y %H:%M",
    "%d.%m.%y",
)


# A US export writes 12/01/2018 for December 1: the month-first formats go first there.
_MONTH_FIRST_FORMATS = tuple(sorted(_DATE_FORMATS, key=lambda fmt: not fmt.startswith("%m/%d/")))


def _parse_time(value: str, *, month_first: bool = False) -> datetime | None:
    text = value.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in _MONTH_FIRST_FORMATS if month_first else _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)  # exports carry the organisation's local time
        except ValueError:
            continue
    return None


_TIME_FIELDS: tuple[str, ...] = ("modified", "created")

# A date written with slashes: day and month, in one order or the other.
_SLASH_DATE = re.compile(r"\s*(\d{1,2})/(\d{1,2})/\d{2,4}\b")


def _slash_order(text: str) -> str | None:
    """``"day"`` or ``"month"``: which comes first in a slash date that can be read only one way
    (``15/05/2018``, ``05/15/2018``); None for any other date, or one that reads both ways."""
    match = _SLASH_DATE.match(text)
    return None if match is None else _order_of(match)


def _order_of(match: re.Match[str]) -> str | None:
    """:func:`_slash_order` of a slash date :data:`_SLASH_DATE` matched."""
    first, second = int(match[1]), int(match[2])
    if first > 12 >= second:
        return "day"
    if second > 12 >= first:
        return "month"
    return None


def _amount_characters(value: str) -> str:
    """An amount's digits, marks and minus signs, without what stands around them (a currency's
    symbol, code or abbreviation, spaces)."""
    text = value.strip()
    if text[:1].isalpha() or text.endswith("."):  # an abbreviation is written first or last
        text = _ABBREVIATION.sub("", text)
    return _NOT_AMOUNT.sub("", text)


def _decimal_mark(value: str) -> str | None:
    """The decimal mark an amount shows, ``","`` or ``"."``; None when it shows none, or could be
    either way: one mark before three digits ("12.500", "1,250") is a decimal or a thousands mark."""
    text = _amount_characters(value)
    comma, dot = text.rfind(","), text.rfind(".")
    if comma >= 0 and dot >= 0:
        return "," if comma > dot else "."  # "1.250,50", "1,250.50"
    mark = "," if comma >= 0 else "." if dot >= 0 else None
    if mark is None:
        return None
    if text.count(mark) > 1:
        return "." if mark == "," else ","  # "1.250.000": thousands, so the other is the decimal mark
    return None if len(text) - text.rfind(mark) - 1 == 3 else mark


# A date as a spreadsheet counts it (days from 1900's count, a fraction the time of day), written as text
# in a CSV that a spreadsheet saved from a date column formatted General: "45292", "45292.5". Read as a
# date only in the years a Zoho export's times can be in, 1990 to 2100, in either count a workbook may
# keep (1904's is 1,462 days behind 1900's); a number outside them is no date.
_SERIAL_DAY = re.compile(r"\d{5}(?:[.,]\d+)?")
_FIRST_SERIAL_DAY = (date(1990, 1, 1) - date(1904, 1, 1)).days
_LAST_SERIAL_DAY = (date(2100, 12, 31) - date(1899, 12, 30)).days


def _spreadsheet_day(text: str) -> float | None:
    """The day number a time cell holds, as a spreadsheet wrote a date it counted; None for anything
    else."""
    if not _SERIAL_DAY.fullmatch(text):
        return None
    day = float(text.replace(",", "."))
    return day if _FIRST_SERIAL_DAY <= day < _LAST_SERIAL_DAY + 1 else None


def _time_convention(text: str) -> str | None:
    """How a time cell is written: ``"day"`` or ``"month"`` first (see :func:`_slash_order`),
    ``"either"`` for a slash date that reads both ways, ``"serial"`` for a spreadsheet's day number,
    ``"other"`` for any other text; None when empty."""
    match = _SLASH_DATE.match(text)
    if match is not None:
        return _order_of(match) or "either"
    value = text.strip()
    if not value:
        return None
    # the fifth character first: a date written otherwise ("2017-03-15") is told at once
    return "serial" if value[4:5].isdigit() and _spreadsheet_day(value) is not None else "other"


# What one cell shows of how its column is written, for the fields that are written in a convention:
# which comes first in a slash date (or whether the column holds a spreadsheet's day numbers), which
# mark is the decimal one in an amount.
_CONVENTIONS: dict[str, Callable[[str], str | None]] = {
    "modified": _time_convention,
    "created": _time_convention,
    "outstanding": _decimal_mark,
}


# How many rows settle how a file writes its dates and amounts.
_CONVENTION_ROWS = 20_000


def _settle_conventions(
    export: ExportFile,
    rows: Iterable[list[str]],
    columns: dict[str, int],
    *,
    semicolons: bool,
    date1904: bool = False,
) -> list[_ReadAsDecided]:
    """How to read the columns whose cells can be read two ways, from the cells that read one way.

    A column is written in one convention, so a date that can only be month first ("05/15/2018")
    tells how to read the others ("06/01/2018"), and an amount with a decimal comma ("1 250,50")
    that a dot in another ("12.500") separates thousands. A time column with neither order shown
    takes ``export.month_first``, an amount column with neither mark a decimal comma in a file
    separated by ``semicolons`` (as Excel writes where the decimal mark is a comma); both orders in
    one time column get a warning. A pass of its own over the ``rows`` after the header, before the
    records are read, that looks at the first :data:`_CONVENTION_ROWS` of them: one export is written
    in one convention, and the rows past those would cost a large export a quarter of its reading time
    for nothing.

    Returns how the rest of those columns is looked at as the rows are read, since a later value may
    show otherwise: :class:`_DayNumbers` (the time columns in which those rows hold nothing but a
    spreadsheet's day numbers, "45292", or nothing at all; a workbook's number cells are written as
    their numbers here, and so agree with day numbers written as text), :class:`_DateOrder` (the time
    columns in which those rows do not show both orders, whatever else they hold) and
    :class:`_DecimalMark` (the amount column, where no amount in those rows shows its mark; in a
    workbook, where no text amount does: a number cell is the number it is).
    """
    kept: _Kept = {}
    days = _DayNumbers(export, {}, kept, date1904=date1904)
    order = _DateOrder(export, {}, kept)
    mark = _DecimalMark(export, {}, kept)
    readings: list[_ReadAsDecided] = [days, order, mark]
    indices = {name: columns[name] for name in _CONVENTIONS if name in columns}
    if not indices:
        return readings
    counts: dict[str, Counter[str]] = {name: Counter() for name in indices}
    examples: dict[str, dict[str, str]] = {name: {} for name in indices}
    for row in islice(rows, _CONVENTION_ROWS):
        for name, index in indices.items():
            shown = _CONVENTIONS[name](row[index]) if index < len(row) else None
            if shown is not None:
                counts[name][shown] += 1
                examples[name].setdefault(shown, row[index].strip())
    for name in _TIME_FIELDS:
        if name not in counts:
            continue
        months, day_first = counts[name]["month"], counts[name]["day"]
        month_first = months > day_first if months != day_first else export.month_first
        export.month_first_in[name] = month_first
        if months and day_first:
            _both_orders(export, None, name, examples[name])
        else:  # ISO times too, as Zoho writes them: a slash date further down has an order to read
            order.columns[indices[name]] = name
            if months or day_first:
                order.shown[name] = examples[name]["month" if months else "day"]
        written = counts[name]
        if written["serial"] == written.total():
            days.columns[indices[name]] = name
    marks = counts.get("outstanding", Counter())
    export.decimal_comma = marks[","] > marks["."] if marks[","] != marks["."] else semicolons
    if "outstanding" in indices and not marks:
        mark.columns[indices["outstanding"]] = "outstanding"
    return readings


def _both_orders(export: ExportFile, line: int | None, name: str, example: dict[str, str]) -> None:
    """The warning that a time column is written both day first and month first (``example``: one of
    each, by ``"day"`` and ``"month"``), where ``line`` shows it if the first rows did not."""
    month_first = export.month_first_in[name]
    export.warnings.append(
        f"{export.where(line)}: {name} times are written both day first ({example['day']!r}) and "
        f"month first ({example['month']!r}); those that read either way are read "
        f"{'month' if month_first else 'day'} first"
    )


# (reading, field) -> (line or row, text) of each value read by a decision that may yet be proven wrong.
_Kept = dict[tuple["_ReadAsDecided", str], list[tuple[int, str]]]


class _ReadAsDecided:
    """How a column's values were read by a decision the file's first rows made (see
    :func:`_settle_conventions`), looked at again as each later row is read, since a value further down
    may prove that decision wrong. The values read by a decision a later one may yet prove wrong are
    kept, (line, text) by field, and the records that hold them are held back meanwhile (see
    :func:`iter_export`); when one proves it wrong (:meth:`_proven_wrong`), :meth:`retake` reads them
    again in the held records (:meth:`_read_again`). Nothing is held back where nothing was kept.

    The readings of one file share ``kept``, (reading, field) -> (line or row, text) of each value kept,
    so that whether any record is to be held back is one look at it."""

    def __init__(self, export: ExportFile, columns: dict[int, str], kept: _Kept) -> None:
        self.export = export
        self.columns = columns  # index -> field, while its values are looked at
        self.kept = kept
        self.wrong: list[str] = []  # fields whose kept values are to be read again

    def text(self, line: int, index: int, value: str) -> str:
        """A cell of a column looked at, as it is read (``value`` itself unless said otherwise)."""
        raise NotImplementedError

    def _keep(self, name: str, line: int, text: str) -> None:
        read = self.kept.get((self, name))
        if read is None:
            read = self.kept[self, name] = []
        read.append((line, text))

    def _kept_of(self, name: str) -> list[tuple[int, str]]:
        return self.kept.get((self, name), [])

    def _settled(self, name: str) -> None:
        """The values kept of the column ``name`` were read right: nothing to take back."""
        self.kept.pop((self, name), None)

    def _proven_wrong(self, name: str) -> None:
        if (self, name) in self.kept:
            self.wrong.append(name)

    def _read_again(self, name: str, line: int, text: str) -> dict[str, object]:
        """The fields of a held record that ``text`` (its cell of the column ``name``) now gives."""
        raise NotImplementedError

    def retake(self, held: list[tuple[int, PartyRecord]]) -> None:
        """The values kept of the columns proven wrong, read again in the ``held`` records (line,
        record)."""
        for name in self.wrong:
            read = dict(self.kept.pop((self, name)))
            for at, (line, record) in enumerate(held):
                if line in read:
                    held[at] = (line, record.model_copy(update=self._read_again(name, line, read[line])))
        self.wrong.clear()

    def settle(self) -> None:
        """The file read to its end: the values still kept stand as they were read."""
        for name in [name for reading, name in self.kept if reading is self]:
            self._settled(name)


class _DayNumbers(_ReadAsDecided):
    """The time columns read as a spreadsheet's day numbers (see :data:`_SERIAL_DAY`): those whose every
    value is one, decided over the whole column while the rows are read once. A column whose first rows
    hold nothing else (see :func:`_settle_conventions`) has each value read as the date it stands for
    until one is written otherwise; the column then mixes them with other times, and the day numbers
    already read are undone in the records held back meanwhile (:meth:`retake`): each is not understood,
    as in a column whose first rows show the mix.

    In a workbook these are its text cells, counted as the workbook counts its days (``date1904``): a
    number cell there is a date by its type (see :meth:`_WorkbookTable._typed_by_column`), and agrees
    with day numbers written as text."""

    def __init__(
        self, export: ExportFile, columns: dict[int, str], kept: _Kept, *, date1904: bool = False
    ) -> None:
        super().__init__(export, columns, kept)
        self.date1904 = date1904

    def text(self, line: int, index: int, value: str) -> str:
        """A cell of a day numbers' column as it is read: a day number as the date it stands for,
        anything else as written (and the column no longer read as day numbers)."""
        text = value.strip()
        if not text:
            return value
        name = self.columns[index]
        day = _spreadsheet_day(text) if text[4:5].isdigit() else None
        if day is None:
            del self.columns[index]
            self._proven_wrong(name)
            return value
        self._keep(name, line, text)
        return serial_date_text(day, date1904=self.date1904) or value

    def _read_again(self, name: str, line: int, text: str) -> dict[str, object]:
        _not_understood(self.export, line, f"{name} time", text)
        return {f"{name}_at": None}

    def settle(self) -> None:
        """The columns read as day numbers to the end: in ``export.serial_dates``, with a warning each
        that shows its first day number as a date."""
        export = self.export
        for name in _TIME_FIELDS:
            if read := self._kept_of(name):
                export.serial_dates.add(name)
                example = read[0][1]
                shown = serial_date_text(_spreadsheet_day(example), date1904=self.date1904)
                as_text = "" if export.sheet is None else " as text"
                export.warnings.append(
                    f"{export.where(None)}: the {name} column holds spreadsheet date numbers{as_text} "
                    f"({example!r} is {shown}), as a spreadsheet saves a date column formatted General: read "
                    f"as the dates they stand for (counted from {1904 if self.date1904 else 1900})"
                )
        super().settle()


class _DateOrder(_ReadAsDecided):
    """The day/month order of the time columns whose first rows do not show both orders, looked at in
    each slash date as the rows are read: a column of ISO times, as Zoho writes them, may have slash
    dates further down (typed in a spreadsheet), read as a column of slash dates is (a value with no
    slash is passed over at once). In a column whose first rows show no order, the dates that read
    either way ("03/04/2020") are read by ``export.month_first`` and kept: a later date that reads only
    the other way ("13/02/2020") proves that wrong, and they are read again in that order, with one
    warning, as the first rows would have had them read had it been among them. A later date against
    an order shown (by the first rows, or so since) makes a column of both orders: the warning the
    first rows give it, those that read either way still read in the order shown first."""

    def __init__(self, export: ExportFile, columns: dict[int, str], kept: _Kept) -> None:
        super().__init__(export, columns, kept)
        self.shown: dict[str, str] = {}  # field -> the first date that showed its order

    def text(self, line: int, index: int, value: str) -> str:
        if "/" not in value:  # "2020-01-03 10:00:00": most of a Zoho export's times
            return value
        match = _SLASH_DATE.match(value)
        if match is None:
            return value
        name, order = self.columns[index], _order_of(match)
        if order is None:
            if name not in self.shown:
                self._keep(name, line, value.strip())
            return value
        export, other = self.export, "day" if order == "month" else "month"
        first = self.shown.get(name)
        if (order == "month") == export.month_first_in[name]:
            if first is None:
                self.shown[name] = value.strip()
                self._settled(name)
        elif first is not None:
            del self.columns[index]
            _both_orders(export, line, name, {order: value.strip(), other: first})
        else:
            self.shown[name] = value.strip()
            export.month_first_in[name] = order == "month"
            if read := self._kept_of(name):
                export.warnings.append(
                    f"{export.where(line)}: {name} time {value.strip()!r} can only be {order} first, and the "
                    f"file's first {_CONVENTION_ROWS:,} rows show neither order: the {len(read)} {name} "
                    f"times before it that read either way (such as {read[0][1]!r}) are read {order} "
                    f"first, not {other} first"
                )
                self._proven_wrong(name)
        return value

    def _read_again(self, name: str, line: int, text: str) -> dict[str, object]:
        return {f"{name}_at": _parse_time(text, month_first=self.export.month_first_in[name])}


class _DecimalMark(_ReadAsDecided):
    """An amount column while no amount in it has shown its decimal mark (in a workbook, its text cells:
    a number cell is read as the number it is, and is not looked at here): those that read
    either way ("1,250", "12.500") are read by the mark decided (a decimal comma in a file of
    semicolons, a dot in any other) and kept. The first amount that shows its mark settles the
    column: the other mark ("1.250,50" where a dot was decided) has those read again with it, with
    one warning, as the first rows would have had them read had it been among them. Past that, an
    amount showing the other mark is read by its own, as in the first rows."""

    def text(self, line: int, index: int, value: str) -> str:
        if value.isdigit() or not value:  # "990": most amounts, no mark to show
            return value
        name, mark = self.columns[index], _decimal_mark(value)
        if mark is None:
            if any(sign in _amount_characters(value) for sign in ".,"):
                self._keep(name, line, value.strip())
            return value
        del self.columns[index]
        export = self.export
        if (mark == ",") == export.decimal_comma:
            self._settled(name)
        elif read := self._kept_of(name):
            export.decimal_comma = mark == ","
            shown, decided = ("comma", "dot") if export.decimal_comma else ("dot", "comma")
            export.warnings.append(
                f"{export.where(line)}: outstanding amount {value.strip()!r} shows a decimal {shown}, and "
                f"the file's first {_CONVENTION_ROWS:,} rows show no amount's mark: the {len(read)} amounts "
                f"before it that read either way (such as {read[0][1]!r}) are read with a decimal {shown}, "
                f"not a decimal {decided}"
            )
            self._proven_wrong(name)
        else:
            export.decimal_comma = mark == ","
        return value

    def _read_again(self, name: str, line: int, text: str) -> dict[str, object]:
        return {name: _parse_amount(text, decimal_comma=self.export.decimal_comma)}


def _parse_amount(value: str, *, decimal_comma: bool = False) -> Decimal | None:
    """An amount as an export writes it: "1,250.50", or with a decimal comma, as a spreadsheet saved
    in much of Europe writes it: "1.250,50", "12,50". One mark before three digits ("1,250",
    "12.500") separates thousands unless it is the file's decimal mark (``decimal_comma``); several
    of one mark ("1.250.000") always do. A spreadsheet's accounting format writes a negative amount
    in brackets, "(1,250.50)" or "$ (1,250.50)", some systems with the minus last, "1,250.50-", and a
    zero as "-"."""
    if value.isdigit() and value.isascii():  # "990", "0": most amounts, read as they stand
        return Decimal(value)
    text = _amount_characters(value)
    if text.strip("-") == "":
        return Decimal(0) if text == "-" else None
    negative = text.startswith("-") or text.endswith("-") or _BRACKETED.search(value) is not None
    text = text.strip("-")
    decimal = _decimal_mark(text) or ("," if decimal_comma else ".")
    text = text.replace("." if decimal == "," else ",", "").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    return -amount if negative else amount


# Fields a record takes from its cell as written (trimmed), when the cell holds something.
_AS_WRITTEN = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "website",
        "vat",
        "street",
        "city",
        "postcode",
        "country",
        "date_of_birth",
        "linked_crm_id",
        "currency",
    }
)


# CRM's own export writes a record's id as "zcrm_4876000000101001"; its API, its webhooks and Books' CRM
# Account ID give the bare id, which is the one a link, the sync and a support ticket use.
_CRM_EXPORT_PREFIX = "zcrm_"


# A long number that a spreadsheet showed in scientific notation and saved as shown ("4.6E+14", "4,6E+14"
# with a decimal comma): the digits it stood for are gone.
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d*)?E\+?\d+", re.IGNORECASE)
# Fields that lose a record's identity when their digits are lost, and fields that lose only a detail.
_ID_FIELDS = ("id", "linked_crm_id")
_NUMBER_FIELDS = ("phone", "mobile")
# A spreadsheet keeps 15 significant digits of a number; Zoho's ids are longer.
_SPREADSHEET_DIGITS = 15


def _looks_scientific(value: str) -> bool:
    return ("E" in value or "e" in value) and _SCIENTIFIC.fullmatch(value) is not None


def _drop_numbers_a_spreadsheet_rewrote(export: ExportFile, line: int, cells: dict[str, str]) -> None:
    """ExportError for an id a spreadsheet saved in scientific notation; such a phone number is dropped,
    with a warning."""
    for name in _ID_FIELDS:
        value = cells.get(name)
        if value is not None and _looks_scientific(value):
            raise export.error(
                line,
                f"{export.columns[name].strip()!r} is {value!r}: a spreadsheet saved this id in scientific "
                "notation and its digits are lost. Export the file from Zoho again and pass it on without "
                "saving it from a spreadsheet (or open it there with that column imported as Text)",
            )
    for name in _NUMBER_FIELDS:
        value = cells.get(name)
        if value is not None and _looks_scientific(value):
            del cells[name]
            if len(export.warnings) < 20:
                export.warnings.append(
                    f"{export.where(line)}: {name} {value!r} was saved by a spreadsheet in scientific "
                    "notation and its digits are lost: ignored"
                )


def _restore_leading_zeros(export: ExportFile, cells: dict[str, str]) -> None:
    """Put back the leading zeros a spreadsheet dropped when it took a postcode or a phone number for a
    number (and saved it again so, in a CSV file as in a workbook): a US ZIP code of 3 or 4 digits
    ("2134" for 02134), and a phone number of a country whose numbers keep their leading 0 (Italy's
    "0212345678"). A UK "2079460000" needs nothing: libphonenumber reads it as 020 7946 0000, the
    trunk 0 being no part of the number. The country is the row's, or else ``export.default_region``.
    """
    postcode = cells.get("postcode")
    short_zip = postcode is not None and len(postcode) in (3, 4) and postcode.isdigit()
    phones = [name for name in _NUMBER_FIELDS if (cells.get(name) or "0")[0] in "123456789"]
    if not short_zip and not any(cells[name].isdigit() for name in phones):
        return  # the common case, decided without looking the country up
    from sync_guard.matching.normalise import country_code

    region = country_code(cells["country"]) if "country" in cells else export.default_region
    if region is None:
        return
    if short_zip and region == "US":
        cells["postcode"] = cells["postcode"].zfill(5)
        export.restored_zeros["postcode"] += 1
    if not _zero_is_a_digit(region):
        return
    for name in phones:
        if cells[name].isdigit() and _lost_its_zero(cells[name], region):
            cells[name] = "0" + cells[name]
            export.restored_zeros["phone"] += 1


@lru_cache(maxsize=4_096)
def _lost_its_zero(digits: str, region: str) -> bool:
    """Whether a phone number written as digits is a number of ``region`` only with a leading 0 put
    back. Asked only where the region's numbers may start with a 0 that is part of them (Italy's, San
    Marino's, ...): elsewhere a leading 0 is the trunk prefix, which libphonenumber does without."""
    import phonenumbers

    try:
        as_written = phonenumbers.parse(digits, region)
        with_zero = phonenumbers.parse("0" + digits, region)
    except phonenumbers.NumberParseException:
        return False
    return not phonenumbers.is_valid_number(as_written) and phonenumbers.is_valid_number(with_zero)


@lru_cache(maxsize=256)
def _zero_is_a_digit(region: str) -> bool:
    """Whether numbers of ``region`` may begin with a 0 that is part of the number, as its example
    numbers show (libphonenumber's "Italian leading zero")."""
    import phonenumbers

    kinds = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
    examples = (phonenumbers.example_number_for_type(region, kind) for kind in kinds)
    return any(example is not None and example.italian_leading_zero for example in examples)


def _restored_zeros_warning(export: ExportFile) -> list[str]:
    """One warning counting the postcodes and phone numbers whose leading zeros were put back."""
    restored = export.restored_zeros
    if not restored:
        return []
    counts = " and ".join(
        f"{restored[kind]} {label}"
        for kind, label in (("postcode", "US ZIP code(s)"), ("phone", "phone number(s)"))
        if restored[kind]
    )
    return [
        f"{export.where(None)}: {counts} had lost their leading zeros, as a spreadsheet drops them from "
        "a column it takes for numbers (2134 for ZIP 02134): put back"
    ]


def _not_understood(export: ExportFile, line: int, what: str, text: str) -> None:
    """A warning that a cell was ignored, up to 20 of them: a whole column written another way would
    otherwise bury the other warnings."""
    if len(export.warnings) < 20:
        export.warnings.append(f"{export.where(line)}: {what} {text!r} not understood, ignored")


def _row_record(
    export: ExportFile, line: int, row: list[str], columns: dict[str, int], module: Module
) -> PartyRecord:
    # The mapped cells that hold something, each stripped once; a field missing here reads as empty.
    cells = {name: value for name, index in columns.items() if (value := row[index].strip())}
    for name, further in export.repeated.items():
        if name not in cells and (filled := next((v for i in further if (v := row[i].strip())), None)):
            cells[name] = filled
    _drop_numbers_a_spreadsheet_rewrote(export, line, cells)
    _restore_leading_zeros(export, cells)
    get = cells.get

    record_id = get("id")
    if not record_id:
        raise export.error(line, "empty id")
    if export.system is System.CRM:
        record_id = record_id.removeprefix(_CRM_EXPORT_PREFIX)
    # Only the fields that carry a value: pydantic keeps a set of the fields given per record, and with
    # all 22 of them that set alone costs 2 KB a record (400 MB over a 100k x 100k run).
    values: dict[str, object] = {name: cells[name] for name in _AS_WRITTEN.intersection(cells)}
    if "linked_crm_id" in cells:
        values["linked_crm_id"] = cells["linked_crm_id"].removeprefix(_CRM_EXPORT_PREFIX)
    company_name = get("company_name")
    name = get("name") or company_name or " ".join(p for p in (get("first_name"), get("last_name")) if p)
    if company_name and company_name.casefold() != name.casefold():
        values["other_names"] = (company_name,)
    person = get("kind", "").lower() in {"individual", "person"} or module is Module.CRM_CONTACTS
    has_transactions: bool | None = None
    flag = get("has_transactions", "").lower()
    if flag in _TRUE:
        has_transactions = True
    elif flag and flag in _FALSE:
        has_transactions = False
    elif flag:  # a count or an amount of invoices, mapped to the field with --map
        invoiced = _parse_amount(flag, decimal_comma=export.decimal_comma)
        if invoiced is None:
            _not_understood(export, line, "has transactions", cells["has_transactions"])
        else:
            has_transactions = invoiced != 0
    outstanding = None
    if "outstanding" in cells:
        outstanding = _parse_amount(cells["outstanding"], decimal_comma=export.decimal_comma)
        if outstanding is None:
            _not_understood(export, line, "outstanding amount", cells["outstanding"])
    if has_transactions is None and outstanding is not None and outstanding != 0:
        has_transactions = True  # money owed means invoices exist
    for label, field_name in (("modified", "modified_at"), ("created", "created_at")):
        text = get(label)
        if not text:
            continue
        moment = _parse_time(text, month_first=export.month_first_in.get(label, export.month_first))
        if moment is not None:
            values[field_name] = moment
        else:
            _not_understood(export, line, f"{label} time", text)
    if "other_emails" in cells:
        others = tuple(e.strip() for e in _LIST_SEPARATORS.split(cells["other_emails"]) if e.strip())
        if others:
            values["other_emails"] = others
    if "street2" in cells:  # "Acme House" / "12 Kings Road": the street reader takes the line apart
        values["street"] = ", ".join(filter(None, (get("street"), cells["street2"])))
    phone = get("phone") or get("mobile")
    if phone:
        values["phone"] = phone
    status = get("status", "").lower()
    if status in {"inactive", "deleted"}:
        values["active"] = False
    elif status == "active":
        values["active"] = True  # given, so that the report can tell an Active copy from one of no status
    if has_transactions is not None:
        values["has_transactions"] = has_transactions
    if outstanding is not None:
        values["outstanding"] = outstanding
    values.update(
        system=export.system,
        module=module,
        record_id=record_id,
        name=name,
        kind=RecordKind.PERSON if person else RecordKind.COMPANY,
    )
    return PartyRecord.model_validate(values)


# Headers only one system's exports have: CRM names its ids "Record Id", Books its customers
# "Contact ID" beside a "Display Name". Swapping --crm and --books would mislabel every record.
_SIGNATURES: dict[System, tuple[frozenset[str], str]] = {
    System.CRM: (frozenset({"record id"}), "a Zoho CRM export"),
    System.BOOKS: (frozenset({"contact id", "display name"}), "a Zoho Books customers export"),
}
_OPTIONS = {System.CRM: "--crm", System.BOOKS: "--books"}


def _rounded_hint(record_id: str) -> str:
    """Why a long numeric id may stand twice: a spreadsheet rounded both copies to its 15 digits."""
    if record_id.isdigit() and len(record_id) > _SPREADSHEET_DIGITS and record_id.endswith("0"):
        return (
            f": a spreadsheet keeps only {_SPREADSHEET_DIGITS} digits of a number, so if the file was saved "
            "from one, export it from Zoho again and pass it on as it is"
        )
    return ""


def _check_system(path: Path, system: System, headers: list[str], *, sheet: str | None = None) -> None:
    """ExportError when the file is plainly the other system's export."""
    present = {normalise_header(h) for h in headers}
    own, _ = _SIGNATURES[system]
    other = System.BOOKS if system is System.CRM else System.CRM
    theirs, kind = _SIGNATURES[other]
    if theirs <= present and not own & present:
        shown = ", ".join(f"'{h.strip()}'" for h in headers if normalise_header(h) in theirs)
        raise ExportError(path, 1, f"this is {kind} ({shown}): pass it with {_OPTIONS[other]}", sheet=sheet)


def _module_for(system: System, columns: dict[str, int]) -> Module:
    if system is System.BOOKS:
        return Module.BOOKS_CUSTOMERS
    # A CRM export with person-name columns and no account name column is a Contacts export.
    if {"first_name", "last_name"} & set(columns) and "name" not in columns:
        return Module.CRM_CONTACTS
    return Module.CRM_ACCOUNTS


# What a file named .csv sometimes is instead, by the bytes it starts with: the web page a browser saved
# when an export link had expired, or Excel's XML spreadsheet. (A workbook is read as one, whatever its
# name: see is_workbook.)
_NOT_CSV: tuple[tuple[bytes, str], ...] = (
    (b"<!doctype html", "a web page (HTML)"),
    (b"<html", "a web page (HTML)"),
    (b"<?xml", "an XML file (an Excel XML spreadsheet?)"),
)
_AS_CSV = (
    "export it from Zoho again (CSV, XLS or XLSX), or save it from the spreadsheet as 'Excel Workbook "
    "(.xlsx)' or 'CSV UTF-8'"
)
# How much of a file shows what it is.
_HEAD_BYTES = 4096


def _refuse_what_is_not_text(path: Path, head: bytes) -> None:
    """ExportError when a file's first bytes show a web page or other binary data."""
    start = head.removeprefix(codecs.BOM_UTF8).lstrip().lower()
    for signature, kind in _NOT_CSV:
        if start.startswith(signature.lower()):
            raise ExportError(path, None, f"this is {kind}, not a CSV file: {_AS_CSV}")
    if b"\x00" in head:
        raise ExportError(path, None, f"this is not text (it holds NUL bytes): {_AS_CSV}")


def _first_line_not_in(handle: BinaryIO, codec: str, *, mac_lines: bool) -> int | None:
    """The number of the first line that does not decode with ``codec``; None when all do. Lines end
    with LF (or CRLF), or with CR alone when ``mac_lines`` (such a file is read whole)."""
    handle.seek(0)
    lines = handle.read().split(b"\r") if mac_lines else handle
    for number, raw in enumerate(lines, start=1):
        try:
            raw.decode(codec)
        except UnicodeDecodeError:
            return number
    return None


def _first_line_not_utf16(handle: BinaryIO) -> int | None:
    """The number of the first line of a file that starts with UTF-16's byte order mark that does not
    decode as UTF-16 (half a surrogate pair, an odd byte at its end); None when all do. Checked before
    reading, as for UTF-8, since the text reader decodes ahead of the line it returns."""
    handle.seek(0)
    decoder = codecs.getincrementaldecoder("utf-16")()
    newlines = returns = 0
    for chunk in chain(iter(lambda: handle.read(1 << 20), b""), (None,)):
        try:
            text = decoder.decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError as error:
            # The bytes before the fault, in the order the byte order mark gave.
            text = error.object[: error.start].decode(error.encoding)
            newlines, returns = newlines + text.count("\n"), returns + text.count("\r")
            return (newlines or returns) + 1  # lines end with LF (or CRLF), or a Mac's CR alone
        newlines, returns = newlines + text.count("\n"), returns + text.count("\r")
    return None


# What Excel writes when it is not told to write UTF-8, as a warning names it: "CSV (Comma delimited)"
# on Windows in Western Europe and the Americas, and "Comma Separated Values" on a Mac, whose lines end
# with CR alone.
SPREADSHEET_ENCODINGS = {
    "cp1252": "Windows-1252 (Excel's 'CSV (Comma delimited)' on Windows)",
    "mac_roman": "Mac Roman (Excel for Mac's 'Comma Separated Values')",
}


def _encoding(path: Path) -> tuple[str, int | None]:
    """The codec to read a file with and, when it is not UTF-8, the first line that showed it.

    UTF-8, with or without a byte order mark, is what Zoho writes. UTF-16 with its byte order mark is
    Excel's "Unicode Text". Anything else is read as the encoding Excel writes when it is not asked for
    UTF-8 (:data:`SPREADSHEET_ENCODINGS`): Mac Roman when its lines end with CR alone, as a Mac's do,
    otherwise Windows-1252. Refusing such a file would send the user back to a spreadsheet whose save
    dialog offers that format first. ExportError when even Windows-1252 cannot read the file, or when
    it is a workbook or a web page under a .csv name.
    """
    try:
        handle = path.open("rb")
    except OSError as error:
        raise ExportError(path, None, f"cannot open: {error.strerror or error}") from error
    with handle:
        head = handle.read(_HEAD_BYTES)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            not_utf16 = _first_line_not_utf16(handle)
            if not_utf16 is not None:
                message = "not UTF-16 text, though the file starts as UTF-16 (save it as CSV UTF-8)"
                raise ExportError(path, not_utf16, message)
            return "utf-16", None
        _refuse_what_is_not_text(path, head)
        mac_lines = b"\r" in head and b"\n" not in head
        not_utf8 = _first_line_not_in(handle, "utf-8", mac_lines=mac_lines)
        if not_utf8 is None:
            return "utf-8-sig", None
        if head.startswith(codecs.BOM_UTF8):  # UTF-8 by its own word: the rest was pieced on to it
            raise ExportError(
                path, not_utf8, "not UTF-8 text, though the file starts as UTF-8 (save it as CSV UTF-8)"
            )
        if mac_lines:
            return "mac_roman", not_utf8  # it has a character for every byte
        not_cp1252 = _first_line_not_in(handle, "cp1252", mac_lines=False)
        if not_cp1252 is not None:
            raise ExportError(
                path, not_cp1252, "neither UTF-8 nor Windows-1252 text (save the file as CSV UTF-8)"
            )
        return "cp1252", not_utf8


def _open_text(path: Path, encoding: str) -> TextIO:
    """The file as text, its line ends (CRLF, LF, or a Mac's CR) left for the CSV reader."""
    try:
        return path.open(encoding=encoding, newline="")
    except OSError as error:
        raise ExportError(path, None, f"cannot open: {error.strerror or error}") from error


# What separates the fields: Zoho exports use commas; a spreadsheet saved again in a European locale
# uses semicolons, and text copied out of one uses tabs.
_DELIMITERS = (",", ";", "\t")


def _delimiter(header: str) -> str:
    """The delimiter the header row uses most (a comma when it uses none: a one-column file)."""
    return max(_DELIMITERS, key=header.count) if header else ","


# A Zoho record id as an export writes it: digits, in CRM's export after "zcrm_".
_ZOHO_ID = re.compile(r"(?:zcrm_)?\d{6,}")


@dataclass
class _ShortRows:
    """Rows with fewer fields than the header, read with their missing last cells empty.

    Excel leaves out the separators of a row's last cells when they are empty (for a run of rows at a
    time), so a Zoho export saved from it again has such rows. A line break inside a field that is not
    quoted also makes short rows, whose second part would read as a record of its own; so a short row
    is read only when its id is a Zoho id ("4876000000101001", "zcrm_4876000000101001"), which the
    rest of a broken row does not, and refused otherwise, naming the line.
    """

    path: Path
    width: int
    id_index: int
    count: int = 0
    first: int = 0
    previous: tuple[int, int] | None = None  # (line, fields) of the row before, when it was short

    def pad(self, line: int, row: list[str]) -> None:
        """Fill a short row up to the header's width in place (nothing for a full one)."""
        fields = len(row)
        if fields == self.width:
            self.previous = None
            return
        if self.id_index >= fields or not _ZOHO_ID.fullmatch(row[self.id_index].strip()):
            message = f"row has {fields} fields, the header has {self.width}"
            if self.previous is not None:
                message += (
                    f" (and line {self.previous[0]} before it has {self.previous[1]}: is there a line break "
                    "inside a field that is not quoted?)"
                )
            raise ExportError(self.path, line, message)
        self.previous = (line, fields)
        self.count += 1
        self.first = self.first or line
        row.extend([""] * (self.width - fields))

    def warnings(self) -> list[str]:
        """One warning for all the short rows read."""
        if not self.count:
            return []
        return [
            f"{self.path}: {self.count} row(s) have fewer fields than the header (first at line "
            f"{self.first}), as Excel writes a row whose last cells are empty: those cells are read as empty"
        ]


#: What a spreadsheet shows, and a CSV saved from it holds, in a cell whose formula failed.
SPREADSHEET_ERRORS = frozenset(
    {"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!", "#SPILL!", "#CALC!", "#GETTING_DATA"}
)
_SPREADSHEET_ERROR = re.compile("|".join(re.escape(error) for error in sorted(SPREADSHEET_ERRORS)))


def _id_columns(export: ExportFile, columns: dict[str, int]) -> dict[int, str]:
    """The columns that give a record's identity (its id, its link), repeats included: index -> field."""
    return {
        index: name
        for name in _ID_FIELDS
        if name in columns
        for index in (columns[name], *export.repeated.get(name, ()))
    }


class _ErrorValues:
    """Error values (``#N/A``, ``#REF!``...) where a field is read: a lookup that found nothing, a deleted
    column. Never a name or an id: read as empty and counted for one warning, except in an id column, where
    the record (or its link) would be another, or none, and the run stops."""

    def __init__(self, export: ExportFile, headers: list[str], *, unit: str) -> None:
        self.export, self.headers, self.unit = export, headers, unit
        self.count = 0
        self.first: tuple[int, int, str] | None = None  # (line or row, column index, error)

    def _place(self, number: int, column: int) -> str:
        header = self.headers[column].strip()
        if self.unit == "row":
            return f"{header!r} (cell {column_letter(column)}{number})"
        return repr(header)

    def _unknown(self, what: str, error: str) -> str:
        """Why an id column's cell leaves its record's ``what`` unknown, and what to do."""
        fix = "correct the formula, or paste the ids in as values"
        return f"holds the error {error}, so this {what} is not known (a lookup that found nothing?): {fix}"

    def _counted(self, count: int, error: str, place: str) -> str:
        """The warning's words for ``count`` such cells, the first (``error``) at ``place``."""
        return (
            f"{count} cell(s) hold an error value (#N/A, #REF!, ...) where a value was read, the first "
            f"{error} at {place}: read as empty"
        )

    def read(self, number: int, column: int, error: str, ids: dict[int, str]) -> None:
        """Count one error value read as empty; ExportError if ``column`` is an id column."""
        if column in ids:
            what = ids[column].replace("_", " ")
            raise self.export.error(number, f"{self._place(number, column)} {self._unknown(what, error)}")
        self.count += 1
        self.first = self.first or (number, column, error)

    def warnings(self) -> list[str]:
        if self.first is None:
            return []
        number, column, error = self.first
        header = repr(self.headers[column].strip())
        column_name = (
            f"column {column_letter(column)} ({header})" if self.unit == "row" else f"column {header}"
        )
        place = f"{self.unit} {number}, {column_name}"
        return [f"{self.export.where(None)}: {self._counted(self.count, error, place)}"]


# What to do about formulas a workbook holds without their values.
_SAVE_VALUES = (
    "open the workbook in a spreadsheet program (Excel, LibreOffice) and save it, so that the values are "
    "saved with the formulas, or paste the values over the formulas, and run this again"
)


class _UnsavedFormulas(_ErrorValues):
    """Cells of a workbook holding a formula whose value was never saved (a workbook written by a
    program, such as openpyxl, that saves the formulas and leaves their computing to a spreadsheet):
    read as empty and counted for one warning, except in an id column, where the run stops, as for an
    error value."""

    held = "a formula with no saved value"

    def _unknown(self, what: str, error: str) -> str:
        return f"holds {self.held}, so this {what} is not known: {_SAVE_VALUES}"

    def _counted(self, count: int, error: str, place: str) -> str:
        return (
            f"{count} cell(s) hold a formula with no saved value (a workbook written by a program, not "
            f"saved from a spreadsheet) where a value was read, the first at {place}: read as empty; "
            f"{_SAVE_VALUES}"
        )


class _EmptyTextFormulas(_UnsavedFormulas):
    """Cells of an xls workbook holding a formula whose saved value is empty text: a spreadsheet's
    formula that came to "" (an IFERROR with nothing found), or one a program such as xlwt wrote
    without working it out, which an xls saves the same way. Read as empty and counted for one
    warning, as :class:`_UnsavedFormulas` are; in the id column the run stops (the record would have
    no id), but not in a link's column, where "" is a spreadsheet's usual way of writing no link."""

    held = "a formula whose saved value is empty text"

    def _counted(self, count: int, error: str, place: str) -> str:
        return (
            f"{count} cell(s) hold {self.held} where a value was read, the first at {place}: read as "
            "empty. An .xls workbook saves that both for a formula a spreadsheet worked out as empty and "
            "for one a program (such as xlwt) wrote without working it out: if these cells should hold "
            f"values, {_SAVE_VALUES}"
        )


class _CsvTable:
    """A CSV export's header row and its rows (see :func:`iter_export`)."""

    def __init__(self, export: ExportFile, handle: TextIO) -> None:
        self.export = export
        path = export.path
        first = handle.readline()
        self.reader = csv.reader(chain((first,), handle), delimiter=_delimiter(first), strict=True)
        try:
            self.headers = next(self.reader)
        except StopIteration:
            raise ExportError(path, None, "the file is empty (no header row)") from None
        except csv.Error as error:
            raise ExportError(path, 1, f"header row is not valid CSV: {error}") from error
        if not any(header.strip() for header in self.headers):
            if any(line.strip() for line in handle):
                raise ExportError(path, 1, "the first line is blank: the header row must come first")
            raise ExportError(path, None, "the file is empty (no header row)")
        self.semicolons = self.reader.dialect.delimiter == ";"
        self.date1904 = False  # a workbook's count of days, which a CSV file does not say
        self.short: _ShortRows | None = None
        self.errors: _ErrorValues | None = None

    def sample(self, columns: dict[str, int]) -> Iterator[list[str]]:
        """The rows after the header, read again from the start, up to the first that is not valid (every
        cell as written: a CSV file's ``columns`` are all text)."""
        with _open_text(self.export.path, self.export.encoding) as handle:
            rows = csv.reader(handle, delimiter=self.reader.dialect.delimiter)
            try:
                next(rows, None)
                yield from rows
            except (csv.Error, UnicodeDecodeError):
                return  # the reading proper stops there, naming the line

    def rows(
        self, columns: dict[str, int], readings: Sequence[_ReadAsDecided]
    ) -> Iterator[tuple[int, list[str]]]:
        """(line, row) of each row that is not blank, a short one filled up to the header's width, an error
        value a spreadsheet saved (see :class:`_ErrorValues`) read as empty where a field is read, the
        cells of the columns the ``readings`` look at as they read them (a spreadsheet's day number as
        its date)."""
        path, width = self.export.path, len(self.headers)
        self.short = short = _ShortRows(path, width, columns["id"])
        ids = _id_columns(self.export, columns)
        read = sorted({*columns.values(), *ids}) if self._holds_error_values() else []
        self.errors = errors = _ErrorValues(self.export, self.headers, unit="line")
        reader, looking = self.reader, [reading for reading in readings if reading.columns]
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise ExportError(path, start, f"not valid CSV: {error}") from error
            except UnicodeDecodeError as error:
                raise ExportError(path, start, f"not {self.export.encoding} text: {error.reason}") from error
            if not any(cell.strip() for cell in row):
                continue  # blank lines at the end of hand-edited exports
            if len(row) > width:
                raise ExportError(path, start, f"row has {len(row)} fields, the header has {width}")
            short.pad(start, row)
            for index in read:
                if row[index].strip() in SPREADSHEET_ERRORS:
                    errors.read(start, index, row[index].strip(), ids)
                    row[index] = ""
            for reading in looking:
                for index in [*reading.columns]:
                    row[index] = reading.text(start, index, row[index])
            yield start, row

    def _holds_error_values(self) -> bool:
        """Whether the file's text holds an error value anywhere: one quick search, so that the cells are
        looked at one by one only in a file a spreadsheet saved with some."""
        with _open_text(self.export.path, self.export.encoding) as handle:
            tail = ""
            while chunk := handle.read(1 << 20):
                if _SPREADSHEET_ERROR.search(tail + chunk):
                    return True
                tail = chunk[-16:]
        return False

    def warnings(self) -> list[str]:
        """What a person should know about how the rows were read."""
        found = self.short.warnings() if self.short is not None else []
        return found + (self.errors.warnings() if self.errors is not None else [])


class _WorkbookTable:
    """A workbook's sheet (the one asked for, or its first visible one), its cells written as a CSV of
    it would hold them: its header is the first row that holds anything, and rows keep their numbers
    in the sheet."""

    def __init__(self, export: ExportFile) -> None:
        self.export = export
        try:
            sheet = read_sheet(export.path, export.wanted_sheet)
        except WorkbookUnreadable as error:
            raise ExportError(export.path, None, str(error)) from error
        export.sheet = sheet.name
        if sheet.others:
            others = ", ".join(repr(name) for name in sheet.others)
            export.warnings.append(
                f"{export.path}: the workbook has {len(sheet.others) + 1} sheets; the first, {sheet.name!r}, "
                f"is read and {others} left aside (a Zoho export has one sheet: name the customers' sheet "
                f"with {_OPTIONS[export.system]}-sheet to read another)"
            )
        self.cells = sheet.cells
        texts = ([cell_text(value) for value in row] for row in self.cells)
        header_index = next((i for i, row in enumerate(texts) if any(t.strip() for t in row)), None)
        if header_index is None:
            raise export.error(None, "the sheet is empty (no header row)")
        self.header_index = header_index
        headers = [cell_text(value) for value in self.cells[self.header_index]]
        while not headers[-1].strip():
            headers.pop()  # the sheet's width is its widest row's
        self.headers = headers
        self.semicolons = False
        self.error_cells = sheet.errors
        self.unsaved_formula_cells = sheet.unsaved_formulas
        self.empty_text_formula_cells = sheet.empty_text_formulas
        self.date1904 = sheet.date1904
        self.errors = _ErrorValues(export, headers, unit="row")
        self.unsaved_formulas = _UnsavedFormulas(export, headers, unit="row")
        self.empty_text_formulas = _EmptyTextFormulas(export, headers, unit="row")

    def _row_text(self, row: Sequence[object]) -> list[str]:
        width = len(self.headers)
        texts = [cell_text(value) for value in row[:width]]
        texts.extend([""] * (width - len(texts)))
        return texts

    def sample(self, columns: dict[str, int]) -> Iterator[list[str]]:
        """The rows after the header, as text, the number cells of the amount column left out: a
        number's text has the dot :func:`cell_text` writes, which tells nothing of the mark the sheet's
        text amounts are written with ("1.250,50")."""
        amount = columns.get("outstanding")
        for row in islice(self.cells, self.header_index + 1, None):
            texts = self._row_text(row)
            if amount is not None and amount < len(row) and type(row[amount]) in (float, int):
                texts[amount] = ""
            yield texts

    def rows(
        self, columns: dict[str, int], readings: Sequence[_ReadAsDecided]
    ) -> Iterator[tuple[int, list[str]]]:
        """(row number, row) of each row that is not blank, its text cells in the columns the ``readings``
        look at as they read them; ExportError for an id a number has cut short or an error value has
        taken the place of, or a cell right of the header's last column."""
        export, width = self.export, len(self.headers)
        ids = _id_columns(export, columns)
        errors = self._read_in_columns(columns, self.error_cells)
        unsaved = self._read_in_columns(columns, dict.fromkeys(self.unsaved_formula_cells, ""))
        empty_texts = self._read_in_columns(columns, dict.fromkeys(self.empty_text_formula_cells, ""))
        record_ids = {index: name for index, name in ids.items() if name == "id"}
        dates = [columns[name] for name in (*_TIME_FIELDS, "date_of_birth") if name in columns]
        amount = columns.get("outstanding")
        typed = bool(dates) or amount is not None
        looking = [reading for reading in readings if reading.columns]
        for number, row in enumerate(islice(self.cells, self.header_index + 1, None), self.header_index + 2):
            texts = self._row_text(row)
            if typed:
                self._typed_by_column(row, texts, dates, amount)
            beyond = next((i for i in range(width, len(row)) if cell_text(row[i]).strip()), None)
            if beyond is not None:
                raise export.error(
                    number,
                    f"cell {column_letter(beyond)}{number} holds {cell_text(row[beyond])!r}, right "
                    f"of the header's last column ({column_letter(width - 1)}): give it a header, or "
                    "clear it",
                )
            # python-calamine reads both an error cell and a formula with no saved value as empty
            for column, error in errors.get(number, ()):
                self.errors.read(number, column, error, ids)
            for column, _ in unsaved.get(number, ()):
                self.unsaved_formulas.read(number, column, "", ids)
            if not any(text.strip() for text in texts):
                continue
            # After the blank rows: a row of formulas worked out as "" (filled down past the data) shows
            # nothing, and is passed over as any blank row is, its id column's "" included.
            for column, _ in empty_texts.get(number, ()):
                self.empty_text_formulas.read(number, column, "", record_ids)
            for reading in looking:  # day numbers written as text; a number cell is a date already
                for index in [*reading.columns]:
                    if index >= len(row) or type(row[index]) not in (float, int):
                        texts[index] = reading.text(number, index, texts[index])
            for index, name in ids.items():
                if lost_digits(row[index]):
                    raise export.error(
                        number,
                        f"{self.headers[index].strip()!r} (cell {column_letter(index)}{number}) is the "
                        f"number {texts[index]}: a spreadsheet keeps only {_SPREADSHEET_DIGITS} digits of a "
                        f"number, so this {name.replace('_', ' ')}'s last digits are lost. Export the file "
                        "from Zoho again, or format that column as Text before the ids are typed or pasted",
                    )
            yield number, texts

    def _typed_by_column(
        self, row: Sequence[object], texts: list[str], dates: list[int], amount: int | None
    ) -> None:
        """A number cell read as its column means it: in a column of dates, the date its serial number
        stands for; in the ``amount`` column, while the file's amounts are read with a decimal comma (its
        text amounts may show one at any row: see :class:`_DecimalMark`), written with a decimal comma
        (1250.125 would read as 1250125 there: a mark before three digits is the file's thousands). A
        number cell's text has a decimal dot, which is what a file of decimal dots means."""
        for index in dates:
            if index < len(row) and (text := serial_date_text(row[index], date1904=self.date1904)):
                texts[index] = text
        if (
            amount is not None
            and self.export.decimal_comma
            and amount < len(row)
            and type(row[amount]) in (float, int)
        ):
            texts[amount] = texts[amount].replace(".", ",")

    def _read_in_columns(
        self, columns: dict[str, int], cells: dict[tuple[int, int], str]
    ) -> dict[int, list[tuple[int, str]]]:
        """The ``cells`` below the header in the columns read, by row number: (column index, what the
        cell holds)."""
        read = {*columns.values(), *(i for further in self.export.repeated.values() for i in further)}
        by_row: dict[int, list[tuple[int, str]]] = {}
        for (row, column), error in sorted(cells.items()):
            if row > self.header_index and column in read:
                by_row.setdefault(row + 1, []).append((column, error))
        return by_row

    def warnings(self) -> list[str]:
        """One warning counting the error cells read as empty, one counting the formulas with no saved
        value, one counting an xls workbook's formulas saved as empty text (a sheet's rows need no other
        mending)."""
        return self.errors.warnings() + self.unsaved_formulas.warnings() + self.empty_text_formulas.warnings()


@contextmanager
def _open_table(export: ExportFile) -> Iterator[_CsvTable | _WorkbookTable]:
    """The export's header and rows, by what the file holds: a workbook (whatever its name) or CSV."""
    if is_workbook(export.path):
        yield _WorkbookTable(export)
        return
    if export.wanted_sheet is not None:
        raise ExportError(
            export.path,
            None,
            f"sheet {export.wanted_sheet!r} asked for, but this is a CSV file: it has no sheets",
        )
    export.encoding, not_utf8 = _encoding(export.path)
    if not_utf8 is not None:
        export.warnings.append(
            f"{export.path}, line {not_utf8}: not UTF-8, so the file is read as "
            f"{SPREADSHEET_ENCODINGS[export.encoding]}; if names look wrong in the report, save the file as "
            "'CSV UTF-8' and run it again"
        )
    with _open_text(export.path, export.encoding) as handle:
        yield _CsvTable(export, handle)


def _retake(readings: Sequence[_ReadAsDecided], held: list[tuple[int, PartyRecord]]) -> None:
    """The values read by a decision since proven wrong, read again in the ``held`` records."""
    for reading in readings:
        if reading.wrong:
            reading.retake(held)


def iter_export(
    path: Path, system: System, overrides: Mapping[str, str] | None = None, export: ExportFile | None = None
) -> Iterator[PartyRecord]:
    """Records of one export file, in file order; raises ExportError naming the file and line (a
    workbook's sheet and row).

    A CSV file's fields may be separated by commas, semicolons or tabs, as the header row shows. An
    Excel workbook (.xlsx, .xls) is read from ``export.wanted_sheet`` or else its first visible sheet,
    each cell written as a CSV would hold it and then read the same way.
    """
    export = export or ExportFile(path, system)
    with _open_table(export) as table:
        headers, sheet = table.headers, export.sheet
        _check_system(path, system, headers, sheet=sheet)
        columns = map_columns(path, headers, overrides or {}, sheet=sheet)
        export.columns = {f: headers[i] for f, i in columns.items()}
        export.repeated = _repeated_headers(export, headers, columns)
        readings = _settle_conventions(
            export, table.sample(columns), columns, semicolons=table.semicolons, date1904=table.date1904
        )
        kept = readings[0].kept
        module = _module_for(system, columns)
        type_column = columns.get("contact_type")
        vendors = 0
        seen: dict[str, int] = {}
        unit = "line" if sheet is None else "row"
        # The records read since a value was read by a decision that may yet be proven wrong (see
        # _ReadAsDecided): held back until none may.
        held: list[tuple[int, PartyRecord]] = []
        for line, row in table.rows(columns, readings):
            if held:
                _retake(readings, held)
                if not kept:
                    yield from (record for _, record in held)
                    held.clear()
            if type_column is not None and row[type_column].strip().lower() == "vendor":
                vendors += 1
                continue
            record = _row_record(export, line, row, columns, module)
            if record.record_id in seen:
                raise export.error(
                    line,
                    f"id {record.record_id!r} appears again (first at {unit} {seen[record.record_id]})"
                    + _rounded_hint(record.record_id),
                )
            seen[record.record_id] = line
            if kept:
                held.append((line, record))
            else:
                yield record
        _retake(readings, held)
        for reading in readings:
            reading.settle()
        yield from (record for _, record in held)
        if vendors:
            export.warnings.append(
                f"{export.where(None)}: {vendors} vendor row(s) left out: suppliers are not the sync's "
                "customers"
            )
        export.warnings.extend(table.warnings())
        export.warnings.extend(_restored_zeros_warning(export))


def is_workbook(path: Path) -> bool:
    """Whether the file is an Excel workbook by its first bytes (also one saved under a .csv name)."""
    try:
        with path.open("rb") as handle:
            return looks_like_workbook(handle.read(8))
    except OSError:
        return False  # reading it as CSV names the reason


def read_header(path: Path, sheet: str | None = None) -> list[str]:
    """The column names of an export (its first row, a workbook's first row that holds anything, in
    its ``sheet`` when given); ExportError when it cannot be read."""
    if is_workbook(path) or sheet is not None:
        with _open_table(ExportFile(path, System.BOOKS, wanted_sheet=sheet)) as table:
            return table.headers
    encoding, _ = _encoding(path)
    with _open_text(path, encoding) as handle:
        first = handle.readline()
    try:
        return next(csv.reader([first], delimiter=_delimiter(first)), [])
    except csv.Error as error:
        raise ExportError(path, 1, f"header row is not valid CSV: {error}") from error


def overrides_for(headers: list[str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The ``--map`` entries whose column this header row has (one --map serves two exports)."""
    present = {normalise_header(h) for h in headers}
    return {column: field for column, field in overrides.items() if normalise_header(column) in present}


def read_export(
    path: Path,
    system: System,
    overrides: Mapping[str, str] | None = None,
    *,
    default_region: str | None = None,
    sheet: str | None = None,
) -> ExportFile:
    """Read a whole export file (see :func:`iter_export`); ``default_region`` is the country of rows
    that give none (see :attr:`ExportFile.default_region`), ``sheet`` a workbook's sheet to read (see
    :attr:`ExportFile.wanted_sheet`)."""
    export = ExportFile(path, system, default_region=default_region, wanted_sheet=sheet)
    export.records = list(iter_export(path, system, overrides, export))
    return export


def count_rows(path: Path) -> int:
    """Physical lines after the header: the total for a progress bar (cheap, no CSV parsing); 0 (no
    total) for a workbook, whose rows are counted only by reading it."""
    if is_workbook(path):
        return 0
    try:
        with path.open("rb") as handle:
            return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1)
    except OSError:
        return 0
