"""The Zoho access token shared by every Lambda container: one item in the shadow table.

Implements :class:`sync_guard.zoho.auth.TokenCache` as its docstring describes: the item is keyed by the
OAuth client id (never by a token), holds ``access_token``, ``api_domain``, ``token_expires_at`` (epoch
seconds, wall clock) and ``version``; ``put`` is conditional on the version read (``attribute_not_exists``
for the first token), so when several containers find the token stale at once only one stores its token and
the others adopt it (``ZohoOAuth.token``). ``expires_at`` is the table's TTL attribute: an expired token is
removed by DynamoDB in due course.

The shared item is what keeps a fleet under Zoho's 10-tokens-per-10-minutes limit: a fresh token minted by
any container is used by all of them for its hour. The access token is a credential: it is stored in the
(KMS-encrypted) table and never logged.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sync_guard.config import Settings
from sync_guard.store import aws
from sync_guard.zoho.auth import CachedToken

_SK = "T"


class DynamoTokenCache:
    """A ``TokenCache`` in DynamoDB (strongly consistent reads, conditional writes)."""

    def __init__(self, client: Any, table: str, client_id: str) -> None:
        if not client_id:
            raise ValueError("the token cache is keyed by the Zoho client id; none configured")
        self._client = client
        self.table = table
        self._key = {"pk": {"S": f"TOKEN#{client_id}"}, "sk": {"S": _SK}}

    @classmethod
    def from_settings(cls, settings: Settings, client_id: str | None = None) -> DynamoTokenCache:
        return cls(
            aws.client("dynamodb", settings), settings.shadow_table, client_id or settings.zoho_client_id
        )

    def get(self) -> CachedToken | None:
        item = self._client.get_item(TableName=self.table, Key=self._key, ConsistentRead=True).get("Item")
        if not item or "access_token" not in item:
            return None
        return CachedToken(
            access_token=item["access_token"]["S"],
            api_domain=item["api_domain"]["S"],
            expires_at=float(item["token_expires_at"]["N"]),
            version=int(item["version"]["N"]),
        )

    def put(self, token: CachedToken, *, expected_version: int | None) -> bool:
        item = {
            **self._key,
            "access_token": {"S": token.access_token},
            "api_domain": {"S": token.api_domain},
            "token_expires_at": {"N": repr(float(token.expires_at))},
            # TTL: a day after expiry (an invalidated token has expires_at 0: keep the item, drop the token).
            "expires_at": {"N": str(int(max(token.expires_at, 0)) + 86_400)}
            if token.expires_at > 0
            else None,
            "version": {"N": str(token.version)},
        }
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Item": {name: value for name, value in item.items() if value is not None},
        }
        if expected_version is None:
            kwargs["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            kwargs["ConditionExpression"] = "#version = :expected"
            kwargs["ExpressionAttributeNames"] = {"#version": "version"}
            kwargs["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        try:
            self._client.put_item(**kwargs)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def __repr__(self) -> str:
        return f"DynamoTokenCache(table={self.table!r})"
