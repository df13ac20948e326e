"""Errors in the guard's own words: pydantic's refusals without its prefixes, and fields as the caller names
them."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from sync_guard.errors import InvalidPayload, invalid_payload, validation_detail


class _Contact(BaseModel):
    contact_id: str

    @field_validator("contact_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class _Body(BaseModel):
    contact: _Contact


def _refusal(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        _Body.model_validate(data)
    return caught.value


def test_a_validators_own_words_come_without_pydantics_prefix() -> None:
    refusal = _refusal({"contact": {"contact_id": " "}})

    assert str(refusal.errors()[0]["msg"]) == "Value error, must not be empty"
    assert validation_detail(refusal) == "must not be empty"


def test_pydantics_own_refusals_are_left_as_they_are() -> None:
    assert validation_detail(_refusal({"contact": {}})) == "Field required"


def test_an_invalid_payload_names_the_dotted_path_of_the_first_failing_field() -> None:
    error = invalid_payload(_refusal({"contact": {"contact_id": " "}}))

    assert isinstance(error, InvalidPayload)
    assert (error.field, error.message) == ("contact.contact_id", "contact.contact_id: must not be empty")
    under = invalid_payload(_refusal({"contact": {"contact_id": " "}}), prefix="JSONString")
    assert under.field == "JSONString.contact.contact_id"
    assert invalid_payload(_refusal([])).field == "body"  # no field: the body itself
