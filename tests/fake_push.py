"""A push service on 127.0.0.1 for the alert tests: what apprise's ``json://`` URL posts to.

It records every notification (apprise's JSON body: ``title``, ``message``, ``type``), and can
hang: accept the request, read it, and answer only when the test lets it go (a service that is
up but stuck, the worst case for a sender)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PushServer:
    """The server's record and controls."""

    def __init__(self, hang: bool = False) -> None:
        self.hang = hang
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.waiting = 0
        """ requests read and held unanswered (hang=True) """
        self.release = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server._lock:
                    server.received.append(json.loads(body))
                    server.paths.append(self.path)
                    server.waiting += server.hang
                if server.hang:
                    server.release.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass  # the test's output is not the place

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.port = self.http.server_address[1]
        self._thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def url(self, path: str = "ibdesk-secret-path") -> str:
        """The apprise URL that posts here (the path stands for a secret)."""
        return f"json://127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        """The titles received, in order."""
        with self._lock:
            return [r["title"] for r in self.received]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self.http.shutdown()
        self.http.server_close()


@contextmanager
def push_server(hang: bool = False) -> Iterator[PushServer]:
    """A running push server, stopped (and released) afterwards."""
    server = PushServer(hang)
    server.start()
    try:
        yield server
    finally:
        server.stop()
