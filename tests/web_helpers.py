"""A server of `rgou serve` in a thread of the test process, and the HTTP client that plays one browser."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from rgou.bench.web import Browser
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


Client = Browser  # one browser of the server: `raw`, `call`, `ok` (rgou.bench.web.Browser, the bench's own)
