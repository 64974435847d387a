"""Does an average of the weights along training reach the strong preset's loss in fewer epochs?

Trains the value and policy nets as `rgou train --preset strong` does (the Numba trainer, the same seed,
split and schedule) and keeps one moving average of the weights per decay in --decays, each as
`rgou train --average-decay D` keeps its one (`rgou.train.average`). After every epoch it prints the
validation losses of the trained weights and of each average. Training itself is unchanged: the trained
weights' losses are those of a plain run.

    rgou generate --games 18000 --agent perfect --epsilon 0.2 --afterstates \
        --value-target exact-unrolled --seed 42 --out data.npz
    python benchmarks/experiments/weight_average.py data.npz --epochs 12
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from rgou._io import check_outputs
from rgou.nn.layout import init_params
from rgou.train import resolve_options
from rgou.train.average import AveragingRunner, WeightAverage
from rgou.train.loop import train_config
from rgou.train.runners import NumbaRunner
from rgou.train.sources import _MemorySource, read_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--lr-decay", type=float, default=0.95)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--decays", type=float, nargs="+", default=[0.999, 0.9997, 0.9999])
    parser.add_argument("--json", help="write the per-epoch records here")
    parser.add_argument("--save-at", type=int, nargs="*", default=[], help="also save each average at these epochs")
    parser.add_argument("--out", help="write each average's best weights (each net's best epoch) to OUT-DECAY.json.gz")
    args = parser.parse_args()

    overrides = {"epochs": args.epochs, "learning_rate": args.learning_rate, "lr_decay": args.lr_decay}
    options = resolve_options("strong", {**overrides, "batch_size": args.batch_size}).training
    outputs = {"--json": args.json} | {f"--out ({decay})": f"{args.out}-{decay}.json.gz" for decay in args.decays}
    check_outputs(outputs if args.out else {"--json": args.json}, [("data", args.data)], force=True)
    data = read_data([args.data])
    source = _MemorySource(data, options)
    config = train_config(options)
    value_cfg, policy_cfg = config.value_cfg, config.policy_cfg
    start = init_params(value_cfg, options.seed), init_params(policy_cfg, options.seed + 1)
    runner = NumbaRunner(config, source.runner_data())
    averages = [WeightAverage(decay, *start) for decay in args.decays]
    for average in averages:  # each wrapper cuts the same blocks of AVERAGE_STEPS minibatches
        runner = AveragingRunner(runner, average)
    state = runner.init(*start)
    records = []
    best = {decay: [(np.inf, None), (np.inf, None)] for decay in ["plain", *args.decays]}  # (loss, weights) a net
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        state, losses = source.epoch(runner, state, epoch)
        seconds = time.perf_counter() - t0
        plain = source.validate(runner, state)
        record = {
            "epoch": epoch + 1,
            "seconds": round(seconds, 1),
            "train_value_loss": float(losses[:, 0].mean()),
        }
        for decay, (value, policy) in zip(
            ["plain", *args.decays], [(state.value, state.policy), *((a.value, a.policy) for a in averages)]
        ):
            averaged = (
                plain if decay == "plain" else source.validate(runner, state._replace(value=value, policy=policy))
            )
            record[str(decay)] = [averaged["val_value_loss"], averaged["val_policy_loss"]]
            for net, (loss, vector) in enumerate(
                ((averaged["val_value_loss"], value), (averaged["val_policy_loss"], policy))
            ):
                if loss < best[decay][net][0]:
                    best[decay][net] = (loss, vector.copy())
        records.append(record)
        if args.out and epoch + 1 in args.save_at:
            from rgou.weights import Weights, save_weights

            for decay, (value, policy) in zip(
                ["plain", *args.decays], [(state.value, state.policy), *((a.value, a.policy) for a in averages)]
            ):
                metadata = {"value_target": "exact-unrolled", "epoch": epoch + 1, "decay": decay}
                path = f"{args.out}-{decay}-epoch-{epoch + 1}.json.gz"
                save_weights(path, Weights(value.copy(), policy.copy(), value_cfg, policy_cfg, metadata))
        cells = "  ".join(f"{k} {v[0]:.3e}/{v[1]:.4f}" for k, v in record.items() if isinstance(v, list))
        print(f"epoch {epoch + 1:2d} {seconds:5.1f}s train {record['train_value_loss']:.3e}  {cells}", flush=True)
    if args.out:
        from rgou.weights import Weights, save_weights

        for decay, ((vloss, value), (_, policy)) in best.items():
            metadata = {"value_target": "exact-unrolled", "best_validation_value_loss": vloss, "decay": decay}
            save_weights(f"{args.out}-{decay}.json.gz", Weights(value, policy, value_cfg, policy_cfg, metadata))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "records": records}, f, indent=1)


if __name__ == "__main__":
    main()
