"""Game state and rules as pure Numba kernels, plus a small validating `Position`.

The state is one ``int8[2N + 2]`` array for N pieces a player (`STATE_SIZE`;
``int8[16]`` for the seven pieces of Finkel and Masters)::

    state[0:N]    P1 piece squares, slot order   (-1 off board, 0..19, 20 finished)
    state[N:2N]   P2 piece squares, slot order
    state[2N]     player to move (1 or 2)
    state[2N + 1] dice roll of the player to move (0..4; 0 before rolling)

Orientation is absolute (P1/P2), as the feature and value contracts are. A move
is a piece slot 0..N-1 of the player to move. Kernels neither allocate in loops
nor raise; `Position` is the validating edge for users.

The kernels here play the Finkel rules; `engine(rules)` is this module for
another rule set, compiled with that rule set's constants (`rgou.specialise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rgou._numba import njit
from rgou._random import next_u64
from rgou._validate import shown
from rgou.rules import (
    CAPTURE_AGAIN,
    DEFAULT_RULES,
    FINISHED,
    IS_ROSETTE,
    MAX_ROLL,
    NUM_PIECES,
    NUM_SQUARES,
    OFF_BOARD,
    OTHER_TRACK_SQUARE,
    P1,
    P2,
    ROSETTE_AGAIN,
    SAFE_ROSETTES,
    TRACK_LENGTH,
    TRACK_POSITION,
    TRACKS,
    RuleSet,
    rule_set,
)
from rgou.specialise import specialise

P1_OFFSET = 0
NO_WINNER = 0


def state_layout(pieces: int) -> dict[str, int]:
    """The state's size and field offsets for `pieces` pieces a player."""
    return {"STATE_SIZE": 2 * pieces + 2, "P2_OFFSET": pieces, "TO_MOVE": 2 * pieces, "DICE": 2 * pieces + 1}


STATE_SIZE, P2_OFFSET, TO_MOVE, DICE = state_layout(NUM_PIECES).values()


def engine(rules: RuleSet | str) -> object:
    """This module's functions for `rules` (a name or a RuleSet): this module itself for Finkel."""
    return specialise(__name__, rule_set(rules, "rules"))


@njit
def new_state() -> np.ndarray:
    """The opening position: all pieces off the board, P1 to move, not rolled."""
    state = np.full(STATE_SIZE, OFF_BOARD, dtype=np.int8)
    state[TO_MOVE] = P1
    state[DICE] = 0
    return state


@njit(no_alloc=True)
def piece_offset(player):
    """Index of `player`'s slot 0 in the state array."""
    return P1_OFFSET if player == P1 else P2_OFFSET


@njit(no_alloc=True)
def winner(state):
    """1 or 2 if that player has borne off all their pieces, else 0."""
    for player in (P1, P2):
        base = piece_offset(player)
        done = True
        for i in range(NUM_PIECES):
            if state[base + i] != FINISHED:
                done = False
                break
        if done:
            return player
    return NO_WINNER


@njit(no_alloc=True)
def is_over(state):
    """True once a player has borne off all pieces."""
    return winner(state) != NO_WINNER


@njit(no_alloc=True)
def _target_square(player, square, roll):
    """Square reached by moving a piece on `square` by `roll`, FINISHED, or -2 if past the end."""
    pos = TRACK_POSITION[player - 1, square + 1] + roll
    if pos == TRACK_LENGTH:
        return FINISHED
    if pos > TRACK_LENGTH:
        return -2
    return TRACKS[player - 1, pos]


@njit(no_alloc=True)
def _occupancy(state, base):
    """Bitmask of the board squares 0..19 occupied by the pieces at state[base:base+N]."""
    mask = 0
    for i in range(NUM_PIECES):
        sq = state[base + i]
        if 0 <= sq < NUM_SQUARES:
            mask |= 1 << sq
    return mask


@njit(no_alloc=True)
def _is_legal_fast(state, player, slot, roll, own, opp):
    """Legality of moving `slot` by `roll` >= 1, given both occupancy masks."""
    square = state[piece_offset(player) + slot]
    if square == FINISHED:
        return False
    pos = TRACK_POSITION[player - 1, square + 1] + roll
    if pos >= TRACK_LENGTH:
        return pos == TRACK_LENGTH
    target = TRACKS[player - 1, pos]
    if (own >> target) & 1:
        return False
    if SAFE_ROSETTES and IS_ROSETTE[target] and (opp >> target) & 1:
        return False
    return True


