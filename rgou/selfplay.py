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
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from numba import prange

from rgou._numba import njit, numba_threads
from rgou._random import MAX_SEED, seed_rng
from rgou._validate import check_bool, check_callback, check_float, check_int, shown
from rgou._version import __version__
from rgou.agents import AGENT_RANDOM, AgentData, search_agent_data
from rgou.dataset import DATASET_FORMAT, Dataset, features_of, one_hot, run_starts
from rgou.features import legal_masks
from rgou.game import (
    DICE,
    NO_WINNER,
    STATE_SIZE,
    apply_move_inplace,
    count_legal_moves,
    distinct_moves,
    roll_dice,
    winner,
)
from rgou.heuristic import DEFAULT_PARAMS, HeuristicParams, check_params
from rgou.leaves import heuristic_leaf
from rgou.playout import check_threads, play_games
from rgou.rules import DEFAULT_RULES, MAX_ROLL, NUM_PIECES, P1, P2, RULE_SETS, RULES_NAME, rule_set
from rgou.search import DEFAULT_DEPTH, check_depth
from rgou.specialise import specialise
from rgou.targets import ValueTarget, check_generated

MAX_PLIES = 1000  # a game is cut after this many turns, passes included (see docs: practically none are)
MAX_PLIES_LIMIT = 100 * MAX_PLIES  # the most max_plies may ask: arrays of games x max_plies are allocated
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
    if states.ndim != 2 or states.shape[1] != STATE_SIZE:
        raise ValueError(f"expected {RULES_NAME} states of shape (N, {STATE_SIZE}), got {states.shape}")
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


@dataclass(frozen=True)
class GenerateOptions:
    """Everything that decides a generation run's samples (validated; `generate` takes one).

    games: number of games (>= 1). depth: expectiminimax depth of the expert
    (1..MAX_DEPTH). seed: dice seed; game k uses stream first_game + k, so a
    run can be sharded by game range (first_game = i * n on worker i).
    epsilon: probability that a move actually played is uniformly random
    (the sample's targets remain the expert's). max_plies: turns (passes
    included) after which a game is cut; its samples have outcome 0.
    include_passes: also record passing positions (value-only samples).
    afterstates: sample the positions after every distinct move of every
    decision, each with a fresh roll, instead of the games' positions (exact
    targets only; see the module docstring). agent: an agent spec
    (`rgou.agents.make_agent`) playing both sides instead of the expert
    (depth is then ignored); its moves and values become the targets.
    value_target: "search" (the player's search value / win score),
    "exact" (perfect play's, with the perfect move as the policy target) or
    "exact-unrolled" (the same, of the pieces before the roll), see
    `rgou.targets`. table: the rule set's solved table of exact targets and
    of the agent "perfect" (a `rgou.solve.Table` or a path; None: the cache
    folder's). params: the expert's heuristic. rules: the rule set played
    (`rgou.rules.RULE_SETS`; the samples' meta records it).
    """

    games: int = 100
    depth: int = DEFAULT_DEPTH
    seed: int = 0
    epsilon: float = 0.0
    max_plies: int = MAX_PLIES
    first_game: int = 0
    include_passes: bool = False
    afterstates: bool = False
    agent: str | None = None
    value_target: str = "search"
    table: Any = field(default=None, compare=False)  # any table of these rules gives the same labels
    params: HeuristicParams = DEFAULT_PARAMS
    rules: str = DEFAULT_RULES

    def __post_init__(self) -> None:
        rules = rule_set(self.rules, "rules")
        if RULE_SETS.get(rules.name) != rules:
            raise ValueError(f"rules: data is generated under the built-in rule sets only ({', '.join(RULE_SETS)})")
        object.__setattr__(self, "rules", rules.name)
        # Python ints from here on (a NumPy int32 would overflow the sum below, and is no JSON)
        object.__setattr__(self, "games", check_int("games", self.games, 1, MAX_GAME_ID + 1))
        object.__setattr__(self, "depth", check_depth(self.depth))
        object.__setattr__(self, "seed", check_int("seed", self.seed, 0, MAX_SEED))
        object.__setattr__(self, "epsilon", check_float("epsilon", self.epsilon, 0.0, 1.0))
        object.__setattr__(self, "max_plies", check_int("max_plies", self.max_plies, 1, MAX_PLIES_LIMIT))
        object.__setattr__(self, "first_game", check_int("first_game", self.first_game, 0))
        if self.first_game + self.games > MAX_GAME_ID + 1:
            raise ValueError(
                f"first_game + games (--first-game + --games) must be at most {MAX_GAME_ID + 1:,} (game ids are 32-bit)"
            )
        for name in ("include_passes", "afterstates"):
            object.__setattr__(self, name, check_bool(name, getattr(self, name)))
        if self.agent is not None and not isinstance(self.agent, str):
            raise ValueError(f"agent must be an agent spec (a string) or None, got {self.agent!r}")
        check_generated(self.value_target, self.afterstates)
        check_params(self.params)

    @property
    def target(self) -> ValueTarget:
        return ValueTarget.parse(self.value_target)

    @property
    def run_table(self) -> Any:
        """The table generating reads: `table`, else the file of a `perfect:FILE` agent (its exact targets read
        it too), else None (the cache folder's). Resolved here, not stored: `replace` keeps no stale one."""
        from rgou.agents import spec_table

        return self.table if self.table is not None else spec_table(self.agent)

    @property
    def players(self) -> str:
        """Who plays the games: the agent spec, or the expert of `depth`."""
        return self.agent or f"expectiminimax-{self.depth}"

    def to_json(self) -> dict[str, Any]:
        """The fields that decide the samples, as JSON values (table and params left out)."""
        return {name: getattr(self, name) for name in DATA_FIELDS}


