"""The Numba expectiminimax equals a plain unpruned search (the oracle, in exact fractions)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oracle
from reference import load_positions
from rgou.game import Position
from rgou.heuristic import HeuristicParams
from rgou.search import MAX_DEPTH, expectiminimax
from rgou.testing import random_states


def check_against_oracle(pos: Position, depth: int, params=None):
    params = params or HeuristicParams()
    result = expectiminimax(pos, depth, params)
    value, scores = oracle.expectiminimax((pos.p1, pos.p2, pos.to_move, pos.dice), depth, params.to_dict())
    assert math.isclose(result.value, value, rel_tol=1e-12, abs_tol=1e-9)
    if pos.is_over:
        assert result.best_move == -1 and result.scores == []
        return
    assert result.legal_moves == pos.legal_moves()
    assert len(result.scores) == len(scores)
    for a, b in zip(result.scores, scores):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    if scores:
        pick = max if pos.to_move == 2 else min
        best = pick(range(len(scores)), key=lambda k: (scores[k], -k) if pos.to_move == 2 else (scores[k], k))
        assert result.best_move == result.legal_moves[best]
        assert result.value == result.scores[best]
    else:
        assert result.best_move == -1


@pytest.mark.parametrize("depth", [1, 2])
def test_golden_positions_match_plain_search(depth):
    for r in load_positions()[::3]:
        check_against_oracle(Position(r["p1"], r["p2"], r["to_move"], r["dice"]), depth)


@settings(max_examples=25)
@given(st.integers(0, 2**62), st.data(), st.integers(1, 3))
def test_random_positions_match_plain_search(seed, data, depth):
    states, _ = random_states(seed)
    state = states[data.draw(st.integers(0, len(states) - 1))]
    check_against_oracle(Position.from_array(state), depth)


def test_custom_parameters_match_plain_search():
    params = HeuristicParams(win_score=3000, position_weight=7, capture_bonus=90, safety_bonus=-5)
    states, _ = random_states(7)
    for state in states[::40]:
        check_against_oracle(Position.from_array(state), 2, params)


def test_depths_up_to_five_run_and_pass_positions():
    pos = Position([4, 8, -1, -1, -1, -1, -1], [9, 17, -1, -1, -1, -1, -1], 2, 3)
    values = [expectiminimax(pos, d).value for d in range(1, 6)]
    assert all(np.isfinite(values))
    passing = Position.initial(dice=0)
    result = expectiminimax(passing, 2)
    assert result.best_move == -1 and result.legal_moves == []
    assert math.isclose(result.value, oracle.chance_value(passing.p1, passing.p2, 2, 1), rel_tol=1e-12)


@pytest.mark.parametrize("depth", [0, MAX_DEPTH + 1, 2.5, True])
def test_bad_depth_raises(depth):
    with pytest.raises(ValueError, match="depth"):
        expectiminimax(Position.initial(dice=1), depth)


@pytest.mark.parametrize("depth", [2, 3])
def test_endgames_with_bear_offs_and_captures_match_plain_search(depth):
    # Last pieces about to bear off (wins at the leaves) and pieces in capture range.
    positions = [
        Position([13, 20, 20, 20, 20, 20, 20], [14, 20, 20, 20, 20, 20, 11], 1, 1),
        Position([12, 20, 20, 20, 20, 20, 20], [15, 14, 20, 20, 20, 20, 20], 2, 2),
        Position([11, 13, 20, 20, 20, 20, 20], [10, 9, 15, 20, 20, 20, 20], 1, 3),
        Position([5, 6, 8, -1, -1, 20, 20], [4, 9, 10, 7, -1, -1, 20], 2, 2),
        Position([4, 5, 6, 8, 9, 10, 11], [16, 17, 18, 19, -1, -1, -1], 2, 4),
    ]
    for pos in positions:
        check_against_oracle(pos, depth)
        for dice in range(5):
            check_against_oracle(pos.with_dice(dice), depth)


def test_expected_value_is_the_chance_node():
    from rgou.search import expected_value

    states, _ = random_states(11)
    for state in states[::60]:
        pos = Position.from_array(state)
        for depth in (1, 2):
            expected = oracle.chance_value(pos.p1, pos.p2, pos.to_move, depth)
            assert math.isclose(expected_value(pos, depth), expected, rel_tol=1e-12, abs_tol=1e-9)
        by_roll = sum(p * expectiminimax(pos.with_dice(r), 2).value for r, p in enumerate([1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16]))
        assert math.isclose(expected_value(pos, 2), by_roll, rel_tol=1e-12, abs_tol=1e-9) or pos.is_over


@pytest.mark.parametrize("depth", [4, 5])
def test_deep_search_matches_memoised_plain_search(depth, monkeypatch):
    # Depths >= 4 exercise the explicit stack (frames pushed and popped); the
    # oracle stays plain but memoises its chance nodes so this runs in seconds.
    plain, cache = oracle._chance, {}

    def memoised(p1, p2, player, depth, params):  # default parameters throughout this test
        key = (tuple(p1), tuple(p2), player, depth)
        if key not in cache:
            cache[key] = plain(p1, p2, player, depth, params)
        return cache[key]

    monkeypatch.setattr(oracle, "_chance", memoised)
    states, _ = random_states(5)
    for state in states[:: max(1, len(states) // (6 if depth == 4 else 3))]:
        check_against_oracle(Position.from_array(state), depth)
