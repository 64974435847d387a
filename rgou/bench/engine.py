"""Bench sections of the engine, the features, the expectiminimax search and self-play.

Each `bench_*` takes the shared `BenchContext` and returns a `SectionResult`.
The search section counts the positions a search generates with the
search's own counting mode and checks that it returns the plain search's values.
"""

from __future__ import annotations

import statistics
import time

import numba
import numpy as np

from rgou._clock import clock_ns
from rgou._numba import njit
from rgou.agents import RandomAgent, make_agent
from rgou.bench.report import RUST_DEPTH3_DECISION_US, RUST_DEPTH3_GAMES_PER_S, SectionResult
from rgou.bench.timing import (
    BENCH_MAX_PLIES,
    BenchContext,
    LoadMeter,
    clock_overhead,
    median_time,
    per_call_us,
    timed,
)
from rgou.features import (
    NUM_FEATURES,
    extract_features,
    features_batch,
    features_batch_into,
    features_into,
    single_features,
)
from rgou.game import STATE_SIZE, TO_MOVE, apply_move_inplace, legal_moves
from rgou.leaves import heuristic_leaf
from rgou.playout import play_games
from rgou.rules import NUM_PIECES
from rgou.search import MAX_DEPTH, leaf_work, search_into
from rgou.selfplay import generate


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


def _random_playouts(seed: int, games: int, max_plies: int) -> int:
    """Uniformly random games on the one game loop, on one thread; returns the number of plies played."""
    agent = RandomAgent().data
    return int(play_games(agent, agent, games, seed, max_plies=max_plies, threads=1).plies.sum())


def _arena_games(seed: int, games: int) -> int:
    """Heuristic against heuristic on the arena's path (all threads, paired dice); returns plies played."""
    from rgou.arena import match

    agent = make_agent("heuristic")
    return round(match(agent, agent, games, seed=seed).mean_plies * games)


def bench_engine(ctx: BenchContext) -> SectionResult:
    """Legal-move generation and apply throughput, single thread, inside one njit loop."""
    res = SectionResult()
    n = 20_000 if ctx.quick else 200_000
    states = ctx.positions(n)
    reps = ctx.reps(5, 2)
    inner = 1 if ctx.quick else 3
    res.warmup_s = timed(
        lambda: (_legal_sweep(states[:10], 1), _legal_apply_sweep(states[:10], 1), _random_playouts(1, 2, 200))
    )
    t_legal, _ = median_time(lambda: _legal_sweep(states, inner), reps)
    t_apply, _ = median_time(lambda: _legal_apply_sweep(states, inner), reps)
    applied, _ = _legal_apply_sweep(states, 1)
    games = 200 if ctx.quick else 2000
    plies = _random_playouts(ctx.seed, games, 1000)
    t_play, _ = median_time(lambda: _random_playouts(ctx.seed, games, 1000), reps)
    arena_games = 2000 if ctx.quick else 20_000
    _arena_games(ctx.seed, 20)
    arena_plies = _arena_games(ctx.seed, arena_games)
    t_arena, _ = median_time(lambda: _arena_games(ctx.seed, arena_games), reps)
    res.add("legal_positions_per_s", inner * n / t_legal, "pos/s", "legal_moves only, positions/s (1 thread)")
    res.add(
        "legal_apply_positions_per_s",
        inner * n / t_apply,
        "pos/s",
        "legal_moves + copy/apply every legal move, positions/s (1 thread)",
    )
    res.add("apply_moves_per_s", inner * applied / t_apply, "moves/s", "  same run, moves applied/s")
    res.add("legal_apply_ns_per_position", 1e9 * t_apply / (inner * n), "ns", "  same run, ns per position")
    res.add(
        "random_playout_plies_per_s",
        plies / t_play,
        "plies/s",
        "random playouts on the game loop (roll, legal, decide, apply or pass), plies/s, 1 thread",
    )
    res.add(
        "arena_heuristic_games_per_s",
        arena_games / t_arena,
        "games/s",
        f"arena: heuristic vs heuristic (rgou.arena.match, {numba.get_num_threads()} threads), games/s",
    )
    res.notes.append(
        f"{n} self-play positions, {applied / n:.2f} legal moves each on average; "
        f"{games} random playouts, {plies / games:.1f} plies each; "
        f"arena {arena_games} games, {arena_plies / arena_games:.1f} plies each"
    )
    return res


