"""The nn bench section: the Numba, PyTorch and JAX trainers side by side, inference and the ML agent.

`bench_nn` imports torch and jax when they are installed (PyTorch and JAX
columns); without them it skips those columns with a note. Training rates
are the best of their repeats, not medians: other processes only ever slow a
chunk down.

A trainer's share of the GEMM rate counts the FLOPs it executes (the Numba
trainer skips the input columns that are always zero; PyTorch and JAX
multiply them too), against np.dot on as many BLAS threads as the Numba
trainer uses, measured before and after the trainers.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numba
import numpy as np

from rgou._clock import clock_ns
from rgou._numba import njit
from rgou.agents import CLOSE_GAP, MLAgent
from rgou.bench.report import TORCH_REFERENCE_INFERENCE_US, TORCH_REFERENCE_SAMPLES_PER_S, SectionResult
from rgou.bench.timing import (
    BENCH_MAX_PLIES,
    CONTENDED_CORES,
    HAS_CLOCK,
    BenchContext,
    LoadMeter,
    clock_overhead,
    median_time,
    per_call_us,
    steps_for,
    timed,
)
from rgou.features import extract_features_batch
from rgou.game import legal_moves
from rgou.models import load_model
from rgou.nn import inference as nb
from rgou.nn.contract import DEFAULT_DROPOUT_RATE, TrainConfig, make_batch
from rgou.nn.inference import value_policy_one
from rgou.nn.layout import (
    DEFAULT_HIDDEN_SIZES,
    NUM_FEATURES,
    NUM_POLICY_OUTPUTS,
    POLICY_CONFIG,
    VALUE_CONFIG,
    init_params,
    layer_sizes,
)
from rgou.nn.numba_trainer import NumbaTrainer, single_threaded_blas
from rgou.rules import NUM_PIECES, NUM_ROLLS
from rgou.selfplay import generate
from rgou.weights import Weights

NN_BATCHES = (1, 32, 64, 256, 1024, 4096)
NN_BATCHES_QUICK = (32, 64, 1024)
GEMM_SIZE = 2048  # the reference np.dot: float32 [n, n] x [n, n]
TRAINER_THREADS = 2  # the Numba trainer runs its two nets side by side, one thread each, one-threaded BLAS


def _train_flops_per_sample(cfg, first_inputs: int | None = None) -> int:
    """FLOPs of one training sample of one net: forward 2*sum(in*out), backward 2x that minus the
    first layer's input gradient (never computed): 3*fwd - 2*in_0*out_0. first_inputs replaces in_0
    (the Numba trainer drops the all-zero trailing input columns). Elementwise work is not counted."""
    sizes = [int(v) for v in layer_sizes(cfg)]
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    if first_inputs is not None:
        macs[0] = first_inputs * sizes[1]
    return 3 * 2 * sum(macs) - 2 * macs[0]


def _gemm_rate(n: int, repeats: int, threads: int | None = None) -> float:
    """GFLOP/s of np.dot on float32 [n, n] x [n, n] (best of repeats), optionally with BLAS limited to `threads`."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)

    def go() -> float:
        np.dot(a, b, out=out)
        _, times = median_time(lambda: np.dot(a, b, out=out), repeats)
        return 2.0 * n**3 / min(times) / 1e9  # best: the machine's rate (others only slow it down)

    if threads is None:
        return go()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        return go()


