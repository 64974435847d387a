"""Shared test settings: hypothesis profiles, the golden reference folder, a synthetic solved table."""

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from reference import REFERENCE_DIR

from rgou.game import apply_move, legal_moves, pass_turn_inplace
from rgou.solve import Table, position_count, state_index
from rgou.testing import random_states

# CI derandomizes hypothesis so a red build can be replayed; locally it explores.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """tests/data: the golden vectors of the upstream engine."""
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def states():
    """Rolled positions of random games (passes included)."""
    return np.concatenate([random_states(seed)[0][::9] for seed in (1, 2)])


@pytest.fixture(scope="session")
def table(states):
    """A 7-piece 'table' of zeros with random values at every position one move (or a pass) from `states`."""
    values = np.zeros(position_count(7), np.float32)
    rng = np.random.default_rng(0)
    moves = np.empty(7, np.int8)
    for state in states:
        for roll in range(5):
            rolled = state.copy()
            rolled[15] = roll
            successors = [apply_move(rolled, m) for m in moves[: legal_moves(rolled, moves)]]
            passed = rolled.copy()
            pass_turn_inplace(passed)
            for s in [*successors, passed]:
                index = state_index(s)
                if index >= 0 and values[index] == 0:
                    values[index] = rng.uniform(0.01, 0.99)
    return Table(n_pieces=7, values=values, tolerance=1e-7, residual=0.0)
