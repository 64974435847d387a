"""How many positions of each full sweep could follow their recorded moves under tighter drift bounds.

    python benchmarks/experiments/drift_bounds.py --pieces 5 --group 1 0

Solves the game and, before each full sweep of the group, counts the positions whose margin exceeds:

- exact: the largest change since the last full sweep began of any value its moves read (generating them);
- successor units: the largest such change over the units (with their colour swaps) those values lie in;
- unit union: the same over the successors of every position of the position's unit.

All three leave out the changes the sweep itself makes, so they are optimistic. The solver's own bound (the
changes of the unit levels a position's moves can reach) is what the sweep reports as generated.
"""

from __future__ import annotations

import argparse

import numba
import numpy as np

import rgou.solve.solver
import rgou.solve.sweep as S
from rgou.solve import solve
from rgou.solve.index import decode, encode
from rgou.solve.rules import BORE_OFF, LOWEST_BIT, ROLLS_AGAIN, landing_mask, movable, move_outcome, popcount


@numba.njit
def unit_of_positions(n, fm, fo, units, group_start, size):
    """int64[size]: the unit (index into units) each group-local position is swept with."""
    unit_of = np.full(size, -1, np.int64)
    for k in range(units.shape[0]):
        lane_m, lane_o, ends_m, ends_o, pieces = S.unit_fields(units[k])
        block, _, _, first, stop = S.unit_span(n, fm, fo, lane_m, lane_o, ends_m, ends_o, pieces, group_start)
        twin, _, _, twin_first, twin_stop = S.unit_span(n, fo, fm, lane_o, lane_m, ends_o, ends_m, pieces, group_start)
        unit_of[block + first : block + stop] = k
        unit_of[twin + twin_first : twin + twin_stop] = k
    return unit_of


@numba.njit
def followable(n, group_start, work, before, margin, unit_of, unit_count):
    """Shares of the group's positions whose margin exceeds each bound: (exact, successor units, unit union)."""
    size = work.shape[0]
    unit_drift = np.zeros(unit_count)
    for i in range(size):
        unit_drift[unit_of[i]] = max(unit_drift[unit_of[i]], abs(work[i] - before[i]))
    union = np.zeros(unit_count)
    exact = by_unit = 0
    for ix in range(size):
        mover, opponent, fm, fo = decode(n, group_start + ix)
        land = landing_mask(mover, opponent)
        unentered = 1 if n - fm - popcount(mover) > 0 else 0
        drift = unit_bound = 0.0
        for roll in range(1, S.NUM_MOVE_ROLLS + 1):
            rest = movable(mover, land, unentered, roll)
            while rest:
                source = LOWEST_BIT[rest] - 1
                rest &= rest - 1
                kind, m2, o2 = move_outcome(mover, opponent, source, roll)
                if kind == BORE_OFF:
                    continue  # final values
                if kind == ROLLS_AGAIN:
                    target = encode(n, m2, o2, fm, fo) - group_start
                else:
                    target = encode(n, o2, m2, fo, fm) - group_start
                drift = max(drift, abs(work[target] - before[target]))
                unit_bound = max(unit_bound, unit_drift[unit_of[target]])
        union[unit_of[ix]] = max(union[unit_of[ix]], unit_bound)
        h = S.margin_value(margin[ix])
        exact += h > drift
        by_unit += h > unit_bound
    by_union = 0
    for ix in range(size):
        by_union += S.margin_value(margin[ix]) > union[unit_of[ix]]
    return exact / size, by_unit / size, by_union / size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=5)
    parser.add_argument("--group", type=int, nargs=2, default=(1, 0), metavar=("HI", "LO"))
    args = parser.parse_args()
    n, group = args.pieces, tuple(args.group)
    plain = S.sweep
    seen = {}

    def measured(*sweep_args):
        fm, fo, units, work, group_start = sweep_args[1], sweep_args[2], sweep_args[3], sweep_args[7], sweep_args[8]
        full, margin = sweep_args[10], sweep_args[13]
        if not full or (fm, fo) != group:
            return plain(*sweep_args)
        if "unit_of" not in seen:
            seen["unit_of"] = unit_of_positions(n, fm, fo, units, group_start, work.size)
        shares = None  # the first full sweep has no margins yet
        if "before" in seen:
            shares = followable(n, group_start, work, seen["before"], margin, seen["unit_of"], units.shape[0])
        seen["before"] = work.copy()
        out = plain(*sweep_args)
        line = f"full sweep: followed {1 - out[1] / work.size:.3f}"
        if shares is not None:
            exact, by_unit, by_union = shares
            line += f"; could follow: exact {exact:.3f}, successor units {by_unit:.3f}, unit union {by_union:.3f}"
        print(line, flush=True)
        return out

    rgou.solve.solver.sweep = measured  # the driver calls the kernel by this name
    solve(n)


if __name__ == "__main__":
    main()
