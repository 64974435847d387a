"""How much of the GEMM rate the Numba trainer could reach: its matrix products alone, against a whole step.

    python benchmarks/experiments/trainer_products.py [--batches 256,1024,4096] [--repeats 7] [--threads 2]

As the bench's `nn` section measures the trainer, on its data (256 depth-1 games of the bench's seed and turn
cap) and against its reference (NumPy's np.dot on float32 2048 x 2048 with BLAS on 2 threads), for each batch
size: blocks of training steps of both nets (`NumbaTrainer.steps`, consecutive rows, each net on its own
thread, one-threaded BLAS; no dropout and dropout 0.1), then the same matrix products with nothing else, each
net's on its own thread likewise (the forward products, each layer's weight gradient and the input gradients of
the layers after the first, with a step's shapes and live inputs). Prints the executed GFLOP/s of both as a
share of the reference: the step's is the bench's `numba_steps_exec_gemm_pct_*`; the products' is what that
share would be if everything else in a step took no time. The three are timed in turn, best of the repeats.
With `--threads 1`, both nets run on one thread and the reference is np.dot in njit on one thread: the BLAS
(SciPy's) the products call, so the products' share there is theirs against the same library's best.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rgou._numba import njit, numba_threads
from rgou.bench.nn import GEMM_SIZE, TRAINER_THREADS, _gemm_rate, _train_flops_per_sample
from rgou.bench.timing import BENCH_MAX_PLIES, BENCH_SEED, timed
from rgou.nn import numba_trainer as nt
from rgou.nn.contract import TrainConfig, make_batch
from rgou.nn.layout import init_params, layer_sizes
from rgou.selfplay import generate


@njit(nogil=True)
def net_products(X, W, A, D, G, reps):
    """`reps` steps' matrix products of one net: W, A, D, G its weights, activations, deltas and gradients."""
    for _ in range(reps):
        np.dot(X, W[0][: X.shape[1]], A[0])
        for k in range(1, len(W)):
            np.dot(A[k - 1], W[k], A[k])
        for k in range(len(W) - 1, 0, -1):
            np.dot(A[k - 1].T, D[k], G[k])
            np.dot(D[k], W[k].T, D[k - 1])
        np.dot(X.T, D[0], G[0][: X.shape[1]])


def products(pool: ThreadPoolExecutor | None, X: np.ndarray, operands: tuple, reps: int) -> None:
    """Both nets' products: each on its own thread of `pool` (as `NumbaTrainer.steps` runs them; the kernel drops
    the GIL), or one after the other on this thread when `pool` is None."""
    if pool is None:
        for net in range(2):
            net_products(X, *(part[net] for part in operands), reps)
        return
    runs = [pool.submit(net_products, X, *(part[net] for part in operands), reps) for net in range(2)]
    for run in runs:
        run.result()


@njit
def square(a, b, out):
    """The one-thread reference: np.dot in njit, the BLAS (SciPy's) and thread the products use."""
    np.dot(a, b, out)


