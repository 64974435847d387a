"""The units of a group: how the solver packs, orders and spans them, and the unit a move leads to.

A unit (`rgou.solve.index`) is a run of at most 70 consecutive indices: the
positions of one subgroup (the mover's and the opponent's finished counts)
with the same lane pattern, the same end squares of each player and the
same number of the mover's pieces on start squares. The solver sweeps a
group unit by unit (`rgou.solve.sweep`), each unit with its colour swaps,
units of higher level (more progress) first. This module holds what the
solver knows about units without sweeping them:

* `group_units`: the units of a subgroup in sweep order, packed in one
  int64 each (`derived_constants`), and where each unit level starts;
* `unit_fields`, `unit_span`: a packed unit's fields and its indices;
* `unit_map`, `unit_drift_bound`: which unit a move leads to, from the move
  alone, and so how far the values a unit's moves read have moved;
* `capture_drop`: how far a capture can lower the unit level.
"""

from __future__ import annotations

import functools

import numpy as np

from rgou._numba import njit
from rgou.rules import FINKEL, RuleSet
from rgou.solve.index import (
    CLASS_OFF,
    END_LEVEL,
    LANE_BITS,
    LANE_LEVEL,
    LANE_MOVER,
    LANE_OPPONENT,
    LANE_PERM,
    LANE_POPCOUNT,
    LANE_RANK,
    LANE_TERN,
    LANE_UNRANK,
    MAX_START_PIECES,
    NUM_ENDS,
    PRIVATE_AT_MOST,
    SUBGROUP_OFF,
    UNIT_START,
    UNIT_STOP,
    lane_block,
    lane_masks,
)
from rgou.solve.index import derived_constants as index_constants
from rgou.solve.rules import (
    BEAR_OFF,
    BORE_OFF,
    LANE_FIRST,
    LANE_PERMUTED,
    LANE_SIZE,
    NUM_MOVE_ROLLS,
    PRIVATE_SIZE,
    ROLLS_AGAIN,
    move_outcome,
)


@functools.cache
def derived_constants(rules: RuleSet) -> dict:
    """How a unit is packed for `rules`: lane code | ends << s | ends << s + e | start pieces << s + 2 e.

    s holds a lane code (Finkel: 6561 codes, 13 bits; the 12-square lanes:
    531,441 codes, 20 bits), e a player's end squares (Finkel 2, else 0).
    """
    g = index_constants(rules)
    shift = (g["NUM_LANE_PATTERNS"] - 1).bit_length()
    ends = g["NUM_ENDS"].bit_length() - 1
    return {
        **g,
        "UNIT_ENDS_SHIFT": shift,
        "ENDS_BITS": ends,
        "ENDS_MASK": (1 << ends) - 1,
        "UNIT_CODE_MASK": (1 << shift) - 1,
        "UNIT_START_SHIFT": shift + 2 * ends,
    }


_FINKEL = derived_constants(FINKEL)
UNIT_ENDS_SHIFT = _FINKEL["UNIT_ENDS_SHIFT"]  # Finkel: code (13 bits) | ends << 13 | ends << 15 | pieces << 17
ENDS_BITS = _FINKEL["ENDS_BITS"]
ENDS_MASK = _FINKEL["ENDS_MASK"]
UNIT_CODE_MASK = _FINKEL["UNIT_CODE_MASK"]
UNIT_START_SHIFT = _FINKEL["UNIT_START_SHIFT"]
del _FINKEL


@njit
def unit_fields(unit):
    """(lane_m, lane_o, mover_ends, opponent_ends, start_pieces) of a unit packed as `group_units` packs it.

    lane_m, lane_o: the mover's and the opponent's lane masks, each in its own positions (`lane_masks`).
    """
    lane_m, lane_o = lane_masks(unit & UNIT_CODE_MASK)
    mover_ends = (unit >> UNIT_ENDS_SHIFT) & ENDS_MASK
    opponent_ends = (unit >> (UNIT_ENDS_SHIFT + ENDS_BITS)) & ENDS_MASK
    return lane_m, lane_o, mover_ends, opponent_ends, unit >> UNIT_START_SHIFT


