"""The Zoho access token shared by every Lambda container: one item in the shadow table.

Implements :class:`sync_guard.zoho.auth.TokenCache`. The item (``TOKEN#<client id>`` / ``T``; keyed by the
OAuth client of the credentials in use, never by a token: ``for_client`` after the Zoho secret changed)
holds ``access_token``, ``api_domain``, ``token_expires_at`` and ``token_issued_at`` (epoch seconds, wall
clock), ``version``, and the fleet's mint bookkeeping: ``mints``
(when refresh requests were sent, last 10 minutes: each may have minted a token, answered or not; one
Zoho refused for its credentials minted nothing and is taken out again, ``forget_mint_request``), a
short ``lease`` on the next mint, and the last refusal of credentials (``refused_fingerprint``: a digest of
the credentials Zoho refused, never them; ``refused_until``; ``refused_reason``: the error's message), so
that no container asks Zoho again with those credentials until ``refused_until``.

- ``put`` is conditional on the version read (``attribute_not_exists(version)`` for the first token): when
  containers race, one token is stored and the others adopt it (``ZohoOAuth.token``).
- ``get`` also keeps containers from each minting. When the stored token is stale, only the container that
  takes the mint lease (a conditional update) gets the stale token back and mints; the others wait a few
  seconds for its token and use that (a container whose mint failed gives the lease up at once,
  ``release``). And when the fleet has sent 10 refresh requests in the last 10 minutes (Zoho's limit per
  refresh token counts tokens, and each request may mint one), ``count_mint_request`` raises
  :class:`ZohoTokenRateLimited` instead of letting anyone send an eleventh; ``get`` then returns the stored
  token at once (no lease, no wait), so that ``ZohoOAuth`` keeps using it while it still works and fails the
  call only once it does not (the caller's retry comes later: the outbox, the queue).

``expires_at`` is the table's TTL attribute (a day after the token's expiry). The access token is a
credential: it stays in the (KMS-encrypted) table and is never logged.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from sync_guard.config import Settings
from sync_guard.store import aws
from sync_guard.store.aws import is_conditional_check_failure
from sync_guard.zoho.auth import (
    DEFAULT_REFRESH_MARGIN_SECONDS,
    TOKEN_WINDOW_SECONDS,
    TOKENS_PER_WINDOW,
    CachedToken,
)
from sync_guard.zoho.errors import ZohoTokenRateLimited

_SK = "T"
#: Reads and conditional appends of one mint count, while other containers append theirs.
_COUNT_ATTEMPTS = 5


class DynamoTokenCache:
    """A ``TokenCache`` in DynamoDB (strongly consistent reads, conditional writes, a mint lease)."""

    def __init__(
        self,
        client: Any,
        table: str,
        client_id: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN_SECONDS,
        lease_seconds: float = 15.0,
        wait_seconds: float = 5.0,
        poll_seconds: float = 0.2,
        mint_limit: int = TOKENS_PER_WINDOW,
        window_seconds: float = TOKEN_WINDOW_SECONDS,
    ) -> None:
        if not client_id:
            raise ValueError("the token cache is keyed by the Zoho client id; none configured")
        self._client = client
        self.table = table
        self.client_id = client_id
        self._key = {"pk": {"S": f"TOKEN#{client_id}"}, "sk": {"S": _SK}}
        self._clock = clock
        self._sleep = sleep
        self._margin = refresh_margin
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._mint_limit = mint_limit
        self._window = window_seconds
        # Identifies this container's lease.
        self.owner = uuid.uuid4().hex

    @classmethod
    def from_settings(cls, settings: Settings, client_id: str | None = None) -> DynamoTokenCache:
        table = settings.shadow_table
        return cls(aws.client("dynamodb", settings), table, client_id or settings.zoho_client_id)

    def for_client(self, client_id: str) -> DynamoTokenCache:
        """The item of another OAuth client (the Zoho secret now names it), with the same table and
        timings; this cache when it is already that client's."""
        if client_id == self.client_id:
            return self
        if not client_id:
            raise ValueError("the token cache is keyed by the Zoho client id; none given")
        other = copy.copy(self)
        other.client_id = client_id
        other._key = {"pk": {"S": f"TOKEN#{client_id}"}, "sk": {"S": _SK}}
        other.owner = uuid.uuid4().hex  # a lease on the other item is this container's afresh
        return other

    # ------------------------------------------------------------------------------------ reads
    def _item(self) -> dict[str, Any]:
        return dict(
            self._client.get_item(TableName=self.table, Key=self._key, ConsistentRead=True).get("Item") or {}
        )

    @staticmethod
    def _token(item: dict[str, Any]) -> CachedToken | None:
        if "access_token" not in item:
            return None
        return CachedToken(
            access_token=item["access_token"]["S"],
            api_domain=item["api_domain"]["S"],
            expires_at=float(item["token_expires_at"]["N"]),
            version=int(item["version"]["N"]),
            issued_at=float(item.get("token_issued_at", {}).get("N", "0")),
        )

    def get(self) -> CachedToken | None:
        """The stored token; when it is stale, wait for a peer's mint unless this container may mint."""
        deadline = self._clock() + self._wait_seconds
        while True:
            item = self._item()
            token = self._token(item)
            now = self._clock()
            if token is not None and token.is_fresh(now, self._margin):
                return token
            if len(self._recent_mints(item, now)) >= self._mint_limit:
                # No one may mint now: the caller's refresh request is refused by count_mint_request, and
                # the caller keeps using this token while it still works (better than failing the call).
                return token
            lease_until = float(item.get("lease_until", {}).get("N", "0"))
            lease_owner = item.get("lease_owner", {}).get("S")
            may_mint = lease_owner == self.owner or lease_until <= now
            if may_mint and self._take_lease(item, now):
                return token  # stale or None: the caller mints, and put() releases the lease
            if now >= deadline:
                # The peer holding the lease is slow or gone: mint anyway, within the fleet's budget (which
                # count_mint_request keeps).
                return token
            self._sleep(self._poll_seconds)

    def _recent_mints(self, item: dict[str, Any], now: float) -> list[float]:
        """When the refresh requests within the window were sent, oldest first."""
        return sorted(
            float(t["N"]) for t in item.get("mints", {}).get("L", []) if float(t["N"]) > now - self._window
        )

    def _check_budget(self, item: dict[str, Any], now: float) -> list[float]:
        """Mint times within the window; raises when the fleet may not mint another token yet."""
        recent = self._recent_mints(item, now)
        if len(recent) >= self._mint_limit:
            raise ZohoTokenRateLimited(
                f"{len(recent)} Zoho token requests sent in {self._window:.0f}s by the fleet; not minting",
                retry_after=recent[0] + self._window - now,
            )
        return recent

    def _take_lease(self, item: dict[str, Any], now: float) -> bool:
        recent = self._recent_mints(item, now)
        values: dict[str, Any] = {
            ":owner": {"S": self.owner},
            ":until": {"N": repr(now + self._lease_seconds)},
            ":now": {"N": repr(now)},
            ":recent": {"L": [{"N": repr(t)} for t in recent]},
        }
        try:
            self._client.update_item(
                TableName=self.table,
                Key=self._key,
                UpdateExpression="SET lease_owner = :owner, lease_until = :until, mints = :recent",
                ConditionExpression=(
                    "attribute_not_exists(lease_until) OR lease_until <= :now OR lease_owner = :owner"
                ),
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    # ------------------------------------------------------------------------------------ writes
    def count_mint_request(self) -> float:
        """Count a refresh POST about to be sent (returns the time counted); raises when the fleet may not
        send another yet.

        The count is appended only while the list is as long as the one the budget was checked on: two
        containers minting past a slow peer's lease at the same moment would otherwise both pass the check
        on the same nine requests and send an eleventh. The one that loses reads the list again.
        """
        for _ in range(_COUNT_ATTEMPTS):
            item = self._item()
            now = self._clock()
            self._check_budget(item, now)
            seen = len(item.get("mints", {}).get("L", []))
            try:
                self._client.update_item(
                    TableName=self.table,
                    Key=self._key,
                    UpdateExpression="SET mints = list_append(if_not_exists(mints, :empty), :mint)",
                    ConditionExpression="attribute_not_exists(mints) OR size(mints) = :seen",
                    ExpressionAttributeValues={
                        ":empty": {"L": []},
                        ":mint": {"L": [{"N": repr(now)}]},
                        ":seen": {"N": str(seen)},
                    },
                )
                return now
            except ClientError as error:
                if not is_conditional_check_failure(error):
                    raise
        raise ZohoTokenRateLimited(
            "other containers are counting Zoho token requests at the same moment; not minting yet",
            retry_after=self._poll_seconds,
        )

    def forget_mint_request(self, counted: float) -> None:
        """Take the request counted at ``counted`` out of the fleet's count: Zoho refused the credentials
        and minted nothing. The entry is removed by its place, on the condition that it is still there
        (peers append, and a lease taken trims the list, meanwhile); one already gone is left so."""
        for _ in range(_COUNT_ATTEMPTS):
            mints = self._item().get("mints", {}).get("L", [])
            place = next((i for i, t in enumerate(mints) if float(t["N"]) == counted), None)
            if place is None:
                return  # out of the window already, or trimmed away
            try:
                self._client.update_item(
                    TableName=self.table,
                    Key=self._key,
                    UpdateExpression=f"REMOVE mints[{place}]",
                    ConditionExpression=f"mints[{place}] = :stamp",
                    ExpressionAttributeValues={":stamp": {"N": repr(counted)}},
                )
                return
            except ClientError as error:
                if not is_conditional_check_failure(error):
                    raise

    def remember_refusal(self, fingerprint: str, reason: str, *, seconds: float) -> None:
        """Keep Zoho's refusal of the credentials of ``fingerprint`` for ``seconds`` (the last refusal
        only: another secret refused replaces it). An item holding nothing else lapses a day later."""
        until = self._clock() + seconds
        self._client.update_item(
            TableName=self.table,
            Key=self._key,
            UpdateExpression=(
                "SET refused_fingerprint = :fingerprint, refused_until = :until, refused_reason = :reason, "
                "expires_at = if_not_exists(expires_at, :ttl)"
            ),
            ExpressionAttributeValues={
                ":fingerprint": {"S": fingerprint},
                ":until": {"N": repr(until)},
                ":reason": {"S": reason[:1000]},
                ":ttl": {"N": str(int(until) + 86_400)},
            },
        )

    def refusal(self, fingerprint: str) -> str | None:
        """The message of the refusal of ``fingerprint`` kept by :meth:`remember_refusal`, until it lapses."""
        item = self._item()
        if item.get("refused_fingerprint", {}).get("S") != fingerprint:
            return None
        if float(item.get("refused_until", {}).get("N", "0")) <= self._clock():
            return None
        return item.get("refused_reason", {}).get("S") or "Zoho refused these credentials"

    def release(self) -> None:
        """Give up this container's mint lease (its mint failed), so that peers mint without waiting."""
        try:
            self._client.update_item(
                TableName=self.table,
                Key=self._key,
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": {"S": self.owner}},
            )
        except ClientError as error:
            if not is_conditional_check_failure(error):  # another container's lease by now: left alone
                raise

    def forget(self) -> None:
        """Drop the stored token and its bookkeeping: for a Zoho that never issued it (the local stack's
        simulator, started afresh beside tables kept from an earlier run), where it is no token at all
        and its mints were not counted. The next call mints."""
        self._client.delete_item(TableName=self.table, Key=self._key)

    def put(self, token: CachedToken, *, expected_version: int | None) -> bool:
        """Store ``token`` if the version is still the one read (mints are counted per request sent)."""
        names = {"#version": "version"}
        values: dict[str, Any] = {
            ":token": {"S": token.access_token},
            ":domain": {"S": token.api_domain},
            ":expires": {"N": repr(float(token.expires_at))},
            ":issued": {"N": repr(float(token.issued_at))},
            ":ttl": {"N": str(int(max(token.expires_at, self._clock())) + 86_400)},
            ":version": {"N": str(token.version)},
        }
        update = (
            "SET access_token = :token, api_domain = :domain, token_expires_at = :expires, "
            "token_issued_at = :issued, expires_at = :ttl, #version = :version"
        )
        update += " REMOVE lease_owner, lease_until"
        if expected_version is None:
            condition = "attribute_not_exists(#version)"
        else:
            condition = "#version = :expected"
            values[":expected"] = {"N": str(expected_version)}
        try:
            self._client.update_item(
                TableName=self.table,
                Key=self._key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def __repr__(self) -> str:
        return f"DynamoTokenCache(table={self.table!r})"
