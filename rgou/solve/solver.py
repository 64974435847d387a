"""The exact solver: value iteration over the N-piece game, group by group.

Order of the solve:

* Groups. Finished counts never decrease, so positions are grouped by the
  unordered pair {fm, fo} and groups are solved by finished total
  descending (`index.solve_order`): a bear-off leads to a group that is
  already final; every other move stays in the group. Each finished group
  is checkpointed (`rgou.solve.checkpoint`), so a solve resumes.
* Sweeps (`rgou.solve.sweep`: the units, the pass pairs, the two kinds of
  sweep). A group alternates one full sweep with a run of following sweeps
  and is final when a full sweep changes no value by the tolerance or
  more. The following sweeps skip the units that have settled (their last
  change was below SETTLED_SHARE of the tolerance); the full sweeps visit
  every unit, so skipping never changes the test of convergence, only how
  many sweeps reach it.

The group being solved is kept in float64; finished groups are stored as
float32.
"""

from __future__ import annotations

import functools
import numbers
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from rgou._numba import numba_threads, warm_up
from rgou._validate import check_callback, check_int
from rgou.rules import RULE_SETS, RuleSet, rule_set
from rgou.solve.checkpoint import checkpoint_dir, load_group, save_group
from rgou.solve.index import group_range, position_count, solve_order
from rgou.solve.rules import MAX_PIECES, NUM_MOVE_ROLLS, RULES, RULES_NAME
from rgou.solve.rules import derived_constants as derived_constants  # `specialise` sets RULES, ... from it
from rgou.solve.sweep import KIND_SHIFT, NO_MARGIN, NO_MOVE, sweep
from rgou.solve.table import Table, check_table_path, save_table
from rgou.solve.units import group_units, unit_map
from rgou.specialise import specialise

DEFAULT_TOLERANCE = 1e-7
MIN_TOLERANCE, MAX_TOLERANCE = 1e-12, 0.5
INITIAL_VALUE = 0.5
EVAL_GAIN = 0.1  # follow the recorded moves until the change drops 10x below the last full sweep's
EVAL_FINAL = 0.25  # ... or below a quarter of the tolerance
MAX_EVAL_SWEEPS = 20
SETTLED_SHARE = 0.003  # following sweeps skip units whose last change was below this times the tolerance
MAX_SETTLED_EVAL_SWEEPS = 200
MAX_FULL_SWEEPS = 1000
FULL_SWEEP_MARGINS = True  # full sweeps follow the positions whose best moves cannot have changed


@dataclass(frozen=True)
class SolveProgress:
    """What `solve` reports to its `progress` callback, after every sweep and when a group is done.

    group: the finished counts (hi, lo) of the group; group_number is
    1-based out of group_count. sweep: sweeps of this group so far; full:
    whether the last sweep was a full Bellman sweep (else it followed the
    recorded best moves); change: the largest change of that sweep. done:
    the group is final (converged, or resumed from a checkpoint when
    resumed is True). positions_done counts the positions of final groups.
    """

    n_pieces: int
    group: tuple[int, int]
    group_number: int
    group_count: int
    group_positions: int
    sweep: int
    full: bool
    change: float
    done: bool
    resumed: bool
    positions_done: int
    positions_total: int
    elapsed: float


def _sweep_drift(drift: np.ndarray) -> np.ndarray:
    """drift_from[l]: how far the values of unit levels l and above moved since the last full sweep began.

    drift[l]: the largest changes of level l in every sweep since, summed.
    With FULL_SWEEP_MARGINS off, inf everywhere: generate every move.
    """
    if not FULL_SWEEP_MARGINS:
        return np.full_like(drift, np.inf)
    return np.maximum.accumulate(drift[::-1])[::-1].copy()


