"""The seed's failure patterns as replayable scenarios, each run without and with the guard.

``SCENARIOS`` lists them in demo order; :mod:`sync_guard.local.scenarios.runner` runs them and
:mod:`sync_guard.local.scenarios.counting` counts what happened from the simulator's ground truth.
"""

from __future__ import annotations

from collections.abc import Callable

from sync_guard.local.scenarios.base import Scenario
from sync_guard.local.scenarios.both_sides import BothTeamsCreating
from sync_guard.local.scenarios.crm_merge import CrmMerge
from sync_guard.local.scenarios.deleted_partner import DeletedPartner
from sync_guard.local.scenarios.display_name_collision import DisplayNameCollision
from sync_guard.local.scenarios.email_mismatch import EmailMismatch
from sync_guard.local.scenarios.name_drift import NameDriftAtFirstSync
from sync_guard.local.scenarios.reconnect import DisconnectReconnect
from sync_guard.local.scenarios.stalled_sync import StalledSync

#: Scenario factories in demo order (a factory, since a scenario keeps what its build made).
SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "name_drift": NameDriftAtFirstSync,
    "both_sides": BothTeamsCreating,
    "deleted_partner": DeletedPartner,
    "crm_merge": CrmMerge,
    "email_mismatch": EmailMismatch,
    "display_name_collision": DisplayNameCollision,
    "reconnect": DisconnectReconnect,
    "stalled_sync": StalledSync,
}

__all__ = ["SCENARIOS", "Scenario"]
