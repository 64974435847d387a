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
   within its class. Each pattern owns a block of positions.
4. Inside a block, the pair (mover's private squares, opponent's private
   squares), each a 6-bit mask: bits 0..3 the start squares (track
   positions 0..3), bits 4, 5 the end squares (12, 13). Pairs with the same
   end squares and the same number of pieces on start squares form a unit
   (at most 70 positions); units follow (mover's end squares, opponent's
   end squares, start pieces). Inside a unit, pairs are sorted by start
   level (the sum of track position + 1 over both players' start squares)
   descending, then by the ranks of the two masks. A mask's
   rank orders masks by (popcount, value).

Within subgroup (fm, fo) the mover has a = N - fm pieces not finished and
the opponent b = N - fo; every board with at most a mover and b opponent
pieces is one position (the rest are unentered). So the index is a few
table look-ups (`encode`, about 11 ns) and the inverse a short scan
(`decode`). The rank tables (about 1.3 MB) depend on (a, b) only, so one set
serves every N.

Why units: a move between start squares stays in the unit (or its colour
swap), and every other move without a capture raises the unit level: the
sum of track position + 1 over the pieces on the lane and end squares, plus
the number of pieces on start squares. Every capture lowers it. So the
solver can sweep units by unit level, the units of one level in parallel,
and each unit in index order: it reads memory almost in order.
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
PRIVATE_MASK = NUM_PRIVATE - 1
MAX_CAP = MAX_PIECES  # a, b = pieces not finished, 0..7
END_SHIFT_BITS = LANE_FIRST  # private mask bits 4, 5: the end squares (track positions 12, 13)
NUM_ENDS = 1 << (PRIVATE_SIZE - LANE_FIRST)  # 4 end-square patterns per player
MAX_START_PIECES = 2 * LANE_FIRST  # pieces on both players' start squares


def _private_bits(p: int) -> int:
    """The private-mask bit of track position p (0 for a lane position)."""
    if p < LANE_FIRST:
        return 1 << p
    if p >= END_SHIFT + LANE_FIRST:
        return 1 << (p - END_SHIFT)
    return 0


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
    private_rank = np.zeros(NUM_PRIVATE, dtype=np.int64)
    private_rank[order] = np.arange(NUM_PRIVATE)
    private_at_most = np.array(
        [sum(comb(PRIVATE_SIZE, j) for j in range(min(c, PRIVATE_SIZE) + 1)) for c in range(MAX_CAP + 1)],
        dtype=np.int64,
    )
    private_level = np.array(
        [sum(p + 1 for p in range(TRACK_LENGTH) if _private_bits(p) & m) for m in range(NUM_PRIVATE)], dtype=np.int64
    )
    start_level = private_level[np.arange(NUM_PRIVATE) & START_BITS]
    end_level = private_level[np.arange(NUM_ENDS) << END_SHIFT_BITS]
    lane_level = np.array(
        [
            sum(LANE_FIRST + i + 1 for i in range(LANE_SIZE) if (lane_mover[c] | lane_opponent[c]) >> i & 1)
            for c in range(NUM_LANE_PATTERNS)
        ],
        dtype=np.int64,
    )
    # Pairs (mover mask, opponent mask) of a lane block with private caps (cm, co), grouped into
    # units by (mover's end squares, opponent's end squares, pieces on start squares), and by start
    # level descending inside a unit.
    start_count = np.array([bin(m & START_BITS).count("1") for m in range(NUM_PRIVATE)], dtype=np.int64)
    pair_rank = np.full((PRIVATE_SIZE + 1, PRIVATE_SIZE + 1, NUM_PRIVATE, NUM_PRIVATE), -1, dtype=np.int16)
    pair_unrank = np.zeros((PRIVATE_SIZE + 1, PRIVATE_SIZE + 1, NUM_PRIVATE * NUM_PRIVATE), dtype=np.int16)
    shape = (PRIVATE_SIZE + 1, PRIVATE_SIZE + 1, NUM_ENDS, NUM_ENDS, MAX_START_PIECES + 1)
    unit_start = np.zeros(shape, dtype=np.int64)
    unit_stop = np.zeros(shape, dtype=np.int64)

    def unit_key(pair):
        pm, po = pair
        return pm >> END_SHIFT_BITS, po >> END_SHIFT_BITS, start_count[pm] + start_count[po]

    for cm in range(PRIVATE_SIZE + 1):
        for co in range(PRIVATE_SIZE + 1):
            pairs = [(pm, po) for pm in order[: private_at_most[cm]] for po in order[: private_at_most[co]]]
            pairs.sort(key=lambda q: (unit_key(q), -start_level[q[0]] - start_level[q[1]]))  # stable: then ranks
            for r, (pm, po) in enumerate(pairs):
                pair_rank[cm, co, pm, po] = r
                pair_unrank[cm, co, r] = pm | (po << PRIVATE_SIZE)
                key = (cm, co, *unit_key((pm, po)))
                if unit_stop[key] == 0:
                    unit_start[key] = r
                unit_stop[key] = r + 1

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
        PRIVATE_AT_MOST=private_at_most,
        LANE_LEVEL=lane_level,
        END_LEVEL=end_level,
        PAIR_RANK=pair_rank,
        PAIR_UNRANK=pair_unrank,
        UNIT_START=unit_start,
        UNIT_STOP=unit_stop,
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
PRIVATE_AT_MOST = _T["PRIVATE_AT_MOST"]
LANE_LEVEL = _T["LANE_LEVEL"]
END_LEVEL = _T["END_LEVEL"]
PAIR_RANK = _T["PAIR_RANK"]
PAIR_UNRANK = _T["PAIR_UNRANK"]
UNIT_START = _T["UNIT_START"]
UNIT_STOP = _T["UNIT_STOP"]
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


@njit(no_alloc=True)
def private_bits(track_mask):
    """The 6-bit private mask (track positions 0..3 -> bits 0..3, 12, 13 -> bits 4, 5)."""
    return (track_mask & START_BITS) | ((track_mask >> END_SHIFT) & END_BITS)


@njit
def private_to_track(bits):
    """Inverse of `private_bits`."""
    return (bits & START_BITS) | ((bits & END_BITS) << END_SHIFT)


@njit(no_alloc=True)
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
    cm = min(a - ml, PRIVATE_SIZE)
    co = min(b - ol, PRIVATE_SIZE)
    block = LANE_RANK[code] * PRIVATE_AT_MOST[cm] * PRIVATE_AT_MOST[co]
    pair = PAIR_RANK[cm, co, private_bits(mover), private_bits(opponent)]
    return SUBGROUP_OFF[n, fm, fo] + CLASS_OFF[a, b, ml, ol] + block + pair


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
    cm = min(a - ml, PRIVATE_SIZE)
    co = min(b - ol, PRIVATE_SIZE)
    block = PRIVATE_AT_MOST[cm] * PRIVATE_AT_MOST[co]
    q = local - CLASS_OFF[a, b, ml, ol]
    code = LANE_UNRANK[CLASS_START[ml, ol] + q // block]
    pair = PAIR_UNRANK[cm, co, q % block]
    return position_of(code, pair)


@njit
def position_of(code, pair):
    """(mover, opponent) masks of lane pattern `code` and packed private pair `pair` (PAIR_UNRANK)."""
    mover = private_to_track(pair & PRIVATE_MASK) | (LANE_MOVER[code] << LANE_FIRST)
    opponent = private_to_track(pair >> PRIVATE_SIZE) | (LANE_OPPONENT[code] << LANE_FIRST)
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
