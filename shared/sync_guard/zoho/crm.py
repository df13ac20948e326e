"""Zoho CRM v8 client: the few calls the guard needs, returning domain records.

Reads: one record, search (criteria / email / phone / word), deleted records, webhook failures.
Writes: tags (the quarantine lever) and field updates. The guard never deletes or merges CRM records, so
there are no such methods here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from sync_guard.models.records import Module, PartyRecord
from sync_guard.zoho.convert import crm_module, crm_record_to_party, parse_zoho_time
from sync_guard.zoho.errors import CrmApiError, ZohoListingIncomplete
from sync_guard.zoho.http import Dialect, ZohoHttp

# CRM lists records by page number up to this many; beyond, only by ``page_token`` (Zoho's API spec).
DISCRETE_PAGINATION_LIMIT = 2000
# Characters Zoho asks to escape with a backslash inside a criteria value.
_CRITERIA_SPECIALS = ("\\", "(", ")", ",")
NAME_FIELDS = {Module.CRM_ACCOUNTS: "Account_Name", Module.CRM_CONTACTS: "Full_Name"}


def escape_criteria_value(value: str) -> str:
    """Escape a value for ``(Field:operator:value)`` criteria."""
    for ch in _CRITERIA_SPECIALS:
        value = value.replace(ch, "\\" + ch)
    return value


def equals_criteria(field_name: str, value: str) -> str:
    """``(Field:equals:value)`` with the value escaped."""
    return f"({field_name}:equals:{escape_criteria_value(value)})"


@dataclass(frozen=True)
class DeletedRecord:
    """An entry of ``GET /{module}/deleted``: what was deleted, when and how (recycle bin or permanent)."""

    module: Module
    record_id: str
    display_name: str | None
    kind: str  # "recycle" | "permanent"
    deleted_at: datetime | None
    deleted_by: str | None


@dataclass(frozen=True)
class WebhookFailure:
    """A failed workflow-webhook delivery (the guard replays the record it names)."""

    failure_id: str
    module: str | None
    record_id: str | None
    failed_at: datetime | None
    webhook_name: str | None
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)


def _first_error(body: Any) -> Mapping[str, Any] | None:
    data = body.get("data") if isinstance(body, Mapping) else None
    if isinstance(data, list):
        for item in data:
            if isinstance(item, Mapping) and item.get("status") == "error":
                return item
    return None


class CrmClient:
    """CRM calls over a shared :class:`ZohoHttp`.

    Lists follow CRM's pages: by ``page`` number within the first 2,000 records (all CRM serves that way),
    then by the ``info.next_page_token`` of the last answer. Searches and the like stop
    at ``max_pages`` and raise :class:`ZohoListingIncomplete` if records remain; whole-module listings
    (:meth:`list_records_data`) read every page.
    """

    def __init__(self, http: ZohoHttp, *, api_version: str = "v8", per_page: int = 200, max_pages: int = 50):
        self._http = http
        self._prefix = f"/crm/{api_version}"
        self._per_page = per_page
        self._max_pages = max_pages

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._http.request(method, self._prefix + path, dialect=Dialect.CRM, **kwargs)

    def _write(self, method: str, path: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """A write whose per-record outcome is ``data[0]``; an error there becomes :class:`CrmApiError`."""
        result = self._call(method, path, json=body)
        error = _first_error(result)
        if error is not None:
            raise CrmApiError(
                400,
                str(error.get("code", "ERROR")),
                str(error.get("message", "")),
                error.get("details") or {},
            )
        return result if isinstance(result, Mapping) else {}

    # ------------------------------------------------------------------------------------ reads

    def get_record_data(self, module: Module | str, record_id: str) -> dict[str, Any] | None:
        """The raw record (with ``Tag`` and custom fields), or None when it does not exist (any more)."""
        mod = crm_module(module)
        try:
            body = self._call("GET", f"/{mod.value}/{record_id}")
        except CrmApiError as error:
            # An id CRM does not know at all is INVALID_DATA on the id's path segment.
            if error.zoho_code == "INVALID_DATA" and error.details.get("resource_path_index") == 1:
                return None
            raise
        data = body.get("data") if isinstance(body, Mapping) else None
        if not data:
            return None
        return dict(data[0])

    def get_record(self, module: Module | str, record_id: str) -> PartyRecord | None:
        """The record as a ``PartyRecord``, or None when it does not exist (any more)."""
        data = self.get_record_data(module, record_id)
        return crm_record_to_party(module, data) if data is not None else None

    def search(
        self,
        module: Module | str,
        *,
        criteria: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        word: str | None = None,
    ) -> list[PartyRecord]:
        """Records matching exactly one of: a criteria string, an email, a phone number, a word."""
        return [
            crm_record_to_party(module, r)
            for r in self.search_data(module, criteria=criteria, email=email, phone=phone, word=word)
        ]

    def search_data(
        self,
        module: Module | str,
        *,
        criteria: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        word: str | None = None,
    ) -> list[dict[str, Any]]:
        """Like :meth:`search`, raw records (every page; more than ``max_pages`` raises)."""
        kinds = {
            k: v for k, v in {"criteria": criteria, "email": email, "phone": phone, "word": word}.items() if v
        }
        if len(kinds) != 1:
            raise ValueError("search takes exactly one of criteria, email, phone, word")
        mod = crm_module(module)
        return list(self._pages(f"/{mod.value}/search", kinds, "data"))

    def list_records_data(
        self, module: Module | str, *, fields: Sequence[str], cvid: str | None = None
    ) -> list[dict[str, Any]]:
        """Every record of a module, or of a custom view (``cvid``), raw, page after page (preflight).

        No page cap: a preflight that saw part of an organisation would hold back too little.
        """
        mod = crm_module(module)
        params = {"fields": ",".join(fields)}
        if cvid:
            params["cvid"] = cvid
        return list(self._pages(f"/{mod.value}", params, "data", capped=False))

    def iter_recently_modified(
        self, module: Module | str, *, since: datetime, fields: Sequence[str]
    ) -> Iterator[dict[str, Any]]:
        """Records modified at or after ``since``, newest first, raw, page by page as the caller reads on
        (the scheduled sync-stall check stops once it has seen enough).

        ``sort_by=Modified_Time&sort_order=desc`` with ``If-Modified-Since`` (all three are parameters of
        CRM's Get Records); the listing stops at the first record older than ``since`` in case Zoho's
        header filter is coarser than the sort, and reading past ``max_pages`` pages raises.
        """
        mod = crm_module(module)
        moment = since if since.tzinfo else since.replace(tzinfo=UTC)
        params = {
            "fields": ",".join(dict.fromkeys((*fields, "Modified_Time"))),
            "sort_by": "Modified_Time",
            "sort_order": "desc",
        }
        headers = {"If-Modified-Since": format_datetime(moment.astimezone(UTC), usegmt=True)}
        for item in self._pages(f"/{mod.value}", params, "data", headers=headers):
            modified = parse_zoho_time(item.get("Modified_Time"))
            if modified is not None and modified < moment:
                return
            yield item

    def search_by_name(self, module: Module | str, name: str) -> list[PartyRecord]:
        """Records whose name equals ``name`` (Zoho compares without case)."""
        mod = crm_module(module)
        return self.search(mod, criteria=equals_criteria(NAME_FIELDS[mod], name))

    def list_deleted(
        self, module: Module | str, *, since: datetime | None = None, kind: str = "all"
    ) -> list[DeletedRecord]:
        """Deleted records (recycle bin and permanent), newest first; ``since`` uses If-Modified-Since.

        Every page is read, however many: each entry is a delete the guard must hear of, and a listing
        cut short (or refused for its length) would lose the rest for good. Zoho keeps them a bounded time.
        """
        mod = crm_module(module)
        headers = {}
        if since is not None:
            moment = since if since.tzinfo else since.replace(tzinfo=UTC)
            headers["If-Modified-Since"] = format_datetime(moment.astimezone(UTC), usegmt=True)
        out = []
        for item in self._pages(
            f"/{mod.value}/deleted", {"type": kind}, "data", headers=headers, capped=False
        ):
            deleted_by = item.get("deleted_by")
            out.append(
                DeletedRecord(
                    module=mod,
                    record_id=str(item.get("id")),
                    display_name=item.get("display_name"),
                    kind=str(item.get("type", "")),
                    deleted_at=parse_zoho_time(item.get("deleted_time")),
                    deleted_by=deleted_by.get("name") if isinstance(deleted_by, Mapping) else None,
                )
            )
        return out

    def webhook_failures(self) -> list[WebhookFailure]:
        """Failed workflow-webhook deliveries Zoho kept (30 days by default), every page of them (an
        outage can leave more than a capped listing holds, and each one is an event to replay)."""
        out = []
        for item in self._pages(
            "/settings/automation/webhook_failures", {}, "webhook_failures", capped=False
        ):
            module = item.get("module")
            record = item.get("record")
            webhook = item.get("webhook")
            out.append(
                WebhookFailure(
                    failure_id=str(item.get("id")),
                    module=module.get("api_name") if isinstance(module, Mapping) else module,
                    record_id=str(record.get("id")) if isinstance(record, Mapping) else None,
                    failed_at=parse_zoho_time(item.get("failure_time")),
                    webhook_name=webhook.get("name") if isinstance(webhook, Mapping) else None,
                    raw=dict(item),
                )
            )
        return out

    def _pages(
        self,
        path: str,
        params: Mapping[str, str],
        key: str,
        headers: Mapping[str, str] | None = None,
        *,
        capped: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list; when ``capped``, more than ``max_pages`` pages raise."""
        cursor: dict[str, str | int] = {"page": 1}
        pages = records = 0
        while True:
            if capped and pages >= self._max_pages:
                raise ZohoListingIncomplete(f"CRM GET {path}", pages=pages, records=records)
            body = self._call(
                "GET", path, params={**params, **cursor, "per_page": self._per_page}, headers=headers
            )
            if not isinstance(body, Mapping):  # 204: nothing (more)
                return
            items = body.get(key) or []
            pages, records = pages + 1, records + len(items)
            yield from (dict(item) for item in items)
            info = body.get("info") or {}
            if not info.get("more_records"):
                return
            # Page numbers while they stay within the first 2,000 records (every CRM list takes them; a
            # token expires), the page token beyond (CRM refuses page numbers there, and both at once).
            token = info.get("next_page_token")
            if token and (pages + 1) * self._per_page > DISCRETE_PAGINATION_LIMIT:
                cursor = {"page_token": str(token)}
            else:
                cursor = {"page": pages + 1}

    # ----------------------------------------------------------------------- Notification API

    def enable_notifications(
        self,
        channel_id: str,
        events: Sequence[str],
        notify_url: str,
        token: str,
        *,
        expiry: datetime | None = None,
        return_affected_field_values: bool = True,
    ) -> datetime | None:
        """Enable or renew a Notification API channel (``POST /actions/watch``); returns its expiry.

        ``events`` like ``Accounts.all``; ``token`` (<= 50 characters) is echoed in every callback and is
        how the guard authenticates them, so it is a secret: never logged. ``expiry`` at most a week ahead
        (Zoho's default is one hour).
        """
        entry: dict[str, Any] = {
            "channel_id": channel_id,
            "events": list(events),
            "notify_url": notify_url,
            "token": token,
            "return_affected_field_values": return_affected_field_values,
        }
        if expiry is not None:
            moment = expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)
            entry["channel_expiry"] = moment.isoformat(timespec="seconds")
        body = self._call("POST", "/actions/watch", json={"watch": [entry]})
        items = body.get("watch") if isinstance(body, Mapping) else None
        first = items[0] if isinstance(items, list) and items else {}
        if first.get("status") == "error":
            raise CrmApiError(
                400, str(first.get("code")), str(first.get("message", "")), first.get("details")
            )
        events_out = (first.get("details") or {}).get("events") or [{}]
        return parse_zoho_time(events_out[0].get("channel_expiry"))

    def disable_notifications(self, channel_ids: Sequence[str]) -> None:
        """Disable Notification API channels (``DELETE /actions/watch``)."""
        self._call("DELETE", "/actions/watch", params={"channel_ids": ",".join(channel_ids)})

    def notification_channels(self) -> list[dict[str, Any]]:
        """The enabled channels as Zoho lists them (for renewal checks)."""
        body = self._call("GET", "/actions/watch")
        items = body.get("watch") if isinstance(body, Mapping) else None
        return [dict(i) for i in items or []]

    # ----------------------------------------------------------------------------------- writes

    def add_tags(self, module: Module | str, record_id: str, tags: Sequence[str]) -> None:
        """Add tags by name (adding a tag the record already has changes nothing)."""
        mod = crm_module(module)
        self._write(
            "POST", f"/{mod.value}/{record_id}/actions/add_tags", {"tags": [{"name": t} for t in tags]}
        )

    def remove_tags(self, module: Module | str, record_id: str, tags: Sequence[str]) -> None:
        """Remove tags by name (removing an absent tag changes nothing)."""
        mod = crm_module(module)
        self._write(
            "POST", f"/{mod.value}/{record_id}/actions/remove_tags", {"tags": [{"name": t} for t in tags]}
        )

    def update_record(
        self,
        module: Module | str,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        trigger: Sequence[str] | None = None,
    ) -> None:
        """Update fields. ``trigger=None`` lets Zoho run workflows (its default); ``trigger=[]`` asks it not
        to (so the guard's own write does not come back as a webhook; unconfirmed by Zoho, the echo is
        also filtered on arrival)."""
        mod = crm_module(module)
        body: dict[str, Any] = {"data": [dict(fields)]}
        if trigger is not None:
            body["trigger"] = list(trigger)
        self._write("PUT", f"/{mod.value}/{record_id}", body)
