"""How an export writes what can be read two ways, decided from its own cells (the order of day and
month in its dates, a spreadsheet's day numbers, its decimal mark), and times and amounts read so."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice

from sync_guard.exports.columns import ExportFile, not_understood
from sync_guard.exports.workbook import serial_date_text
from sync_guard.models.records import PartyRecord

_NOT_AMOUNT = re.compile(r"[^0-9.,\-]")
# A currency abbreviated with a dot ("Rs.", "kr."): the dot is no decimal mark.
_ABBREVIATION = re.compile(r"[^\W\d_]+\.")
# An amount in brackets, as an accounting format writes a negative one.
_BRACKETED = re.compile(r"\([^()]*\d[^()]*\)")


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


def parse_time(value: str, *, month_first: bool = False) -> datetime | None:
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


TIME_FIELDS: tuple[str, ...] = ("modified", "created")

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


def settle_conventions(
    export: ExportFile,
    rows: Iterable[list[str]],
    columns: dict[str, int],
    *,
    semicolons: bool,
    date1904: bool = False,
) -> list[ReadAsDecided]:
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
    readings: list[ReadAsDecided] = [days, order, mark]
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
    for name in TIME_FIELDS:
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
_Kept = dict[tuple["ReadAsDecided", str], list[tuple[int, str]]]


class ReadAsDecided:
    """How a column's values were read by a decision the file's first rows made (see
    :func:`settle_conventions`), looked at again as each later row is read, since a value further down
    may prove that decision wrong. The values read by a decision a later one may yet prove wrong are
    kept, (line, text) by field, and the records that hold them are held back meanwhile (see
    :func:`.reader.iter_export`); when one proves it wrong (:meth:`_proven_wrong`), :meth:`retake`
    reads them again in the held records (:meth:`_read_again`). Nothing is held back where nothing was
    kept.

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


class _DayNumbers(ReadAsDecided):
    """The time columns read as a spreadsheet's day numbers (see :data:`_SERIAL_DAY`): those whose every
    value is one, decided over the whole column while the rows are read once. A column whose first rows
    hold nothing else (see :func:`settle_conventions`) has each value read as the date it stands for
    until one is written otherwise; the column then mixes them with other times, and the day numbers
    already read are undone in the records held back meanwhile (:meth:`retake`): each is not understood,
    as in a column whose first rows show the mix.

    In a workbook these are its text cells, counted as the workbook counts its days (``date1904``): a
    number cell there is a date by its type (see :meth:`.tables._WorkbookTable._typed_by_column`), and
    agrees with day numbers written as text."""

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
        not_understood(self.export, line, f"{name} time", text)
        return {f"{name}_at": None}

    def settle(self) -> None:
        """The columns read as day numbers to the end: in ``export.serial_dates``, with a warning each
        that shows its first day number as a date."""
        export = self.export
        for name in TIME_FIELDS:
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


class _DateOrder(ReadAsDecided):
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
        return {f"{name}_at": parse_time(text, month_first=self.export.month_first_in[name])}


class _DecimalMark(ReadAsDecided):
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
        return {name: parse_amount(text, decimal_comma=self.export.decimal_comma)}


def parse_amount(value: str, *, decimal_comma: bool = False) -> Decimal | None:
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
