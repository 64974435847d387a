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

With `afterstates` (exact targets only), the samples are not the positions
of the games but the positions after each distinct legal move of each of
their decisions (entering any piece not yet on the board counts once), each
with one roll of the player then to move: the positions a depth-0 value-net
agent asks its net about, bad moves' included. The roll is drawn from the
dice, redrawn while it passes unless `include_passes`, from a generator of
its own per game (stream = game id), so the samples do not depend on the
thread count either. A move that ends the game gives no sample. Each sample
records which decision of its game it follows (`Dataset.decision`), so the
samples after one decision's moves stay siblings for training.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numba import prange

from rgou import __version__
from rgou._numba import njit, numba_threads
from rgou._random import seed_rng
from rgou._validate import check_int
from rgou.agents import AGENT_RANDOM, search_agent_data
from rgou.dataset import DATASET_FORMAT, Dataset, legal_masks, one_hot, run_starts
from rgou.exact import EXACT_TARGETS, is_unrolled, labels_name
from rgou.features import extract_features_batch
from rgou.game import DICE, NO_WINNER, apply_move_inplace, count_legal_moves, distinct_moves, roll_dice, winner
from rgou.heuristic import DEFAULT_PARAMS, HeuristicParams
from rgou.playout import check_threads, play_games
from rgou.rules import MAX_ROLL, NUM_PIECES, P1, P2
from rgou.search import check_depth, heuristic_leaf

MAX_PLIES = 1000  # a game is cut after this many turns, passes included (see docs: practically none are)
MAX_SEED = 2**64 - 1  # seeds are uint64
MAX_GAME_ID = 2**31 - 1  # game ids are int32 in the dataset
CHUNK_GAMES_PER_THREAD = 512  # games per thread in one game-loop call (record arrays: ~20 KB a game)
AFTERSTATE_SALT = np.uint64(0x8EBC6AF09C88C6E3)  # separates the afterstates' rolls from the games' dice

ProgressFn = Callable[[int, int], None]


@njit
def _afterstate_kept(child, include_passes):
    """True if the position after a move is a sample: the game goes on and (unless passes count) a roll moves.

    Tries the rolls in child's roll entry; the caller sets the roll afterwards.
    """
    if winner(child) != NO_WINNER:
        return False
    if include_passes:
        return True
    for roll in range(1, MAX_ROLL + 1):
        child[DICE] = roll
        if count_legal_moves(child) > 0:
            return True
    return False


@njit(parallel=True)
def _afterstate_counts(states, include_passes, out):
    """out[i]: how many samples the positions after the distinct moves of states[i] give."""
    for i in prange(states.shape[0]):
        moves = np.empty(NUM_PIECES, np.int8)
        child = np.empty(states.shape[1], np.int8)
        n = 0
        for k in range(distinct_moves(states[i], moves)):
            child[:] = states[i]
            apply_move_inplace(child, moves[k])
            n += _afterstate_kept(child, include_passes)
        out[i] = n


@njit(parallel=True)
def _afterstates_kernel(states, game_first, game_ids, offsets, seed, include_passes, out):
    """Fill out[offsets[i]:offsets[i+1]] with the rolled positions after the distinct moves of states[i].

    game_first[g]..game_first[g+1] are the rows of game g (id game_ids[g]); its
    rolls come from its own generator, so the result is the same on any thread count.
    """
    for g in prange(len(game_first) - 1):
        rng = seed_rng(seed ^ AFTERSTATE_SALT, game_ids[g])
        moves = np.empty(NUM_PIECES, np.int8)
        child = np.empty(states.shape[1], np.int8)
        row = offsets[game_first[g]]
        for i in range(game_first[g], game_first[g + 1]):
            for k in range(distinct_moves(states[i], moves)):
                child[:] = states[i]
                apply_move_inplace(child, moves[k])
                if not _afterstate_kept(child, include_passes):
                    continue
                while True:
                    child[DICE] = roll_dice(rng)
                    if include_passes or count_legal_moves(child) > 0:
                        break
                out[row] = child
                row += 1


