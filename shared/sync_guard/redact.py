"""Keep customers' emails and secrets out of log lines, and the webhook secret out of stored bodies."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, ValidationError

# Letters of any script: "jürgen@bäckerei-müller.de" is as much a customer's address as an ASCII one. The
# domain is dotted, ending in a label of letters, or is one label of two characters or more that starts
# with a letter ("ops@localhost", "j.smith@intranet"); see ``_is_address`` for the one label.
_EMAIL = re.compile(r"([\w.%+-])[\w.%+-]*@((?:[\w-]+\.)+[^\W\d_]{2,}|[^\W\d_][\w-]+)(?![\w-])")


def _is_address(match: re.Match[str]) -> bool:
    """Whether ``_EMAIL``'s match is an address. A domain of one label counts in lower case only: capitals
    there are a name's ("Coffee@Work Ltd", "Eat@Joe's"), which evidence quotes and must stay readable;
    an address's host is written in lower case. ("Acme @ London" spaces out its "@": never matched.)"""
    domain = match.group(2)
    return "." in domain or domain == domain.lower()


def _replace_emails(text: str, replacement: Callable[[re.Match[str]], str]) -> str:
    """``text`` with every address the recogniser finds replaced: one recogniser for logs, evidence and
    subjects."""
    return _EMAIL.sub(lambda m: replacement(m) if _is_address(m) else m.group(0), text)


def mask_email(email: str | None) -> str:
    """``jane.doe@acme.co.uk`` -> ``j***@acme.co.uk#1a2b3c``: enough to correlate, not enough to read."""
    if not email:
        return ""
    local, _, domain = email.strip().partition("@")
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:6]
    return f"{local[:1]}***@{domain}#{digest}"


def mask_emails_in(text: str, *, digest: bool = False) -> str:
    """Mask every email address inside free text (error messages) before logging; with ``digest``, each as
    ``mask_email`` masks it (``j***@acme.co.uk#1a2b3c``), so that two addresses are still told apart."""
    if digest:
        return _replace_emails(text, lambda m: mask_email(m.group(0)))
    return _replace_emails(text, lambda m: f"{m.group(1)}***@{m.group(2)}")


def hide_emails(text: str, placeholder: str) -> str:
    """``text`` with every email address replaced by ``placeholder`` (where not even a masked one fits)."""
    return _replace_emails(text, lambda _: placeholder)


def _masked_lines(lines: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(mask_emails_in(line, digest=True) for line in lines)


#: Evidence lines, every address in them masked with its digest (``mask_email``) when a model is built:
#: what a rule or the matcher saw, as the audit trail stores it and finance's notice quotes it. A masked
#: address is not matched again, so masking twice changes nothing.
MaskedLines = Annotated[tuple[str, ...], AfterValidator(_masked_lines)]


def error_detail(error: BaseException) -> str:
    """An exception's words for a log line, emails masked.

    pydantic's errors quote the value refused, cut to a few dozen characters: an address cut before its
    last dot ("jane.doe@acme-widgets.c...") no longer looks like one to the mask, so only where each
    error is and what was wrong are kept.
    """
    if isinstance(error, ValidationError):
        problems = error.errors(include_url=False, include_context=False, include_input=False)
        return "; ".join(
            f"{'.'.join(str(part) for part in p['loc']) or 'value'}: {p['msg']}" for p in problems
        )
    return mask_emails_in(str(error))


#: JSON's two-character escapes, by the character escaped: the letter after the backslash.
_JSON_SHORT = {'"': '"', "\\": "\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
#: A JSON escape's backslash, also percent-encoded (JSON in a form field: Books' ``JSONString``).
_BACKSLASH = rb"(?:\\|%5[cC])"


def _hex(value: int, width: int) -> bytes:
    """``value`` in hex digits of either case: ``2f`` -> ``2[fF]``."""
    return b"".join(
        f"[{digit}{digit.upper()}]".encode() if digit.isalpha() else digit.encode()
        for digit in f"{value:0{width}x}"
    )


def _char_forms(char: str, charset: str) -> bytes:
    """A pattern for one character as a body may carry it: as itself, percent-encoded, or JSON-escaped;
    in UTF-8 and, where it writes the character otherwise, in the body's own charset."""
    forms: list[bytes] = []
    for encoded in dict.fromkeys((char.encode(), _encoded(char, charset))):
        if encoded:
            forms += [re.escape(encoded), b"".join(b"%" + _hex(byte, 2) for byte in encoded)]
    units = char.encode("utf-16-be")  # JSON escapes UTF-16 code units: a pair beyond the BMP
    codes = [int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2)]
    forms.append(b"".join(_BACKSLASH + b"u" + _hex(code, 4) for code in codes))
    if char in _JSON_SHORT:  # "\/" for "/"; in a form field, either character percent-encoded too
        second = _JSON_SHORT[char].encode()
        forms.append(_BACKSLASH + b"(?:" + re.escape(second) + b"|%" + _hex(second[0], 2) + b")")
    if char == " ":
        forms.append(rb"\+")  # a form body's space
    return b"(?:" + b"|".join(forms) + b")"


def _encoded(char: str, charset: str) -> bytes:
    """``char`` in ``charset`` (one that writes ASCII as ASCII: the ingest takes no other), or b"" if none."""
    try:
        return char.encode(charset)
    except (UnicodeError, LookupError):
        return b""


@lru_cache(maxsize=4)
def _secret_pattern(secret: str, charset: str) -> re.Pattern[bytes]:
    return re.compile(b"".join(_char_forms(char, charset) for char in secret))


def redact_secret(
    body: bytes, secret: str, replacement: bytes = b"[redacted]", *, charset: str = "utf-8"
) -> bytes:
    """``body`` with every copy of ``secret`` replaced, however the body wrote it.

    A form body may percent-encode any of its characters (``%61`` for ``a``), a JSON body may escape
    them (``\\u0061``), a JSON body inside a form field does both: each character is looked for in every
    one of those forms, in any mix, in UTF-8 and in the body's ``charset`` (``caf\\xe9`` in Latin-1).
    """
    if not secret:
        return body
    return _secret_pattern(secret, charset).sub(replacement, body)
