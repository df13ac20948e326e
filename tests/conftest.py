"""Fixtures shared by every suite. Handlers are imported inside fixtures, after mocks and environment."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from moto import mock_aws

from sync_guard.config import get_settings
from sync_guard.executor.wiring import close_zoho_clients
from sync_guard.local.dynamodb import RunningServer, dynamodb_server, moto_server
from sync_guard.store.aws import reset_clients
from tests.support.aws import AwsResources, fake_credentials, provisioned
from tests.support.handlers import TEST_SECRET
from tests.support.iam import enforced
from tests.support.logs import LogWatch, watched

ROOT = Path(__file__).resolve().parents[1]

# Property tests check what the code does, not how fast: hypothesis's default 200 ms deadline per example is
# a timing assertion, which a shared machine under load trips (tests/unit/matching/test_names_align.py,
# 340 ms at a load near 9). Speed is measured by benchmarks/ instead.
settings.register_profile("sync-guard", deadline=None)
settings.load_profile("sync-guard")
EVENTS_DIR = ROOT / "events"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker, collect the session's garbage while the controller still waits for it.

    After the session pytest collects garbage twice (to report exceptions raised in finalizers), but by
    then the worker has told the controller it finished, and execnet gives a finished worker 5 seconds
    before it interrupts it (SIGINT). A full collection of a worker's heap (botocore, moto, the
    simulator) takes seconds on a busy machine: the interrupt then landed in hypothesis's gc callback,
    the only Python code a collection runs, and pytest printed it as PytestUnraisableExceptionWarnings.
    Collected here (this hook runs inside xdist's, before it reports), and what survives frozen, pytest's
    collections afterwards are short and still find whatever became garbage since."""
    if hasattr(session.config, "workerinput"):
        gc.collect()
        gc.freeze()


@pytest.fixture(scope="session", autouse=True)
def _iam_refusals() -> Iterator[list[str]]:
    """The guard's calls are held to the template's IAM (servers here check none); the refusals made."""
    with enforced() as refused:
        yield refused


@pytest.fixture(autouse=True)
def _no_refusal_unseen(_iam_refusals: list[str]) -> Iterator[None]:
    """A call the IAM would refuse fails its test, even where the code under test caught the error.

    (Tests that show a refusal on purpose make it under an ``enforced`` of their own, which refuses
    first.)"""
    _iam_refusals.clear()
    yield
    if _iam_refusals:
        pytest.fail("a call IAM would refuse was made and its error caught:\n" + "\n".join(_iam_refusals))


@pytest.fixture(scope="session", autouse=True)
def log_watch() -> Iterator[LogWatch]:
    """Every log record the suite makes, read for emails in clear and the tests' webhook secret.

    The servers a session keeps running are read at each test's end and last when they stop: what only
    that last read finds fails the session."""
    with watched((TEST_SECRET,)) as watch:
        yield watch
        leaked = watch.take()
    if leaked:
        pytest.fail("logged in clear by a server the session ran:\n" + "\n".join(leaked))


@pytest.fixture(autouse=True)
def _nothing_private_logged(log_watch: LogWatch) -> Iterator[None]:
    """A test whose code logs a customer's email or the secret in clear fails, whatever it asserts.

    What was logged since the last test ended (a wider fixture's teardown or setup, a server's last
    lines when it stopped) fails this one, before it runs."""
    if leaked := log_watch.take():
        pytest.fail("logged in clear before this test, by a fixture or a server:\n" + "\n".join(leaked))
    yield
    if leaked := log_watch.take():
        pytest.fail("logged in clear:\n" + "\n".join(leaked))


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts from the same environment: fake AWS credentials, no stray SYNC_GUARD_* values;
    and ends with the functions' Zoho connections closed."""
    for name in list(os.environ):
        if name.startswith("SYNC_GUARD_"):
            monkeypatch.delenv(name)
    fake_credentials(monkeypatch)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ZohoSyncGuardTests")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")  # every line the functions can log is read
    get_settings.cache_clear()
    reset_clients()
    yield
    get_settings.cache_clear()
    reset_clients()
    # Handler modules a test imported keep their Zoho clients (Lambda keeps them per container): close
    # their connections now rather than leave them to the garbage collector, during some later test.
    close_zoho_clients()


@pytest.fixture
def closed_after() -> Iterator[contextlib.ExitStack]:
    """What a test enters here (a client's HTTP connections, with ``closing``) is closed once it is done."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsResources]:
    """The template's tables, the queue with its DLQ and the finance topic, in moto (in-process)."""
    with mock_aws(), provisioned(monkeypatch) as resources:
        yield resources


@pytest.fixture(scope="session")
def dynamodb_endpoint(
    log_watch: LogWatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A real DynamoDB-API server over HTTP (DynamoDB Local on Java, else moto's server), one per session.

    What DynamoDB Local prints is read by the log watch."""
    log_file = tmp_path_factory.mktemp("dynamodb-local") / "dynamodb.log"
    with (
        log_watch.following("DynamoDB Local", log_file),
        dynamodb_server(ROOT / ".local" / "dynamodb", log_file=log_file) as server,
    ):
        yield server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[RunningServer]:
    """moto's server over HTTP, for SQS and SNS beside the real DynamoDB server."""
    with moto_server() as server:
        yield server


@pytest.fixture
def aws_server(
    monkeypatch: pytest.MonkeyPatch, dynamodb_endpoint: RunningServer, moto_endpoint: RunningServer
) -> Iterator[AwsResources]:
    """Like ``aws`` but over HTTP: tables on the real DynamoDB server, queues and topics on moto's server."""
    with provisioned(
        monkeypatch,
        aws_endpoint_url=moto_endpoint.endpoint_url,
        dynamodb_endpoint_url=dynamodb_endpoint.endpoint_url,
    ) as resources:
        yield resources
