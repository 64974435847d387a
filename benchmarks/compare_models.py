"""Decision time of ML models side by side: the same positions, alternating rounds, one process, one core.

    python benchmarks/compare_models.py MODEL [MODEL ...] [--rounds 5] [--variants] [--markdown FILE]

MODEL is a weight file or a packaged name (default, strong, upstream). Each
round times `choose_move` of every model at search depth 0 on the same
positions (and at depth 1 on the first 400, DEPTH1_POSITIONS), so drift
of a shared machine hits all models alike; the table gives the median over rounds of each
round's median, and of each round's mean. --variants also times each model's agent without the colour
swap (`mirrored=False`; the default agent swaps at depth 0 only), with the value net asked at all five
rolls as well (`unrolled=False`), and with its close calls searched one ply deeper (`close_gap=CLOSE_GAP`,
the agent `ml+`).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rgou._io import atomic_write
from rgou.agents import CLOSE_GAP, MLAgent
from rgou.game import count_legal_moves
from rgou.models import load_model
from rgou.testing import random_states

STATE_SEEDS = range(1, 8)  # random games whose positions are timed: about 1,000 with a choice
DEPTH1_POSITIONS = 400  # ml-1 takes about ten times as long a decision


def positions() -> np.ndarray:
    """Rolled positions of random games with a choice to make (two or more legal moves)."""
    states = np.concatenate([random_states(seed)[0] for seed in STATE_SEEDS])
    return states[[count_legal_moves(s) > 1 for s in states]]


def round_us(agent: MLAgent, states: np.ndarray) -> tuple[float, float]:
    """(median, mean) of one pass of `choose_move` over `states`, in µs."""
    times = np.empty(len(states))
    for i, s in enumerate(states):
        t0 = time.perf_counter_ns()
        agent.choose_move(s)
        times[i] = time.perf_counter_ns() - t0
    return float(np.median(times)) / 1e3, float(np.mean(times)) / 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--variants", action="store_true", help="also time five-roll leaves and close calls (ml+)")
    ap.add_argument("--markdown", help="also write the table here")
    args = ap.parse_args()
    states = positions()
    rows = []
    weights = {m: load_model(m) for m in args.models}
    for depth, use in ((0, states), (1, states[:DEPTH1_POSITIONS])):
        agents = {}
        for m, w in weights.items():
            agents[m] = MLAgent(w, depth=depth)
            if args.variants:
                if depth == 0:
                    agents[f"{m}, not mirrored"] = MLAgent(w, depth=depth, mirrored=False)
                agents[f"{m}, five rolls, not mirrored"] = MLAgent(w, depth=depth, unrolled=False, mirrored=False)
                agents[f"{m}, close calls (+)"] = MLAgent(w, depth=depth, close_gap=CLOSE_GAP)
        for agent in agents.values():
            agent.choose_move(use[0])  # compile or load the kernels
        rounds = {m: [] for m in agents}
        for _ in range(args.rounds):
            for m, agent in agents.items():
                rounds[m].append(round_us(agent, use))
        for m, agent in agents.items():
            medians, means = (np.array(r) for r in zip(*rounds[m], strict=True))
            row = (m, agent.unrolled, agent.mirrored, depth, len(use), np.median(medians), np.median(means), medians)
            rows.append(row)
    lines = [
        f"`python benchmarks/compare_models.py {' '.join(args.models)} --rounds {args.rounds}"
        f"{' --variants' if args.variants else ''}`",
        "",
        "| model | net asked once | colour swap | search depth | positions | median µs | mean µs "
        "| round medians (µs) |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {m} | {'yes' if u else 'no'} | {'yes' if mi else 'no'} | {d} | {n} | {t:.2f} | {a:.2f} | "
        f"{', '.join(f'{x:.2f}' for x in r)} |"
        for m, u, mi, d, n, t, a, r in rows
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with atomic_write(args.markdown, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
