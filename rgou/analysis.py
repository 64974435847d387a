"""What `rgou analyze` reports about a position (the CLI only reads lines and prints).

`Analyzer(...).analyze(position)` returns a JSON-ready dict:

* always: ``legal_moves`` (slots, ascending; none once a player has won),
  ``successors`` (for each legal
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

`parse_position(line)` reads one JSON line (str, or bytes decoded as UTF-8)
``{"p1": [7 squares], "p2": [7 squares], "to_move": 1|2, "dice": 0..4}``
(optionally ``"rules"``: the rule set's name, which must be the analyzer's;
a rule set of N pieces lists N squares a player);
`parse_small_position(line, n)` the same with n squares per player. Both
check types and ranges strictly in `position_fields` (integers only, no
bools, no key given twice), and any bad line is a ValueError. `read_lines`
reads a byte stream (a file or standard input alike) line by line, with a
bound on a line's length, for `analyze_lines`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rgou._validate import check_bool, json_int, shown, strict_json
from rgou.agents import MLAgent
from rgou.features import NUM_FEATURES, feature_kernels
from rgou.game import Position, engine
from rgou.heuristic import DEFAULT_PARAMS, HeuristicParams, check_params
from rgou.rules import DEFAULT_RULES, FINISHED, MAX_ROLL, NUM_PIECES, OFF_BOARD, P1, P2, RULE_SETS, rule_set
from rgou.search import NO_MOVE, check_depth
from rgou.specialise import specialise
from rgou.weights import Weights

if TYPE_CHECKING:
    from rgou.solve.table import Table

POSITION_KEYS = ("p1", "p2", "to_move", "dice")


MAX_SHOWN = 40  # characters of a bad value quoted in an error message
MAX_LINE = 1 << 20  # bytes (characters for text) of one input line, its end included; a position takes about 100


def _shown(value) -> str:
    return shown(value, MAX_SHOWN)


def read_line(stream, limit: int = MAX_LINE) -> bytes | str:
    """The next line of a byte or text stream (empty at its end), never more than limit + 1 long.

    A longer line comes back cut to its first limit + 1 bytes, so it still
    reads as too long, and the rest of it is read past in pieces: one endless
    line neither fills the memory nor swallows the lines after it.
    """
    line = stream.readline(limit + 1)
    end = b"\n" if isinstance(line, bytes) else "\n"
    if len(line) > limit and not line.endswith(end):
        while True:
            rest = stream.readline(limit)
            if not rest or rest.endswith(end):
                break
    return line


def read_lines(stream, limit: int = MAX_LINE) -> Iterator[bytes | str]:
    """Every line of a stream by `read_line`: a file and standard input are read by the same code."""
    while line := read_line(stream, limit):
        yield line


def _position_object(line: Line) -> dict:
    """The JSON object of one position line (or the object itself), with every key of POSITION_KEYS; else ValueError."""
    if isinstance(line, dict):
        return _with_keys(line)
    if not isinstance(line, (str, bytes)):
        raise ValueError(f"a position line must be text (str or bytes) or a dict, got {_shown(line)}")
    if len(line) > MAX_LINE:
        unit = "bytes" if isinstance(line, bytes) else "characters"
        raise ValueError(f"line too long: over {MAX_LINE:,} {unit} (a position takes about 100)")
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"not valid UTF-8 (byte 0x{line[e.start]:02x} at byte {e.start + 1})") from None
    line = line.rstrip("\r\n")  # so that an error at the end of the line names its column, not the next line's
    if not line.strip():
        raise ValueError("empty line: expected a JSON object with p1, p2, to_move, dice")
    data = strict_json(line)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object with p1, p2, to_move, dice")
    return _with_keys(data)


def _with_keys(data: dict) -> dict:
    missing = [k for k in POSITION_KEYS if k not in data]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return data


def _integer(name: str, value, low: int, high: int) -> int:
    return json_int(name, value, low, high, MAX_SHOWN)


Line = str | bytes | dict  # a JSON line, or its object once read (`_position_object`): read once per line


def position_fields(line: Line, n_pieces: int = NUM_PIECES) -> tuple[list[int], list[int], int, int]:
    """(p1, p2, to_move, dice) of one JSON line with n_pieces squares per player, types and ranges checked.

    Squares are integers -1..20, to_move 1 or 2, dice 0..4 (bools and floats
    such as 12.0 are refused); ValueError names the field. The rules (tracks,
    two pieces on a square) are checked by `Position` and `make_state`.
    """
    data = _position_object(line)
    squares = {}
    for key in ("p1", "p2"):
        value = data[key]
        if not isinstance(value, list):
            raise ValueError(f"{key} must be a list of {n_pieces} squares, got {_shown(value)}")
        if len(value) != n_pieces:
            raise ValueError(f"{key} must list {n_pieces} squares for {n_pieces} pieces, got {len(value)}")
        squares[key] = [_integer(f"{key}[{slot}]", sq, OFF_BOARD, FINISHED) for slot, sq in enumerate(value)]
    to_move = _integer("to_move", data["to_move"], P1, P2)
    dice = _integer("dice", data["dice"], 0, MAX_ROLL)
    return squares["p1"], squares["p2"], to_move, dice


def parse_position(line: Line, rules: str = DEFAULT_RULES) -> Position:
    """A `Position` of `rules` from one JSON line (str, or bytes read as UTF-8); ValueError says what is wrong."""
    rules = rule_set(rules, "rules").name
    data = _position_object(line)
    _check_line_rules(data, rules)
    return Position(*position_fields(data, RULE_SETS[rules].pieces), rules)


def _check_line_rules(data: dict, rules: str) -> None:
    """Refuse a line's object whose "rules" (if any) is not `rules`."""
    said = data.get("rules", rules)
    if not isinstance(said, str) or said.lower() != rules:
        raise ValueError(f"rules: the line is a position of {_shown(said)}, this analysis plays {rules} (--rules)")


