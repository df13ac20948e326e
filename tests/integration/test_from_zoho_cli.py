"""``match-report --from-zoho`` and ``seed --from-zoho``: the organisation read through Zoho's APIs (the
simulator over HTTP) instead of exports."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sync_guard.cli import app
from sync_guard.cli import seed as seed_module
from sync_guard.config import get_settings
from sync_guard.guard.model import AuditEntry
from sync_guard.local.zoho_simulator import ZohoSimulator
from sync_guard.local.zoho_simulator.state import Source
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.store.checks import DynamoCheckState
from sync_guard.store.shadow import DynamoShadowRepository
from tests.support.aws import AwsResources
from tests.support.local import publish_serve_state, serve_on
from tests.support.outbox import point_at_simulator

pytestmark = pytest.mark.integration

runner = CliRunner()


@dataclass(frozen=True)
class Org:
    sim: ZohoSimulator
    acme_id: str  # "Acme Ltd" in CRM, "Acme Limited" in Books: not linked
    kestrel_id: str  # linked by Books' zcrm_account_id


@pytest.fixture
def org() -> Iterator[Org]:
    """A drifted pair, a pair Zoho links, and a supplier with a customer's name."""
    with ZohoSimulator(seed=7) as sim:
        state = sim.state
        acme = state.crm_create(
            "Accounts", {"Account_Name": "Acme Ltd", "Billing_City": "Leeds"}, source=Source.ADMIN
        )
        state.books_create_contact({"contact_name": "Acme Limited"}, source=Source.ADMIN)
        kestrel = state.crm_create("Accounts", {"Account_Name": "Kestrel Foods Ltd"}, source=Source.ADMIN)
        state.books_create_contact(
            {"contact_name": "Kestrel Foods Ltd", "zcrm_account_id": kestrel["id"]}, source=Source.ADMIN
        )
        state.books_create_contact(
            {"contact_name": "Acme Ltd Supplies", "contact_type": "vendor"}, source=Source.ADMIN
        )
        yield Org(sim, str(acme["id"]), str(kestrel["id"]))


def books_id(sim: ZohoSimulator, name: str) -> str:
    [contact] = [c for c in sim.state.books_list_contacts() if c["contact_name"] == name]
    return str(contact["contact_id"])


def audit_entries(operation: str) -> list[AuditEntry]:
    page = AuditLog.from_settings(get_settings()).query(AuditQuery(), limit=20)
    return [entry for entry in page.entries if entry.operation == operation]


def test_a_match_report_read_from_zoho_pairs_across_and_names_the_organisations(
    org: Org, tmp_path: Path
) -> None:
    state_dir, out = tmp_path / "stack", tmp_path / "report"
    publish_serve_state(org.sim, state_dir)

    result = runner.invoke(
        app,
        ["match-report", "--from-zoho", "--out", str(out), "--state-dir", str(state_dir), "--quiet"],
    )

    assert result.exit_code == 0, result.output
    with (out / "pairs.csv").open(newline="", encoding="utf-8") as handle:
        pairs = list(csv.DictReader(handle))
    acme = [p for p in pairs if org.acme_id in (p["left_id"], p["right_id"])]
    assert [(p["verdict"], {p["left_id"], p["right_id"]}) for p in acme] == [
        ("duplicate", {org.acme_id, books_id(org.sim, "Acme Limited")})
    ]
    # the supplier is not a customer: never in the report
    assert books_id(org.sim, "Acme Ltd Supplies") not in (out / "pairs.csv").read_text()
    # the ticket carries the Books organisation id the guard is configured with
    assert org.sim.books_organization_id in (out / "support-ticket.md").read_text()
    assert "Zoho CRM API (Accounts)" in (out / "summary.md").read_text()
    # no shadow named (an offline run): nothing compared, nothing to warn of
    assert "warning" not in result.output
    assert "## Warnings" not in (out / "summary.md").read_text()


def match_report_from_zoho(state_dir: Path, out: Path) -> Any:
    return runner.invoke(
        app, ["match-report", "--from-zoho", "--out", str(out), "--state-dir", str(state_dir), "--quiet"]
    )


