"""Handlers sharing the local runtime's process log and measure as if each were its own Lambda function."""

from __future__ import annotations

import io
import json
import threading
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cold_start import reset_cold_start_flag

from sync_guard.local.powertools import quiet_unpublished_metrics, scope_function_logs
from sync_guard.local.runtime import LocalLambdaContext, ScheduleEventSource

# A wait that only ends early because the other function got there: never reached when the test passes.
WAIT = 10


def lines(stream: io.StringIO) -> dict[str, dict[str, Any]]:
    """Each JSON log line written to ``stream``, by its message."""
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    return {record["message"]: record for record in records}


@pytest.fixture
def service_log() -> Iterator[tuple[str, io.StringIO]]:
    """A service of its own (Powertools keeps one logger per service per process), logging to a buffer."""
    service = f"local-logs-{uuid.uuid4().hex}"
    stream = io.StringIO()
    Logger(service=service, stream=stream)  # the first Logger() of a service configures its handler
    undo = scope_function_logs(service)
    yield service, stream
    undo()


def test_each_line_names_the_function_that_wrote_it_while_another_runs_in_the_same_process(
    service_log: tuple[str, io.StringIO],
) -> None:
    # given two functions' handlers in one process, each with its Logger() of the template's one service
    service, stream = service_log
    ingest_logger, processor_logger = Logger(service=service), Logger(service=service)
    processor_started, ingest_done = threading.Event(), threading.Event()

    @ingest_logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
    def ingest(event: dict[str, Any], context: Any) -> None:
        ingest_logger.info(f"webhook accepted {event['n']}")

    @processor_logger.inject_lambda_context
    def processor(event: dict[str, Any], context: Any) -> None:
        processor_started.set()
        ingest_done.wait(WAIT)
        processor_logger.info("event processed")

    ingest_function = ScheduleEventSource(ingest, "IngestFunction", 60)
    processor_function = ScheduleEventSource(processor, "ProcessorFunction", 60)

    # when the ingest function runs twice while the processor's invocation is under way
    processing = threading.Thread(target=processor_function.invoke, args=({},))
    processing.start()
    assert processor_started.wait(WAIT)
    for n in (1, 2):
        ingest_function.invoke({"n": n, "requestContext": {"requestId": f"request-{n}"}})
    ingest_done.set()
    processing.join(WAIT)
    ingest_logger.info("between invocations")

    # then each line carries the function that wrote it, and only what that invocation appended
    logged = lines(stream)
    processed = logged["event processed"]
    assert processed["function_name"] == "ProcessorFunction"
    assert "correlation_id" not in processed
    assert processed["cold_start"] is True  # the processor's first invocation, though not the process's
    first, second = logged["webhook accepted 1"], logged["webhook accepted 2"]
    assert (first["function_name"], first["correlation_id"], first["cold_start"]) == (
        "IngestFunction",
        "request-1",
        True,
    )
    assert (second["function_name"], second["correlation_id"], second["cold_start"]) == (
        "IngestFunction",
        "request-2",
        False,
    )
    assert first["function_request_id"] != second["function_request_id"] != processed["function_request_id"]
    # and a line written outside any invocation names no function
    assert "function_name" not in logged["between invocations"]
    assert "correlation_id" not in logged["between invocations"]


def test_a_handler_called_without_the_local_runtime_logs_as_powertools_does(
    service_log: tuple[str, io.StringIO],
) -> None:
    # given a handler called directly (as a unit test calls it), with the local formatter installed
    service, stream = service_log
    logger = Logger(service=service)

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> None:
        logger.info("called directly")

    # when it runs outside the local runtime's invoke
    handler({}, LocalLambdaContext("AdminFunction"))
    logger.info("afterwards")

    # then Powertools' own behaviour: the keys it appended stay on the logger
    logged = lines(stream)
    assert logged["called directly"]["function_name"] == "AdminFunction"
    assert logged["afterwards"]["function_name"] == "AdminFunction"


@pytest.fixture
def metrics_disabled(monkeypatch: pytest.MonkeyPatch) -> Iterator[Metrics]:
    """Metrics as the local stack configures them: POWERTOOLS_METRICS_DISABLED, from an empty metric set."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics = Metrics(namespace="LocalStackTest", service="local-metrics")
    metrics.clear_metrics()  # Powertools' metric set is the process's: start from none
    yield metrics
    metrics.clear_metrics()


def test_a_cold_start_prints_no_emf_line_when_metrics_are_disabled(
    metrics_disabled: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a handler that captures the ColdStart metric, in a process that has not had its cold start
    metrics = metrics_disabled
    reset_cold_start_flag()

    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)

    # when the local runtime invokes it for the first time
    ScheduleEventSource(handler, "ProcessorFunction", 60).invoke({})

    # then nothing in the Embedded Metric Format reaches stdout
    assert '"_aws"' not in capsys.readouterr().out


def test_metric_values_do_not_pile_up_to_a_printed_batch_when_metrics_are_disabled(
    metrics_disabled: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a handler that adds one value of a metric per invocation
    metrics = metrics_disabled

    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)

    # when the local runtime invokes it more times than Powertools keeps values before printing them
    function = ScheduleEventSource(handler, "ProcessorFunction", 60)
    for _ in range(101):
        function.invoke({})

    # then no batch of values was printed
    assert '"_aws"' not in capsys.readouterr().out


def test_an_invocation_with_no_metric_gives_no_warning_when_metrics_are_disabled(
    metrics_disabled: Metrics,
) -> None:
    # given a handler that adds no metric, run once so that its values are cleared
    metrics = metrics_disabled

    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> None:
        return None

    function = ScheduleEventSource(handler, "ZohoChecksFunction", 60)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        # when the local stack's process quiets unpublished metrics and the runtime invokes the handler
        quiet_unpublished_metrics()
        function.invoke({})
        function.invoke({})

    # then Powertools' "nothing to publish" warning does not reach the console
    assert [str(w.message) for w in caught] == []


def test_metrics_are_printed_as_on_lambda_when_they_are_not_disabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given metrics left enabled, and a process that has not had its cold start
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    metrics = Metrics(namespace="LocalStackTest", service="local-metrics")
    metrics.clear_metrics()
    reset_cold_start_flag()

    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> None:
        metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)

    # when the local runtime invokes the handler
    ScheduleEventSource(handler, "ProcessorFunction", 60).invoke({})

    # then the ColdStart metric and the handler's metric are printed, in the Embedded Metric Format
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [("ColdStart" in p, "EventsProcessed" in p) for p in printed] == [(True, False), (False, True)]
