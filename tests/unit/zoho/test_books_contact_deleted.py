"""BooksClient.contact_deleted with a stub transport: which of Books' answers mean a contact is gone."""

from __future__ import annotations

from typing import Any

import pytest

from sync_guard.zoho.books import BooksClient
from sync_guard.zoho.errors import BooksApiError


class AnsweringHttp:
    """Answers GET /contacts/{id} with ``answer``: a body, or a Books error to raise."""

    def __init__(self, answer: dict[str, Any] | BooksApiError) -> None:
        self.answer = answer

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if isinstance(self.answer, BooksApiError):
            raise self.answer
        return self.answer


def deleted(answer: dict[str, Any] | BooksApiError) -> bool:
    return BooksClient(AnsweringHttp(answer), "20000000001").contact_deleted("4600001")  # type: ignore[arg-type]


def test_books_saying_the_contact_does_not_exist_reads_as_deleted() -> None:
    assert deleted(BooksApiError(1002, "Contact does not exist.", http_status=404)) is True
    # the same words under another code still name the contact
    assert deleted(BooksApiError(1, "Customer does not exist.", http_status=404)) is True
    assert deleted({"code": 0, "contact": {"contact_id": "4600001"}}) is False


@pytest.mark.parametrize(
    "message",
    [
        "The organization does not exist.",
        "This user does not exist in the organization",
        "Page does not exist",
    ],
)
def test_a_404_saying_something_else_does_not_exist_is_no_answer_about_the_contact(message: str) -> None:
    # a missing organisation or user says nothing of the contact: it must not feed a delete
    with pytest.raises(BooksApiError):
        deleted(BooksApiError(57, message, http_status=404))
