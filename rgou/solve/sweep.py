"""One sweep of value iteration over a group of the N-piece game, in Numba.

The value V(x) of a position is the probability that the player to move
wins, before rolling, under perfect play:

    V(x) = sum_r P(r) * best_r(x)
    best_r(x) = max over legal moves with roll r of
                  1                 the mover bore off its last piece
                  V(y)              y: the mover landed on a rosette (moves again)
                  1 - V(y)          y: seen by the opponent, who moves next
                or 1 - V(swap x)    no legal move (always for r = 0): the turn passes

A sweep updates every position of one group ({fm, fo}, `rgou.solve.solver`
orders the groups) in place, reading the later groups' final values:

* Units. Inside a group, positions come in units (`rgou.solve.index`;
  their packing, order and spans: `rgou.solve.units`): a lane pattern,
  both players' end squares and the number of pieces on start squares.
  Every move without a capture either stays in the unit (or
  its colour swap) and raises the start level, or raises the unit level;
  every capture lowers the unit level. A sweep visits unit levels from the
  highest down and each unit by start level descending, so each position
  reads values already updated in this sweep for every move but captures
  to lower levels, which read the previous sweep's.
* Pass pairs. Passing the turn links x and its colour swap (same board,
  other player to move), which read each other with weight q (the
  probability of a roll with no move). Each pair is solved exactly from
  V(x) = c + q (1 - V(x')) and V(x') = c' + q' (1 - V(x)); a unit is swept
  together with its colour-swapped twin.

So the units of one level are independent of each other and are updated in
parallel (`prange`); the result does not depend on the thread count or the
scheduling, and a sweep is bit-for-bit reproducible. A unit is a run of at
most 70 consecutive indices, so a sweep reads memory almost in order.

Two kinds of sweep. A full sweep finds and records the best move of every
roll (the policy), generating the moves of each position where they may
have changed. A following sweep instead follows the recorded moves
(modified policy iteration): about four times cheaper, since it neither
generates moves nor reads the losing successors, and it may skip the units
that have settled. A full sweep generates a position's moves only where its
best moves may have changed since it last did (`best_moves`: its margin
against the changes since of the unit levels its moves can reach, or where
that is not enough, of the units they lead to: `unit_drift_bound`);
elsewhere it follows them, with the same result bit for bit. Generating a
position's moves finds each successor from the block its lane pieces lead
to, computed once a unit (`successor_blocks`), and the successor's private
pieces. A sweep requests the values a unit's recorded moves read a few
positions ahead (`prefetch`), since they are scattered over the group, and
the rows of the units it will visit next (`request_unit`): units of one
level lie far apart, and so do a unit and its colour swaps.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import prange

from rgou._numba import njit, prefetch, prefetch_span
from rgou.rules import FINKEL, RuleSet
from rgou.solve.index import (
    COUNT,
    LANE_BITS,
    PAIR_RANK,
    PAIR_UNRANK,
    PRIVATE_BIT,
    SUBGROUP_OFF,
    SWAP_RANK,
    decode,
    encode,
    lane_block,
    position_of,
    private_bits,
)
from rgou.solve.rules import (
    BORE_OFF,
    LANE_FIRST,
    LOWEST_BIT,
    MAX_PIECES,
    NUM_MOVE_ROLLS,
    PRIVATE_SIZE,
    ROLL_PROB,
    ROLLS_AGAIN,
    TURN_PASSES,
    landing_mask,
    movable,
    move_outcome,
    popcount,
)
from rgou.solve.units import capture_drop, unit_drift_bound, unit_fields, unit_span
from rgou.solve.units import derived_constants as units_constants

NUM_CHUNKS = 64  # parallel work items per unit level (fixed, so results do not depend on threads)


@functools.cache
def derived_constants(rules: RuleSet) -> dict:
    """The unit packing of `rules` (`rgou.solve.units`) and the size of `successor_blocks`' cache."""
    g = units_constants(rules)
    return {**g, "SUCCESSOR_KEY": (g["BEAR_OFF"] + 1) * NUM_MOVE_ROLLS}


