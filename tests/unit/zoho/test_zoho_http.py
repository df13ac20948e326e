"""ZohoHttp, RetryPolicy and the mapping of Zoho's error envelopes to typed errors (no network)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from pydantic import SecretStr

from sync_guard.errors import http_status_for
from sync_guard.zoho.auth import CachedToken, InMemoryTokenCache, ZohoCredentials, ZohoOAuth
from sync_guard.zoho.errors import (
    BooksApiError,
    CrmApiError,
    DisplayNameTaken,
    ZohoApiError,
    ZohoAuthError,
    ZohoPermissionDenied,
    ZohoRateLimited,
    ZohoServerError,
    ZohoTimeout,
    ZohoTokenRateLimited,
    ZohoTokenRejected,
    ZohoUnavailable,
)
from sync_guard.zoho.http import (
    Dialect,
    RetryPolicy,
    ZohoHttp,
    error_for_response,
    likely_scope,
    parse_retry_after,
)


def _response(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


# Books' answer to a call the token's scopes or the user's role do not allow (and to a dead token).
NOT_AUTHORIZED = {"code": 57, "message": "You are not authorized to perform this operation"}


class StaticToken:
    """An AccessTokenSource handing out numbered tokens; counts invalidations."""

    def __init__(self) -> None:
        self.n = 1
        self.invalidated = 0

    def token(self) -> CachedToken:
        return CachedToken(
            access_token=f"tok-{self.n}", api_domain="https://www.zohoapis.eu", expires_at=1e12
        )

    def invalidate(self, token: CachedToken) -> None:
        self.invalidated += 1
        self.n += 1

    def replaced(self, token: CachedToken) -> CachedToken | None:
        return None  # no other container shares these tokens

    def just_issued(self, token: CachedToken) -> bool:
        return False  # every token looks old enough to have died


def _http(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: object
) -> tuple[ZohoHttp, list[float]]:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=1.0, max_retry_after=10)
    http = ZohoHttp(
        StaticToken(),
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        retry=policy,
        sleep=waits.append,
        rng=random.Random(1),
        **kwargs,  # type: ignore[arg-type]
    )
    return http, waits


# ------------------------------------------------------------------------------------ envelopes


def test_books_3062_is_display_name_taken() -> None:
    error = error_for_response(
        _response(400, {"code": 3062, "message": 'The customer "X" exists'}), Dialect.BOOKS
    )
    assert isinstance(error, DisplayNameTaken)
    assert (error.zoho_code, error.http_status, error.retryable) == (3062, 400, False)


def test_books_other_codes_and_code_zero() -> None:
    error = error_for_response(
        _response(404, {"code": 1002, "message": "Contact does not exist."}), Dialect.BOOKS
    )
    assert type(error) is BooksApiError
    assert error.zoho_code == 1002
    assert error_for_response(_response(200, {"code": 0, "message": "success"}), Dialect.BOOKS) is None
    # Books sometimes reports a failure with HTTP 200.
    assert isinstance(
        error_for_response(_response(200, {"code": 4, "message": "bad"}), Dialect.BOOKS), BooksApiError
    )


def test_crm_flat_error_envelope() -> None:
    body = {
        "code": "INVALID_MODULE",
        "details": {"resource_path_index": 0},
        "message": "bad",
        "status": "error",
    }
    error = error_for_response(_response(400, body), Dialect.CRM)
    assert isinstance(error, CrmApiError)
    assert (error.http_status, error.zoho_code, error.details) == (
        400,
        "INVALID_MODULE",
        {"resource_path_index": 0},
    )
    assert error.retryable is False


def test_crm_per_record_errors_are_left_to_the_client() -> None:
    body = {"data": [{"code": "INVALID_DATA", "details": {}, "message": "x", "status": "error"}]}
    assert error_for_response(_response(400, body), Dialect.CRM) is None


@pytest.mark.parametrize("dialect", list(Dialect))
def test_429_and_5xx_whatever_the_body(dialect: Dialect) -> None:
    limited = error_for_response(_response(429, {"x": 1}, {"Retry-After": "12"}), dialect)
    assert isinstance(limited, ZohoRateLimited)
    assert limited.retry_after == 12
    server = error_for_response(httpx.Response(502, text="<html>bad gateway</html>"), dialect)
    assert isinstance(server, ZohoServerError)
    assert server.http_status == 502


@pytest.mark.parametrize("dialect", list(Dialect))
def test_an_error_status_without_zoho_s_envelope_is_still_an_error(dialect: Dialect) -> None:
    # what a gateway in front of Zoho answers: a status and an HTML page
    rejected = error_for_response(httpx.Response(401, text="<html>Unauthorized</html>"), dialect)
    assert isinstance(rejected, ZohoTokenRejected)  # a fresh token is fetched, as for Zoho's own codes
    missing = error_for_response(httpx.Response(404, text="<html>Not Found</html>"), dialect)
    assert isinstance(missing, ZohoApiError)
    assert (missing.http_status, missing.retryable) == (404, False)


def test_token_rejections_are_distinguished_from_permission_errors() -> None:
    crm_token = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}
    crm_scope = {"code": "OAUTH_SCOPE_MISMATCH", "details": {}, "message": "scope", "status": "error"}
    assert isinstance(error_for_response(_response(401, crm_token), Dialect.CRM), ZohoTokenRejected)
    scope = error_for_response(_response(401, crm_scope), Dialect.CRM)
    assert isinstance(scope, ZohoAuthError)
    assert not isinstance(scope, ZohoTokenRejected)
    assert isinstance(
        error_for_response(_response(401, {"code": 57, "message": "no"}), Dialect.BOOKS), ZohoTokenRejected
    )
    # Wrong organisation is a configuration problem, not a token problem.
    wrong_org = error_for_response(_response(401, {"code": 6041, "message": "not associated"}), Dialect.BOOKS)
    assert isinstance(wrong_org, BooksApiError)


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("30") == 30
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_retryable_flags_and_http_statuses() -> None:
    retryable = [
        ZohoRateLimited("x"),
        ZohoServerError("x", http_status=500),
        ZohoTimeout("x"),
        ZohoUnavailable("x"),
    ]
    final = [ZohoAuthError("x"), ZohoApiError("x", http_status=400), DisplayNameTaken(3062, "x")]
    assert all(e.retryable for e in retryable)
    assert not any(e.retryable for e in final)
    assert http_status_for(ZohoTimeout("x")) == 504
    assert http_status_for(ZohoRateLimited("x")) == 503
    assert http_status_for(DisplayNameTaken(3062, "x")) == 502


# --------------------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("error", "idempotent", "expected"),
    [
        (ZohoRateLimited("x", retry_after=5), False, True),
        (ZohoRateLimited("x", retry_after=60), True, False),  # beyond the budget: raise, the outbox retries
        (ZohoRateLimited("x"), True, True),
        (ZohoTokenRateLimited("x"), True, False),
        (ZohoUnavailable("x"), False, True),  # never sent: safe even for creates
        (ZohoTimeout("x"), True, True),
        (ZohoTimeout("x"), False, False),
        (ZohoServerError("x", http_status=500), True, True),
        (ZohoServerError("x", http_status=500), False, False),
        (DisplayNameTaken(3062, "x"), True, False),
        (ZohoAuthError("x"), True, False),
    ],
)
def test_should_retry(error: Exception, idempotent: bool, expected: bool) -> None:
    policy = RetryPolicy(max_retry_after=10)
    assert policy.should_retry(error, idempotent=idempotent) is expected


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    rng = random.Random(3)
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        delays = {policy.delay(attempt, None, rng) for _ in range(20)}
        assert all(step / 2 <= d <= step for d in delays)
        assert len(delays) > 1  # jittered


# ------------------------------------------------------------------------------------ the wrapper


def test_sends_the_oauth_header_and_uses_the_token_api_domain() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _response(200, {"data": [{"id": "1"}]})

    http, _ = _http(handler)
    assert http.request("GET", "/crm/v8/Accounts/1", dialect=Dialect.CRM) == {"data": [{"id": "1"}]}
    assert seen[0].headers["Authorization"] == "Zoho-oauthtoken tok-1"
    assert str(seen[0].url) == "https://www.zohoapis.eu/crm/v8/Accounts/1"


def test_api_url_override_wins_over_api_domain() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(204)

    http, _ = _http(handler, api_url="http://127.0.0.1:9/")
    assert http.request("GET", "/crm/v8/Accounts/1", dialect=Dialect.CRM) is None  # 204
    assert seen == ["http://127.0.0.1:9/crm/v8/Accounts/1"]


def test_server_errors_are_retried_then_raised() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return _response(503, {"code": 1000, "message": "Internal error"})

    http, waits = _http(handler)
    with pytest.raises(ZohoServerError):
        http.request("GET", "/books/v3/contacts/1", dialect=Dialect.BOOKS)
    assert len(calls) == 3
    assert len(waits) == 2


def test_timeouts_become_zoho_timeout_and_connect_errors_zoho_unavailable() -> None:
    def read_timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http, _ = _http(read_timeout)
    with pytest.raises(ZohoTimeout):
        http.request("POST", "/books/v3/contacts", dialect=Dialect.BOOKS, json={}, idempotent=False)
    http, waits = _http(refused)
    with pytest.raises(ZohoUnavailable):
        http.request("POST", "/books/v3/contacts", dialect=Dialect.BOOKS, json={}, idempotent=False)
    assert len(waits) == 2  # connection refused is retried even for a create


def test_a_success_whose_body_is_not_json_is_refused_as_a_bad_gateway() -> None:
    http, _ = _http(lambda request: httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(ZohoApiError) as refused:
        http.request("GET", "/books/v3/contacts/1", dialect=Dialect.BOOKS)
    assert refused.value.http_status == 502


def test_a_connection_never_made_is_retried_but_one_lost_mid_call_is_not_for_a_create() -> None:
    def connect_timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("no answer to SYN", request=request)

    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed the connection", request=request)

    http, waits = _http(connect_timeout)
    with pytest.raises(ZohoUnavailable):
        http.request("POST", "/books/v3/contacts", dialect=Dialect.BOOKS, json={}, idempotent=False)
    assert len(waits) == 2  # nothing reached Zoho: safe to send again
    # the create may have taken effect: sending it again could make the duplicate the guard exists to stop
    http, waits = _http(dropped)
    with pytest.raises(ZohoTimeout):
        http.request("POST", "/books/v3/contacts", dialect=Dialect.BOOKS, json={}, idempotent=False)
    assert waits == []


def test_token_rejection_gets_one_fresh_token() -> None:
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(request.headers["Authorization"])
        if request.headers["Authorization"].endswith("tok-1"):
            return _response(401, {"code": "INVALID_TOKEN", "details": {}, "message": "x", "status": "error"})
        return _response(200, {"data": []})

    http, _ = _http(handler)
    http.request("GET", "/crm/v8/Accounts/1", dialect=Dialect.CRM)
    assert tokens == ["Zoho-oauthtoken tok-1", "Zoho-oauthtoken tok-2"]


def test_a_fresh_token_refused_again_is_a_permission_error_and_is_kept() -> None:
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(request.headers["Authorization"].rsplit(" ", 1)[1])
        return _response(401, NOT_AUTHORIZED)

    http, waits = _http(handler)
    with pytest.raises(ZohoPermissionDenied) as caught:
        http.request("GET", "/books/v3/contacts/1", dialect=Dialect.BOOKS)
    assert waits == []
    assert not isinstance(caught.value, ZohoTokenRejected)
    assert caught.value.retryable is False
    assert "ZohoBooks.contacts.READ" in str(caught.value)
    assert tokens == ["tok-1", "tok-2"]

    # the next call does not drop the token that was refused although valid
    with pytest.raises(ZohoPermissionDenied):
        http.request("GET", "/books/v3/contacts/2", dialect=Dialect.BOOKS)
    assert tokens == ["tok-1", "tok-2", "tok-2"]


class _Zoho:
    """A real ZohoOAuth and ZohoHttp over a mock transport; Books refuses every call with 401 code 57."""

    def __init__(self, clock: list[float], books_reads_allowed: bool = False) -> None:
        self.mints = 0
        self.clock = clock

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/oauth/v2/token":
                self.mints += 1
                token = {"access_token": f"t{self.mints}", "expires_in": 3600, "api_domain": "https://z.eu"}
                return _response(200, token)
            if request.url.path.startswith("/books/"):
                if books_reads_allowed and request.method == "GET":
                    return _response(200, {"code": 0, "contact": {}})
                return _response(
                    401, {"code": 57, "message": "You are not authorized to perform this operation"}
                )
            return _response(200, {"data": [{"id": "1"}]})

        client = httpx.Client(transport=httpx.MockTransport(handler))
        policy = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)
        self.auth = ZohoOAuth(
            accounts_url="https://accounts.zoho.eu",
            credentials=ZohoCredentials("c", SecretStr("s"), SecretStr("r")),
            cache=InMemoryTokenCache(),
            client=client,
            retry=policy,
            sleep=lambda _: None,
            clock=lambda: clock[0],
        )
        self.http = ZohoHttp(self.auth, client=client, retry=policy, sleep=lambda _: None)

    def crm_read(self) -> None:
        self.http.request("GET", "/crm/v8/Accounts/1", dialect=Dialect.CRM)

    def books_write(self, contact_id: str) -> None:
        self.http.request("POST", f"/books/v3/contacts/{contact_id}/inactive", dialect=Dialect.BOOKS)


def test_books_401_does_not_starve_crm_of_tokens() -> None:
    # given: a refresh token without a Books scope; the first token is minted for the first Books call
    zoho = _Zoho(clock=[1_700_000_000.0])

    # when: ten Books calls are refused
    for n in range(10):
        with pytest.raises(ZohoPermissionDenied) as caught:
            zoho.books_write(str(n))

    # then: the token minted moments ago was never dropped, and CRM still works
    assert zoho.mints == 1
    assert "ZohoBooks.contacts.UPDATE" in str(caught.value)
    zoho.crm_read()
    assert zoho.mints == 1


def test_an_old_token_refused_by_books_is_replaced_once_then_kept() -> None:
    clock = [1_700_000_000.0]
    zoho = _Zoho(clock)
    zoho.auth.token()
    clock[0] += 1200  # twenty minutes on: the token may have been revoked since

    for n in range(5):
        with pytest.raises(ZohoPermissionDenied):
            zoho.books_write(str(n))
        clock[0] += 300  # the replacement ages too; Books refusing it is known by now

    assert zoho.mints == 2


def test_a_token_crm_accepted_and_books_refuses_is_replaced_once_then_kept() -> None:
    # Books says 57 for a dead token and for a missing scope alike: the token CRM accepted may have been
    # revoked since, and one new token tells; refused as well, it is kept
    clock = [1_700_000_000.0]
    zoho = _Zoho(clock)
    zoho.auth.token()
    clock[0] += 1200
    zoho.crm_read()

    for n in range(3):
        with pytest.raises(ZohoPermissionDenied):
            zoho.books_write(str(n))
        zoho.crm_read()

    assert zoho.mints == 2


def test_a_token_books_reads_accept_is_replaced_once_when_a_write_is_refused_then_kept() -> None:
    # a refresh token granted ZohoBooks.contacts.READ only
    clock = [1_700_000_000.0]
    zoho = _Zoho(clock, books_reads_allowed=True)
    zoho.auth.token()
    clock[0] += 1200
    for n in range(3):
        zoho.http.request("GET", f"/books/v3/contacts/{n}", dialect=Dialect.BOOKS)
        with pytest.raises(ZohoPermissionDenied) as caught:
            zoho.books_write(str(n))

    assert zoho.mints == 2
    assert "ZohoBooks.contacts.UPDATE" in str(caught.value)


# What a call needs, as the permission error names it: "METHOD path" -> scope.
SCOPES_OF_CALLS = {
    "GET /books/v3/contacts": "ZohoBooks.contacts.READ",
    "POST /books/v3/contacts": "ZohoBooks.contacts.CREATE",
    "POST /books/v3/contacts/1/inactive": "ZohoBooks.contacts.UPDATE",
    "PUT /books/v3/contacts/1": "ZohoBooks.contacts.UPDATE",
    "GET /books/v3/invoices": "ZohoBooks.invoices.READ",
    "GET /crm/v8/Accounts/search": "ZohoCRM.modules.accounts.READ",
    "POST /crm/v8/Accounts/1/actions/add_tags": "ZohoCRM.modules.accounts.UPDATE",
    "GET /crm/v8/settings/automation/webhook_failures": "ZohoCRM.settings.READ",
    "POST /crm/v8/actions/watch": "ZohoCRM.notifications.CREATE",
}


def test_likely_scope_of_each_call() -> None:
    found = {call: likely_scope(*call.split(" ")) for call in SCOPES_OF_CALLS}
    assert found == SCOPES_OF_CALLS


def test_deadline_stops_retries_that_would_overrun_the_budget() -> None:
    calls: list[int] = []
    waits: list[float] = []

    def failing() -> None:
        calls.append(1)
        raise ZohoRateLimited("busy", retry_after=4)

    policy = RetryPolicy(max_attempts=10, max_retry_after=10, deadline=10, base_delay=0.0)
    with pytest.raises(ZohoRateLimited):
        policy.run(failing, idempotent=True, sleep=waits.append, rng=random.Random(0))
    # 4 + 4 fits in 10 s, a third wait of 4 would not.
    assert waits == [4, 4]
    assert len(calls) == 3


def test_no_attempt_is_started_that_could_run_past_the_deadline() -> None:
    calls: list[int] = []
    waits: list[float] = []

    def failing() -> None:
        calls.append(1)
        raise ZohoRateLimited("busy", retry_after=4)

    # Each attempt may take up to 3 s (the client's timeout): after 4 s of waiting, a second attempt
    # could end at 7 s, a third at 14 s, past the 10 s deadline.
    policy = RetryPolicy(max_attempts=10, max_retry_after=10, deadline=10, base_delay=0.0, attempt_seconds=3)
    with pytest.raises(ZohoRateLimited):
        policy.run(failing, idempotent=True, sleep=waits.append, rng=random.Random(0))
    assert waits == [4]
    assert len(calls) == 2


def test_error_messages_never_carry_emails_in_clear() -> None:
    books = error_for_response(
        _response(400, {"code": 3090, "message": "jane.doe@acme.example exists"}), Dialect.BOOKS
    )
    crm = CrmApiError(400, "DUPLICATE_DATA", "duplicate jane.doe@acme.example", {})
    for error in (books, crm):
        assert error is not None
        assert "jane.doe@acme.example" not in str(error)
        assert "@acme.example" in str(error)
