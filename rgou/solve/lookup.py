"""Table look-ups on rgou-style states, as Numba kernels (plus their validating edge).

An rgou-style state of the N-piece game is an int8[2N + 2] array::

    state[0:N]     P1 piece squares (-1 not entered, 0..19 board, 20 finished)
    state[N:2N]    P2 piece squares
    state[2N]      player to move (1 or 2)
    state[2N + 1]  dice roll of the player to move (0..4)

For the rule set's real game this is exactly rgou's kernel state (`rgou.game`, int8[16] for Finkel), so
the kernels below take rgou's states as they are; N is read from the
length. `values` is a solved table of the same N (`Table.values`).

The kernels only read `values` and allocate nothing: they are safe to call
from many threads at once. They do not validate; `check_state` does.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rgou._numba import njit
from rgou._validate import check_int, shown
from rgou.game import position_problem
from rgou.rules import P1, P2, RuleSet, rule_set
from rgou.solve.index import derived_constants as index_constants
from rgou.solve.index import encode
from rgou.solve.rules import (
    BEAR_OFF,
    BORE_OFF,
    ILLEGAL,
    MAX_PIECES,
    ROLLS_AGAIN,
    RULES,
    move_kind,
    state_masks,
    track_position,
)
from rgou.specialise import specialise


def derived_constants(rules: RuleSet) -> dict:
    """This module's constants for `rules` (those of the index and rules it reads), for `rgou.specialise`."""
    return index_constants(rules)


NO_MOVE_SLOT = -1


@njit(no_alloc=True)
def state_pieces(state):
    """N, the number of pieces per player, of an int8[2N + 2] state."""
    return (state.shape[0] - 2) // 2


@njit(no_alloc=True)
def state_index(state):
    """Table index of the position of `state` (the dice are ignored); -1 once a player has won."""
    n = state_pieces(state)
    player = state[2 * n]
    mover, fm = state_masks(state, n, player)
    opponent, fo = state_masks(state, n, 3 - player)
    if fm == n or fo == n:
        return -1
    return encode(n, mover, opponent, fm, fo)


@njit(no_alloc=True)
def win_probability(values, state):
    """Probability that the player to move in `state` wins, before rolling, under perfect play.

    The dice entry is ignored. A finished game gives 1.0 or 0.0.
    """
    n = state_pieces(state)
    player = state[2 * n]
    mover, fm = state_masks(state, n, player)
    opponent, fo = state_masks(state, n, 3 - player)
    if fo == n:
        return 0.0
    if fm == n:
        return 1.0
    return np.float64(values[encode(n, mover, opponent, fm, fo)])


@njit(no_alloc=True)
def p2_win_probability(values, state):
    """Probability that Player 2 wins `state`, before rolling, under perfect play (the dice entry is ignored)."""
    p = win_probability(values, state)
    return p if state[2 * state_pieces(state)] == P2 else 1.0 - p


@njit(no_alloc=True)
def _mover_wins_after(values, n, kind, mover_after, opponent_after, opponent, fm, fo):
    """P(the mover wins) after a legal move of `kind` from a position whose game is not over."""
    if kind == BORE_OFF:
        if fm + 1 == n:
            return 1.0
        return 1.0 - np.float64(values[encode(n, opponent, mover_after, fo, fm + 1)])
    if kind == ROLLS_AGAIN:
        return np.float64(values[encode(n, mover_after, opponent_after, fm, fo)])
    return 1.0 - np.float64(values[encode(n, opponent_after, mover_after, fo, fm)])