SUCCESSOR_KEY = derived_constants(FINKEL)["SUCCESSOR_KEY"]  # `successor_blocks`: 4 * (source + 1) + roll - 1, the key
MIN_PARALLEL_UNITS = 1 << 8  # about 5,000 positions: smaller unit levels are swept on one thread
# Recorded best moves (int32): NO_MOVE, WIN, or kind << KIND_SHIFT | index.
NO_MOVE = -1
WIN = -2
KIND_SHIFT = 29  # indices < 2**29 (the 7-piece tables: Finkel 137,870,097 positions, Masters 500,929,993)
assert TURN_PASSES < ROLLS_AGAIN < BORE_OFF  # `follow` tests the kinds by range
INDEX_MASK = (1 << KIND_SHIFT) - 1

# Margins (uint16 a position): a lower bound of half the gap between the best and second-best move of
# its rolls, as the upper 16 bits of a float32 (sign, exponent, 7 bits of mantissa): at most 1/128 lost
# from 2**-126 (float32's smallest normal) up to float32's largest, which larger margins become.
MARGIN_SHIFT = 16  # float32 bits dropped
NO_MARGIN = 0  # the code of 0.0
NO_CHOICE = int(np.float32(np.inf).view(np.uint32)) >> MARGIN_SHIFT  # inf: no roll has two moves, none changes
MARGIN_SLACK = 1e-12  # rounding of the changes that bound the drift (each about 1e-16)
PREFETCH_AHEAD = 8  # a sweep requests the values the recorded moves read this many pairs of a unit ahead
UNITS_AHEAD = 4  # and the recorded moves, values and margins of the units it will visit next, this many ahead
# A move's successor block (`successor_block`): block << SUCCESSOR_SHIFT | kind << KIND_AT | cm << CAPS_BITS | co.
CAPS_BITS = 3
CAPS_MASK = (1 << CAPS_BITS) - 1
KIND_AT = 2 * CAPS_BITS
KIND_MASK = 3
SUCCESSOR_SHIFT = KIND_AT + 2
assert PRIVATE_SIZE <= CAPS_MASK and BORE_OFF <= KIND_MASK
NO_KEY = -1  # an entry of `successor_blocks` not computed yet


@njit(no_alloc=True)
def successor_block(n, mover, opponent, fm, fo, group_start, source, roll):
    """Where the successor of the legal move of the piece on `source` by `roll` lies, but for its private pieces.

    block << SUCCESSOR_SHIFT | kind << KIND_AT | cm << CAPS_BITS | co: the
    successor's index is block + PAIR_RANK[cm, co, its mover's private bits,
    its opponent's] (group-local, or in the table for a bear-off; block 0
    for a win). None of it depends on the private pieces: the positions of a
    unit (one lane pattern) share it (`successor_blocks`).
    """
    kind, m2, o2 = move_outcome(mover, opponent, source, roll)
    m2 = (m2 >> LANE_FIRST) & LANE_BITS
    o2 = (o2 >> LANE_FIRST) & LANE_BITS
    if kind == BORE_OFF:
        if fm + 1 == n:
            return kind << KIND_AT
        block, cm, co = lane_block(n - fo, n - fm - 1, (opponent >> LANE_FIRST) & LANE_BITS, m2)
        block += SUBGROUP_OFF[n, fo, fm + 1]
    elif kind == ROLLS_AGAIN:
        block, cm, co = lane_block(n - fm, n - fo, m2, o2)
        block += SUBGROUP_OFF[n, fm, fo] - group_start
    else:
        block, cm, co = lane_block(n - fo, n - fm, o2, m2)
        block += SUBGROUP_OFF[n, fo, fm] - group_start
    return (block << SUCCESSOR_SHIFT) | (kind << KIND_AT) | (cm << CAPS_BITS) | co


