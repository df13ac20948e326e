"""The admin HTTP API handler on moto: IAM caller as actor, JSON errors, every route."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync_guard.admin.service import AdminService
from sync_guard.config import Mode, get_settings
from sync_guard.guard.model import EntryKind
from sync_guard.local.zoho_simulator import Source, ZohoSimulator
from sync_guard.models.records import Module
from sync_guard.store.audit import AuditLog, AuditQuery
from sync_guard.zoho.convert import books_contact_to_party, crm_record_to_party
from sync_guard.zoho.payloads import parse_crm_workflow
from tests.support.aws import AwsResources
from tests.support.handlers import FakeLambdaContext, fresh_module, http_event, sample_event
from tests.support.outbox import (
    Company,
    Pipeline,
    build_pipeline,
    create_companies,
    create_outbox_queues,
    event_for,
    point_at_simulator,
)

CALLER = "arn:aws:iam::123456789012:user/finance-admin"
Invoke = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def simulated(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ZohoSimulator, Pipeline]]:
    """The guard's pipeline (enforce mode) with Zoho simulated."""
    queues = create_outbox_queues(aws, monkeypatch)
    with ZohoSimulator(seed=3) as sim:
        point_at_simulator(sim, monkeypatch)
        yield sim, build_pipeline(aws, queues)


@pytest.fixture
def companies(simulated: tuple[ZohoSimulator, Pipeline]) -> list[Company]:
    """Two held duplicates (one CRM account, one Books customer), decided in enforce mode."""
    sim, pipeline = simulated
    found = create_companies(sim, 2, books_duplicates_every=2)
    pipeline.decide([event_for(c.customer) for c in found])
    pipeline.decide([event_for(c.duplicate) for c in found])
    return found


def admin_request(
    method: str,
    path: str,
    body: str | None = None,
    *,
    query: dict[str, str] | None = None,
    caller: str | None = CALLER,
    content_type: str | None = "application/json",
) -> dict[str, Any]:
    """The event API Gateway hands the function for this request, signed by ``caller`` (or unsigned)."""
    headers = {"content-type": content_type} if content_type else {}
    event = http_event(path, body, method=method, query=query, headers=headers)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    if caller:
        event["requestContext"]["authorizer"] = {
            "iam": {"userArn": caller, "accountId": "123456789012", "callerId": "AIDAEXAMPLE"}
        }
    return event


