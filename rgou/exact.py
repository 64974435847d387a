"""Exact labels from a solved table: values and moves of rolled positions, and decision losses.

These njit kernels read a table's values (`rgou.solve.Table.values`) and
rgou's kernel states (int8[16] for Finkel); the moves follow rgou's legal-move order. They are
Finkel's; `rgou.specialise.specialise("rgou.exact", rules)` gives them for
another rule set (its states and its table).

Two exact value targets exist (P2's point of view, 2 P(P2 wins) - 1):

* rolled (`exact`): the value of the position with its roll, the best move's;
* unrolled (`exact-unrolled`): the value of the same pieces before the roll,
  the table's own entry, whatever the roll. A value net is only ever asked
  about a position through the mean over its five rolls (`rgou.search`): a
  net that gives every roll the unrolled value makes that mean exact, and it
  learns a function of the pieces alone instead of five maxima.
"""

from __future__ import annotations

import numpy as np

from rgou._numba import njit
from rgou._validate import shown
from rgou.game import TO_MOVE, check_states, legal_moves, pass_turn_inplace
from rgou.rules import NUM_PIECES, P2, RULES_NAME
from rgou.solve.lookup import p2_win_after_moves, p2_win_probability
from rgou.solve.table import Table


@njit
def exact_labels(values, states, out_value, out_move):
    """For each rolled state: 2 P(P2 wins) - 1 under perfect play into out_value, the perfect move into out_move.

    A passing position (a 0, or no legal move) gets the opponent's exact value and move -1.
    """
    after = np.empty(NUM_PIECES, np.float64)
    legal = np.empty(NUM_PIECES, np.int8)
    passed = np.empty(states.shape[1], np.int8)
    for i in range(states.shape[0]):
        state = states[i]
        count = p2_win_after_moves(values, state, after)
        legal_moves(state, legal)
        maximise = state[TO_MOVE] == P2
        if count == 0:
            passed[:] = state
            pass_turn_inplace(passed)
            out_value[i] = 2.0 * p2_win_probability(values, passed) - 1.0
            out_move[i] = -1
            continue
        best = 0
        for k in range(1, count):
            if (after[k] > after[best]) if maximise else (after[k] < after[best]):
                best = k
        out_value[i] = 2.0 * after[best] - 1.0
        out_move[i] = legal[best]


@njit
def unrolled_labels(values, states, out_value):
    """For each state: 2 P(P2 wins) - 1 of its pieces before the roll (the dice are ignored) into out_value."""
    for i in range(states.shape[0]):
        out_value[i] = 2.0 * p2_win_probability(values, states[i]) - 1.0


@njit
def decision_losses(values, states, moves, out):
    """out[i]: the best exact P(mover wins) after a move of states[i] minus that after moves[i] (0: optimal)."""
    after = np.empty(NUM_PIECES, np.float64)
    legal = np.empty(NUM_PIECES, np.int8)
    for i in range(states.shape[0]):
        state = states[i]
        count = p2_win_after_moves(values, state, after)
        legal_moves(state, legal)
        sign = 1.0 if state[TO_MOVE] == P2 else -1.0
        best = -np.inf
        chosen = np.nan
        for k in range(count):
            v = sign * after[k]
            best = max(best, v)
            if legal[k] == moves[i]:
                chosen = v
        out[i] = best - chosen


def label_exactly(table, states: np.ndarray, unrolled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(values float32 [N] in [-1, 1], P2's point of view; perfect moves int8 [N], -1 when passing).

    The values are the rolled positions' or, with `unrolled`, their pieces' before the roll.
    `table`: the solved table of this rule set's real game; `states`: integers
    [N, STATE_SIZE], checked as positions before the int8 cast.
    """
    check_states(states, "states")
    return _labels(table, np.ascontiguousarray(states, dtype=np.int8), unrolled)


def _labels(table, states: np.ndarray, unrolled: bool) -> tuple[np.ndarray, np.ndarray]:
    """`label_exactly` of valid states int8 [N, STATE_SIZE]; the table is checked (cheap), the states are not."""
    if not isinstance(table, Table) or table.rules != RULES_NAME or table.n_pieces != NUM_PIECES:
        got = f"a {table.n_pieces}-piece {table.rules} table" if isinstance(table, Table) else shown(table)
        raise ValueError(f"table: exact labels of {RULES_NAME} need its {NUM_PIECES}-piece solved Table, got {got}")
    values = np.empty(len(states), np.float64)
    moves = np.empty(len(states), np.int8)
    if len(states):
        exact_labels(table.values, states, values, moves)
        if unrolled:
            unrolled_labels(table.values, states, values)
    return values.astype(np.float32), moves


def relabel_exactly(
    table, states: np.ndarray, has_policy: np.ndarray | None = None, unrolled: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (values float32 [N], moves int8 [N]) of samples: the one rule for passing samples.

    A sample without a policy target (`has_policy` False, a passing position)
    keeps move -1; None: every sample may have one (afterstates, whose passing
    positions get -1 from `label_exactly`). `states` are a dataset's or a
    shard's rows, int8 [N, STATE_SIZE], checked when they were made or read:
    a shard stream relabels every minibatch, so they are not checked again
    (`label_exactly` checks the states it is given).
    """
    if has_policy is not None and np.shape(has_policy) != (len(states),):
        raise ValueError(f"has_policy: expected one flag a state, [{len(states)}], got shape {np.shape(has_policy)}")
    values, moves = _labels(table, np.ascontiguousarray(states, dtype=np.int8), unrolled)
    if has_policy is not None:
        moves = np.where(has_policy, moves, -1).astype(np.int8)
    return values, moves
