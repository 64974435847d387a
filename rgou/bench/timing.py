"""Timing for the bench: the shared `BenchContext`, contention metering, clocks and repeat helpers.

Every timing is a median over repeats unless a section says otherwise.
`LoadMeter` reports how many cores other processes used during a block;
above `CONTENDED_CORES` a section's numbers are flagged. Kernels time
single calls with `rgou._clock.clock_ns` inside njit loops, so per-call
times carry no Python dispatch; `clock_overhead` measures the clock itself.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rgou._clock import clock_ns
from rgou._numba import njit
from rgou.selfplay import generate

BENCH_SEED = 20240601
BENCH_MAX_PLIES = 200  # the turn cap of the bench's games: the workload of every recorded run
CONTENDED_CORES = 0.25  # other processes' CPU use above which a section is flagged


@dataclass
class BenchContext:
    """Shared settings and a lazily built pool of self-play positions."""

    quick: bool = False
    seed: int = BENCH_SEED
    repeats: int | None = None
    log: Callable[[str], None] = lambda msg: None
    _pool: np.ndarray | None = None
    _games: int = 0
    pool_seconds: float = 0.0  # building the pool (includes the first generate() compile or cache load)

    def reps(self, full: int, quick: int = 1) -> int:
        return self.repeats if self.repeats is not None else (quick if self.quick else full)

    def positions(self, n: int) -> np.ndarray:
        """At least the first n self-play positions (int8[n, 16]), rolled, each with a legal move."""
        have = 0 if self._pool is None else len(self._pool)
        if have < n:
            start = time.perf_counter()
            games = max(8, int((n - have) / 170 * 1.15) + 1)  # ~180 samples per depth-1 game
            parts = [] if self._pool is None else [self._pool]
            first = 0 if self._pool is None else self._games
            while have < n:
                ds = generate(games, depth=1, seed=self.seed, first_game=first, max_plies=BENCH_MAX_PLIES)
                parts.append(ds.state)
                have += len(ds.state)
                first += games
            self._games = first
            self._pool = np.ascontiguousarray(np.concatenate(parts))
            self.pool_seconds += time.perf_counter() - start
        return self._pool[:n]

    def spread(self, n: int, pool_size: int) -> np.ndarray:
        """n positions spread evenly over the first pool_size of the pool (all game phases)."""
        pool = self.positions(pool_size)
        idx = np.linspace(0, len(pool) - 1, n).astype(np.int64)
        return np.ascontiguousarray(pool[idx])


def _cpu_busy_s() -> float | None:
    """Seconds of CPU time all processes have used (busy jiffies of /proc/stat), or None."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields]
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]  # minus idle and iowait; guest time is inside user
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """CPU seconds of this process and of its finished children (the bench's own child processes)."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


class LoadMeter:
    """CPU used by OTHER processes during a block, in cores (0 = quiet machine): contention shows up here."""

    def __enter__(self) -> LoadMeter:
        self.wall, self.own, self.busy = time.perf_counter(), _own_cpu_s(), _cpu_busy_s()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.wall
        self.own_cores = (_own_cpu_s() - self.own) / self.seconds
        busy = _cpu_busy_s()
        self.other_cores = (
            None if busy is None or self.busy is None else max(0.0, (busy - self.busy) / self.seconds - self.own_cores)
        )


def run_rgou(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one `rgou ARGS` child process; raises with its stderr if it fails."""
    with tempfile.TemporaryDirectory(prefix="rgou-bench-") as folder:
        peak_file = Path(folder) / "peak"
        cmd = [sys.executable, "-m", "rgou.bench.child", str(peak_file), *args]
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"rgou {' '.join(args)} failed: {proc.stderr[-2000:]}")
        return wall, float(peak_file.read_text())


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """fn() timed `repeats` times: (median seconds, every time)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def timed(fn: Callable[[], object]) -> float:
    """Seconds of one fn() call."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def steps_for(fn: Callable[[int], object], chunk_s: float, max_steps: int = 20_000) -> int:
    """Steps of fn(k) (k steps per call) that take about chunk_s, from 3 timed single steps."""
    per = statistics.median(timed(lambda: fn(1)) for _ in range(3))
    return int(min(max_steps, max(2, chunk_s / max(per, 1e-9))))


def per_call_us(fn: Callable[[int], object], n: int, repeats: int) -> np.ndarray:
    """fn(i) timed per call with perf_counter_ns; median over repeats of each call, in us [n]."""
    times = np.empty((repeats, n), dtype=np.int64)
    clock = time.perf_counter_ns
    for r in range(repeats):
        row = times[r]
        for i in range(n):
            t0 = clock()
            fn(i)
            row[i] = clock() - t0
    return np.median(times, axis=0) / 1e3


HAS_CLOCK = clock_ns() > 0  # False where the C library has no clock_gettime


@njit
def clock_overhead(out):
    """Back-to-back clock readings (ns): the overhead subtracted from each timed call."""
    for i in range(out.shape[0]):
        t0 = clock_ns()
        out[i] = clock_ns() - t0
