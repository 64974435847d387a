"""Leaf evaluators of the search: the heuristic, the value net and the solved table, as one data type.

A `Leaf` is data, so that Numba caches one search kernel for all of them:

* `LEAF_HEURISTIC`: the heuristic (points; a won game is worth win_score).
  A chance node at depth 1 (`chance_leaf_heuristic`) is evaluated
  incrementally from its pieces' sums, in integer arithmetic, so identically.
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

`unrolled_value` is a leaf's value of an unrolled position (a chance node at
depth 0); `chance_leaf_heuristic` and `chance_leaf_general` value a chance
node at depth 1, the level just above the leaves. The search (`rgou.search`)
walks the tree above them; `counts`, when given, records what they do.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.experimental import structref

from rgou._numba import njit
from rgou._validate import shown
from rgou.features import FEATURE_BLOCKS, NUM_FEATURES, features_into
from rgou.game import (
    DICE,
    TO_MOVE,
    _target_square,
    apply_move_inplace,
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
    heuristic_score_from_table,
    heuristic_table,
    trunc_div,
)
from rgou.nn.inference import check_bounded, dense_into, forward_one_from_into, forward_one_into
from rgou.nn.layout import num_params_from_sizes, weight_row_offset
from rgou.rules import FINISHED, MAX_ROLL, NUM_PIECES, NUM_ROLLS, P1, P2, ROLL_PROBS, RULES_NAME
from rgou.solve.lookup import p2_win_probability
from rgou.weights import finite_vector

LEAF_HEURISTIC = 0
LEAF_NET = 1
LEAF_TABLE = 2
LEAF_NONE = 3  # `no_leaf`: an agent that does not search
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
NO_NET_SIZES = np.array([NUM_FEATURES, 1], np.int64)
_NO_EXACT = np.zeros(0, np.float32)
_NO_EXACT.setflags(write=False)  # solved tables are read-only (memory-mapped): one Leaf type for all kinds


def heuristic_leaf(params: HeuristicParams = DEFAULT_PARAMS) -> Leaf:
    """The heuristic evaluator (values in points, P2's point of view)."""
    p = params.to_array()
    win = float(p[WIN_SCORE])
    return _new_leaf(LEAF_HEURISTIC, p, heuristic_table(p), win, _NO_NET, NO_NET_SIZES, _NO_EXACT, False, False, False)


def no_leaf() -> Leaf:
    """The leaf of an agent that does not search (random): empty arrays, never read."""
    empty_table = np.zeros((0, 0, 0), np.int64)
    return _new_leaf(
        LEAF_NONE, np.zeros(0, np.int64), empty_table, 0.0, _NO_NET, NO_NET_SIZES, _NO_EXACT, False, False, False
    )


def net_leaf(
    value: np.ndarray,
    sizes: np.ndarray,
    exact_passes: bool = False,
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
    p = DEFAULT_PARAMS.to_array()  # unused by a net's leaf; one Leaf type holds them
    sizes = _net_sizes(sizes)
    value = _net_vector(value, sizes)
    if exact_passes and unrolled:
        raise ValueError("a value-net leaf is unrolled or solves passes exactly, not both: unrolled asks no roll")
    return _new_leaf(
        LEAF_NET,
        p,
        heuristic_table(p),
        NET_WIN,
        value,
        sizes,
        _NO_EXACT,
        bool(exact_passes),
        bool(unrolled),
        bool(mirrored),
    )


def _net_sizes(sizes: object) -> np.ndarray:
    """A value net's layer widths as int64 [L+1]: NUM_FEATURES, positive hidden widths, 1."""
    array = np.asarray(sizes)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        expected = f"integer widths [{NUM_FEATURES}, hidden..., 1]"
        raise ValueError(f"sizes: a value-net leaf needs {expected}, got {shown(array)}")
    listed = array.tolist()
    if len(listed) < 3 or listed[0] != NUM_FEATURES or listed[-1] != 1 or min(listed) < 1:
        raise ValueError(f"sizes: a value-net leaf needs widths [{NUM_FEATURES}, hidden..., 1], got {listed}")
    return np.array(listed, dtype=np.int64)


def _net_vector(value: object, sizes: np.ndarray) -> np.ndarray:
    """A copy of the flat value net as float32, checked: real, finite, as long as `sizes` needs, and with sums
    that stay within float32 on every position (`check_bounded`)."""
    array = np.asarray(value)
    expected = int(num_params_from_sizes(sizes))
    if array.ndim != 1 or array.dtype.kind not in "iuf" or array.shape[0] != expected:
        raise ValueError(
            f"value: the net of widths {sizes.tolist()} needs {expected} float32 parameters, "
            f"got {array.dtype} {array.shape}"
        )
    vector = finite_vector("value", array)
    check_bounded(vector, sizes, "value")
    return vector.copy() if np.shares_memory(vector, array) else vector  # the leaf keeps its own copy


def leaf_heuristic(leaf: Leaf) -> tuple[int, np.ndarray, np.ndarray]:
    """(kind, params int64[8], heuristic table int64[2, 2, 22]) of a leaf, read from Python."""
    fields = _leaf_fields(leaf)
    return int(fields[0]), fields[1], fields[2]


def leaf_exact(leaf: Leaf) -> np.ndarray:
    """The solved table (float32 [positions]) an exact leaf reads, from Python; empty for other leaves."""
    return _leaf_fields(leaf)[6]


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
    if a.size == 0:  # nothing to share (no_leaf's arrays, the empty net of a heuristic leaf)
        out = np.zeros(a.shape, a.dtype)
    else:
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


def table_leaf(values: np.ndarray) -> Leaf:
    """The exact evaluator over the solved table of the rule set's real game (float32, `rgou.solve.Table.values`)."""
    from rgou.solve.index import position_count

    count = position_count(NUM_PIECES, RULES_NAME)
    if values.dtype != np.float32 or values.ndim != 1 or len(values) != count:
        raise ValueError(
            f"an exact leaf needs a solved {NUM_PIECES}-piece table (float32[{count}]), "
            f"got {values.dtype}{list(values.shape)}"
        )
    exact = values.view()
    exact.setflags(write=False)
    p = DEFAULT_PARAMS.to_array()  # unused by the exact leaf; one Leaf type holds them
    return _new_leaf(LEAF_TABLE, p, heuristic_table(p), NET_WIN, _NO_NET, NO_NET_SIZES, exact, False, False, False)


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
def unrolled_value(node, leaf, work, table, params):
    """Leaf value of an unrolled position whose game is not over (a chance node at depth 0)."""
    if leaf.kind == LEAF_HEURISTIC:
        return np.float64(heuristic_score_from_table(node, table, params))
    if leaf.kind == LEAF_NET:
        return net_chance_value(node, leaf, work)
    return _table_value(node, leaf)


# Chance nodes at depth 1.


@njit(no_alloc=True)
def improves(v, best, maximise):
    return v > best if maximise else v < best


@njit(no_alloc=True)
def chance_leaf_heuristic(node, table, params, moves, counts):
    """Chance node at depth 1 (node not over), heuristic leaves evaluated incrementally.

    A move changes the heuristic's sums by the moved piece's terms and, on a
    capture, the captured piece's; the integer arithmetic is that of
    `heuristic_score_from_table`, so values are identical, without copying a child.
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
            if improves(v, best, maximise):
                best = v
        total += ROLL_PROBS[roll] * best
    node[DICE] = 0
    return total


@njit
def chance_leaf_general(node, child, leaf, work, moves, counts):
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
                pass_value = unrolled_value(child, leaf, work, table, params)
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
                v = unrolled_value(child, leaf, work, table, params)
            if improves(v, best, maximise):
                best = v
        total += ROLL_PROBS[roll] * best
    node[DICE] = 0
    return total
