"""The exact solver (rgou.solve): index, values against an independent oracle, table files, look-ups."""

import functools
import os
import re
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import solve_oracle as oracle
from hypothesis import example, given
from hypothesis import strategies as st
from numba import njit  # not rgou's cached njit: a cached test kernel would keep stale inlined rgou kernels

from rgou._numba import prefetch
from rgou.game import Position, apply_move, legal_moves
from rgou.rules import RULE_SETS
from rgou.solve import (
    Table,
    best_move,
    decode,
    default_table_path,
    encode,
    load_table,
    make_state,
    p2_win_after_moves,
    position_count,
    save_table,
    solve,
    state_index,
    win_probability,
)
from rgou.solve import solver as solver_module
from rgou.solve import sweep as sweep_module
from rgou.solve import table as table_module
from rgou.solve.index import COUNT
from rgou.solve.sweep import bellman_residual
from rgou.solve.table import write_array_file
from rgou.specialise import specialise

ROOT = Path(__file__).resolve().parents[1]
SMALL = (1, 2, 3)
TOL = 1e-6
LANE_BITS = 0xFF << 4  # track positions 4..11
OFF, DONE = -1, 20
P1_TRACK = (3, 2, 1, 0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
P2_TRACK = (19, 18, 17, 16, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15)
MIRROR = {OFF: OFF, DONE: DONE}
for _a, _b in zip(P1_TRACK, P2_TRACK, strict=True):
    MIRROR[_a], MIRROR[_b] = _b, _a


@functools.cache
def solved(n: int) -> Table:
    return solve(n, tolerance=1e-9)


@functools.cache
def oracle_solution(n: int):
    return oracle.solve(n)


def oracle_state_array(state, n: int) -> np.ndarray:
    p1, p2, to_move = state
    return np.array(list(p1) + list(p2) + [to_move, 0], dtype=np.int8)


@njit
def _indices(states):
    out = np.empty(states.shape[0], dtype=np.int64)
    for i in range(states.shape[0]):
        out[i] = state_index(states[i])
    return out


@njit
def _win_probabilities(values, states):
    out = np.empty(states.shape[0], dtype=np.float64)
    for i in range(states.shape[0]):
        out[i] = win_probability(values, states[i])
    return out


@functools.cache
def oracle_indices(n: int):
    """(live state ids, their rgou-style arrays, their table indices) for the oracle's live states."""
    graph, _ = oracle_solution(n)
    states = np.array([oracle_state_array(graph.states[i], n) for i in graph.live])
    return graph.live, states, _indices(states)


def mirror(state: np.ndarray, n: int) -> np.ndarray:
    """The same position with colours swapped: P1's pieces become P2's on the mirrored squares."""
    p1 = [MIRROR[int(s)] for s in state[:n]]
    p2 = [MIRROR[int(s)] for s in state[n : 2 * n]]
    return np.array(p2 + p1 + [3 - int(state[2 * n]), int(state[2 * n + 1])], dtype=np.int8)


# The index.


@pytest.mark.parametrize("n", SMALL)
def test_count_equals_breadth_first_enumeration(n):
    graph, _ = oracle_solution(n)
    live_p1 = sum(1 for i in graph.live if graph.states[i][2] == 1)
    assert position_count(n) == live_p1
    # Every reachable live state has an index; each index is one position seen by either colour.
    _, _, indices = oracle_indices(n)
    assert indices.min() >= 0 and indices.max() < position_count(n)
    assert np.array_equal(np.bincount(indices, minlength=position_count(n)), np.full(position_count(n), 2))


def test_counts_of_all_variants():
    assert [position_count(n) for n in range(1, 8)] == [217, 12869, 263121, 2602822, 14669769, 53188365, 137870097]
    assert position_count(7) * 4 < 2**30  # the float32 7-piece table: 551 MB


@st.composite
def positions(draw, n=None):
    """A valid non-final position (n, mover, opponent, fm, fo)."""
    n = draw(st.integers(1, 7)) if n is None else n
    fm = draw(st.integers(0, n - 1))
    fo = draw(st.integers(0, n - 1))
    squares = draw(st.permutations(range(14)))
    mover_count = draw(st.integers(0, min(n - fm, 14)))
    mover = sum(1 << p for p in squares[:mover_count])
    candidates = [p for p in draw(st.permutations(range(14))) if not (4 <= p <= 11 and mover >> p & 1)]
    opponent_count = draw(st.integers(0, min(n - fo, len(candidates))))
    opponent = sum(1 << p for p in candidates[:opponent_count])
    return n, mover, opponent, fm, fo


@given(positions())
def test_position_index_position(position):
    n, mover, opponent, fm, fo = position
    index = encode(n, mover, opponent, fm, fo)
    assert 0 <= index < position_count(n)
    assert tuple(decode(n, index)) == (mover, opponent, fm, fo)


@given(st.data())
def test_index_position_index(data):
    n = data.draw(st.integers(1, 7))
    index = data.draw(st.integers(0, position_count(n) - 1))
    mover, opponent, fm, fo = decode(n, index)
    assert 0 <= fm < n and 0 <= fo < n
    assert bin(mover).count("1") <= n - fm and bin(opponent).count("1") <= n - fo
    assert mover & opponent & LANE_BITS == 0  # no shared lane square twice
    assert encode(n, mover, opponent, fm, fo) == index


@njit
def _round_trip_failures(n):
    """Indices i of the n-piece game where decode(i) is not a valid position or encode(decode(i)) != i."""
    failures = 0
    for index in range(COUNT[n]):
        mover, opponent, fm, fo = decode(n, index)
        valid = 0 <= fm < n and 0 <= fo < n and mover & opponent & LANE_BITS == 0
        for mask, finished in ((mover, fm), (opponent, fo)):
            pieces = 0
            while mask:
                mask &= mask - 1
                pieces += 1
            valid = valid and pieces <= n - finished
        if not valid or encode(n, mover, opponent, fm, fo) != index:
            failures += 1
    return failures


def test_index_round_trip_is_exhaustive_for_small_variants():
    for n in (1, 2, 3, 4, 5):
        assert _round_trip_failures(n) == 0


# Values against the oracle.


@pytest.mark.parametrize("n", SMALL)
def test_values_equal_independent_expectimax(n):
    _graph, expected = oracle_solution(n)
    live, states, indices = oracle_indices(n)
    values = solved(n).values
    assert np.abs(values[indices] - expected[live]).max() < TOL
    assert np.array_equal(_win_probabilities(values, states), values[indices].astype(np.float64))


@pytest.mark.parametrize("n", SMALL)
def test_values_satisfy_bellman_equation(n):
    graph, _ = oracle_solution(n)
    live, _, indices = oracle_indices(n)
    values = solved(n).values
    on_graph = np.zeros(len(graph.states))
    on_graph[live] = values[indices]
    for i, state in enumerate(graph.states):
        if oracle.winner(state):
            on_graph[i] = float(oracle.winner(state) == state[2])
    assert oracle.bellman_residual(graph, on_graph) < TOL  # the oracle's operator
    assert bellman_residual(n, values) < TOL  # the solver's own operator, on every position


@pytest.mark.parametrize("n", SMALL)
def test_hand_computed_endgame(n):
    # n - 1 pieces finished each, the last one on track position 13: only a 1 (p = 1/4) bears it
    # off, every other roll passes. V = p + (1 - p)(1 - V), so V = 1 / (2 - p) = 4/7.
    state = make_state([DONE] * (n - 1) + [13], [DONE] * (n - 1) + [15], to_move=1)
    assert abs(solved(n).win_probability(state) - 4 / 7) < TOL


def test_opening_values():
    for n, value in ((1, 0.5300498395), (2, 0.5185729074), (3, 0.5162011022)):
        assert abs(solved(n).values[encode(n, 0, 0, 0, 0)] - value) < TOL


def test_colour_symmetry_and_finished_games():
    table = solved(2)
    _, states, _ = oracle_indices(2)
    for state in states[::97]:
        assert table.win_probability(state) == table.win_probability(mirror(state, 2))
    assert table.win_probability(make_state([DONE, DONE], [OFF, 5], to_move=2)) == 0.0
    assert table.win_probability(make_state([DONE, DONE], [OFF, 5], to_move=1)) == 1.0


# Look-ups on rgou's 7-piece state.


def random_states(count: int, seed: int) -> list[np.ndarray]:
    """Rolled 7-piece states from random play with rgou's engine."""
    rng = np.random.default_rng(seed)
    states = []
    while len(states) < count:
        position = Position.initial()
        while not position.is_over and len(states) < count:
            position = position.with_dice(int(rng.choice(5, p=[1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16])))
            states.append(position.to_array())
            moves = position.legal_moves()
            position = position.play(int(rng.choice(moves))) if moves else position.pass_turn()
    return states


@pytest.fixture(scope="module")
def fake_values_7():
    """A stand-in 7-piece table: values[i] = i, so a look-up shows which entry it read."""
    return np.arange(position_count(7), dtype=np.int32)


def test_win_probability_reads_the_index_of_rgou_states(fake_values_7):
    # P1: 6 finished, one on square 13 (track 13); P2: 5 finished, squares 15 (track 13) and 7 (track 7).
    state = Position((20,) * 6 + (13,), (20,) * 5 + (15, 7), to_move=1).to_array()
    index = encode(7, 1 << 13, (1 << 13) | (1 << 7), 6, 5)
    assert state_index(state) == index
    assert win_probability(fake_values_7, state) == fake_values_7[index]
    # The same position with colours swapped reads the same entry.
    swapped = Position((20,) * 5 + (13, 7), (20,) * 6 + (15,), to_move=2).to_array()
    assert state_index(swapped) == index
    # The opening, either player to move, is index encode(7, 0, 0, 0, 0).
    assert state_index(Position.initial().to_array()) == encode(7, 0, 0, 0, 0)
    for state in random_states(200, seed=1):
        assert state_index(state) == state_index(mirror(state, 7))


def test_p2_win_after_moves_follows_rgou_moves(fake_values_7):
    out = np.empty(7)
    slots = np.empty(7, dtype=np.int8)
    for state in random_states(400, seed=2):
        count = p2_win_after_moves(fake_values_7, state, out)
        assert count == legal_moves(state, slots)
        for k in range(count):
            child = apply_move(state, slots[k])
            position = Position.from_array(child)
            if position.is_over:
                expected = float(position.winner == 2)
            else:
                v = float(fake_values_7[state_index(child)])
                expected = v if child[14] == 2 else 1.0 - v
            assert out[k] == expected
        move = best_move(fake_values_7, state)
        if count == 0 or Position.from_array(state).is_over:
            assert move == -1
        else:
            pick = np.argmax(out[:count]) if state[14] == 2 else np.argmin(out[:count])
            assert move == slots[pick]


def test_state_validation():
    table = solved(1)
    with pytest.raises(ValueError, match="shape"):
        table.win_probability(np.zeros(16, dtype=np.int8))
    with pytest.raises(ValueError, match="not on player 1's track"):
        make_state([16], [OFF])
    with pytest.raises(ValueError, match="two pieces on square 5"):
        make_state([5, OFF], [5, OFF])
    with pytest.raises(ValueError, match="dice"):
        make_state([OFF], [OFF], dice=5)
    assert table.p2_win_after_moves(make_state([OFF], [OFF], to_move=1, dice=0)).size == 0
    assert table.p2_win_after_moves(make_state([OFF], [OFF], to_move=1, dice=2)).size == 1


# Table files.


def test_table_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr("rgou.solve.table.CONVERT_CHUNK", 1000)  # the 16-bit copy in chunks, the last one short
    table = solved(2)
    path = save_table(table, tmp_path / "t.table")
    loaded = load_table(path, n_pieces=2)
    assert np.array_equal(loaded.values, table.values) and not loaded.values.flags.writeable
    assert loaded.tolerance == table.tolerance and loaded.residual == table.residual
    assert loaded.groups == table.groups
    in_memory = load_table(path, mmap=False)
    assert np.array_equal(in_memory.values, table.values)
    compact = load_table(save_table(table, tmp_path / "c.table", dtype="uint16"))
    assert compact.values.dtype == np.float32
    assert np.abs(compact.values - table.values).max() <= 0.5 / 65535 + 1e-7
    stored = np.rint(table.values.astype(np.float64) * 65535)  # the format: round(value * 65535)
    assert np.array_equal(compact.values, (stored / 65535).astype(np.float32))
    header = (tmp_path / "t.table").read_bytes()[:8]
    assert header == b"RGOUSOLV"


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "magic":
        data[:8] = b"NOTATABL"
    elif how == "checksum":
        data[-3] ^= 0xFF
    elif how == "truncated":
        data = data[:-10]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "how, message",
    [
        ("magic", "not an rgou solver file"),
        ("checksum", "checksum mismatch"),
        ("truncated", "truncated file"),
    ],
)
def test_damaged_files_are_refused(tmp_path, how, message):
    path = save_table(solved(1), tmp_path / "t.table")
    _damage(path, how)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + message):
        load_table(path)
    assert path.read_bytes() == before


