"""Pairing a CRM record and a Books customer by hand (``link``): the states the pair rewrites, and the
refusal where Zoho's own link pairs either record elsewhere. Pure: the admin service reads and writes.
"""

from __future__ import annotations

from collections.abc import Mapping

from sync_guard.errors import Conflict
from sync_guard.guard.model import PairSource, RecordState


def zoho_link_conflict(linked: RecordState, crm_ref: str, books_ref: str, *, field: str) -> Conflict:
    """The refusal of linking ``crm_ref`` with ``books_ref`` where Zoho's link pairs the Books customer
    ``linked`` with another record: the engine follows Zoho's link (``guard.engine._pair``), so the pair
    would be replaced at that customer's next event."""
    return Conflict(
        f"Zoho's own link pairs {linked.ref} with crm:{linked.record.linked_crm_id} (that Books customer's "
        f"CRM link, as the guard last saw it), and the guard follows Zoho's link: a pair of {crm_ref} and "
        f"{books_ref} made here would be replaced at the next event of {linked.ref}. Neither Zoho product "
        "lets an admin edit that link (Zoho support can re-point it); once Zoho's link changes, the guard "
        "follows it at that customer's next event",
        field=field,
    )


def former_partners(crm: RecordState, books: RecordState) -> list[str]:
    """The partners ``crm`` and ``books`` have other than each other: a link by hand unpairs them."""
    return [
        own.partner for own, other in ((crm, books), (books, crm)) if own.partner and own.partner != other.ref
    ]


def relinked(
    crm: RecordState, books: RecordState, formers: Mapping[str, RecordState]
) -> tuple[list[tuple[RecordState, int]], list[str]]:
    """The states a link of ``crm`` and ``books`` writes, each with the revision it was read at, and the
    former partners it unpairs (``formers``: their states, as read).

    Each of the pair names the other as its partner (provenance ``admin``) and its former partner as
    ``former_partner``; a former partner still pairing back is left unpaired, remembering which record it
    lost. One that has moved on to another record is not touched."""
    changes: dict[str, tuple[RecordState, int]] = {}
    unpaired: list[str] = []
    for own, other in ((crm, books), (books, crm)):
        old = own.partner if own.partner != other.ref else None
        old_state = formers.get(old) if old else None
        if old and old_state is not None and old_state.partner == own.ref:
            left = old_state.model_copy(
                update={"partner": None, "pair_source": None, "former_partner": own.ref}
            )
            changes[old] = (left, old_state.rev)
            unpaired.append(old)
        paired = own.model_copy(
            update={
                "partner": other.ref,
                "pair_source": PairSource.ADMIN,
                "former_partner": old or own.former_partner,
            }
        )
        changes[own.ref] = (paired, own.rev)
    return list(changes.values()), unpaired
