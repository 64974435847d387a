"""The Numba expectiminimax equals a plain unpruned search (the oracle, in exact fractions)."""

import math

import numpy as np
import oracle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import load_positions

from rgou.game import Position
from rgou.heuristic import HeuristicParams
from rgou.leaves import UNROLLED_ROLL, net_leaf
from rgou.nn.layout import NetConfig, init_params, layer_sizes, num_params, unflatten
from rgou.rules import P1_TRACK, P2_TRACK
from rgou.search import MAX_DEPTH, count_nodes, expected_value, expectiminimax
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
    states, _ = random_states(11)
    for state in states[::60]:
        pos = Position.from_array(state)
        for depth in (1, 2):
            expected = oracle.chance_value(pos.p1, pos.p2, pos.to_move, depth)
            assert math.isclose(expected_value(pos, depth), expected, rel_tol=1e-12, abs_tol=1e-9)
        by_roll = sum(
            p * expectiminimax(pos.with_dice(r), 2).value
            for r, p in enumerate([1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16])
        )
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
    for state in states[:: max(1, len(states) // (6 if depth == 4 else 2))]:
        check_against_oracle(Position.from_array(state), depth)


# The value-net leaf.

TINY = NetConfig(150, (8, 4), 1)  # a tiny random value net over the real 150 features
ROLL_P = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16]


def _tiny_net(seed):
    rng = np.random.default_rng(seed)
    return (init_params(TINY, seed) + rng.normal(0, 0.3, num_params(TINY))).astype(np.float32)


def _net(flat, pos):
    """tanh of the tiny net on the oracle's features of a rolled oracle position (float64 forward)."""
    h = np.asarray(oracle.features(pos), dtype=np.float64)
    layers = unflatten(flat.astype(np.float64), TINY)
    for k, (W, b) in enumerate(layers):
        h = h @ W + b
        h = np.maximum(h, 0.0) if k < len(layers) - 1 else h
    return float(np.tanh(h[0]))


MIRRORED = {"mirrored": False, "unrolled-mirrored": "unrolled", "mirrored-passes": True}  # mode -> its plain leaf


def _swap_colours(p1, p2):
    """(p1, p2) of the colour-swapped position: each piece at the same track position of the other track."""

    def moved(square, track, other):
        return square if square in (-1, 20) else other[track.index(square)]

    return tuple(moved(s, P2_TRACK, P1_TRACK) for s in p2), tuple(moved(s, P1_TRACK, P2_TRACK) for s in p1)


def _leaf(flat, p1, p2, player, exact_passes):
    """Plain reference of the net leaf of an unrolled position (see rgou.leaves.net_chance_value).

    exact_passes: False, True, "unrolled" (the net at UNROLLED_ROLL alone),
    or "mirrored" / "unrolled-mirrored" / "mirrored-passes" (the mean with the colour swap's value).
    """
    if exact_passes in MIRRORED:
        plain = MIRRORED[exact_passes]
        q1, q2 = _swap_colours(p1, p2)
        return 0.5 * (_leaf(flat, p1, p2, player, plain) - _leaf(flat, q1, q2, 3 - player, plain))
    if exact_passes == "unrolled":
        return _net(flat, (p1, p2, player, UNROLLED_ROLL))

    def rolls(who):
        total, passing = 0.0, 0.0
        for r, p in enumerate(ROLL_P):
            pos = (p1, p2, who, r)
            if exact_passes and not oracle.legal_moves(pos):
                passing += p
            else:
                total += p * _net(flat, pos)
        return total, passing

    a_x, q_x = rolls(player)
    if not exact_passes or q_x == 0.0:
        return a_x
    a_y, q_y = rolls(3 - player)
    return (a_x + q_x * a_y) / (1 - q_x * q_y)


def _entered_as(pos, m):
    """The slot the search plays for move m: pieces not yet entered are entered as the lowest such slot."""
    mine = pos[0] if pos[2] == 1 else pos[1]
    return mine.index(-1) if mine[m] == -1 else m


def _distinct(pos):
    """The legal moves the search plays (oracle.legal_moves less the repeated entering moves)."""
    return sorted({_entered_as(pos, m) for m in oracle.legal_moves(pos)})


def _won(p1, p2):
    return 1.0 if oracle.winner((p1, p2, 1, 0)) == 2 else -1.0


def _chance_ref(flat, p1, p2, player, depth, exact_passes):
    if oracle.winner((p1, p2, player, 0)):
        return _won(p1, p2)
    if depth == 0:
        return _leaf(flat, p1, p2, player, exact_passes)
    return sum(p * _value_ref(flat, (p1, p2, player, r), depth, exact_passes)[0] for r, p in enumerate(ROLL_P))


def _value_ref(flat, pos, depth, exact_passes):
    """(value, scores) of a rolled position: a plain recursive expectiminimax on the tiny net."""
    p1, p2, player, _ = pos
    if oracle.winner(pos):
        return _won(p1, p2), []
    moves = oracle.legal_moves(pos)
    if not moves:
        return _chance_ref(flat, p1, p2, 3 - player, depth - 1, exact_passes), []
    searched = {}
    for m in _distinct(pos):
        q1, q2, nxt = oracle.apply_move(pos, m)
        won = oracle.winner((q1, q2, nxt, 0))
        searched[m] = _won(q1, q2) if won else _chance_ref(flat, q1, q2, nxt, depth - 1, exact_passes)
    scores = [searched[_entered_as(pos, m)] for m in moves]
    return (max(scores) if player == 2 else min(scores)), scores


def _tiny_leaf(flat, exact_passes):
    plain = MIRRORED.get(exact_passes, exact_passes)
    passes, unrolled, mirrored = plain is True, plain == "unrolled", exact_passes in MIRRORED
    return net_leaf(flat, layer_sizes(TINY), exact_passes=passes, unrolled=unrolled, mirrored=mirrored)


LEAF_MODES = [False, True, "unrolled", "mirrored", "unrolled-mirrored", "mirrored-passes"]


@pytest.mark.parametrize("exact_passes", LEAF_MODES)
@pytest.mark.parametrize("depth", [1, 2])
def test_value_net_leaf_matches_a_plain_recursive_search(depth, exact_passes):
    flat = _tiny_net(depth + 10 * LEAF_MODES.index(exact_passes))
    leaf = _tiny_leaf(flat, exact_passes)
    states, _ = random_states(21)
    picks = list(states[:: max(1, len(states) // (12 if depth == 1 else 5))])
    picks.append(Position([12, 13, 20, 20, 20, 20, 20], [-1] * 7, 1, 3).to_array())  # passes for both rolls
    picks.append(Position([13, 20, 20, 20, 20, 20, 20], [15, 20, 20, 20, 20, 20, 20], 1, 1).to_array())  # wins
    checked_pass = False
    for state in picks:
        pos = Position.from_array(state)
        result = expectiminimax(pos, depth, leaf=leaf)
        value, scores = _value_ref(flat, (pos.p1, pos.p2, pos.to_move, pos.dice), depth, exact_passes)
        assert math.isclose(result.value, value, rel_tol=1e-5, abs_tol=1e-6)
        np.testing.assert_allclose(result.scores, scores, rtol=1e-5, atol=1e-6)
        checked_pass |= not pos.legal_moves()
    assert checked_pass


def test_exact_passes_solve_the_mutual_pass_equation():
    """V_X = A_X + q_X V_Y and V_Y = A_Y + q_Y V_X hold for the closed form."""
    flat = _tiny_net(3)
    p1, p2 = (12, 13, 20, 20, 20, 20, 20), (14, 15, 20, 20, 20, 20, -1)
    v_x = _leaf(flat, p1, p2, 1, True)
    v_y = _leaf(flat, p1, p2, 2, True)

    def parts(who):
        a = sum(p * _net(flat, (p1, p2, who, r)) for r, p in enumerate(ROLL_P) if oracle.legal_moves((p1, p2, who, r)))
        q = sum(p for r, p in enumerate(ROLL_P) if not oracle.legal_moves((p1, p2, who, r)))
        return a, q

    (a_x, q_x), (a_y, q_y) = parts(1), parts(2)
    assert q_x > 1 / 16 and q_y > 0
    assert math.isclose(v_x, a_x + q_x * v_y, rel_tol=1e-12)
    assert math.isclose(v_y, a_y + q_y * v_x, rel_tol=1e-12)
    leaf = net_leaf(flat, layer_sizes(TINY), exact_passes=True)
    assert math.isclose(
        expected_value(Position(p1, p2, 1, 0), 1, leaf=leaf), _chance_ref(flat, p1, p2, 1, 1, True), rel_tol=1e-5
    )


def test_a_leaf_is_unrolled_or_solves_passes_not_both():
    with pytest.raises(ValueError, match="not both"):
        net_leaf(_tiny_net(1), layer_sizes(TINY), exact_passes=True, unrolled=True)


def _close_call_ref(flat, pos, depth, gap, mode):
    """(move, {slot: mover's score}, the move's margin over the next best) of a depth-`depth` search whose
    close calls are searched one ply deeper."""
    player = pos[2]
    sign = 1.0 if player == 2 else -1.0
    _, scores = _value_ref(flat, pos, depth, mode)
    moves = oracle.legal_moves(pos)
    score = {m: sign * v for m, v in zip(moves, scores, strict=True)}
    top = max(score.values())
    candidates = [m for m in _distinct(pos) if score[m] >= top - gap]
    if len(candidates) < 2:
        return min(m for m in moves if score[m] == top), score, 1.0
    for m in candidates:
        q1, q2, nxt = oracle.apply_move(pos, m)
        won = oracle.winner((q1, q2, nxt, 0))
        score[m] = sign * (_won(q1, q2) if won else _chance_ref(flat, q1, q2, nxt, depth, mode))
    for m in moves:
        score[m] = score[_entered_as(pos, m)]
    ranked = sorted((score[m] for m in candidates), reverse=True)
    return min(m for m in candidates if score[m] == ranked[0]), score, ranked[0] - ranked[1]


@pytest.mark.parametrize(
    ("depth", "gap", "mode"),
    [(1, g, m) for g in (0.02, 0.2, 2.0) for m in (False, "unrolled")]
    + [(2, 0.2, False), (2, 2.0, "unrolled"), (1, 0.2, "unrolled-mirrored")],
)
def test_close_calls_are_searched_one_ply_deeper(depth, gap, mode):
    """MLAgent(close_gap) against a plain reference: the moves within gap of the best, searched deeper."""
    from rgou.agents import MLAgent
    from rgou.weights import Weights

    flat = _tiny_net(30 + (mode == "unrolled"))
    policy_cfg = NetConfig(150, (8, 4), 7)
    weights = Weights(flat, init_params(policy_cfg, 1), TINY, policy_cfg, {})
    unrolled, mirrored = mode in ("unrolled", "unrolled-mirrored"), mode == "unrolled-mirrored"
    agent = MLAgent(weights, depth=depth - 1, close_gap=gap, unrolled=unrolled, mirrored=mirrored)
    shallow_agent = MLAgent(weights, depth=depth - 1, unrolled=unrolled, mirrored=mirrored)
    states, _ = random_states(23)
    deepened = changed = 0
    for state in states[:: max(1, len(states) // (40 if depth == 1 else 12))]:
        pos = Position.from_array(state)
        if not pos.legal_moves():
            continue
        move, score, margin = _close_call_ref(flat, (pos.p1, pos.p2, pos.to_move, pos.dice), depth, gap, mode)
        decision = agent.decide(state)
        assert decision.move == move or margin < 1e-5  # the saturated tiny net ties in float32
        for m, v in score.items():
            assert decision.scores[m] == pytest.approx(v, rel=1e-5, abs=1e-6)
        sign = 1.0 if pos.to_move == 2 else -1.0
        kernel_move, value = agent._decide(agent.data, state, agent._rng, agent._scratch)  # the search's value
        assert kernel_move == decision.move and value == pytest.approx(sign * decision.scores[decision.move])
        shallow = shallow_agent.decide(state)
        deepened += decision.scores != shallow.scores
        changed += decision.move != shallow.move
    assert deepened > 0
    if gap == 2.0:  # every decision with two distinct moves is searched deeper: some moves change
        assert changed > 0


def test_close_calls_of_a_position_without_moves_keep_the_search_value():
    from rgou.search import NO_MOVE, deepen_close_calls, leaf_work, search_into

    leaf = _tiny_leaf(_tiny_net(5), False)
    work = leaf_work(2, leaf)
    scores = np.empty(7)
    for state in (Position.initial(dice=0).to_array(), Position.initial(dice=2).to_array()):
        value, best = search_into(state, np.int64(1), leaf, work, scores, None)
        child, candidates = np.zeros(16, np.int8), np.zeros(7, np.int8)
        got = deepen_close_calls(state, np.int64(1), leaf, work, scores, 0.5, value, best, child, candidates)
        if best == NO_MOVE:  # a 0 passes: nothing to search, the search's value stands
            assert got == (value, NO_MOVE) and not np.isnan(value)
        else:  # the opening: every move enters a piece, one distinct move, nothing deeper
            assert got == (value, best)


def test_close_calls_need_a_value_search_and_a_ply_to_spare():
    from rgou.agents import MAX_ML_DEPTH, MLAgent
    from rgou.weights import Weights

    policy_cfg = NetConfig(150, (8, 4), 7)
    weights = Weights(_tiny_net(1), init_params(policy_cfg, 1), TINY, policy_cfg, {})
    with pytest.raises(ValueError, match="close calls"):
        MLAgent(weights, mode="policy", close_gap=0.01)
    with pytest.raises(ValueError, match="close calls"):
        MLAgent(weights, depth=MAX_ML_DEPTH, close_gap=0.01)
    assert MLAgent(weights, close_gap=0.01).name == "ml+"
    assert MLAgent(weights, depth=2, close_gap=0.01).name == "ml-2+"


# Counting mode.


def _count_ref(pos, depth):
    """What the search generates, counted by a plain recursion (root, then every move and pass)."""
    counts = [1, 0, 0]  # generated, leaves, chance nodes

    def chance(p1, p2, player, d):
        if oracle.winner((p1, p2, player, 0)) or d == 0:
            counts[1] += 1
            return
        counts[2] += 1
        passed = False
        for r in range(5):
            rolled = (p1, p2, player, r)
            moves = _distinct(rolled)
            if not moves:
                if not passed:
                    counts[0] += 1
                    chance(p1, p2, 3 - player, d - 1)
                passed = True
                continue
            for m in moves:
                counts[0] += 1
                q1, q2, nxt = oracle.apply_move(rolled, m)
                chance(q1, q2, nxt, d - 1)

    if oracle.winner(pos):
        counts[1] += 1
        return counts
    moves = _distinct(pos)
    if not moves:
        counts[0] += 1
        chance(pos[0], pos[1], 3 - pos[2], depth - 1)
    for m in moves:
        counts[0] += 1
        q1, q2, nxt = oracle.apply_move(pos, m)
        chance(q1, q2, nxt, depth - 1)
    return counts


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_counting_mode_counts_what_a_plain_search_visits(depth):
    states, _ = random_states(8)
    for state in states[:: max(1, len(states) // 8)]:
        pos = Position.from_array(state)
        value, counts = count_nodes(state, depth)
        assert value == expectiminimax(pos, depth).value
        assert counts.tolist() == _count_ref((pos.p1, pos.p2, pos.to_move, pos.dice), depth)


def test_thread_copy_of_a_leaf_shares_its_arrays_and_searches_the_same():
    from rgou.leaves import _leaf_fields, heuristic_leaf, thread_copy

    leaves = (heuristic_leaf(), _tiny_leaf(_tiny_net(3), True), _tiny_leaf(_tiny_net(3), "mirrored-passes"))
    for leaf in leaves:
        copy = thread_copy(leaf)
        for a, b in zip(_leaf_fields(leaf), _leaf_fields(copy), strict=True):
            if isinstance(a, np.ndarray):
                assert (a.size == 0 or np.shares_memory(a, b)) and a.dtype == b.dtype and a.shape == b.shape
            else:
                assert a == b
        states, _ = random_states(5)
        for state in states[:20]:
            pos = Position.from_array(state)
            assert expectiminimax(pos, 2, leaf=copy) == expectiminimax(pos, 2, leaf=leaf)


@pytest.mark.parametrize("mode", ["mirrored", "unrolled-mirrored", "mirrored-passes"])
def test_a_mirrored_leaf_leaves_its_position_as_it_found_it(mode):
    from rgou.leaves import net_chance_value
    from rgou.search import leaf_work

    leaf = _tiny_leaf(_tiny_net(7), mode)
    work = leaf_work(1, leaf)
    states, _ = random_states(8)
    for state in states[::7]:
        node = state.copy()
        node[15] = 0  # an unrolled position
        q1, q2 = tuple(int(x) for x in node[:7]), tuple(int(x) for x in node[7:14])
        if oracle.winner((q1, q2, int(node[14]), 0)):
            continue
        before = node.copy()
        value = net_chance_value(node, leaf, work)
        assert np.array_equal(node, before)
        assert math.isclose(value, _leaf(_tiny_net(7), q1, q2, int(node[14]), mode), rel_tol=1e-5, abs_tol=1e-6)
