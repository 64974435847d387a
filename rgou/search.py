"""Expectiminimax over the dice, with the leaf evaluator as a parameter.

Depth counts move plies (not chance nodes). The value of a *rolled* position
(dice known) at depth d is:

* the leaf value, if the game is over (a won game is worth +-`leaf.win`) or d == 0;
* if the roll is 0 or allows no move, the turn passes (one ply): the value is
  the opponent's chance node at depth d - 1;
* otherwise the best over the legal moves of the value after the move — P2
  maximises, P1 minimises (values favour P2). The value after a move is the
  won-game value if the game is over, else the chance node at depth d - 1 of
  the player to move next (the same player after a rosette).

A chance node at depth d averages the rolled positions of its five rolls with
probabilities 1, 4, 6, 4, 1 / 16; at d == 0 it is the leaf evaluator's value
of the unrolled position. The leaf evaluators (the heuristic, the value net,
the solved table) live in `rgou.leaves`; this module is the tree walk above
them.

The search is exact: no pruning, no cache. All passing rolls of a chance node
share one subtree, computed once, and of the pieces not yet entered only the
lowest slot is entered (`distinct_moves`: they all reach the same position);
at the root the others get its score. Optionally it counts what it does
(`counts`: positions generated, leaf evaluations, chance nodes expanded);
without a counts array that code is compiled out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import types
from numba.experimental import structref

from rgou._numba import njit
from rgou._validate import check_int, shown
from rgou.features import NUM_FEATURES
from rgou.game import (
    DICE,
    STATE_SIZE,
    TO_MOVE,
    Position,
    apply_move_inplace,
    check_state,
    copy_state_into,
    distinct_moves,
    is_over,
    pass_turn_inplace,
    piece_offset,
)
from rgou.heuristic import (
    DEFAULT_PARAMS,
    HeuristicParams,
    check_params,
    heuristic_score_from_table,
)
from rgou.leaves import (
    COUNT_CHANCE,
    COUNT_GENERATED,
    COUNT_LEAVES,
    LEAF_HEURISTIC,
    LEAF_NET,
    LEAF_TABLE,
    NO_NET_SIZES,
    Leaf,
    chance_leaf_general,
    chance_leaf_heuristic,
    heuristic_leaf,
    improves,
    net_value,
    unrolled_value,
    won_value,
)
from rgou.nn.inference import INFERENCE_WORK_ROWS
from rgou.rules import DEFAULT_RULES, MAX_ROLL, NUM_PIECES, OFF_BOARD, P2, ROLL_PROBS
from rgou.specialise import specialise

MAX_DEPTH = 6  # about 0.25 s per decision with the heuristic; each ply costs ~25x more
DEFAULT_DEPTH = 3
NO_MOVE = -1


@structref.register
class WorkType(types.StructRef):
    """Numba type of `Work`."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class Work(structref.StructRefProxy):
    """Scratch of one search (one per thread): the explicit stack and the net's buffers.

    stack int8 [depth + 2, 16] (positions along the current line), moves int8
    [depth + 2, 7], fi int64 [depth + 2, 5] and ff float64 [depth + 2, 3]
    (frame fields), x float32 [150] (features), pre float32 [first hidden
    width] (a chance node's shared first-layer sums), hidden float32 [first
    hidden width] (one roll's first layer), out float32 [1], buf float32
    [INFERENCE_WORK_ROWS, widest layer, inputs included] (inference scratch).
    """


structref.define_proxy(Work, WorkType, ("stack", "moves", "fi", "ff", "x", "pre", "hidden", "out", "buf"))


