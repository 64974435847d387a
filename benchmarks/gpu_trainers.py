"""The two trainers on a machine with a GPU: samples/s at batch 32, 1024 and 8192, and their agreement.

JAX runs on the first device JAX sees (a GPU when the CUDA build of jax is
installed), many steps per dispatch (`JaxTrainer.run`, a `lax.scan` over the
device-resident data); the Numba trainer runs on that machine's CPU, both
nets side by side (`NumbaTrainer.steps`). Both train the shipped network
sizes from the same initial weights on the same minibatches, dropout 0.1.

    python benchmarks/gpu_trainers.py --data DATA.npz [--json FILE]

DATA.npz: any rgou dataset, e.g. `rgou generate --games 256 --depth 1
--seed 1 --out DATA.npz` (the `nn` bench section's data). Each rate is the
best of --repeats timed passes over the data after one untimed pass
(compilation excluded). Agreement: after --agree-steps steps at batch 64
without dropout (dropout's masks are shared; a run with them may part at a
ReLU edge: benchmarks/experiments/trajectory_sensitivity.md), the
parameters' difference between the trainers relative to how far training
moved them (float32 both; the JAX trainer asks for full float32 products,
`MATMUL_PRECISION`). Longer runs drift apart by design of
float32 Adam: a parameter whose gradient is near zero moves by about the
learning rate in the direction of the gradient's sign, which rounding decides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

from rgou.dataset import load_dataset
from rgou.nn.contract import Batch, TrainConfig, make_batch
from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, init_params
from rgou.nn.numba_trainer import NumbaTrainer, single_threaded_blas

BATCHES = (32, 1024, 8192)


def _jax_rate(jax, trainer, state, data, order: np.ndarray, batch: int, repeats: int) -> tuple[float, object]:
    state, losses = trainer.run(state, data, order, batch)  # compiles for this batch size
    jax.block_until_ready(losses)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        state, losses = trainer.run(state, data, order, batch)
        jax.block_until_ready(losses)
        best = min(best, time.perf_counter() - start)
    return len(order) // batch * batch / best, state


def _numba_rate(trainer, state, data: Batch, order: np.ndarray, batch: int, repeats: int) -> float:
    with single_threaded_blas():
        trainer.steps(state, data, order[: 2 * batch], batch)  # compiles (cached after the first run)
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            trainer.steps(state, data, order, batch)
            best = min(best, time.perf_counter() - start)
    return len(order) // batch * batch / best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="an rgou dataset (.npz)")
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)), help="batch sizes, comma-separated")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes per rate (best counts)")
    ap.add_argument("--agree-steps", type=int, default=100, help="steps of the agreement check")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    ds = load_dataset(args.data)
    host = make_batch(ds.features, ds.value_target, ds.policy_target)
    n = len(host.x)
    batches = [int(b) for b in args.batches.split(",")]
    for batch in batches:  # every size checked before any work
        if not 0 < batch <= n:
            raise SystemExit(f"--batches: {batch} is not in [1, {n}] (the samples of {args.data})")
    import jax

    device = jax.devices()[0]
    print(f"jax {jax.__version__} on {device.platform}: {device.device_kind}; {n:,} samples", flush=True)
    from rgou.nn.jax_trainer import JaxTrainer

    rng = np.random.default_rng(0)
    value0, policy0 = init_params(VALUE_CONFIG, 1), init_params(POLICY_CONFIG, 2)
    rows = []
    for batch in batches:
        order = rng.permutation(n)[: n // batch * batch].astype(np.int64)
        jt = JaxTrainer(TrainConfig(max_batch=batch))
        data = jt.device_batch(host)
        jax_rate, _ = _jax_rate(jax, jt, jt.init(value0, policy0), data, order.astype(np.int32), batch, args.repeats)
        nt = NumbaTrainer(TrainConfig(max_batch=batch))
        numba_rate = _numba_rate(nt, nt.init(value0, policy0), host, order, batch, args.repeats)
        rows.append({"batch": batch, "jax_samples_per_s": jax_rate, "numba_samples_per_s": numba_rate})
        print(f"batch {batch:5d}: JAX {jax_rate:12,.0f} samples/s, Numba {numba_rate:10,.0f}, "
              f"JAX/Numba {jax_rate / numba_rate:6.2f}x", flush=True)  # fmt: skip

    # Agreement: the same steps at batch 64 without dropout (trajectory_sensitivity.md: why not with it).
    batch, steps = 64, args.agree_steps
    order = rng.permutation(n)[: steps * batch].astype(np.int64)
    same = TrainConfig(max_batch=batch, dropout_rate=0.0)
    nt, jt = NumbaTrainer(same), JaxTrainer(same)
    with single_threaded_blas():
        ns, _ = nt.steps(nt.init(value0, policy0), host, order, batch)
    js, _ = jt.run(jt.init(value0, policy0), jt.device_batch(host), order.astype(np.int32), batch)
    js = jt.to_numpy(js)
    start = np.concatenate([value0, policy0])
    j, m = np.concatenate([js.value, js.policy]), np.concatenate([ns.value, ns.policy])
    agreement = float(np.linalg.norm(j - m) / np.linalg.norm(m - start))
    print(f"agreement after {steps} steps at batch {batch}: |JAX - Numba| / |Numba - start| = {agreement:.2e}")
    result = {
        "jax": jax.__version__,
        "device": f"{device.platform}: {device.device_kind}",
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "samples": n,
        "rates": rows,
        "agreement_steps": steps,
        "agreement_batch": batch,
        "agreement": agreement,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