@njit
def unit_span(n, fm, fo, lane_m, lane_o, mover_ends, opponent_ends, start_pieces, group_start):
    """(block, cm, co, first, stop) of a unit of subgroup (fm, fo): its positions are the group-local indices
    block + r for r in [first, stop), and pair r's private pieces are PAIR_UNRANK[cm, co, r].

    The unit's colour swaps are the unit of subgroup (fo, fm) with the players' fields swapped:
    unit_span(n, fo, fm, lane_o, lane_m, opponent_ends, mover_ends, start_pieces, group_start).
    """
    block, cm, co = lane_block(n - fm, n - fo, lane_m, lane_o)
    block += SUBGROUP_OFF[n, fm, fo] - group_start
    first = UNIT_START[cm, co, mover_ends, opponent_ends, start_pieces]
    return block, cm, co, first, UNIT_STOP[cm, co, mover_ends, opponent_ends, start_pieces]


@njit(no_alloc=True)
def lane_code(lane_m, lane_o):
    """The lane pattern code of the lane masks (`lane_masks`' inverse)."""
    return LANE_TERN[lane_m] + 2 * LANE_TERN[LANE_PERM[lane_o] if LANE_PERMUTED else lane_o]


def swapped_lane_codes(codes: np.ndarray) -> np.ndarray:
    """The lane codes (int64 array) of the colour swaps of lane patterns `codes`: `lane_code` over arrays."""
    mover, opponent = LANE_OPPONENT[codes], LANE_MOVER[codes]  # each player's lane mask in its own positions
    return LANE_TERN[mover] + 2 * LANE_TERN[LANE_PERM[opponent] if LANE_PERMUTED else opponent]


@njit
def capture_drop(lane):
    """How far a capture of a piece of `lane` (a player's lane mask, own positions) can lower the unit level.

    The captured piece took its track position + 1 off the level and the
    capturing piece adds at least 1 (it moves forward, or from a start square,
    which counts 1, onto the lane): at most the furthest piece's track position.
    Every move that captures nothing keeps or raises the level.
    """
    drop = 0
    square = LANE_FIRST
    while lane:
        if lane & 1:
            drop = square
        lane >>= 1
        square += 1
    return drop


@njit(no_alloc=True)
def unit_drift_bound(n, fm, fo, hi, lane_m, lane_o, mover_ends, opponent_ends, pieces, unit_of, unit_drift):
    """How far the values a unit's moves read in the group moved since the last full sweep began, by unit.

    The unit of subgroup (fm, fo) has lane masks lane_m, lane_o, end-square
    masks mover_ends, opponent_ends and `pieces` pieces on start squares. A
    move's successor lies in one unit, given by the move alone: its lanes,
    ends and start pieces change as the moving piece's squares (and a
    captured piece) say. So the largest unit_drift (float64[units], each
    swept unit's changes summed over the sweeps since the last full sweep
    began) over the units of every move some position of the unit may have
    bounds the drift of every value its positions read (bear-offs read final
    values). unit_of (`unit_map`) numbers the units of the group being
    solved, whose larger finished count is hi. A bound per unit instead of
    per unit level (`_sweep_drift`): later full sweeps follow more moves.
    """
    a = n - fm
    ml = LANE_POPCOUNT[lane_m]
    on_board = ml + LANE_POPCOUNT[mover_ends]
    mover = (lane_m << LANE_FIRST) | (mover_ends << (LANE_FIRST + LANE_SIZE))
    opponent = lane_o << LANE_FIRST
    bound = 0.0
    for source in range(-1, BEAR_OFF):
        if source < 0:
            if on_board >= a:  # every piece is on the lane or the end squares: none unentered
                continue
        elif source < LANE_FIRST:
            if pieces == 0 or on_board >= a:
                continue
        elif not (mover >> source) & 1:
            continue
        for roll in range(1, min(NUM_MOVE_ROLLS, BEAR_OFF - source) + 1):
            target = source + roll
            kind, m2, o2 = move_outcome(mover, opponent, source, roll)
            if kind == BORE_OFF:
                continue  # a final value
            starts = pieces + (1 if target < LANE_FIRST else 0) - (1 if 0 <= source < LANE_FIRST else 0)
            if starts > MAX_START_PIECES:
                continue
            lm2 = (m2 >> LANE_FIRST) & LANE_BITS
            lo2 = (o2 >> LANE_FIRST) & LANE_BITS
            em2 = (m2 >> (LANE_FIRST + LANE_SIZE)) & ENDS_MASK
            if kind == ROLLS_AGAIN:
                k = unit_of[0 if fm == hi else 1, lane_code(lm2, lo2), em2, opponent_ends, starts]
            else:
                k = unit_of[0 if fo == hi else 1, lane_code(lo2, lm2), opponent_ends, em2, starts]
            if k >= 0:
                bound = max(bound, unit_drift[k])
    return bound