@njit(no_alloc=True)
def successor_blocks(mover, opponent, fm, fo, blocks):
    """Empty the cache of `successor_block`s unless it was filled for these lane pieces and finished counts.

    blocks (int64[SUCCESSOR_KEY + 1]): blocks[4 * (source + 1) + roll - 1]
    is the `successor_block` of moving the piece on `source` by `roll`, or
    NO_KEY until a position needs it; blocks[SUCCESSOR_KEY] holds the lanes
    and counts they are for. The positions of a unit share them, so each is
    computed once a unit instead of `encode` once a move.
    """
    lane_m = (mover >> LANE_FIRST) & LANE_BITS
    lane_o = (opponent >> LANE_FIRST) & LANE_BITS
    key = ((lane_m * (LANE_BITS + 1) + lane_o) * (MAX_PIECES + 1) + fm) * (MAX_PIECES + 1) + fo
    if blocks[SUCCESSOR_KEY] != key:
        for slot in range(SUCCESSOR_KEY):
            blocks[slot] = NO_KEY
        blocks[SUCCESSOR_KEY] = key


@njit
def choices(n, mover, opponent, fm, fo, table, work, group_start, policy, at, blocks):
    """(c, q, h) of position x: V(x) = c + q * (1 - V(swap x)); records the best moves in policy[at:at + 4].

    c sums P(r) * the best move's value over the rolls with a legal move; q
    is the total probability of the rolls without one (roll 0 included); h
    is half the smallest gap between a roll's best and second-best move
    (inf: no roll has two legal moves): while no move's value changes by h
    or more, the best moves stay the same.
    Values of the group being solved are read from `work` (float64, offset
    `group_start`), bear-offs from `table` (final). The best move of roll r
    goes to policy[at + r - 1] (the first best wins ties): NO_MOVE, WIN, or
    kind << KIND_SHIFT | index, with a group-local index for TURN_PASSES /
    ROLLS_AGAIN and a table index for BORE_OFF. blocks: the cache of
    `successor_blocks` (emptied here when the position's lanes or counts
    differ from those it holds).
    """
    successor_blocks(mover, opponent, fm, fo, blocks)
    pm = private_bits(mover)
    po = private_bits(opponent)  # a move never changes the opponent's private pieces (captures are on the lane)
    land = landing_mask(mover, opponent)
    unentered = 1 if n - fm - popcount(mover) > 0 else 0
    c = 0.0
    q = ROLL_PROB[0]
    half_gap = np.inf
    for roll in range(1, ROLL_PROB.shape[0]):
        best = -1.0
        second = -1.0
        entry = NO_MOVE
        rest = movable(mover, land, unentered, roll)
        while rest:
            source = LOWEST_BIT[rest] - 1
            rest &= rest - 1
            slot = NUM_MOVE_ROLLS * (source + 1) + roll - 1
            packed = blocks[slot]
            if packed == NO_KEY:
                packed = successor_block(n, mover, opponent, fm, fo, group_start, source, roll)
                blocks[slot] = packed
            block = packed >> SUCCESSOR_SHIFT
            kind = (packed >> KIND_AT) & KIND_MASK
            caps_m = (packed >> CAPS_BITS) & CAPS_MASK
            caps_o = packed & CAPS_MASK
            moved = (pm & ~PRIVATE_BIT[source + 1]) | PRIVATE_BIT[source + roll + 1]  # the mover's private bits after
            if kind == BORE_OFF:
                if fm + 1 == n:
                    value = 1.0
                    candidate = WIN
                else:
                    target = block + PAIR_RANK[caps_m, caps_o, po, moved]
                    value = 1.0 - table[target]
                    candidate = (BORE_OFF << KIND_SHIFT) | target
            elif kind == ROLLS_AGAIN:
                target = block + PAIR_RANK[caps_m, caps_o, moved, po]
                value = work[target]
                candidate = (ROLLS_AGAIN << KIND_SHIFT) | target
            else:
                target = block + PAIR_RANK[caps_m, caps_o, po, moved]
                value = 1.0 - work[target]
                candidate = (TURN_PASSES << KIND_SHIFT) | target
            second = max(second, min(value, best))  # branch-free: the second-best, then the best
            entry = candidate if value > best else entry
            best = max(best, value)
        policy[at + roll - 1] = entry
        if best < 0.0:
            q += ROLL_PROB[roll]
        else:
            c += ROLL_PROB[roll] * best
            if second >= 0.0:
                half_gap = min(half_gap, 0.5 * (best - second))
    return c, q, half_gap


