"""CRM v8 routes of the simulator: records, search, deleted records, tags, merge, webhook failures.

Envelopes follow Zoho's: reads answer ``{"data":[...],"info":{...}}`` (or 204 when nothing matches),
writes answer ``{"data":[{"code":"SUCCESS","details":{...},"message":...,"status":"success"}]}`` with
per-record errors inside ``data`` (HTTP 400 when all failed, 207 when some did), and request-level errors
are ``{"code":...,"details":{...},"message":...,"status":"error"}``.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from sync_guard.local.zoho_simulator.criteria import CriteriaError
from sync_guard.local.zoho_simulator.routing import Api, BadQuery, Request, Response, Router, paginate
from sync_guard.local.zoho_simulator.state import SimulatorError, SimulatorState, Source

PREFIX = "/crm/v8"
MAX_PER_PAGE = 200
MAX_RECORDS_PER_WRITE = 100
# From Zoho's API spec (crm-oas v8, getRecords): page numbers reach the first 2,000 records of a list,
# page tokens (info.next_page_token) reach up to 100,000.
DISCRETE_PAGINATION_LIMIT = 2000
PAGE_TOKEN_LIMIT = 100_000


def crm_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    return Response(status, {"code": code, "details": details or {}, "message": message, "status": "error"})


def _success(details: dict[str, Any], message: str) -> dict[str, Any]:
    return {"code": "SUCCESS", "details": details, "message": message, "status": "success"}


def _item_error(error: SimulatorError) -> dict[str, Any]:
    return {"code": str(error.code), "details": error.details, "message": error.message, "status": "error"}


def _write_status(items: list[dict[str, Any]], ok_status: int) -> int:
    failed = sum(1 for item in items if item["status"] == "error")
    if failed == 0:
        return ok_status
    return 400 if failed == len(items) else 207


def _page(request: Request, items: list[dict[str, Any]]) -> Response:
    page = request.int_query("page", 1)
    per_page = request.int_query("per_page", MAX_PER_PAGE, high=MAX_PER_PAGE)
    chunk, more = paginate(items, page, per_page)
    if not chunk:
        return Response(204)
    return Response(
        200,
        {
            "data": chunk,
            "info": {"per_page": per_page, "count": len(chunk), "page": page, "more_records": more},
        },
    )


class PageTokens:
    """The page tokens the records list hands out: each names an offset into one listing (its module,
    view and fields), so that a token used with other parameters can be refused as Zoho does."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def issue(self, listing: str, offset: int) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = (listing, offset)
        return token

    def offset(self, token: str, listing: str) -> int:
        """Where ``token`` resumes ``listing``; a request error when it is unknown or bound to another."""
        with self._lock:
            found = self._tokens.get(token)
        if found is None or found[0] != listing:
            raise SimulatorError(
                400,
                "TOKEN_BOUND_DATA_MISMATCH",
                "page_token unknown, or given with other parameters than the request that issued it",
                {"param_name": "page_token"},
            )
        return found[1]


def _records_page(
    request: Request, items: list[dict[str, Any]], listing: str, tokens: PageTokens
) -> Response:
    """A page of the records list: by ``page`` within the first 2,000 records, else by ``page_token``."""
    per_page = request.int_query("per_page", MAX_PER_PAGE, high=MAX_PER_PAGE)
    token = request.query.get("page_token")
    if token and request.query.get("page"):
        return crm_error(
            400,
            "AMBIGUITY_DURING_PROCESSING",
            "page and page_token cannot be used together",
            {"ambiguity_due_to": [{"param_name": "page"}, {"param_name": "page_token"}]},
        )
    if token:
        start = tokens.offset(token, listing)
        if start + per_page > PAGE_TOKEN_LIMIT:
            return crm_error(
                400,
                "PAGINATION_LIMIT_EXCEEDED",
                f"page_token reaches the first {PAGE_TOKEN_LIMIT} records only",
                {"param_name": "page_token"},
            )
        page = start // per_page + 1
    else:
        page = request.int_query("page", 1)
        start = (page - 1) * per_page
        if page * per_page > DISCRETE_PAGINATION_LIMIT:
            return crm_error(
                400,
                "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                f"page reaches the first {DISCRETE_PAGINATION_LIMIT} records only; page_token goes further",
                {"limit": DISCRETE_PAGINATION_LIMIT},
            )
    chunk = items[start : start + per_page]
    if not chunk:
        return Response(204)
    more = start + per_page < len(items)
    info = {
        "per_page": per_page,
        "count": len(chunk),
        "page": page,
        "more_records": more,
        "next_page_token": tokens.issue(listing, start + per_page) if more else None,
        "previous_page_token": None,
        "page_token_expiry": None,
    }
    return Response(200, {"data": chunk, "info": info})


