"""Checks of the slow oracle (tests/oracle.py) itself, and of rgou on the hand-built positions.

1. Against EVERY record of tests/data/positions.json: legal moves,
   successors (where listed), winner, heuristic and the 150 features.
2. Hand-built positions with answers worked out by hand: both the oracle and
   rgou (through tests/rgou_engine.py) must give them.
3. Expectiminimax depth semantics at small depths.

Board diagrams below use the physical layout (X = P1 piece, O = P2 piece,
'*' = rosette; the numbers are square indices):

         col 0    1    2    3    4    5    6    7
    P1 row [ 0*][ 1 ][ 2 ][ 3 ]           [13*][12 ]     P1: 3 2 1 0 -> 4..11 -> 12 13
    shared [ 4 ][ 5 ][ 6 ][ 7*][ 8 ][ 9 ][10 ][11 ]
    P2 row [16*][17 ][18 ][19 ]           [15*][14 ]     P2: 19 18 17 16 -> 4..11 -> 14 15
"""

from __future__ import annotations

import oracle
import pytest
import rgou_engine
from reference import load_positions, record_position

RECORDS = load_positions()
RECORD_IDS = [f"id{r['id']}" for r in RECORDS]
OFF = -1
FIN = 20


def test_reference_has_records():
    assert len(RECORDS) == 600
    assert sum(1 for r in RECORDS if r["successors"]) > 0


# Golden vectors.


@pytest.mark.parametrize("record", RECORDS, ids=RECORD_IDS)
def test_legal_moves_match_reference(record):
    assert oracle.legal_moves(record_position(record)) == record["legal_moves"]


@pytest.mark.parametrize("record", RECORDS, ids=RECORD_IDS)
def test_successors_match_reference(record):
    pos = record_position(record)
    if record["successors"]:
        assert [s["move"] for s in record["successors"]] == record["legal_moves"]
    for succ in record["successors"]:
        expected = (tuple(succ["p1"]), tuple(succ["p2"]), succ["to_move"])
        assert oracle.apply_move(pos, succ["move"]) == expected


@pytest.mark.parametrize("record", RECORDS, ids=RECORD_IDS)
def test_winner_matches_reference(record):
    assert oracle.winner(record_position(record)) == record["winner"]


@pytest.mark.parametrize("record", RECORDS, ids=RECORD_IDS)
def test_heuristic_matches_reference(record):
    assert oracle.evaluate(record_position(record)) == record["heuristic"]
    assert oracle.evaluate(record_position(record), oracle.DEFAULT_PARAMS) == record["heuristic"]


@pytest.mark.parametrize("record", RECORDS, ids=RECORD_IDS)
def test_features_match_reference(record):
    got = oracle.features(record_position(record))
    expected = record["features"]
    assert len(got) == len(expected) == oracle.NUM_FEATURES
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if abs(g - e) > 1e-6]
    assert not bad, f"features differ (index, oracle, reference): {bad}"


def test_features_bit_identical_to_reference():
    """Stronger than the contract's 1e-6: the oracle reproduces every float32 exactly."""
    mismatches = [
        (r["id"], i, g, e)
        for r in RECORDS
        for i, (g, e) in enumerate(zip(oracle.features(record_position(r)), r["features"]))
        if g != e
    ]
    assert not mismatches, mismatches[:10]


# Hand-built positions (oracle and rgou).

ENGINES = pytest.mark.parametrize("engine", [oracle, rgou_engine], ids=["oracle", "rgou"])


