"""The train bench section: `rgou train` presets end to end, phase by phase, beside the PyTorch step.

Each preset and backend runs as its own `rgou train` process (so its peak
resident memory is its own, read from the child's rusage), after one warm-up
run so that kernels load from the cache: the phases (generate, train,
evaluate) exclude compilation. The training phase of the standard preset is
compared with the idiomatic PyTorch step (`bench.nn._TorchNets`) on the same
data, minibatch size and order, timed over one epoch in the same process.
The quick bench runs the quick preset only, with the strength check cut short.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from rgou.bench.report import SectionResult
from rgou.bench.timing import BenchContext, run_rgou

PRESETS_FULL = ("quick", "standard")
PRESETS_QUICK = ("quick",)
TORCH_EPOCHS = 1


def _run_train(args: list[str], folder: Path) -> tuple[dict, float, float]:
    """(summary, wall seconds, peak RSS in MB) of one `rgou train` process."""
    summary = folder / f"summary-{time.time_ns()}.json"
    wall, peak = run_rgou(
        ["train", *args, "--quiet", "--force", "--json", str(summary), "--out", str(folder / "model.json.gz")]
    )
    return json.loads(summary.read_text()), wall, peak


def _torch_rate(preset_summary: dict) -> tuple[float, str] | None:
    """PyTorch samples/s over the standard preset's training data (same batch size and row order)."""
    try:
        import torch
    except Exception:
        return None
    from rgou.bench.nn import _TorchNets
    from rgou.nn.contract import shuffle_order
    from rgou.selfplay import generate
    from rgou.train import split_by_game, value_targets

    o = preset_summary["options"]
    data = generate(o["games"], depth=o["depth"], seed=o["seed"], max_plies=o["max_plies"])
    rows, _ = split_by_game(data.game_id, o["validation_split"], o["seed"])
    targets, _ = value_targets(data, "outcome")
    nets = _TorchNets(torch, o["seed"], o["dropout"], o["learning_rate"])
    b = o["batch_size"]
    x_all = torch.from_numpy(data.features[rows])
    v_all = torch.from_numpy(targets[rows]).unsqueeze(1)
    p_all = torch.from_numpy(data.policy_target[rows].argmax(axis=1))
    start = time.perf_counter()
    samples = 0
    for epoch in range(TORCH_EPOCHS):
        order = torch.from_numpy(shuffle_order(len(rows), o["seed"], epoch))
        for k in range(len(rows) // b):
            idx = order[k * b : (k + 1) * b]
            nets.step(x_all[idx], v_all[idx], p_all[idx])
            samples += b
    rate = samples / (time.perf_counter() - start)
    return rate, f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads"


def bench_train(ctx: BenchContext) -> SectionResult:
    """rgou train presets end to end (each backend), phases, peak memory; standard vs the PyTorch step."""
    from rgou.train.pipeline import best_epochs

    res = SectionResult()
    presets = PRESETS_QUICK if ctx.quick else PRESETS_FULL
    backends = ["numba"]
    try:
        import jax  # noqa: F401

        backends.append("jax")
    except Exception as exc:
        res.notes.append(f"JAX rows skipped: import jax failed ({type(exc).__name__}: {exc})")
    extra = ["--eval-games", "20"] if ctx.quick else []
    with tempfile.TemporaryDirectory(prefix="rgou-bench-train-") as tmp:
        folder = Path(tmp)
        warm = time.perf_counter()
        for backend in backends:  # compile or load every kernel once, outside the timings
            _run_train(
                ["--preset", "quick", "--games", "4", "--epochs", "1", "--eval-games", "2", "--backend", backend],
                folder,
            )
        res.warmup_s = time.perf_counter() - warm
        standard = None
        for preset in presets:
            for backend in backends:
                summary, wall, rss = _run_train(["--preset", preset, "--backend", backend, *extra], folder)
                sec = summary["seconds"]
                end_to_end = sec.get("generate", 0.0) + sec["train"] + sec.get("evaluate", 0.0)
                key = f"{preset}_{backend}"
                trained = summary["train_samples"] * summary["epochs_run"]
                res.add(
                    f"{key}_end_to_end_s",
                    end_to_end,
                    "s",
                    f"{preset} preset, {backend}: generate + train + evaluate (compile excluded)",
                )
                res.add(f"{key}_generate_s", sec.get("generate", 0.0), "s", f"  {preset}, {backend}: generate")
                res.add(
                    f"{key}_train_s",
                    sec["train"],
                    "s",
                    f"  {preset}, {backend}: train ({summary['epochs_run']} epochs, validation included)",
                )
                res.add(f"{key}_evaluate_s", sec.get("evaluate", 0.0), "s", f"  {preset}, {backend}: strength check")
                res.add(
                    f"{key}_train_samples_per_s",
                    trained / sec["train"],
                    "samples/s",
                    f"  {preset}, {backend}: training-phase throughput (samples x epochs / train time)",
                )
                res.add(f"{key}_peak_rss_mb", rss, "MB", f"  {preset}, {backend}: peak resident memory of the process")
                res.add(f"{key}_process_s", wall, "s", f"  {preset}, {backend}: whole process (imports, compile load)")
                for net in ("value", "policy"):
                    loss = summary[f"best_validation_{net}_loss"]
                    res.add(
                        f"{key}_val_{net}_loss",
                        math.nan if loss is None else loss,
                        "loss",
                        f"  {preset}, {backend}: the kept {net} net's validation loss (epoch "
                        f"{summary[f'best_{net}_epoch']})",
                    )
                if preset == "standard" and backend == "numba":
                    standard = summary
                epochs = summary["best_value_epoch"], summary["best_policy_epoch"]
                res.notes.append(
                    f"{preset}/{backend}: {summary['games']} games, {summary['samples']} samples, "
                    f"{summary['epochs_run']} epochs (best: {best_epochs(*epochs)}), policy top-1 "
                    f"{100 * summary['policy_top1_agreement']:.1f}%"
                )
        if standard is not None:
            torch_rate = _torch_rate(standard)
            if torch_rate is None:
                res.notes.append("PyTorch comparison skipped: torch is not installed (pip install 'rgou[bench]')")
            else:
                rate, what = torch_rate
                numba_rate = res.metrics["standard_numba_train_samples_per_s"].value
                res.add(
                    "standard_torch_train_samples_per_s",
                    rate,
                    "samples/s",
                    "standard preset data: idiomatic PyTorch step, samples/s (one epoch)",
                )
                res.add(
                    "standard_train_vs_torch",
                    numba_rate / rate,
                    "x",
                    "  Numba training phase (validation included) / PyTorch step",
                )
                res.notes.append(f"{what}; same data, batch size and shuffle order, no validation")
    res.notes.append(f"each run is its own process; machine has {os.cpu_count()} cores; {np.__name__} {np.__version__}")
    return res