@njit
def make_work(depth, leaf, extra_sizes):
    """Scratch for searches up to `depth` plies with `leaf` (and a net of widths `extra_sizes`, e.g. a policy)."""
    rows = depth + 2
    first = 1
    widest = 1
    for sizes in (leaf.sizes, extra_sizes):
        if sizes.shape[0] > 2:
            first = max(first, sizes[1])
        for k in range(sizes.shape[0]):
            widest = max(widest, sizes[k])
    return Work(
        np.empty((rows, STATE_SIZE), dtype=np.int8),
        np.empty((rows, NUM_PIECES), dtype=np.int8),
        np.empty((rows, 5), dtype=np.int64),
        np.empty((rows, 3), dtype=np.float64),
        np.zeros(NUM_FEATURES, dtype=np.float32),
        np.zeros(first, dtype=np.float32),
        np.zeros(first, dtype=np.float32),
        np.zeros(1, dtype=np.float32),
        np.zeros((INFERENCE_WORK_ROWS, widest), dtype=np.float32),
    )


def leaf_work(depth: int, leaf: Leaf) -> Work:
    """Scratch for searches up to `depth` plies with `leaf`."""
    return make_work(np.int64(depth), leaf, NO_NET_SIZES)


# The search.


# Per-level frame fields of the explicit search stack (no recursion: Numba's
# cache cannot relink recursive functions into new callers).
_ROLL, _K, _N, _PASSING, _HAVE_PASS = range(5)  # int64 fields
_BEST, _TOTAL, _PASS_VALUE = range(3)  # float64 fields


@njit(no_alloc=True)
def _open_frame(fi, ff, level):
    fi[level, _ROLL] = -1
    fi[level, _K] = 0
    fi[level, _N] = 0
    fi[level, _PASSING] = 0
    fi[level, _HAVE_PASS] = 0
    ff[level, _TOTAL] = 0.0


@njit(inline="always")
def _below(child, scratch, child_moves, depth, table, params, leaf, work, counts):
    """Value of `child` (not over) one or two plies above the leaves: a leaf (depth 1) or a chance node of leaves.

    The heuristic (leaf None) values them incrementally, in integer arithmetic;
    the others position by position (scratch: a state for the chance node's children).
    """
    if depth == 1:
        if counts is not None:
            counts[COUNT_LEAVES] += 1
        if leaf is None:
            return np.float64(heuristic_score_from_table(child, table, params))
        return unrolled_value(child, leaf, work, table, params)
    if counts is not None:
        counts[COUNT_CHANCE] += 1
    if leaf is None:
        return chance_leaf_heuristic(child, table, params, child_moves, counts)
    return chance_leaf_general(child, scratch, leaf, work, child_moves, counts)


