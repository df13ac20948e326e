"""How the report files say things: counts, ids, a record's status and transactions, in words."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal

from sync_guard.matching.features import record_currency
from sync_guard.models.records import PartyRecord, System

SYSTEM_NAMES = {"crm": "CRM", "books": "Books"}


def balance_in_words(amount: Decimal) -> str:
    """A receivable as finance says it: money owed by the customer, or (below zero, an overpayment or
    a credit note not yet used) owed to the customer."""
    return "an outstanding balance" if amount > 0 else "a credit balance"


def transactions_in_words(record: PartyRecord) -> str:
    """A Books customer's transactions as the summary and the ticket say them."""
    if record.outstanding:
        amount = record.outstanding
        return f"holds {balance_in_words(amount)} ({amount if amount > 0 else -amount})"
    if record.has_transactions:
        return "holds transactions"
    if record.has_transactions is False:
        return "no transactions"
    return (
        "nothing outstanding, transactions unknown"
        if record.outstanding is not None
        else "transactions unknown"
    )


def status_text(record: PartyRecord) -> str:
    """``active`` or ``inactive`` as the export says it, ``""`` when it does not (no Status column)."""
    if not record.active:
        return "inactive"
    return "active" if "active" in record.model_fields_set else ""


def counted(number: int, noun: str) -> str:
    """``1 cluster``, ``2 clusters``: a number and its noun, agreeing."""
    return f"{number} {noun}" + ("" if number == 1 else "s")


def are(things: Collection[object]) -> str:
    """``is`` for one thing, ``are`` for any other number."""
    return "is" if len(things) == 1 else "are"


def were(things: Collection[object]) -> str:
    """``was`` for one thing, ``were`` for any other number."""
    return "was" if len(things) == 1 else "were"


def ids_in_words(records: Sequence[PartyRecord], shown: int = 3) -> str:
    """``8001, 8002 and 3 more``: ids for a sentence, a few at most."""
    ids = ", ".join(r.record_id for r in records[:shown])
    return ids + (f" and {len(records) - shown} more" if len(records) > shown else "")


def md_cell(text: str) -> str:
    """Text for a cell of a markdown table: its pipes escaped, its line breaks made spaces."""
    return text.replace("|", "\\|").replace("\n", " ")


def record_in_words(record: PartyRecord) -> str:
    """``Books "Acme Ltd" (id 8001, active, billed in GBP, holds transactions)``: a record for the
    summary's tables and the ticket's examples."""
    status = status_text(record)
    details = f", {status}" if status else ""
    if record.system is System.BOOKS:
        currency = record_currency(record)
        details += f", billed in {currency}" if currency else ""
        details += ", " + transactions_in_words(record)
    return f'{SYSTEM_NAMES[record.system.value]} "{md_cell(record.name)}" (id {record.record_id}{details})'
