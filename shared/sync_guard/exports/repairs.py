"""Numbers a spreadsheet rewrote when an export was opened and saved in one: ids and phone numbers saved in
scientific notation, leading zeros dropped from postcodes and phone numbers."""

from __future__ import annotations

import re
from functools import lru_cache

from sync_guard.exports.columns import ExportFile

# A long number that a spreadsheet showed in scientific notation and saved as shown ("4.6E+14", "4,6E+14"
# with a decimal comma): the digits it stood for are gone.
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d*)?E\+?\d+", re.IGNORECASE)
# Fields that lose a record's identity when their digits are lost, and fields that lose only a detail.
ID_FIELDS = ("id", "linked_crm_id")
_NUMBER_FIELDS = ("phone", "mobile")
# A spreadsheet keeps 15 significant digits of a number; Zoho's ids are longer.
SPREADSHEET_DIGITS = 15


def _looks_scientific(value: str) -> bool:
    return ("E" in value or "e" in value) and _SCIENTIFIC.fullmatch(value) is not None


def drop_numbers_a_spreadsheet_rewrote(export: ExportFile, line: int, cells: dict[str, str]) -> None:
    """ExportError for an id a spreadsheet saved in scientific notation; such a phone number is dropped,
    with a warning."""
    for name in ID_FIELDS:
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


def restore_leading_zeros(export: ExportFile, cells: dict[str, str]) -> None:
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


def restored_zeros_warning(export: ExportFile) -> list[str]:
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
