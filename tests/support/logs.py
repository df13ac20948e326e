"""Every log line the tests make is read for what must not be logged in clear.

The product promises no secret and no customer email in a log line in clear. A few tests look at the
lines of one path; this reads every record any logger handles while the suite runs, the guard's own at
DEBUG, so a new ``logger.info(..., extra={"email": ...})`` anywhere fails the test that reaches it.

What the processes the tests start write (``sync-guard serve`` and ``demo``, DynamoDB Local, any CLI
command a test runs as a subprocess) is read too: their fixtures hand the output, or the log file it
goes to, to :meth:`LogWatch.read` or :meth:`LogWatch.following`, or run the command through
:meth:`LogWatch.run`. Every Zoho simulator made in the test process is watched for while it exists: its
clients' secrets and refresh tokens and every access token its OAuth endpoint mints. A secret is looked
for as written and as a log line could carry it encoded (:func:`secret_forms`), an address also
percent-encoded (``jane%40acme.example``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import subprocess
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from sync_guard.local.zoho_simulator.oauth import TokenAuthority

# An address with its local part in clear, its "@" written or percent-encoded: the masks keep one
# character and write "***" after it, and a "*" (or its "%2A") cannot sit before the "@" here.
_EMAIL_IN_CLEAR = re.compile(
    r"(?<![\w.%+*-])(?![\w.%+-]*%2[aA][\w.%+-]*%40)[\w.%+-]+(?:@|%40)(?:[\w-]+\.)+[^\W\d_]{2,}"
)
#: Attributes every LogRecord has: what is left is what the call passed as ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
#: The guard's own loggers, read at DEBUG so that lines below the default level are read too.
GUARD_LOGGERS = ("sync_guard", "functions")
#: The guard's secret settings: a local stack a test starts sets them in this process's environment, with
#: values of its own (a webhook secret it made up, the Zoho simulator's credentials), while it runs.
SECRET_VARIABLES = (
    "SYNC_GUARD_WEBHOOK_SECRET",
    "SYNC_GUARD_ZOHO_CLIENT_SECRET",
    "SYNC_GUARD_ZOHO_REFRESH_TOKEN",
    "SYNC_GUARD_BOOKS_SIGNATURE_SECRET",
)
#: How much of an offending line a report shows (masked).
_SHOWN = 200
_SHORTEST_FORM = 6
#: How many first characters of a form group it with others (``1000.``, how every Zoho token starts).
_START = 5


def _base64_cores(raw: bytes, alphabet: bytes) -> list[str]:
    """The base64 characters that only ``raw``'s bytes decide, at each of the three offsets a longer
    encoded value (``client_id:secret`` in a Basic header, a JSON document) can put it at: padded or not,
    alone or inside, one of these is in the text."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw, altchars=alphabet).decode()
        first, end = -(-8 * offset // 6), 8 * (offset + len(raw)) // 6
        cores.append(encoded[first:end])
    return cores


@lru_cache(maxsize=1024)
def secret_forms(secret: str) -> tuple[str, ...]:
    """``secret`` as written and as a log line could carry it: percent-encoded (``quote``,
    ``quote_plus``), base64 (standard and URL-safe, padded or not), JSON-escaped, hex of its UTF-8."""
    raw = secret.encode()
    escaped = json.dumps(secret)[1:-1]
    forms = [secret, quote(secret), quote(secret, safe=""), quote_plus(secret), escaped]
    forms += [escaped.replace("/", "\\/"), json.dumps(secret, ensure_ascii=False)[1:-1]]
    forms += _base64_cores(raw, b"+/") + _base64_cores(raw, b"-_")
    forms += [binascii.hexlify(raw).decode(), binascii.hexlify(raw).decode().upper()]
    # A form too short to be told from other text (the secret is the tests' own: never that short).
    return tuple(dict.fromkeys(form for form in forms if len(form) >= _SHORTEST_FORM))


@lru_cache(maxsize=256)
def _forms_by_start(secrets: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every form of ``secrets``, grouped by its first characters. The simulators' secrets share their
    starts (every access token begins ``1000.``, so do its encodings): a line is searched for each start
    once, and for the forms only under a start it holds."""
    grouped: dict[str, list[str]] = {}
    for secret in dict.fromkeys(secrets):
        for form in secret_forms(secret) if secret else ():
            grouped.setdefault(form[:_START], []).append(form)
    return tuple((start, tuple(forms)) for start, forms in grouped.items())


def leaks(text: str, secrets: tuple[str, ...]) -> list[str]:
    """What ``text`` shows that it must not: emails in clear, and any of ``secrets`` in any of its forms."""
    # Most lines have no address at all: the pattern, slow on long lines, is for those that may.
    may_have_address = "@" in text or "%40" in text
    found = [match.group(0) for match in _EMAIL_IN_CLEAR.finditer(text)] if may_have_address else []
    starts = _forms_by_start(secrets)
    return found + [form for start, forms in starts if start in text for form in forms if form in text]


def configured_secrets() -> tuple[str, ...]:
    """The secrets the environment configures the guard with now (too short a value is no secret)."""
    values = (os.environ.get(name, "") for name in SECRET_VARIABLES)
    return tuple(value for value in values if len(value) >= _SHORTEST_FORM)


def masked(text: str, found: list[str]) -> str:
    """``text`` with what :func:`leaks` found in it cut to its first character: a report must not leak."""
    for leaked in sorted(found, key=len, reverse=True):
        text = text.replace(leaked, f"{leaked[:1]}<{len(leaked) - 1} chars masked>")
    return text


def record_text(record: logging.LogRecord) -> str:
    """A record as any handler could write it: message, the ``extra`` fields and the traceback."""
    parts = [record.getMessage()]
    parts += [f"{name}={value!r}" for name, value in vars(record).items() if name not in _STANDARD]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


@dataclass
class _Followed:
    source: str
    path: Path
    secrets: tuple[str, ...]
    offset: int = 0
    lines: int = 0
    partial: str = ""


@dataclass
class LogWatch:
    """The leaking lines seen since the last :meth:`take`."""

    secrets: tuple[str, ...]
    seen: list[str] = field(default_factory=list)
    followed: list[_Followed] = field(default_factory=list)
    #: The Zoho simulators' token authorities alive in the test process (see :func:`watched`).
    authorities: weakref.WeakSet[TokenAuthority] = field(default_factory=weakref.WeakSet)

    def simulator_secrets(self) -> tuple[str, ...]:
        """What the live simulators' OAuth knows: client secrets, refresh tokens, minted access tokens."""
        return tuple(secret for authority in list(self.authorities) for secret in authority.secrets)

    def check(self, record: logging.LogRecord) -> None:
        text = record_text(record)
        configured = configured_secrets() + self.simulator_secrets()
        if found := leaks(text, self.secrets + configured):
            source = f"{record.name} {record.levelname} record"
            if not self.read(source, text, configured):  # what leaked spans lines: the record whole, then
                self.seen.append(f"{source}: {masked(text, found)[:_SHOWN]!r}")

    def read(self, source: str, text: str, secrets: tuple[str, ...] = (), *, first_line: int = 1) -> int:
        """Read the output of a process a test started (``source`` names it), line by line; how many
        lines leaked."""
        leaking = 0
        watched_for = self.secrets + secrets + self.simulator_secrets()
        for number, line in enumerate(text.splitlines(), start=first_line):
            found = leaks(line, watched_for)
            if found:
                leaking += 1
                self.seen.append(f"{source}, line {number}: {masked(line, found)[:_SHOWN]!r}")
        return leaking

    def run(
        self, source: str, command: list[str], secrets: tuple[str, ...] = (), **options: Any
    ) -> subprocess.CompletedProcess[str]:
        """``subprocess.run(command)`` with its output captured as text and read, stdout then stderr, before
        it is returned as it was (a ``check=True`` raises after the read)."""
        check = options.pop("check", False)
        completed = subprocess.run(command, capture_output=True, text=True, check=False, **options)
        self.read(f"{source} (stdout)", completed.stdout, secrets)
        self.read(f"{source} (stderr)", completed.stderr, secrets)
        if check:
            completed.check_returncode()
        return completed

    def read_file(self, source: str, path: Path, secrets: tuple[str, ...] = ()) -> None:
        """Read a log file a process a test started wrote, if it did."""
        if path.exists():
            self.read(f"{source} ({path.name})", path.read_text(errors="replace"), secrets)

    @contextmanager
    def following(self, source: str, path: Path, secrets: tuple[str, ...] = ()) -> Iterator[None]:
        """Read what a process writes to ``path`` at each :meth:`take` while the block runs, and the rest
        when it ends (the file need not exist yet)."""
        followed = _Followed(source, path, secrets)
        self.followed.append(followed)
        try:
            yield
        finally:
            self._read_new(followed, final=True)
            self.followed.remove(followed)

    def _read_new(self, followed: _Followed, *, final: bool = False) -> None:
        try:
            with followed.path.open("rb") as stream:
                stream.seek(followed.offset)
                chunk = stream.read()
        except FileNotFoundError:
            return
        followed.offset += len(chunk)
        text = followed.partial + chunk.decode("utf-8", errors="replace")
        # A line still being written is read whole at the next take.
        complete, _, followed.partial = text.rpartition("\n") if not final else (text, "", "")
        source = f"{followed.source} ({followed.path.name})"
        self.read(source, complete, followed.secrets, first_line=followed.lines + 1)
        followed.lines += len(complete.splitlines())

    def take(self) -> list[str]:
        for followed in self.followed:
            self._read_new(followed)
        taken, self.seen = self.seen, []
        return taken


@contextmanager
def watched(secrets: tuple[str, ...]) -> Iterator[LogWatch]:
    """Read every record any logger handles (propagating or not: powertools' loggers do not propagate),
    for ``secrets`` and for what every Zoho simulator made meanwhile holds, while it exists."""
    watch = LogWatch(secrets)
    handle: Callable[[logging.Logger, logging.LogRecord], None] = logging.Logger.handle
    levels = {name: logging.getLogger(name).level for name in GUARD_LOGGERS}
    init = TokenAuthority.__init__

    def handle_and_check(self: logging.Logger, record: logging.LogRecord) -> None:
        watch.check(record)
        handle(self, record)

    def init_and_watch(self: TokenAuthority, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        watch.authorities.add(self)

    logging.Logger.handle = handle_and_check  # type: ignore[method-assign]
    TokenAuthority.__init__ = init_and_watch  # type: ignore[method-assign]
    for name in GUARD_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield watch
    finally:
        logging.Logger.handle = handle  # type: ignore[method-assign]
        TokenAuthority.__init__ = init  # type: ignore[method-assign]
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
