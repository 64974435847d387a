"""The bench's figures, drawn from the report dict (what --json writes) with matplotlib, an optional extra.

`plot_report(report, folder)` writes a PNG for each thing the report holds:
`trainers.png` (nn section: training samples/s against batch size, the Numba
trainer beside PyTorch and JAX on one axis, with the GEMM roofline: the rate
a trainer's executed FLOPs per sample would reach at the measured GEMM rate)
and the scaling section's curves. Without matplotlib the bench runs as
before; only --plot needs it (`PLOT_INSTALL`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rgou._io import atomic_write

PLOT_INSTALL = "pip install 'rgou[plot]'"
DPI = 100
TRAINERS_FIGSIZE = (8.0, 6.0)  # inches: 800 x 600 pixels at DPI, the legend under the axes
SCALING_FIGSIZE = (5.0, 3.5)
SAMPLES_PER_S = "_samples_per_s"
# (metric prefix of the nn section, legend, line style, colour): each series is {prefix}{batch}_samples_per_s;
# one colour per trainer, whichever ran
TRAINER_SERIES = (
    ("numba_steps_b", "Numba, blocks of minibatches a call (steps)", "o-", "C0"),
    ("numba_b", "Numba, one step a call (step)", "o--", "C0"),
    ("torch_b", "PyTorch step", "s-", "C1"),
    ("jax_b", "JAX, one jitted step a dispatch", "^-", "C3"),
    ("jax_scan_b", "JAX, many steps a dispatch (lax.scan)", "^--", "C3"),
)
# (file, x label, y label, metric prefix, metric suffix, log x) of the scaling section
SCALING_PANELS = (
    ("generate_games.png", "games", "seconds", "generate_depth3_", "_s", True),
    ("generate_depth.png", "depth", "games/s", "generate_depth", "_games_per_s", False),
    ("train_batch.png", "batch size", "samples/s", "train_b", SAMPLES_PER_S, True),
    ("train_samples.png", "samples", "seconds", "train_epoch_", "_s", True),
)


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(f"the bench's figures need matplotlib: {PLOT_INSTALL} ({e})") from None
    return plt


def _series(metrics: dict, prefix: str, suffix: str) -> list[tuple[float, float]]:
    """(x, value) of the metrics named {prefix}{integer x}{suffix}, sorted by x."""
    points = []
    for key, m in metrics.items():
        middle = key[len(prefix) : len(key) - len(suffix)]
        if key.startswith(prefix) and key.endswith(suffix) and middle.isdigit():
            points.append((float(middle), float(m["value"])))
    return sorted(points)


def _thousands(value: float, _position: int) -> str:
    """A tick label of samples/s: 30k, 1.5M."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    return f"{value / 1e3:g}k" if value >= 1e3 else f"{value:g}"


def _thousands_minor(value: float, position: int) -> str:
    """Minor tick labels at 2, 3 and 5 times a power of ten only."""
    leading = value / 10 ** math.floor(math.log10(value)) if value > 0 else 0.0
    return _thousands(value, position) if round(leading) in (2, 3, 5) else ""


def _save(fig: Any, path: Path) -> Path:
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=DPI)
    return path


def plot_trainers(report: dict, folder: str | Path) -> Path | None:
    """trainers.png: samples/s against batch size for every trainer the nn section timed, and the GEMM roofline.

    The roofline of a trainer is the GEMM rate over the FLOPs it executes per
    sample: the Numba trainer's (it skips the all-zero input columns) and,
    when PyTorch or JAX ran, the full count they execute. None without an nn
    section.
    """
    metrics = report.get("sections", {}).get("nn", {}).get("metrics", {})
    drawn = [
        (label, style, colour, _series(metrics, prefix, SAMPLES_PER_S))
        for prefix, label, style, colour in TRAINER_SERIES
    ]
    drawn = [series for series in drawn if series[3]]
    if not drawn:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=TRAINERS_FIGSIZE, layout="constrained")
    batches: set[float] = set()
    for label, style, colour, points in drawn:
        ax.plot([p[0] for p in points], [p[1] for p in points], style, color=colour, label=label)
        batches.update(p[0] for p in points)
    gemm = metrics.get("gemm_gflops", {}).get("value")
    rooflines = [("numba_flops_per_sample", "Numba", "-")]
    if any(k.startswith(("torch_b", "jax_b", "jax_scan_b")) for k in metrics):
        rooflines.append(("train_flops_per_sample", "PyTorch and JAX", ":"))
    for key, who, style in rooflines:
        flops = metrics.get(key, {}).get("value")
        if gemm and flops:
            ax.axhline(
                gemm * 1e9 / flops,
                color="grey",
                linestyle=style,
                label=f"GEMM roofline, {who}: {flops:,.0f} FLOPs a sample",
                linewidth=1.0,
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sorted(batches), [f"{b:.0f}" for b in sorted(batches)])
    ax.yaxis.set_major_formatter(_thousands)
    ax.yaxis.set_minor_formatter(_thousands_minor)
    ax.set_xlabel("batch size (samples a step)")
    ax.set_ylabel("training samples/s (both nets)")
    cpu = report.get("machine", {}).get("cpu", "")
    title = f"Training both nets{f' on {cpu}' if cpu else ''}"
    ax.set_title(title + (f"; GEMM rate {gemm:.0f} GFLOP/s" if gemm else ""), fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(fontsize="small", loc="outside lower center", ncol=2)
    path = _save(fig, Path(folder) / "trainers.png")
    plt.close(fig)
    return path


def plot_scaling(report: dict, folder: str | Path) -> list[Path]:
    """The scaling section's curves (time against games, depth, batch size, samples), one PNG each."""
    metrics = report.get("sections", {}).get("scaling", {}).get("metrics", {})
    panels = [(panel, _series(metrics, panel[3], panel[4])) for panel in SCALING_PANELS]
    panels = [(panel, points) for panel, points in panels if points]
    if not panels:
        return []
    plt = _pyplot()
    written = []
    for (name, xlabel, ylabel, _, _, log_x), points in panels:
        fig, ax = plt.subplots(figsize=SCALING_FIGSIZE)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if log_x:
            ax.set_xscale("log")
        fig.tight_layout()
        written.append(_save(fig, Path(folder) / name))
        plt.close(fig)
    return written


def plot_report(report: dict, folder: str | Path) -> list[Path]:
    """Every figure the report has data for, into folder (created); returns the PNG paths written."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    trainers = plot_trainers(report, folder)
    return ([trainers] if trainers is not None else []) + plot_scaling(report, folder)
