"""The 3-piece games of Masters, Blitz and Aseb, solved by rgou and by the plain reference: the largest gap.

The test suite compares N = 1 and 2 (tests/test_rule_sets.py); the reference
takes over a minute a rule set at N = 3, so this check runs by hand:

    python benchmarks/check_rule_set_solves.py

For each rule set it prints the reachable positions, the largest |rgou -
reference| over them, whether every index is one position seen by either
colour, and the opening value.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import solve_oracle as oracle
from test_rule_sets import REFERENCE, from_reference

from rgou.solve import make_state, position_count, solve
from rgou.specialise import specialise

PIECES = 3


def main() -> None:
    print("| rule set | reachable positions | max abs gap | index: each position twice | opening value | seconds |")
    print("|---|---|---|---|---|---|")
    for name in ("masters", "blitz", "aseb"):
        start = time.perf_counter()
        table = solve(PIECES, tolerance=1e-10, rules=name)
        graph, values = oracle.solve(PIECES, tolerance=1e-11, rules=REFERENCE[name])
        kernels = specialise("rgou.solve.lookup", name)
        gap, indices = 0.0, []
        for i in graph.live:
            state = from_reference(name, graph.states[i])
            gap = max(gap, abs(kernels.win_probability(table.values, state) - values[i]))
            indices.append(kernels.state_index(state))
        count = position_count(PIECES, name)
        twice = np.array_equal(np.bincount(indices, minlength=count), np.full(count, 2))
        opening = table.win_probability(make_state([-1] * PIECES, [-1] * PIECES, rules=name))
        seconds = time.perf_counter() - start
        print(f"| {name} | {len(graph.live):,} | {gap:.1e} | {twice} | {opening:.7f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