@ENGINES
def test_capture_sends_piece_home_and_heuristic_truncates_toward_zero(engine):
    # P1 to move, dice 3.  P1 slot 0 on square 5 (track pos 5), six P1 finished.
    # P2 slot 0 on square 8, six P2 unentered.
    #    P1 row [   ][   ][   ][   ]           [   ][   ]
    #    shared [   ][ X ][   ][  *][ O ][   ][   ][   ]
    #    P2 row [  *][   ][   ][   ]           [  *][   ]
    pos = ((5, FIN, FIN, FIN, FIN, FIN, FIN), (8, OFF, OFF, OFF, OFF, OFF, OFF), 1, 3)
    assert engine.legal_moves(pos) == [0]
    succ = engine.apply_move(pos, 0)
    assert succ == ((8, FIN, FIN, FIN, FIN, FIN, FIN), (OFF,) * 7, 2)
    # evaluate: -6*1000 (finished) - 1*35 (on board)
    #   + trunc(-9 * 15 / 10) = trunc(-13.5) = -13   (floor would give -14)
    #   - (5 + 2) (centre lane, 4 <= p <= 11)                     = -6055
    assert engine.evaluate(succ) == -6055


@ENGINES
def test_capture_in_the_middle_of_a_list_of_moves(engine):
    # P2 to move, dice 1: O on 4 captures X on 5; two O unentered may enter.
    #    P1 row [   ][   ][   ][   ]           [   ][   ]
    #    shared [ O ][ X ][   ][  *][   ][   ][   ][   ]
    #    P2 row [  *][   ][   ][   ]           [  *][   ]
    pos = ((5, FIN, FIN, FIN, FIN, FIN, FIN), (FIN, FIN, OFF, 4, FIN, OFF, FIN), 2, 1)
    assert engine.legal_moves(pos) == [2, 3, 5]  # every unentered piece listed
    assert engine.apply_move(pos, 3) == ((OFF, FIN, FIN, FIN, FIN, FIN, FIN), (FIN, FIN, OFF, 5, FIN, OFF, FIN), 1)
    assert engine.apply_move(pos, 5) == ((5, FIN, FIN, FIN, FIN, FIN, FIN), (FIN, FIN, OFF, 4, FIN, 19, FIN), 1)


@ENGINES
def test_rosette_gives_another_turn(engine):
    # P2 to move, dice 2: O on 5 (track pos 5) reaches 7 (track pos 7, rosette).
    #    P1 row [   ][   ][   ][   ]           [   ][   ]
    #    shared [   ][ O ][   ][  *][   ][   ][   ][   ]
    #    P2 row [  *][   ][   ][   ]           [  *][   ]
    pos = ((OFF,) * 7, (5, OFF, OFF, OFF, OFF, OFF, OFF), 2, 2)
    assert engine.legal_moves(pos) == [0, 1, 2, 3, 4, 5, 6]
    assert engine.apply_move(pos, 0) == ((OFF,) * 7, (7, OFF, OFF, OFF, OFF, OFF, OFF), 2)
    # entering with 2 lands on 18: no rosette, the turn passes
    assert engine.apply_move(pos, 1) == ((OFF,) * 7, (5, 18, OFF, OFF, OFF, OFF, OFF), 1)
    # evaluate of the rosette successor: +35 (on board) + trunc(8*15/10)=12
    #   + 25 (safety) + 7 (centre lane) + 40 (rosette control) = 119
    assert engine.evaluate(((OFF,) * 7, (7, OFF, OFF, OFF, OFF, OFF, OFF))) == 119
    # entering onto the private rosette (track pos 3) with a 4 is another turn too
    enter = ((OFF,) * 7, (OFF,) * 7, 1, 4)
    assert engine.apply_move(enter, 0) == ((0, OFF, OFF, OFF, OFF, OFF, OFF), (OFF,) * 7, 1)


