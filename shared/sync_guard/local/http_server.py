"""The local servers' HTTP server: one thread per connection, and closing it ends the connections too."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from typing import Any

# How long server_close() waits for a connection's thread once its socket is shut down (the thread
# finishes the request it is answering, if any; a stopped server's handlers answer at once).
_CONNECTION_CLOSE_SECONDS = 5.0


class ClosingHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` whose ``server_close()`` also closes the connections it still holds.

    HTTP/1.1 clients keep connections open between requests; the standard server leaves each one with a
    daemon thread waiting on it after it is closed, so the socket outlives the server (a process that
    stops its servers and goes on, as a test session does, keeps every one). Here each open connection
    is shut down, which wakes its thread to close the socket, and those threads are waited for.
    """

    daemon_threads = True  # a connection left open never keeps the process from exiting

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._connections_lock:
            open_connections = list(self._connections.items())
        for connection, _ in open_connections:
            with contextlib.suppress(OSError):  # the client may have closed it meanwhile
                connection.shutdown(socket.SHUT_RDWR)
        for _, thread in open_connections:
            thread.join(timeout=_CONNECTION_CLOSE_SECONDS)
