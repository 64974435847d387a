"""A dense, bijective index of the non-final positions of the N-piece game.

Positions are mover-relative (see `rgou.solve.rules`): (mover, opponent, fm,
fo). Only positions where neither player has finished all N pieces are
indexed; a finished position needs no table (the player to move has lost:
the opponent bore off its last piece, which always passes the turn).

Layout, outermost first:

1. Subgroup (fm, fo). Subgroups are ordered by the solve order of their
   group {fm, fo} (finished total descending, then the larger count
   descending), and the two subgroups (hi, lo), (lo, hi) of a group are
   adjacent, so a group is one contiguous range.
2. Lane class (ml, ol): how many mover / opponent pieces stand in the shared
   lane (track positions 4..11).
3. The lane pattern (each lane square empty, mover or opponent), ranked
   within its class.
4. The mover's private squares (track positions 0..3, 12, 13) as a 6-bit
   mask, ranked by (popcount, value): the masks with at most c pieces are
   exactly the first `PRIVATE_AT_MOST[c]` ranks.
5. The opponent's private squares, ranked the same way.

Within subgroup (fm, fo) the mover has a = N - fm pieces not finished and
the opponent b = N - fo; every board with at most a mover and b opponent
pieces is one position (the rest are unentered). So the index is a few
table look-ups (`encode`, about 10 ns) and the inverse a short scan
(`decode`). The rank tables depend on (a, b) only, so one set serves every N.
"""

from __future__ import annotations

from math import comb

import numpy as np

from rgou._numba import njit
from rgou.solve.rules import (
    LANE_FIRST,
    LANE_SIZE,
    MAX_PIECES,
    PRIVATE_SIZE,
    TRACK_LENGTH,
)

LANE_STATES = 3  # a lane square is empty, mover or opponent
NUM_LANE_PATTERNS = LANE_STATES**LANE_SIZE  # 6561
LANE_BITS = (1 << LANE_SIZE) - 1  # 8-bit lane mask
START_BITS = (1 << LANE_FIRST) - 1  # track positions 0..3: private mask bits 0..3
END_SHIFT = TRACK_LENGTH - PRIVATE_SIZE  # track positions 12, 13 <-> private bits 4, 5
END_BITS = ((1 << PRIVATE_SIZE) - 1) & ~START_BITS
NUM_PRIVATE = 1 << PRIVATE_SIZE  # 64 private masks
MAX_CAP = MAX_PIECES  # a, b = pieces not finished, 0..7
NUM_LEVELS = 2 * sum(range(TRACK_LENGTH + 1 - MAX_PIECES, TRACK_LENGTH + 1)) + 1  # 0..154


