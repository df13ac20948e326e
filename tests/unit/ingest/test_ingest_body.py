"""Request body decoding: content types, charsets, forms, multipart, and what is refused."""

from __future__ import annotations

import json

import pytest

from sync_guard.errors import InvalidPayload, UnsupportedMediaType
from sync_guard.ingest.body import decode_body, parse_content_type

FORM = "application/x-www-form-urlencoded"


def test_json_object_with_charset_parameter() -> None:
    decoded = decode_body(b'{"id": "1", "name": "Caf\xc3\xa9"}', "application/json; charset=UTF-8")
    assert decoded.fields == {"id": "1", "name": "Café"}
    assert decoded.media_type == "application/json"


def test_latin1_json_is_decoded_with_its_declared_charset() -> None:
    decoded = decode_body('{"name": "Café"}'.encode("latin-1"), "application/json; charset=ISO-8859-1")
    assert decoded.fields == {"name": "Café"}


def test_text_plain_and_utf8_bom_are_read_as_json() -> None:
    assert decode_body(b'\xef\xbb\xbf{"a": 1}', "text/plain").fields == {"a": 1}


def test_form_body_first_of_repeated_keys_wins_and_blanks_are_kept() -> None:
    decoded = decode_body(b"id=1&id=2&name=Acme+Ltd&email=&city=M%C3%BCnchen", FORM)
    assert decoded.fields == {"id": "1", "name": "Acme Ltd", "email": "", "city": "München"}
    assert decoded.media_type == FORM


def test_multipart_form_data_text_fields_are_read_and_files_ignored() -> None:
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="id"\r\n\r\n'
        b"5725767000003000064\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="name"\r\n\r\n'
        b"Acme Ltd\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        b"ignored\r\n"
        b"--XyZ--\r\n"
    )
    decoded = decode_body(body, "multipart/form-data; boundary=XyZ")
    assert decoded.fields == {"id": "5725767000003000064", "name": "Acme Ltd"}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b'{"a": 1}', None), (b"  {\n}", None)],
)
def test_missing_content_type_sniffs_json(body: bytes, content_type: str | None) -> None:
    assert decode_body(body, content_type).media_type == "application/json"


def test_missing_content_type_falls_back_to_form() -> None:
    assert decode_body(b"a=1", None).fields == {"a": "1"}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/xml",
        "text/html",
        "image/png",
        "application/json; charset=klingon",
        "bad\x00type",
        # codecs Python knows that turn bytes into bytes, not into text
        "application/json; charset=base64",
        f"{FORM}; charset=hex",
        "text/plain; charset=zip",
    ],
)
def test_unsupported_media_types_and_charsets_are_415_naming_the_content_type_header(
    content_type: str,
) -> None:
    with pytest.raises(UnsupportedMediaType) as raised:
        decode_body(b"{}", content_type)
    # the header named as the admin API names it, and what would have been accepted
    assert raised.value.to_body()["field"] == "Content-Type"
    assert "send application/json" in raised.value.message or "send UTF-8" in raised.value.message


@pytest.mark.parametrize(
    ("content_type", "received", "accepted"),
    [
        ("application/xml", "'application/xml'", "multipart/form-data"),
        ("application/json; charset=klingon", "charset 'klingon'", "UTF-8"),
        ("text/plain; charset=zip", "charset 'zip'", "UTF-8"),
        ("bad\x00type", "a control character", "application/json"),
    ],
)
def test_a_415_says_what_was_received_and_what_is_accepted(
    content_type: str, received: str, accepted: str
) -> None:
    with pytest.raises(UnsupportedMediaType) as raised:
        decode_body(b"{}", content_type)
    assert received in raised.value.message
    assert accepted in raised.value.message.rpartition("send ")[2]


def test_a_multipart_part_in_a_bytes_codec_is_415() -> None:
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="id"\r\n'
        b"Content-Type: text/plain; charset=hex\r\n\r\n"
        b"5725767000003000064\r\n"
        b"--XyZ--\r\n"
    )
    with pytest.raises(UnsupportedMediaType) as raised:
        decode_body(body, "multipart/form-data; boundary=XyZ")
    assert raised.value.field == "Content-Type"  # the part's own


