"""The Numba engine against the golden vectors, the pure-Python oracle, and its invariants."""

import numpy as np
import oracle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import load_positions

from rgou._random import seed_rng
from rgou.features import (
    NUM_FEATURES,
    extract_features,
    extract_features_batch,
    feature_kernels,
    feature_names,
    legal_masks,
)
from rgou.game import Position, apply_move, distinct_moves, legal_mask, legal_moves, new_state, roll_dice
from rgou.heuristic import DEFAULT_PARAMS, MAX_PARAM, PARAM_NAMES, HeuristicParams, heuristic_score, heuristic_score_of
from rgou.rules import FINISHED, NUM_PIECES
from rgou.testing import check_state_invariants, random_states

RECORDS = load_positions()


def as_tuple(state):
    s = [int(v) for v in state]
    return (s[:7], s[7:14], s[14], s[15])


# Golden vectors: every record.


def test_golden_legal_moves_winner_and_successors():
    checked = finished = 0
    for r in RECORDS:
        pos = Position(r["p1"], r["p2"], r["to_move"], r["dice"])
        slots = np.empty(NUM_PIECES, np.int8)
        # the kernel lists moves as the upstream engine does, finished games included; a Position has none there
        assert list(slots[: legal_moves(pos.to_array(), slots)]) == r["legal_moves"], r["id"]
        assert pos.winner == r["winner"], r["id"]
        assert pos.legal_moves() == ([] if r["winner"] else r["legal_moves"]), r["id"]
        finished += bool(r["winner"] and r["legal_moves"])
        for move, succ in zip(r["legal_moves"], r.get("successors") or []):
            after = apply_move(pos.to_array(), move)
            assert [list(after[:7]), list(after[7:14]), int(after[14])] == [succ["p1"], succ["p2"], succ["to_move"]]
            checked += 1
    assert checked > 0 and finished > 0


BAD_STATES = [
    (np.array([-1] * 14 + [2, 2], float), "expected integers"),
    (np.array([260] + [-1] * 13 + [2, 2], np.int16), r"p1\[0\] = 260 is out of range"),  # int8 would wrap it to 4
    (np.array([4, 4] + [-1] * 12 + [1, 2], np.int8), "two pieces on square 4"),
    (np.array([-1] * 14 + [3, 2], np.int8), "to_move must be 1 or 2"),
    (np.array([-1] * 14 + [1, 5], np.int64), "dice must be 0..4"),
]


@pytest.mark.parametrize("state, message", [(np.zeros(3, np.int8), r"expected shape \(16,\)"), *BAD_STATES])
def test_the_public_functions_of_one_state_check_it(state, message):
    # The kernels read a state as given: a short array would be read past its end, a wrapped square misread.
    with pytest.raises(ValueError, match=f"state: {message}"):
        extract_features(state)
    with pytest.raises(ValueError, match=f"state: {message}"):
        heuristic_score_of(state)


@pytest.mark.parametrize(
    "states, message",
    [
        (np.zeros(16, np.int8), r"expected shape \(N, 16\)"),
        (np.zeros((2, 16)), "expected integers"),
        *[
            (np.stack([Position.initial(dice=1).to_array().astype(s.dtype), s]), f"row 1: {m}")
            for s, m in BAD_STATES[1:]
        ],
    ],
)
def test_the_public_functions_of_a_batch_check_every_row(states, message):
    for function in (extract_features_batch, legal_masks):
        with pytest.raises(ValueError, match=f"states: {message}"):
            function(states)


def test_features_of_a_position_are_those_of_its_rule_set():
    blitz = Position.initial(dice=2, rules="blitz").play(0)
    np.testing.assert_array_equal(extract_features(blitz), feature_kernels("blitz").single_features(blitz.to_array()))
    assert not np.array_equal(extract_features(blitz), extract_features(Position.initial(dice=2).play(0)))


def test_golden_heuristic():
    for r in RECORDS:
        assert heuristic_score_of(Position(r["p1"], r["p2"], r["to_move"], r["dice"])) == r["heuristic"], r["id"]


