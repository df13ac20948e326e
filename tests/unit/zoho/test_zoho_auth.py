"""OAuth: token cache protocol, mint budget, refresh semantics, credentials (no network but moto)."""

from __future__ import annotations

import json
import random
import threading

import boto3
import httpx
import pytest
from moto import mock_aws
from pydantic import SecretStr

from sync_guard.config import DataCentre, Settings
from sync_guard.errors import ConfigurationError
from sync_guard.zoho.auth import (
    CachedToken,
    InMemoryTokenCache,
    MintBudget,
    ZohoCredentials,
    ZohoOAuth,
    accounts_url_for,
    api_url_for,
    load_credentials,
)
from sync_guard.zoho.errors import (
    ZohoAuthError,
    ZohoCredentialsRefused,
    ZohoServerError,
    ZohoTokenRateLimited,
    ZohoUnavailable,
)
from sync_guard.zoho.http import RetryPolicy

CREDS = ZohoCredentials("1000.client", SecretStr("shh-secret"), SecretStr("1000.refresh"))


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _oauth(
    handler: object,
    cache: InMemoryTokenCache | None = None,
    clock: Clock | None = None,
    budget: MintBudget | None = None,
) -> ZohoOAuth:
    return ZohoOAuth(
        accounts_url="https://accounts.zoho.eu",
        credentials=CREDS,
        cache=cache or InMemoryTokenCache(),
        client=httpx.Client(transport=httpx.MockTransport(handler)),  # type: ignore[arg-type]
        clock=clock or Clock(),
        retry=RetryPolicy(max_attempts=3, base_delay=0.01),
        sleep=lambda _: None,
        rng=random.Random(0),
        budget=budget,
    )


