"""Seeded, parallel self-play data generation and the `Dataset` it produces.

Every game owns a dice generator seeded from (seed, game index), so a seed
gives the same games whatever the number of threads. Games run in parallel
(Numba prange) in chunks; each position where the mover has a legal move
becomes one sample: the expert's best move is the policy target and its
score / win_score, clipped to [-1, 1], the value target (P2's point of view).
Features are a pure function of the stored state and are computed afterwards
in one batched pass.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
from numba import prange

from rgou import __version__
from rgou._io import atomic_write
from rgou._numba import njit
from rgou._random import next_float, seed_rng
from rgou._validate import check_int
from rgou.features import NUM_FEATURES, extract_features_batch
from rgou.game import (
    DICE,
    STATE_SIZE,
    apply_move_inplace,
    is_over,
    legal_mask,
    legal_moves,
    new_state,
    pass_turn_inplace,
    roll_dice,
    winner,
)
from rgou.heuristic import DEFAULT_PARAMS, WIN_SCORE, HeuristicParams
from rgou.rules import NUM_PIECES, P1, P2
from rgou.search import check_depth, search_into

MAX_PLIES = 200  # a game is cut after this many turns, passes included (the cap)
MAX_SEED = 2**64 - 1  # seeds are uint64
MAX_GAME_ID = 2**31 - 1  # game ids are int32 in the dataset
DATASET_FORMAT = 1


@njit(parallel=True)
def _play_games(seed, first_game, depth, params, epsilon, max_plies, states, best_moves, values, counts, outcomes):
    """Play games first_game.. first_game + len(counts) - 1; fill the per-game sample buffers."""
    win_score = np.float64(params[WIN_SCORE])
    for g in prange(counts.shape[0]):
        rng = seed_rng(seed, first_game + np.uint64(g))
        state = new_state()
        moves = np.empty(NUM_PIECES, dtype=np.int8)
        scores = np.empty(NUM_PIECES, dtype=np.float64)
        n = 0
        for _ in range(max_plies):
            if is_over(state):
                break
            state[DICE] = roll_dice(rng)
            m = legal_moves(state, moves)
            if m == 0:
                pass_turn_inplace(state)
                continue
            value, best = search_into(state, depth, params, scores)
            states[g, n] = state
            best_moves[g, n] = best
            values[g, n] = min(1.0, max(-1.0, value / win_score))
            n += 1
            move = best
            if epsilon > 0.0 and next_float(rng) < epsilon:
                move = moves[min(m - 1, int(next_float(rng) * m))]
            apply_move_inplace(state, move)
        counts[g] = n
        w = winner(state)
        outcomes[g] = 1 if w == P2 else (-1 if w == P1 else 0)


@njit(parallel=True)
def _legal_masks(states, out):
    for i in prange(states.shape[0]):
        legal_mask(states[i], out[i])


@dataclass
class Dataset:
    """Training samples (DESIGN.md contract 5); arrays share their first axis N."""

    features: np.ndarray  # float32 [N, 150]
    value_target: np.ndarray  # float32 [N], P2's point of view, in [-1, 1]
    policy_target: np.ndarray  # float32 [N, 7], one-hot of the expert's move
    legal_mask: np.ndarray  # bool [N, 7]
    state: np.ndarray  # int8 [N, 16]
    outcome: np.ndarray  # int8 [N]: +1 P2 won, -1 P1 won, 0 unfinished
    game_id: np.ndarray  # int32 [N]
    meta: dict = field(default_factory=dict)

    ARRAYS = (
        ("features", np.float32, (NUM_FEATURES,)),
        ("value_target", np.float32, ()),
        ("policy_target", np.float32, (NUM_PIECES,)),
        ("legal_mask", np.bool_, (NUM_PIECES,)),
        ("state", np.int8, (STATE_SIZE,)),
        ("outcome", np.int8, ()),
        ("game_id", np.int32, ()),
    )

    def __post_init__(self) -> None:
        n = None
        for name, dtype, tail in self.ARRAYS:
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
                got = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
                raise ValueError(f"dataset array {name!r}: expected dtype {np.dtype(dtype)}, got {got}")
            if arr.shape[1:] != tail:
                raise ValueError(f"dataset array {name!r}: expected shape (N, {', '.join(map(str, tail))}), got {arr.shape}")
            if n is None:
                n = arr.shape[0]
            elif arr.shape[0] != n:
                raise ValueError(f"dataset array {name!r} has {arr.shape[0]} rows, expected {n}")
        if not np.all(np.isfinite(self.features)) or not np.all(np.isfinite(self.value_target)):
            raise ValueError("dataset contains non-finite features or value targets")

    def __len__(self) -> int:
        return int(self.value_target.shape[0])

    @property
    def num_games(self) -> int:
        return int(np.unique(self.game_id).size)

    def save(self, path: str | Path) -> Path:
        """Write the .npz atomically (temporary file, then rename)."""
        path = Path(path)
        arrays = {name: getattr(self, name) for name, _, _ in self.ARRAYS}
        arrays["meta"] = np.array(json.dumps(self.meta, sort_keys=True))
        with atomic_write(path) as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        """Read and validate a dataset written by `save`."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                names = [name for name, _, _ in cls.ARRAYS] + ["meta"]
                missing = [name for name in names if name not in data]
                if not missing:
                    arrays = {name: data[name] for name, _, _ in cls.ARRAYS}
                    meta = json.loads(str(data["meta"]))
        except Exception as e:  # numpy raises OSError, ValueError, zipfile and pickle errors
            raise ValueError(f"{path}: cannot read dataset ({e})") from e
        if missing:
            raise ValueError(f"{path}: not an rgou dataset, missing {', '.join(missing)}")
        try:
            return cls(**arrays, meta=meta)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e

    def to_json(self, path: str | Path) -> Path:
        """Export as a JSON list of {"features", "value_target", "policy_target"} objects (atomic)."""
        path = Path(path)
        with atomic_write(path, "w") as fh:
            fh.write("[")
            for i in range(len(self)):
                if i:
                    fh.write(",\n")
                item = {
                    "features": [float(x) for x in self.features[i]],
                    "value_target": float(self.value_target[i]),
                    "policy_target": [float(x) for x in self.policy_target[i]],
                }
                fh.write(json.dumps(item))
            fh.write("]\n")
        return path


