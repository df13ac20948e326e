"""CrmClient against the Zoho simulator over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_guard.local.zoho_simulator import ChangeKind, Source, ZohoSimulator
from sync_guard.models.records import Module, RecordKind, System
from sync_guard.zoho.auth import InMemoryTokenCache
from sync_guard.zoho.errors import CrmApiError, ZohoListingIncomplete
from sync_guard.zoho.factory import ZohoClients, build_zoho_clients
from sync_guard.zoho.http import Dialect
from tests.integration.zoho.zoho_support import FAST_RETRY, RecordClock, SleepRecorder


def _account(sim: ZohoSimulator, name: str, **fields: object) -> str:
    return str(sim.state.crm_create("Accounts", {"Account_Name": name, **fields}, source=Source.ADMIN)["id"])


def test_get_record_returns_a_party_record(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    account_id = _account(sim, "Acme Ltd", Phone="+44 20 7946 0000", Billing_Code="EC1A 1BB")

    record = zoho.crm.get_record(Module.CRM_ACCOUNTS, account_id)

    assert record is not None
    assert (record.system, record.record_id, record.name) == (System.CRM, account_id, "Acme Ltd")
    assert record.postcode == "EC1A 1BB"
    assert record.modified_at is not None


def test_get_record_of_missing_deleted_or_malformed_id_is_none(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    account_id = _account(sim, "Gone Ltd")
    sim.state.crm_delete("Accounts", account_id, source=Source.ADMIN)

    assert zoho.crm.get_record("Accounts", account_id) is None  # 204 No Content
    assert zoho.crm.get_record("Accounts", "5725767999999999999") is None
    assert zoho.crm.get_record("Accounts", "not-an-id") is None  # INVALID_DATA on the id segment


def test_contacts_are_people(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    account_id = _account(sim, "Acme Ltd")
    contact = sim.state.crm_create(
        "Contacts",
        {
            "First_Name": "Jane",
            "Last_Name": "Doe",
            "Email": "jane@acme.example",
            "Account_Name": {"name": "Acme Ltd", "id": account_id},
        },
        source=Source.ADMIN,
    )

    record = zoho.crm.get_record(Module.CRM_CONTACTS, contact["id"])

    assert record is not None
    assert record.kind is RecordKind.PERSON
    assert record.name == "Jane Doe"


def test_search_by_name_escapes_parentheses_and_commas(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    wanted = _account(sim, "Smith, Jones & Co (UK) Ltd")
    _account(sim, "Smith Jones & Co UK Ltd")

    found = zoho.crm.search_by_name(Module.CRM_ACCOUNTS, "smith, jones & co (uk) ltd")

    assert [r.record_id for r in found] == [wanted]


def test_search_by_email_phone_and_word(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    by_email = _account(sim, "Acme Ltd", Email="accounts@acme.example")
    by_phone = _account(sim, "Beta Ltd", Phone="+44 (0)20 7946 0001")
    _account(sim, "Gamma Ltd")

    assert [r.record_id for r in zoho.crm.search("Accounts", email="ACCOUNTS@acme.example")] == [by_email]
    assert [r.record_id for r in zoho.crm.search("Accounts", phone="+44 (0)20 7946 0001")] == [by_phone]
    assert {r.record_id for r in zoho.crm.search("Accounts", word="ltd")} >= {by_email, by_phone}
    assert zoho.crm.search("Accounts", email="nobody@nowhere.example") == []  # 204


def test_search_needs_exactly_one_kind(zoho: ZohoClients) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        zoho.crm.search("Accounts", email="a@b.example", word="x")


def test_search_follows_pages(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    ids = [_account(sim, f"Paged {n} Ltd") for n in range(5)]
    paged = type(zoho.crm)(zoho.http, per_page=2)

    found = paged.search("Accounts", word="Paged")

    assert [r.record_id for r in found] == ids
    assert sim.requests.count("crm.search") == 3  # 2 + 2 + 1


def test_tags_are_added_and_removed_idempotently(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    account_id = _account(sim, "Acme Ltd")

    zoho.crm.add_tags("Accounts", account_id, ["sync-guard-hold"])
    zoho.crm.add_tags("Accounts", account_id, ["sync-guard-hold"])
    data = zoho.crm.get_record_data("Accounts", account_id)
    assert data is not None
    assert [t["name"] for t in data["Tag"]] == ["sync-guard-hold"]
    # The second add changed nothing, so only one change happened.
    assert len(sim.state.changes_for(account_id, ChangeKind.TAGS)) == 1

    zoho.crm.remove_tags("Accounts", account_id, ["sync-guard-hold"])
    data = zoho.crm.get_record_data("Accounts", account_id)
    assert data is not None
    assert data["Tag"] == []


def test_update_with_empty_trigger_fires_no_workflows(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    account_id = _account(sim, "Acme Ltd")

    zoho.crm.update_record("Accounts", account_id, {"Sync_Hold": True}, trigger=[])
    zoho.crm.update_record("Accounts", account_id, {"Sync_Hold": False})

    quiet, loud = sim.state.changes_for(account_id, ChangeKind.UPDATE)
    assert quiet.fires_workflows is False
    assert loud.fires_workflows is True
    assert quiet.changed_fields == ("Sync_Hold",)


def test_update_of_missing_record_is_a_crm_error_from_data(zoho: ZohoClients) -> None:
    with pytest.raises(CrmApiError) as caught:
        zoho.crm.update_record("Accounts", "5725767999999999999", {"Phone": "1"})
    assert caught.value.zoho_code == "INVALID_DATA"
    assert caught.value.retryable is False


def test_request_level_crm_error_envelope(zoho: ZohoClients) -> None:
    with pytest.raises(CrmApiError) as caught:
        zoho.http.request("GET", "/crm/v8/Leads/1", dialect=Dialect.CRM)
    error = caught.value
    assert (error.http_status, error.zoho_code) == (400, "INVALID_MODULE")
    assert error.details == {"resource_path_index": 0}


def test_list_deleted_includes_merged_away_records_and_filters_by_time(
    sim: ZohoSimulator, zoho: ZohoClients
) -> None:
    master = _account(sim, "Acme Ltd")
    merged = _account(sim, "Acme Limited")
    deleted = _account(sim, "Old Ltd")
    sim.state.crm_delete("Accounts", deleted, source=Source.UI)
    sim.state.crm_merge("Accounts", master, [merged], source=Source.UI)

    entries = zoho.crm.list_deleted(Module.CRM_ACCOUNTS)

    assert [e.record_id for e in entries] == [merged, deleted]  # newest first
    assert entries[0].display_name == "Acme Limited"
    assert entries[0].kind == "recycle"
    assert zoho.crm.list_deleted("Accounts", since=datetime.now(UTC) + timedelta(hours=1)) == []


def test_webhook_failures_are_listed(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    assert zoho.crm.webhook_failures() == []
    account_id = _account(sim, "Acme Ltd")
    sim.state.add_webhook_failure(module="Accounts", record_id=account_id)

    failures = zoho.crm.webhook_failures()

    assert len(failures) == 1
    assert (failures[0].module, failures[0].record_id) == ("Accounts", account_id)
    assert failures[0].failed_at is not None


def test_notification_channels_enable_renew_target_and_disable(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(days=6)

    returned = zoho.crm.enable_notifications(
        "1000000068001",
        ["Accounts.all", "Contacts.edit"],
        "https://guard.example/crm/notify",
        "t0k3n",
        expiry=expiry,
    )

    assert returned == expiry
    assert [c["channel_id"] for c in zoho.crm.notification_channels()] == ["1000000068001"]
    assert len(sim.state.crm_watch_targets("Accounts", ChangeKind.CREATE)) == 1
    assert len(sim.state.crm_watch_targets("Contacts", ChangeKind.UPDATE)) == 1
    assert sim.state.crm_watch_targets("Contacts", ChangeKind.CREATE) == []
    # Renewing the same channel replaces it rather than adding one.
    zoho.crm.enable_notifications(
        "1000000068001", ["Accounts.all"], "https://guard.example/crm/notify", "t0k3n"
    )
    assert len(zoho.crm.notification_channels()) == 1

    zoho.crm.disable_notifications(["1000000068001"])
    assert zoho.crm.notification_channels() == []


def test_notification_channel_expiry_beyond_a_week_is_refused(zoho: ZohoClients) -> None:
    with pytest.raises(CrmApiError) as caught:
        zoho.crm.enable_notifications(
            "1000000068002",
            ["Accounts.all"],
            "https://guard.example/crm/notify",
            "t",
            expiry=datetime.now(UTC) + timedelta(days=8),
        )
    assert caught.value.details["api_name"] == "channel_expiry"


def test_listing_an_organisation_of_more_than_2000_accounts_uses_page_tokens(sim: ZohoSimulator) -> None:
    ids = [_account(sim, f"Co {n}") for n in range(2201)]
    # pages of 200 records take longer than the fixture's short timeout on a busy machine
    settings = sim.settings(zoho_timeout_seconds=10)
    with build_zoho_clients(settings, InMemoryTokenCache(), retry=FAST_RETRY, sleep=SleepRecorder()) as zoho:
        capped = type(zoho.crm)(zoho.http, max_pages=3)  # the cap is for searches, not whole listings

        listed = capped.list_records_data("Accounts", fields=["Account_Name"])

    assert [r["id"] for r in listed] == ids
    assert sim.requests.count("crm.list_records") == 12  # ten pages by number, two by token
    assert sim.requests.count("crm.list_records", status=400) == 0


def test_a_search_with_more_pages_than_the_cap_raises(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    for n in range(5):
        _account(sim, f"Paged {n} Ltd")
    capped = type(zoho.crm)(zoho.http, per_page=2, max_pages=2)

    with pytest.raises(ZohoListingIncomplete) as caught:
        capped.search("Accounts", word="Paged")

    assert (caught.value.pages, caught.value.records) == (2, 4)
    assert len(capped.search("Accounts", word="Paged 4")) == 1  # within the cap: no error


def test_webhook_failures_and_deletes_are_listed_past_the_page_cap(
    sim: ZohoSimulator, zoho: ZohoClients
) -> None:
    # After an outage there may be more than a capped listing holds: each one is an event to replay.
    ids = [_account(sim, f"Gone {n} Ltd") for n in range(5)]
    for record_id in ids:
        sim.state.add_webhook_failure(module="Accounts", record_id=record_id)
        sim.state.crm_delete("Accounts", record_id, source=Source.UI)
    capped = type(zoho.crm)(zoho.http, per_page=2, max_pages=2)

    assert len(capped.webhook_failures()) == 5
    assert len(capped.list_deleted(Module.CRM_ACCOUNTS)) == 5


def test_a_failure_time_without_an_offset_is_read_as_utc(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    sim.state.add_webhook_failure(module="Accounts", record_id=_account(sim, "Acme Ltd"))
    sim.state.crm_webhook_failures[-1]["failure_time"] = "2026-03-10 11:00:00"

    [failure] = zoho.crm.webhook_failures()

    assert failure.failed_at == datetime(2026, 3, 10, 11, 0, tzinfo=UTC)


def test_recently_modified_records_come_newest_first_and_stop_at_since(
    sim: ZohoSimulator, zoho: ZohoClients, record_clock: RecordClock
) -> None:
    record_clock.at = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    _account(sim, "Old Ltd")
    first = _account(sim, "First Ltd")
    second = _account(sim, "Second Ltd")
    record_clock.at = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    sim.state.crm_update("Accounts", second, {"Phone": "020 7946 0002"}, source=Source.UI)
    record_clock.at = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
    sim.state.crm_update("Accounts", first, {"Phone": "020 7946 0001"}, source=Source.UI)

    since = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    found = list(zoho.crm.iter_recently_modified("Accounts", since=since, fields=["Account_Name", "Phone"]))

    assert [r["id"] for r in found] == [first, second]  # newest first; the older one left out
    assert found[0]["Phone"] == "020 7946 0001"
    assert "Modified_Time" in found[0]
    # nothing modified since: Zoho answers 304, the client an empty list
    later = datetime(2026, 3, 11, tzinfo=UTC)
    assert list(zoho.crm.iter_recently_modified("Accounts", since=later, fields=["Account_Name"])) == []
    assert sim.requests.count("crm.list_records", status=304) == 1


def test_the_records_list_refuses_a_sort_field_zoho_does_not_sort_by(zoho: ZohoClients) -> None:
    with pytest.raises(CrmApiError) as caught:
        zoho.http.request(
            "GET",
            "/crm/v8/Accounts",
            dialect=Dialect.CRM,
            params={"fields": "Account_Name", "sort_by": "Phone"},
        )
    assert caught.value.details == {"param_name": "sort_by"}


def test_the_crm_credits_left_are_read_from_each_answer(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    # given: CRM counting API credits (X-API-CREDITS-REMAINING on every answer)
    account = _account(sim, "Acme Ltd")
    sim.limits.configure(crm_credits=500)

    zoho.crm.get_record("Accounts", account)
    zoho.crm.add_tags("Accounts", account, ["held"])

    # then: what the last answer said, once (a function publishes it per invocation, never a stale one)
    assert zoho.take_crm_credits_remaining() == 498
    assert zoho.take_crm_credits_remaining() is None
    # and a Books call says nothing of CRM's credits
    zoho.books.find_contacts(contact_name="Acme Ltd")
    assert zoho.take_crm_credits_remaining() is None
