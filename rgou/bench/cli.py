"""`python -m rgou.bench`: throughput and latency of the engine, features, search, self-play and the nets.

Sections are plain functions in the `SECTIONS` registry (name -> function);
each takes the shared `BenchContext` and returns a `SectionResult`. `run`
returns the report dict (what --json writes); `main` is the one place that
prints and writes files.

Usage::

    python -m rgou.bench                       # all sections
    python -m rgou.bench --quick               # short smoke run
    python -m rgou.bench --only search,selfplay --json out.json --markdown out.md
    python -m rgou.bench --only nn,scaling --plot curves/   # figures (needs matplotlib)
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rgou._io import check_outputs, check_writable_folder, write_together
from rgou.bench.engine import bench_engine, bench_features, bench_search, bench_selfplay
from rgou.bench.nn import bench_nn
from rgou.bench.plots import PLOT_INSTALL, plot_report
from rgou.bench.report import SectionResult, evaluate_targets, machine_info, render_markdown, render_text
from rgou.bench.rules import bench_rules
from rgou.bench.scale import bench_memory, bench_scaling
from rgou.bench.timing import BENCH_SEED, CONTENDED_CORES, BenchContext, LoadMeter
from rgou.bench.train import bench_train
from rgou.bench.web import bench_web
from rgou.cli import EXIT_BAD_INPUT

SECTIONS: dict[str, Callable[[BenchContext], SectionResult]] = {
    "engine": bench_engine,
    "features": bench_features,
    "search": bench_search,
    "selfplay": bench_selfplay,
    "rules": bench_rules,
    "nn": bench_nn,
    "train": bench_train,
    "memory": bench_memory,
    "scaling": bench_scaling,
    "web": bench_web,
}


def run(names: list[str], ctx: BenchContext) -> dict:
    """Run the named sections; return the report dict (what --json writes)."""
    start = time.perf_counter()
    results: dict[str, SectionResult] = {}
    seconds: dict[str, float] = {}
    other: dict[str, float | None] = {}
    for name in names:
        ctx.log(f"running {name} ...")
        with LoadMeter() as meter:
            results[name] = SECTIONS[name](ctx)
        seconds[name] = meter.seconds
        other[name] = meter.other_cores
        if meter.other_cores is not None and meter.other_cores > CONTENDED_CORES:
            results[name].notes.append(
                f"CONTENDED: other processes used {meter.other_cores:.2f} cores during "
                "this section; multi-thread numbers and ratios are unreliable"
            )
    return {
        "schema": 1,
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "argv": [],
        "quick": ctx.quick,
        "seed": ctx.seed,
        "machine": machine_info(),
        "positions": {
            "count": 0 if ctx._pool is None else len(ctx._pool),
            "games": ctx._games,
            "seconds": ctx.pool_seconds,
            "source": "rgou.selfplay.generate(depth=1, seed, max_plies=200)",
        },
        "sections": {
            name: {
                "warmup_s": r.warmup_s,
                "seconds": seconds[name],
                "other_load_cores": other[name],
                "metrics": {k: {"value": m.value, "unit": m.unit, "label": m.label} for k, m in r.metrics.items()},
                "notes": r.notes,
            }
            for name, r in results.items()
        },
        "targets": [t | {"other_load_cores": other[t["section"]]} for t in evaluate_targets(results)],
        "seconds": time.perf_counter() - start,
    }


def _parse_only(text: str | None) -> list[str]:
    if not text:
        return list(SECTIONS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise SystemExit(f"rgou.bench: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return names


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m rgou.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="NAME[,NAME]", help=f"sections to run (default all: {', '.join(SECTIONS)})")
    parser.add_argument("--quick", action="store_true", help="short smoke run (small sizes, one repeat)")
    parser.add_argument("--repeats", type=int, default=None, help="override the number of timed repeats")
    parser.add_argument("--seed", type=int, default=BENCH_SEED, help="seed of the self-play positions and games")
    parser.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="write the report as a Markdown table")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--plot",
        metavar="DIR",
        help="draw figures into DIR: the trainers' samples/s against batch size with the GEMM roofline (nn) "
        f"and the scaling curves (scaling); needs matplotlib: {PLOT_INSTALL}",
    )
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    names = _parse_only(args.only)
    try:  # before a run of minutes: same file twice, a special file, a folder that cannot be written
        check_outputs({"--json": args.json, "--markdown": args.markdown}, force=True)
    except ValueError as e:
        parser.error(str(e))
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # before the run, not after it
        parser.error(f"--plot needs matplotlib, which is not installed: {PLOT_INSTALL} (or run without --plot)")
    if args.plot:
        if Path(args.plot).exists() and not Path(args.plot).is_dir():
            parser.error(f"--plot {args.plot} is a file; give a folder for the figures")
        try:
            check_writable_folder(args.plot, "--plot")
        except ValueError as e:
            parser.error(str(e))
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    ctx = BenchContext(quick=args.quick, seed=args.seed, repeats=args.repeats, log=log)
    report = run(names, ctx)
    report["argv"] = list(sys.argv[1:] if argv is None else argv)
    sys.stdout.write(render_text(report))
    files = {args.json: json.dumps(report, indent=2) + "\n", args.markdown: render_markdown(report)}
    try:
        write_together({path: text for path, text in files.items() if path})  # both or neither
        written = plot_report(report, args.plot) if args.plot else []
    except OSError as e:  # a full disk after a run of minutes: the report above is on stdout
        print(f"python -m rgou.bench: error: {e}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None
    if args.plot:
        for path in written:
            log(f"wrote {path}")
        if not written:
            log("--plot: no figure written (the figures come from the nn and scaling sections)")
    return report
