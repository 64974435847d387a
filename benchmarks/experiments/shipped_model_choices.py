"""The ML agent's choices re-measured on the shipped model (docs/agents.md reports the outcome).

1. Passing rolls at the value-net leaf: asked of the net (the default) or
   solved exactly as the opponent's chance node (exact_passes).
2. The agent's mode: value (search on the value net), combined (plus 0.1 x
   the policy's probability) or policy (the policy's most likely move).

Paired-dice matches against emm-3 with 95% Wilson intervals.
Run: python benchmarks/experiments/shipped_model_choices.py
"""

from __future__ import annotations

from rgou.agents import MLAgent, make_agent
from rgou.arena import match
from rgou.models import load_model

GAMES, SEED = 4000, 21


def main() -> None:
    weights = load_model("default")
    opponent = make_agent("emm-3")
    variants = {
        "value, passing rolls asked of the net (default)": MLAgent(weights, mirrored=False),
        "value, exact_passes": MLAgent(weights, exact_passes=True, mirrored=False),
        "combined": MLAgent(weights, mode="combined", mirrored=False),
        "policy": MLAgent(weights, mode="policy"),
    }
    print("| agent | games | vs emm-3 | 95% interval | µs per move |\n|---|---:|---:|---|---:|")
    for name, agent in variants.items():
        r = match(agent, opponent, GAMES, seed=SEED)
        lo, hi = r.ci95
        us = 1000.0 * r.ms_per_move[r.a]
        print(
            f"| {name} | {r.games} | {100 * r.a_win_rate:.1f}% | [{100 * lo:.1f}, {100 * hi:.1f}] | {us:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