DATA_FIELDS = tuple(f.name for f in fields(GenerateOptions) if f.name not in ("table", "params"))


def generate(
    options: GenerateOptions | int | None = None,
    *,
    threads: int | None = None,
    chunk_games: int | None = None,
    progress: ProgressFn | None = None,
    **fields: Any,
) -> Dataset:
    """Play a generation run's games and return their samples.

    `generate(options)` takes a `GenerateOptions`; `generate(games, **fields)`
    builds one (e.g. ``generate(100, depth=2, seed=7)``); fields given with
    options replace theirs. threads: Numba threads (default: all cores); the
    samples do not depend on it. progress: called as progress(games_done,
    games_total) after each chunk of games.
    """
    if isinstance(options, GenerateOptions):
        options = replace(options, **fields) if fields else options
    elif options is None:
        options = GenerateOptions(**fields)
    else:
        options = GenerateOptions(options, **fields)
    o = options
    check_callback("progress", progress)
    if o.rules != RULES_NAME:  # this module compiled for the rule set plays its games
        return specialise(__name__, o.rules).generate(o, threads=threads, chunk_games=chunk_games, progress=progress)
    target = o.target
    n_threads = check_threads(threads)
    if chunk_games is not None:
        check_int("chunk_games", chunk_games, 1)
    chunk = chunk_games or CHUNK_GAMES_PER_THREAD * n_threads
    games, seed, first_game, max_plies, include_passes = o.games, o.seed, o.first_game, o.max_plies, o.include_passes
    exact_table, expert = _players(o)
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
        has_policy = moves >= 0
        if o.afterstates:
            state, parent = positions_after_moves(state[has_policy], game_id[has_policy], seed, include_passes)
            decision = decision_numbers(game_id[has_policy])[parent]
            outcome, game_id = outcome[has_policy][parent], game_id[has_policy][parent]
            has_policy = None  # every afterstate that moves has a perfect move
        if exact_table is not None:
            relabel_exactly = specialise("rgou.exact", RULES_NAME).relabel_exactly
            values, moves = relabel_exactly(exact_table, state, has_policy, target.is_unrolled)
        features, legal = features_of(state, RULES_NAME), legal_masks(state)
    meta = {
        "format": DATASET_FORMAT,
        "version": __version__,
        "rules": RULES_NAME,
        "games": int(games),
        "first_game": int(first_game),
        "depth": o.depth,
        "seed": int(seed),
        "epsilon": float(o.epsilon),
        "max_plies": int(max_plies),
        "include_passes": bool(include_passes),
        "afterstates": bool(o.afterstates),
        "unfinished_games": int(sum(int(np.count_nonzero(p[5] == 0)) for p in parts)),
        "value_target": target.describe(),
        "heuristic_params": o.params.to_dict(),
        "agent": o.players,
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
        _positions_checked=True,  # the games' own positions, masks and moves
    )