def _build_tables():
    popcount8 = np.array([bin(m).count("1") for m in range(1 << LANE_SIZE)], dtype=np.int64)
    tern8 = np.array(
        [sum(LANE_STATES**i for i in range(LANE_SIZE) if m >> i & 1) for m in range(1 << LANE_SIZE)], dtype=np.int64
    )
    lane_mover = np.zeros(NUM_LANE_PATTERNS, dtype=np.int64)
    lane_opponent = np.zeros(NUM_LANE_PATTERNS, dtype=np.int64)
    for m in range(1 << LANE_SIZE):
        for o in range(1 << LANE_SIZE):
            if m & o == 0:
                code = tern8[m] + 2 * tern8[o]
                lane_mover[code] = m
                lane_opponent[code] = o
    # Lane patterns grouped by class (ml, ol), ascending code within a class.
    class_count = np.zeros((LANE_SIZE + 1, LANE_SIZE + 1), dtype=np.int64)
    lane_rank = np.zeros(NUM_LANE_PATTERNS, dtype=np.int64)
    for code in range(NUM_LANE_PATTERNS):
        ml, ol = popcount8[lane_mover[code]], popcount8[lane_opponent[code]]
        lane_rank[code] = class_count[ml, ol]
        class_count[ml, ol] += 1
    class_start = np.zeros((LANE_SIZE + 1, LANE_SIZE + 1), dtype=np.int64)
    start = 0
    for ml in range(LANE_SIZE + 1):
        for ol in range(LANE_SIZE + 1):
            class_start[ml, ol] = start
            start += class_count[ml, ol]
    lane_unrank = np.zeros(NUM_LANE_PATTERNS, dtype=np.int64)
    for code in range(NUM_LANE_PATTERNS):
        ml, ol = popcount8[lane_mover[code]], popcount8[lane_opponent[code]]
        lane_unrank[class_start[ml, ol] + lane_rank[code]] = code

    order = sorted(range(NUM_PRIVATE), key=lambda m: (bin(m).count("1"), m))
    private_unrank = np.array(order, dtype=np.int64)
    private_rank = np.zeros(NUM_PRIVATE, dtype=np.int64)
    private_rank[private_unrank] = np.arange(NUM_PRIVATE)
    private_at_most = np.array(
        [sum(comb(PRIVATE_SIZE, j) for j in range(min(c, PRIVATE_SIZE) + 1)) for c in range(MAX_CAP + 1)],
        dtype=np.int64,
    )

    # class_off[a, b, ml, ol]: start of lane class (ml, ol) in a subgroup with caps a, b.
    class_off = np.zeros((MAX_CAP + 1, MAX_CAP + 1, LANE_SIZE + 1, LANE_SIZE + 1), dtype=np.int64)
    class_size = np.zeros_like(class_off)
    subgroup_size = np.zeros((MAX_CAP + 1, MAX_CAP + 1), dtype=np.int64)
    for a in range(MAX_CAP + 1):
        for b in range(MAX_CAP + 1):
            off = 0
            for ml in range(LANE_SIZE + 1):
                for ol in range(LANE_SIZE + 1):
                    class_off[a, b, ml, ol] = off
                    if ml <= a and ol <= b:
                        size = class_count[ml, ol] * private_at_most[a - ml] * private_at_most[b - ol]
                        class_size[a, b, ml, ol] = size
                        off += size
            subgroup_size[a, b] = off

    # subgroup_off[n, fm, fo]; count[n]; groups[n] in solve order.
    subgroup_off = np.full((MAX_PIECES + 1, MAX_CAP + 1, MAX_CAP + 1), -1, dtype=np.int64)
    count = np.zeros(MAX_PIECES + 1, dtype=np.int64)
    for n in range(1, MAX_PIECES + 1):
        off = 0
        for hi, lo in solve_order(n):
            for fm, fo in ((hi, lo), (lo, hi)) if hi != lo else ((hi, lo),):
                subgroup_off[n, fm, fo] = off
                off += subgroup_size[n - fm, n - fo]
        count[n] = off
    return dict(
        POPCOUNT8=popcount8,
        TERN8=tern8,
        LANE_MOVER=lane_mover,
        LANE_OPPONENT=lane_opponent,
        LANE_RANK=lane_rank,
        LANE_UNRANK=lane_unrank,
        CLASS_START=class_start,
        PRIVATE_RANK=private_rank,
        PRIVATE_UNRANK=private_unrank,
        PRIVATE_AT_MOST=private_at_most,
        CLASS_OFF=class_off,
        CLASS_SIZE=class_size,
        SUBGROUP_SIZE=subgroup_size,
        SUBGROUP_OFF=subgroup_off,
        COUNT=count,
    )


def solve_order(n_pieces: int) -> list[tuple[int, int]]:
    """Groups (hi, lo) of finished counts, hi >= lo, in the order they are solved.

    A move never lowers a finished count, so group {hi, lo} only depends on
    itself and on groups with one more finished piece: solving by finished
    total descending makes every dependency final before it is read.
    """
    pairs = [(hi, lo) for hi in range(n_pieces) for lo in range(hi + 1)]
    return sorted(pairs, key=lambda g: (-(g[0] + g[1]), -g[0]))


_T = _build_tables()
POPCOUNT8 = _T["POPCOUNT8"]
TERN8 = _T["TERN8"]
LANE_MOVER = _T["LANE_MOVER"]
LANE_OPPONENT = _T["LANE_OPPONENT"]
LANE_RANK = _T["LANE_RANK"]
LANE_UNRANK = _T["LANE_UNRANK"]
CLASS_START = _T["CLASS_START"]
PRIVATE_RANK = _T["PRIVATE_RANK"]
PRIVATE_UNRANK = _T["PRIVATE_UNRANK"]
PRIVATE_AT_MOST = _T["PRIVATE_AT_MOST"]
CLASS_OFF = _T["CLASS_OFF"]
CLASS_SIZE = _T["CLASS_SIZE"]
SUBGROUP_SIZE = _T["SUBGROUP_SIZE"]
SUBGROUP_OFF = _T["SUBGROUP_OFF"]
COUNT = _T["COUNT"]
del _T


