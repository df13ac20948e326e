"""The DynamoDB token cache: one Zoho access token shared by every container (moto + the simulator)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import boto3
import httpx
import pytest
from pydantic import SecretStr

from sync_guard.config import get_settings
from sync_guard.executor.wiring import LazyZohoClients
from sync_guard.local.zoho_simulator import Source, ZohoSimulator
from sync_guard.store.aws import client
from sync_guard.zoho.auth import CachedToken, MintBudget, ZohoCredentials, ZohoOAuth
from sync_guard.zoho.errors import (
    ZohoAuthError,
    ZohoCredentialsRefused,
    ZohoPermissionDenied,
    ZohoTokenRateLimited,
)
from sync_guard.zoho.factory import ZohoClients, build_zoho_clients
from sync_guard.zoho.http import RetryPolicy
from sync_guard.zoho.token_cache import DynamoTokenCache
from tests.support.aws import AwsResources
from tests.support.outbox import HOLD_TAG, point_at_simulator


@pytest.fixture
def sim() -> Iterator[ZohoSimulator]:
    with ZohoSimulator(seed=1) as simulator:
        yield simulator


def _cache(client_id: str = "1000.CLIENT") -> DynamoTokenCache:
    settings = get_settings()
    return DynamoTokenCache(client("dynamodb", settings), settings.shadow_table, client_id)


def test_put_is_conditional_on_the_version_read(aws: AwsResources) -> None:
    cache = _cache()
    assert cache.get() is None
    first = CachedToken("tok-1", "https://www.zohoapis.eu", 2_000_000_000.0, version=1)

    assert cache.put(first, expected_version=None) is True
    assert cache.put(CachedToken("tok-x", "d", 1.0, version=1), expected_version=None) is False
    second = CachedToken("tok-2", "d", 2_000_000_100.0, version=2, issued_at=1_999_996_500.0)
    assert cache.put(second, expected_version=1) is True
    assert cache.put(CachedToken("tok-y", "d", 1.0, version=2), expected_version=1) is False  # lost the race

    stored = cache.get()
    assert stored is not None
    assert stored == second  # issued_at included: it tells a young token from one that may have died
    item = aws.dynamodb.get_item(
        TableName=get_settings().shadow_table, Key={"pk": {"S": "TOKEN#1000.CLIENT"}, "sk": {"S": "T"}}
    )["Item"]
    assert int(item["expires_at"]["N"]) == 2_000_000_100 + 86_400  # the table's TTL attribute
    assert "tok-2" not in repr(cache)
    assert _cache("another-client").get() is None  # one item per OAuth client


def test_containers_share_one_minted_token(
    aws: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    credentials = ZohoCredentials.from_settings(sim.settings())

    def container() -> ZohoOAuth:
        oauth = ZohoOAuth(accounts_url=sim.url, credentials=credentials, cache=_cache(credentials.client_id))
        return closed_after.enter_context(closing(oauth))

    first, second, third = container(), container(), container()
    tokens = {c.token().access_token for c in (first, second, third)}

    assert len(tokens) == 1
    assert sim.requests.count("oauth.token") == 1
    assert first.minted + second.minted + third.minted == 1

    # a token Zoho refused is invalidated for everyone: exactly one new one is minted, and the containers
    # that kept the old one adopt it when Zoho refuses theirs (until then they do not read the table)
    refused = first.token()
    first.invalidate(refused)
    renewed = first.token().access_token
    assert renewed not in tokens
    assert second.token() == refused
    replacement = second.replaced(refused)
    assert replacement is not None
    assert replacement.access_token == renewed
    assert second.token().access_token == renewed
    assert third.replaced(refused) == replacement
    assert sim.requests.count("oauth.token") == 2


def test_concurrent_containers_wait_for_one_mint(
    aws_server: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    # Against the real DynamoDB-API server: the lease is a conditional update, and moto in-process checks
    # a condition and applies the update without a lock, so two threads can both take the lease there.
    credentials = ZohoCredentials.from_settings(sim.settings())
    settings = get_settings()
    start = threading.Barrier(4)
    tokens: list[str] = []

    def container() -> None:
        cache = DynamoTokenCache(
            client("dynamodb", settings), settings.shadow_table, credentials.client_id, poll_seconds=0.02
        )
        oauth = closed_after.enter_context(
            closing(ZohoOAuth(accounts_url=sim.url, credentials=credentials, cache=cache))
        )
        start.wait()
        tokens.append(oauth.token().access_token)

    threads = [threading.Thread(target=container) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(tokens) == 4
    assert len(set(tokens)) == 1
    assert sim.requests.count("oauth.token") == 1


def test_the_fleet_never_mints_more_than_ten_tokens_in_ten_minutes(aws: AwsResources) -> None:
    now = [1_900_000_000.0]
    settings = get_settings()
    table = settings.shadow_table
    cache = DynamoTokenCache(
        client("dynamodb", settings), table, "1000.BUDGET", clock=lambda: now[0], sleep=lambda _: None
    )
    # ten refresh requests sent within two minutes, each storing a token, then the last one revoked (storing
    # is not what counts: the request is)
    for version in range(1, 11):
        cache.count_mint_request()
        token = CachedToken(f"t{version}", "d", now[0] + 3600, version)
        assert cache.put(token, expected_version=(version - 1) or None)
        now[0] += 10
    assert cache.put(CachedToken("t10", "d", 0.0, 11), expected_version=10)
    item = aws.dynamodb.get_item(TableName=table, Key={"pk": {"S": "TOKEN#1000.BUDGET"}, "sk": {"S": "T"}})
    assert len(item["Item"]["mints"]["L"]) == 10

    with pytest.raises(ZohoTokenRateLimited) as caught:
        cache.count_mint_request()
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 600
    # the stale token comes back at once, without the mint lease: the mint it would lead to is refused
    stale = cache.get()
    assert stale is not None
    assert stale.expires_at == 0.0
    item = aws.dynamodb.get_item(TableName=table, Key={"pk": {"S": "TOKEN#1000.BUDGET"}, "sk": {"S": "T"}})
    assert "lease_owner" not in item["Item"]
    now[0] += 600  # the window has moved on: this container may mint (it takes the lease)
    assert cache.get() == stale
    cache.count_mint_request()


def test_two_containers_counting_on_the_same_nine_requests_do_not_send_an_eleventh(
    aws_server: AwsResources,
) -> None:
    # given: nine refresh requests in the window, and two containers past a slow peer's lease that both
    # read them before either counts its own
    now = [1_900_000_000.0]
    settings = get_settings()
    caches = [
        DynamoTokenCache(
            client("dynamodb", settings),
            settings.shadow_table,
            "1000.RACE",
            clock=lambda: now[0],
            sleep=lambda _: None,
        )
        for _ in range(2)
    ]
    for _ in range(9):
        caches[0].count_mint_request()
        now[0] += 1
    first, second = caches
    stale = second._item()
    reads = iter([stale])
    real_item = second._item
    second._item = lambda: next(reads, None) or real_item()  # type: ignore[method-assign]

    # when: the first counts its request, then the second counts on the list it read before that
    first.count_mint_request()

    # then: the second reads again and is refused: ten requests, not eleven
    with pytest.raises(ZohoTokenRateLimited):
        second.count_mint_request()
    item = aws_server.dynamodb.get_item(
        TableName=settings.shadow_table, Key={"pk": {"S": "TOKEN#1000.RACE"}, "sk": {"S": "T"}}
    )["Item"]
    assert len(item["mints"]["L"]) == 10


def test_every_refresh_request_counts_in_the_fleet_budget(aws: AwsResources) -> None:
    # given: an accounts server that fails twice (it may have minted each time) before answering
    posts: list[httpx.Request] = []

    def accounts(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        if len(posts) < 3:
            return httpx.Response(500, text="busy")
        return httpx.Response(200, json={"access_token": "t", "api_domain": "https://d", "expires_in": 3600})

    settings = get_settings()
    oauth = ZohoOAuth(
        accounts_url="https://accounts.zoho.eu",
        credentials=ZohoCredentials("1000.RETRIES", SecretStr("s"), SecretStr("r")),
        cache=_cache("1000.RETRIES"),
        client=httpx.Client(transport=httpx.MockTransport(accounts)),
        retry=RetryPolicy(base_delay=0.001, max_delay=0.002),
        sleep=lambda _: None,
    )

    # when
    oauth.token()

    # then: the fleet counted three requests, not one token
    item = aws.dynamodb.get_item(
        TableName=settings.shadow_table, Key={"pk": {"S": "TOKEN#1000.RETRIES"}, "sk": {"S": "T"}}
    )["Item"]
    assert len(posts) == 3
    assert len(item["mints"]["L"]) == 3


def test_a_container_waits_for_a_peer_s_mint_then_mints_itself_when_the_peer_never_stores_one(
    aws: AwsResources,
) -> None:
    now = [1_900_000_000.0]
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    settings = get_settings()

    def container() -> DynamoTokenCache:
        return DynamoTokenCache(
            client("dynamodb", settings),
            settings.shadow_table,
            "1000.LEASE",
            clock=lambda: now[0],
            sleep=sleep,
            lease_seconds=15.0,
            wait_seconds=5.0,
            poll_seconds=1.0,
        )

    # given a peer that took the mint lease and then froze (its container was killed mid-mint)
    assert container().get() is None
    assert waited == []

    # when another container needs a token
    token = container().get()

    # then it polls for the peer's token until its wait is over, and then mints itself: not stuck until the
    # lease ends, nor minting at once beside the peer
    assert token is None
    assert sum(waited) == 5.0


def _fleet_out_of_mints(sim: ZohoSimulator, stored: CachedToken) -> tuple[ZohoCredentials, DynamoTokenCache]:
    """A cache holding ``stored`` after the fleet sent its ten refresh requests of the window."""
    credentials = ZohoCredentials.from_settings(sim.settings())
    settings = get_settings()
    cache = DynamoTokenCache(client("dynamodb", settings), settings.shadow_table, credentials.client_id)
    for _ in range(10):
        cache.count_mint_request()
    assert cache.put(stored, expected_version=None)
    return credentials, cache


def test_a_token_inside_its_refresh_margin_is_used_while_the_fleet_may_not_mint(
    aws_server: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    # given: the fleet sent its ten refresh requests in the window, and the shared token, still valid for
    # two minutes, is inside its refresh margin
    alive = CachedToken(
        sim.authority.issue_directly(), sim.url, time.time() + 120, version=1, issued_at=time.time() - 3480
    )
    credentials, cache = _fleet_out_of_mints(sim, alive)
    budget = MintBudget()
    oauth = closed_after.enter_context(
        closing(ZohoOAuth(accounts_url=sim.url, credentials=credentials, cache=cache, budget=budget))
    )

    # when a container needs a token
    token = oauth.token()

    # then it uses the one that still works rather than failing the call, and asks Zoho for none; the
    # request it did not send takes no place in its own budget (which would keep it from minting later)
    assert token.access_token == alive.access_token
    assert sim.requests.count("oauth.token") == 0
    assert budget.used == 0


def test_a_dead_token_is_not_replaced_while_the_fleet_may_not_mint(
    aws_server: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    credentials, cache = _fleet_out_of_mints(sim, CachedToken("expired", sim.url, time.time() - 1, version=1))
    oauth = closed_after.enter_context(
        closing(ZohoOAuth(accounts_url=sim.url, credentials=credentials, cache=cache))
    )

    with pytest.raises(ZohoTokenRateLimited) as caught:
        oauth.token()

    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 600
    assert sim.requests.count("oauth.token") == 0


def test_a_container_whose_mint_failed_lets_its_peers_mint_without_waiting_out_its_lease(
    aws_server: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    # given: a container whose refresh Zoho refused (a revoked refresh token), after it took the mint lease
    settings = get_settings()
    refused = ZohoCredentials(sim.client_id, SecretStr(sim.client_secret), SecretStr("1000.revoked"))
    failing = closed_after.enter_context(
        closing(
            ZohoOAuth(
                accounts_url=sim.url,
                credentials=refused,
                cache=DynamoTokenCache(client("dynamodb", settings), settings.shadow_table, sim.client_id),
            )
        )
    )
    with pytest.raises(ZohoAuthError):
        failing.token()

    # when: another container needs a token
    waited: list[float] = []
    peer = DynamoTokenCache(
        client("dynamodb", settings), settings.shadow_table, sim.client_id, sleep=waited.append
    )
    token = peer.get()

    # then: it may mint at once, rather than poll for a token that is not coming
    assert token is None
    assert waited == []


def test_refused_refreshes_do_not_spend_the_fleets_budget_so_fixed_credentials_mint_at_once(
    aws_server: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    # given: a wrong client secret in the Zoho secret; the fleet asks for a token a dozen times, and Zoho
    # refuses every request (invalid_client: Zoho minted nothing, so nothing counts against its limit)
    settings = get_settings()
    table = settings.shadow_table

    def container(secret: str, budget: MintBudget | None = None) -> ZohoOAuth:
        credentials = ZohoCredentials(sim.client_id, SecretStr(secret), SecretStr(sim.refresh_token))
        cache = DynamoTokenCache(client("dynamodb", settings), table, sim.client_id, sleep=lambda _: None)
        # every refusal asks Zoho (the fleet's memory of a refusal off), to count the requests it refused
        oauth = ZohoOAuth(
            accounts_url=sim.url,
            credentials=credentials,
            cache=cache,
            budget=budget,
            refusal_memory_seconds=0,
        )
        return closed_after.enter_context(closing(oauth))

    own_budget = MintBudget()
    wrong = container("not-the-secret", own_budget)
    for _ in range(12):
        with pytest.raises(ZohoAuthError):
            wrong.token()
    assert sim.requests.count("oauth.token") == 12
    assert own_budget.used == 0  # nor in the container's own count
    item = aws_server.dynamodb.get_item(
        TableName=table, Key={"pk": {"S": f"TOKEN#{sim.client_id}"}, "sk": {"S": "T"}}
    ).get("Item", {})
    assert item.get("mints", {}).get("L", []) == []

    # when: an admin puts the right secret in place, and a container (and the one that was refused) mint
    fixed = container(sim.client_secret)
    token = fixed.token()

    # then: the token is minted at once, not refused for ten minutes as if the refusals had minted tokens
    assert sim.authority.is_valid(token.access_token)
    assert sim.authority.total_minted() == 1


def _fleet_container(sim: ZohoSimulator, closed_after: contextlib.ExitStack) -> ZohoClients:
    """One Lambda container's Zoho clients on the simulator, sharing the token through the shadow table."""
    settings = get_settings()
    cache = DynamoTokenCache(client("dynamodb", settings), settings.shadow_table, sim.client_id)
    policy = RetryPolicy(base_delay=0.001, max_delay=0.002)
    return closed_after.enter_context(
        build_zoho_clients(sim.settings(), cache, retry=policy, sleep=lambda _: None)
    )