@dataclass
class GenerationRun:
    """What `generate_files` wrote: the dataset (or shard folder), its size and speed."""

    out: Path
    options: GenerateOptions
    samples: int
    seconds: float  # playing and labelling, compilation left out
    write_seconds: float = 0.0
    unfinished_games: int = 0
    json: Path | None = None
    shards: int | None = None  # a sharded run: the shard count
    complete: bool = True  # a sharded run: every shard is there


def generate_files(
    options: GenerateOptions,
    out: str | Path,
    *,
    json: str | Path | None = None,
    shards: int | None = None,
    scheduler: str = "local",
    threads: int | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
    message: Callable[[str], None] | None = None,
    inputs: tuple[tuple[str, Any], ...] = (),
) -> GenerationRun:
    """Generate a run into files as `rgou generate` does: one .npz (and a JSON export), or a shard folder.

    With `shards`, the games are split into that many Dask tasks (`scheduler`:
    "local" or an address; `threads` local workers) writing `out`/shard-*.npz
    and `out`/manifest.json (`rgou.cluster.generate_shards`); a rerun finishes
    a run that did not. Outputs are checked before any work: an existing
    file needs `force`, and no output may be an input (the table, the
    players' files, and `inputs`: more (option, path) pairs).
    """
    from rgou._io import atomic_write_many, check_inputs, check_outputs, file_path
    from rgou._numba import warm_up
    from rgou.agents import spec_inputs
    from rgou.dataset import write_json

    if not isinstance(options, GenerateOptions):
        raise TypeError(f"options must be a GenerateOptions (GenerateOptions(games, depth=...)), got {shown(options)}")
    file_path("out", out)  # a str or path, else a TypeError naming it (kept as given: Path("") is ".")
    force = check_bool("force", force)
    if shards is not None:
        shards = check_int("shards", shards, 1)
    check_callback("progress", progress)
    check_callback("message", message)
    inputs = [*check_inputs(inputs), ("--table", options.table if isinstance(options.table, (str, Path)) else None)]
    inputs += [("--agent", path) for path in (spec_inputs(options.agent) if options.agent else [])]
    check_table(options.run_table, reads_table(options), options.rules)
    if shards:
        if not str(out).strip():
            raise ValueError("--out is empty; give a folder for the shards")
        if str(out) == "-":
            raise ValueError("--out -: standard output is not a folder; give a folder for the shards")
        if json:
            raise ValueError("--json exports one file; with --shards, export shards one by one (Dataset.to_json)")
        if Path(out).exists() and not Path(out).is_dir():
            raise ValueError(f"--out {out} is a file; with --shards it is a folder for the shards")
        from rgou.cluster import generate_shards

        _players(options)  # the player and its files, checked here: a worker's error comes with Dask's reports
        start = time.perf_counter()
        manifest = generate_shards(out, options, shards, scheduler=scheduler, workers=threads, progress=progress)
        return GenerationRun(
            Path(out),
            options,
            manifest["samples"],
            time.perf_counter() - start,
            shards=len(manifest["shards"]),
            complete=manifest["complete"],
        )
    if json and options.rules != DEFAULT_RULES:
        raise ValueError(f"--json: the JSON export holds {DEFAULT_RULES} samples only (the upstream trainer's format)")
    paths = check_outputs({"--out": out, "--json": json}, inputs, force=force)
    if Path(out).suffix == ".json":  # a dataset is read by its name: .json as the JSON export, else as .npz
        raise ValueError(f"--out {out}: the dataset is written as .npz but would be read as JSON by its name; "
                         "name it FILE.npz (--json FILE.json writes the JSON export)")  # fmt: skip
    if json and Path(json).suffix != ".json":
        raise ValueError(f"--json {json}: the JSON export would be read as .npz by its name; name it FILE.json")
    warm_up(lambda: _warm_generate(options), message)
    dataset = generate(options, threads=threads, progress=progress)
    start = time.perf_counter()
    targets = [paths["--out"], *([paths["--json"]] if json else [])]
    with atomic_write_many(targets, ["wb", "w"][: len(targets)]) as handles:
        dataset.write_npz(handles[0])
        if json:
            write_json(dataset, handles[1])
    return GenerationRun(
        paths["--out"],
        options,
        len(dataset),
        dataset.meta["seconds"],
        time.perf_counter() - start,
        dataset.meta["unfinished_games"],
        paths.get("--json"),
    )


