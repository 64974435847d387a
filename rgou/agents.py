"""Agents behind one interface: `agent.choose_move(state) -> slot`.

`state` is a rolled kernel state (int8[16]) whose mover has at least one legal
move. Agents: random, heuristic (greedy on `evaluate` of the position after
the move), expectiminimax-N and ML (value and policy nets). `make_agent`
builds one from a short spec such as ``"expectiminimax-3"`` or ``"ml:FILE"``.

The ML agent scores each legal move by the value of the position after it —
a chance node: the probability-weighted mean of the value net over the five
rolls of the next player, since the net is trained on rolled positions — from
the mover's point of view (P2 maximises, P1 minimises), combined with the
policy's probability for that slot. A move that ends the game gets the exact
value +-1 instead of the net's estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rgou._numba import njit
from rgou.features import FEATURE_BLOCKS, NUM_FEATURES, features_into
from rgou._random import next_u64, seed_rng
from rgou._validate import check_int
from rgou.game import DICE, TO_MOVE, apply_move_inplace, count_legal_moves, legal_moves, winner
from rgou.heuristic import DEFAULT_PARAMS, HeuristicParams, evaluate
from rgou.nn.layout import LAYOUT_IN_OUT, layer_sizes, weight_row_offset
from rgou.nn.numba_backend import (
    dense_into,
    forward_one_from_into,
    forward_one_into,
    make_inference_work,
    softmax_into,
)
from rgou.rules import MAX_ROLL, NUM_PIECES, NUM_ROLLS, P2, ROLL_PROBS
from rgou.search import DEFAULT_DEPTH, check_depth, search_into

ML_MODES = ("combined", "value", "policy")
DEFAULT_VALUE_WEIGHT = 1.0
DEFAULT_POLICY_WEIGHT = 0.1
DEFAULT_ML_MODE = "value"  # measured strongest with the shipped model (docs/overview.md)
ILLEGAL_SCORE = -np.inf


class Agent(Protocol):
    """Anything that picks a legal slot for a rolled position."""

    name: str

    def choose_move(self, state: np.ndarray) -> int: ...


def _legal(state: np.ndarray) -> np.ndarray:
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    n = legal_moves(state, moves)
    if n == 0:
        raise ValueError("the position has no legal move (roll 0 or blocked): the turn passes")
    return moves[:n]


class RandomAgent:
    """Uniformly random legal move, from its own seeded generator."""

    def __init__(self, seed: int = 0):
        self.name = "random"
        self._rng = seed_rng(np.uint64(check_int("seed", seed, 0, 2**64 - 1)), np.uint64(0))

    def choose_move(self, state: np.ndarray) -> int:
        moves = _legal(state)
        return int(moves[int(next_u64(self._rng) % np.uint64(len(moves)))])


@njit
def greedy_move(state, params):
    """Legal slot whose successor has the best heuristic for the mover (-1 if none)."""
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    n = legal_moves(state, moves)
    child = np.empty_like(state)
    sign = 1 if state[TO_MOVE] == P2 else -1
    best_move = -1
    best = 0
    for k in range(n):
        child[:] = state
        apply_move_inplace(child, moves[k])
        v = sign * evaluate(child, params)
        if best_move < 0 or v > best:
            best = v
            best_move = moves[k]
    return best_move


class HeuristicAgent:
    """Greedy one-ply on the heuristic `evaluate()` of the position after the move."""

    def __init__(self, params: HeuristicParams = DEFAULT_PARAMS):
        self.name = "heuristic"
        self._params = params.to_array()

    def choose_move(self, state: np.ndarray) -> int:
        _legal(state)
        return int(greedy_move(state, self._params))


class ExpectiminimaxAgent:
    """The expert: expectiminimax to `depth` move plies."""

    def __init__(self, depth: int = DEFAULT_DEPTH, params: HeuristicParams = DEFAULT_PARAMS):
        self.depth = check_depth(depth)
        self.name = f"expectiminimax-{self.depth}"
        self._params = params.to_array()
        self._scores = np.empty(NUM_PIECES, dtype=np.float64)

    def choose_move(self, state: np.ndarray) -> int:
        _legal(state)
        return int(search_into(state, np.int64(self.depth), self._params, self._scores)[1])


# dice / 4 and the legal-move count / 7: the only features that differ
# between the five rolls of one successor
DICE_FEATURE = FEATURE_BLOCKS["dice"].start
LEGAL_FEATURE = FEATURE_BLOCKS["legal_moves"].start


@njit
def _expected_value(child, flat, sizes, x, pre, hidden, out, work):
    """Mean value-net output over the five rolls of the unrolled position `child`.

    The rolls differ only in two features, so the first layer is computed once
    without them (pre) and each roll adds its two weight rows.
    """
    child[DICE] = 0
    features_into(child, x)
    x[DICE_FEATURE] = 0.0
    x[LEGAL_FEATURE] = 0.0
    dense_into(flat, sizes, 0, x, pre, False)
    width = sizes[1]
    dice_row = weight_row_offset(sizes, 0, DICE_FEATURE)
    legal_row = weight_row_offset(sizes, 0, LEGAL_FEATURE)
    expected = 0.0
    for roll in range(NUM_ROLLS):
        child[DICE] = roll
        dice = np.float32(roll) / np.float32(MAX_ROLL)
        legal = np.float32(count_legal_moves(child)) / np.float32(NUM_PIECES)
        for j in range(width):
            h = pre[j] + dice * flat[dice_row + j] + legal * flat[legal_row + j]
            hidden[j] = h if h > 0.0 else 0.0
        forward_one_from_into(flat, sizes, 1, hidden, out, work)
        expected += ROLL_PROBS[roll] * np.tanh(out[0])
    child[DICE] = 0
    return expected


@njit
def ml_scores_into(state, value_flat, value_sizes, policy_flat, policy_sizes, value_weight, policy_weight,
                   x, pre, hidden, value_out, policy, work, scores):
    """Score every legal slot of the rolled `state`; return the best slot (-1 if none).

    scores f64[7] (ILLEGAL_SCORE for illegal slots); policy f32[7] receives the
    softmax policy of `state`; x f32[150], pre and hidden f32[first hidden
    width], value_out f32[1] and work (make_inference_work) are scratch.
    """
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    n = legal_moves(state, moves)
    sign = 1.0 if state[TO_MOVE] == P2 else -1.0
    for slot in range(NUM_PIECES):
        scores[slot] = ILLEGAL_SCORE
    if policy_weight != 0.0:
        features_into(state, x)
        forward_one_into(policy_flat, policy_sizes, x, policy, work)
        softmax_into(policy, policy)
    else:
        policy[:] = 0.0
    child = np.empty_like(state)
    best_move = -1
    for k in range(n):
        slot = moves[k]
        expected = 0.0
        if value_weight != 0.0:
            child[:] = state
            apply_move_inplace(child, slot)
            w = winner(child)
            if w != 0:
                expected = 1.0 if w == P2 else -1.0
            else:
                expected = _expected_value(child, value_flat, value_sizes, x, pre, hidden, value_out, work)
        score = value_weight * sign * expected + policy_weight * policy[slot]
        scores[slot] = score
        if best_move < 0 or score > scores[best_move]:
            best_move = slot
    return best_move


@dataclass(frozen=True)
class MLDecision:
    """What the ML agent saw: its move, per-slot scores (None when illegal), the policy and the value."""

    move: int
    scores: list[float | None]
    policy: list[float]
    value: float


class MLAgent:
    """Neural agent over a `Weights` object (value and policy nets).

    mode: "value" (the default: the expected value only), "combined"
    (value_weight * value + policy_weight * policy) or "policy" (policy only).
    """

    def __init__(self, weights, mode: str = DEFAULT_ML_MODE, value_weight: float = DEFAULT_VALUE_WEIGHT,
                 policy_weight: float = DEFAULT_POLICY_WEIGHT):
        if mode not in ML_MODES:
            raise ValueError(f"unknown ML agent mode {mode!r}; expected one of {', '.join(ML_MODES)}")
        if weights.value_config.input_size != NUM_FEATURES or weights.policy_config.input_size != NUM_FEATURES:
            raise ValueError(f"ML agent needs networks with {NUM_FEATURES} inputs")
        if weights.policy_config.output_size != NUM_PIECES or weights.value_config.output_size != 1:
            raise ValueError(f"ML agent needs a value net with 1 output and a policy net with {NUM_PIECES}")
        if weights.layout != LAYOUT_IN_OUT:
            raise ValueError(f"ML agent needs weights in the {LAYOUT_IN_OUT} layout, got {weights.layout} "
                             f"(convert them: rgou.weights.convert_weights or rgou convert)")
        if not weights.value_config.hidden_sizes:
            raise ValueError("ML agent needs a value net with at least one hidden layer")
        self.name = f"ml-{mode}"
        self.weights = weights
        self.value_weight = 0.0 if mode == "policy" else float(value_weight)
        self.policy_weight = 0.0 if mode == "value" else float(policy_weight)
        self._value = np.ascontiguousarray(weights.value, dtype=np.float32)
        self._policy = np.ascontiguousarray(weights.policy, dtype=np.float32)
        self._value_sizes = layer_sizes(weights.value_config)
        self._policy_sizes = layer_sizes(weights.policy_config)
        first_width = int(self._value_sizes[1])
        self._x = np.zeros(NUM_FEATURES, dtype=np.float32)
        self._pre = np.zeros(first_width, dtype=np.float32)
        self._hidden = np.zeros(first_width, dtype=np.float32)
        self._value_out = np.zeros(1, dtype=np.float32)
        self._policy_out = np.zeros(NUM_PIECES, dtype=np.float32)
        self._work = make_inference_work(weights.value_config, weights.policy_config)
        self._scores = np.empty(NUM_PIECES, dtype=np.float64)

    def _run(self, state: np.ndarray) -> int:
        return int(ml_scores_into(state, self._value, self._value_sizes, self._policy, self._policy_sizes,
                                  self.value_weight, self.policy_weight, self._x, self._pre, self._hidden,
                                  self._value_out, self._policy_out, self._work, self._scores))

    def choose_move(self, state: np.ndarray) -> int:
        _legal(state)
        return self._run(state)

    def decide(self, state: np.ndarray) -> MLDecision:
        """The move with its per-slot scores, the policy and the value net's output for `state`."""
        move = self._run(state)
        x = np.empty(NUM_FEATURES, dtype=np.float32)
        features_into(state, x)
        forward_one_into(self._policy, self._policy_sizes, x, self._policy_out, self._work)
        softmax_into(self._policy_out, self._policy_out)
        value_out = np.empty(1, dtype=np.float32)
        forward_one_into(self._value, self._value_sizes, x, value_out, self._work)
        scores = [None if np.isinf(s) else float(s) for s in self._scores]
        return MLDecision(move, scores, [float(p) for p in self._policy_out], float(np.tanh(value_out[0])))


def make_agent(spec: str, seed: int = 0, params: HeuristicParams = DEFAULT_PARAMS) -> Agent:
    """Build an agent from a spec: random, heuristic, expectiminimax-N (or emm-N), ml:FILE[:MODE]."""
    if spec == "random":
        return RandomAgent(seed)
    if spec == "heuristic":
        return HeuristicAgent(params)
    for prefix in ("expectiminimax-", "emm-"):
        if spec.startswith(prefix):
            depth = spec[len(prefix):]
            if not depth.isdigit():
                raise ValueError(f"bad agent spec {spec!r}: expected {prefix}N with a depth N")
            return ExpectiminimaxAgent(int(depth), params)
    if spec.startswith("ml:"):
        from rgou.weights import load_weights

        path, _, mode = spec[3:].partition(":")
        return MLAgent(load_weights(Path(path)), mode or DEFAULT_ML_MODE)
    raise ValueError(f"unknown agent {spec!r}; expected random, heuristic, expectiminimax-N or ml:FILE[:MODE]")