@njit
def _features_loop(states, out):
    """features_into for each state into one float32[150] buffer, single thread (the per-position cost)."""
    acc = np.float32(0.0)
    for i in range(states.shape[0]):
        features_into(states[i], out)
        acc += out[i % 78]
    return acc


def bench_features(ctx: BenchContext) -> SectionResult:
    """features_batch (all threads and 1 thread, interleaved) and single-position features_into.

    The batch and single-call rows time the kernels on checked states, as before the public functions
    checked their input; `extract_features_checked_call_us` is the public call with its check.
    """
    res = SectionResult()
    n = 50_000 if ctx.quick else 250_000
    states = ctx.positions(n)
    loop = _features_loop
    out = np.empty(NUM_FEATURES, dtype=np.float32)
    first = states[0]
    res.warmup_s = timed(
        lambda: (features_batch(states[:10]), loop(states[:10], out), single_features(first), extract_features(first))
    )
    threads = numba.get_num_threads()
    all_t, one_t = [], []
    for _ in range(ctx.reps(7, 2)):
        all_t.append(timed(lambda: features_batch(states)))
        numba.set_num_threads(1)
        try:
            one_t.append(timed(lambda: features_batch(states)))
        finally:
            numba.set_num_threads(threads)
    t_all, t_one = statistics.median(all_t), statistics.median(one_t)
    prealloc = np.empty((n, NUM_FEATURES), dtype=np.float32)
    t_pre, _ = median_time(lambda: features_batch_into(states, prealloc), ctx.reps(7, 2))
    t_loop, _ = median_time(lambda: loop(states, out), ctx.reps(5, 2))
    k = 2000 if ctx.quick else 20000
    single = states[:k]
    t_py, _ = median_time(lambda: [single_features(s) for s in single], ctx.reps(3, 1))
    t_checked, _ = median_time(lambda: [extract_features(s) for s in single], ctx.reps(3, 1))
    res.add("batch_positions_per_s", n / t_all, "pos/s", f"features_batch, {threads} threads, positions/s")
    res.add("batch_1thread_positions_per_s", n / t_one, "pos/s", "features_batch, 1 thread, positions/s")
    res.add("batch_scaling", t_one / t_all, "x", f"  ratio {threads} threads / 1 thread (interleaved runs)")
    res.add(
        "batch_prealloc_positions_per_s",
        n / t_pre,
        "pos/s",
        f"features_batch_into, output preallocated, {threads} threads",
    )
    res.add("features_into_ns", 1e9 * t_loop / n, "ns", "features_into, one position, inside njit loop")
    res.add("extract_features_call_us", 1e6 * t_py / k, "us", "single_features(state), the kernel, called from Python")
    res.add(
        "extract_features_checked_call_us",
        1e6 * t_checked / k,
        "us",
        "extract_features(state) called from Python, its state check included",
    )
    res.notes.append(f"{n} self-play positions; batch output float32[{n}, {NUM_FEATURES}] allocated per call")
    return res


@njit
def _timed_search(states, depth, leaf, work, times):
    """search_into for each state; its wall time in ns into times[i]; returns the values."""
    scores = np.empty(NUM_PIECES, dtype=np.float64)
    values = np.empty(states.shape[0], dtype=np.float64)
    for i in range(states.shape[0]):
        t0 = clock_ns()
        v, _ = search_into(states[i], depth, leaf, work, scores, None)
        t1 = clock_ns()
        values[i] = v
        times[i] = t1 - t0
    return values


