"""The 150 network inputs of the upstream engine (docs/features.md), single and batched, for every rule set.

"Present" below means 0 <= square <= 20: it INCLUDES finished pieces, a quirk
of the contract. "In track" means the square lies on the player's own track
(finished pieces are not). Pairs of features list P1 first, then P2. Values
are float32, clamped to [-10, 10]; indices 78..149 are always 0.

The kernels here compute Finkel's features, the upstream's bit for bit.
`feature_kernels(rules)` is this module for another rule set (`rgou.specialise`):
the same 150 inputs with that rule set's tracks, rosettes, shared squares and
piece count (its fractions are of its own pieces; the piece slots of a rule
set with fewer than seven pieces stay 0), so one network shape serves all.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from rgou._numba import njit
from rgou.game import (
    DICE,
    P1_OFFSET,
    P2_OFFSET,
    TO_MOVE,
    Position,
    check_state,
    check_states,
    count_legal_moves,
    legal_mask,
)
from rgou.rules import (
    CENTER_FIRST,
    CENTER_LAST,
    FINISHED,
    IS_ROSETTE,
    MAX_PIECES,
    MAX_ROLL,
    NUM_PIECES,
    NUM_SQUARES,
    P1,
    TRACK_LENGTH,
    TRACK_POSITION,
    RuleSet,
    rule_set,
)
from rgou.specialise import specialise

FEATURE_CLAMP = 10.0
COORDINATION_DISTANCE = 3  # pieces at most this many squares apart are "coordinated"
PRESSURE_DISTANCE = 4  # opponents at most this far apart exert pressure
ROSETTE_WEIGHT = 2.0
PLAIN_WEIGHT = 0.5
ON_BOARD_CREDIT = 0.5

# Named blocks: name -> slice (pairs are P1 then P2).
FEATURE_BLOCKS = {
    "p1_pieces": slice(0, MAX_PIECES),
    "p2_pieces": slice(MAX_PIECES, 2 * MAX_PIECES),
    "board": slice(14, 35),
    "rosette_occupancy": slice(35, 36),
    "on_board": slice(36, 38),
    "finished": slice(38, 40),
    "mean_track_position": slice(40, 42),
    "on_rosette": slice(42, 44),
    "in_center": slice(44, 46),
    "to_move": slice(46, 47),
    "dice": slice(47, 48),
    "legal_moves": slice(48, 49),
    "present_off_rosette": slice(49, 51),
    "present_off_rosette_2": slice(51, 53),
    "mean_progress": slice(53, 55),
    "distance_to_go": slice(55, 57),
    "present_fraction": slice(57, 59),
    "present_off_rosette_3": slice(59, 61),
    "on_rosette_fraction": slice(61, 63),
    "in_center_fraction": slice(63, 65),
    "coordination": slice(65, 67),
    "pressure": slice(67, 69),
    "safety_weight": slice(69, 71),
    "finished_fraction": slice(71, 73),
    "credit": slice(73, 75),
    "finished_difference": slice(75, 76),
    "progress_sum": slice(76, 78),
    "unused": slice(78, 150),
}
NUM_FEATURES = FEATURE_BLOCKS["unused"].stop
NUM_USED_FEATURES = FEATURE_BLOCKS["unused"].start  # features from here on are always 0.0

# Start offsets for the kernel; a pair's P2 entry is start + 1.
_PIECES = FEATURE_BLOCKS["p1_pieces"].start  # P2's slots follow P1's
_BOARD = FEATURE_BLOCKS["board"].start
_ROSETTE_OCCUPANCY = FEATURE_BLOCKS["rosette_occupancy"].start
_ON_BOARD = FEATURE_BLOCKS["on_board"].start
_FINISHED = FEATURE_BLOCKS["finished"].start
_MEAN_TRACK_POSITION = FEATURE_BLOCKS["mean_track_position"].start
_ON_ROSETTE = FEATURE_BLOCKS["on_rosette"].start
_IN_CENTER = FEATURE_BLOCKS["in_center"].start
_TO_MOVE = FEATURE_BLOCKS["to_move"].start
_DICE = FEATURE_BLOCKS["dice"].start
_LEGAL_MOVES = FEATURE_BLOCKS["legal_moves"].start
_PRESENT_OFF_ROSETTE = FEATURE_BLOCKS["present_off_rosette"].start
_PRESENT_OFF_ROSETTE_2 = FEATURE_BLOCKS["present_off_rosette_2"].start
_MEAN_PROGRESS = FEATURE_BLOCKS["mean_progress"].start
_DISTANCE_TO_GO = FEATURE_BLOCKS["distance_to_go"].start
_PRESENT_FRACTION = FEATURE_BLOCKS["present_fraction"].start
_PRESENT_OFF_ROSETTE_3 = FEATURE_BLOCKS["present_off_rosette_3"].start
_ON_ROSETTE_FRACTION = FEATURE_BLOCKS["on_rosette_fraction"].start
_IN_CENTER_FRACTION = FEATURE_BLOCKS["in_center_fraction"].start
_COORDINATION = FEATURE_BLOCKS["coordination"].start
_PRESSURE = FEATURE_BLOCKS["pressure"].start
_SAFETY_WEIGHT = FEATURE_BLOCKS["safety_weight"].start
_FINISHED_FRACTION = FEATURE_BLOCKS["finished_fraction"].start
_CREDIT = FEATURE_BLOCKS["credit"].start
_FINISHED_DIFFERENCE = FEATURE_BLOCKS["finished_difference"].start
_PROGRESS_SUM = FEATURE_BLOCKS["progress_sum"].start


def feature_kernels(rules: RuleSet | str) -> object:
    """This module's functions for `rules` (a name or a RuleSet): this module itself for Finkel."""
    return specialise(__name__, rule_set(rules, "rules"))


