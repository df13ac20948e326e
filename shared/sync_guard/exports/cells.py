"""Cells of the CSV files people open in a spreadsheet (match report, audit export)."""

from __future__ import annotations

# A cell a spreadsheet would run as a formula: "=HYPERLINK(...)" as a customer's name must stay text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """Text as a spreadsheet shows it, never as a formula (OWASP's advice: a leading apostrophe)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value
