"""`python -m rgou.bench`: throughput and latency of the engine, features, search, self-play and the nets.

Sections are plain functions in the `SECTIONS` registry (name -> function);
each takes the shared `BenchContext` and returns a `SectionResult` (warm-up
seconds, named metrics, notes). A new section (e.g. "nn") is one more
function added to the registry, and its targets one more entry in `TARGETS`.

Conventions:

* every section warms up (JIT-compiles or loads the Numba cache) before it
  times anything; the warm-up time is reported separately;
* every timing is the median over repeats; ratios (batched vs one thread,
  all cores vs one thread) come from runs interleaved in the same process;
* positions come from seeded depth-1 self-play (`rgou.selfplay.generate`),
  so they are rolled positions with at least one legal move, distributed as
  in real games.

Usage::

    python -m rgou.bench                       # all sections
    python -m rgou.bench --quick               # short smoke run
    python -m rgou.bench --only search,selfplay --json out.json --markdown out.md

The nn section imports torch and jax when they are installed (PyTorch and JAX
columns); without them it skips those columns with a note.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

from rgou._numba import njit
from rgou.game import (
    DICE,
    STATE_SIZE,
    TO_MOVE,
    apply_move_inplace,
    is_over,
    legal_moves,
    new_state,
    pass_turn_inplace,
    roll_dice,
)
from rgou._random import seed_rng
from rgou.features import NUM_FEATURES, extract_features, extract_features_batch, features_batch_into, features_into
from rgou.heuristic import DEFAULT_PARAMS, evaluate
from rgou.rules import NUM_PIECES, NUM_ROLLS, P2, ROLL_PROBS
from rgou.search import search_into
from rgou.selfplay import generate

BENCH_SEED = 20240601
RUST_DEPTH3_DECISION_US = 230.0  # existing Rust engine, this 2-core machine
RUST_DEPTH3_GAMES_PER_S = 30.0
CONTENDED_CORES = 0.25  # other processes' CPU use above which a section is flagged


# --------------------------------------------------------------------- results

@dataclass
class Metric:
    """One measured number."""

    value: float
    unit: str
    label: str


@dataclass
class SectionResult:
    """What a section returns: warm-up seconds, metrics by key (ordered), free-text notes."""

    warmup_s: float = 0.0
    metrics: dict[str, Metric] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, value: float, unit: str, label: str) -> None:
        self.metrics[key] = Metric(float(value), unit, label)


@dataclass(frozen=True)
class Target:
    """A goal from the issue: `section.metric op threshold`."""

    name: str
    section: str
    metric: str
    op: str  # ">=" or "<"
    threshold: float
    reference: str = ""

    def check(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value < self.threshold


def _near_linear_threshold() -> float:
    # "near-linear" = parallel efficiency >= 85 %, i.e. 1.7x on two cores
    return round(0.85 * max(1, numba.config.NUMBA_NUM_THREADS), 2)


TARGETS = [
    Target("depth-3 decision median < 60 us", "search", "depth3_median_us", "<", 60.0,
           f"Rust engine ~{RUST_DEPTH3_DECISION_US:.0f} us"),
    Target("depth-3 data generation >= 150 games/s (all cores)", "selfplay", "depth3_games_per_s", ">=", 150.0,
           f"Rust engine ~{RUST_DEPTH3_GAMES_PER_S:.0f} games/s"),
    Target("depth-3 data generation scaling all cores / 1 thread (>= 85% efficiency)", "selfplay",
           "depth3_scaling", ">=", _near_linear_threshold(), "linear = number of threads"),
    Target("features batched >= 1,000,000 positions/s", "features", "batch_positions_per_s", ">=", 1e6, ""),
    Target("Numba trainer >= 5x PyTorch samples/s at batch 32", "nn", "numba_vs_torch_b32", ">=", 5.0,
           "PyTorch ~19k samples/s"),
    Target("Numba trainer >= 5x PyTorch samples/s at batch 64", "nn", "numba_vs_torch_b64", ">=", 5.0,
           "PyTorch ~32k samples/s"),
    Target("Numba trainer >= 3x PyTorch samples/s at batch 1024", "nn", "numba_vs_torch_b1024", ">=", 3.0,
           "PyTorch ~77k samples/s"),
    Target("Numba trainer >= 60% of the GEMM rate at batch >= 256", "nn", "numba_gemm_pct_min_ge256", ">=", 60.0,
           "lowest over batch sizes >= 256"),
    Target("value+policy inference, one position < 10 us", "nn", "value_policy_one_us", "<", 10.0,
           "PyTorch ~85 us"),
    Target("ML agent decision < 30 us", "nn", "ml_agent_decision_us", "<", 30.0, "MLAgent.choose_move, median"),
]


# --------------------------------------------------------------------- context

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
                ds = generate(games, depth=1, seed=self.seed, first_game=first)
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


class LoadMeter:
    """CPU used by OTHER processes during a block, in cores (0 = quiet machine): contention shows up here."""

    def __enter__(self) -> LoadMeter:
        self.wall, self.own, self.busy = time.perf_counter(), time.process_time(), _cpu_busy_s()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.wall
        self.own_cores = (time.process_time() - self.own) / self.seconds
        busy = _cpu_busy_s()
        self.other_cores = (None if busy is None or self.busy is None
                            else max(0.0, (busy - self.busy) / self.seconds - self.own_cores))


def _median_time(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# --------------------------------------------------------------------- engine kernels



@njit
def _legal_sweep(states, reps):
    """legal_moves over every state, reps times; returns the number of legal moves seen."""
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    total = 0
    for _ in range(reps):
        for i in range(states.shape[0]):
            total += legal_moves(states[i], moves)
    return total


@njit
def _legal_apply_sweep(states, reps):
    """legal_moves, then copy + apply_move_inplace for each legal move; returns (moves applied, checksum)."""
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    child = np.empty(STATE_SIZE, dtype=np.int8)
    applied = 0
    check = 0
    for _ in range(reps):
        for i in range(states.shape[0]):
            s = states[i]
            n = legal_moves(s, moves)
            for k in range(n):
                child[:] = s
                again = apply_move_inplace(child, moves[k])
                check += child[moves[k]] + child[TO_MOVE] + again
            applied += n
    return applied, check


@njit
def _random_playouts(seed, games, max_plies):
    """Uniformly random games (roll, legal moves, apply or pass); returns the number of plies played."""
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    plies = 0
    for g in range(games):
        rng = seed_rng(seed, g)
        state = new_state()
        for _ in range(max_plies):
            if is_over(state):
                break
            state[DICE] = roll_dice(rng)
            n = legal_moves(state, moves)
            plies += 1
            if n == 0:
                pass_turn_inplace(state)
            else:
                apply_move_inplace(state, moves[roll_dice(rng) % n])
    return plies


def bench_engine(ctx: BenchContext) -> SectionResult:
    """Legal-move generation and apply throughput, single thread, inside one njit loop."""
    res = SectionResult()
    n = 20_000 if ctx.quick else 200_000
    states = ctx.positions(n)
    reps = ctx.reps(5, 2)
    inner = 1 if ctx.quick else 3
    res.warmup_s = _timed(lambda: (_legal_sweep(states[:10], 1), _legal_apply_sweep(states[:10], 1),
                                   _random_playouts(np.uint64(1), 2, 200)))
    t_legal, _ = _median_time(lambda: _legal_sweep(states, inner), reps)
    t_apply, _ = _median_time(lambda: _legal_apply_sweep(states, inner), reps)
    applied, _ = _legal_apply_sweep(states, 1)
    games = 200 if ctx.quick else 2000
    plies = _random_playouts(np.uint64(ctx.seed), games, 1000)
    t_play, _ = _median_time(lambda: _random_playouts(np.uint64(ctx.seed), games, 1000), reps)
    res.add("legal_positions_per_s", inner * n / t_legal, "pos/s", "legal_moves only, positions/s (1 thread)")
    res.add("legal_apply_positions_per_s", inner * n / t_apply, "pos/s",
            "legal_moves + copy/apply every legal move, positions/s (1 thread)")
    res.add("apply_moves_per_s", inner * applied / t_apply, "moves/s", "  same run, moves applied/s")
    res.add("legal_apply_ns_per_position", 1e9 * t_apply / (inner * n), "ns", "  same run, ns per position")
    res.add("random_playout_plies_per_s", plies / t_play, "plies/s", "random playouts (roll+legal+apply/pass), plies/s")
    res.notes.append(f"{n} self-play positions, {applied / n:.2f} legal moves each on average; "
                     f"{games} random playouts, {plies / games:.1f} plies each")
    return res


# --------------------------------------------------------------------- features

@njit
def _features_loop(states, out):
    """features_into for each state into one float32[150] buffer, single thread (the per-position cost)."""
    acc = np.float32(0.0)
    for i in range(states.shape[0]):
        features_into(states[i], out)
        acc += out[i % 78]
    return acc


def bench_features(ctx: BenchContext) -> SectionResult:
    """extract_features_batch (all threads and 1 thread, interleaved) and single-position features_into."""
    res = SectionResult()
    n = 50_000 if ctx.quick else 250_000
    states = ctx.positions(n)
    loop = _features_loop
    out = np.empty(NUM_FEATURES, dtype=np.float32)
    res.warmup_s = _timed(lambda: (extract_features_batch(states[:10]), loop(states[:10], out),
                                   extract_features(states[0])))
    threads = numba.get_num_threads()
    all_t, one_t = [], []
    for _ in range(ctx.reps(7, 2)):
        all_t.append(_timed(lambda: extract_features_batch(states)))
        numba.set_num_threads(1)
        try:
            one_t.append(_timed(lambda: extract_features_batch(states)))
        finally:
            numba.set_num_threads(threads)
    t_all, t_one = statistics.median(all_t), statistics.median(one_t)
    prealloc = np.empty((n, NUM_FEATURES), dtype=np.float32)
    t_pre, _ = _median_time(lambda: features_batch_into(states, prealloc), ctx.reps(7, 2))
    t_loop, _ = _median_time(lambda: loop(states, out), ctx.reps(5, 2))
    k = 2000 if ctx.quick else 20000
    single = states[:k]
    t_py, _ = _median_time(lambda: [extract_features(s) for s in single], ctx.reps(3, 1))
    res.add("batch_positions_per_s", n / t_all, "pos/s", f"extract_features_batch, {threads} threads, positions/s")
    res.add("batch_1thread_positions_per_s", n / t_one, "pos/s", "extract_features_batch, 1 thread, positions/s")
    res.add("batch_scaling", t_one / t_all, "x", f"  ratio {threads} threads / 1 thread (interleaved runs)")
    res.add("batch_prealloc_positions_per_s", n / t_pre, "pos/s",
            f"features_batch_into, output preallocated, {threads} threads")
    res.add("features_into_ns", 1e9 * t_loop / n, "ns", "features_into, one position, inside njit loop")
    res.add("extract_features_call_us", 1e6 * t_py / k, "us", "extract_features(state) called from Python")
    res.notes.append(f"{n} self-play positions; batch output float32[{n}, {NUM_FEATURES}] allocated per call")
    return res



# --------------------------------------------------------------------- search

_clock_gettime = None
try:  # in-kernel monotonic clock: per-decision times without Python call overhead
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
    _clock_gettime = _libc.clock_gettime
    _clock_gettime.argtypes = (ctypes.c_int, ctypes.c_void_p)
    _clock_gettime.restype = ctypes.c_int
except (OSError, AttributeError):  # pragma: no cover - non-glibc platforms
    _clock_gettime = None
_CLOCK_MONOTONIC = 1


# Per-decision times inside one njit loop (no Python call overhead), read from
# clock_gettime through ctypes. Not cached: the function pointer is baked in.
_TIMED_JIT = dict(nogil=True, error_model="numpy")


@numba.njit(**_TIMED_JIT)
def _now_ns(buf):
    _clock_gettime(_CLOCK_MONOTONIC, buf.ctypes)
    return buf[0] * 1_000_000_000 + buf[1]


@numba.njit(**_TIMED_JIT)
def _timed_search(states, depth, params, times):
    """search_into for each state; its wall time in ns into times[i]; returns the values."""
    buf = np.zeros(2, dtype=np.int64)
    scores = np.empty(NUM_PIECES, dtype=np.float64)
    values = np.empty(states.shape[0], dtype=np.float64)
    for i in range(states.shape[0]):
        t0 = _now_ns(buf)
        v, _ = search_into(states[i], depth, params, scores)
        t1 = _now_ns(buf)
        values[i] = v
        times[i] = t1 - t0
    return values


@numba.njit(**_TIMED_JIT)
def _clock_overhead(out):
    """Back-to-back clock readings (ns): the overhead subtracted from each decision time."""
    buf = np.zeros(2, dtype=np.int64)
    for i in range(out.shape[0]):
        t0 = _now_ns(buf)
        out[i] = _now_ns(buf) - t0


def _python_timed_search(states, depth, params, times):
    scores = np.empty(NUM_PIECES, dtype=np.float64)
    values = np.empty(len(states))
    for i, s in enumerate(states):
        t0 = time.perf_counter_ns()
        values[i], _ = search_into(s, depth, params, scores)
        times[i] = time.perf_counter_ns() - t0
    return values


# A plain recursive replica of rgou.search (same visiting order, same float operations),
# counting what the search does. Not cached: Numba cannot cache-relink recursion.
_COUNT_JIT = dict(nogil=True, error_model="numpy")
_GENERATED, _EVALS, _CHANCE = 0, 1, 2  # counts[] slots


@numba.njit(**_COUNT_JIT)
def _count_chance(node, depth, params, counts):
    """Value of a chance node at `depth`, as rgou.search._chance; adds to counts."""
    if depth == 0 or is_over(node):
        counts[_EVALS] += 1
        return np.float64(evaluate(node, params))
    counts[_CHANCE] += 1
    maximise = node[TO_MOVE] == P2
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    child = np.empty(STATE_SIZE, dtype=np.int8)
    total = 0.0
    have_pass = False
    pass_value = 0.0
    for roll in range(NUM_ROLLS):
        node[DICE] = roll
        n = legal_moves(node, moves)
        if n > 0:
            best = -np.inf if maximise else np.inf
            for k in range(n):
                child[:] = node
                apply_move_inplace(child, moves[k])
                counts[_GENERATED] += 1
                if depth == 1 or is_over(child):
                    counts[_EVALS] += 1
                    v = np.float64(evaluate(child, params))
                else:
                    v = _count_chance(child.copy(), depth - 1, params, counts)
                if (v > best) if maximise else (v < best):
                    best = v
            total += ROLL_PROBS[roll] * best
        elif have_pass:
            total += ROLL_PROBS[roll] * pass_value
        else:
            child[:] = node
            pass_turn_inplace(child)
            counts[_GENERATED] += 1
            if depth == 1:
                counts[_EVALS] += 1
                pass_value = np.float64(evaluate(child, params))
            else:
                pass_value = _count_chance(child.copy(), depth - 1, params, counts)
            have_pass = True
            total += ROLL_PROBS[roll] * pass_value
    node[DICE] = 0
    return total


@numba.njit(**_COUNT_JIT)
def _count_root(state, depth, params, counts):
    """Best value at a rolled root (as search_into); counts the root as generated."""
    counts[_GENERATED] += 1
    if is_over(state):
        counts[_EVALS] += 1
        return np.float64(evaluate(state, params))
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    n = legal_moves(state, moves)
    child = np.empty(STATE_SIZE, dtype=np.int8)
    if n == 0:
        child[:] = state
        pass_turn_inplace(child)
        counts[_GENERATED] += 1
        return _count_chance(child, depth - 1, params, counts)
    maximise = state[TO_MOVE] == P2
    best = 0.0
    first = True
    for k in range(n):
        child[:] = state
        apply_move_inplace(child, moves[k])
        counts[_GENERATED] += 1
        v = _count_chance(child.copy(), depth - 1, params, counts)
        if first or ((v > best) if maximise else (v < best)):
            best = v
            first = False
    return best


@numba.njit(**_COUNT_JIT)
def _count_all(states, depth, params, counts, values):
    """_count_root over every state; values[i] must equal search_into's value."""
    for i in range(states.shape[0]):
        values[i] = _count_root(states[i].copy(), depth, params, counts)


