"""The `rules` section: search and self-play rates of every rule set, side by side with Finkel's.

Each rule set's kernels are compiled for it (`rgou.specialise`), so a rule
set is as fast as its games are: longer paths and captures that roll again
change the branching and the length of a game, not the cost of a move. The
rates come from the one game loop (`rgou.playout.play_games`) on one thread:
expectiminimax against itself, its time per decision as the loop measures it.
"""

from __future__ import annotations

import numpy as np

from rgou.agents import make_agent
from rgou.bench.report import SectionResult
from rgou.bench.timing import BenchContext, median_time, timed
from rgou.rules import DEFAULT_RULES, RULE_SETS
from rgou.specialise import specialise

SELFPLAY_DEPTH = 2  # emm-2 against itself: the self-play rate
SEARCH_DEPTH = 3  # emm-3 against itself: the time per decision of the default expert


def _games(rules: str, depth: int, games: int, seed: int):
    """emm-depth against itself under `rules`, one thread: the game loop's record."""
    agent = make_agent(f"expectiminimax-{depth}", rules=rules)
    loop = specialise("rgou.playout", rules).play_games
    return loop(agent.data, agent.data, games, seed, paired=True, threads=1)


def bench_rules(ctx: BenchContext) -> SectionResult:
    """Self-play games/s (emm-2, one thread) and emm-3's µs per decision for each rule set."""
    res = SectionResult()
    selfplay_games = 40 if ctx.quick else 400
    search_games = 4 if ctx.quick else 40
    res.warmup_s = timed(lambda: [_games(name, d, 2, ctx.seed) for name in RULE_SETS for d in (1, 2, 3)])
    reps = ctx.reps(3, 1)
    for name in RULE_SETS:
        played = {}  # the last timed run's record: seeded, so every run plays the same games

        def selfplay(n=name, out=played):
            out["record"] = _games(n, SELFPLAY_DEPTH, selfplay_games, ctx.seed)

        seconds, _ = median_time(selfplay, reps)
        plies = played["record"].plies
        res.add(f"{name}_selfplay_games_per_s", selfplay_games / seconds, "games/s",
                f"{name}: emm-{SELFPLAY_DEPTH} self-play on the game loop, 1 thread")  # fmt: skip
        res.add(f"{name}_selfplay_plies_per_game", float(np.mean(plies)), "plies", f"{name}: turns a game")
        rec = _games(name, SEARCH_DEPTH, search_games, ctx.seed)
        us = rec.time_ns.sum() / rec.decisions.sum() / 1e3
        res.add(f"{name}_emm{SEARCH_DEPTH}_decision_us", us, "us",
                f"{name}: emm-{SEARCH_DEPTH} mean time per decision in its own games")  # fmt: skip
    finkel = res.metrics[f"{DEFAULT_RULES}_emm{SEARCH_DEPTH}_decision_us"].value
    for name in RULE_SETS:
        if name != DEFAULT_RULES:
            ratio = res.metrics[f"{name}_emm{SEARCH_DEPTH}_decision_us"].value / finkel
            res.add(f"{name}_emm{SEARCH_DEPTH}_decision_vs_finkel", ratio, "x",
                    f"{name}: emm-{SEARCH_DEPTH} decision time / Finkel's (other branching, game length)")  # fmt: skip
    res.notes.append(
        f"{selfplay_games} self-play games and {search_games} emm-{SEARCH_DEPTH} games a rule set, paired dice, "
        "seeded; each rule set's own positions, so the rates compare games, not the same positions"
    )
    return res
