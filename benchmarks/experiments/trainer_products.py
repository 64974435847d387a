"""How much of the GEMM rate the Numba trainer could reach: its matrix products alone, against a whole step.

    python benchmarks/experiments/trainer_products.py [--batches 256,1024,4096] [--repeats 7]

On one thread, for each batch size: a training step of both nets (`NumbaTrainer.steps`, consecutive rows, no
dropout and dropout 0.1), then the same matrix products with nothing else (the forward products, each layer's
weight gradient and the input gradients of the layers after the first, with the shapes and the 78 live inputs
of a step), then np.dot on float32 2048 x 2048 (the bench's reference) on the same thread and BLAS. Prints the
products' share of a step and their rate as a share of the reference: the most the bench's executed share
(`numba_exec_gemm_pct_min_ge256`) could show if everything else in a step took no time and two threads ran at
twice one thread's rate. Best of the repeats for each figure, the three timed in turn.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (the BLAS np.dot calls in njit: loaded before the thread limit)

from rgou._numba import njit
from rgou.nn import numba_trainer as nt
from rgou.nn.contract import TrainConfig, make_batch
from rgou.nn.layout import init_params, layer_sizes
from rgou.selfplay import generate

GEMM_SIZE = 2048


@njit
def products(X, weights, acts, deltas, grads, reps):
    """The matrix products of `reps` steps of the nets: weights, acts, deltas, grads are per net, per layer."""
    for _ in range(reps):
        for net in range(len(weights)):
            W, A, D, G = weights[net], acts[net], deltas[net], grads[net]
            np.dot(X, W[0][: X.shape[1]], A[0])
            for k in range(1, len(W)):
                np.dot(A[k - 1], W[k], A[k])
            for k in range(len(W) - 1, 0, -1):
                np.dot(A[k - 1].T, D[k], G[k])
                np.dot(D[k], W[k].T, D[k - 1])
            np.dot(X.T, D[0], G[0][: X.shape[1]])


@njit
def square(a, b, out, reps):
    for _ in range(reps):
        np.dot(a, b, out)


def best_of(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def product_operands(B: int, live: int, rng: np.random.Generator) -> tuple[tuple, int]:
    """Weights, activations, deltas and gradients of both nets for minibatches of B rows; the FLOPs of a step."""
    cfg = TrainConfig()
    nets = (layer_sizes(cfg.value_cfg), layer_sizes(cfg.policy_cfg))
    shapes = [[(int(s[k]), int(s[k + 1])) for k in range(len(s) - 1)] for s in nets]
    weights = tuple(tuple(rng.random(io, dtype=np.float32) for io in net) for net in shapes)
    acts = tuple(tuple(rng.random((B, o), dtype=np.float32) for _, o in net) for net in shapes)
    deltas = tuple(tuple(rng.random((B, o), dtype=np.float32) for _, o in net) for net in shapes)
    grads = tuple(tuple(np.empty(io, np.float32) for io in net) for net in shapes)
    # forward and weight gradient of every layer, input gradient of all but the first (which sees `live` inputs)
    flops = sum(2 * B * (i if k else live) * o * (3 if k else 2) for net in shapes for k, (i, o) in enumerate(net))
    return (weights, acts, deltas, grads), flops


def row(B: int, rate: float, data: tuple, repeats: int, rng: np.random.Generator) -> str:
    """One line of the table: a step against its products alone against 2048 x 2048, each the best of `repeats`."""
    X, VT, PT = data
    live = int(np.nonzero(X.any(axis=0))[0].max()) + 1
    count = max(1, min(64, len(X) // B))
    block = make_batch(X[: count * B], VT[: count * B], PT[: count * B])
    rows = np.arange(count * B)
    Xa = np.ascontiguousarray(X[:B, :live])
    operands, flops = product_operands(B, live, rng)
    reps = max(1, int(4e8 // flops))
    a, b = (rng.random((GEMM_SIZE, GEMM_SIZE), dtype=np.float32) for _ in range(2))
    out = np.empty_like(a)
    cfg = TrainConfig(max_batch=B, learning_rate=1e-3, dropout_rate=rate, seed=1)
    trainer = nt.NumbaTrainer(cfg)
    state = trainer.init(init_params(cfg.value_cfg, 1), init_params(cfg.policy_cfg, 2))

    def steps() -> None:
        nonlocal state
        state, _ = trainer.steps(state, block, rows, B)

    step_t, prod_t, gemm_t = [], [], []
    for _ in range(repeats):
        step_t.append(best_of(steps, 1) / count)
        prod_t.append(best_of(lambda: products(Xa, *operands, reps), 1) / reps)
        gemm_t.append(best_of(lambda: square(a, b, out, 1), 1))
    step, prod, gemm = min(step_t), min(prod_t), 2.0 * GEMM_SIZE**3 / min(gemm_t) / 1e9
    rate_p = flops / prod / 1e9
    return (
        f"| {B} | {rate} | {step * 1e6:.0f} us | {prod * 1e6:.0f} us | {prod / step:.0%} | {rate_p:.0f} | "
        f"{gemm:.0f} | {rate_p / gemm:.0%} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="256,1024,4096")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    numba.set_num_threads(1)
    ds = generate(256, depth=1, seed=0)
    data = (ds.features, ds.value_target, ds.policy_target)
    rng = np.random.default_rng(0)
    print(f"{len(ds)} samples, one thread")
    print("| batch | dropout | step of both nets | products alone | products' share | products, GFLOP/s | "
          "2048 x 2048, GFLOP/s | products / 2048 x 2048 |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    with nt.single_threaded_blas():
        for B in (int(x) for x in args.batches.split(",")):
            for rate in (0.0, 0.1):
                print(row(B, rate, data, args.repeats, rng))


if __name__ == "__main__":
    main()
