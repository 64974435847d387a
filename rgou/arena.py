"""Matches between agents on the one game loop: paired colours, Wilson intervals, time per move.

`match(a, b, games, seed)` plays `games` games of agent a against agent b
with the colours alternated and the dice paired: games 2k and 2k+1 roll the
same dice stream (k of the seed) with the colours swapped, so luck of the
dice cancels between the two agents. Results are reproducible for a seed,
whatever the number of threads. `tournament(specs, ...)` plays every pair.
`match_records(a, b, games, seed)` plays the first games of the same match
again, recording every turn, as game records (`rgou.record`).
Win rates come with 95% Wilson score intervals; a game cut at `max_plies`
turns (practically never at the default) counts for neither side and is
reported as unfinished.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from rgou._validate import check_callback, check_int, shown
from rgou.agents import Agent, check_agent, make_agent
from rgou.game import engine
from rgou.playout import NO_SAMPLE_MOVE
from rgou.record import MAX_TURNS, GameRecord, Turn
from rgou.rules import DEFAULT_RULES
from rgou.specialise import specialise

ARENA_MAX_PLIES = MAX_TURNS  # turns, passes included: a cap no real game reaches
RECORD_CHUNK = (
    16  # games recorded at a time (even: a chunk holds whole pairs): 16 x MAX_TURNS x 16 bytes of positions (2.6 MB)
)
MAX_SAVED_GAMES = 100_000  # game records saved per pair
DEFAULT_SAVED_GAMES = 10  # ... unless --save-count says
Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(wins: int, games: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a win rate wins / games (0..1); (0, 1) for no games."""
    games = check_int("games", games, 0)
    wins = check_int("wins", wins, 0, games)
    if games == 0:
        return 0.0, 1.0
    p = wins / games
    denom = 1.0 + z * z / games
    centre = (p + z * z / (2 * games)) / denom
    half = z * math.sqrt(p * (1 - p) / games + z * z / (4 * games * games)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class PairResult:
    """One pair's match: a against b (names as given)."""

    a: str
    b: str
    games: int  # decided games
    a_wins: int
    b_wins: int
    a_win_rate: float
    ci95: tuple[float, float]
    a_win_rate_as_p1: float
    a_win_rate_as_p2: float
    mean_plies: float
    ms_per_move: dict[str, float]
    unfinished: int = 0

    def to_json(self) -> dict:
        out = asdict(self)
        out["ci95"] = list(self.ci95)
        return out


ProgressFn = Callable[[int, int], None]


def match(
    a: Agent,
    b: Agent,
    games: int,
    seed: int = 0,
    threads: int | None = None,
    progress: ProgressFn | None = None,
    max_plies: int = ARENA_MAX_PLIES,
    first_game: int = 0,
) -> PairResult:
    """Play `games` games of a against b with paired dice and alternating colours (under the agents' rule set)."""
    games = check_int("games", games, 1)
    check_agent("a", a)
    check_agent("b", b)
    check_callback("progress", progress)
    rec = _game_loop(a, b)(
        a.data,
        b.data,
        games,
        seed,
        first_game=first_game,
        paired=True,
        split_streams=True,
        max_plies=max_plies,
        threads=threads,
        progress=progress,
    )
    return summarize(a.name, b.name, rec.winners, rec.first_agent, rec.plies, rec.time_ns, rec.decisions)


def _game_loop(a: Agent, b: Agent) -> Callable:
    """`rgou.playout.play_games` for the agents' rule set (both must play the same one)."""
    if a.rules != b.rules:
        raise ValueError(f"{a.name} plays the {a.rules} rules and {b.name} the {b.rules} rules: a match needs one")
    return specialise("rgou.playout", a.rules).play_games


def match_records(
    a: Agent, b: Agent, games: int, seed: int = 0, threads: int | None = None, max_plies: int = ARENA_MAX_PLIES
) -> list[GameRecord]:
    """The first `games` games of `match(a, b, ..., seed)`, the same games, as game records (every turn kept)."""
    games = check_int("games", games, 1)
    check_agent("a", a)
    check_agent("b", b)
    max_plies = check_int("max_plies", max_plies, 1, MAX_TURNS)
    loop, kernels = _game_loop(a, b), engine(a.rules)
    out = []
    for first in range(0, games, RECORD_CHUNK):
        count = min(RECORD_CHUNK, games - first)
        rec = loop(
            a.data, b.data, count, seed, first_game=first // 2, paired=True, split_streams=True,
            max_plies=max_plies, record_samples=max_plies, record_passes=True, threads=threads,
        )  # fmt: skip
        for g in range(count):
            players = (a.name, b.name) if rec.first_agent[g] == 0 else (b.name, a.name)
            n = int(rec.counts[g])
            turns = [
                Turn(int(s[kernels.TO_MOVE]), int(s[kernels.DICE]), None if m == NO_SAMPLE_MOVE else int(m))
                for s, m in zip(rec.states[g, :n], rec.moves[g, :n])
            ]
            out.append(GameRecord(players, seed, (first + g) // 2, turns, a.rules))
    return out


def summarize(
    a_name: str,
    b_name: str,
    winners: np.ndarray,
    first_agent: np.ndarray,
    plies: np.ndarray,
    time_ns: np.ndarray,
    decisions: np.ndarray,
) -> PairResult:
    """A PairResult from per-game arrays of the game loop (agent 0 is a).

    winners int [G] (0 unfinished, 1 or 2), first_agent int [G] (0: a moved
    first), plies int [G], time_ns and decisions int [G, 2] (per agent), >= 0.
    """
    winners, first_agent, plies = np.asarray(winners), np.asarray(first_agent), np.asarray(plies)
    time_ns, decisions = np.asarray(time_ns), np.asarray(decisions)
    g = winners.shape[0] if winners.ndim == 1 else -1
    for name, array, shape in (
        ("winners", winners, (g,)),
        ("first_agent", first_agent, (g,)),
        ("plies", plies, (g,)),
        ("time_ns", time_ns, (g, 2)),
        ("decisions", decisions, (g, 2)),
    ):
        if array.shape != shape or array.dtype.kind not in "iu":
            what = "[G]" if len(shape) == 1 else "[G, 2]"
            raise ValueError(f"{name} must be integers {what} (G: the games), got {array.dtype} {array.shape}")
        if array.size and array.min() < 0:
            raise ValueError(f"{name} must be >= 0, got {array.min()}")
    if not (np.isin(winners, (0, 1, 2)).all() and np.isin(first_agent, (0, 1)).all()):
        raise ValueError("winners must be 0, 1 or 2 and first_agent 0 or 1")
    decided = winners != 0
    a_is_p1 = first_agent == 0
    a_won = decided & (winners == np.where(a_is_p1, 1, 2))
    n = int(decided.sum())
    k = int(a_won.sum())

    def rate(mask: np.ndarray) -> float:
        m = int((mask & decided).sum())
        return float((a_won & mask).sum() / m) if m else float("nan")

    ms = {}
    for side, name in ((0, a_name), (1, b_name)):
        count = int(decisions[:, side].sum())
        ms[name] = float(time_ns[:, side].sum() / count / 1e6) if count else 0.0
    if a_name == b_name:  # the same spec on both sides: one timing over both
        count = int(decisions.sum())
        ms = {a_name: float(time_ns.sum() / count / 1e6) if count else 0.0}
    return PairResult(
        a=a_name,
        b=b_name,
        games=n,
        a_wins=k,
        b_wins=n - k,
        a_win_rate=k / n if n else float("nan"),
        ci95=wilson_interval(k, n),
        a_win_rate_as_p1=rate(a_is_p1),
        a_win_rate_as_p2=rate(~a_is_p1),
        mean_plies=float(plies.mean()),
        ms_per_move=ms,
        unfinished=int((~decided).sum()),
    )


def tournament(
    specs: list[str],
    games: int,
    seed: int = 0,
    threads: int | None = None,
    progress: Callable[[str, str, int, int], None] | None = None,
    max_plies: int = ARENA_MAX_PLIES,
    scheduler: str | None = None,
    rules: str = DEFAULT_RULES,
) -> list[PairResult]:
    """Every pair of agents (by spec) plays `games` games; pairs in the order of the specs (`rgou arena`).

    With `scheduler` ("local" or a Dask scheduler's address) the games are
    Dask tasks (`rgou.cluster.match_sharded`, one client for every pair;
    `threads` local workers); the results are the same as on one machine.
    `rules`: the rule set every game is played under.
    """
    if not isinstance(specs, (list, tuple)) or not all(isinstance(spec, str) for spec in specs):
        raise TypeError(f"specs must be a list of agent specs, such as ['heuristic', 'emm-2'], got {shown(specs)}")
    if len(specs) < 2:
        raise ValueError(f"an arena needs at least two agents, got {len(specs)}")
    check_callback("progress", progress)
    if scheduler is not None and not (isinstance(scheduler, str) and scheduler.strip()):
        raise TypeError(f'scheduler must be "local" or a Dask scheduler\'s address (a str), got {shown(scheduler)}')
    agents = [make_agent(spec, seed=seed, rules=rules) for spec in specs]  # bad specs fail before any game
    pairs = list(itertools.combinations(range(len(agents)), 2))

    def report(i: int, j: int):
        return None if progress is None else (lambda done, total: progress(specs[i], specs[j], done, total))

    if scheduler is None:
        return [match(agents[i], agents[j], games, seed, threads, report(i, j), max_plies) for i, j in pairs]
    from rgou.cluster import close_client, connect, match_sharded

    client = connect(scheduler, threads)
    try:
        return [
            match_sharded(
                specs[i], specs[j], games, seed, client=client, max_plies=max_plies, progress=report(i, j), rules=rules
            )
            for i, j in pairs
        ]
    finally:
        close_client(client)


def tournament_json(results: list[PairResult], games: int, seed: int, rules: str = DEFAULT_RULES) -> dict:
    """A tournament's results as `rgou arena --json` writes them."""
    return {"rules": rules, "games_per_pair": games, "seed": seed, "pairs": [r.to_json() for r in results]}


def win_matrix(specs: list[str], results: list[PairResult]) -> list[list[float | None]]:
    """matrix[i][j]: the win rate of specs[i] against specs[j] (None on the diagonal)."""
    index = {s: k for k, s in enumerate(specs)}
    matrix: list[list[float | None]] = [[None] * len(specs) for _ in specs]
    for r in results:
        i, j = index[r.a], index[r.b]
        matrix[i][j] = r.a_win_rate
        matrix[j][i] = 1.0 - r.a_win_rate
    return matrix
