"""Decision time of ML models side by side: the same positions, alternating rounds, one process, one core.

    python benchmarks/compare_models.py MODEL [MODEL ...] [--rounds 5] [--markdown FILE]

MODEL is a weight file or a packaged name (default, strong, upstream). Each
round times `choose_move` of every model at search depth 0 on the same
positions (and at depth 1 on the first 400, DEPTH1_POSITIONS), so drift
of a shared machine hits all models alike; the table gives the median over rounds of each
round's median.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rgou._io import atomic_write
from rgou.agents import MLAgent
from rgou.game import count_legal_moves
from rgou.models import load_model
from rgou.testing import random_states

STATE_SEEDS = range(1, 8)  # random games whose positions are timed: about 1,000 with a choice
DEPTH1_POSITIONS = 400  # ml-1 takes about ten times as long a decision


def positions() -> np.ndarray:
    """Rolled positions of random games with a choice to make (two or more legal moves)."""
    states = np.concatenate([random_states(seed)[0] for seed in STATE_SEEDS])
    return states[[count_legal_moves(s) > 1 for s in states]]


def round_median_us(agent: MLAgent, states: np.ndarray) -> float:
    times = np.empty(len(states))
    for i, s in enumerate(states):
        t0 = time.perf_counter_ns()
        agent.choose_move(s)
        times[i] = time.perf_counter_ns() - t0
    return float(np.median(times)) / 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--markdown", help="also write the table here")
    args = ap.parse_args()
    states = positions()
    rows = []
    for depth, use in ((0, states), (1, states[:DEPTH1_POSITIONS])):
        agents = {m: MLAgent(load_model(m), depth=depth) for m in args.models}
        for agent in agents.values():
            agent.choose_move(use[0])  # compile or load the kernels
        rounds = {m: [] for m in agents}
        for _ in range(args.rounds):
            for m, agent in agents.items():
                rounds[m].append(round_median_us(agent, use))
        for m in agents:
            rows.append((m, depth, len(use), float(np.median(rounds[m])), rounds[m]))
    lines = [
        f"`python benchmarks/compare_models.py {' '.join(args.models)} --rounds {args.rounds}`",
        "",
        "| model | search depth | positions | median us | rounds (us) |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [f"| {m} | {d} | {n} | {t:.2f} | {', '.join(f'{x:.2f}' for x in r)} |" for m, d, n, t, r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with atomic_write(args.markdown, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