def bench_search(ctx: BenchContext) -> SectionResult:
    """search_into at depths 1..4: per-decision times (median, mean, p90) and nodes/s."""
    res = SectionResult()
    params = DEFAULT_PARAMS.to_array()
    n_by_depth = {1: 100, 2: 100, 3: 60, 4: 12} if ctx.quick else {1: 400, 2: 400, 3: 300, 4: 60}
    pool_size = 20_000 if ctx.quick else 200_000
    warm = ctx.spread(2, pool_size)
    res.warmup_s = _timed(lambda: search_into(warm[0], np.int64(1), params, np.empty(NUM_PIECES)))
    t0 = time.perf_counter()
    if _clock_gettime is not None:
        timed_search = _timed_search
        timed_search(warm, np.int64(1), params, np.empty(2, dtype=np.int64))
        ov = np.empty(10_000, dtype=np.int64)
        _clock_overhead(ov)
        overhead_ns = float(np.median(ov))
        res.notes.append(f"per-decision times from clock_gettime inside an njit loop; "
                         f"clock overhead {overhead_ns:.0f} ns subtracted")
    else:  # pragma: no cover
        timed_search, overhead_ns = _python_timed_search, 0.0
        res.notes.append("per-decision times from Python perf_counter_ns (includes ~1 us dispatch)")
    _count_all(warm, np.int64(1), params, np.zeros(3, dtype=np.int64), np.empty(2))
    res.notes.append(f"warm-up is search_into alone; the bench's own timing and counting kernels "
                     f"(not cached) took {time.perf_counter() - t0:.2f} s more to compile")
    reps = ctx.reps(3, 1)
    mismatches = 0
    for depth, n in n_by_depth.items():
        states = ctx.spread(n, pool_size)
        d = np.int64(depth)
        per_rep = np.empty((reps, n), dtype=np.int64)
        values = None
        for r in range(reps):
            values = timed_search(states, d, params, per_rep[r])
        times_us = np.maximum(np.median(per_rep, axis=0) - overhead_ns, 0.0) / 1e3
        counts = np.zeros(3, dtype=np.int64)
        counted = np.empty(n)
        _count_all(states, d, params, counts, counted)
        mismatches += int(np.sum(counted != values))
        total_s = times_us.sum() / 1e6
        res.add(f"depth{depth}_median_us", np.median(times_us), "us", f"depth {depth}: median per decision ({n} positions)")
        res.add(f"depth{depth}_mean_us", np.mean(times_us), "us", f"depth {depth}: mean per decision")
        res.add(f"depth{depth}_p90_us", np.percentile(times_us, 90), "us", f"depth {depth}: 90th percentile")
        res.add(f"depth{depth}_nodes_per_decision", counts[0] / n, "nodes", f"depth {depth}: positions generated per decision")
        res.add(f"depth{depth}_nodes_per_s", counts[0] / total_s, "nodes/s", f"depth {depth}: positions generated/s")
        res.add(f"depth{depth}_evals_per_s", counts[1] / total_s, "evals/s", f"depth {depth}: heuristic evaluations/s")
    res.notes.append("nodes = positions the search generates (root + every apply_move / pass), counted by a "
                     "recursive replica of the search (rgou.bench) that returns the same values; evals = "
                     "heuristic calls (leaves and finished games)")
    res.notes.append(f"counting replica vs search_into values: {mismatches} mismatches")
    if "depth3_median_us" in res.metrics:
        res.add("depth3_speedup_vs_rust", RUST_DEPTH3_DECISION_US / res.metrics["depth3_median_us"].value, "x",
                f"depth 3 median vs Rust engine (~{RUST_DEPTH3_DECISION_US:.0f} us)")
    return res


