"""Agents as data (for the one game loop) behind thin Python wrappers; `make_agent` owns the spec names.

An agent is an `AgentData`: a kind plus the arrays it plays with. The game
loop (`rgou.playout`) and the wrappers call the same kernel, `decide_into`:

* random: a uniformly random legal move;
* search: expectiminimax to `depth` plies over a leaf evaluator
  (`rgou.leaves.Leaf`), optionally mixed with a policy net: a move's score
  is value_weight * (its search score from the mover's point of view) +
  policy_weight * (its policy probability); value_weight 0 plays the
  policy alone.

The heuristic agent is the depth-1 search on the heuristic (the greedy move);
expectiminimax-N the depth-N search; the ML agent at search depth D the
depth-(D+1) search on the value net, so depth 0 values each move by the
chance node after it (the net over the next player's rolls). Specs::

    random | heuristic | expectiminimax-N | emm-N | ml[-D][+][:MODEL][:MODE] | perfect[:TABLE]

MODEL is a weight file or a packaged model name (`default`, the model `ml`
uses when none is given, or `upstream`); MODE is value (default), combined
or policy; a `+` searches the close calls one ply deeper (`CLOSE_GAP`).
`perfect` plays perfectly from the rule set's solved table (`rgou solve
[--rules NAME]`), the default table file or TABLE. An optional `epsilon` makes an agent play a uniformly random move
with that probability (self-play exploration).

An agent plays one rule set (`rules`, Finkel by default): random, heuristic,
expectiminimax-N and perfect play any of them; ml plays its model's rule set
(`Weights.rules`: the shipped models are Finkel's; `rgou train --rules NAME`
trains one for another).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numba
import numpy as np

from rgou._numba import njit
from rgou._random import MAX_SEED, next_u64, seed_rng
from rgou._validate import check_bool, check_float, check_int, shown
from rgou.features import NUM_FEATURES, features_into
from rgou.game import STATE_SIZE, TO_MOVE, check_state, count_legal_moves, is_over, is_position, legal_moves, winner
from rgou.heuristic import DEFAULT_PARAMS, HeuristicParams, check_params
from rgou.leaves import (
    LEAF_HEURISTIC,
    LEAF_NET,
    LEAF_TABLE,
    NET_WIN,
    Leaf,
    leaf_exact,
    leaf_heuristic,
    net_leaf,
    no_leaf,
)
from rgou.models import PACKAGED_MODELS, ModelError, ModelRulesError, check_agent_weights, load_model
from rgou.nn.inference import check_bounded, forward_one_into, softmax_into
from rgou.nn.layout import layer_sizes, num_params_from_sizes
from rgou.rules import DEFAULT_RULES, MAX_PIECES, NUM_PIECES, P2, rule_set
from rgou.search import DEFAULT_DEPTH, MAX_DEPTH, NO_MOVE, Work, check_depth, deepen_close_calls, make_work, search_into
from rgou.specialise import specialise
from rgou.targets import ValueTarget
from rgou.weights import Weights

if TYPE_CHECKING:
    from rgou.solve.table import Table

AGENT_RANDOM = 0
AGENT_SEARCH = 1
ML_MODES = ("value", "combined", "policy")
DEFAULT_ML_MODE = "value"  # strongest with the shipped model: docs/agents.md, "The ML agent"
DEFAULT_POLICY_WEIGHT = 0.1
CLOSE_GAP = 0.01  # ml+: value scores this close (half a point of winning chance) are searched one ply deeper
MAX_MODE_WEIGHT = 1e6  # the combined mode's weights: finite, and far from float64's overflow in their sum
MAX_CLOSE_GAP = 2 * NET_WIN  # the whole range of net values: every decision with two distinct moves
ML_ROOT_PLY = 1  # an ML agent of depth D searches D + 1 plies: each move's value is the chance node after it
MAX_ML_DEPTH = MAX_DEPTH - ML_ROOT_PLY
NO_POLICY = np.zeros(0, dtype=np.float32)
_NO_SIZES = np.array([NUM_FEATURES, 1], dtype=np.int64)  # the layer widths of "no net"


class AgentData(NamedTuple):
    """What the game loop needs to play an agent."""

    kind: int  # AGENT_RANDOM | AGENT_SEARCH
    plies: int  # plies the search looks ahead (>= 1 for search agents; emm-N: N, ml-D: D + ML_ROOT_PLY)
    leaf: Leaf  # the search's leaf evaluator (a random agent's: `no_leaf()`, never read)
    epsilon: float  # probability of playing a uniformly random legal move instead
    value_weight: float  # weight of the search score (0: policy only)
    policy_weight: float  # weight of the policy probability (0: no policy net)
    policy: np.ndarray  # float32 [P] policy net (size 0 unless policy_weight != 0)
    policy_sizes: np.ndarray  # int64 [L+1] its layer widths
    close_gap: float  # search the moves within this of the best score one ply deeper (0: never)


class Scratch(NamedTuple):
    """Per-thread buffers of one agent."""

    work: Work
    scores: np.ndarray  # float64 [7] search scores (P2's point of view), NaN for illegal slots
    policy: np.ndarray  # float32 [7] policy probabilities
    child: np.ndarray  # int8 [16] a position after a close call's move
    candidates: np.ndarray  # int8 [7] the close call's moves


@njit
def agent_scratch(data):
    """Scratch for playing `data` (one per thread)."""
    work = make_work(max(data.plies, 1), data.leaf, data.policy_sizes)
    return Scratch(
        work,
        np.empty(NUM_PIECES, np.float64),
        np.zeros(MAX_PIECES, np.float32),
        np.zeros(STATE_SIZE, np.int8),
        np.zeros(NUM_PIECES, np.int8),
    )


@njit
def policy_into(policy_net, policy_sizes, state, work, out):
    """Softmax policy (float32 [7]) of the rolled `state` into out."""
    features_into(state, work.x)
    forward_one_into(policy_net, policy_sizes, work.x, out, work.buf)
    softmax_into(out, out)


@njit(no_alloc=True)
def move_score(value_weight, policy_weight, sign, search_score, probability):
    """A move's score for the mover: the policy's probability and the search score (sign: +1 for P2), weighted.

    The one mixing rule: the compiled decision ranks moves by it, `Agent.decide` reports it.
    """
    score = policy_weight * probability
    if value_weight != 0.0:
        score += value_weight * sign * search_score
    return score


@njit
def decide_into(data, state, rng, scratch):
    """The agent's move for the rolled `state` (at least one legal move) and its value.

    Returns (slot, value): the value is the search's (P2's point of view, in
    the leaf's units; with close calls deepened, the chosen move's deeper
    score), NaN for agents without a search. Draws from `rng`
    (uint64[1]) only for random agents. scratch.scores holds the search
    scores, scratch.policy the policy when one is used.
    """
    moves = scratch.work.moves[0]
    if data.kind == AGENT_RANDOM:
        n = legal_moves(state, moves)
        return moves[np.int64(next_u64(rng) % np.uint64(n))], np.nan
    value = np.nan
    best = NO_MOVE
    if data.value_weight != 0.0:
        value, best = search_into(state, data.plies, data.leaf, scratch.work, scratch.scores, None)
        if data.close_gap > 0.0:
            value, best = deepen_close_calls(
                state, data.plies, data.leaf, scratch.work, scratch.scores, data.close_gap, value, best,
                scratch.child, scratch.candidates,
            )  # fmt: skip
    if data.policy_weight != 0.0:
        policy_into(data.policy, data.policy_sizes, state, scratch.work, scratch.policy)
        sign = 1.0 if state[TO_MOVE] == P2 else -1.0
        n = legal_moves(state, moves)
        best = NO_MOVE
        best_score = 0.0
        for k in range(n):
            slot = moves[k]
            score = move_score(data.value_weight, data.policy_weight, sign, scratch.scores[slot], scratch.policy[slot])
            if best == NO_MOVE or score > best_score:
                best = slot
                best_score = score
    return best, value


@njit
def checked_decide_into(data, state, rng, scratch):
    """decide_into, or (NO_MOVE, NaN) when the roll has no legal move, (NOT_A_POSITION, NaN) for a state
    that is not a position, (GAME_OVER, NaN) for a finished game: the entry point for Python, one compiled
    call per decision (separate checks would cost more dispatches than the decision)."""
    if not is_position(state):
        return NOT_A_POSITION, np.nan
    if is_over(state):  # its pieces may still have moves to the engine
        return GAME_OVER, np.nan
    if count_legal_moves(state) == 0:
        return NO_MOVE, np.nan
    return decide_into(data, state, rng, scratch)


@dataclass(frozen=True)
class Decision:
    """An agent's move and what it saw: per-slot scores from the mover's point of view (None if
    illegal), the agent's value of the position (P2's point of view) and the policy, if it has one."""

    move: int
    scores: list[float | None]
    value: float
    policy: list[float] | None


NOT_A_POSITION = -2  # checked_decide_into's move for a state that is not a position (NO_MOVE is -1)
GAME_OVER = -3  # ... and for a finished game
NO_LEGAL_MOVE = "the position has no legal move (roll 0 or blocked): the turn passes"


def _kernel_state(state) -> np.ndarray:
    """A writable C-contiguous int8[STATE_SIZE] copy-or-view of a rolled state (the compiled entry's one type).

    An int8 state is checked by the compiled entry itself (`checked_decide_into`); any other type here,
    before the cast, which would wrap 300 to 44.
    """
    if not (isinstance(state, np.ndarray) and state.dtype == np.int8):
        state = check_state(state)
    state = np.ascontiguousarray(state)
    if state.shape != (STATE_SIZE,):
        raise ValueError(f"a state is int8[{STATE_SIZE}], got shape {state.shape}")
    return state if state.flags.writeable else state.copy()


def _decision(found: tuple, state: np.ndarray) -> tuple:
    """The compiled entry's (move, value), or a ValueError naming what is wrong with `state`."""
    if found[0] == NOT_A_POSITION:
        check_state(state)  # raises, naming the field
    if found[0] == GAME_OVER:
        raise ValueError(f"the game is over (player {winner(state)} won): there is no move to choose")
    return found


def _legal(state: np.ndarray) -> np.ndarray:
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    n = legal_moves(state, moves)
    if n == 0:
        raise ValueError(NO_LEGAL_MOVE)
    return moves[:n]


def check_agent_data(name: str, data: object) -> AgentData:
    """`data` checked field by field, as the game loop reads it unguarded; its numbers as Python's.

    A search agent looks 1..MAX_DEPTH plies ahead (one fewer with close calls, which search one deeper); a
    policy net, when weighted, has NUM_FEATURES inputs, MAX_PIECES outputs and finite float32 parameters whose
    sums stay within float32 (`check_bounded`).
    """
    if not isinstance(data, AgentData):
        raise TypeError(f"agent {name!r}: data must be an AgentData, got {shown(data)}")
    if isinstance(data.kind, bool) or data.kind not in (AGENT_RANDOM, AGENT_SEARCH):
        raise ValueError(f"agent {name!r}: kind must be AGENT_RANDOM or AGENT_SEARCH, got {shown(data.kind)}")
    if not isinstance(data.leaf, Leaf):
        raise TypeError(f"agent {name!r}: leaf must be a Leaf, got {shown(data.leaf)}")
    gap = check_float("close_gap", data.close_gap, 0.0, MAX_CLOSE_GAP)
    if data.kind == AGENT_SEARCH:
        plies = check_int("plies", data.plies, 1, MAX_DEPTH - (1 if gap else 0))
    else:
        plies = check_int("plies", data.plies, 0, 0)
    value_weight = check_float("value_weight", data.value_weight, -MAX_MODE_WEIGHT, MAX_MODE_WEIGHT)
    policy_weight = check_float("policy_weight", data.policy_weight, -MAX_MODE_WEIGHT, MAX_MODE_WEIGHT)
    policy, sizes = data.policy, data.policy_sizes
    if not (isinstance(policy, np.ndarray) and policy.dtype == np.float32 and policy.ndim == 1):
        raise ValueError(f"agent {name!r}: policy must be float32 [P], got {shown(policy)}")
    if not (isinstance(sizes, np.ndarray) and sizes.dtype == np.int64 and sizes.ndim == 1 and len(sizes) >= 2):
        raise ValueError(f"agent {name!r}: policy_sizes must be int64 [L+1], got {shown(sizes)}")
    if policy_weight != 0.0:
        widths = sizes.tolist()
        if widths[0] != NUM_FEATURES or widths[-1] != MAX_PIECES or min(widths) < 1:
            raise ValueError(
                f"agent {name!r}: a policy net has widths [{NUM_FEATURES}, ..., {MAX_PIECES}], got {widths}"
            )
        if len(policy) != num_params_from_sizes(sizes) or not np.isfinite(policy).all():
            raise ValueError(f"agent {name!r}: its policy net needs {num_params_from_sizes(sizes)} finite parameters")
        check_bounded(policy, sizes, f"agent {name!r}: its policy net")
    return data._replace(
        kind=int(data.kind),
        plies=plies,
        epsilon=check_float("epsilon", data.epsilon, 0.0, 1.0),
        value_weight=value_weight,
        policy_weight=policy_weight,
        policy=np.ascontiguousarray(policy),
        policy_sizes=np.ascontiguousarray(sizes),
        close_gap=gap,
    )


def check_data_rules(name: str, data: AgentData, rules: str, model_rules: str) -> None:
    """Refuse agent data built for another rule set: a heuristic or exact leaf built with another rule set's
    heuristic table, a solved table of another size, or nets of a model of another rule set (`model_rules`:
    a net cannot tell its rule set, `MLAgent` says its model's). Blitz and Aseb tables have one size; their
    leaves' heuristic tables tell them apart."""
    kind, params, table = leaf_heuristic(data.leaf)
    if (kind == LEAF_NET or data.policy_weight != 0.0) and model_rules != rules:
        raise ValueError(
            f"agent {name!r}: its nets are a {model_rules} model's, not {rules}'s "
            "(an ML agent plays its model's rule set: MLAgent(weights), make_agent('ml:FILE', rules=...))"
        )
    if kind == LEAF_TABLE:
        from rgou.solve import position_count

        pieces = rule_set(rules, "rules").pieces
        if leaf_exact(data.leaf).shape != (position_count(pieces, rules),):
            raise ValueError(f"agent {name!r}: its solved table is not one of the {pieces}-piece {rules} game")
    if kind in (LEAF_HEURISTIC, LEAF_TABLE):  # a table leaf keeps its rule set's heuristic table too
        if not np.array_equal(table, specialise("rgou.heuristic", rules).heuristic_table(params)):
            raise ValueError(f"agent {name!r}: its heuristic leaf was built for another rule set than {rules}")


class Agent:
    """An agent: its `AgentData`, its rule set, and its own scratch and random generator.

    `choose_move(state)` returns a legal slot of the rolled kernel state
    (int8[16] for seven pieces a player); `decide(state)` also returns the
    scores behind it. `data` must have been built for `rules` (its leaf's
    tables are the rule set's; its nets, if any, a model's of `model_rules`,
    which only `MLAgent` knows: data with nets is taken for Finkel's otherwise).
    """

    def __init__(
        self, name: str, data: AgentData, seed: int = 0, rules: str = DEFAULT_RULES, model_rules: str = DEFAULT_RULES
    ):
        self.name = name
        self.data = data = check_agent_data(name, data)
        self.rules = rule_set(rules, "rules").name
        self.model_rules = model_rules
        check_data_rules(name, data, self.rules, model_rules)
        self._kernels = kernels = specialise(__name__, self.rules)
        self._scratch = kernels.agent_scratch(data)
        self._rng = seed_rng(np.uint64(check_int("seed", seed, 0, MAX_SEED)), np.uint64(0))
        # The compiled checked_decide_into for these argument types, called directly: Numba's dispatch would
        # type the AgentData tuple on every call (about 150 us, ten times an ML agent's decision).
        args = (data, np.zeros(kernels.STATE_SIZE, np.int8), self._rng, self._scratch)
        self._decide = kernels.checked_decide_into.compile(tuple(numba.typeof(a) for a in args))

    def choose_move(self, state: np.ndarray) -> int:
        state = self._kernels._kernel_state(state)
        move = int(self._kernels._decision(self._decide(self.data, state, self._rng, self._scratch), state)[0])
        if move == NO_MOVE:
            raise ValueError(NO_LEGAL_MOVE)
        return move

    def decide(self, state: np.ndarray) -> Decision:
        """The move with its per-slot scores (the agent's own mix of search and policy)."""
        state = self._kernels._kernel_state(state)
        move, value = self._kernels._decision(self._decide(self.data, state, self._rng, self._scratch), state)
        legal = self._kernels._legal(state)
        d = self.data
        sign = 1.0 if state[self._kernels.TO_MOVE] == P2 else -1.0
        has_policy = d.kind == AGENT_SEARCH and d.policy_weight != 0.0
        scores: list[float | None] = [None] * self._kernels.NUM_PIECES
        for slot in legal:
            if d.kind == AGENT_RANDOM:
                scores[slot] = 1.0 / len(legal)
                continue
            probability = self._scratch.policy[slot] if has_policy else np.float32(0.0)
            search = self._scratch.scores[slot] if d.value_weight != 0.0 else 0.0
            scores[slot] = float(move_score(d.value_weight, d.policy_weight, sign, search, probability))
        policy = [float(p) for p in self._scratch.policy[: len(scores)]] if has_policy else None
        return Decision(int(move), scores, float(value), policy)


class RandomAgent(Agent):
    """Uniformly random legal move, from its own seeded generator."""

    def __init__(self, seed: int = 0, rules: str = DEFAULT_RULES):
        data = AgentData(AGENT_RANDOM, 0, no_leaf(), 0.0, 0.0, 0.0, NO_POLICY, _NO_SIZES, 0.0)
        super().__init__("random", data, seed, rules)


def search_agent_data(depth: int, leaf: Leaf, epsilon: float = 0.0) -> AgentData:
    """AgentData of a plain expectiminimax agent."""
    return AgentData(AGENT_SEARCH, depth, leaf, float(epsilon), 1.0, 0.0, NO_POLICY, _NO_SIZES, 0.0)


class HeuristicAgent(Agent):
    """Greedy one-ply on the heuristic: the depth-1 search (the best heuristic value after the move)."""

    def __init__(self, params: HeuristicParams = DEFAULT_PARAMS, rules: str = DEFAULT_RULES):
        leaf = specialise("rgou.leaves", rules).heuristic_leaf(params)  # the rule set's heuristic table
        super().__init__("heuristic", search_agent_data(1, leaf), rules=rules)


class ExpectiminimaxAgent(Agent):
    """The expert: expectiminimax to `depth` move plies on the heuristic."""

    def __init__(
        self, depth: int = DEFAULT_DEPTH, params: HeuristicParams = DEFAULT_PARAMS, rules: str = DEFAULT_RULES
    ):
        self.depth = check_depth(depth)
        leaf = specialise("rgou.leaves", rules).heuristic_leaf(params)
        super().__init__(f"expectiminimax-{self.depth}", search_agent_data(self.depth, leaf), rules=rules)


def _check_weights(weights) -> None:
    if not isinstance(weights, Weights):
        raise TypeError(f"weights must be a Weights, a weight file or a packaged model's name, got {shown(weights)}")
    weights.check()  # again: a Weights' fields may have been changed since it was made
    check_agent_weights(weights)


def trained_unrolled(weights) -> bool:
    """Whether a model's value net was trained on the value before the roll (the `exact-unrolled` target)."""
    return weights.metadata.get("value_target") == str(ValueTarget("exact-unrolled"))


class MLAgent(Agent):
    """Neural agent over a `Weights` object (value and policy nets).

    mode: "value" (the default: search on the value net), "combined"
    (value_weight * value + policy_weight * policy) or "policy" (policy only).
    depth: extra search plies on the value net (0: each move's value is the
    chance node after it). unrolled: the value net values the pieces before
    the roll, so a chance node at the search's edge asks it once, not over the
    five rolls (`rgou.leaves.net_leaf`); None (the default) when the model
    says it was trained on the `exact-unrolled` target (`trained_unrolled`).
    close_gap: when the value scores of two moves or more are within this of
    the best one (the value net's units: 2 P(P2 wins) - 1), search those
    moves one ply deeper and play the best of them
    (`rgou.search.deepen_close_calls`; `decide` then shows their deeper
    scores); 0 (the default) never does, the spec `ml+` uses `CLOSE_GAP`.
    mirrored: value each position as the mean of the net's value of it and
    minus its value of its colour swap (`rgou.leaves.net_leaf`): a smaller
    error for twice the leaf work. None (the default): at depth 0 without
    close calls, in modes with a value search, where it is the cheapest gain;
    a deeper search spends the same time better. The name says a choice other
    than the default (`ml (unmirrored)`, `ml-1 (mirrored)`). Names are the
    agent specs of the default model (`ml`, `ml-1`, `ml+`, `ml:combined`).
    The agent plays the rule set its model was trained for (`Weights.rules`).
    """

    def __init__(
        self,
        weights,
        mode: str = DEFAULT_ML_MODE,
        depth: int = 0,
        value_weight: float = 1.0,
        policy_weight: float = DEFAULT_POLICY_WEIGHT,
        exact_passes: bool = False,
        name: str | None = None,
        unrolled: bool | None = None,
        close_gap: float = 0.0,
        mirrored: bool | None = None,
    ):
        if mode not in ML_MODES:
            raise ValueError(f"unknown ML agent mode {mode!r}; expected one of {', '.join(ML_MODES)}")
        if isinstance(weights, (str, os.PathLike)):  # a weight file, or a packaged model's name
            weights = load_model(weights)
        _check_weights(weights)
        exact_passes = check_bool("exact_passes", exact_passes)
        unrolled, mirrored = check_bool("unrolled", unrolled, none=True), check_bool("mirrored", mirrored, none=True)
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name must be a string (or None), got {shown(name)}")
        self.depth = check_int("ML search depth", depth, 0, MAX_ML_DEPTH)
        self.weights = weights
        self.mode = mode
        value_sizes = layer_sizes(weights.value_config)
        if unrolled is None:
            unrolled = trained_unrolled(weights) and not exact_passes
        self.unrolled = bool(unrolled)
        self.close_gap = check_float("close-call gap", close_gap, 0.0, MAX_CLOSE_GAP)
        usual = self.depth == 0 and not self.close_gap and mode != "policy"  # mirrored=None's choice
        self.mirrored = usual if mirrored is None else bool(mirrored)
        leaf = net_leaf(
            weights.value, value_sizes, exact_passes=exact_passes, unrolled=self.unrolled, mirrored=self.mirrored
        )
        vw = 0.0 if mode == "policy" else check_float("value_weight", value_weight, -MAX_MODE_WEIGHT, MAX_MODE_WEIGHT)
        pw = 0.0 if mode == "value" else check_float("policy_weight", policy_weight, -MAX_MODE_WEIGHT, MAX_MODE_WEIGHT)
        policy = np.array(weights.policy, np.float32)  # a copy, held once (`net_values` reads it too)
        policy_sizes = layer_sizes(weights.policy_config)
        if self.close_gap and (mode == "policy" or self.depth == MAX_ML_DEPTH):
            raise ValueError(
                f"close calls are searched one ply deeper than the value search: mode {mode!r} with search depth "
                f"{self.depth} has {'no value search' if mode == 'policy' else 'no ply to spare'}"
            )
        plies = self.depth + ML_ROOT_PLY
        data = AgentData(AGENT_SEARCH, plies, leaf, 0.0, vw, pw, policy, policy_sizes, self.close_gap)
        super().__init__(name or self._spec_name(mode, usual), data, rules=weights.rules, model_rules=weights.rules)
        self._leaves = specialise("rgou.leaves", self.rules)

    def _spec_name(self, mode: str, usual: bool) -> str:
        """The agent spec of these choices for the packaged default model (`make_agent` names agents by spec).

        A mirroring choice other than the default, which no spec expresses, is said after it.
        """
        name = "ml" + (f"-{self.depth}" if self.depth else "") + ("+" if self.close_gap else "")
        name += "" if mode == DEFAULT_ML_MODE else f":{mode}"
        return name + ("" if self.mirrored == usual else " (mirrored)" if self.mirrored else " (unmirrored)")

    def net_values(self, state: np.ndarray) -> tuple[float, list[float]]:
        """The value net's value of the rolled `state` (P2's point of view) and its policy (one probability a piece)."""
        work, kernels = self._scratch.work, self._kernels
        state = kernels._kernel_state(state)
        value = float(self._leaves.net_value(state, self.data.leaf, work))
        policy = np.zeros(MAX_PIECES, np.float32)
        kernels.policy_into(self.data.policy, self.data.policy_sizes, state, work, policy)
        return value, [float(p) for p in policy[: kernels.NUM_PIECES]]

    def decide(self, state: np.ndarray) -> Decision:
        """The move and its scores, with the value net's value and the policy of `state` itself."""
        decision = super().decide(state)
        value, policy = self.net_values(state)
        return Decision(decision.move, decision.scores, value, policy)


class PerfectAgent(Agent):
    """Perfect play: the move with the highest exact chance of winning, from the rule set's solved table.

    `table` is a `rgou.solve.Table` of the rule set's real game (Finkel and
    Masters 7 pieces, Blitz and Aseb 5), or a path, or None: the default
    table file (`rgou.solve.default_table_path`). It is the depth-1 search
    on the exact leaf.
    """

    def __init__(
        self, table: Table | str | os.PathLike | None = None, name: str = "perfect", rules: str = DEFAULT_RULES
    ):
        from rgou.solve import load_perfect_table

        self.table = load_perfect_table(table, rules)
        leaf = specialise("rgou.leaves", rules).table_leaf(self.table.values)
        super().__init__(name, search_agent_data(1, leaf), rules=rules)


def _parse_ml(spec: str) -> tuple[int, bool, str, str]:
    """(depth, close calls deepened, model, mode) of ml[-D][+][:MODEL][:MODE]."""
    head, colon, rest = spec.partition(":")
    close = head.endswith("+")
    head = head.removesuffix("+")
    depth = 0
    if head != "ml":
        digits = head[len("ml-") :]
        if not head.startswith("ml-") or not (digits.isascii() and digits.isdigit()):
            raise ValueError(f"bad agent spec {spec!r}: expected ml[-D][+][:MODEL][:MODE], e.g. ml-2:model.json.gz")
        depth = int(digits)
    if colon and (not rest or rest.startswith(":")):  # "ml:" or "ml::value": a colon, then no model
        raise ValueError(f"bad agent spec {spec!r}: empty MODEL; expected ml[-D][+][:MODEL][:MODE], e.g. ml:value")
    mode = DEFAULT_ML_MODE
    model, _, last = rest.rpartition(":")
    if last in ML_MODES:
        mode = last
    elif model and not Path(rest).exists() and (Path(model).exists() or model in PACKAGED_MODELS):
        raise ValueError(f"bad agent spec {spec!r}: unknown mode {last!r}; expected one of {', '.join(ML_MODES)}")
    else:
        model = rest
    return depth, close, model or "default", mode


def spec_inputs(spec: str) -> list[Path]:
    """The files an agent spec reads (a weight file, a solved table); packaged models and defaults are not."""
    if not isinstance(spec, str):
        return []
    if spec in ("ml", "ml+") or spec.startswith(("ml:", "ml-", "ml+:")):
        model = _parse_ml(spec)[2]
        return [] if model in PACKAGED_MODELS and not Path(model).exists() else [Path(model)]
    if spec.startswith("perfect:"):
        return [Path(spec.partition(":")[2])]
    return []


def spec_table(spec: str | None) -> str | None:
    """The solved table a `perfect:FILE` spec names (None for any other spec): a run's table when no other
    is given, so that its exact targets read the file its agent plays from."""
    if isinstance(spec, str) and spec.startswith("perfect:") and spec != "perfect:":
        return spec.partition(":")[2]
    return None


def absolute_spec(spec: str | None) -> str | None:
    """`spec` with the file it reads (spec_inputs) as an absolute path: what another process (a Dask worker,
    started in another folder) reads as this one does. A spec that reads no file is returned as it is."""
    if spec is None or not spec_inputs(spec):
        return spec
    head, _, rest = spec.partition(":")  # the file follows the first colon: ml...:FILE[:MODE], perfect:FILE
    if head == "perfect":
        return f"perfect:{os.path.join(os.getcwd(), rest)}"
    _, _, model, mode = _parse_ml(spec)  # the file as written (Path("./m.json") is "m.json"); the mode always
    return f"{head}:{os.path.join(os.getcwd(), model)}:{mode}"  # joined, not normalised: a/link/.. stays


ML_AGENTS = ("ml", "ml-1", "ml-2", "ml+")  # the ML specs a model file completes (`ml_spec`)
AGENT_SPECS = "random, heuristic, expectiminimax-N (emm-N), ml[-D][+][:MODEL][:MODE], perfect[:TABLE]"


def ml_spec(spec: str, model: str | None) -> str:
    """`spec` playing `model`: ml, ml-1, ml-2 and ml+ given a model name or file become SPEC:MODEL."""
    return f"{spec}:{model}" if spec in ML_AGENTS and model is not None else spec


def check_agent(name: str, agent: object, kind: type | None = None) -> None:
    """TypeError naming the argument `name` when `agent` is not an Agent (of `kind`, when given)."""
    kind = Agent if kind is None else kind
    if not isinstance(agent, kind):
        what = "an Agent (make_agent(spec) makes one from a spec)" if kind is Agent else f"a {kind.__name__}"
        raise TypeError(f"{name} must be {what}, got {shown(agent)}")


def make_agent(
    spec: str,
    seed: int = 0,
    params: HeuristicParams = DEFAULT_PARAMS,
    table: Table | str | os.PathLike | None = None,
    rules: str = DEFAULT_RULES,
) -> Agent:
    """Build an agent from a spec (see the module docstring) for a rule set; its name is the spec as given.

    `table` (a solved `Table` or a path) serves the spec `perfect`; None: the cache folder's
    table of the rule set. `perfect:FILE` names its own. An ml spec's model must be one of the rule set
    (the shipped model plays Finkel; train one for another with `rgou train --rules NAME`).
    """
    if not isinstance(spec, str):
        raise ValueError(f"agent spec must be a string, got {spec!r}")
    check_params(params)
    rules = rule_set(rules, "rules").name
    if spec == "random":
        agent: Agent = RandomAgent(seed, rules)
    elif spec == "heuristic":
        agent = HeuristicAgent(params, rules)
    elif spec.startswith(("expectiminimax-", "emm-")):
        depth = spec.split("-", 1)[1]
        if not (depth.isascii() and depth.isdigit()):  # '²' and '١' are digits to isdigit, not to int
            raise ValueError(f"bad agent spec {spec!r}: expected expectiminimax-N or emm-N with a depth N")
        try:
            agent = ExpectiminimaxAgent(int(depth), params, rules)
        except ValueError as e:
            raise ValueError(f"bad agent spec {spec!r}: {e}") from None
    elif spec in ("ml", "ml+") or spec.startswith(("ml:", "ml-", "ml+:")):
        depth, close, model, mode = _parse_ml(spec)
        if depth > MAX_ML_DEPTH:
            raise ValueError(f"bad agent spec {spec!r}: ML search depth must be 0..{MAX_ML_DEPTH}")
        try:
            weights = load_model(Path(model) if Path(model).exists() else model, rules, for_agent=True)
        except ModelError as e:
            # after "train a model for RULES ...":
            then = " and play ml:FILE" if isinstance(e, ModelRulesError) and rules != DEFAULT_RULES else ""
            raise ValueError(f"agent {spec!r}: {e}{then}") from None
        agent = MLAgent(weights, mode, depth, close_gap=CLOSE_GAP if close else 0.0)
    elif spec == "perfect" or spec.startswith("perfect:"):
        if spec == "perfect:":
            raise ValueError(f"bad agent spec {spec!r}: empty TABLE; expected perfect or perfect:TABLE")
        agent = PerfectAgent(spec.partition(":")[2] or table, rules=rules)
    else:
        raise ValueError(f"unknown agent {spec!r}; expected one of: {AGENT_SPECS}")
    agent.name = spec
    return agent
