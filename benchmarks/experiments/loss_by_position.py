"""Which decisions carry a model's loss against perfect play?

Plays `--games` games of an agent against perfect play (paired dice, as `rgou evaluate`), measures every
decision of the agent's (the best exact winning chance after a move less that after the move played), and
splits the decisions and their loss by what the position is like:

- the gap: the winning chance between the best move and the second best of the distinct positions after
  the moves (the decisions with a single distinct move lose nothing and are left out);
- the stage: the pieces both players have borne off;
- how open the game is: the mover's exact winning chance before the move.

Prints, per bucket, the share of the decisions, the share of the total loss and the mean loss a decision.

    python benchmarks/experiments/loss_by_position.py --agent ml --games 2000 --seed 6
"""

from __future__ import annotations

import argparse

import numpy as np

from rgou._numba import njit
from rgou.agents import make_agent
from rgou.exact import decision_losses
from rgou.game import DICE, NUM_PIECES, TO_MOVE
from rgou.playout import play_games
from rgou.rules import FINISHED, P1, P2
from rgou.solve.lookup import p2_win_after_moves

GAP_EDGES = (0.0, 0.001, 0.005, 0.02, 0.05, 1.01)  # winning chance, 0..1
STAGE_EDGES = (0, 3, 6, 9, 13)  # pieces borne off, both players (a decision has at most 12)
CHANCE_EDGES = (0.0, 0.1, 0.3, 0.7, 0.9, 1.0001)  # the mover's winning chance


@njit
def describe(values, states, gaps, chances, stages):
    """Per decision: the gap between the two best distinct moves, the mover's best chance, the pieces off."""
    after = np.empty(NUM_PIECES, np.float64)
    for i in range(states.shape[0]):
        count = p2_win_after_moves(values, states[i], after)
        sign = 1.0 if states[i, TO_MOVE] == P2 else -1.0
        best = second = -np.inf
        for k in range(count):
            v = sign * after[k]
            if v > best + 1e-12:
                best, second = v, best
            elif v < best - 1e-12 and v > second:
                second = v
        gaps[i] = best - second if second > -np.inf else np.inf
        chances[i] = best if sign > 0 else 1.0 + best
        stages[i] = np.sum(states[i, : 2 * NUM_PIECES] == FINISHED)


def table(name, key, edges, losses, fmt):
    total_loss, total = losses.sum(), len(losses)
    print(f"\n| {name} | decisions | share of decisions | share of the loss | mean loss (points) |")
    print("|---|---:|---:|---:|---:|")
    for lo, hi in zip(edges[:-1], edges[1:]):
        pick = (key >= lo) & (key < hi)
        n = int(pick.sum())
        mean = 100 * losses[pick].mean() if n else float("nan")
        label = f"{fmt(lo)} to {fmt(hi)}"
        print(
            f"| {label} | {n:,} | {100 * n / total:.1f}% | {100 * losses[pick].sum() / total_loss:.1f}% | {mean:.4f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="ml")
    parser.add_argument("--games", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()

    agent, perfect = make_agent(args.agent), make_agent("perfect")
    values = perfect.table.values
    rec = play_games(agent.data, perfect.data, args.games, args.seed, paired=True, record_samples=2000)
    states, moves = [], []
    for g in range(args.games):
        own = P1 if rec.first_agent[g] == 0 else P2
        s, m = rec.states[g, : rec.counts[g]], rec.moves[g, : rec.counts[g]]
        mine = s[:, TO_MOVE] == own
        states.append(s[mine])
        moves.append(m[mine])
    states, moves = np.ascontiguousarray(np.concatenate(states)), np.ascontiguousarray(np.concatenate(moves))
    losses = np.empty(len(states))
    decision_losses(values, states, moves, losses)
    gaps, chances, stages = (np.empty(len(states)) for _ in range(3))
    describe(values, states, gaps, chances, stages)
    choice = np.isfinite(gaps)  # two distinct moves at least
    print(
        f"{args.agent}: {len(states):,} decisions in {args.games} games against perfect play (seed {args.seed}), "
        f"{int(choice.sum()):,} with two distinct moves or more; mean loss {100 * losses.mean():.5f} points"
    )
    losses, gaps, chances, stages = losses[choice], gaps[choice], chances[choice], stages[choice]
    assert not np.any(states[choice][:, DICE] == 0)
    table("gap between the two best moves", gaps, GAP_EDGES, losses, lambda x: f"{100 * x:g}")
    table("pieces borne off", stages, STAGE_EDGES, losses, lambda x: f"{x:g}")
    table("mover's winning chance", chances, CHANCE_EDGES, losses, lambda x: f"{100 * min(x, 1.0):g}%")


if __name__ == "__main__":
    main()