# --------------------------------------------------------------------- self-play

def bench_selfplay(ctx: BenchContext) -> SectionResult:
    """rgou.selfplay.generate at depths 1..3: all threads vs 1 thread, interleaved; end to end (incl. features)."""
    res = SectionResult()
    threads = numba.config.NUMBA_NUM_THREADS
    games_by_depth = {1: 256, 2: 128, 3: 64} if ctx.quick else {1: 2000, 2: 1200, 3: 600}
    res.warmup_s = _timed(lambda: (generate(4, depth=1, seed=ctx.seed), generate(4, depth=1, seed=ctx.seed, threads=1)))
    reps = ctx.reps(3, 1)
    for depth, games in games_by_depth.items():
        all_t, one_t, busy, other = [], [], [], []
        samples = 0
        for _ in range(reps):
            with LoadMeter() as m:
                ds = generate(games, depth=depth, seed=ctx.seed)
            all_t.append(m.seconds)
            busy.append(m.own_cores)
            other.append(m.other_cores or 0.0)
            samples = len(ds)
            with LoadMeter() as m:
                generate(games, depth=depth, seed=ctx.seed, threads=1)
            one_t.append(m.seconds)
            other.append(m.other_cores or 0.0)
        t_all, t_one = statistics.median(all_t), statistics.median(one_t)
        res.add(f"depth{depth}_games_per_s", games / t_all, "games/s", f"depth {depth}: games/s, {threads} threads ({games} games)")
        res.add(f"depth{depth}_samples_per_s", samples / t_all, "samples/s", f"depth {depth}: samples/s, {threads} threads")
        res.add(f"depth{depth}_games_per_s_1thread", games / t_one, "games/s", f"depth {depth}: games/s, 1 thread")
        res.add(f"depth{depth}_scaling", t_one / t_all, "x", f"depth {depth}: ratio {threads} threads / 1 thread")
        res.add(f"depth{depth}_cores_busy", statistics.median(busy), "cores",
                f"depth {depth}: cores this process kept busy, {threads} threads")
        res.add(f"depth{depth}_other_load", statistics.median(other), "cores",
                f"depth {depth}: CPU used by other processes meanwhile")
    if "depth3_games_per_s" in res.metrics:
        res.add("depth3_speedup_vs_rust", res.metrics["depth3_games_per_s"].value / RUST_DEPTH3_GAMES_PER_S, "x",
                f"depth 3 games/s vs Rust engine (~{RUST_DEPTH3_GAMES_PER_S:.0f} games/s)")
    res.notes.append("end to end: generate() wall time (games, then batched features and legal masks); "
                     "generate()'s default chunking")
    return res