def solve_group(
    n: int,
    hi: int,
    lo: int,
    table: np.ndarray,
    tolerance: float,
    report: Callable[[int, bool, float], None] | None = None,
) -> dict:
    """Solve group {hi, lo} into table[group_range(n, hi, lo)]; later groups must be final.

    Sweeps until a full sweep changes no value by `tolerance` or more.
    Between full sweeps, cheaper sweeps follow the recorded best moves until
    they change values by less than EVAL_GAIN times the last full change (or
    a quarter of the tolerance), at most MAX_EVAL_SWEEPS in a row. Once a
    full sweep changes values no more than the following sweeps before it
    did (its new best moves made no difference), they go on down to a
    quarter of the tolerance. The following sweeps skip the units that
    changed by less than SETTLED_SHARE times the tolerance when last swept
    (0: skip none); the full sweeps, and so the test of convergence, visit all.

    report(sweep, full, change) is called after every sweep. Returns the
    group's statistics (a JSON-friendly dict).
    """
    start_time = time.perf_counter()
    start, stop = group_range(n, hi, lo)
    units, level_start, level_value = group_units(n, hi, lo)
    policy = np.full(NUM_MOVE_ROLLS * (stop - start), NO_MOVE, dtype=np.int32)  # nothing to prefetch yet
    margin = np.full(stop - start, NO_MARGIN, dtype=np.uint16)
    work = np.full(stop - start, INITIAL_VALUE, dtype=np.float64)
    unit_change = np.full(units.shape[0], np.inf)
    settled = tolerance * SETTLED_SHARE
    sweeps = full_sweeps = generated = 0
    # drift[l]: the largest changes of unit level l in the sweeps since the last full sweep began, summed
    drift = np.zeros(int(level_value.max()) + 1 if level_value.size else 1)
    level_change = np.zeros(level_value.shape[0])
    unit_of = unit_map(hi, lo, units)
    # unit_drift[k]: unit k's changes in the sweeps since the last full sweep began, summed (inf: none bounded)
    unit_drift = np.full(units.shape[0], 0.0 if FULL_SWEEP_MARGINS else np.inf)

    def run(full: bool) -> float:
        nonlocal sweeps, full_sweeps, generated
        drift_from = _sweep_drift(drift)
        visited = unit_change >= settled  # the units a following sweep visits (a full sweep visits all)
        args = (n, hi, lo, units, level_start, level_value, table, work, start, policy, full, unit_change, settled)
        change, count = sweep(*args, margin, drift_from, level_change, unit_of, unit_drift)
        change = float(change)
        if full:
            drift[:] = 0.0
            unit_drift[:] = 0.0 if FULL_SWEEP_MARGINS else np.inf
            visited[:] = True
        drift[level_value] += level_change
        unit_drift[visited] += unit_change[visited]
        sweeps += 1
        full_sweeps += full
        generated += int(count)
        if report is not None:
            report(sweeps, full, change)
        return change

    def follow(target: float, limit: int) -> float:
        """Sweeps along the recorded moves until one changes less than target (at most limit); its change."""
        for _ in range(limit):
            change = run(False)
            if change < target:
                break
        return change

    change = run(True)
    followed = None  # the last change of the sweeps that followed the recorded moves
    while change >= tolerance:
        if full_sweeps >= MAX_FULL_SWEEPS:
            raise RuntimeError(
                f"group {(hi, lo)} of the {n}-piece game did not converge to tolerance {tolerance} in "
                f"{MAX_FULL_SWEEPS} full sweeps (last change {change:.3g}); use a larger tolerance"
            )
        if followed is not None and change <= followed:
            # New best moves changed nothing that matters: follow them down to the tolerance.
            followed = follow(tolerance * EVAL_FINAL, MAX_SETTLED_EVAL_SWEEPS)
        else:
            followed = follow(max(change * EVAL_GAIN, tolerance * EVAL_FINAL), MAX_EVAL_SWEEPS)
        change = run(True)
    table[start:stop] = work
    return {
        "group": [hi, lo],
        "positions": int(stop - start),
        "sweeps": sweeps,
        "full_sweeps": full_sweeps,
        "generated": generated,
        "residual": change,
        "seconds": round(time.perf_counter() - start_time, 3),
    }


def solve(
    n_pieces: int,
    tolerance: float = DEFAULT_TOLERANCE,
    out: str | os.PathLike | None = None,
    progress: Callable[[SolveProgress], None] | None = None,
    threads: int | None = None,
    rules: str | RuleSet | None = None,
) -> Table:
    """Solve the N-piece game of `rules` exactly: every position's probability that the player to move wins.

    tolerance: each group is swept until a full sweep changes no value by
        this much or more (the values are then within a few tolerances of
        the exact ones).
    out: the table file to write (atomically) when done. While solving,
        every finished group is checkpointed in the folder `<out>.partial`
        beside it; a new call with the same out, n_pieces and tolerance
        resumes from there and gives the same table bit for bit. The folder
        is removed once the table is written. None: solve in memory only.
    progress: called with a SolveProgress after every sweep and group; an
        exception it raises stops the solve (finished groups stay
        checkpointed).
    threads: Numba threads to use (default: Numba's current setting). The
        result does not depend on it.
    rules: a built-in rule set or its name (`rgou.rules.RULE_SETS`; None:
        Finkel); the kernels are compiled for it.
    """
    rules = _solved_rules(rules)
    if rules != RULES:
        return specialise(__name__, rules).solve(n_pieces, tolerance, out, progress, threads, rules)
    n = check_int("n_pieces", n_pieces, 1, MAX_PIECES)
    if position_count(n, rules) >= 1 << KIND_SHIFT:
        raise ValueError(
            f"n_pieces: the {n}-piece {rules.name} game has {position_count(n, rules):,} positions, "
            f"more than the solver indexes ({1 << KIND_SHIFT:,})"
        )
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, numbers.Real)
        or not (MIN_TOLERANCE <= tolerance <= MAX_TOLERANCE)
    ):
        raise ValueError(f"tolerance must be a number in [{MIN_TOLERANCE}, {MAX_TOLERANCE}], got {tolerance!r}")
    tolerance = float(tolerance)
    if threads is not None:
        threads = check_int("threads", threads, 1, numba.config.NUMBA_NUM_THREADS)
    check_callback("progress", progress)
    out = None if out is None else check_table_path(out)
    folder = None if out is None else checkpoint_dir(out)

    with numba_threads(threads):
        table, stats = _solve_groups(n, tolerance, folder, progress)
    result = Table(
        rules=RULES_NAME,
        n_pieces=n,
        values=table,
        tolerance=tolerance,
        residual=max(s["residual"] for s in stats),
        path=out,
        groups=tuple(stats),
    )
    if out is not None:
        from rgou._io import deferred_interrupts

        try:
            with deferred_interrupts():  # the table, then its checkpoint folder gone: never beside half a folder
                save_table(result, out)
                shutil.rmtree(folder, ignore_errors=True)
        except KeyboardInterrupt:
            raise InterruptedAfterWriting(out) from None
    return result