def test_a_match_report_from_zoho_is_refused_while_the_shadow_is_another_organisations(
    aws_server: AwsResources, org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a guard configured for the simulator's organisation, its shadow recorded as another's
    DynamoCheckState.from_settings(get_settings()).record_books_organization(
        "20081234567", at=datetime(2026, 9, 1, 10, 15, tzinfo=UTC), by="scheduler:zoho-checks"
    )
    state_dir, out = tmp_path / "stack", tmp_path / "report"
    serve_on(aws_server, org.sim, state_dir, monkeypatch)

    refused = match_report_from_zoho(state_dir, out)

    # then it exits 2 naming both ids, before reading Zoho or writing anything
    assert refused.exit_code == 2, refused.output
    assert f"configured for Books organisation {org.sim.books_organization_id}" in refused.output
    assert "holds the Books customers of organisation 20081234567" in refused.output
    assert org.sim.requests.records == []
    assert not out.exists()


def test_a_match_report_from_zoho_on_the_shadows_organisation_is_written_without_a_warning(
    aws_server: AwsResources, org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    DynamoCheckState.from_settings(get_settings()).record_books_organization(
        org.sim.books_organization_id, at=datetime(2026, 9, 1, 10, 15, tzinfo=UTC), by="sync-guard seed"
    )
    state_dir, out = tmp_path / "stack", tmp_path / "report"
    serve_on(aws_server, org.sim, state_dir, monkeypatch)

    result = match_report_from_zoho(state_dir, out)

    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert "## Warnings" not in (out / "summary.md").read_text()


def test_a_match_report_from_zoho_with_no_shadow_table_is_written_as_before(
    aws_server: AwsResources, org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at_simulator(org.sim, monkeypatch)
    monkeypatch.setenv("SYNC_GUARD_SHADOW_TABLE", "no-such-shadow")
    get_settings.cache_clear()
    out = tmp_path / "report"

    result = match_report_from_zoho(tmp_path / "none", out)

    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert "## Warnings" not in (out / "summary.md").read_text()


def test_a_match_report_from_zoho_warns_when_the_shadows_organisation_cannot_be_read(
    org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a guard whose shadow table is named, on a DynamoDB that does not answer
    point_at_simulator(org.sim, monkeypatch)
    monkeypatch.setenv("SYNC_GUARD_SHADOW_TABLE", "sync-guard-shadow")
    monkeypatch.setenv("SYNC_GUARD_DYNAMODB_ENDPOINT_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    out = tmp_path / "report"

    result = match_report_from_zoho(tmp_path / "none", out)

    # then the report is written, its summary (and the terminal) saying what was not checked
    assert result.exit_code == 0, result.output
    assert "could not be read (EndpointConnectionError)" in " ".join(result.output.split())
    summary = " ".join((out / "summary.md").read_text().split())
    assert "## Warnings" in summary
    assert f"Books was read as organisation {org.sim.books_organization_id}" in summary


def test_exports_and_from_zoho_together_are_refused(tmp_path: Path) -> None:
    export = tmp_path / "accounts.csv"
    export.write_text("id,name\n1,Acme Ltd\n", encoding="utf-8")

    for command in (["match-report", "--out", str(tmp_path / "out")], ["seed"]):
        result = runner.invoke(app, [*command, "--from-zoho", "--crm", str(export)])
        assert result.exit_code == 2
        assert "not both" in result.output


def test_from_zoho_without_a_configured_zoho_says_so_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["match-report", "--from-zoho", "--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "x")],
    )

    assert result.exit_code == 2
    assert "--from-zoho reads Zoho through the guard's configuration" in result.output
    assert not (tmp_path / "out").exists()


def test_seed_from_zoho_loads_the_pairs_zoho_links_and_audits_it(
    aws_server: AwsResources, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_at_simulator(org.sim, monkeypatch)

    result = runner.invoke(app, ["seed", "--from-zoho", "--actor", "consultant"])

    assert result.exit_code == 0, result.output
    assert "read 2 CRM records and 2 Books customers" in result.output
    shadow = DynamoShadowRepository.from_settings(get_settings())
    kestrel = shadow.get_state(f"crm:{org.kestrel_id}")
    assert kestrel is not None
    assert kestrel.partner == f"books:{books_id(org.sim, 'Kestrel Foods Ltd')}"
    assert shadow.get_state(f"books:{books_id(org.sim, 'Acme Ltd Supplies')}") is None
    [entry] = audit_entries("seed")
    assert entry.actor == "consultant"
    assert "read from Zoho's APIs (Accounts and Books customers)" in entry.note


def seed_from_zoho(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at_simulator(org.sim, monkeypatch)
    seeded = runner.invoke(app, ["seed", "--from-zoho", "--actor", "consultant"])
    assert seeded.exit_code == 0, seeded.output


def test_seed_from_zoho_records_the_organisation_and_a_seed_into_another_ones_shadow_is_refused(
    aws_server: AwsResources, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_from_zoho(org, monkeypatch)

    recorded = DynamoCheckState.from_settings(get_settings()).books_organization()
    assert recorded is not None
    assert (recorded.organization_id, recorded.recorded_by) == (
        org.sim.books_organization_id,
        "sync-guard seed (consultant)",
    )

    # when the guard is pointed at another organisation with the tables kept, a seed is refused
    monkeypatch.setenv("SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID", "20099999999")
    get_settings.cache_clear()
    refused = runner.invoke(app, ["seed", "--from-zoho", "--actor", "consultant"])

    assert refused.exit_code == 2
    assert f"holds the Books customers of organisation {org.sim.books_organization_id}" in refused.output
    assert "read " not in refused.output  # refused before Zoho was read or anything written
    shown = runner.invoke(app, ["books-organization"])
    assert shown.exit_code == 1
    assert "configured (ZohoBooksOrganizationId): 20099999999" in shown.output
    assert f"recorded for the shadow: {org.sim.books_organization_id} (recorded " in shown.output


def test_adopting_the_configured_organisation_needs_the_shadows_customers_in_it(
    aws_server: AwsResources, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a shadow seeded from the simulator's organisation, recorded under a mistyped id
    seed_from_zoho(org, monkeypatch)
    record = DynamoCheckState.from_settings(get_settings())
    [recorded] = [record.books_organization()]
    assert recorded is not None
    real = org.sim.books_organization_id
    record.adopt_books_organization("2000000001", replacing=real, at=recorded.recorded_at, by="typo")

    # when the admin adopts the configured organisation, where the shadow's customers are
    adopted = runner.invoke(app, ["books-organization", "--adopt", "--actor", "alice"])

    # then it is recorded, after asking Books about the customers, and audited
    assert adopted.exit_code == 0, adopted.output
    now = record.books_organization()
    assert now is not None
    assert (now.organization_id, now.recorded_by) == (real, "alice")
    assert org.sim.requests.count("books.get_contact") == 2
    [entry] = audit_entries("adopt_books_organization")
    assert "recorded for the shadow in place of 2000000001" in entry.note
    assert runner.invoke(app, ["books-organization"]).exit_code == 0


def test_another_organisations_shadow_is_not_adopted(
    aws_server: AwsResources, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a shadow whose customers the configured organisation does not hold (deleted from it here)
    seed_from_zoho(org, monkeypatch)
    for name in ("Acme Limited", "Kestrel Foods Ltd"):
        org.sim.state.books_delete_contact(books_id(org.sim, name), source=Source.ADMIN)
    record = DynamoCheckState.from_settings(get_settings())
    recorded = record.books_organization()
    assert recorded is not None
    record.adopt_books_organization(
        "20081234567", replacing=recorded.organization_id, at=recorded.recorded_at, by="x"
    )

    refused = runner.invoke(app, ["books-organization", "--adopt", "--actor", "alice"])

    assert refused.exit_code == 1
    assert "2 of 2 Books customers the shadow holds do not exist" in refused.output
    kept = record.books_organization()
    assert kept is not None
    assert kept.organization_id == "20081234567"


def test_a_seed_from_zoho_loads_nothing_when_another_organisation_is_recorded_while_zoho_is_read(
    aws_server: AwsResources, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a shadow with no organisation recorded when the seed starts; while the seed reads Zoho, the
    # first scheduled run of a stack deployed meanwhile with another ZohoBooksOrganizationId records it
    point_at_simulator(org.sim, monkeypatch)
    read = seed_module.read_from_zoho

    def read_while_a_scheduled_run_records_another(*args: Any, **kwargs: Any) -> Any:
        records = read(*args, **kwargs)
        DynamoCheckState.from_settings(get_settings()).record_books_organization(
            "20099999999", at=datetime.now(UTC), by="scheduler:zoho-checks"
        )
        return records

    monkeypatch.setattr(seed_module, "read_from_zoho", read_while_a_scheduled_run_records_another)

    # when the seed goes on to load what it read
    refused = runner.invoke(app, ["seed", "--from-zoho", "--actor", "consultant"])

    # then it is refused, naming both ids, with nothing loaded or audited
    assert refused.exit_code == 2, refused.output
    assert "holds the Books customers of organisation 20099999999" in refused.output
    assert org.sim.books_organization_id in refused.output
    shadow = DynamoShadowRepository.from_settings(get_settings())
    assert shadow.get_state(f"crm:{org.kestrel_id}") is None
    assert audit_entries("seed") == []
    recorded = DynamoCheckState.from_settings(get_settings()).books_organization()
    assert recorded is not None
    assert recorded.organization_id == "20099999999"


def test_books_organization_shows_an_item_edited_by_hand_or_names_what_it_lacks(
    aws_server: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID", "20099999999")
    get_settings.cache_clear()
    key = {"pk": {"S": "ZOHO_CHECK"}, "sk": {"S": "books_organization"}}
    table = get_settings().shadow_table

    # given the item written by hand with the id alone, then without it
    aws_server.dynamodb.put_item(TableName=table, Item={**key, "organization_id": {"S": "20081234567"}})
    shown = runner.invoke(app, ["books-organization"])
    aws_server.dynamodb.put_item(TableName=table, Item={**key, "recorded_by": {"S": "alice"}})
    unreadable = runner.invoke(app, ["books-organization"])

    # then the first is shown as the recorded organisation, and the second named with the field it lacks
    assert shown.exit_code == 1, shown.output
    assert "recorded for the shadow: 20081234567 (recorded at a time not kept by an unknown writer)" in (
        shown.output
    )
    assert unreadable.exit_code == 2, unreadable.output
    assert "books_organization has no organization_id" in unreadable.output
    assert unreadable.exception is None or isinstance(unreadable.exception, SystemExit)
