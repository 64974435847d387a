"""The colour swap as a second opinion: the value net's leaf averaged with its value of the swapped position.

A position and its colour swap (each piece at the same track position of the other track, the other player
to move) have opposite values; the net was trained on both colours but answers them with different errors.
First, a static check: every decision with a choice of 300 perfect-play games (20% exploration moves) scored
at depth 0 with the net's answers at one roll or over the rolls, with or without the swap. Then each ML agent
plays the same 2,000 games of dice against perfect play (`rgou evaluate AGENT --games
2000 --seed 6`) and is timed per decision from Python (`MLAgent.choose_move`, each of 600 positions of
perfect-play games timed 5 times, the median kept; mean and median over the positions, one thread).
Needs the solved table (rgou solve). About 1 minute on two cores:

    python benchmarks/experiments/mirrored_leaf.py
"""

import numpy as np

from rgou.agents import CLOSE_GAP, MLAgent, make_agent
from rgou.bench.timing import per_call_us
from rgou.evaluate import evaluate_agent
from rgou.features import NUM_FEATURES, features_into
from rgou.game import DICE, apply_move, distinct_moves, legal_moves, swap_colours_inplace, winner
from rgou.models import load_model
from rgou.nn.inference import predict_value
from rgou.rules import NUM_PIECES, P2, ROLL_PROBS
from rgou.selfplay import generate

shipped, upstream = load_model("default"), load_model("upstream")
perfect = make_agent("perfect")


def static_check(games: int = 300) -> None:
    """Depth-0 choices of the net's answers, swapped or not, at one roll or over the rolls, scored exactly."""
    decisions = generate(games, agent="perfect", epsilon=0.2, seed=3, value_target="exact", threads=1).state
    rows, keys = [], []  # keys: (decision, slot, value if the move wins or loses the game)
    moves, f = np.empty(NUM_PIECES, np.int8), np.empty(NUM_FEATURES, np.float32)
    for d, state in enumerate(decisions):
        n = distinct_moves(state, moves)
        for slot in moves[:n] if n > 1 else ():
            after = apply_move(state, slot)
            keys.append((d, int(slot), (1.0 if winner(after) == P2 else -1.0) if winner(after) else None))
            for swapped in (False, True):
                node = after.copy()
                if swapped:
                    swap_colours_inplace(node)
                for roll in range(1, len(ROLL_PROBS)):
                    node[DICE] = roll
                    features_into(node, f)
                    rows.append(f.copy())
    v = predict_value(shipped.value, np.array(rows)).reshape(len(keys), 2, len(ROLL_PROBS) - 1).astype(np.float64)
    v[:, 1] *= -1  # the swapped position's value for P2 is the position's value for P1
    print(f"mean |net - swapped net| at roll 2: {np.abs(v[:, 0, 1] - v[:, 1, 1]).mean():.4f} (value units)")
    rolls = ROLL_PROBS[1:] / ROLL_PROBS[1:].sum()
    schemes = {
        "roll 2": v[:, 0, 1],
        "roll 2, swapped": v[:, 1, 1],
        "roll 2, mean with the swap": v[:, :, 1].mean(1),
        "rolls 1-4 weighted": v[:, 0] @ rolls,
        "rolls 1-4 weighted, mean with the swap": (v @ rolls).mean(1),
    }
    legal = np.empty(NUM_PIECES, np.int8)
    by_decision: dict[int, list[int]] = {}
    for i, (d, _, _) in enumerate(keys):
        by_decision.setdefault(d, []).append(i)
    exact = {}
    for d in by_decision:
        count = legal_moves(decisions[d], legal)
        exact[d] = dict(zip(legal[:count].tolist(), perfect.table.p2_win_after_moves(decisions[d]), strict=True))
    print(f"{len(by_decision):,} decisions with a choice; loss per decision (points), optimal share:")
    for name, value in schemes.items():
        losses = []
        for d, items in by_decision.items():
            sign = 1.0 if decisions[d][14] == P2 else -1.0
            score = [sign * (keys[i][2] if keys[i][2] is not None else value[i]) for i in items]
            best = max(sign * exact[d][keys[i][1]] for i in items)
            losses.append(best - sign * exact[d][keys[items[int(np.argmax(score))]][1]])
        losses = np.array(losses)
        print(f"  {name}: {100 * losses.mean():.4f}, {np.mean(losses <= 1e-7):.2%}")


static_check()
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
