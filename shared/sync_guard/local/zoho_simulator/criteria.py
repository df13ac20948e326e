"""CRM search criteria: ``(Account_Name:equals:Acme Ltd)``, ``((A:equals:x)or(B:starts_with:y))``.

Values escape ``(``, ``)`` and ``,`` with a backslash, as Zoho asks. Text comparisons ignore case, like
Zoho's search. Lookup fields (``{"name":..,"id":..}``) match on either their name or their id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OPERATORS = frozenset({"equals", "not_equal", "starts_with", "in"})


class CriteriaError(ValueError):
    """The criteria string does not parse (the HTTP layer answers 400 INVALID_QUERY)."""


def _values_of(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [str(v) for v in (value.get("name"), value.get("id")) if v is not None]
    if isinstance(value, list):
        return [s for item in value for s in _values_of(item)]
    return [str(value)]


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return "".join(_split_unescaped(text, "\0"))


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: str  # raw, still escaped (``in`` splits on unescaped commas)

    def matches(self, record: Mapping[str, Any]) -> bool:
        actual = [v.casefold() for v in _values_of(record.get(self.field))]
        if self.operator == "in":
            wanted = {_unescape(v).strip().casefold() for v in _split_unescaped(self.value, ",")}
            return any(a in wanted for a in actual)
        value = _unescape(self.value).casefold()
        if self.operator == "equals":
            return value in actual
        if self.operator == "not_equal":
            return value not in actual
        return any(a.startswith(value) for a in actual)  # starts_with


@dataclass(frozen=True)
class Criteria:
    """A left-to-right chain of conditions or groups joined by ``and``/``or``."""

    items: tuple[Condition | Criteria, ...]
    joins: tuple[str, ...]

    def matches(self, record: Mapping[str, Any]) -> bool:
        result = self.items[0].matches(record)
        for join, item in zip(self.joins, self.items[1:], strict=True):
            result = (result and item.matches(record)) if join == "and" else (result or item.matches(record))
        return result


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self.pos = 0

    def parse(self) -> Criteria:
        criteria = self._chain()
        if self.pos != len(self.text):
            raise CriteriaError(f"unexpected text at {self.pos}")
        return criteria

    def _chain(self) -> Criteria:
        items: list[Condition | Criteria] = [self._group()]
        joins: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] != ")":
            rest = self.text[self.pos :].lstrip()
            skipped = len(self.text) - self.pos - len(rest)
            lowered = rest.lower()
            if lowered.startswith("and"):
                joins.append("and")
                self.pos += skipped + 3
            elif lowered.startswith("or"):
                joins.append("or")
                self.pos += skipped + 2
            else:
                raise CriteriaError(f"expected 'and'/'or' at {self.pos}")
            self.pos += len(self.text[self.pos :]) - len(self.text[self.pos :].lstrip())
            items.append(self._group())
        return Criteria(tuple(items), tuple(joins))

    def _group(self) -> Condition | Criteria:
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise CriteriaError(f"expected '(' at {self.pos}")
        self.pos += 1
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            inner = self._chain()
            self._expect(")")
            return inner
        start, escaped = self.pos, False
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == ")":
                break
            self.pos += 1
        body = self.text[start : self.pos]
        self._expect(")")
        parts = body.split(":", 2)
        if len(parts) != 3 or not parts[0].strip():
            raise CriteriaError(f"condition {body!r} is not field:operator:value")
        field_name, operator, value = parts[0].strip(), parts[1].strip().lower(), parts[2]
        if operator not in OPERATORS:
            raise CriteriaError(f"unsupported operator {operator!r}")
        return Condition(field_name, operator, value)

    def _expect(self, ch: str) -> None:
        if self.pos >= len(self.text) or self.text[self.pos] != ch:
            raise CriteriaError(f"expected {ch!r} at {self.pos}")
        self.pos += 1


def parse_criteria(text: str) -> Criteria:
    """Parse a CRM ``criteria`` string; raises :class:`CriteriaError`."""
    if not text or not text.strip():
        raise CriteriaError("empty criteria")
    return _Parser(text).parse()
