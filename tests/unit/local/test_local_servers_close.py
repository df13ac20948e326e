"""Stopping a local server ends the keep-alive connections clients still hold to it.

Otherwise each such connection keeps a thread and an open socket in the process after the server is gone
(``sync-guard serve`` stopping its stack, a test session starting and stopping one per test).
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from contextlib import closing
from typing import Protocol

import pytest

from sync_guard.local.runtime import HttpApiServer
from sync_guard.local.zoho_simulator import ZohoSimulator


class LocalServer(Protocol):
    def stop(self) -> None: ...


def _zoho_simulator() -> tuple[LocalServer, int, str]:
    simulator = ZohoSimulator(seed=1, port=0).start()
    return simulator, simulator.port, "/_sim/requests"


def _http_api() -> tuple[LocalServer, int, str]:
    api = HttpApiServer([], port=0).start()
    return api, api.port, "/webhooks/crm"


@pytest.mark.parametrize("start", [_zoho_simulator, _http_api], ids=["zoho-simulator", "http-api"])
def test_stopping_the_server_closes_a_connection_the_client_kept_open(
    start: Callable[[], tuple[LocalServer, int, str]],
) -> None:
    # given a client that made one HTTP/1.1 request and keeps its connection for the next
    server, port, path = start()
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=5)) as connection:
        connection.request("GET", path)
        connection.getresponse().read()
        assert connection.sock is not None
        # when the server is stopped
        server.stop()
        # then the server closed its end: the client reads the end of the stream, at once
        connection.sock.settimeout(5)
        try:
            assert connection.sock.recv(1) == b""
        except TimeoutError:
            pytest.fail("the stopped server still holds the connection open")
        except ConnectionResetError:
            pass  # closed as well, with a reset
