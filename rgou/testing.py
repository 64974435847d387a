"""Random playouts for tests and benchmarks (the invariant harness).

`random_states` plays a seeded game with uniformly random legal moves and
returns every rolled position it passes through; `check_state_invariants`
checks what must hold in every reachable state.
"""

from __future__ import annotations

import numpy as np

from rgou.game import DICE, P1_OFFSET, P2_OFFSET, STATE_SIZE, TO_MOVE
from rgou.rules import FINISHED, NUM_PIECES, NUM_SQUARES, OFF_BOARD, P1_TRACK, P2_TRACK


def random_states(seed: int, max_plies: int = 10_000) -> tuple[np.ndarray, bool]:
    """Rolled positions int8[n, 16] of one random-move game (passes included), and whether it ended.

    Played on the one game loop (`rgou.playout`) by two random agents.
    """
    from rgou.agents import RandomAgent
    from rgou.playout import play_games

    agent = RandomAgent().data
    rec = play_games(
        agent, agent, 1, seed, max_plies=max_plies, record_samples=max_plies, record_passes=True, threads=1
    )
    return rec.states[0, : rec.counts[0]].copy(), bool(rec.winners[0] != 0)


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
