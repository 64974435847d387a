"""One measurement run against either version of rgou: the Numba trainer's samples/s at batch 256 and 4096
(best of 5 blocks of 40 steps) and depth-2 self-play games/s (best of 5 runs of 60 games).

compare_versions.py runs each version's own bench, so a change to the bench itself moves its figures too;
this script is the same code against both, for the sections where that mattered:

    for i in 1 2 3; do for tree in OLD NEW; do PYTHONPATH=$tree python benchmarks/same_code_ab.py; done; done
"""

import json
import time

import numpy as np

from rgou.nn.contract import TrainConfig, make_batch
from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, init_params
from rgou.nn.numba_trainer import NumbaTrainer
from rgou.selfplay import generate


def main() -> None:
    data = generate(64, depth=1, seed=1)
    out = {}
    for b in (256, 4096):
        cfg = TrainConfig(max_batch=b)
        tr = NumbaTrainer(cfg)
        state = tr.init(init_params(VALUE_CONFIG, 1), init_params(POLICY_CONFIG, 2))
        batch = make_batch(data.features, data.outcome.astype(np.float32), data.policy_target)
        n = len(data.features) // b * b
        rows = np.arange(n) % len(data.features)
        steps_rows = np.tile(rows, max(1, (40 * b) // max(n, 1)))[: (40 * b)]
        steps_rows = steps_rows[: len(steps_rows) // b * b]
        state, _ = tr.steps(state, batch, steps_rows[:b], b)
        best = 0
        for _ in range(5):
            t = time.perf_counter()
            state, _ = tr.steps(state, batch, steps_rows, b)
            best = max(best, len(steps_rows) / (time.perf_counter() - t))
        out[f"b{b}"] = best
    generate(4, depth=2, seed=0)
    best = 0
    for r in range(5):
        t = time.perf_counter()
        generate(60, depth=2, seed=r + 1)
        best = max(best, 60 / (time.perf_counter() - t))
    out["selfplay_d2"] = best
    print(json.dumps(out))


if __name__ == "__main__":
    main()