@njit
def margin_code(h):
    """A margin code whose value is at most h: NO_MARGIN for h <= 0 (or NaN), NO_CHOICE for inf.

    The float32 at or below h, its low 16 bits dropped (towards zero).
    """
    if not h > 0.0:
        return NO_MARGIN
    single = np.float32(h)
    bits = np.int64(single.view(np.uint32))
    if single > h:  # rounded up: the float32 below (for a positive float, the bit pattern below)
        bits -= 1
    return bits >> MARGIN_SHIFT


@njit
def margin_value(code):
    """The margin a code stands for (a lower bound of what was stored)."""
    return np.float64(np.uint32(np.int64(code) << MARGIN_SHIFT).view(np.float32))


@njit
def best_moves(n, mover, opponent, fm, fo, ix, table, work, group_start, policy, margin, drift, bound, blocks):
    """(c, q, moves generated: 0 or 1) of the position at group-local index ix, in a full sweep.

    Its margin (half the gap of its best moves when last generated, less the
    drift since) bounds how far any move's value may move before the best
    moves change. The values it reads moved by at most `drift` since the last
    full sweep began (the largest changes of their unit levels in every sweep
    since, summed) and `bound` in this sweep so far. Within that margin the
    recorded moves are still the best, and following them gives the same c
    and q bit for bit; otherwise the moves are generated again and the
    margin renewed.
    """
    h = margin_value(margin[ix]) - drift
    if h > bound + MARGIN_SLACK:
        c, q = follow(policy, NUM_MOVE_ROLLS * ix, table, work)
        margin[ix] = margin_code(h)
        return c, q, 0
    c, q, h = choices(n, mover, opponent, fm, fo, table, work, group_start, policy, NUM_MOVE_ROLLS * ix, blocks)
    margin[ix] = margin_code(h)
    return c, q, 1


@njit
def request_moves(policy, at, table, work):
    """Start loading the values the moves recorded in policy[at:at + 4] read (`prefetch`)."""
    for roll in range(NUM_MOVE_ROLLS):
        entry = policy[at + roll]
        if (TURN_PASSES << KIND_SHIFT) <= entry < (BORE_OFF << KIND_SHIFT):
            prefetch(work, entry & INDEX_MASK)
        elif entry >= (BORE_OFF << KIND_SHIFT):
            prefetch(table, entry & INDEX_MASK)


@njit
def request_pair(ix, iy, policy, table, work):
    """`request_moves` for the positions at group-local indices ix and iy (a pair: x and its colour swap)."""
    request_moves(policy, NUM_MOVE_ROLLS * ix, table, work)
    request_moves(policy, NUM_MOVE_ROLLS * iy, table, work)


@njit
def follow(policy, at, table, work):
    """(c, q) as `choices` computes them, for the moves it recorded in policy[at:at + 4].

    The common entries, moves that stay in the group, are tested first and
    read with a select instead of a branch on their kind: 15% faster sweeps.
    """
    c = 0.0
    q = ROLL_PROB[0]
    for roll in range(1, ROLL_PROB.shape[0]):
        entry = policy[at + roll - 1]
        p = ROLL_PROB[roll]
        if (TURN_PASSES << KIND_SHIFT) <= entry < (BORE_OFF << KIND_SHIFT):
            value = work[entry & INDEX_MASK]
            c += p * (value if entry >= (ROLLS_AGAIN << KIND_SHIFT) else 1.0 - value)
        elif entry == NO_MOVE:
            q += p
        elif entry == WIN:
            c += p
        else:
            c += p * (1.0 - table[entry & INDEX_MASK])
    return c, q


@njit
def solve_pair(ix, iy, c1, q1, c2, q2, work):
    """Write V(x), V(swap x) from V(x) = c1 + q1 (1 - V(y)), V(y) = c2 + q2 (1 - V(x)); the largest change."""
    if ix == iy:
        vx = (c1 + q1) / (1.0 + q1)
        change = abs(vx - work[ix])
        work[ix] = vx
        return change
    vx = (c1 + q1 - q1 * (c2 + q2)) / (1.0 - q1 * q2)
    vy = c2 + q2 * (1.0 - vx)
    change = max(abs(vx - work[ix]), abs(vy - work[iy]))
    work[ix] = vx
    work[iy] = vy
    return change