def _numpy_blas() -> str:
    """The BLAS that numpy's np.dot calls (threadpoolctl), e.g. 'openblas 0.3.30 Haswell, 2 threads'."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown BLAS (threadpoolctl not installed)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    mine = [p for p in pools if "numpy" in p.get("filepath", "")] or pools
    if not mine:
        return "no BLAS found by threadpoolctl"
    p = mine[0]
    return (
        f"{p.get('internal_api')} {p.get('version')}, coretype {p.get('architecture')}, "
        f"{p.get('num_threads')} threads ({os.path.basename(p.get('filepath', ''))})"
    )


@njit
def _timed_value_policy(vflat, vsizes, pflat, psizes, X, policy, work, times):
    """value_policy_one for each row of X; its wall time in ns into times[i]; returns the summed values."""
    acc = 0.0
    for i in range(X.shape[0]):
        t0 = clock_ns()
        acc += value_policy_one(vflat, vsizes, pflat, psizes, X[i], policy, work)
        t1 = clock_ns()
        times[i] = t1 - t0
    return acc


class _TorchNets:
    """The idiomatic PyTorch step: nn.Sequential nets, one Adam per net, MSE on tanh, cross-entropy on logits."""

    def __init__(self, torch, seed: int, dropout: float, lr: float):
        import torch.nn as tnn
        import torch.nn.functional as F

        self.torch, self.F = torch, F
        torch.manual_seed(seed)

        def mlp(out: int):
            widths = [NUM_FEATURES, *DEFAULT_HIDDEN_SIZES]
            layers = []
            for a, b in zip(widths[:-1], widths[1:]):
                layers += [tnn.Linear(a, b), tnn.ReLU(), tnn.Dropout(dropout)]
            layers.append(tnn.Linear(widths[-1], out))
            return tnn.Sequential(*layers)

        self.value, self.policy = mlp(1), mlp(NUM_POLICY_OUTPUTS)
        self.value_opt = torch.optim.Adam(self.value.parameters(), lr=lr)
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=lr)

    def batch(self, X, vt, pt):
        t = self.torch
        return (
            t.from_numpy(np.ascontiguousarray(X)),
            t.from_numpy(np.ascontiguousarray(vt)).unsqueeze(1),
            t.from_numpy(np.ascontiguousarray(pt.argmax(axis=1))),
        )

    def step(self, x, vt, pt) -> None:
        F = self.F
        self.value.train()
        self.policy.train()
        self.value_opt.zero_grad()
        self.policy_opt.zero_grad()
        value_loss = F.mse_loss(self.torch.tanh(self.value(x)), vt)
        policy_loss = F.cross_entropy(self.policy(x), pt)
        value_loss.backward()
        policy_loss.backward()
        self.value_opt.step()
        self.policy_opt.step()

    def infer_one(self, x_row) -> None:
        t = self.torch
        x = t.from_numpy(x_row).unsqueeze(0)
        t.tanh(self.value(x))
        t.softmax(self.policy(x), dim=1)


def _import_optional(name: str):
    try:
        return __import__(name)
    except Exception as exc:  # ImportError, or a broken install
        return f"{type(exc).__name__}: {exc}"


def _import_torch():
    """torch, whose bundled OpenMP reads its settings as it loads: without the passive waiting rgou sets for
    Numba (`rgou._numba`), unless the environment chose a policy, so the reference runs as it usually does."""
    from rgou._numba import OMP_POLICY_CHOSEN_HERE

    saved = os.environ.pop("OMP_WAIT_POLICY", None) if OMP_POLICY_CHOSEN_HERE else None
    try:
        return _import_optional("torch")
    finally:
        if saved is not None:
            os.environ["OMP_WAIT_POLICY"] = saved


def bench_nn(ctx: BenchContext) -> SectionResult:
    """Trainers (Numba, PyTorch, JAX) side by side on self-play minibatches; single-position inference; ML agent."""
    res = SectionResult()
    quick = ctx.quick
    batches = NN_BATCHES_QUICK if quick else NN_BATCHES
    jax_batches = batches[:1] if quick else batches  # a JAX compile is ~1-2 s per batch size
    reps = ctx.reps(7, 2)
    chunk_s = 0.02 if quick else 0.08
    lr, dropout = 1e-3, DEFAULT_DROPOUT_RATE
    warmup = 0.0

    # ---- 1. machine GEMM rate, on the cores the Numba trainer uses
    gemm_threads = min(TRAINER_THREADS, numba.get_num_threads())
    gemm_reps = ctx.reps(7, 3)
    gemm = _gemm_rate(GEMM_SIZE, gemm_reps, threads=gemm_threads)
    gemm_1t = _gemm_rate(GEMM_SIZE, ctx.reps(3, 1), threads=1)

    # ---- training data: real self-play samples (features 78..149 are zero)
    t0 = time.perf_counter()
    games = 64 if quick else 256
    ds = generate(games, depth=1, seed=ctx.seed, max_plies=BENCH_MAX_PLIES)
    warmup += time.perf_counter() - t0
    X, VT, PT = ds.features, ds.value_target, ds.policy_target
    n_samples = len(ds)
    active = int(np.nonzero(X.any(axis=0))[0].max()) + 1
    flops = _train_flops_per_sample(VALUE_CONFIG) + _train_flops_per_sample(POLICY_CONFIG)
    flops_exec = _train_flops_per_sample(VALUE_CONFIG, active) + _train_flops_per_sample(POLICY_CONFIG, active)
    res.notes.append(
        f"training data: {n_samples} samples of {games} seeded depth-1 self-play games; "
        f"minibatches are consecutive slices, cycled; only the first {active} of {X.shape[1]} feature columns are "
        "ever non-zero"
    )
    res.add("train_flops_per_sample", flops, "FLOPs", "FLOPs of one training sample, both nets (PyTorch, JAX)")
    res.add(
        "numba_flops_per_sample",
        flops_exec,
        "FLOPs",
        f"  the same without the {X.shape[1] - active} all-zero input columns: what the Numba trainer executes",
    )
    res.notes.append(
        f"FLOPs per training sample (both nets) = sum over nets of 3*2*sum(in*out) - 2*in_0*out_0 (forward "
        f"2*sum(in*out); backward 2x forward minus the first layer's input gradient; bias, activations, loss, "
        f"dropout and Adam not counted) = {flops:,}, which PyTorch and JAX execute. The Numba trainer multiplies "
        f"only the first {active} input columns and executes {flops_exec:,} ({flops_exec / flops:.0%}). A "
        "trainer's GFLOP/s is samples/s times the FLOPs it executes, and its share of the GEMM rate is that "
        "over the GEMM rate: work skipped is not counted as work done"
    )

    v0, p0 = init_params(VALUE_CONFIG, ctx.seed), init_params(POLICY_CONFIG, ctx.seed + 1)

    # ---- optional frameworks
    torch = _import_torch()
    if isinstance(torch, str):
        res.notes.append(f"PyTorch columns skipped: import torch failed ({torch})")
        torch = None
    else:
        res.notes.append(
            f"PyTorch {torch.__version__}: nn.Sequential(Linear, ReLU, Dropout(0.1), ...) per net, "
            "one torch.optim.Adam per net (lr 1e-3), MSE on tanh (value), F.cross_entropy on logits "
            f"with class-index targets (policy), zero_grad/backward/step; {torch.get_num_threads()} "
            "torch threads (default); batches converted to tensors once, outside the timing"
        )
    jax = _import_optional("jax")
    jb = None
    if isinstance(jax, str):
        res.notes.append(f"JAX columns skipped: import jax failed ({jax})")
        jax = None
    else:
        try:
            from rgou.nn import jax_trainer as jb
        except Exception as exc:  # pragma: no cover - broken install
            res.notes.append(f"JAX columns skipped: rgou.nn.jax_trainer failed ({type(exc).__name__}: {exc})")
            jax = None
    if jb is not None:
        res.notes.append(
            f"JAX {jax.__version__} on {jb.jax_device_description()}: JaxTrainer.step "
            "(jitted, both nets, dropout 0.1, Adam, one dispatch per step) and JaxTrainer.run "
            "(a lax.scan over the minibatches of a device-resident block, one dispatch per chunk); "
            "a chunk of steps ends with block_until_ready; "
            + ("quick run: JAX at the first batch size only" if quick else "compile time not timed")
        )
        jtrainer = jb.JaxTrainer(TrainConfig(learning_rate=lr, dropout_rate=dropout, seed=ctx.seed))
        jstate = jtrainer.init(v0, p0)
    torch_nets = _TorchNets(torch, ctx.seed, dropout, lr) if torch is not None else None

    # ---- 2-5. trainers, side by side at each batch size
    other_cores = []
    best: dict[int, dict[str, float]] = {}
    attempts = 1 if quick else 3
    retried: list[str] = []
    ratio_torch: dict[int, float] = {}
    numba_frac: dict[int, float] = {}
    steps_frac: dict[int, float] = {}
    block_steps: dict[int, int] = {}  # minibatches a `steps` call
    for B in batches:
        count = block_steps[B] = max(1, min(64, n_samples // B))
        slices = [
            (
                np.ascontiguousarray(X[i * B : (i + 1) * B]),
                np.ascontiguousarray(VT[i * B : (i + 1) * B]),
                np.ascontiguousarray(PT[i * B : (i + 1) * B]),
            )
            for i in range(count)
        ]
        batches_b = [make_batch(*s) for s in slices]
        trainer = NumbaTrainer(TrainConfig(max_batch=B, learning_rate=lr, dropout_rate=dropout, seed=ctx.seed))
        nstate = trainer.init(v0, p0)

        def numba_ctx(k, trainer=trainer, batches_b=batches_b, count=count):
            nonlocal nstate
            with single_threaded_blas():
                for i in range(k):
                    nstate, _ = trainer.step(nstate, batches_b[i % count])

        def numba_self(k, trainer=trainer, batches_b=batches_b, count=count):
            nonlocal nstate
            for i in range(k):
                nstate, _ = trainer.step(nstate, batches_b[i % count])

        block = make_batch(X[: count * B], VT[: count * B], PT[: count * B])

        def numba_steps(k, trainer=trainer, block=block, count=count, B=B):
            nonlocal nstate
            with single_threaded_blas():
                done = 0
                while done < k:  # blocks of up to `count` minibatches a call, as the training loop runs them
                    n = min(count, k - done)
                    nstate, _ = trainer.steps(nstate, block, np.arange(n * B), B)
                    done += n

        runners: dict[str, Callable[[int], object]] = {
            "numba": numba_ctx,
            "numba_self": numba_self,
            "numba_steps": numba_steps,
        }
        t0 = time.perf_counter()
        numba_ctx(1)
        numba_steps(count)
        if torch_nets is not None:
            tslices = [torch_nets.batch(*s) for s in slices]

            def torch_run(k, tslices=tslices, count=count):
                for i in range(k):
                    torch_nets.step(*tslices[i % count])

            torch_run(2)
            runners["torch"] = torch_run
        if jb is not None and B in jax_batches:
            jslices = [jtrainer.device_batch(b) for b in batches_b]
            block = jtrainer.device_batch(make_batch(X[: count * B], VT[: count * B], PT[: count * B]))
            order = jax.numpy.arange(count * B, dtype=jax.numpy.int32)

            def jax_run(k, jslices=jslices, count=count):
                nonlocal jstate
                for i in range(k):
                    jstate, _ = jtrainer.step(jstate, jslices[i % count])
                jax.block_until_ready(jstate)

            def jax_scan(k, block=block, order=order, count=count, B=B):
                nonlocal jstate
                done = 0
                while done < k:
                    steps = min(count, k - done)
                    jstate, _ = jtrainer.run(jstate, block, order[: steps * B], B)
                    done += steps
                jax.block_until_ready(jstate)

            jax_run(2)
            jax_scan(count)
            runners["jax"] = jax_run
            runners["jax_scan"] = jax_scan
        warmup += time.perf_counter() - t0
        steps = {name: steps_for(fn, chunk_s) for name, fn in runners.items()}
        rates: dict[str, list[float]] = {name: [] for name in runners}
        names = list(runners)
        loads = []
        for _ in range(attempts):  # a contended attempt is repeated (full runs): its chunks are kept too
            with LoadMeter() as meter:
                for r in range(reps):
                    for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order each repeat
                        run, count = runners[name], steps[name]
                        rates[name].append(B * count / timed(lambda run=run, count=count: run(count)))
            loads.append(meter.other_cores or 0.0)
            if loads[-1] <= CONTENDED_CORES:
                break
        other_cores.append(min(loads))
        if len(loads) > 1:
            retried.append(f"{B} ({len(loads)} attempts, others {', '.join(f'{v:.2f}' for v in loads)} cores)")
        # best of the repeats: other processes only ever slow a chunk down, and on 2 cores one busy core
        # stalls a 2-thread step at every barrier (OpenMP in torch, prange in the Numba trainer)
        med = {name: max(v) for name, v in rates.items()}
        best[B] = med
    # the GEMM rate: best of the runs before and after the trainers (a run slowed by other processes loses)
    gemm = max(gemm, _gemm_rate(GEMM_SIZE, gemm_reps, threads=gemm_threads))
    res.add(
        "gemm_gflops",
        gemm,
        "GFLOP/s",
        f"GEMM rate: np.dot float32 {GEMM_SIZE}x{GEMM_SIZE} on {gemm_threads} BLAS threads (best)",
    )
    res.add("gemm_gflops_1thread", gemm_1t, "GFLOP/s", "  same, BLAS limited to 1 thread")
    res.notes.append(
        f"GEMM rate: np.dot float32 {GEMM_SIZE}x{GEMM_SIZE} with BLAS on {gemm_threads} threads, as many as "
        f"the Numba trainer uses (its {TRAINER_THREADS} nets side by side, one thread each, one-threaded BLAS), "
        f"on {_numpy_blas()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE') or '(not set)'}; "
        f"best of {gemm_reps} runs before and {gemm_reps} after the trainers: {gemm:.0f} GFLOP/s. Every share "
        "of the GEMM rate below is of that rate"
    )
    if (os.cpu_count() or 1) > gemm_threads and (torch_nets is not None or jb is not None):
        res.notes.append(
            f"this machine has {os.cpu_count()} cores: PyTorch and JAX may use more than the GEMM rate's "
            f"{gemm_threads} threads, so their shares of it can read high"
        )

    def share(rate: float, per_sample: int) -> float:
        """% of the GEMM rate that `rate` samples/s of `per_sample` executed FLOPs each reach."""
        return 100.0 * rate * per_sample / 1e9 / gemm

    for B, med in best.items():
        numba_frac[B] = share(med["numba"], flops_exec)
        steps_frac[B] = share(med["numba_steps"], flops_exec)
        res.add(
            f"numba_b{B}_samples_per_s",
            med["numba"],
            "samples/s",
            f"batch {B}: Numba trainer, one step a call (step, inside single_threaded_blas), samples/s",
        )
        res.add(
            f"numba_self_b{B}_samples_per_s",
            med["numba_self"],
            "samples/s",
            "  the same, step entering single_threaded_blas itself",
        )
        res.add(
            f"numba_steps_b{B}_samples_per_s",
            med["numba_steps"],
            "samples/s",
            f"  blocks of {block_steps[B]} minibatches a call (steps, as rgou train runs it)",
        )
        res.add(
            f"numba_b{B}_exec_gemm_pct",
            numba_frac[B],
            "%",
            f"  one step a call: {med['numba'] * flops_exec / 1e9:.1f} GFLOP/s executed, % of the GEMM rate",
        )
        res.add(
            f"numba_steps_b{B}_exec_gemm_pct",
            steps_frac[B],
            "%",
            f"  blocks: {med['numba_steps'] * flops_exec / 1e9:.1f} GFLOP/s executed, % of the GEMM rate",
        )
        if "torch" in med:
            res.add(f"torch_b{B}_samples_per_s", med["torch"], "samples/s", f"batch {B}: PyTorch step, samples/s")
            res.add(
                f"torch_b{B}_gemm_pct",
                share(med["torch"], flops),
                "%",
                f"  {med['torch'] * flops / 1e9:.1f} GFLOP/s executed, % of the GEMM rate",
            )
            ratio_torch[B] = med["numba"] / med["torch"]
            res.add(f"numba_vs_torch_b{B}", ratio_torch[B], "x", f"batch {B}: Numba / PyTorch samples/s")
        if "jax" in med:
            res.add(f"jax_b{B}_samples_per_s", med["jax"], "samples/s", f"batch {B}: JAX jitted step, samples/s")
            res.add(
                f"jax_b{B}_gemm_pct",
                share(med["jax"], flops),
                "%",
                f"  {med['jax'] * flops / 1e9:.1f} GFLOP/s executed, % of the GEMM rate",
            )
            res.add(f"numba_vs_jax_b{B}", med["numba"] / med["jax"], "x", f"batch {B}: Numba / JAX samples/s")
        if "jax_scan" in med:
            res.add(
                f"jax_scan_b{B}_samples_per_s",
                med["jax_scan"],
                "samples/s",
                f"batch {B}: JAX, many steps per dispatch (lax.scan), samples/s",
            )
    big = [B for B in batches if B >= 256]
    if big:
        res.add(
            "numba_exec_gemm_pct_min_ge256",
            min(numba_frac[B] for B in big),
            "%",
            f"Numba trainer, one step a call: % of the GEMM rate executed, lowest over batches "
            f"{', '.join(map(str, big))}",
        )
        res.add(
            "numba_steps_exec_gemm_pct_min_ge256",
            min(steps_frac[B] for B in big),
            "%",
            f"  blocks of minibatches a call (steps), lowest over batches {', '.join(map(str, big))}",
        )
    over = [f"{key} {m.value:.0f}%" for key, m in res.metrics.items() if "gemm_pct" in key and m.value > 100]
    if over:
        res.notes.append(
            f"above 100% of the GEMM rate ({', '.join(over)}): the GEMM runs were slower than the hardware can "
            "go (other processes, or a clock that changed between the runs); rerun on a quiet machine"
        )
    res.add(
        "train_other_load",
        statistics.median(other_cores),
        "cores",
        "CPU used by other processes during the training timings (median over batch sizes)",
    )
    if retried:
        res.notes.append("contended batch sizes were timed again and all chunks kept: " + "; ".join(retried))
    reference = " / ".join(f"{rate / 1000:.0f}k" for rate in TORCH_REFERENCE_SAMPLES_PER_S.values())
    res.notes.append(
        f"Each rate is the best of {reps} chunks of steps (~{chunk_s} s each), the trainers' chunks interleaved "
        "in rotating order; ratios are of those best rates. The PyTorch reference (what the targets were set "
        f"against: the idiomatic PyTorch CPU step of these nets on the 2-core machine of the recorded runs) is "
        f"~{reference} samples/s at batch {' / '.join(map(str, TORCH_REFERENCE_SAMPLES_PER_S))}; the Numba / "
        "PyTorch ratios use this run's own PyTorch step (torch installed)"
    )

    # ---- 6. single-position inference
    n_pos = 300 if quick else 2000
    pool_size = 20_000 if quick else 200_000
    states = ctx.spread(n_pos, pool_size)
    feats = extract_features_batch(states)
    weights = load_model("default")
    wname = "the packaged default model"
    fresh = Weights(v0, p0)
    vs, ps = layer_sizes(weights.value_config), layer_sizes(weights.policy_config)
    work = nb.make_inference_work(weights.value_config, weights.policy_config)
    pol = np.zeros(ps[-1], dtype=np.float32)
    inf_reps = ctx.reps(3, 1)
    t0 = time.perf_counter()
    nb.value_policy_one(weights.value, vs, weights.policy, ps, feats[0], pol, work)
    warmup += time.perf_counter() - t0

    with LoadMeter() as meter:
        vp_py = per_call_us(
            lambda i: nb.value_policy_one(weights.value, vs, weights.policy, ps, feats[i], pol, work), n_pos, inf_reps
        )
        res.add(
            "value_policy_one_us",
            float(np.median(vp_py)),
            "us",
            "value_policy_one (value + policy, one position) called from Python, median",
        )
        if HAS_CLOCK:
            t0 = time.perf_counter()
            timed_vp = _timed_value_policy
            per = np.empty((inf_reps, n_pos), dtype=np.int64)
            timed_vp(weights.value, vs, weights.policy, ps, feats[:2], pol, work, per[0, :2])
            compile_s = time.perf_counter() - t0
            ov = np.empty(10_000, dtype=np.int64)
            clock_overhead(ov)
            overhead_ns = float(np.median(ov))
            for r in range(inf_reps):
                timed_vp(weights.value, vs, weights.policy, ps, feats, pol, work, per[r])
            kern = np.maximum(np.median(per, axis=0) - overhead_ns, 0.0) / 1e3
            res.add(
                "value_policy_one_kernel_us",
                float(np.median(kern)),
                "us",
                "  same kernel timed inside an njit loop (no Python dispatch), median",
            )
            res.add("value_policy_one_kernel_p90_us", float(np.percentile(kern, 90)), "us", "  same, 90th percentile")
            res.notes.append(
                f"inference: {n_pos} positions spread over the self-play pool, weights {wname}; the "
                f"bench's njit timing loop took {compile_s:.2f} s to compile (not cached)"
            )
        if torch_nets is not None:
            torch_nets.value.eval()
            torch_nets.policy.eval()
            n_t = min(n_pos, 100 if quick else 1000)
            with torch.no_grad():
                for i in range(20):
                    torch_nets.infer_one(feats[i])
                t_us = per_call_us(lambda i: torch_nets.infer_one(feats[i]), n_t, inf_reps)
            res.add(
                "torch_infer_one_us",
                float(np.median(t_us)),
                "us",
                "PyTorch value + policy forward, one position, torch.no_grad() "
                f"(PyTorch reference ~{TORCH_REFERENCE_INFERENCE_US:.0f} µs)",
            )
            res.add(
                "value_policy_vs_torch",
                float(np.median(t_us)) / float(np.median(vp_py)),
                "x",
                "  PyTorch / value_policy_one (both from Python)",
            )

        # ---- 7. ML agent decision
        agent = MLAgent(weights)
        t0 = time.perf_counter()
        agent.choose_move(states[0])
        warmup += time.perf_counter() - t0
        a_us = per_call_us(lambda i: agent.choose_move(states[i]), n_pos, inf_reps)
        res.add(
            "ml_agent_decision_us",
            float(np.median(a_us)),
            "us",
            f"MLAgent(weights).choose_move ({agent.name}: every successor, "
            f"{'once' if agent.unrolled else 'x 5 rolls'}{', and its colour swap' if agent.mirrored else ''}), "
            "median, from Python",
        )
        res.add("ml_agent_decision_mean_us", float(np.mean(a_us)), "us", "  mean")
        res.add("ml_agent_decision_p90_us", float(np.percentile(a_us, 90)), "us", "  90th percentile")
        plain = MLAgent(weights, mirrored=False)
        plain.choose_move(states[0])
        m_us = per_call_us(lambda i: plain.choose_move(states[i]), n_pos, inf_reps)
        res.add("ml_agent_unmirrored_us", float(np.median(m_us)), "us", "  without the colour swap, median")
        close = MLAgent(weights, close_gap=CLOSE_GAP)
        close.choose_move(states[0])
        p_us = per_call_us(lambda i: close.choose_move(states[i]), n_pos, inf_reps)
        res.add(
            "ml_plus_agent_decision_mean_us",
            float(np.mean(p_us)),
            "us",
            f"  ml+: moves within {CLOSE_GAP} of the best searched one ply deeper, mean",
        )
        res.add("ml_plus_agent_decision_us", float(np.median(p_us)), "us", "  ml+, median")
        res.add("ml_plus_agent_decision_p90_us", float(np.percentile(p_us, 90)), "us", "  ml+, 90th percentile")
        if agent.name != "ml:combined":
            both = MLAgent(weights, mode="combined")
            both.choose_move(states[0])
            c_us = per_call_us(lambda i: both.choose_move(states[i]), n_pos, inf_reps)
            res.add("ml_agent_combined_us", float(np.median(c_us)), "us", "  mode 'combined' (value + policy), median")
        for depth, n_d in ((1, 60 if quick else 400), (2, 10 if quick else 60)):
            searcher = MLAgent(weights, depth=depth)
            searcher.choose_move(states[0])
            d_us = per_call_us(lambda i, a=searcher: a.choose_move(states[i]), min(n_pos, n_d), 1 if quick else 3)
            res.add(
                f"ml{depth}_agent_decision_us",
                float(np.median(d_us)),
                "us",
                f"  ml-{depth}: {depth}-ply expectiminimax on the value net above the root's chance nodes, median",
            )
        upstream = MLAgent(load_model("upstream"))
        upstream.choose_move(states[0])
        u_us = per_call_us(lambda i: upstream.choose_move(states[i]), n_pos, inf_reps)
        res.add("ml_upstream_decision_us", float(np.median(u_us)), "us", "  the packaged upstream model, median")
        fresh_agent = MLAgent(fresh)
        fresh_agent.choose_move(states[0])
        f_us = per_call_us(lambda i: fresh_agent.choose_move(states[i]), n_pos, inf_reps)
        res.add("ml_agent_init_params_us", float(np.median(f_us)), "us", "  same with init_params weights, median")
    res.add(
        "infer_other_load",
        meter.other_cores or 0.0,
        "cores",
        "CPU used by other processes during the inference timings",
    )
    moves = np.empty(NUM_PIECES, dtype=np.int8)
    n_legal = np.array([legal_moves(s, moves) for s in states])
    res.notes.append(
        f"ML agent: {n_pos} positions, {n_legal.mean():.2f} legal moves on average, each non-final "
        f"one valued by the value net, over the {NUM_ROLLS} rolls of the next player or, for a net trained "
        "on the value before the roll (the shipped one), once, and at depth 0 also for its colour swap; "
        "plus one policy forward in 'combined' mode; the init_params nets have fewer zero ReLU outputs "
        "than the trained ones, so the sparse single-position kernels do more work; times per call with "
        f"perf_counter_ns, median of {inf_reps} repeats per position"
    )
    res.warmup_s = warmup
    return res
