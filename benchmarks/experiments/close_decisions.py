"""Afterstate data cut down to the decisions that carry the loss: every close decision, a share of the rest.

A dataset of `rgou generate --afterstates --value-target exact-unrolled` holds, for each decision of its games,
the positions after every distinct move, each with its exact value. The gap of a decision is the winning chance
between its best move and its second best, for the player who moved (found as the player whose pieces differ
between two of the decision's positions: the other player's differ only by a capture). This keeps every
decision whose gap is below --gap, a seeded --rest share of the other decisions (those of one move
included), whole, and writes them as a dataset of their own.

    python benchmarks/experiments/close_decisions.py data.npz close.npz --gap 0.005 --rest 0.25
"""

from __future__ import annotations

import argparse

import numpy as np

from rgou._io import check_outputs
from rgou.dataset import load_dataset
from rgou.game import P2_OFFSET, TO_MOVE


def decision_gaps(game_id: np.ndarray, decision: np.ndarray, state: np.ndarray, value: np.ndarray):
    """(first row, row count, gap) of each decision; the gap in winning chance (inf: one move)."""
    key = game_id.astype(np.int64) * (1 << 32) + decision.astype(np.int64)
    if np.any(np.diff(key) < 0):
        raise ValueError("the samples of a decision must be consecutive, decisions in order")
    starts = np.flatnonzero(np.r_[True, np.diff(key) != 0])
    sizes = np.diff(np.r_[starts, len(key)])
    several = np.flatnonzero(sizes >= 2)
    a, b = state[starts[several]], state[starts[several] + 1]
    p1 = (a[:, :P2_OFFSET] != b[:, :P2_OFFSET]).sum(axis=1)
    p2 = (a[:, P2_OFFSET:TO_MOVE] != b[:, P2_OFFSET:TO_MOVE]).sum(axis=1)
    sign = np.ones(len(starts))
    sign[several[p2 < p1]] = -1.0  # Player 1 moved: the lowest of Player 2's values is its best
    mover_value = np.repeat(sign, sizes) * value.astype(np.float64)
    owner = np.repeat(np.arange(len(starts)), sizes)
    ranked = mover_value[np.lexsort((-mover_value, owner))]  # each decision's values, best first
    gaps = np.full(len(starts), np.inf)
    gaps[several] = (ranked[starts[several]] - ranked[starts[several] + 1]) / 2  # values are 2 P - 1
    return starts, sizes, gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--gap", type=float, default=0.005, help="keep every decision closer than this (0..1)")
    parser.add_argument("--rest", type=float, default=0.25, help="and this share of the others")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    check_outputs({"out": args.out}, [("data", args.data)], force=True)
    data = load_dataset(args.data)
    starts, sizes, gaps = decision_gaps(data.game_id, data.decision, data.state, data.value_target)
    rng = np.random.default_rng(args.seed)
    keep = (gaps < args.gap) | (rng.random(len(starts)) < args.rest)
    rows = np.concatenate([np.arange(s, s + n) for s, n in zip(starts[keep], sizes[keep])])
    subset = data.subset(rows)
    subset.save(args.out)
    print(
        f"{args.out}: {len(rows):,} of {len(data):,} samples ({len(rows) / len(data):.1%}), "
        f"{int(keep.sum()):,} of {len(starts):,} decisions: every one closer than {args.gap} "
        f"({int((gaps < args.gap).sum()):,}) and {args.rest:.0%} of the others"
    )


if __name__ == "__main__":
    main()