@njit(no_alloc=True)
def p2_win_after_moves(values, state, out):
    """For each legal move of rolled `state`, P(Player 2 wins) after it, into out[0:count]; return count.

    The moves are rgou's legal-move list: ascending piece slot, each
    unentered piece its own entry, none for a roll of 0 (then the turn just
    passes). `out` is a float array of at least N entries. In a finished
    game (no move is played) every entry is 1.0 if P2 has won, else 0.0.
    """
    n = state_pieces(state)
    player = state[2 * n]
    roll = state[2 * n + 1]
    mover, fm = state_masks(state, n, player)
    opponent, fo = state_masks(state, n, 3 - player)
    over = fm == n or fo == n
    p2_won = (fm == n and player == P2) or (fo == n and player == P1)
    count = 0
    for slot in range(n):
        source = track_position(state, n, player, slot)
        if source == BEAR_OFF:
            continue
        kind, m2, o2 = move_kind(mover, opponent, source, roll)
        if kind == ILLEGAL:
            continue
        if over:
            out[count] = 1.0 if p2_won else 0.0
            count += 1
            continue
        mover_wins = _mover_wins_after(values, n, kind, m2, o2, opponent, fm, fo)
        out[count] = mover_wins if player == P2 else 1.0 - mover_wins
        count += 1
    return count


@njit(no_alloc=True)
def best_move(values, state):
    """The slot of a move that maximises the mover's win probability (lowest slot on ties); -1: no move."""
    n = state_pieces(state)
    player = state[2 * n]
    roll = state[2 * n + 1]
    mover, fm = state_masks(state, n, player)
    opponent, fo = state_masks(state, n, 3 - player)
    if fm == n or fo == n:
        return NO_MOVE_SLOT
    best = 0.0
    choice = NO_MOVE_SLOT
    for slot in range(n):
        source = track_position(state, n, player, slot)
        if source == BEAR_OFF:
            continue
        kind, m2, o2 = move_kind(mover, opponent, source, roll)
        if kind == ILLEGAL:
            continue
        value = _mover_wins_after(values, n, kind, m2, o2, opponent, fm, fo)
        if choice == NO_MOVE_SLOT or value > best:
            best = value
            choice = slot
    return choice


# The validating edge.


def make_state(
    p1: Iterable[int], p2: Iterable[int], to_move: int = P1, dice: int = 0, rules: str | RuleSet | None = None
) -> np.ndarray:
    """Validated int8[2N + 2] state from N squares per player (rgou numbering), for N = 1..7 (rules None: Finkel)."""
    fields = []
    small = np.iinfo(np.int8)  # the state's dtype: what lies outside it is out of range whatever the field
    if not isinstance(p1, Iterable) or not isinstance(p2, Iterable) or isinstance(p1, (str, bytes)):
        raise ValueError(f"p1 and p2 must be lists of squares, got {shown(p1)} and {shown(p2)}")
    p1, p2 = list(p1), list(p2)
    for name, values in (("p1", p1), ("p2", p2), ("to_move", [to_move]), ("dice", [dice])):
        for k, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not small.min <= v <= small.max:
                where = f"{name}[{k}]" if name in ("p1", "p2") else name
                raise ValueError(f"{where} must be a small integer, got {shown(v)}")
        fields += [int(v) for v in values]
    if len(p1) != len(p2):
        raise ValueError(f"p1 and p2 must list as many pieces, got {len(p1)} and {len(p2)}")
    state = np.array(fields, dtype=np.int64)
    return check_state(state, len(p1), rules)


def check_state(state: np.ndarray | Iterable[int], n_pieces: int, rules: str | RuleSet | None = None) -> np.ndarray:
    """`state` as a contiguous int8[2N + 2] array for N = n_pieces under `rules` (None: Finkel), or a ValueError."""
    rules = RULES if rules is None else rule_set(rules, "rules")
    if rules != RULES:
        return specialise(__name__, rules).check_state(state, n_pieces, rules)
    n_pieces = check_int("n_pieces", n_pieces, 1, MAX_PIECES)
    arr = np.asarray(state)
    size = 2 * n_pieces + 2
    if arr.shape != (size,):
        raise ValueError(f"state must have shape ({size},) for {n_pieces} pieces, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"state must be an integer array, got dtype {arr.dtype}")
    values = [int(v) for v in arr]
    n = n_pieces
    problem = position_problem(values[:n], values[n : 2 * n], values[2 * n], values[2 * n + 1])
    if problem:
        raise ValueError(f"state: {problem}")
    return np.ascontiguousarray(values, dtype=np.int8)
