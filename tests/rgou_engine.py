"""rgou behind the oracle's interface, so hand-built rule tests check both (positions as oracle tuples)."""

from __future__ import annotations

import numpy as np

from rgou.game import Position
from rgou.game import apply_move as _apply_move
from rgou.game import legal_moves as _legal_moves
from rgou.game import winner as _winner
from rgou.heuristic import HeuristicParams
from rgou.heuristic import heuristic_score as _evaluate
from rgou.leaves import heuristic_leaf
from rgou.search import chance_value_into, leaf_work, search_into

NAME = "rgou"


def _state(pos) -> np.ndarray:
    p1, p2 = pos[0], pos[1]
    to_move = pos[2] if len(pos) > 2 else 1
    dice = pos[3] if len(pos) > 3 else 0
    return np.array(list(p1) + list(p2) + [to_move, dice], dtype=np.int8)


def _params(params):
    return HeuristicParams.from_dict(params) if params else HeuristicParams()


def legal_moves(pos) -> list[int]:
    out = np.empty(7, np.int8)
    return [int(m) for m in out[: _legal_moves(_state(pos), out)]]


def apply_move(pos, slot: int):
    after = _apply_move(_state(pos), np.int64(slot))
    return tuple(int(v) for v in after[:7]), tuple(int(v) for v in after[7:14]), int(after[14])


def winner(pos) -> int:
    return int(_winner(_state(pos)))


def evaluate(pos, params=None) -> int:
    return int(_evaluate(_state(pos), _params(params).to_array()))


def features(pos) -> list[float]:
    from rgou.features import extract_features

    return [float(x) for x in extract_features(_state(pos))]


def expectiminimax(pos, depth: int, params=None):
    leaf = heuristic_leaf(_params(params))
    scores = np.empty(7)
    value, _ = search_into(_state(pos), np.int64(depth), leaf, leaf_work(max(depth, 1), leaf), scores, None)
    return float(value), [float(s) for s in scores if not np.isnan(s)]


def chance_value(p1, p2, player: int, depth: int, params=None) -> float:
    leaf = heuristic_leaf(_params(params))
    state = _state((p1, p2, player, 0))
    return float(chance_value_into(state, np.int64(depth), leaf, leaf_work(max(depth, 1), leaf), None))


def position(pos) -> Position:
    """The validating Position of an oracle tuple (raises on malformed input)."""
    return Position(pos[0], pos[1], pos[2], pos[3])
