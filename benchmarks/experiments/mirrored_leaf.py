"""The colour swap as a second opinion: the value net's leaf averaged with its value of the swapped position.

A position and its colour swap (each piece at the same track position of the other track, the other player
to move) have opposite values; the net was trained on both colours but answers them with different errors.
First, a static check: every decision with a choice of 300 perfect-play games (20% exploration moves) scored
at depth 0 with the library's value-net leaves (`rgou.leaves.net_leaf`: the net asked once at roll 2 or over
the five rolls, with or without the swap; the swap alone is 2 x mirrored - plain). Then each ML agent plays
the same 2,000 games of dice against perfect play (`rgou evaluate AGENT --games 2000 --seed 6`) and is timed
per decision from Python (`MLAgent.choose_move`, each of 600 positions of perfect-play games timed 5 times,
the median kept; mean and median over the positions, one thread). Needs the solved table (rgou solve).
About 1 minute on two cores:

    python benchmarks/experiments/mirrored_leaf.py

The static check in mirrored_leaf.md was printed by this script at commit 8aeed79, which computed the
features and the swap itself and averaged rolls 1-4 where the library's five-roll leaf also asks the
rolled zero.
"""

import numpy as np

from rgou.agents import CLOSE_GAP, MLAgent, PerfectAgent
from rgou.bench.timing import per_call_us
from rgou.evaluate import evaluate_agent
from rgou.game import TO_MOVE, apply_move, distinct_moves, legal_moves, winner
from rgou.leaves import net_chance_value, net_leaf
from rgou.models import load_model
from rgou.nn.layout import layer_sizes
from rgou.rules import NUM_PIECES, P2
from rgou.search import leaf_work
from rgou.selfplay import generate
from rgou.weights import Weights

PERFECT_PLAY = {"agent": "perfect", "epsilon": 0.2, "seed": 3, "value_target": "exact", "threads": 1}


def perfect_play(games: int, perfect: PerfectAgent) -> np.ndarray:
    """The rolled positions (int8 [N, 16]) of seeded perfect-play games with exploration moves."""
    return generate(games, **PERFECT_PLAY, table=perfect.table).state


def leaf_values(weights: Weights, positions: np.ndarray, unrolled: bool, mirrored: bool) -> np.ndarray:
    """The value-net leaf of each unrolled position (int8 [N, 16], games not over), P2's point of view: f64 [N]."""
    leaf = net_leaf(weights.value, layer_sizes(weights.value_config), unrolled=unrolled, mirrored=mirrored)
    work = leaf_work(0, leaf)
    return np.array([net_chance_value(p.copy(), leaf, work) for p in positions])


def static_check(weights: Weights, perfect: PerfectAgent, games: int = 300) -> None:
    """Depth-0 choices of the net's leaves, swapped or not, asked once or over the rolls, scored exactly."""
    decisions = perfect_play(games, perfect)
    keys, after = [], []  # keys: (decision, slot, value if the move wins or loses the game)
    moves = np.empty(NUM_PIECES, np.int8)
    for d, state in enumerate(decisions):
        n = distinct_moves(state, moves)
        for slot in moves[:n] if n > 1 else ():
            child = apply_move(state, slot)
            keys.append((d, int(slot), (1.0 if winner(child) == P2 else -1.0) if winner(child) else None))
            after.append(child)
    open_rows = [i for i, k in enumerate(keys) if k[2] is None]  # the leaf values games that go on
    children = np.array([after[i] for i in open_rows])
    values = {}
    for unrolled in (True, False):
        for mirrored in (False, True):
            v = np.zeros(len(keys))
            v[open_rows] = leaf_values(weights, children, unrolled, mirrored)
            values[unrolled, mirrored] = v
    once, once_mirrored = values[True, False], values[True, True]
    swapped = 2.0 * once_mirrored - once  # minus the net's value of the colour swap, asked once
    print(f"mean |net - swapped net|, asked once: {np.abs(once - swapped)[open_rows].mean():.4f} (value units)")
    schemes = {
        "asked once (roll 2)": once,
        "asked once, the swap alone": swapped,
        "asked once, mean with the swap (mirrored)": once_mirrored,
        "over the five rolls": values[False, False],
        "over the five rolls, mean with the swap": values[False, True],
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
            sign = 1.0 if decisions[d][TO_MOVE] == P2 else -1.0
            score = [sign * (keys[i][2] if keys[i][2] is not None else value[i]) for i in items]
            best = max(sign * exact[d][keys[i][1]] for i in items)
            losses.append(best - sign * exact[d][keys[items[int(np.argmax(score))]][1]])
        losses = np.array(losses)
        print(f"  {name}: {100 * losses.mean():.4f}, {np.mean(losses <= 1e-7):.2%}")


def agents_table(shipped: Weights, upstream: Weights, perfect: PerfectAgent) -> None:
    """Each agent's loss per decision against perfect play and its time per decision, as a Markdown table."""
    states = perfect_play(60, perfect)[::7][:600]
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


def main() -> None:
    shipped, upstream = load_model("default"), load_model("upstream")
    perfect = PerfectAgent()
    static_check(shipped, perfect)
    agents_table(shipped, upstream, perfect)


if __name__ == "__main__":
    main()
