"""Property: whatever an admin sends, the admin handler answers a 2xx, or a JSON 4xx naming what was wrong.

What was wrong: a field of the body or query (400), the caller's identity (403, ``caller``), the path no
route has (404), the method a route does not take (405), the field a conflict is about (409: the record,
the hold, the breaker), a body's Content-Type other than JSON (415). Every 4xx names one.

The handler runs in-process on moto with a few holds already in place. Requests are random and adversarial:
odd query strings (dates, limits, cursors, unicode), bodies of the wrong types or shapes or not JSON at all,
record refs that are nearly right, other methods and paths. Never a 5xx, never a stack trace or an
exception's text in the body, and a refused request leaves the tables and the outbox queue as they were.
Generation is derandomised and bounded, so every run tries the same requests in a few seconds.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from hypothesis import event as statistics_label
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.aws import AwsResources
from tests.support.fuzz import SHARED_FUZZ_SETTINGS, json_leaves
from tests.support.handlers import FakeLambdaContext, fresh_module, http_event

CALLER = "arn:aws:iam::123456789012:user/finance-admin"
HELD = ["crm:1001", "books:2002"]
BODY_ROUTES = {
    "/admin/quarantines/hold": ["record", "reason", "related", "module"],
    "/admin/quarantines/release": ["hold_id", "reason"],
    "/admin/quarantines/apply": ["hold_id", "reason"],
    "/admin/quarantines/forget-release": ["record", "against", "reason"],
    "/admin/quarantines/confirm": ["hold_id", "survivor", "reason"],
    "/admin/links": ["crm", "books", "reason"],
    "/admin/breaker/reset": ["reason"],
}
QUERY_ROUTES = {
    "/admin/quarantines": ["status"],
    "/admin/records": ["record"],
    "/admin/audit": ["record", "rule", "decision", "since", "until", "limit", "cursor"],
}
REFS = [
    *HELD,
    "crm:",
    "books:",
    "books:x:y",
    "crm:%00",
    "crm:\x00",
    "crm:1 2",
    "CRM:1",
    ":1",
    "zoho:1",
    "crm:" + "9" * 79,
    "books:" + "9" * 3000,
    "crm:١٢٣",  # Arabic-Indic digits: alphanumeric to Python, not an id to Zoho
    "crm:①",
    "crm:_",
    "crm:x-1",  # a "-" as the webhooks take it: an id like any other
    "1001",
]
ODD_TEXT = [
    "",
    " ",
    "2026-03-01",
    "2026-02-30",
    "2026-03-01T10:00:00",
    "2026-03-01T10:00:00+05:00",
    "9999-12-31",
    "0001-01-01",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "5,6",  # a parameter repeated: API Gateway joins its values with commas
    "crm:1,books:2",
    "7d",
    "-1",
    "0",
    "501",
    "1e3",
    "99999999999999999999999999",
    "NaN",
    "null",
    "held",
    "confirmed",
    "NAME_DRIFT",
    "quarantine",
    "Accounts",
    "Contacts",
    "eyJ4IjogMX0=",  # base64 of JSON that is no audit key
    "%00",
    "\u202e\u0000\ud7ff",
    "x" * 5000,
]
json_values = st.recursive(
    json_leaves(REFS + ODD_TEXT, text_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
query_values = st.sampled_from(REFS + ODD_TEXT) | st.text(max_size=20)


@st.composite
def bodies(draw: st.DrawFn, fields: list[str]) -> str | None:
    kind = draw(st.sampled_from(["fields", "fields", "fields", "json", "text", "none", "deep"]))
    if kind == "none":
        return None
    if kind == "text":
        return draw(st.text(max_size=60) | st.sampled_from(["{", "[1,", '{"reason": }', "null", "\ufeff{}"]))
    if kind == "json":
        return json.dumps(draw(json_values))
    if kind == "deep":
        depth = draw(st.sampled_from([20, 990, 5000, 20000]))  # past the parser's recursion limit too
        return '{"reason": ' + "[" * depth + "]" * depth + "}"
    names = st.sampled_from([*fields, "extra", "hold_id", "record", ""]) | st.text(max_size=6)
    return json.dumps(draw(st.dictionaries(names, json_values, max_size=5)))


SIGNED = {"iam": {"userArn": CALLER, "accountId": "123456789012", "callerId": "AIDAEXAMPLE"}}
#: An access key id in the request context: never to be repeated in an answer.
ACCESS_KEY = "AKIAEXAMPLEKEY0000001"
#: Request contexts that carry no usable IAM identity (a direct invocation, a misconfigured route).
NO_IDENTITY: list[Any] = [
    None,  # no authorizer at all
    {},
    {"iam": None},
    {"iam": "arn:aws:iam::123456789012:user/finance-admin"},  # text where a mapping belongs
    {"iam": {"userArn": "", "callerId": " "}},
    {"iam": {"userArn": 5, "callerId": ["AIDA"]}},
    {"iam": {"accessKey": ACCESS_KEY, "accountId": "123456789012"}},
    "iam",
]


def signed(event: dict[str, Any], method: str, path: str, *, identity: Any = SIGNED) -> dict[str, Any]:
    """The event as API Gateway hands it on for ``method path``, with the IAM caller, or with ``identity`` as
    its authorizer (None: no authorizer)."""
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    if identity is not None:
        event["requestContext"]["authorizer"] = identity
    return event


content_types = st.sampled_from(
    ["application/json"] * 4
    + ["application/json; charset=utf-8", "text/plain", "application/xml"]
    + ["application/x-www-form-urlencoded", ""]  # "": none, the body is then read as JSON
)
identities = st.sampled_from([SIGNED] * 9 + NO_IDENTITY)  # mostly signed; sometimes no usable IAM identity


@st.composite
def body_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A POST to one of the body routes: fields of the right names with odd values, or no JSON at all."""
    path = draw(st.sampled_from(list(BODY_ROUTES)))
    body = draw(bodies(BODY_ROUTES[path]))
    content_type = draw(content_types)
    query = draw(st.dictionaries(st.sampled_from(["record", "x"]), query_values, max_size=2))
    headers = {"content-type": content_type} if content_type else {}
    event = http_event(path, body, method="POST", headers=headers, query=query or None)
    return signed(event, "POST", path, identity=draw(identities))