# --------------------------------------------------------------------- nn

NN_BATCHES = (1, 32, 64, 256, 1024, 4096)
NN_BATCHES_QUICK = (32, 64, 1024)
TORCH_REFERENCE_SAMPLES_PER_S = {32: 19_000, 64: 32_000, 1024: 77_000}  # issue, this machine
TORCH_REFERENCE_INFERENCE_US = 85.0
NN_WEIGHTS = (  # first that exists: the shipped default model, then the reference file it was converted from
    Path(__file__).resolve().parent.parent / "ml" / "weights" / "default.json.gz",
    Path("/work/shared/reference/ml-weights.json.gz"),
)


def _train_flops_per_sample(cfg, first_inputs: int | None = None) -> int:
    """FLOPs of one training sample of one net: forward 2*sum(in*out), backward 2x that minus the
    first layer's input gradient (never computed): 3*fwd - 2*in_0*out_0. first_inputs replaces in_0
    (the Numba trainer drops the all-zero trailing input columns). Elementwise work is not counted."""
    from rgou.nn.layout import layer_sizes

    sizes = [int(v) for v in layer_sizes(cfg)]
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    if first_inputs is not None:
        macs[0] = first_inputs * sizes[1]
    return 3 * 2 * sum(macs) - 2 * macs[0]


def _gemm_rate(n: int, repeats: int, threads: int | None = None) -> float:
    """GFLOP/s of np.dot on float32 [n, n] x [n, n] (best of repeats), optionally with BLAS limited to `threads`."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)

    def go() -> float:
        np.dot(a, b, out=out)
        _, times = _median_time(lambda: np.dot(a, b, out=out), repeats)
        return 2.0 * n**3 / min(times) / 1e9  # best: the machine's rate (others only slow it down)

    if threads is None:
        return go()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        return go()


def _numpy_blas() -> str:
    """The BLAS that numpy's np.dot calls (threadpoolctl), e.g. 'openblas 0.3.30 Haswell, 2 threads'."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown BLAS (threadpoolctl not installed)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    mine = [p for p in pools if "numpy" in p.get("filepath", "")] or pools
    if not mine:
        return "no BLAS found by threadpoolctl"
    p = mine[0]
    return (f"{p.get('internal_api')} {p.get('version')}, coretype {p.get('architecture')}, "
            f"{p.get('num_threads')} threads ({os.path.basename(p.get('filepath', ''))})")


def _steps_for(fn: Callable[[int], object], chunk_s: float, max_steps: int = 20_000) -> int:
    """Steps of fn(k) (k steps per call) that take about chunk_s, from 3 timed single steps."""
    per = statistics.median(_timed(lambda: fn(1)) for _ in range(3))
    return int(min(max_steps, max(2, chunk_s / max(per, 1e-9))))


def _per_call_us(fn: Callable[[int], object], n: int, repeats: int) -> np.ndarray:
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


def _make_timed_value_policy():
    """The njit per-position timing loop over value_policy_one (built lazily: imports rgou.nn)."""
    from rgou.nn.numba_backend import value_policy_one

    @numba.njit(**_TIMED_JIT)
    def timed(vflat, vsizes, pflat, psizes, X, policy, work, times):
        buf = np.zeros(2, dtype=np.int64)
        acc = 0.0
        for i in range(X.shape[0]):
            t0 = _now_ns(buf)
            acc += value_policy_one(vflat, vsizes, pflat, psizes, X[i], policy, work)
            t1 = _now_ns(buf)
            times[i] = t1 - t0
        return acc

    return timed


