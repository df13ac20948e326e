"""Exiting without freeing memory object by object, for commands that leave nothing else to clean up.

A 100k x 100k match report holds millions of small objects. When the command returns, Python frees
them one by one, and again at interpreter shutdown: about 2.4 s of a 17 s run, spent after the report
is written. A command that is done and has nothing to close calls :func:`skip_teardown`; the console
script (``sync-guard``, :func:`sync_guard.cli.main`) then flushes its output and ends the process at
once. Anywhere else (a test's ``CliRunner``, the command called as a function) it does nothing.
"""

from __future__ import annotations

import gc
import logging
import os
import sys

_console = False  # set by the console script before it runs a command
_skip = False
_kept: list[object] = []


def console_started() -> None:
    """The console script is running a command (:func:`sync_guard.cli.main`)."""
    global _console
    _console = True


def console_ended() -> None:
    """The command ended without the process ending (``main`` called in-process): forget all of it."""
    global _console, _skip
    _console = _skip = False
    _kept.clear()


def skip_teardown(*keep: object) -> None:
    """The command is done: end the console script without freeing ``keep`` (or anything else)."""
    global _skip
    if _console:
        _kept.extend(keep)  # still referenced, so returning from the command frees nothing either
        _skip = True
        # Nothing made so far will be freed: a command that paused the collector (the match report)
        # would otherwise, on resuming it, have it walk every object of the run on the way out.
        gc.freeze()


def exit_now_if_skipped(code: object) -> None:
    """End the process with ``code`` (as ``SystemExit`` would) if the command asked to skip teardown."""
    if not _skip:
        return
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
