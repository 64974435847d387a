"""The heuristic evaluation `heuristic_score()` (integer, positive favours P2) and its parameters.

Parameters travel to the kernels as one int64 array in `PARAM_NAMES` order;
`HeuristicParams` is the user-facing, validated form, read from JSON files
shaped like the packaged defaults (``rgou/data/heuristic_params.json``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from rgou._numba import njit
from rgou._validate import shown
from rgou.game import P1_OFFSET, P2_OFFSET, Position, check_state
from rgou.rules import (
    CENTER_FIRST,
    CENTER_LAST,
    FINISHED,
    HOME_STRETCH_START,
    IS_ROSETTE,
    NUM_PIECES,
    NUM_SQUARES,
    P1,
    P2,
    TRACK_POSITION,
)
from rgou.specialise import specialise

PARAM_NAMES = (
    "win_score",
    "finished_piece_value",
    "position_weight",
    "safety_bonus",
    "rosette_control_bonus",
    "advancement_bonus",
    "capture_bonus",
    "center_lane_bonus",
)
(
    WIN_SCORE,
    FINISHED_PIECE_VALUE,
    POSITION_WEIGHT,
    SAFETY_BONUS,
    ROSETTE_CONTROL_BONUS,
    ADVANCEMENT_BONUS,
    CAPTURE_BONUS,
    CENTER_LANE_BONUS,
) = range(len(PARAM_NAMES))
POSITION_WEIGHT_DIVISOR = 10


MAX_PARAM = 10**9  # each weight's bound: the kernels' int64 sums of a position's terms cannot overflow below it


@dataclass(frozen=True)
class HeuristicParams:
    """Weights of the heuristic; the defaults are the upstream engine's (docs/rules.md)."""

    win_score: int = 10000
    finished_piece_value: int = 1000
    position_weight: int = 15
    safety_bonus: int = 25
    rosette_control_bonus: int = 40
    advancement_bonus: int = 5
    capture_bonus: int = 35
    center_lane_bonus: int = 2

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"heuristic parameter {f.name} must be an integer, got {v!r}")
            if not -MAX_PARAM <= v <= MAX_PARAM:
                raise ValueError(f"heuristic parameter {f.name} must be within +-{MAX_PARAM:,}, got {v}")
        if self.win_score <= 0:
            raise ValueError(f"win_score must be positive, got {self.win_score}")

    def to_array(self) -> np.ndarray:
        """int64[8] in PARAM_NAMES order, for the kernels."""
        return np.array([getattr(self, n) for n in PARAM_NAMES], dtype=np.int64)

    def to_dict(self) -> dict[str, int]:
        return {k: int(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> HeuristicParams:
        if not isinstance(data, dict):
            raise ValueError(f"heuristic parameters must be a JSON object, got {type(data).__name__}")
        unknown = [key if isinstance(key, str) else shown(key) for key in data if key not in PARAM_NAMES]
        if unknown:
            raise ValueError(f"unknown heuristic parameters: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path | None = None) -> HeuristicParams:
        """Read a parameter file (default: the packaged defaults); missing keys take their defaults."""
        from rgou.resources import HEURISTIC_PARAMS_FILE, read_json

        name, data = read_json(path, HEURISTIC_PARAMS_FILE, "heuristic parameters")
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name}: {e}") from e


DEFAULT_PARAMS = HeuristicParams()


def check_params(params: object) -> HeuristicParams:
    """`params` if it is a HeuristicParams, else TypeError naming the argument (the one check of every caller)."""
    if not isinstance(params, HeuristicParams):
        raise TypeError(f"params must be a HeuristicParams (HeuristicParams.load(path)), got {shown(params)}")
    return params


@njit(no_alloc=True)
def trunc_div(a, b):
    """Integer division truncated toward zero (Python's // floors)."""
    q = abs(a) // b
    return q if a >= 0 else -q


# The heuristic is a sum of per-piece terms plus one truncated position term,
# so it is evaluated from a table built once per parameter set (search builds
# it once per call): TABLE[SCORE_TERMS | POSITION_TERMS, player - 1, square + 1],
# signed for the player (P2 positive).
SCORE_TERMS = 0
POSITION_TERMS = 1


@njit
def heuristic_table(params):
    """Per-piece terms of `heuristic_score` for every (player, square), int64[2, 2, 22]."""
    table = np.zeros((2, 2, FINISHED + 2), dtype=np.int64)
    center = params[ADVANCEMENT_BONUS] + params[CENTER_LANE_BONUS]
    home = 2 * params[ADVANCEMENT_BONUS]
    for player in (P1, P2):
        sign = 1 if player == P2 else -1
        table[SCORE_TERMS, player - 1, FINISHED + 1] = sign * params[FINISHED_PIECE_VALUE]
        for sq in range(NUM_SQUARES):
            p = TRACK_POSITION[player - 1, sq + 1]
            if p < 0:
                continue
            v = params[CAPTURE_BONUS]
            if IS_ROSETTE[sq]:
                v += params[SAFETY_BONUS] + params[ROSETTE_CONTROL_BONUS]
            if CENTER_FIRST <= p <= CENTER_LAST:
                v += center
            elif p >= HOME_STRETCH_START:
                v += home
            table[SCORE_TERMS, player - 1, sq + 1] = sign * v
            table[POSITION_TERMS, player - 1, sq + 1] = sign * (p + 1)
    return table


@njit(no_alloc=True)
def heuristic_score_from_table(state, table, params):
    """`heuristic_score` from a `heuristic_table(params)`: branch-free sums over the 14 pieces."""
    score = 0
    position = 0
    p1_finished = 0
    p2_finished = 0
    for i in range(NUM_PIECES):
        cell = state[P1_OFFSET + i] + 1
        score += table[SCORE_TERMS, 0, cell]
        position += table[POSITION_TERMS, 0, cell]
        p1_finished += cell == FINISHED + 1
        cell = state[P2_OFFSET + i] + 1
        score += table[SCORE_TERMS, 1, cell]
        position += table[POSITION_TERMS, 1, cell]
        p2_finished += cell == FINISHED + 1
    if p1_finished == NUM_PIECES:
        return -params[WIN_SCORE]
    if p2_finished == NUM_PIECES:
        return params[WIN_SCORE]
    return score + trunc_div(position * params[POSITION_WEIGHT], POSITION_WEIGHT_DIVISOR)


@njit
def heuristic_score(state, params):
    """Heuristic value of `state` (int8[STATE_SIZE]) under `params` (int64[8]); positive favours P2."""
    return heuristic_score_from_table(state, heuristic_table(params), params)


def heuristic_score_of(position: Position | np.ndarray, params: HeuristicParams = DEFAULT_PARAMS) -> int:
    """`heuristic_score()` of a `Position` under its rule set (or of an int8[16] Finkel state)."""
    check_params(params)
    if not isinstance(position, Position):
        return int(heuristic_score(check_state(position), params.to_array()))
    kernels = specialise(__name__, position.rules)
    return int(kernels.heuristic_score(position.to_array(), params.to_array()))
