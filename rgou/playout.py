"""THE game loop: two agents (`rgou.agents.AgentData`) play seeded games in parallel.

Self-play data, the arena, the benchmarks and the tests all play through
`play_games_kernel`, a nogil njit loop over a range of games; `play_games`
runs ranges of games on a pool of threads (Numba's prange cannot take the
agents' named tuples of arrays into its parallel region). Game g rolls its dice from its own
generator, seeded from (seed, stream) with stream = first_game + g, or
first_game + g // 2 when games are *paired*: then games 2k and 2k+1 use the
same dice stream with the colours swapped (agent 0 is P1 in even games,
agent 1 in odd ones). Agents draw their own randomness (random moves,
exploration) from a second generator per game when `split_streams` is set,
so paired games roll the same dice sequence whatever the agents do;
without it they draw from the dice generator after the roll (how rgou's
self-play has always drawn its exploration).

A turn: if the game is over, stop; roll; if no move is legal (a 0, or
blocked), the turn passes; else the agent to move decides (timed with a
monotonic clock), the decision may be recorded as a sample, and with
probability epsilon a uniformly random legal move is played instead. A game
is cut after `max_plies` turns, passes included (winner 0).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import numba
import numpy as np

from rgou._clock import clock_ns
from rgou._numba import njit
from rgou._random import MAX_SEED, next_float, seed_rng
from rgou._validate import check_callback, check_int, shown
from rgou.agents import AGENT_RANDOM, AgentData, agent_scratch, check_agent_data, check_data_rules, decide_into
from rgou.game import (
    DICE,
    STATE_SIZE,
    TO_MOVE,
    apply_move_inplace,
    is_over,
    legal_moves,
    new_state,
    pass_turn_inplace,
    roll_dice,
    winner,
)
from rgou.leaves import thread_copy
from rgou.rules import NUM_PIECES, P1, RULES_NAME
from rgou.search import search_into

MAX_MATCH_GAMES = 100_000_000  # games in one call: their records take 34 bytes a game (3.4 GB here)

MOVE_STREAM_SALT = np.uint64(0xA0761D6478BD642F)  # separates the agents' generator from the dice
NO_SAMPLE_MOVE = -1  # the recorded move of a passing position


@njit
def _target(value, win):
    """A search value as a target in [-1, 1]: value / win, clipped (NaN stays NaN)."""
    if np.isnan(value):
        return value
    return min(1.0, max(-1.0, value / win))


@njit
def play_games_kernel(
    agents,
    seed,
    first_game,
    paired,
    split_streams,
    max_plies,
    record_passes,
    begin,
    end,
    winners,
    plies,
    time_ns,
    decisions,
    states,
    moves,
    values,
    counts,
):
    """Play games begin..end-1 between agents[0] and agents[1] (a 2-tuple of AgentData).

    Outputs per game g: winners int8[G] (0 if cut), plies int32[G] (turns,
    passes included), time_ns int64[G, 2] and decisions int32[G, 2] per
    agent. When states.shape[1] > 0 each decision is recorded (and each
    passing position, with record_passes) into states int8[G, S, 16], moves
    int8[G, S] (the agent's move, before exploration; -1 for a pass) and
    values float32[G, S] (the search value / win, clipped to [-1, 1]; NaN
    without a search), counts int32[G] samples; at most S per game.
    """
    record = states.shape[1] > 0
    for g in range(begin, end):
        stream = first_game + np.uint64(g // 2 if paired else g)
        rng = seed_rng(seed, stream)
        move_rng = seed_rng(seed ^ MOVE_STREAM_SALT, stream) if split_streams else rng
        first = g % 2 if paired else 0  # the agent playing P1
        scratch = (agent_scratch(agents[0]), agent_scratch(agents[1]))
        legal = np.empty(NUM_PIECES, dtype=np.int8)
        state = new_state()
        n = 0
        turns = 0
        for _ in range(max_plies):
            if is_over(state):
                break
            turns += 1
            state[DICE] = roll_dice(rng)
            side = first if state[TO_MOVE] == P1 else 1 - first
            agent = agents[side]
            m = legal_moves(state, legal)
            if m == 0:
                if record and record_passes and n < states.shape[1]:
                    value = np.nan
                    if agent.kind != AGENT_RANDOM and agent.value_weight != 0.0:
                        s = scratch[side]
                        value, _ = search_into(state, agent.plies, agent.leaf, s.work, s.scores, None)
                    states[g, n] = state
                    moves[g, n] = NO_SAMPLE_MOVE
                    values[g, n] = _target(value, agent.leaf.win)
                    n += 1
                pass_turn_inplace(state)
                continue
            t0 = clock_ns()
            move, value = decide_into(agent, state, move_rng, scratch[side])
            time_ns[g, side] += clock_ns() - t0
            decisions[g, side] += 1
            if record and n < states.shape[1]:
                states[g, n] = state
                moves[g, n] = move
                values[g, n] = _target(value, agent.leaf.win)
                n += 1
            if agent.epsilon > 0.0 and next_float(move_rng) < agent.epsilon:
                move = legal[min(m - 1, int(next_float(move_rng) * m))]
            apply_move_inplace(state, move)
        counts[g] = n
        winners[g] = winner(state)
        plies[g] = turns


@dataclass
class GameRecords:
    """What `play_games` returns: per-game results and, when recorded, the samples of each game."""

    winners: np.ndarray  # int8 [G]: 1 or 2, 0 when the game was cut
    plies: np.ndarray  # int32 [G]: turns played, passes included
    time_ns: np.ndarray  # int64 [G, 2]: decision time of agent 0 / agent 1
    decisions: np.ndarray  # int32 [G, 2]: decisions of agent 0 / agent 1
    first_agent: np.ndarray  # int8 [G]: which agent played P1
    states: np.ndarray  # int8 [G, S, 16] recorded positions (S = 0 when not recorded)
    moves: np.ndarray  # int8 [G, S]
    values: np.ndarray  # float32 [G, S]
    counts: np.ndarray  # int32 [G]


def check_threads(threads: int | None) -> int:
    """Threads to use: all cores (NUMBA_NUM_THREADS) by default, else 1..that."""
    if threads is None:
        return numba.config.NUMBA_NUM_THREADS
    threads = check_int("threads", threads, 1)
    if threads > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads must be 1..{numba.config.NUMBA_NUM_THREADS}, got {threads}")
    return threads


ProgressFn = Callable[[int, int], None]


def play_games(
    agent0: AgentData,
    agent1: AgentData,
    games: int,
    seed: int,
    first_game: int = 0,
    paired: bool = False,
    split_streams: bool = True,
    max_plies: int = 2000,
    record_samples: int = 0,
    record_passes: bool = False,
    threads: int | None = None,
    progress: ProgressFn | None = None,
    task_games: int | None = None,
) -> GameRecords:
    """Play `games` games of agent0 against agent1 on `threads` threads (default: all cores).

    Results depend on (seed, first_game, paired, split_streams), never on the
    thread count or task size. record_samples: at most this many samples per
    game (0: none). progress(games_done, games) is called as tasks of
    `task_games` games finish (default: about 32 tasks per thread).
    agent0, agent1: `Agent.data` of agents of this module's rule set
    (`specialise("rgou.playout", rules).play_games` plays another's). Data
    built for another rule set is refused where it can tell (heuristic and
    solved-table leaves); nets cannot tell theirs: `rgou.arena.match` checks
    the agents' own rule sets.
    """
    checked = []
    for name, data in (("agent0", agent0), ("agent1", agent1)):
        if not isinstance(data, AgentData):
            raise TypeError(f"{name} must be an agent's AgentData (make_agent(spec).data), got {shown(data)}")
        checked.append(check_agent_data(name, data))  # field by field: the game loop reads them unguarded
        check_data_rules(name, data, RULES_NAME, RULES_NAME)
    agent0, agent1 = checked
    games = check_int("games", games, 1, MAX_MATCH_GAMES)
    seed = check_int("seed", seed, 0, MAX_SEED)
    first_game = check_int("first_game", first_game, 0, 2**63 - 1)
    max_plies = check_int("max_plies", max_plies, 1)
    record_samples = check_int("record_samples", record_samples, 0)
    n_threads = check_threads(threads)
    check_callback("progress", progress)
    if task_games is None:
        size = max(1, min(64, games // (32 * n_threads)))
    else:
        size = check_int("task_games", task_games, 1)
    rec = GameRecords(
        winners=np.zeros(games, np.int8),
        plies=np.zeros(games, np.int32),
        time_ns=np.zeros((games, 2), np.int64),
        decisions=np.zeros((games, 2), np.int32),
        first_agent=(np.arange(games) % 2).astype(np.int8) if paired else np.zeros(games, np.int8),
        states=np.zeros((games, record_samples, STATE_SIZE), np.int8),
        moves=np.zeros((games, record_samples), np.int8),
        values=np.zeros((games, record_samples), np.float32),
        counts=np.zeros(games, np.int32),
    )
    fixed = (
        np.uint64(seed),
        np.uint64(first_game),
        bool(paired),
        bool(split_streams),
        np.int64(max_plies),
        bool(record_passes),
    )
    outputs = (rec.winners, rec.plies, rec.time_ns, rec.decisions, rec.states, rec.moves, rec.values, rec.counts)

    local = threading.local()

    def task(begin: int) -> int:
        agents = getattr(local, "agents", None)
        if agents is None:  # each thread plays its own copies of the leaves (see rgou.leaves.thread_copy)
            agents = local.agents = (
                (agent0, agent1)
                if n_threads == 1
                else tuple(a._replace(leaf=thread_copy(a.leaf)) for a in (agent0, agent1))
            )
        end = min(begin + size, games)
        play_games_kernel(agents, *fixed, np.int64(begin), np.int64(end), *outputs)
        return end - begin

    if n_threads == 1:
        for begin in range(0, games, size):
            task(begin)
            if progress is not None:
                progress(min(begin + size, games), games)
        return rec
    # Compiled (or loaded from the cache) here, where Ctrl-C is heard: in a pool thread, a first compile (a
    # minute) held the interrupt until it ended, the main thread waiting for the pool.
    first = ((agent0, agent1), *fixed, np.int64(0), np.int64(0), *outputs)
    play_games_kernel.compile(tuple(numba.typeof(a) for a in first))
    pool = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="rgou-games")
    try:
        done = 0
        for finished in as_completed([pool.submit(task, b) for b in range(0, games, size)]):
            done += finished.result()
            if progress is not None:
                progress(done, games)
    finally:  # on Ctrl-C: drop the queued tasks; running ones finish their few games
        pool.shutdown(wait=True, cancel_futures=True)
    return rec
