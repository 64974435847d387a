"""A server of `rgou serve` in a thread of the test process, and a small HTTP client with its own cookie (a browser)."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Iterator

from rgou.web.server import make_server


@contextlib.contextmanager
def running_server(**kwargs) -> Iterator[tuple[str, int, object]]:
    """(host, port, server) of a quiet server on a free loopback port, estimates unless a table is given."""
    kwargs.setdefault("find_table", False)
    server = make_server("127.0.0.1", 0, quiet=True, **kwargs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_address[1], server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class Client:
    """One browser: keeps the session cookie the server sets; every answer as (status, JSON)."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.port, self.host = port, host
        self.cookie: str | None = None

    def raw(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            headers = dict(headers or {})
            if self.cookie:
                headers.setdefault("Cookie", self.cookie)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            set_cookie = response.getheader("Set-Cookie")
            if set_cookie:
                self.cookie = set_cookie.split(";")[0]
            return response.status, dict(response.getheaders()), data
        finally:
            conn.close()

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        raw = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        status, _, data = self.raw(method, path, raw, headers)
        return status, json.loads(data)

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, doc = self.call(method, path, body)
        assert status in (200, 201), (status, doc)
        return doc
