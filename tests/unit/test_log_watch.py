"""The suite's log watch (tests/support/logs.py) sees what it must: the check that every test runs under."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from aws_lambda_powertools import Logger

from sync_guard.local.zoho_simulator import ZohoSimulator
from sync_guard.local.zoho_simulator.oauth import MINTS_PER_WINDOW
from sync_guard.redact import mask_email
from tests.support.local import SIMULATOR_SECRETS
from tests.support.logs import LogWatch, leaks

# Characters that each encoding writes its own way: "/" and "+" (percent-encoding, base64's alphabets),
# '"' (JSON), a letter beyond ASCII, and ">>?" whose base64 has "+" and "/" in it.
SECRET = 'k3y/with+"quote"-ü>>?'


def test_an_address_in_clear_is_a_leak_and_a_masked_one_is_not() -> None:
    assert leaks("paired with jane.doe@acme.example", ()) == ["jane.doe@acme.example"]
    assert leaks(f"paired with {mask_email('jane.doe@acme.example')}", ()) == []
    assert leaks("j***@acme.example and the domain acme.example", ()) == []
    assert leaks("token sync-guard-test-secret refused", ("sync-guard-test-secret",)) == [
        "sync-guard-test-secret"
    ]


def test_a_percent_encoded_address_is_a_leak_and_a_percent_encoded_mask_is_not() -> None:
    assert leaks("GET /crm/v8/Contacts/search?email=jane.doe%40acme.example", ()) == [
        "jane.doe%40acme.example"
    ]
    assert leaks(f"GET /search?email={quote(mask_email('jane.doe@acme.example'), safe='')}", ()) == []


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _urlsafe_b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


ENCODINGS: dict[str, Callable[[str], str]] = {
    "quote": quote,
    "quote, nothing safe": lambda s: quote(s, safe=""),
    "quote_plus": quote_plus,
    "base64": _b64,
    "base64 unpadded": lambda s: _b64(s).rstrip("="),
    "base64 urlsafe": _urlsafe_b64,
    "base64 urlsafe unpadded": lambda s: _urlsafe_b64(s).rstrip("="),
    "base64 inside a Basic header": lambda s: "Basic " + _b64(f"client-id:{s}"),
    "base64 urlsafe inside a longer value": lambda s: _urlsafe_b64(f'{{"token": "{s}", "n": 1}}'),
    "JSON-escaped": lambda s: json.dumps({"token": s}),
    "JSON-escaped with an escaped slash": lambda s: json.dumps(s).replace("/", "\\/"),
    "hex of its UTF-8": lambda s: s.encode().hex(),
    "HEX of its UTF-8": lambda s: s.encode().hex().upper(),
}


@pytest.mark.parametrize("encode", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_the_secret_is_seen_in_each_encoding_a_log_line_could_carry(
    log_watch: LogWatch, encode: Callable[[str], str]
) -> None:
    encoded = encode(SECRET)
    assert SECRET not in encoded  # the encoding changed it: only the wider watch sees it
    watch = LogWatch((SECRET,))
    # when a record carries the secret encoded
    watch.check(logging.LogRecord("sync_guard.tests", logging.INFO, "", 0, "sent %s", (encoded,), None))
    # then the watch reports it, without writing it in the report
    seen = watch.take()
    assert len(seen) == 1, seen
    assert SECRET not in seen[0]
    assert leaks(seen[0], (SECRET,)) == []


def test_a_secret_the_environment_configures_is_watched_for_while_it_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a local stack's own webhook secret, set in the environment while the stack runs
    stack_secret = "made-up-by-the-stack-0123"
    watch = LogWatch(("the-tests-own-secret",))
    record = logging.LogRecord(
        "sync_guard.tests", logging.INFO, "", 0, "token %s", (quote(stack_secret),), None
    )
    monkeypatch.setenv("SYNC_GUARD_WEBHOOK_SECRET", stack_secret)
    # when a record carries it, then the watch sees it
    watch.check(record)
    assert len(watch.take()) == 1
    # and once the stack stopped, that value is no secret of the guard's any more
    monkeypatch.delenv("SYNC_GUARD_WEBHOOK_SECRET")
    watch.check(record)
    assert watch.take() == []


def test_a_masked_secret_is_not_a_leak() -> None:
    assert leaks(f"token {SECRET[:3]}... refused", (SECRET,)) == []


def test_the_watch_reads_the_extra_fields_and_a_non_propagating_logger(log_watch: LogWatch) -> None:
    logging.getLogger("sync_guard.tests").debug("matched", extra={"email": "jane.doe@acme.example"})
    powertools = Logger(service="sync-guard-watch-test", level="INFO")  # propagate=False, own handler
    powertools.info("stored", extra={"contact": "sam@smith.example"})
    seen = log_watch.take()
    assert len(seen) == 2, seen
    # the report says where, and masks what leaked
    assert "email='j" in seen[0]
    assert "jane.doe@acme.example" not in seen[0]
    assert "contact=" in seen[1]
    assert "sam@smith.example" not in seen[1]


def test_a_traceback_is_read_too(log_watch: LogWatch) -> None:
    try:
        raise ValueError("no customer jane.doe@acme.example")
    except ValueError:
        logging.getLogger("sync_guard.tests").exception("failed")
    assert log_watch.take()


def test_a_process_output_is_read_line_by_line_and_named_in_the_report() -> None:
    watch = LogWatch((SECRET,))
    output = "\n".join(
        ["Started.", '{"level": "INFO", "message": "paired", "email": "jane.doe@acme.example"}', _b64(SECRET)]
    )
    watch.read("sync-guard serve", output)
    seen = watch.take()
    assert len(seen) == 2, seen
    assert seen[0].startswith("sync-guard serve, line 2: ")
    assert seen[1].startswith("sync-guard serve, line 3: ")
    assert not any(leaks(line, (SECRET,)) for line in seen)


def test_a_followed_log_file_is_read_at_each_take_and_at_the_end(tmp_path: Path) -> None:
    watch = LogWatch(())
    log = tmp_path / "server.log"  # not there yet: the server has not started
    with watch.following("DynamoDB Local", log, secrets=(SECRET,)):
        assert watch.take() == []
        log.write_text("started\nrequest from jane.doe@acme.example\nhalf a li")
        first = watch.take()
        assert first == ["DynamoDB Local (server.log), line 2: 'request from j<20 chars masked>'"]
        with log.open("a") as stream:
            stream.write(f"ne with {quote_plus(SECRET)}\nlast line, {SECRET.encode().hex()}")
        second = watch.take()  # the line cut at the first take is read whole now
        assert len(second) == 1, second
        assert second[0].startswith("DynamoDB Local (server.log), line 3: 'half a line with ")
    third = watch.take()  # leaving the block read the last line, with no newline after it
    assert len(third) == 1, third
    assert third[0].startswith("DynamoDB Local (server.log), line 4: 'last line, ")
    assert watch.followed == []


def test_a_record_whose_leak_spans_lines_is_reported_whole() -> None:
    secret = "first-line\nsecond-line"
    watch = LogWatch((secret,))
    watch.check(logging.LogRecord("sync_guard.tests", logging.INFO, "", 0, "got %s", (secret,), None))
    assert watch.take() == ["sync_guard.tests INFO record: 'got f<21 chars masked>'"]


def _mint(sim: ZohoSimulator) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "refresh_token": sim.refresh_token,
    }
    return httpx.post(f"{sim.url}/oauth/v2/token", data=form)


def test_what_a_zoho_simulator_holds_or_mints_is_watched_for(log_watch: LogWatch) -> None:
    logger = logging.getLogger("sync_guard.tests")
    with ZohoSimulator(
        seed=11, client_secret="watched-client-secret", refresh_token="1000.watched.refresh"
    ) as sim:
        minted = _mint(sim).json()["access_token"]
        # when records carry a token its endpoint minted, one it issued directly, its refresh token and
        # its client's secret, in clear or encoded
        logger.info("calling with %s", minted)
        logger.debug("header Zoho-oauthtoken %s", quote(sim.authority.issue_directly(), safe=""))
        logger.info("form %s", _b64(f"refresh_token={sim.refresh_token}"))
        logger.info("secret %s", json.dumps({"client_secret": sim.client_secret}))
        # and a process prints the minted token
        printed = log_watch.read("a process", f"Authorization: Zoho-oauthtoken {minted}")
        seen = log_watch.take()
    # then each is reported, and no report shows it
    assert printed == 1
    assert len(seen) == 5, seen
    assert not any(leaks(line, (minted, sim.refresh_token, sim.client_secret)) for line in seen)


def test_the_tokens_watched_for_in_serve_and_demo_are_the_ones_their_simulator_mints() -> None:
    # serve and demo start their simulator (seed 0) in their own process: the watch predicts its tokens
    with ZohoSimulator(seed=0) as sim:
        answers = [_mint(sim) for _ in range(MINTS_PER_WINDOW + 1)]
    minted = tuple(answer.json()["access_token"] for answer in answers[:-1])
    assert minted == SIMULATOR_SECRETS[2:]
    assert (sim.client_secret, sim.refresh_token) == SIMULATOR_SECRETS[:2]
    # and it mints no other in a run shorter than its window: the next one is refused
    assert answers[-1].status_code == 400


def test_a_command_run_through_the_watch_is_read_and_returned_as_it_ran() -> None:
    watch = LogWatch((SECRET,))
    code = (
        "import sys; print('paired jane.doe@acme.example'); print(sys.argv[1], file=sys.stderr); sys.exit(3)"
    )
    command = [sys.executable, "-c", code, quote_plus(SECRET)]
    done = watch.run("sync-guard something", command)
    assert (done.returncode, done.stdout, done.stderr) == (
        3,
        "paired jane.doe@acme.example\n",
        quote_plus(SECRET) + "\n",
    )
    seen = watch.take()
    assert [line.partition(":")[0] for line in seen] == [
        "sync-guard something (stdout), line 1",
        "sync-guard something (stderr), line 1",
    ]
    # a check=True raises once the output is read
    with pytest.raises(subprocess.CalledProcessError):
        watch.run("sync-guard something", command, check=True)
    assert len(watch.take()) == 2
