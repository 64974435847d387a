"""Bench sections of the engine, the features, the expectiminimax search and self-play.

Each `bench_*` takes the shared `BenchContext` and returns a `SectionResult`.
The search section counts the positions a search generates with a recursive
replica of `rgou.search` (same visiting order and float operations), and
checks that the replica returns the same values.
"""

from __future__ import annotations

import statistics
import time

import numba
import numpy as np

from rgou._numba import njit
from rgou._random import seed_rng
from rgou.bench.report import RUST_DEPTH3_DECISION_US, RUST_DEPTH3_GAMES_PER_S, SectionResult
from rgou.bench.timing import (
    HAS_CLOCK,
    TIMED_JIT,
    BenchContext,
    LoadMeter,
    clock_overhead,
    median_time,
    now_ns,
    timed,
)
from rgou.features import NUM_FEATURES, extract_features, extract_features_batch, features_batch_into, features_into
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
from rgou.heuristic import DEFAULT_PARAMS, evaluate
from rgou.rules import NUM_PIECES, NUM_ROLLS, P2, ROLL_PROBS
from rgou.search import search_into
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
    res.warmup_s = timed(lambda: (_legal_sweep(states[:10], 1), _legal_apply_sweep(states[:10], 1),
                                   _random_playouts(np.uint64(1), 2, 200)))
    t_legal, _ = median_time(lambda: _legal_sweep(states, inner), reps)
    t_apply, _ = median_time(lambda: _legal_apply_sweep(states, inner), reps)
    applied, _ = _legal_apply_sweep(states, 1)
    games = 200 if ctx.quick else 2000
    plies = _random_playouts(np.uint64(ctx.seed), games, 1000)
    t_play, _ = median_time(lambda: _random_playouts(np.uint64(ctx.seed), games, 1000), reps)
    res.add("legal_positions_per_s", inner * n / t_legal, "pos/s", "legal_moves only, positions/s (1 thread)")
    res.add("legal_apply_positions_per_s", inner * n / t_apply, "pos/s",
            "legal_moves + copy/apply every legal move, positions/s (1 thread)")
    res.add("apply_moves_per_s", inner * applied / t_apply, "moves/s", "  same run, moves applied/s")
    res.add("legal_apply_ns_per_position", 1e9 * t_apply / (inner * n), "ns", "  same run, ns per position")
    res.add("random_playout_plies_per_s", plies / t_play, "plies/s", "random playouts (roll+legal+apply/pass), plies/s")
    res.notes.append(f"{n} self-play positions, {applied / n:.2f} legal moves each on average; "
                     f"{games} random playouts, {plies / games:.1f} plies each")
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
    """extract_features_batch (all threads and 1 thread, interleaved) and single-position features_into."""
    res = SectionResult()
    n = 50_000 if ctx.quick else 250_000
    states = ctx.positions(n)
    loop = _features_loop
    out = np.empty(NUM_FEATURES, dtype=np.float32)
    res.warmup_s = timed(lambda: (extract_features_batch(states[:10]), loop(states[:10], out),
                                   extract_features(states[0])))
    threads = numba.get_num_threads()
    all_t, one_t = [], []
    for _ in range(ctx.reps(7, 2)):
        all_t.append(timed(lambda: extract_features_batch(states)))
        numba.set_num_threads(1)
        try:
            one_t.append(timed(lambda: extract_features_batch(states)))
        finally:
            numba.set_num_threads(threads)
    t_all, t_one = statistics.median(all_t), statistics.median(one_t)
    prealloc = np.empty((n, NUM_FEATURES), dtype=np.float32)
    t_pre, _ = median_time(lambda: features_batch_into(states, prealloc), ctx.reps(7, 2))
    t_loop, _ = median_time(lambda: loop(states, out), ctx.reps(5, 2))
    k = 2000 if ctx.quick else 20000
    single = states[:k]
    t_py, _ = median_time(lambda: [extract_features(s) for s in single], ctx.reps(3, 1))
    res.add("batch_positions_per_s", n / t_all, "pos/s", f"extract_features_batch, {threads} threads, positions/s")
    res.add("batch_1thread_positions_per_s", n / t_one, "pos/s", "extract_features_batch, 1 thread, positions/s")
    res.add("batch_scaling", t_one / t_all, "x", f"  ratio {threads} threads / 1 thread (interleaved runs)")
    res.add("batch_prealloc_positions_per_s", n / t_pre, "pos/s",
            f"features_batch_into, output preallocated, {threads} threads")
    res.add("features_into_ns", 1e9 * t_loop / n, "ns", "features_into, one position, inside njit loop")
    res.add("extract_features_call_us", 1e6 * t_py / k, "us", "extract_features(state) called from Python")
    res.notes.append(f"{n} self-play positions; batch output float32[{n}, {NUM_FEATURES}] allocated per call")
    return res


@numba.njit(**TIMED_JIT)
def _timed_search(states, depth, params, times):
    """search_into for each state; its wall time in ns into times[i]; returns the values."""
    buf = np.zeros(2, dtype=np.int64)
    scores = np.empty(NUM_PIECES, dtype=np.float64)
    values = np.empty(states.shape[0], dtype=np.float64)
    for i in range(states.shape[0]):
        t0 = now_ns(buf)
        v, _ = search_into(states[i], depth, params, scores)
        t1 = now_ns(buf)
        values[i] = v
        times[i] = t1 - t0
    return values


def _python_timed_search(states, depth, params, times):
    """_timed_search without an in-kernel clock: perf_counter_ns around each call from Python."""
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
    res.warmup_s = timed(lambda: search_into(warm[0], np.int64(1), params, np.empty(NUM_PIECES)))
    t0 = time.perf_counter()
    if HAS_CLOCK:
        timed_search = _timed_search
        timed_search(warm, np.int64(1), params, np.empty(2, dtype=np.int64))
        ov = np.empty(10_000, dtype=np.int64)
        clock_overhead(ov)
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


def bench_selfplay(ctx: BenchContext) -> SectionResult:
    """rgou.selfplay.generate at depths 1..3: all threads vs 1 thread, interleaved; end to end (incl. features)."""
    res = SectionResult()
    threads = numba.config.NUMBA_NUM_THREADS
    games_by_depth = {1: 256, 2: 128, 3: 64} if ctx.quick else {1: 2000, 2: 1200, 3: 600}
    res.warmup_s = timed(lambda: (generate(4, depth=1, seed=ctx.seed), generate(4, depth=1, seed=ctx.seed, threads=1)))
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