def test_wrong_table_is_refused(tmp_path):
    path = save_table(solved(1), tmp_path / "t.table")
    before = path.read_bytes()
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*for 1 pieces, expected 2"):
        load_table(path, n_pieces=2)
    assert path.read_bytes() == before
    header = {"kind": "table", "rules": "masters", "n_pieces": 1, "count": 217, "dtype": "float32"}
    write_array_file(tmp_path / "m.table", header, solved(1).values)
    with pytest.raises(ValueError, match=r"m\.table: solved for rules 'masters', not 'finkel'"):
        load_table(tmp_path / "m.table")
    header = {"kind": "table", "rules": "finkel", "n_pieces": 2, "count": 217, "dtype": "float32"}
    write_array_file(tmp_path / "c.table", header, solved(1).values)
    with pytest.raises(ValueError, match=r"c\.table: wrong position count 217 for 2 pieces"):
        load_table(tmp_path / "c.table")
    with pytest.raises(ValueError, match="no such file"):
        load_table(tmp_path / "missing.table")


def test_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = save_table(solved(1), tmp_path / "t.table")
    before = path.read_bytes()

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(table_module.struct, "pack", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_table(solved(2), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.table"]
    assert struct.pack("<I", 1)  # restored


def test_default_path_is_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_table_path(7) == tmp_path / "rgou" / "finkel-7.table"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_table_path(3) == Path.home() / ".cache" / "rgou" / "finkel-3.table"
    with pytest.raises(ValueError, match="n_pieces"):
        default_table_path(8)


# Solve: checkpoints, threads, arguments.


class Stop(Exception):
    pass


def test_interrupted_solve_resumes_to_the_same_bits(tmp_path):
    out = tmp_path / "finkel-3.table"
    reference = solve(3)

    def stop_after_first_group(progress):
        if progress.done:
            raise Stop

    with pytest.raises(Stop):
        solve(3, out=out, progress=stop_after_first_group)
    assert not out.exists()
    assert [p.name for p in (tmp_path / "finkel-3.table.partial").iterdir()] == ["group-2-2.bin"]
    with pytest.raises(ValueError, match=r"partial: checkpoint of a solve with .*tolerance=1e-07"):
        solve(3, tolerance=1e-8, out=out)
    reports = []
    resumed = solve(3, out=out, progress=reports.append, threads=1)
    assert [r.resumed for r in reports if r.done] == [True] + [False] * 5
    assert np.array_equal(resumed.values, reference.values)
    assert np.array_equal(load_table(out, 3).values, reference.values)
    assert [p.name for p in tmp_path.iterdir()] == ["finkel-3.table"]


def test_skipping_settled_units_changes_no_value_beyond_the_tolerance(monkeypatch):
    # The sweeps that follow the recorded moves skip units that have settled; the full sweeps, which
    # decide convergence, visit every unit. Compare against no skipping, and against skipping every
    # unit once swept (only full sweeps then make progress: more of them, the same values).
    skipping = solve(3)
    monkeypatch.setattr(solver_module, "SETTLED_SHARE", 0.0)
    plain = solve(3)
    monkeypatch.setattr(solver_module, "SETTLED_SHARE", np.inf)
    only_full = solve(3)
    for table in (skipping, only_full):
        assert np.abs(table.values.astype(np.float64) - plain.values).max() < 3 * plain.tolerance
        assert bellman_residual(3, table.values) < plain.tolerance
    assert not np.array_equal(skipping.values, plain.values)  # units were skipped: the path differs
    assert sum(g["full_sweeps"] for g in only_full.groups) > sum(g["full_sweeps"] for g in plain.groups)


def test_full_sweeps_that_follow_the_moves_that_cannot_have_changed_give_the_same_table_bit_for_bit(monkeypatch):
    # A full sweep generates a position's moves again only where a value may have moved by its margin
    # (half the gap of its best moves) since they were generated; elsewhere it follows the recorded moves,
    # which must give the same values, sweeps and convergence as generating every position's moves.
    followed = solve(4)
    monkeypatch.setattr(solver_module, "FULL_SWEEP_MARGINS", False)
    generated = solve(4)
    assert np.array_equal(followed.values, generated.values)
    assert [(g["sweeps"], g["full_sweeps"]) for g in followed.groups] == [
        (g["sweeps"], g["full_sweeps"]) for g in generated.groups
    ]
    assert all(g["generated"] == g["full_sweeps"] * g["positions"] for g in generated.groups)
    assert sum(g["generated"] for g in followed.groups) < 0.8 * sum(g["generated"] for g in generated.groups)
    # The test can fail: a rule that forgets how far the values moved since the last full sweep follows
    # moves that are no longer the best, and the table is another (by 0.14 at 3 pieces).
    generated = solve(3)
    monkeypatch.setattr(solver_module, "FULL_SWEEP_MARGINS", True)
    monkeypatch.setattr(solver_module, "_sweep_drift", np.zeros_like)
    assert np.abs(solve(3).values - generated.values).max() > 1e-3


@pytest.mark.parametrize("name", ["masters", "blitz", "aseb"])
def test_each_rule_sets_full_sweeps_follow_only_moves_that_cannot_have_changed(monkeypatch, name):
    # As above for the other rule sets' own compiled copies (Masters pairs its lane squares in another order,
    # Blitz captures again, Aseb has safe rosettes on a 12-square lane).
    copy_globals = specialise("rgou.solve.solver", name)._sweep_drift.__globals__
    followed = solve(2, rules=name)
    monkeypatch.setitem(copy_globals, "FULL_SWEEP_MARGINS", False)
    generated = solve(2, rules=name)
    assert np.array_equal(followed.values, generated.values)
    assert sum(g["generated"] for g in followed.groups) < 0.8 * sum(g["generated"] for g in generated.groups)
    monkeypatch.setitem(copy_globals, "FULL_SWEEP_MARGINS", True)
    monkeypatch.setitem(copy_globals, "_sweep_drift", np.zeros_like)  # the control: forget the drift
    assert np.abs(solve(2, rules=name).values - generated.values).max() > 1e-3


@njit
def _prefetched_sum(values, order):
    total = 0.0
    for k in range(order.shape[0]):
        if k + 4 < order.shape[0]:
            prefetch(values, order[k + 4])
        total += values[order[k]]
    return total


def test_prefetch_is_a_hint_that_changes_no_result():
    # The sweeps request the values of the pairs ahead with rgou._numba.prefetch: LLVM's prefetch, nothing else.
    values = np.random.default_rng(0).random(10_000)
    order = np.random.default_rng(1).permutation(values.size)
    assert _prefetched_sum(values, order) == sum(values[order].tolist())
    code = _prefetched_sum.inspect_llvm(_prefetched_sum.signatures[0])
    assert re.search(r"call void @llvm\.prefetch\.p0\w*\(", code)


def _unit_level(rules: oracle.Rules, state: tuple, shared: set) -> int:
    """The unit level, from its definition: track position + 1 of each piece past the start squares, 1 on them."""
    level = 0
    for squares, path in zip(state[:2], rules.paths, strict=True):
        first = min(path.index(square) for square in shared)
        for square in squares:
            if square not in (oracle.OUT, rules.done):
                level += 1 if path.index(square) < first else path.index(square) + 1
    return level


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_a_move_lowers_the_unit_level_by_at_most_its_capture_drop(name):
    # The full sweeps bound how far a position's successors moved by the changes of the unit levels from
    # level - capture_drop(opponent's lane pieces) up. Checked on the oracle's own moves (2 pieces).
    rules = oracle.BY_NAME[name]
    capture_drop = specialise("rgou.solve.units", name).capture_drop
    shared = set(rules.paths[0]) & set(rules.paths[1])
    attained = 0
    for state in oracle.explore(2, rules).states:
        if oracle.winner(state, rules):
            continue
        player = state[2]
        opponent_path = rules.paths[2 - player]
        first = min(opponent_path.index(square) for square in shared)
        lane = sum(1 << (opponent_path.index(s) - first) for s in state[2 - player] if s in shared)
        drop = capture_drop(lane)
        level = _unit_level(rules, state, shared)
        finished = sum(pieces.count(rules.done) for pieces in state[:2])
        unentered = state[2 - player].count(oracle.OUT)  # the opponent's
        for roll in range(1, 5):
            for after in oracle.moves(state, roll, rules):
                if sum(pieces.count(rules.done) for pieces in after[:2]) > finished:
                    continue  # a bear-off leaves the group: its value is final
                lowered = level - _unit_level(rules, after, shared)
                captured = after[2 - player].count(oracle.OUT) > unentered
                assert lowered <= (drop if captured else 0), (state, roll, after, drop)
                attained += lowered == drop > 0
    assert attained > 0  # the bound is tight: some capture lowers the level by exactly the drop


def _check_unit_spans(s, u, ix, n, hi, lo, units):
    """Each unit's span (`unit_span`) holds its positions as `encode` numbers them, its twin's their colour swaps,
    and pair r's colour swap is at twin + SWAP_RANK[cm, co, r] (where `sweep_unit` finds it).

    Returns the group-local indices the units and their twins cover.
    """
    group_start, _ = ix.group_range(n, hi, lo)
    covered = set()
    for unit in units:
        lane_m, lane_o, em, eo, pieces = u.unit_fields(unit)
        block, cm, co, first, stop = u.unit_span(n, hi, lo, lane_m, lane_o, em, eo, pieces, group_start)
        twin, _, _, twin_first, twin_stop = u.unit_span(n, lo, hi, lane_o, lane_m, eo, em, pieces, group_start)
        own, swaps = [], []
        for r in range(first, stop):
            mover, opponent = s.position_of(lane_m, lane_o, s.PAIR_UNRANK[cm, co, r])
            own.append(s.encode(n, mover, opponent, hi, lo) - group_start)
            swaps.append(s.encode(n, opponent, mover, lo, hi) - group_start)
        assert own == list(range(block + first, block + stop)), (hi, lo, unit)
        assert sorted(swaps) == list(range(twin + twin_first, twin + twin_stop)), (hi, lo, unit)
        assert swaps == [twin + int(s.SWAP_RANK[cm, co, r]) for r in range(first, stop)], (hi, lo, unit)
        covered.update(own, swaps)
    return covered


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_a_units_span_and_its_twins_are_where_encode_puts_its_positions_and_their_colour_swaps(name):
    # sweep_unit updates a unit's pairs at block + r with their colour swaps at twin + SWAP_RANK[cm, co, r], and
    # request_unit prefetches the span of the colour swaps:
    # both against `encode`, for every unit of the 3-piece game, and for units of the smallest game in which the
    # private squares cannot hold every piece off the lane (their caps bind).
    s, u, ix = (specialise(f"rgou.solve.{module}", name) for module in ("sweep", "units", "index"))
    for hi, lo in ix.solve_order(3):
        units, _, _ = u.group_units(3, hi, lo)
        start, stop = ix.group_range(3, hi, lo)
        assert _check_unit_spans(s, u, ix, 3, hi, lo, units) == set(range(stop - start))  # the group, no more
    n = s.PRIVATE_SIZE + 1
    units, _, _ = u.group_units(n, 0, 0)
    sample = units[np.random.default_rng(1).choice(units.size, 300, replace=False)]
    capped = [k for k in sample if u.LANE_POPCOUNT[u.unit_fields(k)[0]] == 0]  # every mover's piece off the lane
    assert capped
    _check_unit_spans(s, u, ix, n, 0, 0, sample)


def _legal_moves(s, n, mover, opponent, fm):
    """(source, roll, kind, new mover, new opponent) of every legal move, by the solver's own move rules."""
    unentered = 1 if n - fm - s.popcount(mover) > 0 else 0
    land = s.landing_mask(mover, opponent)
    for roll in range(1, 5):
        rest = s.movable(mover, land, unentered, roll)
        while rest:
            source = int(s.LOWEST_BIT[rest]) - 1
            rest &= rest - 1
            yield (source, roll, *s.move_outcome(mover, opponent, source, roll))


def _check_successor_blocks(s, ix, n, indices):
    """Every legal move of the positions at `indices` (visited in that order, one cache for all): the successor's
    index as `choices` computes it from its cached `successor_block` is the one `encode` gives, and so is the kind.

    Returns the number of moves checked.
    """
    blocks = np.full(s.SUCCESSOR_KEY + 1, s.NO_KEY, dtype=np.int64)
    checked = 0
    for index in indices:
        mover, opponent, fm, fo = s.decode(n, int(index))
        group_start = ix.group_range(n, max(fm, fo), min(fm, fo))[0]
        s.successor_blocks(mover, opponent, fm, fo, blocks)
        pm, po = s.private_bits(mover), s.private_bits(opponent)
        for source, roll, kind, m2, o2 in _legal_moves(s, n, mover, opponent, fm):
            slot = 4 * (source + 1) + roll - 1
            if blocks[slot] == s.NO_KEY:
                blocks[slot] = s.successor_block(n, mover, opponent, fm, fo, group_start, source, roll)
            packed = int(blocks[slot])
            assert (packed >> s.KIND_AT) & s.KIND_MASK == kind
            if kind == s.BORE_OFF and fm + 1 == n:
                continue  # a win: no successor
            block = packed >> s.SUCCESSOR_SHIFT
            cm, co = (packed >> s.CAPS_BITS) & s.CAPS_MASK, packed & s.CAPS_MASK
            moved = (pm & ~int(s.PRIVATE_BIT[source + 1])) | int(s.PRIVATE_BIT[source + roll + 1])
            assert moved == s.private_bits(m2)
            if kind == s.BORE_OFF:
                expected = s.encode(n, opponent, m2, fo, fm + 1)
                got = block + int(s.PAIR_RANK[cm, co, po, moved])
            elif kind == s.ROLLS_AGAIN:
                expected = s.encode(n, m2, o2, fm, fo) - group_start
                got = block + int(s.PAIR_RANK[cm, co, moved, po])
            else:
                expected = s.encode(n, o2, m2, fo, fm) - group_start
                got = block + int(s.PAIR_RANK[cm, co, po, moved])
            assert got == expected, (index, source, roll, kind)
            checked += 1
    return checked


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_a_moves_cached_successor_block_gives_the_index_encode_gives(name):
    # choices computes each move's successor from the block its lane pieces lead to, cached once a unit
    # (`successor_blocks`): every move of the 2-piece game, and runs of consecutive positions of the smallest
    # game in which the caps on the private squares bind, one cache throughout (so it is emptied when the
    # lanes change, and reused while they stay).
    s, ix = specialise("rgou.solve.sweep", name), specialise("rgou.solve.index", name)
    assert _check_successor_blocks(s, ix, 2, range(int(s.COUNT[2]))) > 10_000
    n = s.PRIVATE_SIZE + 1
    starts = np.random.default_rng(2).integers(0, s.COUNT[n] - 100, 12)
    assert _check_successor_blocks(s, ix, n, [i for start in starts for i in range(start, start + 100)]) > 1_000


def _check_unit_drift_bound(s, u, ix, n, hi, lo, rng):
    """For random drifts of the units of group {hi, lo}: each unit's `unit_drift_bound`, from either side, is at
    least the drift of the unit that sweeps each successor in the group of each move of each of its positions.

    Returns (moves checked, units whose bound is below the largest drift of the group).
    """
    start, _ = ix.group_range(n, hi, lo)
    units, _, _ = u.group_units(n, hi, lo)
    unit_of = u.unit_map(hi, lo, units)
    drift = rng.random(units.size)
    sweeper = {}  # group-local index -> the unit that sweeps it
    for k, unit in enumerate(units):
        lane_m, lane_o, em, eo, pieces = u.unit_fields(unit)
        block, cm, co, first, stop = u.unit_span(n, hi, lo, lane_m, lane_o, em, eo, pieces, start)
        twin, _, _, twin_first, twin_stop = u.unit_span(n, lo, hi, lane_o, lane_m, eo, em, pieces, start)
        sweeper.update(dict.fromkeys(range(block + first, block + stop), k))
        sweeper.update(dict.fromkeys(range(twin + twin_first, twin + twin_stop), k))
        assert unit_of[0, unit & u.UNIT_CODE_MASK, em, eo, pieces] == k
    checked = below = 0
    for unit in units:
        lane_m, lane_o, em, eo, pieces = u.unit_fields(unit)
        for fm, fo, lm, lo_, me, oe in ((hi, lo, lane_m, lane_o, em, eo), (lo, hi, lane_o, lane_m, eo, em)):
            bound = u.unit_drift_bound(n, fm, fo, hi, lm, lo_, me, oe, pieces, unit_of, drift)
            below += bound < drift.max()
            block, cm, co, first, stop = u.unit_span(n, fm, fo, lm, lo_, me, oe, pieces, start)
            for r in range(first, stop):
                mover, opponent = s.position_of(lm, lo_, s.PAIR_UNRANK[cm, co, r])
                for source, roll, kind, m2, o2 in _legal_moves(s, n, mover, opponent, fm):
                    if kind == s.BORE_OFF:
                        continue  # a final value
                    if kind == s.ROLLS_AGAIN:
                        after = s.encode(n, m2, o2, fm, fo)
                    else:
                        after = s.encode(n, o2, m2, fo, fm)
                    assert drift[sweeper[after - start]] <= bound, (unit, fm, fo, r, source, roll)
                    checked += 1
    return checked, below


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_a_units_drift_bound_covers_the_units_of_every_move_of_its_positions(name):
    # A full sweep lets a position follow its recorded moves while its margin exceeds how far the values they
    # may read moved: bounded by the changes of the units its moves lead to (`unit_drift_bound`), checked
    # against every legal move of every position of the 3-piece game's groups.
    s, u, ix = (specialise(f"rgou.solve.{module}", name) for module in ("sweep", "units", "index"))
    rng = np.random.default_rng(3)
    for hi, lo in ((0, 0), (1, 0), (2, 1)):
        checked, below = _check_unit_drift_bound(s, u, ix, 3, hi, lo, rng)
        assert checked > 1_000
        assert below > 0  # a bound by unit, not the group's largest


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_swap_rank_is_the_rank_of_the_pair_with_the_players_private_squares_exchanged(name):
    # Every pair of every pair of caps: the swap's masks are the pair's, exchanged, under the exchanged caps.
    s = specialise("rgou.solve.index", name)
    size, mask = s.PRIVATE_SIZE, s.PRIVATE_MASK
    for cm in range(size + 1):
        for co in range(size + 1):
            pairs = s.PAIR_UNRANK[cm, co, : s.PRIVATE_AT_MOST[cm] * s.PRIVATE_AT_MOST[co]].astype(np.int64)
            swaps = s.PAIR_UNRANK[co, cm, s.SWAP_RANK[cm, co, : pairs.size]].astype(np.int64)
            assert np.array_equal(swaps, (pairs >> size) | ((pairs & mask) << size)), (name, cm, co)


@given(st.floats(allow_nan=True, allow_infinity=True))
@example(1 - 2.0**-30)  # just below a code's value: float32 rounds it up to 1.0, which is not a lower bound
@example(float(np.nextafter(0.5, 0.0)))
@example(float(np.nextafter(2.0, 0.0)))
@example(float(np.finfo(np.float32).max) * (1 + 2.0**-24))  # float32 rounds it up to inf
def test_a_margin_is_stored_as_a_lower_bound(h):
    code = sweep_module.margin_code(h)
    assert 0 <= code <= sweep_module.NO_CHOICE
    stored = sweep_module.margin_value(np.uint16(code))  # as the solver reads it from its uint16 array
    assert stored == sweep_module.margin_value(code)
    mantissa_bits = np.finfo(np.float32).nmant
    if not h > 0.0:  # 0, negative, NaN: no margin, and a position without one is never followed
        assert code == sweep_module.NO_MARGIN and stored == 0.0
    elif h == np.inf:
        assert code == sweep_module.NO_CHOICE and stored == np.inf
    elif h >= float(np.finfo(np.float32).max):
        assert code < sweep_module.NO_CHOICE and 0.0 < stored <= h
    elif h >= float(np.finfo(np.float32).tiny):  # normal float32: the float32 at or below h, 7 bits of mantissa kept
        kept = 2.0 ** (sweep_module.MARGIN_SHIFT - mantissa_bits)
        assert h * (1 - kept) * (1 - 2.0**-mantissa_bits) <= stored <= h
    else:
        assert 0.0 <= stored <= h


def test_every_margin_code_is_the_largest_whose_value_is_at_most_its_margin():
    # The codes are ordered as their values, and a margin just below a code's value gets the code below it.
    codes = np.arange(1, sweep_module.NO_CHOICE + 1)
    values = np.array([sweep_module.margin_value(c) for c in codes])
    assert np.all(np.diff(values) > 0)
    assert [sweep_module.margin_code(v) for v in values] == list(codes)
    below = [sweep_module.margin_code(float(np.nextafter(v, 0.0))) for v in values]
    assert below == list(codes - 1)


def test_progress_reports(tmp_path):
    reports = []
    table = solve(2, progress=reports.append)
    done = [r for r in reports if r.done]
    assert [r.group for r in done] == [(1, 1), (1, 0), (0, 0)]
    assert done[-1].positions_done == position_count(2)
    assert all(r.change < table.tolerance for r in done)
    assert reports[0].full and not reports[0].done


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_pieces": 0}, "n_pieces must be in 1..7"),
        ({"n_pieces": 8}, "n_pieces must be in 1..7"),
        ({"n_pieces": 2, "tolerance": 0.0}, "tolerance must be"),
        ({"n_pieces": 2, "tolerance": "1e-7"}, "tolerance must be"),
        ({"n_pieces": 2, "threads": 0}, "threads must be"),
    ],
)
def test_solve_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        solve(**kwargs)