@njit(no_alloc=True)
def legal_slots(state):
    """Bitmask of the slots the player to move may move (bit i: slot i); 0 for a roll of 0."""
    roll = state[DICE]
    if roll == 0:
        return 0
    player = state[TO_MOVE]
    own = _occupancy(state, piece_offset(player))
    opp = _occupancy(state, piece_offset(3 - player))
    bits = 0
    for slot in range(NUM_PIECES):
        if _is_legal_fast(state, player, slot, roll, own, opp):
            bits |= 1 << slot
    return bits


@njit(no_alloc=True)
def legal_moves(state, out):
    """Write the legal slots (ascending) of the player to move into `out` (int8[N]); return their count.

    A roll of 0 has no moves. Finished positions still list what the movement
    rules allow (the features count them); playing on is the caller's choice.
    """
    roll = state[DICE]
    if roll == 0:
        return 0
    player = state[TO_MOVE]
    own = _occupancy(state, piece_offset(player))
    opp = _occupancy(state, piece_offset(3 - player))
    n = 0
    for slot in range(NUM_PIECES):
        if _is_legal_fast(state, player, slot, roll, own, opp):  # the search's hot loop: no bitmask detour
            out[n] = slot
            n += 1
    return n


@njit(no_alloc=True)
def distinct_moves(state, out):
    """legal_moves without repeats: of the pieces not yet entered, only the lowest slot (all reach one position)."""
    n = legal_moves(state, out)
    base = piece_offset(state[TO_MOVE])
    k = 0
    entering = False
    for i in range(n):
        slot = out[i]
        if state[base + slot] == OFF_BOARD:
            if entering:
                continue
            entering = True
        out[k] = slot
        k += 1
    return k


@njit(no_alloc=True)
def count_legal_moves(state):
    """Length of the legal-move list."""
    bits = legal_slots(state)
    n = 0
    while bits:
        bits &= bits - 1
        n += 1
    return n


@njit(no_alloc=True)
def legal_mask(state, out):
    """Write a bool[N] mask of the legal slots into `out`; return the count."""
    bits = legal_slots(state)
    n = 0
    for slot in range(NUM_PIECES):
        out[slot] = (bits >> slot) & 1
        n += out[slot]
    return n


