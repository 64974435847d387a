"""Where a solve's time goes, sweep by sweep; and how much better starting values would save.

    python benchmarks/experiments/solve_phases.py                   # the 7-piece solve, about 3 to 5 minutes
    python benchmarks/experiments/solve_phases.py --start --pieces 5

The first form solves the game with the installed solver into a temporary file, timing every sweep (the time
between two progress reports, so a group's first sweep includes setting the group up). It prints the wall time
of the full and the following sweeps, then for each group of a million positions or more its sweeps and the
wall time a position of one full and of one following sweep, and for the three largest groups every full
sweep's wall time a position and largest change.

--start loads a copy of the solver whose groups start from given values instead of INITIAL_VALUE (the way
sweep_versions.py loads versions) and solves from the exact values plus Gaussian noise of a few sizes: the
sweeps, full sweeps and positions whose moves were generated, each per position, against the solve from
INITIAL_VALUE.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from rgou.solve import solver, warm_up_solver

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep_versions import load

START_LINE = "    work = np.full(stop - start, INITIAL_VALUE, dtype=np.float64)\n"
NOISE = (0.0, 0.01, 0.05, 0.1, 0.2)


def phases(n: int) -> None:
    """Solve n pieces, timing each sweep; print the split between full and following sweeps."""
    warm_up_solver(message=print)
    rows = []
    last = [time.perf_counter()]

    def timed(p) -> None:
        now = time.perf_counter()
        rows.append((p.group, p.group_positions, p.full, p.change, p.done, now - last[0]))
        last[0] = now

    with tempfile.TemporaryDirectory(prefix="solve_phases-") as folder:
        start = time.perf_counter()
        solver.solve(n, out=Path(folder) / "table", progress=timed)
        wall = time.perf_counter() - start
    full = sum(dt for _, _, f, _, done, dt in rows if f and not done)
    following = sum(dt for _, _, f, _, done, dt in rows if not f and not done)
    print(f"solve {wall:.1f} s: full sweeps {full:.1f} s ({100 * full / wall:.0f}%), following {following:.1f} s")
    groups: dict = defaultdict(lambda: {"full": [], "following": [], "positions": 0})
    for group, positions, f, change, done, dt in rows:
        if not done:
            groups[group]["full" if f else "following"].append((dt, change))
            groups[group]["positions"] = positions
    print("\n| group | positions | sweeps | full | ns a position, full sweep | ns a position, following sweep |")
    print("|---|---:|---:|---:|---:|---:|")
    for group, g in groups.items():
        p = g["positions"]
        if p < 1_000_000:
            continue
        f, o = g["full"], g["following"]
        ns_full = 1e9 * sum(dt for dt, _ in f) / len(f) / p
        ns_following = 1e9 * sum(dt for dt, _ in o) / max(1, len(o)) / p
        print(f"| {group} | {p:,} | {len(f) + len(o)} | {len(f)} | {ns_full:.0f} | {ns_following:.1f} |")
    print("\nfull sweeps of the largest groups: ns a position / largest change")
    for group, g in sorted(groups.items(), key=lambda kv: -kv[1]["positions"])[:3]:
        sweeps = " ".join(f"{1e9 * dt / g['positions']:.0f}/{change:.1e}" for dt, change in g["full"])
        print(f"{group}: {sweeps}")


def starts(n: int) -> None:
    """Solve n pieces from the exact values plus noise, with a copy of the solver that takes its start."""
    source = inspect.getsource(solver)
    if START_LINE not in source:
        raise SystemExit("the solver no longer starts a group with " + START_LINE.strip())
    source = source.replace(START_LINE, START_LINE + "    if START is not None:\n        work[:] = START[start:stop]\n")
    with tempfile.TemporaryDirectory(prefix="solve_phases-") as folder:
        patched = Path(folder) / "patched.py"
        patched.write_text(source + "\nSTART = None\n")
        module = load(str(patched), 0, Path(folder))
        exact = module.solve(n).values.astype(np.float64)
        rng = np.random.default_rng(0)
        print("| start | sweeps | full sweeps | generated | largest difference from the solve from 0.5 |")
        print("|---|---:|---:|---:|---:|")
        for noise in (None, *NOISE):
            module.START = None if noise is None else np.clip(exact + rng.normal(0.0, noise, exact.shape), 0.0, 1.0)
            table = module.solve(n)
            count = len(table.values)
            sweeps = sum(g["sweeps"] * g["positions"] for g in table.groups) / count
            full = sum(g["full_sweeps"] * g["positions"] for g in table.groups) / count
            generated = sum(g["generated"] for g in table.groups) / count  # a count of positions, not per position
            name = f"{solver.INITIAL_VALUE}" if noise is None else f"exact + N(0, {noise})"
            largest = np.abs(table.values - exact).max()
            print(f"| {name} | {sweeps:.2f} | {full:.2f} | {generated:.2f} | {largest:.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=None, help="default: 7, or 5 with --start")
    parser.add_argument("--start", action="store_true", help="solve from the exact values plus noise")
    args = parser.parse_args()
    if args.start:
        starts(args.pieces or 5)
    else:
        phases(args.pieces or 7)


if __name__ == "__main__":
    main()
