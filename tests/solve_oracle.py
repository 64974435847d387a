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

The rules are a `Rules` value (default `FINKEL`, on rgou's square numbers):
each player's path, the rosettes, whether they are safe and grant another
roll, whether a capture does, and the dice. `MASTERS`, `BLITZ` and `ASEB`
are written out from the paths and rosettes of the RoyalUr.net libraries,
as the reference for engines of those rule sets.
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
FOUR_BINARY_DICE = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)  # P(roll r), r = 0..4
ROLLS = range(5)


@dataclass(frozen=True)
class Rules:
    """A rule set written out from its description alone.

    paths: each player's squares in walking order (ints, P1's then P2's); a
    piece enters on the first and bears off with the exact roll past the
    last. A state's finished pieces stand on `done`, one past every square.
    safe_rosettes: a piece on a rosette cannot be captured (the square is
    blocked to the opponent). rosette_again / capture_again: landing on a
    rosette / capturing grants another roll. probs: P(roll r), r = 0..4.
    """

    name: str
    paths: tuple
    rosettes: frozenset
    safe_rosettes: bool = True
    rosette_again: bool = True
    capture_again: bool = False
    probs: tuple = FOUR_BINARY_DICE

    @functools.cached_property
    def done(self) -> int:
        return 1 + max(max(path) for path in self.paths)


def from_tiles(name: str, light: list, dark: list, rosettes: set, **rules) -> Rules:
    """A `Rules` from paths of board tiles (x, y), numbering the tiles in sorted order."""
    number = {tile: i for i, tile in enumerate(sorted(set(light) | set(dark)))}
    return Rules(
        name,
        (tuple(number[t] for t in light), tuple(number[t] for t in dark)),
        frozenset(number[t] for t in rosettes if t in number),
        **rules,
    )


def walk(*corners: tuple) -> list:
    """The tiles (x, y) of a path through the given corners, each step one tile along x or y."""
    tiles = [corners[0]]
    for x, y in corners[1:]:
        while tiles[-1] != (x, y):
            tx, ty = tiles[-1]
            tiles.append((tx + (x > tx) - (x < tx), ty + (y > ty) - (y < ty)))
    return tiles


FINKEL = Rules("finkel", (P1_TRACK, P2_TRACK), ROSETTES)

# The other rule sets, on tiles (x, y): x = 1 light's row, 2 the middle row, 3 dark's row. The paths and
# rosettes are those of the RoyalUr.net libraries (RoyalUr-Java: BellPathPair, MastersPathPair,
# AsebPathPair, StandardBoardShape, AsebBoardShape), without their off-board start and end tiles.
STANDARD_ROSETTES = {(1, 1), (3, 1), (2, 4), (1, 7), (3, 7)}
BELL_TILES = (
    walk((1, 4), (1, 1), (2, 1), (2, 8), (1, 8), (1, 7)),
    walk((3, 4), (3, 1), (2, 1), (2, 8), (3, 8), (3, 7)),
)
MASTERS_TILES = (
    walk((1, 4), (1, 1), (2, 1), (2, 7), (3, 7), (3, 8), (1, 8), (1, 7)),
    walk((3, 4), (3, 1), (2, 1), (2, 7), (1, 7), (1, 8), (3, 8), (3, 7)),
)
ASEB_TILES = (walk((1, 4), (1, 1), (2, 1), (2, 12)), walk((3, 4), (3, 1), (2, 1), (2, 12)))
ASEB_ROSETTES = {(1, 1), (3, 1), (2, 4), (2, 8), (2, 12)}
FINKEL_TILES = from_tiles("finkel", *BELL_TILES, STANDARD_ROSETTES)
MASTERS = from_tiles("masters", *MASTERS_TILES, STANDARD_ROSETTES, safe_rosettes=False)
BLITZ = from_tiles("blitz", *MASTERS_TILES, STANDARD_ROSETTES, safe_rosettes=False, capture_again=True)
ASEB = from_tiles("aseb", *ASEB_TILES, ASEB_ROSETTES)
# By rgou's rule-set names: the rules on tiles, and the two paths' tiles they were numbered from.
BY_NAME = {"finkel": FINKEL_TILES, "masters": MASTERS, "blitz": BLITZ, "aseb": ASEB}
PATHS_BY_NAME = {"finkel": BELL_TILES, "masters": MASTERS_TILES, "blitz": MASTERS_TILES, "aseb": ASEB_TILES}


@functools.cache
def _next_squares(rules: Rules, player: int) -> dict:
    """{(square, roll): square reached, done, or None (overshoot)} for one player's path."""
    track = rules.paths[player - 1]
    table = {}
    for square in (OUT,) + track:
        pos = -1 if square == OUT else track.index(square)
        for roll in range(1, 5):
            new = pos + roll
            table[square, roll] = rules.done if new == len(track) else (track[new] if new < len(track) else None)
    return table