@njit
def _count_all(states, depth, leaf, work, counts, values):
    """search_into in its counting mode over every state; values[i] must equal the timed search's."""
    scores = np.empty(NUM_PIECES, dtype=np.float64)
    for i in range(states.shape[0]):
        values[i], _ = search_into(states[i], depth, leaf, work, scores, counts)


def bench_search(ctx: BenchContext) -> SectionResult:
    """search_into at depths 1..4: per-decision times (median, mean, p90) and nodes/s."""
    res = SectionResult()
    leaf = heuristic_leaf()
    work = leaf_work(MAX_DEPTH, leaf)
    n_by_depth = {1: 100, 2: 100, 3: 60, 4: 12} if ctx.quick else {1: 400, 2: 400, 3: 300, 4: 60}
    pool_size = 20_000 if ctx.quick else 200_000
    warm = ctx.spread(2, pool_size)
    res.warmup_s = timed(lambda: search_into(warm[0], np.int64(1), leaf, work, np.empty(NUM_PIECES), None))
    t0 = time.perf_counter()
    _timed_search(warm, np.int64(1), leaf, work, np.empty(2, dtype=np.int64))
    ov = np.empty(10_000, dtype=np.int64)
    clock_overhead(ov)
    overhead_ns = float(np.median(ov))
    res.notes.append(
        f"per-decision times from clock_gettime inside an njit loop; clock overhead {overhead_ns:.0f} ns subtracted"
    )
    _count_all(warm, np.int64(1), leaf, work, np.zeros(3, dtype=np.int64), np.empty(2))
    res.notes.append(
        f"warm-up is search_into alone; the bench's timing and counting loops took "
        f"{time.perf_counter() - t0:.2f} s more to load or compile"
    )
    reps = ctx.reps(3, 1)
    mismatches = 0
    for depth, n in n_by_depth.items():
        states = ctx.spread(n, pool_size)
        d = np.int64(depth)
        per_rep = np.empty((reps, n), dtype=np.int64)
        values = None
        for r in range(reps):
            values = _timed_search(states, d, leaf, work, per_rep[r])
        times_us = np.maximum(np.median(per_rep, axis=0) - overhead_ns, 0.0) / 1e3
        counts = np.zeros(3, dtype=np.int64)
        counted = np.empty(n)
        _count_all(states, d, leaf, work, counts, counted)
        mismatches += int(np.sum(counted != values))
        total_s = times_us.sum() / 1e6
        res.add(
            f"depth{depth}_median_us", np.median(times_us), "us", f"depth {depth}: median per decision ({n} positions)"
        )
        res.add(f"depth{depth}_mean_us", np.mean(times_us), "us", f"depth {depth}: mean per decision")
        res.add(f"depth{depth}_p90_us", np.percentile(times_us, 90), "us", f"depth {depth}: 90th percentile")
        res.add(
            f"depth{depth}_nodes_per_decision",
            counts[0] / n,
            "nodes",
            f"depth {depth}: positions generated per decision",
        )
        res.add(f"depth{depth}_nodes_per_s", counts[0] / total_s, "nodes/s", f"depth {depth}: positions generated/s")
        res.add(f"depth{depth}_evals_per_s", counts[1] / total_s, "evals/s", f"depth {depth}: heuristic evaluations/s")
    res.notes.append(
        "nodes = positions the search generates (root + every apply_move / pass), counted by the "
        "search's own counting mode (rgou.search, counts array); evals = leaf evaluations (leaves "
        "and finished games)"
    )
    res.notes.append(f"counting mode vs plain search values: {mismatches} mismatches")
    if "depth3_median_us" in res.metrics:
        res.add(
            "depth3_speedup_vs_rust",
            RUST_DEPTH3_DECISION_US / res.metrics["depth3_median_us"].value,
            "x",
            f"depth 3 median vs Rust engine (~{RUST_DEPTH3_DECISION_US:.0f} µs)",
        )
    _bench_perfect(ctx, res)
    return res