@njit
def follow_pair(ix, iy, table, work, policy):
    """Update position x, group-local index ix, with its colour swap (index iy), following their recorded moves
    (policy[4 * i:4 * i + 4] for local index i). Returns the largest change.

    Few arguments, so that it inlines into a sweep's loop: Numba passes an array as seven values, and two
    arrays more in a call per pair cost a following sweep 12% (measured).
    """
    c1, q1 = follow(policy, NUM_MOVE_ROLLS * ix, table, work)
    c2, q2 = c1, q1
    if ix != iy:
        c2, q2 = follow(policy, NUM_MOVE_ROLLS * iy, table, work)
    return solve_pair(ix, iy, c1, q1, c2, q2, work)


@njit
def request_unit(n, fm, fo, unit, group_start, policy, work, margin, improve):
    """Start loading the recorded moves and values (and margins) of a unit and of its colour swaps (`prefetch`).

    A sweep visits units scattered over the group, so each unit's first
    reads of its own rows would otherwise wait on memory.
    """
    lane_m, lane_o, mover_ends, opponent_ends, pieces = unit_fields(unit)
    block, _, _, first, last = unit_span(n, fm, fo, lane_m, lane_o, mover_ends, opponent_ends, pieces, group_start)
    twin, _, _, twin_first, twin_last = unit_span(
        n, fo, fm, lane_o, lane_m, opponent_ends, mover_ends, pieces, group_start
    )
    for start, stop in ((block + first, block + last), (twin + twin_first, twin + twin_last)):
        prefetch_span(policy, NUM_MOVE_ROLLS * start, NUM_MOVE_ROLLS * stop)
        prefetch_span(work, start, stop)
        if improve:  # a full sweep reads the margins too
            prefetch_span(margin, start, stop)


@njit
def sweep_unit(
    n,
    fm,
    fo,
    unit,
    level,
    table,
    work,
    group_start,
    policy,
    improve,
    margin,
    drift_from,
    swept,
    blocks_x,
    blocks_y,
    unit_of,
    unit_drift,
):
    """Update the positions of one unit of subgroup (fm, fo) (and their colour swaps), in index order.

    `unit` packs (lane code, mover's end squares, opponent's end squares,
    start pieces) as `group_units` does; `level` is its unit level. Pair r
    is at block + r, its colour swap at twin + SWAP_RANK[cm, co, r] (twin:
    the start of the colour-swapped unit's block). swept:
    the largest change of this sweep's finished unit levels; the only other
    values this sweep has changed that a position reads are those of its unit
    and its colour-swapped twin, updated here. drift_from[l]: how far the
    values of unit levels l and up moved since the last full sweep began
    (`_sweep_drift`); a position's successors in the group lie at levels
    level - capture_drop(its opponent's lane pieces) and up. The values the
    recorded moves of the pair PREFETCH_AHEAD ahead read are requested
    before each update (`prefetch`: the reads of a sweep are scattered).
    Returns (the largest change, positions whose moves were generated).
    """
    lane_m, lane_o, mover_ends, opponent_ends, pieces = unit_fields(unit)
    block, cm, co, first, stop = unit_span(n, fm, fo, lane_m, lane_o, mover_ends, opponent_ends, pieces, group_start)
    twin = unit_span(n, fo, fm, lane_o, lane_m, opponent_ends, mover_ends, pieces, group_start)[0]
    drift_x = drift_from[max(level - capture_drop(lane_o), 0)]
    drift_y = drift_from[max(level - capture_drop(lane_m), 0)]
    tightened = False  # drift_x, drift_y are bounded by unit too (`unit_drift_bound`)
    worst = 0.0
    generated = 0
    for r in range(first, min(first + PREFETCH_AHEAD, stop)):
        request_pair(block + r, twin + SWAP_RANK[cm, co, r], policy, table, work)
    for r in range(first, stop):
        ahead = r + PREFETCH_AHEAD
        if ahead < stop:
            request_pair(block + ahead, twin + SWAP_RANK[cm, co, ahead], policy, table, work)
        ix = block + r
        iy = twin + SWAP_RANK[cm, co, r]
        if iy < ix and fm == fo:  # x is updated as the swap of the position at iy
            continue
        count = 0
        if improve:  # a full sweep: follow where both margins hold (`best_moves`), in this loop; else generate
            bound = max(swept, worst) + MARGIN_SLACK
            gap_x = margin_value(margin[ix])
            gap_y = margin_value(margin[iy])
            hx = gap_x - drift_x
            hy = gap_y - drift_y
            maybe = gap_x > bound and gap_y > bound and drift_x + drift_y < np.inf  # inf: generate every move
            if not (hx > bound and hy > bound) and maybe and not tightened:
                tightened = True  # the drift by unit, once a unit, where it may let the pair follow
                drift_x = min(drift_x, unit_drift_bound(n, fm, fo, fm, lane_m, lane_o, mover_ends, opponent_ends,
                                                        pieces, unit_of, unit_drift))  # fmt: skip
                drift_y = min(drift_y, unit_drift_bound(n, fo, fm, fm, lane_o, lane_m, opponent_ends, mover_ends,
                                                        pieces, unit_of, unit_drift))  # fmt: skip
                hx = gap_x - drift_x
                hy = gap_y - drift_y
            if hx > bound and hy > bound:
                change = follow_pair(ix, iy, table, work, policy)
                margin[ix] = margin_code(hx)
                margin[iy] = margin_code(hy)
            else:
                # generate the moves of x, or its swap, or both: where its own margin does not hold (`best_moves`)
                mover, opponent = position_of(lane_m, lane_o, PAIR_UNRANK[cm, co, r])
                now = max(swept, worst)
                c1, q1, count = best_moves(n, mover, opponent, fm, fo, ix, table, work, group_start, policy, margin,
                                           drift_x, now, blocks_x)  # fmt: skip
                c2, q2 = c1, q1
                if ix != iy:
                    c2, q2, swapped = best_moves(n, opponent, mover, fo, fm, iy, table, work, group_start, policy,
                                                 margin, drift_y, now, blocks_y)  # fmt: skip
                    count += swapped
                change = solve_pair(ix, iy, c1, q1, c2, q2, work)
        else:
            change = follow_pair(ix, iy, table, work, policy)
        generated += count
        if change > worst:
            worst = change
    return worst, generated