def opening(n: int) -> tuple:
    return ((OUT,) * n, (OUT,) * n, 1)


def winner(state: tuple, rules: Rules = FINKEL) -> int:
    p1, p2, _ = state
    if p1[0] == rules.done:  # sorted: the lowest square is finished, so all are
        return 1
    if p2[0] == rules.done:
        return 2
    return 0


@functools.cache
def _own_moves(rules: Rules, player: int, mine: tuple, roll: int) -> tuple:
    """(target, new own squares) for each distinct piece of `mine` that `roll` moves along the path,
    not onto an own piece; what stands on the target for the opponent is checked by `moves`."""
    results = []
    for i, square in enumerate(mine):
        if square == rules.done or (i and mine[i - 1] == square):  # finished, or the same move again
            continue
        target = _next_squares(rules, player)[square, roll]
        if target is None or (target != rules.done and target in mine):
            continue
        results.append((target, tuple(sorted(mine[:i] + (target,) + mine[i + 1 :]))))
    return tuple(results)


def moves(state: tuple, roll: int, rules: Rules = FINKEL) -> list[tuple]:
    """The distinct states after each legal move with `roll` (empty: the turn passes)."""
    p1, p2, player = state
    mine, theirs = (p1, p2) if player == 1 else (p2, p1)
    results = []
    if roll == 0:
        return results
    for target, new_mine in _own_moves(rules, player, mine, roll):
        new_theirs = theirs
        rosette = target in rules.rosettes
        again = rosette and rules.rosette_again
        if target != rules.done and target in theirs:
            if rosette and rules.safe_rosettes:
                continue  # an opponent piece on a safe rosette blocks it
            j = theirs.index(target)
            new_theirs = tuple(sorted((OUT,) + theirs[:j] + theirs[j + 1 :]))
            again = again or rules.capture_again
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
    rules: Rules = FINKEL


def explore(n: int, rules: Rules = FINKEL) -> Graph:
    """Breadth-first search from the opening over all rolls and moves."""
    start = opening(n)
    states, ids = [start], {start: 0}
    live, rows, slots, children, same = [], [], [], [], []
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if winner(state, rules):
            continue
        row = 5 * len(live)
        live.append(ids[state])
        player = state[2]
        for roll in ROLLS:
            for k, child in enumerate(moves(state, roll, rules) or [passed(state)]):
                cid = ids.get(child)
                if cid is None:
                    cid = ids[child] = len(states)
                    states.append(child)
                    queue.append(child)
                rows.append(row + roll)
                slots.append(k)
                children.append(cid)
                same.append(child[2] == player)
    arrays = (np.array(live), np.array(rows), np.array(slots), np.array(children), np.array(same))
    return Graph(states, ids, *arrays, rules)


def _progress(state: tuple, rules: Rules) -> int:
    total = 0
    for squares, track in zip(state[:2], rules.paths, strict=True):
        for s in squares:
            total += len(track) + 1 if s == rules.done else (0 if s == OUT else track.index(s) + 1)
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


def bellman(values: np.ndarray, child, add, sign, rules: Rules = FINKEL) -> np.ndarray:
    """T V for the given rows: sum over rolls of P(r) * the best option's value for the mover."""
    return (add + sign * values[child]).max(axis=2) @ np.array(rules.probs)


def solve(
    n: int, tolerance: float = 1e-9, max_sweeps: int = 100_000, rules: Rules = FINKEL
) -> tuple[Graph, np.ndarray]:
    """(graph, values): values[id] = P(player to move wins) for every reachable state."""
    graph = explore(n, rules)
    values = np.full(len(graph.states), 0.5)
    for i, state in enumerate(graph.states):
        w = winner(state, rules)
        if w:
            values[i] = float(w == state[2])
    # Blocks of equal progress (later positions first), one per player to move.
    key = np.array([2 * _progress(graph.states[i], rules) + graph.states[i][2] - 1 for i in graph.live])
    order = np.argsort(-key, kind="stable")
    bounds = [0, *(np.flatnonzero(np.diff(key[order])) + 1), len(order)]
    live = graph.live[order]
    child, add, sign = (a[order] for a in _arrays(graph))
    blocks = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    for _ in range(max_sweeps):
        before = values.copy()
        for rows in blocks:
            values[live[rows]] = bellman(values, child[rows], add[rows], sign[rows], rules)
        change = float(np.abs(values - before).max())
        if change < tolerance:
            return graph, values
    raise RuntimeError(f"oracle did not converge in {max_sweeps} sweeps (change {change})")


def bellman_residual(graph: Graph, values: np.ndarray) -> float:
    """Largest |V - T V| over the live states, for values indexed like graph.states."""
    return float(np.abs(bellman(values, *_arrays(graph), graph.rules) - values[graph.live]).max())
