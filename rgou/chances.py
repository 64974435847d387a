"""Winning chances of a position and of each of its moves: exact from a solved table, else estimated.

`WinChances` is the one judge behind hints (the terminal and browser games)
and game review, for one rule set: with its solved table every figure is exact (the
chance of winning under perfect play by both sides); without one they are
estimates by a model searched one ply deeper than the `ml` agent (the `ml-1`
agent's search: each move's value is the chance node after it, searched one
more ply), and `exact` says which. The model is the shipped one under Finkel,
or one given (`model`: trained for the rule set with `rgou train --rules NAME`),
the only way to estimates under the other rule sets.

Chances are probabilities in [0, 1]. `moves(state)` gives the rolled
position's: the mover's best chance and the chance after each legal move;
`position(state)` gives an unrolled position's, before its roll. Both are
P2's chances underneath (the search's point of view) and the mover's or
player 1's on the way out, as each function says.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rgou.leaves import NET_WIN
from rgou.rules import DEFAULT_RULES, P1, P2, RULE_SETS, rule_set
from rgou.specialise import specialise

if TYPE_CHECKING:
    from rgou.solve.table import Table

ESTIMATE_DEPTH = 1  # the model searched one ply deeper than `ml`
ESTIMATE_AGENT = f"ml-{ESTIMATE_DEPTH}"  # its agent spec


@dataclass(frozen=True)
class MoveChances:
    """A rolled position's chances, the mover's: `best` with the best move, `after[slot]` after each legal move.

    `after` holds None for illegal slots; `choices` counts distinct moves
    (entering pieces reach one position: one choice), `best_move` is the
    lowest slot of the best.
    """

    mover: int
    best: float
    best_move: int
    after: list[float | None]
    choices: int


def _p2_chance(value: float) -> float:
    """A search value (2 P(P2 wins) - 1, the table's and the value net's units) as P(P2 wins), clipped."""
    return min(1.0, max(0.0, (value / NET_WIN + 1.0) / 2.0))


class WinChances:
    """Winning chances from a solved table (`table`: a `rgou.solve.Table`, a path, or None) or a model.

    table=None with `find_table` looks for the cache folder's table
    (`rgou.solve.default_table_path`); without one, the figures are a
    model's estimates: `model` (a weight file or a packaged model's name,
    trained for `rules`), else the shipped model, which plays Finkel only.
    `rules`: the rule set of the positions judged; under another than Finkel
    either its solved table or a model of it is needed. Safe to share
    between threads (one search at a time).
    """

    def __init__(
        self,
        table: Table | str | os.PathLike | None = None,
        find_table: bool = True,
        rules: str = DEFAULT_RULES,
        model: str | None = None,
    ):
        from rgou.agents import MLAgent, make_agent
        from rgou.models import load_model
        from rgou.solve import load_perfect_table, perfect_table_path

        self.rules = rule_set(rules, "rules").name
        weights = None if model is None else load_model(model, self.rules, for_agent=True)  # others refused
        game, search = specialise("rgou.game", self.rules), specialise("rgou.search", self.rules)
        self._to_move, self._distinct_moves, self._check_state = game.TO_MOVE, game.distinct_moves, game.check_state
        self._is_over = game.is_over
        self._search_into, self._chance_value_into = search.search_into, search.chance_value_into
        pieces = RULE_SETS[self.rules].pieces
        if table is None and find_table and perfect_table_path(self.rules).exists():
            table = perfect_table_path(self.rules)
        if table is None and model is None and self.rules != DEFAULT_RULES:
            raise ValueError(
                f"winning chances under {self.rules} need its solved table (`rgou solve --rules {self.rules}`, "
                f"or give the table file) or a model trained for it (`rgou train --rules {self.rules}`, "
                "then give the model file)"
            )
        if table is not None:
            self.table = load_perfect_table(table, self.rules)
            self.exact = True
            self._judge = ("the solved table ", self.table.path) if self.table.path else ("a solved table", None)
            self._leaf, self._plies = specialise("rgou.leaves", self.rules).table_leaf(self.table.values), 1
        else:
            self.table = None
            self.exact = False
            self._judge = ("the shipped model", None) if model is None else ("the model ", model)
            agent = make_agent(ESTIMATE_AGENT) if weights is None else MLAgent(weights, depth=ESTIMATE_DEPTH)
            data = agent.data
            self._leaf, self._plies = data.leaf, int(data.plies)
        self._work = search.leaf_work(self._plies, self._leaf)
        self._scores = np.empty(pieces, np.float64)
        self._distinct = np.empty(pieces, np.int8)
        self._lock = threading.Lock()
        self.source = self.describe()

    def describe(self, full_paths: bool = True) -> str:
        """What judges the chances, as `source` says it; full_paths=False names files without their folders
        (a page served to others shows the names, not the server's folders)."""
        text, path = self._judge
        if path is not None:
            text += str(path) if full_paths else Path(path).name
        if self.exact:
            return text
        solve = "rgou solve" if self.rules == DEFAULT_RULES else f"rgou solve --rules {self.rules}"
        judged = f"{text} searched one ply deeper ({ESTIMATE_AGENT}) judged every move"
        return f"no solved table ({solve} makes one), so {judged}"

    @property
    def label(self) -> str:
        """'exact' or 'estimated', for a figure shown to a person."""
        return "exact" if self.exact else "estimated"

    def moves(self, state: np.ndarray) -> MoveChances:
        """The mover's chances in a rolled position (integers [STATE_SIZE], checked; dice 1..4) with a legal move."""
        state = self._check_state(state)
        mover = int(state[self._to_move])
        with self._lock:
            value, best = self._search_into(state, np.int64(self._plies), self._leaf, self._work, self._scores, None)
            choices = int(self._distinct_moves(state, self._distinct))
            scores = self._scores.copy()
        if best < 0:
            over = self._is_over(state)
            raise ValueError("the game is over" if over else "the position has no legal move: the turn passes")

        def mine(v: float) -> float:
            p2 = _p2_chance(v)
            return p2 if mover == P2 else 1.0 - p2

        after = [None if np.isnan(v) else mine(float(v)) for v in scores]
        return MoveChances(mover, mine(float(value)), int(best), after, choices)

    def position(self, state: np.ndarray) -> float:
        """Player 1's chance in an unrolled position (integers [STATE_SIZE], checked; its dice entry is ignored)."""
        state = self._check_state(state)
        with self._lock:
            value = self._chance_value_into(state, np.int64(self._plies - 1), self._leaf, self._work, None)
        return 1.0 - _p2_chance(float(value))


def p1_chance(mover: int, chance: float) -> float:
    """Player 1's chance from the mover's."""
    return chance if mover == P1 else 1.0 - chance