@pytest.fixture
def handler(companies: list[Company]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    return fresh_module("functions.admin.app").lambda_handler  # type: ignore[no-any-return]


@pytest.fixture
def invoke(handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Invoke:
    def call(method: str, path: str, body: Any = None, **request: Any) -> tuple[int, dict[str, Any]]:
        event = admin_request(method, path, None if body is None else json.dumps(body), **request)
        response = handler(event, FakeLambdaContext())
        return int(response["statusCode"]), json.loads(response["body"] or "{}")

    return call


def test_list_quarantines(invoke: Invoke, companies: list[Company]) -> None:
    status, body = invoke("GET", "/admin/quarantines")
    assert status == 200
    assert body["count"] == 2
    assert {q["hold_id"] for q in body["quarantines"]} == {c.duplicate.ref for c in companies}
    assert {q["status"] for q in body["quarantines"]} == {"held"}
    status, body = invoke("GET", "/admin/quarantines", query={"status": "nonsense"})
    assert status == 400
    assert body["field"] == "status"


def test_release_records_the_iam_caller_as_actor(invoke: Invoke, companies: list[Company]) -> None:
    held = companies[0].duplicate.ref
    status, body = invoke(
        "POST", "/admin/quarantines/release", {"hold_id": held, "reason": "checked by hand"}
    )

    assert status == 200
    assert body["actor"] == CALLER
    assert body["operation"] == "release"
    entry = AuditLog.from_settings(get_settings()).get(body["entry_id"])
    assert entry is not None
    assert entry.actor == CALLER
    assert entry.kind is EntryKind.ADMIN
    assert entry.note.startswith("checked by hand")
    status, body = invoke("GET", "/admin/quarantines")
    assert body["count"] == 1


def test_confirm_link_and_audit_routes(invoke: Invoke, companies: list[Company]) -> None:
    held, survivor = companies[1].duplicate.ref, companies[1].customer.ref
    status, body = invoke("POST", "/admin/quarantines/confirm", {"hold_id": held, "survivor": survivor})
    assert status == 200
    assert body["records"] == [held, survivor]

    crm = companies[0].duplicate.record_id
    status, body = invoke("POST", "/admin/links", {"crm": crm, "books": companies[0].customer.record_id})
    assert status == 200
    assert body["operation"] == "link"

    status, body = invoke("GET", "/admin/audit", query={"record": survivor, "limit": "5"})
    assert status == 200
    assert body["entries"][0]["operation"] == "confirm"
    assert body["entries"][0]["actor"] == CALLER
    assert AuditLog.from_settings(get_settings()).query(AuditQuery(decision="admin")).entries


def test_errors_are_json_with_the_right_status(invoke: Invoke, companies: list[Company]) -> None:
    status, body = invoke("POST", "/admin/quarantines/release", {"reason": "no id"})
    assert status == 400
    assert body["field"] == "hold_id"
    status, body = invoke("POST", "/admin/quarantines/release", {"hold_id": "crm:1", "extra": True})
    assert status == 400
    assert body["field"] == "extra"
    status, body = invoke("POST", "/admin/quarantines/release", {"hold_id": "crm:123456"})
    assert status == 404
    # a malformed ref names the JSON field it came in (the CLI names its argument or option instead)
    for path, request, field in (
        ("release", {"hold_id": "acme"}, "hold_id"),
        ("confirm", {"hold_id": "acme", "survivor": "crm:1"}, "hold_id"),
        ("forget-release", {"record": "crm:1", "against": "acme"}, "against"),
    ):
        status, body = invoke("POST", f"/admin/quarantines/{path}", request)
        assert (status, body["field"]) == (400, field), body
        assert body["message"].startswith(f"{field} must look like crm:<id> or books:<id>"), body
    status, body = invoke("POST", "/admin/links", {"crm": "1", "books": "crm:2"})
    assert (status, body["field"], body["message"]) == (400, "books", "books must be a Books record"), body
    status, body = invoke("POST", "/admin/breaker/reset", {"reason": "nothing to reset"})
    assert status == 409
    assert (body["error"], body["field"]) == ("conflict", "breaker")
    assert "not open" in body["message"]
    status, body = invoke("GET", "/admin/audit", query={"limit": "0"})
    assert status == 400
    assert body["field"] == "limit"


def test_a_conflict_names_the_field_of_the_request_it_is_about(
    invoke: Invoke, companies: list[Company]
) -> None:
    held, survivor = companies[1].duplicate.ref, companies[1].customer.ref
    crm, books = companies[0].duplicate.ref, companies[0].customer.ref
    assert invoke("POST", "/admin/quarantines/confirm", {"hold_id": held, "survivor": survivor})[0] == 200
    assert invoke("POST", "/admin/links", {"crm": crm, "books": books})[0] == 200

    # the same operations again conflict with what they did
    status, body = invoke("POST", "/admin/quarantines/confirm", {"hold_id": held, "survivor": survivor})
    assert (status, body["error"], body["field"]) == (409, "conflict", "hold_id"), body
    assert "already confirmed" in body["message"]
    status, body = invoke("POST", "/admin/links", {"crm": crm, "books": books})
    assert (status, body["error"], body["field"]) == (409, "conflict", "books"), body
    assert f"{crm} is already linked to {books}" in body["message"]
    status, body = invoke("POST", "/admin/quarantines/hold", {"record": held})
    assert (status, body["error"], body["field"]) == (409, "conflict", "record"), body


def test_a_link_zoho_s_own_link_contradicts_is_a_409_naming_the_field(
    simulated: tuple[ZohoSimulator, Pipeline], invoke: Invoke, companies: list[Company]
) -> None:
    # given an account and the Books customer Zoho's sync links to it, besides records Zoho links to nothing
    sim, pipeline = simulated
    account = crm_record_to_party(
        "Accounts",
        sim.state.crm_create("Accounts", {"Account_Name": "Quince Surveyors Ltd"}, source=Source.ADMIN),
    )
    contact = {"contact_name": "Quince Surveyors Ltd", "zcrm_account_id": account.record_id}
    linked = books_contact_to_party(sim.state.books_create_contact(contact, source=Source.SYNC))
    pipeline.decide([event_for(account)])
    pipeline.decide([event_for(linked)])
    unlinked_crm, unlinked_books = companies[0].duplicate.ref, companies[0].customer.ref

    # when an admin links either of the pair elsewhere, then the 409 names the field Zoho's link is about
    status, body = invoke("POST", "/admin/links", {"crm": unlinked_crm, "books": linked.record_id})
    assert (status, body["error"], body["field"]) == (409, "conflict", "books"), body
    assert body["message"].startswith(f"Zoho's own link pairs {linked.ref} with {account.ref}")
    status, body = invoke("POST", "/admin/links", {"crm": account.record_id, "books": unlinked_books})
    assert (status, body["error"], body["field"]) == (409, "conflict", "crm"), body
    assert body["message"].startswith(f"Zoho's own link pairs {linked.ref} with {account.ref}")
    # and nothing was linked by an admin
    assert AuditLog.from_settings(get_settings()).query(AuditQuery(decision="admin")).entries == []


def test_audit_terms_are_read_as_the_cli_reads_them(invoke: Invoke, companies: list[Company]) -> None:
    # the same words find the same entries through the API as through `sync-guard audit`
    held = [c.duplicate.ref for c in companies]
    status, exact = invoke("GET", "/admin/audit", query={"rule": "NAME_DRIFT", "decision": "quarantine"})
    assert status == 200
    assert {ref for e in exact["entries"] for ref in e["records"]} >= set(held)
    status, loose = invoke("GET", "/admin/audit", query={"rule": " name_drift", "decision": "Quarantine"})
    assert status == 200
    assert loose["entries"] == exact["entries"]

    # and a term the trail can never hold is the caller's mistake, not "no entries"
    for field, value in (
        ("record", companies[0].duplicate.record_id),
        ("rule", "NAME_DRIFTS"),
        ("decision", "held"),
    ):
        status, body = invoke("GET", "/admin/audit", query={field: value})
        assert status == 400, (field, body)
        assert body["field"] == field


@pytest.mark.parametrize("field", ["record", "rule", "decision", "cursor"])
@pytest.mark.parametrize("blank", ["", "  "], ids=["empty", "spaces"])
def test_an_empty_audit_term_is_refused_not_read_as_no_filter(
    invoke: Invoke, companies: list[Company], field: str, blank: str
) -> None:
    status, body = invoke("GET", "/admin/audit", query={field: blank})

    # before: 200 with every entry, as if the term had been left out
    assert status == 400, body
    assert body["field"] == field
    assert "empty" in body["message"]


def test_audit_until_a_date_includes_that_day_as_the_cli_does(
    invoke: Invoke, companies: list[Company]
) -> None:
    # the day the companies' decisions were made: "until" that day finds them, "until" the day before not
    status, everything = invoke("GET", "/admin/audit", query={"limit": "500"})
    assert status == 200
    day = min(datetime.fromisoformat(e["at"]) for e in everything["entries"]).date()
    status, body = invoke("GET", "/admin/audit", query={"until": day.isoformat(), "limit": "500"})
    assert status == 200
    assert {c.duplicate.ref for c in companies} <= {ref for e in body["entries"] for ref in e["records"]}
    status, body = invoke("GET", "/admin/audit", query={"until": (day - timedelta(days=1)).isoformat()})
    assert status == 200
    assert body["entries"] == []
    # and a date that does not exist is still the caller's mistake
    status, body = invoke("GET", "/admin/audit", query={"until": "2026-02-30"})
    assert status == 400
    assert body["field"] == "until"
    # and one written as the CLI takes it, 7d, is told what to send instead
    status, body = invoke("GET", "/admin/audit", query={"since": "7d"})
    assert (status, body["field"]) == (400, "since")
    assert body["message"] == (
        "since: an ISO date or time, such as 2026-11-01 or 2026-11-01T10:00:00Z (not a duration like 7d)"
    )


def test_a_request_without_an_iam_identity_is_refused(invoke: Invoke, companies: list[Company]) -> None:
    status, body = invoke("POST", "/admin/breaker/reset", {}, caller=None)
    assert status == 403
    assert (body["error"], body["field"]) == ("forbidden", "caller")
    assert "no IAM identity" in body["message"]
    status, body = invoke("GET", "/admin/quarantines", caller=None)
    assert (status, body["field"]) == (403, "caller")


ACCESS_KEY = "AKIAEXAMPLEKEY0000001"


@pytest.mark.parametrize(
    "authorizer",
    [
        {"iam": "arn:aws:iam::123456789012:user/finance-admin"},  # text where a mapping belongs
        "iam",
        {"iam": {"userArn": "", "callerId": "  "}},
        {"iam": {"userArn": 5, "callerId": None}},  # no text: not "5" as the actor of an audit entry
        {"iam": {"accessKey": ACCESS_KEY, "accountId": "123456789012"}},
    ],
)
def test_an_iam_identity_without_a_caller_arn_is_a_403_naming_the_caller_and_repeating_nothing(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], companies: list[Company], authorizer: Any
) -> None:
    # given a request context whose authorizer names no caller (a direct invocation, a misconfiguration)
    event = admin_request(
        "POST", "/admin/quarantines/hold", json.dumps({"record": companies[0].customer.ref})
    )
    event["requestContext"]["authorizer"] = authorizer

    response = handler(event, FakeLambdaContext())

    # then a 403 naming the caller, which repeats nothing of the context (its access key above all)
    assert response["statusCode"] == 403, response
    document = json.loads(response["body"])
    assert (document["error"], document["field"]) == ("forbidden", "caller")
    assert ACCESS_KEY not in response["body"]
    assert "123456789012" not in response["body"]


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "signed_status"),
    [
        ("POST", "/admin/breaker/reset", '{"reason": "x", "extra": 1}', "application/json", 400),
        ("POST", "/admin/quarantines/hold", "{not json", "application/json", 400),
        ("POST", "/admin/quarantines/release", "{}", "application/json", 400),  # hold_id missing
        ("POST", "/admin/links", "crm=1&books=2", "application/x-www-form-urlencoded", 415),
        ("POST", "/admin/quarantines/confirm", '{"hold_id": "books:9"}', "text/plain", 415),
        ("POST", "/admin/quarantines/forget-release", '{"record": "x"}', "application/json\x00", 415),
    ],
)
def test_the_callers_identity_is_checked_before_the_body(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    method: str,
    path: str,
    body: str,
    content_type: str,
    signed_status: int,
) -> None:
    # given a request whose body is refused when an IAM caller sends it
    signed = handler(admin_request(method, path, body, content_type=content_type), FakeLambdaContext())
    assert signed["statusCode"] == signed_status, signed

    # when it carries no IAM identity, then it is a 403, saying nothing about what the body should hold
    unsigned = admin_request(method, path, body, content_type=content_type, caller=None)
    response = handler(unsigned, FakeLambdaContext())

    assert response["statusCode"] == 403, response
    document = json.loads(response["body"])
    assert (document["error"], document["field"]) == ("forbidden", "caller")
    assert document["message"].startswith("no IAM identity on the request")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/admin/nothing", 404), ("POST", "/admin/quarantines", 405), ("GET", "/admin/links", 405)],
)
def test_a_route_there_is_not_is_answered_before_the_callers_identity_as_api_gateway_does(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], method: str, path: str, status: int
) -> None:
    # API Gateway matches a request to a route before it runs that route's AWS_IAM authorisation, and
    # answers a request no route matches with its own 404 whoever sent it: a direct invocation does the same
    response = handler(admin_request(method, path, "{not json", caller=None), FakeLambdaContext())

    assert response["statusCode"] == status, response
    assert json.loads(response["body"])["field"] == ("path" if status == 404 else "method")


