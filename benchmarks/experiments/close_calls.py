"""Where the depth-0 agent's loss lies: would searching one more ply on close calls only pay?

For every decision with a choice (two or more legal moves of different exact value) in 400 perfect-play
games (exploration 0.2, seed 77), the shipped model's move at depth 0 (`ml`) and with one more ply (`ml-1`)
are scored by the solved table. A hybrid agent would search one more ply when the depth-0 scores of the
two best moves are closer than tau; the table shows how many decisions it deepens and what it loses.
Needs the solved table (rgou solve). About 30 s on one core:

    NUMBA_NUM_THREADS=1 python benchmarks/experiments/close_calls.py
"""

import time

import numpy as np

from rgou.agents import load_perfect_table
from rgou.game import Position
from rgou.models import load_model
from rgou.nn.layout import layer_sizes
from rgou.search import expectiminimax, net_leaf
from rgou.selfplay import generate

w = load_model("default")
leaf = net_leaf(w.value, layer_sizes(w.value_config))
table = load_perfect_table(None)
data = generate(400, agent="perfect", epsilon=0.2, seed=77, value_target="exact", threads=1)
rows = []
t0 = time.perf_counter()
for state in data.state:
    pos = Position.from_array(state)
    moves = pos.legal_moves()
    if len(moves) < 2:
        continue
    sign = 1.0 if pos.to_move == 2 else -1.0  # scores and table values are P2's; the mover maximises these
    exact = sign * table.p2_win_after_moves(state)
    if np.ptp(exact) == 0:
        continue
    s0 = sign * np.array(expectiminimax(pos, 1, leaf=leaf).scores[: len(moves)])
    s1 = sign * np.array(expectiminimax(pos, 2, leaf=leaf).scores[: len(moves)])
    top = np.sort(s0)[::-1]
    rows.append((exact.max() - exact[np.argmax(s0)], exact.max() - exact[np.argmax(s1)], top[0] - top[1]))
r = np.array(rows)
print(f"{len(r)} decisions with a choice, {time.perf_counter() - t0:.1f} s")
print(f"loss per decision with a choice (points): depth 0 {100 * r[:, 0].mean():.4f}, ml-1 {100 * r[:, 1].mean():.4f}")
print("| tau (score gap) | decisions deepened | loss per decision with a choice (points) |")
print("|---:|---:|---:|")
for tau in (0.002, 0.005, 0.01, 0.02, 0.04, 0.08):
    deep = r[:, 2] < tau
    print(f"| {tau:.3f} | {100 * deep.mean():.1f}% | {100 * np.where(deep, r[:, 1], r[:, 0]).mean():.4f} |")
