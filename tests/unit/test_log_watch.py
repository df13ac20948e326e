"""The suite's log watch (tests/support/logs.py) sees what it must: the check that every test runs under."""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger

from sync_guard.redact import mask_email
from tests.support.logs import LogWatch, leaks


def test_an_address_in_clear_is_a_leak_and_a_masked_one_is_not() -> None:
    assert leaks("paired with jane.doe@acme.example", ()) == ["jane.doe@acme.example"]
    assert leaks(f"paired with {mask_email('jane.doe@acme.example')}", ()) == []
    assert leaks("j***@acme.example and the domain acme.example", ()) == []
    assert leaks("token sync-guard-test-secret refused", ("sync-guard-test-secret",)) == ["secret syn..."]


def test_the_watch_reads_the_extra_fields_and_a_non_propagating_logger(log_watch: LogWatch) -> None:
    logging.getLogger("sync_guard.tests").debug("matched", extra={"email": "jane.doe@acme.example"})
    powertools = Logger(service="sync-guard-watch-test", level="INFO")  # propagate=False, own handler
    powertools.info("stored", extra={"contact": "sam@smith.example"})
    seen = log_watch.take()
    assert len(seen) == 2, seen
    assert "jane.doe@acme.example" in seen[0]
    assert "sam@smith.example" in seen[1]


def test_a_traceback_is_read_too(log_watch: LogWatch) -> None:
    try:
        raise ValueError("no customer jane.doe@acme.example")
    except ValueError:
        logging.getLogger("sync_guard.tests").exception("failed")
    assert log_watch.take()
