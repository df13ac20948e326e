"""Webhook authentication: shared token, and the pluggable Books HMAC scheme."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import SecretStr

from sync_guard.config import BooksSignatureScheme, Settings
from sync_guard.errors import Unauthorised
from sync_guard.ingest.auth import (
    HmacSha256Signature,
    NoSignature,
    books_signature_verifier,
    presented_token,
    require_token,
    token_field,
    tokens_match,
)

SECRET = "sync-guard-test-secret"


@pytest.mark.parametrize(
    ("presented", "expected"),
    [(SECRET, True), (SECRET + "x", False), (SECRET[:-1], False), ("", False), (None, False), (123, False)],
)
def test_tokens_match_only_the_exact_secret(presented: object, expected: bool) -> None:
    assert tokens_match(presented, SECRET) is expected


def test_an_empty_token_never_matches_even_an_empty_secret() -> None:
    # ("", False) above cannot tell the explicit refusal of an empty token from a failed comparison; with
    # a secret that resolved to "" only the explicit refusal keeps an empty token out
    assert tokens_match("", "") is False
    with pytest.raises(Unauthorised):
        require_token("", "")


def test_non_ascii_tokens_are_compared_not_crashed_on() -> None:
    # hmac.compare_digest raises TypeError for non-ASCII str; bytes comparison must be used
    assert tokens_match("sécret-ü", SECRET) is False
    assert tokens_match("sécret-ü", "sécret-ü") is True


def test_header_wins_over_query_parameter() -> None:
    assert presented_token({"x-sync-guard-token": "h"}, {"token": "q"}) == "h"
    assert presented_token({}, {"token": "q"}) == "q"
    assert presented_token({"x-sync-guard-token": ""}, {}) is None


def test_require_token_raises_unauthorised() -> None:
    require_token(SECRET, SECRET)
    with pytest.raises(Unauthorised):
        require_token("nope", SECRET)


@pytest.mark.parametrize(
    ("headers", "query", "field"),
    [
        ({}, {}, "X-Sync-Guard-Token"),  # none sent: the way the README asks for first
        ({"x-sync-guard-token": "nope"}, {}, "X-Sync-Guard-Token"),
        ({"x-sync-guard-token": "nope"}, {"token": "q"}, "X-Sync-Guard-Token"),  # the header is read
        ({}, {"token": "nope"}, "token"),
        ({"x-sync-guard-token": ""}, {"token": "nope"}, "token"),
    ],
)
def test_a_refused_token_names_where_it_was_read(
    headers: dict[str, str], query: dict[str, str], field: str
) -> None:
    with pytest.raises(Unauthorised) as raised:
        require_token(presented_token(headers, query), SECRET, field=token_field(headers, query))
    assert raised.value.to_body()["field"] == field


def test_hmac_signature_over_timestamp_dot_body() -> None:
    verifier = HmacSha256Signature("booksSecret12345")
    body = b'{"contact":{"contact_id":"1"}}'
    expected = hmac.new(b"booksSecret12345", b"1700000000." + body, hashlib.sha256).hexdigest()
    header = verifier.sign("1700000000", body)
    assert header == f"t=1700000000,v={expected}"
    verifier.verify({"x-zoho-webhook-signature": header}, body)
    # a rotated-secret list with the right value anywhere passes
    verifier.verify({"x-zoho-webhook-signature": f"t=1700000000,v=00,v={expected}"}, body)


@pytest.mark.parametrize(
    "header",
    [None, "", "v=abc", "t=1", "t=1700000000,v=deadbeef", "garbage", "t=1700000000,v=é"],
)
def test_hmac_signature_rejects_missing_malformed_and_wrong(header: str | None) -> None:
    verifier = HmacSha256Signature("booksSecret12345")
    headers = {} if header is None else {"x-zoho-webhook-signature": header}
    with pytest.raises(Unauthorised) as raised:
        verifier.verify(headers, b"{}")
    assert raised.value.field == "X-Zoho-Webhook-Signature"  # the header, spelt as configured


def test_hmac_signature_fails_when_the_body_changes() -> None:
    verifier = HmacSha256Signature("booksSecret12345")
    header = verifier.sign("1", b"original")
    with pytest.raises(Unauthorised):
        verifier.verify({"x-zoho-webhook-signature": header}, b"tampered")


def test_scheme_is_off_by_default_and_selectable() -> None:
    assert isinstance(books_signature_verifier(Settings(), SECRET), NoSignature)
    configured = Settings(
        books_signature_scheme=BooksSignatureScheme.HMAC_SHA256,
        books_signature_secret=SecretStr("booksSecret12345"),
        books_signature_header="X-Books-Signature",
    )
    verifier = books_signature_verifier(configured, SECRET)
    assert isinstance(verifier, HmacSha256Signature)
    header = HmacSha256Signature("booksSecret12345").sign("5", b"{}")
    verifier.verify({"x-books-signature": header}, b"{}")
    # without a dedicated secret the webhook secret signs
    fallback = books_signature_verifier(
        Settings(books_signature_scheme=BooksSignatureScheme.HMAC_SHA256), SECRET
    )
    fallback.verify({"x-zoho-webhook-signature": HmacSha256Signature(SECRET).sign("5", b"{}")}, b"{}")