@ENGINES
def test_occupied_square_7_cannot_be_taken(engine):
    # P2 to move, dice 2: O on 5 would land on 7, where X stands: blocked.
    # The unentered O may still enter (to 18).
    #    P1 row [   ][   ][   ][   ]           [   ][   ]
    #    shared [   ][ O ][   ][ X*][   ][   ][   ][   ]
    #    P2 row [  *][   ][   ][   ]           [  *][   ]
    pos = ((7, OFF, OFF, OFF, OFF, OFF, OFF), (5, OFF, FIN, FIN, FIN, FIN, FIN), 2, 2)
    assert engine.legal_moves(pos) == [1]
    # with a 3 the same piece jumps over X to 8
    assert engine.legal_moves(pos[:3] + (3,)) == [0, 1]
    # an own piece on the target blocks as well (P1: 4 + 3 -> 7 = own)
    own = ((4, 7, FIN, FIN, FIN, FIN, FIN), (OFF,) * 7, 1, 3)
    assert engine.legal_moves(own) == [1]


@ENGINES
def test_exact_roll_needed_to_bear_off(engine):
    # P1 to move: X on 12 (track pos 12), X on 13 (track pos 13), five finished.
    #    P1 row [  *][   ][   ][   ]           [ X*][ X ]
    #    shared [   ][   ][   ][  *][   ][   ][   ][   ]
    #    P2 row [  *][   ][   ][   ]           [  *][   ]
    board = ((12, 13, FIN, FIN, FIN, FIN, FIN), (OFF,) * 7)
    assert engine.legal_moves(board + (1, 1)) == [1]  # 12+1 = own piece; 13+1 = off
    assert engine.legal_moves(board + (1, 2)) == [0]  # 12+2 = off; 13+2 too far
    assert engine.legal_moves(board + (1, 3)) == []
    assert engine.legal_moves(board + (1, 4)) == []
    # bearing off is not a rosette: the turn passes
    assert engine.apply_move(board + (1, 1), 1) == ((12, FIN, FIN, FIN, FIN, FIN, FIN), (OFF,) * 7, 2)
    assert engine.apply_move(board + (1, 2), 0) == ((FIN, 13, FIN, FIN, FIN, FIN, FIN), (OFF,) * 7, 2)


@ENGINES
def test_winning_bear_off(engine):
    pos = ((13, FIN, FIN, FIN, FIN, FIN, FIN), (3 * (OFF,) + 4 * (FIN,)), 1, 1)
    assert engine.winner(pos) == 0
    succ = engine.apply_move(pos, 0)
    assert succ == ((FIN,) * 7, (3 * (OFF,) + 4 * (FIN,)), 2)
    assert engine.winner(succ + (0,)) == 1
    assert engine.evaluate(succ) == -10000
    for depth in (1, 2, 3):
        assert engine.expectiminimax(pos, depth) == (-10000.0, [-10000.0])


@ENGINES
def test_finished_position_still_lists_moves(engine):
    # P1 has won; P2 to move with a 1 may still "enter" by the movement rules.
    pos = ((FIN,) * 7, (OFF, FIN, FIN, FIN, FIN, FIN, FIN), 2, 1)
    assert engine.winner(pos) == 1
    assert engine.legal_moves(pos) == [0]
    assert engine.features(pos)[48] == pytest.approx(1 / 7)
    # no move is played once the game is over
    assert engine.expectiminimax(pos, 3) == (-10000.0, [])


@ENGINES
def test_no_legal_move_passes(engine):
    # P1 to move, dice 3: 12+3 and 13+3 both overshoot square 20: no move.
    #    P1 row [  *][   ][   ][   ]           [ X*][ X ]
    #    shared [   ][   ][   ][  *][   ][   ][   ][   ]
    #    P2 row [  *][   ][   ][   ]           [  *][   ]
    pos = ((12, 13, FIN, FIN, FIN, FIN, FIN), (OFF,) * 7, 1, 3)
    assert engine.legal_moves(pos) == []
    # evaluate: -5000 (finished) - 70 (on board) + trunc(-27*15/10) = -40
    #   - (10 + 25 + 10) (strategic) - 40 (rosette 13 held by P1) = -5195
    assert engine.evaluate(pos) == -5195
    # depth 1: the pass is one ply, leaving a depth-0 chance node = evaluate
    assert engine.expectiminimax(pos, 1) == (-5195.0, [])
    # depth 2: P2's chance node at depth 1
    value, scores = engine.expectiminimax(pos, 2)
    assert scores == []
    assert value == engine.chance_value(pos[0], pos[1], 2, 1)
    # a roll of 0 passes the same way
    assert engine.expectiminimax(pos[:3] + (0,), 2) == (value, [])
    assert engine.legal_moves(pos[:3] + (0,)) == []


