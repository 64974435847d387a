"""A dense, bijective index of the non-final positions of the N-piece game of a rule set.

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
   lane (track positions 4..11 for Finkel, 4..15 for the other rule sets).
3. The lane pattern (each lane square empty, mover or opponent, squares
   numbered by the mover's track positions; the opponent's are read through
   the pairing of `rgou.solve.rules`), ranked within its class. Each pattern
   owns a block of positions.
4. Inside a block, the pair (mover's private squares, opponent's private
   squares), each a mask: bits 0..3 the start squares (track positions
   0..3), then the end squares (Finkel: bits 4, 5 for 12, 13; the other rule
   sets have none, so 4-bit masks). Pairs with the same
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
(`decode`). The rank tables (about 1.3 MB for Finkel) depend on (a, b) only,
so one set serves every N. The 12-square lanes have 531,441 patterns: their
per-pattern tables are read in two halves (`_split_tables`), so no table
the kernels read passes the 1 MB Numba freezes into cached code.

Why units: a move between start squares stays in the unit (or its colour
swap), and every other move without a capture raises the unit level: the
sum of track position + 1 over the pieces on the lane and end squares, plus
the number of pieces on start squares. Every capture lowers it. So the
solver can sweep units by unit level, the units of one level in parallel,
and each unit in index order: it reads memory almost in order.
"""

from __future__ import annotations

import functools
from math import comb

import numpy as np

from rgou._numba import njit
from rgou._validate import check_int
from rgou.rules import FINKEL, RuleSet, rule_set
from rgou.solve import rules as solve_rules
from rgou.solve.rules import (
    LANE_FIRST,
    LANE_PERMUTED,
    LANE_SIZE,
    MAX_PIECES,
    PRIVATE_SIZE,
    RULES,
)
from rgou.specialise import specialise

LANE_STATES = 3  # a lane square is empty, mover or opponent
SPLIT_ABOVE_BYTES = 10**6  # per-pattern int64 tables larger than Numba freezes into cached code: split them
MAX_CAP = MAX_PIECES  # a, b = pieces not finished, 0..7


def _private_bit(p: int, lane_first: int, lane_size: int) -> int:
    """The private-mask bit of track position p (0 for a lane position)."""
    if p < lane_first:
        return 1 << p
    if p >= lane_first + lane_size:
        return 1 << (p - lane_size)
    return 0


