"""What standardised inputs cost a step: the Numba trainer's samples a second at batch 256, with and without.

The two trainers run blocks of 47 minibatches in turn, eight rounds, on the same rows of 60 self-play games;
the best rate of each is compared. One-threaded BLAS per net, as `rgou train` runs them.

    python benchmarks/experiments/input_scaling_overhead.py
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from rgou.nn.contract import TrainConfig, make_batch
from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, init_params
from rgou.nn.numba_trainer import NumbaTrainer, single_threaded_blas
from rgou.nn.scaling import input_statistics
from rgou.selfplay import generate

BATCH = 256
ROUNDS = 8


def main() -> None:
    ds = generate(60, depth=1, seed=1)
    x = np.ascontiguousarray(ds.features, np.float32)
    n = len(x) // BATCH * BATCH
    data = make_batch(x[:n], ds.value_target[:n], ds.policy_target[:n])
    mu, sigma = input_statistics([x])
    plain = TrainConfig(max_batch=BATCH, dropout_rate=0.0)
    scaled = dataclasses.replace(plain, input_shift=tuple(mu), input_scale=tuple(sigma))
    runs = {}
    for name, config in (("plain", plain), ("scaled", scaled)):
        trainer = NumbaTrainer(config)
        state = trainer.init(init_params(VALUE_CONFIG, 1), init_params(POLICY_CONFIG, 2))
        state, _ = trainer.steps(state, data, np.arange(4 * BATCH), BATCH)  # compiled and warm
        runs[name] = [trainer, state]
    best = dict.fromkeys(runs, 0.0)
    rows = np.arange(n)
    with single_threaded_blas():
        for round_ in range(ROUNDS):
            for name in ("plain", "scaled") if round_ % 2 else ("scaled", "plain"):
                trainer, state = runs[name]
                t0 = time.perf_counter()
                runs[name][1], _ = trainer.steps(state, data, rows, BATCH)
                best[name] = max(best[name], n / (time.perf_counter() - t0))
    rates = ", ".join(f"{name} {rate:,.0f} samples/s" for name, rate in best.items())
    print(f"batch {BATCH}, {n // BATCH} steps a block: {rates}; scaled / plain {best['scaled'] / best['plain']:.3f}")


if __name__ == "__main__":
    main()
