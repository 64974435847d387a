"""Exact evaluation of an agent: how much winning chance each of its decisions gives away.

`evaluate_agent(agent, perfect, games)` plays `games` games of the agent
against the perfect agent (paired dice, colours alternated) and, for every
decision the agent made, compares the exact chance of winning after its move
with the best move's (from the solved table): the loss is zero for an
optimal move. It reports the mean loss per decision and the share of optimal
decisions, with 95% intervals from a bootstrap over games (decisions of one
game are not independent), and the match result. Far less noisy than win
rates: every decision is measured, not only the game's end.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rgou._validate import check_callback, check_int
from rgou.agents import Agent, PerfectAgent, check_agent
from rgou.arena import ProgressFn, summarize
from rgou.record import MAX_TURNS
from rgou.rules import DEFAULT_RULES, P1, P2
from rgou.specialise import specialise

if TYPE_CHECKING:
    from rgou.solve.table import Table

OPTIMAL = 1e-7  # a move within this of the best is optimal (the table's tolerance)
CHUNK_GAMES = 512  # games per chunk (an even number: paired games stay together)
EVAL_MAX_PLIES = 1000  # no measured game came near (the longest of 6,000 expert games took 374 turns)
BOOTSTRAP = 2000
BOOTSTRAP_VALUES = 4_000_000  # picks drawn at once (32 MB of indices, and as much for each array they gather)


@dataclass
class Evaluation:
    """What `evaluate_agent` measured."""

    agent: str
    games: int
    decisions: int
    mean_loss: float  # mean loss of winning probability per decision
    mean_loss_ci95: tuple[float, float]
    optimal_share: float  # share of decisions that were optimal
    optimal_share_ci95: tuple[float, float]
    win_rate: float  # the agent's wins against the perfect agent
    win_rate_ci95: tuple[float, float]

    def to_json(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    def summary(self) -> str:
        lo, hi = self.mean_loss_ci95
        olo, ohi = self.optimal_share_ci95
        wlo, whi = self.win_rate_ci95
        return (
            f"{self.agent}: {self.decisions:,} decisions in {self.games} games against the perfect agent\n"
            f"  mean loss of winning chance per decision {100 * self.mean_loss:.3f} points "
            f"(95% CI {100 * lo:.3f}-{100 * hi:.3f})\n"
            f"  optimal decisions {100 * self.optimal_share:.2f}% (95% CI {100 * olo:.2f}-{100 * ohi:.2f})\n"
            f"  wins against the perfect agent {100 * self.win_rate:.1f}% (95% CI {100 * wlo:.1f}-{100 * whi:.1f})"
        )


def evaluate_agent(
    agent: Agent,
    perfect: PerfectAgent,
    games: int,
    seed: int = 0,
    threads: int | None = None,
    progress: ProgressFn | None = None,
    max_plies: int = EVAL_MAX_PLIES,
) -> Evaluation:
    """Play `games` games against `perfect` (a PerfectAgent of the agent's rule set) and measure every decision.

    Games are played in chunks of paired games, so memory stays bounded.
    """
    check_agent("agent", agent)
    check_agent("perfect", perfect, PerfectAgent)
    games = check_int("games", games, 1)
    max_plies = check_int("max_plies", max_plies, 1, MAX_TURNS)  # record arrays of CHUNK_GAMES x max_plies
    check_callback("progress", progress)
    if agent.rules != perfect.rules:
        raise ValueError(f"{agent.name} plays the {agent.rules} rules, {perfect.name} the {perfect.rules} rules")
    play_games = specialise("rgou.playout", agent.rules).play_games
    decision_losses = specialise("rgou.exact", agent.rules).decision_losses
    to_move = specialise("rgou.game", agent.rules).TO_MOVE
    values = perfect.table.values
    per_game_loss = np.zeros(games)
    per_game_optimal = np.zeros(games)
    per_game_count = np.zeros(games)
    arrays: dict[str, list[np.ndarray]] = {k: [] for k in ("winners", "first_agent", "plies", "time_ns", "decisions")}
    for start in range(0, games, CHUNK_GAMES):
        n = min(CHUNK_GAMES, games - start)
        report = None if progress is None else (lambda done, total, start=start: progress(start + done, games))
        rec = play_games(
            agent.data,
            perfect.data,
            n,
            seed,
            first_game=start // 2,
            paired=True,
            max_plies=max_plies,
            record_samples=max_plies,
            threads=threads,
            progress=report,
        )
        for k in arrays:
            arrays[k].append(getattr(rec, k))
        for g in range(n):
            states = rec.states[g, : rec.counts[g]]
            moves = rec.moves[g, : rec.counts[g]]
            agent_player = P1 if rec.first_agent[g] == 0 else P2
            mine = states[:, to_move] == agent_player
            if not mine.any():
                continue
            losses = np.empty(int(mine.sum()))
            decision_losses(values, np.ascontiguousarray(states[mine]), np.ascontiguousarray(moves[mine]), losses)
            per_game_loss[start + g] = losses.sum()
            per_game_optimal[start + g] = np.sum(losses <= OPTIMAL)
            per_game_count[start + g] = len(losses)
    rec = type("Games", (), {k: np.concatenate(v) for k, v in arrays.items()})
    result = summarize(agent.name, perfect.name, rec.winners, rec.first_agent, rec.plies, rec.time_ns, rec.decisions)
    loss_boot, optimal_boot = _bootstrap(per_game_loss, per_game_optimal, per_game_count, seed)
    total = per_game_count.sum()
    return Evaluation(
        agent=agent.name,
        games=games,
        decisions=int(total),
        mean_loss=float(per_game_loss.sum() / total),
        mean_loss_ci95=tuple(float(x) for x in np.percentile(loss_boot, [2.5, 97.5])),
        optimal_share=float(per_game_optimal.sum() / total),
        optimal_share_ci95=tuple(float(x) for x in np.percentile(optimal_boot, [2.5, 97.5])),
        win_rate=result.a_win_rate,
        win_rate_ci95=result.ci95,
    )


def _bootstrap(loss: np.ndarray, optimal: np.ndarray, count: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """BOOTSTRAP resamples of the games (loss, optimal, count: float64 [games]): the mean loss and the optimal
    share of each resample, float64 [BOOTSTRAP] each.

    Drawn a block of resamples at a time (BOOTSTRAP_VALUES picks at most), so memory stays bounded however
    many games; the blocks draw the same numbers as one draw of all of them.
    """
    games = len(loss)
    rng = np.random.default_rng(seed)
    loss_boot, optimal_boot = np.empty(BOOTSTRAP), np.empty(BOOTSTRAP)
    step = max(1, BOOTSTRAP_VALUES // games)
    for start in range(0, BOOTSTRAP, step):
        stop = min(BOOTSTRAP, start + step)
        picks = rng.integers(0, games, size=(stop - start, games))
        counts = count[picks].sum(axis=1)
        loss_boot[start:stop] = loss[picks].sum(axis=1) / counts
        optimal_boot[start:stop] = optimal[picks].sum(axis=1) / counts
    return loss_boot, optimal_boot


def evaluate_spec(
    spec: str,
    games: int = 200,
    table: Table | str | os.PathLike | None = None,
    seed: int = 0,
    threads: int | None = None,
    progress: ProgressFn | None = None,
    rules: str = DEFAULT_RULES,
) -> Evaluation:
    """`rgou evaluate`: the agent of `spec` against the perfect agent of `table` (None: the cache folder's table
    of the rule set), both playing `rules`."""
    from rgou.agents import PerfectAgent, make_agent

    agent = make_agent(spec, seed=seed, rules=rules)  # first: a spec that cannot play `rules` says so
    perfect = PerfectAgent(table, rules=rules)
    return evaluate_agent(agent, perfect, games, seed=seed, threads=threads, progress=progress)
