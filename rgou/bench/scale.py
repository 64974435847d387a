"""The memory and scaling bench sections: how memory and time grow with the work.

`memory`: peak resident memory (the child's rusage) of `rgou generate` for
1,000 games, of `rgou train` on 100,000 samples in memory, and of training
from shards on a dataset and on one 4 times larger, with the same shuffle
buffer: streamed training's memory does not grow with the data.

`scaling`: time against games and depth (generation), samples and batch size
(training, both Numba steps and the JAX trainer's many-steps dispatch when
installed), and workers (generation on a Dask LocalCluster of 1 and 2 worker
processes against the single-process run on all cores). `--plot DIR` draws
the curves (`rgou.bench.plots`, matplotlib).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from rgou.bench.report import SectionResult
from rgou.bench.timing import BenchContext, run_rgou, timed


def _peak_rss_mb(args: list[str]) -> tuple[float, float]:
    """(peak resident MB, wall seconds) of one `rgou ARGS` child process."""
    wall, peak = run_rgou(args)
    return peak, wall


def bench_memory(ctx: BenchContext) -> SectionResult:
    """Peak memory of generating, of training in memory, and of training from shards of two sizes."""
    from rgou.selfplay import generate

    res = SectionResult()
    games = 200 if ctx.quick else 1000
    samples = 20_000 if ctx.quick else 100_000
    shard_games = 400 if ctx.quick else 12_000  # depth-1 games: about 180 samples each
    buffer = 20_000 if ctx.quick else 200_000  # the shuffle buffer: both datasets are many times larger
    with tempfile.TemporaryDirectory(prefix="rgou-bench-memory-") as tmp:
        folder = Path(tmp)
        res.warmup_s = timed(
            lambda: _peak_rss_mb(
                ["generate", "--games", "2", "--depth", "1", "--out", str(folder / "w.npz"), "--quiet"]
            )
        )
        rss, wall = _peak_rss_mb(
            [
                "generate",
                "--games",
                str(games),
                "--depth",
                "3",
                "--seed",
                "1",
                "--out",
                str(folder / "g.npz"),
                "--quiet",
            ]
        )
        res.add("generate_peak_rss_mb", rss, "MB", f"rgou generate: {games} depth-3 games, peak resident memory")
        res.add("generate_s", wall, "s", "  same process, wall time")
        data = generate(max(2, samples // 150), depth=2, seed=2)
        data = data.subset(np.arange(min(samples, len(data))))
        data.save(folder / "train.npz")
        rss, wall = _peak_rss_mb(
            [
                "train",
                "--data",
                str(folder / "train.npz"),
                "--epochs",
                "1",
                "--batch-size",
                "256",
                "--no-eval",
                "--quiet",
                "--out",
                str(folder / "m.json.gz"),
            ]
        )
        res.add("train_peak_rss_mb", rss, "MB", f"rgou train: {len(data):,} samples in memory, 1 epoch, peak memory")
        res.add("train_s", wall, "s", "  same process, wall time")
        sizes = {}
        for name, copies in (("small", 1), ("large", 4)):
            shards = folder / name
            shards.mkdir()
            for k in range(4 * copies):
                generate(shard_games // 4, depth=1, seed=3, first_game=k * (shard_games // 4)).save(
                    shards / f"shard-{k:03d}.npz"
                )
            n = sum(len(np.load(p)["move"]) for p in shards.glob("*.npz"))
            rss, wall = _peak_rss_mb(
                [
                    "train",
                    "--shuffle-buffer",
                    str(buffer),
                    "--data",
                    str(shards / "*.npz"),
                    "--epochs",
                    "1",
                    "--batch-size",
                    "512",
                    "--no-eval",
                    "--quiet",
                    "--out",
                    str(folder / f"{name}.json.gz"),
                ]
            )
            sizes[name] = (n, rss)
            if name == "small":  # the same data loaded into memory: the streamed run's throughput against it
                _, wall_memory = _peak_rss_mb(
                    ["train", "--in-memory", "--data", str(shards / "*.npz"), "--epochs", "1", "--batch-size", "512"]
                    + ["--no-eval", "--quiet", "--out", str(folder / "memory.json.gz")]
                )
                res.add(
                    "shards_vs_memory_throughput",
                    wall_memory / wall,
                    "x",
                    "training from shards / the same data in memory (--in-memory), samples/s of the whole run",
                )
            res.add(
                f"shards_{name}_peak_rss_mb", rss, "MB", f"training from shards: {n:,} samples streamed, peak memory"
            )
            res.add(f"shards_{name}_samples_per_s", 0.8 * n / wall, "samples/s", "  same process: samples/s, whole run")
        (n1, r1), (n4, r4) = sizes["small"], sizes["large"]
        res.add("shards_memory_growth", r4 / r1, "x", f"  peak memory, {n4 / n1:.0f}x the data / 1x the data")
        in_memory_mb = n4 * 720 / 2**20
        res.notes.append(
            f"the larger sharded dataset would take ~{in_memory_mb:,.0f} MB in memory with its features (720 "
            f"bytes a sample; past 1 GiB of features a dataset computes them when read, about 75 bytes a sample); "
            f"streamed, the run peaked at {r4:,.0f} MB (shuffle buffer {buffer:,} samples)"
        )
    return res


def bench_scaling(ctx: BenchContext) -> SectionResult:
    """Time against games, depth, samples, batch size and Dask workers."""
    import numba

    from rgou.nn.contract import TrainConfig, make_batch
    from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, init_params
    from rgou.nn.numba_trainer import NumbaTrainer, single_threaded_blas
    from rgou.selfplay import generate

    res = SectionResult()
    res.warmup_s = timed(lambda: generate(4, depth=3, seed=0))
    game_counts = (100, 400) if ctx.quick else (500, 1000, 2000, 4000)
    for games in game_counts:
        t = timed(lambda games=games: generate(games, depth=3, seed=1))
        res.add(
            f"generate_depth3_{games}_s", t, "s", f"generate {games} depth-3 games, {numba.get_num_threads()} threads"
        )
    for depth in (1, 2, 3, 4):
        games = (50 if depth == 4 else 200) if ctx.quick else (200 if depth == 4 else 1000)
        t = timed(lambda games=games, depth=depth: generate(games, depth=depth, seed=1))
        res.add(f"generate_depth{depth}_games_per_s", games / t, "games/s", f"generate: depth {depth}, games/s")

    data = generate(100 if ctx.quick else 400, depth=1, seed=2)
    v0, p0 = init_params(VALUE_CONFIG, 1), init_params(POLICY_CONFIG, 2)
    for batch in (32, 256, 1024) if ctx.quick else (32, 64, 256, 1024, 4096):
        trainer = NumbaTrainer(TrainConfig(max_batch=batch, seed=1))
        state = trainer.init(v0, p0)
        steps = max(2, min(200, len(data) // batch))
        batches = [
            make_batch(
                *(a[k * batch : (k + 1) * batch] for a in (data.features, data.value_target, data.policy_target))
            )
            for k in range(steps)
        ]
        with single_threaded_blas():
            state, _ = trainer.step(state, batches[0])
            start = time.perf_counter()
            for b in batches:
                state, _ = trainer.step(state, b)
            t = time.perf_counter() - start
        res.add(f"train_b{batch}_samples_per_s", steps * batch / t, "samples/s", f"Numba trainer, batch {batch}")
    for n in (20_000, 80_000) if ctx.quick else (50_000, 200_000, 800_000):
        reps = max(1, n // len(data) + 1)
        features = np.tile(data.features, (reps, 1))[:n]
        targets = np.tile(data.value_target, reps)[:n]
        policy = np.tile(data.policy_target, (reps, 1))[:n]
        trainer = NumbaTrainer(TrainConfig(max_batch=256, seed=1))
        state = trainer.init(v0, p0)
        start = time.perf_counter()
        with single_threaded_blas():
            for k in range(n // 256):
                state, _ = trainer.step(
                    state,
                    make_batch(
                        features[k * 256 : (k + 1) * 256],
                        targets[k * 256 : (k + 1) * 256],
                        policy[k * 256 : (k + 1) * 256],
                    ),
                )
        res.add(
            f"train_epoch_{n}_s", time.perf_counter() - start, "s", f"one epoch of {n:,} samples, batch 256 (Numba)"
        )
    _workers(res, ctx)
    return res


def _workers(res: SectionResult, ctx: BenchContext) -> None:
    """Generation on a LocalCluster of 1 and 2 worker processes vs one process on all cores."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        res.notes.append("worker scaling skipped: Dask is not installed (pip install 'rgou[cluster]')")
        return
    from rgou.cluster import generate_shards
    from rgou.selfplay import GenerateOptions, generate

    games = 400 if ctx.quick else 10_000
    single = timed(lambda: generate(games, depth=3, seed=5))
    res.add(
        "cluster_single_process_games_per_s",
        games / single,
        "games/s",
        f"{games} depth-3 games, one process, all cores",
    )
    for workers in (1, 2):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        try:
            client.run(lambda: generate(2, depth=3, seed=0))  # workers load their kernels before the clock
            with tempfile.TemporaryDirectory(prefix="rgou-bench-cluster-") as tmp:
                t = timed(
                    lambda tmp=tmp, client=client, workers=workers: generate_shards(
                        tmp, GenerateOptions(games, depth=3, seed=5), 4 * workers * 4, client=client
                    )
                )
        finally:
            client.close()
            cluster.close()
        res.add(
            f"cluster_{workers}_workers_games_per_s",
            games / t,
            "games/s",
            f"same games on a LocalCluster of {workers} worker process(es), {4 * workers * 4} shards",
        )
    res.add(
        "cluster_2_workers_vs_single",
        res.metrics["cluster_2_workers_games_per_s"].value / (games / single),
        "x",
        "  2 workers / one process on 2 cores",
    )
