"""The simulator's accounts server: mints access tokens from refresh tokens, with Zoho's limit.

``POST /oauth/v2/token`` with ``grant_type=refresh_token`` answers, like Zoho, HTTP 200 with either the
token (``access_token``, ``expires_in: 3600``, ``api_domain``, ``token_type``) or ``{"error": ...}`` for bad
credentials; the 11th mint for one refresh token inside 10 minutes gets HTTP 400 ``Access Denied``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOKEN_LIFETIME_SECONDS = 3600
MINTS_PER_WINDOW = 10
WINDOW_SECONDS = 600.0


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str
    refresh_token: str


class TokenAuthority:
    """Registered self-clients, minted tokens, and the per-refresh-token mint window."""

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        lifetime: int = TOKEN_LIFETIME_SECONDS,
        mints_per_window: int = MINTS_PER_WINDOW,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - deterministic fake tokens
        self._clock = clock
        self.lifetime = lifetime
        self.mints_per_window = mints_per_window
        self.window = window
        self._clients: dict[str, OAuthClient] = {}  # by refresh token
        self._tokens: dict[str, float] = {}  # access token -> expiry (clock seconds)
        self._mints: dict[str, deque[float]] = {}
        self.minted: dict[str, int] = {}  # refresh token -> total minted
        self.refused: dict[str, int] = {}  # refresh token -> refused for the limit
        #: What a log must never show, in the order it came: each client's secret and refresh token, each
        #: access token minted (revoked and expired ones too). Only ever appended to.
        self.secrets: list[str] = []

    def register(self, client_id: str, client_secret: str, refresh_token: str) -> OAuthClient:
        """Add a self-client and its refresh token."""
        client = OAuthClient(client_id, client_secret, refresh_token)
        with self._lock:
            self._clients[refresh_token] = client
            self.secrets += [client_secret, refresh_token]
        return client

    def issue_directly(self) -> str:
        """An access token without going through the endpoint (admin/test convenience)."""
        with self._lock:
            token = self._new_token()
            self._tokens[token] = self._clock() + self.lifetime
            return token

    def _new_token(self) -> str:
        token = f"1000.{self._rng.getrandbits(128):032x}.{self._rng.getrandbits(128):032x}"
        self.secrets.append(token)
        return token

    def refresh(self, form: dict[str, str], api_domain: str) -> tuple[int, dict[str, Any]]:
        """Handle a token request; returns (HTTP status, JSON body)."""
        if form.get("grant_type") != "refresh_token":
            return 200, {"error": "unsupported_grant_type"}
        with self._lock:
            client = self._clients.get(form.get("refresh_token", ""))
            if client is None:
                return 200, {"error": "invalid_code"}
            if form.get("client_id") != client.client_id or form.get("client_secret") != client.client_secret:
                return 200, {"error": "invalid_client"}
            now = self._clock()
            window = self._mints.setdefault(client.refresh_token, deque())
            while window and window[0] <= now - self.window:
                window.popleft()
            if len(window) >= self.mints_per_window:
                self.refused[client.refresh_token] = self.refused.get(client.refresh_token, 0) + 1
                return 400, {
                    "error_description": "You have made too many requests continuously. "
                    "Please try again after some time.",
                    "error": "Access Denied",
                    "status": "failure",
                }
            window.append(now)
            self.minted[client.refresh_token] = self.minted.get(client.refresh_token, 0) + 1
            token = self._new_token()
            self._tokens[token] = now + self.lifetime
        return 200, {
            "access_token": token,
            "scope": "ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoBooks.fullaccess.all",
            "api_domain": api_domain,
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }

    def is_valid(self, access_token: str) -> bool:
        """Known and not expired."""
        with self._lock:
            expiry = self._tokens.get(access_token)
            return expiry is not None and self._clock() < expiry

    def revoke(self, access_token: str) -> None:
        """Make a token invalid before its expiry (tests of the client's 401 handling)."""
        with self._lock:
            self._tokens.pop(access_token, None)

    def revoke_all(self) -> None:
        with self._lock:
            self._tokens.clear()

    def total_minted(self) -> int:
        with self._lock:
            return sum(self.minted.values())
