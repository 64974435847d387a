"""A slow, plain, independent oracle for the Royal Game of Ur rules of rgou.

This module deliberately shares no code with the ``rgou`` package: it is the
reference the fast Numba engine is tested against.  It follows
docs/rules.md and docs/features.md (the compatibility contract) and the
expectiminimax of docs/search.md literally, favouring
readability over speed.

Positions
---------
A position is a tuple ``(p1, p2, to_move, dice)``:

* ``p1``, ``p2``: 7 squares each (piece slot ``i`` is index ``i``); ``-1`` not
  entered, ``0..19`` on the board, ``20`` finished.
* ``to_move``: 1 or 2.  ``dice``: the roll already made, 0..4.

Lists are accepted wherever tuples are; functions return tuples.

Rules (summary)
---------------
* Tracks: P1 ``3,2,1,0,4..13``; P2 ``19,18,17,16,4..11,14,15``.  Rosettes:
  0, 7, 13, 15, 16.  A piece at track position ``p`` (``-1`` off board) moves
  to ``p + r``; ``p + r == 14`` finishes it (square 20, exact roll only); the
  target square may not hold an own piece, nor an opponent piece on a rosette;
  an opponent piece on a non-rosette target is captured (slot -> -1).
* ``legal_moves`` lists movable slots in ascending order (each off-board piece
  separately).  A roll of 0 has no legal moves.  A finished (won) position
  still lists what the movement rules allow.
* Landing on a rosette: same player moves again; otherwise the turn passes.

Expectiminimax (depth in move plies, unpruned, no caching)
-----------------------------------------------------------
``value(pos, d)`` of a *rolled* position (dice known):

* game over or ``d == 0``: ``evaluate(pos)``;
* ``dice == 0`` or no legal move: the turn passes, value is the opponent's
  chance node at depth ``d - 1``;
* otherwise each legal move gives a successor whose score is
  ``evaluate(successor)`` if the successor is game over, else the chance node
  at depth ``d - 1`` of the player to move in the successor (the same player
  after a rosette).  P2 takes the max, P1 the min.

``chance(board, X, d)`` = ``sum_r P(r) * value((board, X, r), d)`` over
``r = 0..4`` with ``P = 1,4,6,4,1 / 16``; at ``d == 0`` it is just
``evaluate(board)``.

The search is done in exact rational arithmetic (``fractions.Fraction``) and
converted to ``float`` only at the end, so the oracle's numbers are the
correctly rounded exact values; a float64 engine should agree to ~1e-9
relative.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

P1_TRACK = (3, 2, 1, 0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
P2_TRACK = (19, 18, 17, 16, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15)
TRACKS = {1: P1_TRACK, 2: P2_TRACK}
ROSETTES = (0, 7, 13, 15, 16)
FINISHED = 20
OFF_BOARD = -1
NUM_PIECES = 7
NUM_FEATURES = 150
DICE_WEIGHTS = (1, 4, 6, 4, 1)  # out of 16, for rolls 0..4
DICE_PROBS = tuple(Fraction(w, 16) for w in DICE_WEIGHTS)

DEFAULT_PARAMS = {
    "win_score": 10000,
    "finished_piece_value": 1000,
    "position_weight": 15,
    "safety_bonus": 25,
    "rosette_control_bonus": 40,
    "advancement_bonus": 5,
    "capture_bonus": 35,
    "center_lane_bonus": 2,
}


# Helpers.


def track_position(player: int, square: int) -> int:
    """Index of ``square`` in ``player``'s track; -1 for an unentered piece.

    Raises ValueError for a finished piece (square 20 is not on any track).
    """
    if square == OFF_BOARD:
        return -1
    return TRACKS[player].index(square)


def _pieces(pos, player):
    """The 7 squares of ``player`` in ``pos``."""
    return tuple(pos[0]) if player == 1 else tuple(pos[1])


def _trunc_div(a: int, b: int) -> int:
    """Integer division truncated toward zero (not Python's floor)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


# Rules.


def legal_moves(pos) -> list[int]:
    """Slots of the player to move that may move with ``pos``'s dice, ascending."""
    _, _, to_move, dice = pos
    if dice == 0:
        return []
    mine = _pieces(pos, to_move)
    theirs = _pieces(pos, 3 - to_move)
    track = TRACKS[to_move]
    moves = []
    for slot, square in enumerate(mine):
        if square == FINISHED:
            continue
        target_pos = track_position(to_move, square) + dice
        if target_pos > 14:
            continue
        if target_pos == 14:
            moves.append(slot)
            continue
        target = track[target_pos]
        if target in mine:
            continue
        if target in theirs and target in ROSETTES:
            continue
        moves.append(slot)
    return moves


def apply_move(pos, slot: int):
    """Play ``slot`` in ``pos``; returns ``(p1, p2, to_move)`` of the successor."""
    assert slot in legal_moves(pos), (pos, slot)
    _, _, to_move, dice = pos
    mine = list(_pieces(pos, to_move))
    theirs = list(_pieces(pos, 3 - to_move))
    target_pos = track_position(to_move, mine[slot]) + dice
    if target_pos == 14:
        mine[slot] = FINISHED
        next_player = 3 - to_move
    else:
        target = TRACKS[to_move][target_pos]
        for i, sq in enumerate(theirs):
            if sq == target:  # legality guarantees target is not a rosette
                theirs[i] = OFF_BOARD
        mine[slot] = target
        next_player = to_move if target in ROSETTES else 3 - to_move
    if to_move == 1:
        return tuple(mine), tuple(theirs), next_player
    return tuple(theirs), tuple(mine), next_player


def winner(pos) -> int:
    """1 or 2 if that player has all 7 pieces on square 20, else 0."""
    if all(sq == FINISHED for sq in pos[0]):
        return 1
    if all(sq == FINISHED for sq in pos[1]):
        return 2
    return 0


# Heuristic.


def evaluate(pos, params=None) -> int:
    """Integer heuristic, positive = good for P2 (docs/rules.md, 'Heuristic').

    Only the pieces matter; ``to_move``/``dice`` are ignored (``pos`` may also
    be just ``(p1, p2, ...)``).
    """
    prm = DEFAULT_PARAMS if params is None else params
    p1, p2 = tuple(pos[0]), tuple(pos[1])
    if all(sq == FINISHED for sq in p1):
        return -prm["win_score"]
    if all(sq == FINISHED for sq in p2):
        return prm["win_score"]

    def count_finished(pieces):
        return sum(1 for sq in pieces if sq == FINISHED)

    def count_on_board(pieces):
        return sum(1 for sq in pieces if 0 <= sq <= 19)

    score = (count_finished(p2) - count_finished(p1)) * prm["finished_piece_value"]
    score += (count_on_board(p2) - count_on_board(p1)) * prm["capture_bonus"]

    def position_and_strategic(player, pieces):
        position = strategic = 0
        for sq in pieces:
            if not 0 <= sq <= 19:
                continue
            p = track_position(player, sq)
            position += p + 1
            if sq in ROSETTES:
                strategic += prm["safety_bonus"]
            if 4 <= p <= 11:
                strategic += prm["advancement_bonus"] + prm["center_lane_bonus"]
            if p >= 12:
                strategic += 2 * prm["advancement_bonus"]
        return position, strategic

    pos1, strat1 = position_and_strategic(1, p1)
    pos2, strat2 = position_and_strategic(2, p2)
    score += _trunc_div((pos2 - pos1) * prm["position_weight"], 10)
    score += strat2 - strat1
    for r in ROSETTES:
        if r in p2:
            score += prm["rosette_control_bonus"]
        if r in p1:
            score -= prm["rosette_control_bonus"]
    return score


# Features.

_f32 = np.float32


def _progress_f32(track, pieces):
    """Features 53/54: float32 running mean of 1.0 (finished) or p/14 (in track; 14: the track's length)."""
    total, count = _f32(0), 0
    for sq in pieces:  # slot order
        if sq == FINISHED:
            total = _f32(total + _f32(1))
            count += 1
        elif sq in track:
            total = _f32(total + _f32(track.index(sq)) / _f32(len(track)))
            count += 1
    return _f32(total / _f32(count)) if count else _f32(0)


def _pressure_f32(own_squares, opp_squares):
    """Features 67/68: float32 sum of 1/(d+1) for d <= 4, divided by len(own)."""
    if not own_squares:
        return _f32(0)
    total = _f32(0)
    for a in own_squares:  # own slot order outside, opponent slot order inside
        for b in opp_squares:
            d = abs(a - b)
            if d <= 4:
                total = _f32(total + _f32(1) / _f32(d + 1))
    return _f32(total / _f32(len(own_squares)))


def _advancement_f32(track_ps, length=14, pieces=7):
    """Features 76/77: float32 sum of p/14 over in-track pieces, divided by 7 (the track's length, the pieces)."""
    total = _f32(0)
    for p in track_ps:  # slot order
        total = _f32(total + _f32(p) / _f32(length))
    return _f32(total / _f32(pieces))


def features(pos, tracks=None, rosettes=ROSETTES, legal_count=None) -> list[float]:
    """The 150 float32 network inputs of docs/features.md, as Python floats.

    Most values are computed exactly (Fraction) and then rounded once to
    float32; three families (53/54, 67/68, 76/77) are accumulated step by
    step in float32 in slot order, as the upstream engine does, which makes
    the result bit-identical to the golden vectors.  Finally every value is
    clamped to [-10, 10].

    Another rule set's features: its `tracks` ({1: squares, 2: squares}),
    `rosettes`, and the mover's number of legal moves `legal_count`; its
    pieces are the length of p1, its centre the squares on both tracks.
    """
    tracks = TRACKS if tracks is None else tracks
    p1, p2, to_move, dice = pos
    F = Fraction
    out = [F(0)] * NUM_FEATURES
    players = {1: tuple(p1), 2: tuple(p2)}
    pieces = len(p1)
    length = len(tracks[1])
    shared = set(tracks[1]) & set(tracks[2])
    legal = len(legal_moves(pos)) if legal_count is None else legal_count

    def on_board(pieces):  # the quirk: 0 <= square <= 20, finished included
        return [sq for sq in pieces if 0 <= sq <= 20]

    def in_track(player):  # track positions of pieces whose square is in the track
        return [tracks[player].index(sq) for sq in players[player] if sq in tracks[player]]

    for k, player in enumerate((1, 2)):
        for slot, sq in enumerate(players[player]):
            out[7 * k + slot] = F(sq, 20) if sq >= 0 else F(-1)
    for sq in players[1]:
        if 0 <= sq <= 19:
            out[14 + sq] = F(1)
    for sq in players[2]:
        if 0 <= sq <= 19:
            out[14 + sq] = F(-1)
    out[35] = F(sum(1 for r in rosettes if r in players[1]) - sum(1 for r in rosettes if r in players[2]))
    out[46] = F(1) if to_move == 1 else F(-1)
    out[47] = F(dice, 4)
    out[48] = F(legal, pieces)
    out[75] = F(players[1].count(FINISHED) - players[2].count(FINISHED), pieces)

    for k, player in enumerate((1, 2)):
        mine = players[player]
        theirs = players[3 - player]
        board = on_board(mine)
        track_ps = in_track(player)
        n_fin = mine.count(FINISHED)
        on_ros = sum(1 for sq in board if sq in rosettes)
        centre = sum(1 for sq in mine if sq in shared)
        not_ros = len(board) - on_ros

        out[36 + k] = F(sum(1 for sq in mine if 0 <= sq <= 19))
        out[38 + k] = F(n_fin)
        out[40 + k] = F(sum(track_ps), len(track_ps)) if track_ps else F(0)
        out[42 + k] = F(on_ros)
        out[44 + k] = F(centre)
        out[49 + k] = out[51 + k] = out[59 + k] = F(not_ros)
        out[53 + k] = _progress_f32(tracks[player], mine)
        out[55 + k] = F(sum(length - p for p in track_ps), pieces)
        out[57 + k] = F(len(board), pieces)
        out[61 + k] = F(on_ros, pieces)
        out[63 + k] = F(centre, pieces)
        n = len(board)
        if n >= 2:
            close = sum(1 for i in range(n) for j in range(i + 1, n) if abs(board[i] - board[j]) <= 3)
            out[65 + k] = F(close, n * (n - 1) // 2)
        out[67 + k] = _pressure_f32(board, on_board(theirs))
        out[69 + k] = sum((F(2) if sq in rosettes else F(1, 2) for sq in board), F(0)) / pieces
        out[71 + k] = F(n_fin, pieces)
        out[73 + k] = (F(n_fin) + F(sum(1 for sq in mine if 0 <= sq <= 19), 2)) / pieces
        out[76 + k] = _advancement_f32(track_ps, length, pieces)

    result = []
    for v in out:
        x = np.float32(v if isinstance(v, np.float32) else float(v))
        x = min(max(x, np.float32(-10.0)), np.float32(10.0))
        result.append(float(x))
    return result


# Search.


def _chance(p1, p2, player, depth, params) -> Fraction:
    """Chance node: mean over ``player``'s five rolls of the rolled value."""
    if depth == 0:
        return Fraction(evaluate((p1, p2), params))
    return sum((prob * _value((p1, p2, player, r), depth, params)[0] for r, prob in enumerate(DICE_PROBS)), Fraction(0))


def _value(pos, depth, params):
    """Exact (value, scores) of a rolled position; see the module docstring."""
    p1, p2, to_move, _ = pos
    if winner(pos) != 0 or depth == 0:
        return Fraction(evaluate(pos, params)), []
    moves = legal_moves(pos)
    if not moves:
        return _chance(p1, p2, 3 - to_move, depth - 1, params), []
    scores = []
    for slot in moves:
        q1, q2, nxt = apply_move(pos, slot)
        if winner((q1, q2, nxt, 0)) != 0:
            scores.append(Fraction(evaluate((q1, q2), params)))
        else:
            scores.append(_chance(q1, q2, nxt, depth - 1, params))
    best = max(scores) if to_move == 2 else min(scores)
    return best, scores


def expectiminimax(pos, depth: int, params=None):
    """Plain unpruned expectiminimax of a rolled position.

    Returns ``(value, scores)`` as floats: ``scores`` holds one value per legal
    move in legal-move order, and is empty when the position passes (dice 0 or
    no legal move), when ``depth == 0`` or when the game is already over.
    """
    prm = DEFAULT_PARAMS if params is None else params
    pos = (tuple(pos[0]), tuple(pos[1]), pos[2], pos[3])
    value, scores = _value(pos, depth, prm)
    return float(value), [float(s) for s in scores]


def chance_value(p1, p2, player: int, depth: int, params=None) -> float:
    """Value of the unrolled position ``(p1, p2)`` with ``player`` about to roll."""
    prm = DEFAULT_PARAMS if params is None else params
    return float(_chance(tuple(p1), tuple(p2), player, depth, prm))
