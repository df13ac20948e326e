"""Turn a request body into a flat mapping of fields, whatever encoding Zoho chose.

Accepted: ``application/json`` (also ``text/json``, ``application/*+json`` and ``text/plain`` holding JSON,
which is what a CRM raw "Text" body is), ``application/x-www-form-urlencoded`` and ``multipart/form-data``
(text parts only). Without a Content-Type the body is sniffed: an object-looking body is JSON, else a form.
Charsets come from the header (UTF-8 by default); an unknown charset, one that does not write ASCII as
ASCII (UTF-16, UTF-7...) or an unknown media type is a 415 naming ``Content-Type`` (the header), saying
what was sent and what is accepted; a multipart part in a transfer encoding (base64, quoted-printable) is a
415 naming ``body``; a body that does not decode or parse is a 400 naming ``body``.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from sync_guard.errors import InvalidPayload, UnsupportedMediaType

JSON_TYPES = frozenset({"application/json", "text/json", "text/plain"})
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
SUPPORTED_TYPES = "application/json, application/x-www-form-urlencoded or multipart/form-data"
SUPPORTED_CHARSETS = "UTF-8, or a charset that writes ASCII as ASCII (Latin-1, Windows-1252...)"
#: The field a refused media type or charset names: the request's header (a multipart part's own too).
CONTENT_TYPE_FIELD = "Content-Type"
# More fields than any Zoho template can produce; bounds the work a hostile form can cause.
MAX_FORM_FIELDS = 1000


@dataclass(frozen=True)
class ContentType:
    media_type: str
    params: dict[str, str]

    @property
    def charset(self) -> str:
        return self.params.get("charset", "utf-8").lower()


@dataclass(frozen=True)
class DecodedBody:
    """The body's fields, the media type they were read as and the body's charset (a codec name)."""

    fields: dict[str, Any]
    media_type: str
    charset: str = "utf-8"


def parse_content_type(header: str | None) -> ContentType | None:
    """``application/json; charset=UTF-8`` -> ``ContentType("application/json", {"charset": "utf-8"})``."""
    if header is None or not header.strip():
        return None
    if any(ord(char) < 32 for char in header):
        raise unsupported_content_type(f"a control character in the header; send {SUPPORTED_TYPES}")
    media_type, *raw_params = header.split(";")
    params: dict[str, str] = {}
    for raw in raw_params:
        name, sep, value = raw.partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"')
    return ContentType(media_type.strip().lower(), params)


def is_json_media_type(media_type: str) -> bool:
    """``application/json`` or a JSON-based type (``application/<something>+json``)."""
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def unsupported_content_type(what: str) -> UnsupportedMediaType:
    """The 415 for a Content-Type not accepted: names the header, ``what`` says what came and what to send."""
    return UnsupportedMediaType(f"unsupported Content-Type: {what}", field=CONTENT_TYPE_FIELD)


def _unsupported_charset(charset: str) -> UnsupportedMediaType:
    return unsupported_content_type(f"charset {charset!r}; send {SUPPORTED_CHARSETS}")


def _codec(charset: str) -> str:
    try:
        info = codecs.lookup(charset)
    except LookupError:
        raise _unsupported_charset(charset) from None
    # Python also registers bytes-to-bytes codecs (base64, hex, zip): no charset, and bytes.decode refuses
    # them with a LookupError, by the flag checked here.
    if not getattr(info, "_is_text_encoding", True):
        raise _unsupported_charset(charset)
    name = info.name
    if not _writes_ascii_as_ascii(name):
        # UTF-16 and UTF-32, UTF-7, EBCDIC, Python's escape codecs: no webhook sender writes a body in them,
        # and a secret in such a body would be in bytes the stored copy's redaction does not look for.
        raise _unsupported_charset(charset)
    # A JSON body may start with a BOM; utf-8-sig drops it and is otherwise plain UTF-8.
    return "utf-8-sig" if name == "utf-8" else name


#: Every printable ASCII character, and the whitespace a body holds.
_ASCII = "".join(map(chr, range(0x20, 0x7F))) + "\t\r\n"


@cache
def _writes_ascii_as_ascii(codec: str) -> bool:
    try:
        return _ASCII.encode(codec) == _ASCII.encode("ascii")
    except (UnicodeError, ValueError):
        return False


def _text(body: bytes, charset: str) -> str:
    codec = _codec(charset)
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, ValueError):
        raise InvalidPayload(f"body is not valid {charset}", field="body") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_fields(body: bytes, charset: str) -> dict[str, Any]:
    text = _text(body, charset)
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise InvalidPayload("body is not valid JSON", field="body") from None
    if not isinstance(value, dict):
        raise InvalidPayload("body must be a JSON object", field="body")
    return value


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _form_fields(body: bytes, charset: str) -> dict[str, Any]:
    text = _text(body, charset)
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding=_codec(charset),
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (ValueError, UnicodeDecodeError):
        raise InvalidPayload("body is not a valid form", field="body") from None
    fields: dict[str, Any] = {}
    for name, value in pairs:
        fields.setdefault(name, value)  # the first of repeated keys wins, as most frameworks do
    return fields


#: A multipart part's Content-Transfer-Encoding that leaves its bytes as sent (none said: the same).
_RAW_TRANSFER_ENCODINGS = frozenset({"", "7bit", "8bit", "binary"})


def _multipart_fields(body: bytes, content_type: str, charset: str) -> dict[str, Any]:
    envelope = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
    message = BytesParser(policy=HTTP).parsebytes(envelope)
    if not message.is_multipart():
        raise InvalidPayload("body is not valid multipart/form-data", field="body")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        if not isinstance(part, Message):
            continue
        encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
        if encoding not in _RAW_TRANSFER_ENCODINGS:
            # RFC 7578 drops transfer encodings from forms, and the stored body's redaction of the secret
            # reads no base64 or quoted-printable: a copy of the secret in such a part (a file's too) would
            # be kept.
            raise UnsupportedMediaType(
                f"unsupported Content-Transfer-Encoding {encoding!r} in a multipart part: send it as is",
                field="body",
            )
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue  # files are not webhook fields
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        fields.setdefault(name, _text(payload, part.get_content_charset() or charset))
        if len(fields) > MAX_FORM_FIELDS:
            raise InvalidPayload("too many form fields", field="body")
    return fields


def decode_body(body: bytes, content_type_header: str | None) -> DecodedBody:
    """Decode ``body`` according to its Content-Type (see the module docstring)."""
    content_type = parse_content_type(content_type_header)
    if content_type is None:
        sniffed = "application/json" if body.lstrip()[:1] == b"{" else FORM_TYPE
        content_type = ContentType(sniffed, {})
    media_type = content_type.media_type
    is_json = media_type in JSON_TYPES or is_json_media_type(media_type)
    if not (is_json or media_type in {FORM_TYPE, MULTIPART_TYPE}):
        raise unsupported_content_type(f"{media_type!r}; send {SUPPORTED_TYPES}")
    codec = _codec(content_type.charset)  # an unknown charset is a 415 whatever the body holds
    codec = "utf-8" if codec == "utf-8-sig" else codec
    if not body.strip():
        raise InvalidPayload("body is empty", field="body")
    if is_json:
        decoded = DecodedBody(_json_fields(body, content_type.charset), "application/json", codec)
    elif media_type == FORM_TYPE:
        decoded = DecodedBody(_form_fields(body, content_type.charset), FORM_TYPE, codec)
    elif "boundary" not in content_type.params:
        raise InvalidPayload("multipart/form-data without a boundary", field="body")
    else:
        decoded = DecodedBody(
            _multipart_fields(body, content_type_header or "", content_type.charset), MULTIPART_TYPE, codec
        )
    if not _encodable(decoded.fields):
        # A lone half of a character pair could be neither stored nor queued: JSON's "\ud800" escape makes
        # one (the codecs that also do, utf-7 and unicode_escape, are refused above).
        raise InvalidPayload("body has a lone half of a character pair (U+D800-U+DFFF)", field="body")
    return decoded
