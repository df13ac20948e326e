"""Powertools in one process for several functions, behaving as it does with a process per function.

On Lambda each function is its own process. Locally the handlers share one, and two things Powertools
keeps per process leak from one function to another:

- Logs. Every handler's ``Logger()`` names the same stdlib logger (the service's, the same for all
  functions), so they share one handler and one formatter. ``inject_lambda_context`` appends the
  invocation's ``function_name``, ``function_request_id``, ``cold_start`` (and the ingest function its
  ``correlation_id``) to that formatter, and the last invocation to start, in any thread, names every
  line written afterwards. :func:`scope_function_logs` installs a formatter that keeps those keys per
  invocation; :func:`invoke` opens the invocation they belong to.
- Metrics. ``POWERTOOLS_METRICS_DISABLED``, the documented switch the local stack sets, only stops
  ``flush_metrics`` (Powertools 3.37): the ColdStart metric (``single_metric``) and the batch printed at the
  100th value of a metric are printed anyway, and a flush that prints nothing does not clear the values,
  so they pile up across invocations to that 100th. No setting covers those two, so with metrics disabled
  :func:`invoke` marks the process's cold start as had (the flag Powertools itself sets after printing
  ColdStart) and clears the values after each invocation (``Metrics.clear_metrics``): nothing is printed.
  A flush that then finds no values still warns "No application metrics to publish" (on Lambda too,
  where the line goes to the function's log); a process running the local stack publishes no metrics at
  all, so :func:`quiet_unpublished_metrics` drops that warning there, where it would land on the console.
"""

from __future__ import annotations

import contextvars
import copy
import logging
import threading
import warnings
import weakref
from collections.abc import Callable, Generator, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import BasePowertoolsFormatter
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider import cold_start

LambdaHandler = Callable[[dict[str, Any], Any], Any]


@dataclass
class _Invocation:
    function_name: str
    cold_start: bool
    formatter: BasePowertoolsFormatter | None = None


_current: contextvars.ContextVar[_Invocation | None] = contextvars.ContextVar(
    "sync_guard_local_invocation", default=None
)
# Handlers that have run once in this process: their next invocation is warm, as in a reused container.
_warm: weakref.WeakSet[LambdaHandler] = weakref.WeakSet()
_warm_lock = threading.Lock()


class FunctionScopedFormatter(BasePowertoolsFormatter):
    """The service logger's formatter, with the keys appended during an invocation kept to it.

    Outside an invocation it is ``shared``, the formatter Powertools configured. Inside one, lines are
    written by a copy of it that starts from the keys the Logger was configured with (service, level, ...)
    and the function's name, and takes what that invocation appends.
    """

    def __init__(self, shared: BasePowertoolsFormatter) -> None:
        super().__init__()
        self.shared = shared

    def _formatter(self) -> BasePowertoolsFormatter:
        invocation = _current.get()
        if invocation is None:
            return self.shared
        if invocation.formatter is None:
            formatter = copy.copy(self.shared)
            formatter.clear_state()  # a new set of keys for the copy; the shared one keeps its own
            formatter.append_keys(function_name=invocation.function_name)
            invocation.formatter = formatter
        return invocation.formatter

    def format(self, record: logging.LogRecord) -> str:
        return self._formatter().format(record)

    def append_keys(self, **additional_keys: Any) -> None:
        invocation = _current.get()
        if invocation is not None and "cold_start" in additional_keys:
            # Powertools' flag is the process's: cold is this function's first invocation here.
            additional_keys["cold_start"] = invocation.cold_start
        self._formatter().append_keys(**additional_keys)

    def get_current_keys(self) -> dict[str, Any]:
        return self._formatter().get_current_keys()

    def remove_keys(self, keys: Iterable[str]) -> None:
        self._formatter().remove_keys(keys)

    def clear_state(self) -> None:
        self._formatter().clear_state()

    @contextmanager
    def append_context_keys(self, **additional_keys: Any) -> Generator[None, None, None]:
        with self._formatter().append_context_keys(**additional_keys):
            yield

    # Powertools keeps these in a context variable already; invoke() runs each invocation in its own context.
    def thread_safe_append_keys(self, **additional_keys: Any) -> None:
        self.shared.thread_safe_append_keys(**additional_keys)

    def thread_safe_get_current_keys(self) -> dict[str, Any]:
        return self.shared.thread_safe_get_current_keys()

    def thread_safe_remove_keys(self, keys: Iterable[str]) -> None:
        self.shared.thread_safe_remove_keys(keys)

    def thread_safe_clear_keys(self) -> None:
        self.shared.thread_safe_clear_keys()


def scope_function_logs(service: str | None) -> Callable[[], None]:
    """Give the handlers' logger for ``service`` a :class:`FunctionScopedFormatter`; return the undo.

    ``None`` is the service Powertools reads from ``POWERTOOLS_SERVICE_NAME``, as the handlers' ``Logger()``.
    """
    # Configures the service's logger as the first handler's Logger() would, or finds it configured.
    handler = Logger(service=service).registered_handler
    shared = handler.formatter
    if not isinstance(shared, BasePowertoolsFormatter) or isinstance(shared, FunctionScopedFormatter):
        return lambda: None
    handler.setFormatter(FunctionScopedFormatter(shared))
    return lambda: handler.setFormatter(shared)


def quiet_unpublished_metrics() -> None:
    """With metrics disabled, drop Powertools' warning that a flush found no metrics to publish.

    Process-wide (Python's warning filters are); nothing is done when metrics are enabled.
    """
    if is_metrics_disabled():
        warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def invoke(handler: LambdaHandler, event: dict[str, Any], context: Any) -> Any:
    """Call ``handler`` as Lambda would call ``context.function_name``: one invocation of its own.

    Its log lines carry its name and only the keys it appended (with a formatter from
    :func:`scope_function_logs`); with metrics disabled, no EMF line is printed for it.
    """
    with _warm_lock:
        is_cold = handler not in _warm
        _warm.add(handler)
    # A context of its own: what the invocation sets in context variables ends with it.
    return contextvars.copy_context().run(_invoke, handler, event, context, is_cold)


def _invoke(handler: LambdaHandler, event: dict[str, Any], context: Any, is_cold: bool) -> Any:
    _current.set(_Invocation(str(context.function_name), is_cold))
    if is_metrics_disabled():
        # What Powertools sets once it has printed the process's ColdStart metric.
        cold_start.is_cold_start = False
    try:
        return handler(event, context)
    finally:
        if is_metrics_disabled():
            # What a flush would have done had it printed: the values do not pile up to the 100th.
            Metrics().clear_metrics()
