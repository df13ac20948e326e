"""Every log line the tests make is read for what must not be logged in clear.

The product promises no secret and no customer email in a log line in clear. A few tests look at the
lines of one path; this reads every record any logger handles while the suite runs, the guard's own at
DEBUG, so a new ``logger.info(..., extra={"email": ...})`` anywhere fails the test that reaches it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# An address with its local part in clear: the masks keep one character and write "***" after it, and a
# "*" cannot sit before the "@" here.
_EMAIL_IN_CLEAR = re.compile(r"(?<![\w.%+*-])[\w.%+-]+@(?:[\w-]+\.)+[^\W\d_]{2,}")
#: Attributes every LogRecord has: what is left is what the call passed as ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
#: The guard's own loggers, read at DEBUG so that lines below the default level are read too.
GUARD_LOGGERS = ("sync_guard", "functions")


def leaks(text: str, secrets: tuple[str, ...]) -> list[str]:
    """What ``text`` shows that it must not: emails in clear, and any of ``secrets``."""
    found = [match.group(0) for match in _EMAIL_IN_CLEAR.finditer(text)]
    return found + [f"secret {secret[:3]}..." for secret in secrets if secret and secret in text]


def record_text(record: logging.LogRecord) -> str:
    """A record as any handler could write it: message, the ``extra`` fields and the traceback."""
    parts = [record.getMessage()]
    parts += [f"{name}={value!r}" for name, value in vars(record).items() if name not in _STANDARD]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


@dataclass
class LogWatch:
    """The leaking lines seen since the last :meth:`take`."""

    secrets: tuple[str, ...]
    seen: list[str] = field(default_factory=list)

    def check(self, record: logging.LogRecord) -> None:
        found = leaks(record_text(record), self.secrets)
        if found:
            self.seen.append(f"{record.name} {record.levelname} {record.getMessage()[:120]!r}: {found}")

    def take(self) -> list[str]:
        taken, self.seen = self.seen, []
        return taken


@contextmanager
def watched(secrets: tuple[str, ...]) -> Iterator[LogWatch]:
    """Read every record any logger handles (propagating or not: powertools' loggers do not propagate)."""
    watch = LogWatch(secrets)
    handle: Callable[[logging.Logger, logging.LogRecord], None] = logging.Logger.handle
    levels = {name: logging.getLogger(name).level for name in GUARD_LOGGERS}

    def handle_and_check(self: logging.Logger, record: logging.LogRecord) -> None:
        watch.check(record)
        handle(self, record)

    logging.Logger.handle = handle_and_check  # type: ignore[method-assign]
    for name in GUARD_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield watch
    finally:
        logging.Logger.handle = handle  # type: ignore[method-assign]
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
