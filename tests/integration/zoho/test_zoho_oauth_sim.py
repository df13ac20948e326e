"""Token refresh, caching and the 10-tokens-per-10-minutes limit, against the simulator's accounts server."""

from __future__ import annotations

import contextlib
import json
from contextlib import closing

import httpx
import pytest

from sync_guard.local.zoho_simulator import FaultKind, Source, ZohoSimulator
from sync_guard.zoho.auth import InMemoryTokenCache, MintBudget, ZohoCredentials, ZohoOAuth
from sync_guard.zoho.errors import ZohoAuthError, ZohoServerError, ZohoTokenRateLimited
from sync_guard.zoho.factory import ZohoClients, build_zoho_clients
from sync_guard.zoho.http import Dialect, ZohoHttp
from tests.integration.zoho.zoho_support import FAST_RETRY, FakeMonotonic, SleepRecorder


def _oauth(
    closed_after: contextlib.ExitStack,
    sim: ZohoSimulator,
    cache: InMemoryTokenCache,
    clock: FakeMonotonic,
    **kwargs: object,
) -> ZohoOAuth:
    """A container's token source on the simulator; its connections are closed after the test."""
    credentials = ZohoCredentials.from_settings(sim.settings())
    oauth = ZohoOAuth(
        accounts_url=sim.url,
        credentials=credentials,
        cache=cache,
        clock=clock,
        retry=FAST_RETRY,
        sleep=SleepRecorder(),
        **kwargs,
    )
    return closed_after.enter_context(closing(oauth))


def test_api_domain_comes_from_the_token_response(sim: ZohoSimulator, token_clock: FakeMonotonic) -> None:
    # No API URL override: the client must call wherever the token response says.
    settings = sim.settings(zoho_api_url="")
    with build_zoho_clients(settings, InMemoryTokenCache(), retry=FAST_RETRY, sleep=SleepRecorder()) as zoho:
        account = sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)
        assert zoho.crm.get_record("Accounts", account["id"]) is not None
        assert zoho.auth.token().api_domain == sim.url


def test_one_token_serves_many_calls(
    sim: ZohoSimulator, token_clock: FakeMonotonic, closed_after: contextlib.ExitStack
) -> None:
    cache = InMemoryTokenCache()
    auth = _oauth(closed_after, sim, cache, token_clock)
    with ZohoHttp(auth, timeout=1.0, retry=FAST_RETRY, sleep=SleepRecorder()) as http:
        for _ in range(25):
            http.request("GET", "/crm/v8/Accounts", dialect=Dialect.CRM, params={"fields": "Account_Name"})
    assert sim.authority.total_minted() == 1
    assert sim.requests.count("oauth.token") == 1


def test_containers_sharing_a_cache_mint_once(
    sim: ZohoSimulator, token_clock: FakeMonotonic, closed_after: contextlib.ExitStack
) -> None:
    shared = InMemoryTokenCache()
    containers = [_oauth(closed_after, sim, shared, token_clock) for _ in range(5)]

    tokens = {c.token().access_token for c in containers}

    assert len(tokens) == 1
    assert sim.authority.total_minted() == 1


def test_token_is_refreshed_before_it_expires(
    sim: ZohoSimulator, token_clock: FakeMonotonic, closed_after: contextlib.ExitStack
) -> None:
    auth = _oauth(closed_after, sim, InMemoryTokenCache(), token_clock)
    first = auth.token()

    token_clock.advance(3600 - 400)  # still valid for 400 s: more than the 300 s margin
    assert auth.token() == first
    token_clock.advance(200)  # 200 s left: inside the margin, refresh now
    second = auth.token()

    assert second.access_token != first.access_token
    assert second.version == first.version + 1
    assert sim.authority.is_valid(second.access_token)


def test_simulator_refuses_the_eleventh_token_in_ten_minutes(sim: ZohoSimulator) -> None:
    form = {
        "grant_type": "refresh_token",
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "refresh_token": sim.refresh_token,
    }
    answers = [httpx.post(f"{sim.url}/oauth/v2/token", data=form) for _ in range(11)]

    assert all("access_token" in a.json() for a in answers[:10])
    assert answers[10].status_code == 400
    assert answers[10].json()["error"] == "Access Denied"


def test_window_moves_on_after_ten_minutes(
    sim: ZohoSimulator, token_clock: FakeMonotonic, closed_after: contextlib.ExitStack
) -> None:
    # Without the local budget, the client reaches Zoho's limit and gets the typed refusal...
    auth = _oauth(
        closed_after, sim, InMemoryTokenCache(), token_clock, budget=MintBudget(limit=100, clock=token_clock)
    )
    for _ in range(10):
        auth.invalidate(auth.token())
    with pytest.raises(ZohoTokenRateLimited):
        auth.token()
    assert sim.authority.refused[sim.refresh_token] == 1
    # ...which is not retried on the spot (that would only prolong the lock-out)...
    assert sim.requests.count("oauth.token") == 11
    # ...and once the window has moved on, minting works again.
    token_clock.advance(601)
    assert sim.authority.is_valid(auth.token().access_token)


