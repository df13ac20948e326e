"""What the scheduled Zoho checks remember between runs: one item per check in the shadow table.

Items (``pk`` ``ZOHO_CHECK``, one Query reads them all):

- ``ZOHO_CHECK`` / ``webhook_failures``, ``deleted:Accounts``, ``deleted:Contacts``: ``swept_until``, the
  watermark (fixed-width UTC ISO, so string order is time order) up to which the check has fed everything
  Zoho listed, and ``updated_at``. It only ever moves forward (a conditional update), so two overlapping
  runs cannot move it back.
- ``ZOHO_CHECK`` / ``sync_stall:episode``: the sync stall reported and not yet seen to end (``since``,
  ``reported_at``, ``examples``); absent while the sync is healthy.
- ``ZOHO_CHECK`` / ``deleted:Books:sweep``: the Books missed-delete sweep's pass in progress (``started``,
  ``next_page``, ``listed``, ``confirmed_through``, ``refused``); absent between passes (the watermark item
  ``deleted:Books`` says when the last one began).
- ``ZOHO_CHECK`` / ``deleted:Books:page#000001``...: the contact ids one page of that pass's listing held
  (``ids``), with the pass's ``started``; deleted when the pass ends, ignored if left by another pass.
- ``ZOHO_CHECK`` / ``books_organization``: the Books organisation the shadow's Books customers come from
  (``organization_id``, ``recorded_at``, ``recorded_by``), written once, by the first of ``sync-guard seed
  --from-zoho`` and the first scheduled run, on condition that it is absent; only ``sync-guard
  books-organization --adopt`` changes it, on condition that it still holds the id the admin read.
- ``ZOHO_CHECK`` / ``notification_channel``: the Notification API channel as last renewed: ``channel_id``,
  ``expires_at``, ``notify_url``, ``events``, ``token_fingerprint`` (a short hash that tells a rotated
  webhook secret apart, never the token) and ``renewed_at``.

The shadow table already holds the shared Zoho token; rekey and the engine read ``REC#``/``KEY#`` items only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from sync_guard.config import Settings
from sync_guard.errors import ConcurrentUpdate
from sync_guard.reconcile.organization import OrganizationRecordUnreadable
from sync_guard.reconcile.ports import BooksDeletePass, BooksOrganization, ChannelState
from sync_guard.reconcile.stall import StallEpisode
from sync_guard.store import aws
from sync_guard.store.aws import is_conditional_check_failure
from sync_guard.store.items import from_item, iso, parse_iso, to_item, to_value

PARTITION = "ZOHO_CHECK"
CHANNEL_SK = "notification_channel"
# Beside the stall check's own watermark (``sync_stall``: when it last looked).
STALL_SK = "sync_stall:episode"
# Beside the Books missed-delete sweep's watermark (``deleted:Books``: when its last full pass began).
BOOKS_SWEEP_SK = "deleted:Books:sweep"
BOOKS_PAGE_SK = "deleted:Books:page#"
BOOKS_ORGANIZATION_SK = "books_organization"


class DynamoCheckState:
    """``CheckState`` on the shadow table."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self.table = table

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoCheckState:
        return cls(aws.client("dynamodb", settings), settings.shadow_table)

    def _get(self, sk: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self.table,
            Key={"pk": to_value(PARTITION), "sk": to_value(sk)},
            ConsistentRead=True,
        ).get("Item")
        return from_item(item) if item else None

    def _delete(self, sk: str, *, unless_changed: tuple[str, str] | None = None) -> bool:
        """Delete the item ``sk``; with ``unless_changed`` (attribute, value), only while the item still
        holds that value (False when it does not, or is gone)."""
        condition: dict[str, Any] = {}
        if unless_changed is not None:
            attribute, value = unless_changed
            condition = {
                "ConditionExpression": "#held = :held",
                "ExpressionAttributeNames": {"#held": attribute},
                "ExpressionAttributeValues": {":held": to_value(value)},
            }
        try:
            self._client.delete_item(
                TableName=self.table, Key={"pk": to_value(PARTITION), "sk": to_value(sk)}, **condition
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def _put(self, sk: str, values: dict[str, Any]) -> None:
        """Write the item ``sk`` whole (the last write wins)."""
        self._client.put_item(TableName=self.table, Item=to_item({"pk": PARTITION, "sk": sk, **values}))

    def watermark(self, check: str) -> datetime | None:
        """Where ``check`` stopped last time, or None before its first successful run."""
        item = self._get(check)
        return parse_iso(item["swept_until"]) if item and "swept_until" in item else None

    def advance(self, check: str, to: datetime, *, at: datetime) -> bool:
        """Move the watermark forward to ``to``; False (nothing written) if it is already there or past."""
        try:
            self._client.update_item(
                TableName=self.table,
                Key={"pk": to_value(PARTITION), "sk": to_value(check)},
                UpdateExpression="SET swept_until = :to, updated_at = :at",
                ConditionExpression="attribute_not_exists(swept_until) OR swept_until < :to",
                ExpressionAttributeValues={":to": to_value(iso(to)), ":at": to_value(iso(at))},
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def rewind(self, check: str, claimed: datetime, to: datetime | None, *, at: datetime) -> bool:
        """Put the watermark back from ``claimed`` to ``to`` (None: as before the first run), only while it
        still is ``claimed``: a run that claimed a time by moving the watermark there, then failed, gives
        the claim back. False (nothing written) when another run moved it since."""
        if to is None:
            update, values = "REMOVE swept_until SET updated_at = :at", {}
        else:
            update, values = "SET swept_until = :to, updated_at = :at", {":to": to_value(iso(to))}
        try:
            self._client.update_item(
                TableName=self.table,
                Key={"pk": to_value(PARTITION), "sk": to_value(check)},
                UpdateExpression=update,
                ConditionExpression="swept_until = :claimed",
                ExpressionAttributeValues={
                    ":claimed": to_value(iso(claimed)),
                    ":at": to_value(iso(at)),
                    **values,
                },
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def channel(self) -> ChannelState | None:
        """The channel as the guard last renewed it."""
        item = self._get(CHANNEL_SK)
        if item is None:
            return None
        return ChannelState(
            channel_id=str(item["channel_id"]),
            expires_at=parse_iso(item["expires_at"]),
            notify_url=str(item["notify_url"]),
            events=tuple(str(e) for e in item.get("events") or ()),
            token_fingerprint=str(item.get("token_fingerprint", "")),
            renewed_at=parse_iso(item["renewed_at"]),
        )

    def save_channel(self, state: ChannelState) -> None:
        """Remember a renewal (the last one wins: renewing is idempotent on Zoho's side too)."""
        self._put(
            CHANNEL_SK,
            {
                "channel_id": state.channel_id,
                "expires_at": iso(state.expires_at),
                "notify_url": state.notify_url,
                "events": list(state.events),
                "token_fingerprint": state.token_fingerprint,
                "renewed_at": iso(state.renewed_at),
            },
        )

    def stall_episode(self) -> StallEpisode | None:
        """The sync stall the guard reported and has not yet seen end, if any."""
        item = self._get(STALL_SK)
        if item is None:
            return None
        return StallEpisode(
            since=parse_iso(item["since"]),
            reported_at=parse_iso(item["reported_at"]),
            examples=tuple(str(ref) for ref in item.get("examples") or ()),
        )

    def open_stall(self, episode: StallEpisode) -> bool:
        """Remember a reported stall unless one is open already (False: another run opened one)."""
        try:
            self._client.put_item(
                TableName=self.table,
                Item=to_item(
                    {
                        "pk": PARTITION,
                        "sk": STALL_SK,
                        "since": iso(episode.since),
                        "reported_at": iso(episode.reported_at),
                        "examples": list(episode.examples),
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def close_stall(self, episode: StallEpisode) -> bool:
        """Forget the stall reported at ``episode.reported_at``; False when it is gone (or another)."""
        return self._delete(STALL_SK, unless_changed=("reported_at", iso(episode.reported_at)))

    # ------------------------------------------------------------ the Books missed-delete sweep
    def books_delete_pass(self) -> BooksDeletePass | None:
        """The sweep's pass in progress, if any."""
        item = self._get(BOOKS_SWEEP_SK)
        return _books_delete_pass(item) if item else None

    def save_books_delete_pass(self, sweep: BooksDeletePass, *, new: bool = False) -> None:
        """Start the pass (``new``: only while none is kept) or remember how far it got (only while it is
        still the pass kept). Two runs can overlap (a schedule delivered twice, a run by hand): the one
        that lost raises ``ConcurrentUpdate`` rather than keep a second pass or bring an ended one back
        without its pages."""
        condition: dict[str, Any]
        if new:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "#started = :started",
                "ExpressionAttributeNames": {"#started": "started"},
                "ExpressionAttributeValues": {":started": to_value(iso(sweep.started))},
            }
        item = {
            "pk": PARTITION,
            "sk": BOOKS_SWEEP_SK,
            "started": iso(sweep.started),
            "next_page": sweep.next_page,
            "listed": sweep.listed,
            "confirmed_through": sweep.confirmed_through or None,  # DynamoDB takes no empty string
            "refused": list(sweep.refused),
        }
        try:
            self._client.put_item(TableName=self.table, Item=to_item(item), **condition)
        except ClientError as error:
            if is_conditional_check_failure(error):
                raise ConcurrentUpdate("another run started or ended the Books missed-delete pass") from error
            raise

    def save_listed_page(self, sweep: BooksDeletePass, page: int, contact_ids: Sequence[str]) -> None:
        """The contact ids one page of the pass's listing held (200 ids: a few kilobytes)."""
        self._put(f"{BOOKS_PAGE_SK}{page:06d}", {"started": iso(sweep.started), "ids": list(contact_ids)})

    def _listed_pages(self) -> Iterator[dict[str, Any]]:
        for item in aws.every_item(
            self._client.query,
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :page)",
            ExpressionAttributeValues={":pk": to_value(PARTITION), ":page": to_value(BOOKS_PAGE_SK)},
            ConsistentRead=True,
        ):
            yield from_item(item)

    def listed_contact_ids(self, sweep: BooksDeletePass) -> set[str]:
        """Every contact id the pages of ``sweep`` held; pages another pass left are not counted."""
        started = iso(sweep.started)
        listed: set[str] = set()
        for page in self._listed_pages():
            if page.get("started") == started:
                listed.update(str(contact_id) for contact_id in page.get("ids") or ())
        return listed

    def end_books_delete_pass(self, sweep: BooksDeletePass) -> None:
        """Forget the pass and every listed page (a page left by a failed delete is ignored later)."""
        for page in list(self._listed_pages()):
            self._delete(str(page["sk"]))
        # Unless a run started meanwhile began another pass: that one is the other run's.
        self._delete(BOOKS_SWEEP_SK, unless_changed=("started", iso(sweep.started)))

    # ------------------------------------------------------------ the shadow's Books organisation
    def books_organization(self) -> BooksOrganization | None:
        """The Books organisation recorded for the shadow, if any.

        The item may have been edited by hand: a time or author that is missing or unreadable is read
        as unknown, while an item without an organisation id raises ``OrganizationRecordUnreadable``
        (retryable) naming the item and the field, rather than be taken for "nothing recorded"."""
        item = self._get(BOOKS_ORGANIZATION_SK)
        if item is None:
            return None
        organization_id = str(item.get("organization_id") or "").strip()
        if not organization_id:
            raise OrganizationRecordUnreadable(
                f"the shadow table's item {PARTITION} / {BOOKS_ORGANIZATION_SK} has no organization_id (was "
                "it edited by hand?): put back the id of the Books organisation whose customers the shadow "
                "holds. See 'Another Books organisation' in docs/operations.md",
                field="organization_id",
            )
        recorded_by = item.get("recorded_by")
        return BooksOrganization(
            organization_id,
            _time_or_none(item.get("recorded_at")),
            recorded_by.strip() if isinstance(recorded_by, str) else "",
        )

    def record_books_organization(self, organization_id: str, *, at: datetime, by: str) -> BooksOrganization:
        """Record ``organization_id`` unless an organisation is recorded already; returns the one recorded.
        Two first writers (a seed and a scheduled run) cannot disagree: the second one reads the first's."""
        kept = self.books_organization()
        if kept is not None:
            return kept
        recorded = BooksOrganization(organization_id, at, by)
        if self._put_books_organization(recorded, condition="attribute_not_exists(pk)"):
            return recorded
        kept = self.books_organization()
        if kept is None:  # recorded and removed in between: nobody removes it, but never answer None
            raise ConcurrentUpdate("the recorded Books organisation changed while it was read")
        return kept

    def adopt_books_organization(
        self, organization_id: str, *, replacing: str, at: datetime, by: str
    ) -> BooksOrganization:
        """Record ``organization_id`` in place of ``replacing`` (an admin's step); ``ConcurrentUpdate``
        when the recorded organisation is no longer ``replacing``."""
        adopted = BooksOrganization(organization_id, at, by)
        if not self._put_books_organization(
            adopted, condition="organization_id = :replacing", replacing=replacing
        ):
            raise ConcurrentUpdate(f"the recorded Books organisation is no longer {replacing}")
        return adopted

    def _put_books_organization(
        self, recorded: BooksOrganization, *, condition: str, replacing: str | None = None
    ) -> bool:
        item = {
            "pk": PARTITION,
            "sk": BOOKS_ORGANIZATION_SK,
            "organization_id": recorded.organization_id,
            "recorded_at": iso(recorded.recorded_at) if recorded.recorded_at else None,
            "recorded_by": recorded.recorded_by,
        }
        values = (
            {} if replacing is None else {"ExpressionAttributeValues": {":replacing": to_value(replacing)}}
        )
        try:
            self._client.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression=condition, **values
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True


def _time_or_none(value: Any) -> datetime | None:
    """A time as the guard writes it, or as a hand would (``2026-09-01T10:15:00+00:00``); None otherwise."""
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _books_delete_pass(item: dict[str, Any]) -> BooksDeletePass:
    return BooksDeletePass(
        started=parse_iso(item["started"]),
        next_page=int(item["next_page"]),
        listed=bool(item.get("listed", False)),
        confirmed_through=str(item.get("confirmed_through", "")),
        refused=tuple(str(contact_id) for contact_id in item.get("refused") or ()),
    )
