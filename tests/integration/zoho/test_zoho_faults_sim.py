"""Retries, Retry-After, 5xx, timeouts and fault injection, clients against the simulator over HTTP."""

from __future__ import annotations

import time

import pytest

from sync_guard.local.zoho_simulator import ChangeKind, FaultConfig, FaultKind, Source, ZohoSimulator
from sync_guard.local.zoho_simulator.faults import DEFAULT_KINDS
from sync_guard.zoho.auth import InMemoryTokenCache
from sync_guard.zoho.errors import ZohoRateLimited, ZohoServerError, ZohoTimeout, ZohoUnavailable
from sync_guard.zoho.factory import ZohoClients, build_zoho_clients
from sync_guard.zoho.http import RetryPolicy
from tests.integration.zoho.zoho_support import FAST_RETRY, FakeMonotonic, SleepRecorder


def _customer(sim: ZohoSimulator, name: str = "Acme Ltd") -> str:
    return str(sim.state.books_create_contact({"contact_name": name}, source=Source.ADMIN)["contact_id"])


def _account(sim: ZohoSimulator, name: str = "Acme Ltd") -> str:
    return str(sim.state.crm_create("Accounts", {"Account_Name": name}, source=Source.ADMIN)["id"])


def test_429_waits_as_long_as_retry_after_says(
    sim: ZohoSimulator, zoho: ZohoClients, sleeps: SleepRecorder
) -> None:
    customer = _customer(sim)
    sim.faults.configure(retry_after=7)
    sim.faults.script([FaultKind.RATE_LIMIT, FaultKind.RATE_LIMIT])

    zoho.books.mark_inactive(customer)

    assert sim.requests.count("books.mark_inactive", status=429) == 2
    assert sim.requests.count("books.mark_inactive", status=200) == 1
    # Two waits of Retry-After (plus at most half the base delay of jitter), not the short backoff.
    assert len(sleeps.waits) == 2
    assert all(7 <= w <= 7 + FAST_RETRY.base_delay for w in sleeps.waits)


def test_retry_after_beyond_the_budget_is_raised_not_slept(
    sim: ZohoSimulator, zoho: ZohoClients, sleeps: SleepRecorder
) -> None:
    account = _account(sim)
    sim.faults.configure(retry_after=3600)
    sim.faults.script([FaultKind.RATE_LIMIT])

    with pytest.raises(ZohoRateLimited) as caught:
        zoho.crm.add_tags("Accounts", account, ["held"])

    assert caught.value.retry_after == 3600
    assert caught.value.retryable is True  # for the outbox: later, not now
    assert sleeps.waits == []
    assert sim.requests.count("crm.add_tags") == 1


def test_retry_after_past_the_end_of_the_invocation_is_raised_not_slept(
    sim: ZohoSimulator, zoho: ZohoClients, sleeps: SleepRecorder
) -> None:
    # given: 5 s of the invocation left for Zoho, and Zoho asking for 7 s (within the retry policy's own)
    customer = _customer(sim)
    sim.faults.configure(retry_after=7)
    sim.faults.script([FaultKind.RATE_LIMIT])
    zoho.finish_calls_by(time.monotonic() + 5)

    # when / then: the wait is not begun (the Lambda would be cut short in it), the 429 is raised
    with pytest.raises(ZohoRateLimited):
        zoho.books.mark_inactive(customer)
    assert sleeps.waits == []
    assert sim.requests.count("books.mark_inactive") == 1

    # and with no time left for an attempt, none is sent
    zoho.finish_calls_by(time.monotonic() - 1)
    with pytest.raises(ZohoUnavailable):
        zoho.books.mark_inactive(customer)
    assert sim.requests.count("books.mark_inactive") == 1

    # the bound lifted, the wait is Zoho's
    zoho.finish_calls_by(None)
    sim.faults.script([FaultKind.RATE_LIMIT])
    zoho.books.mark_inactive(customer)
    assert len(sleeps.waits) == 1


def test_5xx_is_retried_with_growing_backoff_then_succeeds(
    sim: ZohoSimulator, zoho: ZohoClients, sleeps: SleepRecorder
) -> None:
    account = _account(sim)
    sim.faults.script([FaultKind.SERVER_ERROR] * 3)

    record = zoho.crm.get_record("Accounts", account)

    assert record is not None
    assert sim.requests.count("crm.get_record", status=500) == 3
    assert len(sleeps.waits) == 3
    # Equal jitter: each wait is between half and all of its exponential step.
    for attempt, wait in enumerate(sleeps.waits, start=1):
        step = min(FAST_RETRY.max_delay, FAST_RETRY.base_delay * 2 ** (attempt - 1))
        assert step / 2 <= wait <= step


