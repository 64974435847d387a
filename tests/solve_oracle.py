"""An independent, plain reference for the N-piece solver.

Shares no code with `rgou.solve`: the rules are written out again on board
squares with absolute colours (no mover-relative view, no index, no
bitmasks), and the state space is enumerated in pure Python by
breadth-first search from the opening position. The values come from
repeated sweeps of the plain Bellman update over that state list until no
value changes by more than `tolerance`; the sweeps are vectorised with
numpy (one block of states per progress level, latest positions first), as
pure-Python sweeps take minutes for three pieces.

A state is (p1, p2, to_move): p1 and p2 are sorted tuples of N squares
(-1 not entered, 0..19 on the board, 20 finished), to_move is 1 or 2. Its
value is the probability that the player to move wins, before rolling.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass

import numpy as np

P1_TRACK = (3, 2, 1, 0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
P2_TRACK = (19, 18, 17, 16, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15)
ROSETTES = frozenset((0, 7, 13, 15, 16))
OUT = -1
DONE = 20
PROBS = np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16
ROLLS = range(5)


def _next_squares(track):
    """{(square, roll): square reached, DONE, or None (overshoot)} for one player's track."""
    table = {}
    for square in (OUT,) + track:
        pos = -1 if square == OUT else track.index(square)
        for roll in range(1, 5):
            new = pos + roll
            table[square, roll] = DONE if new == len(track) else (track[new] if new < len(track) else None)
    return table


NEXT = {1: _next_squares(P1_TRACK), 2: _next_squares(P2_TRACK)}


def opening(n: int) -> tuple:
    return ((OUT,) * n, (OUT,) * n, 1)


def winner(state: tuple) -> int:
    p1, p2, _ = state
    if p1[0] == DONE:  # sorted: the lowest square is finished, so all are
        return 1
    if p2[0] == DONE:
        return 2
    return 0


@functools.cache
def _own_moves(player: int, mine: tuple, roll: int) -> tuple:
    """(target, new own squares) for each distinct piece of `mine` that `roll` moves along the track,
    not onto an own piece; what stands on the target for the opponent is checked by `moves`."""
    results = []
    for i, square in enumerate(mine):
        if square == DONE or (i and mine[i - 1] == square):  # finished, or the same move again
            continue
        target = NEXT[player][square, roll]
        if target is None or (target != DONE and target in mine):
            continue
        results.append((target, tuple(sorted(mine[:i] + (target,) + mine[i + 1 :]))))
    return tuple(results)


def moves(state: tuple, roll: int) -> list[tuple]:
    """The distinct states after each legal move with `roll` (empty: the turn passes)."""
    p1, p2, player = state
    mine, theirs = (p1, p2) if player == 1 else (p2, p1)
    results = []
    if roll == 0:
        return results
    for target, new_mine in _own_moves(player, mine, roll):
        new_theirs = theirs
        again = target in ROSETTES
        if target != DONE and target in theirs:
            if again:
                continue  # an opponent piece on a rosette blocks it
            j = theirs.index(target)
            new_theirs = tuple(sorted((OUT,) + theirs[:j] + theirs[j + 1 :]))
        next_player = player if again else 3 - player
        results.append((new_mine, new_theirs, next_player) if player == 1 else (new_theirs, new_mine, next_player))
    return results


def passed(state: tuple) -> tuple:
    return (state[0], state[1], 3 - state[2])


@dataclass
class Graph:
    """Every reachable state (finished games included) and the options of each live state's rolls.

    Option j belongs to row option_row[j] = 5 * live + roll (live: the
    state's rank among live states, in `live` order), is its option_slot[j]-th
    option, leads to state option_child[j], and option_same[j] says whether
    the same player moves there.
    """

    states: list  # id -> state
    ids: dict  # state -> id
    live: np.ndarray  # ids of the states whose game is not over
    option_row: np.ndarray
    option_slot: np.ndarray
    option_child: np.ndarray
    option_same: np.ndarray


def explore(n: int) -> Graph:
    """Breadth-first search from the opening over all rolls and moves."""
    start = opening(n)
    states, ids = [start], {start: 0}
    live, rows, slots, children, same = [], [], [], [], []
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if winner(state):
            continue
        row = 5 * len(live)
        live.append(ids[state])
        player = state[2]
        for roll in ROLLS:
            for k, child in enumerate(moves(state, roll) or [passed(state)]):
                cid = ids.get(child)
                if cid is None:
                    cid = ids[child] = len(states)
                    states.append(child)
                    queue.append(child)
                rows.append(row + roll)
                slots.append(k)
                children.append(cid)
                same.append(child[2] == player)
    return Graph(states, ids, np.array(live), np.array(rows), np.array(slots), np.array(children), np.array(same))


def _progress(state: tuple) -> int:
    total = 0
    for squares, track in ((state[0], P1_TRACK), (state[1], P2_TRACK)):
        for s in squares:
            total += len(track) + 1 if s == DONE else (0 if s == OUT else track.index(s) + 1)
    return total


def _arrays(graph: Graph, rows: np.ndarray | None = None):
    """Options as dense arrays [live state, roll, option]: the mover's value of option k is
    add + sign * values[child]; missing options have add = -1 and sign = 0."""
    width = int(graph.option_slot.max()) + 1
    shape = (len(graph.live) * len(ROLLS), width)
    child = np.zeros(shape, dtype=np.int64)
    add = np.full(shape, -1.0)
    sign = np.zeros(shape)
    at = (graph.option_row, graph.option_slot)
    child[at] = graph.option_child
    add[at] = np.where(graph.option_same, 0.0, 1.0)
    sign[at] = np.where(graph.option_same, 1.0, -1.0)
    shape3 = (len(graph.live), len(ROLLS), width)
    return child.reshape(shape3), add.reshape(shape3), sign.reshape(shape3)


def bellman(values: np.ndarray, child, add, sign) -> np.ndarray:
    """T V for the given rows: sum over rolls of P(r) * the best option's value for the mover."""
    return (add + sign * values[child]).max(axis=2) @ PROBS


def solve(n: int, tolerance: float = 1e-9, max_sweeps: int = 100_000) -> tuple[Graph, np.ndarray]:
    """(graph, values): values[id] = P(player to move wins) for every reachable state."""
    graph = explore(n)
    values = np.full(len(graph.states), 0.5)
    for i, state in enumerate(graph.states):
        w = winner(state)
        if w:
            values[i] = float(w == state[2])
    # Blocks of equal progress (later positions first), one per player to move.
    key = np.array([2 * _progress(graph.states[i]) + graph.states[i][2] - 1 for i in graph.live])
    order = np.argsort(-key, kind="stable")
    bounds = [0, *(np.flatnonzero(np.diff(key[order])) + 1), len(order)]
    live = graph.live[order]
    child, add, sign = (a[order] for a in _arrays(graph))
    blocks = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    for _ in range(max_sweeps):
        before = values.copy()
        for rows in blocks:
            values[live[rows]] = bellman(values, child[rows], add[rows], sign[rows])
        change = float(np.abs(values - before).max())
        if change < tolerance:
            return graph, values
    raise RuntimeError(f"oracle did not converge in {max_sweeps} sweeps (change {change})")


def bellman_residual(graph: Graph, values: np.ndarray) -> float:
    """Largest |V - T V| over the live states, for values indexed like graph.states."""
    return float(np.abs(bellman(values, *_arrays(graph)) - values[graph.live]).max())