def test_golden_features_every_record():
    states = np.array([Position(r["p1"], r["p2"], r["to_move"], r["dice"]).to_array() for r in RECORDS])
    expected = np.array([r["features"] for r in RECORDS], dtype=np.float64)
    batch = extract_features_batch(states)
    assert batch.dtype == np.float32 and batch.shape == (len(RECORDS), NUM_FEATURES)
    np.testing.assert_allclose(batch, expected, rtol=0, atol=1e-6)
    for s, row in zip(states[:50], batch[:50]):
        np.testing.assert_array_equal(extract_features(s), row)


def test_feature_names_cover_all_features():
    names = feature_names()
    assert len(names) == NUM_FEATURES and len(set(names)) == NUM_FEATURES


# Position validation.


@pytest.mark.parametrize(
    "p1, p2, to_move, dice, message",
    [
        ([4, 4, -1, -1, -1, -1, -1], [-1] * 7, 1, 1, "two pieces on square 4"),
        ([5, -1, -1, -1, -1, -1, -1], [5, -1, -1, -1, -1, -1, -1], 1, 1, "two pieces on square 5"),
        ([16, -1, -1, -1, -1, -1, -1], [-1] * 7, 1, 1, "not on player 1's track"),
        ([-1] * 7, [2, -1, -1, -1, -1, -1, -1], 1, 1, "not on player 2's track"),
        ([21, -1, -1, -1, -1, -1, -1], [-1] * 7, 1, 1, "out of range"),
        ([-2, -1, -1, -1, -1, -1, -1], [-1] * 7, 1, 1, "out of range"),
        ([-1] * 6, [-1] * 7, 1, 1, "must list 7"),
        ([-1] * 7, [-1] * 7, 3, 1, "to_move"),
        ([-1] * 7, [-1] * 7, 1, 5, "dice"),
        ([-1] * 7, [-1] * 7, 1, -1, "dice"),
        ([20] * 7, [20] * 7, 1, 1, "both players"),
        ([1.5, -1, -1, -1, -1, -1, -1], [-1] * 7, 1, 1, "integer"),
    ],
)
def test_malformed_positions_raise(p1, p2, to_move, dice, message):
    with pytest.raises(ValueError, match=message):
        Position(p1, p2, to_move, dice)


def test_illegal_move_and_finished_game_raise():
    pos = Position.initial(dice=2)
    with pytest.raises(ValueError, match="illegal move"):
        Position([3, -1, -1, -1, -1, -1, -1], [-1] * 7, 1, 1).play(1)  # entering onto its own piece on 3
    with pytest.raises(ValueError, match="illegal move"):
        pos.play(7)
    over = Position([20] * 7, [-1] * 7, 2, 1)
    assert over.winner == 1
    with pytest.raises(ValueError, match="game is over"):
        over.play(0)
    assert over.legal_moves() == []  # the kernel's list would name P2's pieces: no move is played once a player won
    with pytest.raises(ValueError, match="game is over"):
        over.pass_turn()
    with pytest.raises(ValueError, match="cannot pass"):
        pos.pass_turn()


def test_capture_rosette_and_bear_off():
    # P1 piece at 5 (track 5) rolls 2 -> square 7 (rosette): extra turn.
    pos = Position([5, -1, -1, -1, -1, -1, -1], [-1] * 7, 1, 2)
    after = pos.play(0)
    assert after.p1[0] == 7 and after.to_move == 1
    # P2 on 8 is captured by P1 from 6 with a 2.
    pos = Position([6, -1, -1, -1, -1, -1, -1], [8, -1, -1, -1, -1, -1, -1], 1, 2)
    after = pos.play(0)
    assert after.p1[0] == 8 and after.p2[0] == -1 and after.to_move == 2
    # Bear-off needs the exact roll: P1 on 13 (track 13) finishes with 1 only.
    assert Position([13, 20, 20, 20, 20, 20, 20], [-1] * 7, 1, 2).legal_moves() == []
    won = Position([13, 20, 20, 20, 20, 20, 20], [-1] * 7, 1, 1).play(0)
    assert won.winner == 1 and won.p1[0] == FINISHED