def position_count(n_pieces: int) -> int:
    """Number of indexed (non-final, mover-relative) positions of the N-piece game."""
    if not 1 <= n_pieces <= MAX_PIECES:
        raise ValueError(f"n_pieces must be in 1..{MAX_PIECES}, got {n_pieces!r}")
    return int(COUNT[n_pieces])


def group_range(n_pieces: int, hi: int, lo: int) -> tuple[int, int]:
    """[start, stop) of group {hi, lo} (hi >= lo): subgroup (hi, lo), then (lo, hi)."""
    start = int(SUBGROUP_OFF[n_pieces, hi, lo])
    stop = start + int(SUBGROUP_SIZE[n_pieces - hi, n_pieces - lo])
    if hi != lo:
        stop += int(SUBGROUP_SIZE[n_pieces - lo, n_pieces - hi])
    return start, stop


@njit
def private_bits(track_mask):
    """The 6-bit private mask (track positions 0..3 -> bits 0..3, 12, 13 -> bits 4, 5)."""
    return (track_mask & START_BITS) | ((track_mask >> END_SHIFT) & END_BITS)


@njit
def private_to_track(bits):
    """Inverse of `private_bits`."""
    return (bits & START_BITS) | ((bits & END_BITS) << END_SHIFT)


@njit
def encode(n, mover, opponent, fm, fo):
    """Index (int64) of the valid non-final position (mover, opponent, fm, fo) of the n-piece game.

    Valid: fm, fo < n; the masks are disjoint on the lane; popcount(mover)
    <= n - fm and popcount(opponent) <= n - fo. Nothing is checked.
    """
    a = n - fm
    b = n - fo
    lane_m = (mover >> LANE_FIRST) & LANE_BITS
    lane_o = (opponent >> LANE_FIRST) & LANE_BITS
    ml = POPCOUNT8[lane_m]
    ol = POPCOUNT8[lane_o]
    code = TERN8[lane_m] + 2 * TERN8[lane_o]
    at_most_o = PRIVATE_AT_MOST[b - ol]
    rank = LANE_RANK[code] * PRIVATE_AT_MOST[a - ml] + PRIVATE_RANK[private_bits(mover)]
    return SUBGROUP_OFF[n, fm, fo] + CLASS_OFF[a, b, ml, ol] + rank * at_most_o + PRIVATE_RANK[private_bits(opponent)]


@njit
def decode_local(a, b, local):
    """(mover, opponent) masks of position `local` (0-based) in a subgroup with caps a, b."""
    ml = 0
    ol = 0
    found = False
    for cm in range(LANE_SIZE + 1):
        for co in range(LANE_SIZE + 1):
            off = CLASS_OFF[a, b, cm, co]
            if off <= local < off + CLASS_SIZE[a, b, cm, co]:
                ml = cm
                ol = co
                found = True
                break
        if found:
            break
    q = local - CLASS_OFF[a, b, ml, ol]
    at_most_o = PRIVATE_AT_MOST[b - ol]
    at_most_m = PRIVATE_AT_MOST[a - ml]
    priv_o = PRIVATE_UNRANK[q % at_most_o]
    q //= at_most_o
    priv_m = PRIVATE_UNRANK[q % at_most_m]
    code = LANE_UNRANK[CLASS_START[ml, ol] + q // at_most_m]
    mover = private_to_track(priv_m) | (LANE_MOVER[code] << LANE_FIRST)
    opponent = private_to_track(priv_o) | (LANE_OPPONENT[code] << LANE_FIRST)
    return mover, opponent


@njit
def decode(n, index):
    """(mover, opponent, fm, fo) of `index` in 0..count-1 of the n-piece game."""
    for fm in range(n):
        for fo in range(n):
            start = SUBGROUP_OFF[n, fm, fo]
            if start <= index < start + SUBGROUP_SIZE[n - fm, n - fo]:
                mover, opponent = decode_local(n - fm, n - fo, index - start)
                return mover, opponent, fm, fo
    return -1, -1, -1, -1


@njit
def level(mover, opponent):
    """Progress of a board: the sum of (track position + 1) over both players' pieces."""
    total = 0
    for p in range(TRACK_LENGTH):
        total += ((mover >> p) & 1) * (p + 1) + ((opponent >> p) & 1) * (p + 1)
    return total