def _digit_masks(squares: int) -> tuple[np.ndarray, np.ndarray]:
    """(mover mask, opponent mask) of every pattern code over `squares` lane squares (code digit 1, 2)."""
    codes = np.arange(LANE_STATES**squares, dtype=np.int64)
    mover = np.zeros_like(codes)
    opponent = np.zeros_like(codes)
    for i in range(squares):
        digit = (codes // LANE_STATES**i) % LANE_STATES
        mover |= (digit == 1).astype(np.int64) << i
        opponent |= (digit == 2).astype(np.int64) << i
    return mover, opponent


def _split_tables(lane_size: int, popcount: np.ndarray) -> dict:
    """Lane-pattern tables as two halves, for a lane whose per-pattern tables Numba could not cache.

    Numba freezes a global array into compiled (and disk-cached) code only up
    to 1 MB; the 12-square lanes have 531,441 patterns. A code is lo +
    SPLIT_PATTERNS * hi (lo: the first LANE_SPLIT squares), so ascending codes
    are ascending (hi, lo), and a pattern's rank in its class (ml, ol) is
    RANK_BEFORE[hi, ml, ol] (patterns of the class with a smaller hi) plus
    LO_RANK[lo] (its lo among the lo halves of their class). Finkel's 8-square
    lane (6,561 patterns) keeps the direct tables: LANE_SPLIT = 0.
    """
    if LANE_STATES**lane_size * np.dtype(np.int64).itemsize <= SPLIT_ABOVE_BYTES:
        none = np.zeros(1, dtype=np.int64)  # never read: the kernels' split branches are pruned
        unused = ("LO_MOVER", "LO_SEEN", "HI_MOVER", "HI_SEEN", "LO_RANK", "LO_UNRANK")
        return {"LANE_SPLIT": 0, "SPLIT_PATTERNS": 1, **dict.fromkeys(unused, none),
                "LO_COUNT": none.reshape(1, 1), "LO_CLASS_START": none.reshape(1, 1),
                "RANK_BEFORE": none.reshape(1, 1, 1).astype(np.int32)}  # fmt: skip
    low = lane_size // 2
    lo_mover, lo_seen = _digit_masks(low)
    hi_mover, hi_seen = _digit_masks(lane_size - low)
    lo_ml, lo_ol = popcount[lo_mover], popcount[lo_seen]
    width = low + 1
    lo_class = lo_ml * width + lo_ol
    lo_unrank = np.argsort(lo_class, kind="stable").astype(np.int64)
    lo_count = np.bincount(lo_class, minlength=width * width).reshape(width, width)
    lo_class_start = (np.cumsum(lo_count) - lo_count.ravel()).reshape(width, width)
    lo_rank = np.empty_like(lo_unrank)
    lo_rank[lo_unrank] = np.arange(lo_mover.size) - lo_class_start.ravel()[lo_class[lo_unrank]]
    rank_before = np.zeros((hi_mover.size, lane_size + 1, lane_size + 1), dtype=np.int32)
    running = np.zeros((lane_size + 1, lane_size + 1), dtype=np.int64)
    for hi in range(hi_mover.size):
        rank_before[hi] = running
        hm, ho = popcount[hi_mover[hi]], popcount[hi_seen[hi]]
        running[hm : hm + width, ho : ho + width] += lo_count
    return {
        "LANE_SPLIT": low,
        "SPLIT_PATTERNS": lo_mover.size,
        "LO_MOVER": lo_mover,
        "LO_SEEN": lo_seen,
        "HI_MOVER": hi_mover,
        "HI_SEEN": hi_seen,
        "LO_RANK": lo_rank,
        "LO_UNRANK": lo_unrank,
        "LO_COUNT": lo_count,
        "LO_CLASS_START": lo_class_start,
        "RANK_BEFORE": rank_before,
    }


@functools.cache
def derived_constants(rules: RuleSet) -> dict:
    """This module's constants and rank tables for `rules` (and those of `rgou.solve.rules` it reads)."""
    g = solve_rules.derived_constants(rules)
    first, lane_size, private_size, length = g["LANE_FIRST"], g["LANE_SIZE"], g["PRIVATE_SIZE"], rules.track_length
    num_patterns = LANE_STATES**lane_size
    start_bits = (1 << first) - 1
    num_private = 1 << private_size
    end_squares = private_size - first
    masks = np.arange(1 << lane_size, dtype=np.int64)
    popcount = np.array([bin(m).count("1") for m in range(1 << lane_size)], dtype=np.int64)
    tern = np.zeros_like(masks)
    lane_perm = np.zeros_like(masks)  # a lane mask in the opponent's own positions, seen in the mover's
    other = [int(g["OTHER_BIT"][first + i]).bit_length() - 1 - first for i in range(lane_size)]
    for i in range(lane_size):
        on = (masks >> i) & 1
        tern += on * LANE_STATES**i
        lane_perm |= on << other[i]
    # Lane pattern code = sum over squares of 3**i * (0 empty, 1 mover, 2 opponent), squares in the mover's positions.
    codes = np.arange(num_patterns, dtype=np.int64)
    lane_mover, opponent_seen = _digit_masks(lane_size)
    lane_opponent = lane_perm[opponent_seen]  # the opponent's lane mask in its own positions
    # Lane patterns grouped by class (ml, ol), ascending code within a class.
    ml, ol = popcount[lane_mover], popcount[lane_opponent]
    class_id = ml * (lane_size + 1) + ol
    lane_unrank = np.argsort(class_id, kind="stable").astype(np.int64)
    class_count = np.bincount(class_id, minlength=(lane_size + 1) ** 2).reshape(lane_size + 1, lane_size + 1)
    class_start = (np.cumsum(class_count) - class_count.ravel()).reshape(lane_size + 1, lane_size + 1)
    lane_rank = np.empty_like(codes)
    lane_rank[lane_unrank] = codes - class_start.ravel()[class_id[lane_unrank]]
    positions = first + 1 + np.arange(lane_size)  # track position + 1 of each lane square
    occupied = [((lane_mover >> i) & 1) + ((lane_opponent >> i) & 1) for i in range(lane_size)]  # own positions
    lane_level = sum(occupied[i] * positions[i] for i in range(lane_size))

    split = _split_tables(lane_size, popcount)

    order = sorted(range(num_private), key=lambda m: (bin(m).count("1"), m))
    private_at_most = np.array(
        [sum(comb(private_size, j) for j in range(min(c, private_size) + 1)) for c in range(MAX_CAP + 1)],
        dtype=np.int64,
    )
    private_level = np.array(
        [sum(p + 1 for p in range(length) if _private_bit(p, first, lane_size) & m) for m in range(num_private)],
        dtype=np.int64,
    )
    start_level = private_level[np.arange(num_private) & start_bits]
    num_ends = 1 << end_squares
    end_level = private_level[np.arange(num_ends) << first]
    # Pairs (mover mask, opponent mask) of a lane block with private caps (cm, co), grouped into
    # units by (mover's end squares, opponent's end squares, pieces on start squares), and by start
    # level descending inside a unit.
    start_count = np.array([bin(m & start_bits).count("1") for m in range(num_private)], dtype=np.int64)
    pair_rank = np.full((private_size + 1, private_size + 1, num_private, num_private), -1, dtype=np.int16)
    pair_unrank = np.zeros((private_size + 1, private_size + 1, num_private * num_private), dtype=np.int16)
    shape = (private_size + 1, private_size + 1, num_ends, num_ends, 2 * first + 1)
    unit_start = np.zeros(shape, dtype=np.int64)
    unit_stop = np.zeros(shape, dtype=np.int64)

    def unit_key(pair):
        pm, po = pair
        return pm >> first, po >> first, start_count[pm] + start_count[po]

    for cm in range(private_size + 1):
        for co in range(private_size + 1):
            pairs = [(pm, po) for pm in order[: private_at_most[cm]] for po in order[: private_at_most[co]]]
            pairs.sort(key=lambda q: (unit_key(q), -start_level[q[0]] - start_level[q[1]]))  # stable: then ranks
            for r, (pm, po) in enumerate(pairs):
                pair_rank[cm, co, pm, po] = r
                pair_unrank[cm, co, r] = pm | (po << private_size)
                key = (cm, co, *unit_key((pm, po)))
                if unit_stop[key] == 0:
                    unit_start[key] = r
                unit_stop[key] = r + 1

    # swap_rank[cm, co, r]: the rank of pair r's colour swap (the players' private masks exchanged), caps (co, cm).
    caps = np.arange(private_size + 1)
    mover_bits, opponent_bits = pair_unrank & (num_private - 1), pair_unrank >> private_size
    swap_rank = pair_rank[caps[None, :, None], caps[:, None, None], opponent_bits, mover_bits]

    # class_off[a, b, ml, ol]: start of lane class (ml, ol) in a subgroup with caps a, b.
    class_off = np.zeros((MAX_CAP + 1, MAX_CAP + 1, lane_size + 1, lane_size + 1), dtype=np.int64)
    class_size = np.zeros_like(class_off)
    subgroup_size = np.zeros((MAX_CAP + 1, MAX_CAP + 1), dtype=np.int64)
    for a in range(MAX_CAP + 1):
        for b in range(MAX_CAP + 1):
            off = 0
            for cml in range(lane_size + 1):
                for col in range(lane_size + 1):
                    class_off[a, b, cml, col] = off
                    if cml <= a and col <= b:
                        size = class_count[cml, col] * private_at_most[a - cml] * private_at_most[b - col]
                        class_size[a, b, cml, col] = size
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
    return {
        **g,
        **split,
        "NUM_LANE_PATTERNS": num_patterns,
        "LANE_BITS": (1 << lane_size) - 1,
        "START_BITS": start_bits,
        "END_SHIFT": lane_size,  # end track positions <-> private bits first.. (the lane's squares left out)
        "END_BITS": (num_private - 1) & ~start_bits,
        "NUM_PRIVATE": num_private,
        "PRIVATE_MASK": num_private - 1,
        "NUM_ENDS": num_ends,
        "MAX_START_PIECES": 2 * first,
        "LANE_POPCOUNT": popcount,
        "LANE_TERN": tern,
        "LANE_PERM": lane_perm,
        "LANE_MOVER": lane_mover,
        "LANE_OPPONENT": lane_opponent,
        "LANE_RANK": lane_rank,
        "LANE_UNRANK": lane_unrank,
        "CLASS_START": class_start,
        "PRIVATE_AT_MOST": private_at_most,
        # PRIVATE_BIT[p + 1]: the private-mask bit of track position p (0 unentered, on the lane or borne off)
        "PRIVATE_BIT": np.array([0, *(_private_bit(p, first, lane_size) for p in range(length)), 0], dtype=np.int64),
        "LANE_LEVEL": lane_level,
        "END_LEVEL": end_level,
        "PAIR_RANK": pair_rank,
        "PAIR_UNRANK": pair_unrank,
        "SWAP_RANK": swap_rank,
        "UNIT_START": unit_start,
        "UNIT_STOP": unit_stop,
        "CLASS_OFF": class_off,
        "CLASS_SIZE": class_size,
        "SUBGROUP_SIZE": subgroup_size,
        "SUBGROUP_OFF": subgroup_off,
        "COUNT": count,
    }


def solve_order(n_pieces: int) -> list[tuple[int, int]]:
    """Groups (hi, lo) of finished counts, hi >= lo, in the order they are solved.

    A move never lowers a finished count, so group {hi, lo} only depends on
    itself and on groups with one more finished piece: solving by finished
    total descending makes every dependency final before it is read.
    """
    pairs = [(hi, lo) for hi in range(n_pieces) for lo in range(hi + 1)]
    return sorted(pairs, key=lambda g: (-(g[0] + g[1]), -g[0]))


_T = derived_constants(FINKEL)
LANE_SPLIT = _T["LANE_SPLIT"]  # 0: Finkel reads its 6,561 lane patterns from direct tables
SPLIT_PATTERNS = _T["SPLIT_PATTERNS"]
LO_MOVER = _T["LO_MOVER"]
LO_SEEN = _T["LO_SEEN"]
HI_MOVER = _T["HI_MOVER"]
HI_SEEN = _T["HI_SEEN"]
LO_RANK = _T["LO_RANK"]
LO_UNRANK = _T["LO_UNRANK"]
LO_COUNT = _T["LO_COUNT"]
LO_CLASS_START = _T["LO_CLASS_START"]
RANK_BEFORE = _T["RANK_BEFORE"]
LANE_BITS = _T["LANE_BITS"]
START_BITS = _T["START_BITS"]
END_SHIFT = _T["END_SHIFT"]
END_BITS = _T["END_BITS"]
PRIVATE_MASK = _T["PRIVATE_MASK"]
NUM_ENDS = _T["NUM_ENDS"]
MAX_START_PIECES = _T["MAX_START_PIECES"]
LANE_POPCOUNT = _T["LANE_POPCOUNT"]
LANE_TERN = _T["LANE_TERN"]
LANE_PERM = _T["LANE_PERM"]
LANE_MOVER = _T["LANE_MOVER"]
LANE_OPPONENT = _T["LANE_OPPONENT"]
LANE_RANK = _T["LANE_RANK"]
LANE_UNRANK = _T["LANE_UNRANK"]
CLASS_START = _T["CLASS_START"]
PRIVATE_AT_MOST = _T["PRIVATE_AT_MOST"]
PRIVATE_BIT = _T["PRIVATE_BIT"]
LANE_LEVEL = _T["LANE_LEVEL"]
END_LEVEL = _T["END_LEVEL"]
PAIR_RANK = _T["PAIR_RANK"]
PAIR_UNRANK = _T["PAIR_UNRANK"]
SWAP_RANK = _T["SWAP_RANK"]
UNIT_START = _T["UNIT_START"]
UNIT_STOP = _T["UNIT_STOP"]
CLASS_OFF = _T["CLASS_OFF"]
CLASS_SIZE = _T["CLASS_SIZE"]
SUBGROUP_SIZE = _T["SUBGROUP_SIZE"]
SUBGROUP_OFF = _T["SUBGROUP_OFF"]
COUNT = _T["COUNT"]
del _T


def position_count(n_pieces: int, rules: str | RuleSet | None = None) -> int:
    """Number of indexed (non-final, mover-relative) positions of the N-piece game of `rules` (None: Finkel)."""
    n_pieces = check_int("n_pieces", n_pieces, 1, MAX_PIECES)
    rules = RULES if rules is None else rule_set(rules, "rules")
    if rules != RULES:
        return specialise(__name__, rules).position_count(n_pieces, rules)
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
    """The private mask: start squares 0..3 -> bits 0..3, end squares after the lane -> the next bits.

    Finkel: 6 bits (end squares 12, 13 -> bits 4, 5); the 16-square paths: 4 bits.
    """
    return (track_mask & START_BITS) | ((track_mask >> END_SHIFT) & END_BITS)


@njit
def private_to_track(bits):
    """Inverse of `private_bits`."""
    return (bits & START_BITS) | ((bits & END_BITS) << END_SHIFT)


@njit(no_alloc=True)
def encode(n, mover, opponent, fm, fo):
    """Index (int64) of the valid non-final position (mover, opponent, fm, fo) of the n-piece game.

    Valid: fm, fo < n; no lane square is both players'; popcount(mover)
    <= n - fm and popcount(opponent) <= n - fo. Nothing is checked.
    """
    lane_m = (mover >> LANE_FIRST) & LANE_BITS
    lane_o = (opponent >> LANE_FIRST) & LANE_BITS
    block, cm, co = lane_block(n - fm, n - fo, lane_m, lane_o)
    pair = PAIR_RANK[cm, co, private_bits(mover), private_bits(opponent)]
    return SUBGROUP_OFF[n, fm, fo] + block + pair


@njit(no_alloc=True)
def lane_block(a, b, lane_m, lane_o):
    """(block, cm, co): where a lane pattern's positions start in a subgroup with caps a, b, and the private caps.

    lane_m, lane_o: the mover's and the opponent's lane masks, each in its
    own positions (`lane_masks`). The block holds the pattern's positions
    for every private pair (PAIR_RANK[cm, co, ...] past it).
    """
    ml = LANE_POPCOUNT[lane_m]
    ol = LANE_POPCOUNT[lane_o]
    seen = LANE_PERM[lane_o] if LANE_PERMUTED else lane_o  # the opponent's squares in the mover's positions
    code = LANE_TERN[lane_m] + 2 * LANE_TERN[seen]
    cm = min(a - ml, PRIVATE_SIZE)
    co = min(b - ol, PRIVATE_SIZE)
    if LANE_SPLIT:
        rank = RANK_BEFORE[code // SPLIT_PATTERNS, ml, ol] + LO_RANK[code % SPLIT_PATTERNS]
    else:
        rank = LANE_RANK[code]
    return CLASS_OFF[a, b, ml, ol] + rank * PRIVATE_AT_MOST[cm] * PRIVATE_AT_MOST[co], cm, co


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
    lane_m, lane_o = lane_masks(lane_code(ml, ol, q // block))
    pair = PAIR_UNRANK[cm, co, q % block]
    return position_of(lane_m, lane_o, pair)


@njit
def lane_code(ml, ol, rank):
    """The lane pattern of rank `rank` in class (ml, ol): the inverse of the rank `encode` reads."""
    if not LANE_SPLIT:
        return LANE_UNRANK[CLASS_START[ml, ol] + rank]
    for hi in range(HI_MOVER.shape[0]):  # ascending codes are ascending (hi, lo)
        lm = ml - LANE_POPCOUNT[HI_MOVER[hi]]
        lo = ol - LANE_POPCOUNT[HI_SEEN[hi]]
        if 0 <= lm < LO_COUNT.shape[0] and 0 <= lo < LO_COUNT.shape[1]:
            if rank < LO_COUNT[lm, lo]:
                return hi * SPLIT_PATTERNS + LO_UNRANK[LO_CLASS_START[lm, lo] + rank]
            rank -= LO_COUNT[lm, lo]
    return -1


@njit(no_alloc=True)
def lane_masks(code):
    """(mover's lane mask, opponent's lane mask in its own positions) of lane pattern `code`."""
    if LANE_SPLIT:
        lo = code % SPLIT_PATTERNS
        hi = code // SPLIT_PATTERNS
        seen = LO_SEEN[lo] | (HI_SEEN[hi] << LANE_SPLIT)
        return LO_MOVER[lo] | (HI_MOVER[hi] << LANE_SPLIT), LANE_PERM[seen]
    return LANE_MOVER[code], LANE_OPPONENT[code]


@njit
def position_of(lane_m, lane_o, pair):
    """(mover, opponent) masks of the lane masks (`lane_masks`) and packed private pair `pair` (PAIR_UNRANK)."""
    mover = private_to_track(pair & PRIVATE_MASK) | (lane_m << LANE_FIRST)
    opponent = private_to_track(pair >> PRIVATE_SIZE) | (lane_o << LANE_FIRST)
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