# Expectiminimax.


def _playable(record):
    pos = record_position(record)
    return oracle.winner(pos) == 0 and oracle.legal_moves(pos)


def test_depth_zero_is_the_heuristic():
    for record in RECORDS[:50]:
        pos = record_position(record)
        assert oracle.expectiminimax(pos, 0) == (float(record["heuristic"]), [])


@pytest.mark.parametrize(
    "record", [r for r in RECORDS if _playable(r)], ids=[f"id{r['id']}" for r in RECORDS if _playable(r)]
)
def test_depth_one_is_best_heuristic_of_successors(record):
    pos = record_position(record)
    succ_evals = [float(oracle.evaluate(oracle.apply_move(pos, m))) for m in oracle.legal_moves(pos)]
    value, scores = oracle.expectiminimax(pos, 1)
    assert scores == succ_evals
    assert value == (max(succ_evals) if pos[2] == 2 else min(succ_evals))


def test_depth_one_of_a_passing_position_is_its_heuristic():
    passing = [r for r in RECORDS if r["winner"] == 0 and not r["legal_moves"]]
    assert passing
    for record in passing:
        assert oracle.expectiminimax(record_position(record), 1) == (float(record["heuristic"]), [])


def test_depth_two_composes_chance_nodes():
    """Depth 2 = best over moves of the next player's depth-1 chance node."""
    record = next(r for r in RECORDS if _playable(r) and len(r["legal_moves"]) >= 3)
    pos = record_position(record)
    expected_scores = []
    for move in oracle.legal_moves(pos):
        q1, q2, nxt = oracle.apply_move(pos, move)
        if oracle.winner((q1, q2, nxt, 0)):
            expected_scores.append(float(oracle.evaluate((q1, q2))))
            continue
        weights = (1, 4, 6, 4, 1)
        expected = sum(w * oracle.expectiminimax((q1, q2, nxt, r), 1)[0] for r, w in enumerate(weights)) / 16
        expected_scores.append(expected)
    value, scores = oracle.expectiminimax(pos, 2)
    assert scores == pytest.approx(expected_scores, rel=1e-12, abs=1e-9)
    best = max(expected_scores) if pos[2] == 2 else min(expected_scores)
    assert value == pytest.approx(best, rel=1e-12, abs=1e-9)


@ENGINES
def test_rosette_successor_uses_the_same_players_chance_node(engine):
    # P2 on 5 with a 2 reaches rosette 7 and rolls again; at depth 2 its score
    # is P2's own depth-1 chance node, not P1's.
    pos = ((OFF,) * 7, (5, OFF, OFF, OFF, OFF, OFF, OFF), 2, 2)
    _, scores = engine.expectiminimax(pos, 2)
    q1, q2, nxt = engine.apply_move(pos, 0)
    assert nxt == 2
    assert scores[0] == engine.chance_value(q1, q2, 2, 1)
    assert scores[0] != engine.chance_value(q1, q2, 1, 1)


@ENGINES
def test_custom_params_are_used(engine):
    params = dict(oracle.DEFAULT_PARAMS, capture_bonus=0, position_weight=10)
    pos = ((5, FIN, FIN, FIN, FIN, FIN, FIN), (8, OFF, OFF, OFF, OFF, OFF, OFF), 1, 3)
    succ = engine.apply_move(pos, 0)
    # -6000 + 0 (on board) + (-9) (position) - 7 (centre lane)
    assert engine.evaluate(succ, params) == -6016
    assert engine.expectiminimax(pos, 1, params) == (-6016.0, [-6016.0])