ProgressFn = Callable[[int, int], None]


def generate(
    games: int,
    depth: int = 3,
    seed: int = 0,
    epsilon: float = 0.0,
    params: HeuristicParams = DEFAULT_PARAMS,
    threads: int | None = None,
    chunk_games: int | None = None,
    progress: ProgressFn | None = None,
    max_plies: int = MAX_PLIES,
    first_game: int = 0,
) -> Dataset:
    """Play `games` expert-vs-expert games and return their samples.

    Arguments:
      games: number of games (>= 1).
      depth: expectiminimax depth of the expert (1..MAX_DEPTH; 3 is the default expert).
      seed: dice seed; game k uses stream first_game + k, so a run can be
        sharded by game range: generate(n, seed=s, first_game=i * n) on worker i.
      epsilon: probability that a move actually played is uniformly random
        (the sample's targets remain the expert's).
      threads: Numba threads (default: all cores); results do not depend on it.
      progress: called as progress(games_done, games_total) after each chunk.
      max_plies: turns (passes included) after which a game is cut; meta
        records how many games were cut ("unfinished_games").
    """
    games = check_int("games", games, 1)
    depth = check_depth(depth)
    if not isinstance(epsilon, (int, float)) or not 0.0 <= float(epsilon) <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
    seed = check_int("seed", seed, 0, MAX_SEED)
    first_game = check_int("first_game", first_game, 0, MAX_GAME_ID + 1 - games)
    max_plies = check_int("max_plies", max_plies, 1)
    n_threads = numba.config.NUMBA_NUM_THREADS if threads is None else check_int("threads", threads)
    if not 1 <= n_threads <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads must be 1..{numba.config.NUMBA_NUM_THREADS}, got {threads!r}")
    if chunk_games is not None:
        check_int("chunk_games", chunk_games, 1)
    chunk = chunk_games or 64 * n_threads
    params_array = params.to_array()
    previous_threads = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    parts: list[tuple[np.ndarray, ...]] = []
    start = time.perf_counter()
    try:
        done = 0
        while done < games:
            n = min(chunk, games - done)
            states = np.zeros((n, max_plies, STATE_SIZE), dtype=np.int8)
            best = np.zeros((n, max_plies), dtype=np.int8)
            values = np.zeros((n, max_plies), dtype=np.float32)
            counts = np.zeros(n, dtype=np.int32)
            outcomes = np.zeros(n, dtype=np.int8)
            with numba.parallel_chunksize(1):  # games differ in length: hand them out one by one
                _play_games(np.uint64(seed), np.uint64(first_game + done), np.int64(depth), params_array,
                            float(epsilon), np.int64(max_plies), states, best, values, counts, outcomes)
            keep = np.arange(max_plies)[None, :] < counts[:, None]
            ids = np.repeat(np.arange(first_game + done, first_game + done + n, dtype=np.int32), counts)
            parts.append((states[keep], best[keep], values[keep], np.repeat(outcomes, counts), ids, outcomes))
            done += n
            if progress is not None:
                progress(done, games)
        state = np.concatenate([p[0] for p in parts])
        moves = np.concatenate([p[1] for p in parts])
        features = extract_features_batch(state)
        masks = np.zeros((len(state), NUM_PIECES), dtype=np.bool_)
        if len(state):
            _legal_masks(state, masks)
    finally:
        numba.set_num_threads(previous_threads)
    policy = np.zeros((len(state), NUM_PIECES), dtype=np.float32)
    policy[np.arange(len(state)), moves] = 1.0
    meta = {
        "format": DATASET_FORMAT,
        "version": __version__,
        "games": int(games),
        "first_game": int(first_game),
        "depth": depth,
        "seed": int(seed),
        "epsilon": float(epsilon),
        "max_plies": int(max_plies),
        "unfinished_games": int(sum(int(np.count_nonzero(p[5] == 0)) for p in parts)),
        "value_target": "search_score / win_score, clipped to [-1, 1], P2's point of view",
        "heuristic_params": params.to_dict(),
        "seconds": round(time.perf_counter() - start, 3),
    }
    return Dataset(
        features=features,
        value_target=np.concatenate([p[2] for p in parts]),
        policy_target=policy,
        legal_mask=masks,
        state=state,
        outcome=np.concatenate([p[3] for p in parts]),
        game_id=np.concatenate([p[4] for p in parts]),
        meta=meta,
    )