def test_local_budget_stops_before_zoho_locks_out(
    sim: ZohoSimulator, token_clock: FakeMonotonic, closed_after: contextlib.ExitStack
) -> None:
    auth = _oauth(closed_after, sim, InMemoryTokenCache(), token_clock, budget=MintBudget(clock=token_clock))
    for _ in range(10):
        auth.invalidate(auth.token())  # every token revoked at once: a pathological 401 loop

    with pytest.raises(ZohoTokenRateLimited) as caught:
        auth.token()

    assert sim.authority.refused.get(sim.refresh_token, 0) == 0  # Zoho never had to refuse
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 600


def test_revoked_token_is_replaced_once_on_401(
    sim: ZohoSimulator, token_clock: FakeMonotonic, closed_after: contextlib.ExitStack
) -> None:
    cache = InMemoryTokenCache()
    auth = _oauth(closed_after, sim, cache, token_clock)
    with ZohoHttp(auth, timeout=1.0, retry=FAST_RETRY, sleep=SleepRecorder()) as http:
        http.request("GET", "/crm/v8/Accounts", dialect=Dialect.CRM, params={"fields": "id"})
        sim.authority.revoke_all()
        http.request("GET", "/crm/v8/Accounts", dialect=Dialect.CRM, params={"fields": "id"})
    assert sim.authority.total_minted() == 2
    assert sim.requests.count("crm.list_records", status=401) == 1


def test_a_container_whose_kept_token_was_revoked_adopts_the_one_another_container_minted(
    sim: ZohoSimulator, token_clock: FakeMonotonic, closed_after: contextlib.ExitStack
) -> None:
    # Two containers share the cache; each keeps the token it last used without reading the cache again.
    cache = InMemoryTokenCache()
    first, second = (_oauth(closed_after, sim, cache, token_clock) for _ in range(2))
    kept = second.token()
    assert first.token() == kept
    with ZohoHttp(first, timeout=1.0, retry=FAST_RETRY, sleep=SleepRecorder()) as http:
        http.request("GET", "/crm/v8/Accounts", dialect=Dialect.CRM, params={"fields": "id"})
        sim.authority.revoke(kept.access_token)  # Zoho drops it (revoked, or evicted by newer tokens)
        http.request("GET", "/crm/v8/Accounts", dialect=Dialect.CRM, params={"fields": "id"})  # 401, mints
    with ZohoHttp(second, timeout=1.0, retry=FAST_RETRY, sleep=SleepRecorder()) as http:
        # a young token refused on a first call could be a scope problem; the newer shared token says not
        http.request("GET", "/crm/v8/Accounts", dialect=Dialect.CRM, params={"fields": "id"})
    assert sim.authority.total_minted() == 2
    assert sim.requests.count("crm.list_records", status=401) == 2
    assert second.token() == first.token() != kept


def test_bad_refresh_token_is_a_final_auth_error(
    sim: ZohoSimulator, token_clock: FakeMonotonic, closed_after: contextlib.ExitStack
) -> None:
    secret = {"client_id": sim.client_id, "client_secret": sim.client_secret, "refresh_token": "1000.revoked"}
    credentials = ZohoCredentials.from_secret_json(json.dumps(secret))
    auth = ZohoOAuth(
        accounts_url=sim.url,
        credentials=credentials,
        cache=InMemoryTokenCache(),
        clock=token_clock,
        retry=FAST_RETRY,
        sleep=SleepRecorder(),
    )
    closed_after.enter_context(closing(auth))

    with pytest.raises(ZohoAuthError) as caught:
        auth.token()

    assert caught.value.retryable is False
    assert sim.requests.count("oauth.token") == 1
    # the answer names the accounts server asked: a self-client of another data centre is refused the same way
    assert "invalid_code from 127.0.0.1" in str(caught.value)
    assert "ZohoDataCentre" in str(caught.value)
    assert "1000.revoked" not in str(caught.value)
    assert "1000.revoked" not in str(caught.value)


def test_a_failing_accounts_server_is_asked_as_often_as_the_retry_policy_allows_not_its_square(
    sim: ZohoSimulator, zoho: ZohoClients
) -> None:
    # given: Zoho's accounts server answers 500 to every refresh request
    sim.faults.configure(include_token_endpoint=True, route_pattern=r"^oauth\.")
    sim.faults.script([FaultKind.SERVER_ERROR] * 20)
    account = sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)

    # when: a CRM call needs a token
    with pytest.raises(ZohoServerError):
        zoho.crm.get_record("Accounts", account["id"])

    # then: the refresh was tried as hard as one call may be (4 attempts), not once more per attempt of the
    # call around it, which spent the refresh token's 10 requests of 10 minutes on one failing call
    assert sim.requests.count("oauth.token") == FAST_RETRY.max_attempts
    assert sim.requests.count("crm.get_record") == 0