class InterruptedAfterWriting(KeyboardInterrupt):
    """A Ctrl-C or SIGTERM that came while `solve` wrote its table: the table at `path` is whole, its
    checkpoint folder gone (both happen with signals held), so a caller need not solve again."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"the table is written whole: {path}")
        self.path = path


def warm_up_solver(rules: str | RuleSet | None = None, message: Callable[[str], None] | None = None) -> float:
    """Load or compile the solver's kernels for `rules` (None: Finkel) by solving the 1-piece game; its seconds.

    A first run compiles them in a separate process that fills Numba's cache
    (`rgou._numba.warm_up`): a process that compiles keeps about 120 MB of
    the compiler's records for its whole life, which a long solve would
    carry. `rgou solve` and `rgou train` call it before they solve; from
    Python, call it before `solve` for the same peak memory. message:
    called with a line to show when it compiles.
    """
    rules = _solved_rules(rules)
    child = (f"{__name__}:_warm_solver_child", rules.name)
    return warm_up(lambda: _warm_solver_child(rules.name), message, child=child)


def _solved_rules(rules: str | RuleSet | None) -> RuleSet:
    """The rule set `rules` names (None: Finkel), refused unless it is built in."""
    rules = RULES if rules is None else rule_set(rules, "rules")
    if rules.name not in RULE_SETS:
        raise ValueError(f"rules: only the built-in rule sets are solved ({', '.join(RULE_SETS)}), not {rules.name!r}")
    return rules


def _warm_solver_child(rules: str) -> None:
    """Solve the 1-piece game of the rule set named `rules` in memory: every kernel of a solve, compiled or loaded."""
    specialise(__name__, rules)._solve_groups(1, DEFAULT_TOLERANCE, None, None)


def _solve_groups(n: int, tolerance: float, folder: Path | None, progress) -> tuple[np.ndarray, list]:
    """Solve (or load from checkpoints) every group in order; (float32 table, per-group statistics)."""
    order = solve_order(n)
    total = position_count(n)
    table = np.zeros(total, dtype=np.float32)
    stats = []
    done = 0
    settings = {"rules": RULES_NAME, "n_pieces": n, "tolerance": tolerance}  # what a resume must match
    clock = time.perf_counter()
    for number, (hi, lo) in enumerate(order, 1):
        start, stop = group_range(n, hi, lo)
        fields = dict(
            n_pieces=n,
            group=(hi, lo),
            group_number=number,
            group_count=len(order),
            group_positions=stop - start,
            positions_total=total,
        )
        group_stats = None
        if folder is not None:
            group_stats = load_group(folder, settings, hi, lo, table[start:stop])
        resumed = group_stats is not None
        if not resumed:
            report = None if progress is None else functools.partial(_report, progress, fields, clock, done)
            group_stats = solve_group(n, hi, lo, table, tolerance, report)
            if folder is not None:
                save_group(folder, settings, hi, lo, start, table[start:stop], group_stats)
        stats.append(group_stats)
        done += stop - start
        if progress is not None:
            _report(progress, fields, clock, done, group_stats["sweeps"], True, group_stats["residual"], True, resumed)
    return table, stats


def _report(progress, fields, clock, positions_done, sweep_count, full, change, done=False, resumed=False) -> None:
    progress(
        SolveProgress(
            **fields,
            sweep=sweep_count,
            full=full,
            change=change,
            done=done,
            resumed=resumed,
            positions_done=positions_done,
            elapsed=time.perf_counter() - clock,
        )
    )