def test_5xx_gives_up_after_max_attempts_with_a_typed_error(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    customer = _customer(sim)
    sim.faults.script([FaultKind.SERVER_ERROR] * 10)

    with pytest.raises(ZohoServerError) as caught:
        zoho.books.get_contact(customer)

    assert caught.value.http_status == 500
    assert caught.value.retryable is True
    assert sim.requests.count("books.get_contact") == FAST_RETRY.max_attempts


def test_timeout_is_retried_for_idempotent_calls(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    customer = _customer(sim)
    sim.faults.configure(delay=0.5)  # the clients time out after 0.3 s
    sim.faults.script([FaultKind.TIMEOUT])

    zoho.books.mark_inactive(customer)
    assert sim.wait_idle()  # the held request is released without effect

    contact = sim.state.books_get(customer)
    assert contact is not None
    assert contact["status"] == "inactive"
    assert sim.requests.count("books.mark_inactive", faulted=True) == 1
    assert len(sim.state.changes_for(customer, ChangeKind.STATUS)) == 1


def test_timeouts_give_up_with_zoho_timeout(sim: ZohoSimulator, sleeps: SleepRecorder) -> None:
    customer = _customer(sim)
    sim.faults.configure(delay=0.5)
    sim.faults.script([FaultKind.TIMEOUT] * 2)
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
    settings = sim.settings(zoho_timeout_seconds=0.1)
    with (
        build_zoho_clients(settings, InMemoryTokenCache(), retry=policy, sleep=sleeps) as zoho,
        pytest.raises(ZohoTimeout) as caught,
    ):
        zoho.books.get_contact(customer)
    assert caught.value.retryable is True


def test_create_is_not_retried_after_a_timeout_or_5xx(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    # Books may have created the customer before the answer was lost: a retry could create it twice.
    sim.faults.configure(delay=0.5, timeout_applies_effect=True)
    sim.faults.script([FaultKind.TIMEOUT])
    with pytest.raises(ZohoTimeout):
        zoho.books.create_contact({"contact_name": "Acme Ltd"})

    sim.faults.script([FaultKind.SERVER_ERROR])
    with pytest.raises(ZohoServerError):
        zoho.books.create_contact({"contact_name": "Beta Ltd"})
    assert sim.wait_idle()  # the timed-out create still lands, later, as it can on Zoho

    assert sim.requests.count("books.create_contact") == 2
    assert [c["contact_name"] for c in sim.state.books_contacts.values()] == ["Acme Ltd"]


def test_create_is_retried_after_429(sim: ZohoSimulator, zoho: ZohoClients) -> None:
    sim.faults.script([FaultKind.RATE_LIMIT])

    created = zoho.books.create_contact({"contact_name": "Acme Ltd"})

    assert created.name == "Acme Ltd"
    assert sim.requests.count("books.create_contact") == 2
    assert len(sim.state.books_contacts) == 1


def test_thirty_percent_faults_every_idempotent_action_lands_once(
    sim: ZohoSimulator, sleeps: SleepRecorder
) -> None:
    customers = [_customer(sim, f"Customer {n}") for n in range(60)]
    accounts = [_account(sim, f"Account {n}") for n in range(60)]
    # The client's timeout is well above the simulator's answer time on a loaded machine, so the timeouts it
    # meets are the simulator's held requests, not slow answers using up its attempts. Each costs that
    # timeout in wall time: a few of them among many 429s and 500s keep the test quick.
    sim.faults.configure(
        FaultConfig(
            rate=0.3,
            weights={FaultKind.RATE_LIMIT: 1.0, FaultKind.SERVER_ERROR: 1.0, FaultKind.TIMEOUT: 0.1},
            seed=11,
            retry_after=0.5,
            delay=1.5,
        )
    )
    patient = RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05)
    settings = sim.settings(zoho_timeout_seconds=1.0)
    with build_zoho_clients(settings, InMemoryTokenCache(), retry=patient, sleep=sleeps) as zoho:
        for customer in customers:
            zoho.books.mark_inactive(customer)
        for account in accounts:
            zoho.crm.add_tags("Accounts", account, ["sync-guard-hold"])
    assert sim.wait_idle()

    injected = sim.faults.injected
    assert set(injected) == set(DEFAULT_KINDS)  # all three kinds happened
    assert sum(injected.values()) == sim.requests.count(faulted=True)
    # Every action applied, and applied exactly once whatever the number of attempts.
    for customer in customers:
        assert len(sim.state.changes_for(customer, ChangeKind.STATUS)) == 1
    for account in accounts:
        assert len(sim.state.changes_for(account, ChangeKind.TAGS)) == 1


def test_same_seed_same_faults(sim: ZohoSimulator) -> None:
    def run() -> list[FaultKind | None]:
        sim.faults.configure(FaultConfig(rate=0.3, seed=5))
        return [f.kind if f else None for f in (sim.faults.decide("books.get_contact") for _ in range(50))]

    assert run() == run()


def test_books_rate_limit_per_minute_answers_429_with_retry_after(token_clock: FakeMonotonic) -> None:
    with ZohoSimulator(token_clock=token_clock, rate_limits={"books": 3}, crm_credits=100) as limited:
        customer = _customer(limited)
        sleeps = SleepRecorder()
        patient = RetryPolicy(max_attempts=2, base_delay=0.01, max_retry_after=120, deadline=None)
        with build_zoho_clients(
            limited.settings(), InMemoryTokenCache(), retry=patient, sleep=sleeps
        ) as zoho:
            for _ in range(3):
                zoho.books.get_contact(customer)
            token_clock.advance(30)
            with pytest.raises(ZohoRateLimited):
                zoho.books.get_contact(customer)
            # The window frees up 60 s after the first call: 30 s from now.
            assert sleeps.waits[0] == pytest.approx(30, abs=FAST_RETRY.base_delay)
            token_clock.advance(31)
            assert zoho.books.get_contact(customer) is not None
            response = zoho.http._client.get(
                f"{limited.url}/crm/v8/Accounts",
                params={"fields": "id"},
                headers={"Authorization": f"Zoho-oauthtoken {zoho.auth.token().access_token}"},
            )
    assert response.headers["X-API-CREDITS-REMAINING"] == "99"
    assert limited.requests.count("books.get_contact", status=429) == 2


def test_books_rate_limit_code_in_a_400_body_is_retried_as_a_rate_limit(
    sim: ZohoSimulator, zoho: ZohoClients, sleeps: SleepRecorder
) -> None:
    # given: Books answers its "too many requests" code (45) with HTTP 400 instead of 429, twice
    customer = _customer(sim)
    sim.faults.configure(route_pattern=r"^books\.mark_inactive$")
    sim.faults.script([FaultKind.RATE_LIMIT_IN_BODY, FaultKind.RATE_LIMIT_IN_BODY])

    zoho.books.mark_inactive(customer)

    # then: retried after a wait, as a 429 is, not refused for good
    assert sim.requests.count("books.mark_inactive", status=400) == 2
    assert sim.requests.count("books.mark_inactive", status=200) == 1
    assert len(sleeps.waits) == 2
    assert sim.state.books_get(customer)["status"] == "inactive"


def test_crm_per_record_internal_error_in_a_207_is_retried(
    sim: ZohoSimulator, zoho: ZohoClients, sleeps: SleepRecorder
) -> None:
    # given: CRM answers the tag write with a multi-record status whose record says INTERNAL_ERROR
    account = _account(sim)
    sim.faults.configure(route_pattern=r"^crm\.add_tags$")
    sim.faults.script([FaultKind.RECORD_INTERNAL_ERROR])

    zoho.crm.add_tags("Accounts", account, ["held"])

    assert sim.requests.count("crm.add_tags", status=207) == 1
    assert sim.requests.count("crm.add_tags", status=200) == 1
    assert len(sleeps.waits) == 1
    assert "held" in {t["name"] for t in sim.state.crm_get("Accounts", account)["Tag"]}


@pytest.mark.parametrize(
    ("route", "fault", "expected"),
    [
        ("books.mark_inactive", FaultKind.RATE_LIMIT_IN_BODY, ZohoRateLimited),
        ("crm.add_tags", FaultKind.RECORD_INTERNAL_ERROR, ZohoServerError),
    ],
)
def test_a_transient_answer_that_persists_stays_retryable_for_the_outbox(
    sim: ZohoSimulator, zoho: ZohoClients, route: str, fault: FaultKind, expected: type[Exception]
) -> None:
    # given: Books' rate-limit code in a 400, or CRM's per-record INTERNAL_ERROR, on every attempt
    customer, account = _customer(sim), _account(sim)
    sim.faults.configure(route_pattern=f"^{route}$")
    sim.faults.script([fault] * FAST_RETRY.max_attempts)

    def hold() -> None:
        if route.startswith("books."):
            zoho.books.mark_inactive(customer)
        else:
            zoho.crm.add_tags("Accounts", account, ["held"])

    with pytest.raises(expected) as caught:
        hold()

    # then: tried as often as the policy allows, and left retryable: the outbox retries it, then the DLQ
    assert caught.value.retryable is True  # type: ignore[attr-defined]
    assert sim.requests.count(route) == FAST_RETRY.max_attempts
    if fault is FaultKind.RECORD_INTERNAL_ERROR:
        assert "INTERNAL_ERROR" in str(caught.value)