def _multipart(fields: int) -> bytes:
    parts = (f'--XyZ\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\n1\r\n' for n in range(fields))
    return ("".join(parts) + "--XyZ--\r\n").encode()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/json"),
        (b"   ", FORM),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"text"', "application/json"),
        (b'{"a": NaN}', "application/json"),
        (b'{"name": "Acme \\ud800 Ltd"}', "application/json"),  # half a character: cannot be stored
        (b"\xff\xfe{}", "application/json"),
        (b"a=%ff", FORM),
        (("[" * 100_000).encode(), "application/json"),
        (b"no parts", "multipart/form-data; boundary=XyZ"),
        (b"x", "multipart/form-data"),
        ("&".join(f"f{n}=1" for n in range(1001)).encode(), FORM),  # more fields than any webhook sends
        (_multipart(1001), "multipart/form-data; boundary=XyZ"),
    ],
)
def test_malformed_bodies_are_400_naming_the_body(body: bytes, content_type: str) -> None:
    with pytest.raises(InvalidPayload) as raised:
        decode_body(body, content_type)
    assert raised.value.field == "body"


@pytest.mark.parametrize(
    ("body", "content_type", "charset"),
    [
        ('{"name": "Acme"}'.encode("utf-16"), "application/json; charset=utf-16", "utf-16"),
        ('{"name": "Acme"}'.encode("utf-32-le"), "application/json; charset=UTF-32LE", "utf-32le"),
        ("name=Acme".encode("cp500"), f"{FORM}; charset=cp500", "cp500"),  # EBCDIC
        (b'{"name": "Acme"}', "application/json; charset=undefined", "undefined"),  # encodes nothing
        # Python's codecs that are no charsets, and decode to a lone half of a character pair
        (b'{"name": "Acme +2AA- Ltd"}', "application/json; charset=utf-7", "utf-7"),
        (b'{"name": "Acme \\ud800 Ltd"}', "application/json; charset=unicode_escape", "unicode_escape"),
        (b"name=Acme+%5Cud800", f"{FORM}; charset=unicode_escape", "unicode_escape"),
        (  # a part's own charset
            b'--XyZ\r\nContent-Disposition: form-data; name="name"\r\nContent-Type: text/plain; charset=utf-7'
            b"\r\n\r\nAcme +2AA-\r\n--XyZ--\r\n",
            "multipart/form-data; boundary=XyZ",
            "utf-7",
        ),
    ],
)
def test_a_charset_that_does_not_write_ascii_as_ascii_is_415_naming_it(
    body: bytes, content_type: str, charset: str
) -> None:
    # A secret in such a body would be in bytes the stored copy's redaction does not look for.
    with pytest.raises(UnsupportedMediaType) as raised:
        decode_body(body, content_type)
    assert f"charset {charset!r}" in str(raised.value)
    assert raised.value.field == "Content-Type"


@pytest.mark.parametrize("charset", ["latin-1", "ISO-8859-15", "iso-8859-2", "cp1252", "utf-8"])
def test_charsets_that_write_ascii_as_ascii_are_read(charset: str) -> None:
    decoded = decode_body("name=Caf\u00e9+Ltd".encode(charset), f"{FORM}; charset={charset}")
    assert decoded.fields == {"name": "Caf\u00e9 Ltd"}


def test_escaped_character_pairs_and_escaped_backslashes_are_fine() -> None:
    body = b'{"name": "Acme \\ud83d\\ude00 Ltd", "note": "C:\\\\ud800"}'
    assert decode_body(body, "application/json").fields == {
        "name": "Acme \U0001f600 Ltd",
        "note": "C:\\ud800",
    }


def test_too_many_form_fields_is_a_400() -> None:
    body = "&".join(f"f{i}=1" for i in range(2000)).encode()
    with pytest.raises(InvalidPayload):
        decode_body(body, FORM)


def test_content_type_parameters_keep_case_of_values_but_not_names() -> None:
    parsed = parse_content_type('Multipart/Form-Data; Boundary="AbC"; charset=UTF-8')
    assert parsed is not None
    assert parsed.media_type == "multipart/form-data"
    assert parsed.params["boundary"] == "AbC"
    assert parsed.charset == "utf-8"


def test_json_round_trip_of_a_realistic_books_payload() -> None:
    payload = {"contact": {"contact_id": "460000000026049", "contact_persons": [{"email": "a@b.example"}]}}
    assert decode_body(json.dumps(payload).encode(), "application/json").fields == payload