def test_the_solvers_warm_up_solves_the_one_piece_game_of_its_rules_in_a_child_process(monkeypatch):
    calls, solved = [], []
    monkeypatch.setattr(solver_module, "warm_up", lambda fn, message, child=None: calls.append((fn, child)) or 0.0)
    monkeypatch.setattr(specialise(solver_module, "blitz"), "_solve_groups", lambda *args: solved.append(args))
    solver_module.warm_up_solver("blitz", print)
    fn, (target, argument) = calls[0]
    module, name = target.split(":")
    assert module == solver_module.__name__ and argument == "blitz"
    getattr(solver_module, name)(argument)  # what the child process runs
    fn()  # what this process runs after it: the same, now loading the kernels
    assert solved == [(1, solver_module.DEFAULT_TOLERANCE, None, None)] * 2
    with pytest.raises(ValueError, match="only the built-in rule sets are solved"):
        solver_module.warm_up_solver(replace(RULE_SETS["blitz"], name="mine"))


def test_rgou_solve_warms_the_kernels_up_before_it_solves(tmp_path, monkeypatch):
    import rgou.solve
    from rgou.cli import main

    order = []
    real_solve = rgou.solve.solve
    monkeypatch.setattr(rgou.solve, "warm_up_solver", lambda rules, say: order.append(("warm", rules.name)))
    monkeypatch.setattr(rgou.solve, "solve", lambda *args, **kw: order.append("solve") or real_solve(*args, **kw))
    assert main(["solve", "--pieces", "1", "--rules", "aseb", "--out", str(tmp_path / "t.table")]) == 0
    assert order == [("warm", "aseb"), "solve"]


# The docs and the full 7-piece table.


def test_docs_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "solver.md").read_text(), flags=re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/solver.md:example", "exec"), namespace)


def test_full_seven_piece_table():
    path = Path(os.environ.get("RGOU_FINKEL7_TABLE", default_table_path(7)))
    if not path.exists():
        pytest.skip(f"no solved 7-piece table at {path} (run `rgou solve --pieces 7`, or set RGOU_FINKEL7_TABLE)")
    table = load_table(path, n_pieces=7)
    opening = Position.initial().to_array()
    assert abs(table.win_probability(opening) - 0.515) < 0.001  # the first player's edge under perfect play
    endgame = Position((20,) * 6 + (13,), (20,) * 6 + (15,), to_move=2).to_array()
    assert abs(table.win_probability(endgame) - 4 / 7) < 1e-6
    for state in random_states(100, seed=3):
        assert table.win_probability(state) == table.win_probability(mirror(state, 7))
