"""The N-piece game of a rule set on track-position bitmasks, from the mover's point of view.

A position of the N-piece game (N = 1..7 on the rule set's board) is stored
relative to the player to move ("mover") and the other player ("opponent"),
which halves the positions by colour symmetry:

    mover    int: bitmask over the mover's track positions (bit p set: a
                  mover piece stands on track position p)
    opponent int: the same over the opponent's own track positions
    fm, fo   int: finished pieces of the mover / opponent (0..N)

Unentered pieces are implied: N - fm - popcount(mover). Every rule set rgou
plays has the same shape: four private start squares (track positions
0..3), a lane of shared squares (Finkel: 4..11; Masters, Blitz and Aseb:
4..15), then private end squares (Finkel: 12, 13; the others: none). On
the lane the mover's track position p and the opponent's OTHER_POSITION[p]
are one square: the same position for Finkel and Aseb, p <-> 26 - p on the
last five for the Masters path, which crosses to the far end of the board.

The module's constants are Finkel's; `derived_constants(rules)` gives them
for another rule set, and `rgou.specialise` compiles the kernels with those.

The value of a position is the probability that the mover wins, before
rolling, under perfect play by both players.
"""

from __future__ import annotations

import functools

import numpy as np

from rgou._numba import njit
from rgou.rules import (
    FINISHED,
    FINKEL,
    OFF_BOARD,
    ROLL_PROBS,
    TRACK_POSITION,
    RuleSet,
)

RULES = FINKEL  # the rule set of this module's constants (a specialised copy has its own)
RULES_NAME = FINKEL.name
MAX_PIECES = 7  # N-piece variants N = 1..7 of every rule set
NOT_ENTERED = -1  # track position of a piece that has not entered

# Outcome of one move (`move_kind`).
ILLEGAL = 0
TURN_PASSES = 1  # the opponent moves next
ROLLS_AGAIN = 2  # landed on a rosette (or captured, where that grants a roll): the mover moves again
BORE_OFF = 3  # the piece finished; the opponent moves next

ROLL_PROB = ROLL_PROBS.copy()  # float64[5], P(roll r); a roll of 0 always passes the turn
NUM_MOVE_ROLLS = ROLL_PROB.shape[0] - 1  # rolls 1..4 may have moves


@functools.cache
def derived_constants(rules: RuleSet) -> dict:
    """The track-position constants of `rules`; a ValueError if its board has another shape.

    The shape the solver needs: private start squares, then one block of
    shared squares, then private end squares, and rosettes (and the pairing
    of shared squares) the same for both players.
    """
    length = rules.track_length
    p1, p2 = rules.p1_track, rules.p2_track
    shared = [p for p in range(length) if p1[p] in p2]
    first, last = shared[0], shared[-1]
    if shared != list(range(first, last + 1)) or any(p2[p] in p1 for p in range(length) if p not in shared):
        raise ValueError(f"rule set {rules.name!r}: the solver needs the shared squares in one block of both tracks")
    other = tuple(p2.index(p1[p]) if first <= p <= last else p for p in range(length))
    if any(other[p] != p1.index(p2[p]) or not first <= other[p] <= last for p in shared):
        raise ValueError(f"rule set {rules.name!r}: the solver needs the shared squares paired alike for both players")
    rosettes = tuple(p for p in range(length) if p1[p] in rules.rosettes)
    if rosettes != tuple(p for p in range(length) if p2[p] in rules.rosettes):
        raise ValueError(f"rule set {rules.name!r}: the solver needs the rosettes at the same track positions")
    lane_size = last - first + 1
    shared_rosettes = sum(1 << p for p in rosettes if first <= p <= last)
    return {
        "RULES": rules,
        "BEAR_OFF": length,
        "LANE_FIRST": first,
        "LANE_LAST": last,
        "LANE_SIZE": lane_size,
        "PRIVATE_SIZE": length - lane_size,
        "LANE_PERMUTED": any(other[p] != p for p in shared),
        "OTHER_BIT": np.array([1 << q for q in other], dtype=np.int64),
        "ROSETTE_MASK": sum(1 << p for p in rosettes),
        "SAFE_MASK": shared_rosettes if rules.safe_rosettes else 0,
        # LOWEST_BIT[x]: index of the lowest set bit of x (0 < x < 2**(length + 1); 0 for x = 0).
        "LOWEST_BIT": np.array([(x & -x).bit_length() - 1 if x else 0 for x in range(1 << (length + 1))], np.int8),
    }


