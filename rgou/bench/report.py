"""Bench results and targets: the types sections return, the goals checked against them, and the report text.

A section returns a `SectionResult` (warm-up seconds, `Metric`s by key,
notes). `TARGETS` are the performance goals, `section.metric op threshold`;
`evaluate_targets` checks them. `render_text` and `render_markdown` turn the
report dict that `rgou.bench.run` returns (what --json writes) into text.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

from rgou.bench.timing import CONTENDED_CORES

RUST_DEPTH3_DECISION_US = 230.0  # existing Rust engine, this 2-core machine
RUST_DEPTH3_GAMES_PER_S = 30.0
# The PyTorch reference: what an idiomatic PyTorch CPU training step of these two nets reached (samples/s by batch
# size), and its single-position forward pass, on the 2-core machine of the recorded runs when the targets were set.
# They only label the targets: the ratios are measured against this run's own PyTorch column (torch installed).
TORCH_REFERENCE_SAMPLES_PER_S = {32: 19_000, 64: 32_000, 1024: 77_000}
TORCH_REFERENCE_INFERENCE_US = 85.0


@dataclass
class Metric:
    """One measured number."""

    value: float
    unit: str
    label: str


@dataclass
class SectionResult:
    """What a section returns: warm-up seconds, metrics by key (ordered), free-text notes."""

    warmup_s: float = 0.0
    metrics: dict[str, Metric] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, value: float, unit: str, label: str) -> None:
        self.metrics[key] = Metric(float(value), unit, label)


@dataclass(frozen=True)
class Target:
    """A performance goal: `section.metric op threshold`."""

    name: str
    section: str
    metric: str
    op: str  # ">=" or "<"
    threshold: float
    reference: str = ""

    def check(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value < self.threshold


def _torch_reference(batch: int) -> str:
    return f"PyTorch reference ~{TORCH_REFERENCE_SAMPLES_PER_S[batch] / 1000:.0f}k samples/s"


def _near_linear_threshold() -> float:
    # "near-linear" = parallel efficiency >= 85 %, i.e. 1.7x on two cores
    return round(0.85 * max(1, numba.config.NUMBA_NUM_THREADS), 2)


TARGETS = [
    Target(
        "depth-3 decision median < 60 µs",
        "search",
        "depth3_median_us",
        "<",
        60.0,
        f"Rust engine ~{RUST_DEPTH3_DECISION_US:.0f} µs",
    ),
    Target(
        "depth-3 data generation >= 150 games/s (all cores)",
        "selfplay",
        "depth3_games_per_s",
        ">=",
        150.0,
        f"Rust engine ~{RUST_DEPTH3_GAMES_PER_S:.0f} games/s",
    ),
    Target(
        "depth-3 data generation scaling all cores / 1 thread (>= 85% efficiency)",
        "selfplay",
        "depth3_scaling",
        ">=",
        _near_linear_threshold(),
        "linear = number of threads",
    ),
    Target("features batched >= 1,000,000 positions/s", "features", "batch_positions_per_s", ">=", 1e6, ""),
    Target(
        "Numba trainer >= 5x PyTorch samples/s at batch 32",
        "nn",
        "numba_vs_torch_b32",
        ">=",
        5.0,
        _torch_reference(32),
    ),
    Target(
        "Numba trainer >= 5x PyTorch samples/s at batch 64",
        "nn",
        "numba_vs_torch_b64",
        ">=",
        5.0,
        _torch_reference(64),
    ),
    Target(
        "Numba trainer >= 3x PyTorch samples/s at batch 1024",
        "nn",
        "numba_vs_torch_b1024",
        ">=",
        3.0,
        _torch_reference(1024),
    ),
    Target(
        "Numba trainer >= 60% of the GEMM rate at batch >= 256, in the FLOPs it executes",
        "nn",
        "numba_steps_exec_gemm_pct_min_ge256",
        ">=",
        60.0,
        "lowest over batch sizes >= 256; blocks of minibatches a call (steps, as rgou train runs it)",
    ),
    Target(
        "value+policy inference, one position < 10 µs",
        "nn",
        "value_policy_one_us",
        "<",
        10.0,
        f"PyTorch reference ~{TORCH_REFERENCE_INFERENCE_US:.0f} µs",
    ),
    Target("ML agent decision < 30 µs", "nn", "ml_agent_decision_us", "<", 30.0, "MLAgent.choose_move, median"),
    Target(
        "ML agent with close calls searched deeper (ml+) < 30 µs",
        "nn",
        "ml_plus_agent_decision_mean_us",
        "<",
        30.0,
        "mean: a deepened decision takes longer",
    ),
    Target(
        "ML agent with a 2-ply search on the value net (ml-1) < 1 ms",
        "nn",
        "ml1_agent_decision_us",
        "<",
        1000.0,
        "median",
    ),
    Target("perfect agent decision < 5 µs", "search", "perfect_decision_us", "<", 5.0, "choose_move, median"),
    Target(
        "arena: heuristic vs heuristic >= 10,000 games/s",
        "engine",
        "arena_heuristic_games_per_s",
        ">=",
        10_000.0,
        "all cores",
    ),
    Target(
        "standard preset end to end < 60 s (Numba)",
        "train",
        "standard_numba_end_to_end_s",
        "<",
        60.0,
        "generate + train + evaluate",
    ),
    Target(
        "training phase >= 5x the PyTorch step (standard preset)",
        "train",
        "standard_train_vs_torch",
        ">=",
        5.0,
        "samples/s",
    ),
    Target("standard preset peak memory < 1 GB (Numba)", "train", "standard_numba_peak_rss_mb", "<", 1024.0, ""),
    Target(
        "generation on a 2-worker LocalCluster >= 90% of one process on 2 cores",
        "scaling",
        "cluster_2_workers_vs_single",
        ">=",
        0.9,
        "10,000 depth-3 games",
    ),
    Target(
        "training from shards >= 90% of in-memory throughput",
        "memory",
        "shards_vs_memory_throughput",
        ">=",
        0.9,
        "whole run, same data",
    ),
    Target(
        "training from shards: peak memory does not grow with 4x the data (< 1.15x)",
        "memory",
        "shards_memory_growth",
        "<",
        1.15,
        "same shuffle buffer",
    ),
    Target(
        "web: a move of ml+, request end to end (p95) < 50 ms",
        "web",
        "ml_plus_move_ms_p95",
        "<",
        50.0,
        "rgou serve on loopback, a new connection a request",
    ),
    Target(
        "web: a move of perfect, request end to end (p95) < 50 ms",
        "web",
        "perfect_move_ms_p95",
        "<",
        50.0,
        "with a solved table",
    ),
    Target(
        "web: 3 x 1,000 rapid requests, every answer as expected",
        "web",
        "load_unexpected_answers",
        "<",
        1.0,
        "8 clients",
    ),
    Target(
        "web: server memory flat under load (growth < 8 MB over 2,000 requests)",
        "web",
        "load_rss_growth_mb",
        "<",
        8.0,
        "VmRSS after round 1 and round 3",
    ),
]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _optional_versions() -> dict:
    """Versions of the optional libraries (None when not installed) and the device JAX would use."""
    import importlib.metadata as metadata

    out: dict = {}
    for name, dist in (("jax", "jax"), ("torch", "torch"), ("dask", "dask"), ("distributed", "distributed")):
        try:
            out[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[name] = None
    if out["jax"]:
        try:
            from rgou.nn.jax_trainer import jax_device_description

            out["jax_device"] = jax_device_description()
        except Exception as exc:  # a broken JAX install is reported, not fatal
            out["jax_device"] = f"unavailable ({type(exc).__name__})"
    return out


def machine_info() -> dict:
    """CPU, thread counts, library versions and the loaded BLAS (threadpoolctl)."""
    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),  # rgou sets passive unless the environment did
    }
    info.update(_optional_versions())
    try:
        info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:
        info["numba_threading_layer"] = None  # no parallel kernel has run yet
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {
                k: pool.get(k)
                for k in ("user_api", "internal_api", "version", "architecture", "num_threads", "threading_layer")
            }
            | {"library": os.path.basename(pool.get("filepath", ""))}
            for pool in threadpool_info()
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def _fmt(value: float, unit: str) -> str:
    if unit in ("x",):
        return f"{value:.2f}"
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.2f} M"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def _unit(unit: str) -> str:
    """A unit as printed: the report's keys and JSON say "us", people read "µs"."""
    return "µs" if unit == "us" else unit