def group_units(n: int, fm: int, fo: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The units of subgroup (fm, fo) in sweep order, where each unit level starts, and the levels.

    Returns (units, level_start, level_value): units is int64[k], each packed as
    `derived_constants` says (Finkel: lane code | mover ends << 13 |
    opponent ends << 15 | start pieces << 17), sorted by
    unit level descending, then index; units[level_start[j]:level_start[j +
    1]] share level level_value[j]. For fm == fo a unit whose colour swap
    (also in the subgroup) comes first is left out: sweeping that one covers
    both.
    """
    a, b = n - fm, n - fo
    codes = LANE_UNRANK
    ml, ol = LANE_POPCOUNT[LANE_MOVER[codes]], LANE_POPCOUNT[LANE_OPPONENT[codes]]
    fits = (ml <= a) & (ol <= b)
    codes, ml, ol = codes[fits], ml[fits], ol[fits]
    cm, co = np.minimum(a - ml, PRIVATE_SIZE), np.minimum(b - ol, PRIVATE_SIZE)
    block = (
        SUBGROUP_OFF[n, fm, fo] + CLASS_OFF[a, b, ml, ol] + LANE_RANK[codes] * PRIVATE_AT_MOST[cm] * PRIVATE_AT_MOST[co]
    )
    swapped = swapped_lane_codes(codes)
    swapped_block = (
        SUBGROUP_OFF[n, fo, fm]
        + CLASS_OFF[b, a, ol, ml]
        + LANE_RANK[swapped] * PRIVATE_AT_MOST[co] * PRIVATE_AT_MOST[cm]
    )
    units, levels, starts = [], [], []
    for em in range(NUM_ENDS):
        for eo in range(NUM_ENDS):
            for pieces in range(MAX_START_PIECES + 1):
                first = UNIT_START[cm, co, em, eo, pieces]
                keep = UNIT_STOP[cm, co, em, eo, pieces] > first
                if fm == fo:
                    keep &= block + first <= swapped_block + UNIT_START[co, cm, eo, em, pieces]
                units.append(
                    codes[keep]
                    | (em << UNIT_ENDS_SHIFT)
                    | (eo << (UNIT_ENDS_SHIFT + ENDS_BITS))
                    | (pieces << UNIT_START_SHIFT)
                )
                levels.append(LANE_LEVEL[codes[keep]] + END_LEVEL[em] + END_LEVEL[eo] + pieces)
                starts.append(block[keep] + first[keep])
    units, levels, starts = np.concatenate(units), np.concatenate(levels), np.concatenate(starts)
    order = np.lexsort((starts, -levels))
    units, levels = units[order], levels[order]
    level_start = np.flatnonzero(np.diff(levels, prepend=levels[0] + 1, append=levels[-1] - 1))
    return np.ascontiguousarray(units), level_start.astype(np.int64), levels[level_start[:-1]].astype(np.int64)


def unit_map(hi: int, lo: int, units: np.ndarray) -> np.ndarray:
    """unit_of (int32[2, lane codes, ends, ends, start pieces + 1]): which of `units` (`group_units` of
    subgroup (hi, lo)) sweeps the positions of each unit of the group, -1 for none.

    unit_of[side, lane code, mover's ends, opponent's ends, start pieces], side 0 for subgroup (hi, lo) and 1
    for (lo, hi) (0 for both when hi == lo): a unit sweeps its own positions and its colour swaps'.
    """
    unit_of = np.full((2, LANE_RANK.shape[0], NUM_ENDS, NUM_ENDS, MAX_START_PIECES + 1), -1, dtype=np.int32)
    code = units & UNIT_CODE_MASK
    mover_ends = (units >> UNIT_ENDS_SHIFT) & ENDS_MASK
    opponent_ends = (units >> (UNIT_ENDS_SHIFT + ENDS_BITS)) & ENDS_MASK
    pieces = units >> UNIT_START_SHIFT
    swapped = swapped_lane_codes(code)
    k = np.arange(units.size, dtype=np.int32)
    unit_of[0, code, mover_ends, opponent_ends, pieces] = k
    unit_of[0 if hi == lo else 1, swapped, opponent_ends, mover_ends, pieces] = k
    return unit_of
