"""What a scenario is: a world built deterministically, then an act (what people and the sync do)."""

from __future__ import annotations

import random
from typing import ClassVar

from sync_guard.local.scenarios.world import World

_FIRST = (
    "Acme",
    "Brightwater",
    "Cobalt",
    "Dunmore",
    "Elmfield",
    "Fenwick",
    "Granite",
    "Harbour",
    "Ivybridge",
    "Juniper",
    "Kestrel",
    "Larchmont",
    "Meridian",
    "Northgate",
    "Oakhurst",
    "Pennant",
    "Quayside",
    "Redbrook",
    "Saltire",
    "Thornbury",
    "Upland",
    "Vantage",
    "Westcombe",
    "Yarrow",
    "Zenith",
    "Ashdown",
    "Beacon",
    "Calder",
    "Dovetail",
    "Eastleigh",
    "Foxglove",
    "Glenmore",
    "Hawthorn",
    "Ironside",
    "Kingsway",
    "Lowther",
    "Millbank",
    "Newhaven",
    "Orchard",
    "Parkside",
)
_SECOND = (
    "Engineering",
    "Foods",
    "Logistics",
    "Dental",
    "Joinery",
    "Plumbing",
    "Textiles",
    "Print",
    "Electrical",
    "Consulting",
    "Roofing",
    "Bakery",
    "Motors",
    "Gardens",
    "Studios",
    "Brewing",
    "Surveying",
    "Catering",
    "Glazing",
    "Haulage",
)


def company_names(count: int, seed: int) -> list[str]:
    """``count`` distinct company names (without legal form), the same for the same seed."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    pairs = [f"{a} {b}" for a in _FIRST for b in _SECOND]
    rng.shuffle(pairs)
    return pairs[:count]


class Scenario:
    """One pattern from the seed field report, replayed on a simulated Zoho organisation."""

    #: Stable identifier (``sync-guard demo --json`` key).
    name: ClassVar[str]
    #: One line for the demo table.
    title: ClassVar[str]
    #: Which seed pattern it replays, in the seed's words.
    pattern: ClassVar[str]
    #: Whether the guarded run uses ``sync-guard preflight`` before the first sync / the reconnect.
    uses_preflight: ClassVar[bool] = False

    def build(self, world: World) -> None:
        """History before the act: records, the integration's earlier runs. No guard hooks run here."""
        raise NotImplementedError

    def act(self, world: World) -> None:
        """What happens next: people editing, the sync running, the bookkeeper invoicing."""
        raise NotImplementedError