class _TorchNets:
    """The idiomatic PyTorch step: nn.Sequential nets, one Adam per net, MSE on tanh, cross-entropy on logits."""

    def __init__(self, torch, seed: int, dropout: float, lr: float):
        import torch.nn as tnn
        import torch.nn.functional as F

        from rgou.nn.layout import DEFAULT_HIDDEN_SIZES, NUM_FEATURES, NUM_POLICY_OUTPUTS

        self.torch, self.F = torch, F
        torch.manual_seed(seed)

        def mlp(out: int):
            widths = [NUM_FEATURES, *DEFAULT_HIDDEN_SIZES]
            layers = []
            for a, b in zip(widths[:-1], widths[1:]):
                layers += [tnn.Linear(a, b), tnn.ReLU(), tnn.Dropout(dropout)]
            layers.append(tnn.Linear(widths[-1], out))
            return tnn.Sequential(*layers)

        self.value, self.policy = mlp(1), mlp(NUM_POLICY_OUTPUTS)
        self.value_opt = torch.optim.Adam(self.value.parameters(), lr=lr)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=lr)

    def batch(self, X, vt, pt):
        t = self.torch
        return t.from_numpy(np.ascontiguousarray(X)), t.from_numpy(np.ascontiguousarray(vt)).unsqueeze(1), \
            t.from_numpy(np.ascontiguousarray(pt.argmax(axis=1)))

    def step(self, x, vt, pt) -> None:
        F = self.F
        self.value.train()
        self.policy.train()
        self.value_opt.zero_grad()
        self.policy_opt.zero_grad()
        value_loss = F.mse_loss(self.torch.tanh(self.value(x)), vt)
        policy_loss = F.cross_entropy(self.policy(x), pt)
        value_loss.backward()
        policy_loss.backward()
        self.value_opt.step()
        self.policy_opt.step()

    def infer_one(self, x_row) -> None:
        t = self.torch
        x = t.from_numpy(x_row).unsqueeze(0)
        t.tanh(self.value(x))
        t.softmax(self.policy(x), dim=1)


def _import_optional(name: str):
    try:
        return __import__(name)
    except Exception as exc:  # ImportError, or a broken install
        return f"{type(exc).__name__}: {exc}"