def _load(sec: dict) -> str:
    v = sec.get("other_load_cores")
    return "n/a" if v is None else f"{v:.2f}"


def _contended(target: dict) -> str:
    v = target.get("other_load_cores")
    return f"  [contended: {v:.2f} cores used by others]" if v is not None and v > CONTENDED_CORES else ""


def evaluate_targets(sections: dict[str, SectionResult]) -> list[dict]:
    """One row per target whose metric was measured: its value and PASS or MISS."""
    rows = []
    for t in TARGETS:
        sec = sections.get(t.section)
        if sec is None or t.metric not in sec.metrics:
            continue
        m = sec.metrics[t.metric]
        rows.append(
            {
                "name": t.name,
                "section": t.section,
                "metric": t.metric,
                "op": t.op,
                "threshold": t.threshold,
                "value": m.value,
                "unit": m.unit,
                "status": "PASS" if t.check(m.value) else "MISS",
                "reference": t.reference,
            }
        )
    return rows


def _machine_lines(machine: dict) -> list[tuple[str, str]]:
    rows = [
        ("cpu", f"{machine['cpu']}"),
        (
            "cores",
            f"{machine['cores']} (affinity {machine['affinity_cores']}), numba threads "
            f"{machine['numba_threads']}, threading layer {machine['numba_threading_layer']} "
            f"(OMP_WAIT_POLICY {machine.get('OMP_WAIT_POLICY')})",
        ),
        (
            "versions",
            f"python {machine['python']}, numpy {machine['numpy']}, numba {machine['numba']}"
            + "".join(f", {k} {machine.get(k)}" for k in ("jax", "torch", "dask") if machine.get(k)),
        ),
        ("jax device", str(machine.get("jax_device", "jax not installed"))),
        ("OPENBLAS_CORETYPE", str(machine["OPENBLAS_CORETYPE"]) if machine["OPENBLAS_CORETYPE"] else "(not set)"),
    ]
    blas = machine["blas"]
    if isinstance(blas, str):
        rows.append(("blas", blas))
    else:
        for pool in blas:
            rows.append(
                (
                    "blas",
                    f"{pool['internal_api']} {pool['version']} ({pool['user_api']}), "
                    f"coretype {pool['architecture']}, {pool['num_threads']} threads, {pool['library']}",
                )
            )
    return rows


