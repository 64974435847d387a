"""Seeded, parallel self-play data from the expectiminimax expert, on the one game loop.

Both sides are the expert (expectiminimax to `depth` plies on the heuristic).
Game k of a run rolls its dice from stream first_game + k of the seed, so a
seed gives the same games whatever the number of threads, and a run can be
sharded by game range. Every position where the mover has a legal move
becomes one sample: the expert's best move (the policy target), its score /
win_score clipped to [-1, 1] (the value target, P2's point of view), the
game's outcome and id. With `include_passes`, positions that pass (a roll of
0, or no legal move) are samples too, with the expert's value and no policy
target (dataset format 2). With `epsilon > 0` the move actually played is
uniformly random with that probability, drawn from the game's dice
generator after the roll; the sample keeps the expert's move.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from rgou import __version__
from rgou._validate import check_int
from rgou.agents import AGENT_RANDOM, search_agent_data
from rgou.dataset import DATASET_FORMAT, Dataset, legal_masks, one_hot
from rgou.features import extract_features_batch
from rgou.heuristic import DEFAULT_PARAMS, HeuristicParams
from rgou.playout import check_threads, play_games
from rgou.rules import P1, P2
from rgou.search import check_depth, heuristic_leaf

MAX_PLIES = 1000  # a game is cut after this many turns, passes included (see docs: practically none are)
MAX_SEED = 2**64 - 1  # seeds are uint64
MAX_GAME_ID = 2**31 - 1  # game ids are int32 in the dataset
CHUNK_GAMES_PER_THREAD = 512  # games per thread in one game-loop call (record arrays: ~20 KB a game)

ProgressFn = Callable[[int, int], None]


def _check_epsilon(epsilon: float) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0.0 <= float(epsilon) <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
    return float(epsilon)


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
    include_passes: bool = False,
    agent: str | None = None,
    value_target: str = "search",
    table=None,
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
        records how many games were cut ("unfinished_games"); their samples
        have outcome 0.
      include_passes: also record passing positions (value-only samples).
      agent: an agent spec (`rgou.agents.make_agent`) to play both sides
        instead of the expert, e.g. "ml-1" for data from a model's own play;
        its moves and values become the targets (depth is then ignored).
      value_target: "search" (the player's search value / win score) or
        "exact": 2 P(P2 wins) - 1 under perfect play, with the perfect move
        as the policy target, from a solved 7-piece table (`table`: a Table or
        a path; default the cache folder's).
    """
    games = check_int("games", games, 1)
    depth = check_depth(depth)
    if value_target not in ("search", "exact"):
        raise ValueError(f"value_target must be search or exact, got {value_target!r}")
    exact_table = None
    if value_target == "exact":
        from rgou.agents import load_perfect_table

        exact_table = load_perfect_table(table)
    epsilon = _check_epsilon(epsilon)
    seed = check_int("seed", seed, 0, MAX_SEED)
    first_game = check_int("first_game", first_game, 0, MAX_GAME_ID + 1 - games)
    max_plies = check_int("max_plies", max_plies, 1)
    n_threads = check_threads(threads)
    if chunk_games is not None:
        check_int("chunk_games", chunk_games, 1)
    chunk = chunk_games or CHUNK_GAMES_PER_THREAD * n_threads
    if agent is None:
        expert = search_agent_data(depth, heuristic_leaf(params), epsilon)
    else:
        from rgou.agents import make_agent

        expert = make_agent(agent, seed=seed, params=params).data._replace(epsilon=epsilon)
        if exact_table is None and (expert.kind == AGENT_RANDOM or expert.value_weight == 0.0):
            raise ValueError(
                f"--agent {agent}: its moves come without a search value to store as the value target; "
                "use an agent that searches (emm-N, ml, perfect) or exact targets (--value-target exact)"
            )
    parts = []
    start = time.perf_counter()
    done = 0
    while done < games:
        n = min(chunk, games - done)
        rec = play_games(
            expert,
            expert,
            n,
            seed,
            first_game=first_game + done,
            split_streams=False,
            max_plies=max_plies,
            record_samples=max_plies,
            record_passes=include_passes,
            threads=n_threads,
            progress=None if progress is None else (lambda k, _n, base=done: progress(base + k, games)),
        )
        keep = np.arange(max_plies)[None, :] < rec.counts[:, None]
        outcomes = np.where(rec.winners == P2, 1, np.where(rec.winners == P1, -1, 0)).astype(np.int8)
        ids = np.arange(first_game + done, first_game + done + n, dtype=np.int32)
        parts.append(
            (
                rec.states[keep],
                rec.moves[keep],
                rec.values[keep],
                np.repeat(outcomes, rec.counts),
                np.repeat(ids, rec.counts),
                outcomes,
            )
        )
        done += n
    state = np.concatenate([p[0] for p in parts])
    moves = np.concatenate([p[1] for p in parts])
    values = np.concatenate([p[2] for p in parts])
    if exact_table is not None:
        from rgou.exact import label_exactly

        values, perfect = label_exactly(exact_table, state)
        moves = np.where(moves >= 0, perfect, -1).astype(np.int8)
    meta = {
        "format": DATASET_FORMAT,
        "version": __version__,
        "games": int(games),
        "first_game": int(first_game),
        "depth": depth,
        "seed": int(seed),
        "epsilon": float(epsilon),
        "max_plies": int(max_plies),
        "include_passes": bool(include_passes),
        "unfinished_games": int(sum(int(np.count_nonzero(p[5] == 0)) for p in parts)),
        "value_target": (
            "2 P(P2 wins) - 1 under perfect play; policy target: the perfect move"
            if exact_table is not None
            else "search_score / win_score, clipped to [-1, 1], P2's point of view"
        ),
        "heuristic_params": params.to_dict(),
        "agent": agent or f"expectiminimax-{depth}",
        "seconds": round(time.perf_counter() - start, 3),
    }
    return Dataset(
        features=extract_features_batch(state),
        value_target=values,
        policy_target=one_hot(moves),
        legal_mask=legal_masks(state),
        state=state,
        outcome=np.concatenate([p[3] for p in parts]),
        game_id=np.concatenate([p[4] for p in parts]),
        meta=meta,
    )
