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
of the unrolled position. The leaf evaluator (`Leaf`, data so that Numba
caches one kernel for all of them) is one of:

* `LEAF_HEURISTIC`: the heuristic `evaluate` (points; a won game is worth
  win_score). Leaves below a depth-1 chance node are evaluated incrementally
  from their parent's per-piece sums, in integer arithmetic, so identically.
* `LEAF_NET`: the value network (in [-1, 1]; a won game is worth 1). The
  net values rolled positions, so the leaf of an unrolled position is the
  chance node over its five rolls; a roll that passes is either asked of the
  net too (`exact_passes=False`) or valued as the opponent's chance node,
  solved in closed form (`exact_passes=True`, see `net_chance_value`).
  A net trained on the value before the roll (the `exact-unrolled` target)
  values the pieces alone, whatever roll its inputs hold: its leaf is the
  net at one roll, `UNROLLED_ROLL` (`unrolled=True`): one evaluation
  instead of five.
* `LEAF_TABLE`: exact win probabilities of a solved game (2 P(P2 wins) - 1).

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
from rgou._validate import check_int
from rgou.features import FEATURE_BLOCKS, NUM_FEATURES, features_into
from rgou.game import (
    DICE,
    STATE_SIZE,
    TO_MOVE,
    _target_square,
    apply_move_inplace,
    copy_state_into,
    count_legal_moves,
    distinct_moves,
    is_over,
    pass_turn_inplace,
    piece_offset,
    swap_colours_inplace,
    winner,
)
from rgou.heuristic import (
    DEFAULT_PARAMS,
    POSITION_TERMS,
    POSITION_WEIGHT,
    POSITION_WEIGHT_DIVISOR,
    SCORE_TERMS,
    WIN_SCORE,
    HeuristicParams,
    evaluate_table,
    heuristic_table,
    trunc_div,
)
from rgou.nn.inference import INFERENCE_WORK_ROWS, dense_into, forward_one_from_into, forward_one_into
from rgou.nn.layout import weight_row_offset
from rgou.rules import FINISHED, MAX_ROLL, NUM_PIECES, NUM_ROLLS, OFF_BOARD, P1, P2, ROLL_PROBS
from rgou.solve.lookup import p2_win_probability

MAX_DEPTH = 6  # about 0.25 s per decision with the heuristic; each ply costs ~25x more
DEFAULT_DEPTH = 3
NO_MOVE = -1

LEAF_HEURISTIC = 0
LEAF_NET = 1
LEAF_TABLE = 2
NET_WIN = 1.0  # a won game, for the value net and the exact table
UNROLLED_ROLL = 2  # the roll an unrolled net's leaf is asked at: the most likely one (6 in 16)

# counts[] slots
COUNT_GENERATED = 0  # positions generated: the root, every apply_move and every pass
COUNT_LEAVES = 1  # leaf evaluations (incl. finished games)
COUNT_CHANCE = 2  # chance nodes expanded (depth >= 1)

# The features that differ between the rolls (and the player to move) of one set of pieces.
TO_MOVE_FEATURE = FEATURE_BLOCKS["to_move"].start
DICE_FEATURE = FEATURE_BLOCKS["dice"].start
LEGAL_FEATURE = FEATURE_BLOCKS["legal_moves"].start


