"""The `web` section: `rgou serve` in its own process, driven over loopback.

1. Move latency: games in which the agent (ml+, and perfect when a solved
   table is there) plays player 1; every request after which the agent moved
   (a roll on its turn: the roll, the decision, the reply) is timed end to
   end, from the client's send to the last byte of the answer, on a new
   connection each.
2. Load: 8 client threads send 1,000 requests as fast as they are answered
   (new games, rolls, moves, hints, records, reviews and some bad requests
   that must get their 4xx), three times; the server's resident memory
   (/proc/PID/status VmRSS) is read after a warm-up round and after each
   round: a leak grows it round after round.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from rgou.bench.report import SectionResult
from rgou.bench.timing import BenchContext

CLIENTS = 8


def start_server(table: str | None) -> tuple[subprocess.Popen, int]:
    command = [sys.executable, "-m", "rgou", "serve", "--port", "0"] + (["--table", table] if table else [])
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain what it prints
    return proc, int(match.group(1))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Browser:
    """One browser of `rgou serve`: every request on a new loopback connection, the session cookie kept.

    `raw` sends bytes and returns (status, headers, body); `call` sends a dict as JSON and returns (status,
    JSON); `ok` returns the JSON of a 200 or 201. `seconds` is the last request's time from the send to the
    whole answer. The bench and the tests drive the server with it.
    """

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.port, self.host = port, host
        self.cookie = ""
        self.seconds = 0.0

    def raw(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            headers = dict(headers or {})
            if self.cookie:
                headers.setdefault("Cookie", self.cookie)
            started = time.perf_counter()
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            data = response.read()
            self.seconds = time.perf_counter() - started
        finally:
            conn.close()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        return response.status, dict(response.getheaders()), data

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        status, _, answer = self.raw(method, path, data, {} if body is None else {"Content-Type": "application/json"})
        return status, json.loads(answer)

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, doc = self.call(method, path, body)
        if status not in (200, 201):
            raise AssertionError(f"{method} {path}: {status} {doc}")
        return doc


def latency(port: int, opponent: str, moves: int, seed: int) -> list[float]:
    """Seconds of each request after which `opponent` had moved (it plays player 1)."""
    rng = random.Random(seed)
    browser = Browser(port)
    times: list[float] = []
    while len(times) < moves:
        status, game = browser.call(
            "POST", "/api/games", {"opponent": opponent, "human": 2, "seed": rng.getrandbits(32)}
        )
        assert status == 201, game
        while not game["over"] and len(times) < moves:
            path = f"/api/games/{game['id']}"
            if game["roll"] is None:
                status, after = browser.call("POST", f"{path}/roll", {})
                seconds = browser.seconds
                if any("thinking_ms" in t for t in after["log"][len(after["log"]) - after["played"] :]):
                    times.append(seconds)
            else:
                status, after = browser.call("POST", f"{path}/move", {"move": rng.choice(game["moves"])["move"]})
            assert status == 200, after
            game = after
    return times


def load(port: int, requests: int, clients: int, seed: int) -> tuple[int, int, float]:
    """(requests answered as expected, unexpected answers, seconds) of one round of rapid requests."""
    counter = iter(range(requests))
    lock = threading.Lock()
    bad = [0]
    done = [0]

    def client(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        browser = Browser(port)
        game = None
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            pick = rng.random()
            try:
                if game is None or game["over"] or pick < 0.05:
                    status, doc = browser.call("POST", "/api/games", {"opponent": rng.choice(["ml+", "random", "ml"])})
                    expected = 201
                    game = doc if status == 201 else game
                elif pick < 0.10:
                    status, doc = browser.call("POST", f"/api/games/{game['id']}/move", {"move": "bad"})
                    expected = 400
                elif pick < 0.15:
                    status, doc = browser.call("GET", f"/api/games/{game['id']}/hint")
                    expected = 200
                elif pick < 0.17:
                    status, doc = browser.call("GET", f"/api/games/{game['id']}/review")
                    expected = 200
                elif pick < 0.22:
                    status, doc = browser.call("GET", f"/api/games/{game['id']}/record")
                    expected = 200
                elif game["roll"] is None:
                    status, doc = browser.call("POST", f"/api/games/{game['id']}/roll", {})
                    expected, game = 200, doc
                else:
                    status, doc = browser.call(
                        "POST", f"/api/games/{game['id']}/move", {"move": game["moves"][0]["move"]}
                    )
                    expected, game = 200, doc
            except OSError:
                status, expected = -1, 0
            with lock:
                done[0] += status == expected
                bad[0] += status != expected

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0], bad[0], time.perf_counter() - started


def quantile(sorted_seconds: list[float], fraction: float) -> float:
    """Milliseconds at a fraction of sorted times."""
    return 1000 * sorted_seconds[min(len(sorted_seconds) - 1, int(fraction * len(sorted_seconds)))]


def bench_web(ctx: BenchContext) -> SectionResult:
    from rgou.solve import default_table_path

    res = SectionResult()
    table = str(default_table_path(7)) if default_table_path(7).exists() else None
    moves = 30 if ctx.quick else 300
    requests = 200 if ctx.quick else 1000
    started = time.perf_counter()
    proc, port = start_server(table)
    try:
        for opponent in ["ml+"] + (["perfect"] if table else []):
            latency(port, opponent, 20, seed=1)  # warm-up: the agent is built, compiled code is loaded
            res.warmup_s = time.perf_counter() - started if opponent == "ml+" else res.warmup_s
            times = sorted(latency(port, opponent, moves, seed=ctx.seed))
            key = opponent.replace("+", "_plus")
            label = f"{opponent}: a request in which the agent moves, end to end, ms"
            res.add(f"{key}_move_ms_median", quantile(times, 0.5), "ms", f"{label} (median of {len(times)})")
            res.add(f"{key}_move_ms_p95", quantile(times, 0.95), "ms", "  same, 95th percentile")
            res.add(f"{key}_move_ms_max", 1000 * times[-1], "ms", "  same, the slowest")
        load(port, 200, CLIENTS, seed=0)  # warm-up: every route and agent once
        rss = [rss_mb(proc.pid)]
        unexpected = 0
        rates = []
        for round_ in (1, 2, 3):
            _, bad, seconds = load(port, requests, CLIENTS, seed=ctx.seed + round_)
            unexpected += bad
            rates.append(requests / seconds)
            rss.append(rss_mb(proc.pid))
        alive = proc.poll() is None and Browser(port).call("GET", "/api/info")[0] == 200
        res.add("load_unexpected_answers", unexpected, "", f"load: 3 x {requests} requests from {CLIENTS} clients, "
                "answers other than expected (errors, dropped connections)")  # fmt: skip
        res.add("load_requests_per_s", sorted(rates)[1], "req/s", "  same, requests/s (median round)")
        res.add("load_rss_growth_mb", rss[-1] - rss[1], "MB", "  server memory growth from round 1 to round 3 (VmRSS)")
        res.add("load_rss_mb", rss[-1], "MB", "  server memory after the load (VmRSS; the table is memory-mapped)")
        res.add("alive_after_load", float(alive), "", "  the server still answers (1: yes)")
        res.notes.append(
            f"rgou serve in a child process ({'with' if table else 'without'} a solved table); every request on a "
            "new loopback connection. Memory after the warm-up and each round, MB: "
            + " / ".join(f"{m:.1f}" for m in rss)
        )
    finally:
        proc.terminate()
        proc.wait(10)
    return res