@njit
def skipped(improve, unit_change, settled, k):
    """Whether a sweep leaves unit k alone: a following sweep skips the units that have settled."""
    return not improve and unit_change[k] < settled


@njit
def visit(n, fm, fo, units, level, first, stop, state, swept, blocks):
    """Sweep units[first:stop] in order, recording each unit's largest change in unit_change.

    state: `sweep`'s (table, work, group_start, policy, improve, unit_change,
    settled, margin, drift_from). A sweep that follows the recorded moves
    skips a unit whose last change was below `settled`; a full sweep visits
    every unit. Returns (the largest change, positions whose moves were
    generated).
    """
    table, work, group_start, policy, improve, unit_change, settled, margin, drift_from, unit_of, unit_drift = state
    x, y = blocks[0], blocks[1]  # `successor_blocks`' caches of the units' positions and of their colour swaps
    worst = 0.0
    generated = 0
    ahead = first  # the next unit to consider requesting (`request_unit`)
    pending = 0  # units requested and not yet swept
    for k in range(first, stop):
        if skipped(improve, unit_change, settled, k):
            continue
        if ahead <= k:
            ahead = k + 1
            pending = 0
        else:
            pending -= 1
        while pending < UNITS_AHEAD and ahead < stop:
            if not skipped(improve, unit_change, settled, ahead):
                request_unit(n, fm, fo, units[ahead], group_start, policy, work, margin, improve)
                pending += 1
            ahead += 1
        change, count = sweep_unit(
            n,
            fm,
            fo,
            units[k],
            level,
            table,
            work,
            group_start,
            policy,
            improve,
            margin,
            drift_from,
            swept,
            x,
            y,
            unit_of,
            unit_drift,
        )
        unit_change[k] = change
        generated += count
        worst = max(worst, change)
    return worst, generated