@st.composite
def query_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A GET of one of the query routes, its parameters odd, unknown or missing."""
    path = draw(st.sampled_from(list(QUERY_ROUTES)))
    names = st.sampled_from([*QUERY_ROUTES[path], "limit", "x"])
    query = draw(st.dictionaries(names, query_values, max_size=4))
    event = http_event(path, draw(st.none() | st.just("{}")), method="GET", query=query or None)
    return signed(event, "GET", path, identity=draw(identities))


@st.composite
def other_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A method a route does not serve, or a path next to the routes."""
    path = draw(
        st.sampled_from(
            [*BODY_ROUTES, *QUERY_ROUTES, "/admin", "/admin/", "/admin/records/crm:1", "/admin/%00"]
        )
    )
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]))
    body = draw(bodies(BODY_ROUTES.get(path, ["reason"])))
    event = http_event(path, body, method=method, headers={"content-type": "application/json"})
    return signed(event, method, path, identity=draw(identities))


def snapshot(aws: AwsResources) -> dict[str, Any]:
    """Every item of every table, and how many messages wait on the queues."""
    tables: dict[str, Any] = {}
    for name in aws.dynamodb.list_tables()["TableNames"]:
        items = aws.dynamodb.scan(TableName=name)["Items"]
        tables[name] = sorted(json.dumps(item, sort_keys=True) for item in items)
    for url in (aws.queue_url, aws.dlq_url):
        counts = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        tables[url] = counts["Attributes"]["ApproximateNumberOfMessages"]
    return tables


def admin_event(path: str, body: dict[str, Any]) -> dict[str, Any]:
    event = http_event(path, json.dumps(body), method="POST", headers={"content-type": "application/json"})
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    event["requestContext"]["authorizer"] = {"iam": {"userArn": CALLER}}
    return event


@pytest.fixture
def admin_app(aws: AwsResources) -> ModuleType:
    """The handler, with two records held through it."""
    module = fresh_module("functions.admin.app")
    for ref in HELD:
        body = {"record": ref, "reason": "fuzz", "module": "Accounts" if ref.startswith("crm:") else ""}
        response = module.lambda_handler(admin_event("/admin/quarantines/hold", body), FakeLambdaContext())
        assert response["statusCode"] == 200, response
    return module


FUZZ_SETTINGS = settings(SHARED_FUZZ_SETTINGS, max_examples=50)


#: What the admin API answers: served, or refused as the caller's mistake (never a 5xx).
STATUSES = {200, 400, 403, 404, 405, 409, 415}


def check_answer(aws: AwsResources, admin_app: ModuleType, event: dict[str, Any]) -> None:
    """A 2xx, or a JSON 4xx (naming its field, the caller, path, method or Content-Type) that changed nothing;
    never an internal error's text, nor the request context's access key."""
    before = snapshot(aws)
    response = admin_app.lambda_handler(event, FakeLambdaContext())
    status = response["statusCode"]
    statistics_label(f"{event['requestContext']['http']['method']} {event['rawPath']}: {status}")
    assert status in STATUSES, response
    text = response.get("body") or ""
    for internal in ("Traceback", "Error(", "Exception"):
        assert internal not in text, response
    document = json.loads(text) if text else {}
    assert isinstance(document, dict), response
    assert ACCESS_KEY not in text, response
    if status >= 400:
        assert snapshot(aws) == before, (event, response)
        assert isinstance(document.get("error"), str), response
        assert document.get("message"), response
        assert isinstance(document.get("field"), str), response
        assert document["field"], response
    if event["requestContext"].get("authorizer") is not SIGNED:
        # API Gateway's order: the route (its own 404), then the caller; never a word about the body or query
        assert status in {403, 404, 405}, response
    if status == 403:
        assert document["field"] == "caller", response
    if status == 405:
        allowed = response["headers"]["Allow"].split(", ")
        assert event["requestContext"]["http"]["method"] not in allowed, response
    if status == 415:
        assert document["field"] == "Content-Type", response