def _minting(counter: list[httpx.Request]) -> object:
    def handler(request: httpx.Request) -> httpx.Response:
        counter.append(request)
        return httpx.Response(
            200,
            json={
                "access_token": f"1000.tok{len(counter)}",
                "api_domain": "https://www.zohoapis.eu",
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )

    return handler


@pytest.mark.parametrize(
    ("dc", "accounts", "api"),
    [
        (DataCentre.US, "https://accounts.zoho.com", "https://www.zohoapis.com"),
        (DataCentre.EU, "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
        (DataCentre.AU, "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
        (DataCentre.CA, "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
        (DataCentre.UK, "https://accounts.zoho.uk", "https://www.zohoapis.uk"),
    ],
)
def test_hosts_per_data_centre(dc: DataCentre, accounts: str, api: str) -> None:
    assert accounts_url_for(dc) == accounts
    assert api_url_for(dc) == api


def test_in_memory_cache_put_is_conditional_on_the_version() -> None:
    cache = InMemoryTokenCache()
    first = CachedToken("a", "https://x", 100.0, version=1)
    assert cache.put(first, expected_version=None) is True
    assert cache.put(CachedToken("b", "https://x", 100.0, version=1), expected_version=None) is False
    assert cache.put(CachedToken("c", "https://x", 100.0, version=2), expected_version=1) is True
    assert cache.put(CachedToken("d", "https://x", 100.0, version=2), expected_version=1) is False
    stored = cache.get()
    assert stored is not None
    assert stored.access_token == "c"


def test_cached_token_repr_hides_the_token() -> None:
    assert "secret-token" not in repr(CachedToken("secret-token", "https://x", 1.0))


def test_refresh_posts_the_form_and_keeps_api_domain_and_expiry() -> None:
    seen: list[httpx.Request] = []
    clock = Clock()
    oauth = _oauth(_minting(seen), clock=clock)

    token = oauth.token()

    form = dict(httpx.QueryParams(seen[0].content.decode()))
    assert str(seen[0].url) == "https://accounts.zoho.eu/oauth/v2/token"
    assert form == {
        "grant_type": "refresh_token",
        "client_id": "1000.client",
        "client_secret": "shh-secret",
        "refresh_token": "1000.refresh",
    }
    assert token.api_domain == "https://www.zohoapis.eu"
    assert token.expires_at == clock.now + 3600
    assert token.version == 1


def test_cached_token_is_reused_until_the_margin() -> None:
    seen: list[httpx.Request] = []
    clock = Clock()
    oauth = _oauth(_minting(seen), clock=clock)
    first = oauth.token()
    clock.now += 3000
    assert oauth.token() is first
    clock.now += 400  # 200 s left < 300 s margin
    assert oauth.token().access_token == "1000.tok2"
    assert len(seen) == 2


def test_concurrent_callers_in_one_container_mint_once() -> None:
    seen: list[httpx.Request] = []
    oauth = _oauth(_minting(seen))
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(oauth.token().access_token)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 1
    assert set(results) == {"1000.tok1"}


class RacingCache(InMemoryTokenCache):
    """Another container stores its token between our get() and our put()."""

    def __init__(self, winner: CachedToken) -> None:
        super().__init__()
        self._winner = winner
        self._raced = False

    def put(self, token: CachedToken, *, expected_version: int | None) -> bool:
        if not self._raced:
            self._raced = True
            super().put(self._winner, expected_version=None)
        return super().put(token, expected_version=expected_version)


def test_losing_the_put_race_adopts_the_winners_token() -> None:
    clock = Clock()
    winner = CachedToken("1000.winner", "https://www.zohoapis.eu", clock.now + 3600, version=1)
    oauth = _oauth(_minting([]), cache=RacingCache(winner), clock=clock)
    assert oauth.token() == winner


def test_invalidate_forces_a_new_mint_only_for_the_current_token() -> None:
    seen: list[httpx.Request] = []
    oauth = _oauth(_minting(seen))
    first = oauth.token()
    oauth.invalidate(CachedToken("1000.someone-else", first.api_domain, first.expires_at))
    assert oauth.token() == first
    oauth.invalidate(first)
    assert oauth.token().access_token == "1000.tok2"


class CountingCache(InMemoryTokenCache):
    """Counts the reads (on AWS each is a consistent GetItem on the shadow table)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self) -> CachedToken | None:
        self.reads += 1
        return super().get()


def test_a_container_reads_the_shared_cache_only_when_its_token_nears_expiry() -> None:
    clock = Clock()
    cache = CountingCache()
    oauth = _oauth(_minting([]), cache=cache, clock=clock)
    first = oauth.token()
    reads_to_mint = cache.reads
    for _ in range(50):
        clock.now += 60  # 3,000 s of calls: the token still has more than the margin to live
        assert oauth.token() is first
    assert cache.reads == reads_to_mint
    clock.now += 400
    assert oauth.token().access_token == "1000.tok2"
    assert cache.reads > reads_to_mint


def test_a_container_keeps_its_token_when_another_stores_a_newer_one_until_zoho_refuses_it() -> None:
    seen: list[httpx.Request] = []
    clock = Clock()
    cache = InMemoryTokenCache()
    oauth = _oauth(_minting(seen), cache=cache, clock=clock)
    own = oauth.token()
    newer = CachedToken("1000.other-container", own.api_domain, clock.now + 3600, version=own.version + 1)
    assert cache.put(newer, expected_version=own.version)
    assert oauth.token() is own  # still valid at Zoho: no read, no mint
    oauth.invalidate(own)  # Zoho refused it (a 401)
    assert oauth.token() == newer  # the other container's token is adopted, nothing minted
    assert len(seen) == 1


def test_a_token_counts_as_just_issued_for_the_mint_window() -> None:
    clock = Clock()
    oauth = _oauth(_minting([]), clock=clock)
    token = oauth.token()
    assert token.issued_at == clock.now
    assert oauth.just_issued(token)
    clock.now += 599
    assert oauth.just_issued(token)
    clock.now += 1
    assert not oauth.just_issued(token)
    assert not oauth.just_issued(CachedToken("1000.unknown-age", "https://x", clock.now + 3000))


def test_mint_budget_slides() -> None:
    clock = Clock()
    budget = MintBudget(limit=3, window=600, clock=clock)
    for _ in range(3):
        budget.take()
        clock.now += 100
    with pytest.raises(ZohoTokenRateLimited) as caught:
        budget.take()
    assert caught.value.retry_after == pytest.approx(300)
    clock.now += 301
    budget.take()
    assert budget.used == 3


@pytest.mark.parametrize(
    ("failure", "counted"),
    [
        # a timeout may have minted on Zoho's side: every POST sent counts
        (httpx.ReadTimeout, 3),
        # a refresh that never connected sent nothing, so Zoho minted nothing: it gives its place back
        (httpx.ConnectError, 1),
    ],
)
def test_every_refresh_post_sent_counts_against_the_mint_budget(
    failure: type[httpx.TransportError], counted: int
) -> None:
    # given: the accounts server fails twice, then answers
    posts: list[httpx.Request] = []

    def failing_then_fine(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        if len(posts) < 3:
            raise failure("no answer", request=request)
        return httpx.Response(
            200, json={"access_token": "1000.t", "api_domain": "https://x", "expires_in": 3600}
        )

    clock = Clock()
    budget = MintBudget(limit=10, window=600, clock=clock)

    # when
    _oauth(failing_then_fine, clock=clock, budget=budget).token()

    # then: three POSTs tried, those that left this machine counted
    assert len(posts) == 3
    assert budget.used == counted


def test_an_unreachable_accounts_server_is_said_so_not_a_spent_budget() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    clock = Clock()
    oauth = _oauth(unreachable, clock=clock, budget=MintBudget(limit=4, window=600, clock=clock))

    for _ in range(3):  # more attempts in all than the budget holds
        with pytest.raises(ZohoUnavailable, match="cannot reach the Zoho accounts server"):
            oauth.token()


def test_a_retried_refresh_stops_when_the_budget_is_spent() -> None:
    posts: list[httpx.Request] = []

    def always_slow(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    clock = Clock()
    oauth = _oauth(always_slow, clock=clock, budget=MintBudget(limit=2, window=600, clock=clock))

    with pytest.raises(ZohoTokenRateLimited):
        oauth.token()
    assert len(posts) == 2  # the retry policy allows 3; the budget allowed 2


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, {"error": "invalid_code"}, ZohoAuthError),
        (200, {"error": "invalid_client"}, ZohoAuthError),
        (
            400,
            {"error": "Access Denied", "error_description": "You have made too many requests continuously."},
            ZohoTokenRateLimited,
        ),
        (500, None, ZohoServerError),
    ],
)
def test_token_endpoint_failures(status: int, body: object, error: type[Exception]) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status, text="oops")

    with pytest.raises(error) as caught:
        _oauth(handler).token()
    assert "shh-secret" not in str(caught.value)
    assert "1000.refresh" not in str(caught.value)
    # Only the server error is worth retrying on the spot.
    assert len(calls) == (3 if error is ZohoServerError else 1)


def test_credentials_from_settings_and_secret_json() -> None:
    settings = Settings(zoho_client_id="id", zoho_client_secret="s3cr3t-value", zoho_refresh_token="r-value")
    credentials = ZohoCredentials.from_settings(settings)
    assert credentials.client_id == "id"
    assert credentials.refresh_token.get_secret_value() == "r-value"
    assert "s3cr3t-value" not in repr(credentials)
    with pytest.raises(ConfigurationError):
        ZohoCredentials.from_settings(Settings())
    with pytest.raises(ConfigurationError) as caught:
        ZohoCredentials.from_secret_json('{"client_id": "x", "client_secret": "leaky"}')
    assert "leaky" not in str(caught.value)


def test_credentials_from_secrets_manager() -> None:
    secret = {"client_id": "1000.aws", "client_secret": "aws-secret", "refresh_token": "1000.aws-refresh"}
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-2")
        client.create_secret(Name="sync-guard/zoho", SecretString=json.dumps(secret))
        settings = Settings(zoho_secret_name="sync-guard/zoho")

        credentials = load_credentials(settings)

    assert credentials.client_id == "1000.aws"
    assert credentials.client_secret.get_secret_value() == "aws-secret"
    assert credentials.refresh_token.get_secret_value() == "1000.aws-refresh"
    assert "aws-secret" not in repr(credentials)


def test_a_failed_refresh_falls_back_to_the_still_valid_token() -> None:
    answers = iter(
        [
            httpx.Response(
                200, json={"access_token": "1000.first", "api_domain": "https://x", "expires_in": 3600}
            )
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(503, text="down"))

    clock = Clock()
    oauth = _oauth(handler, clock=clock)
    first = oauth.token()
    clock.now += 3600 - 200  # inside the refresh margin, not expired
    assert oauth.token() == first
    clock.now += 190  # 10 s left: too close to hand out
    with pytest.raises(ZohoServerError):
        oauth.token()


def test_in_one_process_refused_credentials_are_not_sent_again_until_the_memory_lapses_or_they_change() -> (
    None
):
    # given: an accounts server that refuses the client secret "shh-secret" and mints for any other
    posts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        posts.append(form["client_id"])
        if form["client_secret"] == "shh-secret":
            return httpx.Response(200, json={"error": "invalid_client"})
        return httpx.Response(
            200, json={"access_token": "1000.t", "api_domain": "https://d", "expires_in": 3600}
        )

    clock = Clock()
    secret = [CREDS]
    cache = InMemoryTokenCache(clock)
    oauth = ZohoOAuth(
        accounts_url="https://accounts.zoho.eu",
        credentials=CREDS,
        cache=cache,
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        clock=clock,
        sleep=lambda _: None,
        reload_credentials=lambda: secret[0],
        refusal_memory_seconds=60,
    )

    # when: asked for a token three times within the minute, once after it
    for _ in range(3):
        with pytest.raises(ZohoCredentialsRefused):
            oauth.token()
        clock.now += 10
    asked_within = len(posts)
    clock.now += 40
    with pytest.raises(ZohoCredentialsRefused):
        oauth.token()

    # then: Zoho was asked once within the minute, then again
    assert asked_within == 1
    assert len(posts) == 2

    # when: the secret is mended, naming another client: it is tried at once, and its token is not kept in
    # the old client's cache
    secret[0] = ZohoCredentials("1000.other", SecretStr("right"), SecretStr("1000.refresh"))
    assert oauth.token().access_token == "1000.t"
    assert posts[-1] == "1000.other"
    assert cache.get() is None