def _customer_and_account(sim: ZohoSimulator) -> tuple[str, str]:
    contact = sim.state.books_create_contact({"contact_name": "Acme Ltd"}, source=Source.ADMIN)
    account = sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)
    return str(contact["contact_id"]), str(account["id"])


def test_a_token_revoked_after_books_accepted_it_is_replaced_once_for_a_crm_write_and_for_the_fleet(
    aws_server: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    # given: two containers sharing one token, which Books and CRM reads accepted, then Zoho revoked it
    contact_id, account_id = _customer_and_account(sim)
    first, second = _fleet_container(sim, closed_after), _fleet_container(sim, closed_after)
    assert first.books.get_contact(contact_id) is not None
    assert second.crm.get_record("Accounts", account_id) is not None
    revoked = first.auth.token().access_token
    sim.authority.revoke(revoked)

    # when: the first container tags the CRM account (a kind of call that never used the token)
    first.crm.add_tags("Accounts", account_id, [HOLD_TAG])

    # then: the 401 was read as the dead token it is: one new token, and the write went through
    assert HOLD_TAG in {t["name"] for t in sim.state.crm_get("Accounts", account_id)["Tag"]}
    assert sim.authority.total_minted() == 2
    # and the revoked token is gone from the shared cache: the other container moves to the new one
    assert second.books.get_contact(contact_id) is not None
    assert sim.authority.total_minted() == 2
    assert second.auth.token().access_token != revoked


def test_a_books_write_the_scopes_do_not_cover_is_a_permission_error_naming_the_scope_after_one_new_token(
    aws_server: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    # given: a refresh token granted Books reads but not updates; a read accepted the container's token
    contact_id, _ = _customer_and_account(sim)
    sim.withhold_scope(r"^books\.mark_inactive$")
    first, second = _fleet_container(sim, closed_after), _fleet_container(sim, closed_after)
    assert first.books.get_contact(contact_id) is not None

    # when: the container marks the customer inactive, twice, and so does another container
    refusals = []
    for zoho in (first, first, second):
        with pytest.raises(ZohoPermissionDenied) as caught:
            zoho.books.mark_inactive(contact_id)
        refusals.append(caught.value)

    # then: one new token told a dead token from a missing scope (Books says 57 for both); then no more
    assert sim.authority.total_minted() == 2
    assert sim.requests.count("books.mark_inactive", status=401) == 4
    assert all("ZohoBooks.contacts.UPDATE" in str(refusal) for refusal in refusals)
    assert all(refusal.retryable is False for refusal in refusals)
    assert not any(secret in str(refusal) for refusal in refusals for secret in sim.authority.secrets)
    assert sim.state.books_get(contact_id)["status"] == "active"


def test_a_crm_call_outside_the_scopes_is_a_permission_error_naming_the_scope_without_a_new_token(
    aws_server: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    # given: a refresh token without CRM write scopes (CRM says OAUTH_SCOPE_MISMATCH: not the token's fault)
    _, account_id = _customer_and_account(sim)
    sim.withhold_scope(r"^crm\.add_tags$")
    zoho = _fleet_container(sim, closed_after)
    assert zoho.crm.get_record("Accounts", account_id) is not None

    with pytest.raises(ZohoPermissionDenied) as caught:
        zoho.crm.add_tags("Accounts", account_id, [HOLD_TAG])

    assert "ZohoCRM.modules.accounts.UPDATE" in str(caught.value)
    assert caught.value.retryable is False
    assert sim.authority.total_minted() == 1


def test_a_container_refused_for_its_credentials_reads_the_secret_again_once_an_admin_mends_it(
    aws: AwsResources, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a warm container whose Zoho secret, read at its cold start, holds a wrong client secret
    secrets = boto3.client("secretsmanager", region_name=get_settings().aws_region)
    document = {"client_id": sim.client_id, "client_secret": "wrong", "refresh_token": sim.refresh_token}
    secrets.create_secret(Name="sync-guard/zoho", SecretString=json.dumps(document))
    point_at_simulator(sim, monkeypatch, SYNC_GUARD_ZOHO_SECRET_NAME="sync-guard/zoho")
    zoho = LazyZohoClients(get_settings())
    account = sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)["id"]
    try:
        with pytest.raises(ZohoAuthError):
            zoho().crm.get_record("Accounts", account)

        # when: an admin puts the right client secret in the secret, and the container is called again
        document["client_secret"] = sim.client_secret
        secrets.put_secret_value(SecretId="sync-guard/zoho", SecretString=json.dumps(document))
        record = zoho().crm.get_record("Accounts", account)

        # then: it read the secret again after Zoho refused the old one, instead of until its next cold start
        assert record is not None
        assert sim.authority.total_minted() == 1
    finally:
        zoho.close()


def _zoho_secret(aws_server: AwsResources, document: dict[str, str]) -> tuple[str, object]:
    """A Zoho secret on the session's Secrets Manager server, under a name of this test's own."""
    settings = get_settings()
    secrets = boto3.client(
        "secretsmanager", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
    name = f"sync-guard/zoho-{uuid.uuid4().hex[:8]}"
    secrets.create_secret(Name=name, SecretString=json.dumps(document))
    return name, secrets


def test_a_refused_secret_is_not_tried_again_by_the_fleet_for_a_while_and_a_changed_one_is_tried_at_once(
    aws_server: AwsResources, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: two warm containers whose Zoho secret holds a wrong client secret; Zoho refused the first once
    document = {"client_id": sim.client_id, "client_secret": "wrong", "refresh_token": sim.refresh_token}
    name, secrets = _zoho_secret(aws_server, document)
    point_at_simulator(sim, monkeypatch, SYNC_GUARD_ZOHO_SECRET_NAME=name)
    first, second = LazyZohoClients(get_settings()), LazyZohoClients(get_settings())
    account = sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)["id"]
    try:
        with pytest.raises(ZohoCredentialsRefused) as refused:
            first().crm.get_record("Accounts", account)
        assert sim.requests.count("oauth.token") == 1

        # when: both containers are called again and again with the same secret
        refusals = []
        for zoho in (first, second, first, second):
            with pytest.raises(ZohoCredentialsRefused) as caught:
                zoho().crm.get_record("Accounts", account)
            refusals.append(caught.value)

        # then: Zoho is not asked again with the secret it refused; each call fails at once, saying what to
        # mend, and never showing the secret
        assert sim.requests.count("oauth.token") == 1
        for refusal in [refused.value, *refusals]:
            assert "invalid_client" in str(refusal)
            assert "client id, secret and refresh token" in str(refusal)
            assert refusal.retryable is False
            assert not any(secret in str(refusal) for secret in (*sim.authority.secrets, "wrong"))
        item = aws_server.dynamodb.get_item(
            TableName=get_settings().shadow_table,
            Key={"pk": {"S": f"TOKEN#{sim.client_id}"}, "sk": {"S": "T"}},
        )["Item"]
        assert not any("wrong" in str(value) or sim.refresh_token in str(value) for value in item.values())

        # when: an admin puts the right client secret in the secret
        document["client_secret"] = sim.client_secret
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps(document))  # type: ignore[attr-defined]

        # then: the changed secret is tried at once, by either container
        assert second().crm.get_record("Accounts", account) is not None
        assert sim.requests.count("oauth.token") == 2
        assert sim.authority.total_minted() == 1
    finally:
        first.close()
        second.close()


def test_a_refused_secret_is_asked_about_again_once_the_fleet_s_memory_of_the_refusal_lapses(
    aws_server: AwsResources, sim: ZohoSimulator, closed_after: contextlib.ExitStack
) -> None:
    # given: a revoked refresh token, refused once
    now = [time.time()]
    settings = get_settings()
    revoked = ZohoCredentials(sim.client_id, SecretStr(sim.client_secret), SecretStr("1000.revoked"))

    def container() -> ZohoOAuth:
        cache = DynamoTokenCache(
            client("dynamodb", settings), settings.shadow_table, sim.client_id, clock=lambda: now[0]
        )
        oauth = ZohoOAuth(
            accounts_url=sim.url,
            credentials=revoked,
            cache=cache,
            clock=lambda: now[0],
            refusal_memory_seconds=60.0,
        )
        return closed_after.enter_context(closing(oauth))

    with pytest.raises(ZohoCredentialsRefused):
        container().token()

    # when: other containers need a token within the minute, and after it
    now[0] += 59
    with pytest.raises(ZohoCredentialsRefused):
        container().token()
    asked_within = sim.requests.count("oauth.token")
    now[0] += 2
    with pytest.raises(ZohoCredentialsRefused):
        container().token()

    # then: Zoho was asked once in the minute, and again once it had passed (the token may be un-revoked)
    assert asked_within == 1
    assert sim.requests.count("oauth.token") == 2


def test_the_shared_token_item_follows_the_client_of_the_secret_a_container_read_again(
    aws_server: AwsResources, sim: ZohoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a warm container whose Zoho secret named another OAuth client, which Zoho refused
    document = {"client_id": "1000.OLDCLIENT", "client_secret": "old", "refresh_token": "1000.old"}
    name, secrets = _zoho_secret(aws_server, document)
    point_at_simulator(sim, monkeypatch, SYNC_GUARD_ZOHO_SECRET_NAME=name)
    warm = LazyZohoClients(get_settings())
    account = sim.state.crm_create("Accounts", {"Account_Name": "Acme Ltd"}, source=Source.ADMIN)["id"]
    cold = LazyZohoClients(get_settings())
    try:
        with pytest.raises(ZohoCredentialsRefused):
            warm().crm.get_record("Accounts", account)

        # when: an admin puts the self-client Zoho knows in the secret; the warm container reads it again
        # and mints, and a container started after the change needs a token too
        document = {
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "refresh_token": sim.refresh_token,
        }
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps(document))  # type: ignore[attr-defined]
        assert warm().crm.get_record("Accounts", account) is not None
        assert cold().crm.get_record("Accounts", account) is not None

        # then: both share the token in the new client's item (one token minted, counted there), and the old
        # client's item holds no token of the new one
        assert sim.authority.total_minted() == 1
        assert warm().auth.token().access_token == cold().auth.token().access_token
        table = get_settings().shadow_table

        def item(client_id: str) -> dict[str, Any]:
            key = {"pk": {"S": f"TOKEN#{client_id}"}, "sk": {"S": "T"}}
            return dict(aws_server.dynamodb.get_item(TableName=table, Key=key).get("Item") or {})

        assert len(item(sim.client_id)["mints"]["L"]) == 1
        assert "access_token" not in item("1000.OLDCLIENT")
    finally:
        warm.close()
        cold.close()
