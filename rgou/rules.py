"""Board geometry, tracks, rosettes and dice of the Royal Game of Ur, and its rule sets.

The board as rgou (and the upstream engine) numbers it (``*`` marks a rosette)::

          col  0      1      2      3      4      5      6      7
    P1 row   [ 0*] [  1] [  2] [  3]               [13*] [ 12]
    middle   [  4] [  5] [  6] [  7*] [  8] [  9] [ 10] [ 11]
    P2 row   [16*] [ 17] [ 18] [ 19]               [15*] [ 14]

A piece's square is OFF_BOARD (-1) before it enters, 0..19 on the board and
FINISHED (20) once it has borne off. Each player walks a track of squares;
its "track position" is the index of its square in that track.

The module's constants are those of the Finkel rules (the default). A
`RuleSet` describes any of the four rule sets rgou plays (`RULE_SETS`), and
`rule_constants` gives the same constants for it: `rgou.specialise` compiles
the kernels once per rule set with them, so no kernel branches on the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_PLAYERS = 2
NUM_PIECES = 7
MAX_PIECES = 7  # pieces a player at most, in every rule set: the nets' piece slots and policy outputs
NUM_SQUARES = 20  # board squares 0..19
NUM_CELLS = 21  # board cells incl. the never-occupied cell 20 (feature block 14..34)
OFF_BOARD = -1
FINISHED = 20
TRACK_LENGTH = 14  # track positions 0..13; position 14 means finished

P1 = 1
P2 = 2

P1_TRACK = (3, 2, 1, 0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
P2_TRACK = (19, 18, 17, 16, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15)
ROSETTE_SQUARES = (0, 7, 13, 15, 16)
CENTER_FIRST, CENTER_LAST = 4, 11  # track positions (and squares) of the middle lane: the shared squares
HOME_STRETCH_START = 12  # track positions 12, 13: the last private squares

# The boards' rows as drawn (player 1's row, the middle row, player 2's row): squares by column, None: no square.
STANDARD_BOARD = (
    (0, 1, 2, 3, None, None, 13, 12),
    (4, 5, 6, 7, 8, 9, 10, 11),
    (16, 17, 18, 19, None, None, 15, 14),
)
ASEB_BOARD = (
    (0, 1, 2, 3) + (None,) * 8,
    tuple(range(4, 16)),
    (16, 17, 18, 19) + (None,) * 8,
)
BOARDS = {"standard": STANDARD_BOARD, "aseb": ASEB_BOARD}
BOARD_ROWS = STANDARD_BOARD

MAX_ROLL = 4
NUM_ROLLS = MAX_ROLL + 1
ROLL_WEIGHTS = (1, 4, 6, 4, 1)  # four binary dice: C(4, r)
ROLL_PROBS = np.array(ROLL_WEIGHTS, dtype=np.float64) / 16.0


@dataclass(frozen=True)
class RuleSet:
    """One rule set: the board, both tracks, the rosettes and what they do, and the pieces.

    Tracks and rosettes are board squares (see the module docstring; the Aseb
    board numbers its squares the same way, with a 12-square middle row
    4..15). A piece enters on its track's first square and bears off with the
    exact roll past the last. The dice are four binary dice in every rule set.
    """

    name: str
    board: str  # "standard" or "aseb": the board's shape, for drawing it
    p1_track: tuple[int, ...]
    p2_track: tuple[int, ...]
    rosettes: tuple[int, ...]
    pieces: int
    safe_rosettes: bool  # a piece on a rosette cannot be captured
    rosette_again: bool  # landing on a rosette grants another roll
    capture_again: bool  # capturing grants another roll

    def __post_init__(self) -> None:
        if len(self.p1_track) != len(self.p2_track):
            raise ValueError(f"rule set {self.name!r}: the two tracks differ in length")
        for track in (self.p1_track, self.p2_track):
            if len(set(track)) != len(track) or not all(0 <= sq < NUM_SQUARES for sq in track):
                raise ValueError(f"rule set {self.name!r}: a track must visit distinct squares 0..{NUM_SQUARES - 1}")
        if not 1 <= self.pieces <= MAX_PIECES:
            raise ValueError(f"rule set {self.name!r}: pieces must be 1..{MAX_PIECES}, got {self.pieces}")
        drawn = {sq for row in BOARDS.get(self.board, ()) for sq in row if sq is not None}
        if not set(self.p1_track) | set(self.p2_track) <= drawn:
            raise ValueError(f"rule set {self.name!r}: the tracks leave the {self.board!r} board")

    @property
    def track_length(self) -> int:
        """Squares on a track; track position track_length means borne off."""
        return len(self.p1_track)

    @property
    def shared_positions(self) -> tuple[int, int]:
        """(first, last) track position on a square of both tracks (the same on both, by the rule sets' shape)."""
        shared = [p for p, square in enumerate(self.p1_track) if square in self.p2_track]
        return shared[0], shared[-1]


FINKEL = RuleSet("finkel", "standard", P1_TRACK, P2_TRACK, ROSETTE_SQUARES, NUM_PIECES, True, True, False)
# James Masters' path: up the middle row to its seventh square, then through the opponent's last two squares,
# the middle row's last square and the player's own last two squares (16 squares).
MASTERS_P1_TRACK = (3, 2, 1, 0, 4, 5, 6, 7, 8, 9, 10, 15, 14, 11, 12, 13)
MASTERS_P2_TRACK = (19, 18, 17, 16, 4, 5, 6, 7, 8, 9, 10, 13, 12, 11, 14, 15)
MASTERS = RuleSet("masters", "standard", MASTERS_P1_TRACK, MASTERS_P2_TRACK, ROSETTE_SQUARES, 7, False, True, False)
BLITZ = RuleSet("blitz", "standard", MASTERS_P1_TRACK, MASTERS_P2_TRACK, ROSETTE_SQUARES, 5, False, True, True)
# The Aseb board: four squares per side row (0..3, 16..19) and a 12-square middle row (4..15).
ASEB_P1_TRACK = (3, 2, 1, 0) + tuple(range(4, 16))
ASEB_P2_TRACK = (19, 18, 17, 16) + tuple(range(4, 16))
ASEB_ROSETTES = (0, 7, 11, 15, 16)
ASEB = RuleSet("aseb", "aseb", ASEB_P1_TRACK, ASEB_P2_TRACK, ASEB_ROSETTES, 5, True, True, False)

RULE_SETS = {rules.name: rules for rules in (FINKEL, MASTERS, BLITZ, ASEB)}
DEFAULT_RULES = FINKEL.name
OTHER_RULES_DEPTH = 3  # no shipped model plays the other rule sets: their default opponent is the expert at this depth


def rule_set(name: str | RuleSet, what: str = "--rules") -> RuleSet:
    """The rule set called `name` (a RuleSet passes through); a ValueError names `what` and the choices.

    A RuleSet with a built-in name must be that rule set: kernels are compiled and cached by name.
    """
    if isinstance(name, RuleSet):
        if name.name in RULE_SETS and name != RULE_SETS[name.name]:
            raise ValueError(f"{what}: a rule set named {name.name!r} must be rgou's own; give yours another name")
        return name
    if isinstance(name, str) and name.lower() in RULE_SETS:
        return RULE_SETS[name.lower()]
    raise ValueError(f"{what}: unknown rule set {name!r}; choose one of {', '.join(RULE_SETS)}")


def tracks_array(rules: RuleSet) -> np.ndarray:
    """int8 [player, track position] -> square (index 0 = P1, 1 = P2)."""
    return np.array([rules.p1_track, rules.p2_track], dtype=np.int8)


def rosette_array(rules: RuleSet) -> np.ndarray:
    """bool [cell]: whether a board square (0..NUM_CELLS-1) is a rosette."""
    out = np.zeros(NUM_CELLS, dtype=np.bool_)
    out[list(rules.rosettes)] = True
    return out


def track_position_array(rules: RuleSet) -> np.ndarray:
    """int8 [player, square + 1] -> track position.

    -1 for squares off this player's track and for OFF_BOARD (index 0);
    the track length for FINISHED.
    """
    out = np.full((NUM_PLAYERS, NUM_CELLS + 1), -1, dtype=np.int8)
    for player, track in enumerate((rules.p1_track, rules.p2_track)):
        for pos, square in enumerate(track):
            out[player, square + 1] = pos
        out[player, FINISHED + 1] = rules.track_length
    return out


def other_track_square_array(rules: RuleSet) -> np.ndarray:
    """int8 [square + 1] -> the square at the same track position on the other player's track.

    The colour swap; squares on neither track or on both at the same
    position, OFF_BOARD and FINISHED map to themselves.
    """
    out = np.arange(OFF_BOARD, NUM_CELLS, dtype=np.int8)
    for mine, theirs in zip(rules.p1_track, rules.p2_track, strict=True):
        out[mine + 1], out[theirs + 1] = theirs, mine
    return out


def rule_constants(rules: RuleSet) -> dict[str, object]:
    """The module constants that depend on the rule set, for `rules`: what kernels specialise on."""
    center_first, center_last = rules.shared_positions
    return {
        "RULES_NAME": rules.name,
        "NUM_PIECES": rules.pieces,
        "TRACK_LENGTH": rules.track_length,
        "P1_TRACK": rules.p1_track,
        "P2_TRACK": rules.p2_track,
        "ROSETTE_SQUARES": rules.rosettes,
        "BOARD_ROWS": BOARDS[rules.board],
        "CENTER_FIRST": center_first,
        "CENTER_LAST": center_last,
        "HOME_STRETCH_START": center_last + 1,
        "SAFE_ROSETTES": rules.safe_rosettes,
        "ROSETTE_AGAIN": rules.rosette_again,
        "CAPTURE_AGAIN": rules.capture_again,
        "TRACKS": tracks_array(rules),
        "IS_ROSETTE": rosette_array(rules),
        "TRACK_POSITION": track_position_array(rules),
        "OTHER_TRACK_SQUARE": other_track_square_array(rules),
    }


# The Finkel constants the kernels read (index 0 = P1, 1 = P2).
RULES_NAME = FINKEL.name
SAFE_ROSETTES = FINKEL.safe_rosettes
ROSETTE_AGAIN = FINKEL.rosette_again
CAPTURE_AGAIN = FINKEL.capture_again
TRACKS = tracks_array(FINKEL)
IS_ROSETTE = rosette_array(FINKEL)
TRACK_POSITION = track_position_array(FINKEL)
OTHER_TRACK_SQUARE = other_track_square_array(FINKEL)
