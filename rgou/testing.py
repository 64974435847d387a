"""Random playouts for tests and benchmarks (the invariant harness).

`random_states` plays seeded games with uniformly random legal moves and
returns every rolled position it passes through; `check_state_invariants`
checks what must hold in every reachable state.
"""

from __future__ import annotations

import numpy as np

from rgou._numba import njit
from rgou._random import next_float, seed_rng
from rgou.game import (
    DICE,
    P1_OFFSET,
    P2_OFFSET,
    STATE_SIZE,
    TO_MOVE,
    apply_move_inplace,
    is_over,
    legal_moves,
    new_state,
    pass_turn_inplace,
    roll_dice,
)
from rgou.rules import FINISHED, NUM_PIECES, NUM_SQUARES, OFF_BOARD, P1_TRACK, P2_TRACK


@njit
def _random_playout(seed, max_plies, out):
    """Fill out (int8[max_plies, 16]) with the rolled positions of one random game; return (count, over)."""
    rng = seed_rng(seed, 0)
    state = new_state()
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    n = 0
    for _ in range(max_plies):
        if is_over(state):
            return n, True
        state[DICE] = roll_dice(rng)
        out[n] = state
        n += 1
        m = legal_moves(state, moves)
        if m == 0:
            pass_turn_inplace(state)
        else:
            apply_move_inplace(state, moves[min(m - 1, int(next_float(rng) * m))])
    return n, is_over(state)


def random_states(seed: int, max_plies: int = 10_000) -> tuple[np.ndarray, bool]:
    """Rolled positions int8[n, 16] of one random-move game, and whether it ended."""
    out = np.empty((max_plies, STATE_SIZE), dtype=np.int8)
    n, over = _random_playout(np.uint64(seed), np.int64(max_plies), out)
    return out[:n].copy(), bool(over)


def check_state_invariants(state: np.ndarray) -> None:
    """Raise AssertionError if `state` could not occur in a game."""
    assert state.shape == (STATE_SIZE,) and state.dtype == np.int8
    assert state[TO_MOVE] in (1, 2), state
    assert 0 <= state[DICE] <= 4, state
    occupied: set[int] = set()
    for base, track in ((P1_OFFSET, P1_TRACK), (P2_OFFSET, P2_TRACK)):
        for sq in state[base : base + NUM_PIECES]:
            assert sq in (OFF_BOARD, FINISHED) or sq in track, f"square {sq} off its track in {state}"
            if 0 <= sq < NUM_SQUARES:
                assert sq not in occupied, f"two pieces on {sq} in {state}"
                occupied.add(int(sq))
