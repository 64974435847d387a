"""The colour swap as a second opinion: the value net's leaf averaged with its value of the swapped position.

A position and its colour swap (each piece at the same track position of the other track, the other player
to move) have opposite values; the net was trained on both colours but answers them with different errors.
Each ML agent below plays the same 2,000 games of dice against perfect play (`rgou evaluate AGENT --games
2000 --seed 6`) and is timed per decision from Python (`MLAgent.choose_move`, each of 600 positions of
perfect-play games timed 5 times, the median kept; mean and median over the positions, one thread).
Needs the solved table (rgou solve). About 5 minutes on two cores:

    python benchmarks/experiments/mirrored_leaf.py
"""

import numpy as np

from rgou.agents import CLOSE_GAP, MLAgent, make_agent
from rgou.bench.timing import per_call_us
from rgou.evaluate import evaluate_agent
from rgou.models import load_model
from rgou.selfplay import generate

shipped, upstream = load_model("default"), load_model("upstream")
perfect = make_agent("perfect")
states = generate(60, agent="perfect", epsilon=0.2, seed=3, value_target="exact", threads=1).state[::7][:600]
agents = [
    ("ml, net asked once", MLAgent(shipped, mirrored=False)),
    ("ml, net over five rolls", MLAgent(shipped, unrolled=False, mirrored=False)),
    ("ml, asked once, mirrored (the default)", MLAgent(shipped)),
    ("ml, over five rolls, mirrored", MLAgent(shipped, unrolled=False, mirrored=True)),
    ("ml+ (the default: not mirrored)", MLAgent(shipped, close_gap=CLOSE_GAP)),
    ("ml+, mirrored", MLAgent(shipped, close_gap=CLOSE_GAP, mirrored=True)),
    (f"ml+, mirrored, gap {CLOSE_GAP / 2}", MLAgent(shipped, close_gap=CLOSE_GAP / 2, mirrored=True)),
    ("ml-1 (the default: not mirrored)", MLAgent(shipped, depth=1)),
    ("ml-1, mirrored", MLAgent(shipped, depth=1, mirrored=True)),
    ("ml:upstream, not mirrored", MLAgent(upstream, mirrored=False)),
    ("ml:upstream, mirrored (the default)", MLAgent(upstream)),
]
print("| agent | loss per decision (points) | optimal | mean | median |")
print("|---|---:|---:|---:|---:|")
for name, agent in agents:
    agent.choose_move(states[0])
    us = per_call_us(lambda i, a=agent: a.choose_move(states[i]), len(states), 5)
    e = evaluate_agent(agent, perfect, 2000, seed=6)
    lo, hi = (100 * x for x in e.mean_loss_ci95)
    print(
        f"| {name} | {100 * e.mean_loss:.4f} [{lo:.4f}, {hi:.4f}] | {100 * e.optimal_share:.2f}% | "
        f"{np.mean(us):.1f} µs | {np.median(us):.1f} µs |",
        flush=True,
    )
