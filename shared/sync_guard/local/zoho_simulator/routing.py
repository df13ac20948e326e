"""Small request/response types and a regex router shared by the simulator's API modules."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs


class Api(StrEnum):
    """Which Zoho surface a route belongs to: decides auth checks and the error envelope."""

    OAUTH = "oauth"
    CRM = "crm"
    BOOKS = "books"
    SIM = "sim"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route's pattern

    def json(self) -> Any:
        """The body as JSON (None when empty); Books' ``JSONString`` form field is accepted too."""
        if not self.body:
            return None
        content_type = self.headers.get("Content-Type", "")
        if "application/x-www-form-urlencoded" in content_type:
            form = self.form()
            return json.loads(form["JSONString"]) if "JSONString" in form else form
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def int_query(self, name: str, default: int, *, low: int = 1, high: int | None = None) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadQuery(name) from None
        if value < low or (high is not None and value > high):
            raise BadQuery(name)
        return value


class BadQuery(Exception):
    """A query parameter has an invalid value (rendered per API)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable; None means no body (204)
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    api: Api
    handler: Handler
    # Which path parameter identifies the record (for request accounting).
    record_param: str | None = None


class Router:
    """First matching route wins, so specific paths are added before generic ones."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        pattern: str,
        name: str,
        api: Api,
        handler: Handler,
        record_param: str | None = None,
    ) -> None:
        self.routes.append(Route(method, re.compile(f"^{pattern}$"), name, api, handler, record_param))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method == method:
                return route, found.groupdict()
        return None

    def path_exists(self, path: str) -> bool:
        return any(route.pattern.match(path) for route in self.routes)


def paginate(items: list[Any], page: int, per_page: int) -> tuple[list[Any], bool]:
    """One page of ``items`` (1-based) and whether more follow."""
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    return chunk, start + per_page < len(items)
