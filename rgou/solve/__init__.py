"""The exact solver of the Royal Game of Ur and its tables, for every rule set (Finkel by default).

Every position of the N-piece game (N = 1..7; the real game has 7 pieces
under Finkel and Masters, 5 under Blitz and Aseb) gets the probability that
the player to move wins, before rolling, under perfect play by both sides.
See docs/solver.md. `rules` is a rule set's name or `rgou.rules.RuleSet`.

    solve(n_pieces, tolerance, out, progress, threads, rules) -> Table
    warm_up_solver(rules, message): compile the kernels in a separate process first (peak memory)
    load_table(path, n_pieces, rules=...) -> Table;  save_table(table, path, dtype)
    load_perfect_table(table_or_path, rules) -> the Table of the rule set's real game
    check_perfect_table(table_or_path, rules), check_table_file(path, n_pieces, rules): the errors
        of loading them that the header shows, reading nothing else
    default_table_path(n_pieces, rules) -> Path
    win_probability(values, state), p2_win_probability(values, state),
    p2_win_after_moves(values, state, out),
    best_move(values, state), state_index(state): Numba kernels on
        rgou-style int8[2N + 2] states (rgou's int8[16] state for N = 7)
    make_state(p1, p2, to_move, dice): a validated N-piece state
    encode / decode: the position index (mover-relative bitmasks)
"""

from rgou.solve.index import decode, encode, position_count, solve_order
from rgou.solve.lookup import (
    best_move,
    check_state,
    make_state,
    p2_win_after_moves,
    p2_win_probability,
    state_index,
    win_probability,
)
from rgou.solve.rules import RULES_NAME
from rgou.solve.solver import DEFAULT_TOLERANCE, InterruptedAfterWriting, SolveProgress, solve, warm_up_solver
from rgou.solve.table import (
    PERFECT_PIECES,
    Table,
    cache_dir,
    check_perfect_table,
    check_table_file,
    default_table_path,
    load_perfect_table,
    load_table,
    perfect_table_path,
    require_table_file,
    save_table,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "PERFECT_PIECES",
    "RULES_NAME",
    "InterruptedAfterWriting",
    "SolveProgress",
    "Table",
    "best_move",
    "cache_dir",
    "check_perfect_table",
    "check_state",
    "check_table_file",
    "decode",
    "default_table_path",
    "encode",
    "load_perfect_table",
    "load_table",
    "make_state",
    "p2_win_after_moves",
    "p2_win_probability",
    "perfect_table_path",
    "position_count",
    "require_table_file",
    "save_table",
    "solve",
    "solve_order",
    "state_index",
    "warm_up_solver",
    "win_probability",
]
