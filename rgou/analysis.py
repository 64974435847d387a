"""What `rgou analyze` reports about a position (the CLI only reads lines and prints).

`Analyzer(...).analyze(position)` returns a JSON-ready dict:

* always: ``legal_moves`` (slots, ascending), ``successors`` (for each legal
  move the position after it: ``move``, ``p1``, ``p2``, ``to_move``),
  ``winner`` (0, 1 or 2), ``heuristic`` (the heuristic, in points: a won game
  is +-10000 with the default parameters) and ``features`` (the 150 inputs,
  unless turned off);
* with a search depth: ``search_value``, ``scores`` (one per legal move: the
  value after it) and ``best_move`` — expectiminimax on the heuristic, so in
  heuristic points, P2's point of view;
* with a model: ``value`` (the value net's output for the position, in
  [-1, 1], P2's point of view), ``policy`` (seven probabilities), ``ml_scores``
  (one per legal move: the ML agent's score, from the mover's point of view,
  in [-1, 1] in value mode) and ``ml_move``.

`parse_position(line)` reads one JSON line
``{"p1": [7 squares], "p2": [7 squares], "to_move": 1|2, "dice": 0..4}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from rgou.agents import MLAgent
from rgou.features import NUM_FEATURES, features_into
from rgou.game import Position, apply_move, winner
from rgou.heuristic import DEFAULT_PARAMS, HeuristicParams, evaluate
from rgou.rules import NUM_PIECES, P2
from rgou.search import NO_MOVE, check_depth, heuristic_leaf, leaf_work, search_into

POSITION_KEYS = ("p1", "p2", "to_move", "dice")


def _position_object(line: str) -> dict:
    """The JSON object of one position line, with every key of POSITION_KEYS; ValueError says what is wrong."""
    if not line.strip():
        raise ValueError("empty line: expected a JSON object with p1, p2, to_move, dice")
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object with p1, p2, to_move, dice")
    missing = [k for k in POSITION_KEYS if k not in data]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return data


def parse_position(line: str) -> Position:
    """A `Position` from one JSON line; ValueError says what is wrong."""
    data = _position_object(line)
    for key in ("p1", "p2"):
        if not isinstance(data[key], list):
            raise ValueError(f"{key} must be a list of {NUM_PIECES} squares")
    return Position(data["p1"], data["p2"], data["to_move"], data["dice"])


class Analyzer:
    """Everything `rgou analyze` reports about one position.

    depth: also search the heuristic to this depth (None: no search);
    model: a weight file or packaged model name for the ML fields (None: none);
    ml_depth: the ML agent's search depth; features: include the 150 features.
    """

    def __init__(
        self,
        depth: int | None = None,
        params: HeuristicParams = DEFAULT_PARAMS,
        model: str | Path | None = None,
        features: bool = True,
        ml_depth: int = 0,
        table=None,
    ):
        """table: a solved `rgou.solve.Table` (or None) for the exact fields."""
        from rgou.models import load_model

        self.table = table
        self.depth = None if depth is None else check_depth(depth)
        self.params = params
        self.with_features = features
        self._params = params.to_array()
        self._leaf = heuristic_leaf(params)
        self._work = leaf_work(self.depth or 1, self._leaf)
        self._features = np.empty(NUM_FEATURES, dtype=np.float32)
        self._scores = np.empty(NUM_PIECES, dtype=np.float64)
        self.agent = None if model is None else MLAgent(load_model(model), depth=ml_depth)

    def analyze_line(self, line: str) -> dict:
        """The report of one JSON line (a 7-piece position, or an N-piece one with an N-piece table)."""
        if self.table is not None and self.table.n_pieces != NUM_PIECES:
            return {"exact": exact_fields(self.table, parse_small_position(line, self.table.n_pieces))}
        return self.analyze(parse_position(line))

    def analyze(self, pos: Position) -> dict:
        state = pos.to_array()
        moves = pos.legal_moves()
        over = int(winner(state))
        successors = []
        for m in moves:
            after = apply_move(state, m)
            successors.append(
                {"move": m, "p1": after[:7].tolist(), "p2": after[7:14].tolist(), "to_move": int(after[14])}
            )
        out: dict = {
            "legal_moves": moves,
            "successors": successors,
            "winner": over,
            "heuristic": int(evaluate(state, self._params)),
        }
        if self.with_features:
            features_into(state, self._features)
            out["features"] = self._features.tolist()
        if self.depth is not None:
            value, best = search_into(state, np.int64(self.depth), self._leaf, self._work, self._scores, None)
            out["search_value"] = float(value)
            out["best_move"] = None if best == NO_MOVE or over else int(best)
            out["scores"] = [] if over else [float(self._scores[m]) for m in moves]
        if self.agent is not None:
            playable = bool(moves) and not over
            if playable:
                decision = self.agent.decide(state)
                out["value"], out["policy"] = decision.value, decision.policy
                out["ml_scores"] = [decision.scores[m] for m in moves]
                out["ml_move"] = decision.move
            else:
                value, policy = self.agent.evaluate(state)
                out["value"], out["policy"] = value, policy
                out["ml_scores"], out["ml_move"] = [], None
        if self.table is not None:
            out["exact"] = exact_fields(self.table, state)
        return out


def parse_small_position(line: str, n_pieces: int) -> np.ndarray:
    """An int8[2N + 2] state of the N-piece game from a JSON line with N squares per player."""
    from rgou.solve import make_state

    data = _position_object(line)
    for key in ("p1", "p2"):
        if not isinstance(data[key], list) or len(data[key]) != n_pieces:
            raise ValueError(f"{key} must list {n_pieces} squares for the {n_pieces}-piece table")
    return make_state(data["p1"], data["p2"], data["to_move"], data["dice"])


def exact_fields(table, state: np.ndarray) -> dict:
    """p2_win (the rolled position), moves (P2's chance after each legal move), loss (the mover's, per move)."""
    from rgou.solve.lookup import p2_win_probability

    n = table.n_pieces
    mover = int(state[2 * n])
    after = table.p2_win_after_moves(state)
    if len(after):
        best = float(after.max() if mover == P2 else after.min())
        loss = [float(best - a) if mover == P2 else float(a - best) for a in after]
        return {"p2_win": best, "moves": [float(a) for a in after], "loss": loss}
    passed = state.copy()
    passed[2 * n] = 3 - mover  # a roll of 0 or no move: the opponent is to move, same pieces
    passed[2 * n + 1] = 0
    return {"p2_win": float(p2_win_probability(table.values, passed)), "moves": [], "loss": []}


def analyze_lines(lines: Iterable[str], analyzer: Analyzer) -> Iterator[tuple[dict, str | None]]:
    """For every input line, in order: (result, None), or ({"error": ...}, message) for a bad line."""
    for number, line in enumerate(lines, start=1):
        try:
            yield analyzer.analyze_line(line), None
        except ValueError as e:
            message = f"line {number}: {e}"
            yield {"error": message}, message
