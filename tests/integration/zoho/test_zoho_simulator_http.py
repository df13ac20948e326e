"""The simulator's own HTTP surface: auth checks, envelopes, and the /_sim control routes."""

from __future__ import annotations

import httpx

from sync_guard.local.zoho_simulator import FaultKind, Source, ZohoSimulator


def _token(sim: ZohoSimulator) -> dict[str, str]:
    return {"Authorization": f"Zoho-oauthtoken {sim.authority.issue_directly()}"}


def test_api_calls_need_a_valid_oauth_header(sim: ZohoSimulator) -> None:
    missing = httpx.get(f"{sim.url}/crm/v8/Accounts/1")
    wrong_scheme = httpx.get(f"{sim.url}/crm/v8/Accounts/1", headers={"Authorization": "Bearer x"})
    unknown = httpx.get(
        f"{sim.url}/crm/v8/Accounts/1", headers={"Authorization": "Zoho-oauthtoken 1000.nope"}
    )
    books = httpx.get(f"{sim.url}/books/v3/contacts", params={"organization_id": sim.books_organization_id})

    assert (missing.status_code, missing.json()["code"]) == (401, "AUTHENTICATION_FAILURE")
    assert wrong_scheme.status_code == 401
    assert (unknown.status_code, unknown.json()["code"]) == (401, "INVALID_TOKEN")
    assert (books.status_code, books.json()["code"]) == (401, 57)


def test_crm_create_reports_each_record(sim: ZohoSimulator) -> None:
    answer = httpx.post(
        f"{sim.url}/crm/v8/Accounts",
        json={"data": [{"Account_Name": "Acme Ltd"}, {"Phone": "1"}]},
        headers=_token(sim),
    )
    assert answer.status_code == 207
    ok, failed = answer.json()["data"]
    assert (ok["code"], ok["status"]) == ("SUCCESS", "success")
    assert (failed["code"], failed["details"]["json_path"]) == (
        "MANDATORY_NOT_FOUND",
        "$.data[1].Account_Name",
    )


def test_unknown_paths_use_each_api_envelope(sim: ZohoSimulator) -> None:
    crm = httpx.get(f"{sim.url}/crm/v8/Accounts/1/nothing", headers=_token(sim))
    books = httpx.get(f"{sim.url}/books/v3/nothing", headers=_token(sim))
    assert (crm.status_code, crm.json()["code"]) == (404, "INVALID_URL_PATTERN")
    assert (books.status_code, books.json()["code"]) == (404, 5)


def test_control_routes_seed_configure_and_count(sim: ZohoSimulator) -> None:
    seeded = httpx.post(f"{sim.url}/_sim/crm/Accounts", json={"Account_Name": "Acme Ltd"}).json()
    httpx.post(f"{sim.url}/_sim/books/contacts", json={"contact_name": "Acme Ltd"})
    configured = httpx.post(f"{sim.url}/_sim/faults", json={"rate": 1.0, "weights": {"server_error": 1}})
    failed = httpx.get(f"{sim.url}/crm/v8/Accounts/{seeded['id']}", headers=_token(sim))
    httpx.post(f"{sim.url}/_sim/faults", json={"rate": 0})
    served = httpx.get(f"{sim.url}/crm/v8/Accounts/{seeded['id']}", headers=_token(sim))
    counts = httpx.get(f"{sim.url}/_sim/requests").json()
    state = httpx.get(f"{sim.url}/_sim/state").json()
    bad = httpx.post(f"{sim.url}/_sim/faults", json={"rat": 1})

    assert configured.json()["rate"] == 1.0
    assert failed.status_code == 500
    assert served.json()["data"][0]["Account_Name"] == "Acme Ltd"
    assert {"route": "crm.get_record", "status": 500, "count": 1} in counts["requests"]
    assert counts["faults"] == {FaultKind.SERVER_ERROR.value: 1}
    assert list(state["crm"]["Accounts"]) == [seeded["id"]]
    assert len(state["books_contacts"]) == 1
    assert bad.status_code == 400
    # Seeding is not an API change: it fires no workflows.
    assert all(not c.fires_workflows for c in sim.state.changes)


def test_records_of_a_custom_view_over_http(sim: ZohoSimulator) -> None:
    view = sim.state.crm_define_view("Accounts", "Synced", "(Tag:not_equal:held)")
    kept = sim.state.crm_create("Accounts", {"Account_Name": "Kept Ltd"})["id"]
    held = sim.state.crm_create("Accounts", {"Account_Name": "Held Ltd"})["id"]
    sim.state.crm_set_tags("Accounts", held, add=["held"])

    listed = httpx.get(
        f"{sim.url}/crm/v8/Accounts", params={"fields": "Account_Name", "cvid": view}, headers=_token(sim)
    )
    no_fields = httpx.get(f"{sim.url}/crm/v8/Accounts", headers=_token(sim))

    assert listed.json()["data"] == [{"id": kept, "Account_Name": "Kept Ltd"}]
    assert (no_fields.status_code, no_fields.json()["code"]) == (400, "REQUIRED_PARAM_MISSING")


def _seed_accounts(sim: ZohoSimulator, count: int) -> None:
    for n in range(count):
        sim.state.crm_create("Accounts", {"Account_Name": f"Co {n}"}, source=Source.ADMIN)


def test_records_beyond_2000_need_the_page_token(sim: ZohoSimulator) -> None:
    # given: 2,001 accounts, listed 200 a page
    _seed_accounts(sim, 2001)
    query = {"fields": "Account_Name", "per_page": "200"}

    def listing(**params: str) -> httpx.Response:
        return httpx.get(f"{sim.url}/crm/v8/Accounts", params={**query, **params}, headers=_token(sim))

    # when / then: page 10 is the last one page numbers reach, and it hands out a token for the rest
    tenth = listing(page="10").json()
    refused = listing(page="11")
    rest = listing(page_token=tenth["info"]["next_page_token"]).json()
    both = listing(page="1", page_token=tenth["info"]["next_page_token"])
    other_fields = httpx.get(
        f"{sim.url}/crm/v8/Accounts",
        params={"fields": "Phone", "page_token": tenth["info"]["next_page_token"]},
        headers=_token(sim),
    )

    assert tenth["info"]["more_records"] is True
    assert refused.status_code == 400
    assert refused.json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    assert refused.json()["details"] == {"limit": 2000}
    assert [r["Account_Name"] for r in rest["data"]] == ["Co 2000"]
    assert (rest["info"]["more_records"], rest["info"]["next_page_token"]) == (False, None)
    assert (both.status_code, both.json()["code"]) == (400, "AMBIGUITY_DURING_PROCESSING")
    assert (other_fields.status_code, other_fields.json()["code"]) == (400, "TOKEN_BOUND_DATA_MISMATCH")