def reads_table(options: GenerateOptions) -> bool:
    """Whether generating reads a solved table: for exact value targets, or for the agent `perfect`."""
    from rgou.agents import spec_table

    return options.target.is_exact or options.agent == "perfect" or spec_table(options.agent) is not None


def _players(o: GenerateOptions) -> tuple[Any, AgentData]:
    """The solved table of exact targets (None without them) and the player's data, loaded and checked."""
    if o.rules != RULES_NAME:
        return specialise(__name__, o.rules)._players(o)
    exact_table = None
    if o.target.is_exact:
        from rgou.solve import load_perfect_table

        exact_table = load_perfect_table(o.run_table, RULES_NAME)
    if o.agent is None:
        return exact_table, search_agent_data(o.depth, heuristic_leaf(o.params), o.epsilon)
    from rgou.agents import make_agent

    players_table = exact_table if exact_table is not None else o.table  # the one table, loaded once
    expert = make_agent(o.agent, seed=o.seed, params=o.params, table=players_table, rules=RULES_NAME).data
    if exact_table is None and (expert.kind == AGENT_RANDOM or expert.value_weight == 0.0):
        raise ValueError(
            f"--agent {o.agent}: its moves come without a search value to store as the value target; "
            "use an agent that searches (emm-N, ml, perfect) or exact targets (--value-target exact)"
        )
    return exact_table, expert._replace(epsilon=o.epsilon)


UNREAD_TABLE = (
    "--table: nothing reads it; a solved table serves exact value targets (--value-target exact) and the agent perfect"
)


def check_table(table: Any, reads: bool, rules: str) -> None:
    """Refuse, before any kernel compiles, a `table` that nothing `reads`, or one that is not the solved
    table of the real game of `rules` (None: the cache folder's). Its header alone: the run's own load
    verifies the data."""
    if not reads:
        if table is not None:
            raise ValueError(UNREAD_TABLE)
        return
    from rgou.solve import check_perfect_table

    check_perfect_table(table, rules)


def _warm_generate(options: GenerateOptions) -> None:
    """Load or compile the kernels of a generation run on two short games (kept out of the timings)."""
    if options.rules != RULES_NAME:
        return specialise(__name__, options.rules)._warm_generate(options)
    data = generate(1, depth=1, seed=0, max_plies=8, include_passes=options.include_passes, rules=options.rules)
    if options.afterstates:
        positions_after_moves(data.state[data.has_policy], data.game_id[data.has_policy], 0, options.include_passes)
