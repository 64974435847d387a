"""Board geometry, tracks, rosettes and dice of the Royal Game of Ur.

The board as rgou (and the upstream engine) numbers it (``*`` marks a rosette)::

          col  0      1      2      3      4      5      6      7
    P1 row   [ 0*] [  1] [  2] [  3]               [13*] [ 12]
    middle   [  4] [  5] [  6] [  7*] [  8] [  9] [ 10] [ 11]
    P2 row   [16*] [ 17] [ 18] [ 19]               [15*] [ 14]

A piece's square is OFF_BOARD (-1) before it enters, 0..19 on the board and
FINISHED (20) once it has borne off. Each player walks a 14-square track; its
"track position" is the index of its square in that track.
"""

import numpy as np

NUM_PLAYERS = 2
NUM_PIECES = 7
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
CENTER_FIRST, CENTER_LAST = 4, 11  # track positions (and squares) of the middle lane
HOME_STRETCH_START = 12  # track positions 12, 13: the last private squares

MAX_ROLL = 4
NUM_ROLLS = MAX_ROLL + 1
ROLL_WEIGHTS = (1, 4, 6, 4, 1)  # four binary dice: C(4, r)
ROLL_PROBS = np.array(ROLL_WEIGHTS, dtype=np.float64) / 16.0

# Lookup tables used by the kernels (index 0 = P1, 1 = P2).
TRACKS = np.array([P1_TRACK, P2_TRACK], dtype=np.int8)  # [player, track position] -> square

IS_ROSETTE = np.zeros(NUM_CELLS, dtype=np.bool_)
IS_ROSETTE[list(ROSETTE_SQUARES)] = True

# [player, square + 1] -> track position; -1 for squares off this player's track,
# -1 for OFF_BOARD (index 0) and TRACK_LENGTH for FINISHED.
TRACK_POSITION = np.full((NUM_PLAYERS, NUM_CELLS + 1), -1, dtype=np.int8)
for _player, _track in enumerate((P1_TRACK, P2_TRACK)):
    for _pos, _square in enumerate(_track):
        TRACK_POSITION[_player, _square + 1] = _pos
    TRACK_POSITION[_player, FINISHED + 1] = TRACK_LENGTH

# [square + 1] -> the square at the same track position on the other player's track (the colour swap;
# shared squares, OFF_BOARD and FINISHED map to themselves).
OTHER_TRACK_SQUARE = np.arange(OFF_BOARD, NUM_CELLS, dtype=np.int8)
for _mine, _theirs in zip(P1_TRACK, P2_TRACK):
    OTHER_TRACK_SQUARE[_mine + 1], OTHER_TRACK_SQUARE[_theirs + 1] = _theirs, _mine
