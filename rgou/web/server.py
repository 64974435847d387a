"""`rgou serve`: the web app's HTTP server, on the standard library alone.

One page (`static/index.html`, with its script and style sheet, all in the
package: no network, no build step) and a JSON API under /api:

    GET  /api/info                   agents offered, exact or estimated chances, the board's geometry
    POST /api/games                  a new game {"opponent", "human": 1|2, "dice": "auto"|"manual", "seed"}
    POST /api/games/load             a game from a record {"record": {...}}
    GET  /api/games/ID               the game: pieces, roll, legal moves, what the last request played
    POST /api/games/ID/roll          roll ({"roll": n} with dice typed in); passes and the agent's move follow
    POST /api/games/ID/move          {"move": slot}
    POST /api/games/ID/undo          take back the person's last decision
    GET  /api/games/ID/hint          winning chances of the position and of each legal move
    GET  /api/games/ID/record        the game record (rgou.record)
    GET  /api/games/ID/review        the game review (rgou.review), with every position for stepping through

Every answer is JSON; an error is {"error": message} with a 4xx status (a
bug is a 500 with no traceback, logged on the server, which goes on). A
browser is a session: a random token in a cookie, and a game answers only
its own session (403 for another's). POST bodies are JSON (Content-Type
application/json, which a page of another site cannot send without the
server's consent) of at most `MAX_BODY` bytes. Served on 127.0.0.1 the
server also refuses requests whose Host is not this machine (DNS rebinding).
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import re
import socket
import sys
import threading
import traceback
from http import HTTPStatus
from importlib import resources
from urllib.parse import urlsplit

from rgou._validate import strict_json
from rgou._version import __version__
from rgou.record import MAX_RECORD_BYTES
from rgou.rules import DEFAULT_RULES
from rgou.web.games import OTHER_RULES_NOTE, SESSION_TOKEN, GameError, Lobby

MAX_BODY = MAX_RECORD_BYTES + 1024  # a game record and its envelope
REQUEST_TIMEOUT = 30.0  # seconds a connection may take to send its request
COOKIE = "rgou_session"
STATIC = {  # file -> content type: the only files served
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
CONTENT_LENGTH = re.compile(r"[0-9]{1,12}")  # ASCII digits only ('²'.isdigit() is True)
PORT = re.compile(r"[0-9]{1,5}")
MAX_CONNECTIONS = 64  # requests served at once; more are refused with a 503 (a slow client holds one)
FIXED_ROUTES = {"/api/info": "GET", "/api/games": "POST", "/api/games/load": "POST"}  # path -> its one method
GAME_ROUTE = re.compile(r"/api/games/([^/]+)(?:/(roll|move|undo|hint|record|review))?")
BUSY_BODY = b'{"error": "the server is busy: try again soon"}'
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BUSY_BODY), BUSY_BODY)
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def static_file(name: str) -> bytes:
    """A file of the page, from the installed package (only the names in STATIC)."""
    return resources.files("rgou.web").joinpath("static", name).read_bytes()


class Handler(http.server.BaseHTTPRequestHandler):
    """One request: route it, answer JSON (or a static file), never let an exception reach the client."""

    server_version = f"rgou/{__version__}"
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT
    lobby: Lobby  # set on the subclass `make_server` builds
    local_only: bool = True
    quiet: bool = False

    def log_message(self, format: str, *args) -> None:
        if not self.quiet:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    # answers

    def _send(self, status: int, body: bytes, content_type: str, cookie: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        if cookie:
            self.send_header("Set-Cookie", f"{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: dict, cookie: str | None = None) -> None:
        self._send(status, json.dumps(doc, allow_nan=False).encode(), "application/json", cookie)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own errors (a bad request line, an unknown method) as JSON too."""
        self.close_connection = True
        text = message or HTTPStatus(code).phrase
        try:
            self._json(code, {"error": f"{text}: {explain}" if explain else text})
        except (OSError, ValueError):
            pass

    def _error(self, status: int, message: str) -> None:
        self.close_connection = True  # the request's body may be unread: this connection ends here
        self._json(status, {"error": message})

    # requests

    def _session(self) -> tuple[str, str | None]:
        """(the browser's session token, the token to set when it had none)."""
        for part in self.headers.get("Cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == COOKIE and SESSION_TOKEN.fullmatch(value):
                return value, None
        token = self.lobby.new_session()
        return token, token

    def _body(self) -> dict:
        if self.headers.get("Transfer-Encoding"):
            raise GameError(411, "send the body with a Content-Length, not chunked")
        length = self.headers.get("Content-Length")
        if length is None:
            raise GameError(411, "a POST needs a Content-Length")
        if not CONTENT_LENGTH.fullmatch(length):
            raise GameError(400, "bad Content-Length")
        if int(length) > MAX_BODY:
            raise GameError(413, f"request body over {MAX_BODY:,} bytes")
        raw = self.rfile.read(int(length)) if int(length) else b"{}"
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise GameError(415, "send the body as JSON (Content-Type: application/json)")
        try:
            body = strict_json(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise GameError(400, "the body is not UTF-8 text") from None
        except ValueError as e:
            raise GameError(400, f"the body is {e}") from None
        if not isinstance(body, dict):
            raise GameError(400, "the body must be a JSON object")
        return body

    def _handle(self, method: str) -> None:
        try:
            path = urlsplit(self.path).path
            for header in ("Host", "Content-Length"):  # two of either: which one is meant is anyone's guess
                if len(self.headers.get_all(header, [])) > 1:
                    self.close_connection = True  # where its body ends is unknown too
                    raise GameError(400, f"the request has more than one {header} header")
            if self.local_only and _host_name(self.headers.get("Host", "")) not in LOCAL_HOSTS:
                raise GameError(403, "this server answers requests to this machine only (Host: localhost)")
            if not path.startswith("/api/"):
                if method not in ("GET", "HEAD"):
                    raise GameError(405, f"{method} is not allowed here")
                return self._static(path)
            session, new_cookie = self._session()
            if method != "POST" and self.headers.get("Content-Length", "0") not in ("", "0"):
                self.close_connection = True  # a body nobody reads: the connection cannot go on
            body = self._body() if method == "POST" else {}
            status, doc = self._route(method, path, session, body)
            self._json(status, doc, new_cookie)
        except GameError as e:
            self._error(e.status, e.message)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a bug: logged here, a plain 500 there, and the server goes on
            traceback.print_exc(file=sys.stderr)
            try:
                self._error(500, "internal error: see the server's log")
            except OSError:
                self.close_connection = True

    def _static(self, path: str) -> None:
        name = "index.html" if path == "/" else path.removeprefix("/static/")
        if name not in STATIC or (path != "/" and not path.startswith("/static/")):
            raise GameError(404, f"no such page: {path[:100]}")
        _, new_cookie = self._session()
        self._send(200, static_file(name), STATIC[name], new_cookie)

    def _route(self, method: str, path: str, session: str, body: dict) -> tuple[int, dict]:
        lobby = self.lobby
        if path in FIXED_ROUTES and method != FIXED_ROUTES[path]:
            raise GameError(405, f"{method} is not allowed on {path}: use {FIXED_ROUTES[path]}")
        if path == "/api/info" and method == "GET":
            return 200, {**lobby.info(), "version": __version__}
        if path == "/api/games" and method == "POST":
            return 201, lobby.create(session, body)
        if path == "/api/games/load" and method == "POST":
            return 201, lobby.load(session, body)
        match = GAME_ROUTE.fullmatch(path)
        if match is None:
            raise GameError(404, f"no such API route: {path[:100]}")
        game = lobby.game(session, match.group(1))
        action = match.group(2)
        reads = {None: lobby.read_state, "hint": lobby.hint, "record": lobby.record, "review": lobby.review}
        if method == "GET" and action in reads:
            return 200, reads[action](game)
        if method == "POST" and action == "roll":
            return 200, lobby.roll(game, body)
        if method == "POST" and action == "move":
            return 200, lobby.move(game, body)
        if method == "POST" and action == "undo":
            return 200, lobby.undo(game)
        raise GameError(405, f"{method} is not allowed on {path[:100]}")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_OPTIONS(self) -> None:
        self._handle("OPTIONS")


def _is_loopback(host: str) -> bool:
    """Whether a --host binds this machine only (127.0.0.0/8, ::1, localhost): then requests must name it."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The host of a Host header, without its port: 'localhost:8000' -> 'localhost', '[::1]:80' -> '[::1]';
    '' when what follows the host is not a port ('localhost:80@evil.com')."""
    if header.startswith("["):
        host, _, port = header.partition("]")
        host += "]"
        port = port.removeprefix(":")
    elif header.count(":") == 1:
        host, port = header.split(":")
    else:
        host, port = header, ""
    return host if port == "" or PORT.fullmatch(port) else ""


class Server(http.server.ThreadingHTTPServer):
    """A thread per request, at most MAX_CONNECTIONS at once (a request beyond gets a 503 and is closed)."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, *args, **kwargs):
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def make_server(
    host: str = "127.0.0.1",
    port: int = 8000,
    table=None,
    quiet: bool = False,
    find_table: bool = True,
    rules: str = DEFAULT_RULES,
    model: str | None = None,
) -> Server:
    """A server bound to (host, port) (port 0: any free one), not yet serving; `server_address` says where.

    table: a solved table or its path for exact chances and the perfect agent;
    None: the cache folder's, when `find_table` and it exists. quiet: no request log.
    rules: the rule set of its games. model: the weight file the ml agents
    play and, without a table, that estimates hints and reviews (trained for
    `rules`; None: the shipped model, Finkel's). See `rgou.web.games.Lobby`.
    """
    if not isinstance(host, str):
        raise TypeError(f"host must be an address (a str), got {host!r:.40}")
    if not host.strip():  # '' binds every interface: say so (0.0.0.0), never by accident
        raise ValueError(f"--host {host!r} is empty; give an address (127.0.0.1: this machine only; 0.0.0.0: all)")
    lobby = Lobby(table, find_table, rules, model)
    local = _is_loopback(host)
    handler = type("RgouHandler", (Handler,), {"lobby": lobby, "local_only": local, "quiet": quiet})
    server_class = type("RgouServer", (Server,), {"address_family": socket.AF_INET6 if ":" in host else socket.AF_INET})
    try:
        return server_class((host, port), handler)
    except OSError as e:
        raise ValueError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e})") from None


def serve(
    host: str = "127.0.0.1", port: int = 8000, table=None, rules: str = DEFAULT_RULES, model: str | None = None
) -> None:
    """Serve until Ctrl-C, printing the address to open."""
    server = make_server(host, port, table, rules=rules, model=model)
    lobby = server.RequestHandlerClass.lobby
    shown_host = f"[{host}]" if ":" in host else host
    print(f"rgou {__version__}: open http://{shown_host}:{server.server_address[1]}/ in a browser (Ctrl-C stops)")
    if lobby.chances is None:
        print(f"rules: {lobby.rules} (no hints or reviews: {OTHER_RULES_NOTE.format(rules=lobby.rules)})")
    else:
        if lobby.rules != DEFAULT_RULES:
            print(f"rules: {lobby.rules}")
        print(f"winning chances: {'exact' if lobby.chances.exact else 'estimated'} ({lobby.chances.source})")
    print(f"opponents: {', '.join(lobby.agents)}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
