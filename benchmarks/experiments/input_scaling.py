"""Does training on standardised inputs reach the strong preset's value loss in fewer epochs?

Trains the value and policy nets as `rgou train --preset strong` does (the Numba trainer, the same seed,
split and schedule), on the features as they are (`--scaling none`) or with each live input column
shifted and scaled to mean 0 and variance 1 over the training rows (`--scaling standard`). The network
a scaled run trains reads the scaled inputs; its first layer is folded back afterwards
(W'[i, :] = W[i, :] / s_i, b' = b - sum_i m_i W[i, :] / s_i), so the saved model reads the features as the
engine computes them, like any other. After every epoch it prints the validation losses, which are those
of one and the same function whether the inputs are scaled or the layer is folded.

    rgou generate --games 18000 --agent perfect --epsilon 0.2 --afterstates \
        --value-target exact-unrolled --seed 42 --out data.npz
    python benchmarks/experiments/input_scaling.py data.npz --epochs 7 --lr-decay 0.607 --scaling standard
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from rgou._io import check_outputs
from rgou.dataset import feature_blocks
from rgou.nn.contract import Batch
from rgou.nn.layout import init_params
from rgou.nn.scaling import fold
from rgou.train import resolve_options
from rgou.train.loop import train_config
from rgou.train.runners import NumbaRunner, gather_rows
from rgou.train.sources import _MemorySource, read_data


def dense_features(features) -> np.ndarray:
    """All rows' features as one float32 [N, 150] matrix (computed when read: gathered block by block)."""
    return np.concatenate([np.asarray(block, dtype=np.float32) for block in feature_blocks(features)])


def scaled(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(x - mean) / scale in float32, in place, a block of rows at a time."""
    m, s = mean.astype(np.float32), (1.0 / scale).astype(np.float32)
    for start in range(0, len(x), 1 << 18):
        block = x[start : start + (1 << 18)]
        block -= m
        block *= s
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--lr-decay", type=float, default=0.607)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--scaling", choices=("none", "standard"), default="standard")
    parser.add_argument("--json", help="write the per-epoch records here")
    parser.add_argument("--out", help="write the best weights (each net's best epoch), folded, to this .json.gz")
    args = parser.parse_args()

    overrides = {"epochs": args.epochs, "learning_rate": args.learning_rate, "lr_decay": args.lr_decay}
    options = resolve_options("strong", {**overrides, "batch_size": args.batch_size}).training
    check_outputs({"--json": args.json, "--out": args.out}, [("data", args.data)], force=True)
    source = _MemorySource(read_data([args.data]), options)
    mean, scale = np.zeros(150), np.ones(150)
    if args.scaling == "standard":
        t0 = time.perf_counter()
        x = dense_features(source.train.x)
        mean, scale = source.input_statistics()  # `rgou train --input-scaling standard`'s: 2**20 rows, seeded
        source.train = source.train._replace(x=scaled(x, mean, scale))
        val = gather_rows(source.val, slice(None))
        source.val = Batch(scaled(val.x.copy(), mean, scale), *val[1:])
        print(f"scaled {len(x):,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
    config = train_config(options)
    value_cfg, policy_cfg = config.value_cfg, config.policy_cfg
    start = init_params(value_cfg, options.seed), init_params(policy_cfg, options.seed + 1)
    runner = NumbaRunner(config, source.runner_data())
    state = runner.init(*start)
    records, best = [], [(np.inf, None), (np.inf, None)]
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        state, losses = source.epoch(runner, state, epoch)
        seconds = time.perf_counter() - t0
        found = source.validate(runner, state)
        record = {"epoch": epoch + 1, "seconds": round(seconds, 1), "train_value_loss": float(losses[:, 0].mean())}
        record["validation"] = [found["val_value_loss"], found["val_policy_loss"]]
        for net, vector in enumerate((state.value, state.policy)):
            if record["validation"][net] < best[net][0]:
                best[net] = (record["validation"][net], vector.copy())
        records.append(record)
        value_loss, policy_loss = record["validation"]
        print(f"epoch {epoch + 1:2d} {seconds:5.1f}s validation {value_loss:.3e} / {policy_loss:.4f}", flush=True)
    if args.out:
        from rgou.weights import Weights, save_weights

        value = fold(best[0][1], value_cfg, mean, scale)
        policy = fold(best[1][1], policy_cfg, mean, scale)
        metadata = {"value_target": "exact-unrolled", "scaling": args.scaling, "best_validation_value_loss": best[0][0]}
        save_weights(args.out, Weights(value, policy, value_cfg, policy_cfg, metadata))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "records": records}, f, indent=1)


if __name__ == "__main__":
    main()
