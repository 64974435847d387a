"""Sweeps of one group of the 7-piece game, two or more versions of the solver side by side in one process.

    git show 1627961:rgou/solve/solver.py > /tmp/solver_before.py
    python benchmarks/experiments/sweep_versions.py /tmp/solver_before.py rgou/solve/sweep.py [--threads 1]

The files hold the `sweep` kernel: rgou/solve/solver.py before 2026-12-07, rgou/solve/sweep.py since (the solver's
driver stayed in solver.py). Each file is loaded as a module of its own (it imports the installed rgou's index and
rules). From the solved values of the group ({1, 0} unless --group says otherwise; the table from `rgou solve
--pieces 7` in the cache folder), each version records its best moves with one full sweep, then the versions'
following sweeps alternate, their order reversed every round. Prints each version's ns a position per sweep and
their median, and whether all versions left the same values. No unit is skipped as settled. --sweep full times full
sweeps instead, with no drift since the last: each position follows its recorded moves where its margin allows, as
in a group's last full sweeps; --sweep generating times full sweeps that generate every position's moves, as in a
group's first full sweeps.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from rgou.solve import units as units_module
from rgou.solve.index import group_range
from rgou.solve.table import default_table_path, load_table


def load(path: str, k: int, folder: Path):
    """Load a solver file as module solver_version_k from a copy in `folder`.

    A copy, so that Numba caches its kernels beside the copy: cached under the
    original's path they would name this module, and the original's next import
    would find them.
    """
    copy = folder / f"solver_version_{k}.py"
    shutil.copyfile(path, copy)
    spec = importlib.util.spec_from_file_location(copy.stem, copy)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("solvers", nargs="+", help="files of the sweep kernel (solver.py before 2026-12-07)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--group", type=int, nargs=2, default=(1, 0), metavar=("HI", "LO"))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--sweep", choices=("following", "full", "generating"), default="following")
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="sweep_versions-") as folder:
        compare(args, Path(folder))


def compare(args: argparse.Namespace, folder: Path) -> None:
    n, (hi, lo) = 7, args.group
    table = np.array(load_table(default_table_path(7), n_pieces=n, verify=False).values)
    start, stop = group_range(n, hi, lo)
    runs = []
    for k, path in enumerate(args.solvers):
        s = load(path, k, folder)
        if not hasattr(s, "sweep_unit"):  # the driver since the split
            raise SystemExit(f"{path} holds no sweep kernel: since 2026-12-07 it is rgou/solve/sweep.py")
        units, level_start, level_value = getattr(s, "group_units", units_module.group_units)(n, hi, lo)
        levels = int(level_value.max()) + 1
        work = table[start:stop].astype(np.float64)
        sweep = [n, hi, lo, units, level_start, level_value, table, work, start]
        sweep += [np.full(4 * (stop - start), s.NO_MOVE, dtype=np.int32), True, np.full(units.size, np.inf), 0.0]
        sweep += [np.full(stop - start, s.NO_MARGIN, dtype=np.uint16), np.full(levels, np.inf)]
        sweep += [np.zeros(level_value.size)]
        if hasattr(s, "unit_drift_bound"):  # the drift bound by unit (2026-12-06 on)
            sweep += [units_module.unit_map(hi, lo, units), np.zeros(units.size)]
        s.sweep(*sweep)  # records the best moves (every position's generated)
        if args.sweep != "generating":  # then follow them (or sweep in full, with no drift)
            sweep[10], sweep[14] = args.sweep == "full", np.zeros(levels)
        runs.append((Path(path).name, s, sweep, []))
    for r in range(args.rounds):
        for _, s, sweep, times in runs if r % 2 == 0 else runs[::-1]:
            began = time.perf_counter()
            s.sweep(*sweep)
            times.append((time.perf_counter() - began) / (stop - start) * 1e9)
    for name, _, _, times in runs:
        print(
            f"{name}: {args.sweep} sweep, ns a position {[round(t, 1) for t in times]}, median {np.median(times):.1f}"
        )
    same = all(np.array_equal(runs[0][2][7], other[2][7]) for other in runs[1:])
    print(f"group {hi, lo}, {stop - start:,} positions, {args.threads} thread(s); the same values: {same}")


if __name__ == "__main__":
    main()