def reference(threads: int, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> float:
    """GFLOP/s of float32 2048 x 2048: the bench's own (NumPy, 2 BLAS threads), or SciPy's on this thread."""
    if threads == TRAINER_THREADS:
        return _gemm_rate(GEMM_SIZE, 1, threads=TRAINER_THREADS)
    return 2.0 * GEMM_SIZE**3 / timed(lambda: square(a, b, out)) / 1e9


def product_operands(B: int, live: int, rng: np.random.Generator) -> tuple[tuple, int]:
    """Weights, activations, deltas and gradients of both nets for minibatches of B rows; the FLOPs of a step."""
    cfg = TrainConfig()
    nets = (layer_sizes(cfg.value_cfg), layer_sizes(cfg.policy_cfg))
    shapes = [[(int(s[k]), int(s[k + 1])) for k in range(len(s) - 1)] for s in nets]
    weights = tuple(tuple(rng.random(io, dtype=np.float32) for io in net) for net in shapes)
    acts = tuple(tuple(rng.random((B, o), dtype=np.float32) for _, o in net) for net in shapes)
    deltas = tuple(tuple(rng.random((B, o), dtype=np.float32) for _, o in net) for net in shapes)
    grads = tuple(tuple(np.empty(io, np.float32) for io in net) for net in shapes)
    flops = B * sum(_train_flops_per_sample(c, live) for c in (cfg.value_cfg, cfg.policy_cfg))  # the bench's count
    return (weights, acts, deltas, grads), flops


def row(B: int, rate: float, data: tuple, repeats: int, threads: int, rng: np.random.Generator) -> str:
    """One line of the table: steps against their products alone against the reference, best of `repeats`."""
    X, VT, PT = data
    live = int(np.nonzero(X.any(axis=0))[0].max()) + 1
    count = max(1, min(64, len(X) // B))
    block = make_batch(X[: count * B], VT[: count * B], PT[: count * B])
    rows = np.arange(count * B)
    Xa = np.ascontiguousarray(X[:B, :live])
    operands, flops = product_operands(B, live, rng)
    reps = max(4, int(4e9 // flops))  # about 25 ms of products a call: the threads start once
    cfg = TrainConfig(max_batch=B, learning_rate=1e-3, dropout_rate=rate, seed=1)
    trainer = nt.NumbaTrainer(cfg)
    state = trainer.init(init_params(cfg.value_cfg, 1), init_params(cfg.policy_cfg, 2))

    def steps() -> None:
        nonlocal state
        state, _ = trainer.steps(state, block, rows, B)

    pool = ThreadPoolExecutor(2) if threads == TRAINER_THREADS else None
    a, b = (rng.random((GEMM_SIZE, GEMM_SIZE), dtype=np.float32) for _ in range(2))
    out = np.empty_like(a)

    def alone() -> None:
        products(pool, Xa, operands, reps)

    steps()
    alone()
    square(a, b, out)
    step_t, prod_t, gemm = [], [], 0.0
    for _ in range(repeats):
        step_t.append(timed(steps) / count)
        prod_t.append(timed(alone) / reps)
        gemm = max(gemm, reference(threads, a, b, out))
    if pool is not None:
        pool.shutdown()
    step, prod = min(step_t), min(prod_t)
    step_rate, prod_rate = flops / step / 1e9, flops / prod / 1e9
    return (
        f"| {B} | {rate} | {step * 1e6:.0f} us | {prod * 1e6:.0f} us | {prod / step:.0%} | {gemm:.0f} | "
        f"{step_rate / gemm:.0%} | {prod_rate / gemm:.0%} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="256,1024,4096")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--threads",
        type=int,
        choices=(1, TRAINER_THREADS),
        default=TRAINER_THREADS,
        help="2: as the bench (one net a thread, NumPy's 2-thread reference); 1: both nets on one thread against "
        "SciPy's BLAS on one thread (the products' own library)",
    )
    args = parser.parse_args()
    ds = generate(256, depth=1, seed=BENCH_SEED, max_plies=BENCH_MAX_PLIES)
    data = (ds.features, ds.value_target, ds.policy_target)
    rng = np.random.default_rng(0)
    if args.threads == TRAINER_THREADS:
        print(f"{len(ds)} samples; 2 threads, one net each; the reference: NumPy's BLAS on 2 threads")
    else:
        print(f"{len(ds)} samples; one thread, the nets in turn; the reference: SciPy's BLAS in njit, one thread")
    print("| batch | dropout | a step of both nets | their products alone | products / step | "
          "reference, GFLOP/s | step, % of it | products alone, % of it |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    with numba_threads(args.threads):
        for B in (int(x) for x in args.batches.split(",")):
            for rate in (0.0, 0.1):
                with nt.single_threaded_blas():
                    line = row(B, rate, data, args.repeats, args.threads, rng)
                print(line, flush=True)


if __name__ == "__main__":
    main()