_FINKEL = derived_constants(FINKEL)
BEAR_OFF = _FINKEL["BEAR_OFF"]  # track position 14: the piece finishes (exact roll only)
LANE_FIRST = _FINKEL["LANE_FIRST"]  # shared track positions 4..11
LANE_LAST = _FINKEL["LANE_LAST"]
LANE_SIZE = _FINKEL["LANE_SIZE"]
PRIVATE_SIZE = _FINKEL["PRIVATE_SIZE"]  # 4 start squares + 2 end squares
LANE_PERMUTED = _FINKEL["LANE_PERMUTED"]  # False: a shared square is the same track position for both
OTHER_BIT = _FINKEL["OTHER_BIT"]  # int64[track length]: 1 << the opponent's track position of that square
ROSETTE_MASK = _FINKEL["ROSETTE_MASK"]
SAFE_MASK = _FINKEL["SAFE_MASK"]  # shared rosettes a piece cannot be captured on
LOWEST_BIT = _FINKEL["LOWEST_BIT"]
ROSETTE_AGAIN = FINKEL.rosette_again
CAPTURE_AGAIN = FINKEL.capture_again
del _FINKEL


@njit(no_alloc=True)
def popcount(x):
    """Number of set bits of a non-negative int."""
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n


@njit(no_alloc=True)
def landing_mask(mover, opponent):
    """Track positions (bits, the bear-off position included) a mover piece may land on.

    Not a square of its own pieces, nor a safe rosette the opponent holds.
    """
    blocked = 0
    safe = SAFE_MASK
    while safe:
        bit = safe & -safe
        safe ^= bit
        if opponent & (OTHER_BIT[LOWEST_BIT[bit]] if LANE_PERMUTED else bit):
            blocked |= bit
    return ~(mover | blocked) & ((1 << (BEAR_OFF + 1)) - 1)


@njit(no_alloc=True)
def movable(mover, land, unentered, roll):
    """The mover's pieces that may move by roll (1..4), as a mask (the solver takes the moves by ascending bit).

    Bit s + 1: the piece on track position s; bit 0: an unentered piece.
    land: `landing_mask`; unentered: 1 if the mover has a piece that has
    not entered, else 0.
    """
    return ((mover & (land >> roll)) << 1) | (unentered & (land >> (roll - 1)))


@njit(no_alloc=True)
def move_outcome(mover, opponent, source, roll):
    """(kind, new_mover, new_opponent) of a legal move (`movable`) of the piece on `source` by `roll`.

    kind: TURN_PASSES, ROLLS_AGAIN or BORE_OFF; a capture clears the opponent's bit.
    """
    target = source + roll
    moved = mover & ~((1 << (source + 1)) >> 1)  # NOT_ENTERED (-1) clears nothing
    if target == BEAR_OFF:
        return BORE_OFF, moved, opponent
    bit = 1 << target
    again = ROSETTE_AGAIN and ROSETTE_MASK & bit != 0
    if LANE_FIRST <= target <= LANE_LAST:
        other = OTHER_BIT[target] if LANE_PERMUTED else bit
        if opponent & other:
            opponent = opponent & ~other
            again = again or CAPTURE_AGAIN
    return (ROLLS_AGAIN if again else TURN_PASSES), moved | bit, opponent


@njit(no_alloc=True)
def move_kind(mover, opponent, source, roll):
    """Legality and outcome of moving the mover's piece on track position `source` by `roll`.

    `source` is NOT_ENTERED (-1) for an unentered piece (the caller checks
    that one exists). Returns (kind, new_mover, new_opponent): kind is
    ILLEGAL, or `move_outcome`'s; the masks are only meaningful when the
    move is legal.
    """
    if roll < 1 or source + roll > BEAR_OFF or not (landing_mask(mover, opponent) >> (source + roll)) & 1:
        return ILLEGAL, mover, opponent
    return move_outcome(mover, opponent, source, roll)


@njit(no_alloc=True)
def state_masks(state, n_pieces, player):
    """(track mask, finished count) of `player` (1|2) in an rgou-style state.

    `state` is int8[2N+2]: state[0:N] P1 squares, state[N:2N] P2 squares
    (OFF_BOARD -1, board squares 0..19, FINISHED 20). Squares off the
    player's track are not checked.
    """
    base = 0 if player == 1 else n_pieces
    mask = 0
    finished = 0
    for i in range(n_pieces):
        square = state[base + i]
        if square == FINISHED:
            finished += 1
        elif square != OFF_BOARD:
            mask |= 1 << TRACK_POSITION[player - 1, square + 1]
    return mask, finished


@njit(no_alloc=True)
def track_position(state, n_pieces, player, slot):
    """Track position of `player`'s piece `slot`: -1 unentered, 0..13 (Finkel; else 0..15), BEAR_OFF finished."""
    base = 0 if player == 1 else n_pieces
    square = state[base + slot]
    if square == OFF_BOARD:
        return NOT_ENTERED
    return TRACK_POSITION[player - 1, square + 1]