def _bench_perfect(ctx: BenchContext, res: SectionResult) -> None:
    """The perfect agent's decision (one table look-up per legal move), when the solved table is cached."""
    from rgou.solve import default_table_path

    if not default_table_path(NUM_PIECES).exists():
        res.notes.append("perfect agent not timed: no solved table in the cache folder (rgou solve)")
        return
    agent = make_agent("perfect")
    states = ctx.spread(100 if ctx.quick else 2000, 200_000)
    agent.choose_move(states[0])
    times = per_call_us(lambda i: agent.choose_move(states[i]), len(states), ctx.reps(3, 1))
    res.add("perfect_decision_us", float(np.median(times)), "us", "perfect agent: choose_move from Python, median")


def bench_selfplay(ctx: BenchContext) -> SectionResult:
    """rgou.selfplay.generate at depths 1..3: all threads vs 1 thread, interleaved; end to end (incl. features)."""
    res = SectionResult()
    threads = numba.config.NUMBA_NUM_THREADS
    games_by_depth = {1: 256, 2: 128, 3: 64} if ctx.quick else {1: 2000, 2: 1200, 3: 600}
    res.warmup_s = timed(
        lambda: (
            generate(4, depth=1, seed=ctx.seed, max_plies=BENCH_MAX_PLIES),
            generate(4, depth=1, seed=ctx.seed, threads=1, max_plies=BENCH_MAX_PLIES),
        )
    )
    reps = ctx.reps(3, 1)
    for depth, games in games_by_depth.items():
        all_t, one_t, busy, other = [], [], [], []
        samples = 0
        for _ in range(reps):
            with LoadMeter() as m:
                ds = generate(games, depth=depth, seed=ctx.seed, max_plies=BENCH_MAX_PLIES)
            all_t.append(m.seconds)
            busy.append(m.own_cores)
            other.append(m.other_cores or 0.0)
            samples = len(ds)
            with LoadMeter() as m:
                generate(games, depth=depth, seed=ctx.seed, threads=1, max_plies=BENCH_MAX_PLIES)
            one_t.append(m.seconds)
            other.append(m.other_cores or 0.0)
        t_all, t_one = statistics.median(all_t), statistics.median(one_t)
        res.add(
            f"depth{depth}_games_per_s",
            games / t_all,
            "games/s",
            f"depth {depth}: games/s, {threads} threads ({games} games)",
        )
        res.add(
            f"depth{depth}_samples_per_s", samples / t_all, "samples/s", f"depth {depth}: samples/s, {threads} threads"
        )
        res.add(f"depth{depth}_games_per_s_1thread", games / t_one, "games/s", f"depth {depth}: games/s, 1 thread")
        res.add(f"depth{depth}_scaling", t_one / t_all, "x", f"depth {depth}: ratio {threads} threads / 1 thread")
        res.add(
            f"depth{depth}_cores_busy",
            statistics.median(busy),
            "cores",
            f"depth {depth}: cores this process kept busy, {threads} threads",
        )
        res.add(
            f"depth{depth}_other_load",
            statistics.median(other),
            "cores",
            f"depth {depth}: CPU used by other processes meanwhile",
        )
    if "depth3_games_per_s" in res.metrics:
        res.add(
            "depth3_speedup_vs_rust",
            res.metrics["depth3_games_per_s"].value / RUST_DEPTH3_GAMES_PER_S,
            "x",
            f"depth 3 games/s vs Rust engine (~{RUST_DEPTH3_GAMES_PER_S:.0f} games/s)",
        )
    res.notes.append(
        "end to end: generate() wall time (games, then batched features and legal masks); "
        f"generate()'s default chunking; games cut at {BENCH_MAX_PLIES} turns"
    )
    return res
