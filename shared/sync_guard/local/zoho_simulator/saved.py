"""The simulator's Zoho kept on disk, beside the tables that go with it.

``sync-guard demo`` leaves its data in the state folder for ``sync-guard serve`` to reopen; the guard's
tables there name CRM records and Books customers by id, so serve's simulator must start with those
records, not empty (a release would fail to untag them, the ``deleted:Books`` check would take every
customer for deleted). The file holds every organisation's records (:meth:`SimulatorState.save`) and what
each native sync knew (:meth:`NativeSync.save`: its ID map above all). Access tokens are not kept: the
simulator that reopens the file mints its own, and serve drops the one the tables hold (``LocalStack``'s
``zoho_starts_afresh``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync_guard.exports.report.wording import counted
from sync_guard.local.zoho_simulator.native_sync import NativeSync
from sync_guard.local.zoho_simulator.state import SimulatorState

#: Its name in the state folder (``.local/stack`` by default).
ZOHO_STATE_FILE = "zoho-simulator.json"
#: Bumped whenever the file's shape changes, so an older file is refused by name, not misread.
FORMAT_VERSION = 1
_SYNC_KEYS = frozenset(
    {"crm_module", "connected", "id_map", "created_for", "failed", "dirty_crm", "dirty_books"}
)


class SavedZohoError(Exception):
    """A saved Zoho that cannot be read back (corrupt, or another format); the message names the file."""


@dataclass(frozen=True)
class SavedZoho:
    """A saved Zoho, checked: load ``state`` into a simulator's state, ``syncs`` into its native sync."""

    state: dict[str, Any]
    syncs: list[dict[str, Any]]

    def summary(self) -> str:
        """How much it holds, in words (for serve's message)."""
        crm = sum(len(records) for records in self.state["crm"].values())
        books = len(self.state["books_contacts"])
        return f"{counted(crm, 'CRM record')}, {counted(books, 'Books customer')}"


def write_saved_zoho(path: Path, states: Iterable[SimulatorState], syncs: Iterable[NativeSync]) -> Path:
    """Write the organisations (their ids apart) as one Zoho, with their syncs' maps; atomically: a
    reader sees the old file or the new one, never half of one."""
    combined = SimulatorState()
    for state in states:
        combined.load(state.save())
    return write_saved_zoho_data(path, combined.save(), [sync.save() for sync in syncs])


def write_saved_zoho_data(path: Path, state: dict[str, Any], syncs: list[dict[str, Any]]) -> Path:
    """Write saved data (:meth:`SimulatorState.save`'s, :meth:`NativeSync.save`'s), atomically."""
    payload = {"format": FORMAT_VERSION, "state": state, "syncs": syncs}
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(partial, path)
    return path


def read_saved_zoho(path: Path) -> SavedZoho:
    """The saved Zoho at ``path``, checked by loading it into a scratch state; :class:`SavedZohoError`
    naming the file if it is not one this version wrote."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
            found = payload.get("format") if isinstance(payload, dict) else None
            raise SavedZohoError(f"{path}: format {found!r}, this version reads format {FORMAT_VERSION}")
        state, syncs = payload["state"], payload["syncs"]
        SimulatorState().load(state)
        for sync in syncs:
            missing = _SYNC_KEYS - set(sync)
            if missing:
                raise SavedZohoError(f"{path}: a native sync without {', '.join(sorted(missing))}")
    except SavedZohoError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise SavedZohoError(f"{path}: not a saved Zoho ({type(error).__name__}: {error})") from error
    return SavedZoho(state=state, syncs=list(syncs))
