"""Added rule: a customer's Zoho link re-pointed at another CRM record (accounts and contacts mixed)."""

from __future__ import annotations

from sync_guard.guard.model import Decision
from tests.unit.rules.replay import Replay, assert_decided


def test_crossed_mapping_from_account_to_contact() -> None:
    replay = Replay()
    replay.crm("create", "5725900", name="Alder Vets Ltd")
    replay.books("create", "460900", contact_name="Alder Vets Ltd", zcrm_account_id="5725900")

    crossed = replay.books(
        "edit", "460900", contact_name="Alder Vets Ltd", zcrm_account_id="", zcrm_contact_id="5725955"
    )

    assert_decided(
        crossed,
        "CROSSED_MAPPING",
        Decision.FLAG,
        "pair in the shadow: books:460900 <-> crm:5725900",
        "Zoho link before: 5725900; now: 5725955",
    )
    assert replay.shadow.states["books:460900"].partner == "crm:5725955"
    assert replay.shadow.states["crm:5725900"].partner is None