def _search_loop(stack, moves, fi, ff, table, params, win, leaf, work, depth0, rolled, scores, counts):
    """Expectiminimax of the root stack[0] to depth0 >= 1 plies; the root is not over.

    rolled: the root is a rolled position (its dice set; each move's value is
    written into scores[slot]), else a chance node (its dice ignored).
    Depth-first over an explicit stack: level L holds a node at depth
    depth0 - L whose current child is stack[L + 1]. Each frame walks its rolls
    (a rolled root: its one roll), and for each roll its legal moves (or its
    one shared pass subtree). A child at depth 0 is a leaf; at depth 1 it is
    valued by `_chance_leaf_heuristic` (incremental) or `_chance_leaf_general`.

    stack, moves, fi, ff: the Work's arrays; table, params, win: the Leaf's.
    leaf and work are None for the heuristic: Numba then prunes every branch
    that reads them (`_search`).
    """
    last_roll = stack[0, DICE] if rolled else MAX_ROLL
    level = 0
    _open_frame(fi, ff, 0)
    if rolled:
        fi[0, _ROLL] = last_roll - 1  # the root frame walks its own roll only
    elif counts is not None:
        counts[COUNT_CHANCE] += 1
    ret = 0.0
    returning = False
    while True:
        node = stack[level]
        child = stack[level + 1]
        depth = depth0 - level
        maximise = node[TO_MOVE] == P2
        root = rolled and level == 0
        if returning:
            returning = False
            prob = 1.0 if root else ROLL_PROBS[fi[level, _ROLL]]
            if fi[level, _PASSING]:
                fi[level, _PASSING] = 0
                fi[level, _HAVE_PASS] = 1
                ff[level, _PASS_VALUE] = ret
                ff[level, _TOTAL] += prob * ret
            else:
                if root:
                    scores[moves[0, fi[0, _K]]] = ret
                if improves(ret, ff[level, _BEST], maximise):
                    ff[level, _BEST] = ret
                fi[level, _K] += 1
        while True:
            k = fi[level, _K]
            n = fi[level, _N]
            if k < n:
                copy_state_into(child, node)
                apply_move_inplace(child, moves[level, k])
                if counts is not None:
                    counts[COUNT_GENERATED] += 1
                if is_over(child):
                    if counts is not None:
                        counts[COUNT_LEAVES] += 1
                    v = won_value(child, win)
                elif depth <= 2:
                    v = _below(child, stack[level + 2], moves[level + 1], depth, table, params, leaf, work, counts)
                else:
                    level += 1
                    _open_frame(fi, ff, level)
                    if counts is not None:
                        counts[COUNT_CHANCE] += 1
                    break
                if root:
                    scores[moves[0, k]] = v
                if improves(v, ff[level, _BEST], maximise):
                    ff[level, _BEST] = v
                fi[level, _K] = k + 1
                continue
            prob = 1.0 if root else ROLL_PROBS[fi[level, _ROLL]]
            if n > 0:  # all moves of this roll done
                ff[level, _TOTAL] += prob * ff[level, _BEST]
                fi[level, _N] = 0
                fi[level, _K] = 0
            roll = fi[level, _ROLL] + 1
            if roll > (last_roll if root else MAX_ROLL):
                if not root:
                    node[DICE] = 0
                ret = ff[level, _TOTAL]
                if level == 0:
                    return ret
                level -= 1
                returning = True
                break
            fi[level, _ROLL] = roll
            node[DICE] = roll
            prob = 1.0 if root else ROLL_PROBS[roll]
            n = distinct_moves(node, moves[level])
            if n > 0:
                fi[level, _N] = n
                ff[level, _BEST] = -np.inf if maximise else np.inf
                continue
            if fi[level, _HAVE_PASS]:
                ff[level, _TOTAL] += prob * ff[level, _PASS_VALUE]
                continue
            copy_state_into(child, node)
            pass_turn_inplace(child)
            if counts is not None:
                counts[COUNT_GENERATED] += 1
            if depth <= 2:
                v = _below(child, stack[level + 2], moves[level + 1], depth, table, params, leaf, work, counts)
            else:
                fi[level, _PASSING] = 1
                level += 1
                _open_frame(fi, ff, level)
                if counts is not None:
                    counts[COUNT_CHANCE] += 1
                break
            fi[level, _HAVE_PASS] = 1
            ff[level, _PASS_VALUE] = v
            ff[level, _TOTAL] += prob * v


# One loop, compiled twice. With the heuristic (leaf and work None) nothing
# in it reads a structref, so it compiles without reference counting, which
# had cost an atomic increment and decrement per array view in the loop; the
# other leaves read the Leaf and Work structrefs and keep their counts.
_search_heuristic = njit(no_alloc=True)(_search_loop)
_search_leaf = njit(_search_loop)


@njit(inline="always")
def _search(work, leaf, depth0, rolled, scores, counts):
    """`_search_loop` on the fields of `work` and `leaf`, the heuristic's without reference counting."""
    if leaf.kind == LEAF_HEURISTIC:
        return _search_heuristic(
            work.stack, work.moves, work.fi, work.ff, leaf.table, leaf.params, leaf.win, None, None, depth0, rolled,
            scores, counts,
        )  # fmt: skip
    return _search_leaf(
        work.stack, work.moves, work.fi, work.ff, leaf.table, leaf.params, leaf.win, leaf, work, depth0, rolled,
        scores, counts,
    )  # fmt: skip


@njit
def chance_value_into(state, depth, leaf, work, counts):
    """Value of `state` before its player rolls (its dice entry is ignored): the chance node at `depth`."""
    node = work.stack[0]
    node[:] = state
    node[DICE] = 0
    if is_over(node):
        if counts is not None:
            counts[COUNT_LEAVES] += 1
        return won_value(node, leaf.win)
    if depth == 0:
        if counts is not None:
            counts[COUNT_LEAVES] += 1
        return unrolled_value(node, leaf, work, leaf.table, leaf.params)
    return _search(work, leaf, depth, False, work.ff[0], counts)


