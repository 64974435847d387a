"""The N-piece Finkel rules on track-position bitmasks, from the mover's point of view.

A position of the N-piece game (N = 1..7, same board as rgou's 7-piece game)
is stored relative to the player to move ("mover") and the other player
("opponent"), which halves the positions by colour symmetry:

    mover    int: bitmask over the mover's track positions 0..13 (bit p set:
                  a mover piece stands on track position p)
    opponent int: the same over the opponent's own track positions
    fm, fo   int: finished pieces of the mover / opponent (0..N)

Unentered pieces are implied: N - fm - popcount(mover). Track positions
4..11 are the shared middle lane, where both players' position p is the
board square p, so the two masks collide exactly there.

The value of a position is the probability that the mover wins, before
rolling, under perfect play by both players.
"""

from __future__ import annotations

import numpy as np

from rgou._numba import njit
from rgou.rules import (
    CENTER_FIRST,
    CENTER_LAST,
    FINISHED,
    NUM_PIECES,
    OFF_BOARD,
    P1_TRACK,
    P2_TRACK,
    ROLL_PROBS,
    ROSETTE_SQUARES,
    TRACK_LENGTH,
    TRACK_POSITION,
)

RULES_NAME = "finkel"
MAX_PIECES = NUM_PIECES  # variants N = 1..7 use rgou's board
NOT_ENTERED = -1  # track position of a piece that has not entered
BEAR_OFF = TRACK_LENGTH  # track position 14: the piece finishes (exact roll only)
LANE_FIRST, LANE_LAST = CENTER_FIRST, CENTER_LAST  # shared track positions 4..11
LANE_SIZE = LANE_LAST - LANE_FIRST + 1
PRIVATE_SIZE = TRACK_LENGTH - LANE_SIZE  # 4 start squares + 2 end squares
ROSETTE_POSITIONS = tuple(p for p in range(TRACK_LENGTH) if P1_TRACK[p] in ROSETTE_SQUARES)
SHARED_ROSETTE = next(p for p in ROSETTE_POSITIONS if LANE_FIRST <= p <= LANE_LAST)

assert ROSETTE_POSITIONS == tuple(p for p in range(TRACK_LENGTH) if P2_TRACK[p] in ROSETTE_SQUARES)
assert all(P1_TRACK[p] == P2_TRACK[p] == p for p in range(LANE_FIRST, LANE_LAST + 1))
assert not set(P1_TRACK[:LANE_FIRST] + P1_TRACK[LANE_LAST + 1 :]) & set(P2_TRACK)

ROSETTE_MASK = sum(1 << p for p in ROSETTE_POSITIONS)

# Outcome of one move (`move_kind`).
ILLEGAL = 0
TURN_PASSES = 1  # the opponent moves next
ROLLS_AGAIN = 2  # landed on a rosette: the mover moves again
BORE_OFF = 3  # the piece finished; the opponent moves next

# LOWEST_BIT[x]: index of the lowest set bit of x (0 < x < 2**15; 0 for x = 0).
LOWEST_BIT = np.array([(x & -x).bit_length() - 1 if x else 0 for x in range(1 << (TRACK_LENGTH + 1))], dtype=np.int8)
ROLL_PROB = ROLL_PROBS.copy()  # float64[5], P(roll r); a roll of 0 always passes the turn


@njit(no_alloc=True)
def popcount(x):
    """Number of set bits of a non-negative int."""
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n


@njit(no_alloc=True)
def move_kind(mover, opponent, source, roll):
    """Legality and outcome of moving the mover's piece on track position `source` by `roll`.

    `source` is NOT_ENTERED (-1) for an unentered piece (the caller checks
    that one exists). Returns (kind, new_mover, new_opponent): kind is
    ILLEGAL, TURN_PASSES, ROLLS_AGAIN or BORE_OFF; the masks are only
    meaningful when the move is legal (a capture clears the opponent's bit).
    """
    target = source + roll
    if roll < 1 or target > BEAR_OFF:
        return ILLEGAL, mover, opponent
    moved = mover
    if source >= 0:
        moved = mover & ~(1 << source)
    if target == BEAR_OFF:
        return BORE_OFF, moved, opponent
    bit = 1 << target
    if mover & bit:
        return ILLEGAL, mover, opponent
    if LANE_FIRST <= target <= LANE_LAST and opponent & bit:
        if target == SHARED_ROSETTE:
            return ILLEGAL, mover, opponent
        opponent = opponent & ~bit
    if ROSETTE_MASK & bit:
        return ROLLS_AGAIN, moved | bit, opponent
    return TURN_PASSES, moved | bit, opponent


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
    """Track position of `player`'s piece `slot`: -1 unentered, 0..13, 14 finished."""
    base = 0 if player == 1 else n_pieces
    square = state[base + slot]
    if square == OFF_BOARD:
        return NOT_ENTERED
    return TRACK_POSITION[player - 1, square + 1]