@structref.register
class LeafType(types.StructRef):
    """Numba type of `Leaf` (one reference: cheap to pass to kernels, unlike a tuple of arrays)."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class Leaf(structref.StructRefProxy):
    """A leaf evaluator as data: what the search, the agents and the game loop pass around.

    Fields: kind (LEAF_*), params int64 [8] and table int64 [2, 2, 22] (the
    heuristic), win (the value of a won game for P2: win_score, or 1.0), net
    float32 [P] and sizes int64 [L+1] (the value net; empty unless LEAF_NET),
    exact float32 [positions] (a solved table; empty unless LEAF_TABLE),
    exact_passes (LEAF_NET: value passing rolls as the opponent's chance node),
    unrolled (LEAF_NET: the net values the pieces before the roll; ask it at
    `UNROLLED_ROLL` alone), mirrored (LEAF_NET: value an unrolled position as
    the mean of the net's value of it and minus its value of its colour swap).
    Build with `heuristic_leaf` or `net_leaf`.
    """


LEAF_FIELDS = ("kind", "params", "table", "win", "net", "sizes", "exact", "exact_passes", "unrolled", "mirrored")
structref.define_proxy(Leaf, LeafType, LEAF_FIELDS)


@njit
def _new_leaf(kind, params, table, win, net, sizes, exact, exact_passes, unrolled, mirrored):
    return Leaf(kind, params, table, win, net, sizes, exact, exact_passes, unrolled, mirrored)


_NO_NET = np.zeros(0, np.float32)
_NO_NET_SIZES = np.array([NUM_FEATURES, 1], np.int64)
_NO_EXACT = np.zeros(0, np.float32)
_NO_EXACT.setflags(write=False)  # solved tables are read-only (memory-mapped): one Leaf type for all kinds


def heuristic_leaf(params: HeuristicParams = DEFAULT_PARAMS) -> Leaf:
    """The heuristic evaluator (values in points, P2's point of view)."""
    p = params.to_array()
    win = float(p[WIN_SCORE])
    return _new_leaf(LEAF_HEURISTIC, p, heuristic_table(p), win, _NO_NET, _NO_NET_SIZES, _NO_EXACT, False, False, False)


def net_leaf(
    value: np.ndarray,
    sizes: np.ndarray,
    exact_passes: bool = False,
    params: HeuristicParams = DEFAULT_PARAMS,
    unrolled: bool = False,
    mirrored: bool = False,
) -> Leaf:
    """The value-net evaluator over a flat float32 vector `value` with layer widths `sizes` (int64 [L+1]).

    exact_passes: value a passing roll as the opponent's chance node instead
    of asking the net. unrolled: the net was trained on the value before the
    roll, so an unrolled position's leaf is the net at `UNROLLED_ROLL` alone
    (not the mean over the five rolls). mirrored: a leaf is the mean of the
    net's value of the position and minus its value of the colour-swapped
    position (`rgou.game.swap_colours_inplace`): twice the work, a smaller error.
    """
    p = params.to_array()
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    if len(sizes) < 3 or sizes[0] != NUM_FEATURES or sizes[-1] != 1:
        raise ValueError(f"a value-net leaf needs widths [{NUM_FEATURES}, hidden..., 1], got {sizes.tolist()}")
    if exact_passes and unrolled:
        raise ValueError("a value-net leaf is unrolled or solves passes exactly, not both: unrolled asks no roll")
    return _new_leaf(
        LEAF_NET,
        p,
        heuristic_table(p),
        NET_WIN,
        np.ascontiguousarray(value, dtype=np.float32),
        sizes,
        _NO_EXACT,
        bool(exact_passes),
        bool(unrolled),
        bool(mirrored),
    )


@njit
def _leaf_fields(leaf):
    return (
        leaf.kind,
        leaf.params,
        leaf.table,
        leaf.win,
        leaf.net,
        leaf.sizes,
        leaf.exact,
        leaf.exact_passes,
        leaf.unrolled,
        leaf.mirrored,
    )


def _fresh(a: np.ndarray) -> np.ndarray:
    """The same memory under a new NumPy owner, so Numba gives it its own reference count."""
    out = np.frombuffer(memoryview(a).cast("B"), dtype=a.dtype).reshape(a.shape)
    if not a.flags.writeable:
        out.setflags(write=False)
    return out


def thread_copy(leaf: Leaf) -> Leaf:
    """`leaf` for one thread: the same arrays (not copied) under their own reference counts.

    Numba counts references to a Leaf and to its arrays with atomic
    instructions on every pass of the leaf to a function; two threads playing
    one Leaf contend for those counters and ran slower together than one
    thread alone. Each thread of the game loop plays its own copy.
    """
    return _new_leaf(*(_fresh(f) if isinstance(f, np.ndarray) else f for f in _leaf_fields(leaf)))


def table_leaf(values: np.ndarray, params: HeuristicParams = DEFAULT_PARAMS) -> Leaf:
    """The exact evaluator over a solved 7-piece table's values (float32, `rgou.solve.Table.values`)."""
    from rgou.solve.index import position_count

    count = position_count(NUM_PIECES)
    if values.dtype != np.float32 or values.ndim != 1 or len(values) != count:
        raise ValueError(
            f"an exact leaf needs a solved {NUM_PIECES}-piece table (float32[{count}]), "
            f"got {values.dtype}{list(values.shape)}"
        )
    exact = values.view()
    exact.setflags(write=False)
    p = params.to_array()
    return _new_leaf(LEAF_TABLE, p, heuristic_table(p), NET_WIN, _NO_NET, _NO_NET_SIZES, exact, False, False, False)


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
    return make_work(np.int64(depth), leaf, _NO_NET_SIZES)


# Leaf values.


@njit(no_alloc=True)
def won_value(state, win):
    """Value of a finished game: +win if P2 won, -win if P1 did."""
    return win if winner(state) == P2 else -win


@njit(no_alloc=True)
def _roll_values(node, flat, sizes, pre, hidden, out, buf, player, skip_passes):
    """Sum over the rolls of `player` of P(roll) * net value, and the probability of the skipped passing rolls.

    pre holds the first layer's sums without the to-move, dice and legal-move
    features; each roll adds their three weight rows. flat, sizes: the value
    net; hidden, out, buf: the search's scratch (`Work`).
    """
    width = sizes[1]
    move_row = weight_row_offset(sizes, 0, TO_MOVE_FEATURE)
    dice_row = weight_row_offset(sizes, 0, DICE_FEATURE)
    legal_row = weight_row_offset(sizes, 0, LEGAL_FEATURE)
    to_move = np.float32(1.0) if player == P1 else np.float32(-1.0)
    node[TO_MOVE] = player
    passing = 0.0
    total = 0.0
    for roll in range(NUM_ROLLS):
        node[DICE] = roll
        count = count_legal_moves(node)
        if count == 0 and skip_passes:
            passing += ROLL_PROBS[roll]
            continue
        dice = np.float32(roll) / np.float32(MAX_ROLL)
        legal = np.float32(count) / np.float32(NUM_PIECES)
        for j in range(width):
            h = pre[j] + to_move * flat[move_row + j] + dice * flat[dice_row + j] + legal * flat[legal_row + j]
            hidden[j] = h if h > 0.0 else 0.0
        forward_one_from_into(flat, sizes, 1, hidden, out, buf)
        total += ROLL_PROBS[roll] * np.tanh(out[0])
    node[DICE] = 0
    return total, passing


@njit
def net_chance_value(node, leaf, work):
    """Value-net leaf of the unrolled position `node` (game not over), P2's point of view.

    With leaf.mirrored, the mean of the net's value of `node` and minus its
    value of the colour-swapped position (the same position for the other
    colour, whose P2 is node's P1): the net was trained on both colours, and
    its two answers err differently. `node` is swapped back before returning.
    """
    value = _net_chance_one(node, leaf, work)
    if not leaf.mirrored:
        return value
    swap_colours_inplace(node)
    swapped = _net_chance_one(node, leaf, work)
    swap_colours_inplace(node)
    return 0.5 * (value - swapped)


@njit
def _net_chance_one(node, leaf, work):
    """The net's chance node over the rolls of the unrolled position `node`.

    The rolls of one set of pieces differ only in the to-move, dice and
    legal-move features, so the first layer is computed once without them.
    With leaf.exact_passes, a roll of the mover X that passes is valued as the
    opponent Y's chance node, and vice versa: V_X = A_X + q_X V_Y and
    V_Y = A_Y + q_Y V_X, where A sums P(roll) * net over the rolls with a move
    and q is the passing probability, so V_X = (A_X + q_X A_Y) / (1 - q_X q_Y).
    Otherwise every roll is asked of the net. With leaf.unrolled the net
    values the pieces whatever the roll: it is asked at `UNROLLED_ROLL` alone.
    """
    # Each field read of a structref costs two atomic reference counts: read them once.
    flat, sizes, x, pre, hidden, out, buf = leaf.net, leaf.sizes, work.x, work.pre, work.hidden, work.out, work.buf
    if leaf.unrolled:
        node[DICE] = UNROLLED_ROLL
        features_into(node, x)
        node[DICE] = 0
        forward_one_into(flat, sizes, x, out, buf)
        return np.float64(np.tanh(out[0]))
    exact_passes = leaf.exact_passes
    player = node[TO_MOVE]
    features_into(node, x)
    x[TO_MOVE_FEATURE] = 0.0
    x[DICE_FEATURE] = 0.0
    x[LEGAL_FEATURE] = 0.0
    dense_into(flat, sizes, 0, x, pre, False, buf)
    a_x, q_x = _roll_values(node, flat, sizes, pre, hidden, out, buf, player, exact_passes)
    if not exact_passes or q_x == 0.0:
        node[TO_MOVE] = player
        return a_x
    a_y, q_y = _roll_values(node, flat, sizes, pre, hidden, out, buf, 3 - player, True)
    node[TO_MOVE] = player
    return (a_x + q_x * a_y) / (1.0 - q_x * q_y)


@njit
def net_value(state, leaf, work):
    """Value net of one rolled position (tanh output, P2's point of view): the network's own answer."""
    features_into(state, work.x)
    forward_one_into(leaf.net, leaf.sizes, work.x, work.out, work.buf)
    return np.float64(np.tanh(work.out[0]))


@njit
def _table_value(node, leaf):
    """Exact leaf: 2 P(P2 wins) - 1 of the unrolled position (not over), from the solved table."""
    return 2.0 * p2_win_probability(leaf.exact, node) - 1.0


@njit
def _unrolled_value(node, leaf, work, table, params):
    """Leaf value of an unrolled position whose game is not over (a chance node at depth 0)."""
    if leaf.kind == LEAF_HEURISTIC:
        return np.float64(evaluate_table(node, table, params))
    if leaf.kind == LEAF_NET:
        return net_chance_value(node, leaf, work)
    return _table_value(node, leaf)


# Chance nodes at depth 1.


@njit(no_alloc=True)
def _improves(v, best, maximise):
    return v > best if maximise else v < best


@njit(no_alloc=True)
def _chance_leaf_heuristic(node, table, params, moves, counts):
    """Chance node at depth 1 (node not over), heuristic leaves evaluated incrementally.

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
    passed = False
    for roll in range(NUM_ROLLS):
        node[DICE] = roll
        n = distinct_moves(node, moves)
        if n == 0:  # the turn passes: the pieces, hence the heuristic, stay
            if counts is not None and not passed:
                counts[COUNT_GENERATED] += 1
                counts[COUNT_LEAVES] += 1
            passed = True
            total += ROLL_PROBS[roll] * here
            continue
        if counts is not None:
            counts[COUNT_GENERATED] += n
            counts[COUNT_LEAVES] += n
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
def _chance_leaf_general(node, child, leaf, work, moves, counts):
    """Chance node at depth 1 (node not over) for leaves valued position by position; child is scratch."""
    maximise = node[TO_MOVE] == P2
    table = leaf.table
    params = leaf.params
    total = 0.0
    have_pass = False
    pass_value = 0.0
    for roll in range(NUM_ROLLS):
        node[DICE] = roll
        n = distinct_moves(node, moves)
        if n == 0:
            if not have_pass:
                child[:] = node
                pass_turn_inplace(child)
                if counts is not None:
                    counts[COUNT_GENERATED] += 1
                    counts[COUNT_LEAVES] += 1
                pass_value = _unrolled_value(child, leaf, work, table, params)
                have_pass = True
            total += ROLL_PROBS[roll] * pass_value
            continue
        best = -np.inf if maximise else np.inf
        for k in range(n):
            child[:] = node
            apply_move_inplace(child, moves[k])
            if counts is not None:
                counts[COUNT_GENERATED] += 1
                counts[COUNT_LEAVES] += 1
            if is_over(child):
                v = won_value(child, leaf.win)
            else:
                v = _unrolled_value(child, leaf, work, table, params)
            if _improves(v, best, maximise):
                best = v
        total += ROLL_PROBS[roll] * best
    node[DICE] = 0
    return total


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
                if _improves(ret, ff[level, _BEST], maximise):
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
                elif depth == 1:
                    if counts is not None:
                        counts[COUNT_LEAVES] += 1
                    if leaf is None:
                        v = np.float64(evaluate_table(child, table, params))
                    else:
                        v = _unrolled_value(child, leaf, work, table, params)
                elif depth == 2:
                    if counts is not None:
                        counts[COUNT_CHANCE] += 1
                    if leaf is None:
                        v = _chance_leaf_heuristic(child, table, params, moves[level + 1], counts)
                    else:
                        v = _chance_leaf_general(child, stack[level + 2], leaf, work, moves[level + 1], counts)
                else:
                    level += 1
                    _open_frame(fi, ff, level)
                    if counts is not None:
                        counts[COUNT_CHANCE] += 1
                    break
                if root:
                    scores[moves[0, k]] = v
                if _improves(v, ff[level, _BEST], maximise):
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
            if depth == 1:
                if counts is not None:
                    counts[COUNT_LEAVES] += 1
                if leaf is None:
                    v = np.float64(evaluate_table(child, table, params))
                else:
                    v = _unrolled_value(child, leaf, work, table, params)
            elif depth == 2:
                if counts is not None:
                    counts[COUNT_CHANCE] += 1
                if leaf is None:
                    v = _chance_leaf_heuristic(child, table, params, moves[level + 1], counts)
                else:
                    v = _chance_leaf_general(child, stack[level + 2], leaf, work, moves[level + 1], counts)
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
        return _unrolled_value(node, leaf, work, leaf.table, leaf.params)
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
        return np.float64(evaluate_table(state, leaf.table, leaf.params)), NO_MOVE
    work.stack[0] = state
    value = _search(work, leaf, depth, True, scores, counts)
    _copy_entering_scores(state, scores)
    maximise = state[TO_MOVE] == P2
    best_move = NO_MOVE
    for slot in range(NUM_PIECES):
        v = scores[slot]
        if not np.isnan(v) and (best_move == NO_MOVE or _improves(v, scores[best_move], maximise)):
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
        if best == NO_MOVE or _improves(v, scores[best], maximise):
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


def expected_value(
    position, depth: int = DEFAULT_DEPTH, params: HeuristicParams = DEFAULT_PARAMS, leaf: Leaf | None = None
) -> float:
    """Value of a `Position` before its player rolls (P2's point of view): the mean over the five rolls."""
    depth = check_depth(depth)
    leaf = heuristic_leaf(params) if leaf is None else leaf
    work = leaf_work(depth, leaf)
    return float(chance_value_into(position.to_array(), np.int64(depth), leaf, work, None))


def expectiminimax(
    position, depth: int = DEFAULT_DEPTH, params: HeuristicParams = DEFAULT_PARAMS, leaf: Leaf | None = None
) -> SearchResult:
    """Search a rolled `Position` to `depth` move plies (1..MAX_DEPTH).

    The position's dice are its roll: a 0 is a rolled zero, which passes the
    turn (best_move -1). For the value before rolling, use `expected_value`.
    `leaf` defaults to the heuristic with `params`.
    """
    depth = check_depth(depth)
    leaf = heuristic_leaf(params) if leaf is None else leaf
    scores = np.empty(NUM_PIECES, dtype=np.float64)
    work = leaf_work(depth, leaf)
    value, best = search_into(position.to_array(), np.int64(depth), leaf, work, scores, None)
    moves = [int(m) for m in np.flatnonzero(~np.isnan(scores))]
    return SearchResult(float(value), int(best), moves, [float(scores[m]) for m in moves])


def count_nodes(state: np.ndarray, depth: int, leaf: Leaf | None = None) -> tuple[float, np.ndarray]:
    """The search's value of a rolled state and what it did: int64[3] (generated, leaves, chance nodes)."""
    leaf = heuristic_leaf() if leaf is None else leaf
    counts = np.zeros(3, dtype=np.int64)
    work = leaf_work(depth, leaf)
    value, _ = search_into(
        np.ascontiguousarray(state, np.int8), np.int64(depth), leaf, work, np.empty(NUM_PIECES), counts
    )
    return float(value), counts