def render_text(report: dict) -> str:
    lines = [f"rgou bench  {report['date']}  {'quick' if report['quick'] else 'full'} run", ""]
    mrows = _machine_lines(report["machine"])
    w = max(len(k) for k, _ in mrows)
    lines += [f"{k:<{w}}  {v}" for k, v in mrows]
    pos = report["positions"]
    lines.append(
        f"{'positions':<{w}}  {pos['count']} from {pos['games']} seeded depth-1 self-play games "
        f"({pos['seconds']:.2f} s incl. first generate() warm-up)"
    )
    for name, sec in report["sections"].items():
        lines += [
            "",
            f"[{name}]  warm-up (JIT compile or cache load) {sec['warmup_s']:.2f} s, "
            f"section {sec['seconds']:.1f} s, other processes {_load(sec)} cores",
        ]
        rows = [(m["label"], _fmt(m["value"], m["unit"]), _unit(m["unit"])) for m in sec["metrics"].values()]
        wl = max(len(r[0]) for r in rows)
        wv = max(len(r[1]) for r in rows)
        lines += [f"  {a:<{wl}}  {b:>{wv}}  {c}" for a, b, c in rows]
        lines += [f"  note: {n}" for n in sec["notes"]]
    if report["targets"]:
        lines += ["", "[targets]"]
        wn = max(len(t["name"]) for t in report["targets"])
        for t in report["targets"]:
            lines.append(
                f"  {t['name']:<{wn}}  {_fmt(t['value'], t['unit']):>10} {_unit(t['unit']):<8} {t['status']}"
                + (f"  ({t['reference']})" if t["reference"] else "")
                + _contended(t)
            )
    lines.append("")
    lines.append(f"total {report['seconds']:.1f} s")
    return "\n".join(lines) + "\n"


def render_markdown(report: dict) -> str:
    out = [
        f"# rgou bench, {report['date']} ({'quick' if report['quick'] else 'full'} run)",
        "",
        f"Command: `python -m rgou.bench {' '.join(report['argv'])}`",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {k} | {v} |" for k, v in _machine_lines(report["machine"])]
    if report["targets"]:
        out += ["", "## Targets", "", "| target | measured | status | reference |", "|---|---:|---|---|"]
        for t in report["targets"]:
            out.append(
                f"| {t['name']} | {_fmt(t['value'], t['unit'])} {_unit(t['unit'])} | {t['status']}{_contended(t)} "
                f"| {t['reference']} |"
            )
    for name, sec in report["sections"].items():
        out += [
            "",
            f"## {name}",
            "",
            f"Warm-up (JIT compile or cache load): {sec['warmup_s']:.2f} s; section wall time "
            f"{sec['seconds']:.1f} s; CPU used by other processes meanwhile: {_load(sec)} cores.",
            "",
            "| metric | value | unit | key |",
            "|---|---:|---|---|",
        ]
        for key, m in sec["metrics"].items():
            out.append(f"| {m['label'].strip()} | {_fmt(m['value'], m['unit'])} | {_unit(m['unit'])} | `{key}` |")
        if sec["notes"]:
            out.append("")
            out += [f"- {n}" for n in sec["notes"]]
    return "\n".join(out) + "\n"