REQUESTS = {"body": body_requests(), "query": query_requests(), "other": other_requests()}


@pytest.mark.parametrize("kind", list(REQUESTS))
@FUZZ_SETTINGS
@given(data=st.data())
def test_any_request_gets_a_2xx_or_a_4xx_naming_the_field_and_a_refusal_changes_nothing(
    aws: AwsResources, admin_app: ModuleType, kind: str, data: st.DataObject
) -> None:
    check_answer(aws, admin_app, data.draw(REQUESTS[kind], label="event"))


def call(module: ModuleType, method: str, path: str, body: str | None = None, **query: str) -> dict[str, Any]:
    event = http_event(path, body, method=method, headers={"content-type": "application/json"}, query=query)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    event["requestContext"]["authorizer"] = {"iam": {"userArn": CALLER}}
    response: dict[str, Any] = module.lambda_handler(event, FakeLambdaContext())
    return response


@pytest.mark.parametrize(
    "terms",
    [
        {"until": "9999-12-31"},  # its whole day ends at the last moment there is
        {"until": "0001-01-02"},  # a month's look-back before it is before year 1
        {"since": "0001-01-01T00:00:00+05:00"},  # before year 1 in UTC
        {"since": "9999-12-31T23:59:59-05:00"},  # after year 9999 in UTC
    ],
)
def test_audit_dates_at_the_ends_of_the_calendar_are_a_200_or_a_400_naming_them(
    admin_app: ModuleType, terms: dict[str, str]
) -> None:
    response = call(admin_app, "GET", "/admin/audit", **terms)
    document = json.loads(response["body"])
    assert response["statusCode"] in (200, 400), response
    if response["statusCode"] == 400:
        assert document["field"] in terms
    else:
        assert isinstance(document["entries"], list)


def test_a_body_nested_deeper_than_the_parser_goes_is_a_400_naming_the_body(
    aws: AwsResources, admin_app: ModuleType
) -> None:
    before = snapshot(aws)
    body = '{"record": "crm:1", "reason": ' + "[" * 5000 + "]" * 5000 + "}"

    response = call(admin_app, "POST", "/admin/quarantines/hold", body)

    assert response["statusCode"] == 400, response
    assert json.loads(response["body"])["field"] == "body"
    assert snapshot(aws) == before


def test_an_audit_range_of_centuries_is_a_400_naming_since_unless_a_record_narrows_it(
    admin_app: ModuleType,
) -> None:
    # read month by month, since=0001-01-01 was some 24,000 queries: far past the function's timeout
    response = call(admin_app, "GET", "/admin/audit", since="0001-01-01")
    assert response["statusCode"] == 400, response["body"][:300]
    assert json.loads(response["body"])["field"] == "since"

    # one partition, whatever the range
    response = call(admin_app, "GET", "/admin/audit", since="0001-01-01", record=HELD[0])
    assert response["statusCode"] == 200
    assert [entry["records"][0] for entry in json.loads(response["body"])["entries"]] == [HELD[0]]


@pytest.mark.parametrize(
    ("method", "path", "body", "query", "field"),
    [
        ("POST", "/admin/quarantines/hold", {"record": "crm:١٢٣", "module": "Accounts"}, {}, "record"),
        ("POST", "/admin/quarantines/hold", {"record": "crm:5", "related": ["books:①"]}, {}, "related"),
        ("GET", "/admin/records", None, {"record": "books:" + "9" * 3000}, "record"),
        ("GET", "/admin/audit", None, {"record": "books:" + "9" * 3000}, "record"),
    ],
)
def test_a_record_id_no_webhook_could_carry_is_a_400_naming_it_and_holds_nothing(
    aws: AwsResources,
    admin_app: ModuleType,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    query: dict[str, str],
    field: str,
) -> None:
    # non-ASCII digits are alphanumeric to Python, and DynamoDB keys stop at 2,048 bytes
    before = snapshot(aws)

    response = call(admin_app, method, path, None if body is None else json.dumps(body), **query)

    assert response["statusCode"] == 400, response["body"][:300]
    assert json.loads(response["body"])["field"] == field
    assert snapshot(aws) == before