def feature_names() -> list[str]:
    """One name per feature index, e.g. ``board[3]`` or ``coordination[p2]``."""
    names: list[str] = []
    for block, sl in FEATURE_BLOCKS.items():
        width = sl.stop - sl.start
        if width == 1:
            names.append(block)
        elif width == 2:
            names += [f"{block}[p1]", f"{block}[p2]"]
        else:
            names += [f"{block}[{i}]" for i in range(width)]
    return names


@njit(no_alloc=True)
def features_into(state, out):
    """Write the 150 features of `state` (int8[STATE_SIZE]) into `out` (float32[150])."""
    f32 = np.float32
    pieces = f32(NUM_PIECES)  # the fractions are of the rule set's pieces (seven: the upstream's)
    for k in range(out.shape[0]):
        out[k] = 0.0
    for player in range(2):
        base = P1_OFFSET if player == 0 else P2_OFFSET
        sign = f32(1.0) if player == 0 else f32(-1.0)
        present = 0
        on_board = 0
        finished = 0
        on_rosette = 0
        in_center = 0
        in_track = 0
        pos_sum = 0
        progress = f32(0.0)  # sum of p / 14 over in-track pieces
        mean_progress = f32(0.0)  # the same plus 1.0 per finished piece, in slot order
        credit = f32(0.0)
        weight = f32(0.0)
        for i in range(NUM_PIECES):
            sq = state[base + i]
            out[_PIECES + MAX_PIECES * player + i] = f32(sq) / f32(FINISHED) if sq >= 0 else f32(-1.0)
            if sq < 0:
                continue
            present += 1
            if sq < NUM_SQUARES:  # board cell 20 stays empty: finished pieces leave the board
                out[_BOARD + sq] = sign
            if sq == FINISHED:
                finished += 1
                credit += f32(1.0)
                mean_progress += f32(1.0)
            else:
                on_board += 1
                credit += f32(ON_BOARD_CREDIT)
                p = TRACK_POSITION[player, sq + 1]
                in_track += 1
                pos_sum += p
                progress += f32(p) / f32(TRACK_LENGTH)
                mean_progress += f32(p) / f32(TRACK_LENGTH)
            if IS_ROSETTE[sq]:
                on_rosette += 1
                weight += f32(ROSETTE_WEIGHT)
                out[_ROSETTE_OCCUPANCY] += sign
            else:
                weight += f32(PLAIN_WEIGHT)
            if CENTER_FIRST <= sq <= CENTER_LAST:
                in_center += 1
        off_rosette = f32(present - on_rosette)
        out[_ON_BOARD + player] = on_board
        out[_FINISHED + player] = finished
        out[_MEAN_TRACK_POSITION + player] = f32(pos_sum) / f32(in_track) if in_track > 0 else f32(0.0)
        out[_ON_ROSETTE + player] = on_rosette
        out[_IN_CENTER + player] = in_center
        out[_PRESENT_OFF_ROSETTE + player] = off_rosette
        out[_PRESENT_OFF_ROSETTE_2 + player] = off_rosette
        n_progress = finished + in_track
        out[_MEAN_PROGRESS + player] = mean_progress / f32(n_progress) if n_progress > 0 else f32(0.0)
        out[_DISTANCE_TO_GO + player] = f32(in_track * TRACK_LENGTH - pos_sum) / pieces
        out[_PRESENT_FRACTION + player] = f32(present) / pieces
        out[_PRESENT_OFF_ROSETTE_3 + player] = off_rosette
        out[_ON_ROSETTE_FRACTION + player] = f32(on_rosette) / pieces
        out[_IN_CENTER_FRACTION + player] = f32(in_center) / pieces
        out[_SAFETY_WEIGHT + player] = weight / pieces
        out[_FINISHED_FRACTION + player] = f32(finished) / pieces
        out[_CREDIT + player] = credit / pieces
        out[_PROGRESS_SUM + player] = progress / pieces
        # coordination and pressure over present pieces
        pairs = 0
        close = 0
        pressure = f32(0.0)
        other = P2_OFFSET if player == 0 else P1_OFFSET
        for i in range(NUM_PIECES):
            a = state[base + i]
            if a < 0:
                continue
            for j in range(i + 1, NUM_PIECES):
                b = state[base + j]
                if b >= 0:
                    pairs += 1
                    if abs(a - b) <= COORDINATION_DISTANCE:
                        close += 1
            for j in range(NUM_PIECES):
                b = state[other + j]
                if b >= 0:
                    d = abs(a - b)
                    if d <= PRESSURE_DISTANCE:
                        pressure += f32(1.0) / f32(d + 1)
        out[_COORDINATION + player] = f32(close) / f32(pairs) if pairs > 0 else f32(0.0)
        out[_PRESSURE + player] = pressure / f32(present) if present > 0 else f32(0.0)
    out[_TO_MOVE] = 1.0 if state[TO_MOVE] == P1 else -1.0
    out[_DICE] = f32(state[DICE]) / f32(MAX_ROLL)
    out[_LEGAL_MOVES] = f32(count_legal_moves(state)) / pieces
    out[_FINISHED_DIFFERENCE] = (out[_FINISHED] - out[_FINISHED + 1]) / pieces
    for k in range(NUM_USED_FEATURES):
        if out[k] > FEATURE_CLAMP:
            out[k] = FEATURE_CLAMP
        elif out[k] < -FEATURE_CLAMP:
            out[k] = -FEATURE_CLAMP