@njit(parallel=True)
def sweep(
    n,
    fm,
    fo,
    units,
    level_start,
    level_value,
    table,
    work,
    group_start,
    policy,
    improve,
    unit_change,
    settled,
    margin,
    drift_from,
    level_change,
    unit_of,
    unit_drift,
):
    """One sweep over a group: unit levels high to low, the units of a level in parallel.

    Returns (the largest change, positions whose moves were generated).

    x runs over the units of subgroup (fm, fo) from `group_units` (the
    pairs (x, swap x) cover the group). improve=True: a full Bellman sweep
    that records the best moves in `policy` (int32[4 * group size]); False:
    a cheaper sweep that follows the recorded moves. A level with fewer than
    MIN_PARALLEL_UNITS units runs on one thread (same result: its units are
    independent), as waking threads costs more.

    unit_change [k] holds each unit's largest change in the last sweep that
    visited it (updated here). A sweep that follows the recorded moves skips
    the units whose last change was below `settled`; a full sweep visits
    every unit.

    margin (uint16[group size]) and drift_from (float64[highest level + 1]:
    how far the values of each unit level and those above moved since the
    last full sweep began; inf: generate every position's moves) are a full
    sweep's (`best_moves`); a following sweep leaves them alone.
    level_value (int64[levels]) holds each unit level; level_change
    (float64[levels]) receives each level's largest change in this sweep.
    unit_of (`unit_map`) and unit_drift (float64[units]: each unit's changes
    summed over the sweeps since the last full sweep began) bound the drift
    by unit where the bound by level does not let a pair follow
    (`unit_drift_bound`).
    """
    changes = np.empty(NUM_CHUNKS, dtype=np.float64)
    counts = np.empty(NUM_CHUNKS, dtype=np.int64)
    blocks = np.empty((NUM_CHUNKS, 2, SUCCESSOR_KEY + 1), dtype=np.int64)  # `successor_blocks`, a pair per chunk
    for chunk in range(NUM_CHUNKS):  # plain loops: array expressions would start threads in a parallel kernel
        changes[chunk] = 0.0
        counts[chunk] = 0
        blocks[chunk, 0, SUCCESSOR_KEY] = NO_KEY
        blocks[chunk, 1, SUCCESSOR_KEY] = NO_KEY
    state = (table, work, group_start, policy, improve, unit_change, settled, margin, drift_from, unit_of, unit_drift)
    swept = 0.0  # the largest change of the finished levels
    for lev in range(level_start.shape[0] - 1):
        first = level_start[lev]
        total = level_start[lev + 1] - first
        level = level_value[lev]
        if total < MIN_PARALLEL_UNITS:
            worst, generated = visit(n, fm, fo, units, level, first, first + total, state, swept, blocks[0])
            changes[0] = worst
            counts[0] += generated
        else:
            for chunk in prange(NUM_CHUNKS):
                start = first + total * chunk // NUM_CHUNKS
                stop = first + total * (chunk + 1) // NUM_CHUNKS
                worst, generated = visit(n, fm, fo, units, level, start, stop, state, swept, blocks[chunk])
                changes[chunk] = worst
                counts[chunk] += generated
        worst = 0.0
        for chunk in range(NUM_CHUNKS):
            worst = max(worst, changes[chunk])
            changes[chunk] = 0.0
        level_change[lev] = worst
        swept = max(swept, worst)
    generated = 0
    for chunk in range(NUM_CHUNKS):
        generated += counts[chunk]
    return swept, generated


@njit(parallel=True)
def bellman_residual(n, values):
    """max |V - T V| over every position of a table (float32[count]): a check, not part of the solve."""
    count = COUNT[n]
    changes = np.zeros(NUM_CHUNKS, dtype=np.float64)
    for chunk in prange(NUM_CHUNKS):
        scratch = np.empty(NUM_MOVE_ROLLS, dtype=np.int32)
        blocks = np.full(SUCCESSOR_KEY + 1, NO_KEY, dtype=np.int64)
        worst = 0.0
        for index in range(count * chunk // NUM_CHUNKS, count * (chunk + 1) // NUM_CHUNKS):
            mover, opponent, fm, fo = decode(n, index)
            c, q, _ = choices(n, mover, opponent, fm, fo, values, values, 0, scratch, 0, blocks)
            swapped = values[encode(n, opponent, mover, fo, fm)]
            worst = max(worst, abs(c + q * (1.0 - swapped) - values[index]))
        changes[chunk] = worst
    return changes.max()
