"""The Zoho simulator's HTTP server: accounts (OAuth), CRM v8 and Books v3 on one local port.

Start it in a thread, point the clients at ``sim.url`` (it is both the accounts server and the
``api_domain`` it hands out), and drive or inspect it through ``sim.state`` / ``sim.faults`` /
``sim.requests`` from Python, or ``/_sim/...`` over HTTP:

- ``GET /_sim/state``: every record; ``GET /_sim/requests``: counts per route and status;
- ``POST /_sim/faults``: fault config fields as JSON (``{"rate": 0.3, "seed": 7}``);
- ``POST /_sim/requests/reset``; ``POST /_sim/crm/{Module}`` and ``POST /_sim/books/contacts``: seed a
  record without auth, faults or workflows.

Every API request needs ``Authorization: Zoho-oauthtoken <token>`` with a token the simulator minted and
that has not expired; Books requests also need ``organization_id`` naming the simulated organisation.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sync_guard.config import Settings
from sync_guard.local.http_server import ClosingHTTPServer
from sync_guard.local.zoho_simulator import books_api, crm_api
from sync_guard.local.zoho_simulator.faults import Fault, FaultConfig, FaultInjector, FaultKind, RequestLog
from sync_guard.local.zoho_simulator.limits import ApiLimiter
from sync_guard.local.zoho_simulator.oauth import TokenAuthority
from sync_guard.local.zoho_simulator.routing import Api, BadQuery, Request, Response, Route, Router
from sync_guard.local.zoho_simulator.state import Assumptions, SimulatorError, SimulatorState, Source

logger = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "1000.SIMULATORCLIENT"
DEFAULT_CLIENT_SECRET = "simulator-client-secret"  # noqa: S105 - a fake credential for the local fake Zoho
DEFAULT_REFRESH_TOKEN = "1000.simulator.refresh-token"  # noqa: S105


class ZohoSimulator:
    """A local fake of Zoho's accounts server, CRM and Books APIs. Use as a context manager."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        books_organization_id: str = "20000000001",
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        faults: FaultConfig | None = None,
        assumptions: Assumptions | None = None,
        clock: Callable[[], datetime] | None = None,
        token_clock: Callable[[], float] | None = None,
        rate_limits: dict[str, int] | None = None,
        crm_credits: int | None = None,
    ) -> None:
        """``clock`` stamps records (Modified_Time...); ``token_clock`` (monotonic seconds) drives token
        expiry, the mint window and the rate limits, so tests can move time forward without sleeping.
        ``rate_limits`` are requests per minute per API (``{"books": 100}``: Zoho's Books limit);
        ``crm_credits`` starts a CRM credit count reported in ``X-API-CREDITS-REMAINING``."""
        self.host = host
        self._port = port
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.state = SimulatorState(
            books_organization_id=books_organization_id, clock=clock, assumptions=assumptions
        )
        authority_kwargs: dict[str, Any] = {"seed": seed}
        if token_clock is not None:
            authority_kwargs["clock"] = token_clock
        self.authority = TokenAuthority(**authority_kwargs)
        self.authority.register(client_id, client_secret, refresh_token)
        self.faults = FaultInjector(faults or FaultConfig(seed=seed))
        limiter_kwargs: dict[str, Any] = {"per_minute": rate_limits, "crm_credits": crm_credits}
        if token_clock is not None:
            limiter_kwargs["clock"] = token_clock
        self.limits = ApiLimiter(**limiter_kwargs)
        self.requests = RequestLog()
        self.router = Router()
        crm_api.register(self.router, self.state)
        books_api.register(self.router, self.state)
        self._register_control_routes()
        self._server: ClosingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        #: Routes (regexes over route names) the refresh token's scopes do not cover: see withhold_scope.
        self._withheld: list[re.Pattern[str]] = []

    # ------------------------------------------------------------------------------------ lifecycle

    @property
    def books_organization_id(self) -> str:
        return self.state.books_organization_id

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL: the accounts server and the API domain at once."""
        return f"http://{self.host}:{self.port}"

    accounts_url = url
    api_url = url

    def start(self) -> ZohoSimulator:
        """Listen (on a free port unless one was given) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = ClosingHTTPServer((self.host, self._port), _handler_class(self))
        server = self._server
        # A short poll interval makes stop() quick (tests start and stop a simulator each).
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.02), name="zoho-simulator", daemon=True
        )
        self._thread.start()
        logger.info("zoho simulator listening", extra={"url": self.url})
        return self

    def stop(self) -> None:
        """Stop serving; requests held by a TIMEOUT fault are released at once."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> ZohoSimulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def withhold_scope(self, route_pattern: str) -> None:
        r"""Refuse every call whose route name matches ``route_pattern`` (``r"^books\.mark_"``) as Zoho
        refuses a valid token that lacks the call's scope: Books HTTP 401 code 57 (the code it gives a
        dead token too), CRM HTTP 401 ``OAUTH_SCOPE_MISMATCH``."""
        self._withheld.append(re.compile(route_pattern))

    def settings_env(self) -> dict[str, str]:
        """``SYNC_GUARD_*`` variables that point the guard's Zoho clients at this simulator."""
        return {
            "SYNC_GUARD_ZOHO_ACCOUNTS_URL": self.url,
            "SYNC_GUARD_ZOHO_API_URL": self.url,
            "SYNC_GUARD_ZOHO_CLIENT_ID": self.client_id,
            "SYNC_GUARD_ZOHO_CLIENT_SECRET": self.client_secret,
            "SYNC_GUARD_ZOHO_REFRESH_TOKEN": self.refresh_token,
            "SYNC_GUARD_ZOHO_BOOKS_ORGANIZATION_ID": self.books_organization_id,
        }

    def settings(self, **overrides: Any) -> Settings:
        """A ``Settings`` whose Zoho values point at this simulator (plus any ``overrides``)."""
        values: dict[str, Any] = {
            "zoho_accounts_url": self.url,
            "zoho_api_url": self.url,
            "zoho_client_id": self.client_id,
            "zoho_client_secret": self.client_secret,
            "zoho_refresh_token": self.refresh_token,
            "zoho_books_organization_id": self.books_organization_id,
        }
        values.update(overrides)
        return Settings(**values)

    def reset(
        self,
        *,
        id_block: int = 0,
        assumptions: Assumptions | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> SimulatorState:
        """Replace the data with an empty organisation (same URL, credentials and tokens); returns it.

        The demo runs one scenario after another against one running guard; ``id_block`` keeps each
        scenario's ids apart so the guard's shadow never confuses two scenarios' records.
        """
        self.state = SimulatorState(
            books_organization_id=self.state.books_organization_id,
            clock=clock,
            assumptions=assumptions,
            id_block=id_block,
        )
        router = Router()
        crm_api.register(router, self.state)
        books_api.register(router, self.state)
        self.router = router
        self._register_control_routes()
        self.requests.reset()
        return self.state

    # ------------------------------------------------------------------------------------ dispatch

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[Response, Fault | None]:
        """Answer one request (the HTTP handler's only job is moving bytes). Also records it."""
        split = urlsplit(raw_path)
        query = {key: values[0] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        request = Request(method, split.path, query, headers, body)
        if split.path == "/oauth/v2/token" and method == "POST":
            route_name, api, record_id = "oauth.token", Api.OAUTH, None
            matched: Route | None = None
        else:
            found = self.router.match(method, split.path)
            if found is None:
                response = self._not_found(split.path)
                self.requests.add(method, "unmatched", split.path, response.status, None, None)
                return response, None
            matched, request.params = found
            route_name, api = matched.name, matched.api
            record_id = request.params.get(matched.record_param) if matched.record_param else None
        fault = self.faults.decide(route_name)
        if fault is None:
            response = self._dispatch(request, matched, api, route_name)
        elif fault.kind is not FaultKind.TIMEOUT:
            response = _fault_response(fault, api, method)
        else:
            # Logged now, with status 0: the client should give up before the 504 goes (one starved of CPU
            # past the hold may still read it).
            self.requests.add(method, route_name, split.path, 0, fault.kind, record_id)
            self._stopping.wait(fault.delay)
            if fault.applies_effect:
                return self._dispatch(request, matched, api, route_name), fault
            return Response(504, {"message": "simulated timeout"}), fault
        self.requests.add(
            method, route_name, split.path, response.status, fault.kind if fault else None, record_id
        )
        return response, fault

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being handled (e.g. one held by a TIMEOUT fault); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def _enter(self) -> None:
        with self._idle:
            self._in_flight += 1

    def _leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def _dispatch(self, request: Request, route: Route | None, api: Api, route_name: str) -> Response:
        if route is None:
            return self._token(request)
        try:
            denied = self._check_access(request, api, route_name)
            if denied is not None:
                return denied
            if api is not Api.SIM:
                wait = self.limits.admit(api.value)
                if wait is not None:
                    return _fault_response(Fault(FaultKind.RATE_LIMIT, wait, 0.0, False), api, request.method)
            response = route.handler(request)
            if api is Api.CRM:
                credits = self.limits.spend_crm_credit()
                if credits is not None:
                    response.headers["X-API-CREDITS-REMAINING"] = str(credits)
            return response
        except SimulatorError as error:
            return books_api.render_error(error) if api is Api.BOOKS else crm_api.render_error(error)
        except BadQuery as error:
            return books_api.render_bad_query(error) if api is Api.BOOKS else crm_api.render_bad_query(error)
        except ValueError:
            if api is Api.BOOKS:
                return books_api.books_error(400, 4, "Invalid JSON")
            return crm_api.crm_error(400, "INVALID_DATA", "body is not valid JSON")

    def _token(self, request: Request) -> Response:
        status, body = self.authority.refresh(request.form(), api_domain=self.url)
        return Response(status, body)

    def _check_access(self, request: Request, api: Api, route_name: str) -> Response | None:
        if api is Api.SIM:
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Zoho-oauthtoken" or not token.strip():
            if api is Api.BOOKS:
                return books_api.books_error(401, 57, "You are not authorized to perform this operation")
            return crm_api.crm_error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        if not self.authority.is_valid(token.strip()):
            if api is Api.BOOKS:
                return books_api.books_error(401, 57, "You are not authorized to perform this operation")
            return crm_api.crm_error(401, "INVALID_TOKEN", "invalid oauth token")
        if any(pattern.search(route_name) for pattern in self._withheld):
            if api is Api.BOOKS:
                return books_api.books_error(401, 57, "You are not authorized to perform this operation")
            return crm_api.crm_error(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")
        if api is Api.BOOKS:
            org = request.query.get("organization_id")
            if not org:
                return books_api.books_error(
                    400,
                    self.state.assumptions.books_missing_org_code,
                    "Invalid value passed for organization_id",
                )
            if org != self.books_organization_id:
                return books_api.books_error(
                    400,
                    self.state.assumptions.books_unknown_org_code,
                    f"This user is not associated with the CompanyID/CompanyName:{org}.",
                )
        return None

    def _not_found(self, path: str) -> Response:
        if path.startswith("/books/"):
            return books_api.books_error(404, 5, "Invalid URL Passed")
        return crm_api.crm_error(
            404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
        )

    # ------------------------------------------------------------------------------- control routes

    def _register_control_routes(self) -> None:
        def state_route(_: Request) -> Response:
            return Response(200, self.state.snapshot())

        def requests_route(_: Request) -> Response:
            counts = [
                {"route": route, "status": status, "count": n}
                for (route, status), n in sorted(self.requests.by_route_and_status().items())
            ]
            return Response(200, {"requests": counts, "faults": dict(self.faults.injected)})

        def reset_requests(_: Request) -> Response:
            self.requests.reset()
            return Response(200, {"ok": True})

        def faults_route(request: Request) -> Response:
            body = request.json() or {}
            allowed = {f.name for f in fields(FaultConfig)}
            unknown = set(body) - allowed
            if unknown:
                return Response(400, {"error": f"unknown fault settings: {sorted(unknown)}"})
            if "weights" in body:
                body["weights"] = {FaultKind(k): float(v) for k, v in body["weights"].items()}
            config = self.faults.configure(**body)
            data = asdict(config)
            data["weights"] = {k.value: v for k, v in config.weights.items()}
            return Response(200, data)

        def seed_crm(request: Request) -> Response:
            record = self.state.crm_create(
                request.params["module"], request.json() or {}, source=Source.ADMIN
            )
            return Response(201, record)

        def seed_books(request: Request) -> Response:
            return Response(201, self.state.books_create_contact(request.json() or {}, source=Source.ADMIN))

        self.router.add("GET", "/_sim/state", "sim.state", Api.SIM, state_route)
        self.router.add("GET", "/_sim/requests", "sim.requests", Api.SIM, requests_route)
        self.router.add("POST", "/_sim/requests/reset", "sim.requests_reset", Api.SIM, reset_requests)
        self.router.add("POST", "/_sim/faults", "sim.faults", Api.SIM, faults_route)
        self.router.add("POST", "/_sim/crm/(?P<module>[A-Za-z_]+)", "sim.seed_crm", Api.SIM, seed_crm)
        self.router.add("POST", "/_sim/books/contacts", "sim.seed_books", Api.SIM, seed_books)


_BOOKS_TOO_MANY = {"code": 45, "message": "You have made too many requests. Please try again later."}
_CRM_INTERNAL_ERROR = {
    "code": "INTERNAL_ERROR",
    "details": {},
    "message": "Internal Server Error",
    "status": "error",
}


def _fault_response(fault: Fault, api: Api, method: str) -> Response:
    if fault.kind is FaultKind.RATE_LIMIT_IN_BODY and api is Api.BOOKS:
        # The code Books gives too many requests, in the 400 envelope of its other errors (unconfirmed).
        return Response(400, dict(_BOOKS_TOO_MANY))
    if fault.kind is FaultKind.RECORD_INTERNAL_ERROR and api is Api.CRM and method in ("POST", "PUT"):
        # A write's per-record outcome: the request was taken, the record failed on CRM's side.
        return Response(207, {"data": [dict(_CRM_INTERNAL_ERROR)]})
    if fault.kind in (FaultKind.RATE_LIMIT, FaultKind.RATE_LIMIT_IN_BODY):
        # Whole seconds, rounded up, as HTTP has it; sub-second values (tests) are sent as they are.
        seconds = math.ceil(fault.retry_after) if fault.retry_after >= 1 else fault.retry_after
        headers = {"Retry-After": f"{seconds:g}"}
        if api is Api.BOOKS:
            body: Any = dict(_BOOKS_TOO_MANY)
        elif api is Api.OAUTH:
            body = {"error": "too_many_requests"}
        else:
            body = {
                "code": "TOO_MANY_REQUESTS",
                "details": {},
                "message": "The API request limit has exceeded",
                "status": "error",
            }
        return Response(429, body, headers)
    if api is Api.BOOKS:
        return Response(500, {"code": 1000, "message": "Internal error"})
    return Response(500, dict(_CRM_INTERNAL_ERROR))


def _handler_class(sim: ZohoSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms per call.
        disable_nagle_algorithm = True
        server_version = "ZohoSimulator/1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            sim._enter()
            try:
                response, _ = sim.handle(self.command, self.path, dict(self.headers.items()), body)
            finally:
                sim._leave()
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            try:
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                if response.body is not None:
                    self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a TIMEOUT fault): nothing to answer

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return  # request lines can carry emails; the RequestLog keeps what tests need

    return Handler