@njit
def single_features(state):
    """The 150 features of one valid state (int8[STATE_SIZE]), float32[150]: the kernel, unchecked."""
    out = np.empty(NUM_FEATURES, dtype=np.float32)
    features_into(state, out)
    return out


def extract_features(state: Position | np.ndarray) -> np.ndarray:
    """The 150 features of one rolled position, float32[150].

    state: a `Position` (features of its own rule set), or integers
    [STATE_SIZE] of this module's rule set, checked first: a square, player or
    roll that is not a position is a ValueError, never a read past the state.
    """
    if isinstance(state, Position):
        return specialise(__name__, state.rules).single_features(state.to_array())
    return single_features(check_state(state))


@njit(parallel=True)
def features_batch_into(states, out):
    """Features of states (int8[N, STATE_SIZE]) into out (float32[N, 150]), in parallel."""
    for n in prange(states.shape[0]):
        features_into(states[n], out[n])


def _batch(kernel, states: np.ndarray, width: int, dtype, new=np.empty) -> np.ndarray:
    """kernel(states, out) over rolled states, integers [N, STATE_SIZE] checked by `check_states` (before the
    int8 cast, which would wrap 260 to 4), into out = new((N, width), dtype)."""
    check_states(states, "states")
    return _unchecked_batch(kernel, states, width, dtype, new)


def _unchecked_batch(kernel, states: np.ndarray, width: int, dtype, new=np.empty) -> np.ndarray:
    states = np.ascontiguousarray(states, dtype=np.int8)
    out = new((states.shape[0], width), dtype=dtype)
    if states.shape[0]:
        kernel(states, out)
    return out


def extract_features_batch(states: np.ndarray) -> np.ndarray:
    """Features of a batch of states, integers [N, STATE_SIZE] (checked), -> float32[N, 150]."""
    return _batch(features_batch_into, states, NUM_FEATURES, np.float32)


def features_batch(states: np.ndarray) -> np.ndarray:
    """`extract_features_batch` of states already checked (a dataset's), int8[N, STATE_SIZE]: no check again."""
    return _unchecked_batch(features_batch_into, states, NUM_FEATURES, np.float32)


@njit(parallel=True)
def _legal_masks(states, out):
    for i in prange(states.shape[0]):
        legal_mask(states[i], out[i])


def legal_masks(states: np.ndarray) -> np.ndarray:
    """The policy's legal-slot masks, bool [N, 7], of rolled states int8 [N, STATE_SIZE] (past the pieces: False)."""
    return _batch(_legal_masks, states, MAX_PIECES, np.bool_, np.zeros)  # slots past the pieces stay False


@njit
def first_bad_mask(states, masks, policy):
    """The first row whose mask is not its state's legal slots, or whose policy target weighs an illegal slot; -1.

    states: valid int8 [N, STATE_SIZE]; masks: bool [N, 7] (past the pieces:
    False); policy: float32 [N, 7]. One pass, no array of masks made.
    """
    legal = np.zeros(MAX_PIECES, dtype=np.bool_)
    for i in range(states.shape[0]):
        legal_mask(states[i], legal)
        for slot in range(MAX_PIECES):
            if masks[i, slot] != legal[slot] or (policy[i, slot] != 0.0 and not legal[slot]):
                return i
    return -1