class Analyzer:
    """Everything `rgou analyze` reports about one position.

    depth: also search the heuristic to this depth (None: no search);
    model: a weight file, packaged model name or `Weights` for the ML fields (None: none);
    ml_depth: the ML agent's search depth; features: include the 150 features;
    rules: the rule set of the positions (the features are the rule set's;
    the model and the table must be of it).
    """

    def __init__(
        self,
        depth: int | None = None,
        params: HeuristicParams = DEFAULT_PARAMS,
        model: str | Path | Weights | None = None,
        features: bool = True,
        ml_depth: int = 0,
        table: Table | str | os.PathLike | None = None,
        rules: str = DEFAULT_RULES,
    ):
        """table: a solved `rgou.solve.Table` of the rule set, or its file (or None), for the exact fields."""
        from rgou.models import load_model
        from rgou.solve import Table, load_table

        self.rules = rule_set(rules, "rules").name
        check_params(params)
        features = check_bool("features", features)
        if isinstance(table, (str, os.PathLike)):
            table = load_table(table, rules=self.rules)
        elif table is not None and not isinstance(table, Table):
            raise TypeError(f"table must be a solved Table or its file (or None), got {shown(table)}")
        if model is not None and not isinstance(model, (str, os.PathLike, Weights)):
            raise TypeError(f"model must be a weight file, a packaged model's name or a Weights, got {shown(model)}")
        weights = model if model is None or isinstance(model, Weights) else load_model(model, for_agent=True)
        if weights is not None and weights.rules != self.rules:
            shown_model = "given" if isinstance(model, Weights) else model
            raise ValueError(f"the model ({shown_model}) plays the {weights.rules} rules, not {self.rules}")
        if table is not None and table.rules != self.rules:
            raise ValueError(f"the exact fields of {self.rules} positions read its table, not a {table.rules} one")
        self._features_into = feature_kernels(self.rules).features_into
        self._game = engine(self.rules)
        self._search = specialise("rgou.search", self.rules)
        self._heuristic = specialise("rgou.heuristic", self.rules)
        self.table = table
        self.depth = None if depth is None else check_depth(depth)
        self.params = params
        self.with_features = features
        self._params = params.to_array()
        self._leaf = self._search.heuristic_leaf(params)
        self._work = self._search.leaf_work(self.depth or 1, self._leaf)
        self._features = np.empty(NUM_FEATURES, dtype=np.float32)
        self._scores = np.empty(self._game.NUM_PIECES, dtype=np.float64)
        self.agent = None if weights is None else MLAgent(weights, depth=ml_depth)
        self._model = "given" if isinstance(model, Weights) else model

    def analyze_line(self, line: str | bytes) -> dict:
        """The report of one JSON line (a position of the rule set's game, or an N-piece one with an N-piece table)."""
        data = _position_object(line)
        _check_line_rules(data, self.rules)
        if self.table is not None and self.table.n_pieces != self._game.NUM_PIECES:
            return {"exact": exact_fields(self.table, parse_small_position(data, self.table.n_pieces, self.rules))}
        return self.analyze(parse_position(data, self.rules))

    def analyze(self, pos: Position) -> dict:
        """The report of one `Position` of the analyzer's rule set, as a dict of JSON values."""
        if not isinstance(pos, Position):
            raise TypeError(f"pos must be a rgou.Position (Position.from_array(state)), got {shown(pos)}")
        if pos.rules != self.rules:
            raise ValueError(f"a position of the {pos.rules} rules: this analyzer plays {self.rules}")
        game = self._game
        n = game.NUM_PIECES
        if self.table is not None and self.table.n_pieces != n:
            raise ValueError(
                f"the analyzer's table is of the {self.table.n_pieces}-piece game and a Position has {n} pieces: "
                "give positions of the table's size as JSON lines (analyze_line)"
            )
        state = pos.to_array()
        moves = pos.legal_moves()
        over = int(game.winner(state))
        successors = []
        for m in moves:
            after = game.apply_move(state, m)
            successors.append(
                {"move": m, "p1": after[:n].tolist(), "p2": after[n : 2 * n].tolist(), "to_move": int(after[2 * n])}
            )
        out: dict = {
            "legal_moves": moves,
            "successors": successors,
            "winner": over,
            "heuristic": int(self._heuristic.heuristic_score(state, self._params)),
        }
        if self.with_features:
            self._features_into(state, self._features)
            out["features"] = self._features.tolist()
        if self.depth is not None:
            value, best = self._search.search_into(
                state, np.int64(self.depth), self._leaf, self._work, self._scores, None
            )
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
                value, policy = self.agent.net_values(state)
                out["value"], out["policy"] = value, policy
                out["ml_scores"], out["ml_move"] = [], None
            if not np.isfinite([out["value"], *out["policy"], *out["ml_scores"]]).all():
                raise ValueError(f"the model {self._model} gives a value that is not finite here (weights overflow)")
        if self.table is not None:
            out["exact"] = exact_fields(self.table, state)
        return out