@njit(no_alloc=True)
def _copy_entering_scores(state, scores):
    """Give every piece not yet entered the score of the lowest such slot (the one searched; same position)."""
    base = piece_offset(state[TO_MOVE])
    first = NO_MOVE
    for slot in range(NUM_PIECES):
        if state[base + slot] == OFF_BOARD:
            if first == NO_MOVE:
                first = slot
            else:
                scores[slot] = scores[first]


@njit
def search_into(state, depth, leaf, work, scores, counts):
    """Expectiminimax of the rolled position `state` (int8[16]) to `depth` plies with `leaf`.

    Writes each legal move's value into `scores` (float64[7], NaN for illegal
    slots) and returns (value, best_move); best_move is -1 when the position
    passes or the game is over. Ties go to the lowest slot. work: `make_work`
    for at least `depth` plies; counts: int64[3] to count into, or None.
    At depth 0 the value is the leaf's of the rolled position (the heuristic,
    or the value net).
    """
    for slot in range(NUM_PIECES):
        scores[slot] = np.nan
    if counts is not None:
        counts[COUNT_GENERATED] += 1
    if is_over(state):
        if counts is not None:
            counts[COUNT_LEAVES] += 1
        return won_value(state, leaf.win), NO_MOVE
    if depth == 0 and leaf.kind == LEAF_TABLE:
        depth = 1  # the exact value of a rolled position: its best move's exact value
    if depth == 0:
        if counts is not None:
            counts[COUNT_LEAVES] += 1
        if leaf.kind == LEAF_NET:
            return net_value(state, leaf, work), NO_MOVE
        return np.float64(heuristic_score_from_table(state, leaf.table, leaf.params)), NO_MOVE
    work.stack[0] = state
    value = _search(work, leaf, depth, True, scores, counts)
    _copy_entering_scores(state, scores)
    maximise = state[TO_MOVE] == P2
    best_move = NO_MOVE
    for slot in range(NUM_PIECES):
        v = scores[slot]
        if not np.isnan(v) and (best_move == NO_MOVE or improves(v, scores[best_move], maximise)):
            best_move = slot
    return value, best_move