def bench_nn(ctx: BenchContext) -> SectionResult:
    """Trainers (Numba, PyTorch, JAX) side by side on self-play minibatches; single-position inference; ML agent."""
    from rgou.agents import MLAgent
    from rgou.nn import numba_backend as nb
    from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, init_params
    from rgou.weights import Weights, load_weights

    res = SectionResult()
    quick = ctx.quick
    batches = NN_BATCHES_QUICK if quick else NN_BATCHES
    jax_batches = batches[:1] if quick else batches  # a JAX compile is ~1-2 s per batch size
    reps = ctx.reps(7, 2)
    chunk_s = 0.02 if quick else 0.08
    lr, dropout = 1e-3, nb.DEFAULT_DROPOUT_RATE
    warmup = 0.0

    # ---- 1. machine GEMM rate
    gemm_n = 2048
    gemm_reps = ctx.reps(7, 3)
    gemm = _gemm_rate(gemm_n, gemm_reps)
    gemm_1t = _gemm_rate(gemm_n, ctx.reps(3, 1), threads=1)

    # ---- training data: real self-play samples (features 78..149 are zero)
    t0 = time.perf_counter()
    games = 64 if quick else 256
    ds = generate(games, depth=1, seed=ctx.seed)
    warmup += time.perf_counter() - t0
    X, VT, PT = ds.features, ds.value_target, ds.policy_target
    n_samples = len(ds)
    active = int(np.nonzero(X.any(axis=0))[0].max()) + 1
    flops = _train_flops_per_sample(VALUE_CONFIG) + _train_flops_per_sample(POLICY_CONFIG)
    flops_exec = (_train_flops_per_sample(VALUE_CONFIG, active) + _train_flops_per_sample(POLICY_CONFIG, active))
    res.notes.append(
        f"training data: {n_samples} samples of {games} seeded depth-1 self-play games; "
        f"minibatches are consecutive slices, cycled; only the first {active} of {X.shape[1]} feature columns are "
        "ever non-zero")
    res.notes.append(
        f"FLOPs per training sample (both nets) = sum over nets of 3*2*sum(in*out) - 2*in_0*out_0 (forward "
        f"2*sum(in*out); backward 2x forward minus the first layer's input gradient; bias, activations, loss, "
        f"dropout and Adam not counted) = {flops:,}; GFLOP/s = samples/s * that. The Numba trainer skips the "
        f"all-zero input columns, so it executes {flops_exec:,} ({flops_exec / flops:.0%}); its "
        "'executed' rate uses that count")

    v0, p0 = init_params(VALUE_CONFIG, ctx.seed), init_params(POLICY_CONFIG, ctx.seed + 1)

    # ---- optional frameworks
    torch = _import_optional("torch")
    if isinstance(torch, str):
        res.notes.append(f"PyTorch columns skipped: import torch failed ({torch})")
        torch = None
    else:
        res.notes.append(f"PyTorch {torch.__version__}: nn.Sequential(Linear, ReLU, Dropout(0.1), ...) per net, "
                         "one torch.optim.Adam per net (lr 1e-3), MSE on tanh (value), F.cross_entropy on logits "
                         f"with class-index targets (policy), zero_grad/backward/step; {torch.get_num_threads()} "
                         "torch threads (default); batches converted to tensors once, outside the timing")
    jax = _import_optional("jax")
    jb = None
    if isinstance(jax, str):
        res.notes.append(f"JAX columns skipped: import jax failed ({jax})")
        jax = None
    else:
        try:
            from rgou.nn import jax_backend as jb
        except Exception as exc:  # pragma: no cover - broken install
            res.notes.append(f"JAX columns skipped: rgou.nn.jax_backend failed ({type(exc).__name__}: {exc})")
            jax = None
    if jb is not None:
        res.notes.append(f"JAX {jax.__version__} on {jb.jax_device_description()}: jax_backend.make_train_step "
                         "(jitted, both nets, dropout 0.1, Adam); a chunk of steps ends with block_until_ready; "
                         + ("quick run: JAX at the first batch size only" if quick else "compile time not timed"))
        jstep = jb.make_train_step(learning_rate=lr, dropout_rate=dropout)
        jstate = jb.init_train_state(v0, p0)
        jkeys = [jax.random.fold_in(jax.random.PRNGKey(ctx.seed), i) for i in range(64)]
    torch_nets = _TorchNets(torch, ctx.seed, dropout, lr) if torch is not None else None

    # ---- 2-5. trainers, side by side at each batch size
    other_cores = []
    best: dict[int, dict[str, float]] = {}
    attempts = 1 if quick else 3
    retried: list[str] = []
    ratio_torch: dict[int, float] = {}
    numba_frac: dict[int, float] = {}
    for B in batches:
        count = max(1, min(64, n_samples // B))
        slices = [(np.ascontiguousarray(X[i * B:(i + 1) * B]), np.ascontiguousarray(VT[i * B:(i + 1) * B]),
                   np.ascontiguousarray(PT[i * B:(i + 1) * B])) for i in range(count)]
        trainer = nb.make_trainer(v0, p0, max_batch=B, learning_rate=lr, dropout_rate=dropout, seed=ctx.seed)

        def numba_ctx(k, trainer=trainer, slices=slices, count=count):
            with nb.single_threaded_blas():
                for i in range(k):
                    nb.train_step(trainer, *slices[i % count])

        def numba_self(k, trainer=trainer, slices=slices, count=count):
            for i in range(k):
                nb.train_step(trainer, *slices[i % count])

        runners: dict[str, Callable[[int], object]] = {"numba": numba_ctx, "numba_self": numba_self}
        t0 = time.perf_counter()
        numba_ctx(1)
        if torch_nets is not None:
            tslices = [torch_nets.batch(*s) for s in slices]

            def torch_run(k, tslices=tslices, count=count):
                for i in range(k):
                    torch_nets.step(*tslices[i % count])

            torch_run(2)
            runners["torch"] = torch_run
        if jb is not None and B in jax_batches:
            jslices = [tuple(jax.device_put(a) for a in s) for s in slices]

            def jax_run(k, jslices=jslices, count=count):
                nonlocal jstate
                for i in range(k):
                    jstate, _ = jstep(jstate, *jslices[i % count], jkeys[i % len(jkeys)])
                jax.block_until_ready(jstate)

            jax_run(2)
            runners["jax"] = jax_run
        warmup += time.perf_counter() - t0
        steps = {name: _steps_for(fn, chunk_s) for name, fn in runners.items()}
        rates: dict[str, list[float]] = {name: [] for name in runners}
        names = list(runners)
        loads = []
        for attempt in range(attempts):  # a contended attempt is repeated (full runs): its chunks are kept too
            with LoadMeter() as meter:
                for r in range(reps):
                    for name in names[r % len(names):] + names[:r % len(names)]:  # rotate the order each repeat
                        rates[name].append(B * steps[name] / _timed(lambda: runners[name](steps[name])))
            loads.append(meter.other_cores or 0.0)
            if loads[-1] <= CONTENDED_CORES:
                break
        other_cores.append(min(loads))
        if len(loads) > 1:
            retried.append(f"{B} ({len(loads)} attempts, others {', '.join(f'{v:.2f}' for v in loads)} cores)")
        # best of the repeats: other processes only ever slow a chunk down, and on 2 cores one busy core
        # stalls a 2-thread step at every barrier (OpenMP in torch, prange in the Numba trainer)
        med = {name: max(v) for name, v in rates.items()}
        best[B] = med
    # the machine's GEMM rate: best of the runs before and after the trainers
    if not quick:
        gemm = max(gemm, _gemm_rate(gemm_n, gemm_reps))
    res.add("gemm_gflops", gemm, "GFLOP/s", f"np.dot float32 {gemm_n}x{gemm_n}, default BLAS threads (best)")
    res.add("gemm_gflops_1thread", gemm_1t, "GFLOP/s", "  same, BLAS limited to 1 thread")
    res.notes.append(f"GEMM: np.dot ran on {_numpy_blas()}; OPENBLAS_CORETYPE="
                     f"{os.environ.get('OPENBLAS_CORETYPE') or '(not set)'}; best of {gemm_reps} runs before"
                     f"{'' if quick else f' and {gemm_reps} after'} the trainers; every '% of GEMM' below is of {gemm:.0f} GFLOP/s")
    for B, med in best.items():
        res.add(f"numba_b{B}_samples_per_s", med["numba"], "samples/s",
                f"batch {B}: Numba trainer, samples/s (inside single_threaded_blas)")
        res.add(f"numba_self_b{B}_samples_per_s", med["numba_self"], "samples/s",
                f"batch {B}: Numba trainer, train_step entering single_threaded_blas itself")
        numba_frac[B] = 100.0 * med["numba"] * flops / 1e9 / gemm
        res.add(f"numba_b{B}_gemm_pct", numba_frac[B], "%", f"batch {B}: Numba % of GEMM rate "
                f"({med['numba'] * flops / 1e9:.0f} GFLOP/s; executed {med['numba'] * flops_exec / 1e9:.0f}, "
                f"{100.0 * med['numba'] * flops_exec / 1e9 / gemm:.0f} %)")
        if "torch" in med:
            res.add(f"torch_b{B}_samples_per_s", med["torch"], "samples/s", f"batch {B}: PyTorch step, samples/s")
            res.add(f"torch_b{B}_gemm_pct", 100.0 * med["torch"] * flops / 1e9 / gemm, "%",
                    f"batch {B}: PyTorch % of GEMM rate ({med['torch'] * flops / 1e9:.1f} GFLOP/s)")
            ratio_torch[B] = med["numba"] / med["torch"]
            res.add(f"numba_vs_torch_b{B}", ratio_torch[B], "x", f"batch {B}: Numba / PyTorch samples/s")
        if "jax" in med:
            res.add(f"jax_b{B}_samples_per_s", med["jax"], "samples/s", f"batch {B}: JAX jitted step, samples/s")
            res.add(f"jax_b{B}_gemm_pct", 100.0 * med["jax"] * flops / 1e9 / gemm, "%",
                    f"batch {B}: JAX % of GEMM rate ({med['jax'] * flops / 1e9:.1f} GFLOP/s)")
            res.add(f"numba_vs_jax_b{B}", med["numba"] / med["jax"], "x", f"batch {B}: Numba / JAX samples/s")
    big = [B for B in batches if B >= 256]
    if big:
        res.add("numba_gemm_pct_min_ge256", min(numba_frac[B] for B in big), "%",
                f"Numba % of GEMM rate, lowest over batches {', '.join(map(str, big))}")
    res.add("train_other_load", statistics.median(other_cores), "cores",
            "CPU used by other processes during the training timings (median over batch sizes)")
    if retried:
        res.notes.append("contended batch sizes were timed again and all chunks kept: " + "; ".join(retried))
    res.notes.append("issue's PyTorch reference on this machine: ~19k / 32k / 77k samples/s at batch 32 / 64 / 1024. "
                     f"Each rate is the best of {reps} chunks of steps (~{chunk_s} s each), the trainers' chunks "
                     "interleaved in rotating order; ratios are of those best rates")

    # ---- 6. single-position inference
    n_pos = 300 if quick else 2000
    pool_size = 20_000 if quick else 200_000
    states = ctx.spread(n_pos, pool_size)
    feats = extract_features_batch(states)
    found = [path for path in NN_WEIGHTS if path.exists()]
    if found:
        weights = load_weights(found[0])
        wname = f"{found[0].name} (shipped size, trained)"
    else:  # pragma: no cover - no model file
        weights = Weights(init_params(VALUE_CONFIG, 1), init_params(POLICY_CONFIG, 2))
        wname = "init_params weights (no model file found)"
    fresh = Weights(v0, p0)
    from rgou.nn.layout import layer_sizes

    vs, ps = layer_sizes(weights.value_config), layer_sizes(weights.policy_config)
    work = nb.make_inference_work(weights.value_config, weights.policy_config)
    pol = np.zeros(ps[-1], dtype=np.float32)
    inf_reps = ctx.reps(3, 1)
    t0 = time.perf_counter()
    nb.value_policy_one(weights.value, vs, weights.policy, ps, feats[0], pol, work)
    warmup += time.perf_counter() - t0

    with LoadMeter() as meter:
        vp_py = _per_call_us(lambda i: nb.value_policy_one(weights.value, vs, weights.policy, ps, feats[i], pol, work),
                             n_pos, inf_reps)
        res.add("value_policy_one_us", float(np.median(vp_py)), "us",
                "value_policy_one (value + policy, one position) called from Python, median")
        if _clock_gettime is not None:
            t0 = time.perf_counter()
            timed_vp = _make_timed_value_policy()
            per = np.empty((inf_reps, n_pos), dtype=np.int64)
            timed_vp(weights.value, vs, weights.policy, ps, feats[:2], pol, work, per[0, :2])
            compile_s = time.perf_counter() - t0
            ov = np.empty(10_000, dtype=np.int64)
            _clock_overhead(ov)
            overhead_ns = float(np.median(ov))
            for r in range(inf_reps):
                timed_vp(weights.value, vs, weights.policy, ps, feats, pol, work, per[r])
            kern = np.maximum(np.median(per, axis=0) - overhead_ns, 0.0) / 1e3
            res.add("value_policy_one_kernel_us", float(np.median(kern)), "us",
                    "  same kernel timed inside an njit loop (no Python dispatch), median")
            res.add("value_policy_one_kernel_p90_us", float(np.percentile(kern, 90)), "us", "  same, 90th percentile")
            res.notes.append(f"inference: {n_pos} positions spread over the self-play pool, weights {wname}; the "
                             f"bench's njit timing loop took {compile_s:.2f} s to compile (not cached)")
        if torch_nets is not None:
            torch_nets.value.eval()
            torch_nets.policy.eval()
            n_t = min(n_pos, 100 if quick else 1000)
            with torch.no_grad():
                for i in range(20):
                    torch_nets.infer_one(feats[i])
                t_us = _per_call_us(lambda i: torch_nets.infer_one(feats[i]), n_t, inf_reps)
            res.add("torch_infer_one_us", float(np.median(t_us)), "us",
                    f"PyTorch value + policy forward, one position, torch.no_grad() (issue: ~{TORCH_REFERENCE_INFERENCE_US:.0f})")
            res.add("value_policy_vs_torch", float(np.median(t_us)) / float(np.median(vp_py)), "x",
                    "  PyTorch / value_policy_one (both from Python)")

        # ---- 7. ML agent decision
        agent = MLAgent(weights)
        t0 = time.perf_counter()
        agent.choose_move(states[0])
        warmup += time.perf_counter() - t0
        a_us = _per_call_us(lambda i: agent.choose_move(states[i]), n_pos, inf_reps)
        res.add("ml_agent_decision_us", float(np.median(a_us)), "us",
                f"MLAgent(weights).choose_move ({agent.name}: every successor x 5 rolls), median, from Python")
        res.add("ml_agent_decision_mean_us", float(np.mean(a_us)), "us", "  mean")
        res.add("ml_agent_decision_p90_us", float(np.percentile(a_us, 90)), "us", "  90th percentile")
        if agent.name != "ml-combined":
            both = MLAgent(weights, mode="combined")
            both.choose_move(states[0])
            c_us = _per_call_us(lambda i: both.choose_move(states[i]), n_pos, inf_reps)
            res.add("ml_agent_combined_us", float(np.median(c_us)), "us", "  mode 'combined' (value + policy), median")
        fresh_agent = MLAgent(fresh)
        fresh_agent.choose_move(states[0])
        f_us = _per_call_us(lambda i: fresh_agent.choose_move(states[i]), n_pos, inf_reps)
        res.add("ml_agent_init_params_us", float(np.median(f_us)), "us", "  same with init_params weights, median")
    res.add("infer_other_load", meter.other_cores or 0.0, "cores",
            "CPU used by other processes during the inference timings")
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    n_legal = np.array([legal_moves(s, moves) for s in states])
    res.notes.append(f"ML agent: {n_pos} positions, {n_legal.mean():.2f} legal moves on average, each non-final "
                     f"one valued over the {NUM_ROLLS} rolls of the next player (value net), plus one policy "
                     "forward in 'combined' mode; the init_params nets have fewer zero ReLU outputs than the trained "
                     "ones, so the sparse single-position kernels do more work; times per call with "
                     f"perf_counter_ns, median of {inf_reps} repeats per position")
    res.warmup_s = warmup
    return res


SECTIONS: dict[str, Callable[[BenchContext], SectionResult]] = {
    "engine": bench_engine,
    "features": bench_features,
    "search": bench_search,
    "selfplay": bench_selfplay,
    "nn": bench_nn,
}


# --------------------------------------------------------------------- machine

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """CPU, thread counts, library versions and the loaded BLAS (threadpoolctl)."""
    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }
    try:
        info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:
        info["numba_threading_layer"] = None  # no parallel kernel has run yet
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: pool.get(k) for k in ("user_api", "internal_api", "version", "architecture", "num_threads", "threading_layer")}
            | {"library": os.path.basename(pool.get("filepath", ""))}
            for pool in threadpool_info()
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