def parse_small_position(line: Line, n_pieces: int, rules: str = DEFAULT_RULES) -> np.ndarray:
    """An int8[2N + 2] state of the N-piece game of `rules` from a JSON line with N squares per player."""
    from rgou.solve import make_state

    return make_state(*position_fields(line, n_pieces), rules=rules)


def exact_fields(table, state: np.ndarray) -> dict:
    """p2_win (the rolled position), moves (P2's chance after each legal move), loss (the mover's, per move).

    A finished game has no moves: p2_win is 1.0 if Player 2 has won, else 0.0.
    """
    n = table.n_pieces
    if table.kernels.state_index(state) < 0:  # a player has won
        return {"p2_win": float(table.kernels.p2_win_probability(table.values, state)), "moves": [], "loss": []}
    mover = int(state[2 * n])
    after = table.p2_win_after_moves(state)
    if len(after):
        best = float(after.max() if mover == P2 else after.min())
        loss = [float(best - a) if mover == P2 else float(a - best) for a in after]
        return {"p2_win": best, "moves": [float(a) for a in after], "loss": loss}
    passed = state.copy()
    passed[2 * n] = 3 - mover  # a roll of 0 or no move: the opponent is to move, same pieces
    passed[2 * n + 1] = 0
    return {"p2_win": float(table.kernels.p2_win_probability(table.values, passed)), "moves": [], "loss": []}


def analyze_lines(lines: Iterable[str | bytes], analyzer: Analyzer) -> Iterator[tuple[dict, str | None]]:
    """For every input line, in order: (result, None), or ({"error": ...}, message) for a bad line.

    Lines may be str or bytes (decoded as UTF-8 line by line, so a bad byte
    spoils only its line). A result always serialises as strict JSON
    (`json.dumps(result, allow_nan=False)`).
    """
    for number, line in enumerate(lines, start=1):
        try:
            result = analyzer.analyze_line(line)
            json.dumps(result, allow_nan=False)  # no NaN or Infinity in an output line
        except (ValueError, RecursionError, OverflowError) as e:
            message = f"line {number}: {e}"
            yield {"error": message}, message
        else:
            yield result, None