def _if_modified_since(request: Request) -> datetime | None:
    """The ``If-Modified-Since`` header (an HTTP date, or ISO 8601 as Zoho also takes), as UTC."""
    header = request.headers.get("If-Modified-Since")
    if not header:
        return None
    try:
        since = datetime.fromisoformat(header)
    except ValueError:
        since = parsedate_to_datetime(header)
    return since if since.tzinfo is not None else since.replace(tzinfo=UTC)


def _record_time(record: dict[str, Any], key: str) -> datetime:
    value = record.get(key)
    moment = datetime.fromisoformat(value) if isinstance(value, str) and value else datetime.min
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


#: Get Records' ``sort_by`` values (Zoho's API spec); anything else is refused.
_SORT_FIELDS = ("id", "Created_Time", "Modified_Time")


def _sorted_records(request: Request, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``sort_by``/``sort_order`` as Get Records reads them (default: by id, ascending)."""
    sort_by = request.query.get("sort_by", "id")
    sort_order = request.query.get("sort_order", "asc")
    if sort_by not in _SORT_FIELDS:
        raise SimulatorError(400, "INVALID_DATA", "invalid data", {"param_name": "sort_by"})
    if sort_order not in ("asc", "desc"):
        raise SimulatorError(400, "INVALID_DATA", "invalid data", {"param_name": "sort_order"})
    if sort_by == "id":
        return sorted(records, key=lambda r: int(r["id"]), reverse=sort_order == "desc")
    return sorted(records, key=lambda r: _record_time(r, sort_by), reverse=sort_order == "desc")


def _records_body(request: Request) -> list[dict[str, Any]]:
    body = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("data"), list) or not body["data"]:
        raise SimulatorError(400, "INVALID_DATA", 'body must be {"data": [ ... ]}', {"json_path": "$.data"})
    if len(body["data"]) > MAX_RECORDS_PER_WRITE:
        raise SimulatorError(400, "LIMIT_EXCEEDED", "too many records", {"limit": MAX_RECORDS_PER_WRITE})
    return [dict(item) for item in body["data"]]


def _trigger(request: Request) -> list[str] | None:
    body = request.json()
    if isinstance(body, dict) and "trigger" in body:
        value = body["trigger"]
        return [str(v) for v in value] if isinstance(value, list) else []
    return None


def _check_id(record_id: str) -> None:
    if not record_id.isdigit():
        raise SimulatorError(
            400, "INVALID_DATA", "the related id given seems to be invalid", {"resource_path_index": 1}
        )


def register(router: Router, state: SimulatorState) -> None:
    """Add the CRM routes to ``router``."""
    page_tokens = PageTokens()

    def webhook_failures(request: Request) -> Response:
        entries = list(reversed(state.crm_webhook_failures))
        page = request.int_query("page", 1)
        per_page = request.int_query("per_page", MAX_PER_PAGE, high=MAX_PER_PAGE)
        chunk, more = paginate(entries, page, per_page)
        if not chunk:
            return Response(204)
        info = {"per_page": per_page, "count": len(chunk), "page": page, "more_records": more}
        return Response(200, {"webhook_failures": chunk, "info": info})

    def list_records(request: Request) -> Response:
        fields = request.query.get("fields")
        if not fields:
            return crm_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "fields"},
            )
        wanted = {f.strip() for f in fields.split(",")} | {"id"}
        module = request.params["module"]
        cvid = request.query.get("cvid")
        source = state.crm_view_records(cvid) if cvid else state.crm_list(module)
        since = _if_modified_since(request)
        if since is not None:
            source = [r for r in source if _record_time(r, "Modified_Time") >= since]
            if not source:
                return Response(304)  # Zoho: nothing modified since
        source = _sorted_records(request, source)
        records = [{k: v for k, v in r.items() if k in wanted} for r in source]
        order = f"{request.query.get('sort_by', '')}|{request.query.get('sort_order', '')}|{since}"
        listing = f"{module}|{cvid or ''}|{fields}|{order}"
        return _records_page(request, records, listing, page_tokens)

    def create_records(request: Request) -> Response:
        module = request.params["module"]
        state.require_crm_module(module)  # INVALID_MODULE before reading the body
        trigger = _trigger(request)
        items = []
        for index, fields in enumerate(_records_body(request)):
            try:
                record = state.crm_create(module, fields, source=Source.API, trigger=trigger)
                details = {k: record[k] for k in ("id", "Created_Time", "Modified_Time")}
                items.append(_success(details, "record added"))
            except SimulatorError as error:
                if "json_path" in error.details:
                    error.details["json_path"] = str(error.details["json_path"]).replace("[0]", f"[{index}]")
                items.append(_item_error(error))
        return Response(_write_status(items, 201), {"data": items})

    def search(request: Request) -> Response:
        module = request.params["module"]
        kinds = {k: request.query[k] for k in ("criteria", "email", "phone", "word") if request.query.get(k)}
        if len(kinds) != 1:
            return crm_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "criteria, email, phone, word"},
            )
        try:
            found = state.crm_search(module, **kinds)
        except CriteriaError as error:
            return crm_error(400, "INVALID_QUERY", "invalid query formed", {"reason": str(error)})
        return _page(request, found)

    def deleted(request: Request) -> Response:
        kind = request.query.get("type", "all")
        if kind not in {"all", "recycle", "permanent"}:
            return crm_error(400, "INVALID_DATA", "invalid data", {"param_name": "type"})
        since = _if_modified_since(request)
        return _page(request, state.crm_deleted_list(request.params["module"], kind=kind, since=since))

    def get_record(request: Request) -> Response:
        record_id = request.params["id"]
        _check_id(record_id)
        record = state.crm_get(request.params["module"], record_id)
        if record is None:
            status = state.assumptions.crm_missing_record_status
            if status == 204:
                return Response(204)
            return crm_error(
                status, "INVALID_DATA", "the related id given seems to be invalid", {"resource_path_index": 1}
            )
        return Response(200, {"data": [record]})

    def update_record(request: Request) -> Response:
        module, record_id = request.params["module"], request.params["id"]
        _check_id(record_id)
        fields = _records_body(request)[0]
        trigger = _trigger(request)
        try:
            record = state.crm_update(module, record_id, fields, source=Source.API, trigger=trigger)
        except SimulatorError as error:
            if error.code == "INVALID_MODULE":
                raise
            return Response(400, {"data": [_item_error(error)]})
        details = {k: record[k] for k in ("id", "Created_Time", "Modified_Time")}
        return Response(200, {"data": [_success(details, "record updated")]})

    def delete_record(request: Request) -> Response:
        module, record_id = request.params["module"], request.params["id"]
        _check_id(record_id)
        try:
            state.crm_delete(module, record_id, source=Source.API)
        except SimulatorError as error:
            if error.code == "INVALID_MODULE":
                raise
            return Response(400, {"data": [_item_error(error)]})
        return Response(200, {"data": [_success({"id": record_id}, "record deleted")]})

    def tags(adding: bool) -> Any:
        def handler(request: Request) -> Response:
            module, record_id = request.params["module"], request.params["id"]
            _check_id(record_id)
            body = request.json()
            raw = body.get("tags") if isinstance(body, dict) else None
            if not isinstance(raw, list) or not raw:
                return crm_error(400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "tags"})
            names = [str(t.get("name", "")).strip() for t in raw if isinstance(t, dict)]
            if not all(names):
                return crm_error(400, "INVALID_DATA", "invalid data", {"api_name": "name"})
            try:
                result = state.crm_set_tags(
                    module, record_id, add=names if adding else (), remove=() if adding else names
                )
            except SimulatorError as error:
                if error.code == "INVALID_MODULE":
                    raise
                return Response(400, {"data": [_item_error(error)]})
            message = "tags updated successfully" if adding else "tags removed successfully"
            return Response(200, {"data": [_success({"id": record_id, "tags": result}, message)]})

        return handler

    def merge(request: Request) -> Response:
        # Body (Zoho's shape, as far as documented): {"merge":[{"ids":[{"id":".."}], "data": {...}}]}.
        # Zoho runs merges as a job; the simulator applies them at once (an assumption).
        module, master_id = request.params["module"], request.params["id"]
        _check_id(master_id)
        body = request.json()
        entries = body.get("merge") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
            return crm_error(400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "merge"})
        ids = [str(i.get("id")) for i in entries[0].get("ids") or [] if isinstance(i, dict)]
        if not ids:
            return crm_error(400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "ids"})
        fields = entries[0].get("data") if isinstance(entries[0].get("data"), dict) else None
        try:
            state.crm_merge(module, master_id, ids, fields=fields, source=Source.API)
        except SimulatorError as error:
            if error.code == "INVALID_MODULE":
                raise
            return Response(400, {"data": [_item_error(error)]})
        merged = [i for i in ids if i != master_id]
        return Response(200, {"data": [_success({"id": master_id, "merged_ids": merged}, "records merged")]})

    def watch_enable(request: Request) -> Response:
        body = request.json()
        entries = body.get("watch") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not entries:
            return crm_error(400, "MANDATORY_NOT_FOUND", "required field not found", {"api_name": "watch"})
        details = state.crm_watch_enable(entries)
        message = "Successfully subscribed for actions-watch of the given module"
        return Response(200, {"watch": [_success({"events": details}, message)]})

    def watch_list(request: Request) -> Response:
        channels = state.crm_watch_list()
        if not channels:
            return Response(204)
        return Response(
            200,
            {
                "watch": channels,
                "info": {"per_page": 200, "count": len(channels), "page": 1, "more_records": False},
            },
        )

    def watch_disable(request: Request) -> Response:
        ids = [i for i in request.query.get("channel_ids", "").split(",") if i]
        if not ids:
            return crm_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "channel_ids"},
            )
        disabled = state.crm_watch_disable(ids)
        message = "Successfully unsubscribed from actions-watch"
        return Response(200, {"watch": [_success({"channel_id": cid}, message) for cid in disabled]})

    router.add("POST", f"{PREFIX}/actions/watch", "crm.watch_enable", Api.CRM, watch_enable)
    router.add("PUT", f"{PREFIX}/actions/watch", "crm.watch_enable", Api.CRM, watch_enable)
    router.add("GET", f"{PREFIX}/actions/watch", "crm.watch_list", Api.CRM, watch_list)
    router.add("DELETE", f"{PREFIX}/actions/watch", "crm.watch_disable", Api.CRM, watch_disable)

    module = r"(?P<module>[A-Za-z_]+)"
    record = r"(?P<id>[^/]+)"
    router.add(
        "GET",
        f"{PREFIX}/settings/automation/webhook_failures",
        "crm.webhook_failures",
        Api.CRM,
        webhook_failures,
    )
    router.add("GET", f"{PREFIX}/{module}/search", "crm.search", Api.CRM, search)
    router.add("GET", f"{PREFIX}/{module}/deleted", "crm.deleted", Api.CRM, deleted)
    router.add(
        "POST", f"{PREFIX}/{module}/{record}/actions/add_tags", "crm.add_tags", Api.CRM, tags(True), "id"
    )
    router.add(
        "POST",
        f"{PREFIX}/{module}/{record}/actions/remove_tags",
        "crm.remove_tags",
        Api.CRM,
        tags(False),
        "id",
    )
    router.add("POST", f"{PREFIX}/{module}/{record}/actions/merge", "crm.merge", Api.CRM, merge, "id")
    router.add("GET", f"{PREFIX}/{module}", "crm.list_records", Api.CRM, list_records)
    router.add("POST", f"{PREFIX}/{module}", "crm.create_records", Api.CRM, create_records)
    router.add("GET", f"{PREFIX}/{module}/{record}", "crm.get_record", Api.CRM, get_record, "id")
    router.add("PUT", f"{PREFIX}/{module}/{record}", "crm.update_record", Api.CRM, update_record, "id")
    router.add("DELETE", f"{PREFIX}/{module}/{record}", "crm.delete_record", Api.CRM, delete_record, "id")


def render_error(error: SimulatorError) -> Response:
    """A request-level CRM error."""
    return crm_error(error.http_status, str(error.code), error.message, error.details)


def render_bad_query(error: BadQuery) -> Response:
    return crm_error(400, "INVALID_DATA", "invalid data", {"param_name": error.name})
