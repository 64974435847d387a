"""Time `rgou.solve.solve(N)` for the working tree and a git revision side by side.

Each round solves the N-piece game once with the revision (checked out into a
temporary git worktree, imported through PYTHONPATH) and once with the working
tree, alternating which goes first, so both see the same machine. Each run is a
fresh process that first solves the 2-piece game (compiling or loading the
kernels), then times the N-piece solve: wall time, CPU time, sweeps per
position, and the largest difference between the two versions' values.

    python benchmarks/solve_versions.py --base 95fcd14 --pieces 5 --rounds 3
    python benchmarks/solve_versions.py --base 95fcd14 --pieces 7 --rounds 1 --first new   # the other order
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
import numpy as np
from rgou.solve import solve
solve(2)
wall, cpu = time.perf_counter(), time.process_time()
table = solve({pieces})
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
np.save({values!r}, table.values)
positions = table.values.size
print(json.dumps({{
    "wall_s": wall,
    "cpu_s": cpu,
    "sweeps_per_position": sum(g["sweeps"] * g["positions"] for g in table.groups) / positions,
    "full_sweeps_per_position": sum(g["full_sweeps"] * g["positions"] for g in table.groups) / positions,
    "residual": table.residual,
}}))
"""


def run(source: Path, pieces: int, values: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(source))
    code = CHILD.format(pieces=pieces, values=str(values))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=source, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--pieces", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--first", choices=("base", "new"), default="base", help="which runs first in round 1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        worktree = tmp / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.base], cwd=ROOT, check=True)
        try:
            results: dict[str, list[dict]] = {"base": [], "new": []}
            for r in range(args.rounds):
                order = [("base", worktree), ("new", ROOT)]
                order = order if args.first == "base" else order[::-1]
                for name, source in order if r % 2 == 0 else order[::-1]:
                    result = run(source, args.pieces, tmp / f"{name}.npy")
                    results[name].append(result)
                    print(f"round {r + 1} {name}: {result}", flush=True)
            import numpy as np

            diff = np.abs(np.load(tmp / "base.npy").astype(np.float64) - np.load(tmp / "new.npy")).max()
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=True)
    print(f"\n{args.pieces}-piece solve, median of {args.rounds} rounds (base {args.base} / working tree)\n")
    print("| metric | base | new | base / new |")
    print("|---|---:|---:|---:|")
    for key in ("wall_s", "cpu_s", "sweeps_per_position", "full_sweeps_per_position"):
        old = statistics.median(x[key] for x in results["base"])
        new = statistics.median(x[key] for x in results["new"])
        print(f"| {key} | {old:.2f} | {new:.2f} | {old / new:.2f} |")
    print(f"\nlargest difference between the two tables' values: {diff:.2e}")


if __name__ == "__main__":
    main()
