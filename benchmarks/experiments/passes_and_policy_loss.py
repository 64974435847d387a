"""Two design choices measured by playing strength (docs/agents.md reports the outcome).

1. Passing positions (a roll of 0, or no legal move). The value net values
   rolled positions; the ML agent values the position after a move as the
   chance node over the next player's five rolls, some of which pass. Either
   (a) the net is also trained on passing positions (value-only samples) and
   asked about them, or (b) it never sees them and a passing roll is valued as
   the opponent's chance node, solved in closed form (exact_passes). The
   baseline (c) asks a net that never saw them (rgou 0.1).
2. The policy loss: softmax over all seven slots ("full") or over the legal
   slots only ("legal"), measured by the policy-only agent.

Same games, seeds and training options for every variant; paired-dice
matches with 95% Wilson intervals. Run: python benchmarks/experiments/passes_and_policy_loss.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from rgou.agents import MLAgent, make_agent
from rgou.arena import match
from rgou.selfplay import generate
from rgou.train import TrainOptions, train

GAMES, DEPTH, EPSILON, SEED = 6000, 2, 0.1, 11
OPTIONS = dict(epochs=8, batch_size=256, learning_rate=1e-3, patience=3, dropout=0.1, seed=SEED)
MATCH_GAMES = {"emm-3": 4000, "heuristic": 2000}


def line(name: str, agent, opponent: str, games: int) -> str:
    r = match(agent, make_agent(opponent), games, seed=SEED + 1)
    lo, hi = r.ci95
    return f"| {name} | {opponent} | {r.games} | {100 * r.a_win_rate:.1f}% | [{100 * lo:.1f}, {100 * hi:.1f}] |"


def main() -> None:
    out = Path(__file__).with_suffix(".md")
    rows = []
    t0 = time.perf_counter()
    data = generate(GAMES, depth=DEPTH, seed=SEED, epsilon=EPSILON, include_passes=True)
    plain = data.subset(np.flatnonzero(data.has_policy))
    print(f"data: {len(data)} samples, {len(data) - len(plain)} passing, {time.perf_counter() - t0:.0f} s", flush=True)
    with_passes = train(data, TrainOptions(**OPTIONS)).weights
    without = train(plain, TrainOptions(**OPTIONS)).weights
    print(f"trained value nets, {time.perf_counter() - t0:.0f} s", flush=True)
    variants = {
        "(a) trained on passing positions, net asked about them": MLAgent(with_passes, name="a", mirrored=False),
        "(b) not trained on them, passes solved exactly": MLAgent(without, exact_passes=True, name="b", mirrored=False),
        "(c) not trained on them, net asked anyway (rgou 0.1)": MLAgent(without, name="c", mirrored=False),
    }
    for name, agent in variants.items():
        for opponent, games in MATCH_GAMES.items():
            rows.append(line(name, agent, opponent, games))
            print(rows[-1], flush=True)
    for loss in ("full", "legal"):
        weights = train(plain, TrainOptions(**OPTIONS, policy_loss=loss)).weights
        agent = MLAgent(weights, mode="policy", name=loss)
        for opponent in ("heuristic", "emm-2"):
            rows.append(line(f"policy only, policy loss {loss}", agent, opponent, 2000))
            print(rows[-1], flush=True)
    header = [
        "# Passing positions and the policy loss, measured",
        "",
        f"Command: `python benchmarks/experiments/passes_and_policy_loss.py` ({time.perf_counter() - t0:.0f} s).",
        f"Data: {GAMES} self-play games, expert depth {DEPTH}, epsilon {EPSILON}, seed {SEED}: {len(data)} samples, "
        f"{len(data) - len(plain)} of them passing positions. Training: {OPTIONS} (outcome targets).",
        f"ML agents at search depth 0; matches with paired dice (seed {SEED + 1}), 95% Wilson intervals.",
        "",
        "| agent | opponent | games | win rate | 95% CI |",
        "|---|---|---:|---:|---|",
    ]
    out.write_text("\n".join(header + rows) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
