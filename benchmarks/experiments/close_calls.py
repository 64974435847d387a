"""Close calls searched one ply deeper (`ml+`): what each gap costs and what it saves.

The shipped model's ML agent with `close_gap` = GAP (0: plain depth 0; `ml+` uses `rgou.agents.CLOSE_GAP`)
and `ml-1`, on the same 2,000 games of dice against perfect play (`rgou evaluate ... --games 2000 --seed 6`),
and timed per decision from Python (`MLAgent.choose_move`, each of 600 positions of perfect-play games
timed 5 times, the median kept; mean, median and 90th percentile over the positions, one thread).
Needs the solved table (rgou solve). About 30 s on two cores:

    python benchmarks/experiments/close_calls.py
"""

import numpy as np

from rgou.agents import MLAgent, make_agent
from rgou.bench.timing import per_call_us
from rgou.evaluate import evaluate_agent
from rgou.models import load_model
from rgou.selfplay import generate

GAPS = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.05)

weights = load_model("default")
perfect = make_agent("perfect")
states = generate(60, agent="perfect", epsilon=0.2, seed=3, value_target="exact", threads=1).state[::7][:600]
# Not mirrored (the colour swap, which `ml` adds at depth 0: mirrored_leaf.py): the gaps alone.
agents = [(f"close_gap {gap}", MLAgent(weights, close_gap=gap, mirrored=False)) for gap in GAPS]
agents.append(("ml-1", MLAgent(weights, depth=1)))
print(f"unrolled leaf: {agents[0][1].unrolled}; {len(states)} positions timed")
print("| agent | loss per decision (points) | optimal | deepened decisions | mean | median | p90 |")
print("|---|---:|---:|---:|---:|---:|---:|")
plain = agents[0][1]
for name, agent in agents:
    agent.choose_move(states[0])
    us = per_call_us(lambda i, a=agent: a.choose_move(states[i]), len(states), 5)
    deepened = np.mean([agent.decide(s).scores != plain.decide(s).scores for s in states])
    e = evaluate_agent(agent, perfect, 2000, seed=6)
    lo, hi = (100 * x for x in e.mean_loss_ci95)
    print(
        f"| {name} | {100 * e.mean_loss:.4f} [{lo:.4f}, {hi:.4f}] | {100 * e.optimal_share:.2f}% | "
        f"{100 * deepened:.1f}% | {np.mean(us):.1f} µs | {np.median(us):.1f} µs | {np.percentile(us, 90):.1f} µs |",
        flush=True,
    )