def test_legal_mask_matches_list():
    for r in RECORDS[:200]:
        state = Position(r["p1"], r["p2"], r["to_move"], r["dice"]).to_array()
        mask = np.zeros(NUM_PIECES, dtype=np.bool_)
        n = legal_mask(state, mask)
        assert n == len(r["legal_moves"]) and list(np.flatnonzero(mask)) == r["legal_moves"]


def _unnumbered(pos, m):
    """The position after move m with the pieces unnumbered (sorted squares) and the player to move."""
    q1, q2, nxt = oracle.apply_move(pos, m)
    return tuple(sorted(q1)), tuple(sorted(q2)), nxt


def test_distinct_moves_enter_one_piece_and_reach_every_position():
    """distinct_moves drops the repeated entering moves (ascending, lowest slot kept), and the positions
    it reaches are those of every legal move, pieces counted without their numbers."""
    entering_seen = 0
    out = np.empty(NUM_PIECES, dtype=np.int8)
    for r in RECORDS[:400]:
        pos = (r["p1"], r["p2"], r["to_move"], r["dice"])
        mine = pos[0] if pos[2] == 1 else pos[1]
        legal = r["legal_moves"]
        entering = [m for m in legal if mine[m] == -1]
        expected = [m for m in legal if mine[m] != -1 or m == entering[0]]
        n = distinct_moves(Position(*pos).to_array(), out)
        assert list(out[:n]) == expected
        kept = {_unnumbered(pos, m) for m in expected}
        assert kept == {_unnumbered(pos, m) for m in legal} and len(kept) == len(expected)
        entering_seen += len(entering) > 1
    assert entering_seen > 20


