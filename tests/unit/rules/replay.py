"""Replays the seed's patterns as Zoho webhook bodies, parsed by the real parsers, through the engine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sync_guard.admin.model import OperationResult
from sync_guard.admin.service import AdminService, judged_distinct
from sync_guard.config import Mode
from sync_guard.guard.engine import Guard, GuardConfig
from sync_guard.guard.matcher import LibraryMatcher
from sync_guard.guard.model import AuditEntry, Decision, RecordState
from sync_guard.guard.ports import KeyItem
from sync_guard.models.events import GuardEvent
from sync_guard.zoho.payloads import parse_books_webhook, parse_crm_workflow
from tests.unit.guard.fakes import InMemoryShadow

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LONG_AGO = "2019-05-01T10:00:00+0000"


class Replay:
    """A guard over an in-memory shadow, fed webhook bodies one after another, a minute apart."""

    def __init__(self, *, mode: Mode = Mode.ENFORCE, **config: Any) -> None:
        self.shadow = InMemoryShadow()
        self.now = START
        self.guard = Guard(
            self.shadow, LibraryMatcher(), GuardConfig(mode=mode, **config), clock=lambda: self.now
        )

    def _tick(self, minutes: float) -> str:
        self.now += timedelta(minutes=minutes)
        return self.now.isoformat()

    def send(self, event: GuardEvent) -> AuditEntry:
        result = self.guard.process(event)
        assert result.entry is not None, "expected a new audit entry"
        assert self.shadow.entries[result.entry.entry_id] == result.entry
        return result.entry

    def crm(
        self, event: str, record_id: str, *, module: str = "Accounts", minutes: float = 1, **fields: Any
    ) -> AuditEntry:
        """A CRM workflow webhook with the recommended raw JSON template."""
        modified = self._tick(minutes)
        body = {"event": event, "module": module, "id": record_id, "modified": modified, **fields}
        return self.send(parse_crm_workflow(body, received_at=self.now))

    def books(
        self, event: str, contact_id: str, *, minutes: float = 1, created: str | None = None, **fields: Any
    ) -> AuditEntry:
        """A Books webhook with the default payload (``{"contact": {...}}``); a delete carries the id only."""
        modified = self._tick(minutes)
        if event == "delete":
            return self.send(
                parse_books_webhook({"contact_id": contact_id}, received_at=self.now, operation=event)
            )
        contact = {
            "contact_id": contact_id,
            "contact_type": "customer",
            "customer_sub_type": "business",
            "status": "active",
            "created_time": created or modified,
            "last_modified_time": modified,
            **fields,
        }
        contact.setdefault("company_name", contact.get("contact_name"))
        return self.send(parse_books_webhook({"contact": contact}, received_at=self.now, operation=event))

    def link_by_admin(self, crm_ref: str, books_ref: str, *, against_zoho: bool = False) -> OperationResult:
        """An admin pairs the two by hand (``AdminService.link``), unpairing their former partners.

        ``against_zoho``: where Zoho's link pairs either record elsewhere, which ``link`` refuses now; a
        shadow still holds such pairs made before it did."""
        service = _LinkBeforeZohoCheck if against_zoho else AdminService
        admin = service(
            repository=cast(Any, _AdminStates(self)),
            audit_log=cast(Any, None),
            actions=cast(Any, None),
            queue=None,
            mode=Mode.ENFORCE,
            clock=lambda: self.now,
        )
        return admin.link(crm_ref, books_ref, actor="user:erin")

    def release(self, ref: str) -> None:
        """What an admin's release leaves on the held record's state (``AdminDynamo.release``): no longer
        held, and judged distinct from the records the hold was raised against."""
        state = self.shadow.states[ref]
        assert state.held_by is not None, f"{ref} is not held"
        judged = judged_distinct(self.shadow.entries[state.held_by], ref, state.partner)
        update = {"held_by": None, "cleared": state.cleared | judged, "rev": state.rev + 1}
        self.shadow.states[ref] = state.model_copy(update=update)


class _LinkBeforeZohoCheck(AdminService):
    """``link`` as it was before it refused a pair Zoho's link contradicts."""

    def _refuse_against_zoho_link(self, crm_state: RecordState, books_state: RecordState) -> None:
        return None


class _AdminStates:
    """The admin repository's calls ``link`` makes, over the replay's shadow."""

    def __init__(self, replay: Replay) -> None:
        self.shadow = replay.shadow

    def state(self, ref: str) -> RecordState | None:
        return self.shadow.states.get(ref)

    def states(self, refs: Iterable[str]) -> dict[str, RecordState]:
        return {ref: self.shadow.states[ref] for ref in refs if ref in self.shadow.states}

    def key(self, key: str) -> KeyItem:
        return self.shadow.keys.get(key, KeyItem(key=key))

    def write_states(self, entry: AuditEntry, changes: Sequence[tuple[RecordState, int]]) -> None:
        for state, rev in changes:
            assert self.shadow.states[state.ref].rev == rev, f"{state.ref} changed meanwhile"
            self.shadow.states[state.ref] = state.model_copy(update={"rev": rev + 1})


def assert_decided(entry: AuditEntry, code: str, decision: Decision, *evidence: str) -> None:
    """The entry names the rule, the decision, and every expected fragment of evidence."""
    assert code in entry.rules, (entry.rules, entry.note)
    assert entry.decision is decision
    finding = next(f for f in entry.findings if f.code == code)
    text = " | ".join(finding.evidence)
    for fragment in evidence:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    assert all(line.startswith(tuple(entry.rules)) for line in entry.evidence)


def assert_held_instead(replay: Replay, entry: AuditEntry, code: str, *, held: str, invoiced: str) -> None:
    """``code`` quarantined, holding ``held`` and passing over the event's own ``invoiced`` customer, with
    the evidence saying why."""
    assert_decided(
        entry,
        code,
        Decision.QUARANTINE,
        f"{invoiced} holds transactions and {held} does not: the hold is on {held}",
    )
    assert replay.shadow.states[held].held_by == entry.entry_id
    assert replay.shadow.states[invoiced].held_by is None
