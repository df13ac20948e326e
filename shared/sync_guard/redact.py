"""Keep customers' emails and secrets out of log lines."""

from __future__ import annotations

import hashlib
import re

from pydantic import ValidationError

# Letters of any script: "jürgen@bäckerei-müller.de" is as much a customer's address as an ASCII one.
_EMAIL = re.compile(r"([\w.%+-])[\w.%+-]*@((?:[\w-]+\.)+[^\W\d_]{2,})")


def mask_email(email: str | None) -> str:
    """``jane.doe@acme.co.uk`` -> ``j***@acme.co.uk#1a2b3c``: enough to correlate, not enough to read."""
    if not email:
        return ""
    local, _, domain = email.strip().partition("@")
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:6]
    return f"{local[:1]}***@{domain}#{digest}"


def mask_emails_in(text: str) -> str:
    """Mask every email address inside free text (evidence strings, error messages) before logging."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


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
