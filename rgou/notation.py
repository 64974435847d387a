"""How positions and moves are written for people: the board as text, a move in words.

The board's rows as rgou draws the standard board (`rgou.rules.BOARD_ROWS`;
None: no square in that column)::

    P1 row   0*  1   2   3   .   .  13* 12
    middle   4   5   6   7*  8   9  10  11
    P2 row  16* 17  18  19   .   .  15* 14

Other rule sets draw their own board (`rgou.specialise`).
"""

from __future__ import annotations

import numpy as np

from rgou._validate import shown
from rgou.game import DICE, TO_MOVE, _target_square, check_state, distinct_moves, is_over, legal_move_list, winner
from rgou.rules import (
    BOARD_ROWS,
    CAPTURE_AGAIN,
    FINISHED,
    IS_ROSETTE,
    NUM_PIECES,
    OFF_BOARD,
    P1,
    P2,
    ROSETTE_AGAIN,
)

MARKS = {P1: "X", P2: "O"}


def _cell(square: int | None, occupant: dict[int, str]) -> str:
    if square is None:
        return "     "
    rosette = "*" if IS_ROSETTE[square] else " "
    return f"{square:>2}{rosette}{occupant.get(square, ' ')} "


def _border(row: tuple) -> str:
    """The horizontal line above or below a row: '+-----' over squares, blanks over the gap."""
    out = ""
    for k, square in enumerate(row):
        before = row[k - 1] if k > 0 else None
        out += ("+" if square is not None or before is not None else " ") + ("-----" if square is not None else "     ")
    return out + ("+" if row[-1] is not None else "")


def render_board(state: np.ndarray) -> str:
    """The board as text: square numbers, X (player 1) and O (player 2) on their squares, * rosettes.

    state: integers [STATE_SIZE], checked (a ValueError names the field).
    """
    state = check_state(state)
    occupant: dict[int, str] = {}
    for player, base in ((P1, 0), (P2, NUM_PIECES)):
        for sq in state[base : base + NUM_PIECES]:
            if 0 <= sq < FINISHED:
                occupant[int(sq)] = MARKS[player]

    def row(label: str, squares: tuple) -> str:
        cells = "".join(
            ("|" + _cell(sq, occupant))
            if sq is not None
            else ("|     " if k > 0 and squares[k - 1] is not None else "      ")
            for k, sq in enumerate(squares)
        )
        return f" {label:<3}{cells}{'|' if squares[-1] is not None else ''}"

    top, middle, bottom = BOARD_ROWS
    full = "+-----" * len(middle) + "+"
    lines = [
        "    " + _border(top),
        row("P1", top),
        "    " + full,
        row("", middle),
        "    " + full,
        row("P2", bottom),
        "    " + _border(bottom),
    ]
    for player, base in ((P1, 0), (P2, NUM_PIECES)):
        pieces = state[base : base + NUM_PIECES]
        waiting = int((pieces == OFF_BOARD).sum())
        done = int((pieces == FINISHED).sum())
        lines.append(f" player {player} ({MARKS[player]}): {waiting} waiting to enter, {done} borne off")
    return "\n".join(line.rstrip() for line in lines)


def describe_move(state: np.ndarray, slot: int) -> str:
    """A legal move in words, e.g. 'piece 3: 6 -> 7, rosette: roll again' (state rolled, move legal; both checked)."""
    state = check_state(state)
    if is_over(state):  # the engine still finds the loser's moves there
        raise ValueError(f"the game is over (player {winner(state)} won): there is no move to describe")
    legal = legal_move_list(state)
    if isinstance(slot, bool) or not isinstance(slot, (int, np.integer)) or slot not in legal:
        raise ValueError(f"slot {shown(slot)} is not a legal move of the state (legal: {legal})")
    player = int(state[TO_MOVE])
    base = 0 if player == P1 else NUM_PIECES
    square = int(state[base + slot])
    target = int(_target_square(player, square, state[DICE]))
    if square == OFF_BOARD:
        text = f"piece {slot}: enters at {target}"
    elif target == FINISHED:
        text = f"piece {slot}: {square} -> borne off"
    else:
        text = f"piece {slot}: {square} -> {target}"
    if target != FINISHED:
        theirs = state[(NUM_PIECES if player == P1 else 0) : (2 * NUM_PIECES if player == P1 else NUM_PIECES)]
        captures = target in theirs
        if captures:
            text += f", captures {MARKS[3 - player]}"
        if IS_ROSETTE[target]:
            text += ", rosette: roll again" if ROSETTE_AGAIN else ", rosette"
        elif captures and CAPTURE_AGAIN:
            text += ": roll again"
    return text


def person_moves(state: np.ndarray) -> list[int]:
    """The rolled position's moves as a person sees them (slots): one entering move however many pieces wait.

    state: integers [STATE_SIZE], checked.
    """
    state = check_state(state)
    out = np.empty(NUM_PIECES, np.int8)
    return [int(m) for m in out[: distinct_moves(state, out)]]
