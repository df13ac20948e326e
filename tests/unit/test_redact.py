"""Customers' emails are masked in anything logged or audited, whatever script they are written in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync_guard.config import Mode
from sync_guard.guard.model import AuditEntry, Decision, EntryKind, Finding, Severity
from sync_guard.notify.model import FinanceNotice
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
        # a domain of one label: in-house mail, a test box
        ("mail to ops@localhost failed", "mail to o***@localhost failed"),
        ("J.Smith@intranet, root@mail-01.", "J***@intranet, r***@mail-01."),
        # a user in a URL is someone's name too; the port and path stay
        ("https://deploy@ci-host:8443/x", "https://d***@ci-host:8443/x"),
        # an "@" in a name, not an address: spaced out, or a capital after it
        ("Acme @ London", "Acme @ London"),
        ("Coffee@Work Ltd and Eat@Joe's", "Coffee@Work Ltd and Eat@Joe's"),
        ("@channel mention, tel@2024", "@channel mention, tel@2024"),
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

    # given a refusal that quotes an address cut short wherever pydantic cuts it ("jane.doe@...", or
    # "jane.doe@acme-widgets.c..."), which no mask can be sure to recognise
    with pytest.raises(ValidationError) as raised:
        Record.model_validate({"email": ["jane.doe@acme-widgets.co.uk", "x" * 100]})
    assert "jane.doe@" in str(raised.value)
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


def test_addresses_in_free_text_can_keep_their_digest() -> None:
    text = "different emails: Finance@acme.co.uk / accounts@acme.co.uk"

    masked = mask_emails_in(text, digest=True)

    # each as mask_email masks it alone, so two addresses are told apart; masking again changes nothing
    assert masked == (
        f"different emails: {mask_email('Finance@acme.co.uk')} / {mask_email('accounts@acme.co.uk')}"
    )
    assert mask_email("Finance@acme.co.uk") != mask_email("accounts@acme.co.uk")
    assert mask_emails_in(masked, digest=True) == masked
    assert mask_emails_in(masked) == masked


def test_evidence_is_masked_in_every_model_that_carries_it_to_the_audit_trail_or_finance() -> None:
    line = "same email jane@smithdesign.co.uk"
    told = f"same email {mask_email('jane@smithdesign.co.uk')}"
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    # a rule's finding
    finding = Finding(code="X", severity=Severity.HIGH, explanation="x", evidence=(line,), subject="crm:1")
    # an admin's hold with the matcher's lines (preflight), or an entry stored before evidence was masked
    entry = AuditEntry.model_validate(
        {
            "entry_id": "adm_1",
            "at": at,
            "kind": EntryKind.ADMIN,
            "decision": Decision.ADMIN,
            "mode": Mode.ENFORCE,
            "evidence": [line],
            "findings": [finding.model_dump() | {"evidence": [line]}],
        }
    )
    # finance's notice
    notice = FinanceNotice(
        rule="NAME_DRIFT",
        severity="warning",
        decision="flag",
        mode=Mode.ENFORCE,
        occurred_at=at,
        evidence=(line,),
    )

    assert finding.evidence == entry.evidence == entry.findings[0].evidence == notice.evidence == (told,)


def test_evidence_and_logs_mask_an_address_of_one_label_alike() -> None:
    # The log mask and the evidence mask are one recogniser: an address one masks, the other masks too.
    line = "same email ops@localhost on both sides, seen at Coffee@Work Ltd"
    finding = Finding(code="X", severity=Severity.HIGH, explanation="x", evidence=(line,), subject="crm:1")

    assert finding.evidence == (
        f"same email {mask_email('ops@localhost')} on both sides, seen at Coffee@Work Ltd",
    )
    assert mask_emails_in(line) == "same email o***@localhost on both sides, seen at Coffee@Work Ltd"
    assert mask_emails_in(finding.evidence[0], digest=True) == finding.evidence[0]
