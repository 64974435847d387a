"""Expectiminimax over the dice, as DESIGN.md defines it.

Depth counts move plies (not chance nodes). The value of a *rolled* position
(dice known) at depth d is:

* the heuristic, if the game is over or d == 0;
* if the roll is 0 or allows no move, the turn passes (one ply): the value is
  the opponent's chance node at depth d - 1;
* otherwise the best over the legal moves of the value after the move — P2
  maximises, P1 minimises (values favour P2). The value after a move is the
  heuristic if the game is over, else the chance node at depth d - 1 of the
  player to move next (the same player after a rosette).

A chance node at depth d averages the rolled positions of its five rolls with
probabilities 1, 4, 6, 4, 1 / 16; at d == 0 it is the heuristic. The search is
exact: no pruning, no cache. Its shortcuts change no value: all passing rolls
of a chance node share one subtree, computed once, and the leaves below a
depth-1 chance node are evaluated incrementally from their parent's sums
(integer arithmetic, so identical to `evaluate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rgou._numba import njit
from rgou._validate import check_int
from rgou.game import (
    DICE,
    STATE_SIZE,
    TO_MOVE,
    _target_square,
    apply_move_inplace,
    is_over,
    legal_moves,
    pass_turn_inplace,
    piece_offset,
)
from rgou.heuristic import (
    DEFAULT_PARAMS,
    POSITION_TERMS,
    POSITION_WEIGHT,
    POSITION_WEIGHT_DIVISOR,
    SCORE_TERMS,
    WIN_SCORE,
    HeuristicParams,
    trunc_div,
    evaluate,
    evaluate_table,
    heuristic_table,
)
from rgou.rules import FINISHED, NUM_PIECES, NUM_ROLLS, P2, ROLL_PROBS

MAX_DEPTH = 6  # about 0.25 s per decision; each ply costs ~25x more
DEFAULT_DEPTH = 3
NO_MOVE = -1


# Per-level frame fields of the explicit search stack (no recursion: Numba's
# cache cannot relink recursive functions into new callers, e.g. prange loops).
_ROLL, _K, _N, _PASSING, _HAVE_PASS = range(5)  # int64 fields
_BEST, _TOTAL, _PASS_VALUE = range(3)  # float64 fields


@njit
def _open_frame(fi, ff, level):
    fi[level, _ROLL] = -1
    fi[level, _K] = 0
    fi[level, _N] = 0
    fi[level, _PASSING] = 0
    fi[level, _HAVE_PASS] = 0
    ff[level, _TOTAL] = 0.0


@njit
def _improves(v, best, maximise):
    return v > best if maximise else v < best


@njit
def _chance_leaf(node, table, params, moves):
    """Chance node at depth 1 (node not over): its leaves are evaluated incrementally.

    A move changes the heuristic's sums by the moved piece's terms and, on a
    capture, the captured piece's; the integer arithmetic is that of
    `evaluate_table`, so values are identical, without copying a child.
    """
    player = node[TO_MOVE]
    me = player - 1
    them = 2 - player
    mine = piece_offset(player)
    theirs = piece_offset(3 - player)
    score = 0
    position = 0
    my_finished = 0
    their_squares = 0  # bitmask of the opponent's board squares
    for i in range(NUM_PIECES):
        cell = node[mine + i] + 1
        score += table[SCORE_TERMS, me, cell]
        position += table[POSITION_TERMS, me, cell]
        my_finished += cell == FINISHED + 1
        sq = node[theirs + i]
        score += table[SCORE_TERMS, them, sq + 1]
        position += table[POSITION_TERMS, them, sq + 1]
        if 0 <= sq < FINISHED:
            their_squares |= 1 << sq
    win = params[WIN_SCORE] if player == P2 else -params[WIN_SCORE]
    weight = params[POSITION_WEIGHT]
    here = np.float64(score + trunc_div(position * weight, POSITION_WEIGHT_DIVISOR))
    maximise = player == P2
    total = 0.0
    for roll in range(NUM_ROLLS):
        node[DICE] = roll
        n = legal_moves(node, moves)
        if n == 0:  # the turn passes: the pieces, hence the heuristic, stay
            total += ROLL_PROBS[roll] * here
            continue
        best = -np.inf if maximise else np.inf
        for k in range(n):
            sq = node[mine + moves[k]]
            target = _target_square(player, sq, roll)
            if target == FINISHED and my_finished + 1 == NUM_PIECES:
                v = np.float64(win)
            else:
                sc = score - table[SCORE_TERMS, me, sq + 1] + table[SCORE_TERMS, me, target + 1]
                pos = position - table[POSITION_TERMS, me, sq + 1] + table[POSITION_TERMS, me, target + 1]
                if target != FINISHED and (their_squares >> target) & 1:
                    sc -= table[SCORE_TERMS, them, target + 1]
                    pos -= table[POSITION_TERMS, them, target + 1]
                v = np.float64(sc + trunc_div(pos * weight, POSITION_WEIGHT_DIVISOR))
            if _improves(v, best, maximise):
                best = v
        total += ROLL_PROBS[roll] * best
    node[DICE] = 0
    return total


@njit
def _chance(stack, moves, fi, ff, level0, depth0, table, params):
    """Value of the chance node stack[level0] (player to move set) at depth0 plies.

    Depth-first over an explicit stack: level L > level0 holds a chance node
    at depth depth0 - (L - level0); stack[L + 1] is its current child. Each
    frame walks its rolls, and for each roll its legal moves (or its one
    shared pass subtree).
    """
    if depth0 == 0 or is_over(stack[level0]):
        return np.float64(evaluate_table(stack[level0], table, params))
    if depth0 == 1:
        return _chance_leaf(stack[level0], table, params, moves[level0])
    level = level0
    _open_frame(fi, ff, level)
    ret = 0.0
    returning = False
    while True:
        node = stack[level]
        child = stack[level + 1]
        depth = depth0 - (level - level0)
        maximise = node[TO_MOVE] == P2
        if returning:
            returning = False
            if fi[level, _PASSING]:
                fi[level, _PASSING] = 0
                fi[level, _HAVE_PASS] = 1
                ff[level, _PASS_VALUE] = ret
                ff[level, _TOTAL] += ROLL_PROBS[fi[level, _ROLL]] * ret
            else:
                if _improves(ret, ff[level, _BEST], maximise):
                    ff[level, _BEST] = ret
                fi[level, _K] += 1
        while True:
            k = fi[level, _K]
            n = fi[level, _N]
            if k < n:
                child[:] = node
                apply_move_inplace(child, moves[level, k])
                over = is_over(child)
                if over or depth == 2:
                    if over:
                        v = np.float64(evaluate_table(child, table, params))
                    else:
                        v = _chance_leaf(child, table, params, moves[level + 1])
                    if _improves(v, ff[level, _BEST], maximise):
                        ff[level, _BEST] = v
                    fi[level, _K] = k + 1
                    continue
                level += 1
                _open_frame(fi, ff, level)
                break
            if n > 0:  # all moves of this roll done
                ff[level, _TOTAL] += ROLL_PROBS[fi[level, _ROLL]] * ff[level, _BEST]
                fi[level, _N] = 0
                fi[level, _K] = 0
            roll = fi[level, _ROLL] + 1
            if roll == NUM_ROLLS:
                node[DICE] = 0
                ret = ff[level, _TOTAL]
                if level == level0:
                    return ret
                level -= 1
                returning = True
                break
            fi[level, _ROLL] = roll
            node[DICE] = roll
            n = legal_moves(node, moves[level])
            if n > 0:
                fi[level, _N] = n
                ff[level, _BEST] = -np.inf if maximise else np.inf
                continue
            if fi[level, _HAVE_PASS]:
                ff[level, _TOTAL] += ROLL_PROBS[roll] * ff[level, _PASS_VALUE]
                continue
            child[:] = node
            pass_turn_inplace(child)
            if depth == 2:
                v = _chance_leaf(child, table, params, moves[level + 1])
                fi[level, _HAVE_PASS] = 1
                ff[level, _PASS_VALUE] = v
                ff[level, _TOTAL] += ROLL_PROBS[roll] * v
                continue
            fi[level, _PASSING] = 1
            level += 1
            _open_frame(fi, ff, level)
            break


@njit
def chance_value(state, depth, params):
    """Value of `state` before its player rolls (its dice entry is ignored): the chance node at `depth`."""
    stack = np.empty((depth + 2, STATE_SIZE), dtype=np.int8)
    moves = np.empty((depth + 2, NUM_PIECES), dtype=np.int8)
    fi = np.empty((depth + 2, 5), dtype=np.int64)
    ff = np.empty((depth + 2, 3), dtype=np.float64)
    stack[0] = state
    return _chance(stack, moves, fi, ff, 0, depth, heuristic_table(params), params)


@njit
def search_into(state, depth, params, scores):
    """Expectiminimax of the rolled position `state` (int8[16]) to `depth` plies.

    Writes each legal move's value into `scores` (float64[7], NaN for illegal
    slots) and returns (value, best_move); best_move is -1 when the position
    passes or the game is over. Ties go to the lowest slot.
    """
    stack = np.empty((depth + 2, STATE_SIZE), dtype=np.int8)
    moves = np.empty((depth + 2, NUM_PIECES), dtype=np.int8)
    fi = np.empty((depth + 2, 5), dtype=np.int64)
    ff = np.empty((depth + 2, 3), dtype=np.float64)
    table = heuristic_table(params)
    stack[0] = state
    for slot in range(NUM_PIECES):
        scores[slot] = np.nan
    if depth == 0 or is_over(state):
        return np.float64(evaluate(state, params)), NO_MOVE
    n = legal_moves(state, moves[0])
    child = stack[1]
    if n == 0:
        child[:] = state
        pass_turn_inplace(child)
        return _chance(stack, moves, fi, ff, 1, depth - 1, table, params), NO_MOVE
    maximise = state[TO_MOVE] == P2
    best = 0.0
    best_move = NO_MOVE
    for k in range(n):
        slot = moves[0, k]
        child[:] = state
        apply_move_inplace(child, slot)
        v = _chance(stack, moves, fi, ff, 1, depth - 1, table, params)
        scores[slot] = v
        if best_move == NO_MOVE or ((v > best) if maximise else (v < best)):
            best = v
            best_move = slot
    return best, best_move


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a search: value (P2's point of view), best move (-1: none) and per-move scores."""

    value: float
    best_move: int
    legal_moves: list[int]
    scores: list[float]  # one per legal move, in legal_moves order


def check_depth(depth: int) -> int:
    """Validate a search depth (1..MAX_DEPTH)."""
    return check_int("depth", depth, 1, MAX_DEPTH)


def expected_value(position, depth: int = DEFAULT_DEPTH, params: HeuristicParams = DEFAULT_PARAMS) -> float:
    """Value of a `Position` before its player rolls (P2's point of view): the mean over the five rolls."""
    return float(chance_value(position.to_array(), np.int64(check_depth(depth)), params.to_array()))


def expectiminimax(position, depth: int = DEFAULT_DEPTH, params: HeuristicParams = DEFAULT_PARAMS) -> SearchResult:
    """Search a rolled `Position` to `depth` move plies (1..MAX_DEPTH).

    The position's dice are its roll: a 0 is a rolled zero, which passes the
    turn (best_move -1). For the value before rolling, use `expected_value`.
    """
    depth = check_depth(depth)
    scores = np.empty(NUM_PIECES, dtype=np.float64)
    value, best = search_into(position.to_array(), np.int64(depth), params.to_array(), scores)
    moves = [int(m) for m in np.flatnonzero(~np.isnan(scores))]
    return SearchResult(float(value), int(best), moves, [float(scores[m]) for m in moves])