# --------------------------------------------------------------------- report

def _fmt(value: float, unit: str) -> str:
    if unit in ("x",):
        return f"{value:.2f}"
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.2f} M"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def _load(sec: dict) -> str:
    v = sec.get("other_load_cores")
    return "n/a" if v is None else f"{v:.2f}"


def _contended(target: dict) -> str:
    v = target.get("other_load_cores")
    return f"  [contended: {v:.2f} cores used by others]" if v is not None and v > CONTENDED_CORES else ""


def evaluate_targets(sections: dict[str, SectionResult]) -> list[dict]:
    rows = []
    for t in TARGETS:
        sec = sections.get(t.section)
        if sec is None or t.metric not in sec.metrics:
            continue
        m = sec.metrics[t.metric]
        rows.append({"name": t.name, "section": t.section, "metric": t.metric, "op": t.op, "threshold": t.threshold,
                     "value": m.value, "unit": m.unit, "status": "PASS" if t.check(m.value) else "MISS",
                     "reference": t.reference})
    return rows


def _machine_lines(machine: dict) -> list[tuple[str, str]]:
    rows = [
        ("cpu", f"{machine['cpu']}"),
        ("cores", f"{machine['cores']} (affinity {machine['affinity_cores']}), numba threads "
                  f"{machine['numba_threads']}, threading layer {machine['numba_threading_layer']}"),
        ("versions", f"python {machine['python']}, numpy {machine['numpy']}, numba {machine['numba']}"),
        ("OPENBLAS_CORETYPE", str(machine["OPENBLAS_CORETYPE"]) if machine["OPENBLAS_CORETYPE"] else "(not set)"),
    ]
    blas = machine["blas"]
    if isinstance(blas, str):
        rows.append(("blas", blas))
    else:
        for pool in blas:
            rows.append(("blas", f"{pool['internal_api']} {pool['version']} ({pool['user_api']}), "
                                 f"coretype {pool['architecture']}, {pool['num_threads']} threads, {pool['library']}"))
    return rows


