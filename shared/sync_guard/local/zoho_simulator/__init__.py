"""A local Zoho (accounts server, CRM v8, Books v3) for tests, the local stack and the demo.

``with ZohoSimulator() as sim:`` serves on a free port; ``sim.state`` is the in-memory data model (with
change hooks for a sync engine or a webhook emitter), ``sim.faults`` injects 429/500/timeouts, and
``sim.requests`` counts what was served.
"""

from sync_guard.local.zoho_simulator.faults import FaultConfig, FaultInjector, FaultKind, RequestLog
from sync_guard.local.zoho_simulator.oauth import TokenAuthority
from sync_guard.local.zoho_simulator.server import ZohoSimulator
from sync_guard.local.zoho_simulator.state import (
    Assumptions,
    ChangeEvent,
    ChangeKind,
    SimulatorError,
    SimulatorState,
    Source,
)

__all__ = [
    "Assumptions",
    "ChangeEvent",
    "ChangeKind",
    "FaultConfig",
    "FaultInjector",
    "FaultKind",
    "RequestLog",
    "SimulatorError",
    "SimulatorState",
    "Source",
    "TokenAuthority",
    "ZohoSimulator",
]
