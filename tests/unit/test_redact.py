"""Customers' emails are masked in anything logged, whatever script they are written in."""

from __future__ import annotations

import pytest

from sync_guard.redact import mask_email, mask_emails_in, redact_secret


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("refused jane.doe@acme.example.co.uk.", "refused j***@acme.example.co.uk."),
        (
            "unsupported operation 'jürgen@bäckerei-müller.de'",
            "unsupported operation 'j***@bäckerei-müller.de'",
        ),
        ("zoë@café.fr and bob+x@ACME.CO.UK", "z***@café.fr and b***@ACME.CO.UK"),
        ("no address: 12@3.45, a@b", "no address: 12@3.45, a@b"),
    ],
)
def test_addresses_in_free_text_are_masked(text: str, masked: str) -> None:
    assert mask_emails_in(text) == masked


def test_one_address_keeps_a_correlation_digest() -> None:
    assert mask_email(" Jane@Acme.co.uk ").startswith("J***@Acme.co.uk#")
    assert mask_email("jane@acme.co.uk")[-6:] == mask_email("JANE@acme.co.uk ")[-6:]


def test_a_validation_error_is_told_without_the_values_it_quotes() -> None:
    from pydantic import BaseModel, ValidationError

    from sync_guard.redact import error_detail

    class Record(BaseModel):
        email: str

    # given a refusal that quotes an address cut short ("jane.doe@acme-widgets.c..."), which the mask misses
    with pytest.raises(ValidationError) as raised:
        Record.model_validate({"email": ["jane.doe@acme-widgets.co.uk", "x" * 100]})
    assert "jane.doe@" in mask_emails_in(str(raised.value))
    # then the detail logged says where and what, not the value
    assert error_detail(raised.value) == "email: Input should be a valid string"
    assert error_detail(ValueError("refused jane@acme.co.uk")) == "refused j***@acme.co.uk"


SECRET = "s3cret/Ab c"


@pytest.mark.parametrize(
    "written",
    [
        b"s3cret/Ab c",
        b"s3cret%2FAb+c",  # a form body
        b"%73%33%63%72%65%74%2f%41%62%20%63",  # every character percent-encoded, hex in lower case
        b"\\u0073\\u0033cret\\/Ab\\u0020c",  # JSON escapes
        b"s3cret\\u002FAb c",  # upper-case hex
        b"%5Cu0073%33cret%5C%2FAb+c",  # JSON inside a form field (Books' JSONString)
    ],
)
def test_the_secret_is_redacted_however_the_body_writes_it(written: bytes) -> None:
    body = b'{"before": 1, "token": "' + written + b'", "after": 2}'
    assert redact_secret(body, SECRET) == b'{"before": 1, "token": "[redacted]", "after": 2}'


def test_characters_beyond_ascii_are_found_in_each_form() -> None:
    secret = "caf\u00e9 \U0001f600"
    for written in (secret.encode(), b"caf%C3%A9+%F0%9F%98%80", b"caf\\u00e9 \\ud83d\\ude00"):
        assert redact_secret(b"x=" + written, secret) == b"x=[redacted]"


def test_a_body_in_another_charset_is_searched_in_that_charset_too() -> None:
    secret = "caf\u00e9-s3cret"
    for written in (secret.encode("latin-1"), b"caf%E9-s3cret", secret.encode(), b"caf%C3%A9-s3cret"):
        assert redact_secret(b"x=" + written, secret, charset="latin-1") == b"x=[redacted]"
    # read as UTF-8 only, the Latin-1 bytes would not be found
    assert redact_secret(b"x=caf\xe9-s3cret", secret) == b"x=caf\xe9-s3cret"


@pytest.mark.parametrize(
    "body",
    [b"s3cret/AB c", b"s3cret/Ab", b"s3cret%2FAb%2Bc", b"", b"nothing secret here"],  # not the secret
)
def test_what_is_not_the_secret_is_left_alone(body: bytes) -> None:
    assert redact_secret(body, SECRET) == body
    assert redact_secret(body, "") == body