def render_text(report: dict) -> str:
    lines = [f"rgou bench  {report['date']}  {'quick' if report['quick'] else 'full'} run", ""]
    mrows = _machine_lines(report["machine"])
    w = max(len(k) for k, _ in mrows)
    lines += [f"{k:<{w}}  {v}" for k, v in mrows]
    pos = report["positions"]
    lines.append(f"{'positions':<{w}}  {pos['count']} from {pos['games']} seeded depth-1 self-play games "
                 f"({pos['seconds']:.2f} s incl. first generate() warm-up)")
    for name, sec in report["sections"].items():
        lines += ["", f"[{name}]  warm-up (JIT compile or cache load) {sec['warmup_s']:.2f} s, "
                      f"section {sec['seconds']:.1f} s, other processes {_load(sec)} cores"]
        rows = [(m["label"], _fmt(m["value"], m["unit"]), m["unit"]) for m in sec["metrics"].values()]
        wl = max(len(r[0]) for r in rows)
        wv = max(len(r[1]) for r in rows)
        lines += [f"  {a:<{wl}}  {b:>{wv}}  {c}" for a, b, c in rows]
        lines += [f"  note: {n}" for n in sec["notes"]]
    if report["targets"]:
        lines += ["", "[targets]"]
        wn = max(len(t["name"]) for t in report["targets"])
        for t in report["targets"]:
            lines.append(f"  {t['name']:<{wn}}  {_fmt(t['value'], t['unit']):>10} {t['unit']:<8} {t['status']}"
                         + (f"  ({t['reference']})" if t["reference"] else "") + _contended(t))
    lines.append("")
    lines.append(f"total {report['seconds']:.1f} s")
    return "\n".join(lines) + "\n"


def render_markdown(report: dict) -> str:
    out = [f"# rgou bench, {report['date']} ({'quick' if report['quick'] else 'full'} run)", "",
           f"Command: `python -m rgou.bench {' '.join(report['argv'])}`", "", "## Machine", "",
           "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in _machine_lines(report["machine"])]
    if report["targets"]:
        out += ["", "## Targets", "", "| target | measured | status | reference |", "|---|---:|---|---|"]
        for t in report["targets"]:
            out.append(f"| {t['name']} | {_fmt(t['value'], t['unit'])} {t['unit']} | {t['status']}{_contended(t)} "
                       f"| {t['reference']} |")
    for name, sec in report["sections"].items():
        out += ["", f"## {name}", "",
                f"Warm-up (JIT compile or cache load): {sec['warmup_s']:.2f} s; section wall time "
                f"{sec['seconds']:.1f} s; CPU used by other processes meanwhile: {_load(sec)} cores.",
                "", "| metric | value | unit | key |", "|---|---:|---|---|"]
        for key, m in sec["metrics"].items():
            out.append(f"| {m['label'].strip()} | {_fmt(m['value'], m['unit'])} | {m['unit']} | `{key}` |")
        if sec["notes"]:
            out.append("")
            out += [f"- {n}" for n in sec["notes"]]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------- CLI

def run(names: list[str], ctx: BenchContext) -> dict:
    """Run the named sections; return the report dict (what --json writes)."""
    start = time.perf_counter()
    results: dict[str, SectionResult] = {}
    seconds: dict[str, float] = {}
    other: dict[str, float | None] = {}
    for name in names:
        ctx.log(f"running {name} ...")
        with LoadMeter() as meter:
            results[name] = SECTIONS[name](ctx)
        seconds[name] = meter.seconds
        other[name] = meter.other_cores
        if meter.other_cores is not None and meter.other_cores > CONTENDED_CORES:
            results[name].notes.append(f"CONTENDED: other processes used {meter.other_cores:.2f} cores during "
                                       "this section; multi-thread numbers and ratios are unreliable")
    return {
        "schema": 1,
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "argv": [],
        "quick": ctx.quick,
        "seed": ctx.seed,
        "machine": machine_info(),
        "positions": {"count": 0 if ctx._pool is None else len(ctx._pool), "games": ctx._games,
                      "seconds": ctx.pool_seconds, "source": "rgou.selfplay.generate(depth=1, seed)"},
        "sections": {
            name: {"warmup_s": r.warmup_s, "seconds": seconds[name], "other_load_cores": other[name],
                   "metrics": {k: {"value": m.value, "unit": m.unit, "label": m.label} for k, m in r.metrics.items()},
                   "notes": r.notes}
            for name, r in results.items()
        },
        "targets": [t | {"other_load_cores": other[t["section"]]} for t in evaluate_targets(results)],
        "seconds": time.perf_counter() - start,
    }


def _parse_only(text: str | None) -> list[str]:
    if not text:
        return list(SECTIONS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise SystemExit(f"rgou.bench: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return names


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m rgou.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="NAME[,NAME]", help=f"sections to run (default all: {', '.join(SECTIONS)})")
    parser.add_argument("--quick", action="store_true", help="short smoke run (small sizes, one repeat)")
    parser.add_argument("--repeats", type=int, default=None, help="override the number of timed repeats")
    parser.add_argument("--seed", type=int, default=BENCH_SEED, help="seed of the self-play positions and games")
    parser.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="write the report as a Markdown table")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    names = _parse_only(args.only)
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    ctx = BenchContext(quick=args.quick, seed=args.seed, repeats=args.repeats, log=log)
    report = run(names, ctx)
    report["argv"] = list(sys.argv[1:] if argv is None else argv)
    sys.stdout.write(render_text(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(render_markdown(report))
    return report


if __name__ == "__main__":
    main()