@njit
def deepen_close_calls(state, depth, leaf, work, scores, gap, value, best, child, candidates):
    """Search again, one ply deeper, the moves of `search_into` whose scores are within `gap` of the best.

    state: the rolled position `search_into(state, depth, ...)` searched;
    scores (float64 [7], P2's point of view), value and best: its results.
    Each distinct move scoring within `gap` (the leaf's units) of the best
    gets the chance node after it at `depth` (one ply deeper) as its new
    score, and the best of them is chosen (ties: the lowest slot). With
    fewer than two such moves nothing is searched and (value, best) stand.
    Returns (value, best_move) like `search_into`. child int8 [16] (a
    move's position) and candidates int8 [7] (the close moves) are scratch;
    work must hold searches of `depth` plies.
    """
    if best == NO_MOVE:
        return value, best
    maximise = state[TO_MOVE] == P2
    sign = 1.0 if maximise else -1.0
    n = distinct_moves(state, candidates)
    top = sign * scores[best]
    k = 0
    for i in range(n):
        if sign * scores[candidates[i]] >= top - gap:
            candidates[k] = candidates[i]
            k += 1
    if k < 2:
        return value, best
    best = NO_MOVE
    for i in range(k):
        slot = candidates[i]
        copy_state_into(child, state)
        apply_move_inplace(child, slot)
        v = chance_value_into(child, depth, leaf, work, None)  # a won game: +-leaf.win
        scores[slot] = v
        if best == NO_MOVE or improves(v, scores[best], maximise):
            best = slot
    _copy_entering_scores(state, scores)
    return scores[best], best


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a search: value (P2's point of view), best move (-1: none) and per-move scores."""

    value: float
    best_move: int
    legal_moves: list[int]
    scores: list[float]  # one per legal move, in legal_moves order


def check_depth(depth: int, low: int = 1) -> int:
    """Validate a search depth (low..MAX_DEPTH)."""
    return check_int("depth", depth, low, MAX_DEPTH)


def _kernels_for(position: Position, leaf: Leaf | None, params: HeuristicParams):
    """This module compiled for the position's rule set; other rule sets search on their heuristic here.

    The arguments' types are checked here, before any kernel sees them. A
    leaf cannot say its rule set (a net leaf's model is the caller's): a
    model of another rule set searches through its agent (`MLAgent(weights)`).
    """
    if not isinstance(position, Position):
        raise TypeError(
            f"position must be a rgou.Position (Position.from_array(state) wraps a state array), got {shown(position)}"
        )
    if leaf is not None and not isinstance(leaf, Leaf):
        raise TypeError(f"leaf must be a Leaf (heuristic_leaf, net_leaf, table_leaf) or None, got {shown(leaf)}")
    check_params(params)
    rules = position.rules
    if leaf is not None and rules != DEFAULT_RULES:
        raise ValueError(
            f"leaf: the {rules} rules are searched on their own heuristic (leave leaf out); "
            "a model of the rule set searches through MLAgent(weights)"
        )
    return specialise(__name__, rules)


def expected_value(
    position: Position, depth: int = DEFAULT_DEPTH, params: HeuristicParams = DEFAULT_PARAMS, leaf: Leaf | None = None
) -> float:
    """Value of a `Position` before its player rolls (P2's point of view): the mean over the five rolls."""
    depth = check_depth(depth)
    kernels = _kernels_for(position, leaf, params)
    leaf = kernels.heuristic_leaf(params) if leaf is None else leaf
    work = kernels.leaf_work(depth, leaf)
    return float(kernels.chance_value_into(position.to_array(), np.int64(depth), leaf, work, None))


def expectiminimax(
    position: Position, depth: int = DEFAULT_DEPTH, params: HeuristicParams = DEFAULT_PARAMS, leaf: Leaf | None = None
) -> SearchResult:
    """Search a rolled `Position` to `depth` move plies (1..MAX_DEPTH).

    The position's dice are its roll: a 0 is a rolled zero, which passes the
    turn (best_move -1). For the value before rolling, use `expected_value`.
    `leaf` defaults to the heuristic with `params`.
    """
    depth = check_depth(depth)
    kernels = _kernels_for(position, leaf, params)
    leaf = kernels.heuristic_leaf(params) if leaf is None else leaf
    scores = np.empty(kernels.NUM_PIECES, dtype=np.float64)
    work = kernels.leaf_work(depth, leaf)
    value, best = kernels.search_into(position.to_array(), np.int64(depth), leaf, work, scores, None)
    moves = [int(m) for m in np.flatnonzero(~np.isnan(scores))]
    return SearchResult(float(value), int(best), moves, [float(scores[m]) for m in moves])


def count_nodes(state: np.ndarray, depth: int, leaf: Leaf | None = None) -> tuple[float, np.ndarray]:
    """The search's value of a rolled state and what it did: int64[3] (generated, leaves, chance nodes).

    state: integers [STATE_SIZE] (a Finkel position, `Position.to_array()`),
    checked first; depth 1..MAX_DEPTH; leaf: the heuristic's when None.
    """
    state, depth = check_state(state), check_depth(depth)
    if leaf is not None and not isinstance(leaf, Leaf):
        raise TypeError(f"leaf must be a Leaf (heuristic_leaf, net_leaf, table_leaf) or None, got {shown(leaf)}")
    leaf = heuristic_leaf() if leaf is None else leaf
    counts = np.zeros(3, dtype=np.int64)
    work = leaf_work(depth, leaf)
    value, _ = search_into(state, np.int64(depth), leaf, work, np.empty(NUM_PIECES), counts)
    return float(value), counts
