"""Customers' emails are masked in anything logged, whatever script they are written in."""

from __future__ import annotations

import pytest

from sync_guard.redact import mask_email, mask_emails_in


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