def positions_after_moves(
    states: np.ndarray, game_id: np.ndarray, seed: int, include_passes: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(rolled positions int8 [M, 16], their parent rows int64 [M]) after each distinct move of each state.

    `states` (int8 [N, 16], rolled, the mover has a move) are grouped by game
    (`game_id` int32 [N], each game's rows contiguous); see the module docstring.
    """
    states = np.ascontiguousarray(states, dtype=np.int8)
    counts = np.empty(len(states), np.int64)
    _afterstate_counts(states, include_passes, counts)
    offsets = np.zeros(len(states) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    starts = run_starts(game_id)
    game_first = np.append(starts, len(states)).astype(np.int64)
    out = np.empty((offsets[-1], states.shape[1]), np.int8)
    ids = game_id[starts].astype(np.int64)
    if len(np.unique(ids)) != len(ids):
        raise ValueError("game_id: each game's rows must be contiguous (a game's rolls come from its own stream)")
    _afterstates_kernel(states, game_first, ids, offsets, np.uint64(seed), include_passes, out)
    return out, np.repeat(np.arange(len(states)), counts)


def decision_numbers(game_id: np.ndarray) -> np.ndarray:
    """Number of each row within its game, int32 [N] (0, 1, ...), for rows grouped by game."""
    first = run_starts(game_id)
    n = len(game_id)
    return (np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))).astype(np.int32)


def _check_epsilon(epsilon: float) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0.0 <= float(epsilon) <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
    return float(epsilon)


def check_targets(value_target: str, afterstates: bool) -> None:
    """Refuse value targets `generate` does not know, and afterstates without exact targets."""
    if value_target not in ("search", *EXACT_TARGETS):
        raise ValueError(f"value_target must be search, exact or exact-unrolled, got {value_target!r}")
    if afterstates and value_target not in EXACT_TARGETS:
        raise ValueError(
            "afterstates (--afterstates): the positions after each move have no search value; "
            "use value target (--value-target) exact or exact-unrolled"
        )


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
    afterstates: bool = False,
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
      value_target: "search" (the player's search value / win score),
        "exact": 2 P(P2 wins) - 1 under perfect play, with the perfect move
        as the policy target, from a solved 7-piece table (`table`: a Table or
        a path; default the cache folder's), or "exact-unrolled": the same
        with the value of the pieces before the roll (`rgou.exact`). `table`
        also serves the agent "perfect".
      afterstates: sample the positions after every distinct move of every
        decision, each with a fresh roll, instead of the games' positions
        (exact targets only; see the module docstring).
    """
    games = check_int("games", games, 1)
    depth = check_depth(depth)
    check_targets(value_target, afterstates)
    exact_table = None
    if value_target in EXACT_TARGETS:
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

        players_table = exact_table if exact_table is not None else table  # the one table, loaded once
        expert = make_agent(agent, seed=seed, params=params, table=players_table).data._replace(epsilon=epsilon)
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
    outcome = np.concatenate([p[3] for p in parts])
    game_id = np.concatenate([p[4] for p in parts])
    decision = None
    with numba_threads(n_threads):  # the parallel kernels below too, not only the games
        if afterstates:
            decided = moves >= 0
            state, parent = positions_after_moves(state[decided], game_id[decided], seed, include_passes)
            decision = decision_numbers(game_id[decided])[parent]
            outcome, game_id = outcome[decided][parent], game_id[decided][parent]
        if exact_table is not None:
            from rgou.exact import label_exactly

            values, perfect = label_exactly(exact_table, state, is_unrolled(value_target))
            moves = perfect if afterstates else np.where(moves >= 0, perfect, -1).astype(np.int8)
        features, legal = extract_features_batch(state), legal_masks(state)
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
        "afterstates": bool(afterstates),
        "unfinished_games": int(sum(int(np.count_nonzero(p[5] == 0)) for p in parts)),
        "value_target": (
            labels_name(is_unrolled(value_target))
            if exact_table is not None
            else "search_score / win_score, clipped to [-1, 1], P2's point of view"
        ),
        "heuristic_params": params.to_dict(),
        "agent": agent or f"expectiminimax-{depth}",
        "seconds": round(time.perf_counter() - start, 3),
    }
    return Dataset(
        features=features,
        value_target=values,
        policy_target=one_hot(moves),
        legal_mask=legal,
        state=state,
        outcome=outcome,
        game_id=game_id,
        meta=meta,
        decision=decision,
    )