@njit(no_alloc=True)
def copy_state_into(dst, src):
    """dst[:] = src, element by element: a slice assignment needs Numba's reference counting."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@njit(no_alloc=True)
def apply_move_inplace(state, slot):
    """Play legal move `slot` on `state` in place; return True if the mover rolls again.

    Captures send the opponent's piece back to -1. Landing on a rosette keeps
    the turn (where the rules say so: ROSETTE_AGAIN), and so does a capture
    where CAPTURE_AGAIN; otherwise the turn passes. The dice entry is reset
    to 0 (not rolled).
    """
    player = state[TO_MOVE]
    mine = piece_offset(player)
    theirs = piece_offset(3 - player)
    target = _target_square(player, state[mine + slot], state[DICE])
    state[mine + slot] = target
    again = False
    if target != FINISHED:
        for i in range(NUM_PIECES):
            if state[theirs + i] == target:
                state[theirs + i] = OFF_BOARD
                again = CAPTURE_AGAIN
        if ROSETTE_AGAIN and IS_ROSETTE[target]:
            again = True
    if not again:
        state[TO_MOVE] = 3 - player
    state[DICE] = 0
    return again


@njit(no_alloc=True)
def pass_turn_inplace(state):
    """The player to move cannot move (roll 0 or no legal move): the opponent is to move."""
    state[TO_MOVE] = 3 - state[TO_MOVE]
    state[DICE] = 0


@njit(no_alloc=True)
def swap_colours_inplace(state):
    """The same position with the colours swapped, in place (its own inverse).

    P1's pieces become P2's at the same track positions and vice versa, and
    the other player is to move; the dice stay. The swapped position's value
    for P2 is the original's value for P1.
    """
    for i in range(NUM_PIECES):
        mine = state[P1_OFFSET + i]
        state[P1_OFFSET + i] = OTHER_TRACK_SQUARE[state[P2_OFFSET + i] + 1]
        state[P2_OFFSET + i] = OTHER_TRACK_SQUARE[mine + 1]
    state[TO_MOVE] = 3 - state[TO_MOVE]


@njit
def apply_move(state, slot):
    """Copy of `state` after legal move `slot`."""
    child = state.copy()
    apply_move_inplace(child, slot)
    return child


# Seeded dice: every game owns a generator (rgou._random), so results do not
# depend on the thread layout.


@njit
def roll_dice(rng):
    """Sum of four fair binary dice (0..4 with weights 1, 4, 6, 4, 1)."""
    bits = next_u64(rng) >> np.uint64(60)
    total = 0
    for _ in range(MAX_ROLL):
        total += bits & np.uint64(1)
        bits >>= np.uint64(1)
    return np.int8(total)


# The validating edge.


def legal_move_list(state: np.ndarray) -> list[int]:
    """The legal slots of a rolled state (integers [STATE_SIZE], checked first), ascending, as Python ints (empty:
    the turn passes)."""
    out = np.empty(NUM_PIECES, dtype=np.int8)
    return [int(m) for m in out[: legal_moves(check_state(state), out)]]


def position_problem(p1: Sequence[int], p2: Sequence[int], to_move: int, dice: int) -> str | None:
    """What first keeps these fields from being a position, in words (None: they are one); any number of pieces.

    The one statement of a valid position: squares -1..20 on the owner's
    track, at most one piece on a board square, not both players finished,
    to_move 1 or 2, a roll 0..4. `Position`, `check_states` and the solver's
    `check_state` all say it through this function.
    """
    board: dict[int, str] = {}
    for name, squares, player in (("p1", p1, P1), ("p2", p2, P2)):
        for slot, square in enumerate(squares):
            field = f"{name}[{slot}] = {square}"
            if not OFF_BOARD <= square <= FINISHED:
                return f"{field} is out of range {OFF_BOARD}..{FINISHED}"
            if square != OFF_BOARD and TRACK_POSITION[player - 1, square + 1] < 0:
                return f"{field} is not on player {player}'s track"
            if OFF_BOARD < square < FINISHED:
                if square in board:
                    return f"two pieces on square {square}: {board[square]} and {name}[{slot}]"
                board[square] = f"{name}[{slot}]"
    if all(s == FINISHED for s in p1) and all(s == FINISHED for s in p2):
        return "both players have finished all pieces"
    if to_move not in (P1, P2):
        return f"to_move must be 1 or 2, got {to_move}"
    if not 0 <= dice <= MAX_ROLL:
        return f"dice must be 0..{MAX_ROLL}, got {dice}"
    return None


def _check_pieces(name: str, squares) -> tuple[int, ...]:
    """NUM_PIECES integer squares (their ranges and tracks are `position_problem`'s to check)."""
    if isinstance(squares, (str, bytes)) or not hasattr(squares, "__iter__"):
        raise ValueError(f"{name} must list {NUM_PIECES} piece squares, got {squares!r:.40}")
    squares = tuple(squares)
    if len(squares) != NUM_PIECES:
        raise ValueError(f"{name} must list {NUM_PIECES} piece squares, got {len(squares)}")
    for slot, sq in enumerate(squares):
        if isinstance(sq, bool) or not isinstance(sq, (int, np.integer)):
            raise ValueError(f"{name}[{slot}] must be an integer square, got {sq!r}")
    return tuple(int(s) for s in squares)


def _state_codes() -> np.ndarray:
    """int64 [14, 23]: [piece column, square + 1] -> the piece's code; index 22 stands for any out-of-range value.

    A piece on board square s codes 1 << s, a finished piece 1 << _DONE_BIT,
    a piece off the board 0, a square off its owner's track or out of range
    1 << _BAD_BIT. Summed over a row, the fields do not overlap (at most 14
    of each); the sum's board bits differ from the codes' bitwise or exactly
    when two pieces share a board square (the sum carries).
    """
    codes = np.full((2 * NUM_PIECES, FINISHED + 3), 1 << _BAD_BIT, dtype=np.int64)
    for col in range(2 * NUM_PIECES):
        for square in range(OFF_BOARD, FINISHED + 1):
            if square == OFF_BOARD:
                codes[col, square + 1] = 0
            elif TRACK_POSITION[col // NUM_PIECES, square + 1] >= 0:
                codes[col, square + 1] = 1 << (_DONE_BIT if square == FINISHED else square)
    return codes


_BAD_BIT, _DONE_BIT = 40, 48  # above the board bits 0..19 and their carries, 8 bits apart
_STATE_CODES = _state_codes()
RULE_DERIVED = {"_STATE_CODES": _state_codes}  # module data `rgou.specialise` recomputes per rule set


@njit(no_alloc=True)
def _is_position(state, codes):
    """Whether one integer state [16] is a valid position (see `check_states`), by its pieces' codes."""
    total = 0
    union = 0
    for col in range(2 * NUM_PIECES):
        index = np.int64(state[col]) + 1  # 0..21 for squares -1..20 (an int64 overflow wraps below 0)
        code = codes[col, index if 0 <= index <= FINISHED + 1 else FINISHED + 2]
        total += code
        union |= code
    to_move = state[TO_MOVE]
    dice = state[DICE]
    return not (
        (total & ((1 << _BAD_BIT) - 1)) != (union & ((1 << NUM_SQUARES) - 1))  # two pieces on a square
        or (total >> _BAD_BIT) & 255 != 0  # a square out of range or off its owner's track
        or total >> _DONE_BIT == 2 * NUM_PIECES  # both players finished
        or (to_move != P1 and to_move != P2)
        or dice < 0
        or dice > MAX_ROLL
    )


@njit(no_alloc=True)
def is_position(state):
    """Whether an int8[STATE_SIZE] kernel state is a valid position of the rule set (a kernel's own check)."""
    return _is_position(state, _STATE_CODES)


@njit
def _first_bad_state(states, codes):
    """The first row of integer states [N, 16] that is not a valid position (see `check_states`); -1 when none is."""
    for row in range(states.shape[0]):
        if not _is_position(states[row], codes):
            return row
    return -1


def _state_problem(state: np.ndarray) -> str:
    """Why one invalid state (integers [16]) is not a position: its first bad field, as `check_states` says it."""
    values = [int(v) for v in state]
    pieces = 2 * NUM_PIECES
    return position_problem(values[:NUM_PIECES], values[NUM_PIECES:pieces], values[TO_MOVE], values[DICE]) or ""


def check_states(states: np.ndarray, what: str = "state") -> None:
    """Refuse any row of `states` (integers [N, 16], any width) that is not a position the engine defines.

    Squares -1..20 on the owner's track, at most one piece on a board square,
    not both players finished, to_move 1 or 2, a roll 0..4. Checked on the
    values as given (before any int8 cast, which would wrap 300 to 44), in one
    compiled pass over int8 or int64 rows (about 10 ms a million rows); the
    ValueError names `what`, the first bad row and its field.
    """
    states = np.asarray(states)
    if states.ndim != 2 or states.shape[1] != STATE_SIZE:
        raise ValueError(f"{what}: expected shape (N, {STATE_SIZE}), got {states.shape}")
    _check_integers(states, what)
    row = _first_bad_row(states)
    if row >= 0:
        raise ValueError(f"{what}: row {row}: {_state_problem(states[row])}")


def check_state(state: np.ndarray | Sequence[int]) -> np.ndarray:
    """One state, integers [STATE_SIZE] checked as `check_states` checks a row, as a contiguous int8 array."""
    array = np.asarray(state)
    if array.ndim == 0:  # not an array: a Position, None, a number
        raise ValueError(f"state: expected integers [{STATE_SIZE}] (a Position's to_array()), got {shown(state)}")
    if array.shape != (STATE_SIZE,):
        raise ValueError(f"state: expected shape ({STATE_SIZE},), got {array.shape}")
    _check_integers(array, "state")
    if _first_bad_row(array[None]) >= 0:
        raise ValueError(f"state: {_state_problem(array)}")
    state = np.ascontiguousarray(array, dtype=np.int8)
    return state if state.flags.writeable else state.copy()  # a read-only array would compile the kernels again


def _check_integers(states: np.ndarray, what: str) -> None:
    if not np.issubdtype(states.dtype, np.integer):
        raise ValueError(f"{what}: expected integers, got dtype {states.dtype}")


def _first_bad_row(states: np.ndarray) -> int:
    """The first row of integers [N, STATE_SIZE] that is not a position; -1 when none is."""
    if states.dtype == np.uint64 and len(states):
        huge = (states > np.uint64(2**62)).any(axis=1)  # beyond int64: out of range whatever the field
        if huge.any():
            return int(np.flatnonzero(huge)[0])
    if states.dtype != np.int8:
        states = states.astype(np.int64, copy=False)  # one compiled kernel for every wider or unsigned type
    return int(_first_bad_state(np.ascontiguousarray(states), _STATE_CODES))


@dataclass(frozen=True)
class Position:
    """A validated game position (absolute orientation), convertible to the kernel state.

    `p1`, `p2`: the squares of each player's pieces, as many as the rule set
    has (seven for Finkel; -1 off board, 0..19, 20 finished); `to_move`: 1
    or 2; `dice`: the roll of the player to move, 0..4. A 0 is a rolled zero,
    which passes the turn; `play()` returns positions with dice 0 until the
    next roll is set with `with_dice()`. `rules`: the rule set's name.
    """

    p1: tuple[int, ...]
    p2: tuple[int, ...]
    to_move: int = P1
    dice: int = 0
    rules: str = DEFAULT_RULES

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", rule_set(self.rules, "rules").name)
        kernels = self._engine
        p1, p2 = kernels._check_pieces("p1", self.p1), kernels._check_pieces("p2", self.p2)
        object.__setattr__(self, "p1", p1)
        object.__setattr__(self, "p2", p2)
        for name, value, what in (("to_move", self.to_move, "1..2"), ("dice", self.dice, f"0..{MAX_ROLL}")):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer {what}, got {value!r}")
        problem = kernels.position_problem(p1, p2, int(self.to_move), int(self.dice))
        if problem:
            raise ValueError(problem)
        object.__setattr__(self, "to_move", int(self.to_move))
        object.__setattr__(self, "dice", int(self.dice))

    @property
    def _engine(self):
        return engine(self.rules)

    @classmethod
    def initial(cls, dice: int = 0, rules: str = DEFAULT_RULES) -> Position:
        """The opening position, P1 to move."""
        pieces = rule_set(rules, "rules").pieces
        return cls((OFF_BOARD,) * pieces, (OFF_BOARD,) * pieces, P1, dice, rules)

    @classmethod
    def from_array(cls, state: np.ndarray, rules: str = DEFAULT_RULES) -> Position:
        """Validate and wrap a kernel state (int8[2N + 2] for the rule set's N pieces)."""
        state = np.asarray(state)
        pieces = rule_set(rules, "rules").pieces
        if state.shape != (2 * pieces + 2,):
            raise ValueError(f"expected a state of shape ({2 * pieces + 2},), got {state.shape}")
        if not np.issubdtype(state.dtype, np.integer):
            raise ValueError(f"expected an integer state array, got dtype {state.dtype}")
        s = [int(v) for v in state]
        return cls(tuple(s[:pieces]), tuple(s[pieces : 2 * pieces]), s[2 * pieces], s[2 * pieces + 1], rules)

    def to_array(self) -> np.ndarray:
        """The kernel state, int8[2N + 2] (int8[16] for seven pieces)."""
        return np.array(self.p1 + self.p2 + (self.to_move, self.dice), dtype=np.int8)

    def with_dice(self, dice: int) -> Position:
        """The same position with roll `dice` for the player to move."""
        return Position(self.p1, self.p2, self.to_move, dice, self.rules)

    @property
    def winner(self) -> int:
        """0 while the game goes on, else the winning player."""
        return int(self._engine.winner(self.to_array()))

    @property
    def is_over(self) -> bool:
        return self.winner != NO_WINNER

    def legal_moves(self) -> list[int]:
        """Slots the player to move may move with the current roll, ascending; none once the game is over."""
        if self.is_over:
            return []
        return self._engine.legal_move_list(self.to_array())

    def play(self, slot: int) -> Position:
        """The position after moving piece `slot` (dice reset to 0)."""
        if self.is_over:
            raise ValueError(f"the game is over (player {self.winner} won); no move can be played")
        legal = self.legal_moves()
        if isinstance(slot, bool) or not isinstance(slot, (int, np.integer)) or slot not in legal:
            raise ValueError(
                f"illegal move: slot {slot!r} with roll {self.dice} for player {self.to_move}; legal moves are {legal}"
            )
        return Position.from_array(self._engine.apply_move(self.to_array(), np.int64(slot)), self.rules)

    def pass_turn(self) -> Position:
        """The position after a roll with no legal move (or a 0): the opponent is to move."""
        if self.is_over:
            raise ValueError(f"the game is over (player {self.winner} won); no turn is passed")
        if self.legal_moves():
            raise ValueError(f"cannot pass: legal moves {self.legal_moves()} exist")
        state = self.to_array()
        self._engine.pass_turn_inplace(state)
        return Position.from_array(state, self.rules)
