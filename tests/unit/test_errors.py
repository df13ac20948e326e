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


def test_an_error_about_a_field_is_told_with_the_name_the_caller_gave_it() -> None:
    names = {"survivor": "--survivor", "hold_id": "record"}

    survivor = InvalidPayload("survivor must look like crm:<id> or books:<id>", field="survivor")
    assert survivor.naming(names) == "--survivor must look like crm:<id> or books:<id>"
    assert survivor.message == "survivor must look like crm:<id> or books:<id>"  # the API's words stay
    held = InvalidPayload("hold_id must look like crm:<id> or books:<id>", field="hold_id")
    assert held.naming(names) == "record must look like crm:<id> or books:<id>"
    # a message that does not begin with its field, or a field without a name there, is left as it is
    assert InvalidPayload("the survivor must be another record", field="survivor").naming(names) == (
        "the survivor must be another record"
    )
    assert InvalidPayload("module must be one of Accounts", field="module").naming(names) == (
        "module must be one of Accounts"
    )
    assert InvalidPayload("survivors must differ", field="survivor").naming(names) == "survivors must differ"