def test_heuristic_params_from_file(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"win_score": 500, "capture_bonus": 0}')
    params = HeuristicParams.load(path)
    assert params.win_score == 500 and params.capture_bonus == 0 and params.safety_bonus == 25
    assert HeuristicParams.load() == DEFAULT_PARAMS
    for r in RECORDS[:100]:
        pos = (r["p1"], r["p2"], r["to_move"], r["dice"])
        assert heuristic_score(Position(*pos).to_array(), params.to_array()) == oracle.evaluate(pos, params.to_dict())
    path.write_text('{"win_scor": 1}')
    with pytest.raises(ValueError, match="unknown heuristic parameters: win_scor"):
        HeuristicParams.load(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        HeuristicParams.load(path)
    path.write_text(f'{{"position_weight": {2**62}}}')  # int64 sums would wrap: refused, naming file and field
    with pytest.raises(
        ValueError, match=r"p.json: heuristic parameter position_weight must be within \+-1,000,000,000"
    ):
        HeuristicParams.load(path)


@pytest.mark.parametrize("sign", [1, -1])
def test_the_heuristic_is_exact_at_the_parameters_bound(sign):
    # The bound keeps every sum of a position's terms in int64: the kernel equals the oracle's Python integers.
    params = HeuristicParams(**{name: MAX_PARAM if name == "win_score" else sign * MAX_PARAM for name in PARAM_NAMES})
    for r in RECORDS[:300]:
        pos = (r["p1"], r["p2"], r["to_move"], r["dice"])
        assert heuristic_score(Position(*pos).to_array(), params.to_array()) == oracle.evaluate(pos, params.to_dict())


def test_dice_distribution():
    rng = seed_rng(123, 0)
    counts = np.bincount([roll_dice(rng) for _ in range(64_000)], minlength=5)
    expected = np.array([1, 4, 6, 4, 1]) / 16 * 64_000
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 25.0  # 4 degrees of freedom: p < 1e-4


# Properties over random reachable positions.

seeds = st.integers(min_value=0, max_value=2**62)


@settings(max_examples=60)
@given(seeds)
def test_random_games_end_and_keep_invariants(seed):
    states, over = random_states(seed)
    assert over, "a random game did not end in 10,000 turns"
    assert len(states) > 0
    start = new_state()
    assert np.array_equal(states[0][:15], start[:15])
    for s in states:
        check_state_invariants(s)
    # pieces are conserved: finished counts never decrease
    finished = (states[:, :7] == FINISHED).sum(1), (states[:, 7:14] == FINISHED).sum(1)
    assert np.all(np.diff(finished[0]) >= 0) and np.all(np.diff(finished[1]) >= 0)


@settings(max_examples=40)
@given(seeds, st.data())
def test_engine_agrees_with_oracle(seed, data):
    states, _ = random_states(seed)
    picks = data.draw(st.lists(st.integers(0, len(states) - 1), min_size=1, max_size=8))
    feats = extract_features_batch(states[picks])
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    for state, f in zip(states[picks], feats):
        pos = as_tuple(state)
        n = legal_moves(state, moves)
        assert list(moves[:n]) == oracle.legal_moves(pos)
        assert heuristic_score(state, DEFAULT_PARAMS.to_array()) == oracle.evaluate(pos)
        np.testing.assert_allclose(f, oracle.features(pos), rtol=0, atol=1e-6)
        board = f[14:34]
        for player, sign in ((0, 1.0), (1, -1.0)):  # board block agrees with the piece lists
            for sq in state[7 * player : 7 * player + 7]:
                if 0 <= sq < 20:
                    assert board[sq] == sign
        assert np.count_nonzero(board) == np.count_nonzero((state[:14] >= 0) & (state[:14] < 20))
        for m in moves[:n]:
            after = apply_move(state, m)
            p1, p2, to_move = oracle.apply_move(pos, int(m))
            assert list(after[:7]) == list(p1) and list(after[7:14]) == list(p2) and after[14] == to_move
            check_state_invariants(after)


def test_dice_streams_are_independent():
    # Each game owns a stream; no stream may replay another's rolls at an offset.
    draws = 2000
    streams = [[roll_dice(rng) for _ in range(draws)] for rng in (seed_rng(7, k) for k in range(8))]
    for k, other in enumerate(streams[1:], start=1):
        assert bytes(other[:64]) not in bytes(streams[0]), f"stream 0 replays stream {k}'s rolls"
        assert bytes(streams[0][:64]) not in bytes(other), f"stream {k} replays stream 0's rolls"
    assert streams[0] != [roll_dice(seed_rng(8, 0)) for _ in range(draws)]


@settings(max_examples=30)
@given(seeds)
def test_colour_swap_is_its_own_inverse_and_commutes_with_the_rules(seed):
    from rgou.game import swap_colours_inplace, winner
    from rgou.rules import P1_TRACK, P2_TRACK

    states, _ = random_states(seed)
    moves, swapped_moves = np.empty(NUM_PIECES, np.int8), np.empty(NUM_PIECES, np.int8)
    for state in states[:: max(1, len(states) // 20)]:
        swapped = state.copy()
        swap_colours_inplace(swapped)
        # by hand: the same track positions on the other track
        for mine, theirs, tracks in (
            (state[:7], swapped[7:14], (P1_TRACK, P2_TRACK)),
            (state[7:14], swapped[:7], (P2_TRACK, P1_TRACK)),
        ):
            for a, b in zip(mine, theirs):
                assert b == a if a in (-1, FINISHED) else b == tracks[1][tracks[0].index(a)]
        assert swapped[14] == 3 - state[14] and swapped[15] == state[15]
        again = swapped.copy()
        swap_colours_inplace(again)
        assert np.array_equal(again, state)
        assert winner(swapped) == (0 if winner(state) == 0 else 3 - winner(state))
        n = legal_moves(state, moves)
        assert legal_moves(swapped, swapped_moves) == n and np.array_equal(moves[:n], swapped_moves[:n])
        for m in moves[:n]:
            after = apply_move(swapped, m)
            expected = apply_move(state, m)
            swap_colours_inplace(expected)
            assert np.array_equal(after, expected)