def test_audit_responses_stay_out_of_the_trace(
    invoke: Invoke, companies: list[Company], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An audit page carries customers' names and emails in its evidence; X-Ray must not store it.
    from aws_lambda_powertools import Tracer

    captured: list[object] = []

    def record(self: Tracer, **kwargs: object) -> None:
        captured.append(kwargs["capture_response"])

    monkeypatch.setattr(Tracer, "_add_response_as_metadata", record)
    status, body = invoke("GET", "/admin/audit", query={"record": companies[0].customer.ref})
    assert status == 200
    assert body["entries"]
    assert captured == [False]


def test_forget_release_and_the_record_view(invoke: Invoke, companies: list[Company]) -> None:
    held, customer = companies[0].duplicate.ref, companies[0].customer.ref
    invoke("POST", "/admin/quarantines/release", {"hold_id": held})
    status, body = invoke("GET", "/admin/records", query={"record": held})
    assert status == 200
    assert body["cleared"] == [customer]

    status, body = invoke(
        "POST", "/admin/quarantines/forget-release", {"record": held, "against": customer, "reason": "oops"}
    )

    assert status == 200
    assert (body["operation"], body["actor"]) == ("forget_release", CALLER)
    assert body["detail"]["forgotten"] == {held: [customer]}
    status, body = invoke("GET", "/admin/records", query={"record": held})
    assert body["cleared"] == []
    # nothing left to forget, an unknown record, a missing field
    status, body = invoke("POST", "/admin/quarantines/forget-release", {"record": held, "against": customer})
    assert (status, body["field"]) == (404, "against")
    status, body = invoke("GET", "/admin/records", query={"record": "crm:404"})
    assert (status, body["field"]) == (404, "record")
    status, body = invoke("GET", "/admin/records")
    assert (status, body["field"]) == (400, "record")
    status, body = invoke("POST", "/admin/quarantines/forget-release", {"record": held})
    assert (status, body["field"]) == (400, "against")


def test_hold_records_the_iam_caller_and_names_an_existing_hold(
    invoke: Invoke, companies: list[Company]
) -> None:
    customer, copy = companies[0].customer.ref, companies[0].duplicate.ref
    status, body = invoke(
        "POST", "/admin/quarantines/hold", {"record": customer, "reason": "by hand", "related": [copy]}
    )

    assert status == 200
    assert (body["operation"], body["actor"], body["records"]) == ("hold", CALLER, [customer, copy])
    assert len(body["queued_actions"]) == 1
    entry = AuditLog.from_settings(get_settings()).get(body["entry_id"])
    assert entry is not None
    assert (entry.actor, entry.kind, entry.note) == (CALLER, EntryKind.ADMIN, "by hand")
    status, listed = invoke("GET", "/admin/quarantines", query={"status": "held"})
    assert customer in {q["hold_id"] for q in listed["quarantines"]}

    status, again = invoke("POST", "/admin/quarantines/hold", {"record": customer})
    assert status == 409
    assert (again["error"], again["field"]) == ("conflict", "record")
    assert body["entry_id"] in again["message"]


def test_hold_errors_name_their_field(invoke: Invoke, companies: list[Company]) -> None:
    for body, field in (
        ({"reason": "no record"}, "record"),
        ({"record": "acme"}, "record"),
        ({"record": "crm:1", "related": ["books:x.1"]}, "related"),
        ({"record": "crm:1", "related": "books:9"}, "related"),
        ({"hold_id": "crm:1"}, "record"),
        ({"record": "crm:5725767000009990001", "module": "Leads"}, "module"),
        ({"record": companies[0].customer.ref, "module": "Contacts"}, "module"),
    ):
        status, answer = invoke("POST", "/admin/quarantines/hold", body)
        assert (status, answer["field"]) == (400, field), body
    _, listed = invoke("GET", "/admin/quarantines")
    assert companies[0].customer.ref not in {q["hold_id"] for q in listed["quarantines"]}


def test_hold_takes_the_module_of_a_crm_record_the_guard_does_not_know(
    invoke: Invoke, companies: list[Company]
) -> None:
    status, body = invoke(
        "POST", "/admin/quarantines/hold", {"record": "crm:5725767000009990002", "module": "Contacts"}
    )

    assert status == 200, body
    entry = AuditLog.from_settings(get_settings()).get(body["entry_id"])
    assert entry is not None
    [action] = entry.actions
    assert action.params["module"] == "Contacts"


def test_a_record_whose_id_has_a_dash_as_the_webhook_took_it_is_addressed_through_the_api(
    invoke: Invoke, simulated: tuple[ZohoSimulator, Pipeline]
) -> None:
    # given a CRM account the webhook ingest accepted (its id has a "-"), decided and audited by the guard
    body = {**json.loads(sample_event("crm-workflow-create")["body"]), "id": "5725767-000003000064"}
    event = parse_crm_workflow(body, received_at=datetime.now(UTC))
    _, pipeline = simulated
    pipeline.decide([event])
    ref = "crm:5725767-000003000064"

    # when an admin looks it up, queries its audit trail, holds and releases it, then every call is served
    status, record = invoke("GET", "/admin/records", query={"record": ref})
    assert (status, record["ref"]) == (200, ref), record
    status, audit = invoke("GET", "/admin/audit", query={"record": ref})
    assert status == 200, audit
    assert [entry["records"][0] for entry in audit["entries"]] == [ref]
    status, held = invoke("POST", "/admin/quarantines/hold", {"record": ref, "reason": "by hand"})
    assert (status, held["records"]) == (200, [ref]), held
    status, released = invoke("POST", "/admin/quarantines/release", {"hold_id": ref})
    assert (status, released["operation"]) == (200, "release"), released


@pytest.mark.parametrize(
    ("method", "path", "status", "field", "allow"),
    [
        ("GET", "/admin/nope", 404, "path", None),
        ("POST", "/admin", 404, "path", None),
        ("POST", "/admin/quarantines", 405, "method", "GET"),  # GET-only
        ("GET", "/admin/quarantines/hold", 405, "method", "POST"),  # POST-only
        ("DELETE", "/admin/audit", 405, "method", "GET"),
    ],
)
def test_a_route_there_is_not_is_a_json_404_naming_the_path_and_another_method_a_405_naming_it(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    method: str,
    path: str,
    status: int,
    field: str,
    allow: str | None,
) -> None:
    response = handler(admin_request(method, path, '{"reason": "x"}'), FakeLambdaContext())

    assert response["statusCode"] == status, response
    body = json.loads(response["body"])
    assert body == {"error": body["error"], "message": body["message"], "field": field}
    assert body["error"] == ("not_found" if status == 404 else "method_not_allowed")
    assert response["headers"].get("Allow") == allow


@pytest.mark.parametrize(
    ("content_type", "body", "status", "field"),
    [
        ("text/plain", '{"reason": "x"}', 415, "Content-Type"),  # JSON, but not sent as JSON
        ("application/x-www-form-urlencoded", "reason=x", 415, "Content-Type"),  # what curl -d sends
        ("multipart/form-data; boundary=b", "--b\r\n\r\nx\r\n--b--", 415, "Content-Type"),
        ("application/json\x00", '{"reason": "x"}', 415, "Content-Type"),
        ("text/plain", None, 409, "breaker"),  # no body: nothing sent as text; the breaker is simply not open
        ("application/json; charset=utf-8", '{"reason": "x"}', 409, "breaker"),
        ("application/merge-patch+json", '{"reason": "x"}', 409, "breaker"),
        (None, '{"reason": "x"}', 409, "breaker"),  # no Content-Type: read as JSON
        (None, "reason=x", 400, "body"),  # ... and a body that is not JSON is still refused
    ],
)
def test_a_body_sent_as_anything_but_json_is_a_415_naming_content_type(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    content_type: str | None,
    body: str | None,
    status: int,
    field: str,
) -> None:
    event = admin_request("POST", "/admin/breaker/reset", body, content_type=content_type)

    response = handler(event, FakeLambdaContext())

    assert response["statusCode"] == status, response
    assert json.loads(response["body"]).get("field") == field


def test_apply_writes_an_observe_mode_hold_and_refuses_what_it_cannot(
    invoke: Invoke, companies: list[Company]
) -> None:
    # given a record held while observing (recorded, not written to Zoho), the guard now enforcing
    observed = companies[0].customer.ref
    AdminService.from_settings(get_settings()).hold(observed, actor="user:ivy", mode=Mode.OBSERVE)

    status, body = invoke("POST", "/admin/quarantines/apply", {"hold_id": observed, "reason": "reviewed"})

    assert status == 200, body
    assert (body["operation"], body["actor"], body["records"]) == ("apply", CALLER, [observed])
    assert len(body["queued_actions"]) == 1
    assert body["note"].startswith("reviewed")
    # a hold already written to Zoho: the apply's, or one held in enforce mode
    for held in (observed, companies[1].duplicate.ref):
        status, body = invoke("POST", "/admin/quarantines/apply", {"hold_id": held})
        assert (status, body["error"], body["field"]) == (409, "conflict", "hold_id"), body
        assert "already held in Zoho" in body["message"]
    status, body = invoke("POST", "/admin/quarantines/apply", {"hold_id": "crm:123456"})
    assert (status, body["error"], body["field"]) == (404, "not_found", "hold_id"), body
    status, body = invoke("POST", "/admin/quarantines/apply", {"reason": "no id"})
    assert (status, body["field"]) == (400, "hold_id")


def test_apply_while_the_guard_observes_is_a_conflict_naming_its_mode(
    companies: list[Company], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNC_GUARD_MODE", "observe")
    get_settings.cache_clear()
    AdminService.from_settings(get_settings()).hold(companies[0].customer.ref, actor="user:ivy")
    handler = fresh_module("functions.admin.app").lambda_handler
    request = admin_request(
        "POST", "/admin/quarantines/apply", json.dumps({"hold_id": companies[0].customer.ref})
    )

    response = handler(request, FakeLambdaContext())

    body = json.loads(response["body"])
    assert (response["statusCode"], body["error"], body["field"]) == (409, "conflict", "mode"), body
    assert "switch to enforce first" in body["message"]


def test_the_record_view_shows_a_customer_turned_vendor_as_retired_not_deleted(
    invoke: Invoke, companies: list[Company], simulated: tuple[ZohoSimulator, Pipeline]
) -> None:
    # given a Books customer the guard holds as live, then edited into a vendor in Books
    _, pipeline = simulated
    customer = companies[0].customer
    assert customer.modified_at is not None
    turned_at = customer.modified_at + timedelta(minutes=5)
    vendor = customer.model_copy(update={"module": Module.BOOKS_VENDORS, "modified_at": turned_at})
    status, before = invoke("GET", "/admin/records", query={"record": customer.ref})
    assert (status, before["deleted"], before["status"], before["retired_at"]) == (200, False, "live", None)
    pipeline.decide([event_for(vendor)])

    # when an admin looks it up
    status, body = invoke("GET", "/admin/records", query={"record": customer.ref})

    # then it is what it is: a vendor, retired from matching, since that edit (and, for the clients that
    # read `deleted`, still not live)
    assert status == 200
    assert body["module"] == Module.BOOKS_VENDORS.value
    assert body["status"] == "retired"
    assert datetime.fromisoformat(body["retired_at"]) == turned_at
    assert body["deleted"] is True
    # a link to it is refused as one to a vendor, not to a record deleted in Zoho
    crm = companies[0].duplicate  # a CRM account
    status, refused = invoke("POST", "/admin/links", {"crm": crm.record_id, "books": customer.record_id})
    assert (status, refused["field"]) == (409, "books")
    assert "a Books vendor now" in refused["message"]
